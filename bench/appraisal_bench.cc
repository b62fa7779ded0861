// Appraisal of real TDX evidence per core, next to the cost of its parts measured in the same run
// (issue 11: >= 5,000 appraisals/s per core).
//
// Evidence: the phala-dcap-qvl TDX v4 quote with its Intel collateral at the pinned time (warm
// dcap::VerificationCache: the collateral and PCK chain were verified before, as for a platform
// seen before), the cc-trusted-api CCEL (tests/data/eventlog/cc-trusted-api/ccel_data.bin) and 10
// TCG2 AAEL runtime records (EV_EVENT_TAG, written with eventlog's aael_record). tests/data holds
// no quote that has both Intel collateral and its own CCEL (the cc-trusted-api quote matches its
// CCEL but has no collateral here), so the CCEL and the AAEL records come from another TD than the
// quote: the replay checks fail and the policy gives executables 96. That costs what a passing
// replay costs (every event is hashed and compared either way); the figures are costs, not an
// accepted appraisal.
//
// BM_appraise_pipeline/appraise_sign is the appraisal and its token: appraise(evidence, policy,
// references, options) (quote signature + TCB, bindings, init-data, replay, Trustee's TDX claims,
// images, the policy, policies/default_cpu.toml with reference values for its names, and the EAR)
// then sign_ear_jwt. BM_appraise_pipeline/kbs_attest adds what the KBS's /attest does on top:
// a copy of the EAR (its annotated evidence shared), which the session keeps for its resource
// policy (until 2026-12-03 the KBS kept ear_to_json's tree, a copy of the whole claims, ~90 us of
// this pipeline). BM_part_* time each step alone on the same inputs; BM_p256_verify_raw (one P-256
// verify with raw OpenSSL EVP calls) and BM_es256_sign_prepared (one ES256 sign) are the crypto
// floors. BM_crypto_floor_1verify_1sign is the cryptography a warm DCAP appraisal cannot do
// without: the quote signature verified and the token signed. (The QE report signature is the same
// for every quote of a platform, and the warm dcap::VerificationCache has verified it before; until
// the commit of this line the floor counted that second verify, ~44 us here, which the pipeline
// does not spend, so the ratios below read lower than they were.) The pipeline's x_crypto_floor
// counter is its CPU time per appraisal over that floor's, both measured in this run, so it
// reads the same on a fast or a slow machine. Every other counter is a rate per CPU second.
//
// BM_appraise_pipeline/appraise_sign_warm and kbs_attest_warm are the same with a
// FirmwareLogCache that has seen this CCEL (a fleet of TDs booted from the same firmware, kernel
// and command line): the firmware events' Trustee entries and RTMR values come from it. The
// fixture checks that the warm pipeline's token is the cold one's, byte for byte (but the
// signature). x_target is a pipeline's CPU time over issue 11's budget (200 us, 5,000/s per
// core); floors_of_target the floors of this run over that budget. BM_part_sign_ear_jwt reports
// one ES256 signature over its signing input (sign_floor_us: SHA-256 of the 77 KB, then ECDSA)
// and floor_of_target, that floor over issue 11's 50 us per token (20,000/s): above 1, no writer
// of this token can meet the target on this machine.
//
// BM_hash_floor_events_extends_token is the hashing the outputs need on top of that: SHA-384
// over each of the 98 CCEL events' data (Trustee's digest_matches_event), 108 SHA-384 extensions
// (the replay) and SHA-256 over the 77 KB signing input of the token (the floor's ES256 sign is
// over 64 bytes so that this hashing is counted once); the pipeline's x_output_floor counter is
// its CPU time over crypto floor + hash floor.
//
// History. At 3.1 ms per appraisal (12.9x the crypto floor) the time went to Trustee's
// uefi_event_logs built as nlohmann initializer lists, an EVP context per event digest, the text of
// every failed policy condition, a description string per replayed event and the attestation key
// decoded per quote; fixing those gave 1.52 ms (6.0x). Then (issue 11 item 8, before = c6a2974,
// after = this file's commit, both binaries run alternately twice on the 2-vCPU dev VM at load
// average 5-7 from other builds, medians of 5 repetitions, CPU time):
//   pipeline 659/665 -> 682/630 us (noise: the two rounds disagree by more than the change);
//   sign_ear_jwt of the 77 KB token 120/170 -> 103/102 us (the claims text is written into a
//   per-thread buffer instead of a string regrown 5-6 times per token); tdx_claims 148/172 ->
//   149/145 us; callgrind: -1.7% instructions in appraise() + sign_ear_jwt().
//   crypto floor 111-119 us, hash floor 88 us: the outputs cannot cost less than ~200-210 us
//   here, so issue 11's 5,000 appraisals/s per core (200 us) is at the floor of this evidence
//   on this machine, and x_output_floor (~3) is the measure to watch.
// Then the claims document and the EAR's annotated evidence became one shared tree (no copy, one
// free), ear_to_json stopped writing and re-parsing the 77 KB claims, and the floor lost the QE
// report verify the warm cache never does (231f38b -> this file's commit, alternating, medians):
// appraise_sign 521 -> 436 us, 3.6 -> 2.9 times crypto floor (61 us) + hash floor (88 us);
// kbs_attest ~1,030 -> 611 us. docs/evidence.md §5 has the table, where the rest goes (the
// claims as nlohmann trees: built, written, freed; a fifth of the samples are malloc/free) and
// why 5,000/s (200 us, ~50 us above the floors) needs another claims representation.
// Then (2026-12-03, 13a6225 -> c7141f8) the token of a warm appraisal stopped being written,
// encoded and hashed in full: the firmware entries' text and the SHA-256 state of the token up to
// their end are kept (docs/ear.md, "Signing"), and the claims document's copy of the cached
// entries is given back to the cache when it is freed instead of copied and freed per appraisal.
// The warm hash floor now counts SHA-256 over the bytes hashed per token (hashed_bytes of
// BM_part_sign_ear_jwt/warm, ~16 KB), not over the whole signing input. docs/evidence.md §5.4.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>

#include <time.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "acon/appraisal/appraise.h"
#include "acon/appraisal/checks.h"
#include "acon/appraisal/claims.h"
#include "acon/appraisal/ear.h"
#include "acon/appraisal/evidence.h"
#include "acon/appraisal/firmware_log_cache.h"
#include "acon/appraisal/policy.h"
#include "acon/appraisal/reference_values.h"
#include "acon/common/signature.h"
#include "acon/dcap/cache.h"
#include "acon/dcap/collateral.h"
#include "acon/eventlog/event_log.h"
#include "acon/eventlog/runtime.h"
#include "acon/tdx/quote.h"
#include "bench_util.h"

namespace {

using acon::bench::die;
using acon::bench::thread_cpu_seconds;

using namespace acon;
using namespace acon::appraisal;
using namespace std::chrono_literals;

constexpr int64_t kPinnedTime = 1751624191;  // vectors.json phala-tdx-v4-uptodate
constexpr int kAaelRecords = 10;

template <class T>
T must(Result<T> r, const char* what) {
  if (!r.ok()) die(std::string(what) + ": " + r.error().to_string());
  return std::move(r).value();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  if (ss.str().empty()) die("cannot read " + path);
  return ss.str();
}
std::string read_data(const std::string& relative) {
  return read_file(std::string(ACON_TEST_DATA) + "/" + relative);
}

struct Fixture {
  const Time now = Time(std::chrono::seconds(kPinnedTime));
  Evidence evidence = [] {
    Evidence e;
    e.platform = Platform::tdx;
    e.tdx.quote = to_bytes(read_data("quotes/phala-dcap-qvl/tdx_quote"));
    e.tdx.ccel = to_bytes(read_data("eventlog/cc-trusted-api/ccel_data.bin"));
    Bytes aael;
    for (int i = 0; i < kAaelRecords; ++i) {
      eventlog::AaelEvent event{"github.com/confidential-containers", "CreateContainer",
                                "registry.example/app:" + std::to_string(i)};
      Bytes record = must(eventlog::aael_record(4, HashAlg::sha384, event), "aael record");
      aael.insert(aael.end(), record.begin(), record.end());
    }
    e.tdx.runtime_aael = std::move(aael);
    return e;
  }();
  dcap::VerificationCache cache;
  AppraiseOptions appraise_options = [this] {
    AppraiseOptions o;
    o.evidence.at = now;
    o.evidence.collateral = must(
        dcap::parse_collateral_bundle(read_data("quotes/phala-dcap-qvl/tdx_quote_collateral.json")),
        "collateral");
    o.evidence.cache = &cache;
    return o;
  }();
  const AppraisalOptions& options = appraise_options.evidence;
  // The same with a firmware-log cache that has seen this CCEL (a fleet of TDs booted alike).
  std::shared_ptr<FirmwareLogCache> firmware_cache = std::make_shared<FirmwareLogCache>();
  AppraiseOptions warm_options = [this] {
    AppraiseOptions o = appraise_options;
    o.evidence.firmware_log_cache = firmware_cache;
    return o;
  }();
  Policy policy = must(parse_policy(read_file(std::string(ACON_SOURCE_DIR) +
                                              "/verifier/appraisal/policies/default_cpu.toml"),
                                    "default_cpu.toml"),
                       "policy");
  tdx::Quote quote = must(tdx::parse_quote(evidence.tdx.quote), "quote");
  eventlog::EventLog ccel = must(eventlog::parse_event_log(*evidence.tdx.ccel), "ccel");
  // The outputs of each step, the inputs of the next in the part benches.
  EvidenceAppraisal evidence_appraisal;
  ReferenceValueStore references;
  Appraisal appraisal;
  Ear ear;
  Ear warm_ear;  // with the firmware events' uefi_event_logs entries prewritten
  PrivateKey signing_key = must(PrivateKey::generate_ec(Curve::p256), "key");
  EarSigner signer = must(EarSigner::create(signing_key), "signer");

  Fixture() {
    evidence_appraisal = appraise_evidence(evidence, options);  // warms the cache
    if (!evidence_appraisal.verdict || !evidence_appraisal.verdict->accepted)
      die("the quote does not verify at its pinned time");
    // Reference values for every name default_cpu.toml asks for: the quote's own registers (so
    // those conditions are evaluated to the end) and one digest for the CCEL kernel events.
    auto put = [&](const std::string& name, Json value) {
      ReferenceValue rv;
      rv.name = name;
      rv.expiration = now + 24h * 365;
      rv.values = {std::move(value)};
      references.put(std::move(rv));
    };
    const Json& body = evidence_appraisal.claims->at("tdx").at("quote").at("body");
    for (const char* name : {"mr_td", "rtmr_1", "rtmr_2", "xfam"}) put(name, body[name]);
    put("tdvfkernel", std::string(96, '0'));
    put("tdvfkernelparams", std::string(96, '0'));
    AttestationResult result =
        must(appraise(evidence, policy, references, appraise_options), "appraise");
    appraisal = result.appraisal;
    ear = result.ear;
    // Warms the firmware-log cache; the warm pipeline must issue the same token.
    AttestationResult warm = must(appraise(evidence, policy, references, warm_options), "warm");
    const std::string cold_token = must(sign_ear_jwt(ear, signer), "cold token");
    const std::string warm_token = must(sign_ear_jwt(warm.ear, signer), "warm token");
    if (cold_token.substr(0, cold_token.rfind('.')) != warm_token.substr(0, warm_token.rfind('.')))
      die("the warm firmware-log cache changed the token");
    warm_ear = std::move(warm.ear);
    if (!warm_ear.submods.begin()->second.prewritten_event_log)
      die("the warm appraisal gave no prewritten uefi_event_logs entries");
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

// The fixture's evidence as the body of a KBS /attest request (kbs-types Attestation, TDX primary
// evidence in CoCo's attester packing: cc_eventlog = the CCEL's events, then the AAEL records),
// with a runtime data of the shape a CoCo client sends (P-256 tee-pubkey).
std::string kbs_request_body(const Fixture& f) {
  Bytes cc_eventlog(f.evidence.tdx.ccel->begin(), f.evidence.tdx.ccel->begin() + f.ccel.end_offset);
  append(cc_eventlog, *f.evidence.tdx.runtime_aael);
  const std::string coordinate(43, 'A');  // base64url of 32 bytes
  const Json body = {{"init-data", nullptr},
                     {"runtime-data",
                      {{"nonce", "bm9uY2UtZnJvbS10aGUta2JzLWNoYWxsZW5nZQ=="},
                       {"tee-pubkey",
                        {{"kty", "EC"},
                         {"crv", "P-256"},
                         {"alg", "ECDH-ES+A256KW"},
                         {"x", coordinate},
                         {"y", coordinate}}}}},
                     {"tee-evidence",
                      {{"primary_evidence",
                        {{"cc_eventlog", base64_encode(cc_eventlog)},
                         {"quote", base64_encode(f.evidence.tdx.quote)}}},
                       {"additional_evidence", ""}}}};
  return body.dump();
}

// The cryptography a warm DCAP appraisal cannot do without: one P-256 verification (the quote
// signature; the QE report signature is cached per platform) and one ES256 signature (the
// token), as raw OpenSSL calls on prepared keys. Returns false if one fails.
// The floor's ES256 sign hashes next to nothing: the token's hashing is in HashFloor.
constexpr size_t kFloorSignInputBytes = 64;

bool crypto_floor_once(Fixture& f, const PublicKey& key, const Bytes& der, ByteView signed_region,
                       ByteView sign_input) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok =
      ctx != nullptr &&
      EVP_DigestVerifyInit_ex(ctx, nullptr, "SHA256", nullptr, nullptr, key.get(), nullptr) == 1 &&
      EVP_DigestVerify(ctx, der.data(), der.size(), signed_region.data(), signed_region.size()) ==
          1;
  EVP_MD_CTX_free(ctx);
  if (!ok) return false;
  auto sig = f.signer.es256().sign(sign_input, EcdsaEncoding::raw);
  benchmark::DoNotOptimize(sig);
  return sig.ok();
}

// CPU seconds of one crypto_floor_once, measured now (in the same run, under the same load as
// the benchmark that divides by it) over about `budget` CPU seconds.
double crypto_floor_seconds(Fixture& f, double budget = 0.3) {
  PublicKey key = must(PublicKey::from_ec_xy(Curve::p256, f.quote.signature.attestation_key),
                       "attestation key");
  const Bytes der = must(ecdsa_raw_to_der(f.quote.signature.quote_signature), "signature");
  const std::string sign_input(kFloorSignInputBytes, 'a');
  const double start = thread_cpu_seconds();
  size_t rounds = 0;
  double elapsed = 0;
  do {
    if (!crypto_floor_once(f, key, der, f.quote.signed_region(), as_bytes(sign_input)))
      die("the crypto floor's verify or sign failed");
    ++rounds;
    elapsed = thread_cpu_seconds() - start;
  } while (elapsed < budget);
  return elapsed / static_cast<double>(rounds);
}

// The hashing the outputs themselves need, beyond the crypto floor, as raw EVP_Digest calls on
// MDs fetched once: SHA-384 over every CCEL event's data (Trustee's digest_matches_event), one
// SHA-384 over MR || digest (96 bytes) per replayed extension (the CCEL events and the AAEL
// records), and SHA-256 over a JWT signing input of `signing_input_bytes` (the token's size
// without its signature). No appraisal can issue this token for this evidence with less.
// With a warm firmware-log cache the firmware events' digests and extends were done before:
// `warm` counts only the runtime records' extends and the token's SHA-256.
struct HashFloor {
  EVP_MD* sha384 = EVP_MD_fetch(nullptr, "SHA2-384", nullptr);
  EVP_MD* sha256 = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
  std::vector<ByteView> event_data;  // hashed once each
  size_t extends = 0;
  std::string signing_input;

  HashFloor(const Fixture& f, size_t signing_input_bytes, bool warm = false)
      : signing_input(signing_input_bytes, 'a') {
    if (sha384 == nullptr || sha256 == nullptr) die("EVP_MD_fetch");
    for (const eventlog::Event& event : f.ccel.events) {
      if (event.number == 0 || warm) continue;
      event_data.push_back(event.data);
      if (event.type != eventlog::ev::kNoAction) ++extends;
    }
    extends += kAaelRecords;
  }
  ~HashFloor() {
    EVP_MD_free(sha384);
    EVP_MD_free(sha256);
  }
  HashFloor(const HashFloor&) = delete;
  HashFloor& operator=(const HashFloor&) = delete;

  bool once() const {
    std::array<uint8_t, 64> out{};
    std::array<uint8_t, 96> block{};
    unsigned int len = 0;
    bool ok = true;
    for (ByteView data : event_data)
      ok &= EVP_Digest(data.data(), data.size(), out.data(), &len, sha384, nullptr) == 1;
    for (size_t i = 0; i < extends; ++i) {
      block[0] = out[0];
      ok &= EVP_Digest(block.data(), block.size(), out.data(), &len, sha384, nullptr) == 1;
    }
    ok &= EVP_Digest(signing_input.data(), signing_input.size(), out.data(), &len, sha256,
                     nullptr) == 1;
    benchmark::DoNotOptimize(out);
    return ok;
  }
};

// The JWT signing input of the fixture's EAR: the token less its '.' and base64url signature.
size_t fixture_signing_input_bytes(Fixture& f) {
  const std::string token = must(sign_ear_jwt(f.ear, f.signer), "sign_ear_jwt");
  return token.rfind('.');
}

// What sign_ear_jwt hashes per token of the warm EAR: the signer hashed the token up to the end of
// the prewritten firmware entries once (docs/ear.md), so only the base64 of the claims after them
// is new.
size_t warm_signing_bytes_per_token(Fixture& f) {
  const size_t claims = ear_to_json_text(f.warm_ear).size();
  const size_t prewritten = f.warm_ear.submods.begin()->second.prewritten_event_log->text.size();
  return (claims - prewritten) * 4 / 3;
}

// CPU seconds of one HashFloor::once, measured now over about `budget` CPU seconds.
double hash_floor_seconds(const HashFloor& hashes, double budget = 0.3) {
  const double start = thread_cpu_seconds();
  size_t rounds = 0;
  double elapsed = 0;
  do {
    if (!hashes.once()) die("the hash floor's EVP_Digest failed");
    ++rounds;
    elapsed = thread_cpu_seconds() - start;
  } while (elapsed < budget);
  return elapsed / static_cast<double>(rounds);
}

void rate(benchmark::State& state, const char* name) {
  state.counters[name] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

// Issue 11's targets, as CPU time per operation on one core.
constexpr double kTargetAppraisalSeconds = 1.0 / 5000;  // 5,000 appraisals/s
constexpr double kTargetTokenSeconds = 1.0 / 20000;     // 20,000 EAR JWT signs/s

// with_session: also what the KBS's /attest keeps for the session. warm: with the fixture's
// firmware-log cache, which has seen this CCEL.
void BM_appraise_pipeline(benchmark::State& state, bool with_session, bool warm) {
  Fixture& f = fixture();
  size_t token_bytes = 0;
  // Measured once per process: Google Benchmark calls this function several times.
  static const double floor_seconds = crypto_floor_seconds(f);
  static const double hash_seconds = [&f] {
    const HashFloor hashes(f, fixture_signing_input_bytes(f));
    return hash_floor_seconds(hashes);
  }();
  static const double warm_hash_seconds = [&f] {
    const HashFloor hashes(f, warm_signing_bytes_per_token(f), /*warm=*/true);
    return hash_floor_seconds(hashes);
  }();
  const AppraiseOptions& options = warm ? f.warm_options : f.appraise_options;
  const double start = thread_cpu_seconds();
  for (auto _ : state) {
    auto result = appraise(f.evidence, f.policy, f.references, options);
    if (!result.ok() || !result->evidence.verdict) {
      state.SkipWithError("appraise failed or the quote reached no verdict");
      break;
    }
    bool json_form_exact = false;
    auto token = sign_ear_jwt(result->ear, f.signer, &json_form_exact);
    if (!token.ok() || !json_form_exact) {
      state.SkipWithError("sign_ear_jwt failed or its text is not the EAR's");
      break;
    }
    if (with_session) {
      Ear session_ear = result->ear;
      benchmark::DoNotOptimize(session_ear);
    }
    token_bytes = token->size();
    benchmark::DoNotOptimize(token);
  }
  const double per_appraisal = (thread_cpu_seconds() - start) /
                               static_cast<double>(std::max<int64_t>(state.iterations(), 1));
  rate(state, "appraisals");
  state.counters["token_bytes"] = static_cast<double>(token_bytes);
  // CPU time of one appraisal over the CPU time of its unavoidable cryptography, both measured
  // here: how far the pipeline is from the crypto limit of this machine, whatever its speed.
  state.counters["x_crypto_floor"] = per_appraisal / floor_seconds;
  state.counters["floor_us"] = floor_seconds * 1e6;
  // The same over the crypto floor plus the hashing this evidence and this token need
  // (HashFloor; warm: without the firmware events' hashing, which the cache did before): how far
  // the pipeline is from what its outputs cost at the least.
  const double hashes = warm ? warm_hash_seconds : hash_seconds;
  state.counters["x_output_floor"] = per_appraisal / (floor_seconds + hashes);
  state.counters["hash_floor_us"] = hashes * 1e6;
  // Issue 11's budget (200 us per appraisal) over this run's floors: below 1, the floors alone
  // leave no room for the target; x_target is the pipeline's time over the budget.
  state.counters["x_target"] = per_appraisal / kTargetAppraisalSeconds;
  state.counters["floors_of_target"] = (floor_seconds + hashes) / kTargetAppraisalSeconds;
}
BENCHMARK_CAPTURE(BM_appraise_pipeline, appraise_sign, false, false);
BENCHMARK_CAPTURE(BM_appraise_pipeline, kbs_attest, true, false);
BENCHMARK_CAPTURE(BM_appraise_pipeline, appraise_sign_warm, false, true);
BENCHMARK_CAPTURE(BM_appraise_pipeline, kbs_attest_warm, true, true);

// The KBS's /attest from its request body, less HTTP, sessions and audit: load_kbs_attestation
// (the JSON, base64 of the quote and of the 64 KB cc_eventlog) then appraise (warm: the firmware
// part of cc_eventlog ends at its first EV_EVENT_TAG record), sign_ear_jwt and the session's EAR.
// The quote was not made for this runtime data, so binding.kbs fails; its JCS and hash are made all
// the same.
void BM_kbs_request_pipeline(benchmark::State& state, bool warm) {
  Fixture& f = fixture();
  const std::string body = kbs_request_body(f);
  std::shared_ptr<FirmwareLogCache> cache = std::make_shared<FirmwareLogCache>();
  AppraiseOptions options = f.appraise_options;
  if (warm) options.evidence.firmware_log_cache = cache;
  for (auto _ : state) {
    auto evidence = load_kbs_attestation(body, "tdx");
    if (!evidence.ok()) {
      state.SkipWithError(("load_kbs_attestation: " + evidence.error().to_string()).c_str());
      break;
    }
    auto result = appraise(*evidence, f.policy, f.references, options);
    if (!result.ok() || !result->evidence.verdict) {
      state.SkipWithError("appraise failed or the quote reached no verdict");
      break;
    }
    bool json_form_exact = false;
    auto token = sign_ear_jwt(result->ear, f.signer, &json_form_exact);
    if (!token.ok() || !json_form_exact) {
      state.SkipWithError("sign_ear_jwt failed or its text is not the EAR's");
      break;
    }
    Ear session_ear = result->ear;
    benchmark::DoNotOptimize(session_ear);
    benchmark::DoNotOptimize(token);
  }
  rate(state, "appraisals");
  state.counters["request_bytes"] = static_cast<double>(body.size());
  if (warm) state.counters["cache_hits"] = static_cast<double>(cache->stats().hits);
}
BENCHMARK_CAPTURE(BM_kbs_request_pipeline, cold, false);
BENCHMARK_CAPTURE(BM_kbs_request_pipeline, warm, true);

// load_kbs_attestation alone on that request body.
void BM_part_load_kbs_attestation(benchmark::State& state) {
  Fixture& f = fixture();
  const std::string body = kbs_request_body(f);
  for (auto _ : state) {
    auto evidence = load_kbs_attestation(body, "tdx");
    if (!evidence.ok()) {
      state.SkipWithError("load_kbs_attestation failed");
      break;
    }
    benchmark::DoNotOptimize(evidence);
  }
  rate(state, "requests");
}
BENCHMARK(BM_part_load_kbs_attestation);

// The floor alone: 1 P-256 verify + 1 ES256 sign per iteration.
void BM_crypto_floor_1verify_1sign(benchmark::State& state) {
  Fixture& f = fixture();
  PublicKey key = must(PublicKey::from_ec_xy(Curve::p256, f.quote.signature.attestation_key),
                       "attestation key");
  const Bytes der = must(ecdsa_raw_to_der(f.quote.signature.quote_signature), "signature");
  const std::string sign_input(kFloorSignInputBytes, 'a');
  for (auto _ : state) {
    if (!crypto_floor_once(f, key, der, f.quote.signed_region(), as_bytes(sign_input))) {
      state.SkipWithError("verify or sign failed");
      break;
    }
  }
  rate(state, "floors");
}
BENCHMARK(BM_crypto_floor_1verify_1sign);

// The hashing floor alone (HashFloor): the CCEL event digests, the replay's extensions and
// SHA-256 over the token's signing input.
void BM_hash_floor_events_extends_token(benchmark::State& state) {
  Fixture& f = fixture();
  const HashFloor hashes(f, fixture_signing_input_bytes(f));
  for (auto _ : state) {
    if (!hashes.once()) {
      state.SkipWithError("EVP_Digest failed");
      break;
    }
  }
  rate(state, "floors");
  state.counters["event_digests"] = static_cast<double>(hashes.event_data.size());
  state.counters["extends"] = static_cast<double>(hashes.extends);
  state.counters["signing_input_bytes"] = static_cast<double>(hashes.signing_input.size());
}
BENCHMARK(BM_hash_floor_events_extends_token);

// appraise_evidence alone: quote signature (warm cache), TCB, bindings, init-data, replay of the
// CCEL and the AAEL records, Trustee's TDX claims, the images checks.
void BM_part_appraise_evidence(benchmark::State& state) {
  Fixture& f = fixture();
  for (auto _ : state) {
    EvidenceAppraisal evidence = appraise_evidence(f.evidence, f.options);
    benchmark::DoNotOptimize(evidence);
  }
  rate(state, "appraisals");
}
BENCHMARK(BM_part_appraise_evidence);

// The quote check inside it: DCAP verification with the warm cache.
void BM_part_check_quote(benchmark::State& state) {
  Fixture& f = fixture();
  for (auto _ : state) {
    QuoteChecks quote = check_quote(f.evidence, f.options);
    benchmark::DoNotOptimize(quote);
  }
  rate(state, "quotes");
}
BENCHMARK(BM_part_check_quote);

// The replay inside it: CCEL (98 events) and 10 AAEL records parsed and replayed against RTMR0-3.
void BM_part_replay(benchmark::State& state) {
  Fixture& f = fixture();
  for (auto _ : state) {
    ReplayChecks replay = check_tdx_replay(f.evidence.tdx);
    benchmark::DoNotOptimize(replay);
  }
  rate(state, "replays");
}
BENCHMARK(BM_part_replay);

// The TDX verifier's claims from the parsed quote, verdict and CCEL (inside appraise_evidence).
void BM_part_tdx_claims(benchmark::State& state) {
  Fixture& f = fixture();
  for (auto _ : state) {
    ClaimsDocument doc = tdx_claims(f.quote, *f.evidence_appraisal.verdict, &f.ccel);
    benchmark::DoNotOptimize(doc);
  }
  rate(state, "documents");
}
BENCHMARK(BM_part_tdx_claims);

void BM_part_evaluate(benchmark::State& state) {
  Fixture& f = fixture();
  for (auto _ : state) {
    auto appraisal = evaluate(f.policy, *f.evidence_appraisal.claims, f.evidence_appraisal.checks,
                              f.references, f.now);
    benchmark::DoNotOptimize(appraisal);
  }
  rate(state, "evaluations");
}
BENCHMARK(BM_part_evaluate);

// The EAR of the appraisal (the claims document as annotated evidence) signed as a JWT. Its
// floor: one ES256 signature over that many bytes with the prepared signer (SHA-256 of the
// signing input, then the ECDSA), measured in this run; floor_of_target is that floor over
// issue 11's 50 us per token. cold: the EAR of an appraisal without a firmware-log cache, whose
// whole 103 KB signing input is hashed (floor_of_target above 1: no writer can sign it at
// 20,000/s here). warm: the EAR of the warm appraisal, whose beginning the signer hashed once;
// its floor is an ES256 signature over the bytes hashed per token (hashed_bytes).
void BM_part_sign_ear_jwt(benchmark::State& state, bool warm) {
  Fixture& f = fixture();
  const Ear& ear = warm ? f.warm_ear : f.ear;
  const std::string sign_input(
      warm ? warm_signing_bytes_per_token(f) : fixture_signing_input_bytes(f), 'a');
  double sign_floor = 0;
  {
    const double start = thread_cpu_seconds();
    size_t rounds = 0;
    do {
      auto sig = f.signer.es256().sign(as_bytes(sign_input), EcdsaEncoding::raw);
      if (!sig.ok()) die("es256 sign");
      ++rounds;
      sign_floor = thread_cpu_seconds() - start;
    } while (sign_floor < 0.2);
    sign_floor /= static_cast<double>(rounds);
  }
  size_t bytes = 0;
  const double start = thread_cpu_seconds();
  for (auto _ : state) {
    auto token = sign_ear_jwt(ear, f.signer);
    bytes = token.ok() ? token->size() : 0;
    benchmark::DoNotOptimize(token);
  }
  const double per_token = (thread_cpu_seconds() - start) /
                           static_cast<double>(std::max<int64_t>(state.iterations(), 1));
  rate(state, "tokens");
  state.counters["token_bytes"] = static_cast<double>(bytes);
  state.counters["sign_floor_us"] = sign_floor * 1e6;
  state.counters["x_sign_floor"] = per_token / sign_floor;
  state.counters["floor_of_target"] = sign_floor / kTargetTokenSeconds;
  state.counters["x_target"] = per_token / kTargetTokenSeconds;
  state.counters["hashed_bytes"] = static_cast<double>(sign_input.size());
}
BENCHMARK_CAPTURE(BM_part_sign_ear_jwt, cold, false);
BENCHMARK_CAPTURE(BM_part_sign_ear_jwt, warm, true);

// The EAR as a JSON tree (ear_to_json: its text, parsed), which the KBS keeps per session for its
// resource policy, on top of the pipeline.
void BM_part_ear_to_json(benchmark::State& state) {
  Fixture& f = fixture();
  for (auto _ : state) {
    auto claims = ear_to_json(f.ear);
    if (!claims.ok()) {
      state.SkipWithError("ear_to_json failed");
      break;
    }
    benchmark::DoNotOptimize(claims);
  }
  rate(state, "trees");
}
BENCHMARK(BM_part_ear_to_json);

// One ES256 signature over a JWT-sized input with the prepared signer (the floor of signing).
void BM_es256_sign_prepared(benchmark::State& state) {
  Fixture& f = fixture();
  const std::string input(6000, 'a');
  for (auto _ : state) {
    auto sig = f.signer.es256().sign(as_bytes(input), EcdsaEncoding::raw);
    benchmark::DoNotOptimize(sig);
  }
  rate(state, "signs");
}
BENCHMARK(BM_es256_sign_prepared);

// One P-256 verify of the quote's signature with raw OpenSSL EVP calls: the floor of the warm
// quote check.
void BM_p256_verify_raw(benchmark::State& state) {
  Fixture& f = fixture();
  PublicKey key = must(PublicKey::from_ec_xy(Curve::p256, f.quote.signature.attestation_key),
                       "attestation key");
  const Bytes der = must(ecdsa_raw_to_der(f.quote.signature.quote_signature), "signature");
  const ByteView signed_region = f.quote.signed_region();
  for (auto _ : state) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    int ok = ctx != nullptr &&
             EVP_DigestVerifyInit_ex(ctx, nullptr, "SHA256", nullptr, nullptr, key.get(),
                                     nullptr) == 1 &&
             EVP_DigestVerify(ctx, der.data(), der.size(), signed_region.data(),
                              signed_region.size()) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) {
      state.SkipWithError("raw verify failed");
      break;
    }
  }
  rate(state, "verifies");
}
BENCHMARK(BM_p256_verify_raw);

}  // namespace

BENCHMARK_MAIN();
