#!/usr/bin/env bash
# XFS in compact --fs-aware, on volumes made by Debian's mkfs.xfs:
# - v5 (CRCs; mkfs's defaults: finobt, rmapbt, reflink) in an MBR partition,
#   filled through a loop mount: f1..f6 and 1200 small files, then f2, f4
#   and every other small file deleted, so that an AG's free-space tree
#   grows a second level;
# - v5 with 4096-byte sectors on the whole disk, the same way;
# - v4 (no CRCs, 1 KiB blocks) on the whole disk: today's kernel no longer
#   mounts v4, so its files come from an mkfs.xfs prototype file and its
#   free space holds stale random bytes written before mkfs.
# Checks: the report says XFS, mapped; the deleted files' blocks read zeros
# (qemu); nothing outside the free extents xfs_db's "freesp -d" lists has
# changed (an oracle of xfs_db's own); xfs_repair -n finds the volume clean;
# the surviving files read back identical through a read-only mount. Then
# the fall-backs, each with the guest reading exactly what it read: a dirty
# log (a volume shut down with "xfs_io -x -c 'shutdown -f'", which
# xfs_logprint calls DIRTY), an AGF whose free count disagrees with its tree
# (v4), a free-space tree block that fails its CRC (v5).
# usage: fs_xfs.sh WORKDIR VDSSHIM...
WORK=$1; shift
VDSSHIM=("$@")
. "$(dirname "$0")/lib.sh"
mkdir -p "$WORK" && cd "$WORK" || exit 1
umount "$PWD/mnt" 2>/dev/null
rm -rf ./*
. "$(dirname "$0")/fs_lib.sh"
mkdir -p mnt small
trap 'umount "$PWD/mnt" 2>/dev/null' EXIT
SIZE_MIB=320                        # mkfs.xfs refuses volumes under 300 MB
for i in $(seq 1 1200); do head -c 8192 /dev/urandom > small/s$i; done

CAN_MOUNT=0
truncate -s 0 probe.img; truncate -s ${SIZE_MIB}M probe.img
mkfs.xfs -q -f probe.img && mount -o loop probe.img mnt 2>/dev/null && umount mnt && CAN_MOUNT=1
rm -f probe.img
[ $CAN_MOUNT = 1 ] || nok "loop mounts of XFS are unavailable here: the v5 volumes (written and deleted through a mount) were not tested"

# make_xfs IMAGE MKFS_OPTS: a v5 volume written and deleted through a mount;
# dead.txt gets f2's and f4's extents (volume bytes, from xfs_bmap).
make_xfs() {
    local img=$1 f; shift
    truncate -s 0 "$img"; truncate -s ${SIZE_MIB}M "$img"
    mkfs.xfs -q -f -K "$@" "$img" || return 1
    mount -o loop "$img" mnt || return 1
    cp src/f* mnt/ && cp -r small mnt/ && sync
    : > dead.txt
    for f in f2 f4; do
        # "N: [FILE_FIRST..FILE_LAST]: DISK_FIRST..DISK_LAST", 512-byte units
        xfs_bmap mnt/$f | sed -n 's/.*\]: \([0-9]*\)\.\.\([0-9]*\)$/\1 \2/p' |
            while read -r a b; do echo $((a * 512)) $(((b - a + 1) * 512)); done >> dead.txt
    done
    rm mnt/f2 mnt/f4
    for i in $(seq 1 2 1200); do rm mnt/small/s$i; done
    umount mnt
}
# freesp IMAGE: xfs_db's free extents, "start len" in volume bytes.
freesp() {
    local bs agblocks
    bs=$(xfs_db -r -c 'sb 0' -c 'p blocksize' "$1" | awk '{print $3}')
    agblocks=$(xfs_db -r -c 'sb 0' -c 'p agblocks' "$1" | awk '{print $3}')
    xfs_db -r -c 'freesp -d' "$1" | awk -v bs="$bs" -v agb="$agblocks" '$1 ~ /^[0-9]+$/ && NF == 3 { print ($1 * agb + $2) * bs, $3 * bs }'
}
# survivors IMAGE FILES...: the files read back identical through a read-only mount.
survivors() {
    local img=$1 f ok=0; shift
    mount -o loop,ro,norecovery "$img" mnt || return 1
    for f in "$@"; do cmp -s "mnt/$f" "$f" 2>/dev/null || cmp -s "mnt/$f" "src/$f" || ok=1; done
    umount mnt
    return $ok
}

# xfs_scenario NAME LAYOUT FORMAT KIND MKFS_OPTS: KIND mount (v5) or proto (v4).
xfs_scenario() {
    local name=$1 layout=$2 fmt=$3 kind=$4 off qfmt opts bsz nd; shift 4
    case $layout in
    mbr) off=$MiB ;;
    whole) off=0 ;;
    esac
    if [ "$kind" = mount ]; then
        make_xfs part.img "$@" || { nok "$name: mkfs.xfs and the mount failed"; return; }
    else
        # Stale bytes where the free space will be; files from a prototype.
        head -c $((SIZE_MIB * MiB)) /dev/urandom > part.img
        { echo "/dev/null"; echo "0 0"; echo "d--755 0 0"
          for f in f1 f3 f5 f6; do echo "$f ---644 0 0 $PWD/src/$f"; done; echo '$'; } > proto.txt
        mkfs.xfs -q -f -K -p proto.txt "$@" part.img || { nok "$name: mkfs.xfs -p failed"; return; }
        : > dead.txt
    fi
    truncate -s 0 disk.raw; truncate -s $((SIZE_MIB * MiB + off + MiB)) disk.raw
    [ "$layout" = mbr ] && printf 'start=2048, size=%d, type=83\n' $((SIZE_MIB * 2048)) | sfdisk -q disk.raw
    into_disk disk.raw part.img "$off"
    freesp part.img > free.txt
    python3 "$FSCHECK" outside "$off" $((SIZE_MIB * MiB)) free.txt > used.txt
    if [ "$fmt" = vhdx ]; then qfmt=vhdx opts="-o block_size=1M" bsz=$MiB; else qfmt=vpc opts="-o subformat=dynamic" bsz=$((2 * MiB)); fi
    qemu-img convert -f raw -O "$qfmt" $opts disk.raw "$name.$fmt"
    compact_fs_aware "$name" "$name.$fmt"
    check "$name: ... reports the volume as XFS, mapped, with bytes reclaimed" \
        bash -c "sed -n 2p last.out | grep -q '\"fs\":\"XFS v[45]\",[^}]*\"used\":true,\"free\":[1-9][0-9]*,\"reclaimed\":[1-9]'"
    qemu-img convert -f "$qfmt" -O raw "$name.$fmt" after.raw
    if [ -s dead.txt ]; then
        python3 "$FSCHECK" blocks dead.txt "$off" "$bsz" > dead-blocks.txt
        nd=$(wc -l < dead-blocks.txt)
        check "$name: every block wholly inside the deleted files reads zeros ($nd)" \
            [ "$nd" -gt 0 -a "$(python3 "$FSCHECK" zeroed after.raw dead-blocks.txt "$bsz")" -eq "$nd" ]
    else
        check "$name: the stale bytes in the free space are gone (blocks now zeros: $(python3 "$FSCHECK" zerocount after.raw "$bsz" "$off" $((SIZE_MIB * MiB))))" \
            [ "$(python3 "$FSCHECK" zerocount after.raw "$bsz" "$off" $((SIZE_MIB * MiB)))" -gt 100 ]
    fi
    check "$name: nothing outside xfs_db's free extents changed" python3 "$FSCHECK" same-ranges disk.raw after.raw used.txt
    check "$name: ... nor outside the volume" \
        bash -c "cmp -s -n $off disk.raw after.raw && cmp -s -i $((off + SIZE_MIB * MiB)) -n $MiB disk.raw after.raw"
    dd if=after.raw of=after-part.img bs=1M skip=$((off / MiB)) count=$SIZE_MIB status=none
    check "$name: xfs_repair -n finds the volume clean" quietly xfs_repair -n -f after-part.img
    if [ "$kind" = mount ]; then
        if [ $CAN_MOUNT = 1 ]; then
            check "$name: f1, f3, f5, f6 and the small files kept read back identical" \
                survivors after-part.img f1 f3 f5 f6 $(for i in $(seq 2 2 1200); do echo small/s$i; done)
        fi
    fi
    rm -f disk.raw after.raw after-part.img "$name.$fmt"
}

# The free-space tree of some AG must have two levels for the node path to be tested.
# xfs_db prints "levels[0-2] = 0:BNO 1:CNT 2:RMAP".
tree_levels() {
    local ag
    for ag in 0 1 2 3; do xfs_db -r -c "agf $ag" -c 'p levels' "$1" | awk '{ split($3, a, ":"); print a[2] }'; done | sort -n | tail -1
}
if [ $CAN_MOUNT = 1 ]; then
    make_xfs levels.img && check "the small files' holes give an AG a two-level free-space tree" [ "$(tree_levels levels.img)" -ge 2 ]
    rm -f levels.img
    xfs_scenario xfs5-mbr mbr vhdx mount
    xfs_scenario xfs5-4kn-whole whole vhd mount -s size=4096
fi
xfs_scenario xfs4-whole whole vhdx proto -m crc=0 -b size=1024

# --- Fall-backs -------------------------------------------------------------
# xfs_fallback NAME REASON: part.img (already damaged) as a whole disk; the
# volume falls back saying REASON and the guest reads what it read before.
xfs_fallback() {
    qemu-img convert -f raw -O vhdx -o block_size=1M part.img "$1.vhdx"
    compact_fs_aware "$1" "$1.vhdx"
    check "$1: ... the volume falls back, saying why" bash -c "sed -n 2p last.out | grep -q '\"used\":false,.*$2'"
    check "$1: ... the guest reads exactly what it read before" quietly qemu-img compare -f raw -F vhdx part.img "$1.vhdx"
    rm -f "$1.vhdx"
}
if [ $CAN_MOUNT = 1 ]; then
    make_xfs part.img
    mount -o loop part.img mnt && cp src/f1 mnt/late && sync && xfs_io -x -c "shutdown -f" mnt && umount mnt
    check "a volume shut down with the log dirty (xfs_logprint says so)" bash -c "xfs_logprint -t part.img 2>/dev/null | grep -q 'state: <DIRTY>'"
    xfs_fallback xfs-dirty-log "needs recovery"
    # A bnobt block (AG 0's root) with one byte changed: its CRC fails.
    make_xfs part.img
    root=$(xfs_db -r -c 'agf 0' -c 'p bnoroot' part.img | awk '{print $3}')
    printf '\x55' | dd of=part.img bs=1 seek=$((root * 4096 + 60)) conv=notrunc status=none
    xfs_fallback xfs-bnobt-crc "fails its checksum"
fi
# v4: AGF 1's free-block count one more than its tree holds.
head -c $((SIZE_MIB * MiB)) /dev/urandom > part.img
mkfs.xfs -q -f -K -m crc=0 part.img
xfs_db -x -c 'agf 1' -c "write freeblks $(( $(xfs_db -r -c 'agf 1' -c 'p freeblks' part.img | awk '{print $3}') + 1 ))" part.img >/dev/null
check "xfs_db changed AGF 1's free count" bash -c "xfs_repair -n -f part.img >/dev/null 2>&1; [ \$? -ne 0 ]"
xfs_fallback xfs4-agf-count "the AGF says"

rm -f ./*.img ./*.raw
finish
