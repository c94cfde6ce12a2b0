#!/usr/bin/env bash
# Every signal a user or the system sends to stop vdsshim ends it safely:
# SIGINT (Ctrl-C), SIGTERM (kill, shutdown) and SIGHUP (a closed terminal)
# stop compact, merge and expand at the next safe point with exit 6 and
# "cancelled; the image is valid"; the image reads as before and a re-run
# finishes. The tool is stopped mid-run (VDSSHIM_TEST_STOP_AT) so the signal
# arrives while it works, never by timing. Native only: the hook is POSIX.
# usage: signals.sh WORKDIR VDSSHIM...
WORK=$1; shift
VDSSHIM=("$@")
. "$(dirname "$0")/lib.sh"
read -r -a CHAIN <<< "$MAKE_CHAIN"
mkdir -p "$WORK" && cd "$WORK" || exit 1
rm -rf ./*

qemu-img create -q -f vhdx -o block_size=1M base.vhdx 64M
qemu-io -f vhdx -c "write -P 0x61 0 4M" -c "write -P 0 4M 24M" -c "write -P 0x62 28M 4M" \
    -c "write -P 0x63 60M 2M" base.vhdx >/dev/null
qemu-img convert -f vhdx -O raw base.vhdx base.raw
cp base.vhdx done.vhdx && "${VDSSHIM[@]}" compact done.vhdx >/dev/null

# stopped_run PCT CMD...: start CMD stopped at PCT percent; its pid in $vpid.
stopped_run() {
    local pct=$1; shift
    VDSSHIM_TEST_STOP_AT=$pct "$@" >last.out 2>last.err &
    vpid=$!
    wait_stopped "$vpid"
}

for sig in INT TERM HUP; do
    cp base.vhdx img.vhdx
    check "SIG$sig: compact stopped mid-run" stopped_run 20 "${VDSSHIM[@]}" compact img.vhdx
    kill -"$sig" "$vpid"; kill -CONT "$vpid"
    wait "$vpid"; rc=$?
    check "SIG$sig: compact exits 6 (got $rc)" [ "$rc" -eq 6 ]
    check "SIG$sig: ... saying cancelled; the image is valid" grep -q "cancelled; the image is valid" last.err
    check "SIG$sig: ... qemu-img check is clean" quietly qemu-img check -f vhdx img.vhdx
    check "SIG$sig: ... the content is the same" quietly qemu-img compare -f vhdx -F raw img.vhdx base.raw
    expect_rc "SIG$sig: a re-run finishes" 0 "${VDSSHIM[@]}" compact img.vhdx
    check "SIG$sig: ... at the uninterrupted size" [ "$(file_size img.vhdx)" -eq "$(file_size done.vhdx)" ]

    cp base.vhdx img.vhdx
    check "SIG$sig: expand stopped mid-run" stopped_run 1 "${VDSSHIM[@]}" expand img.vhdx 128M
    kill -"$sig" "$vpid"; kill -CONT "$vpid"
    wait "$vpid"; rc=$?
    check "SIG$sig: expand exits 6 (got $rc)" [ "$rc" -eq 6 ]
    check "SIG$sig: ... the old content is there" quietly qemu-img compare -f vhdx -F raw img.vhdx base.raw

    rm -rf m && mkdir m && "${CHAIN[@]}" vhdx m >/dev/null
    "${VDSSHIM[@]}" dump m/child.vhdx m/child.raw >/dev/null 2>&1
    check "SIG$sig: merge stopped mid-run" stopped_run 1 "${VDSSHIM[@]}" merge m/child.vhdx
    kill -"$sig" "$vpid"; kill -CONT "$vpid"
    wait "$vpid"; rc=$?
    check "SIG$sig: merge exits 6 (got $rc)" [ "$rc" -eq 6 ]
    "${VDSSHIM[@]}" dump m/child.vhdx m/now.raw >/dev/null 2>&1
    check "SIG$sig: ... the chain reads as before" cmp -s m/now.raw m/child.raw
done

finish
