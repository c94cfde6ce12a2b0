#!/usr/bin/env bash
# vdsshim create, expand and merge, judged by independent readers: qemu-img
# (info, check, compare, convert), qemu-io and vhdiinfo (libvhdi). Includes
# the real tool cut off after every write of an expansion (qemu replays our
# VHDX log) and after every write of a merge's target.
# usage: cli_images.sh WORKDIR VDSSHIM...   (MAKE_CHAIN: the chain writer)
WORK=$1; shift
VDSSHIM=("$@")
. "$(dirname "$0")/lib.sh"
read -r -a CHAIN <<< "$MAKE_CHAIN"
mkdir -p "$WORK" && cd "$WORK" || exit 1
rm -rf ./*

fmt_of() { case $1 in *.vhdx) echo vhdx ;; *) echo vpc ;; esac; }
vsize() { qemu-img info -f "$(fmt_of "$1")" --output=json "$1" | sed -n 's/.*"virtual-size": \([0-9]*\).*/\1/p'; }

# --- create -----------------------------------------------------------------
for spec in "d.vhd:--size 100M" "f.vhd:--fixed --size 24M" "b.vhd:--size 256M --block-size 512K" \
            "d.vhdx:--size 100M" "f.vhdx:--fixed --size 24M" "b.vhdx:--size 256M --block-size 1M"; do
    f=${spec%%:*}; opts=${spec#*:}
    # shellcheck disable=SC2086
    expect_rc "create $f ($opts)" 0 "${VDSSHIM[@]}" create --quiet $opts "$f"
    want=$(( $(echo "$opts" | sed -E 's/.*--size ([0-9]+)([MG]).*/\1/') << ( $(echo "$opts" | grep -q -- '--size [0-9]*G' && echo 30 || echo 20) ) ))
    check "... qemu-img sees $want bytes" [ "$(vsize "$f")" = "$want" ]
    if [ "$(fmt_of "$f")" = vhdx ]; then check "... qemu-img check finds no errors" quietly qemu-img check -f vhdx "$f"; fi
    check "... vhdiinfo reads it" bash -c "vhdiinfo '$f' | grep -q 'Media size.*($want bytes)'"
    qemu-io -f "$(fmt_of "$f")" -c "write -P 0x6b 1M 3M" -c "write -P 0x2c 20M 512" "$f" >/dev/null
    "${VDSSHIM[@]}" dump "$f" ours.raw >/dev/null 2>&1
    qemu-img convert -f "$(fmt_of "$f")" -O raw "$f" theirs.raw
    check "... after qemu-io wrote data, our reader and qemu agree" cmp -s ours.raw theirs.raw
done
expect_rc "create a 4096-byte-sector VHDX" 0 "${VDSSHIM[@]}" create --quiet --sector-size 4096 --size 64M s.vhdx
check "... vhdiinfo reads 4096-byte sectors" bash -c "vhdiinfo s.vhdx | grep -q 'Bytes per sector.*4096'"
h=$(sha d.vhd)
expect_rc "create refuses an existing file (exit 4)" 4 "${VDSSHIM[@]}" create --size 1M d.vhd
check "... untouched" [ "$(sha d.vhd)" = "$h" ]
expect_rc "create without --size is a usage error" 2 "${VDSSHIM[@]}" create new.vhd
expect_rc "a fixed child is a usage error" 2 "${VDSSHIM[@]}" create --fixed --parent d.vhd new.vhd
expect_rc "a bad size is a usage error" 2 "${VDSSHIM[@]}" create --size 12Q new.vhd
expect_rc "a VHD with 4096-byte sectors is refused (exit 2)" 2 "${VDSSHIM[@]}" create --size 1M --sector-size 4096 new.vhd
check "... and leaves no file" [ ! -e new.vhd ]

for p in d.vhd d.vhdx; do
    c=child-$p
    expect_rc "create a child of $p" 0 "${VDSSHIM[@]}" create --quiet --parent "$p" "$c"
    "${VDSSHIM[@]}" dump "$c" child.raw >/dev/null 2>&1
    qemu-img convert -f "$(fmt_of "$p")" -O raw "$p" parent.raw
    check "... reads exactly as its parent (qemu's reading of the parent)" cmp -s child.raw parent.raw
    check "... vhdiinfo sees a differencing disk naming the parent" \
        bash -c "vhdiinfo '$c' | grep -q 'Parent' && vhdiinfo '$c' | grep -qi 'differ'"
done

# --- expand -----------------------------------------------------------------
# e.*: dynamic; fe.*: fixed (its new blocks allocated, its footer moved to the new end).
for f in e.vhd e.vhdx fe.vhd fe.vhdx; do
    case $f in
        e.vhdx) opts="-o block_size=1M" ;;
        fe.vhd) opts="-o subformat=fixed,force_size=on" ;;
        fe.vhdx) opts="-o subformat=fixed,block_size=1M" ;;
        *) opts="" ;;
    esac
    qemu-img create -q -f "$(fmt_of $f)" $opts "$f" 64M
    qemu-io -f "$(fmt_of $f)" -c "write -P 0x5e 0 3M" -c "write -P 0x17 63M 1M" "$f" >/dev/null
    qemu-img convert -f "$(fmt_of $f)" -O raw "$f" before.raw
    old=$(vsize "$f")
    cp "$f" "pristine-$f"
    # The dynamic VHDX's BAT (1 MiB: 128 GiB of 1 MiB blocks) outgrows its region; a fixed
    # VHDX allocates what it grows by, so it stays small here (the engine sweeps move its BAT).
    case $f in e.vhd) new=2000M ;; e.vhdx) new=130G ;; fe.vhd) new=300M ;; fe.vhdx) new=200M ;; esac
    expect_rc "expand $f to $new" 0 "${VDSSHIM[@]}" expand --quiet "$f" "$new"
    bytes=$(( ${new%?} * (1 << $([ "${new: -1}" = G ] && echo 30 || echo 20)) ))
    check "... qemu-img sees the new size" [ "$(vsize "$f")" = "$bytes" ]
    if [ "$(fmt_of $f)" = vhdx ]; then check "... qemu-img check finds no errors (no log left to replay)" quietly qemu-img check -f vhdx "$f"; fi
    # compare reads the larger image's extra space as zeros, by block status (fast at 130 GiB).
    check "... qemu-img compare: the old content, then zeros" quietly qemu-img compare -f raw -F "$(fmt_of $f)" before.raw "$f"
    qemu-io -f "$(fmt_of $f)" -c "write -P 0x44 $((bytes - 1048576)) 1M" "$f" >/dev/null
    check "... qemu writes the last MiB, we read it back" \
        bash -c "${VDSSHIM[*]} check --quiet '$f' && qemu-io -f $(fmt_of $f) -c 'read -P 0x44 $((bytes - 1048576)) 1M' '$f' | grep -q 'read 1048576'"
    expect_rc "shrinking is refused (exit 2)" 2 "${VDSSHIM[@]}" expand "$f" 1M

    # The real tool stopped after each of its writes; every state opens, the
    # old content is intact, and running again finishes the job.
    bad=0 k=1
    while :; do
        cp "pristine-$f" cut.img
        VDSSHIM_FAULT_CUT_AFTER_WRITE=$k VDSSHIM_FAULT_CUT_MODE=drop quietly "${VDSSHIM[@]}" expand "cut.img" "$new"
        rc=$?
        [ $rc -eq 0 ] && break      # k is past the last write: the run completed
        mv cut.img "cut.$(fmt_of $f)"
        if [ "$(fmt_of $f)" = vhdx ]; then quietly qemu-img check -r all -f vhdx "cut.vhdx"; fi
        s=$(vsize "cut.$(fmt_of $f)")
        if [ "$s" != "$old" ] && [ "$s" != "$bytes" ]; then bad=$((bad + 1)); echo "# write $k: size $s"; fi
        quietly qemu-img compare -f raw -F "$(fmt_of $f)" before.raw "cut.$(fmt_of $f)" || { bad=$((bad + 1)); echo "# write $k: content differs"; }
        run_tool "${VDSSHIM[@]}" expand "cut.$(fmt_of $f)" "$new"; rc=$?
        cp last.out rerun.out; cp last.err rerun.err
        # Every failing step says what it saw (a flake once hid its cause here).
        [ "$rc" -eq 0 ] || { bad=$((bad + 1)); echo "# write $k: re-run failed, exit $rc: $(failure_text rerun.err)"; }
        [ "$(vsize "cut.$(fmt_of $f)")" = "$bytes" ] || { bad=$((bad + 1)); echo "# write $k: re-run did not finish"; }
        rm -f "cut.$(fmt_of $f)"
        k=$((k + 1))
    done
    check "$f: cut after each of $((k - 1)) writes, qemu reads the old content, a re-run finishes" [ $bad -eq 0 -a $k -gt 3 ]
done
cp pristine-e.vhd fixed-test.vhd
expect_rc "expanding a differencing disk is refused (exit 7)" 7 "${VDSSHIM[@]}" expand child-d.vhd 200M
# A fixed VHDX grown past what its BAT region holds (130 GiB of 1 MiB blocks,
# a sparse file here): the BAT moves, the new blocks follow it.
qemu-img create -q -f vhdx -o subformat=fixed,block_size=1M fbig.vhdx 8M
qemu-io -f vhdx -c "write -P 0x3c 0 1M" -c "write -P 0x3d 7M 1M" fbig.vhdx >/dev/null
expect_rc "expand a fixed VHDX to 130G (its BAT moves)" 0 "${VDSSHIM[@]}" expand --quiet fbig.vhdx 130G
check "... qemu-img check finds no errors" quietly qemu-img check -f vhdx fbig.vhdx
check "... qemu-img sees the new size" [ "$(vsize fbig.vhdx)" = $((130 << 30)) ]
last=$(((130 << 30) - (1 << 20)))
check "... the old data, zeros in the new space, and the last MiB written by qemu reads back" \
    bash -c "qemu-io -f vhdx -c 'read -P 0x3c 0 1M' -c 'read -P 0x3d 7M 1M' -c 'read -P 0 8M 1M' \
             -c 'read -P 0 $last 1M' -c 'write -P 0x3e $last 1M' -c 'read -P 0x3e $last 1M' fbig.vhdx \
             | grep -c '^read 1048576/1048576' | grep -qx 5"
check "... vdsshim check agrees" quietly "${VDSSHIM[@]}" check fbig.vhdx
rm -f fbig.vhdx
check "fe.vhd: still fixed, its data and a footer" [ "$(file_size fe.vhd)" -eq $((300 << 20 | 512)) ]
check "fe.vhdx: every block allocated (qemu-img map: no hole)" \
    bash -c "! qemu-img map --output=json fe.vhdx | grep -q '\"data\": false'"

# --- shrink -----------------------------------------------------------------
# One MBR partition ending at 301 MiB of a 1 GiB VHDX, data inside and past it:
# shrink goes to the partition's end (the data past it was unpartitioned),
# never below; qemu judges the result.
truncate -s 1G sh.raw
echo 'start=2048, size=614400, type=83' | sfdisk -q sh.raw
dd if=/dev/urandom of=sh.raw bs=1M seek=10 count=4 conv=notrunc status=none
dd if=/dev/urandom of=sh.raw bs=1M seek=900 count=4 conv=notrunc status=none
qemu-img convert -f raw -O vhdx -o block_size=1M sh.raw sh.vhdx
h=$(sha sh.vhdx)
expect_rc "shrink below the last partition's end is refused (exit 2)" 2 "${VDSSHIM[@]}" shrink sh.vhdx 100M
check "... one line: $(tool_stderr last.err | head -c 200)" err_line
check "... the file is unchanged" [ "$(sha sh.vhdx)" = "$h" ]
before=$(file_size sh.vhdx)
expect_rc "shrink to the smallest safe size" 0 "${VDSSHIM[@]}" shrink --json sh.vhdx
check "... --json gives the sizes" grep -q '"status":"OK","virtual_size_before":1073741824,"virtual_size":315621376,"smallest_safe":315621376' last.out
check "... qemu-img check is clean" quietly qemu-img check -f vhdx sh.vhdx
check "... qemu sees 315621376 bytes" [ "$(vsize sh.vhdx)" = 315621376 ]
head -c 315621376 sh.raw > sh-head.raw
check "... the partition reads as before (qemu-img compare)" quietly qemu-img compare -f raw -F vhdx sh-head.raw sh.vhdx
check "... the file is smaller ($before -> $(file_size sh.vhdx))" [ "$(file_size sh.vhdx)" -lt "$before" ]
qemu-img convert -f raw -O vpc -o subformat=dynamic sh.raw sh.vhd
h=$(sha sh.vhd)
expect_rc "shrink of a VHD is refused (exit 3)" 3 "${VDSSHIM[@]}" shrink sh.vhd
check "... it says why: $(tool_stderr last.err | head -c 200)" grep -q 'VHD cannot shrink crash-safely' last.err
check "... the file is unchanged" [ "$(sha sh.vhd)" = "$h" ]
rm -f sh.raw sh-head.raw sh.vhdx sh.vhd

# --- set-parent -------------------------------------------------------------
# A VHDX child moved to a copy of its parent (qemu-img convert: other GUIDs),
# after which the first parent can go; vhdiinfo (libvhdi) reads the new
# locator, the child reads the same; the refusals leave the child's bytes.
mkdir -p sp sp/base
"${CHAIN[@]}" vhdx sp
"${VDSSHIM[@]}" dump sp/child.vhdx sp-before.raw >/dev/null 2>&1
qemu-img convert -f vhdx -O vhdx sp/parent.vhdx sp/base/copy.vhdx
h=$(sha sp/child.vhdx)
expect_rc "set-parent to a missing file is refused (exit 3)" 3 "${VDSSHIM[@]}" set-parent sp/child.vhdx sp/none.vhdx
check "... one line: $(tool_stderr last.err | head -c 200)" err_line
qemu-img create -q -f vhdx sp/big.vhdx 1G
expect_rc "set-parent to a parent of another size is refused (exit 2)" 2 "${VDSSHIM[@]}" set-parent sp/child.vhdx sp/big.vhdx
expect_rc "set-parent to the child itself is refused (exit 2)" 2 "${VDSSHIM[@]}" set-parent sp/child.vhdx sp/child.vhdx
expect_rc "set-parent of a disk without parent is refused (exit 7)" 7 "${VDSSHIM[@]}" set-parent sp/parent.vhdx sp/base/copy.vhdx
check "... the child's bytes are unchanged after each refusal" [ "$(sha sp/child.vhdx)" = "$h" ]
expect_rc "set-parent to the copy" 0 "${VDSSHIM[@]}" set-parent --json sp/child.vhdx sp/base/copy.vhdx
check "... --json says so" grep -q '"status":"OK","parent":"sp/base/copy.vhdx"' last.out
mv sp/parent.vhdx sp/parent.gone
check "... vdsshim check finds the chain through the copy" quietly "${VDSSHIM[@]}" check sp/child.vhdx
check "... vhdiinfo reads the new parent's name" bash -c "vhdiinfo sp/child.vhdx | grep -q 'Parent filename.*base.copy.vhdx'"
pid=$(vhdiinfo sp/child.vhdx | sed -n 's/.*Parent identifier[^:]*: //p')
cid=$(vhdiinfo sp/base/copy.vhdx | sed -n 's/^[[:space:]]*Identifier[^:]*: //p' | head -1)
check "... and its identifier is the copy's (DataWriteGuid as parent_linkage): '$pid' = '$cid'" \
    bash -c "[ -n '$pid' ] && [ '$pid' = '$cid' ]"
"${VDSSHIM[@]}" dump sp/child.vhdx sp-after.raw >/dev/null 2>&1
check "... the child reads the same through its new parent" cmp -s sp-before.raw sp-after.raw
# A VHD child the same way (its header rewritten through a shadow copy): the
# parent's name and id as libvhdi reads them, the same content, no parent
# of the other format.
mkdir -p spv
"${CHAIN[@]}" vhd spv
"${VDSSHIM[@]}" dump spv/child.vhd spv-before.raw >/dev/null 2>&1
quietly "${VDSSHIM[@]}" convert spv/parent.vhd spv/copy.vhd
h=$(sha spv/child.vhd)
expect_rc "set-parent of a VHD child to a VHDX is refused (exit 2)" 2 "${VDSSHIM[@]}" set-parent spv/child.vhd sp/base/copy.vhdx
check "... the child's bytes are unchanged" [ "$(sha spv/child.vhd)" = "$h" ]
expect_rc "set-parent of a VHD child to a copy of its parent" 0 "${VDSSHIM[@]}" set-parent spv/child.vhd spv/copy.vhd
mv spv/parent.vhd spv/parent.gone
check "... vdsshim check finds the chain through the copy" quietly "${VDSSHIM[@]}" check spv/child.vhd
check "... vhdiinfo reads the new parent's name" bash -c "vhdiinfo spv/child.vhd | grep -q 'Parent filename.*spv.copy.vhd'"
pid=$(vhdiinfo spv/child.vhd | sed -n 's/.*Parent identifier[^:]*: //p')
cid=$(vhdiinfo spv/copy.vhd | sed -n 's/^[[:space:]]*Identifier[^:]*: //p' | head -1)
check "... and the copy's identifier: '$pid' = '$cid'" bash -c "[ -n '$pid' ] && [ '$pid' = '$cid' ]"
"${VDSSHIM[@]}" dump spv/child.vhd spv-after.raw >/dev/null 2>&1
check "... the child reads the same through its new parent" cmp -s spv-before.raw spv-after.raw
rm -rf sp spv sp-before.raw sp-after.raw spv-before.raw spv-after.raw

# --- merge ------------------------------------------------------------------
for ext in vhd vhdx; do
    mkdir -p "m-$ext"
    "${CHAIN[@]}" "$ext" "m-$ext"
    "${VDSSHIM[@]}" dump "m-$ext/child.$ext" child.raw >/dev/null 2>&1
    h=$(sha "m-$ext/child.$ext")
    expect_rc "merge a $ext child into its parent" 0 "${VDSSHIM[@]}" merge --json "m-$ext/child.$ext"
    check "... reports the bytes merged" grep -q '"status":"OK","depth":1,"bytes_merged":[1-9]' last.out
    qemu-img convert -f "$(fmt_of "x.$ext")" -O raw "m-$ext/parent.$ext" parent.raw
    check "... qemu reads the parent alone as the child read" cmp -s child.raw parent.raw
    if [ $ext = vhdx ]; then check "... qemu-img check finds no errors in the parent" quietly qemu-img check -f vhdx "m-$ext/parent.$ext"; fi
    check "... the child file is unchanged" [ "$(sha "m-$ext/child.$ext")" = "$h" ]
    expect_rc "merging a disk with no parent is refused (exit 7)" 7 "${VDSSHIM[@]}" merge "m-$ext/parent.$ext"
    expect_rc "merge deeper than the chain is a usage error (exit 2)" 2 "${VDSSHIM[@]}" merge --depth 2 "m-$ext/child.$ext"
done

finish
