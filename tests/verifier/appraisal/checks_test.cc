// The evidence checks against simulated TDX evidence (a TD whose REPORTDATA, MRCONFIGID and RTMR3
// the test chooses), real quotes with collateral at pinned times, and real CCEL / IMA / text
// AAEL captures. Every tampered input must give its named failure.
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <tuple>

#include "acon/appraisal/checks.h"
#include "acon/common/hash.h"
#include "acon/eventlog/event_log.h"
#include "acon/eventlog/runtime.h"
#include "acon/guest/sim/sim.h"
#include "acon/image/attestation_data.h"
#include "test_util.h"
#include "vtpm_fixture.h"

namespace acon::appraisal {
namespace {

using guest::sim::Simulator;

using test::at;

const Time kIssue = at("2025-06-01T00:00:00Z");
const Time kCheck = kIssue + std::chrono::hours(24);

using test::must;

const CheckResult& get(const CheckResults& checks, std::string_view name) {
  const CheckResult* check = find_check(checks, name);
  if (!check) throw std::runtime_error("no check " + std::string(name));
  return *check;
}

Outcome outcome(const CheckResults& checks, std::string_view name) {
  return get(checks, name).outcome;
}

std::string dump(const CheckResults& checks) {
  std::string out;
  for (const CheckResult& check : checks) out += check_to_json(check).dump() + "\n";
  return out;
}

RuntimeData runtime_data(std::string nonce) {
  RuntimeData data;
  data.nonce = std::move(nonce);
  data.tee_pubkey = {{"kty", "EC"},
                     {"crv", "P-256"},
                     {"alg", "ECDH-ES+A256KW"},
                     {"x", "WbbXwVYGdJoP4Xm3qCkGvBRcRvKtEfXDbWvPzpPS8LA"},
                     {"y", "Ik-nXfr-qvtM4oXmYKUAI8HQDHuGfr6uPtLY1tOblfw"},
                     {"use", "enc"}};  // dropped by the typed re-serialisation
  return data;
}

const std::string kInitData =
    "version = \"0.1.0\"\n"
    "algorithm = \"sha384\"\n"
    "[data]\n"
    "\"aa.toml\" = '''\n[token_configs.kbs]\nurl = \"http://kbs:8080\"\n'''\n"
    "\"policy.rego\" = '''\npackage agent_policy\ndefault AllowRequestsFailingPolicy := false\n"
    "policy_data := {\n  \"containers\": [{\"image\": \"pause\"}]\n}\n'''\n";

const eventlog::AaelEvent kRuntimeEvents[] = {
    {"github.com/intel/ACON", "AddManifest", "sha384/aa"},
    {"github.com/intel/ACON", "AddManifest", "sha384/bb"},
    {"coco.com", "CreateContainer", "pause"},
};

// A simulated TD that ran the three runtime events: its CCEL ‖ their TCG2 AAEL records ‖ fill,
// REPORTDATA bound to the KBS runtime data, MRCONFIGID to kInitData.
struct SimulatedTd {
  Simulator sim;
  Evidence evidence;
  AppraisalOptions options;
};

Bytes aael(uint32_t index, const eventlog::AaelEvent& event) {
  return must(eventlog::aael_record(index, HashAlg::sha384, event));
}

Bytes record_digest(const eventlog::AaelEvent& event) {
  return sha384(must(eventlog::aael_tagged_event(event)));
}

SimulatedTd simulated_td(const RuntimeData& bound = runtime_data("bound-nonce")) {
  guest::sim::CreateOptions create;
  create.seed = sha256(as_bytes(std::string_view("appraisal checks_test")));
  create.dates = guest::sim::default_dates(kIssue);
  SimulatedTd td{must(Simulator::create(create)), {}, {}};
  Bytes mr_config_id = sha384(as_bytes(kInitData));
  std::copy(mr_config_id.begin(), mr_config_id.end(), td.sim.td().mr_config_id.begin());

  Bytes log = td.sim.ccel();
  auto parsed = must(eventlog::parse_event_log(log));
  log.resize(parsed.end_offset);
  for (const auto& event : kRuntimeEvents) {
    append(log, aael(4, event));
    EXPECT_TRUE(td.sim.extend(3, record_digest(event)).ok());
  }
  log.insert(log.end(), 8, 0xFF);

  Bytes digest = sha384(as_bytes(must(kbs_runtime_data_jcs(bound))));
  guest::ReportData report_data{};
  std::copy(digest.begin(), digest.end(), report_data.begin());

  td.evidence.platform = Platform::tdx;
  td.evidence.tdx.quote = must(td.sim.quote(report_data));
  td.evidence.tdx.cc_eventlog = std::move(log);
  td.evidence.runtime_data = runtime_data("bound-nonce");
  td.evidence.init_data = InitData{"toml", kInitData};
  td.options.at = kCheck;
  td.options.anchors.roots = {td.sim.root_ca()};
  td.options.collateral = must(td.sim.collateral());
  return td;
}

// ---- binding.kbs ----

// Trustee's own test vector (attestation-service/src/lib.rs): SHA-384 of JCS of a structure.
TEST(BindingKbs, TrusteeVectorHashesTheCanonicalJson) {
  Json value = must(parse_json(R"({"b": 1, "a": "test", "c": {"d": "e"}})"));
  EXPECT_EQ(hex_encode(sha384(as_bytes(must(jcs_canonicalize(value))))),
            "e71ce8e70d814ba6639c3612ebee0ff1f76f650f8dbb5e47157e0f3f525cd22c4597480a186427c813c"
            "a941da78870c3");
}

TEST(BindingKbs, RuntimeDataIsReserialisedWithAdditionalEvidenceAlwaysPresent) {
  EXPECT_EQ(must(kbs_runtime_data_jcs(runtime_data("n"))),
            R"({"additional-evidence":"","nonce":"n","tee-pubkey":{"alg":"ECDH-ES+A256KW",)"
            R"("crv":"P-256","kty":"EC","x":"WbbXwVYGdJoP4Xm3qCkGvBRcRvKtEfXDbWvPzpPS8LA",)"
            R"("y":"Ik-nXfr-qvtM4oXmYKUAI8HQDHuGfr6uPtLY1tOblfw"}})");
  RuntimeData rsa;
  rsa.nonce = "n";
  rsa.additional_evidence = "{}";
  rsa.tee_pubkey = {
      {"kty", "RSA"}, {"alg", "RSA-OAEP-256"}, {"n", "AQAB"}, {"e", "AQAB"}, {"kid", "x"}};
  EXPECT_EQ(must(kbs_runtime_data_jcs(rsa)),
            R"({"additional-evidence":"{}","nonce":"n","tee-pubkey":{"alg":"RSA-OAEP-256",)"
            R"("e":"AQAB","kty":"RSA","n":"AQAB"}})");
  RuntimeData missing = runtime_data("n");
  missing.tee_pubkey.erase("y");
  auto error = kbs_runtime_data_jcs(missing);
  ASSERT_FALSE(error.ok());
  EXPECT_NE(error.error().message.find("y"), std::string::npos) << error.error().message;
}

TEST(BindingKbs, SkippedWithoutRuntimeDataFailsOnAnotherNonce) {
  Bytes report_data = sha384(as_bytes(must(kbs_runtime_data_jcs(runtime_data("a")))));
  report_data.resize(64, 0);
  EXPECT_EQ(check_binding_kbs(report_data, std::nullopt).outcome, Outcome::skipped);
  EXPECT_EQ(check_binding_kbs(report_data, runtime_data("a")).outcome, Outcome::pass);
  EXPECT_EQ(check_binding_kbs(report_data, runtime_data("b")).outcome, Outcome::fail);
  // Correctly bound, but not this session's challenge.
  EXPECT_EQ(check_binding_kbs(report_data, runtime_data("a"), "a").outcome, Outcome::pass);
  const CheckResult replayed = check_binding_kbs(report_data, runtime_data("a"), "c");
  EXPECT_EQ(replayed.outcome, Outcome::fail);
  EXPECT_NE(replayed.reason.find("challenge nonce"), std::string::npos);
}

TEST(BindingAcon, ReportDataIsSha384OfAttestationDataThenSixteenZeros) {
  const Bytes attestation_data = to_bytes(R"({"api_version":"1.0.0"})");
  Bytes report_data = sha384(attestation_data);
  report_data.resize(64, 0);
  EXPECT_EQ(check_binding_acon(report_data, attestation_data).outcome, Outcome::pass);
  EXPECT_EQ(check_binding_acon(report_data, std::nullopt).outcome, Outcome::skipped);
  Bytes other = attestation_data;
  other.back() = ' ';
  EXPECT_EQ(check_binding_acon(report_data, other).outcome, Outcome::fail);
  report_data[63] = 1;  // the 16 trailing bytes are zero, not free
  EXPECT_EQ(check_binding_acon(report_data, attestation_data).outcome, Outcome::fail);
}

// The spec's example: nonce_lo 0x1122334455667788, nonce_hi 0x99aabbccddeeff00.
TEST(BindingAcon, RequestorNonceIsTheReportRequestsNonce) {
  const Bytes nonce = image::requestor_nonce(0x1122334455667788, 0x99aabbccddeeff00);
  EXPECT_EQ(nonce,
            (Bytes{136, 119, 102, 85, 68, 51, 34, 17, 0, 255, 238, 221, 204, 187, 170, 153}));
  const Bytes attestation_data = to_bytes(
      R"({"api_version":"1.0.0","requestor_nonce":[136,119,102,85,68,51,34,17,0,255,238,221,204,)"
      R"(187,170,153],"acond_nonce":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16],)"
      R"("attestation_data":{}})");
  Bytes report_data = sha384(attestation_data);
  report_data.resize(64, 0);
  EXPECT_EQ(check_binding_acon(report_data, attestation_data, nonce).outcome, Outcome::pass);
  const CheckResult replayed =
      check_binding_acon(report_data, attestation_data, image::requestor_nonce(1, 2));
  EXPECT_EQ(replayed.outcome, Outcome::fail);
  EXPECT_NE(replayed.reason.find("replayed"), std::string::npos) << replayed.reason;
  const Bytes no_nonce = to_bytes(R"({"api_version":"1.0.0"})");
  Bytes bound = sha384(no_nonce);
  bound.resize(64, 0);
  EXPECT_EQ(check_binding_acon(bound, no_nonce, nonce).outcome, Outcome::error);
}

// ---- init_data ----

TEST(InitData, ParsesAsTrusteeAndExtractsAgentPolicyClaims) {
  ParsedInitData parsed = must(parse_init_data({"toml", kInitData}));
  EXPECT_EQ(parsed.algorithm, HashAlg::sha384);
  EXPECT_EQ(parsed.digest, sha384(as_bytes(kInitData)));
  EXPECT_EQ(parsed.claims["aa.toml"]["token_configs"]["kbs"]["url"], "http://kbs:8080");
  EXPECT_TRUE(parsed.policy_data_extracted);
  EXPECT_FALSE(parsed.claims.contains("policy.rego"));
  EXPECT_EQ(parsed.claims["agent_policy_claims"]["containers"][0]["image"], "pause");
}

// Found by fuzz_init_data (U+FEFB where a value ends): refused, not handed to toml++.
TEST(InitData, CodePointsTheTomlLibraryMishandlesAreRefused) {
  auto parsed = parse_init_data({"toml",
                                 "version = \"0.1.0\"\nalgorithm = -shSt5cty\xef\xbb\xbb"
                                 "cEgor = 1\n"});
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error().message.find("line 2: character U+FEFB"), std::string::npos)
      << parsed.error().message;
}

TEST(InitData, RejectsWhatTrusteeRejects) {
  auto error_of = [](const std::string& body, const std::string& format = "toml") {
    auto parsed = parse_init_data({format, body});
    return parsed ? std::string() : parsed.error().message;
  };
  EXPECT_NE(error_of("algorithm = \"sha384\"\n[data]\n").find("version"), std::string::npos);
  EXPECT_NE(error_of("version = \"0.1.0\"\nalgorithm = \"sha-384\"\n[data]\n").find("algorithm"),
            std::string::npos);
  EXPECT_NE(error_of("version = \"0.1.0\"\nalgorithm = \"sha384\"\n[data]\nx = 1\n").find("\"x\""),
            std::string::npos);
  EXPECT_NE(error_of("version = \"0.1.0\"\nalgorithm = \"sha384\"\n").find("data"),
            std::string::npos);
  EXPECT_NE(error_of("version = 1\nalgorithm = \"sha384\"\n[data]\n").find("version"),
            std::string::npos);
  EXPECT_NE(error_of("{}", "json").find("toml"), std::string::npos);
  EXPECT_NE(error_of("version = \"0.1.0\"\nalgorithm = ").find("line"), std::string::npos);
  // A policy.rego without policy_data stays as text, and a cdh.toml that is not TOML too.
  auto kept = must(parse_init_data(
      {"toml",
       "version = \"0.1.0\"\nalgorithm = \"sha256\"\n[data]\n\"policy.rego\" = \"package x\"\n"
       "\"cdh.toml\" = \"not [ toml\"\n"}));
  EXPECT_EQ(kept.claims["policy.rego"], "package x");
  EXPECT_EQ(kept.claims["cdh.toml"], "not [ toml");
  EXPECT_EQ(kept.digest.size(), 32u);
}

TEST(InitData, Sha512DigestIsTruncatedAndShortOnesPadded) {
  const std::string body = "version = \"0.1.0\"\nalgorithm = \"sha512\"\n[data]\n";
  Bytes mr_config_id = sha512(as_bytes(body));
  mr_config_id.resize(48);
  EXPECT_EQ(check_init_data(mr_config_id, InitData{"toml", body}).outcome, Outcome::pass);
  const std::string body256 = "version = \"0.1.0\"\nalgorithm = \"sha256\"\n[data]\n";
  Bytes padded = sha256(as_bytes(body256));
  padded.resize(48, 0);
  EXPECT_EQ(check_init_data(padded, InitData{"toml", body256}).outcome, Outcome::pass);
  EXPECT_EQ(check_init_data(padded, InitData{"toml", body256 + " "}).outcome, Outcome::fail);
  EXPECT_EQ(check_init_data(padded, std::nullopt).outcome, Outcome::skipped);
  EXPECT_EQ(check_init_data(padded, InitData{"toml", "x"}).outcome, Outcome::error);
  EXPECT_NE(check_init_data(padded, std::nullopt).reason.find("MRCONFIGID is not compared"),
            std::string::npos);
}

TEST(Checks, InitDataInPcr8) {
  const std::string body = R"(version = "0.1.0"
algorithm = "sha256"
[data]
k = "v"
)";
  Bytes extended(32, 0);
  append(extended, sha256(as_bytes(body)));
  const Bytes pcr8 = sha256(extended);
  Json claims;
  CheckResult pass = check_init_data_tpm(&pcr8, InitData{"toml", body}, &claims);
  EXPECT_EQ(pass.outcome, Outcome::pass) << pass.reason;
  EXPECT_EQ(claims, Json({{"k", "v"}}));
  EXPECT_EQ(check_init_data_tpm(&pcr8, InitData{"toml", body + " "}).outcome, Outcome::fail);
  EXPECT_EQ(check_init_data_tpm(nullptr, InitData{"toml", body}).outcome, Outcome::fail);
  CheckResult skipped = check_init_data_tpm(&pcr8, std::nullopt);
  EXPECT_EQ(skipped.outcome, Outcome::skipped);
  EXPECT_NE(skipped.reason.find("PCR 8 is not compared"), std::string::npos);
  EXPECT_EQ(check_init_data_tpm(&pcr8, InitData{"toml", "x"}).outcome, Outcome::error);
}

// ---- the whole simulated appraisal ----

TEST(SimulatedTd, EveryCheckPassesAndTheEvidenceIsLabelledSimulated) {
  SimulatedTd td = simulated_td();
  EvidenceAppraisal result = appraise_evidence(td.evidence, td.options);
  for (const char* name :
       {"quote.signature", "quote.tcb", "binding.kbs", "init_data", "replay.rtmr0", "replay.rtmr1",
        "replay.rtmr2", "replay.rtmr3", "runtime_log.unexplained"})
    EXPECT_EQ(outcome(result.checks, name), Outcome::pass) << name << "\n" << dump(result.checks);
  EXPECT_EQ(outcome(result.checks, "binding.acon"), Outcome::skipped);
  EXPECT_TRUE(result.simulated);
  EXPECT_NE(get(result.checks, "quote.signature").reason.find("SIMULATED"), std::string::npos);
  EXPECT_EQ(get(result.checks, "quote.signature").detail["simulated"], true);

  const Json& claims = *result.claims;
  EXPECT_EQ(claims["acon"]["simulated"], true);
  EXPECT_EQ(claims["init_data"], hex_encode(td.sim.td().mr_config_id));
  EXPECT_EQ(claims["report_data"].get<std::string>().size(), 128u);
  EXPECT_EQ(claims["runtime_data_claims"]["nonce"], "bound-nonce");
  EXPECT_FALSE(claims["runtime_data_claims"]["tee-pubkey"].contains("use"));
  EXPECT_EQ(claims["runtime_data_claims"]["additional-evidence"], "");
  EXPECT_EQ(claims["init_data_claims"]["agent_policy_claims"]["containers"][0]["image"], "pause");
  const Json& events = claims["acon"]["runtime_events"];
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0]["operation"], "AddManifest");
  EXPECT_EQ(events[0]["content"], "sha384/aa");
  EXPECT_EQ(events[2]["domain"], "coco.com");
  EXPECT_EQ(events[2]["register"], "rtmr3");
  EXPECT_EQ(events[2]["proven"], true);
}

// The same evidence through the evidence JSON and the KBS Attestation body appraises the same.
TEST(SimulatedTd, LoadedFormsAppraiseLikeTheModel) {
  SimulatedTd td = simulated_td();
  const CheckResults direct = appraise_evidence(td.evidence, td.options).checks;
  Evidence from_json = must(parse_evidence_json(evidence_to_json(td.evidence).dump()));
  Json kbs = {{"init-data", {{"format", "toml"}, {"body", kInitData}}},
              {"runtime-data",
               {{"nonce", td.evidence.runtime_data->nonce},
                {"tee-pubkey", td.evidence.runtime_data->tee_pubkey}}},
              {"tee-evidence",
               {{"primary_evidence",
                 {{"cc_eventlog", base64_encode(*td.evidence.tdx.cc_eventlog)},
                  {"quote", base64_encode(td.evidence.tdx.quote)}}},
                {"additional_evidence", ""}}}};
  Evidence from_kbs = must(load_kbs_attestation(kbs.dump(), "tdx"));
  for (const Evidence* loaded : {&from_json, &from_kbs}) {
    const CheckResults checks = appraise_evidence(*loaded, td.options).checks;
    ASSERT_EQ(checks.size(), direct.size());
    for (size_t i = 0; i < checks.size(); ++i) {
      EXPECT_EQ(checks[i].name, direct[i].name);
      EXPECT_EQ(checks[i].outcome, direct[i].outcome) << checks[i].name << ": " << checks[i].reason;
    }
  }
}

TEST(SimulatedTd, SimulatorRootNotConfiguredFailsTheSignature) {
  SimulatedTd td = simulated_td();
  td.options.anchors = dcap::default_trust_anchors();
  EvidenceAppraisal result = appraise_evidence(td.evidence, td.options);
  EXPECT_EQ(outcome(result.checks, "quote.signature"), Outcome::fail) << dump(result.checks);
  EXPECT_EQ(outcome(result.checks, "quote.tcb"), Outcome::skipped);
  // Still labelled: the chain carries the simulator's marks, whether or not it verified.
  EXPECT_TRUE(result.claims->at("acon").at("simulated").get<bool>());
}

TEST(SimulatedTd, ATamperedQuoteByteFailsTheSignature) {
  SimulatedTd td = simulated_td();
  td.evidence.tdx.quote[48 + 200] ^= 1;  // inside the TD report body
  EvidenceAppraisal result = appraise_evidence(td.evidence, td.options);
  EXPECT_EQ(outcome(result.checks, "quote.signature"), Outcome::fail) << dump(result.checks);
}

TEST(SimulatedTd, AnotherNonceFailsBindingKbs) {
  SimulatedTd td = simulated_td();
  td.evidence.runtime_data = runtime_data("another-nonce");
  EvidenceAppraisal result = appraise_evidence(td.evidence, td.options);
  EXPECT_EQ(outcome(result.checks, "binding.kbs"), Outcome::fail);
  EXPECT_EQ(outcome(result.checks, "quote.signature"), Outcome::pass);
}

TEST(SimulatedTd, OtherInitDataFailsInitData) {
  SimulatedTd td = simulated_td();
  td.evidence.init_data->body += "\n";
  EvidenceAppraisal result = appraise_evidence(td.evidence, td.options);
  EXPECT_EQ(outcome(result.checks, "init_data"), Outcome::fail);
  EXPECT_NE(get(result.checks, "init_data").reason.find("MRCONFIGID"), std::string::npos);
}

TEST(SimulatedTd, AFlippedCcelDigestByteFailsItsRegisterWithoutNamingAGuess) {
  SimulatedTd td = simulated_td();
  Bytes& log = *td.evidence.tdx.cc_eventlog;
  auto parsed = must(eventlog::parse_event_log(log));
  const eventlog::Event* target = nullptr;
  for (const auto& event : parsed.events)
    if (event.number > 0 && event.type != eventlog::ev::kNoAction && event.index == 2) {
      target = &event;
      break;
    }
  ASSERT_NE(target, nullptr);
  const auto digest_offset = target->digests[0].value.data() - log.data();
  log[digest_offset] ^= 0x01;
  EvidenceAppraisal result = appraise_evidence(td.evidence, td.options);
  EXPECT_EQ(outcome(result.checks, "replay.rtmr1"), Outcome::fail) << dump(result.checks);
  EXPECT_NE(get(result.checks, "replay.rtmr1").reason.find("no prefix"), std::string::npos);
  EXPECT_EQ(outcome(result.checks, "replay.rtmr0"), Outcome::pass);
  EXPECT_EQ(outcome(result.checks, "replay.rtmr3"), Outcome::pass);
}

TEST(SimulatedTd, ReorderedRuntimeRecordsFailRtmr3) {
  SimulatedTd td = simulated_td();
  Bytes log = td.sim.ccel();
  log.resize(must(eventlog::parse_event_log(log)).end_offset);
  for (int i : {1, 0, 2}) append(log, aael(4, kRuntimeEvents[i]));
  td.evidence.tdx.cc_eventlog = log;
  EvidenceAppraisal result = appraise_evidence(td.evidence, td.options);
  EXPECT_EQ(outcome(result.checks, "replay.rtmr3"), Outcome::fail) << dump(result.checks);
  EXPECT_EQ(outcome(result.checks, "runtime_log.unexplained"), Outcome::fail);
  EXPECT_EQ(result.claims->at("acon").at("runtime_events").at(0).at("proven"), false);
}

TEST(SimulatedTd, ARuntimeRecordNotInTheQuoteIsNamed) {
  SimulatedTd td = simulated_td();
  Bytes& log = *td.evidence.tdx.cc_eventlog;
  log.resize(log.size() - 8);  // drop the fill, append a record never extended
  const size_t offset = log.size();
  append(log, aael(4, {"coco.com", "CreateContainer", "late"}));
  EvidenceAppraisal result = appraise_evidence(td.evidence, td.options);
  const CheckResult& rtmr3 = get(result.checks, "replay.rtmr3");
  EXPECT_EQ(rtmr3.outcome, Outcome::fail);
  EXPECT_NE(rtmr3.reason.find("first 3 of 4"), std::string::npos) << rtmr3.reason;
  EXPECT_NE(rtmr3.reason.find("offset " + std::to_string(offset)), std::string::npos)
      << rtmr3.reason;
  EXPECT_EQ(rtmr3.detail["matching_prefix"], 3);
  const CheckResult& unexplained = get(result.checks, "runtime_log.unexplained");
  EXPECT_EQ(unexplained.outcome, Outcome::fail);
  EXPECT_NE(unexplained.reason.find("runtime AAEL record"), std::string::npos)
      << unexplained.reason;
}

TEST(SimulatedTd, ARuntimeRecordForAnUnquotedIndexIsUnexplained) {
  SimulatedTd td = simulated_td();
  Bytes& log = *td.evidence.tdx.cc_eventlog;
  log.resize(log.size() - 8);
  append(log, aael(0, {"coco.com", "CreateContainer", "mrtd"}));
  EvidenceAppraisal result = appraise_evidence(td.evidence, td.options);
  EXPECT_EQ(outcome(result.checks, "runtime_log.unexplained"), Outcome::fail);
  EXPECT_NE(get(result.checks, "runtime_log.unexplained").reason.find("index 0"),
            std::string::npos);
  EXPECT_EQ(outcome(result.checks, "replay.rtmr3"), Outcome::pass);
}

TEST(SimulatedTd, SeparateCcelAndRuntimeRecordsReplayLikeThePackedLog) {
  SimulatedTd td = simulated_td();
  td.evidence.tdx.cc_eventlog.reset();
  td.evidence.tdx.ccel = td.sim.ccel();
  Bytes records;
  for (const auto& event : kRuntimeEvents) append(records, aael(4, event));
  td.evidence.tdx.runtime_aael = records;
  EvidenceAppraisal result = appraise_evidence(td.evidence, td.options);
  EXPECT_EQ(outcome(result.checks, "replay.rtmr3"), Outcome::pass) << dump(result.checks);
  EXPECT_EQ(outcome(result.checks, "runtime_log.unexplained"), Outcome::pass);
  EXPECT_EQ(result.claims->at("acon").at("runtime_events").size(), 3u);
  // Without the runtime records RTMR3 has an extend with no log entry.
  td.evidence.tdx.runtime_aael.reset();
  result = appraise_evidence(td.evidence, td.options);
  EXPECT_EQ(outcome(result.checks, "replay.rtmr3"), Outcome::fail);
  EXPECT_NE(get(result.checks, "replay.rtmr3").reason.find("extend without a log entry"),
            std::string::npos);
}

TEST(SimulatedTd, NoLogSkipsReplay) {
  SimulatedTd td = simulated_td();
  td.evidence.tdx.cc_eventlog.reset();
  EvidenceAppraisal result = appraise_evidence(td.evidence, td.options);
  EXPECT_EQ(outcome(result.checks, "replay.rtmr0"), Outcome::skipped);
  EXPECT_EQ(outcome(result.checks, "runtime_log.unexplained"), Outcome::skipped);
}

TEST(SimulatedTd, UnparsableQuoteIsAnErrorForEveryCheck) {
  SimulatedTd td = simulated_td();
  td.evidence.tdx.quote.resize(100);
  EvidenceAppraisal result = appraise_evidence(td.evidence, td.options);
  EXPECT_EQ(outcome(result.checks, "quote.signature"), Outcome::error);
  EXPECT_EQ(outcome(result.checks, "binding.kbs"), Outcome::error);
  EXPECT_EQ(outcome(result.checks, "replay.rtmr3"), Outcome::error);
}

// ---- real evidence ----

TEST(RealQuote, TdxQuoteWithCollateralVerifiesAtItsPinnedTime) {
  Evidence evidence;
  evidence.tdx.quote = test::read_data_bytes("quotes/phala-dcap-qvl/tdx_quote");
  evidence.collateral = test::read_data("quotes/phala-dcap-qvl/tdx_quote_collateral.json");
  AppraisalOptions options;
  options.at = Time(std::chrono::seconds(1751624191));
  EvidenceAppraisal result = appraise_evidence(evidence, options);
  EXPECT_EQ(outcome(result.checks, "quote.signature"), Outcome::pass) << dump(result.checks);
  EXPECT_EQ(outcome(result.checks, "quote.tcb"), Outcome::pass);
  EXPECT_FALSE(result.simulated);
  EXPECT_EQ(outcome(result.checks, "binding.kbs"), Outcome::skipped);
  EXPECT_EQ(result.claims->at("init_data_claims"), nullptr);

  evidence.tdx.quote = test::read_data_bytes("quotes/negative/v4_quote_sig.bin");
  result = appraise_evidence(evidence, options);
  EXPECT_EQ(outcome(result.checks, "quote.signature"), Outcome::fail) << dump(result.checks);

  evidence.collateral.reset();
  result = appraise_evidence(evidence, options);
  EXPECT_EQ(outcome(result.checks, "quote.signature"), Outcome::error);
}

TEST(RealQuote, SgxQuoteVerifiesAndSkipsTdxOnlyChecks) {
  Evidence evidence;
  evidence.platform = Platform::sgx;
  evidence.sgx.quote = test::read_data_bytes("quotes/phala-dcap-qvl/sgx_quote");
  evidence.collateral = test::read_data("quotes/phala-dcap-qvl/sgx_quote_collateral.json");
  AppraisalOptions options;
  options.at = Time(std::chrono::seconds(1751624924));
  EvidenceAppraisal result = appraise_evidence(evidence, options);
  EXPECT_EQ(outcome(result.checks, "quote.signature"), Outcome::pass) << dump(result.checks);
  EXPECT_EQ(outcome(result.checks, "quote.tcb"), Outcome::pass);
  EXPECT_EQ(outcome(result.checks, "init_data"), Outcome::skipped);
  // A TDX evidence holding this SGX quote is unusable, not silently accepted.
  evidence.platform = Platform::tdx;
  evidence.tdx.quote = evidence.sgx.quote;
  result = appraise_evidence(evidence, options);
  EXPECT_EQ(outcome(result.checks, "quote.signature"), Outcome::error);
}

// cc-trusted-api's capture: CCEL explains RTMR0/1, CCEL + IMA RTMR2, RTMR3 is zero.
TEST(RealLogs, CcTrustedApiCcelAndImaReplayEveryRtmr) {
  TdxEvidence evidence;
  evidence.quote = test::read_data_bytes("eventlog/cc-trusted-api/quote.bin");
  evidence.ccel = test::read_data_bytes("eventlog/cc-trusted-api/ccel_data.bin");
  evidence.ima_log = test::read_data("eventlog/cc-trusted-api/ima_log.bin");
  ReplayChecks replay = check_tdx_replay(evidence);
  for (const char* name : {"replay.rtmr0", "replay.rtmr1", "replay.rtmr2", "replay.rtmr3"})
    EXPECT_EQ(outcome(replay.registers, name), Outcome::pass) << name << dump(replay.registers);
  EXPECT_EQ(replay.unexplained.outcome, Outcome::pass) << replay.unexplained.reason;
  ASSERT_EQ(replay.runtime_events.size(), 1u);
  EXPECT_EQ(replay.runtime_events[0]["path"], "boot_aggregate");

  evidence.ima_log.reset();
  replay = check_tdx_replay(evidence);
  EXPECT_EQ(outcome(replay.registers, "replay.rtmr2"), Outcome::fail);
  EXPECT_EQ(outcome(replay.registers, "replay.rtmr1"), Outcome::pass);
}

// Trustee's legacy text AAEL and the quote it was captured with: RTMR3 replays.
TEST(RealLogs, LegacyTextAaelExplainsRtmr3) {
  TdxEvidence evidence;
  evidence.quote = test::read_data_bytes("eventlog/trustee_aael_legacy/AAEL_quote_tdx");
  evidence.runtime_text_aael = test::read_data("eventlog/trustee_aael_legacy/AAEL_data_1");
  ReplayChecks replay = check_tdx_replay(evidence);
  EXPECT_EQ(outcome(replay.registers, "replay.rtmr3"), Outcome::pass) << dump(replay.registers);
  EXPECT_FALSE(replay.runtime_events.empty());
  EXPECT_EQ(replay.runtime_events[1]["operation"], "CreateContainer");

  // A line changed: nothing reproduces the quoted value.
  std::string text = *evidence.runtime_text_aael;
  text.replace(text.find("alpine"), 6, "alpinf");
  evidence.runtime_text_aael = text;
  replay = check_tdx_replay(evidence);
  EXPECT_EQ(outcome(replay.registers, "replay.rtmr3"), Outcome::fail);
  EXPECT_EQ(replay.unexplained.outcome, Outcome::fail);
}

}  // namespace
}  // namespace acon::appraisal

namespace acon::appraisal {
namespace {

using test::StoredVtpm;

TEST(Vtpm, StoredSwtpmQuoteVerifiesAndItsLogReplays) {
  StoredVtpm vtpm = test::stored_vtpm(kCheck);
  EvidenceAppraisal result = appraise_evidence(vtpm.evidence, vtpm.options);
  EXPECT_EQ(outcome(result.checks, "quote.signature"), Outcome::pass) << dump(result.checks);
  EXPECT_EQ(outcome(result.checks, "quote.tcb"), Outcome::skipped);
  EXPECT_EQ(outcome(result.checks, "replay.pcr0.sha256"), Outcome::pass);
  EXPECT_EQ(outcome(result.checks, "replay.pcr7.sha384"), Outcome::pass);
  EXPECT_EQ(outcome(result.checks, "runtime_log.unexplained"), Outcome::pass);
}

TEST(Vtpm, WrongNonceMissingEventAndNoTrustAreNamed) {
  StoredVtpm vtpm = test::stored_vtpm(kCheck);
  vtpm.options.tpm_extra_data[0] ^= 1;
  EvidenceAppraisal result = appraise_evidence(vtpm.evidence, vtpm.options);
  EXPECT_EQ(outcome(result.checks, "quote.signature"), Outcome::fail) << dump(result.checks);

  StoredVtpm missing = test::stored_vtpm(kCheck, false);
  result = appraise_evidence(missing.evidence, missing.options);
  EXPECT_EQ(outcome(result.checks, "replay.pcr0.sha256"), Outcome::fail);
  EXPECT_EQ(outcome(result.checks, "replay.pcr4.sha256"), Outcome::pass);

  missing.options.ak_trust.reset();
  result = appraise_evidence(missing.evidence, missing.options);
  EXPECT_EQ(outcome(result.checks, "quote.signature"), Outcome::error);
}

// acond's runtime records replay after the firmware's events into their PCR's sha384 bank. The
// stored quote holds PCR 15 at its reset value, so a record there is one the quote does not
// explain; garbage in place of records is an error, not a pass.
TEST(Vtpm, RuntimeRecordsAreReplayedAfterTheFirmwareLog) {
  StoredVtpm vtpm = test::stored_vtpm(kCheck);
  const HashAlg sha384[] = {HashAlg::sha384};
  vtpm.evidence.vtpm.runtime_aael =
      must(eventlog::measured_record(15, eventlog::ev::kAction, sha384, as_bytes("not quoted")));
  EvidenceAppraisal result = appraise_evidence(vtpm.evidence, vtpm.options);
  EXPECT_EQ(outcome(result.checks, "quote.signature"), Outcome::pass) << dump(result.checks);
  EXPECT_EQ(outcome(result.checks, "replay.pcr0.sha256"), Outcome::pass);
  EXPECT_EQ(outcome(result.checks, "replay.pcr15.sha384"), Outcome::fail) << dump(result.checks);
  // The record has no sha256 digest: that bank is untouched and still at its reset value.
  EXPECT_EQ(outcome(result.checks, "replay.pcr15.sha256"), Outcome::pass);
  EXPECT_EQ(outcome(result.checks, "runtime_log.unexplained"), Outcome::fail);

  vtpm.evidence.vtpm.runtime_aael = Bytes{1, 2, 3};
  result = appraise_evidence(vtpm.evidence, vtpm.options);
  EXPECT_EQ(outcome(result.checks, "runtime_log.unexplained"), Outcome::error);
  EXPECT_NE(get(result.checks, "runtime_log.unexplained").reason.find("runtime AAEL records"),
            std::string::npos);
}

}  // namespace
}  // namespace acon::appraisal
