#!/usr/bin/env bash
# virtdisk.dll conformance under wine: images made with qemu, the DLL beside
# the test client as a native override of wine's builtin (which aborts on most
# calls), the suite's exact checks, then qemu-img on every image it changed.
# usage: run.sh WORKDIR VIRTDISK_DLL CONFORMANCE_EXE WINE
WORK=$1; DLL=$2; EXE=$3; WINE=$4
. "$(dirname "$0")/../integration/lib.sh"
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK" || exit 1
export VDSSHIM_TEST_HOOKS=1 WINEDLLOVERRIDES="virtdisk=n;mscoree,mshtml="

vhdx() {   # name: 64 MiB, 1 MiB blocks: data, zero-filled blocks, data
    qemu-img create -q -f vhdx -o block_size=1M,block_state_zero=off "$1" 64M
    qemu-io -f vhdx -c "write -P 0x61 0 2M" -c "write -P 0 2M 8M" -c "write -P 0x62 40M 1M" -c "write -P 0 50M 4M" \
        "$1" >/dev/null
    qemu-img convert -O raw "$1" "$1.raw"
}
for n in dyn hold close grow; do vhdx $n.vhdx; done
cp "$DLL" "$EXE" .

"$WINE" "./$(basename "$EXE")" "$(winepath -w "$WORK" 2>/dev/null)" </dev/null >conformance.log 2>&1
rc=$?
cat conformance.log
check "virtdisk_conformance.exe exits 0" [ "$rc" -eq 0 ]
check "wine aborted on no call (no 'unimplemented function')" bash -c "! grep -q 'unimplemented function' conformance.log"
for f in dyn.vhdx hold.vhdx close.vhdx; do
    check "$f: qemu-img check is clean" quietly qemu-img check "$f"
    check "$f: content identical (qemu-img compare)" qemu-img compare -q -F raw "$f" "$f.raw"
done
check "grow.vhdx: qemu sees 128 MiB after ExpandVirtualDisk" \
    bash -c "qemu-img info --output=json grow.vhdx | grep -q '\"virtual-size\": 134217728'"
check "grow.vhdx: the old content, then zeros" quietly qemu-img compare -q -F raw grow.vhdx grow.vhdx.raw
check "new-parent.vhdx (CreateVirtualDisk V2, merged into): qemu-img check is clean" quietly qemu-img check new-parent.vhdx
check "new-parent.vhdx: 4096-byte physical sectors, as asked through the SDK layout" \
    bash -c "qemu-img info new-parent.vhdx | grep -qi 'virtual size: 32 MiB'"
check "new-fixed.vhd (CreateVirtualDisk V1, fixed): 16 MiB and a footer" [ "$(file_size new-fixed.vhd)" -eq $((16 * 1048576 + 512)) ]
rm -f ./*.raw
finish
