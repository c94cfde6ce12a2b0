# One private WINEPREFIX per build tree, created once per ctest run by a
# fixture and torn down with wineserver -k. Every wine process that may start
# daemons has its stdio redirected, so none holds ctest's pipe (toolchain.md,
# traps 4 and 5).
find_program(WINE NAMES wine REQUIRED)
find_program(WINESERVER NAMES wineserver REQUIRED)
set(WINEPREFIX_DIR ${CMAKE_BINARY_DIR}/wineprefix CACHE PATH "private WINEPREFIX for tests")
set(VDSSHIM_WINE_ENV "WINEPREFIX=${WINEPREFIX_DIR};WINEDEBUG=-all;WINEDLLOVERRIDES=mscoree,mshtml=")

add_test(NAME wine_prefix_setup
  COMMAND sh -c "${WINESERVER} -k 2>/dev/null; ${WINESERVER} -w; \
${WINE} wineboot -i </dev/null >wineboot.log 2>&1 && ${WINESERVER} -w && \
${WINESERVER} -p </dev/null >/dev/null 2>&1; ${WINE} wineboot </dev/null >>wineboot.log 2>&1"
  WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
add_test(NAME wine_prefix_cleanup COMMAND sh -c "${WINESERVER} -k 2>/dev/null; ${WINESERVER} -w; true")
set_tests_properties(wine_prefix_setup PROPERTIES FIXTURES_SETUP wineprefix TIMEOUT 300
  ENVIRONMENT "${VDSSHIM_WINE_ENV}")
set_tests_properties(wine_prefix_cleanup PROPERTIES FIXTURES_CLEANUP wineprefix TIMEOUT 60
  ENVIRONMENT "${VDSSHIM_WINE_ENV}")
