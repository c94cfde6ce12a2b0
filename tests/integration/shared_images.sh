#!/usr/bin/env bash
# The real VHDs in ../shared/images (Windows, Hyper-V, Disk2vhd, Virtual PC,
# qemu): each is read, checked, compacted or refused exactly as it should be,
# and qemu-img agrees the content is unchanged. Images are unpacked (sparse)
# into the build tree, never copied into the project.
# usage: shared_images.sh WORKDIR SHARED_IMAGES_DIR VDSSHIM...
WORK=$1; SHARED=$2; shift 2
VDSSHIM=("$@")
. "$(dirname "$0")/lib.sh"
FSCHECK=$(cd "$(dirname "$0")" && pwd)/fs_check.py
mkdir -p "$WORK" && cd "$WORK" || exit 1

if [ ! -d "$SHARED" ]; then
    echo "# shared images not found at $SHARED"
    nok "shared images present"
    finish; exit
fi

# name, expected sha256 prefix (from shared/images/README.md)
# compactable NAME SIZE_AFTER|- [RECLAIMED VIRTUAL_SIZE]: with the last two,
# --json must report exactly RECLAIMED bytes (the trimmed tail too, with the
# new footer's 512 bytes written) and info the virtual size.
compactable() {
    local name=$1 want=$2 reclaimed=${3:-} vsize=${4:-} before after
    check "$name: unpacked" unpack "$name"
    cp --sparse=always "$name" "$name.orig"
    expect_rc "$name: check passes" 0 "${VDSSHIM[@]}" check "$name"
    if [ -n "$vsize" ]; then
        expect_rc "$name: info --json" 0 "${VDSSHIM[@]}" info --json "$name"
        check "$name: ... virtual size $vsize" grep -q "\"virtual_size\":$vsize," last.out
        check "$name: ... as qemu-img says" bash -c "qemu-img info -f vpc --output=json '$name' | grep -q '\"virtual-size\": $vsize,'"
    fi
    before=$(file_size "$name")
    expect_rc "$name: compact exits 0" 0 "${VDSSHIM[@]}" compact --json "$name"
    if [ -n "$reclaimed" ]; then
        check "$name: ... reports size_before $before, $reclaimed reclaimed, 512 written" \
            grep -q "\"size_before\":$before,.*\"reclaimed\":$reclaimed,.*\"bytes_written\":512,.*\"dry_run\":false}" last.out
    fi
    after=$(file_size "$name")
    check "$name: qemu-img compare: content unchanged" qemu-img compare -q -f vpc -F vpc "$name.orig" "$name"
    check "$name: vhdiinfo still reads it" quietly vhdiinfo "$name"
    check "$name: footer unchanged (same bytes at the new end)" \
        cmp -s <(tail -c 512 "$name.orig") <(tail -c 512 "$name")
    check "$name: footer copy at offset 0 unchanged" cmp -s <(head -c 512 "$name.orig") <(head -c 512 "$name")
    if [ "$want" != - ]; then
        if [ "$after" -eq "$want" ]; then ok "$name: $before -> $after bytes, as expected"
        else nok "$name: $before -> $after bytes, expected $want"; fi
    fi
    expect_rc "$name: check passes after compaction" 0 "${VDSSHIM[@]}" check "$name"
    rm -f "$name" "$name.orig"
}

# Windows pads after the BAT and the last block so that a block appended at
# the footer would have 4 KiB-aligned data. Nothing references that padding,
# so it goes (an opening read-write trims unreferenced trailing space).
# Windows 10 dynamic VHD, NTFS: 3 blocks, none zero: only the 3584-byte pad
# goes; the physical order (0, 3, 1) and 4 KiB-aligned data survive.
compactable win10-dynamic.vhd $((6311936 - 3584)) 3584
# Disk2vhd: 126 blocks, all zero with full bitmaps -> header + BAT + footer only.
compactable disk2vhd-zerofilled.vhd $((0x800 + 512))
# Empty 127 GiB disks from Hyper-V and Virtual PC: nothing allocated, nothing changes.
# Header, 65024-entry BAT and footer remain: 1536 + 260096 + 512.
# The tail each trims is reported. Sizes by creator (vhd_sized_by_chs):
# Virtual PC by C*H*S, as qemu reads it; Hyper-V by Current Size, though
# its geometry is the same.
compactable hyperv2012r2-dynamic-empty.vhd 262144 4096 136365211648
compactable virtualpc-dynamic-empty.vhd 262144 512 136363130880
# qemu-made ext2 image: one block, not zero.
compactable qemu-dynamic-ext2.vhd 2100224

# Fixed disk: recognised, refused by compaction with its own exit code, untouched.
unpack win10-fixed.vhd
h=$(sha win10-fixed.vhd)
expect_rc "win10-fixed.vhd: info works" 0 "${VDSSHIM[@]}" info win10-fixed.vhd
check "win10-fixed.vhd: reported as fixed" grep -q "VHD fixed" last.out
expect_rc "win10-fixed.vhd: compact refused (exit 7)" 7 "${VDSSHIM[@]}" compact win10-fixed.vhd
check "win10-fixed.vhd: the reason names the fixed type" grep -q "fixed" last.err
check "win10-fixed.vhd: file unchanged" [ "$(sha win10-fixed.vhd)" = "$h" ]
"${VDSSHIM[@]}" dump win10-fixed.vhd fixed.dump >/dev/null 2>&1
check "win10-fixed.vhd: our reader agrees with qemu" \
    bash -c "qemu-img convert -f vpc -O raw win10-fixed.vhd fixed.raw && cmp -s fixed.raw fixed.dump"
rm -f fixed.raw fixed.dump win10-fixed.vhd

# Differencing disk whose parent is missing: described, refused, untouched.
unpack win10-differencing-orphan.vhd
h=$(sha win10-differencing-orphan.vhd)
expect_rc "orphan: info still describes it" 0 "${VDSSHIM[@]}" info win10-differencing-orphan.vhd
check "orphan: info names the relative parent locator" grep -q "fat-parent.vhd (not found)" last.out
check "orphan: info warns that the parent is missing" grep -q "parent not found" last.err
expect_rc "orphan: compact refused (exit 3)" 3 "${VDSSHIM[@]}" compact win10-differencing-orphan.vhd
check "orphan: file unchanged" [ "$(sha win10-differencing-orphan.vhd)" = "$h" ]
# Give it a parent with the wrong identity: a clear mismatch, still untouched.
unpack win10-dynamic.vhd && mv win10-dynamic.vhd fat-parent.vhd
expect_rc "orphan: wrong parent refused (exit 3)" 3 "${VDSSHIM[@]}" check win10-differencing-orphan.vhd
check "orphan: the reason says the parent does not match" grep -q "not the parent" last.err
check "orphan: file unchanged" [ "$(sha win10-differencing-orphan.vhd)" = "$h" ]
rm -f fat-parent.vhd win10-differencing-orphan.vhd

# ---- VHDX -------------------------------------------------------------------

# The current header's DataWriteGuid (children link to it; compaction must keep it).
data_write_guid() {
    local f=$1 s1 s2
    s1=$(od -An -t u8 -j $((65536 + 8)) -N 8 "$f" | tr -d ' ')
    s2=$(od -An -t u8 -j $((131072 + 8)) -N 8 "$f" | tr -d ' ')
    if [ "$s1" -ge "$s2" ]; then od -An -t x1 -j $((65536 + 32)) -N 16 "$f"; else od -An -t x1 -j $((131072 + 32)) -N 16 "$f"; fi
}

compactable_vhdx() {   # name size_after_expected
    local name=$1 want=$2 before after
    check "$name: unpacked" unpack "$name"
    cp --sparse=always "$name" "$name.orig"
    "${VDSSHIM[@]}" dump "$name" "$name.raw" >/dev/null 2>&1
    check "$name: a read-only dump leaves the file unchanged" cmp -s "$name" "$name.orig"
    before=$(file_size "$name")
    expect_rc "$name: compact exits 0" 0 "${VDSSHIM[@]}" compact --quiet "$name"
    after=$(file_size "$name")
    check "$name: qemu-img check is clean" quietly qemu-img check "$name"
    check "$name: qemu reads exactly what we read before compaction" \
        qemu-img compare -q -f raw -F vhdx "$name.raw" "$name"
    check "$name: the first 64 KiB are untouched" cmp -s -n 65536 "$name.orig" "$name"
    check "$name: DataWriteGuid unchanged" [ "$(data_write_guid "$name")" = "$(data_write_guid "$name.orig")" ]
    if [ "$after" -eq "$want" ]; then ok "$name: $before -> $after bytes, as expected"
    else nok "$name: $before -> $after bytes, expected $want"; fi
    rm -f "$name" "$name.orig" "$name.raw"
}

# Windows 10 VHDX with NTFS, one 32 MiB block of data: nothing to drop.
compactable_vhdx win10-dynamic.vhdx 37748736
# Disk2vhd: 128 blocks, 127 all zero -> metadata and one 2 MiB block.
compactable_vhdx disk2vhd.vhdx $((6 * 1024 * 1024))
# Windows 8 file whose 29 ZERO blocks hold no space already.
compactable_vhdx win8-dynamic-zeroblocks.vhdx 104857600
# Windows 10 with 25 UNMAPPED and 39 ZERO blocks (guest trims), none holding space.
compactable_vhdx win10-unmapped-lvm.vhdx 608174080

# Logs written by qemu and by Windows: replayed in memory for a read-only open
# (qemu itself refuses that), on disk for a read-write one.
check "qemu-dirtylog.vhdx: unpacked" unpack qemu-dirtylog.vhdx
"${VDSSHIM[@]}" dump qemu-dirtylog.vhdx dirty.raw >/dev/null 2>&1
check "qemu-dirtylog.vhdx: the replayed block reads 0xa5 up to 18 MiB" \
    cmp -s -n $((18 << 20)) dirty.raw <(head -c $((18 << 20)) /dev/zero | tr '\0' '\245')
compactable_vhdx qemu-dirtylog.vhdx 23068672
check "win10-dirtylog.vhdx: unpacked" unpack win10-dirtylog.vhdx
"${VDSSHIM[@]}" dump win10-dirtylog.vhdx dirty.raw >/dev/null 2>&1
mbr_field() { od -An -t "$1" -j "$2" -N "$3" dirty.raw | tr -d ' '; }
check "win10-dirtylog.vhdx: after replay, an MBR with two Linux partitions at LBA 2048 and 206848" \
    [ "$(mbr_field x1 450 1)$(mbr_field u4 454 4)-$(mbr_field x1 466 1)$(mbr_field u4 470 4)" = 832048-83206848 ]
compactable_vhdx win10-dirtylog.vhdx 37748736
rm -f dirty.raw

# Windows 10's own NTFS (win10-dynamic.vhdx): its $LogFile restart area says
# "clean", so --fs-aware maps the volume; with that flag cleared, as after a
# crash or a hibernation, the volume falls back. The guest reads the same.
unpack win10-dynamic.vhdx
qemu-img convert -f vhdx -O raw win10-dynamic.vhdx ntfs.raw
expect_rc "win10-dynamic.vhdx: compact --fs-aware" 0 "${VDSSHIM[@]}" compact --fs-aware --json win10-dynamic.vhdx
check "... maps Windows' NTFS (its \$LogFile says it was shut down cleanly)" \
    bash -c "sed -n 2p last.out | grep -q '\"fs\":\"NTFS\",[^}]*\"used\":true'"
check "... and the guest reads the same" quietly qemu-img compare -q -f vhdx -F raw win10-dynamic.vhdx ntfs.raw
dd if=ntfs.raw of=ntfs.part bs=512 skip=128 status=none
python3 "$FSCHECK" ntfs-log ntfs.part dirty
dd if=ntfs.part of=ntfs.raw bs=512 seek=128 conv=notrunc status=none
qemu-img convert -f raw -O vhdx ntfs.raw ntfs-dirty.vhdx
expect_rc "the same NTFS, its \$LogFile no longer clean: compact --fs-aware" 0 "${VDSSHIM[@]}" compact --fs-aware --json ntfs-dirty.vhdx
check "... falls back to offline mode, saying the journal needs replaying" \
    bash -c "sed -n 2p last.out | grep -q '\"used\":false,.*LogFile needs replaying'"
check "... and the guest reads the same" quietly qemu-img compare -q -f vhdx -F raw ntfs-dirty.vhdx ntfs.raw
rm -f win10-dynamic.vhdx ntfs-dirty.vhdx ntfs.raw ntfs.part

# Fixed VHDX (LeaveBlockAllocated): refused, untouched.
unpack win10-fixed.vhdx
h=$(sha win10-fixed.vhdx)
expect_rc "win10-fixed.vhdx: compact refused (exit 7)" 7 "${VDSSHIM[@]}" compact win10-fixed.vhdx
check "win10-fixed.vhdx: file unchanged" [ "$(sha win10-fixed.vhdx)" = "$h" ]
rm -f win10-fixed.vhdx

# Hyper-V checkpoint whose parent is missing: described, refused, untouched.
unpack hyperv-checkpoint-orphan.avhdx
h=$(sha hyperv-checkpoint-orphan.avhdx)
expect_rc "checkpoint: info still describes it" 0 "${VDSSHIM[@]}" info hyperv-checkpoint-orphan.avhdx
check "checkpoint: info names the parent from the locator" grep -q "Generation 1_49C4BAF3.*avhdx (not found)" last.out
expect_rc "checkpoint: compact refused (exit 3)" 3 "${VDSSHIM[@]}" compact hyperv-checkpoint-orphan.avhdx
check "checkpoint: file unchanged" [ "$(sha hyperv-checkpoint-orphan.avhdx)" = "$h" ]
rm -f hyperv-checkpoint-orphan.avhdx

finish
