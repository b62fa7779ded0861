#!/usr/bin/env bash
# Builds and runs acon_bench_crypto (Release), runs `openssl speed` for SHA-384 and ECDSA P-256
# in the same session, and prints one table: acon wrapper vs the same work done with raw EVP
# calls vs `openssl speed`. Then runs acon_bench_eventlog (parse / replay / decode of the real
# cc-trusted-api CCEL, next to the raw SHA-384 work its replay needs) and times whole processes,
# `acon-eventlog replay <raw log>` vs tpm2-tools `tpm2_eventlog <normalized log>`, and prints a
# second table. Every figure comes from this run; nothing is cached or hard-coded.
#
# Environment:
#   BUILD_DIR        build directory (default: build-bench in the repository root)
#   BENCH_MIN_TIME   --benchmark_min_time in seconds per repetition (default 0.2)
#   BENCH_REPS       repetitions per benchmark; the median is reported (default 3)
#   OPENSSL_SECONDS  seconds per `openssl speed` test (default 2)
#   BENCH_KEEP       if set, the raw JSON/text outputs are kept in this directory
#   PEER_RUNS        runs of each whole-process peer command; the median is reported (default 50)
#
# Ratios: for rates (MB/s, ops/s) acon/raw = acon rate / raw rate, so 0.90 or more means acon
# is within 10% of raw OpenSSL. Rates are per CPU second in both tools.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-$root/build-bench}
min_time=${BENCH_MIN_TIME:-0.2}
reps=${BENCH_REPS:-3}
ossl_seconds=${OPENSSL_SECONDS:-2}
peer_runs=${PEER_RUNS:-50}
ccel=$root/tests/data/eventlog/cc-trusted-api/ccel_data.bin
python=/usr/bin/python3

if [ -n "${BENCH_KEEP:-}" ]; then
  out=$BENCH_KEEP
  mkdir -p "$out"
else
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi

step() { echo "bench.sh: $*" >&2; }
fail() {
  echo "bench.sh: FAILED: $*" >&2
  exit 1
}

# --- build ---
# A new build directory is made without the tests (they are not needed here); an existing one,
# such as the one scripts/test.sh uses, keeps its own settings apart from what benchmarks need.
step "configuring $build_dir (Release)"
tests_off=()
[ -f "$build_dir/CMakeCache.txt" ] || tests_off=(-DACON_BUILD_TESTS=OFF)
cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "${tests_off[@]}" \
  -DACON_BUILD_BENCH=ON >"$out/configure.log" 2>&1 ||
  { cat "$out/configure.log" >&2; fail "cmake configure"; }
step "building acon_bench_crypto acon_bench_eventlog acon-eventlog"
cmake --build "$build_dir" --target acon_bench_crypto acon_bench_eventlog acon-eventlog \
  >"$out/build.log" 2>&1 || { tail -n 40 "$out/build.log" >&2; fail "build"; }

# --- acon vs raw EVP ---
step "running acon_bench_crypto (min_time ${min_time}s x ${reps} repetitions)"
"$build_dir/bench/acon_bench_crypto" --benchmark_format=json \
  --benchmark_min_time="$min_time" --benchmark_repetitions="$reps" \
  --benchmark_report_aggregates_only=true >"$out/bench.json" 2>"$out/bench.err" ||
  { cat "$out/bench.err" >&2; fail "acon_bench_crypto"; }

# --- event log: acon vs the raw SHA-384 limit ---
step "running acon_bench_eventlog (min_time ${min_time}s x ${reps} repetitions)"
"$build_dir/bench/acon_bench_eventlog" --benchmark_format=json \
  --benchmark_min_time="$min_time" --benchmark_repetitions="$reps" \
  --benchmark_report_aggregates_only=true >"$out/eventlog.json" 2>"$out/eventlog.err" ||
  { cat "$out/eventlog.err" >&2; fail "acon_bench_eventlog"; }

# --- openssl speed ---
sha_args=(-evp sha384)
if openssl speed -help 2>&1 | grep -q -- '-bytes'; then
  sha_args=(-bytes 16384 -evp sha384)  # only the block size the table compares
fi
step "running openssl speed -seconds $ossl_seconds ${sha_args[*]}"
openssl speed -mr -seconds "$ossl_seconds" "${sha_args[@]}" >"$out/speed_sha384.txt" \
  2>"$out/speed_sha384.err" || { cat "$out/speed_sha384.err" >&2; fail "openssl speed sha384"; }
step "running openssl speed -seconds $ossl_seconds ecdsap256"
openssl speed -mr -seconds "$ossl_seconds" ecdsap256 >"$out/speed_ecdsa.txt" \
  2>"$out/speed_ecdsa.err" || { cat "$out/speed_ecdsa.err" >&2; fail "openssl speed ecdsap256"; }

# --- whole processes: acon-eventlog replay vs tpm2_eventlog ---
# tpm2_eventlog 5.4 rejects raw CCELs (header pcrIndex 1, fill after the log), so it gets the
# normalized copy (docs/eventlog-formats.md §9); acon-eventlog gets the raw 64 KiB area. Runs are
# interleaved so both peers see the same machine load; output goes to /dev/null.
command -v tpm2_eventlog >/dev/null || fail "tpm2_eventlog not found (Debian package tpm2-tools)"
step "timing acon-eventlog replay vs tpm2_eventlog ($peer_runs runs each)"
"$python" - "$ccel" "$out" "$build_dir/tools/acon-eventlog" "$(command -v tpm2_eventlog)" \
  "$peer_runs" "$root/scripts" >"$out/peer.json" <<'PY'
import json
import statistics
import subprocess
import sys
import time

ccel, out, acon_tool, tpm2_tool, runs, scripts_dir = sys.argv[1:7]
runs = int(runs)
sys.path.insert(0, scripts_dir)
import tcg_log  # noqa: E402


def die(msg):
    print(f"bench.sh: FAILED: {msg}", file=sys.stderr)
    sys.exit(1)


with open(ccel, "rb") as f:
    raw = f.read()
end, records = tcg_log.log_end(raw)
normalized = tcg_log.normalized(raw)
norm_path = f"{out}/ccel_normalized.bin"
with open(norm_path, "wb") as f:
    f.write(normalized)

acon_cmd = [acon_tool, "replay", ccel]
tpm2_cmd = [tpm2_tool, norm_path]

# One checked run each (also warms the page cache): both succeed and agree on every register.
a = subprocess.run(acon_cmd, capture_output=True, text=True)
t = subprocess.run(tpm2_cmd, capture_output=True, text=True)
if a.returncode != 0:
    die(f"acon-eventlog replay: rc={a.returncode}: {a.stderr.strip()}")
if t.returncode != 0:
    die(f"tpm2_eventlog: rc={t.returncode}: {t.stderr.strip()}")
acon_regs = [line.split()[1] for line in a.stdout.splitlines() if line.strip()]
if not acon_regs or any("0x" + v not in t.stdout for v in acon_regs):
    die("acon-eventlog replay and tpm2_eventlog disagree on the registers")


def wall(cmd):
    t0 = time.perf_counter()
    rc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    dt = time.perf_counter() - t0
    if rc != 0:
        die(f"{cmd[0]}: rc={rc}")
    return dt


acon_t, tpm2_t = [], []
for _ in range(runs):
    acon_t.append(wall(acon_cmd))
    tpm2_t.append(wall(tpm2_cmd))
json.dump({"runs": runs, "raw_size": len(raw), "log_end": end, "events": records,
           "acon_median_s": statistics.median(acon_t), "tpm2_median_s": statistics.median(tpm2_t)},
          sys.stdout)
PY
[ -s "$out/peer.json" ] || fail "process timing produced no result"

# --- table ---
"$python" - "$out/bench.json" "$out/speed_sha384.txt" "$out/speed_ecdsa.txt" \
  "$(openssl version)" "$reps" <<'PY'
import json
import sys

bench_path, sha_path, ecdsa_path, ossl_version, reps = sys.argv[1:6]


def die(msg):
    print(f"bench.sh: FAILED: {msg}", file=sys.stderr)
    sys.exit(1)


with open(bench_path) as f:
    doc = json.load(f)

# Median of the repetitions, keyed by run name; a benchmark that errored fails the script.
results = {}
for b in doc["benchmarks"]:
    if b.get("error_occurred"):
        die(f"{b['name']}: {b.get('error_message', 'error')}")
    agg = b.get("aggregate_name")
    if agg in (None, "median"):
        results[b["run_name"]] = b


def rate(name, key):
    b = results.get(name)
    if b is None or key not in b:
        die(f"benchmark {name} ({key}) missing from the JSON output")
    return float(b[key])


def mbps(name):
    return rate(name, "bytes_per_second") / 1e6


def ops(name):
    return rate(name, "ops")


def speed_lines(path, tag):
    with open(path) as f:
        return [l.strip().split(":") for l in f if l.startswith(tag + ":")]


# SHA-384: "+H:<sizes...>" then "+F:<n>:sha384:<bytes/s per size...>".
heads = speed_lines(sha_path, "+H")
fs = [l for l in speed_lines(sha_path, "+F") if len(l) > 3 and l[2].lower() == "sha384"]
if not heads or not fs:
    die("no +H/+F lines in openssl speed sha384 output")
sizes = [int(s) for s in heads[0][1:]]
if 16384 not in sizes:
    die(f"openssl speed sha384 did not measure 16384-byte blocks (sizes {sizes})")
ossl_sha_16k = float(fs[0][3 + sizes.index(16384)]) / 1e6

# ECDSA: "+F4:<n>:<bits>:<sign/s>:<verify/s>".
f4 = [l for l in speed_lines(ecdsa_path, "+F4") if len(l) >= 5 and l[2] == "256"]
if not f4:
    die("no +F4 line for 256-bit ECDSA in openssl speed output")
ossl_sign, ossl_verify = float(f4[0][3]), float(f4[0][4])

S = "BM_sha384_"
rows = [
    ("SHA-384 digest() 64 B [MB/s]", mbps(S + "acon_digest/64"), mbps(S + "raw_evp/64"), None),
    ("SHA-384 digest() 1 KiB [MB/s]", mbps(S + "acon_digest/1024"), mbps(S + "raw_evp/1024"), None),
    ("SHA-384 digest() 16 KiB [MB/s]", mbps(S + "acon_digest/16384"), mbps(S + "raw_evp/16384"),
     ossl_sha_16k),
    ("SHA-384 digest() 1 MiB [MB/s]", mbps(S + "acon_digest/1048576"),
     mbps(S + "raw_evp/1048576"), None),
    ("SHA-384 Hasher 64 B [MB/s]", mbps(S + "acon_hasher/64"), mbps(S + "raw_evp/64"), None),
    ("SHA-384 Hasher 16 KiB [MB/s]", mbps(S + "acon_hasher/16384"), mbps(S + "raw_evp/16384"),
     ossl_sha_16k),
    ("ECDSA P-256 sign, 64 B msg [op/s]", ops("BM_ecdsa_p256_sign_acon"),
     ops("BM_ecdsa_p256_sign_raw_evp"), ossl_sign),
    ("ECDSA P-256 verify, 64 B msg [op/s]", ops("BM_ecdsa_p256_verify_acon"),
     ops("BM_ecdsa_p256_verify_raw_evp"), ossl_verify),
    ("JWS ES256 sign [op/s]", ops("BM_jws_es256_sign_acon"), ops("BM_jws_es256_sign_raw_evp"),
     None),
    ("JWS ES256 verify [op/s]", ops("BM_jws_es256_verify_acon"),
     ops("BM_jws_es256_verify_raw_evp"), None),
    ("JWE ECDH-ES+A256KW/A256GCM 256 B [op/s]", ops("BM_jwe_ecdh_es_a256kw_a256gcm_acon"),
     ops("BM_jwe_ecdh_es_a256kw_a256gcm_raw_evp"), None),
    ("  part: P-256 keygen [op/s]", ops("BM_ec_p256_keygen_acon"),
     ops("BM_ec_p256_keygen_raw_evp"), None),
    ("  part: P-256 ECDH [op/s]", ops("BM_ecdh_p256_acon"), ops("BM_ecdh_p256_raw_evp"), None),
]


def num(v):
    if v is None:
        return "-"
    return f"{v:,.0f}" if v >= 100 else f"{v:,.1f}"


header = ("primitive", "acon", "raw EVP", "acon/raw", "openssl speed", "acon/openssl")
table = [header]
slow = []
for label, acon, raw, ossl in rows:
    r = acon / raw
    if r < 0.90:
        slow.append(label.strip())
    table.append((label, num(acon), num(raw), f"{r:.2f}", num(ossl),
                  "-" if ossl is None else f"{acon / ossl:.2f}"))

widths = [max(len(row[i]) for row in table) for i in range(len(header))]


def line(row):
    cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
    return "| " + " | ".join(cells) + " |"


ctx = doc.get("context", {})
print(f"acon crypto benchmarks: {ctx.get('date', '?')}, {ctx.get('num_cpus', '?')} CPUs, "
      f"{ossl_version}; median of {reps} repetitions, rates per CPU second")
print(line(header))
print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
for row in table[1:]:
    print(line(row))
print("acon/raw >= 0.90 means within 10% of raw EVP. Below that: " +
      (", ".join(slow) if slow else "none"))
PY

# --- event-log table ---
"$python" - "$out/eventlog.json" "$out/peer.json" "$reps" <<'PY'
import json
import sys

bench_path, peer_path, reps = sys.argv[1:4]


def die(msg):
    print(f"bench.sh: FAILED: {msg}", file=sys.stderr)
    sys.exit(1)


with open(bench_path) as f:
    doc = json.load(f)
with open(peer_path) as f:
    peer = json.load(f)

results = {}
for b in doc["benchmarks"]:
    if b.get("error_occurred"):
        die(f"{b['name']}: {b.get('error_message', 'error')}")
    if b.get("aggregate_name") in (None, "median"):
        results[b["run_name"]] = b


def rate(name, key):
    b = results.get(name)
    if b is None or key not in b:
        die(f"benchmark {name} ({key}) missing from the JSON output")
    return float(b[key])


def events(name):
    return rate("BM_eventlog_" + name, "events")


def num(v):
    if v is None:
        return "-"
    return f"{v:,.0f}" if v >= 100 else f"{v:,.2f}"


parse_mbps = rate("BM_eventlog_parse", "bytes_per_second") / 1e6
acon_ms, tpm2_ms = peer["acon_median_s"] * 1e3, peer["tpm2_median_s"] * 1e3
limit = events("sha384_limit")
# (label, acon, reference, acon/reference as a speed ratio)
rows = [
    ("eventlog parse [MB/s]", parse_mbps, None, None),
    ("eventlog parse [events/s]", events("parse"), None, None),
    ("parse+replay [events/s]", events("parse_replay"), None, None),
    ("parse+replay+decode, as dump [events/s]", events("parse_replay_decode"), None, None),
    ("replay vs SHA-384 limit (ratio) [events/s]", events("parse_replay"), limit,
     events("parse_replay") / limit),
    ("  part: replay alone vs limit [events/s]", events("replay_only"), limit,
     events("replay_only") / limit),
    ("whole process: acon-eventlog replay vs tpm2_eventlog [ms]", acon_ms, tpm2_ms,
     tpm2_ms / acon_ms),
]

header = ("event log", "acon", "reference", "acon/ref")
table = [header] + [(l, num(a), num(r), "-" if x is None else f"{x:.2f}") for l, a, r, x in rows]
widths = [max(len(row[i]) for row in table) for i in range(len(header))]


def line(row):
    cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
    return "| " + " | ".join(cells) + " |"


print()
print(f"acon event log: cc-trusted-api ccel_data.bin ({peer['raw_size']:,} B area, log "
      f"{peer['log_end']:,} B, {peer['events']} events); median of {reps} repetitions, rates per "
      f"CPU second; processes: median wall time of {peer['runs']} runs each")
print(line(header))
print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
for row in table[1:]:
    print(line(row))
print("acon/ref is a speed ratio: acon rate / reference rate, or for the processes tpm2_eventlog "
      "time / acon-eventlog time (each a fork+exec of the whole tool: acon on the raw log, "
      "tpm2_eventlog on the normalized copy it needs). SHA-384 limit: raw EVP_Digest of "
      "MR||digest (96 B) per extended event.")
PY

# --- images, layers, DCAP verification, EAR tokens and whole appraisals: each program prints
# its own rate counters next to the raw crypto it is bounded by, measured in the same run ---
# (layer hashing / raw SHA-384, policy admission into a 1,000-image pod, manifest verification /
# raw ECDSA, DCAP verifications/s / raw P-256 verifies/s, EAR JWT/CWT issuing / prepared ES256
# signs/s, appraisals/s / each part, raw P-256 verify, ES256 sign).
benches=(acon_bench_layer acon_bench_image_policy acon_bench_verify acon_bench_ear
  acon_bench_appraisal)
step "building ${benches[*]}"
cmake --build "$build_dir" --target "${benches[@]}" \
  >"$out/build2.log" 2>&1 || { tail -n 40 "$out/build2.log" >&2; fail "build"; }
for b in "${benches[@]}"; do
  echo
  echo "$b (min_time ${min_time}s x ${reps} repetitions, medians)"
  "$build_dir/bench/$b" --benchmark_min_time="$min_time" --benchmark_repetitions="$reps" \
    --benchmark_report_aggregates_only=true 2>/dev/null | grep -E '_median|^Benchmark|^-' ||
    fail "$b"
done
