#!/usr/bin/env bash
# Block moves and the zero scan by host extents (file_ranges.c,
# io_posix_ranges.c), on real files:
# - ext4 (the work directory): a sparse VHDX (32 MiB blocks, 1 MiB written in
#   two of them, one all-zero block written whole). The scan reads only the
#   data extents SEEK_DATA reports (computed here with Python's os.lseek, an
#   independent oracle), the moved block's data goes by copy_file_range and
#   its holes stay holes (punched at the target), and the file occupies less
#   on the host afterwards, as stat says;
# - the same with every range operation refused (LD_PRELOAD of
#   no_ranges_preload.so: FICLONERANGE, copy_file_range, punching and
#   SEEK_DATA fail as on an old kernel or a FUSE volume): whole blocks are read
#   and written through vdsshim's buffer, with the same result;
# - XFS with reflink and btrfs, loop-mounted: the move shares extents
#   (FICLONERANGE), nothing copied. Needs root and loop mounts; says so and
#   fails where they are missing.
# Each: qemu-img compare against the image before, qemu-img check, vdsshim check.
# usage: host_extents.sh WORKDIR PRELOAD_SO VDSSHIM...
WORK=$1; PRELOAD=$2; shift 2
VDSSHIM=("$@")
. "$(dirname "$0")/lib.sh"
mkdir -p "$WORK" && cd "$WORK" || exit 1
MiB=$((1 << 20))
cleanup() { for m in mxfs mbtrfs; do mountpoint -q $m && umount $m; done; }
trap cleanup EXIT
cleanup
rm -rf ./*.vhdx ./*.json ./*.img mxfs mbtrfs

# A VHDX with 32 MiB blocks in a 1 GiB disk: 1 MiB of data at 0, a block at
# 64 MiB written whole with 0x33 and then trimmed by the guest (UNMAPPED, its
# stale bytes still in the file: scripts/mark-trimmed), 1 MiB of data at
# 480 MiB (allocated last, so it moves into the trimmed block's place, where
# its holes must read zeros, not 0x33). qemu leaves each new block's
# unwritten part a hole.
MARK_TRIMMED=$(cd "$(dirname "$0")/../.." && pwd)/scripts/mark-trimmed
make_image() {
    qemu-img create -q -f vhdx -o block_size=32M,subformat=dynamic "$1" 1G
    qemu-io -f vhdx -c "write -P 0x11 0 1M" -c "write -P 0x33 64M 32M" -c "write -P 0x22 480M 1M" "$1" >/dev/null
    "$MARK_TRIMMED" "$1" 2
}
# data_in FILE START LEN: bytes of data (not holes) in the range, by SEEK_DATA/SEEK_HOLE.
data_in() {
    python3 - "$@" <<'EOF'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
start, end = int(sys.argv[2]), int(sys.argv[2]) + int(sys.argv[3])
total, pos = 0, start
while pos < end:
    try:
        d = os.lseek(fd, pos, os.SEEK_DATA)
    except OSError:
        break
    if d >= end:
        break
    h = min(os.lseek(fd, d, os.SEEK_HOLE), end)
    total, pos = total + h - d, h
print(total)
EOF
}
# block_offsets FILE: host offsets of the fully present blocks, in file order,
# from the BAT as the file has it (region table at 192 KiB; qemu-img map of a
# VHDX gives no host offsets).
block_offsets() {
    python3 - "$1" <<'EOF'
import struct, sys
f = open(sys.argv[1], "rb")
f.seek(192 << 10)
rt = f.read(64 << 10)
for i in range(struct.unpack_from("<I", rt, 8)[0]):
    guid, (off, length) = rt[16 + 32 * i:32 + 32 * i], struct.unpack_from("<QI", rt, 32 + 32 * i)
    if guid.hex() == "6677c22d23f600429d64115e9bfd4a08":
        f.seek(off)
        bat = struct.unpack("<%dQ" % (length // 8), f.read(length))
print(" ".join(str(e & ~0xfffff) for e in sorted(bat, key=lambda e: e & ~0xfffff) if e & 7 == 6))
EOF
}
field() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
host_bytes() { echo $(( $(stat -c %b "$1") * $(stat -c %B "$1") )); }

# judge NAME IMAGE BEFORE: the compacted image reads as before and checks clean.
judge() {
    check "$1: qemu-img compare: identical to the image before" quietly qemu-img compare -f vhdx -F vhdx "$3" "$2"
    check "$1: qemu-img check is clean" quietly qemu-img check -f vhdx "$2"
    check "$1: vdsshim check is clean" quietly "${VDSSHIM[@]}" check "$2"
}

# --- ext4: copy_file_range and punched holes ---
make_image a.vhdx
cp --sparse=always a.vhdx a0.vhdx
read -r -a blocks <<<"$(block_offsets a.vhdx)"
check "the image has two fully present blocks (${blocks[*]}) and a trimmed one" [ "${#blocks[@]}" -eq 2 ]
# The scan reads a block 4 MiB at a time and stops at the first chunk with
# data: the first 4 MiB of the two data blocks, each counted by its data
# extents only; the trimmed block is dropped unread.
want_read=$(( $(data_in a.vhdx "${blocks[0]}" $((4 * MiB))) + $(data_in a.vhdx "${blocks[1]}" $((4 * MiB))) ))
moved_data=$(data_in a.vhdx "${blocks[1]}" $((32 * MiB)))
before=$(host_bytes a.vhdx)
run_tool "${VDSSHIM[@]}" compact --json a.vhdx; rc=$?
cp last.out ext4.json
check "ext4: compact exits 0 (exit $rc: $(head -c 200 last.err))" [ "$rc" -eq 0 ]
check "ext4: one block dropped, one moved" bash -c "[ $(field ext4.json blocks_dropped) -eq 1 ] && [ $(field ext4.json blocks_moved) -eq 1 ]"
check "ext4: the scan read only data extents: $(field ext4.json bytes_read) bytes = $want_read by SEEK_DATA (its chunks are $((8 * MiB)))" \
    [ "$(field ext4.json bytes_read)" -eq "$want_read" ]
check "ext4: the moved block's data went by copy_file_range: $(field ext4.json bytes_copied) = $moved_data bytes" \
    [ "$(field ext4.json bytes_copied)" -eq "$moved_data" ]
check "ext4: its holes were punched at the target: $(field ext4.json bytes_punched) = $((32 * MiB - moved_data)) bytes" \
    [ "$(field ext4.json bytes_punched)" -eq $((32 * MiB - moved_data)) ]
check "ext4: nothing was cloned (ext4 has no reflink)" [ "$(field ext4.json bytes_cloned)" -eq 0 ]
check "ext4: host_allocated_before is what stat said before ($before)" [ "$(field ext4.json host_allocated_before)" -eq "$before" ]
check "ext4: host_allocated_after is what stat says after ($(host_bytes a.vhdx))" [ "$(field ext4.json host_allocated_after)" -eq "$(host_bytes a.vhdx)" ]
check "ext4: the file occupies less on the host: $before -> $(host_bytes a.vhdx) bytes" [ "$(host_bytes a.vhdx)" -lt "$before" ]
check "ext4: flushes are reported ($(field ext4.json flushes))" [ "$(field ext4.json flushes)" -gt 0 ]
judge ext4 a.vhdx a0.vhdx

# --- every range operation refused: reads and writes through the buffer ---
cp --sparse=always a0.vhdx b.vhdx
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 LD_PRELOAD=$PRELOAD \
    "${VDSSHIM[@]}" compact --json b.vhdx >refused.json 2>last.err; rc=$?
check "refused: compact exits 0 (exit $rc: $(head -c 200 last.err))" [ "$rc" -eq 0 ]
check "refused: nothing by copy_file_range, reflink or punch" \
    bash -c "[ $(field refused.json bytes_copied) -eq 0 ] && [ $(field refused.json bytes_cloned) -eq 0 ] && [ $(field refused.json bytes_punched) -eq 0 ]"
check "refused: holes read too: the scan's 4 + 4 MiB and the moved block's 32: $(field refused.json bytes_read) bytes" \
    [ "$(field refused.json bytes_read)" -eq $(((4 + 4 + 32) * MiB)) ]
check "refused: the move written through the buffer ($(field refused.json bytes_written) bytes)" \
    [ "$(field refused.json bytes_written)" -ge $((32 * MiB)) ]
check "refused: the same size as with the range operations" [ "$(file_size b.vhdx)" -eq "$(file_size a.vhdx)" ]
judge refused b.vhdx a0.vhdx

# --- XFS with reflink, btrfs: extents shared ---
# on_fs NAME MKFS...: a loop-mounted volume of that kind; the image moved there compacts by reflink.
on_fs() {
    local name=$1 m=m$1; shift
    rm -f "$name.img"; truncate -s 600M "$name.img"; mkdir -p "$m"
    if ! "$@" "$name.img" >/dev/null 2>&1 || ! mount -o loop "$name.img" "$m" 2>/dev/null; then
        nok "$name: cannot make and loop-mount a volume here ($*): the reflink path was not tested"
        return
    fi
    cp --sparse=always a0.vhdx "$m/x.vhdx"
    run_tool "${VDSSHIM[@]}" compact --json "$m/x.vhdx"; rc=$?
    cp last.out "$name.json"
    check "$name: compact exits 0 (exit $rc: $(head -c 200 last.err))" [ "$rc" -eq 0 ]
    check "$name: the moved block's data was cloned, not copied: $(field "$name.json" bytes_cloned) = $moved_data bytes" \
        bash -c "[ $(field "$name.json" bytes_cloned) -eq $moved_data ] && [ $(field "$name.json" bytes_copied) -eq 0 ]"
    # cp --sparse=always made the zero block a hole already: what is left is not to grow.
    check "$name: the file occupies no more on the host ($(field "$name.json" host_allocated_before) -> $(field "$name.json" host_allocated_after))" \
        [ "$(field "$name.json" host_allocated_after)" -le "$(field "$name.json" host_allocated_before)" ]
    judge "$name" "$m/x.vhdx" a0.vhdx
    umount "$m"
    case $name in
    xfs) check "xfs: xfs_repair -n is clean after" quietly xfs_repair -n xfs.img ;;
    btrfs) check "btrfs: btrfs check --readonly is clean after" quietly btrfs check --readonly btrfs.img ;;
    esac
}
on_fs xfs mkfs.xfs -q -f -m reflink=1
on_fs btrfs mkfs.btrfs -q -f

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
