#!/usr/bin/env bash
# Locks that qemu honours: vdsshim and qemu (qemu-io, qemu-img) refuse an
# image the other is using, in both orders, and a refusal writes nothing.
# Native: vdsshim is stopped mid-compaction (VDSSHIM_TEST_STOP_AT) while qemu
# tries. Under wine: vdsshim.exe sees qemu's locks (Wine's LockFileEx is a
# host fcntl lock), the reverse is not claimed.
# usage: locks.sh WORKDIR VDSSHIM...
WORK=$1; shift
VDSSHIM=("$@")
. "$(dirname "$0")/lib.sh"
mkdir -p "$WORK" && cd "$WORK" || exit 1
under_wine=0
[ "${VDSSHIM[0]##*/}" = wine ] && under_wine=1

# A VHDX worth compacting: data, zeros, data, so blocks move.
make_image() {
    rm -f "$1"
    qemu-img create -q -f vhdx -o block_size=1M "$1" 16M
    qemu-io -f vhdx -c "write -P 0x61 0 1M" -c "write -P 0 1M 4M" -c "write -P 0x62 5M 1M" \
        -c "write -P 0x63 12M 1M" "$1" >/dev/null
}

# said LINE: stderr of the last command has exactly this line (wine's CRs aside).
said() { tr -d '\r' < last.err | grep -qxF "$1"; }

# hold_qemu DESC ARGS...: a qemu-io process holds the image until released.
qemu_pid=
hold_qemu() {
    qemu-io "$@" -c "sleep 60000" img.vhdx >/dev/null 2>&1 &
    qemu_pid=$!
    # Until its locks are on the file (qemu-io opens first, then sleeps).
    local i ino
    ino=$(stat -c %i img.vhdx)
    for ((i = 0; i < 100; i++)); do
        grep -q ":$ino 100 " /proc/locks && return 0
        sleep 0.05
    done
    return 1
}
release_qemu() { kill "$qemu_pid" 2>/dev/null; wait "$qemu_pid" 2>/dev/null; }

# vdsshim against a holder: refused with exit 5 and the holder named, file unchanged.
refused_by_qemu() {
    local what=$1; shift
    local h
    h=$(sha img.vhdx)
    expect_rc "$what: vdsshim $1 refused (exit 5)" 5 "${VDSSHIM[@]}" "$@"
    check "... says in use by another process (qemu)" said "vdsshim: img.vhdx: in use by another process (qemu)"
    check "... the image is unchanged" [ "$(sha img.vhdx)" = "$h" ]
}

make_image img.vhdx
check "qemu-io holds the image read-write" hold_qemu -f vhdx
refused_by_qemu "qemu-io rw" compact img.vhdx
refused_by_qemu "qemu-io rw" expand img.vhdx 32M
# A read-only handle gets only read locks from wineserver, which cannot see
# qemu's (io_win32.c): inspections under wine read beside a writer.
[ "$under_wine" -eq 0 ] && refused_by_qemu "qemu-io rw" check img.vhdx
release_qemu

check "qemu-io -r holds the image read-only" hold_qemu -r -f vhdx
refused_by_qemu "qemu-io -r" compact img.vhdx
expect_rc "qemu-io -r: vdsshim check reads beside it" 0 "${VDSSHIM[@]}" check img.vhdx
expect_rc "qemu-io -r: vdsshim info reads beside it" 0 "${VDSSHIM[@]}" info img.vhdx
release_qemu

check "qemu-io -r -U (force share) holds the image" hold_qemu -r -U -f vhdx
refused_by_qemu "qemu-io -U" compact img.vhdx
release_qemu

expect_rc "with qemu gone, compact runs" 0 "${VDSSHIM[@]}" compact img.vhdx
check "... qemu-img check agrees" quietly qemu-img check -f vhdx img.vhdx

if [ "$under_wine" -eq 0 ]; then
    # The reverse: vdsshim mid-compaction, stopped with the file open and locked.
    make_image img.vhdx
    qemu-img convert -f vhdx -O raw img.vhdx ref.raw
    VDSSHIM_TEST_STOP_AT=1 "${VDSSHIM[@]}" compact img.vhdx >compact.out 2>compact.err &
    vpid=$!
    check "vdsshim compact stopped mid-run" wait_stopped "$vpid"
    snap=$(sha img.vhdx)
    expect_rc "mid-compaction: qemu-io rw refuses the image" 1 qemu-io -f vhdx -c "write -P 0x77 0 512" img.vhdx
    check "... saying it cannot get the lock" grep -q 'Failed to get .* lock' last.err
    expect_rc "mid-compaction: qemu-io -r refuses" 1 qemu-io -r -f vhdx -c "read 0 512" img.vhdx
    expect_rc "mid-compaction: qemu-img check refuses" 1 qemu-img check -f vhdx img.vhdx
    # -U is qemu's "force share": it takes no notice of others' locks, by design.
    expect_rc "mid-compaction: qemu-img info -U (force share) still reads" 0 qemu-img info -U -f vhdx img.vhdx
    check "... none of them wrote to it" [ "$(sha img.vhdx)" = "$snap" ]
    expect_rc "mid-compaction: a second vdsshim compact refuses (exit 5)" 5 "${VDSSHIM[@]}" compact img.vhdx
    check "... naming vdsshim" said "vdsshim: img.vhdx: in use by another process (vdsshim)"
    kill -CONT "$vpid"
    wait "$vpid"
    check "the compaction then finishes (exit 0)" [ $? -eq 0 ]
    check "... qemu-img check is clean" quietly qemu-img check -f vhdx img.vhdx
    check "... and the content is the same" quietly qemu-img compare -f vhdx -F raw img.vhdx ref.raw
    expect_rc "afterwards qemu-io writes again" 0 qemu-io -f vhdx -c "write -P 0x77 0 512" img.vhdx
fi

finish
