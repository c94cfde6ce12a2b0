# One private WINEPREFIX per build tree, created once per ctest run by a
# fixture and torn down with wineserver -k. Every wine process that may start
# daemons has its stdio redirected, so none holds ctest's pipe (toolchain.md,
# traps 4 and 5).
find_program(WINE NAMES wine REQUIRED)
find_program(WINESERVER NAMES wineserver REQUIRED)
# Every wine process of the tests starts without address-space randomization
# (setarch -R; the tests' scripts inherit it, so do their wine processes).
# Debian's wine 8 has no preloader: wine64 is a fixed-address binary at
# 0x7d000000 whose brk heap the kernel puts anywhere in the GiB above it,
# and about one start in 5,000 puts it over 0x7ffe0000, where wine must map
# the shared user data: "failed to map the shared user data: c0000018",
# exit 1, before the program runs (seen in clean-clone runs; reproduced by
# growing the heap over that address). Wine's preloader reserves the range
# for the same reason; a heap right after the binary never reaches it.
find_program(SETARCH NAMES setarch REQUIRED)
set(VDSSHIM_WINE_LAUNCH ${SETARCH} ${CMAKE_HOST_SYSTEM_PROCESSOR} -R)
set(CMAKE_CROSSCOMPILING_EMULATOR ${VDSSHIM_WINE_LAUNCH} ${WINE})
set(WINEPREFIX_DIR ${CMAKE_BINARY_DIR}/wineprefix CACHE PATH "private WINEPREFIX for tests")
set(VDSSHIM_WINE_ENV "WINEPREFIX=${WINEPREFIX_DIR};WINEDEBUG=-all;WINEDLLOVERRIDES=mscoree,mshtml=")

add_test(NAME wine_prefix_setup
  COMMAND ${VDSSHIM_WINE_LAUNCH} sh -c "${WINESERVER} -k 2>/dev/null; ${WINESERVER} -w; \
${WINE} wineboot -i </dev/null >wineboot.log 2>&1 && ${WINESERVER} -w && \
${WINESERVER} -p </dev/null >/dev/null 2>&1; ${WINE} wineboot </dev/null >>wineboot.log 2>&1"
  WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
add_test(NAME wine_prefix_cleanup COMMAND sh -c "${WINESERVER} -k 2>/dev/null; ${WINESERVER} -w; true")
set_tests_properties(wine_prefix_setup PROPERTIES FIXTURES_SETUP wineprefix TIMEOUT 300
  ENVIRONMENT "${VDSSHIM_WINE_ENV}")
set_tests_properties(wine_prefix_cleanup PROPERTIES FIXTURES_CLEANUP wineprefix TIMEOUT 60
  ENVIRONMENT "${VDSSHIM_WINE_ENV}")
