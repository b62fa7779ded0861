// EAR model, encodings, JWT/CWT issuing and verification.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "acon/appraisal/ear.h"
#include "acon/common/jose.h"
#include "ear_pki.h"

namespace acon::appraisal {
namespace {

using namespace std::chrono_literals;

const Time kIat = Time(1767225600s);  // 2026-01-01T00:00:00Z

struct Pki : test::EarPki {
  Pki() : EarPki(*test::make_ear_pki(kIat, "EAR test root")) {}

  EarSigner signer() const { return *EarSigner::create(leaf_key, {leaf}); }
  EarVerifyOptions options(Time now = kIat + 10s) const {
    EarVerifyOptions o;
    o.now = now;
    o.roots = {root};
    return o;
  }
};

const Pki& pki() {
  static const Pki instance;
  return instance;
}

Ear sample_ear() {
  Ear ear;
  ear.iat = kIat;
  ear.exp = kIat + 5min;
  ear.iss = "CoCo-Attestation-Service";
  ear.aud = {"kbs.example"};
  ear.verifier_id = {"https://confidentialcontainers.org", "attestation-service 0.1.0"};
  TrustVector v;
  v.set(TrustClaim::instance_identity, 0);
  v.set(TrustClaim::configuration, ar4si::kApprovedConfig);
  v.set(TrustClaim::executables, ar4si::kApprovedBoot);
  v.set(TrustClaim::hardware, ar4si::kGenuineHardware);
  Submod cpu0 = Submod::from_vector(
      v, "default",
      Json{{"tdx", {{"quote", {{"header", {{"version", "0400"}}}}}}},
           {"report_data", "00ff"},
           {"runtime_data_claims", {{"nonce", "abc"}, {"n", -5}, {"f", 1.5}, {"ok", true}}}});
  cpu0.extra["ear.trustee.identifiers"] = {{"validated", {{"container_images", Json::array()}}}};
  ear.submods["cpu0"] = cpu0;
  return ear;
}

TEST(EarTier, Rules) {
  EXPECT_EQ(tier_of(0), Tier::none);
  EXPECT_EQ(tier_of(1), Tier::none);
  EXPECT_EQ(tier_of(-1), Tier::none);
  EXPECT_EQ(tier_of(2), Tier::affirming);
  EXPECT_EQ(tier_of(31), Tier::affirming);
  EXPECT_EQ(tier_of(32), Tier::warning);
  EXPECT_EQ(tier_of(95), Tier::warning);
  EXPECT_EQ(tier_of(96), Tier::contraindicated);
  EXPECT_EQ(tier_of(99), Tier::contraindicated);
  EXPECT_EQ(tier_of(-128), Tier::contraindicated);
  TrustVector v;
  EXPECT_FALSE(v.any_set());
  v.set(TrustClaim::hardware, 2);
  v.set(TrustClaim::executables, 33);
  EXPECT_EQ(v.tier(), Tier::warning);
  v.set(TrustClaim::file_system, 96);
  EXPECT_EQ(v.tier(), Tier::contraindicated);
  EXPECT_EQ(trust_claim_from_name("runtime-opaque"), TrustClaim::runtime_opaque);
  EXPECT_EQ(tier_from_value(32), Tier::warning);
  EXPECT_FALSE(tier_from_value(3));
}

TEST(EarJson, TrusteeLayoutAndRoundTrip) {
  Ear ear = sample_ear();
  auto tree = ear_to_json(ear);
  ASSERT_TRUE(tree.ok()) << tree.error().to_string();
  const Json& j = *tree;
  // The text that is signed is compact, the bulk first and the rest in byte order of the names:
  // its tree is this one.
  const std::string text = ear_to_json_text(ear);
  auto reparsed = parse_json(text);
  ASSERT_TRUE(reparsed.ok()) << reparsed.error().to_string();
  EXPECT_EQ(*reparsed, j);
  EXPECT_TRUE(text.starts_with(R"({"submods":{"cpu0":{"ear.veraison.annotated-evidence":{"tdx":)"))
      << text;
  EXPECT_EQ(j["eat_profile"], "tag:github.com,2024:confidential-containers/Trustee");
  EXPECT_EQ(j["submods"]["cpu0"]["ear.status"], "affirming");
  EXPECT_EQ(j["submods"]["cpu0"]["ear.trustworthiness-vector"]["configuration"], 2);
  EXPECT_EQ(j["submods"]["cpu0"]["ear.trustworthiness-vector"]["instance-identity"], 0);
  EXPECT_FALSE(j["submods"]["cpu0"]["ear.trustworthiness-vector"].contains("file-system"));
  EXPECT_EQ(j["ear.verifier-id"]["developer"], "https://confidentialcontainers.org");
  EXPECT_EQ(j["aud"], "kbs.example");
  auto back = ear_from_json(j);
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_EQ(*back, ear);
}

// The claims text is written member by member; a submod's extra members are merged into the
// name order of its own members, and one with an own member's name gives way to it only when
// that member is present.
TEST(EarJson, ExtraMembersMergeInNameOrder) {
  Ear ear = sample_ear();
  Submod& cpu0 = ear.submods["cpu0"];
  cpu0.appraisal_policy_id.reset();
  cpu0.extra["a"] = 1;
  cpu0.extra["ear.appraisal-policy-id"] = "from extra";
  cpu0.extra["ear.status"] = "replaced";
  cpu0.extra["ear.t"] = "between status and vector";
  cpu0.extra["zz"] = Json::array({"last"});
  ear.submods["a-second"] = cpu0;
  Json expected = Json::object();
  for (const auto& [name, value] : cpu0.extra) expected[name] = value;
  expected["ear.status"] = tier_name(cpu0.status);
  Json vector = Json::object();
  for (size_t i = 0; i < kTrustClaimCount; ++i)
    if (cpu0.trust_vector.claims[i])
      vector[std::string(trust_claim_name(static_cast<TrustClaim>(i)))] =
          *cpu0.trust_vector.claims[i];
  expected["ear.trustworthiness-vector"] = vector;
  expected["ear.veraison.annotated-evidence"] = *cpu0.annotated();
  const std::string text = ear_to_json_text(ear);
  auto parsed = parse_json(text);
  ASSERT_TRUE(parsed.ok()) << parsed.error().to_string();
  EXPECT_EQ((*parsed)["submods"]["cpu0"], expected);
  EXPECT_EQ((*parsed)["submods"]["a-second"], expected);
  EXPECT_EQ((*parsed)["submods"]["cpu0"]["ear.appraisal-policy-id"], "from extra");
  // The annotated evidence first, then the members in name order.
  const size_t cpu0_at = text.find(R"("cpu0":)");
  size_t last = text.find(R"("ear.veraison.annotated-evidence")", cpu0_at);
  ASSERT_NE(last, std::string::npos);
  for (const char* name : {R"("a":1)", R"("ear.appraisal-policy-id")", R"("ear.status")",
                           R"("ear.t")", R"("ear.trustworthiness-vector")", R"("zz")"}) {
    const size_t at = text.find(name, cpu0_at);
    ASSERT_NE(at, std::string::npos) << name;
    EXPECT_GT(at, last) << name;
    last = at;
  }
}

// Equal values and equal JSON types all the way down (Json's == calls 5 and 5u equal).
bool same_tree(const Json& a, const Json& b) {
  if (a.type() != b.type() || a.size() != b.size()) return false;
  if (a.is_object()) {
    for (auto x = a.begin(), y = b.begin(); x != a.end(); ++x, ++y)
      if (x.key() != y.key() || !same_tree(*x, *y)) return false;
    return true;
  }
  if (a.is_array()) {
    for (size_t i = 0; i < a.size(); ++i)
      if (!same_tree(a[i], b[i])) return false;
    return true;
  }
  return a == b;
}

// ear_to_json builds the tree directly; it must be what parsing the signed text gives, even for
// values the text writer changes (non-UTF-8 replaced, NaN written as null) and for integers
// the model holds signed.
TEST(EarJson, TreeIsTheSignedTextParsed) {
  auto check = [](const Ear& ear, const char* what) {
    auto tree = ear_to_json(ear);
    ASSERT_TRUE(tree.ok()) << what << ": " << tree.error().to_string();
    auto parsed = parse_json(ear_to_json_text(ear));
    ASSERT_TRUE(parsed.ok()) << what << ": " << parsed.error().to_string();
    EXPECT_TRUE(same_tree(*tree, *parsed)) << what << "\n"
                                           << dump_compact(*tree) << "\n"
                                           << dump_compact(*parsed);
  };
  Ear ear = sample_ear();
  ear.aud = {"a", "b"};
  ear.nbf = ear.iat;
  Submod& cpu0 = ear.submods["cpu0"];
  cpu0.trust_vector.set(TrustClaim::sourced_data, ar4si::kVerifierMalfunction);
  cpu0.extra["ear.status"] = "replaced by the status";
  cpu0.extra["ear.x"] =
      Json{{"signed", int64_t{7}}, {"negative", -3}, {"big", uint64_t{1} << 63},
           {"float", 1.5},         {"whole", 2.0},   {"list", {1, "é", nullptr, true}}};
  check(ear, "plain");

  Ear invalid_utf8 = ear;
  invalid_utf8.submods["cpu0"].extra["ear.y"] = std::string("\xff\xfe");
  check(invalid_utf8, "a string that is not UTF-8");
  Ear invalid_key = ear;
  invalid_key.submods["cpu0"].extra["ear.y"] = Json{{std::string("k\xc3"), 1}};
  check(invalid_key, "a key that is not UTF-8");
  Ear not_finite = ear;
  not_finite.submods["cpu0"].extra["ear.y"] = std::numeric_limits<double>::quiet_NaN();
  check(not_finite, "NaN");
  Ear bad_name = ear;
  bad_name.submods["\x80"] = bad_name.submods["cpu0"];
  check(bad_name, "a submod name that is not UTF-8");

  // sign_ear_jwt says which of them the token's text gives back unchanged: only the plain one.
  auto exact = [](const Ear& e) {
    bool json_form_exact = false;
    auto token = sign_ear_jwt(e, pki().signer(), &json_form_exact);
    EXPECT_TRUE(token.ok()) << token.error().to_string();
    return json_form_exact;
  };
  EXPECT_TRUE(exact(ear));
  EXPECT_TRUE(exact(sample_ear()));
  for (const Ear* changed : {&invalid_utf8, &invalid_key, &not_finite, &bad_name})
    EXPECT_FALSE(exact(*changed));
  Ear annotated_utf8 = ear;
  Json evidence = *annotated_utf8.submods["cpu0"].annotated();
  evidence["tdx"]["uefi_event_logs"] = Json::array({Json{{"details", std::string("\xc3(")}}});
  annotated_utf8.submods["cpu0"].annotated_evidence = std::make_shared<const Json>(evidence);
  EXPECT_FALSE(exact(annotated_utf8));
  Ear bad_audience = ear;
  bad_audience.aud.push_back("\xe2\x82");
  EXPECT_FALSE(exact(bad_audience));
}

TEST(EarJson, ExactTextOfASmallEar) {
  Ear ear;
  ear.iat = Time(std::chrono::seconds(1700000000));
  ear.exp = ear.iat + std::chrono::minutes(5);
  ear.iss = "CoCo-Attestation-Service";
  ear.aud = {"a", "b"};
  ear.verifier_id = {"dev", "build \"1\""};
  TrustVector v;
  v.set(TrustClaim::hardware, 2);
  v.set(TrustClaim::configuration, 36);
  Submod cpu0 = Submod::from_vector(v, "default", Json{{"tdx", {{"z", 1}, {"a", "\n"}}}});
  cpu0.extra["ear.trustee.identifiers"] = Json{{"validated", Json::object()}};
  cpu0.extra["ear.status"] = "overridden by the status";
  ear.submods["cpu0"] = cpu0;
  EXPECT_EQ(
      ear_to_json_text(ear),
      R"({"submods":{"cpu0":{"ear.veraison.annotated-evidence":{"tdx":{"a":"\n","z":1}},)"
      R"("ear.appraisal-policy-id":"default","ear.status":"warning",)"
      R"("ear.trustee.identifiers":{"validated":{}},)"
      R"("ear.trustworthiness-vector":{"configuration":36,"hardware":2}}},)"
      R"("aud":["a","b"],"ear.verifier-id":{"build":"build \"1\"","developer":"dev"},)"
      R"("eat_profile":"tag:github.com,2024:confidential-containers/Trustee","exp":1700000300,)"
      R"("iat":1700000000,"iss":"CoCo-Attestation-Service"})");
}

TEST(EarCbor, RoundTripAndKeys) {
  Ear ear = sample_ear();
  auto cbor = ear_to_cbor(ear);
  ASSERT_TRUE(cbor.ok());
  auto back = ear_from_cbor(*cbor);
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_EQ(*back, ear);
  // A map of 7 pairs, first key 265 (eat_profile) in its shortest form: 0xa7 0x19 0x01 0x09.
  ASSERT_GE(cbor->size(), 4u);
  EXPECT_EQ((*cbor)[0], 0xa7);
  EXPECT_EQ((*cbor)[1], 0x19);
  EXPECT_EQ((*cbor)[2], 0x01);
  EXPECT_EQ((*cbor)[3], 0x09);
}

TEST(EarCbor, ErrorsNameFieldAndOffset) {
  // {265: "p", 6: "x"}: iat is text; it starts at offset 6.
  Bytes bad = {0xa2, 0x19, 0x01, 0x09, 0x61, 'p', 0x06, 0x61, 'x'};
  auto r = ear_from_cbor(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("iat at offset 7"), std::string::npos) << r.error().message;
  Bytes truncated = {0xa1, 0x19, 0x01};
  r = ear_from_cbor(truncated);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("offset 1:"), std::string::npos) << r.error().message;
  Bytes deep(200, 0x81);
  deep.push_back(0x00);
  r = ear_from_cbor(deep);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("nested deeper"), std::string::npos);
}

TEST(EarIssue, RefusesEmptyVectorAndNonP256) {
  Ear ear = sample_ear();
  ear.submods["cpu0"].trust_vector = {};
  auto jwt = sign_ear_jwt(ear, pki().signer());
  ASSERT_FALSE(jwt.ok());
  EXPECT_NE(jwt.error().message.find("no claim is set"), std::string::npos);
  EXPECT_FALSE(sign_ear_cwt(ear, pki().signer()).ok());
  auto p384 = EarSigner::create(*PrivateKey::generate_ec(Curve::p384));
  ASSERT_FALSE(p384.ok());
  EXPECT_NE(p384.error().message.find("P-256"), std::string::npos);
  // A chain whose leaf certifies another key.
  EXPECT_FALSE(EarSigner::create(pki().root_key, {pki().leaf}).ok());
}

TEST(EarJwt, HeaderLayoutAndVerify) {
  auto jwt = sign_ear_jwt(sample_ear(), pki().signer());
  ASSERT_TRUE(jwt.ok()) << jwt.error().to_string();
  auto parsed = jose::jws_parse(*jwt);
  ASSERT_TRUE(parsed.ok());
  const Json& h = parsed->header;
  EXPECT_EQ(h["typ"], "JWT");
  EXPECT_EQ(h["alg"], "ES256");
  EXPECT_EQ(h["jwk"]["kty"], "EC");
  EXPECT_EQ(h["jwk"]["crv"], "P-256");
  EXPECT_EQ(h["jwk"]["alg"], "ES256");
  EXPECT_EQ(h["jwk"]["x5c"].size(), 1u);
  auto ear = verify_ear_jwt(*jwt, pki().options());
  ASSERT_TRUE(ear.ok()) << ear.error().to_string();
  EXPECT_EQ(*ear, sample_ear());
  // Pinned key instead of roots.
  EarVerifyOptions pinned;
  pinned.now = kIat;
  pinned.trusted_key = pki().leaf_key.public_key();
  EXPECT_TRUE(verify_ear_jwt(*jwt, pinned).ok());
  pinned.trusted_key = pki().root_key.public_key();
  EXPECT_EQ(verify_ear_jwt(*jwt, pinned).error().code, Errc::verify_failed);
}

// appraise() hands the EAR the firmware events' uefi_event_logs entries as text written ahead of
// time; the token must be exactly the one written without it, whatever length comes before the
// entries (the base64 groups and the hash state are cut there), and its signature must verify
// (the signer hashes the beginning once and finishes copies of that state).
TEST(EarJwt, PrewrittenEntriesChangeNothing) {
  Json entries = Json::array();
  for (int i = 0; i < 6; ++i)
    entries.push_back({{"index", i},
                       {"type_name", "EV_EFI_" + std::string(i, 'X')},
                       {"digests", Json::array({{{"alg", "SHA-384"}, {"digest", "ab"}}})}});
  const EarSigner signer = pki().signer();
  EarVerifyOptions pinned;
  pinned.now = kIat;
  pinned.trusted_key = pki().leaf_key.public_key();
  for (const char* name : {"cpu0", "cpu01", "c"}) {
    for (size_t count : {1u, 4u, 6u, 7u}) {
      SCOPED_TRACE(std::string(name) + " " + std::to_string(count));
      Ear ear = sample_ear();
      Submod submod = ear.submods["cpu0"];
      ear.submods.clear();
      Json annotated = *submod.annotated();
      annotated["tdx"]["uefi_event_logs"] = entries;
      submod.annotated_evidence = std::make_shared<const Json>(annotated);
      ear.submods[name] = submod;
      const std::string expected = ear_to_json_text(ear);

      auto prewritten = std::make_shared<PrewrittenEntries>();
      prewritten->count = count;
      for (size_t i = 0; i < count && i < entries.size(); ++i) {
        if (i > 0) prewritten->text += ',';
        append_compact_json(prewritten->text, entries[i]);
      }
      ear.submods[name].prewritten_event_log = prewritten;
      EXPECT_EQ(ear_to_json_text(ear), expected);
      for (int round = 0; round < 2; ++round) {  // the signer's prefix computed, then reused
        bool exact = false;
        auto jwt = sign_ear_jwt(ear, signer, &exact);
        ASSERT_TRUE(jwt.ok()) << jwt.error().to_string();
        EXPECT_TRUE(exact);
        auto parsed = jose::jws_parse(*jwt);
        ASSERT_TRUE(parsed.ok());
        EXPECT_EQ(as_chars(parsed->payload), expected);
        auto verified = verify_ear_jwt(*jwt, pinned);
        ASSERT_TRUE(verified.ok()) << verified.error().to_string();
        EXPECT_EQ(*verified, ear);
      }
      // Entries written inexactly make the token's claims inexact.
      auto inexact = std::make_shared<PrewrittenEntries>(*prewritten);
      inexact->exact = false;
      ear.submods[name].prewritten_event_log = inexact;
      bool exact = true;
      ASSERT_TRUE(sign_ear_jwt(ear, signer, &exact).ok());
      EXPECT_EQ(exact, count > entries.size());  // ignored when the array is shorter
    }
  }
}

TEST(EarJwt, TimeAudienceAndTrust) {
  auto jwt = *sign_ear_jwt(sample_ear(), pki().signer());
  EXPECT_TRUE(verify_ear_jwt(jwt, pki().options(kIat + 5min + 60s)).ok());
  EXPECT_EQ(verify_ear_jwt(jwt, pki().options(kIat + 5min + 61s)).error().code, Errc::expired);
  EXPECT_TRUE(verify_ear_jwt(jwt, pki().options(kIat - 60s)).ok());
  EXPECT_EQ(verify_ear_jwt(jwt, pki().options(kIat - 61s)).error().code, Errc::expired);
  auto o = pki().options();
  o.audience = "kbs.example";
  EXPECT_TRUE(verify_ear_jwt(jwt, o).ok());
  o.audience = "other-kbs";
  auto r = verify_ear_jwt(jwt, o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("aud"), std::string::npos);
  // Another root: the chain does not verify.
  Pki other;
  EXPECT_EQ(verify_ear_jwt(jwt, other.options()).error().code, Errc::verify_failed);
  EarVerifyOptions none;
  none.now = kIat;
  EXPECT_EQ(verify_ear_jwt(jwt, none).error().code, Errc::invalid_argument);
  // Tampered payload.
  auto dot = jwt.find('.');
  std::string tampered = jwt;
  tampered[dot + 5] = tampered[dot + 5] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(verify_ear_jwt(tampered, pki().options()).ok());
  // Oversized.
  o = pki().options();
  o.max_token_bytes = 100;
  EXPECT_EQ(verify_ear_jwt(jwt, o).error().code, Errc::parse);
}

TEST(EarJwt, RefusesOtherAlgorithms) {
  // ES384 with the same header layout: refused before any key is consulted.
  auto p384 = *PrivateKey::generate_ec(Curve::p384);
  Json jwk = p384.public_key().to_jwk();
  jwk["alg"] = "ES384";
  auto token = jose::jws_sign(p384, jose::JwsAlg::ES384, as_bytes(ear_to_json_text(sample_ear())),
                              Json{{"typ", "JWT"}, {"jwk", jwk}});
  ASSERT_TRUE(token.ok());
  auto r = verify_ear_jwt(*token, pki().options());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::unsupported);
  std::string none = b64url(as_bytes(R"({"alg":"none","typ":"JWT"})")) + "." +
                     b64url(as_bytes(ear_to_json_text(sample_ear()))) + ".";
  EXPECT_FALSE(verify_ear_jwt(none, pki().options()).ok());
}

TEST(EarCwt, SignAndVerify) {
  auto cwt = sign_ear_cwt(sample_ear(), pki().signer());
  ASSERT_TRUE(cwt.ok()) << cwt.error().to_string();
  EXPECT_EQ((*cwt)[0], 0xd2);  // tag 18
  auto ear = verify_ear_cwt(*cwt, pki().options());
  ASSERT_TRUE(ear.ok()) << ear.error().to_string();
  EXPECT_EQ(*ear, sample_ear());
  EXPECT_EQ(verify_ear_cwt(*cwt, pki().options(kIat + 1h)).error().code, Errc::expired);
  // Flip each byte of the message in turn: every change is refused, and none crashes.
  size_t refused = 0;
  for (size_t i = 0; i < cwt->size(); ++i) {
    Bytes bad = *cwt;
    bad[i] ^= 0x01;
    refused += verify_ear_cwt(bad, pki().options()).ok() ? 0 : 1;
  }
  EXPECT_EQ(refused, cwt->size());
  // Truncations.
  for (size_t n = 0; n < cwt->size(); n += 7)
    EXPECT_FALSE(verify_ear_cwt(ByteView(cwt->data(), n), pki().options()).ok());
}

}  // namespace
}  // namespace acon::appraisal
