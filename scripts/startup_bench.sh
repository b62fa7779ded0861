#!/usr/bin/env bash
# Whole-process timing of `acon-eventlog dump --format yaml LOG` against tpm2-tools'
# `tpm2_eventlog LOG` (which prints the same YAML), and of `acon-eventlog --help` (start-up alone:
# exec, dynamic loading, static initialisers, CLI set-up). Prints the median wall time of each
# command over RUNS runs and the ratio tpm2_eventlog / acon-eventlog.
#
#   scripts/startup_bench.sh [LOG]
#
# LOG defaults to tests/data/eventlog/tpm2-tools/event-gce-ubuntu-2104-log.bin, a 3-bank vTPM
# boot log (34 KB, 112 records). Any TPM TCG2 log that tpm2_eventlog 5.4 reads can be given
# instead; acon-eventlog reads it with --pcr (TPM PCRs, not a CCEL's MRTD/RTMRs). Before timing,
# both tools are run once and must print byte-identical YAML.
#
# Environment:
#   BUILD_DIR      build directory holding tools/acon-eventlog (default: build-rel in the
#                  repository root; configured as Release and built if the tool is missing)
#   ACON_EVENTLOG  the acon-eventlog binary to time (overrides BUILD_DIR)
#   RUNS           timed runs of each command (default 200), after 5 untimed warm-up rounds
#   HYPERFINE      if 1 and hyperfine is installed, also time the three commands with hyperfine
#
# Method: each round runs every command once, in turn (so all see the same machine load), by
# posix_spawn with stdout and stderr on /dev/null, and waits for it; wall time from just before
# the spawn to the end of the wait. `/bin/true` is timed the same way as the floor of a process
# start on this machine. Medians are reported, with the 10th and 90th percentiles, and the mean
# CPU time (user + system, from wait4) of each command, which other load on the machine
# disturbs less than wall time (the kernel samples it per tick: only the mean is meaningful).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-$root/build-rel}
runs=${RUNS:-200}
python=/usr/bin/python3

fail() {
  echo "startup_bench.sh: FAILED: $*" >&2
  exit 1
}

acon=${ACON_EVENTLOG:-$build_dir/tools/acon-eventlog}
if [ -z "${ACON_EVENTLOG:-}" ] && [ ! -x "$acon" ]; then
  echo "startup_bench.sh: building $acon (Release)" >&2
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DACON_BUILD_TESTS=OFF \
    -DACON_BUILD_BENCH=OFF >/dev/null || fail "cmake configure"
  cmake --build "$build_dir" --target acon-eventlog >/dev/null || fail "build"
fi
[ -x "$acon" ] || fail "$acon is not an executable"
tpm2=$(command -v tpm2_eventlog) || fail "tpm2_eventlog not found (Debian package tpm2-tools)"

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

log=${1:-$root/tests/data/eventlog/tpm2-tools/event-gce-ubuntu-2104-log.bin}
"$python" - "$root" "$out" "$acon" "$tpm2" "$runs" "$log" <<'PY'
import os
import statistics
import sys
import time

root, out, acon, tpm2, runs, log = sys.argv[1:7]
runs = int(runs)


def die(msg):
    print(f"startup_bench.sh: FAILED: {msg}", file=sys.stderr)
    sys.exit(1)


label = log
if not os.path.isfile(log):
    die(f"{log}: no such file")


def capture(argv):
    r, w = os.pipe()
    dn = os.open(os.devnull, os.O_WRONLY)
    pid = os.posix_spawn(argv[0], argv, os.environ,
                         file_actions=[(os.POSIX_SPAWN_DUP2, w, 1), (os.POSIX_SPAWN_DUP2, dn, 2)])
    os.close(w)
    os.close(dn)
    chunks = []
    while chunk := os.read(r, 1 << 16):
        chunks.append(chunk)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), b"".join(chunks)


dump = [acon, "dump", "--pcr", "--format", "yaml", log]
help_ = [acon, "--help"]
peer = [tpm2, log]
rc_a, yaml_a = capture(dump)
rc_t, yaml_t = capture(peer)
if rc_a != 0:
    die(f"acon-eventlog dump: exit {rc_a}")
if rc_t != 0:
    die(f"tpm2_eventlog: exit {rc_t}")
if yaml_a != yaml_t:
    die(f"the two YAML outputs differ ({len(yaml_a)} vs {len(yaml_t)} bytes)")
events = yaml_t.count(b"- EventNum:")

commands = [
    ("acon-eventlog dump --format yaml LOG", dump),
    ("acon-eventlog --help", help_),
    ("tpm2_eventlog LOG", peer),
    ("/bin/true (process floor)", ["/bin/true"]),
]
devnull = os.open(os.devnull, os.O_WRONLY)
actions = [(os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)]
times = [[] for _ in commands]
cpu = [[] for _ in commands]
warmup = 5
for round_ in range(warmup + runs):
    for i, (_, argv) in enumerate(commands):
        t0 = time.perf_counter()
        pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
        _, status, usage = os.wait4(pid, 0)
        dt = time.perf_counter() - t0
        if os.waitstatus_to_exitcode(status) != 0:
            die(f"{argv[0]}: exit {os.waitstatus_to_exitcode(status)}")
        if round_ >= warmup:
            times[i].append(dt * 1e3)
            cpu[i].append((usage.ru_utime + usage.ru_stime) * 1e3)


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(p / 100 * len(s)))]


print(f"log: {label} ({os.path.getsize(log):,} B, {events} events, {len(yaml_t):,} B of YAML, "
      f"identical from both tools)")
print(f"acon-eventlog: {acon}")
print(f"{runs} interleaved runs of each command, load average before: "
      f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
width = max(len(name) for name, _ in commands)
print(f"| {'command'.ljust(width)} | median ms |  p10 ms |  p90 ms | mean CPU ms |")
print(f"|{'-' * (width + 2)}|-----------|---------|---------|-------------|")
medians, cpus = [], []
for (name, _), t, c in zip(commands, times, cpu):
    m = statistics.median(t)
    medians.append(m)
    cpus.append(statistics.mean(c))
    print(f"| {name.ljust(width)} | {m:9.2f} | {pct(t, 10):7.2f} | {pct(t, 90):7.2f} | "
          f"{cpus[-1]:11.2f} |")
print(f"tpm2_eventlog / acon-eventlog dump: {medians[2] / medians[0]:.2f}x (median wall), "
      f"{cpus[2] / cpus[0]:.2f}x (mean CPU); start-up (--help) is "
      f"{100 * medians[1] / medians[0]:.0f}% of the dump's median wall time")
with open(os.path.join(out, "log_path"), "w") as f:
    f.write(log)
PY

if [ "${HYPERFINE:-0}" = 1 ] && command -v hyperfine >/dev/null; then
  log=$(cat "$out/log_path")
  hyperfine -N --warmup 5 --runs "$runs" --output=null \
    "$acon dump --format yaml $log" "$acon --help" "$tpm2 $log"
fi
