#!/usr/bin/env bash
# vdsshim(1) cannot drift from the tool: its commands, options and exit codes
# are exactly those of `vdsshim --help`, whose options are exactly those the
# parser in main.c accepts; and groff renders it without a warning.
# usage: man_page.sh VDSSHIM MAN_PAGE MAIN_C WORKDIR
TOOL=$1; MAN=$2; MAIN=$3; WORK=$4
. "$(dirname "$0")/../integration/lib.sh"
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK" || exit 1

"$TOOL" --help >help.txt
sed 's/\\-/-/g; s/\\(dq/"/g' "$MAN" >man.txt
options() { grep -oE -- '(^|[^a-z-])--?[a-z][a-z-]*' "$1" | grep -oE -- '--?[a-z][a-z-]*' | grep -E '^(--|-h$)' | sort -u; }
options help.txt >help.opts
# The man page's option list: the entries of its OPTIONS section.
sed -n '/^\.SH OPTIONS/,/^\.SH /p' man.txt | grep -A1 '^\.TP' | grep -v -e '^\.TP' -e '^--$' >man.entries
options man.entries >man.opts
grep -oE '"--[a-z][a-z-]*"|"-h"' "$MAIN" | tr -d '"' | sort -u >parser.opts
check "--help lists options at all ($(wc -l <help.opts))" [ "$(wc -l <help.opts)" -ge 10 ]
d=$(diff help.opts man.opts | grep '^[<>]' | tr '\n' ' ')
check "the man page's OPTIONS has an entry for exactly the options of --help (${d:-same})" [ -z "$d" ]
d=$(diff parser.opts help.opts | grep '^[<>]' | tr '\n' ' ')
check "--help lists exactly the options main.c parses (${d:-same})" [ -z "$d" ]

sed -n '/^commands:/,/^$/p' help.txt | grep -oE '^  [a-z][a-z-]*' | tr -d ' ' | sort -u >help.cmds
sed -n '/^\.SH COMMANDS/,/^\.SH /p' man.txt | grep -oE '^\.BI? [a-z][a-z\\-]*' | awk '{print $2}' | tr -d '\\' | sort -u >man.cmds
check "--help lists commands at all ($(wc -l <help.cmds))" [ "$(wc -l <help.cmds)" -ge 8 ]
d=$(diff help.cmds man.cmds | grep '^[<>]' | tr '\n' ' ')
check "the man page documents exactly the commands of --help (${d:-same})" [ -z "$d" ]

sed -n '/^exit codes:/,/^$/p' help.txt | grep -oE '(^| )[0-9] ' | tr -d ' ' | sort -u >help.codes
sed -n '/^\.SH EXIT STATUS/,/^\.SH /p' man.txt | grep -oE '^\.B [0-9]+$' | awk '{print $2}' | sort -u >man.codes
check "--help lists exit codes at all" [ "$(wc -l <help.codes)" -ge 5 ]
d=$(diff help.codes man.codes | grep '^[<>]' | tr '\n' ' ')
check "the man page gives exactly the exit codes of --help (${d:-same})" [ -z "$d" ]

ver=$("$TOOL" --version | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -n 1)
check "the man page names the tool's version ($ver)" grep -q "^\.TH VDSSHIM 1 .*\"vdsshim $ver\"" "$MAN"
check "groff renders it without warnings" bash -c "groff -man -Tutf8 -ww -z '$MAN' 2>&1 | tee groff.err | (! grep -q .)"
finish
