#!/usr/bin/env bash
# The Debian packages, for real: scripts/package builds them (lintian must
# report no error), apt-get installs them into this machine, the installed
# vdsshim compacts a generated disk, a C program builds against the
# installed library with pkg-config (and a CMake project with
# find_package(vdsshim)), vdsshim-wine finds its PE files; then the packages
# are purged and the machine's package list and files are as before.
# Needs root (or sudo) and apt: scripts/test runs it. Refuses to run, as a
# failure, where vdsshim's packages are already installed (it would replace them).
# usage: install.sh WORKDIR
WORK=$1
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/integration/lib.sh"
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK" || exit 1
PKGS="vdsshim libvdsshim0 libvdsshim-dev vdsshim-wine"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
if [ -n "$SUDO" ] && ! sudo -n true 2>/dev/null; then
    nok "installing packages needs root or passwordless sudo: not run"
    finish; exit 1
fi
# One machine, one set of installed packages: a second checkout's test run
# (two CI jobs, a developer's two trees) waits here for the first to purge,
# instead of failing on its packages or on the dpkg lock.
lockdir=/run/lock
[ -w "$lockdir" ] || lockdir=${TMPDIR:-/tmp}
exec 9>"$lockdir/vdsshim-packaging-test.lock"
if ! flock -w 1800 9; then
    nok "another run of install.sh held $lockdir/vdsshim-packaging-test.lock for 30 minutes: not run"
    finish; exit 1
fi
installed() { dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' $PKGS 2>/dev/null | grep '^ii' ; }
if [ -n "$(installed)" ]; then
    nok "vdsshim's packages are installed already ($(installed | awk '{print $2}' | tr '\n' ' ')): not replacing them"
    finish; exit 1
fi
dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}\n' | sort >packages.before

check "scripts/package builds the packages, lintian without errors" \
    bash -c "'$top/scripts/package' '$WORK/debs' >package.log 2>&1 || { cat package.log; false; }"
grep -E '^[EW]: ' package.log | sed 's/^/# lintian: /'
n=$(ls debs/*.deb 2>/dev/null | wc -l)
check "... four of them ($n)" [ "$n" -eq 4 ]
export DEBIAN_FRONTEND=noninteractive
check "apt-get installs them" quietly $SUDO apt-get install -y -q --no-install-recommends ./debs/*.deb
check "... all four" [ "$(installed | wc -l)" -eq 4 ]

check "vdsshim is on the PATH as /usr/bin/vdsshim" [ "$(command -v vdsshim)" = /usr/bin/vdsshim ]
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
linked=$(ldd /usr/bin/vdsshim | awk '$1 == "libvdsshim.so.0" { print $3 }')
check "... linked against the installed libvdsshim.so.0 ($linked)" \
    [ "$(readlink -f "${linked:-/nonexistent}")" = "$(readlink -f "/usr/lib/$ma/libvdsshim.so.0")" ]
check "its man page is installed" quietly man -w vdsshim
check "its bash completion is installed" [ -s /usr/share/bash-completion/completions/vdsshim ]
check "vdsshim creates a disk" quietly vdsshim create --size 64M disk.vhdx
qemu-io -f vhdx -c "write -P 5 0 3M" -c "write -P 0 32M 8M" disk.vhdx >/dev/null
cp disk.vhdx disk.orig
expect_rc "vdsshim compacts it" 0 vdsshim compact disk.vhdx
check "... and it reads the same (qemu-img compare)" quietly qemu-img compare -f vhdx -F vhdx disk.vhdx disk.orig

cat >use.c <<'EOC'
#include <stdio.h>
#include <vdsshim.h>
int main(int argc, char **argv)
{
    struct vdsshim_image *img;
    struct vdsshim_info info;
    struct vdsshim_diag diag = { { 0 } };
    if (argc != 2 || vdsshim_open(argv[1], 0, &img, &diag)) { fprintf(stderr, "%s\n", diag.msg); return 1; }
    vdsshim_get_info(img, &info);
    printf("%llu\n", (unsigned long long)info.virtual_size);
    vdsshim_close(img);
    return 0;
}
EOC
# shellcheck disable=SC2046
check "a C program builds with pkg-config --cflags --libs vdsshim" \
    quietly gcc -Wall -Werror use.c -o use $(pkg-config --cflags --libs vdsshim)
check "... and reads the disk through the installed library" [ "$(./use disk.vhdx)" = 67108864 ]
mkdir -p cm
cat >cm/CMakeLists.txt <<'EOC'
cmake_minimum_required(VERSION 3.20)
project(use_vdsshim C)
find_package(vdsshim 0.1 REQUIRED)
add_executable(use ../use.c)
target_link_libraries(use PRIVATE vdsshim::vdsshim)
EOC
check "a CMake project builds with find_package(vdsshim)" \
    quietly bash -c "cmake -S cm -B cm/build && cmake --build cm/build"
check "... and runs" [ "$(cm/build/use disk.vhdx 2>/dev/null)" = 67108864 ]
check "vdsshim-wine is installed, with its PE files" \
    bash -c "vdsshim-wine --help | grep -q /usr/lib/vdsshim/x86_64-windows && [ -s /usr/lib/vdsshim/x86_64-windows/virtdisk.dll ]"
check "... and its man page" quietly man -w vdsshim-wine

check "apt-get purges them" quietly $SUDO apt-get purge -y -q $PKGS
dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}\n' | sort >packages.after
d=$(diff packages.before packages.after | grep '^[<>]' | tr '\n' ' ')
check "the machine's packages are as before (${d:-same})" [ -z "$d" ]
check "... and none of their files is left" \
    bash -c "! ls -d /usr/bin/vdsshim /usr/bin/vdsshim-wine /usr/lib/vdsshim /usr/include/vdsshim.h /usr/lib/*/libvdsshim* 2>/dev/null | grep -q ."
finish
