#!/usr/bin/env bash
# scripts/kbs_bench.sh --replicas: bench/kbs_load_bench.cc against acon-kbs processes — one
# replica on SQLite, then one and three replicas on one temporary PostgreSQL — in one run, with
# the database round trips per flow and per GET read from the replicas' /metrics
# (kbs_storage_round_trips_total, counted in the PostgreSQL backend). Rate limiting is off: the
# 64 clients share one address. ACON_KBS_BENCH_PG_OPTIONS adds server options, e.g.
# "-c synchronous_commit=off" to see what the commit flushes cost; ACON_KBS_BENCH_THREADS sets
# each replica's [server] threads (default: one per core), with pool_size to match on PostgreSQL.
# Usage: scripts/kbs_bench_replicas.sh BUILD_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -x $pgbin/initdb ]] || { echo "kbs_bench: PostgreSQL server binaries missing (Debian: postgresql)" >&2; exit 2; }

work=$(mktemp -d)
pids=()
as_pg=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [[ -f $work/pg/data/postmaster.pid ]] && "${as_pg[@]}" "$pgbin/pg_ctl" -D "$work/pg/data" -m immediate stop >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

# PostgreSQL refuses to run as root: then as nobody, on a Unix socket in the work directory.
mkdir -p "$work/pg"
if [[ $(id -u) == 0 ]]; then
  chmod 755 "$work"
  chown nobody "$work/pg"
  as_pg=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
fi
"${as_pg[@]}" "$pgbin/initdb" -D "$work/pg/data" -U acon --auth=trust -E UTF8 --locale=C >/dev/null
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w \
  -o "-k $work/pg -c listen_addresses= -c max_connections=200 ${ACON_KBS_BENCH_PG_OPTIONS:-}" \
  start >/dev/null
pg_url() { echo "host=$work/pg user=acon dbname=$1"; }
psql_q() { psql -qAt "$(pg_url postgres)" -c "$1"; }

"$build/tools/acon-sim" create --state "$work/td.json" >/dev/null
"$build/tools/acon-sim" root --state "$work/td.json" --out "$work/sim-root.pem"
"$build/tools/acon-sim" collateral --state "$work/td.json" --out "$work/collateral.json"
head -c 32 /dev/urandom >"$work/secret"

start_replica() {  # config -> prints the URL
  local out=$work/replica-$RANDOM.out
  "$build/tools/acon-kbs" --config "$1" >"$out" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do grep -q "listening on" "$out" 2>/dev/null && break; sleep 0.1; done
  sed -n 's/.*listening on //p' "$out" | head -1
}
metric() {  # urls... -> the sum of one metric line's value over the replicas ($metric_name)
  local total=0 v
  for u in "$@"; do
    v=$(curl -s "$u/metrics" | awk -v m="$metric_name" '$1 == m {print $2}')
    total=$((total + ${v:-0}))
  done
  echo "$total"
}

# One configuration: `acon-kbs init`, storage as given, policies and the secret stored through
# the first replica before the others start (policies are read at start), then the benchmarks.
run_config() {
  local label=$1 replicas=$2 storage=$3
  local dir=$work/$label
  "$build/tools/acon-kbs" init "$dir" --listen 127.0.0.1:0 --insecure-http \
    --simulated-root "$work/sim-root.pem" --collateral "$work/collateral.json" >/dev/null
  python3 - "$dir/config.toml" "$storage" "${ACON_KBS_BENCH_THREADS:-}" <<'PY'
import sys
path, storage, threads = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(path).read()
text = text.replace('per_second = 50', 'per_second = 0')
if threads:
    text = text.replace('[server]\n', '[server]\nthreads = %s\n' % threads, 1)
if storage:
    text = text.replace('type = "sqlite"\npath = "kbs.db"\n', storage)
open(path, 'w').write(text)
PY
  local urls=()
  urls+=("$(start_replica "$dir/config.toml")")
  local client=("$build/tools/acon-kbs-client" --url "${urls[0]}" --insecure-http)
  local admin=(--admin-key "$dir/keys/admin.pem")
  "${client[@]}" set-policy --resource tests/data/kbs/sim-resource.toml "${admin[@]}"
  "${client[@]}" set-policy --attestation tests/data/kbs/sim-attestation.toml "${admin[@]}"
  "${client[@]}" set-resource default/key/1 --file "$work/secret" "${admin[@]}"
  for _ in $(seq 2 "$replicas"); do urls+=("$(start_replica "$dir/config.toml")"); done
  local list
  list=$(IFS=,; echo "${urls[*]}")
  for bench in BM_flow BM_get_cookie; do
    metric_name=kbs_storage_round_trips_total
    local trips0 trips1 ops0 ops1
    trips0=$(metric "${urls[@]}")
    if [[ $bench == BM_flow ]]; then metric_name='kbs_attestation_total{outcome="token"}'; else metric_name='kbs_resource_requests_total{outcome="released"}'; fi
    ops0=$(metric "${urls[@]}")
    echo "== $label ($replicas replica(s)): $bench"
    ACON_KBS_BENCH_URLS=$list ACON_KBS_BENCH_SIM_STATE=$work/td.json \
      "$build/bench/acon_bench_kbs_load" --benchmark_filter="^$bench/.*threads:(16|64)\$" \
      --benchmark_min_time=3 2>&1 | grep -E "^BM_|^-|^Benchmark" || true
    ops1=$(metric "${urls[@]}")
    metric_name=kbs_storage_round_trips_total
    trips1=$(metric "${urls[@]}")
    awk -v t=$((trips1 - trips0)) -v n=$((ops1 - ops0)) -v what="${bench#BM_}" \
      'BEGIN { if (n > 0) printf "  database round trips per %s: %.2f (%d over %d)\n", what, t / n, t, n }'
  done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
}

run_config sqlite 1 ""
psql_q "CREATE DATABASE kbs1"
pool=${ACON_KBS_BENCH_THREADS:-8}
run_config postgres-1 1 "type = \"postgres\"
url = \"$(pg_url kbs1)\"
pool_size = $pool
"
psql_q "CREATE DATABASE kbs3"
run_config postgres-3 3 "type = \"postgres\"
url = \"$(pg_url kbs3)\"
pool_size = $pool
"
