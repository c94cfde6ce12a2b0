#!/usr/bin/env bash
# The shared VDS service with many clients (vds_client.exe): one server per
# prefix for every activation, state one client sees another see, clients
# killed with SIGKILL at chosen points and what they held released, idle exit,
# several clients at once. Judged by exact HRESULTs (vds_client's TAP lines),
# the server's process count, and qemu-img on every image touched.
# usage: clients.sh WORKDIR VDSSHIM_DLL PROXY_DLL VDS_CLIENT_EXE WINE
WORK=$1; DLL=$2; PSDLL=$3; CLIENT=$4; WINE=$5
. "$(dirname "$0")/../integration/lib.sh"
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK" || exit 1
# The job-holding hook and a short idle time, for clients and the server alike
# (COM starts the server from its first client, which passes its environment).
# 3 s: clients that follow each other start well inside it, never on the stop
# (the one activation race Wine leaves, provider/server.c).
export VDSSHIM_TEST_HOOKS=1 VDSSHIM_SERVER_IDLE_MS=3000
W=$(winepath -w "$WORK" 2>/dev/null)
SERVER_PATTERN='vdsshim_server\.exe'

# Only this prefix's processes (lib.sh): other runs on the machine have their own.
servers() { prefix_count "$SERVER_PATTERN"; }
dllhosts() { prefix_count 'dllhost\.exe'; }
now_ms() { date +%s%3N; }
# wait_line FILE PATTERN SECONDS: until the file has a line matching PATTERN.
wait_line() {
    local i
    for ((i = 0; i < $3 * 20; i++)); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
    return 1
}
# wait_servers N SECONDS: until exactly N server processes run.
wait_servers() {
    local i
    for ((i = 0; i < $2 * 10; i++)); do [ "$(servers)" -eq "$1" ] && return 0; sleep 0.1; done
    return 1
}
# A checker, run to its end: its TAP lines are shown (ctest fails on "not ok").
client() {   # LOG ARGS...
    local log=$1 rc; shift
    "$WINE" "$CLIENT" "$W" "$@" </dev/null >"$log" 2>&1; rc=$?
    sed 's/^/    /' "$log"
    return $rc
}
# An actor, in the background until killed: ACTOR is its pid (wine execs in place).
start_actor() {   # LOG ARGS...
    local log=$1; shift
    "$WINE" "$CLIENT" "$W" "$@" </dev/null >"$log" 2>&1 &
    ACTOR=$!
    wait_line "$log" '^ready' 60
}
kill_actor() { kill -9 "$ACTOR" 2>/dev/null; wait "$ACTOR" 2>/dev/null; }

vhdx() {   # name: 64 MiB, 1 MiB blocks, data, zero-filled blocks, data
    qemu-img create -q -f vhdx -o block_size=1M,block_state_zero=off "$1" 64M
    qemu-io -f vhdx -c "write -P 0x61 0 2M" -c "write -P 0 2M 8M" -c "write -P 0x62 40M 1M" -c "write -P 0 50M 4M" \
        "$1" >/dev/null
    qemu-img convert -O raw "$1" "$1.raw"
}
IMAGES="idle att cmp wait enum two shared info busyA busyB d1 d2 d3 d4 sh"
for n in $IMAGES; do vhdx $n.vhdx; done

key='HKCR\CLSID\{9C38ED61-D565-4728-AEEE-C80952F0ECDE}'
"$WINE" regsvr32 /s "$DLL" </dev/null >reg.log 2>&1
"$WINE" regsvr32 /s "$PSDLL" </dev/null >>reg.log 2>&1
check "regsvr32 registers the shared server as CLSID_VdsLoader's LocalServer32" \
    bash -c "'$WINE' reg query '$key\\LocalServer32' </dev/null 2>/dev/null | grep -qi 'vdsshim_server.exe'"
check "... and no surrogate AppID" \
    bash -c "! '$WINE' reg query 'HKCR\\AppID\\{9C38ED61-D565-4728-AEEE-C80952F0ECDE}' </dev/null >/dev/null 2>&1"
check "no server runs before the first activation" [ "$(servers)" -eq 0 ]

# --- Two clients: what one attaches the other lists, opens and detaches.
client a.log attach-leave two.vhdx
check "client A attached two.vhdx and left" [ $? -eq 0 ]
check "... the server stays up for the attached disk (one process)" [ "$(servers)" -eq 1 ]
sleep 1.5
check "... even past the idle time" [ "$(servers)" -eq 1 ]
client b.log adopt two.vhdx
check "client B lists, opens and detaches client A's attachment" [ $? -eq 0 ]

start_actor hold-shared.log hold-open shared.vhdx
check "client A holds a read-write handle on shared.vhdx" [ $? -eq 0 ]
client second-rw.log second-open shared.vhdx rw
check "client B: a second Open is VDS_E_VD_DISK_ALREADY_OPEN, read-write or look-only" [ $? -eq 0 ]
kill_actor
start_actor hold-info.log hold-info info.vhdx
check "client A holds a look-only handle on info.vhdx" [ $? -eq 0 ]
client second-info.log second-open info.vhdx info
check "client B: look-only handles coexist with it, a read-write one does not" [ $? -eq 0 ]
kill_actor

# --- Client death: SIGKILL at several points; what it held goes within 10 s.
release_ms=()
death_await() {   # ACTOR_ACTION NAME HANDLE_STATE WHAT
    local action=$1 name=$2 state=$3 what=$4 released k
    start_actor "victim-$name.log" "$action" "$name"
    check "death $what: the victim is in place" [ $? -eq 0 ]
    "$WINE" "$CLIENT" "$W" await-free "$name" "$state" </dev/null >"await-$name.log" 2>&1 &
    local checker=$!
    wait_line "await-$name.log" '^watching' 60
    k=$(now_ms)
    kill_actor
    wait "$checker"
    check "death $what: the survivor's checks pass" [ $? -eq 0 ]
    sed 's/^/    /' "await-$name.log"
    released=$(sed -n 's/^released-at \([0-9]*\).*/\1/p' "await-$name.log")
    if [ -n "$released" ]; then
        release_ms+=("$what $((released - k)) ms")
        check "death $what: the file was free $((released - k)) ms after SIGKILL (10 s allowed)" \
            [ $((released - k)) -le 10000 ]
    else
        nok "death $what: the file was never released"
    fi
}
death_await hold-open idle.vhdx open "idle with a handle open (between Open and Attach)"
death_await hold-attached att.vhdx attached "attached, handle open"

death_compact() {   # ACTOR_ACTION NAME WHAT
    local action=$1 name=$2 what=$3 k released
    start_actor "victim-$name.log" "$action" "$name"
    check "death $what: the victim is in place" [ $? -eq 0 ]
    sleep 0.2   # hold-wait: into the Wait call
    k=$(now_ms)
    kill_actor
    client "after-$name.log" after-compact "$name"
    check "death $what: the job ran to its end and the file was let go" [ $? -eq 0 ]
    released=$(sed -n 's/^released-at \([0-9]*\).*/\1/p' "after-$name.log")
    [ -n "$released" ] && release_ms+=("$what $((released - k)) ms (the compaction included)")
    check "death $what: qemu-img check is clean" quietly qemu-img check "$name"
    check "death $what: content identical (qemu-img compare)" qemu-img compare -q -F raw "$name" "$name.raw"
    check "death $what: compacted (at most 8 MiB)" [ "$(file_size "$name")" -le $((8 << 20)) ]
}
death_compact hold-compact cmp.vhdx "mid-Compact"
death_compact hold-wait wait.vhdx "mid-Wait"

# --- Several clients at once: one's long Compact stalls nobody; 8 processes.
start_actor busy.log hold-compact busyA.vhdx
check "client A's Compact of busyA.vhdx runs (held)" [ $? -eq 0 ]
client busy-query.log busy-query busyA.vhdx busyB.vhdx
check "client B's QueryVDisks, GetProperties and QueryStatus answer meanwhile" [ $? -eq 0 ]
client release.log release-jobs
wait_line busy.log 'ready' 1
for i in $(seq 1 300); do [ "$(file_size busyA.vhdx)" -le $((8 << 20)) ] && break; sleep 0.1; done
kill_actor
pids=()
for n in d1 d2 d3 d4 sh sh sh sh; do
    "$WINE" "$CLIENT" "$W" hammer $n.vhdx 4 </dev/null >"hammer-$n-${#pids[@]}.log" 2>&1 &
    pids+=($!)
done
bad=0
for p in "${pids[@]}"; do wait "$p" || bad=$((bad + 1)); done
for f in hammer-*.log; do grep -h 'ok\|rounds' "$f" | tail -1 | sed "s/^/    $f: /"; done
check "8 clients at once (4 files of their own, 4 on one shared file): all exact, none stuck" [ "$bad" -eq 0 ]
for n in busyA busyB d1 d2 d3 d4 sh; do
    check "$n.vhdx: qemu-img check is clean" quietly qemu-img check $n.vhdx
    check "$n.vhdx: content identical" qemu-img compare -q -F raw $n.vhdx $n.vhdx.raw
done

# --- Lifetime: a dead client's objects do not keep the server; idle exit.
check "nothing attached any more: the server stops on its own" wait_servers 0 10
start_actor enum.log hold-enum enum.vhdx
check "a client holds a loader, a service and enumerations" [ $? -eq 0 ]
sleep 1.5
check "... which keep the server up past the idle time" [ "$(servers)" -eq 1 ]
kill_actor
check "killed, its objects are released and the server stops (10 s allowed)" wait_servers 0 10

# --- 50 activations, 5 at a time, every apartment and security setup: one server.
# Clients that start together may each launch a server process; all but one
# serve nothing and go within EXTRA_LINGER_MS (3 s, server.c). A sampler
# records which server processes live: exactly one may live longer than 6 s
# (its idle time is 5 s here, so it serves the whole loop), and none may be left.
before=$(servers); hosts=0; failures=0
touch sampling
( while [ -e sampling ]; do echo "$(now_ms) $(prefix_pids "$SERVER_PATTERN" | tr '\n' ' ')"; sleep 0.05; done ) >samples &
sampler=$!
for r in $(seq 1 10); do
    pids=()
    for v in "sta plain" "mta plain" "sta secure" "mta secure" "mta plain"; do
        # shellcheck disable=SC2086
        VDSSHIM_SERVER_IDLE_MS=5000 "$WINE" "$CLIENT" "$W" activate $v </dev/null >"activate-$r-${#pids[@]}.log" 2>&1 &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || failures=$((failures + 1)); done
    h=$(dllhosts); [ "$h" -gt "$hosts" ] && hosts=$h
done
grep -h 'not ok' activate-*.log | head -5
wait_servers 0 15
after=$(servers)
rm -f sampling; wait "$sampler"
# Per sample: how many server processes had been seen for more than 6 s.
read -r seen serving <<<"$(awk '{ for (i = 2; i <= NF; i++) { if (!($i in first)) { first[$i] = $1; n++ } \
    if ($1 - first[$i] > 6000) old++ } if (old > max) max = old; old = 0 } END { print n + 0, max + 0 }' samples)"
echo "# server processes: $before before the 50 activations, $seen seen meanwhile, at most $serving serving at once, $after once idle; dllhost at most $hosts"
check "50 activations, 5 at a time (STA/MTA, with and without CoInitializeSecurity): all succeed" [ "$failures" -eq 0 ]
check "... one server serving them all, no surrogate" [ "$serving" -eq 1 -a "$hosts" -eq 0 ]
check "... and none left once idle" [ "$after" -eq 0 ]
for m in "${release_ms[@]}"; do echo "# release after SIGKILL: $m"; done

"$WINE" regsvr32 /s /u "$DLL" </dev/null >>reg.log 2>&1
"$WINE" regsvr32 /s /u "$PSDLL" </dev/null >>reg.log 2>&1
check "regsvr32 /u removes the class and its LocalServer32" \
    bash -c "! '$WINE' reg query '$key' </dev/null >/dev/null 2>&1"
check "no server process is left" [ "$(servers)" -eq 0 ]
rm -f ./*.raw
finish
