# One test registry: add_vdsshim_test(NAME SOURCES ... [LIBS ...]) builds a
# cmocka executable and registers it with ctest, natively or under wine (in
# the private prefix set up by the wine_prefix fixture).

if(CMAKE_CROSSCOMPILING AND WIN32)
  include(${CMAKE_CURRENT_LIST_DIR}/cmocka-from-debian-source.cmake)
  include(${CMAKE_CURRENT_LIST_DIR}/WinePrefix.cmake)
else()
  find_package(cmocka REQUIRED)
  add_library(cmocka::cmocka INTERFACE IMPORTED)
  target_link_libraries(cmocka::cmocka INTERFACE ${CMOCKA_LIBRARIES})
  target_include_directories(cmocka::cmocka INTERFACE ${CMOCKA_INCLUDE_DIR})
endif()

set(VDSSHIM_SHARED_IMAGES "${PROJECT_SOURCE_DIR}/../shared/images" CACHE PATH
    "Third-party VHD/VHDX images (read in place, never copied into the project)")

# Apply the wine environment and fixture to a test when this is the Windows build.
function(vdsshim_wine_test name)
  if(WIN32)
    set_property(TEST ${name} APPEND PROPERTY FIXTURES_REQUIRED wineprefix)
    set_property(TEST ${name} APPEND PROPERTY ENVIRONMENT ${VDSSHIM_WINE_ENV})
  endif()
endfunction()

function(add_vdsshim_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 600)
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE vdsshim_test_support vdsshim_engine cmocka::cmocka ${T_LIBS})
  # White-box tests reach the engine internals (decode/encode pairs).
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/vdsshim/src)
  set(_dir ${CMAKE_CURRENT_BINARY_DIR}/${name}.d)
  file(MAKE_DIRECTORY ${_dir})
  add_test(NAME ${name} COMMAND ${name} WORKING_DIRECTORY ${_dir})
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT})
  vdsshim_wine_test(${name})
endfunction()
