// appraise() from end to end: evidence → checks and claims → policy → EAR, on a simulated TD that
// ran two signed ACON images (logged as acond logs them), on real quotes with Intel's collateral
// at their pinned times and on the stored swtpm quote. Every tampered input must give its named
// failure and the tier the hard rules or the policy give it, with the explanation that says why.
#include "acon/appraisal/appraise.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <set>
#include <stdexcept>
#include <tuple>

#include "acon/common/hash.h"
#include "acon/dcap/collateral.h"
#include "acon/eventlog/event_log.h"
#include "acon/eventlog/runtime.h"
#include "acon/guest/sim/sim.h"
#include "image_fixtures.h"
#include "test_util.h"
#include "vtpm_fixture.h"

namespace acon::appraisal {
namespace {

using guest::sim::Simulator;
using namespace test_images;
using test::at;

const Time kIssue = at("2025-06-01T00:00:00Z");
const Time kCheck = kIssue + std::chrono::hours(24);

using test::must;

std::string dump(const AttestationResult& r) {
  std::string out;
  for (const CheckResult& check : r.evidence.checks) out += check_to_json(check).dump() + "\n";
  for (const Explanation& e : r.appraisal.explanations) out += e.to_string() + "\n";
  return out;
}

Outcome outcome(const AttestationResult& r, std::string_view name) {
  const CheckResult* check = find_check(r.evidence.checks, name);
  if (!check) throw std::runtime_error("no check " + std::string(name) + "\n" + dump(r));
  return check->outcome;
}

int8_t value(const AttestationResult& r, TrustClaim claim) {
  return *r.appraisal.trust_vector.get(claim);
}

std::string rvps_message(const Json& payload) {
  return Json{{"version", "0.1.0"},
              {"type", "sample"},
              {"payload", base64_encode(as_bytes(payload.dump()), Base64::standard)}}
      .dump();
}

// A policy shipped in verifier/appraisal/policies/. The simulated TD's tests allow simulated
// evidence, as an operator trying acon without TDX does; the shipped files refuse it.
Policy shipped_policy(const std::string& name, bool allow_simulated = false) {
  Policy policy =
      must(parse_policy(test::read_data("../../verifier/appraisal/policies/" + name), name));
  policy.allow_simulated = allow_simulated;
  return policy;
}

const std::string kInitData =
    "version = \"0.1.0\"\n"
    "algorithm = \"sha384\"\n"
    "[data]\n"
    "\"aa.toml\" = '''\n[token_configs.kbs]\nurl = \"http://kbs:8080\"\n'''\n";

RuntimeData runtime_data(std::string nonce) {
  RuntimeData data;
  data.nonce = std::move(nonce);
  data.tee_pubkey = {{"kty", "EC"},
                     {"crv", "P-256"},
                     {"alg", "ECDH-ES+A256KW"},
                     {"x", "WbbXwVYGdJoP4Xm3qCkGvBRcRvKtEfXDbWvPzpPS8LA"},
                     {"y", "Ik-nXfr-qvtM4oXmYKUAI8HQDHuGfr6uPtLY1tOblfw"}};
  return data;
}

// A simulated TD in which acond admitted a vendor image and an application that accepts it, then
// closed the image set: RTMR3 and ACON's text runtime log (rtmr3.log) as acond writes them.
struct AconTd {
  Signer vendor_signer = load_signer("p521");
  Signer app_signer = load_signer("p384");
  Signed vendor, app;
  Simulator sim;
  std::vector<std::string> log_lines;  // the event lines after INIT, as logged
  Evidence evidence;
  Policy policy = shipped_policy("acon_td.toml", /*allow_simulated=*/true);
  ReferenceValueStore references;
  AppraiseOptions options;

  AconTd() : sim(must(Simulator::create(create_options()))) {
    image::Manifest vendor_m = app_manifest({layer_digest("vendor-base")}, {}, false);
    vendor_m.aliases.self["."] = {"Vendor:1"};
    vendor = sign(vendor_signer, vendor_m, "vendor");
    app = sign(app_signer,
               app_manifest({layer_digest("app")}, {vendor_signer.rule_prefix + "Vendor:1"}, true),
               "app");
    log_lines = {add_manifest(vendor.image_id), add_manifest(app.image_id), kFinalizeText};
    Bytes mr_config_id = sha384(as_bytes(kInitData));
    std::copy(mr_config_id.begin(), mr_config_id.end(), sim.td().mr_config_id.begin());

    evidence.platform = Platform::tdx;
    evidence.tdx.cc_eventlog = sim.ccel();
    evidence.runtime_data = runtime_data("challenge-1");
    evidence.init_data = InitData{"toml", kInitData};
    evidence.images = {vendor.provided, app.provided};

    options.evidence.at = kCheck;
    options.evidence.anchors.roots = {sim.root_ca()};
    options.evidence.collateral = must(sim.collateral());
    options.evidence.expected_nonce = "challenge-1";
    options.audience = {"https://kbs.example"};

    const Json payload = {
        {"mr_td", {hex_encode(sim.td().mr_td)}},
        {"acon_signers",
         {vendor_signer.identity.signer_digest, app_signer.identity.signer_digest}}};
    EXPECT_TRUE(references.register_message(rvps_message(payload), kIssue).ok());
  }

  static guest::sim::CreateOptions create_options() {
    guest::sim::CreateOptions create;
    create.seed = sha256(as_bytes(std::string_view("appraise_test")));
    create.dates = guest::sim::default_dates(kIssue);
    return create;
  }

  // acond's measurement: RTMR3 takes H(INIT line) and then H(line) per event; the log is the INIT
  // line and `lines`. The quote binds the KBS runtime data. `logged` may differ from what was
  // measured, to tamper with the log.
  void measure_and_quote(const std::vector<std::string>& measured,
                         std::optional<std::vector<std::string>> logged = std::nullopt) {
    const std::string init = eventlog::text_aael_init_line(HashAlg::sha384, Bytes(48, 0));
    std::string_view init_line(init.data(), init.size() - 1);  // without its newline
    EXPECT_TRUE(sim.extend(3, sha384(as_bytes(init_line))).ok());
    for (const std::string& line : measured)
      EXPECT_TRUE(sim.extend(3, sha384(as_bytes(line))).ok());
    std::string text = init;
    for (const std::string& line : logged.value_or(measured)) text += line + "\n";
    evidence.tdx.runtime_text_aael = text;
    quote(*evidence.runtime_data);
  }

  void quote(const RuntimeData& bound) {
    Bytes digest = sha384(as_bytes(must(kbs_runtime_data_jcs(bound))));
    guest::ReportData report_data{};
    std::copy(digest.begin(), digest.end(), report_data.begin());
    evidence.tdx.quote = must(sim.quote(report_data));
  }

  AttestationResult appraise_now() const {
    return must(appraise(evidence, policy, references, options));
  }
};

TEST(Appraise, SimulatedAconTdIsAffirmingAndItsEarCarriesTheClaims) {
  AconTd td;
  td.measure_and_quote(td.log_lines);
  AttestationResult r = td.appraise_now();
  EXPECT_EQ(r.appraisal.status, Tier::affirming) << dump(r);
  EXPECT_EQ(value(r, TrustClaim::hardware), 2);
  EXPECT_EQ(value(r, TrustClaim::executables), 2);
  EXPECT_EQ(value(r, TrustClaim::configuration), 2);
  EXPECT_EQ(value(r, TrustClaim::instance_identity), 2);
  for (const CheckResult& check : r.evidence.checks)
    EXPECT_TRUE(check.outcome == Outcome::pass || check.outcome == Outcome::skipped)
        << check_to_json(check).dump();
  EXPECT_EQ(outcome(r, "image." + td.vendor.image_id + ".signature"), Outcome::pass);
  EXPECT_EQ(outcome(r, "launch_policy.spec"), Outcome::pass);

  const Json& claims = *r.evidence.claims;
  EXPECT_EQ(claims["acon"]["simulated"], true);
  ASSERT_EQ(claims["acon"]["images"].size(), 2u);
  EXPECT_EQ(claims["acon"]["images"][1]["image_id"], td.app.image_id);
  EXPECT_EQ(claims["acon"]["images"][1]["verdict"]["acond"], "accepted");
  EXPECT_EQ(claims["tdx"]["quote"]["body"]["mr_td"], hex_encode(td.sim.td().mr_td));
  EXPECT_EQ(claims["init_data_claims"]["aa.toml"]["token_configs"]["kbs"]["url"],
            "http://kbs:8080");

  // The EAR: Trustee's layout, our audience, valid for five minutes from the appraisal time.
  const Ear& ear = r.ear;
  EXPECT_EQ(ear.profile, kTrusteeEarProfile);
  EXPECT_EQ(ear.iat, kCheck);
  EXPECT_EQ(ear.exp, kCheck + std::chrono::minutes(5));
  EXPECT_EQ(ear.aud, std::vector<std::string>{"https://kbs.example"});
  EXPECT_EQ(ear.verifier_id, acon_verifier_id());
  ASSERT_EQ(ear.submods.count("cpu0"), 1u);
  const Submod& cpu0 = ear.submods.at("cpu0");
  EXPECT_EQ(cpu0.status, Tier::affirming);
  EXPECT_EQ(cpu0.appraisal_policy_id, "acon_td");
  std::set<std::string> members;
  ASSERT_NE(cpu0.annotated(), nullptr);
  for (auto it = cpu0.annotated()->begin(); it != cpu0.annotated()->end(); ++it)
    members.insert(it.key());
  EXPECT_EQ(members, (std::set<std::string>{"tdx", "report_data", "runtime_data_claims",
                                            "init_data", "init_data_claims", "acon"}));
  EXPECT_EQ(cpu0.annotated()->at("runtime_data_claims").at("nonce"), "challenge-1");
  // The EAR carries the claims document itself, not a copy of it.
  EXPECT_EQ(cpu0.annotated_evidence, r.evidence.claims);

  // Signed and verified back: the relying party sees the same result.
  EarSigner signer = must(EarSigner::create(must(PrivateKey::generate_ec(Curve::p256))));
  EarVerifyOptions verify;
  verify.now = kCheck + std::chrono::minutes(1);
  verify.trusted_key = signer.key().public_key();
  verify.audience = "https://kbs.example";
  std::string jwt = must(sign_ear_jwt(ear, signer));
  EXPECT_EQ(must(verify_ear_jwt(jwt, verify)), ear);
  Bytes cwt = must(sign_ear_cwt(ear, signer));
  EXPECT_EQ(must(verify_ear_cwt(cwt, verify)), ear);
  verify.audience = "https://other-kbs.example";
  EXPECT_FALSE(verify_ear_jwt(jwt, verify).ok());

  // What acon-verify prints: the status, one explanation per trust claim, every check, the EAR.
  const Json printed = must(attestation_result_json(r));
  EXPECT_EQ(printed["status"], "affirming");
  EXPECT_EQ(printed["explanations"].size(), r.appraisal.explanations.size());
  EXPECT_EQ(printed["checks"], checks_to_json(r.evidence.checks));
  EXPECT_EQ(printed["ear"], must(ear_to_json(ear)));
  EXPECT_FALSE(any_failed(r.evidence.checks));
  CheckResults failed = r.evidence.checks;
  failed.back().outcome = Outcome::error;
  EXPECT_TRUE(any_failed(failed));
}

// acond's KBS evidence for GetSecret (log_mode coco): cc_eventlog is the CCEL followed by the
// runtime TCG2 AAEL records of `measured`, the quote binds the KBS runtime data, and the loaded
// images go as acon's extension member acon_images. Appraised as the KBS appraises it: loaded by
// load_kbs_attestation, under the KBS's attestation policy for the simulated TD
// (tests/data/kbs/sim-attestation.toml) with no reference values registered.
struct AcondKbsTd {
  AconTd td;
  Policy policy = must(parse_policy(test::read_data("kbs/sim-attestation.toml"), "sim"));
  ReferenceValueStore no_references;

  Json body(const std::vector<std::string>& measured, const std::vector<ProvidedImage>& images) {
    Bytes log = td.sim.ccel();
    log.resize(must(eventlog::parse_event_log(log)).end_offset);
    for (const std::string& line : measured) {
      const eventlog::AaelEvent event = must(eventlog::parse_aael_line(line));
      append(log, must(eventlog::aael_record(4, HashAlg::sha384, event)));
      EXPECT_TRUE(td.sim.extend(3, sha384(must(eventlog::aael_tagged_event(event)))).ok());
    }
    td.quote(*td.evidence.runtime_data);
    Json primary = {{"cc_eventlog", base64_encode(log)},
                    {"quote", base64_encode(td.evidence.tdx.quote)}};
    if (!images.empty()) primary[std::string(kAconImagesMember)] = images_to_json(images);
    return {{"init-data", {{"format", "toml"}, {"body", kInitData}}},
            {"runtime-data",
             {{"nonce", td.evidence.runtime_data->nonce},
              {"tee-pubkey", td.evidence.runtime_data->tee_pubkey}}},
            {"tee-evidence", {{"primary_evidence", std::move(primary)}}}};
  }

  // The events acond measures for the two images, Finalize carrying the image count in coco mode.
  std::vector<std::string> loaded_both() const {
    return {add_manifest(td.vendor.image_id), add_manifest(td.app.image_id), kFinalizeText + " 2"};
  }

  AttestationResult appraise_body(const Json& body) const {
    Evidence evidence = must(load_kbs_attestation(body.dump(), "tdx"));
    return must(appraise(evidence, policy, no_references, td.options));
  }
};

TEST(Appraise, AcondKbsEvidenceWithItsImagesIsAffirmingUnderTheKbsSimPolicy) {
  AcondKbsTd kbs;
  const Json body = kbs.body(kbs.loaded_both(), {kbs.td.vendor.provided, kbs.td.app.provided});
  AttestationResult r = kbs.appraise_body(body);
  EXPECT_EQ(r.appraisal.status, Tier::affirming) << dump(r);
  // sim-attestation.toml has no executables tier: no claim (0), and no hard rule lowers it.
  EXPECT_EQ(value(r, TrustClaim::executables), 0) << dump(r);
  EXPECT_EQ(outcome(r, "image." + kbs.td.app.image_id + ".id"), Outcome::pass);
  EXPECT_EQ(outcome(r, "image." + kbs.td.vendor.image_id + ".signature"), Outcome::pass);
  EXPECT_EQ(outcome(r, "image.unlogged"), Outcome::pass);
  EXPECT_EQ(outcome(r, "launch_policy.spec"), Outcome::pass);

  // Under a policy with an executables tier (the shipped acon_td.toml, its reference values
  // registered) the images checks the extension enables make executables affirming.
  Evidence evidence = must(load_kbs_attestation(body.dump(), "tdx"));
  AttestationResult pinned =
      must(appraise(evidence, kbs.td.policy, kbs.td.references, kbs.td.options));
  EXPECT_EQ(pinned.appraisal.status, Tier::affirming) << dump(pinned);
  EXPECT_EQ(value(pinned, TrustClaim::executables), 2) << dump(pinned);

  // The same TD without the extension: the KBS sees the Image IDs but no manifest, and the hard
  // rule keeps executables at 33 (what acon_images is for).
  Json bare = body;
  bare["tee-evidence"]["primary_evidence"].erase(std::string(kAconImagesMember));
  AttestationResult without = kbs.appraise_body(bare);
  EXPECT_EQ(without.appraisal.status, Tier::warning) << dump(without);
  EXPECT_EQ(value(without, TrustClaim::executables), 33);
}

TEST(Appraise, AcondKbsEvidenceWithAChangedManifestByteFailsThatImage) {
  AcondKbsTd kbs;
  ProvidedImage changed = kbs.td.app.provided;
  changed.manifest.back() ^= 0x01;  // inside the JSON's last byte, the closing brace
  AttestationResult r =
      kbs.appraise_body(kbs.body(kbs.loaded_both(), {kbs.td.vendor.provided, changed}));
  EXPECT_NE(r.appraisal.status, Tier::affirming) << dump(r);
  const CheckResult* id = find_check(r.evidence.checks, "image." + kbs.td.app.image_id + ".id");
  ASSERT_NE(id, nullptr) << dump(r);
  EXPECT_EQ(id->outcome, Outcome::fail);
  EXPECT_NE(id->reason.find("the manifest bytes differ"), std::string::npos) << id->reason;
  EXPECT_EQ(outcome(r, "image." + kbs.td.vendor.image_id + ".id"), Outcome::pass);
}

TEST(Appraise, AcondKbsEvidenceWithAnImageTheLogDoesNotNameReportsIt) {
  AcondKbsTd kbs;
  Signed stray = sign(kbs.td.app_signer, app_manifest({layer_digest("stray")}, {}, true), "stray");
  // The log names only the vendor image; the app image is provided but never loaded, as is stray.
  AttestationResult r =
      kbs.appraise_body(kbs.body({add_manifest(kbs.td.vendor.image_id), kFinalizeText + " 1"},
                                 {kbs.td.vendor.provided, stray.provided}));
  const CheckResult* unlogged = find_check(r.evidence.checks, "image.unlogged");
  ASSERT_NE(unlogged, nullptr) << dump(r);
  EXPECT_EQ(unlogged->outcome, Outcome::skipped);
  EXPECT_NE(unlogged->reason.find("1 provided image(s)"), std::string::npos) << unlogged->reason;
  EXPECT_NE(unlogged->detail.dump().find(stray.image_id), std::string::npos)
      << unlogged->detail.dump();
  EXPECT_EQ(outcome(r, "image." + kbs.td.vendor.image_id + ".id"), Outcome::pass);
}

TEST(Appraise, SimulatedEvidenceIsContraindicatedUnlessThePolicyAllowsIt) {
  AconTd td;
  td.measure_and_quote(td.log_lines);
  td.policy.allow_simulated = false;
  AttestationResult r = td.appraise_now();
  EXPECT_EQ(r.appraisal.status, Tier::contraindicated);
  const Explanation& hardware = r.appraisal.explanation(TrustClaim::hardware);
  EXPECT_EQ(hardware.value, 96);
  EXPECT_EQ(hardware.rule, "hard rule: allow_simulated = false");
  // Under Intel's root alone the simulated PCK chain does not verify at all.
  td.options.evidence.anchors = dcap::default_trust_anchors();
  td.policy.allow_simulated = true;
  r = td.appraise_now();
  EXPECT_EQ(outcome(r, "quote.signature"), Outcome::fail) << dump(r);
  EXPECT_EQ(value(r, TrustClaim::hardware), 99);
}

TEST(Appraise, AnUnknownSignerIsAWarningThatNamesTheImage) {
  AconTd td;
  td.measure_and_quote(td.log_lines);
  ASSERT_TRUE(
      td.references
          .register_message(
              rvps_message({{"acon_signers", {td.vendor_signer.identity.signer_digest}}}), kIssue)
          .ok());
  AttestationResult r = td.appraise_now();
  EXPECT_EQ(r.appraisal.status, Tier::warning) << dump(r);
  const Explanation& executables = r.appraisal.explanation(TrustClaim::executables);
  EXPECT_EQ(executables.value, 33);
  EXPECT_EQ(executables.rule, "default");
  EXPECT_NE(executables.reason.find("acon.images[1]"), std::string::npos) << executables.reason;
  EXPECT_NE(executables.reason.find("acon_signers"), std::string::npos) << executables.reason;
}

TEST(Appraise, ExpiredReferenceValuesMatchNothing) {
  AconTd td;
  td.measure_and_quote(td.log_lines);
  td.options.evidence.at = kIssue + std::chrono::hours(24 * 400);  // after the 12-month expiry
  td.options.evidence.strict_expiry = false;
  AttestationResult r = td.appraise_now();
  const Explanation& hardware = r.appraisal.explanation(TrustClaim::hardware);
  EXPECT_NE(hardware.value, 2) << dump(r);
  EXPECT_NE(r.appraisal.status, Tier::affirming);
}

// Each tampered input: the check that names it, and the claim and tier it costs.
struct Tampering {
  const char* name;
  std::function<void(AconTd&)> tamper;  // before measure_and_quote unless it measures itself
  std::string failed_check;             // "image.<app>.id" style names resolved below
  TrustClaim claim;
  int8_t claim_value;
  Tier status;
};

TEST(Appraise, EveryTamperedInputGivesItsNamedFailure) {
  const std::vector<Tampering> cases = {
      {"runtime log byte",
       [](AconTd& td) {
         std::vector<std::string> logged = td.log_lines;
         logged[1].back() = logged[1].back() == '0' ? '1' : '0';  // one hex digit of the ID
         td.measure_and_quote(td.log_lines, logged);
       },
       "replay.rtmr3", TrustClaim::executables, 96, Tier::contraindicated},
      {"reordered events",
       [](AconTd& td) {
         std::vector<std::string> logged = td.log_lines;
         std::swap(logged[0], logged[1]);
         td.measure_and_quote(td.log_lines, logged);
       },
       "replay.rtmr3", TrustClaim::executables, 96, Tier::contraindicated},
      {"firmware log byte",
       [](AconTd& td) {
         td.measure_and_quote(td.log_lines);
         auto log = must(eventlog::parse_event_log(*td.evidence.tdx.cc_eventlog));
         const eventlog::Event& event = log.events.back();
         auto digest = event.digest(eventlog::tpm_alg::kSha384);
         const size_t offset =
             static_cast<size_t>(digest->data() - td.evidence.tdx.cc_eventlog->data());
         (*td.evidence.tdx.cc_eventlog)[offset] ^= 1;
       },
       "replay.rtmr*", TrustClaim::executables, 96, Tier::contraindicated},
      {"manifest byte",
       [](AconTd& td) {
         td.measure_and_quote(td.log_lines);
         Bytes& manifest = td.evidence.images[1].manifest;
         const std::string_view entrypoint = "/bin/app";
         auto pos =
             std::search(manifest.begin(), manifest.end(), entrypoint.begin(), entrypoint.end());
         ASSERT_NE(pos, manifest.end());
         *(pos + 1) = 'B';
       },
       // Its signature no longer verifies either: crypto validation failed outranks it.
       "image.<app>.id", TrustClaim::executables, 99, Tier::contraindicated},
      {"missing image",
       [](AconTd& td) {
         td.measure_and_quote(td.log_lines);
         td.evidence.images.pop_back();
       },
       "image.<app>.manifest", TrustClaim::executables, 33, Tier::warning},
      {"image against the launch policy",
       [](AconTd& td) {
         Signer stranger_signer = load_signer("p256");
         Signed stranger =
             sign(stranger_signer, app_manifest({layer_digest("other")}, {}, false), "stranger");
         td.evidence.images.push_back(stranger.provided);
         std::vector<std::string> lines = {td.log_lines[0], td.log_lines[1],
                                           add_manifest(stranger.image_id), kFinalizeText};
         td.measure_and_quote(lines);
       },
       "launch_policy.acond", TrustClaim::executables, 96, Tier::contraindicated},
      {"unfinalized image set",
       [](AconTd& td) {
         td.measure_and_quote({td.log_lines[0], td.log_lines[1]});
       },
       "runtime_log.acon_finalized", TrustClaim::executables, 33, Tier::warning},
      {"quote byte",
       [](AconTd& td) {
         td.measure_and_quote(td.log_lines);
         td.evidence.tdx.quote[48 + 136] ^= 1;  // first byte of MRTD in the TD report body
       },
       "quote.signature", TrustClaim::hardware, 99, Tier::contraindicated},
      {"wrong nonce",
       [](AconTd& td) {
         td.measure_and_quote(td.log_lines);
         td.options.evidence.expected_nonce = "challenge-2";
       },
       "binding.kbs", TrustClaim::instance_identity, 96, Tier::contraindicated},
      {"quote bound to other runtime data",
       [](AconTd& td) {
         td.measure_and_quote(td.log_lines);
         td.quote(runtime_data("challenge-0"));
       },
       "binding.kbs", TrustClaim::instance_identity, 96, Tier::contraindicated},
      {"wrong init-data",
       [](AconTd& td) {
         td.measure_and_quote(td.log_lines);
         td.evidence.init_data->body += "# changed\n";
       },
       "init_data", TrustClaim::configuration, 96, Tier::contraindicated},
  };
  for (const Tampering& c : cases) {
    SCOPED_TRACE(c.name);
    AconTd td;
    c.tamper(td);
    AttestationResult r = td.appraise_now();
    std::string name = c.failed_check;
    if (auto p = name.find("<app>"); p != std::string::npos) name.replace(p, 5, td.app.image_id);
    bool failed = false;
    for (const CheckResult& check : r.evidence.checks) {
      const bool matches = name.ends_with("*")
                               ? check.name.starts_with(name.substr(0, name.size() - 1))
                               : check.name == name;
      failed = failed || (matches && check.outcome == Outcome::fail);
    }
    EXPECT_TRUE(failed) << name << "\n" << dump(r);
    EXPECT_EQ(value(r, c.claim), c.claim_value) << dump(r);
    EXPECT_EQ(r.appraisal.status, c.status) << dump(r);
    const Explanation& why = r.appraisal.explanation(c.claim);
    EXPECT_FALSE(why.reason.empty());
  }
}

// ---- real quotes with Intel's collateral at their pinned times ----

const Json& vector_named(const std::string& id) {
  static const Json doc = *parse_json(test::read_data("quotes/vectors.json"));
  for (const Json& v : doc["vectors"])
    if (v["id"] == id) return v;
  throw std::runtime_error("no vector " + id);
}

std::tuple<Evidence, AppraiseOptions> real_tdx(const std::string& vector_id) {
  const Json& v = vector_named(vector_id);
  Evidence evidence;
  evidence.platform = Platform::tdx;
  evidence.tdx.quote = test::read_data_bytes("quotes/" + v["quote"].get<std::string>());
  AppraiseOptions options;
  options.evidence.at = Time(std::chrono::seconds(v["now_unix"].get<int64_t>()));
  options.evidence.collateral = must(dcap::parse_collateral_bundle(
      test::read_data("quotes/" + v["collateral"].get<std::string>())));
  return {evidence, options};
}

// What ships is secure by default: neither policy accepts a simulated or a debug TD.
TEST(Appraise, ShippedPoliciesRefuseSimulatedAndDebugTds) {
  for (const std::string name : {"acon_td.toml", "default_cpu.toml"}) {
    const Policy policy =
        must(parse_policy(test::read_data("../../verifier/appraisal/policies/" + name), name));
    EXPECT_FALSE(policy.allow_simulated) << name;
    EXPECT_FALSE(policy.allow_debug) << name;
  }
}

Policy default_cpu_policy() { return shipped_policy("default_cpu.toml"); }

TEST(Appraise, RealUpToDateQuoteUnderTrusteesDefaultPolicyIsAWarningForItsUnknownRuntime) {
  auto [evidence, options] = real_tdx("phala-tdx-v4-uptodate");
  // The relying party knows this TD's MRTD and XFAM, nothing of its boot chain.
  EvidenceAppraisal claims = appraise_evidence(evidence, options.evidence);
  const Json& body = claims.claims->at("tdx").at("quote").at("body");
  ReferenceValueStore references;
  ASSERT_TRUE(
      references
          .register_message(rvps_message({{"mr_td", {body["mr_td"]}}, {"xfam", {body["xfam"]}}}),
                            options.evidence.at)
          .ok());
  AttestationResult r = must(appraise(evidence, default_cpu_policy(), references, options));
  EXPECT_EQ(outcome(r, "quote.signature"), Outcome::pass) << dump(r);
  EXPECT_EQ(value(r, TrustClaim::hardware), 2) << dump(r);
  EXPECT_EQ(value(r, TrustClaim::configuration), 2) << dump(r);
  EXPECT_EQ(value(r, TrustClaim::executables), 33);
  EXPECT_EQ(r.appraisal.status, Tier::warning);
  EXPECT_EQ(r.appraisal.explanation(TrustClaim::executables).rule, "default");
  EXPECT_EQ(r.evidence.claims->at("acon").at("simulated"), false);
  EXPECT_EQ(r.ear.submods.at("cpu0").appraisal_policy_id, "default_cpu");
}

TEST(Appraise, RealQuoteOnExpiredCollateralIsContraindicatedWithTheReason) {
  auto [evidence, options] = real_tdx("expired");
  ReferenceValueStore references;
  AttestationResult r = must(appraise(evidence, default_cpu_policy(), references, options));
  EXPECT_EQ(r.evidence.claims->at("tdx").at("collateral_expiration_status"), "1") << dump(r);
  const Explanation& hardware = r.appraisal.explanation(TrustClaim::hardware);
  EXPECT_EQ(hardware.value, 97);
  EXPECT_NE(hardware.reason.find("collateral_expiration_status"), std::string::npos)
      << hardware.reason;
  EXPECT_EQ(r.appraisal.status, Tier::contraindicated);
}

TEST(Appraise, RealQuoteWithAForgedSignatureIsCryptoValidationFailed) {
  auto [evidence, options] = real_tdx("negative-v4-quote-sig");
  AttestationResult r =
      must(appraise(evidence, default_cpu_policy(), ReferenceValueStore{}, options));
  EXPECT_EQ(outcome(r, "quote.signature"), Outcome::fail);
  EXPECT_EQ(value(r, TrustClaim::hardware), 99);
  EXPECT_EQ(value(r, TrustClaim::instance_identity), 99);
  EXPECT_EQ(r.appraisal.explanation(TrustClaim::hardware).rule, "hard rule: quote.signature");
}

// ---- the stored swtpm quote ----

TEST(Appraise, SwtpmQuoteIsAffirmingUnderAVtpmPolicyAndRefusedWithAnotherNonce) {
  auto [evidence, evidence_options] = test::stored_vtpm(kCheck);
  AppraiseOptions options;
  options.evidence = std::move(evidence_options);
  const Policy policy = must(parse_policy(R"(version = 1
id = "vtpm"
[hardware]
default = 97
[[hardware.tiers]]
value = 2
when = [{ check = "quote.signature" }]
)"));
  AttestationResult r = must(appraise(evidence, policy, ReferenceValueStore{}, options));
  EXPECT_EQ(r.appraisal.status, Tier::affirming) << dump(r);
  EXPECT_EQ(value(r, TrustClaim::hardware), 2);
  ASSERT_NE(r.ear.submods.at("cpu0").annotated(), nullptr);
  EXPECT_FALSE(r.ear.submods.at("cpu0").annotated()->contains("tdx"));

  options.evidence.tpm_extra_data[0] ^= 1;
  r = must(appraise(evidence, policy, ReferenceValueStore{}, options));
  EXPECT_EQ(outcome(r, "quote.signature"), Outcome::fail) << dump(r);
  EXPECT_EQ(r.appraisal.status, Tier::contraindicated);
  EXPECT_EQ(value(r, TrustClaim::hardware), 99);
}

TEST(Appraise, OptionsThatCannotMakeAnEarAreRefused) {
  AconTd td;
  td.measure_and_quote(td.log_lines);
  td.options.issuer.clear();
  auto r = appraise(td.evidence, td.policy, td.references, td.options);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
  td.options.issuer = "acon";
  td.options.validity = std::chrono::seconds(0);
  EXPECT_FALSE(appraise(td.evidence, td.policy, td.references, td.options).ok());
}

}  // namespace
}  // namespace acon::appraisal
