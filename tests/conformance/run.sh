#!/usr/bin/env bash
# Provider conformance under wine: register vdsshim.dll, run conformance.exe
# through the real COM chain (its tests make their own images and the raw
# copies of what each guest reads), then judge the images with qemu-img
# (check, compare against those raw copies) and the guest's own fsck, and
# unregister. One test alone: conformance.exe DIR [inproc|local] TEST.
# usage: run.sh WORKDIR VDSSHIM_DLL PROXY_DLL CONFORMANCE_EXE WINE inproc|local VDSSHIM_EXE
WORK=$1; DLL=$2; PSDLL=$3; EXE=$4; WINE=$5; MODE=$6; TOOL=$7
. "$(dirname "$0")/../integration/lib.sh"
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK" || exit 1
MiB=$((1 << 20))
# The provider's job-holding hook (provider/async.c), and a short idle time for
# the shared server (provider/server.c), for client and server alike.
export VDSSHIM_TEST_HOOKS=1 VDSSHIM_SERVER_IDLE_MS=1000

vhdx() {   # name size qemu-io commands...
    local name=$1 size=$2 args=(); shift 2
    qemu-img create -q -f vhdx -o block_size=1M,block_state_zero=off "$name" "$size"
    for c in "$@"; do args+=(-c "$c"); done
    qemu-io -f vhdx "${args[@]}" "$name" >/dev/null
}
# conformance.exe's tests make their own fixtures (conformance_fixtures.c),
# each with NAME.raw beside it: what its guest reads, judged below. Made here
# are only what this script's own steps use (busy2.vhdx for the crashing
# client) and the Windows-made image no test can make (from ../shared).
vhdx busy2.vhdx 1G "write -P 0 0 512M" "write -P 0x63 900M 1M"
qemu-img convert -O raw busy2.vhdx busy2.vhdx.raw
SHARED=$(cd "$(dirname "$0")/../../.." && pwd)/shared/images
[ -f "$SHARED/win10-differencing-orphan.vhd.xz" ] && xz -dc "$SHARED/win10-differencing-orphan.vhd.xz" > orphan-child.vhd

key='HKCR\CLSID\{9C38ED61-D565-4728-AEEE-C80952F0ECDE}\InprocServer32'
"$WINE" regsvr32 /s "$DLL" </dev/null >reg.log 2>&1
"$WINE" regsvr32 /s "$PSDLL" </dev/null >>reg.log 2>&1
check "regsvr32 registers CLSID_VdsLoader as an in-process server" \
    bash -c "'$WINE' reg query '$key' </dev/null 2>/dev/null | grep -qi 'vdsshim.dll'"
check "... with ThreadingModel Both" \
    bash -c "'$WINE' reg query '$key' /v ThreadingModel </dev/null 2>/dev/null | grep -q Both"

appid='HKCR\AppID\{9C38ED61-D565-4728-AEEE-C80952F0ECDE}'
check "... and as a LocalServer32: the shared server beside the DLL" \
    bash -c "'$WINE' reg query '${key%\\*}\\LocalServer32' </dev/null 2>/dev/null | grep -qi 'vdsshim_server.exe'"
check "... with no surrogate AppID (one dllhost per activation)" \
    bash -c "! '$WINE' reg query '$appid' </dev/null >/dev/null 2>&1"
for iid in 75C8F324-F715-4FE3-A28E-F9011B61A4A1 D5D23B6D-5A55-4492-9889-397A3C2D2DBC 1E062B84-E5E6-4B4B-8A25-67B81E8F13E8 \
           E0393303-90D4-4A97-AB71-E9B671EE2729 118610B7-8D94-4030-B5B8-500889788E4E; do
    check "regsvr32 vdsshim_ps.dll: ProxyStubClsid32 for {$iid}" \
        bash -c "'$WINE' reg query 'HKCR\Interface\{$iid}\ProxyStubClsid32' </dev/null >/dev/null 2>&1"
done

# stdio to a file: wine daemons must not inherit ctest's pipe.
"$WINE" "$EXE" "$(winepath -w "$WORK" 2>/dev/null)" "$MODE" </dev/null >conformance.log 2>&1
rc=$?
cat conformance.log
check "conformance.exe exits 0" [ "$rc" -eq 0 ]

# Before a new client when the last may have just let go: the server's idle
# stop out of the way (an activation landing on it is Wine's race, server.c).
wait_no_server() {
    local i
    [ "$MODE" = local ] || return 0
    for i in $(seq 1 150); do prefix_running 'vdsshim_server\.exe' || return 0; sleep 0.1; done
}
wait_no_server
# A client built the SDK way (<initguid.h>, <vds.h>, -Werror) walks the chain too.
"$WINE" "$(dirname "$EXE")/sdk_client.exe" "$(winepath -w "$WORK" 2>/dev/null)" "$MODE" </dev/null >sdk_client.log 2>&1
rc=$?
cat sdk_client.log
check "sdk_client.exe (written against the SDK's vds.h) exits 0" [ "$rc" -eq 0 ]

for f in dyn.vhdx attach.vhdx orphan.vhdx cancel.vhdx busy.vhdx; do
    check "$f: qemu-img check is clean after the COM compaction" quietly qemu-img check "$f"
done
for f in dyn.vhdx attach.vhdx orphan.vhdx cancel.vhdx busy.vhdx dyn.vhd; do
    check "$f: content identical (qemu-img compare against the copy made before)" \
        qemu-img compare -q -F raw "$f" "$f.raw"
done
check "fixed.vhd: a fixed disk of 16 MiB still, reading as made (compaction and expansion refused)" \
    bash -c "[ \$(stat -c %s fixed.vhd) -eq $((16 * MiB + 512)) ] && qemu-img compare -q -f vpc -F raw fixed.vhd fixed.vhd.raw"
check "grow.vhdx: qemu-img check is clean after the COM expansion" quietly qemu-img check grow.vhdx
# (qemu cannot probe a fixed VHD: its first sector is data, so the format is named.)
for f in fixed-grow.vhd fixed-grow.vhdx; do
    fmt=$([ "${f##*.}" = vhd ] && echo vpc || echo vhdx)
    check "$f: qemu sees 48 MiB after the COM expansion of a fixed disk" \
        bash -c "qemu-img info -f $fmt --output=json $f | grep -q '\"virtual-size\": 50331648'"
    check "$f: the old content, then zeros (qemu-img compare)" quietly qemu-img compare -q -f $fmt -F raw "$f" "$f.raw"
done
check "fixed-grow.vhd: still a fixed disk, its data and a footer" [ "$(file_size fixed-grow.vhd)" -eq $((48 * MiB + 512)) ]
check "fixed-grow.vhdx: qemu-img check is clean" quietly qemu-img check fixed-grow.vhdx
check "fixed-grow.vhdx: every block allocated (qemu-img map: no hole in 48 MiB)" \
    bash -c "[ \"\$(qemu-img map --output=json fixed-grow.vhdx | grep -c '\"data\": false')\" -eq 0 ]"
"$WINE" "$TOOL" dump "$(winepath -w chain2/child.vhdx 2>/dev/null)" "$(winepath -w chain2/child-after.raw 2>/dev/null)" \
    </dev/null >>chain.log 2>&1
check "chain2/child.vhdx: compacted through COM, the chain reads as before" cmp -s chain2/child.raw chain2/child-after.raw
check "chain2/child.vhdx: vdsshim check is clean" \
    quietly "$WINE" "$TOOL" check "$(winepath -w chain2/child.vhdx 2>/dev/null)" </dev/null
check "created-nullsd.vhdx: made with a NULL security descriptor, qemu-img check is clean" quietly qemu-img check created-nullsd.vhdx
check "not-a-disk.vhdx: CreateVDisk left it as it was" [ "$(cat not-a-disk.vhdx)" = "hello, not a disk" ]
check "grow.vhdx: qemu sees 256 MiB" bash -c "qemu-img info --output=json grow.vhdx | grep -q '\"virtual-size\": 268435456'"
check "grow.vhdx: the old content, then zeros (qemu-img compare)" quietly qemu-img compare -q -F raw grow.vhdx grow.vhdx.raw
check "chain/parent.vhdx: after the COM merge qemu reads it as the child read" \
    quietly qemu-img compare -q -f vhdx -F raw chain/parent.vhdx chain/child.raw
check "chain/parent.vhdx: qemu-img check is clean" quietly qemu-img check chain/parent.vhdx
check "created.vhdx: qemu-img check is clean" quietly qemu-img check created.vhdx
check "created-fixed.vhd: deleted by DetachAndDelete" [ ! -e created-fixed.vhd ]
check "fs-offline.vhdx: qemu-img check is clean, and it reads exactly as before" \
    bash -c "qemu-img check -q fs-offline.vhdx && qemu-img compare -q -F raw fs-offline.vhdx fs-offline.vhdx.raw"
# fs.vhdx: a FAT16 partition at 1 MiB (fat_builder.h); what it held before, from its raw copy.
qemu-img convert -f vhdx -O raw fs.vhdx fs-after.raw
dd if=fs.vhdx.raw of=fs-before.part bs=1M skip=1 count=48 status=none
dd if=fs-after.raw of=fs-after.part bs=1M skip=1 count=48 status=none
check "fs.vhdx (compacted attached read-only): qemu-img check is clean, fsck.fat -n too" \
    bash -c "qemu-img check -q fs.vhdx && fsck.fat -n fs-before.part >/dev/null 2>&1 && fsck.fat -n fs-after.part >/dev/null 2>&1"
check "fs.vhdx: the surviving files read back identical (mtools)" \
    bash -c "for f in KEEP1 KEEP2; do mcopy -n -i fs-before.part ::\$f fs-ref.\$f && mcopy -n -i fs-after.part ::\$f fs-out.\$f \
             && [ \$(stat -c %s fs-out.\$f) -eq $((4 * MiB)) ] && cmp -s fs-ref.\$f fs-out.\$f || exit 1; done"
check "fs.vhdx: the partition table reads as before" cmp -s -n $MiB fs.vhdx.raw fs-after.raw
rm -f fs-before.part fs-after.part fs-ref.* fs-out.*
check "dyn.vhdx: shrank to metadata and its two data blocks" [ "$(file_size dyn.vhdx)" -le $((8 * MiB)) ]

# Logging: OutputDebugStringA lines under WINEDEBUG=+debugstr, level from VDSSHIM_DEBUG.
cp dyn.vhdx.raw log.raw 2>/dev/null || qemu-img convert -O raw dyn.vhdx log.raw
qemu-img convert -f raw -O vhdx log.raw log.vhdx
VDSSHIM_DEBUG=3 WINEDEBUG=+debugstr "$WINE" "$(dirname "$EXE")/../provider/vdscompact.exe" --inproc "$(winepath -w log.vhdx 2>/dev/null)" \
    </dev/null >debug.log 2>&1
check "VDSSHIM_DEBUG=3 traces every call through OutputDebugStringA" grep -q 'vdsshim:open_vdisk_Compact' debug.log
WINEDEBUG=+debugstr "$WINE" "$(dirname "$EXE")/../provider/vdscompact.exe" --inproc "$(winepath -w log.vhdx 2>/dev/null)" \
    </dev/null >quiet.log 2>&1
check "... and the default level leaves traces out" bash -c "! grep -q 'vdsshim:open_vdisk_Compact' quiet.log"

# A client that dies mid-compaction: the shared server survives it, the job
# runs to its end, the image stays valid (clients.sh has the finer cases).
if [ "$MODE" = local ]; then
    wait_no_server
    CLIENT=$(dirname "$EXE")/../provider/vdscompact.exe
    "$WINE" "$CLIENT" "$(winepath -w busy2.vhdx 2>/dev/null)" </dev/null >crash.log 2>&1 &
    # Until the client reports progress (a loaded machine may take many seconds to start both).
    for i in $(seq 1 1200); do grep -q "compacting" crash.log 2>/dev/null && break; sleep 0.05; done
    # Only this client: this prefix's, this image's.
    for p in $(prefix_pids "vdscompact.exe.*busy2.vhdx"); do kill -9 "$p"; done
    wait 2>/dev/null
    check "crash: the client was killed while the compaction ran" grep -q "compacting" crash.log
    check "crash: the shared server outlives its client" prefix_running 'vdsshim_server\.exe'
    check "crash: and no dllhost surrogate runs" [ "$(prefix_count 'dllhost\.exe')" -eq 0 ]
    # Done means shrunk to metadata and its one data block, with a clean log (qemu can open it).
    for i in $(seq 1 300); do
        [ "$(file_size busy2.vhdx)" -le $((8 * MiB)) ] && quietly qemu-img compare -q -F raw busy2.vhdx busy2.vhdx.raw && break
        sleep 0.1
    done
    check "crash: the orphaned job ran to its end in the server" [ "$(file_size busy2.vhdx)" -le $((8 * MiB)) ]
    check "crash: qemu-img check is clean" quietly qemu-img check busy2.vhdx
    check "crash: content identical" qemu-img compare -q -F raw busy2.vhdx busy2.vhdx.raw
fi

if [ "$MODE" = local ]; then
    for i in $(seq 1 150); do prefix_running 'vdsshim_server\.exe' || break; sleep 0.1; done
    check "the shared server stopped on its own once idle (15 s allowed)" [ "$(prefix_count 'vdsshim_server\.exe')" -eq 0 ]
fi
"$WINE" regsvr32 /s /u "$DLL" </dev/null >>reg.log 2>&1
"$WINE" regsvr32 /s /u "$PSDLL" </dev/null >>reg.log 2>&1
check "regsvr32 /u leaves no AppID" \
    bash -c "! '$WINE' reg query '$appid' </dev/null >/dev/null 2>&1"
check "regsvr32 /u vdsshim_ps.dll removes the interface registrations" \
    bash -c "! '$WINE' reg query 'HKCR\Interface\{75C8F324-F715-4FE3-A28E-F9011B61A4A1}\ProxyStubClsid32' </dev/null >/dev/null 2>&1"
check "regsvr32 /u removes the class again" \
    bash -c "! '$WINE' reg query 'HKCR\\CLSID\\{9C38ED61-D565-4728-AEEE-C80952F0ECDE}' </dev/null >/dev/null 2>&1"
rm -f ./*.raw
finish
