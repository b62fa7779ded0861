# Precompiled headers (option ACON_PCH). Most of the build's time goes into the same third-party
# and standard headers, parsed again by every translation unit: nlohmann/json, GoogleTest and the
# standard library. Two headers are precompiled once each and reused by every target whose flags
# match: one for libraries, tools, fuzz targets and benchmarks, one (with GoogleTest) for the test
# binaries. Sources still include what they use; the PCH only saves parsing, so a build with
# -DACON_PCH=OFF compiles the same code.
#
# A reused PCH must be built with the flags of the targets that use it. All compile options and
# definitions in this project are global except the tests' (ACON_TEST_DATA and GoogleTest's own),
# which the test PCH's anchor target carries too; definitions a target adds on top (guest_sim_test,
# bench) are allowed by both GCC and clang as long as the precompiled headers do not use them.

set(ACON_PCH_HEADERS
    <algorithm> <array> <chrono> <cstddef> <cstdint> <cstring> <filesystem> <fstream>
    <functional> <map> <memory> <optional> <set> <span> <sstream> <string> <string_view>
    <utility> <variant> <vector> <nlohmann/json.hpp> <openssl/evp.h> <openssl/x509.h>)
set(ACON_PCH_TEST_HEADERS ${ACON_PCH_HEADERS} <gmock/gmock.h> <gtest/gtest.h>)

# An object library with one empty source, so that the PCH is built without waiting for any of
# the project's libraries.
function(acon_pch_anchor name)
  set(source ${CMAKE_BINARY_DIR}/${name}.cc)
  if(NOT EXISTS ${source})
    file(WRITE ${source} "// Anchor of the ${name} precompiled header (cmake/pch.cmake).\n")
  endif()
  add_library(${name} OBJECT ${source})
  target_link_libraries(${name} PRIVATE ${ARGN})
endfunction()

function(acon_collect_targets dir out)
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(sub ${subdirs})
    acon_collect_targets(${sub} sub_targets)
    list(APPEND targets ${sub_targets})
  endforeach()
  set(${out} ${targets} PARENT_SCOPE)
endfunction()

# Called once, after every add_subdirectory: each library and executable reuses one of the two.
function(acon_apply_pch)
  if(NOT ACON_PCH)
    return()
  endif()
  acon_pch_anchor(acon_pch_lib nlohmann_json::nlohmann_json acon_libcrypto)
  target_precompile_headers(acon_pch_lib PRIVATE ${ACON_PCH_HEADERS})
  if(TARGET GTest::gtest)
    acon_pch_anchor(acon_pch_test nlohmann_json::nlohmann_json acon_libcrypto GTest::gtest
                    GTest::gmock)
    target_compile_definitions(acon_pch_test PRIVATE
                               ACON_TEST_DATA="${PROJECT_SOURCE_DIR}/tests/data")
    target_precompile_headers(acon_pch_test PRIVATE ${ACON_PCH_TEST_HEADERS})
  endif()
  acon_collect_targets(${PROJECT_SOURCE_DIR} targets)
  foreach(target ${targets})
    get_target_property(type ${target} TYPE)
    if(NOT type MATCHES "^(STATIC_LIBRARY|SHARED_LIBRARY|OBJECT_LIBRARY|EXECUTABLE)$")
      continue()
    endif()
    # ccache refuses every compile that uses a PCH ("uncacheable") unless told that the PCH's
    # macros and __TIME__ need not enter the hash; the sources here use neither.
    get_target_property(launcher ${target} CXX_COMPILER_LAUNCHER)
    if(launcher MATCHES "ccache")
      set_property(TARGET ${target} PROPERTY CXX_COMPILER_LAUNCHER ${CMAKE_COMMAND} -E env
                   CCACHE_SLOPPINESS=pch_defines,time_macros ${launcher})
    endif()
    if(target MATCHES "^acon_pch_(lib|test)$")
      continue()
    endif()
    # The test PCH carries GoogleTest's definitions and ACON_TEST_DATA: only a target with both
    # (a GoogleTest binary from tests/) may use it; benchmarks define ACON_TEST_DATA without
    # GoogleTest.
    get_target_property(definitions ${target} COMPILE_DEFINITIONS)
    get_target_property(libraries ${target} LINK_LIBRARIES)
    if(TARGET acon_pch_test AND "${definitions}" MATCHES "ACON_TEST_DATA="
       AND "${libraries}" MATCHES "GTest::gtest")
      # The test binaries' own options (-O1, tests/CMakeLists.txt) go to their PCH too.
      get_target_property(options ${target} COMPILE_OPTIONS)
      if(options)
        set_property(TARGET acon_pch_test PROPERTY COMPILE_OPTIONS ${options})
      endif()
      target_precompile_headers(${target} REUSE_FROM acon_pch_test)
    else()
      target_precompile_headers(${target} REUSE_FROM acon_pch_lib)
    endif()
  endforeach()
endfunction()
