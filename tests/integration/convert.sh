#!/usr/bin/env bash
# vdsshim convert: VHD <-> VHDX and dynamic <-> fixed, judged by qemu-img
# compare against the source and qemu-img check / vdsshim check on the result;
# refusals that leave every file as it was; and (native) a conversion stopped
# and SIGKILLed halfway, which leaves no destination, then a re-run that ends
# as an uninterrupted one.
# usage: convert.sh WORKDIR VDSSHIM...
WORK=$1; shift
VDSSHIM=("$@")
. "$(dirname "$0")/lib.sh"
mkdir -p "$WORK" && cd "$WORK" || exit 1
rm -rf ./*

fmt_of() { case $1 in *.vhdx) echo vhdx ;; *) echo vpc ;; esac; }
same() {   # A B: the guest reads the same
    qemu-img compare -q -f "$(fmt_of "$1")" -F "$(fmt_of "$2")" "$1" "$2"
}
info_json() { "${VDSSHIM[@]}" info --json "$1" 2>/dev/null; }

qemu-img create -q -f vhdx -o block_size=1M src.vhdx 64M
qemu-io -f vhdx -c "write -P 0x61 0 2M" -c "write -P 0 2M 8M" -c "write -P 0x62 40M 1M" -c "write -P 0x63 63M 1M" \
    src.vhdx >/dev/null

# A chain of conversions: every step reads as the source.
prev=src.vhdx
for step in "a.vhd" "--fixed b.vhdx" "--fixed c.vhd" "d.vhdx" "--format vhd e.img"; do
    read -r -a args <<< "$step"
    dst=${args[-1]}
    expect_rc "convert ${step} from $prev" 0 "${VDSSHIM[@]}" convert "${args[@]:0:${#args[@]}-1}" "$prev" "$dst"
    check "$dst: reads as the source (qemu-img compare)" same src.vhdx "$dst"
    check "$dst: vdsshim check is clean" quietly "${VDSSHIM[@]}" check "$dst"
    prev=$dst
done
type_is() { info_json "$1" | grep -q "\"type\":\"$2\""; }
types_ok() { type_is b.vhdx fixed && type_is c.vhd fixed && type_is a.vhd dynamic && type_is d.vhdx dynamic; }
check "b.vhdx and c.vhd are fixed, a.vhd and d.vhdx dynamic" types_ok
for f in b.vhdx d.vhdx; do check "$f: qemu-img check is clean" quietly qemu-img check "$f"; done
check "a.vhd (dynamic) holds only what has data: at most 8 MiB" [ "$(file_size a.vhd)" -le $((8 << 20)) ]
expect_rc "convert --size 128M: a larger disk" 0 "${VDSSHIM[@]}" convert --size 128M src.vhdx big.vhdx
check "big.vhdx: 128 MiB, the source's content then zeros" bash -c "
    qemu-img info --output=json big.vhdx | grep -q '\"virtual-size\": 134217728' &&
    qemu-img compare -q -f vhdx -F vhdx src.vhdx big.vhdx"

# Refusals: a clear reason, nothing written.
h=$(sha a.vhd)
expect_rc "a destination that exists is refused" 4 "${VDSSHIM[@]}" convert src.vhdx a.vhd
check "... with one line saying so" err_line
check "... that it exists" grep -q 'exists' last.err
check "... and the file as it was" [ "$(sha a.vhd)" = "$h" ]
expect_rc "a smaller --size is a usage error" 2 "${VDSSHIM[@]}" convert --size 32M src.vhdx small.vhdx
expect_rc "a missing source is an I/O error" 4 "${VDSSHIM[@]}" convert no-such.vhdx x.vhdx
qemu-img create -q -f vhdx -o block_size=1M,log_size=1M k4.vhdx 16M 2>/dev/null
"${VDSSHIM[@]}" create --sector-size 4096 --size 16M k4b.vhdx >/dev/null 2>&1
expect_rc "a 4096-byte-sector disk into a VHD (512 only) is refused" 2 "${VDSSHIM[@]}" convert k4b.vhdx k4b.vhd
expect_rc "--parent is not for convert" 2 "${VDSSHIM[@]}" convert --parent src.vhdx src.vhdx p.vhdx
check "no refused conversion left a file or a partial one" \
    bash -c "[ ! -e small.vhdx ] && [ ! -e x.vhdx ] && [ ! -e k4b.vhd ] && [ ! -e p.vhdx ] && ! ls ./*.vdsshim-partial 2>/dev/null | grep -q ."

# Killed halfway (native: the tool stops itself at 50%, then SIGKILL).
if [ "${VDSSHIM[0]##*/}" != wine ]; then
    qemu-img create -q -f vhdx -o block_size=1M kill-src.vhdx 256M
    qemu-io -f vhdx -c "write -P 0x71 0 100M" -c "write -P 0x72 200M 50M" kill-src.vhdx >/dev/null
    VDSSHIM_TEST_STOP_AT=50 "${VDSSHIM[@]}" convert kill-src.vhdx killed.vhd >/dev/null 2>&1 &
    pid=$!
    check "the conversion stopped itself halfway" wait_stopped "$pid"
    kill -9 "$pid"; wait "$pid" 2>/dev/null
    check "SIGKILLed halfway: no destination file" [ ! -e killed.vhd ]
    check "... only the partial file" [ -e killed.vhd.vdsshim-partial ]
    expect_rc "a new conversion after the kill" 0 "${VDSSHIM[@]}" convert kill-src.vhdx killed.vhd
    check "... removes the partial file" [ ! -e killed.vhd.vdsshim-partial ]
    check "... and reads as the source" same kill-src.vhdx killed.vhd
fi
finish
