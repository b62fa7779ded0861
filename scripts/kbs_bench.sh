#!/usr/bin/env bash
# The KBS's load figures (issue 13): the in-process load generator (bench/kbs_load_bench.cc:
# RCAR flows and Bearer GETs at 1, 16 and 64 clients of the client library, p50/p99, and each
# operation's crypto cost and crypto limit measured in the same run), then Debian's wrk as an
# independent load tool: Bearer GETs against the acon-kbs process at 16 and 64 connections.
# With --replicas, instead: the same load generator against acon-kbs processes, one replica on
# SQLite, then one and three replicas on a temporary PostgreSQL (Debian postgresql, default
# durability: fsync and synchronous_commit on), in one run; flows/s and cookie GETs/s at 16 and
# 64 clients, and the database round trips per flow and per GET from the replicas' metrics.
# Usage: scripts/kbs_bench.sh [--replicas] [BUILD_DIR]   (a Release build with benchmarks)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=all
if [[ ${1:-} == --replicas ]]; then
  mode=replicas
  shift
fi
build=${1:-build}
for bin in bench/acon_bench_kbs_load tools/acon-kbs tools/acon-kbs-client tools/acon-sim; do
  [[ -x $build/$bin ]] || { echo "kbs_bench: $build/$bin missing; build with -DACON_BUILD_BENCH=ON" >&2; exit 2; }
done
command -v wrk >/dev/null || { echo "kbs_bench: wrk missing (scripts/install-deps.sh)" >&2; exit 2; }

if [[ $mode == replicas ]]; then
  exec bash scripts/kbs_bench_replicas.sh "$build"
fi

echo "== in-process load generator (client library, loopback)"
"$build/bench/acon_bench_kbs_load" --benchmark_min_time=3

work=$(mktemp -d)
pid=
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
"$build/tools/acon-sim" create --state "$work/td.json" >/dev/null
"$build/tools/acon-sim" root --state "$work/td.json" --out "$work/sim-root.pem"
"$build/tools/acon-sim" collateral --state "$work/td.json" --out "$work/collateral.json"
"$build/tools/acon-kbs" init "$work/kbs" --listen 127.0.0.1:0 --insecure-http \
  --simulated-root "$work/sim-root.pem" --collateral "$work/collateral.json" >/dev/null
"$build/tools/acon-kbs" --config "$work/kbs/config.toml" >"$work/kbs.out" &
pid=$!
for _ in $(seq 100); do grep -q "listening on" "$work/kbs.out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/.*listening on //p' "$work/kbs.out" | head -1)
client=("$build/tools/acon-kbs-client" --url "$url" --insecure-http)
admin=(--admin-key "$work/kbs/keys/admin.pem")
"${client[@]}" set-policy --resource tests/data/kbs/sim-resource.toml "${admin[@]}"
"${client[@]}" set-policy --attestation tests/data/kbs/sim-attestation.toml "${admin[@]}"
head -c 32 /dev/urandom >"$work/secret"
"${client[@]}" set-resource default/key/1 --file "$work/secret" "${admin[@]}"
"${client[@]}" attest --evidence "sim:$work/td.json" --token-out "$work/token" \
  --tee-key-out "$work/tee.pem" >/dev/null
echo "== token: $(wc -c <"$work/token") bytes"
# The server's CPU time (user + system, all threads) from /proc, in clock ticks: divided by the
# requests wrk completed, it is the server's cost per GET, which other load on the machine
# changes far less than the rate.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
for connections in 16 64; do
  echo "== wrk: Bearer GETs, $connections connections, 2 threads, 10 s"
  before=$(cpu_ticks)
  wrk -t2 -c"$connections" -d10s --latency -H "Authorization: Bearer $(cat "$work/token")" \
    "$url/kbs/v0/resource/default/key/1" >"$work/wrk.out"
  after=$(cpu_ticks)
  sed -n '1,/Requests\/sec/p' "$work/wrk.out"
  requests=$(awk '/requests in/ {print $1}' "$work/wrk.out")
  awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$requests" \
    'BEGIN { if (n > 0) printf "  acon-kbs CPU per GET: %.0f us\n", t / hz / n * 1e6 }'
done
