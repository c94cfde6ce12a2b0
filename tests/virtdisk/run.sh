#!/usr/bin/env bash
# virtdisk.dll conformance under wine: the DLL beside the test client as a
# native override of wine's builtin (which aborts on most calls), the suite's
# exact checks (its tests make their own images), then qemu-img on every
# image it changed. One test alone: virtdisk_conformance.exe DIR TEST.
# Then regsvr32 makes it the prefix's virtdisk.dll for a client built the
# ported-tool way (vhdcompact.exe), and regsvr32 /u puts the prefix back.
# usage: run.sh WORKDIR VIRTDISK_DLL CONFORMANCE_EXE WINE VHDCOMPACT_EXE
WORK=$1; DLL=$2; EXE=$3; WINE=$4; CLIENT=$5
. "$(dirname "$0")/../integration/lib.sh"
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK" || exit 1
export VDSSHIM_TEST_HOOKS=1 WINEDLLOVERRIDES="virtdisk=n;mscoree,mshtml="

vhdx() {   # name: 64 MiB, 1 MiB blocks: data, zero-filled blocks, data
    qemu-img create -q -f vhdx -o block_size=1M,block_state_zero=off "$1" 64M
    qemu-io -f vhdx -c "write -P 0x61 0 2M" -c "write -P 0 2M 8M" -c "write -P 0x62 40M 1M" -c "write -P 0 50M 4M" \
        "$1" >/dev/null
    qemu-img convert -O raw "$1" "$1.raw"
}
# The suite's tests make their own images (virtdisk_fixtures.c), each with
# NAME.raw beside it: what its guest reads, judged below. Made here are only
# what this script's own steps use (reg1 and reg2, for the registered DLL).
for n in reg1 reg2; do vhdx $n.vhdx; done
cp "$DLL" "$EXE" .

"$WINE" "./$(basename "$EXE")" "$(winepath -w "$WORK" 2>/dev/null)" </dev/null >conformance.log 2>&1
rc=$?
cat conformance.log
check "virtdisk_conformance.exe exits 0" [ "$rc" -eq 0 ]
check "wine aborted on no call (no 'unimplemented function')" bash -c "! grep -q 'unimplemented function' conformance.log"
check "cancel.vhdx: byte for byte as it was after the cancelled Compact (the suite copied it then)" \
    cmp -s cancel.orig cancel-after-cancel.vhdx
for f in dyn.vhdx hold.vhdx close.vhdx cancel.vhdx frag.vhdx; do
    check "$f: qemu-img check is clean" quietly qemu-img check "$f"
    check "$f: content identical (qemu-img compare)" qemu-img compare -q -F raw "$f" "$f.raw"
done
check "grow.vhdx: qemu sees 128 MiB after ExpandVirtualDisk" \
    bash -c "qemu-img info --output=json grow.vhdx | grep -q '\"virtual-size\": 134217728'"
check "grow.vhdx: the old content, then zeros" quietly qemu-img compare -q -F raw grow.vhdx grow.vhdx.raw
check "new-parent.vhdx (CreateVirtualDisk V2, merged into): qemu-img check is clean" quietly qemu-img check new-parent.vhdx
check "new-parent.vhdx: 4096-byte physical sectors, as asked through the SDK layout" \
    bash -c "qemu-img info new-parent.vhdx | grep -qi 'virtual size: 32 MiB'"
check "from-source.vhd (CreateVirtualDisk from a SourcePath): reads as dyn.vhdx" \
    quietly qemu-img compare -q -f vpc -F raw from-source.vhd dyn.vhdx.raw
check "meta.vhdx: qemu-img check is clean after Set and Delete of user items" quietly qemu-img check meta.vhdx
check "m2/parent.vhdx: after MergeVirtualDisk V2 from depth 2, it reads what the child read" \
    quietly qemu-img compare -q -F raw m2/parent.vhdx m2/child.raw
check "m2/parent.vhdx: qemu-img check is clean" quietly qemu-img check m2/parent.vhdx
check "meta.vhdx: content identical (qemu-img compare)" qemu-img compare -q -F raw meta.vhdx meta.vhdx.raw
check "shrink.vhdx: qemu-img check is clean after ResizeVirtualDisk shrank it" quietly qemu-img check shrink.vhdx
check "shrink.vhdx: qemu sees 40 MiB" bash -c "qemu-img info --output=json shrink.vhdx | grep -q '\"virtual-size\": 41943040'"
truncate -s 40M shrink.vhdx.raw
check "shrink.vhdx: its first 40 MiB as they were (qemu-img compare)" qemu-img compare -q -F raw shrink.vhdx shrink.vhdx.raw
check "new-fixed.vhd (CreateVirtualDisk V1, fixed): 16 MiB and a footer" [ "$(file_size new-fixed.vhd)" -eq $((16 * 1048576 + 512)) ]
# regsvr32: the prefix's own virtdisk.dll, for a client with no DLL beside it.
sys32=$(winepath -u 'C:\windows\system32' 2>/dev/null)
cp "$sys32/virtdisk.dll" builtin-before.dll
overrides='HKCU\Software\Wine\DllOverrides'
mkdir -p elsewhere && cp "$CLIENT" elsewhere/
export WINEDLLOVERRIDES="mscoree,mshtml="
"$WINE" regsvr32 /s "$(winepath -w "$WORK/virtdisk.dll" 2>/dev/null)" </dev/null >reg.log 2>&1
"$WINE" regsvr32 /s "$(winepath -w "$WORK/virtdisk.dll" 2>/dev/null)" </dev/null >>reg.log 2>&1
check "regsvr32 virtdisk.dll (twice): DllOverrides virtdisk = native,builtin" \
    bash -c "'$WINE' reg query '$overrides' /v virtdisk </dev/null 2>/dev/null | grep -q 'native,builtin'"
check "... this DLL in system32" cmp -s virtdisk.dll "$sys32/virtdisk.dll"
check "... and wine's placeholder kept, once" cmp -s builtin-before.dll "$sys32/virtdisk.dll.wine-builtin"
"$WINE" elsewhere/vhdcompact.exe "$(winepath -w "$WORK/reg1.vhdx" 2>/dev/null)" </dev/null >vhdcompact.log 2>&1
rc=$?
check "vhdcompact.exe (mingw's virtdisk.h, no DLL beside it) compacts through the prefix's virtdisk.dll" [ "$rc" -eq 0 ]
check "reg1.vhdx: compacted, qemu-img compare identical" \
    bash -c "[ $(file_size reg1.vhdx) -le $((8 << 20)) ] && qemu-img compare -q -F raw reg1.vhdx reg1.vhdx.raw"
"$WINE" regsvr32 /s /u "$(winepath -w "$WORK/virtdisk.dll" 2>/dev/null)" </dev/null >>reg.log 2>&1
check "regsvr32 /u: the override is gone" \
    bash -c "! '$WINE' reg query '$overrides' /v virtdisk </dev/null >/dev/null 2>&1"
check "... wine's placeholder is back, as it was" cmp -s builtin-before.dll "$sys32/virtdisk.dll"
check "... and no copy is left behind" [ ! -e "$sys32/virtdisk.dll.wine-builtin" ]
"$WINE" elsewhere/vhdcompact.exe "$(winepath -w "$WORK/reg2.vhdx" 2>/dev/null)" </dev/null >vhdcompact2.log 2>&1
check "... so the same client meets wine's own DLL again (it refuses or aborts)" \
    bash -c "! grep -q 'compacted' vhdcompact2.log"
check "reg2.vhdx: untouched by wine's DLL" qemu-img compare -q -F raw reg2.vhdx reg2.vhdx.raw
rm -f ./*.raw
finish
