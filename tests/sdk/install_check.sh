#!/usr/bin/env bash
# The installed SDK header works for a mingw client found the pkg-config way:
# install the Windows build into a scratch prefix, compile sdk_client.c
# against include/vdsshim-sdk/vds.h and libvdsshim_vds_iids.a with -Werror,
# and check the files are where vdsshim-vds.pc says.
# usage: install_check.sh BUILD_DIR CC WORKDIR
BUILD=$1; CC=$2; WORK=$3
. "$(dirname "$0")/../integration/lib.sh"
rm -rf "$WORK" && mkdir -p "$WORK" || exit 1
check "cmake --install puts the Windows build in a prefix" quietly cmake --install "$BUILD" --prefix "$WORK/prefix"
check "... with include/vdsshim-sdk/vds.h" [ -s "$WORK/prefix/include/vdsshim-sdk/vds.h" ]
check "... the IIDs library" [ -s "$WORK/prefix/lib/libvdsshim_vds_iids.a" ]
pc() { PKG_CONFIG_LIBDIR="$WORK/prefix/lib/pkgconfig" pkg-config "$@" vdsshim-vds; }
check "pkg-config finds vdsshim-vds" quietly pc --exists
check "... and its include directory holds vds.h" [ -s "$(pc --variable=includedir)/vdsshim-sdk/vds.h" ]
# shellcheck disable=SC2046
check "a client written against <vds.h> compiles and links with -Werror against the installed files" \
    quietly "$CC" -Wall -Wextra -Werror -municode $(pc --cflags) "$(dirname "$0")/sdk_client.c" \
        -o "$WORK/sdk_client.exe" $(pc --libs)
check "... into a PE executable" bash -c "head -c 2 '$WORK/sdk_client.exe' | grep -q MZ"
rm -rf "$WORK/prefix"
finish
