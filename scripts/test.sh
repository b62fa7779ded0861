#!/usr/bin/env bash
# Installs the Debian packages acon needs, builds everything (Release, warnings as errors) and
# runs every test (ctest).
#   BUILD_DIR=build  BUILD_TYPE=Release  CMAKE_ARGS="..."  JOBS=N  CTEST_ARGS="..."  are optional
#   (CTEST_ARGS narrows the tests; without it every test runs).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
# ACON_ACONCLI=PATH: Intel's aconcli (ACON 3430805); acond's interoperability test drives a real
# acond with it, and prints SKIP without it.
build=${BUILD_DIR:-build}
jobs=${JOBS:-$(nproc)}
# shellcheck disable=SC2086  # CMAKE_ARGS is a list of words on purpose
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" -DACON_WERROR=ON \
  ${CMAKE_ARGS:-}
ninja -C "$build" -j "$jobs"
# shellcheck disable=SC2086  # CTEST_ARGS too
ctest --test-dir "$build" --output-on-failure -j "$jobs" ${CTEST_ARGS:-}
