#!/usr/bin/env bash
# Real kills: SIGKILL at seeded random points of compact, compact --fs-aware,
# merge and expand on real files. After each: vdsshim check, qemu-img check
# and qemu-img compare (the guest reads the same), and a re-run that ends at
# the uninterrupted result. Reproducible: VDSSHIM_KILL_SEED and
# VDSSHIM_KILL_ROUNDS choose the sample (defaults below); each kill prints
# its delay so a failure can be replayed.
# usage: real_kills.sh WORKDIR VDSSHIM...
WORK=$1; shift
VDSSHIM=("$@")
. "$(dirname "$0")/lib.sh"
read -r -a CHAIN <<< "$MAKE_CHAIN"
mkdir -p "$WORK" && cd "$WORK" || exit 1
rm -rf ./*
seed=${VDSSHIM_KILL_SEED:-20261201}
rounds=${VDSSHIM_KILL_ROUNDS:-6}
RANDOM=$seed
echo "# seed $seed, $rounds kills per operation"

# A VHDX and a VHD with data, zeros and data again, so blocks move; an ext4
# volume with deleted files for --fs-aware.
qemu-img create -q -f vhdx -o block_size=1M base.vhdx 192M
qemu-io -f vhdx -c "write -P 0x61 0 24M" -c "write -P 0 24M 96M" -c "write -P 0x62 120M 24M" \
    -c "write -P 0x63 176M 8M" base.vhdx >/dev/null
qemu-img create -q -f vpc -o subformat=dynamic,force_size=on base.vhd 192M
qemu-io -f vpc -c "write -P 0x61 0 24M" -c "write -P 0 24M 96M" -c "write -P 0x62 120M 24M" base.vhd >/dev/null
truncate -s 128M fs.raw
mkfs.ext4 -q -F -b 4096 fs.raw
head -c 40M /dev/urandom > keep.bin
head -c 40M /dev/urandom > gone.bin
debugfs -w -R "write keep.bin keep.bin" fs.raw >/dev/null 2>&1
debugfs -w -R "write gone.bin gone.bin" fs.raw >/dev/null 2>&1
debugfs -w -R "rm gone.bin" fs.raw >/dev/null 2>&1
qemu-img convert -f raw -O vhdx -o block_size=1M fs.raw base-fs.vhdx
"${CHAIN[@]}" vhdx . >/dev/null

# fs_ok IMAGE: the ext4 volume inside is clean and keep.bin reads back whole.
fs_ok() {
    rm -f fs-now.raw
    "${VDSSHIM[@]}" dump "$1" fs-now.raw >/dev/null 2>&1 || return 1     # a pending log replayed in memory
    e2fsck -fn fs-now.raw >/dev/null 2>&1 || return 1
    debugfs -R "dump keep.bin fs-keep.bin" fs-now.raw >/dev/null 2>&1 || return 1
    cmp -s fs-keep.bin keep.bin
}

fmt_of() { case $1 in *.vhdx) echo vhdx ;; *) echo vpc ;; esac; }

# expected OP FILE: what an uninterrupted run leaves (size for compact, the
# whole file's content for merge and expand).
reference() {
    local op=$1 src=$2 ref=$3
    shift 3
    cp "$src" "$ref"
    "${VDSSHIM[@]}" "$op" "$@" "$ref" >/dev/null 2>&1
}

# kill_round OP SRC ARGS...: start OP on a copy of SRC, SIGKILL it after a
# random delay, then judge what it left.
kill_round() {
    local op=$1 src=$2 extra=$3 f fmt delay pid rc
    f=k-${src}
    fmt=$(fmt_of "$src")
    cp "$src" "$f"
    delay=$(( RANDOM % 400 ))
    "${VDSSHIM[@]}" $op $extra "$f" $( [ "$op" = expand ] && echo 384M ) >/dev/null 2>&1 &
    pid=$!
    sleep "0.$(printf %03d "$delay")"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null; rc=$?
    local what="$op $extra $src killed after ${delay} ms (exit $rc)"
    check "$what: vdsshim check" quietly "${VDSSHIM[@]}" check "$f"
    # qemu-img check has no VHD (vpc) checker: exit 63, "does not support checks".
    # A VHDX killed between a log entry and its header update still has a log
    # to replay (valid: vdsshim replays it); qemu opens such a file read-only
    # only after replaying it itself (check -r all), on a copy here.
    if [ "$fmt" = vhdx ]; then
        cp "$f" q.vhdx
        check "$what: qemu-img check (after qemu's own log replay)" quietly qemu-img check -r all -f vhdx q.vhdx
        case $op$extra in
            compact|expand) check "$what: qemu reads it as before" quietly qemu-img compare -f vhdx -F raw q.vhdx "ref-$src.raw" ;;
        esac
        rm -f q.vhdx
        # And through vdsshim's own replay (in memory, nothing written).
        if [ "$op$extra" = compact ]; then
            "${VDSSHIM[@]}" dump "$f" v.raw >/dev/null 2>&1
            check "$what: vdsshim reads it as before" cmp -s v.raw "ref-$src.raw"
            rm -f v.raw
        fi
    fi
    case $op$extra in
        compact--fs-aware)
                 # Free space may now read as zeros: judge the guest by e2fsck and its file.
                 check "$what: e2fsck is clean" fs_ok "$f"
                 expect_rc "$what: re-run" 0 "${VDSSHIM[@]}" compact $extra "$f"
                 check "$what: ... ends at the uninterrupted size" [ "$(file_size "$f")" -eq "$(file_size "done-$extra-$src")" ]
                 check "$what: ... e2fsck is clean" fs_ok "$f" ;;
        compact) [ "$fmt" = vpc ] && check "$what: reads as before" quietly qemu-img compare -f "$fmt" -F raw "$f" "ref-$src.raw"
                 expect_rc "$what: re-run" 0 "${VDSSHIM[@]}" compact $extra "$f"
                 check "$what: ... ends at the uninterrupted size" [ "$(file_size "$f")" -eq "$(file_size "done-$extra-$src")" ]
                 check "$what: ... reads as before" quietly qemu-img compare -f "$fmt" -F raw "$f" "ref-$src.raw" ;;
        expand)  # Old or new size; the old content in either case.
                 [ "$fmt" = vpc ] && check "$what: the old content is there" quietly qemu-img compare -f "$fmt" -F raw "$f" "ref-$src.raw"
                 expect_rc "$what: re-run" 0 "${VDSSHIM[@]}" expand "$f" 384M
                 check "$what: ... reads as the uninterrupted expansion" quietly qemu-img compare -f "$fmt" "$f" "done-expand-$src" ;;
    esac
    rm -f "$f"
}

for src in base.vhdx base.vhd base-fs.vhdx; do
    qemu-img convert -f "$(fmt_of $src)" -O raw "$src" "ref-$src.raw"
    reference compact "$src" "done--$src"
done
reference compact base-fs.vhdx done---fs-aware-base-fs.vhdx --fs-aware
cp base.vhdx done-expand-base.vhdx && "${VDSSHIM[@]}" expand done-expand-base.vhdx 384M >/dev/null 2>&1
cp base.vhd done-expand-base.vhd && "${VDSSHIM[@]}" expand done-expand-base.vhd 384M >/dev/null 2>&1

for ((r = 0; r < rounds; r++)); do
    kill_round compact base.vhdx ""
    kill_round compact base.vhd ""
    kill_round compact base-fs.vhdx --fs-aware
    kill_round expand base.vhdx ""
    kill_round expand base.vhd ""
done

# Merge: the chain reads as the child did, killed or not, and a re-run merges.
"${VDSSHIM[@]}" dump child.vhdx child.raw >/dev/null 2>&1
for ((r = 0; r < rounds; r++)); do
    cp parent.vhdx parent.orig 2>/dev/null || true
    mkdir -p m && cp parent.vhdx child.vhdx m/
    delay=$(( RANDOM % 300 ))
    "${VDSSHIM[@]}" merge m/child.vhdx >/dev/null 2>&1 &
    pid=$!
    sleep "0.$(printf %03d "$delay")"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null; rc=$?
    what="merge killed after ${delay} ms (exit $rc)"
    check "$what: check of the chain" quietly "${VDSSHIM[@]}" check m/child.vhdx
    "${VDSSHIM[@]}" dump m/child.vhdx m/now.raw >/dev/null 2>&1
    check "$what: the chain reads as before" cmp -s m/now.raw child.raw
    expect_rc "$what: re-run" 0 "${VDSSHIM[@]}" merge m/child.vhdx
    "${VDSSHIM[@]}" dump m/parent.vhdx m/now.raw >/dev/null 2>&1
    check "$what: ... the parent reads as the child did" cmp -s m/now.raw child.raw
    rm -rf m
done

finish
