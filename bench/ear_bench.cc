// EAR attestation results: issuing and verifying Trustee-shaped tokens, next to the raw ES256
// signature (SHA-256 + P-256 ECDSA, r||s) that bounds issuing, measured in the same run.
// - BM_es256_sign_raw: acon::sign over a message the size of a JWT signing input;
// - BM_es256_sign_prepared: the same with the operation set up once (PreparedSigner);
// - BM_ear_jwt_sign / BM_ear_cwt_sign: JSON or CBOR claims encoding + header + one ES256 sign;
// - BM_ear_jwt_verify / BM_ear_cwt_verify: pinned key; *_chain: x5c / x5chain leaf checked
//   against the header key and chained to a root (two P-256 verifies and certificate parsing).
// The EAR carries a TDX-shaped annotated evidence (~2 KiB of claims, as Trustee's cpu0) and a
// one-certificate chain. Target (issue 11): JWT sign >= 20,000/s per core.
// Measured here (2-vCPU dev VM shared with other builds, OpenSSL 3.0, 1 thread): see docs/ear.md.
// BM_part_*: the claims JSON text and its base64url alone, the non-signature parts of a JWT.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>

#include "acon/appraisal/ear.h"
#include "acon/common/signature.h"
#include "verifier/appraisal/ear_pki.h"

namespace {

using namespace acon;
using namespace acon::appraisal;
using namespace std::chrono_literals;

const Time kIat = Time(1767225600s);

template <class T>
T must(Result<T> r, const char* what) {
  if (!r.ok()) {
    std::fprintf(stderr, "acon_bench_ear: %s: %s\n", what, r.error().to_string().c_str());
    std::exit(1);
  }
  return std::move(r).value();
}

Json tdx_claims() {
  Json quote = {{"header",
                 {{"version", "0400"},
                  {"att_key_type", "0200"},
                  {"tee_type", "81000000"},
                  {"vendor_id", "939a7233f79c4ca9940a0db3957f0607"},
                  {"user_data", "d099bfec0a477aa85a605dceabf2b10800000000"}}},
                {"body",
                 {{"mr_td", std::string(96, 'a')},
                  {"mr_config_id", std::string(96, '0')},
                  {"rtmr_0", std::string(96, 'b')},
                  {"rtmr_1", std::string(96, 'c')},
                  {"rtmr_2", std::string(96, 'd')},
                  {"rtmr_3", std::string(96, '0')},
                  {"report_data", std::string(128, 'e')},
                  {"tcb_svn", std::string(32, '0')},
                  {"td_attributes", "0000001000000000"},
                  {"xfam", "e702060000000000"}}}};
  Json events = Json::array();
  for (int i = 0; i < 10; ++i)
    events.push_back({{"type_name", "EV_EFI_VARIABLE_DRIVER_CONFIG"},
                      {"index", 1},
                      {"digests", {{{"alg", "SHA-384"}, {"digest", std::string(96, 'f')}}}}});
  return {{"tdx",
           {{"quote", quote},
            {"td_attributes", {{"debug", false}, {"sept_ve_disable", true}}},
            {"uefi_event_logs", events}}},
          {"report_data", std::string(128, 'e')},
          {"init_data", std::string(96, '0')},
          {"runtime_data_claims",
           {{"nonce", "N2ZkZTQ4YjYtZWI3Yy00NzQ5"},
            {"tee-pubkey", {{"kty", "EC"}, {"crv", "P-256"}, {"x", "abc"}, {"y", "def"}}}}}};
}

struct Fixture : test::EarPki {
  Fixture() : EarPki(must(test::make_ear_pki(kIat, "bench root"), "test PKI")) {}

  EarSigner signer = must(EarSigner::create(leaf_key, {leaf}), "signer");
  Ear ear = [] {
    Ear e;
    e.iat = kIat;
    e.exp = kIat + 5min;
    e.iss = "CoCo-Attestation-Service";
    e.verifier_id = {"https://confidentialcontainers.org", "attestation-service 0.1.0"};
    TrustVector v;
    v.set(TrustClaim::instance_identity, 0);
    v.set(TrustClaim::configuration, ar4si::kApprovedConfig);
    v.set(TrustClaim::executables, ar4si::kApprovedBoot);
    v.set(TrustClaim::file_system, 0);
    v.set(TrustClaim::hardware, ar4si::kGenuineHardware);
    v.set(TrustClaim::runtime_opaque, 0);
    v.set(TrustClaim::storage_opaque, 0);
    v.set(TrustClaim::sourced_data, 0);
    e.submods["cpu0"] = Submod::from_vector(v, "default", tdx_claims());
    return e;
  }();
  std::string jwt = must(sign_ear_jwt(ear, signer), "jwt");
  Bytes cwt = must(sign_ear_cwt(ear, signer), "cwt");

  EarVerifyOptions pinned() const {
    EarVerifyOptions o;
    o.now = kIat + 10s;
    o.trusted_key = leaf_key.public_key();
    return o;
  }
  EarVerifyOptions chained() const {
    EarVerifyOptions o;
    o.now = kIat + 10s;
    o.roots = {root};
    return o;
  }
};

const Fixture& fixture() {
  static const Fixture f;
  return f;
}

void BM_es256_sign_raw(benchmark::State& state) {
  const auto& f = fixture();
  std::string input = f.jwt.substr(0, f.jwt.rfind('.'));
  for (auto _ : state) {
    auto sig =
        sign(f.leaf_key, {SigKind::ecdsa, HashAlg::sha256}, as_bytes(input), EcdsaEncoding::raw);
    benchmark::DoNotOptimize(sig);
  }
  state.counters["signs"] = benchmark::Counter(state.iterations(), benchmark::Counter::kIsRate);
  state.counters["bytes_signed"] = static_cast<double>(input.size());
}
BENCHMARK(BM_es256_sign_raw);

// The same signature with the signing operation set up once (PreparedSigner, what EarSigner
// uses): the floor of issuing a token.
void BM_es256_sign_prepared(benchmark::State& state) {
  const auto& f = fixture();
  std::string input = f.jwt.substr(0, f.jwt.rfind('.'));
  for (auto _ : state) {
    auto sig = f.signer.es256().sign(as_bytes(input), EcdsaEncoding::raw);
    benchmark::DoNotOptimize(sig);
  }
  state.counters["signs"] = benchmark::Counter(state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_es256_sign_prepared);

void BM_ear_jwt_sign(benchmark::State& state) {
  const auto& f = fixture();
  for (auto _ : state) {
    auto token = sign_ear_jwt(f.ear, f.signer);
    if (!token.ok()) state.SkipWithError("sign_ear_jwt failed");
    benchmark::DoNotOptimize(token);
  }
  state.counters["tokens"] = benchmark::Counter(state.iterations(), benchmark::Counter::kIsRate);
  state.counters["token_bytes"] = static_cast<double>(f.jwt.size());
}
BENCHMARK(BM_ear_jwt_sign);

// The two non-signature parts of a JWT: the claims set as text, and its base64url.
void BM_part_ear_json_text(benchmark::State& state) {
  const auto& f = fixture();
  for (auto _ : state) {
    std::string text = ear_to_json_text(f.ear);
    benchmark::DoNotOptimize(text);
  }
  state.counters["texts"] = benchmark::Counter(state.iterations(), benchmark::Counter::kIsRate);
  state.counters["text_bytes"] = static_cast<double>(ear_to_json_text(f.ear).size());
}
BENCHMARK(BM_part_ear_json_text);

void BM_part_base64url_claims(benchmark::State& state) {
  const auto& f = fixture();
  const std::string text = ear_to_json_text(f.ear);
  for (auto _ : state) {
    std::string encoded;
    append_base64(encoded, as_bytes(text), Base64::url_nopad);
    benchmark::DoNotOptimize(encoded);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_part_base64url_claims);

void BM_ear_cwt_sign(benchmark::State& state) {
  const auto& f = fixture();
  for (auto _ : state) {
    auto token = sign_ear_cwt(f.ear, f.signer);
    if (!token.ok()) state.SkipWithError("sign_ear_cwt failed");
    benchmark::DoNotOptimize(token);
  }
  state.counters["tokens"] = benchmark::Counter(state.iterations(), benchmark::Counter::kIsRate);
  state.counters["token_bytes"] = static_cast<double>(f.cwt.size());
}
BENCHMARK(BM_ear_cwt_sign);

void verify_loop(benchmark::State& state, bool cwt, bool chain) {
  const auto& f = fixture();
  EarVerifyOptions options = chain ? f.chained() : f.pinned();
  for (auto _ : state) {
    auto ear = cwt ? verify_ear_cwt(f.cwt, options) : verify_ear_jwt(f.jwt, options);
    if (!ear.ok()) state.SkipWithError(ear.error().to_string().c_str());
    benchmark::DoNotOptimize(ear);
  }
  state.counters["tokens"] = benchmark::Counter(state.iterations(), benchmark::Counter::kIsRate);
}
void BM_ear_jwt_verify(benchmark::State& s) { verify_loop(s, false, false); }
void BM_ear_cwt_verify(benchmark::State& s) { verify_loop(s, true, false); }
void BM_ear_jwt_verify_chain(benchmark::State& s) { verify_loop(s, false, true); }
void BM_ear_cwt_verify_chain(benchmark::State& s) { verify_loop(s, true, true); }
BENCHMARK(BM_ear_jwt_verify);
BENCHMARK(BM_ear_cwt_verify);
BENCHMARK(BM_ear_jwt_verify_chain);
BENCHMARK(BM_ear_cwt_verify_chain);

}  // namespace

BENCHMARK_MAIN();
