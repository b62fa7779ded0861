// Declarative appraisal policy: parsing (unknown keys refused with their line), evaluation to a
// trust vector with explanations, hard rules, expired reference values, and Trustee's default CPU
// policy (policies/default_cpu.toml) against claims in the shape Trustee's TDX verifier produces.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "acon/appraisal/policy.h"
#include "acon/common/bytes.h"

namespace acon::appraisal {
namespace {

using namespace std::chrono_literals;

const Time kNow = Time(1767225600s);  // 2026-01-01T00:00:00Z

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

Policy must_parse(std::string_view text) {
  auto policy = parse_policy(text, "test.toml");
  EXPECT_TRUE(policy.ok()) << policy.error().to_string();
  return policy.ok() ? *policy : Policy{};
}

// A policy whose one tier gives hardware 2 when every condition in `conditions` (the inside of a
// TOML array of inline tables) holds; hardware is 97 otherwise.
Policy hardware_policy(std::string_view id, std::string_view conditions) {
  return must_parse("version = 1\nid = \"" + std::string(id) +
                    "\"\n[hardware]\ndefault = 97\n[[hardware.tiers]]\nvalue = 2\nwhen = [" +
                    std::string(conditions) + "]\n");
}

std::string rvps_message(const Json& payload) {
  Json m = {{"version", "0.1.0"},
            {"type", "sample"},
            {"payload", base64_encode(as_bytes(payload.dump()), Base64::standard)}};
  return m.dump();
}

int8_t value_of(const Appraisal& a, TrustClaim claim) { return *a.trust_vector.get(claim); }

// ---- parsing ----

TEST(PolicyParse, MinimalPolicy) {
  Policy p = must_parse("version = 1\nid = \"p\"\n");
  EXPECT_EQ(p.id, "p");
  EXPECT_FALSE(p.allow_simulated);
  EXPECT_FALSE(p.allow_debug);
  for (const auto& rules : p.rules) {
    EXPECT_EQ(rules.default_value, 0);
    EXPECT_TRUE(rules.tiers.empty());
  }
}

// Found by fuzz_policy: toml++ 3.x reaches __builtin_unreachable on some non-ASCII code points
// (src/toml_guard.h); such text is refused before toml++ sees it, with its line.
TEST(PolicyParse, CodePointsTheTomlLibraryMishandlesAreRefused) {
  auto p = parse_policy("version = 1\nversio\xc5\xbf@@n = 1\nid = \"tcb\"\n", "crash.toml");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().message.find("line 2: character U+017F"), std::string::npos)
      << p.error().message;
  // Code points toml++ handles stay accepted inside strings.
  EXPECT_TRUE(
      parse_policy("version = 1\nid = \"\xe2\x82\xac \xf0\x9f\x98\x80\"\n", "ok.toml").ok());
}

TEST(PolicyParse, UnknownKeysRefusedWithTheirLine) {
  struct Case {
    std::string text;
    std::string expected;
  };
  const Case cases[] = {
      {"version = 1\nid = \"p\"\nallow_simulate = true\n",
       "test.toml:3: top level: unknown key \"allow_simulate\""},
      {"version = 1\nid = \"p\"\n[hardware]\ndefault = 97\nfallback = 1\n",
       "test.toml:5: [hardware]: unknown key \"fallback\""},
      {"version = 1\nid = \"p\"\n[[hardware.tiers]]\nvalue = 2\n"
       "when = [\n  { claim = \"tdx.tcb_status\", equal = \"UpToDate\" },\n]\n",
       "test.toml:6: [hardware] tier 1.when[1]: unknown key \"equal\""},
      {"version = 1\nid = \"p\"\n[[executables.tiers]]\nvalue = 3\nif = []\n",
       "test.toml:5: [executables] tier 1: unknown key \"if\""},
      // A misspelt trust claim is an unknown top-level key.
      {"version = 1\nid = \"p\"\n\n[filesystem]\ndefault = 2\n",
       "test.toml:4: top level: unknown key \"filesystem\""},
  };
  for (const auto& c : cases) {
    auto policy = parse_policy(c.text, "test.toml");
    ASSERT_FALSE(policy.ok()) << c.text;
    EXPECT_EQ(policy.error().code, Errc::parse);
    EXPECT_EQ(policy.error().message, c.expected);
  }
}

TEST(PolicyParse, MalformedPolicies) {
  const char* bad[] = {
      "id = \"p\"\n",                                              // no version
      "version = 1\n",                                             // no id
      "version = 1\nid = \"\"\n",                                  // empty id
      "version = 1\nid = \"p\"\nallow_debug = \"yes\"\n",          // not a boolean
      "version = 1\nid = \"p\"\n[hardware]\ndefault = 200\n",      // not an AR4SI value
      "version = 1\nid = \"p\"\n[[hardware.tiers]]\nvalue = 2\n",  // no when
      "version = 1\nid = \"p\"\n[[hardware.tiers]]\nvalue = 2\nwhen = []\n",
      // two subjects; no test; a test on a check; where without any/all; any without where
      "version = 1\nid = \"p\"\n[[hardware.tiers]]\nvalue = 2\n"
      "when = [{ claim = \"a\", check = \"b\", is = true }]\n",
      "version = 1\nid = \"p\"\n[[hardware.tiers]]\nvalue = 2\nwhen = [{ claim = \"a\" }]\n",
      "version = 1\nid = \"p\"\n[[hardware.tiers]]\nvalue = 2\n"
      "when = [{ check = \"b\", is = true }]\n",
      "version = 1\nid = \"p\"\n[[hardware.tiers]]\nvalue = 2\n"
      "when = [{ claim = \"a\", is = true, where = [{ claim = \"b\", is = true }] }]\n",
      "version = 1\nid = \"p\"\n[[hardware.tiers]]\nvalue = 2\nwhen = [{ any = \"a\" }]\n",
      // operands of the wrong type
      "version = 1\nid = \"p\"\n[[hardware.tiers]]\nvalue = 2\n"
      "when = [{ claim = \"a\", one_of = \"UpToDate\" }]\n",
      "version = 1\nid = \"p\"\n[[hardware.tiers]]\nvalue = 2\n"
      "when = [{ claim = \"a\", min = \"0x3\" }]\n",
      "version = 1\nid = \"p\"\n[[hardware.tiers]]\nvalue = 2\n"
      "when = [{ claim = \"a\", is = 1 }]\n",
      "version = 1\nid = \"p\"\n[[hardware.tiers]]\nvalue = 2\n"
      "when = [{ claim = \"a\", equals = 1979-05-27 }]\n",
      // paths
      "version = 1\nid = \"p\"\n[[hardware.tiers]]\nvalue = 2\n"
      "when = [{ claim = \"tdx..tcb_status\", equals = 1 }]\n",
      "version = 1\nid = \"p\"\n[[hardware.tiers]]\nvalue = 2\n"
      "when = [{ claim = \"/tdx/~2\", equals = 1 }]\n",
      "not toml = = 1\n",
  };
  for (const char* text : bad) {
    auto policy = parse_policy(text, "test.toml");
    EXPECT_FALSE(policy.ok()) << text;
    if (!policy.ok()) {
      EXPECT_EQ(policy.error().code, Errc::parse) << text;
      EXPECT_EQ(policy.error().message.rfind("test.toml:", 0), 0u) << policy.error().message;
    }
  }
  auto v2 = parse_policy("version = 2\nid = \"p\"\n", "test.toml");
  ASSERT_FALSE(v2.ok());
  EXPECT_EQ(v2.error().code, Errc::unsupported);
  EXPECT_FALSE(parse_policy(std::string(kMaxPolicyBytes + 1, '#')).ok());
}

TEST(PolicyParse, ConditionNestingIsBounded) {
  std::string condition = "{ claim = \"x\", is = true }";
  for (size_t i = 0; i <= kMaxConditionDepth; ++i) {
    condition = "{ any = \"x\", where = [" + condition + "] }";
  }
  auto policy = parse_policy(
      "version = 1\nid = \"p\"\n[[hardware.tiers]]\nvalue = 2\nwhen = [" + condition + "]\n",
      "test.toml");
  ASSERT_FALSE(policy.ok());
  EXPECT_NE(policy.error().message.find("nest deeper"), std::string::npos);
}

// ---- evaluation on hand-made claims ----

// Hardware 2 for an up-to-date TCB, 32 ("genuine with known vulnerabilities") for listed
// advisories on an out-of-date one, else 97.
constexpr std::string_view kTcbPolicy = R"(
version = 1
id = "tcb"
[hardware]
default = 97
[[hardware.tiers]]
value = 2
when = [
  { check = "quote.signature" },
  { claim = "tdx.tcb_status", one_of = ["UpToDate"] },
  { claim = "tdx.quote.body.mr_td", in_reference = "mr_td" },
]
[[hardware.tiers]]
value = 32
when = [
  { claim = "tdx.tcb_status", one_of = ["OutOfDate", "SWHardeningNeeded"] },
  { claim = "tdx.advisory_ids", subset_of = ["INTEL-SA-00837", "INTEL-SA-00960"] },
]
)";

Json tcb_claims(std::string_view status, Json advisories = Json::array()) {
  return {{"tdx",
           {{"quote", {{"body", {{"mr_td", "aa11"}}}}},
            {"tcb_status", status},
            {"advisory_ids", std::move(advisories)}}}};
}

CheckResults signature_passed() {
  return {CheckResult{"quote.signature", Outcome::pass, "ECDSA P-256 over header and body", {}}};
}

ReferenceValueStore mr_td_store(Time at = kNow) {
  ReferenceValueStore store;
  EXPECT_TRUE(store.register_message(rvps_message({{"mr_td", {"aa11", "bb22"}}}), at).ok());
  return store;
}

TEST(PolicyEvaluate, Affirming) {
  Policy p = must_parse(kTcbPolicy);
  auto a = evaluate(p, tcb_claims("UpToDate"), signature_passed(), mr_td_store(), kNow);
  ASSERT_TRUE(a.ok()) << a.error().to_string();
  EXPECT_EQ(value_of(*a, TrustClaim::hardware), 2);
  // Claims the policy does not mention are present with 0, as in Trustee's vectors.
  EXPECT_EQ(value_of(*a, TrustClaim::executables), 0);
  EXPECT_EQ(a->status, Tier::affirming);
  EXPECT_EQ(a->policy_id, "tcb");
  EXPECT_EQ(a->explanation(TrustClaim::hardware).to_string(),
            "hardware=2 (tier 1 (value 2)): all 3 conditions hold");
  Submod submod = a->to_submod();
  EXPECT_EQ(submod.status, Tier::affirming);
  EXPECT_EQ(submod.appraisal_policy_id, "tcb");
}

TEST(PolicyEvaluate, WarningWithAllowedAdvisories) {
  Policy p = must_parse(kTcbPolicy);
  auto a = evaluate(p, tcb_claims("OutOfDate", {"INTEL-SA-00837"}), signature_passed(),
                    mr_td_store(), kNow);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(value_of(*a, TrustClaim::hardware), 32);
  EXPECT_EQ(a->status, Tier::warning);
}

TEST(PolicyEvaluate, ContraindicatedSaysWhy) {
  Policy p = must_parse(kTcbPolicy);
  auto a = evaluate(p, tcb_claims("OutOfDate", {"INTEL-SA-00837", "INTEL-SA-01079"}),
                    signature_passed(), mr_td_store(), kNow);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(value_of(*a, TrustClaim::hardware), 97);
  EXPECT_EQ(a->status, Tier::contraindicated);
  EXPECT_EQ(a->explanation(TrustClaim::hardware).to_string(),
            "hardware=97 (default): not 2: tdx.tcb_status is OutOfDate, allowed: UpToDate | "
            "not 32: tdx.advisory_ids has INTEL-SA-01079, allowed: INTEL-SA-00837, "
            "INTEL-SA-00960");
}

TEST(PolicyEvaluate, SingleTierExplanationIsTheFailure) {
  Policy p = hardware_policy("p", R"({ claim = "tdx.tcb_status", one_of = ["UpToDate"] })");
  auto a = evaluate(p, tcb_claims("OutOfDate"), {}, {}, kNow);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->explanation(TrustClaim::hardware).to_string(),
            "hardware=97 (default): tdx.tcb_status is OutOfDate, allowed: UpToDate");
}

TEST(PolicyEvaluate, ExpiredReferenceValueMatchesNothing) {
  Policy p = must_parse(kTcbPolicy);
  ReferenceValueStore store = mr_td_store();
  Time expiry = default_expiration(kNow);
  auto at_expiry = evaluate(p, tcb_claims("UpToDate"), signature_passed(), store, expiry);
  ASSERT_TRUE(at_expiry.ok());
  EXPECT_EQ(value_of(*at_expiry, TrustClaim::hardware), 2);
  auto after = evaluate(p, tcb_claims("UpToDate"), signature_passed(), store, expiry + 1s);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(value_of(*after, TrustClaim::hardware), 97);
  const std::string& reason = after->explanation(TrustClaim::hardware).reason;
  EXPECT_NE(reason.find("tdx.quote.body.mr_td cannot match: reference value 'mr_td' expired at "
                        "2027-01-01T00:00:00Z"),
            std::string::npos)
      << reason;
}

TEST(PolicyEvaluate, MissingReferenceValueAndClaim) {
  Policy p = must_parse(kTcbPolicy);
  auto no_rv = evaluate(p, tcb_claims("UpToDate"), signature_passed(), {}, kNow);
  ASSERT_TRUE(no_rv.ok());
  EXPECT_NE(no_rv->explanation(TrustClaim::hardware)
                .reason.find("reference value 'mr_td' is not registered"),
            std::string::npos);
  auto no_claim = evaluate(p, Json::object(), {}, mr_td_store(), kNow);
  ASSERT_TRUE(no_claim.ok());
  EXPECT_EQ(value_of(*no_claim, TrustClaim::hardware), 97);
  EXPECT_NE(no_claim->explanation(TrustClaim::hardware).reason.find("tdx.tcb_status is absent"),
            std::string::npos);
  EXPECT_NE(
      no_claim->explanation(TrustClaim::hardware).reason.find("check quote.signature was not run"),
      std::string::npos);
  EXPECT_FALSE(evaluate(p, Json::array(), {}, {}, kNow).ok());
}

TEST(PolicyEvaluate, MinimumSvnByteWiseAndInteger) {
  Policy p = hardware_policy("svn", R"(
  { claim = "tdx.quote.body.tcb_svn", min = "03010200" },
  { claim = "/tdx/pce.svn", min = 13 },
)");
  auto run = [&](std::string_view svn, int pce) {
    Json claims = {{"tdx", {{"quote", {{"body", {{"tcb_svn", svn}}}}}, {"pce.svn", pce}}}};
    auto a = evaluate(p, claims, {}, {}, kNow);
    EXPECT_TRUE(a.ok());
    return *a;
  };
  EXPECT_EQ(value_of(run("03010200", 13), TrustClaim::hardware), 2);
  EXPECT_EQ(value_of(run("04020300", 20), TrustClaim::hardware), 2);
  // Larger as a number, but byte 1 is below its minimum: SVNs compare component by component.
  Appraisal low = run("04000900", 13);
  EXPECT_EQ(value_of(low, TrustClaim::hardware), 97);
  EXPECT_EQ(low.explanation(TrustClaim::hardware).reason,
            "tdx.quote.body.tcb_svn byte 1 is 0x00, below the minimum 0x01 (03010200)");
  Appraisal old_pce = run("03010200", 12);
  EXPECT_EQ(old_pce.explanation(TrustClaim::hardware).reason,
            "/tdx/pce.svn is 12, below the minimum 13");
  EXPECT_EQ(value_of(run("030102", 13), TrustClaim::hardware), 97);  // wrong length
}

// Images and runtime events, over the acon section.
constexpr std::string_view kImagePolicy = R"(
version = 1
id = "images"
allow_simulated = true
[executables]
default = 33
[[executables.tiers]]
value = 2
when = [
  { check = "replay.rtmr3" },
  { all = "acon.images", where = [
      { claim = "signer_digest", in_reference = "acon_signers" },
      { claim = "verdict.acond", one_of = ["accepted", "already_loaded"] },
  ] },
  { any = "acon.images", where = [{ claim = "image_id", one_of = ["img-a"] }] },
  { any = "acon.runtime_events", where = [{ claim = "type", equals = "AddManifest" }] },
]
)";

Json image_claims(std::string_view signer, std::string_view verdict) {
  return {
      {"acon",
       {{"simulated", true},
        {"images",
         {{{"image_id", "img-a"}, {"signer_digest", "5a"}, {"verdict", {{"acond", "accepted"}}}},
          {{"image_id", "img-b"}, {"signer_digest", signer}, {"verdict", {{"acond", verdict}}}}}},
        {"runtime_events", {{{"type", "AddManifest"}}}}}}};
}

TEST(PolicyEvaluate, ImagesAndRuntimeEvents) {
  Policy p = must_parse(kImagePolicy);
  ReferenceValueStore store;
  ASSERT_TRUE(store.register_message(rvps_message({{"acon_signers", {"5a", "6b"}}}), kNow).ok());
  CheckResults checks = {{"replay.rtmr3", Outcome::pass, "", nullptr}};
  auto good = evaluate(p, image_claims("6b", "already_loaded"), checks, store, kNow);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(value_of(*good, TrustClaim::executables), 2);
  EXPECT_EQ(good->status, Tier::affirming);  // simulated, but the policy allows it

  auto bad = evaluate(p, image_claims("7c", "rejected"), checks, store, kNow);
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(value_of(*bad, TrustClaim::executables), 33);
  EXPECT_EQ(bad->explanation(TrustClaim::executables).reason,
            "acon.images[1]: signer_digest is 7c, not among the 2 values of reference value "
            "'acon_signers'; verdict.acond is rejected, allowed: accepted, already_loaded");

  Json no_event = image_claims("6b", "accepted");
  no_event["acon"]["runtime_events"] = Json::array();
  auto missing = evaluate(p, no_event, checks, store, kNow);
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->explanation(TrustClaim::executables).reason,
            "no element of acon.runtime_events (0) has type = AddManifest");
}

TEST(PolicyHardRules, QuoteSignatureFailureIsCryptoValidationFailed) {
  Policy p = must_parse(kTcbPolicy);
  CheckResults checks = {{"quote.signature", Outcome::fail, "ECDSA signature does not verify", {}}};
  auto a = evaluate(p, tcb_claims("UpToDate"), checks, mr_td_store(), kNow);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(value_of(*a, TrustClaim::hardware), 99);
  EXPECT_EQ(value_of(*a, TrustClaim::instance_identity), 99);
  EXPECT_EQ(a->status, Tier::contraindicated);
  EXPECT_EQ(a->explanation(TrustClaim::hardware).to_string(),
            "hardware=99 (hard rule: quote.signature): quote.signature fail: ECDSA signature does "
            "not verify (crypto validation failed)");

  CheckResults error = {{"quote.signature", Outcome::error, "no collateral", {}}};
  auto e = evaluate(p, tcb_claims("UpToDate"), error, mr_td_store(), kNow);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(value_of(*e, TrustClaim::hardware), 97);
}

TEST(PolicyHardRules, FailedChecksForceClaims) {
  // A policy that affirms everything unconditionally: only the hard rules can lower it.
  std::string text = "version = 1\nid = \"lenient\"\n";
  for (size_t i = 0; i < kTrustClaimCount; ++i) {
    text += "[" + std::string(trust_claim_name(static_cast<TrustClaim>(i))) + "]\ndefault = 2\n";
  }
  Policy p = must_parse(text);
  struct Case {
    std::string check;
    TrustClaim claim;
    int8_t value;
  };
  const Case cases[] = {
      {"binding.kbs", TrustClaim::instance_identity, 96},
      {"init_data", TrustClaim::configuration, 96},
      {"replay.rtmr3", TrustClaim::executables, 96},
      {"image.0123abcd.signature", TrustClaim::executables, 99},
      {"launch_policy.acond", TrustClaim::executables, 96},
  };
  for (const auto& c : cases) {
    auto pass = evaluate(p, Json::object(), {{c.check, Outcome::pass, "", {}}}, {}, kNow);
    ASSERT_TRUE(pass.ok());
    EXPECT_EQ(pass->status, Tier::affirming) << c.check;
    auto fail = evaluate(p, Json::object(), {{c.check, Outcome::fail, "mismatch", {}}}, {}, kNow);
    ASSERT_TRUE(fail.ok());
    EXPECT_EQ(value_of(*fail, c.claim), c.value) << c.check;
    EXPECT_EQ(fail->explanation(c.claim).rule, "hard rule: " + c.check);
    EXPECT_EQ(fail->status, Tier::contraindicated);
  }
}

TEST(PolicyHardRules, SimulatedAndDebugRefusedUnlessAllowed) {
  Policy p = must_parse(
      "version = 1\nid = \"p\"\n[hardware]\ndefault = 2\n"
      "[configuration]\ndefault = 2\n");
  Json claims = {{"acon", {{"simulated", true}}}, {"tdx", {{"td_attributes", {{"debug", true}}}}}};
  auto refused = evaluate(p, claims, {}, {}, kNow);
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(value_of(*refused, TrustClaim::hardware), 96);
  EXPECT_EQ(value_of(*refused, TrustClaim::configuration), 96);
  EXPECT_NE(refused->explanation(TrustClaim::hardware).reason.find("simulated TDX platform"),
            std::string::npos);
  p.allow_simulated = true;
  p.allow_debug = true;
  auto allowed = evaluate(p, claims, {}, {}, kNow);
  ASSERT_TRUE(allowed.ok());
  EXPECT_EQ(allowed->status, Tier::affirming);
}

// ---- Trustee's default CPU policy ----

const std::string kDefaultCpu =
    std::string(ACON_TEST_DATA) + "/../../verifier/appraisal/policies/default_cpu.toml";

// The claims Trustee's TDX verifier produced for a real v4 quote and its CCEL (a debug TD booted
// without TDVF logging the kernel), with the DCAP supplemental claims Trustee adds beside them.
Json trustee_input(bool debug, std::string_view tcb_status = "UpToDate") {
  auto tdx = parse_json(
      read_text(std::string(ACON_TEST_DATA) + "/appraisal/trustee_parse_tdx_claims_expected.json"));
  EXPECT_TRUE(tdx.ok());
  Json claims = tdx.ok() ? *tdx : Json::object();
  claims["tcb_status"] = tcb_status;
  claims["collateral_expiration_status"] = "0";
  claims["advisory_ids"] = Json::array();
  claims["td_attributes"]["debug"] = debug;
  Json input = {{"tdx", claims},
                {"report_data", claims["report_data"]},
                {"init_data", claims["init_data"]},
                {"init_data_claims", nullptr},
                {"runtime_data_claims", nullptr}};
  return input;
}

// Adds the two CCEL events a direct TDVF boot logs: the kernel image and its command line.
void add_tdvf_kernel_events(Json& input) {
  Json& events = input["tdx"]["uefi_event_logs"];
  events.push_back(
      {{"index", 2},
       {"type_name", "EV_EFI_BOOT_SERVICES_APPLICATION"},
       {"digests", {{{"alg", "SHA-384"}, {"digest", std::string(96, 'a')}}}},
       {"details", {{"device_paths", {"PciRoot(0x0)/Pci(0x1,0x0)", "File(kernel)"}}}}});
  events.push_back({{"index", 2},
                    {"type_name", "EV_EVENT_TAG"},
                    {"digests", {{{"alg", "SHA-384"}, {"digest", std::string(96, 'b')}}}},
                    {"details", {{"string", "LOADED_IMAGE::LoadOptions"}}}});
}

// The reference values the policy asks for, registered as an operator would with
// kbs-client config set-sample-reference-value; tdvfkernel and tdvfkernelparams as scalars,
// because Trustee's Rego compares them with == to the digest.
ReferenceValueStore trustee_reference_values(const Json& input) {
  const Json& body = input["tdx"]["quote"]["body"];
  ReferenceValueStore store;
  EXPECT_TRUE(store
                  .register_message(rvps_message({{"rtmr_1", {body["rtmr_1"]}},
                                                  {"rtmr_2", {body["rtmr_2"]}},
                                                  {"mr_td", {body["mr_td"]}},
                                                  {"xfam", {body["xfam"]}},
                                                  {"tdvfkernel", std::string(96, 'a')},
                                                  {"tdvfkernelparams", std::string(96, 'b')}}),
                                    kNow)
                  .ok());
  return store;
}

Appraisal default_cpu(const Json& input, const ReferenceValueStore& store, bool allow_debug) {
  auto policy = parse_policy(read_text(kDefaultCpu), "default_cpu.toml");
  EXPECT_TRUE(policy.ok()) << policy.error().to_string();
  Policy p = policy.ok() ? *policy : Policy{};
  EXPECT_EQ(p.id, "default_cpu");
  p.allow_debug = allow_debug;
  auto a = evaluate(p, input, signature_passed(), store, kNow);
  EXPECT_TRUE(a.ok());
  return a.ok() ? *a : Appraisal{};
}

// [instance-identity, configuration, executables, file-system, hardware, runtime-opaque,
//  storage-opaque, sourced-data], the CBOR key order.
std::vector<int> vector_of(const Appraisal& a) {
  std::vector<int> out;
  for (const auto& v : a.trust_vector.claims) out.push_back(v ? *v : -100);
  return out;
}

TEST(DefaultCpuPolicy, DirectBootAllReferenceValuesMatch) {
  // Rego: executables := 3 (rtmr_1, rtmr_2 in their RVs; a BOOT_SERVICES_APPLICATION event with
  // File(kernel) whose digest == tdvfkernel; an EV_EVENT_TAG LoadOptions event whose digest ==
  // tdvfkernelparams); hardware := 2 (tee_type 81000000, Intel's vendor id, mr_td in RV,
  // UpToDate, collateral_expiration_status "0"); configuration := 2 (debug false, xfam in RV);
  // the other five keep their default 0.
  Json input = trustee_input(/*debug=*/false);
  add_tdvf_kernel_events(input);
  Appraisal a = default_cpu(input, trustee_reference_values(input), false);
  EXPECT_EQ(vector_of(a), (std::vector<int>{0, 2, 3, 0, 2, 0, 0, 0}));
  EXPECT_EQ(a.status, Tier::affirming);
}

TEST(DefaultCpuPolicy, GrubBootMatchesOnlyTheRtmrs) {
  // The real log has no kernel events: executables' first body fails, its "else := 4" holds.
  Json input = trustee_input(false);
  Appraisal a = default_cpu(input, trustee_reference_values(input), false);
  EXPECT_EQ(vector_of(a), (std::vector<int>{0, 2, 4, 0, 2, 0, 0, 0}));
  EXPECT_EQ(a.status, Tier::affirming);
  EXPECT_EQ(a.explanation(TrustClaim::executables).rule, "tier 2 (value 4)");
}

TEST(DefaultCpuPolicy, OutOfDateTcbIsUnrecognisedHardware) {
  // hardware := 2 needs tcb_status == "UpToDate"; no other hardware rule applies to tdx, so the
  // default 97 stands and ear.status is contraindicated.
  Json input = trustee_input(false, "OutOfDate");
  add_tdvf_kernel_events(input);
  Appraisal a = default_cpu(input, trustee_reference_values(input), false);
  EXPECT_EQ(vector_of(a), (std::vector<int>{0, 2, 3, 0, 97, 0, 0, 0}));
  EXPECT_EQ(a.status, Tier::contraindicated);
  EXPECT_EQ(a.explanation(TrustClaim::hardware).to_string(),
            "hardware=97 (default): tdx.tcb_status is OutOfDate, allowed: UpToDate");
}

TEST(DefaultCpuPolicy, NoReferenceValuesGivesTrusteesDefaults) {
  // query_reference_value returns null for an unknown id, so no "in" holds: executables 33,
  // hardware 97, configuration 36, as in Trustee's attestation-service/docs/example.token.json.
  Json input = trustee_input(false);
  add_tdvf_kernel_events(input);
  Appraisal a = default_cpu(input, ReferenceValueStore{}, false);
  EXPECT_EQ(vector_of(a), (std::vector<int>{0, 36, 33, 0, 97, 0, 0, 0}));
  EXPECT_EQ(a.status, Tier::contraindicated);
}

TEST(DefaultCpuPolicy, DebugTdDivergesOnPurpose) {
  // The real claims are from a debug TD. Rego: configuration := 2 needs debug == false, so the
  // default 36 (warning) stands. Our policy text says the same (shown with allow_debug = true);
  // the shipped file keeps allow_debug = false, whose hard rule makes it 96.
  Json input = trustee_input(/*debug=*/true);
  ReferenceValueStore store = trustee_reference_values(input);
  Appraisal as_trustee = default_cpu(input, store, /*allow_debug=*/true);
  EXPECT_EQ(vector_of(as_trustee), (std::vector<int>{0, 36, 4, 0, 2, 0, 0, 0}));
  EXPECT_EQ(as_trustee.status, Tier::warning);
  EXPECT_EQ(as_trustee.explanation(TrustClaim::configuration).reason,
            "tdx.td_attributes.debug is true, required: false");
  Appraisal shipped = default_cpu(input, store, /*allow_debug=*/false);
  EXPECT_EQ(vector_of(shipped), (std::vector<int>{0, 96, 4, 0, 2, 0, 0, 0}));
  EXPECT_EQ(shipped.status, Tier::contraindicated);
  EXPECT_EQ(shipped.explanation(TrustClaim::configuration).rule, "hard rule: allow_debug = false");
}

TEST(DefaultCpuPolicy, ExpiredReferenceValueDivergesOnPurpose) {
  // Trustee never checks expiry and would still give hardware 2; here mr_td has expired.
  Json input = trustee_input(false);
  ReferenceValueStore store = trustee_reference_values(input);
  auto policy = parse_policy(read_text(kDefaultCpu), "default_cpu.toml");
  ASSERT_TRUE(policy.ok());
  auto a = evaluate(*policy, input, signature_passed(), store, default_expiration(kNow) + 1s);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(vector_of(*a), (std::vector<int>{0, 36, 33, 0, 97, 0, 0, 0}));
  EXPECT_NE(a->explanation(TrustClaim::hardware)
                .reason.find("reference value 'mr_td' expired at 2027-01-01T00:00:00Z"),
            std::string::npos);
}

}  // namespace
}  // namespace acon::appraisal
