#!/usr/bin/env bash
# The real VHDs in ../shared/images (Windows, Hyper-V, Disk2vhd, Virtual PC,
# qemu): each is read, checked, compacted or refused exactly as it should be,
# and qemu-img agrees the content is unchanged. Images are unpacked (sparse)
# into the build tree, never copied into the project.
# usage: shared_images.sh WORKDIR SHARED_IMAGES_DIR VDSSHIM...
WORK=$1; SHARED=$2; shift 2
VDSSHIM=("$@")
. "$(dirname "$0")/lib.sh"
mkdir -p "$WORK" && cd "$WORK" || exit 1

if [ ! -d "$SHARED" ]; then
    echo "# shared images not found at $SHARED"
    nok "shared images present"
    finish; exit
fi

# name, expected sha256 prefix (from shared/images/README.md)
compactable() {   # name size_after_expected(or -)
    local name=$1 want=$2 before after
    check "$name: unpacked" unpack "$name"
    cp --sparse=always "$name" "$name.orig"
    expect_rc "$name: check passes" 0 "${VDSSHIM[@]}" check "$name"
    before=$(file_size "$name")
    expect_rc "$name: compact exits 0" 0 "${VDSSHIM[@]}" compact --quiet "$name"
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
compactable win10-dynamic.vhd $((6311936 - 3584))
# Disk2vhd: 126 blocks, all zero with full bitmaps -> header + BAT + footer only.
compactable disk2vhd-zerofilled.vhd $((0x800 + 512))
# Empty 127 GiB disks from Hyper-V and Virtual PC: nothing allocated, nothing changes.
# Header, 65024-entry BAT and footer remain: 1536 + 260096 + 512.
compactable hyperv2012r2-dynamic-empty.vhd 262144
compactable virtualpc-dynamic-empty.vhd 262144
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

finish
