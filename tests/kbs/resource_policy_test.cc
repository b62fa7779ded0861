// The KBS resource policy: parsing (unknown keys, bad globs and statuses refused with their
// line), every rule kind evaluated over EAR claims built with the appraisal library's EAR model,
// the default policy, deny carve-outs, several submods, and selection by repository.
#include "acon/kbs/resource_policy.h"

#include <gtest/gtest.h>

#include "acon/appraisal/ear.h"

namespace acon::kbs {
namespace {

using appraisal::Ear;
using appraisal::Submod;
using appraisal::Tier;
using appraisal::TrustClaim;
using appraisal::TrustVector;
using namespace std::chrono_literals;

const std::string kSignerA(96, 'a');
const std::string kSignerB(96, 'b');
const std::string kImageApp = "sha384/" + kSignerA + "/" + std::string(96, '1');
const std::string kImageOther = "sha384/" + kSignerB + "/" + std::string(96, '2');

// A trust vector whose worst tier is `tier`: executables carries the tier, the rest affirm (for
// none, every claim is 0: nothing could be said).
TrustVector vector_of(Tier tier) {
  TrustVector v;
  if (tier == Tier::none) {
    for (size_t i = 0; i < appraisal::kTrustClaimCount; ++i) v.set(static_cast<TrustClaim>(i), 0);
    return v;
  }
  v.set(TrustClaim::instance_identity, 2);
  v.set(TrustClaim::hardware, 2);
  v.set(TrustClaim::configuration, 2);
  v.set(TrustClaim::executables, tier == Tier::affirming ? 3 : tier == Tier::warning ? 33 : 96);
  return v;
}

struct SubmodSpec {
  Tier tier = Tier::affirming;
  bool simulated = false;
  std::string tee = "tdx";
  std::vector<std::pair<std::string, std::string>> images = {};  // image_id, signer_digest
  Json tdx = {{"td_attributes", {{"debug", false}}}, {"tcb_status", "UpToDate"}};
};

Submod submod(const SubmodSpec& spec) {
  Json images = Json::array();
  for (const auto& [id, signer] : spec.images) {
    images.push_back({{"image_id", id},
                      {"signer_digest", signer},
                      {"hash_algorithm", "sha384"},
                      {"verdict", {{"acond", "accepted"}, {"spec", "accepted"}}}});
  }
  Json evidence = {{spec.tee, spec.tdx},
                   {"report_data", std::string(128, '0')},
                   {"runtime_data_claims", {{"nonce", "n"}}},
                   {"acon", {{"simulated", spec.simulated}, {"images", images}}}};
  return Submod::from_vector(vector_of(spec.tier), "default", std::move(evidence));
}

Ear ear_of(std::map<std::string, SubmodSpec> submods) {
  Ear ear;
  ear.iat = Time(1767225600s);
  ear.exp = ear.iat + 300s;
  ear.iss = "acon-test";
  ear.verifier_id = {"acon", "acon-appraisal test"};
  for (const auto& [name, spec] : submods) ear.submods[name] = submod(spec);
  return ear;
}

Ear one(SubmodSpec spec = {}) { return ear_of({{"cpu0", std::move(spec)}}); }

ResourcePolicy must_parse(std::string_view text) {
  auto policy = parse_resource_policy(text, "test.toml");
  EXPECT_TRUE(policy.ok()) << policy.error().to_string();
  return policy.ok() ? *policy : ResourcePolicy{};
}

// A policy with one allow rule for every resource; `keys` are extra lines of that rule.
ResourcePolicy allow_all_with(std::string_view keys) {
  return must_parse(
      "version = 1\nid = \"repo\"\n[[rules]]\nresources = \"*/*/*\"\n"
      "effect = \"allow\"\n" +
      std::string(keys));
}

// ---- parsing ----

TEST(ResourcePolicyParse, FullPolicy) {
  ResourcePolicy p = must_parse(R"(version = 1
id = "default"
[[rules]]
resources = "secrets/admin*/*"
effect = "deny"
[[rules]]
resources = "secrets/*/*"
effect = "allow"
status = "warning"
tee = ["tdx", "az-tdx-vtpm"]
allow_simulated = true
image_signers = ["AAAA"]
image_ids = ["sha384/aa/bb"]
when = [ { claim = "tdx.tcb_status", one_of = ["UpToDate", "SWHardeningNeeded"] } ]
)");
  ASSERT_EQ(p.rules.size(), 2u);
  EXPECT_EQ(p.id, "default");
  EXPECT_EQ(p.rules[0].effect, Effect::deny);
  EXPECT_EQ(p.rules[0].line, 3u);
  EXPECT_TRUE(p.rules[0].pattern[1].prefix);
  EXPECT_EQ(p.rules[0].pattern[1].text, "admin");
  EXPECT_EQ(p.rules[1].status, Tier::warning);
  EXPECT_EQ(p.rules[1].tee, (std::vector<std::string>{"tdx", "az-tdx-vtpm"}));
  EXPECT_TRUE(p.rules[1].allow_simulated);
  EXPECT_EQ(p.rules[1].image_signers, std::vector<std::string>{"aaaa"});  // lower case
  ASSERT_EQ(p.rules[1].when.size(), 1u);
  EXPECT_EQ(p.rules[1].when[0].path.text, "tdx.tcb_status");
}

TEST(ResourcePolicyParse, ErrorsNameTheLineAndKey) {
  struct Case {
    std::string text;
    std::string expected;
  };
  const std::string head = "version = 1\nid = \"p\"\n[[rules]]\n";
  const Case cases[] = {
      {"version = 1\nid = \"p\"\nrule = 1\n", "test.toml:3: top level: unknown key \"rule\""},
      {head + "resources = \"*/*/*\"\neffect = \"allow\"\nefect = \"deny\"\n",
       "test.toml:6: rules[1]: unknown key \"efect\""},
      {head + "resources = \"*/*\"\neffect = \"allow\"\n",
       "test.toml:4: rules[1].resources: \"*/*\" does not have three segments"},
      {head + "resources = \"a*b/*/*\"\neffect = \"allow\"\n",
       "test.toml:4: rules[1].resources: \"a*b\" is neither"},
      {head + "resources = \"**/*/*\"\neffect = \"allow\"\n", "test.toml:4: rules[1].resources"},
      {head + "resources = \"../*/*\"\neffect = \"allow\"\n", "test.toml:4: rules[1].resources"},
      {head + "resources = \"*/*/*\"\neffect = \"allow\"\nstatus = \"good\"\n",
       "test.toml:6: rules[1].status: \"affirming\", \"warning\" or \"contraindicated\""},
      {head + "resources = \"*/*/*\"\neffect = \"allow\"\nstatus = \"none\"\n",
       "test.toml:6: rules[1].status"},
      {head + "resources = \"*/*/*\"\neffect = \"permit\"\n",
       "test.toml:5: rules[1].effect: \"allow\" or \"deny\""},
      {head + "resources = \"*/*/*\"\n", "test.toml:3: rules[1]: the key \"effect\" is missing"},
      {head + "effect = \"allow\"\n", "test.toml:3: rules[1]: the key \"resources\" is missing"},
      {head + "resources = \"*/*/*\"\neffect = \"deny\"\nstatus = \"warning\"\n",
       "test.toml:6: rules[1]: \"status\" applies to allow rules only"},
      {head + "resources = \"*/*/*\"\neffect = \"allow\"\nimage_signers = [\"xyz\"]\n",
       "test.toml:6: rules[1].image_signers: \"xyz\" is not a hex digest"},
      {head + "resources = \"*/*/*\"\neffect = \"allow\"\ntee = []\n",
       "test.toml:6: rules[1].tee: a non-empty array of strings"},
      {head +
           "resources = \"*/*/*\"\neffect = \"allow\"\nwhen = [ { claim = \"a\", equal = 1 } ]\n",
       "test.toml:6: rules[1].when[1]: unknown key \"equal\""},
      {head + "resources = \"*/*/*\"\neffect = \"allow\"\nwhen = [ { check = \"quote.signature\" } "
              "]\n",
       "test.toml:6: rules[1].when: \"check\" conditions are not available"},
      {head + "resources = \"*/*/*\"\neffect = \"allow\"\n"
              "when = [ { any = \"x\", where = [ { claim = \"y\", in_reference = \"r\" } ] } ]\n",
       "rules[1].when: \"in_reference\" is not available"},
      {"id = \"p\"\n", "test.toml:1: the key \"version\" (= 1) is missing"},
      {"version = 1\n", "test.toml:1: the key \"id\" is missing"},
      {"version = 1\nid = \"a/b\"\n", "test.toml:2: id: a repository name"},
      {"version = 1\nid = \"p\"\nrules = 3\n", "test.toml:3: rules: an array of tables"},
      {"version = 1\nid = \"p\"\n[[rules]\n", "test.toml:3:"},
  };
  for (const auto& c : cases) {
    auto p = parse_resource_policy(c.text, "test.toml");
    ASSERT_FALSE(p.ok()) << c.text;
    EXPECT_EQ(p.error().code, Errc::parse) << c.text;
    EXPECT_NE(p.error().message.find(c.expected), std::string::npos)
        << "text:\n"
        << c.text << "\nmessage: " << p.error().message << "\nexpected: " << c.expected;
  }
}

TEST(ResourcePolicyParse, VersionAndSize) {
  auto v2 = parse_resource_policy("version = 2\nid = \"p\"\n", "v2.toml");
  ASSERT_FALSE(v2.ok());
  EXPECT_EQ(v2.error().code, Errc::unsupported);
  EXPECT_NE(v2.error().message.find("v2.toml:1:"), std::string::npos);
  std::string big = "version = 1\nid = \"p\"\n# " + std::string(kMaxResourcePolicyBytes, 'x');
  auto too_big = parse_resource_policy(big, "big.toml");
  ASSERT_FALSE(too_big.ok());
  EXPECT_NE(too_big.error().message.find("exceeds the limit"), std::string::npos);
}

// ---- evaluation ----

TEST(ResourcePolicyEvaluate, DefaultPolicyAllowsOnlyAffirmingRealPlatforms) {
  ResourcePolicy p = default_resource_policy();
  EXPECT_EQ(p.id, "default");
  Decision ok = evaluate(p, one(), "default/key/1", "tdx");
  EXPECT_TRUE(ok.allow) << ok.reason;
  EXPECT_EQ(ok.rule, "rules[1]");
  EXPECT_EQ(ok.policy_id, "default");

  Decision warning = evaluate(p, one({.tier = Tier::warning}), "default/key/1", "tdx");
  EXPECT_FALSE(warning.allow);
  EXPECT_EQ(warning.reason, "cpu0: ear.status warning, required affirming");
  Decision contra = evaluate(p, one({.tier = Tier::contraindicated}), "default/key/1", "tdx");
  EXPECT_FALSE(contra.allow);
  EXPECT_EQ(contra.reason, "cpu0: ear.status contraindicated, required affirming");
  Decision none = evaluate(p, one({.tier = Tier::none}), "default/key/1", "tdx");
  EXPECT_FALSE(none.allow);
  EXPECT_NE(none.reason.find("ear.status none"), std::string::npos) << none.reason;
  Decision simulated = evaluate(p, one({.simulated = true}), "default/key/1", "tdx");
  EXPECT_FALSE(simulated.allow);
  EXPECT_NE(simulated.reason.find("acon.simulated is true"), std::string::npos);
  // The text the docs show is the one in use.
  auto reparsed = parse_resource_policy(default_resource_policy_text(), "default");
  ASSERT_TRUE(reparsed.ok()) << reparsed.error().to_string();
  EXPECT_EQ(reparsed->rules.size(), 1u);
}

TEST(ResourcePolicyEvaluate, StatusThresholdIsAtLeastThisGood) {
  ResourcePolicy p = allow_all_with("status = \"warning\"\n");
  EXPECT_TRUE(evaluate(p, one({.tier = Tier::affirming}), "r/k/1", "tdx").allow);
  EXPECT_TRUE(evaluate(p, one({.tier = Tier::warning}), "r/k/1", "tdx").allow);
  EXPECT_FALSE(evaluate(p, one({.tier = Tier::contraindicated}), "r/k/1", "tdx").allow);
  ResourcePolicy any = allow_all_with("status = \"contraindicated\"\n");
  EXPECT_TRUE(evaluate(any, one({.tier = Tier::contraindicated}), "r/k/1", "tdx").allow);
  EXPECT_FALSE(evaluate(any, one({.tier = Tier::none}), "r/k/1", "tdx").allow);
}

TEST(ResourcePolicyEvaluate, SimulatedOnlyWhenAllowed) {
  ResourcePolicy p = allow_all_with("allow_simulated = true\n");
  EXPECT_TRUE(evaluate(p, one({.simulated = true}), "r/k/1", "tdx").allow);
}

TEST(ResourcePolicyEvaluate, TeeNamesTheRequestAndTheEvidence) {
  ResourcePolicy p = allow_all_with("tee = [\"tdx\", \"az-tdx-vtpm\"]\n");
  EXPECT_TRUE(evaluate(p, one(), "r/k/1", "tdx").allow);
  Decision sgx = evaluate(p, one(), "r/k/1", "sgx");
  EXPECT_FALSE(sgx.allow);
  EXPECT_EQ(sgx.reason, "TEE sgx is not among tdx, az-tdx-vtpm");
  // The client says tdx, but the token's evidence is SGX's.
  Decision mismatch = evaluate(p, one({.tee = "sgx"}), "r/k/1", "tdx");
  EXPECT_FALSE(mismatch.allow);
  EXPECT_NE(mismatch.reason.find("no section for an allowed TEE"), std::string::npos);
  // A Bearer token without a session: the TEE is unknown, the evidence decides.
  EXPECT_TRUE(evaluate(p, one(), "r/k/1", "").allow);
  EXPECT_FALSE(evaluate(p, one({.tee = "sgx"}), "r/k/1", "").allow);
  // acon's appraisal names a vTPM section "vtpm".
  EXPECT_TRUE(evaluate(p, one({.tee = "vtpm"}), "r/k/1", "az-tdx-vtpm").allow);
}

TEST(ResourcePolicyEvaluate, ImageSigners) {
  ResourcePolicy p = allow_all_with("image_signers = [\"" + kSignerA + "\"]\n");
  EXPECT_TRUE(evaluate(p, one({.images = {{kImageApp, kSignerA}}}), "r/k/1", "tdx").allow);
  Decision foreign = evaluate(p, one({.images = {{kImageApp, kSignerA}, {kImageOther, kSignerB}}}),
                              "r/k/1", "tdx");
  EXPECT_FALSE(foreign.allow);
  EXPECT_NE(foreign.reason.find("acon.images[1] has signer " + kSignerB), std::string::npos)
      << foreign.reason;
  Decision no_images = evaluate(p, one(), "r/k/1", "tdx");
  EXPECT_FALSE(no_images.allow);
  EXPECT_EQ(no_images.reason, "cpu0: acon.images is absent or empty");
  // Digests compare without regard to case.
  std::string upper(kSignerA.size(), 'A');
  EXPECT_TRUE(evaluate(p, one({.images = {{kImageApp, upper}}}), "r/k/1", "tdx").allow);
}

TEST(ResourcePolicyEvaluate, ImageIds) {
  ResourcePolicy p = allow_all_with("image_ids = [\"" + kImageApp + "\"]\n");
  EXPECT_TRUE(
      evaluate(p, one({.images = {{kImageOther, kSignerB}, {kImageApp, kSignerA}}}), "r/k/1", "tdx")
          .allow);
  Decision missing = evaluate(p, one({.images = {{kImageOther, kSignerB}}}), "r/k/1", "tdx");
  EXPECT_FALSE(missing.allow);
  EXPECT_EQ(missing.reason, "cpu0: image " + kImageApp + " is not among acon.images");
}

TEST(ResourcePolicyEvaluate, WhenConditionsReadTheAnnotatedEvidence) {
  ResourcePolicy p = allow_all_with(
      "when = [ { claim = \"tdx.tcb_status\", equals = \"UpToDate\" },\n"
      "         { claim = \"tdx.td_attributes.debug\", is = false },\n"
      "         { any = \"acon.images\", where = [ { claim = \"verdict.acond\", equals = "
      "\"accepted\" } ] } ]\n");
  EXPECT_TRUE(evaluate(p, one({.images = {{kImageApp, kSignerA}}}), "r/k/1", "tdx").allow);
  SubmodSpec out_of_date{.images = {{kImageApp, kSignerA}}};
  out_of_date.tdx["tcb_status"] = "OutOfDate";
  Decision d = evaluate(p, one(out_of_date), "r/k/1", "tdx");
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.reason, "cpu0: tdx.tcb_status is OutOfDate, expected UpToDate");
  Decision no_images = evaluate(p, one(), "r/k/1", "tdx");
  EXPECT_FALSE(no_images.allow);
  EXPECT_NE(no_images.reason.find("no element of acon.images"), std::string::npos);
}

TEST(ResourcePolicyEvaluate, DenyRuleCarvesOutAnException) {
  ResourcePolicy p = must_parse(R"(version = 1
id = "default"
[[rules]]
resources = "default/admin-*/*"
effect = "deny"
[[rules]]
resources = "default/*/*"
effect = "allow"
)");
  Ear claims = one();
  EXPECT_TRUE(evaluate(p, claims, "default/key/1", "tdx").allow);
  Decision carved = evaluate(p, claims, "default/admin-key/1", "tdx");
  EXPECT_FALSE(carved.allow);
  EXPECT_EQ(carved.rule, "rules[1]");
  EXPECT_EQ(carved.reason, "denied by the rule for default/admin-*/*");
  Decision other_repo = evaluate(p, claims, "other/key/1", "tdx");
  EXPECT_FALSE(other_repo.allow);
  EXPECT_EQ(other_repo.rule, "no rule matched");
}

TEST(ResourcePolicyEvaluate, PatternsPerSegment) {
  ResourcePolicy p = allow_all_with("");
  p.rules[0] = must_parse(
                   "version = 1\nid = \"x\"\n[[rules]]\nresources = \"repo/tls*/v1\"\n"
                   "effect = \"allow\"\n")
                   .rules[0];
  Ear claims = one();
  EXPECT_TRUE(evaluate(p, claims, "repo/tls/v1", "tdx").allow);
  EXPECT_TRUE(evaluate(p, claims, "repo/tls_cert/v1", "tdx").allow);
  EXPECT_FALSE(evaluate(p, claims, "repo/cert/v1", "tdx").allow);
  EXPECT_FALSE(evaluate(p, claims, "repo/tls/v2", "tdx").allow);
  EXPECT_FALSE(evaluate(p, claims, "repo2/tls/v1", "tdx").allow);
  Decision bad = evaluate(p, claims, "repo/../v1", "tdx");
  EXPECT_FALSE(bad.allow);
  EXPECT_EQ(bad.reason, "the resource path is not <repo>/<type>/<tag>");
}

TEST(ResourcePolicyEvaluate, EverySubmodMustPass) {
  ResourcePolicy p = default_resource_policy();
  EXPECT_TRUE(evaluate(p, ear_of({{"cpu0", {}}, {"gpu0", {}}}), "r/k/1", "tdx").allow);
  Decision gpu =
      evaluate(p, ear_of({{"cpu0", {}}, {"gpu0", {.tier = Tier::warning}}}), "r/k/1", "tdx");
  EXPECT_FALSE(gpu.allow);
  EXPECT_EQ(gpu.reason, "gpu0: ear.status warning, required affirming");
}

TEST(ResourcePolicyEvaluate, AnEarWithoutSubmodsOrEvidenceDenies) {
  ResourcePolicy p = default_resource_policy();
  Decision empty = evaluate(p, ear_of({}), "r/k/1", "tdx");
  EXPECT_FALSE(empty.allow);
  EXPECT_EQ(empty.reason, "the token has no submods");
  // A submod without annotated evidence has no TEE section, and a rule naming TEEs refuses it.
  Ear bare = one();
  bare.submods["cpu0"].annotated_evidence = nullptr;
  ResourcePolicy tdx_only = must_parse(R"(
version = 1
id = "r"
[[rules]]
resources = "r/*/*"
effect = "allow"
tee = ["tdx"]
)");
  EXPECT_TRUE(evaluate(tdx_only, one(), "r/k/1", "tdx").allow);
  Decision no_evidence = evaluate(tdx_only, bare, "r/k/1", "tdx");
  EXPECT_FALSE(no_evidence.allow);
  EXPECT_EQ(no_evidence.reason,
            "cpu0: the annotated evidence has no section for an allowed TEE (tdx)");
}

// ---- selection ----

// The set's evaluation over an EAR, as the KBS calls it for a session: the facts, and the
// evidence trees for `when` conditions.
Decision evaluate_in(const ResourcePolicySet& set, const Ear& ear, std::string_view path,
                     std::string_view tee) {
  return set.evaluate(
      submod_facts(ear),
      [&ear](std::string_view name) -> Result<const Json*> {
        return ear.submods.at(std::string(name)).annotated();
      },
      path, tee);
}

TEST(ResourcePolicySet, SelectsByRepositoryElseDefault) {
  ResourcePolicySet set;
  EXPECT_EQ(set.select("anything").id, "default");
  set.put(
      must_parse("version = 1\nid = \"lab\"\n[[rules]]\nresources = \"lab/*/*\"\n"
                 "effect = \"allow\"\nstatus = \"warning\"\nallow_simulated = true\n"));
  EXPECT_EQ(set.select("lab").id, "lab");
  EXPECT_EQ(set.select("prod").id, "default");
  Ear warning_simulated = one({.tier = Tier::warning, .simulated = true});
  Decision lab = evaluate_in(set, warning_simulated, "lab/key/1", "tdx");
  EXPECT_TRUE(lab.allow) << lab.reason;
  EXPECT_EQ(lab.policy_id, "lab");
  Decision prod = evaluate_in(set, warning_simulated, "prod/key/1", "tdx");
  EXPECT_FALSE(prod.allow);
  EXPECT_EQ(prod.policy_id, "default");

  // An administrator's "default" replaces the built-in one; erasing it restores the built-in.
  set.put(
      must_parse("version = 1\nid = \"default\"\n[[rules]]\nresources = \"*/*/*\"\n"
                 "effect = \"deny\"\n"));
  EXPECT_FALSE(evaluate_in(set, one(), "prod/key/1", "tdx").allow);
  EXPECT_TRUE(set.erase("default"));
  EXPECT_TRUE(evaluate_in(set, one(), "prod/key/1", "tdx").allow);
  EXPECT_TRUE(set.erase("lab"));
  EXPECT_FALSE(set.erase("lab"));
  EXPECT_EQ(set.ids(), std::vector<std::string>{"default"});
}

}  // namespace
}  // namespace acon::kbs
