#!/usr/bin/env python3
"""Repair widl's -Oif proxy format strings for [out] LPWSTR* parameters.

widl (7.0 and 8.0) gives such a parameter the type offset of the inner
string pointer (FC_UP) instead of the enclosing FC_RP [allocated_on_stack]
[pointer_deref] four bytes before it. rpcrt4 then writes the returned string
pointer into the stack slot and the caller sees NULL with S_OK (toolchain.md,
trap 2). This points each such parameter back at its FC_RP.

usage: fix_widl_oif.py FILE_p.c EXPECTED_COUNT   (the build fails on any other count)
"""
import re
import sys

path, expected = sys.argv[1], int(sys.argv[2])
text = open(path).read()
split = text.index('__MIDL_TypeFormatString =')
procs, types = text[:split], text[split:]

# Type-format offsets that hold "FC_RP [allocated_on_stack] [pointer_deref]":
# a parameter naming the entry 4 bytes further on meant this one.
outer_of = {}
for m in re.finditer(r'/\* (\d+) \([^)]*\*\) \*/\n\s*0x11, 0x14,', types):
    outer_of[int(m.group(1)) + 4] = int(m.group(1))

fixed = 0


def repoint(m):
    global fixed
    offset = int(m.group(2))
    if offset not in outer_of:
        return m.group(0)
    fixed += 1
    target = outer_of[offset]
    return f'{m.group(1)}NdrFcShort(0x{target:x}),\t/* type offset = {target} (repointed from {offset}) */'


# A parameter: flags (out, server-allocated, not a simple ref), stack offset, type offset.
procs = re.sub(r'(NdrFcShort\(0x[0-9a-f]+\),\t/\* flags: (?:(?!simple ref)[^\n])*out, srv size=\d+ \*/\n'
               r'[^\n]*\n\s*)NdrFcShort\(0x[0-9a-f]+\),\t/\* type offset = (\d+) \*/', repoint, procs)
if fixed != expected:
    sys.exit(f'fix_widl_oif: {path}: repointed {fixed} parameter(s), expected {expected}')
open(path, 'w').write(procs + types)
print(f'fix_widl_oif: repointed {fixed} parameter(s) in {path}')
