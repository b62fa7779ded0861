// Re-checking the images a runtime log names: manifests signed here with the test keys of
// tests/data/acon/certs (P-384, P-521, P-256 signers), logged as acond logs them, then tampered
// with, reordered, left out or followed by events acond never writes.
#include "acon/appraisal/images.h"

#include <gtest/gtest.h>

#include "acon/common/hash.h"
#include "acon/eventlog/replay.h"
#include "acon/image/policy.h"
#include "image_fixtures.h"
#include "test_util.h"

namespace acon::appraisal {
namespace {

using namespace test_images;

// Events as a caller passes them after a replay proved them: indexes 1.., digest = H(text).
std::vector<RuntimeLogEvent> proven_events(const std::vector<std::string>& texts) {
  std::vector<RuntimeLogEvent> out;
  for (size_t i = 0; i < texts.size(); ++i)
    out.push_back({i + 1, sha384(as_bytes(texts[i])), texts[i], true});
  return out;
}

const CheckResult& check(const ImageAppraisal& a, const std::string& name) {
  static const CheckResult missing{"<missing>", Outcome::error, "no such check", nullptr};
  const CheckResult* c = find_check(a.checks, name);
  EXPECT_NE(c, nullptr) << name;
  return c ? *c : missing;
}

// The check `name` failed, and its reason says `because`.
const CheckResult& expect_failed(const ImageAppraisal& a, const std::string& name,
                                 std::string_view because) {
  const CheckResult& c = check(a, name);
  EXPECT_EQ(c.outcome, Outcome::fail) << name;
  EXPECT_NE(c.reason.find(because), std::string::npos) << name << ": " << c.reason;
  return c;
}

std::string dump(const ImageAppraisal& a) {
  Json checks = Json::array();
  for (const auto& c : a.checks) checks.push_back(check_to_json(c));
  return Json({{"checks", checks}, {"images", a.images}}).dump(1);
}

// A vendor image (P-521) whose aliases name a base layer and the image itself (Vendor:1), and
// an application (P-384) that takes the base layer through the vendor's alias, accepts the
// vendor by NAME:SVN and rejects everything else.
class Images : public ::testing::Test {
 protected:
  void SetUp() override {
    image::Manifest vendor_m = app_manifest({layer_digest("vendor-base")}, {}, false);
    vendor_m.aliases.contents[layer_digest("vendor-base")] = {"base"};
    vendor_m.aliases.self["."] = {"Vendor:1"};
    vendor = sign(vendor_signer, vendor_m, "vendor");
    base_alias = "signer/" + vendor_signer.rule_prefix + "base";
    app = sign(app_signer,
               app_manifest({base_alias, layer_digest("app")},
                            {vendor_signer.rule_prefix + "Vendor:1"}, true),
               "app");
  }

  Signer app_signer = load_signer("p384");
  Signer vendor_signer = load_signer("p521");
  Signed vendor, app;
  std::string base_alias;
};

TEST_F(Images, TwoCompatibleImagesPassEverything) {
  auto events = proven_events({add_manifest(app.image_id), add_manifest(vendor.image_id),
                               "github.com/intel/ACON Finalize 2"});
  std::vector<ProvidedImage> provided = {vendor.provided, app.provided};
  ImageAppraisal a = appraise_images(events, provided);
  for (const auto& c : a.checks) {
    if (c.name == "image.unlogged") continue;
    EXPECT_EQ(c.outcome, Outcome::pass) << c.name << ": " << c.reason;
  }
  EXPECT_EQ(check(a, "image.unlogged").outcome, Outcome::pass);
  EXPECT_EQ(check(a, "image." + app.image_id + ".id").outcome, Outcome::pass);
  EXPECT_EQ(check(a, "image." + vendor.image_id + ".signature").outcome, Outcome::pass);
  ASSERT_EQ(a.images.size(), 2u) << dump(a);
  const Json& first = a.images[0];
  EXPECT_EQ(first["image_id"], app.image_id);
  EXPECT_EQ(first["log_index"], 1);
  EXPECT_EQ(first["hash_algorithm"], "sha384");
  EXPECT_EQ(first["signer_digest"], app_signer.identity.signer_digest);
  EXPECT_EQ(first["provided"], true);
  EXPECT_EQ(first["signer"], app_signer.cert.subject());
  EXPECT_EQ(first["verdict"], Json({{"acond", "accepted"}, {"spec", "accepted"}}));
  EXPECT_FALSE(first.contains("refusal"));
  // The app's first layer resolves through the vendor's alias to the vendor's base layer.
  const Json& resolution = first["alias_resolution"];
  ASSERT_EQ(resolution.size(), 2u) << dump(a);
  EXPECT_EQ(resolution[0]["layer"], base_alias);
  EXPECT_EQ(resolution[0]["digest"], layer_digest("vendor-base"));
  EXPECT_EQ(resolution[0]["chain"], Json::array({base_alias}));
  EXPECT_EQ(resolution[1]["digest"], layer_digest("app"));
  const Json& second = a.images[1];
  EXPECT_EQ(second["hash_algorithm"], "sha512");
  EXPECT_EQ(second["aliases"]["self"]["."], Json::array({"Vendor:1"}));
  EXPECT_EQ(second["verdict"]["acond"], "accepted");
}

TEST_F(Images, WithoutTheVendorTheAliasDanglesAndTheImageIsMissing) {
  auto events = proven_events({add_manifest(app.image_id), add_manifest(vendor.image_id)});
  std::vector<ProvidedImage> provided = {app.provided};
  ImageAppraisal a = appraise_images(events, provided);
  expect_failed(a, "image." + vendor.image_id + ".manifest", "no provided manifest");
  EXPECT_EQ(check(a, "image." + vendor.image_id + ".id").outcome, Outcome::skipped);
  EXPECT_EQ(check(a, "image." + vendor.image_id + ".signature").outcome, Outcome::skipped);
  // The vendor's policy is unknown, so neither mode can give a verdict on the set.
  for (const char* name : {"launch_policy.acond", "launch_policy.spec"}) {
    const CheckResult& c = check(a, name);
    EXPECT_EQ(c.outcome, Outcome::skipped) << name;
    EXPECT_EQ(c.detail["unknown_images"], Json::array({vendor.image_id}));
  }
  // No Finalize in the log.
  EXPECT_EQ(check(a, "runtime_log.acon_finalized").outcome, Outcome::fail);
  ASSERT_EQ(a.images.size(), 2u);
  EXPECT_EQ(a.images[1]["provided"], false);
  EXPECT_EQ(a.images[1]["verdict"], Json({{"acond", nullptr}, {"spec", nullptr}}));
  EXPECT_EQ(a.images[1]["manifest_digest"],
            image::parse_image_id(vendor.image_id)->manifest_digest);
  EXPECT_EQ(a.images[0]["alias_resolution"][0]["digest"], nullptr);
  EXPECT_NE(a.images[0]["alias_resolution"][0]["problem"].get<std::string>().find("base"),
            std::string::npos);
}

TEST_F(Images, TamperedManifestByteIsAnIdMismatch) {
  ProvidedImage tampered = app.provided;
  std::string text = to_string(tampered.manifest);
  size_t at = text.find("/bin/app");
  ASSERT_NE(at, std::string::npos);
  tampered.manifest[at + 5] = 'A';  // "/bin/App": still a valid manifest
  auto events = proven_events({add_manifest(app.image_id), add_manifest(vendor.image_id)});
  std::vector<ProvidedImage> provided = {tampered, vendor.provided};
  ImageAppraisal a = appraise_images(events, provided);
  const CheckResult& id = check(a, "image." + app.image_id + ".id");
  EXPECT_EQ(id.outcome, Outcome::fail);
  EXPECT_EQ(id.detail["logged"], app.image_id);
  EXPECT_NE(id.detail["recomputed"], app.image_id);
  EXPECT_NE(id.reason.find("the manifest bytes differ"), std::string::npos) << id.reason;
  // The signature was made over the original bytes.
  EXPECT_EQ(check(a, "image." + app.image_id + ".signature").outcome, Outcome::fail);
  EXPECT_EQ(check(a, "image." + app.image_id + ".manifest").outcome, Outcome::fail);
  // The vendor is untouched; the set's policy cannot be judged without the app's real manifest.
  EXPECT_EQ(check(a, "image." + vendor.image_id + ".id").outcome, Outcome::pass);
  EXPECT_EQ(check(a, "launch_policy.acond").outcome, Outcome::skipped);
  EXPECT_EQ(check(a, "image.unlogged").outcome, Outcome::pass);  // the tampered one was paired
  EXPECT_EQ(a.images[0]["provided"], false);
}

TEST_F(Images, BadSignatureFailsOnlyTheSignature) {
  ProvidedImage bad = vendor.provided;
  bad.signature.back() ^= 0x01;
  auto events =
      proven_events({add_manifest(app.image_id), add_manifest(vendor.image_id), kFinalizeText});
  std::vector<ProvidedImage> provided = {app.provided, bad};
  ImageAppraisal a = appraise_images(events, provided);
  expect_failed(a, "image." + vendor.image_id + ".signature", "Invalid digital signature");
  EXPECT_EQ(check(a, "image." + vendor.image_id + ".id").outcome, Outcome::pass);
  EXPECT_EQ(check(a, "image." + app.image_id + ".signature").outcome, Outcome::pass);
  // The ID matches, so the policy acond measured is known and still evaluated.
  EXPECT_EQ(check(a, "launch_policy.acond").outcome, Outcome::pass);
  EXPECT_EQ(check(a, "launch_policy.spec").outcome, Outcome::pass);
  EXPECT_EQ(check(a, "runtime_log.acon_events").outcome, Outcome::pass);
}

TEST_F(Images, ManifestAcondCannotParseFailsAndLeavesThePolicyUnknown) {
  // Signed bytes with the right Image ID that miss acond's required keys.
  const std::string bytes = R"({"workingDir":"/"})";
  Bytes sig = image::sign_manifest(bytes, vendor_signer.key, vendor_signer.cert).value();
  const std::string id = image::image_identity(vendor_signer.cert, bytes)->image_id();
  std::vector<ProvidedImage> provided = {{"bare", to_bytes(bytes), sig, vendor_signer.cert.der()},
                                         app.provided};
  ImageAppraisal a = appraise_images(
      proven_events({add_manifest(app.image_id), add_manifest(id), kFinalizeText}), provided);
  expect_failed(a, "image." + id + ".manifest", "does not parse as acond parses manifests");
  EXPECT_EQ(check(a, "image." + id + ".id").outcome, Outcome::pass);
  EXPECT_EQ(check(a, "image." + id + ".signature").outcome, Outcome::pass);
  EXPECT_EQ(check(a, "launch_policy.spec").outcome, Outcome::skipped);
  EXPECT_EQ(a.images[1]["provided"], true);
  EXPECT_EQ(a.images[1]["aliases"], nullptr);
}

TEST_F(Images, ProvidedImageTheLogDoesNotNameIsInformational) {
  auto events = proven_events({add_manifest(vendor.image_id), kFinalizeText});
  std::vector<ProvidedImage> provided = {vendor.provided, app.provided};
  ImageAppraisal a = appraise_images(events, provided);
  const CheckResult& unlogged = check(a, "image.unlogged");
  EXPECT_EQ(unlogged.outcome, Outcome::skipped);
  EXPECT_NE(unlogged.reason.find("not a failure"), std::string::npos) << unlogged.reason;
  EXPECT_EQ(unlogged.detail["unlogged"][0]["image_id"], app.image_id);
  EXPECT_EQ(unlogged.detail["unlogged"][0]["provided"], "app");
  for (const auto& c : a.checks) {
    if (c.name != "image.unlogged") {
      EXPECT_EQ(c.outcome, Outcome::pass) << c.name;
    }
  }
  EXPECT_EQ(a.images.size(), 1u);
  // A second copy of a logged image is not "unlogged".
  provided = {vendor.provided, vendor.provided};
  a = appraise_images(events, provided);
  EXPECT_EQ(check(a, "image.unlogged").outcome, Outcome::pass);
}

TEST_F(Images, IncompatibleSetFailsBothModesNamingImageAndRule) {
  // The app rejects what it does not accept; an image from another signer is not accepted.
  Signer other = load_signer("p256");
  Signed stranger = sign(other, app_manifest({layer_digest("s")}, {}, false), "stranger");
  auto events = proven_events({add_manifest(app.image_id), add_manifest(stranger.image_id)});
  std::vector<ProvidedImage> provided = {app.provided, stranger.provided};
  ImageAppraisal a = appraise_images(events, provided);
  for (const char* name : {"launch_policy.acond", "launch_policy.spec"}) {
    const CheckResult& c = expect_failed(a, name, stranger.image_id);
    EXPECT_EQ(c.detail["image_id"], stranger.image_id);
    EXPECT_EQ(c.detail["log_index"], 2);
    EXPECT_EQ(c.detail["verdict"], "rejected");
    EXPECT_EQ(c.detail["refusal"]["image_id"], app.image_id) << c.detail.dump();
  }
  EXPECT_EQ(a.images[1]["verdict"], Json({{"acond", "rejected"}, {"spec", "rejected"}}));
  EXPECT_EQ(a.images[1]["refusal"]["acond"]["image_id"], app.image_id);
  // A malformed rule met on the way is acond's "Invalid launch policy format": verdict error.
  Signed sloppy =
      sign(app_signer, app_manifest({layer_digest("x")}, {"not-a-rule"}, true), "sloppy");
  events = proven_events({add_manifest(sloppy.image_id), add_manifest(stranger.image_id)});
  provided = {sloppy.provided, stranger.provided};
  a = appraise_images(events, provided);
  const CheckResult& greedy = check(a, "launch_policy.acond");
  EXPECT_EQ(greedy.outcome, Outcome::fail);
  EXPECT_EQ(greedy.detail["verdict"], "error");
  EXPECT_EQ(greedy.detail["refusal"]["rule"], "not-a-rule");
  EXPECT_NE(greedy.reason.find("rule 'not-a-rule'"), std::string::npos) << greedy.reason;
}

// R and T reject what they do not accept; R accepts A and T, A accepts R, T accepts only A
// (all by signer). Loaded T, A, R, acond admits everything. Loaded R, A, T, acond refuses T:
// it wants T to accept a rejecting image directly, while the spec's graph rule is satisfied by
// T->A->R. The order of the pair (R, T) matters to acond only.
TEST_F(Images, ReorderedPairMattersForAcondOnly) {
  Signer r_signer = load_signer("p384"), a_signer = load_signer("p521"),
         t_signer = load_signer("p256");
  Signed r = sign(r_signer,
                  app_manifest({layer_digest("r")},
                               {a_signer.rule_prefix + "*", t_signer.rule_prefix + "*"}, true),
                  "R");
  Signed a_img =
      sign(a_signer, app_manifest({layer_digest("a")}, {r_signer.rule_prefix + "*"}, false), "A");
  Signed t =
      sign(t_signer, app_manifest({layer_digest("t")}, {a_signer.rule_prefix + "*"}, true), "T");
  std::vector<ProvidedImage> provided = {r.provided, a_img.provided, t.provided};

  auto good_order = proven_events({add_manifest(t.image_id), add_manifest(a_img.image_id),
                                   add_manifest(r.image_id), kFinalizeText});
  ImageAppraisal good = appraise_images(good_order, provided);
  EXPECT_EQ(check(good, "launch_policy.acond").outcome, Outcome::pass) << dump(good);
  EXPECT_EQ(check(good, "launch_policy.spec").outcome, Outcome::pass);

  auto swapped = proven_events({add_manifest(r.image_id), add_manifest(a_img.image_id),
                                add_manifest(t.image_id), kFinalizeText});
  ImageAppraisal bad = appraise_images(swapped, provided);
  const CheckResult& greedy = check(bad, "launch_policy.acond");
  EXPECT_EQ(greedy.outcome, Outcome::fail) << dump(bad);
  EXPECT_EQ(greedy.detail["image_id"], t.image_id);
  EXPECT_EQ(greedy.detail["refusal"]["image_id"], r.image_id);
  EXPECT_EQ(check(bad, "launch_policy.spec").outcome, Outcome::pass);
  EXPECT_EQ(bad.images[2]["verdict"], Json({{"acond", "rejected"}, {"spec", "accepted"}}));
  EXPECT_TRUE(bad.images[2]["refusal"].contains("acond"));
  EXPECT_FALSE(bad.images[2]["refusal"].contains("spec"));
}

TEST_F(Images, EventsAcondNeverWritesAreFailures) {
  std::vector<ProvidedImage> provided = {app.provided, vendor.provided};
  auto problems_of = [&](const std::vector<std::string>& texts) {
    ImageAppraisal a = appraise_images(proven_events(texts), provided);
    const CheckResult& c = check(a, "runtime_log.acon_events");
    EXPECT_EQ(c.outcome, Outcome::fail) << c.reason;
    return c.detail["problems"];
  };
  // AddManifest after Finalize (acond answers "Manifests finalized").
  Json p = problems_of({add_manifest(app.image_id), kFinalizeText, add_manifest(vendor.image_id)});
  ASSERT_EQ(p.size(), 1u) << p.dump();
  EXPECT_EQ(p[0]["log_index"], 3);
  EXPECT_NE(p[0]["problem"].get<std::string>().find("AddManifest after the Finalize"),
            std::string::npos);
  // A second Finalize.
  p = problems_of({add_manifest(app.image_id), kFinalizeText, kFinalizeText});
  ASSERT_EQ(p.size(), 1u);
  EXPECT_NE(p[0]["problem"].get<std::string>().find("second Finalize"), std::string::npos);
  // An unknown operation, before and after Finalize.
  p = problems_of({"github.com/intel/ACON Start 1", add_manifest(app.image_id), kFinalizeText,
                   "github.com/intel/ACON Exec /bin/sh"});
  ASSERT_EQ(p.size(), 2u);
  EXPECT_NE(p[0]["problem"].get<std::string>().find("unknown operation 'Start'"),
            std::string::npos);
  EXPECT_NE(p[1]["problem"].get<std::string>().find("(after Finalize)"), std::string::npos);
  // The same image measured twice; Finalize counting other than the distinct images.
  p = problems_of(
      {add_manifest(app.image_id), add_manifest(app.image_id), "github.com/intel/ACON Finalize 2"});
  ASSERT_EQ(p.size(), 2u) << p.dump();
  EXPECT_NE(p[0]["problem"].get<std::string>().find("already logged at log index 1"),
            std::string::npos);
  EXPECT_NE(p[1]["problem"].get<std::string>().find("records 2 loaded images"), std::string::npos);
  p = problems_of({add_manifest(app.image_id), "github.com/intel/ACON Finalize +1"});
  ASSERT_EQ(p.size(), 1u);
  EXPECT_NE(p[0]["problem"].get<std::string>().find("not the decimal number"), std::string::npos);
  // Content that is no Image ID.
  p = problems_of({"github.com/intel/ACON AddManifest sha384/zz/yy"});
  ASSERT_EQ(p.size(), 1u);
  EXPECT_NE(p[0]["problem"].get<std::string>().find("not an Image ID"), std::string::npos);

  // Bytes that are not UTF-8 are quoted as U+FFFD, so reports stay valid JSON.
  p = problems_of({"github.com/intel/ACON Bad\xff op"});
  ASSERT_EQ(p.size(), 1u);
  EXPECT_NE(p[0]["problem"].get<std::string>().find("'Bad\xef\xbf\xbd'"), std::string::npos)
      << p.dump();
  EXPECT_NO_THROW(p.dump());

  // Other domains' events are counted, not judged.
  ImageAppraisal ok = appraise_images(
      proven_events({"github.com/confidential-containers PullImage {}", add_manifest(app.image_id),
                     add_manifest(vendor.image_id), kFinalizeText, "image-rs CreateContainer x"}),
      provided);
  EXPECT_EQ(check(ok, "runtime_log.acon_events").outcome, Outcome::pass);
  EXPECT_EQ(check(ok, "runtime_log.acon_events").detail["other_domain_events"], 2);
}

TEST_F(Images, UnprovenEventsAreNotUsed) {
  auto events = proven_events({add_manifest(app.image_id), add_manifest(vendor.image_id)});
  events[1].proven = false;
  std::vector<ProvidedImage> provided = {app.provided, vendor.provided};
  ImageAppraisal a = appraise_images(events, provided);
  EXPECT_EQ(a.images.size(), 1u);
  EXPECT_EQ(check(a, "runtime_log.acon_events").detail["unproven_events"], Json::array({2}));
  EXPECT_EQ(find_check(a.checks, "image." + vendor.image_id + ".id"), nullptr);
  EXPECT_EQ(check(a, "image.unlogged").outcome, Outcome::skipped);
  // No proven event at all: nothing to judge, and each check says so.
  events[0].proven = false;
  a = appraise_images(events, provided);
  EXPECT_EQ(check(a, "runtime_log.acon_events").outcome, Outcome::skipped);
  EXPECT_EQ(check(a, "launch_policy.acond").outcome, Outcome::skipped);
  EXPECT_TRUE(a.images.empty());
}

// The text AAEL acon's tools write (ACON's rtmr3.log form) and the TCG2 AAEL records of coco
// mode, each parsed back by eventlog/ and replayed, feed the same re-check as the plain events.
TEST_F(Images, TextAndTcg2LogsAgreeWithThePlainEvents) {
  std::vector<eventlog::AaelEvent> acon_events = {
      {"github.com/intel/ACON", "AddManifest", app.image_id},
      {"github.com/intel/ACON", "AddManifest", vendor.image_id},
  };
  std::vector<ProvidedImage> provided = {app.provided, vendor.provided};

  // acon mode: INIT, the AddManifest lines, the two-field Finalize.
  std::string text = eventlog::text_aael_init_line(HashAlg::sha384, Bytes(48, 0));
  for (const auto& e : acon_events) text += eventlog::text_aael_event_line(e).value();
  text += eventlog::text_aael_event_line({"github.com/intel/ACON", "Finalize", ""}).value();
  auto log = eventlog::parse_text_aael(text);
  ASSERT_TRUE(log.ok()) << log.error().message;
  auto text_events = runtime_log_events(*log, /*proven=*/true);
  ASSERT_EQ(text_events.size(), 3u);
  EXPECT_EQ(text_events[0].text, add_manifest(app.image_id));
  EXPECT_EQ(text_events[0].digest, sha384(as_bytes(text_events[0].text)));
  EXPECT_EQ(text_events[2].text, kFinalizeText);
  ImageAppraisal from_text = appraise_images(text_events, provided);
  ImageAppraisal from_plain = appraise_images(
      proven_events({add_manifest(app.image_id), add_manifest(vendor.image_id), kFinalizeText}),
      provided);

  // coco mode: TCG2 records after a Spec ID header, Finalize with its image count; proven by
  // a replay compared with the register value it should give.
  Bytes records = eventlog::spec_id_record(std::array<HashAlg, 1>{HashAlg::sha384}).value();
  acon_events.push_back({"github.com/intel/ACON", "Finalize", "2"});
  for (const auto& e : acon_events)
    append(records, eventlog::aael_record(4, HashAlg::sha384, e).value());
  auto tcg2 = eventlog::parse_event_log(records);
  ASSERT_TRUE(tcg2.ok()) << tcg2.error().message;
  eventlog::Replayer replayer;
  ASSERT_TRUE(eventlog::replay(*tcg2, replayer).ok());
  auto comparisons =
      eventlog::compare(replayer, HashAlg::sha384, {{4, replayer.value(4, HashAlg::sha384)}});
  auto proven = eventlog::proven_events(*tcg2, comparisons);
  auto tcg2_events = runtime_log_events(*tcg2, proven);
  ASSERT_TRUE(tcg2_events.ok()) << tcg2_events.error().message;
  ASSERT_EQ(tcg2_events->size(), 3u);
  EXPECT_TRUE((*tcg2_events)[0].proven);
  EXPECT_EQ((*tcg2_events)[2].text, "github.com/intel/ACON Finalize 2");
  ImageAppraisal from_tcg2 = appraise_images(*tcg2_events, provided);

  for (const ImageAppraisal* a : {&from_text, &from_plain, &from_tcg2}) {
    for (const auto& c : a->checks) EXPECT_EQ(c.outcome, Outcome::pass) << c.name << c.reason;
  }
  // Same images and verdicts; only where the events sit in their logs differs.
  auto without_index = [](Json images) {
    for (auto& i : images) i.erase("log_index");
    return images;
  };
  EXPECT_EQ(without_index(from_text.images), without_index(from_plain.images));
  EXPECT_EQ(without_index(from_tcg2.images), without_index(from_plain.images));
  EXPECT_EQ(from_text.images[0]["log_index"], 2);  // line 2, after INIT
  EXPECT_EQ(from_tcg2.images[0]["log_index"], 1);  // record 1, after the Spec ID header

  // A record the replay did not prove is not used.
  auto unproven = runtime_log_events(*tcg2, {});
  ASSERT_TRUE(unproven.ok());
  EXPECT_FALSE((*unproven)[0].proven);
  // A tagged AAEL record whose text is not "<domain> <operation> <content>" is refused.
  Bytes broken = eventlog::spec_id_record(std::array<HashAlg, 1>{HashAlg::sha384}).value();
  Bytes tagged = {0x4C, 0x45, 0x41, 0x41, 5, 0, 0, 0, 'A', 'C', 'O', 'N', ' '};
  append(broken, eventlog::measured_record(4, eventlog::ev::kEventTag,
                                           std::array<HashAlg, 1>{HashAlg::sha384}, tagged)
                     .value());
  // So is one whose text is not UTF-8 (Trustee refuses both).
  Bytes not_utf8 =
      eventlog::aael_tagged_event({"github.com/intel/ACON", "AddManifest", "\xc0"}).value();
  append(broken, eventlog::measured_record(4, eventlog::ev::kEventTag,
                                           std::array<HashAlg, 1>{HashAlg::sha384}, not_utf8)
                     .value());
  auto broken_log = eventlog::parse_event_log(broken);
  ASSERT_TRUE(broken_log.ok()) << broken_log.error().message;
  auto refused = runtime_log_events(*broken_log, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("event #1"), std::string::npos) << refused.error().message;
  broken_log->events.erase(broken_log->events.begin() + 1);
  refused = runtime_log_events(*broken_log, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("event #2 at offset"), std::string::npos)
      << refused.error().message;
  EXPECT_NE(refused.error().message.find("not UTF-8"), std::string::npos);
}

}  // namespace
}  // namespace acon::appraisal

namespace acon::appraisal {
namespace {

// ACON's own vectors: the rtmr3.log of aconcli's attest test (set2's image, then Finalize),
// replayed to its published RTMR3, and the Image ID example of ACON's doc/Image.md.
TEST(ImagesRealVectors, AconcliRtmr3LogAndDocExample) {
  auto vectors = parse_json(test::read_data("acon/vectors.json"));
  ASSERT_TRUE(vectors.ok());
  const Json& steps = (*vectors)["rtmr3_replay"]["steps"];
  std::string text;
  for (const auto& step : steps) text += step["line"].get<std::string>() + "\n";
  auto log = eventlog::parse_text_aael(text);
  ASSERT_TRUE(log.ok()) << log.error().message;
  bool proven = hex_encode(eventlog::replay_text_aael(*log)) ==
                steps.back()["rtmr3_after"].get<std::string>();
  ASSERT_TRUE(proven);
  auto events = runtime_log_events(*log, proven);
  const std::string logged_id =
      "sha384/7ec795c3fe89687d4514a1e4f95b2421012fd0b877eba9d5d5f33a1314fe7e10a5b38b0890d890df59b7"
      "16f55f41e2ff/1be479a625d00cc800da463a19baf111a5f69fa1858d78d124813236bc5b198bd551648273a0f6"
      "5824b13490263362ef";

  // The manifest that test signed is not published; one signed now with set2's key carries the
  // same Signer ID, so it is taken for the logged image and its ID (manifest digest) differs.
  auto key = PrivateKey::from_pem(test::read_data("acon/aconcli-set2/priv.pem"));
  auto cert = Certificate::from_der(test::read_data_bytes("acon/aconcli-set2/cert.der"));
  ASSERT_TRUE(key.ok() && cert.ok());
  Signer set2{*key, *cert, *image::image_identity(*cert, ""), ""};
  Signed mine = sign(set2, app_manifest({layer_digest("set2")}, {}, false), "set2");
  std::vector<ProvidedImage> provided = {mine.provided};
  ImageAppraisal a = appraise_images(events, provided);
  EXPECT_EQ(check(a, "runtime_log.acon_events").outcome, Outcome::pass);
  EXPECT_EQ(check(a, "runtime_log.acon_finalized").outcome, Outcome::pass);
  EXPECT_EQ(check(a, "runtime_log.acon_finalized").detail["log_index"], 3);  // after INIT
  const CheckResult& id = check(a, "image." + logged_id + ".id");
  EXPECT_EQ(id.outcome, Outcome::fail) << dump(a);
  EXPECT_EQ(id.detail["recomputed"], mine.image_id);
  EXPECT_EQ(check(a, "image." + logged_id + ".signature").outcome, Outcome::pass);
  ASSERT_EQ(a.images.size(), 1u);
  EXPECT_EQ(a.images[0]["signer_digest"], set2.identity.signer_digest);

  // doc/Image.md's manifest and certificate give its published Image ID; no signature is
  // published with them, so the signature check fails while the ID check passes.
  const Json& example = (*vectors)["image_id_example"];
  const std::string doc_id = example["image_id"].get<std::string>();
  ProvidedImage doc{"doc-example",
                    test::read_data_bytes("acon/doc-example/manifest.canonical.json"), Bytes{},
                    test::read_data_bytes("acon/doc-example/cert.der")};
  a = appraise_images(proven_events({add_manifest(doc_id)}), std::span(&doc, 1));
  EXPECT_EQ(check(a, "image." + doc_id + ".id").outcome, Outcome::pass) << dump(a);
  EXPECT_EQ(check(a, "image." + doc_id + ".manifest").outcome, Outcome::pass);
  EXPECT_EQ(check(a, "image." + doc_id + ".signature").outcome, Outcome::fail);
  EXPECT_EQ(a.images[0]["verdict"]["acond"], "accepted");
}

}  // namespace
}  // namespace acon::appraisal
