// The firmware-log cache (firmware_log_cache.h): an appraisal with it, cold (a miss) or warm (a
// hit), decides and writes exactly what one without it does, on real TDX evidence in both event
// log forms; a changed byte of the firmware log misses and is judged as without the cache; the
// bounds hold; concurrent appraisals share it.
#include "acon/appraisal/firmware_log_cache.h"

#include <gtest/gtest.h>

#include <thread>

#include "acon/appraisal/appraise.h"
#include "acon/dcap/collateral.h"
#include "acon/eventlog/event_log.h"
#include "acon/eventlog/runtime.h"
#include "test_util.h"

namespace acon::appraisal {
namespace {

using test::must;

constexpr int64_t kPinnedTime = 1751624191;  // vectors.json phala-tdx-v4-uptodate

Bytes aael_records(int count) {
  Bytes out;
  for (int i = 0; i < count; ++i) {
    eventlog::AaelEvent event{"github.com/confidential-containers", "CreateContainer",
                              "registry.example/app:" + std::to_string(i)};
    append(out, must(eventlog::aael_record(4, HashAlg::sha384, event)));
  }
  return out;
}

// The phala-dcap-qvl v4 quote, which verifies with its collateral at the pinned time (so Trustee's
// claims, uefi_event_logs included, are issued), with the cc-trusted-api CCEL and 10 runtime AAEL
// records (of another TD: the replay fails, which exercises the prefix search over every event).
Evidence real_evidence() {
  Evidence e;
  e.platform = Platform::tdx;
  e.tdx.quote = test::read_data_bytes("quotes/phala-dcap-qvl/tdx_quote");
  e.tdx.ccel = test::read_data_bytes("eventlog/cc-trusted-api/ccel_data.bin");
  e.tdx.runtime_aael = aael_records(10);
  return e;
}

// The same logs as guest-components sends them: one cc_eventlog, firmware events then runtime.
Evidence as_cc_eventlog(Evidence e) {
  const eventlog::EventLog ccel = must(eventlog::parse_event_log(*e.tdx.ccel));
  Bytes joined(e.tdx.ccel->begin(), e.tdx.ccel->begin() + ccel.end_offset);
  append(joined, *e.tdx.runtime_aael);
  e.tdx.cc_eventlog = std::move(joined);
  e.tdx.ccel.reset();
  e.tdx.runtime_aael.reset();
  return e;
}

AppraiseOptions real_options(std::shared_ptr<FirmwareLogCache> cache) {
  AppraiseOptions o;
  o.evidence.at = Time(std::chrono::seconds(kPinnedTime));
  o.evidence.collateral = must(dcap::parse_collateral_bundle(
      test::read_data("quotes/phala-dcap-qvl/tdx_quote_collateral.json")));
  o.evidence.firmware_log_cache = std::move(cache);
  return o;
}

const Policy& default_cpu() {
  static const Policy policy = must(parse_policy(
      test::read_data("../../verifier/appraisal/policies/default_cpu.toml"), "default_cpu.toml"));
  return policy;
}

const EarSigner& signer() {
  static const EarSigner s = must(EarSigner::create(must(PrivateKey::generate_ec(Curve::p256))));
  return s;
}

// Everything an appraisal decides and writes: every check, the claims, the explanations and the
// token's signed part (header.payload; the ES256 signature itself is randomised).
struct Outputs {
  std::string checks;
  std::string claims;
  std::string explanations;
  std::string signed_part;
  bool operator==(const Outputs&) const = default;
};

Outputs appraise_once(const Evidence& evidence, const AppraiseOptions& options) {
  AttestationResult r = must(appraise(evidence, default_cpu(), ReferenceValueStore{}, options));
  Outputs out;
  out.checks = checks_to_json(r.evidence.checks).dump();
  out.claims = r.evidence.claims->dump();
  for (const Explanation& e : r.appraisal.explanations) out.explanations += e.to_string() + "\n";
  const std::string token = must(sign_ear_jwt(r.ear, signer()));
  out.signed_part = token.substr(0, token.rfind('.'));
  // The signature is over the whole signing input, also when the signer hashed its cached
  // beginning once (sign_ear_jwt with the firmware entries' text).
  EarVerifyOptions verify_options;
  verify_options.now = r.ear.iat;
  verify_options.trusted_key = signer().key().public_key();
  EXPECT_TRUE(verify_ear_jwt(token, verify_options).ok());
  return out;
}

size_t uefi_entries(const Outputs& outputs) {
  return Json::parse(outputs.claims).at("tdx").at("uefi_event_logs").size();
}

// Where a firmware event's data or SHA-384 digest sits in the CCEL bytes: the first event of
// `type` in RTMR1 (CC MR index 2).
struct EventBytes {
  size_t data_offset;
  size_t digest_offset;
};
EventBytes firmware_event(const Bytes& ccel) {
  const eventlog::EventLog log = must(eventlog::parse_event_log(ccel));
  for (const eventlog::Event& event : log.events) {
    if (event.number == 0 || event.index != 2 || event.data.empty()) continue;
    auto digest = event.digest(eventlog::tpm_alg::kSha384);
    if (!digest) continue;
    return {static_cast<size_t>(event.data.data() - ccel.data()),
            static_cast<size_t>(digest->data() - ccel.data())};
  }
  throw std::runtime_error("no RTMR1 event with data in the CCEL");
}

TEST(FirmwareLogCache, RealEvidenceColdAndWarmGiveExactlyWhatNoCacheGives) {
  for (const bool cc_eventlog : {false, true}) {
    SCOPED_TRACE(cc_eventlog ? "cc_eventlog" : "ccel + runtime_aael");
    Evidence evidence = cc_eventlog ? as_cc_eventlog(real_evidence()) : real_evidence();
    const Outputs without = appraise_once(evidence, real_options(nullptr));
    // Trustee's claims were issued, with an entry per CCEL event and runtime record.
    ASSERT_GT(uefi_entries(without), 10u) << without.claims.substr(0, 400);

    auto cache = std::make_shared<FirmwareLogCache>();
    const AppraiseOptions options = real_options(cache);
    const Outputs cold = appraise_once(evidence, options);
    EXPECT_EQ(cache->stats().misses, 1u);
    EXPECT_EQ(cache->stats().entries, 1u);
    const Outputs warm = appraise_once(evidence, options);
    EXPECT_EQ(cache->stats().hits, 1u);
    EXPECT_EQ(cold, without);
    EXPECT_EQ(warm, without);
    EXPECT_EQ(warm.signed_part, without.signed_part);

    // Other runtime records after the same firmware events: a hit, and their own entries.
    Evidence more = real_evidence();
    more.tdx.runtime_aael = aael_records(3);
    if (cc_eventlog) more = as_cc_eventlog(std::move(more));
    const Outputs more_without = appraise_once(more, real_options(nullptr));
    EXPECT_EQ(appraise_once(more, options), more_without);
    EXPECT_EQ(cache->stats().hits, 2u);
    EXPECT_NE(more_without.claims, without.claims);
  }
}

// A claims document's firmware entries go back to the cache when it is freed, for the next
// appraisal's document, only when they are still the cached ones: a document changed after it was
// issued (nothing does that; the check is the guard) gives back nothing.
TEST(FirmwareLogCache, FreedEntriesAreReusedOnlyWhenUnchanged) {
  const Evidence evidence = real_evidence();
  const Outputs without = appraise_once(evidence, real_options(nullptr));
  auto cache = std::make_shared<FirmwareLogCache>();
  const AppraiseOptions options = real_options(cache);
  for (int round = 0; round < 3; ++round) {
    AttestationResult r = must(appraise(evidence, default_cpu(), ReferenceValueStore{}, options));
    EXPECT_EQ(r.evidence.claims->dump(), without.claims) << round;
    // The document was made mutable and is only shared as const; change a firmware entry.
    Json& claims = const_cast<Json&>(*r.evidence.claims);
    claims["tdx"]["uefi_event_logs"][1]["event"] = "changed after it was issued";
  }
  EXPECT_EQ(appraise_once(evidence, options), without);
  EXPECT_EQ(appraise_once(evidence, options), without);
}

// A changed byte of a firmware event's data: the key differs, the cache misses, and Trustee's
// digest_matches_event of that entry says false, as without the cache.
TEST(FirmwareLogCache, ChangedEventDataMissesAndIsDetected) {
  auto cache = std::make_shared<FirmwareLogCache>();
  const AppraiseOptions options = real_options(cache);
  const Evidence evidence = real_evidence();
  const Outputs original = appraise_once(evidence, options);

  Evidence tampered = evidence;
  (*tampered.tdx.ccel)[firmware_event(*tampered.tdx.ccel).data_offset] ^= 0x01;
  const Outputs tampered_warm = appraise_once(tampered, options);
  EXPECT_EQ(cache->stats().hits, 0u);
  EXPECT_EQ(cache->stats().misses, 2u);
  EXPECT_EQ(tampered_warm, appraise_once(tampered, real_options(nullptr)));
  EXPECT_NE(tampered_warm.claims, original.claims);
  const Json entries = Json::parse(tampered_warm.claims).at("tdx").at("uefi_event_logs");
  size_t mismatched = 0;
  for (const Json& entry : entries) mismatched += entry.at("digest_matches_event") == false;
  const Json original_entries = Json::parse(original.claims).at("tdx").at("uefi_event_logs");
  size_t originally_mismatched = 0;
  for (const Json& entry : original_entries)
    originally_mismatched += entry.at("digest_matches_event") == false;
  EXPECT_EQ(mismatched, originally_mismatched + 1);

  // The original bytes still hit their own entry.
  EXPECT_EQ(appraise_once(evidence, options), original);
  EXPECT_EQ(cache->stats().hits, 1u);
}

// cc-trusted-api's quote with its own CCEL and IMA log: every RTMR replays, with and without the
// cache. A changed digest of a firmware event misses the cache and fails RTMR1's replay, with the
// same checks as without the cache.
TEST(FirmwareLogCache, ChangedDigestMissesAndFailsTheReplay) {
  Evidence evidence;
  evidence.platform = Platform::tdx;
  evidence.tdx.quote = test::read_data_bytes("eventlog/cc-trusted-api/quote.bin");
  evidence.tdx.ccel = test::read_data_bytes("eventlog/cc-trusted-api/ccel_data.bin");
  evidence.tdx.ima_log = test::read_data("eventlog/cc-trusted-api/ima_log.bin");
  AppraisalOptions without;
  without.at = Time(std::chrono::seconds(kPinnedTime));
  AppraisalOptions with = without;
  with.firmware_log_cache = std::make_shared<FirmwareLogCache>();
  auto checks = [](const Evidence& e, const AppraisalOptions& o) {
    return checks_to_json(appraise_evidence(e, o).checks);
  };

  const Json expected = checks(evidence, without);
  EXPECT_EQ(checks(evidence, with), expected);
  EXPECT_EQ(checks(evidence, with), expected);
  EXPECT_EQ(with.firmware_log_cache->stats().hits, 1u);
  const EvidenceAppraisal warm = appraise_evidence(evidence, with);
  for (const char* name : {"replay.rtmr0", "replay.rtmr1", "replay.rtmr2"}) {
    const CheckResult* check = find_check(warm.checks, name);
    ASSERT_NE(check, nullptr) << name;
    EXPECT_EQ(check->outcome, Outcome::pass) << name << ": " << check->reason;
  }

  Evidence tampered = evidence;
  (*tampered.tdx.ccel)[firmware_event(*tampered.tdx.ccel).digest_offset] ^= 0x80;
  const uint64_t misses = with.firmware_log_cache->stats().misses;
  const Json tampered_checks = checks(tampered, with);
  EXPECT_EQ(with.firmware_log_cache->stats().misses, misses + 1);
  EXPECT_EQ(tampered_checks, checks(tampered, without));
  EXPECT_EQ(tampered_checks, checks(tampered, with));  // now a hit on the tampered log's entry
  const EvidenceAppraisal tampered_warm = appraise_evidence(tampered, with);
  const CheckResult* rtmr1 = find_check(tampered_warm.checks, "replay.rtmr1");
  ASSERT_NE(rtmr1, nullptr);
  EXPECT_EQ(rtmr1->outcome, Outcome::fail) << rtmr1->reason;
}

TEST(FirmwareLogCache, BoundsEvictTheLeastRecentlyUsed) {
  const Evidence first = real_evidence();
  Evidence second = first;
  (*second.tdx.ccel)[firmware_event(*second.tdx.ccel).data_offset] ^= 0x01;

  auto one = std::make_shared<FirmwareLogCache>(FirmwareLogCache::Limits{1, size_t{64} << 20});
  const AppraiseOptions options = real_options(one);
  const Outputs expected = appraise_once(first, real_options(nullptr));
  EXPECT_EQ(appraise_once(first, options), expected);
  appraise_once(second, options);  // evicts the first
  EXPECT_EQ(one->stats().entries, 1u);
  EXPECT_EQ(appraise_once(first, options), expected);  // a miss again
  EXPECT_EQ(one->stats().hits, 0u);
  EXPECT_EQ(one->stats().misses, 3u);

  // Facts larger than max_bytes are used for the appraisal and not kept.
  auto tiny = std::make_shared<FirmwareLogCache>(FirmwareLogCache::Limits{64, 1024});
  EXPECT_EQ(appraise_once(first, real_options(tiny)), expected);
  EXPECT_EQ(tiny->stats().entries, 0u);
  EXPECT_EQ(tiny->stats().bytes, 0u);
}

TEST(FirmwareLogCache, ConcurrentAppraisalsShareOneCache) {
  const Evidence evidence = real_evidence();
  const Outputs expected = appraise_once(evidence, real_options(nullptr));
  auto cache = std::make_shared<FirmwareLogCache>();
  const AppraiseOptions options = real_options(cache);
  constexpr int kThreads = 4;
  constexpr int kRounds = 3;
  std::vector<int> equal(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) equal[t] += appraise_once(evidence, options) == expected;
    });
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(equal[t], kRounds) << "thread " << t;
  EXPECT_EQ(cache->stats().entries, 1u);
  EXPECT_EQ(cache->stats().hits + cache->stats().misses, uint64_t{kThreads * kRounds});
}

}  // namespace
}  // namespace acon::appraisal
