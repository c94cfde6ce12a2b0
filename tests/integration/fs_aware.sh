#!/usr/bin/env bash
# File-system-aware compaction (compact --fs-aware) on guest file systems
# built with the Debian tools on files (no mounts): ext4 in an MBR partition,
# FAT32 in a GPT partition, ext2 in a logical partition behind an extended
# one, FAT16 on a whole disk, NTFS with 4 KiB, 2 MiB and 4096-byte-sector
# geometries, exFAT, Linux swap. Files of random data are written, some deleted (their
# data stays on disk), the raw disk is converted to VHD and VHDX with
# qemu-img, then compacted. Checks: every container block wholly inside a
# deleted file is reclaimed (qemu reads zeros where its random bytes were),
# offline mode reclaims none of them, the file system checks clean (e2fsck
# -fn, fsck.vfat -n, ntfsfix -n, fsck.exfat -n on the partition converted
# back to raw), every surviving file reads back byte-identical, nothing
# outside the volume changes, and damage (a corrupt boot sector, a bitmap or
# FAT that disagrees, a journal to replay) falls back to offline mode for
# that volume with the guest reading what it read before. Each --fs-aware
# compaction is preceded by a --dry-run that must write nothing and predict
# exactly what the real run then does.
# usage: fs_aware.sh WORKDIR VDSSHIM...
WORK=$1; shift
VDSSHIM=("$@")
. "$(dirname "$0")/lib.sh"
mkdir -p "$WORK" && cd "$WORK" || exit 1
rm -rf ./*
. "$(dirname "$0")/fs_lib.sh"

# scenario NAME KIND LAYOUT FORMAT: build, convert, compact both ways, judge.
scenario() {
    local name=$1 kind=$2 layout=$3 fmt=$4 off size=${DISK_MIB:-64} bsz opts
    truncate -s 0 disk.raw; truncate -s ${size}M disk.raw
    case $layout in
    mbr)      echo 'start=2048, type=83' | sfdisk -q disk.raw; off=$MiB ;;
    gpt)      printf 'label: gpt\nstart=2048, size=%d\n' $(( (size - 16) * 2048 )) | sfdisk -q disk.raw; off=$MiB ;;
    logical)  printf 'start=2048, size=20480, type=83\nstart=24576, type=5\nstart=26624, type=83\n' | sfdisk -q disk.raw
              off=$((26624 * 512)) ;;
    whole)    off=0 ;;
    esac
    local psize=$(( (size * MiB - off) / MiB - 2 ))
    [ "$layout" = gpt ] && psize=$((size - 16))
    make_part "$kind" part.img "$psize"
    into_disk disk.raw part.img "$off"
    if [ "$fmt" = vhdx ]; then bsz=$MiB; opts="-o block_size=1M"; else bsz=$((2 * MiB)); opts="-o subformat=dynamic"; fi
    local qfmt=$fmt; [ "$fmt" = vhd ] && qfmt=vpc
    qemu-img convert -f raw -O "$qfmt" $opts disk.raw "$name.$fmt"
    cp "$name.$fmt" "offline-$name.$fmt"
    python3 "$FSCHECK" blocks dead.txt "$off" "$bsz" > dead-blocks.txt
    check "$name: the deleted files cover whole container blocks ($(wc -l < dead-blocks.txt))" [ -s dead-blocks.txt ]

    compact_fs_aware "$name" "$name.$fmt"
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
scenario fat12-mbr fat12 mbr vhd
scenario ntfs-mbr ntfs mbr vhdx
scenario exfat-gpt exfat gpt vhd
scenario exfat-whole exfat whole vhdx
# Clusters above 64 KiB are counted in sectors as a negative power of two
# (0xf4: 2 MiB); 4096-byte sectors still have 512-byte update-sequence strides.
NTFS_OPTS="-c 2097152" DISK_MIB=128 scenario ntfs-2m-gpt ntfs gpt vhdx
NTFS_OPTS="-s 4096 -c 8192" scenario ntfs-4kn-mbr ntfs mbr vhd
# ext4 beyond mke2fs's defaults (64-bit, metadata_csum): clusters of 16
# blocks (bigalloc); 32-byte descriptors with a stored checksum seed.
EXT_OPTS="-O bigalloc -C 65536" scenario ext4-bigalloc-mbr ext4 mbr vhdx
EXT_OPTS="-O ^64bit,metadata_csum_seed" scenario ext4-32bit-seed-gpt ext4 gpt vhd

# Differencing: the parent holds an ext4 volume with f1 and f3; then the
# guest wrote f2, f4 and f5 and deleted f2 and f4, all into the child. The
# map comes from the merged view; the child's blocks wholly inside the
# deleted files go (a VHDX child marks them ZERO, a VHD child falls through
# to the parent's zeros), the parent is never written, and the chain reads as
# before everywhere else.
read -r -a CHAIN <<< "${MAKE_CHAIN:-}"
differencing() {   # FORMAT
    local fmt=$1 nd ph
    rm -rf chain-$fmt offline-$fmt src13 && mkdir -p chain-$fmt src13 && cp src/f1 src/f3 src13/
    truncate -s 0 base.part; truncate -s 60M base.part
    mkfs.ext4 -q -F -b 4096 -d src13 base.part
    cp base.part child.part
    for f in f2 f4 f5; do debugfs -w -R "write src/$f $f" child.part >/dev/null 2>&1; done
    rm -f dead.txt
    for f in f2 f4; do python3 "$FSCHECK" extents ext child.part /$f >> dead.txt; done
    debugfs -w -R "rm /f2" child.part >/dev/null 2>&1
    debugfs -w -R "rm /f4" child.part >/dev/null 2>&1
    truncate -s 0 disk0.raw; truncate -s 64M disk0.raw
    echo 'start=2048, type=83' | sfdisk -q disk0.raw
    cp disk0.raw disk1.raw
    into_disk disk0.raw base.part "$MiB"
    into_disk disk1.raw child.part "$MiB"
    quietly "${CHAIN[@]}" "$fmt" chain-$fmt disk0.raw disk1.raw
    cp -r chain-$fmt offline-$fmt
    ph=$(sha chain-$fmt/parent.$fmt)
    python3 "$FSCHECK" blocks dead.txt "$MiB" $((2 * MiB)) > dead-blocks.txt
    nd=$(wc -l < dead-blocks.txt)
    check "differencing $fmt: the deleted files cover whole container blocks of the child ($nd)" [ "$nd" -gt 0 ]
    compact_fs_aware "differencing $fmt: the child" chain-$fmt/child.$fmt
    check "... maps the merged view's ext4 and reclaims space" \
        bash -c "sed -n 2p last.out | grep -qi '\"fs\":\"ext4\",[^}]*\"used\":true,\"free\":[1-9][0-9]*,\"reclaimed\":[1-9]'"
    quietly "${VDSSHIM[@]}" compact offline-$fmt/child.$fmt
    check "... the parent was not written" [ "$(sha chain-$fmt/parent.$fmt)" = "$ph" ]
    quietly "${VDSSHIM[@]}" dump chain-$fmt/child.$fmt after.raw
    quietly "${VDSSHIM[@]}" dump offline-$fmt/child.$fmt offline.raw
    check "... every child block wholly inside the deleted files now reads zeros" \
        [ "$(python3 "$FSCHECK" zeroed after.raw dead-blocks.txt $((2 * MiB)))" -eq "$nd" ]
    check "... offline mode reclaimed none of them" [ "$(python3 "$FSCHECK" zeroed offline.raw dead-blocks.txt $((2 * MiB)))" -eq 0 ]
    check "... offline mode changed nothing the guest reads" cmp -s disk1.raw offline.raw
    dd if=after.raw of=after-part.img bs=1M skip=1 count=60 status=none
    check "... e2fsck finds the merged view clean, f1, f3 and f5 read back identical" survivors_ok ext4 after-part.img f1 f3 f5
    check "... the partition table and the space past the volume read as before" \
        bash -c "cmp -s -n $MiB disk1.raw after.raw && cmp -s -i $((61 * MiB)) disk1.raw after.raw"
    rm -rf chain-$fmt offline-$fmt src13 base.part child.part disk0.raw disk1.raw after.raw offline.raw after-part.img
}
differencing vhdx
differencing vhd

# The real tool cut after each write of a --fs-aware compaction (unflushed
# writes dropped, or torn at 512 bytes; qemu replays our VHDX log): the file
# system checks clean, the surviving files are identical, and a re-run ends at
# the size of an uninterrupted run. VHD (no log) and VHDX.
cut_sweep() {   # FORMAT MODE
    local fmt=$1 mode=$2 qfmt=$1 opts="-o block_size=1M" ref bad=0 k=1
    [ "$fmt" = vhd ] && { qfmt=vpc; opts="-o subformat=dynamic"; }
    truncate -s 0 disk.raw; truncate -s 64M disk.raw
    echo 'start=2048, type=83' | sfdisk -q disk.raw
    make_part ext4 part.img 61
    into_disk disk.raw part.img "$MiB"
    qemu-img convert -f raw -O "$qfmt" $opts disk.raw pristine.$fmt
    cp pristine.$fmt ref.$fmt
    quietly "${VDSSHIM[@]}" compact --fs-aware ref.$fmt
    ref=$(stat -c %s ref.$fmt)
    while [ $k -lt 200 ]; do
        cp pristine.$fmt cut.$fmt
        VDSSHIM_FAULT_CUT_AFTER_WRITE=$k VDSSHIM_FAULT_CUT_MODE=$mode VDSSHIM_FAULT_SEED=$k \
            quietly "${VDSSHIM[@]}" compact --fs-aware cut.$fmt && break
        [ "$fmt" = vhdx ] && quietly qemu-img check -r all -f vhdx cut.vhdx
        qemu-img convert -f "$qfmt" -O raw cut.$fmt cut.raw
        dd if=cut.raw of=cut-part.img bs=1M skip=1 count=61 status=none
        survivors_ok ext4 cut-part.img || { bad=$((bad + 1)); echo "# cut after write $k: the file system or a file differs"; }
        run_tool "${VDSSHIM[@]}" compact --fs-aware cut.$fmt; rc=$?
        cp last.out rerun.out; cp last.err rerun.err
        [ "$rc" -eq 0 ] || { bad=$((bad + 1)); echo "# cut after write $k: the re-run failed, exit $rc: $(failure_text rerun.err)"; }
        [ "$(stat -c %s cut.$fmt)" = "$ref" ] || { bad=$((bad + 1)); echo "# cut after write $k: the re-run ends at $(stat -c %s cut.$fmt), not $ref"; }
        k=$((k + 1))
    done
    check "$fmt --fs-aware cut ($mode) after each of its $((k - 1)) writes: fsck clean, files identical, a re-run finishes" \
        [ $bad -eq 0 -a $k -gt 3 ]
    rm -f cut.raw cut-part.img cut.$fmt pristine.$fmt ref.$fmt
}
cut_sweep vhdx drop
cut_sweep vhdx tear
cut_sweep vhd drop

# Damage. damaged NAME DESC REASON: part.img, already damaged, becomes a whole
# disk; compaction succeeds, the volume falls back saying REASON (a grep
# pattern), and the guest reads what it read before.
as_disk() {   # NAME: part.img as the whole of disk.raw, then NAME.vhdx
    truncate -s 0 disk.raw; truncate -s 64M disk.raw
    into_disk disk.raw part.img 0
    qemu-img convert -f raw -O vhdx -o block_size=1M disk.raw "$1.vhdx"
}
damaged() {
    local name=$1 desc=$2 reason=$3
    as_disk "$name"
    compact_fs_aware "$desc (still succeeds)" "$name.vhdx"
    check "... the volume falls back to offline mode, saying why ($reason)" \
        bash -c "sed -n 2p last.out | grep -q '\"used\":false,.*$reason'"
    check "... and the guest reads exactly what it read before" quietly qemu-img compare -f raw -F vhdx disk.raw "$name.vhdx"
    rm -f "$name.vhdx"
}
le16() { python3 -c "import struct,sys;print(struct.unpack_from('<H',open(sys.argv[1],'rb').read(4096),int(sys.argv[2]))[0])" "$@"; }
poke() { printf "$2" | dd of=part.img bs=1 seek="$1" conv=notrunc status=none; }   # OFFSET BYTES

make_part fat16 part.img 60
poke $(( $(le16 part.img 14) * 512 + $(le16 part.img 22) * 512 + 200 )) '\x01'
damaged bad-fat "differing FAT copies" "FAT copy 2 differs"

# The first group's bitmap: a used block said to be free. ext4 (metadata_csum)
# notices by the bitmap's checksum, ext2 by the descriptor's free count.
for kind in ext4 ext2; do
    make_part $kind part.img 60
    bb=$(debugfs -R "stats" part.img 2>/dev/null | sed -n "s/.*[Bb]lock bitmap at \([0-9]*\).*/\1/p" | head -n 1)
    poke $((bb * 4096)) '\x00'
    if [ $kind = ext4 ]; then why="fails its checksum"; else why="descriptor says"; fi
    damaged bad-$kind "a damaged $kind block bitmap" "$why"
done

make_part ntfs part.img 60
# $MFT's cluster number (u64 @0x30), now pointing at f1's random data.
lcn=$(( $(python3 "$FSCHECK" extents ntfs part.img /f1 | head -n 1 | cut -d' ' -f1) / 4096 ))
poke $((0x30)) "$(printf '\\x%02x\\x%02x\\x%02x' $((lcn & 255)) $(((lcn >> 8) & 255)) $(((lcn >> 16) & 255)))"
damaged bad-ntfs-boot "an NTFS boot sector whose \$MFT is elsewhere" "MFT record 3 has no FILE signature"

make_part ntfs part.img 60
python3 "$FSCHECK" ntfs-log part.img unclean
damaged ntfs-unclean "NTFS not shut down cleanly (\$LogFile restart area in use)" "LogFile needs replaying"
make_part ntfs part.img 60
python3 "$FSCHECK" ntfs-log part.img clean
as_disk ntfs-clean
compact_fs_aware "NTFS with a clean \$LogFile restart area" ntfs-clean.vhdx
check "... maps the volume" bash -c "sed -n 2p last.out | grep -q '\"fs\":\"NTFS\",[^}]*\"used\":true'"
rm -f ntfs-clean.vhdx

make_part exfat part.img 60
poke 120 '\x7f'                        # a boot-sector byte under the boot checksum
damaged bad-exfat-boot "an exFAT boot sector that fails its checksum" "checksum"

# Linux swap in an MBR partition (type 82): random bytes fill the area, as a
# used one holds, and mkswap writes its header page; everything after that
# page is free. As a whole disk too; a hibernation image falls back.
swap_disk() {   # LAYOUT: disk.raw with a swap area (1 MiB in, or the whole disk)
    truncate -s 0 disk.raw; truncate -s 64M disk.raw
    if [ "$1" = mbr ]; then
        echo 'start=2048, type=82' | sfdisk -q disk.raw
        head -c $((63 * MiB)) /dev/urandom > part.img
        mkswap -q part.img >/dev/null
        into_disk disk.raw part.img $MiB
    else
        head -c $((64 * MiB)) /dev/urandom > disk.raw
        mkswap -q disk.raw >/dev/null
    fi
}
for layout in mbr whole; do
    swap_disk $layout
    off=$([ $layout = mbr ] && echo $MiB || echo 0)
    uuid=$(blkid -o value -s UUID disk.raw 2>/dev/null || true)
    [ $layout = mbr ] && uuid=$(blkid -o value -s UUID part.img)
    qemu-img convert -f raw -O vhdx -o block_size=1M disk.raw swap-$layout.vhdx
    compact_fs_aware "swap ($layout)" swap-$layout.vhdx
    check "swap ($layout): ... reports the volume as swap, mapped" \
        bash -c "sed -n 2p last.out | grep -q '\"fs\":\"swap\",[^}]*\"used\":true'"
    qemu-img convert -f vhdx -O raw swap-$layout.vhdx after.raw
    check "swap ($layout): the header page and all before it read as before" cmp -s -n $((off + 4096)) disk.raw after.raw
    check "swap ($layout): every block after the header's reads zeros" \
        cmp -s -i $((off + MiB)) -n $((64 * MiB - off - MiB)) after.raw /dev/zero
    dd if=after.raw of=after-part.img bs=1M skip=$((off / MiB)) status=none
    check "swap ($layout): blkid still sees the swap area, same UUID" \
        bash -c "[ \"\$(blkid -o value -s TYPE after-part.img)\" = swap ] && [ \"\$(blkid -o value -s UUID after-part.img)\" = '$uuid' ]"
    # 4 MiB of VHDX structures, the block with the MBR, the one with the header page.
    check "swap ($layout): the file shrank to at most 6 MiB" [ "$(file_size swap-$layout.vhdx)" -le $((6 * MiB)) ]
    rm -f after.raw after-part.img swap-$layout.vhdx
done
swap_disk mbr
printf 'S1SUSPEND\0' | dd of=part.img bs=1 seek=4086 conv=notrunc status=none
into_disk disk.raw part.img $MiB
qemu-img convert -f raw -O vhdx -o block_size=1M disk.raw swap-hib.vhdx
compact_fs_aware "swap holding a hibernation image (still succeeds)" swap-hib.vhdx
check "... the volume falls back, saying why" bash -c "sed -n 2p last.out | grep -q '\"used\":false,.*hibernation image'"
check "... and the guest reads exactly what it read before" quietly qemu-img compare -f raw -F vhdx disk.raw swap-hib.vhdx
rm -f swap-hib.vhdx

rm -f ./*.raw part.img
finish
