#!/usr/bin/env bash
# The bash completion offers what `vdsshim --help` lists: every command, each
# option (the union over the commands is exactly --help's options), option
# values, and disk files (*.vhd, *.vhdx in any case, and directories), any
# file for dump's and convert's output.
# usage: completion.sh VDSSHIM COMPLETION_FILE WORKDIR
TOOL=$1; COMP=$2; WORK=$3
. "$(dirname "$0")/../integration/lib.sh"
rm -rf "$WORK" && mkdir -p "$WORK/disks/sub" && cd "$WORK" || exit 1
"$TOOL" --help >help.txt
cd disks || exit 1
: >a.vhd; : >B.VHDX; : >c.txt; : >d.vhdx.bak
# shellcheck source=/dev/null
. "$COMP"

complete_line() {   # the words of a command line, the last one being completed
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
    _vdsshim 2>/dev/null
    printf '%s\n' "${COMPREPLY[@]}" | sort
}
same() { [ "$1" = "$2" ] || { echo "# got: $(echo $1)"; echo "# want: $(echo $2)"; return 1; }; }

cmds=$(sed -n '/^commands:/,/^$/p' ../help.txt | grep -oE '^  [a-z][a-z-]*' | tr -d ' ' | sort)
check "the commands are --help's" same "$(complete_line vdsshim '')" "$cmds"
check "a prefix narrows them" same "$(complete_line vdsshim co)" "$(printf 'compact\nconvert')"
union=$( { complete_line vdsshim -; for c in $cmds; do complete_line vdsshim "$c" --; done; } | sort -u)
opts=$(grep -oE -- '(^|[^a-z-])--[a-z][a-z-]*' ../help.txt | grep -oE -- '--[a-z][a-z-]*' | sort -u)
check "the options offered, over all commands, are exactly --help's" same "$union" "$opts"
check "compact offers its options" \
    same "$(complete_line vdsshim compact --)" "$(printf -- '--dry-run\n--fs-aware\n--help\n--json\n--no-block-moves\n--no-zero-scan\n--quiet')"
check "--format offers vhd and vhdx" same "$(complete_line vdsshim create --format '')" "$(printf 'vhd\nvhdx')"
check "--sector-size offers 512 and 4096" same "$(complete_line vdsshim create --sector-size '')" "$(printf '4096\n512')"
check "a disk argument offers disk files in any case and directories" \
    same "$(complete_line vdsshim info '')" "$(printf 'B.VHDX\na.vhd\nsub')"
check "... after options too" same "$(complete_line vdsshim compact --fs-aware a.vhd '')" "$(printf 'B.VHDX\na.vhd\nsub')"
check "--parent offers disk files" same "$(complete_line vdsshim create --parent '')" "$(printf 'B.VHDX\na.vhd\nsub')"
check "dump's output is any file" \
    same "$(complete_line vdsshim dump a.vhd '')" "$(printf 'B.VHDX\na.vhd\nc.txt\nd.vhdx.bak\nsub')"
check "convert's destination is any file, its options' values skipped" \
    same "$(complete_line vdsshim convert --format vhd a.vhd '')" "$(printf 'B.VHDX\na.vhd\nc.txt\nd.vhdx.bak\nsub')"
check "the completion is registered for vdsshim" bash -c ". '$COMP'; complete -p vdsshim | grep -q _vdsshim"
finish
