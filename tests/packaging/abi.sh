#!/usr/bin/env bash
# libvdsshim.so.0's ABI: it exports exactly the functions the public headers
# declare (all vdsshim_*, all at version VDSSHIM_0) and nothing else, its
# soname is libvdsshim.so.0, and the public headers compile as C99 and C++
# (and a C++ program links and runs against the library).
# usage: abi.sh LIBVDSSHIM_SO INCLUDE_DIR CC CXX WORKDIR [FLAGS]
# FLAGS: the build's C flags (a sanitized library needs sanitized callers).
LIB=$1; INC=$2; CC=$3; CXX=$4; WORK=$5; read -r -a FLAGS <<<"${6:-}"
. "$(dirname "$0")/../integration/lib.sh"
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK" || exit 1

check "the library's soname is libvdsshim.so.0" \
    bash -c "readelf -d '$LIB' | grep -q 'Library soname: \[libvdsshim.so.0\]'"

# Every defined dynamic symbol but the version node itself.
nm -D --defined-only "$LIB" | awk '$2 != "A" { print $3 }' | sort >exported.versioned
sed 's/@.*//' exported.versioned | sort -u >exported
check "it exports symbols at all" [ -s exported ]
bad=$(grep -v '^vdsshim_' exported | tr '\n' ' ')
check "every exported symbol is vdsshim_* (others: ${bad:-none})" [ -z "$bad" ]
unversioned=$(grep -v '@@VDSSHIM_0$' exported.versioned | tr '\n' ' ')
check "every exported symbol has the version VDSSHIM_0 (others: ${unversioned:-none})" [ -z "$unversioned" ]

# The functions the public headers declare: a declaration's name followed by
# "(", outside comments, not a static inline helper.
for h in "$INC"/vdsshim*.h; do
    sed -e 's@/\*.*\*/@@g' -e '/\/\*/,/\*\//d' "$h"
done | grep -v -E '^\s*(static|#|\*)' | grep -o -E '\bvdsshim_[a-z0-9_]+\s*\(' | sed 's/\s*($//' | sort -u >declared
check "the headers declare functions at all" [ -s declared ]
extra=$(comm -13 declared exported | tr '\n' ' ')
missing=$(comm -23 declared exported | tr '\n' ' ')
check "nothing is exported that the headers do not declare (extra: ${extra:-none})" [ -z "$extra" ]
check "every function the headers declare is exported (missing: ${missing:-none})" [ -z "$missing" ]

cat >use.c <<'EOC'
#include <vdsshim.h>
#include <vdsshim_io.h>
#include <vdsshim_io_fault.h>
int main(void) { return vdsshim_status_name(VDSSHIM_E_CORRUPT)[0] == 'E' ? 0 : 1; }
EOC
cp use.c use.cpp
check "the public headers compile as C99 (-pedantic, warnings as errors)" \
    quietly "$CC" -std=c99 -pedantic -Wall -Wextra -Werror "${FLAGS[@]}" -I"$INC" -c use.c -o use_c.o
check "... and as C++11" quietly "$CXX" -std=c++11 -pedantic -Wall -Wextra -Werror "${FLAGS[@]}" -I"$INC" -c use.cpp -o use_cpp.o
check "a C++ program links against the library (extern \"C\")" \
    quietly "$CXX" "${FLAGS[@]}" use_cpp.o -o use_cpp "$LIB" -Wl,-rpath,"$(dirname "$LIB")"
check "... and runs" ./use_cpp
finish
