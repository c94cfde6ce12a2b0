# Helpers for the script-driven tests: TAP lines and a closing "N passed, N failed".
# Usage: source lib.sh; VDSSHIM="path/to/vdsshim" (may be "wine path/vdsshim.exe").
set -u
PASS=0
FAIL=0

ok()   { PASS=$((PASS + 1)); echo "ok $((PASS + FAIL)) - $*"; }
nok()  { FAIL=$((FAIL + 1)); echo "not ok $((PASS + FAIL)) - $*"; }
check() { local desc=$1; shift; if "$@"; then ok "$desc"; else nok "$desc"; fi; }
quietly() { "$@" >/dev/null 2>&1; }

# Under wine the tests keep wine's own error channel (only fixme is off): when a
# wine process fails for a reason of wine's, the "NNNN:err:" lines in last.err
# say which. tool_stderr leaves them out of the tool's own message.
if [ "${WINEDEBUG:-}" = -all ]; then export WINEDEBUG=fixme-all; fi

# run_tool CMD...: stdout and stderr to last.out and last.err; the exit code.
# No retry: a step that fails is reported with what it printed.
run_tool() {
    "$@" >last.out 2>last.err
}

# expect_rc DESC RC CMD...: the command exits with RC.
expect_rc() {
    local desc=$1 want=$2 rc; shift 2
    run_tool "$@"; rc=$?
    if [ "$rc" -eq "$want" ]; then ok "$desc"; else nok "$desc (exit $rc, expected $want: $(failure_text last.err))"; fi
}

# tool_stderr FILE: what the tool itself wrote to stderr, without wine's own
# lines (the missing wine32, "NNNN:err:" traces) and CRs.
tool_stderr() {
    tr -d '\r' < "$1" | grep -v -e '^[0-9a-f]*:err:' -e wine32 -e multiarch -e 'execute "dpkg' -e 'apt-get install wine32'
}
# failure_text FILE: for a failing step's report, the tool's last lines and any
# error lines of wine's own (a process wine failed to start says why only there).
failure_text() {
    tool_stderr "$1" | tail -n 2 | head -c 300
    tr -d '\r' < "$1" | grep -e '^[0-9a-f]*:err:' | grep -v -e nodrv_CreateWindow -e initialize_systray | head -n 3 | sed 's/^/ [wine] /'
}
# err_line: the last command's reason was exactly one line.
err_line() { [ "$(tool_stderr last.err | wc -l)" -eq 1 ]; }

# wait_stopped PID: until the process is stopped (SIGSTOP, VDSSHIM_TEST_STOP_AT), 10 s at most.
wait_stopped() {
    local i
    for ((i = 0; i < 200; i++)); do
        [ "$(awk '{print $3}' /proc/"$1"/stat 2>/dev/null)" = T ] && return 0
        sleep 0.05
    done
    return 1
}

# The pids of this wine prefix's processes whose command line matches the
# pgrep -f pattern PATTERN. Another test run on the machine has its own
# prefix and its own servers and clients: they must not count here, nor be
# killed (a clients.sh run beside two other clean-clone runs failed on that).
prefix_pids() {   # PATTERN
    local want=${WINEPREFIX:-$HOME/.wine} p env
    for p in $(pgrep -f "$1"); do
        env=$(tr '\0' '\n' </proc/"$p"/environ 2>/dev/null | sed -n 's/^WINEPREFIX=//p')
        [ "${env:-$HOME/.wine}" = "$want" ] && echo "$p"
    done
    true
}
prefix_count() { prefix_pids "$1" | wc -l; }   # PATTERN
prefix_running() { [ -n "$(prefix_pids "$1")" ]; }   # PATTERN

finish() {
    echo "$PASS passed, $FAIL failed"
    [ "$FAIL" -eq 0 ] || return 1
    release_work
}

# release_work: a passing script's images go, so that a whole run's tests do
# not add up on the host's disk (three build trees run them; a CI machine
# with a few GB free ran out). A failing one keeps everything for a look.
# Kept: mounts (-xdev; their scripts unmount them) and wine prefixes (a
# directory holding system.reg; its server may still be shutting down).
release_work() {
    case ${WORK:-} in /*.d) ;; *) return 0 ;; esac   # a ctest work directory
    [ -d "$WORK" ] || return 0
    find "$WORK" -xdev -mindepth 1 -type d -exec test -e '{}/system.reg' ';' -prune \
        -o -type f -size +64k -print0 | xargs -0 -r rm -f
    return 0
}

file_size() { stat -c %s "$1"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

# Unpack a shared image sparsely into the working directory; fails if missing.
unpack() {
    local name=$1
    [ -f "$SHARED/$name.xz" ] || return 1
    [ -f "$name" ] && rm -f "$name"
    xz -dc "$SHARED/$name.xz" | dd of="$name" bs=64K conv=sparse status=none
}

# Count 2^n-byte chunks of a raw file that hold any non-zero byte.
nonzero_chunks() {
    local file=$1 bs=$2 n i count=0
    n=$(( ($(file_size "$file") + bs - 1) / bs ))
    for ((i = 0; i < n; i++)); do
        if ! dd if="$file" bs="$bs" skip="$i" count=1 status=none | cmp -s - <(head -c "$bs" /dev/zero); then
            count=$((count + 1))
        fi
    done
    echo "$count"
}
