#!/usr/bin/env bash
# Real faults from a real file system, not the simulated ones: a full tmpfs
# (ENOSPC on the writes of a compaction), and a FUSE pass-through
# (faultfs.py) that starts failing every write with EIO, or with EROFS as a
# file system remounted read-only, while vdsshim is stopped mid-run. Each:
# a one-line error, exit 4, the image valid with the same content, and a
# re-run on a healthy volume ends where an uninterrupted run ends.
# Needs root (mount) and /dev/fuse; says so and fails when missing.
# usage: real_faults.sh WORKDIR VDSSHIM...
WORK=$1; shift
VDSSHIM=("$@")
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$WORK" && cd "$WORK" || exit 1
under_wine=0
[ "${VDSSHIM[0]##*/}" = wine ] && under_wine=1

fuse_pid=
cleanup() {
    mountpoint -q full && umount full
    if [ -n "$fuse_pid" ]; then fusermount3 -u mnt 2>/dev/null || fusermount -u mnt 2>/dev/null; wait "$fuse_pid"; fi
}
trap cleanup EXIT
rm -rf full mnt backing ./*.vhdx ./*.raw control

# A VHDX whose compaction moves blocks and writes its log: data, zeros, data.
make_image() {
    qemu-img create -q -f vhdx -o block_size=1M "$1" 64M
    qemu-io -f vhdx -c "write -P 0x61 0 4M" -c "write -P 0 4M 24M" -c "write -P 0x62 28M 4M" \
        -c "write -P 0x63 60M 2M" "$1" >/dev/null
}
make_image ref.vhdx
qemu-img convert -f vhdx -O raw ref.vhdx ref.raw
cp ref.vhdx done.vhdx
"${VDSSHIM[@]}" compact done.vhdx >/dev/null 2>&1
final=$(file_size done.vhdx)

# after_fault DESC FILE: the image a failed run left is valid, reads the same,
# and a copy on a healthy volume compacts to the uninterrupted size.
after_fault() {
    local desc=$1 f=$2
    check "$desc: the error is one line" err_line
    check "$desc: vdsshim check finds the image valid" quietly "${VDSSHIM[@]}" check "$f"
    check "$desc: qemu-img check agrees" quietly qemu-img check -f vhdx "$f"
    check "$desc: the content is the same" quietly qemu-img compare -f vhdx -F raw "$f" ref.raw
    cp "$f" rerun.vhdx
    expect_rc "$desc: a re-run on a healthy volume finishes" 0 "${VDSSHIM[@]}" compact rerun.vhdx
    check "$desc: ... at the uninterrupted size" [ "$(file_size rerun.vhdx)" -eq "$final" ]
    check "$desc: ... with the same content" quietly qemu-img compare -f vhdx -F raw rerun.vhdx ref.raw
}

# 1. ENOSPC: the image's zero blocks are holes on the host, and the tmpfs is
# full, so moving data into them needs space there is not.
mkdir -p full
if mount -t tmpfs -o size=48m tmpfs full 2>/dev/null; then
    cp ref.vhdx full/img.vhdx
    fallocate --dig-holes full/img.vhdx
    dd if=/dev/zero of=full/filler bs=64K status=none 2>/dev/null
    expect_rc "full file system: compact fails with an I/O error (exit 4)" 4 "${VDSSHIM[@]}" compact full/img.vhdx
    check "... saying no space left on device" grep -q "no space left on device" last.err
    rm -f full/filler
    after_fault "ENOSPC" full/img.vhdx
    umount full
else
    nok "cannot mount a tmpfs (needs root): the ENOSPC case did not run"
fi

# 2. and 3. EIO and EROFS mid-run through FUSE.
if [ ! -c /dev/fuse ] || ! /usr/bin/python3 -c "import fusepy" 2>/dev/null; then
    nok "no FUSE here (/dev/fuse or python3-fusepy missing): the EIO and EROFS cases did not run"
    finish; exit
fi
mkdir -p backing mnt
echo ok > control
/usr/bin/python3 "$HERE/faultfs.py" backing mnt control 2>faultfs.err &
fuse_pid=$!
for ((i = 0; i < 100; i++)); do mountpoint -q mnt && break; sleep 0.05; done
check "the FUSE pass-through is mounted" mountpoint -q mnt

mid_run_fault() {   # MODE DESC REASON
    local mode=$1 desc=$2 reason=$3 vpid rc
    echo ok > control
    cp ref.vhdx backing/img.vhdx
    if [ "$under_wine" -eq 1 ]; then
        # No SIGSTOP hook in the Windows build: the fault is there from the start.
        echo "$mode" > control
        run_tool "${VDSSHIM[@]}" compact mnt/img.vhdx; rc=$?
    else
        VDSSHIM_TEST_STOP_AT=30 "${VDSSHIM[@]}" compact mnt/img.vhdx >last.out 2>last.err &
        vpid=$!
        check "$desc: vdsshim stopped mid-compaction" wait_stopped "$vpid"
        echo "$mode" > control
        kill -CONT "$vpid"
        wait "$vpid"; rc=$?
    fi
    check "$desc: compact fails with exit 4 (got $rc: $(tr -d '\r' < last.err | tail -n 1))" [ "$rc" -eq 4 ]
    check "$desc: ... saying $reason" grep -q "$reason" last.err
    echo ok > control
    after_fault "$desc" mnt/img.vhdx
}
mid_run_fault eio "EIO" "I/O error"
if [ "$under_wine" -eq 1 ]; then
    # Wine turns EROFS from a write into access denied; only a volume mounted
    # read-only says more (hostile_paths.sh checks that case).
    mid_run_fault rofs "read-only file system" "permission denied"
else
    mid_run_fault rofs "read-only file system" "read-only file system"
fi

finish
