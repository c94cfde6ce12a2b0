#!/usr/bin/env bash
# Bad input through the whole CLI: mutated VHD and VHDX images (bit flips,
# truncations, field swaps; tests/integration/mutate.py) are compacted, and
# expanded, by the real tool. Each must end in success with the same guest
# content (our dump before and after; after an expansion, the old size's worth
# and zeros past it) or in exit 3 (corrupt/unsupported) or 7 (wrong type)
# with the file byte-identical. Any other exit, a crash included, fails.
# usage: cli_mutants.sh WORKDIR VDSSHIM...
WORK=$1; shift
VDSSHIM=("$@")
. "$(dirname "$0")/lib.sh"
MUTATE=$(cd "$(dirname "$0")" && pwd)/mutate.py
mkdir -p "$WORK" && cd "$WORK" || exit 1
rm -f m-* ./*.raw

# Every process start costs ~0.4 s under wine: fewer mutants there.
if [ "${VDSSHIM[0]##*/}" = wine ]; then N=25; else N=100; fi

qemu-img create -q -f vpc -o subformat=dynamic base.vhd 8M
qemu-img create -q -f vhdx -o block_size=1M base.vhdx 8M
for f in base.vhd base.vhdx; do
    fmt=vpc; [ "$f" = base.vhdx ] && fmt=vhdx
    qemu-io -f $fmt -c "write -P 0x5a 0 1M" -c "write -z 2M 1M" -c "write -P 0x33 5M 4k" -c "write -P 0 7M 1M" \
        "$f" >/dev/null
done

judge() {   # mutant description command...
    local m=$1 what=$2 h before rc after size
    shift 2
    h=$(sha "$m")
    quietly "${VDSSHIM[@]}" dump "$m" "$m.before.raw"
    before=$?
    size=$(stat -c %s "$m.before.raw" 2>/dev/null || echo 0)
    quietly "${VDSSHIM[@]}" "$@" "$m" ${EXPAND_TO:+$EXPAND_TO}
    rc=$?
    case $rc in
    0)
        if [ "$before" -ne 0 ]; then
            echo "# $m ($what): dump refused it (exit $before) but compact accepted it"; return 1
        fi
        quietly "${VDSSHIM[@]}" dump "$m" "$m.after.raw" || { echo "# $m ($what): unreadable after $1"; return 1; }
        cmp -s -n "$size" "$m.before.raw" "$m.after.raw" || { echo "# $m ($what): content changed"; return 1; }
        [ "$(tail -c +$((size + 1)) "$m.after.raw" | tr -d '\0' | wc -c)" -eq 0 ] \
            || { echo "# $m ($what): the new space is not zeros"; return 1; }
        accepted=$((accepted + 1)) ;;
    3|7)
        [ "$(sha "$m")" = "$h" ] || { echo "# $m ($what): refused with exit $rc but written"; return 1; }
        refused=$((refused + 1)) ;;
    *)
        echo "# $m ($what): exit $rc"; return 1 ;;
    esac
    rm -f "$m.before.raw" "$m.after.raw"
}

for op in compact expand; do
    # expand: to 12 MiB, past the 8 MiB bases (a mutant claiming more is refused by size).
    EXPAND_TO=; [ $op = expand ] && EXPAND_TO=12M
    for base in base.vhd base.vhdx; do
        accepted=0 refused=0 bad=0
        while read -r m what; do
            if ! judge "$m" "$what" $op --quiet >judge.out; then
                bad=$((bad + 1))
                [ "$bad" -le 10 ] && cat judge.out     # the first few reasons are enough
            fi
            rm -f "$m"
        done < <(python3 "$MUTATE" "$base" "m-${base#base.}-" "$N" $([ $op = compact ] && echo 20261125 || echo 7))
        check "$op, $N mutants of $base: $accepted succeeded with the same content, $refused refused untouched" \
            [ "$bad" -eq 0 -a $((accepted + refused)) -eq "$N" ]
        check "... both outcomes occur (the mutations reach the parsers)" [ "$accepted" -gt 0 -a "$refused" -gt 0 ]
    done
done

finish
