# Windows-side cmocka, cross-built at build time from Debian's cmocka source
# package (scripts/fetch-cmocka-source puts the .orig tarball in the build
# tree). Never vendored; the installed cmocka-config.cmake is broken for
# mingw, so the library is an IMPORTED target by hand (toolchain.md §4).
include(ExternalProject)
set(CMOCKA_TARBALL "" CACHE FILEPATH "cmocka_*.orig.tar.xz from apt-get source --download-only cmocka")
if(NOT EXISTS "${CMOCKA_TARBALL}")
  file(GLOB _found "${CMAKE_BINARY_DIR}/../_deb/cmocka_*.orig.tar.*" "${CMAKE_BINARY_DIR}/_deb/cmocka_*.orig.tar.*")
  list(LENGTH _found _n)
  if(_n EQUAL 0)
    message(FATAL_ERROR "cmocka source not found: run scripts/fetch-cmocka-source or pass -DCMOCKA_TARBALL=")
  endif()
  list(GET _found 0 _first)
  set(CMOCKA_TARBALL "${_first}" CACHE FILEPATH "" FORCE)
endif()
set(_cm_prefix ${CMAKE_BINARY_DIR}/_cmocka)
ExternalProject_Add(cmocka_ext
  URL ${CMOCKA_TARBALL}
  PREFIX ${_cm_prefix}
  DOWNLOAD_EXTRACT_TIMESTAMP TRUE
  CMAKE_ARGS -DCMAKE_TOOLCHAIN_FILE=${CMAKE_TOOLCHAIN_FILE} -DCMAKE_BUILD_TYPE=Release
             -DWITH_STATIC_LIB=ON -DWITH_EXAMPLES=OFF -DUNIT_TESTING=OFF
             -DCMAKE_INSTALL_PREFIX=<INSTALL_DIR>
  BUILD_BYPRODUCTS ${_cm_prefix}/lib/libcmocka-static.a)
file(MAKE_DIRECTORY ${_cm_prefix}/include)
add_library(cmocka::cmocka STATIC IMPORTED GLOBAL)
set_target_properties(cmocka::cmocka PROPERTIES
  IMPORTED_LOCATION ${_cm_prefix}/lib/libcmocka-static.a
  INTERFACE_INCLUDE_DIRECTORIES ${_cm_prefix}/include)
add_dependencies(cmocka::cmocka cmocka_ext)
