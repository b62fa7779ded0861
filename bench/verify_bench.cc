// Full DCAP verification of a real TDX v4 quote (phala-dcap-qvl/tdx_quote at its pinned time):
// - BM_verify_cold (a): no cache; every chain, CRL and collateral signature checked (13 nominal
//   ECDSA verifications, docs/dcap-verification.md §13; 9 real ones: the root's self-signature is
//   checked once per process and the root CA CRL / TCB signing certificate once per call),
//   collateral parsed once outside the loop;
// - BM_verify_cold_with_collateral_parse: the same plus parsing the collateral bundle each time;
// - BM_verify_collateral_cached (b): collateral verified before, the PCK chain (and QE report)
//   verified anew;
// - BM_verify_warm (c): a platform seen before: one ECDSA verification, the quote signature
//   (PCK chain, collateral and QE report signature come from the VerificationCache);
// - BM_ecdsa_p256_verify: one raw P-256 verify, the figure `openssl speed ecdsap256` reports;
// - *_mt/threads:N (d): cold, warm (one shared cache) and raw verify on all cores, total rate.
// Counter "ecdsa_per_quote" is the verdict's (nominal) ecdsa_verifications; "quotes" is per CPU
// second for the single-thread cases, so compare it with the raw verify of the same run.
// Measured here (this 2-vCPU dev VM, OpenSSL 3.0.19, raw P-256 verify ~15,700/s = 64 us):
//   first version: cold 1.68 ms (594/s), warm 0.22 ms (4470/s).
//   SignatureMemoScope + per-process anchor check: cold 1.05 ms (957/s), (b) 0.89 ms (1125/s),
//   warm 0.22 ms (4475/s), cold + bundle parse 2.18 ms (458/s).
//   Now: cold 0.75 ms (1,310-1,345/s; 11.8-12.1 raw verifies: the 9 verifies plus ~110 us for
//   OpenSSL 3.0 to decode the PCK leaf's public key in d2i_X509), (b) 0.56 ms (1,780-1,810/s),
//   warm 75 us (13,300/s; 1.19 raw verifies), cold + bundle parse 1.34 ms (746/s); 2 threads
//   (d): cold 2,600/s, warm 26,200/s, raw verify 31,600/s.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>

#include "acon/common/hash.h"
#include "acon/common/signature.h"
#include "acon/dcap/cache.h"
#include "acon/dcap/verify.h"

namespace {

using namespace acon;
using namespace acon::dcap;

constexpr int64_t kPinnedTime = 1751624191;  // vectors.json phala-tdx-v4-uptodate

std::string read_file(const std::string& relative) {
  std::ifstream in(std::string(ACON_TEST_DATA) + "/" + relative, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  if (ss.str().empty()) {
    std::fprintf(stderr, "acon_bench_verify: cannot read %s\n", relative.c_str());
    std::exit(1);
  }
  return ss.str();
}

struct Fixture {
  Bytes quote = to_bytes(read_file("quotes/phala-dcap-qvl/tdx_quote"));
  std::string collateral_json = read_file("quotes/phala-dcap-qvl/tdx_quote_collateral.json");
  Collateral collateral = [this] {
    auto parsed = parse_collateral_bundle(collateral_json);
    if (!parsed.ok()) {
      std::fprintf(stderr, "acon_bench_verify: %s\n", parsed.error().to_string().c_str());
      std::exit(1);
    }
    return *std::move(parsed);
  }();
  VerifyOptions options = [] {
    VerifyOptions o;
    o.at = Time(std::chrono::seconds(kPinnedTime));
    return o;
  }();
};

const Fixture& fixture() {
  static const Fixture f;
  return f;
}

// Times verify_quote on the fixture; `untimed_setup`, if given, runs before each iteration with
// the clock stopped.
void run_verify(benchmark::State& state, VerificationCache* cache, bool parse_collateral,
                const std::function<void()>& untimed_setup = {}) {
  const Fixture& f = fixture();
  VerifyOptions options = f.options;
  options.cache = cache;
  uint32_t ecdsa = 0;
  for (auto _ : state) {
    if (untimed_setup) {
      state.PauseTiming();
      untimed_setup();
      state.ResumeTiming();
    }
    Result<QuoteVerdict> verdict = [&]() -> Result<QuoteVerdict> {
      if (!parse_collateral) return verify_quote(f.quote, f.collateral, options);
      ACON_TRY(Collateral collateral, parse_collateral_bundle(f.collateral_json));
      return verify_quote(f.quote, collateral, options);
    }();
    if (!verdict.ok() || !verdict->accepted) {
      state.SkipWithError("verification failed");
      break;
    }
    ecdsa = verdict->ecdsa_verifications;
    benchmark::DoNotOptimize(verdict);
  }
  state.counters["ecdsa_per_quote"] = benchmark::Counter(ecdsa, benchmark::Counter::kAvgThreads);
  state.counters["quotes"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_verify_cold(benchmark::State& state) { run_verify(state, nullptr, false); }
BENCHMARK(BM_verify_cold);

void BM_verify_cold_with_collateral_parse(benchmark::State& state) {
  run_verify(state, nullptr, true);
}
BENCHMARK(BM_verify_cold_with_collateral_parse);

void BM_verify_warm(benchmark::State& state) {
  VerificationCache cache;
  (void)verify_quote(fixture().quote, fixture().collateral, [&] {
    VerifyOptions o = fixture().options;
    o.cache = &cache;
    return o;
  }());
  run_verify(state, &cache, false);
}
BENCHMARK(BM_verify_warm);

// (b) Collateral already verified, PCK chain new: before each iteration (untimed) the cache is
// emptied and only the collateral key put back, so the PCK chain and its CRLs are re-verified.
void BM_verify_collateral_cached(benchmark::State& state) {
  const Fixture& f = fixture();
  VerificationCache cache;
  run_verify(state, &cache, false, [&] {
    cache.clear();
    cache.remember_collateral(f.collateral, f.options.anchors);
  });
}
BENCHMARK(BM_verify_collateral_cached);

// (d) All cores: nproc threads sharing one warm VerificationCache (or none: cold). Rates are the
// total over all threads per wall-clock second: Google Benchmark sums the per-thread iteration
// counters and, with UseRealTime, divides rates by the (per-thread averaged) wall time. (Earlier
// versions also multiplied by threads(), which counted every quote threads() times.)
VerificationCache& shared_cache() {
  static VerificationCache cache;
  return cache;
}

void BM_verify_warm_mt(benchmark::State& state) {
  if (state.thread_index() == 0) {
    VerifyOptions o = fixture().options;
    o.cache = &shared_cache();
    (void)verify_quote(fixture().quote, fixture().collateral, o);
  }
  run_verify(state, &shared_cache(), false);
}

void BM_verify_cold_mt(benchmark::State& state) { run_verify(state, nullptr, false); }

// The quote signature alone: one P-256 verify with the raw attestation key.
void BM_ecdsa_p256_verify(benchmark::State& state) {
  const Fixture& f = fixture();
  auto quote = tdx::parse_quote(f.quote);
  auto key = PublicKey::from_ec_xy(Curve::p256, quote->signature.attestation_key);
  Bytes digest_input(quote->signed_region().begin(), quote->signed_region().end());
  for (auto _ : state) {
    auto st = verify(*key, {SigKind::ecdsa, HashAlg::sha256}, digest_input,
                     quote->signature.quote_signature, EcdsaEncoding::raw);
    if (!st.ok()) {
      state.SkipWithError("verify failed");
      break;
    }
  }
  state.counters["verifies"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ecdsa_p256_verify);

const int kThreads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
BENCHMARK(BM_verify_cold_mt)->Threads(kThreads)->UseRealTime();
BENCHMARK(BM_verify_warm_mt)->Threads(kThreads)->UseRealTime();
BENCHMARK(BM_ecdsa_p256_verify)->Threads(kThreads)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
