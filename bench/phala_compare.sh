#!/usr/bin/env bash
# Compares acon's from-scratch DCAP verification rate with @phala/dcap-qvl (pure JavaScript) on
# the same vector: tests/data/quotes/phala-dcap-qvl/tdx_quote + tdx_quote_collateral.json at the
# pinned time of vectors.json "phala-tdx-v4-uptodate". @phala/dcap-qvl is installed by this script
# only, into a temporary directory (npm install --no-save --prefix), never into the repository.
# Both sides verify single-threaded with nothing cached; both rates and acon/phala are printed.
#
# Environment:
#   BUILD_DIR        build directory holding bench/acon_bench_verify (default: build-bench)
#   PHALA_RUNS       timed verifications in node (default 300, after 20 warm-up runs)
#   BENCH_MIN_TIME   --benchmark_min_time for acon (default 1)
#   PHALA_VERSION    npm version spec of @phala/dcap-qvl (default: latest)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-$root/build-bench}
runs=${PHALA_RUNS:-300}
min_time=${BENCH_MIN_TIME:-1}
spec=@phala/dcap-qvl${PHALA_VERSION:+@$PHALA_VERSION}
data=$root/tests/data/quotes
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
step() { echo "phala_compare.sh: $*" >&2; }

now=$(node -e '
const v = require(process.argv[1]);
const list = Array.isArray(v) ? v : (v.vectors || []);
const e = list.find((x) => x.id === "phala-tdx-v4-uptodate");
if (!e) { process.exit(1); }
console.log(e.now_unix);' "$data/vectors.json")

step "installing $spec into $tmp"
npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$tmp" "$spec" >&2

step "building acon_bench_verify in $build_dir"
if [ ! -f "$build_dir/build.ninja" ]; then
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DACON_BUILD_TESTS=OFF \
    -DACON_BUILD_BENCH=ON >&2
fi
cmake --build "$build_dir" --target acon_bench_verify >&2

step "timing @phala/dcap-qvl verify ($runs runs)"
phala_rate=$(cd "$tmp" && node - "$data/phala-dcap-qvl/tdx_quote" \
  "$data/phala-dcap-qvl/tdx_quote_collateral.json" "$now" "$runs" <<'JS'
const fs = require('fs');
const { verify } = require(require.resolve('@phala/dcap-qvl', { paths: [process.cwd()] }));
const [quotePath, collateralPath, now, runs] = process.argv.slice(2);
const quote = fs.readFileSync(quotePath);
const collateral = JSON.parse(fs.readFileSync(collateralPath, 'utf8'));
const at = Number(now);
const first = verify(quote, collateral, at);
if (!first || !first.status) throw new Error('verify returned no status');
process.stderr.write(`phala_compare.sh: @phala/dcap-qvl status ${first.status}\n`);
for (let i = 0; i < 20; i++) verify(quote, collateral, at);
const n = Number(runs);
const t0 = process.cpuUsage();
for (let i = 0; i < n; i++) verify(quote, collateral, at);
const t = process.cpuUsage(t0);
console.log((n / ((t.user + t.system) / 1e6)).toFixed(1));
JS
)

step "timing acon BM_verify_cold"
acon_rate=$("$build_dir/bench/acon_bench_verify" --benchmark_filter='^BM_verify_cold$' \
  --benchmark_min_time="$min_time" --benchmark_format=json |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{
    const b=JSON.parse(s).benchmarks.find(x=>x.name==="BM_verify_cold");
    console.log(b.quotes.toFixed(1));})')

version=$(node -p "require('$tmp/node_modules/@phala/dcap-qvl/package.json').version")
printf '%-44s %14s\n' "DCAP verify, from scratch, 1 thread" "verifications/s"
printf '%-44s %14s\n' "acon (BM_verify_cold)" "$acon_rate"
printf '%-44s %14s\n' "@phala/dcap-qvl $version (node $(node -v))" "$phala_rate"
printf '%-44s %14s\n' "ratio acon / phala" "$(node -p "($acon_rate / $phala_rate).toFixed(2)")"
