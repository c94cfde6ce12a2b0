#!/usr/bin/env bash
# Compaction of qemu-made dynamic VHDX files, judged by qemu-img check and
# compare, our reader against qemu's, and the exact minimum size. Then the
# crash test: the tool is stopped after its K-th write, for every K, and
# qemu-img replays what our log left behind; the content never changes.
# usage: qemu_vhdx.sh WORKDIR VDSSHIM...
WORK=$1; shift
VDSSHIM=("$@")
. "$(dirname "$0")/lib.sh"
mkdir -p "$WORK" && cd "$WORK" || exit 1
MiB=$((1 << 20))

make_image() {   # name size block_size qemu-io commands...   (QEMU_VHDX_OPTS: extra -o)
    local name=$1 size=$2 bs=$3; shift 3
    rm -f "$name"
    qemu-img create -q -f vhdx -o block_size="$bs"${QEMU_VHDX_OPTS:+,$QEMU_VHDX_OPTS} "$name" "$size"
    local args=()
    for c in "$@"; do args+=(-c "$c"); done
    [ ${#args[@]} -eq 0 ] || qemu-io -f vhdx "${args[@]}" "$name" >/dev/null
}

head -c $((32 * MiB)) /dev/urandom > rand.bin

# The floor of any compaction: the end of the last region in qemu's region
# table (at 192 KiB: entries of guid, u64 offset, u32 length, u32 required),
# rounded to 1 MiB. Read with od, independently of vdsshim.
regions_end() {
    local f=$1 i off len end=0
    for i in 0 1; do
        off=$(od -An -t u8 -j $((196608 + 16 + 32 * i + 16)) -N 8 "$f" | tr -d ' ')
        len=$(od -An -t u4 -j $((196608 + 16 + 32 * i + 24)) -N 4 "$f" | tr -d ' ')
        [ $((off + len)) -gt "$end" ] && end=$((off + len))
    done
    echo $(( (end + MiB - 1) / MiB * MiB ))
}
allocated() { "${VDSSHIM[@]}" info --json "$1" | grep -o '"blocks_allocated":[0-9]*' | cut -d: -f2; }

run_case() {   # name size block_size commands...
    local name=$1 size=$2 bs=$3 before after want live
    make_image "$@"
    qemu-img convert -f vhdx -O raw "$name" "$name.raw"
    before=$(file_size "$name")
    live=$(nonzero_chunks "$name.raw" "$bs")
    want=$(( $(regions_end "$name") + live * bs ))
    expect_rc "$name: compact exits 0" 0 "${VDSSHIM[@]}" compact --quiet "$name"
    after=$(file_size "$name")
    check "$name: qemu-img check is clean" quietly qemu-img check "$name"
    check "$name: qemu-img compare says identical to the original" qemu-img compare -q -f raw -F vhdx "$name.raw" "$name"
    "${VDSSHIM[@]}" dump "$name" "$name.dump" >/dev/null 2>&1
    check "$name: our reader agrees with qemu byte for byte" cmp -s "$name.raw" "$name.dump"
    if [ "$after" -eq "$want" ]; then ok "$name: size $before -> $after, the exact minimum"
    else nok "$name: size $before -> $after, expected the minimum $want"; fi
    rm -f "$name.dump"
}

run_case b1m.vhdx $((64 * MiB)) $MiB \
    "write -s rand.bin 0 3M" "write -P 0 3M 5M" "write -P 0x5a 20M 1M" "write -P 0 30M 10M" \
    "write -P 0x77 63M 1M" "write -P 0x33 40M 4096"
run_case b8m.vhdx $((256 * MiB)) $((8 * MiB)) \
    "write -P 0 0 64M" "write -s rand.bin 100M 8M" "write -P 0 200M 16M" "write -P 0x11 250M 512"
run_case b32m.vhdx $((512 * MiB)) $((32 * MiB)) \
    "write -P 0 0 32M" "write -s rand.bin 64M 32M" "write -P 0 128M 64M" "write -z 256M 32M" "write -P 0x42 480M 1M"
run_case empty.vhdx $((64 * MiB)) $MiB

# Options: no zero scan keeps zero-filled blocks; no block moves keeps the size.
# (block_state_zero=off: zero writes make FULLY_PRESENT blocks, not ZERO ones.)
QEMU_VHDX_OPTS=block_state_zero=off make_image opts.vhdx $((64 * MiB)) $MiB "write -P 0x01 0 1M" "write -P 0 1M 10M" "write -P 0x02 60M 1M"
cp opts.vhdx opts2.vhdx
cp opts.vhdx opts3.vhdx
check "opts: 12 blocks allocated, 10 of them zero-filled" [ "$(allocated opts.vhdx)" -eq 12 ]
expect_rc "opts: --no-zero-scan exits 0" 0 "${VDSSHIM[@]}" compact --quiet --no-zero-scan opts.vhdx
check "opts: --no-zero-scan drops no zero-filled block" [ "$(allocated opts.vhdx)" -eq 12 ]
# The tail nothing references goes when the file is opened for writing, whatever the options.
expect_rc "opts: --no-block-moves exits 0" 0 "${VDSSHIM[@]}" compact --quiet --no-block-moves opts2.vhdx
check "opts: --no-block-moves keeps every block where it was" \
    [ "$(file_size opts2.vhdx)" -eq "$(file_size opts3.vhdx)" ]
check "opts: --no-block-moves unmapped the 10 zero-filled blocks" [ "$(allocated opts2.vhdx)" -eq 2 ]
check "opts: qemu-img check clean after --no-block-moves" quietly qemu-img check opts2.vhdx
check "opts: content unchanged" qemu-img compare -q opts3.vhdx opts2.vhdx
expect_rc "opts: a full compact afterwards" 0 "${VDSSHIM[@]}" compact --quiet opts2.vhdx
check "opts: ... leaves the regions and two blocks" [ "$(file_size opts2.vhdx)" -eq $(( $(regions_end opts3.vhdx) + 2 * MiB )) ]

# Crash at every write: qemu replays our log and reads the original content.
make_image crash.vhdx $((48 * MiB)) $MiB \
    "write -s rand.bin 0 2M" "write -P 0 2M 6M" "write -P 0x21 10M 1M" "write -P 0 11M 8M" \
    "write -s rand.bin 24M 1M" "write -P 0x22 40M 2M" "write -P 0 46M 1M"
qemu-img convert -f vhdx -O raw crash.vhdx crash.raw
cp crash.vhdx clean.vhdx
"${VDSSHIM[@]}" compact --quiet clean.vhdx >/dev/null 2>&1
final=$(file_size clean.vhdx)
k=1; cuts=0
for mode in apply drop tear; do
    for ((k = 1; k < 200; k++)); do
        cp crash.vhdx c.vhdx
        VDSSHIM_FAULT_CUT_AFTER_WRITE=$k VDSSHIM_FAULT_CUT_MODE=$mode VDSSHIM_FAULT_SEED=$k \
            "${VDSSHIM[@]}" compact --quiet c.vhdx >/dev/null 2>&1
        rc=$?
        [ "$rc" -eq 0 ] && break            # fewer writes than k: the run completed
        cuts=$((cuts + 1))
        if [ "$rc" -ne 4 ]; then nok "crash ($mode) after write $k: exit $rc, expected 4"; continue; fi
        if ! qemu-img check -q -r all c.vhdx >/dev/null 2>&1 || ! qemu-img check -q c.vhdx >/dev/null 2>&1; then
            nok "crash ($mode) after write $k: qemu-img check fails after replaying our log"; continue
        fi
        if ! qemu-img compare -q -f raw -F vhdx crash.raw c.vhdx; then
            nok "crash ($mode) after write $k: qemu reads different content"; continue
        fi
        if ! "${VDSSHIM[@]}" compact --quiet c.vhdx >/dev/null 2>&1 || [ "$(file_size c.vhdx)" -ne "$final" ] \
           || ! qemu-img compare -q -f raw -F vhdx crash.raw c.vhdx; then
            nok "crash ($mode) after write $k: the re-run does not finish the job"; continue
        fi
    done
done
check "crash: every cut point ($cuts runs, 3 modes) recovered through qemu's own log replay" [ "$cuts" -ge 15 ]

rm -f ./*.raw rand.bin
finish
