#!/usr/bin/env bash
# Builds every libFuzzer target with clang and runs each for a while.
#   scripts/fuzz.sh [seconds-per-target] [target-name-regex]
# Seeds come from tests/data/fuzz/<name>/ (copied, so the committed seeds stay untouched);
# crash reproducers land in $FUZZ_OUT (default build-fuzz/findings). Non-zero exit on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
filter=${2:-.}
build=${FUZZ_BUILD_DIR:-build-fuzz}
out=${FUZZ_OUT:-$build/findings}
jobs=${JOBS:-$(nproc)}

# FUZZ_BUILD_TESTS=ON keeps the test targets of a build directory that CI's sanitizer pass made
# with the same options (the fuzz build is an ASan + UBSan build), so nothing is rebuilt.
CC=clang-14 CXX=clang++-14 cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DACON_FUZZ=ON -DACON_BUILD_TESTS="${FUZZ_BUILD_TESTS:-OFF}" -DACON_BUILD_BENCH=OFF >/dev/null
ninja -C "$build" -j "$jobs" $(ninja -C "$build" -t targets all | sed -n 's/^\(fuzz_[a-z0-9_]*\): .*/\1/p' | sort -u)

# OpenSSL's process-wide state is created in fuzz_support.h's warm-up, out of LeakSanitizer's
# sight; fast unwinding keeps the fuzzers quick.
export ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=1
unset LSAN_OPTIONS

mkdir -p "$out"
# One fuzzer per core at a time; each writes its own log and its verdict file.
run_one() {
  local bin=$1 name=$2 corpus
  corpus=$(mktemp -d)
  [ -d "tests/data/fuzz/$name" ] && cp -r "tests/data/fuzz/$name/." "$corpus/"
  # libFuzzer prints INITED once it has run every seed; a run without that line did not, however
  # short the time per target.
  if "$bin" "$corpus" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
       -artifact_prefix="$out/$name-" -print_final_stats=1 >"$out/$name.log" 2>&1 &&
     grep -qE '^#[0-9]+[[:space:]]+INITED ' "$out/$name.log"; then
    echo ok >"$out/$name.verdict"
  else
    echo failed >"$out/$name.verdict"
  fi
  rm -rf "$corpus"
}
names=()
for bin in "$build"/fuzz/fuzz_*; do
  [ -x "$bin" ] || continue
  name=${bin##*/fuzz_}
  [[ $name =~ $filter ]] || continue
  names+=("$name")
  rm -f "$out/$name.verdict"
  echo "== fuzz_$name: ${seconds}s, $(ls "tests/data/fuzz/$name" 2>/dev/null | wc -l) seeds"
  run_one "$bin" "$name" &
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
done
wait
[ ${#names[@]} -gt 0 ] || { echo "no fuzz target matched '$filter'"; exit 1; }
failed=0
for name in "${names[@]}"; do
  if [ "$(cat "$out/$name.verdict" 2>/dev/null)" = ok ]; then
    echo "   fuzz_$name: $(grep -E '^stat::number_of_executed_units' "$out/$name.log" | sed 's/.*: *//') runs"
  else
    echo "!! fuzz_$name found a failure; see $out/$name.log"
    tail -40 "$out/$name.log"
    failed=1
  fi
done
echo "fuzz: ${#names[@]} targets, $([ $failed -eq 0 ] && echo 'no findings' || echo 'FINDINGS')"
exit $failed
