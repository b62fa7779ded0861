#!/usr/bin/env bash
# Installs the Debian packages acon needs, builds everything (Release, warnings as errors) and
# runs every test (ctest).
#   BUILD_DIR=build  BUILD_TYPE=Release  CMAKE_ARGS="..."  JOBS=N  are optional.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
build=${BUILD_DIR:-build}
jobs=${JOBS:-$(nproc)}
# shellcheck disable=SC2086  # CMAKE_ARGS is a list of words on purpose
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" -DACON_WERROR=ON \
  ${CMAKE_ARGS:-}
ninja -C "$build" -j "$jobs"
ctest --test-dir "$build" --output-on-failure -j "$jobs"
