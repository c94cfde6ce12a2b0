#!/usr/bin/env bash
# The command-line contract: usage errors, documented exit codes, one-line
# reasons, --json, and files left untouched whenever a command fails.
# usage: cli.sh WORKDIR VDSSHIM...
WORK=$1; shift
VDSSHIM=("$@")
. "$(dirname "$0")/lib.sh"
mkdir -p "$WORK" && cd "$WORK" || exit 1

qemu-img create -q -f vpc -o subformat=dynamic,force_size=on d.vhd 16M
qemu-io -f vpc -c "write -P 0x61 0 2M" -c "write -P 0 2M 2M" d.vhd >/dev/null

expect_rc "--help exits 0" 0 "${VDSSHIM[@]}" --help
check "--help lists the exit codes" grep -q "exit codes" last.out
expect_rc "no arguments is a usage error" 2 "${VDSSHIM[@]}"
expect_rc "unknown command is a usage error" 2 "${VDSSHIM[@]}" frobnicate d.vhd
expect_rc "unknown option is a usage error" 2 "${VDSSHIM[@]}" compact --fast d.vhd
expect_rc "compact options on info are a usage error" 2 "${VDSSHIM[@]}" info --no-zero-scan d.vhd
expect_rc "missing file is an I/O error" 4 "${VDSSHIM[@]}" info no-such.vhd
check "the reason is one line naming the file" eval 'err_line && grep -q no-such.vhd last.err'

head -c 1048576 /dev/urandom > junk.img
h=$(sha junk.img)
expect_rc "a file that is no disk image is refused (exit 3)" 3 "${VDSSHIM[@]}" compact junk.img
check "... untouched" [ "$(sha junk.img)" = "$h" ]

cp d.vhd bad.vhd
printf 'X' | dd of=bad.vhd bs=1 seek=$((1536 + 1)) conv=notrunc status=none   # BAT entry 0 -> past EOF
h=$(sha bad.vhd)
expect_rc "a corrupt BAT is refused (exit 3)" 3 "${VDSSHIM[@]}" compact bad.vhd
check "... with the entry and its offset in the reason" grep -q "BAT entry 0 (at offset 1536)" last.err
check "... untouched" [ "$(sha bad.vhd)" = "$h" ]
expect_rc "check reports the corruption too (exit 3)" 3 "${VDSSHIM[@]}" check bad.vhd

# flock(1) is a host lock; under wine, locks live in wineserver (the engine's
# test_lock_in_use covers LockFileEx there).
if command -v flock >/dev/null && [ "${VDSSHIM[0]##*/}" != wine ]; then
    flock -x d.vhd sleep 3 &
    sleep 0.3
    expect_rc "a locked file is reported in use at once (exit 5)" 5 timeout 2 "${VDSSHIM[@]}" compact d.vhd
    wait
fi

expect_rc "info --json" 0 "${VDSSHIM[@]}" info --json d.vhd
check "... is one JSON object with the sizes" grep -q '^{"file":"d.vhd","format":"vhd","type":"dynamic","virtual_size":16777216' last.out
expect_rc "compact --json" 0 "${VDSSHIM[@]}" compact --json d.vhd
check "... reports the reclaimed bytes" grep -q '"status":"OK".*"reclaimed":2097664' last.out
expect_rc "check after compaction" 0 "${VDSSHIM[@]}" check d.vhd
check "... says no errors" grep -q "no errors found" last.out

# Several files in one command: each in turn, the worst exit code, a total.
qemu-img create -q -f vhdx -o block_size=1M m1.vhdx 32M
qemu-io -f vhdx -c "write -P 0x61 0 1M" -c "write -P 0 1M 4M" -c "write -P 0x62 20M 1M" m1.vhdx >/dev/null
cp m1.vhdx m2.vhdx
qemu-img convert -O raw m1.vhdx m.raw
echo "not a disk" > junk.vhdx
expect_rc "compact m1.vhdx junk.vhdx m2.vhdx: the worst exit code (3, the junk)" 3 \
    "${VDSSHIM[@]}" compact m1.vhdx junk.vhdx m2.vhdx
check "... the files before and after the failing one were both compacted" \
    bash -c "grep -q '^m1.vhdx: .* reclaimed' last.out && grep -q '^m2.vhdx: .* reclaimed' last.out"
check "... a total line" grep -q '^total: 2 of 3 files compacted, [1-9][0-9]* bytes reclaimed' last.out
check "... both read as before" bash -c "qemu-img compare -q -F raw m1.vhdx m.raw && qemu-img compare -q -F raw m2.vhdx m.raw"
expect_rc "compact --json m1.vhdx m2.vhdx" 0 "${VDSSHIM[@]}" compact --json m1.vhdx m2.vhdx
check "... is one JSON array of two results" /usr/bin/python3 -c "
import json, sys
a = json.load(open('last.out'))
sys.exit(not (isinstance(a, list) and [r['file'] for r in a] == ['m1.vhdx', 'm2.vhdx'] and all(r['status'] == 'OK' for r in a)))"
expect_rc "info takes one FILE" 2 "${VDSSHIM[@]}" info m1.vhdx m2.vhdx
rm -f m1.vhdx m2.vhdx m.raw junk.vhdx

# --dry-run: nothing written, even to a read-only file; the estimate is what
# the real run then does (the fs-aware suite checks it on every guest file
# system); it belongs to compact alone.
qemu-img create -q -f vhdx -o block_size=1M dr.vhdx 32M
qemu-io -f vhdx -c "write -P 0x61 0 1M" -c "write -P 0 1M 4M" -c "write -P 0x62 20M 1M" dr.vhdx >/dev/null
qemu-img create -q -f vpc dr.vhd 32M
qemu-io -f vpc -c "write -P 0x61 0 2M" -c "write -P 0 2M 4M" -c "write -P 0x62 20M 2M" dr.vhd >/dev/null
for f in dr.vhdx dr.vhd; do
    before=$(sha "$f")
    chmod 444 "$f"
    expect_rc "$f: compact --dry-run of a read-only file" 0 "${VDSSHIM[@]}" compact --dry-run "$f"
    check "... says it is a dry run, with bytes reclaimable" grep -q "^$f: dry run, nothing written: .* [1-9][0-9]* reclaimable" last.out
    check "... wrote nothing" [ "$(sha "$f")" = "$before" ]
    for opt in "" --no-block-moves --no-zero-scan; do
        expect_rc "$f: compact --dry-run $opt --json" 0 "${VDSSHIM[@]}" compact --dry-run $opt --json "$f"
        cut -d, -f2-8 last.out >dry.fields
        chmod 644 "$f"; cp "$f" real-"$f"; chmod 444 "$f"
        expect_rc "$f: compact $opt --json (on a copy)" 0 "${VDSSHIM[@]}" compact $opt --json real-"$f"
        check "... did exactly what the dry run said (sizes, blocks scanned, dropped, moved)" \
            bash -c "cut -d, -f2-8 last.out | cmp -s - dry.fields || { cat dry.fields last.out; false; }"
        rm -f real-"$f"
    done
done
expect_rc "compact --dry-run dr.vhdx dr.vhd: a total of what is reclaimable" 0 "${VDSSHIM[@]}" compact --dry-run dr.vhdx dr.vhd
check "... says so" grep -q '^total: 2 of 2 files looked at (dry run), [1-9][0-9]* bytes reclaimable' last.out
expect_rc "--dry-run belongs to compact" 2 "${VDSSHIM[@]}" merge --dry-run dr.vhdx
chmod 644 dr.vhdx dr.vhd
rm -f dr.vhdx dr.vhd dry.fields

finish
