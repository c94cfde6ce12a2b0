#!/usr/bin/env bash
# A WSL2- or Docker-Desktop-shaped disk, compacted in place by --fs-aware.
# The layout follows WSL's defaults, with sources:
#   - a dynamic VHDX holding one ext4 file system on the whole disk, no
#     partition table (Microsoft's WSL disk docs: "Inside the VHD, WSL 2 VHD
#     uses the ext4 file system"; the disk is mounted whole) [V];
#   - 256 GiB virtual, WSL's original maximum (microsoft/WSL issue #4373,
#     quoting the docs), and 1 TiB, today's default (wsl-config.md,
#     defaultVhdSize, MicrosoftDocs/WSL#1951) [V];
#   - 1 MiB VHDX blocks, as WSL's own code creates its VHDX files
#     (CreateVirtualDisk with BlockSizeInBytes = 1 MiB in microsoft/WSL);
#     that ext4.vhdx itself uses 1 MiB is [U];
#   - ext4 with 4 KiB blocks, mke2fs's default at this size [V: mke2fs.conf].
# 768 MiB of files are written (mkfs.ext4 -d, no mount), 512 MiB of them
# deleted (debugfs rm), the disk converted to VHDX by qemu-img, then compacted with
# --fs-aware (a --dry-run first must predict it exactly). Checks: the space
# of the deleted files is given back, qemu-img check is clean, e2fsck -fn is
# clean, the surviving file reads back identical, and the work is bounded by
# the file, not the virtual size: it reads no more than the image holds
# (time and peak RSS at 256 GiB against 1 TiB: scripts/bench, case wsl).
# The data is sized so that the test's peak on the host's disk stays near
# 1.6 GB (the sources go once the file system holds them): a CI machine may
# have little free space, and the test's point is the 256 GiB virtual size
# and the ratio of used to free, not the gigabytes.
# usage: wsl_disk.sh WORKDIR VDSSHIM
WORK=$1; shift
VDSSHIM=("$@")
. "$(dirname "$0")/lib.sh"
mkdir -p "$WORK" && cd "$WORK" || exit 1
rm -rf ./*
MiB=$((1 << 20)); GiB=$((1 << 30))

head -c $((2 * MiB)) /dev/urandom >rand.bin
mkdir src
FILE=$((256 * MiB))
for i in 1 2 3; do   # 256 MiB each, distinct: a header, then 2 MiB random chunks
    { printf 'file %d\n' "$i"; for k in $(seq 1 128); do cat rand.bin; done; } | head -c $FILE >src/f$i
done

wsl_disk() {   # NAME VIRTUAL_SIZE: the VHDX NAME.vhdx
    local name=$1 size=$2
    truncate -s 0 "$name.raw" && truncate -s "$size" "$name.raw"
    mkfs.ext4 -q -F -b 4096 -d src "$name.raw"
    rm -rf src
    debugfs -w -R "rm /f1" "$name.raw" >/dev/null 2>&1
    debugfs -w -R "rm /f3" "$name.raw" >/dev/null 2>&1
    qemu-img convert -f raw -O vhdx -o block_size=1M,subformat=dynamic "$name.raw" "$name.vhdx"
    rm -f "$name.raw"
}

field() { sed -n 1p "$1" | grep -oE "\"$2\":[0-9]+" | cut -d: -f2; }

f2_sha=$(sha src/f2)
name=wsl-256G
wsl_disk "$name" 256G
check "$name: a 256 GiB dynamic VHDX" \
    bash -c "qemu-img info --output=json $name.vhdx | grep -q '\"virtual-size\": $((256 * GiB))'"
before=$(file_size "$name.vhdx")
check "$name: the image holds the 768 MiB written ($before bytes)" [ "$before" -gt $((3 * FILE)) ]
expect_rc "$name: compact --dry-run --fs-aware" 0 "${VDSSHIM[@]}" compact --dry-run --fs-aware --json "$name.vhdx"
cp last.out "$name.dry"
expect_rc "$name: compact --fs-aware" 0 "${VDSSHIM[@]}" compact --fs-aware --json "$name.vhdx"
cp last.out "$name.json"
check "$name: the whole disk is seen as ext4 and used" grep -q '"volume":"whole disk","fs":"ext4"[^}]*"used":true' "$name.json"
after=$(file_size "$name.vhdx")
check "$name: the 512 MiB of deleted files are given back ($before -> $after bytes)" \
    bash -c "[ $((before - after)) -ge $((2 * FILE)) ] && [ $after -lt $((FILE + 256 * MiB)) ]"
check "$name: the dry run predicted the result exactly" \
    bash -c "[ \"\$(sed -n 1p $name.dry | cut -d, -f2-8)\" = \"\$(sed -n 1p $name.json | cut -d, -f2-8)\" ] && [ \"\$(sed -n 2p $name.dry)\" = \"\$(sed -n 2p $name.json)\" ]"
read_bytes=$(field "$name.json" bytes_read)
check "$name: the work is bounded by the file: $read_bytes bytes read of $before" [ "$read_bytes" -le "$before" ]
check "$name: qemu-img check is clean" quietly qemu-img check -f vhdx "$name.vhdx"
qemu-img convert -f vhdx -O raw "$name.vhdx" "$name.raw"
check "$name: e2fsck -fn is clean" quietly e2fsck -fn "$name.raw"
check "$name: the surviving file reads back identical" \
    bash -c "[ \"\$(debugfs -R 'cat /f2' $name.raw 2>/dev/null | sha256sum | cut -d' ' -f1)\" = $f2_sha ]"
check "$name: the deleted files are gone" bash -c "! debugfs -R 'ls -l /' $name.raw 2>/dev/null | grep -qE ' f(1|3) *\$'"
rm -f rand.bin ./*.vhdx ./*.raw
finish
