#!/usr/bin/env bash
# vdsshim-wine, as installed (the build's wine component, the files the
# vdsshim-wine package ships): register into a fresh prefix puts the files
# and keys there and is idempotent; a VDS client and a virtdisk client then
# compact through the registered copies; unregister leaves the prefix's
# registry and drive_c exactly as before (the .reg files compared without
# Wine's own time stamps and device keys). winemenubuilder is off, as in every test prefix: it
# would file its own caches of desktop associations after any HKCR change.
# usage: wine_register.sh BUILD_DIR WORKDIR
BUILD=$1; WORK=$2
. "$(dirname "$0")/../integration/lib.sh"
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK" || exit 1
P=$WORK/prefix
# Wine's own error lines kept (fixme off): a failing register or unregister
# then says why (vdsshim-wine passes wine's last lines on).
export WINEDEBUG=fixme-all WINEDLLOVERRIDES="mscoree,mshtml=;winemenubuilder.exe=d" VDSSHIM_SERVER_IDLE_MS=1000
# Nothing of this prefix outlives the test.
trap 'WINEPREFIX=$P wineserver -k 2>/dev/null; rm -rf "$P"' EXIT
stop_wine() { WINEPREFIX=$P wineserver -k 2>/dev/null; WINEPREFIX=$P wineserver -w 2>/dev/null; true; }

check "the wine component installs" quietly cmake --install "$BUILD" --component wine --prefix "$WORK/stage"
VW=$WORK/stage/bin/vdsshim-wine
PE=$WORK/stage/lib/vdsshim/x86_64-windows
check "... with vdsshim-wine and the PE files" bash -c "[ -x '$VW' ] && [ -s '$PE/vdsshim.dll' ] && [ -s '$PE/virtdisk.dll' ]"

# The registry as Wine saves it, minus what changes by itself: the time stamp
# after each key, the #time lines, and the Display and Monitor device classes
# ({4D36E968-...}, {4D36E96E-...}), whose keys Wine's display driver rewrites
# at every session start. And drive_c's files, with virtdisk.dll's digest.
snapshot() {
    stop_wine
    for f in system.reg user.reg userdef.reg; do
        sed -E -e 's/^(\[.*\]) [0-9]+$/\1/' -e '/^#time=/d' "$P/$f" \
            | awk '/^\[/ { skip = index($0, "Control\\\\Class\\\\{4D36E968-") || index($0, "Control\\\\Class\\\\{4D36E96E-") } !skip'
    done >"$1.reg"
    (cd "$P/drive_c" && find . \( -type f -o -type l \) | sort; sha256sum windows/system32/virtdisk.dll) >"$1.files"
}
# A fresh prefix, past its first session (which still settles devices).
WINEPREFIX=$P wineboot -i </dev/null >/dev/null 2>&1
stop_wine
WINEPREFIX=$P wine cmd /c exit </dev/null >/dev/null 2>&1
snapshot before
check "a fresh prefix" [ -s "$P/system.reg" ]

# wine starts without address randomization here (ctest's launcher, setarch -R;
# see cmake/WinePrefix.cmake), and vdsshim-wine keeps one server for its steps.
check "this test runs without address-space randomization (ADDR_NO_RANDOMIZE)" \
    bash -c '(( 0x$(cat /proc/self/personality) & 0x0040000 ))'
expect_rc "register succeeds" 0 "$VW" register --prefix "$P"
check "... its steps shared one server, kept up 10 s after them (wineserver -p10)" \
    bash -c "$(declare -f prefix_pids); WINEPREFIX='$P' prefix_pids 'wineserver.* -p10' | grep -q ."
dest="$P/drive_c/Program Files/vdsshim"
for f in vdsshim.dll vdsshim_server.exe vdsshim_ps.dll virtdisk.dll vdscompact.exe vhdcompact.exe; do
    check "... $f is in C:\\Program Files\\vdsshim" cmp -s "$PE/$f" "$dest/$f"
done
check "... virtdisk.dll replaces Wine's in system32" cmp -s "$PE/virtdisk.dll" "$P/drive_c/windows/system32/virtdisk.dll"
check "... Wine's is kept beside it" [ -s "$P/drive_c/windows/system32/virtdisk.dll.wine-builtin" ]
# Back-to-back wine processes share one server: Debian's exits with its last
# process, and one started just then can meet it on its way out.
q() { WINEPREFIX=$P wineserver -p10 2>/dev/null; WINEPREFIX=$P wine reg query "$@" </dev/null 2>/dev/null | tr -d '\r'; }
check "... LocalServer32 names the copied server" \
    bash -c "$(declare -f q); P='$P'; q 'HKCR\\CLSID\\{9C38ED61-D565-4728-AEEE-C80952F0ECDE}\\LocalServer32' | grep -qF '\"C:\\Program Files\\vdsshim\\vdsshim_server.exe\"'"
check "... DllOverrides virtdisk = native,builtin" \
    bash -c "$(declare -f q); P='$P'; q 'HKCU\\Software\\Wine\\DllOverrides' /v virtdisk | grep -q 'native,builtin'"
snapshot once
expect_rc "register again succeeds" 0 "$VW" register --prefix "$P"
snapshot twice
check "... and changes nothing (idempotent)" bash -c "cmp -s once.reg twice.reg && cmp -s once.files twice.files"

# Through the registered copies: the VDS chain, then the Virtual Disk API.
for mode in vds virtdisk; do
    disk=$WORK/$mode.vhdx
    qemu-img create -q -f vhdx -o block_size=1M "$disk" 64M
    qemu-io -f vhdx -c "write -P 7 0 4M" -c "write -P 0 8M 8M" -c "write -P 9 20M 2M" "$disk" >/dev/null
    cp "$disk" "$disk.orig"
    flag=; [ $mode = virtdisk ] && flag=--virtdisk
    expect_rc "compact through the prefix ($mode)" 0 "$VW" compact --prefix "$P" $flag "$disk"
    check "... the disk shrank" [ "$(file_size "$disk")" -lt "$(file_size "$disk.orig")" ]
    check "... and reads the same (qemu-img compare)" quietly qemu-img compare -f vhdx -F vhdx "$disk" "$disk.orig"
    check "... and is valid (qemu-img check)" quietly qemu-img check -f vhdx "$disk"
done
stop_wine

# A regsvr32 /u that fails (the proxy/stub DLL made unloadable): unregister
# says which and how, still undoes the other two, keeps the files; with the
# DLL back, unregister again finishes the job.
cp "$dest/vdsshim_ps.dll" ps.bak
printf 'not a dll' >"$dest/vdsshim_ps.dll"
expect_rc "unregister with a broken vdsshim_ps.dll fails" 1 "$VW" unregister --prefix "$P"
check "... naming it, with regsvr32's exit code" grep -q 'vdsshim_ps.dll (exit [0-9]' last.err
check "... in one line" err_line
check "... still undoing vdsshim.dll's registration" \
    bash -c "$(declare -f q); P='$P'; ! q 'HKCR\\CLSID\\{9C38ED61-D565-4728-AEEE-C80952F0ECDE}' | grep -q InprocServer32"
check "... and virtdisk.dll's (Wine's DLL back in system32)" [ ! -e "$P/drive_c/windows/system32/virtdisk.dll.wine-builtin" ]
check "... keeping the files" [ -f "$dest/vdsshim.dll" ]
cp ps.bak "$dest/vdsshim_ps.dll"
stop_wine

expect_rc "unregister succeeds" 0 "$VW" unregister --prefix "$P"
snapshot after
d=$(diff before.reg after.reg | head -n 20 | tr '\n' '|')
check "the registry is as before registering (${d:-same})" [ -z "$d" ]
d=$(diff before.files after.files | head -n 20 | tr '\n' '|')
check "drive_c holds the same files, Wine's virtdisk.dll back (${d:-same})" [ -z "$d" ]
expect_rc "unregister again: nothing to do" 0 "$VW" unregister --prefix "$P"
expect_rc "an unknown command is bad usage" 2 "$VW" frobnicate
expect_rc "an unknown option is bad usage" 2 "$VW" register --frob
expect_rc "compact without a registration fails with a reason" 1 "$VW" compact --prefix "$P" "$WORK/vds.vhdx"
check "... in one line" err_line
finish
