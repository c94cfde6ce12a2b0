#!/usr/bin/env bash
# File-system-aware compaction (compact --fs-aware) on guest file systems
# built with the Debian tools on files (no mounts): ext4 in an MBR partition,
# FAT32 in a GPT partition, ext2 in a logical partition behind an extended
# one, FAT16 on a whole disk; NTFS and exFAT below. Files of random data are written, some deleted
# (their data stays on disk), the raw disk is converted to VHD and VHDX with
# qemu-img, then compacted. Checks: every container block wholly inside a
# deleted file is reclaimed (qemu reads zeros where its random bytes were),
# offline mode reclaims none of them,
# the file system checks clean (e2fsck -fn, fsck.vfat -n on the partition
# converted back to raw), every surviving file reads back byte-identical, and
# a damaged bitmap or FAT falls back to offline mode for that volume.
# usage: fs_aware.sh WORKDIR VDSSHIM...
WORK=$1; shift
VDSSHIM=("$@")
. "$(dirname "$0")/lib.sh"
FSCHECK=$(cd "$(dirname "$0")" && pwd)/fs_check.py
mkdir -p "$WORK" && cd "$WORK" || exit 1
rm -rf ./*
export MTOOLS_SKIP_CHECK=1
MiB=$((1 << 20))

mkdir src
for i in 1 2 3 4 5 6; do head -c $((4 * MiB + i * 4321)) /dev/urandom > src/f$i; done

# make_part KIND IMAGE SIZE_MIB: a file system with f1..f6, then f2 and f4 deleted;
# dead.txt gets the deleted files' byte extents (partition-relative).
make_part() {
    local kind=$1 img=$2 size=$3
    rm -f "$img" dead.txt
    case $kind in
    ext4|ext2)
        truncate -s "${size}M" "$img"
        mkfs.$kind -q -F -b 4096 -d src "$img"
        for f in f2 f4; do python3 "$FSCHECK" extents ext "$img" /$f >> dead.txt; done
        debugfs -w -R "rm /f2" "$img" >/dev/null 2>&1
        debugfs -w -R "rm /f4" "$img" >/dev/null 2>&1 ;;
    fat32|fat16)
        mkfs.vfat -F "${kind#fat}" -C "$img" $((size * 1024)) >/dev/null
        mcopy -i "$img" src/f1 src/f2 src/f3 src/f4 src/f5 src/f6 ::/
        for f in f2 f4; do python3 "$FSCHECK" extents fat "$img" /$f >> dead.txt; done
        mdel -i "$img" ::/f2 ::/f4 ;;
    esac
}

# into_disk DISK PART OFFSET_BYTES: copy a partition image into the raw disk.
into_disk() { dd if="$2" of="$1" bs=1M seek=$(($3 / MiB)) conv=notrunc status=none; }

# survivors KIND PARTIMG: every surviving file reads back identical; fsck clean.
survivors_ok() {
    local kind=$1 img=$2 f
    case $kind in
    ext*) e2fsck -fn "$img" >fsck.log 2>&1 || return 1
          for f in f1 f3 f5 f6; do debugfs -R "dump /$f out.$f" "$img" >/dev/null 2>&1; cmp -s out.$f src/$f || return 1; done ;;
    fat*) fsck.vfat -n "$img" >fsck.log 2>&1 || return 1
          for f in f1 f3 f5 f6; do rm -f out.$f; mcopy -i "$img" ::/$f out.$f; cmp -s out.$f src/$f || return 1; done ;;
    esac
}

# scenario NAME KIND LAYOUT FORMAT: build, convert, compact both ways, judge.
scenario() {
    local name=$1 kind=$2 layout=$3 fmt=$4 off size=64 bsz opts
    truncate -s 0 disk.raw; truncate -s ${size}M disk.raw
    case $layout in
    mbr)      echo 'start=2048, type=83' | sfdisk -q disk.raw; off=$MiB ;;
    gpt)      printf 'label: gpt\nstart=2048, size=100000\n' | sfdisk -q disk.raw; off=$MiB ;;
    logical)  printf 'start=2048, size=20480, type=83\nstart=24576, type=5\nstart=26624, type=83\n' | sfdisk -q disk.raw
              off=$((26624 * 512)) ;;
    whole)    off=0 ;;
    esac
    local psize=$(( (size * MiB - off) / MiB - 2 ))
    [ "$layout" = gpt ] && psize=48
    make_part "$kind" part.img "$psize"
    into_disk disk.raw part.img "$off"
    if [ "$fmt" = vhdx ]; then bsz=$MiB; opts="-o block_size=1M"; else bsz=$((2 * MiB)); opts="-o subformat=dynamic"; fi
    local qfmt=$fmt; [ "$fmt" = vhd ] && qfmt=vpc
    qemu-img convert -f raw -O "$qfmt" $opts disk.raw "$name.$fmt"
    cp "$name.$fmt" "offline-$name.$fmt"
    python3 "$FSCHECK" blocks dead.txt "$off" "$bsz" > dead-blocks.txt
    check "$name: the deleted files cover whole container blocks ($(wc -l < dead-blocks.txt))" [ -s dead-blocks.txt ]

    expect_rc "$name: compact --fs-aware" 0 "${VDSSHIM[@]}" compact --fs-aware --json "$name.$fmt"
    check "$name: ... reports the volume as $kind with bytes reclaimed" \
        bash -c "sed -n 2p last.out | grep -qi '\"fs\":\"${kind}\",[^}]*\"used\":true,\"free\":[1-9][0-9]*,\"reclaimed\":[1-9]'"
    expect_rc "$name: compact (offline mode)" 0 "${VDSSHIM[@]}" compact --quiet "offline-$name.$fmt"
    # qemu reads the images (vpc/vhdx): a reclaimed block reads zeros where the
    # deleted file's random bytes were; offline mode keeps them.
    qemu-img convert -f "$qfmt" -O raw "$name.$fmt" after.raw
    qemu-img convert -f "$qfmt" -O raw "offline-$name.$fmt" offline.raw
    local nd; nd=$(wc -l < dead-blocks.txt)
    check "$name: every block wholly inside deleted files was reclaimed (reads zeros in qemu)" \
        [ "$(python3 "$FSCHECK" zeroed after.raw dead-blocks.txt "$bsz")" -eq "$nd" ]
    check "$name: offline mode reclaimed none of them" [ "$(python3 "$FSCHECK" zeroed offline.raw dead-blocks.txt "$bsz")" -eq 0 ]
    dd if=after.raw of=after-part.img bs=512 skip=$((off / 512)) count=$((psize * 2048)) status=none
    check "$name: the file system checks clean and every surviving file is identical" survivors_ok "$kind" after-part.img
    check "$name: the partition table and everything outside the volume are unchanged" \
        bash -c "cmp -s -n $off disk.raw after.raw && cmp -s -i $((off + psize * MiB)) -n $(( (size - psize) * MiB - off )) disk.raw after.raw"
    rm -f after.raw offline.raw after-part.img disk.raw "offline-$name.$fmt"
}

scenario ext4-mbr ext4 mbr vhdx
scenario fat32-gpt fat32 gpt vhd
scenario ext2-logical ext2 logical vhdx
scenario fat16-whole fat16 whole vhdx

# NTFS and exFAT: no Debian tool deletes files without mounting, so the
# volume is filled with random bytes first and formatted quickly (mkntfs -Q,
# mkfs.exfat write only their metadata): free clusters hold stale data, as
# after deletions. At least half the volume's blocks must be reclaimed, none
# in offline mode; the file system checks clean (ntfsfix -n, fsck.exfat -n),
# NTFS files copied in with ntfscp read back identical.
prefilled() {   # NAME KIND LAYOUT FORMAT
    local name=$1 kind=$2 layout=$3 fmt=$4 off=$MiB psize=60 bsz=$MiB qfmt=$4 opts="-o block_size=1M"
    truncate -s 0 disk.raw; truncate -s 64M disk.raw
    if [ "$layout" = gpt ]; then printf 'label: gpt\nstart=2048, size=122880\n' | sfdisk -q disk.raw
    else echo 'start=2048, size=122880, type=7' | sfdisk -q disk.raw; fi
    [ "$fmt" = vhd ] && { qfmt=vpc; opts="-o subformat=dynamic"; bsz=$((2 * MiB)); }
    head -c $((psize * MiB)) /dev/urandom > part.img
    case $kind in
    ntfs)  mkntfs -q -Q -F part.img >/dev/null 2>&1
           ntfscp -f part.img src/f1 /f1 >/dev/null 2>&1
           ntfscp -f part.img src/f3 /f3 >/dev/null 2>&1 ;;
    exfat) mkfs.exfat part.img >/dev/null 2>&1 ;;
    esac
    into_disk disk.raw part.img "$off"
    qemu-img convert -f raw -O "$qfmt" $opts disk.raw "$name.$fmt"
    cp "$name.$fmt" "offline-$name.$fmt"
    expect_rc "$name: compact --fs-aware" 0 "${VDSSHIM[@]}" compact --fs-aware --json "$name.$fmt"
    check "$name: ... reports the volume as $kind with bytes reclaimed" \
        bash -c "sed -n 2p last.out | grep -qi '\"fs\":\"${kind}\",[^}]*\"used\":true,\"free\":[1-9][0-9]*,\"reclaimed\":[1-9]'"
    quietly "${VDSSHIM[@]}" compact "offline-$name.$fmt"
    qemu-img convert -f "$qfmt" -O raw "$name.$fmt" after.raw
    qemu-img convert -f "$qfmt" -O raw "offline-$name.$fmt" offline.raw
    local total=$(( psize * MiB / bsz )) z0 z1 z2
    z0=$(python3 "$FSCHECK" zerocount disk.raw "$bsz" "$off" $((psize * MiB)))
    z1=$(python3 "$FSCHECK" zerocount after.raw "$bsz" "$off" $((psize * MiB)))
    z2=$(python3 "$FSCHECK" zerocount offline.raw "$bsz" "$off" $((psize * MiB)))
    check "$name: $((z1 - z0)) of $total blocks reclaimed (at least half), offline $((z2 - z0))" \
        [ $((z1 - z0)) -ge $((total / 2)) -a "$z2" -eq "$z0" ]
    dd if=after.raw of=after-part.img bs=512 skip=$((off / 512)) count=$((psize * 2048)) status=none
    case $kind in
    ntfs)  check "$name: ntfsfix -n finds the volume clean, and the files read back identical" \
               bash -c "ntfsfix -n after-part.img >fsck.log 2>&1 && ntfscat after-part.img /f1 | cmp -s - src/f1 && ntfscat after-part.img /f3 | cmp -s - src/f3" ;;
    exfat) check "$name: fsck.exfat -n finds the volume clean" bash -c "fsck.exfat -n after-part.img >fsck.log 2>&1" ;;
    esac
    check "$name: the partition table and everything outside the volume are unchanged" \
        bash -c "cmp -s -n $off disk.raw after.raw && cmp -s -i $((off + psize * MiB)) -n $(( (64 - psize) * MiB - off )) disk.raw after.raw"
    rm -f after.raw offline.raw after-part.img disk.raw part.img "offline-$name.$fmt"
}
prefilled ntfs-mbr ntfs mbr vhdx
prefilled exfat-gpt exfat gpt vhd

# The real tool cut after each write of a --fs-aware compaction (unflushed
# writes dropped; qemu replays our VHDX log): the file system checks clean,
# the surviving files are identical, and a re-run ends at the size of an
# uninterrupted run.
truncate -s 0 disk.raw; truncate -s 64M disk.raw
echo 'start=2048, type=83' | sfdisk -q disk.raw
make_part ext4 part.img 61
into_disk disk.raw part.img "$MiB"
qemu-img convert -f raw -O vhdx -o block_size=1M disk.raw pristine.vhdx
cp pristine.vhdx ref.vhdx
quietly "${VDSSHIM[@]}" compact --fs-aware ref.vhdx
ref=$(stat -c %s ref.vhdx)
bad=0 k=1
while [ $k -lt 200 ]; do
    cp pristine.vhdx cut.vhdx
    VDSSHIM_FAULT_CUT_AFTER_WRITE=$k VDSSHIM_FAULT_CUT_MODE=drop quietly "${VDSSHIM[@]}" compact --fs-aware cut.vhdx && break
    quietly qemu-img check -r all -f vhdx cut.vhdx
    qemu-img convert -f vhdx -O raw cut.vhdx cut.raw
    dd if=cut.raw of=cut-part.img bs=1M skip=1 count=61 status=none
    survivors_ok ext4 cut-part.img || { bad=$((bad + 1)); echo "# cut after write $k: the file system or a file differs"; }
    quietly "${VDSSHIM[@]}" compact --fs-aware cut.vhdx || { bad=$((bad + 1)); echo "# cut after write $k: the re-run failed"; }
    [ "$(stat -c %s cut.vhdx)" = "$ref" ] || { bad=$((bad + 1)); echo "# cut after write $k: the re-run ends at $(stat -c %s cut.vhdx), not $ref"; }
    k=$((k + 1))
done
check "--fs-aware cut after each of its $((k - 1)) writes: fsck clean, files identical, a re-run finishes" [ $bad -eq 0 -a $k -gt 5 ]
rm -f cut.raw cut-part.img cut.vhdx pristine.vhdx ref.vhdx

# Damage: FAT copies that differ; an ext bitmap that disagrees with its descriptor.
truncate -s 0 disk.raw; truncate -s 64M disk.raw
make_part fat16 part.img 60
printf '\x01' | dd of=part.img bs=1 seek=$(( $(python3 -c "import struct;b=open('part.img','rb').read(64);print(struct.unpack_from('<H',b,14)[0]*512 + struct.unpack_from('<H',b,22)[0]*512 + 200)") )) conv=notrunc status=none
into_disk disk.raw part.img 0
qemu-img convert -f raw -O vhdx -o block_size=1M disk.raw bad-fat.vhdx
qemu-img convert -f raw -O raw disk.raw before.raw
expect_rc "differing FAT copies: compact --fs-aware still succeeds" 0 "${VDSSHIM[@]}" compact --fs-aware --json bad-fat.vhdx
check "... the volume falls back to offline mode, saying why" bash -c "sed -n 2p last.out | grep -q '\"used\":false,.*FAT copy 2 differs'"
check "... and the guest reads exactly what it read before" quietly qemu-img compare -f raw -F vhdx before.raw bad-fat.vhdx

truncate -s 0 disk.raw; truncate -s 64M disk.raw
echo 'start=2048, type=83' | sfdisk -q disk.raw
make_part ext4 part.img 60
# The first group's bitmap: flip a bit of a used block to "free".
bb=$(debugfs -R "stats" part.img 2>/dev/null | sed -n "s/.*[Bb]lock bitmap at \([0-9]*\).*/\1/p" | head -n 1)
printf '\x00' | dd of=part.img bs=1 seek=$((bb * 4096)) conv=notrunc status=none
into_disk disk.raw part.img "$MiB"
qemu-img convert -f raw -O vhdx -o block_size=1M disk.raw bad-ext.vhdx
qemu-img convert -f raw -O raw disk.raw before.raw
expect_rc "a damaged ext4 bitmap: compact --fs-aware still succeeds" 0 "${VDSSHIM[@]}" compact --fs-aware --json bad-ext.vhdx
check "... the volume falls back, saying the bitmap disagrees with its descriptor" \
    bash -c "sed -n 2p last.out | grep -q '\"used\":false,.*descriptor says'"
check "... and the guest reads exactly what it read before" quietly qemu-img compare -f raw -F vhdx before.raw bad-ext.vhdx

rm -f ./*.raw part.img
finish
