#!/usr/bin/env bash
# Hostile paths and files: a parent locator that names the child itself, its
# own directory, /dev/zero, a FIFO, a symlink loop or another image; a
# symlinked image; paths with spaces and non-ASCII; a zero-byte file, a
# directory and a FIFO as the image; a read-only mount. Each is a one-line
# refusal with the README's exit code, within seconds, nothing written.
# usage: hostile_paths.sh WORKDIR VDSSHIM...
WORK=$1; shift
VDSSHIM=("$@")
. "$(dirname "$0")/lib.sh"
read -r -a CHAIN <<< "$MAKE_CHAIN"
mkdir -p "$WORK" && cd "$WORK" || exit 1
rm -rf ./*
under_wine=0
[ "${VDSSHIM[0]##*/}" = wine ] && under_wine=1

said() { tr -d '\r' < last.err | grep -qF "$1"; }

# refuse DESC RC REASON CMD...: exit RC within 20 s, one line naming REASON, c.vhdx and p bytes unchanged.
refuse() {
    local desc=$1 rc=$2 reason=$3; shift 3
    local hc
    hc=$(sha c.vhdx)
    expect_rc "$desc (exit $rc)" "$rc" timeout 20 "$@"
    check "... in one line" err_line
    check "... saying: $reason" said "$reason"
    check "... the child is unchanged" [ "$(sha c.vhdx)" = "$hc" ]
}

# A chain with data (make_chain: no other tool here writes differencing
# images); the child is c.vhdx, its locators name p.vhdx beside it.
mkdir gen
"${CHAIN[@]}" vhdx gen >/dev/null || echo "not ok - make_chain failed"
"${VDSSHIM[@]}" dump gen/child.vhdx ref.raw >/dev/null 2>&1 || echo "not ok - cannot dump the chain"
mv gen/parent.vhdx real.vhdx
cp gen/child.vhdx c.vhdx
# Its locators name parent.vhdx: p.vhdx is what each case puts there.
ln -s p.vhdx parent.vhdx
hp=$(sha real.vhdx)

# Every parent that is not an image: the same three commands.
parent_is() {
    local what=$1 reason=$2 cmd
    for cmd in check compact merge; do
        refuse "parent is $what: $cmd refused" 3 "$reason" "${VDSSHIM[@]}" "$cmd" c.vhdx
    done
}

ln -s c.vhdx p.vhdx
parent_is "the child itself (a symlink to it)" "parent chain loops back to c.vhdx"
rm p.vhdx
ln -s . p.vhdx
parent_is "its own directory" "is a directory, not a disk image file"
rm p.vhdx
mkdir p.vhdx
parent_is "a directory" "is a directory, not a disk image file"
rmdir p.vhdx
if [ "$under_wine" -eq 0 ]; then
    ln -s /dev/zero p.vhdx
    parent_is "/dev/zero" "is a character device, not a disk image file"
    rm p.vhdx
    mkfifo p.vhdx
    parent_is "a FIFO" "is a FIFO, not a disk image file"
    rm p.vhdx
    ln -s p.vhdx p.vhdx
    parent_is "a symlink loop" "too many levels of symbolic links"
    rm p.vhdx
else
    # Wine's server opens files itself: a FIFO or a device there is its
    # business (NtCreateFile), and a symlink loop is "not found" to it.
    echo "# under wine: /dev/zero, FIFO and symlink-loop parents are covered by the native run"
fi
# A different image where the parent was (the file changed since the child was made).
"${VDSSHIM[@]}" create --size 16M p.vhdx >/dev/null 2>&1
hq=$(sha p.vhdx)
parent_is "another image" "is not the parent this disk was made from"
check "... that image is unchanged" [ "$(sha p.vhdx)" = "$hq" ]
rm p.vhdx
cp real.vhdx p.vhdx
expect_rc "with the real parent back, check passes" 0 "${VDSSHIM[@]}" check c.vhdx

# The image itself through a symlink: works, and the link stays a link.
ln -s c.vhdx link.vhdx
expect_rc "compact through a symlink" 0 "${VDSSHIM[@]}" compact link.vhdx
check "... the symlink is still a symlink to c.vhdx" [ "$(readlink link.vhdx)" = c.vhdx ]
"${VDSSHIM[@]}" dump c.vhdx now.raw >/dev/null 2>&1
check "... the content is the same" cmp -s now.raw ref.raw

# Spaces and non-ASCII in every directory of a chain's path (made in an
# ASCII directory, then moved: the relative locator finds the parent).
d="dir with spaces/ünïcødé — ε"
mkdir -p "$d" gen2
"${CHAIN[@]}" vhd gen2 >/dev/null
mv gen2/parent.vhd gen2/child.vhd "$d/"
"${VDSSHIM[@]}" dump "$d/child.vhd" ref2.raw >/dev/null 2>&1
expect_rc "a chain under a non-ASCII path with spaces: check finds the parent" 0 "${VDSSHIM[@]}" check "$d/child.vhd"
expect_rc "... compact" 0 "${VDSSHIM[@]}" compact "$d/child.vhd"
expect_rc "... merge" 0 "${VDSSHIM[@]}" merge "$d/child.vhd"
check "... the parent now reads as the child did" quietly qemu-img compare -f vpc -F raw "$d/parent.vhd" ref2.raw

# Not image files at all.
: > zero.vhdx
expect_rc "a zero-byte file is refused (exit 3)" 3 "${VDSSHIM[@]}" compact zero.vhdx
check "... in one line" err_line
check "... and stays empty" [ "$(file_size zero.vhdx)" -eq 0 ]
mkdir dir.vhdx
expect_rc "a directory is refused (exit 3)" 3 "${VDSSHIM[@]}" compact dir.vhdx
check "... saying it is a directory" said "is a directory, not a disk image file"
if [ "$under_wine" -eq 0 ]; then
    mkfifo fifo.vhdx
    for cmd in info check compact; do
        expect_rc "a FIFO as the image: $cmd refused at once (exit 3)" 3 timeout 10 "${VDSSHIM[@]}" "$cmd" fifo.vhdx
        check "... saying it is a FIFO" said "is a FIFO, not a disk image file"
    done
fi

# A read-only mount: "read-only file system", not "permission denied".
mkdir -p ro
if mount -t tmpfs -o size=160m tmpfs ro 2>/dev/null; then
    cp -P c.vhdx p.vhdx parent.vhdx ro/
    mount -o remount,ro ro
    h=$(sha ro/c.vhdx)
    expect_rc "compact on a read-only mount is refused (exit 4)" 4 "${VDSSHIM[@]}" compact ro/c.vhdx
    if [ "$under_wine" -eq 1 ]; then
        # Wine turns EROFS into access denied and does not report the mount's
        # read-only flag to GetVolumeInformationByHandleW (io_win32.c).
        check "... saying permission denied (what Wine reports)" said "permission denied"
    else
        check "... saying read-only file system" said "read-only file system"
    fi
    check "... in one line" err_line
    check "... unchanged" [ "$(sha ro/c.vhdx)" = "$h" ]
    expect_rc "... while check still reads it" 0 "${VDSSHIM[@]}" check ro/c.vhdx
    umount ro
else
    echo "# not run: no tmpfs mount here (needs root); the read-only-mount case was not tested"
fi
check "the parent was never written" [ "$(sha real.vhdx)" = "$hp" ]

finish
