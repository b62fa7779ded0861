#include "acon/common/jose.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace acon::jose {
namespace {

Json load_vector(const std::string& name) {
  auto j = parse_json(test::read_data("jose/" + name));
  EXPECT_TRUE(j.ok()) << name;
  return j.ok() ? *j : Json::object();
}

Json must_parse(std::string_view text) {
  auto j = parse_json(text);
  EXPECT_TRUE(j.ok());
  return j.ok() ? *j : Json();
}

std::string secret_text(const SecretBytes& s) { return std::string(s.begin(), s.end()); }

// ---- JWS published vectors ----

// RFC 7520 §4.1: RSASSA-PKCS1-v1_5 is deterministic, so signing must reproduce the bytes.
TEST(JwsVectors, Rfc7520RsaV15SignatureIsReproducedExactly) {
  Json v = load_vector("rfc7520_4_1_rs256.json");
  auto key = PrivateKey::from_jwk(v["key"]);
  ASSERT_TRUE(key.ok()) << key.error().to_string();
  std::string payload = v["payload"];
  auto token =
      jws_sign(*key, JwsAlg::RS256, as_bytes(payload), {{"kid", "bilbo.baggins@hobbiton.example"}});
  ASSERT_TRUE(token.ok());
  // Our header is {"alg":"RS256","kid":...} — the same member order as the RFC's.
  EXPECT_EQ(*token, v["compact"].get<std::string>());
  auto verified = jws_verify(v["compact"].get<std::string>(), key->public_key());
  ASSERT_TRUE(verified.ok()) << verified.error().to_string();
  EXPECT_EQ(to_string(verified->payload), payload);
  EXPECT_EQ(verified->header["kid"], "bilbo.baggins@hobbiton.example");
}

// RFC 7520 §4.3: ECDSA P-521 / ES512 (randomised, so verify the published token).
TEST(JwsVectors, Rfc7520EcdsaP521SignatureVerifies) {
  Json v = load_vector("rfc7520_4_3_es512.json");
  auto key = PublicKey::from_jwk(v["key"]);
  ASSERT_TRUE(key.ok());
  std::string compact = v["compact"];
  auto verified = jws_verify(compact, *key);
  ASSERT_TRUE(verified.ok()) << verified.error().to_string();
  EXPECT_EQ(verified->alg, JwsAlg::ES512);
  EXPECT_EQ(to_string(verified->payload), v["payload"].get<std::string>());
  compact[compact.size() - 5] = compact[compact.size() - 5] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(jws_verify(compact, *key).ok());
}

// RFC 7515 §A.3: ES256 example.
TEST(JwsVectors, Rfc7515Es256ExampleVerifies) {
  auto key = PublicKey::from_jwk(must_parse(R"({"kty":"EC","crv":"P-256",
      "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
      "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})"));
  ASSERT_TRUE(key.ok());
  const char* token =
      "eyJhbGciOiJFUzI1NiJ9."
      "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVl"
      "fQ."
      "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
  auto verified = jws_verify(token, *key);
  ASSERT_TRUE(verified.ok()) << verified.error().to_string();
  EXPECT_EQ(to_string(verified->payload).substr(0, 13), "{\"iss\":\"joe\",");
}

// RFC 8037 §A.4: Ed25519 signatures are deterministic.
TEST(JwsVectors, Rfc8037Ed25519SignatureIsReproducedExactly) {
  auto key = PrivateKey::from_jwk(must_parse(R"({"kty":"OKP","crv":"Ed25519",
      "d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
      "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})"));
  ASSERT_TRUE(key.ok());
  auto token = jws_sign(*key, JwsAlg::EdDSA, as_bytes("Example of Ed25519 signing"));
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(
      *token,
      "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
      "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg");
  EXPECT_TRUE(jws_verify(*token, key->public_key()).ok());
}

// ---- JWS behaviour ----

TEST(Jws, EveryAlgorithmRoundTripsWithItsKey) {
  struct Case {
    JwsAlg alg;
    Result<PrivateKey> key;
  } cases[] = {
      {JwsAlg::ES256, PrivateKey::generate_ec(Curve::p256)},
      {JwsAlg::ES384, PrivateKey::generate_ec(Curve::p384)},
      {JwsAlg::ES512, PrivateKey::generate_ec(Curve::p521)},
      {JwsAlg::EdDSA, PrivateKey::generate_ed25519()},
      {JwsAlg::RS256, PrivateKey::generate_rsa(2048)},
      {JwsAlg::PS384, PrivateKey::generate_rsa(2048)},
  };
  for (auto& c : cases) {
    ASSERT_TRUE(c.key.ok());
    auto token = jws_sign(*c.key, c.alg, as_bytes("{\"sub\":\"acon\"}"), {{"typ", "JWT"}});
    ASSERT_TRUE(token.ok()) << jws_alg_name(c.alg);
    auto v = jws_verify(*token, c.key->public_key());
    ASSERT_TRUE(v.ok()) << jws_alg_name(c.alg) << ": " << v.error().to_string();
    EXPECT_EQ(v->header["typ"], "JWT");
    EXPECT_EQ(v->header["alg"], jws_alg_name(c.alg));
  }
}

TEST(Jws, AlgorithmMustFitTheKeyAndTheAllowList) {
  auto p256 = PrivateKey::generate_ec(Curve::p256);
  auto p384 = PrivateKey::generate_ec(Curve::p384);
  ASSERT_TRUE(p256.ok() && p384.ok());
  EXPECT_EQ(jws_sign(*p256, JwsAlg::ES384, Bytes{1}).error().code, Errc::invalid_argument);
  auto token = jws_sign(*p256, JwsAlg::ES256, Bytes{1});
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(jws_verify(*token, p384->public_key()).error().code, Errc::verify_failed);
  const JwsAlg only_eddsa[] = {JwsAlg::EdDSA};
  EXPECT_EQ(jws_verify(*token, p256->public_key(), only_eddsa).error().code, Errc::verify_failed);
  const JwsAlg es256[] = {JwsAlg::ES256};
  EXPECT_TRUE(jws_verify(*token, p256->public_key(), es256).ok());
}

TEST(Jws, NoneCritAndMalformedTokensAreRefused) {
  auto key = PrivateKey::generate_ec(Curve::p256);
  ASSERT_TRUE(key.ok());
  std::string payload = b64url(as_bytes("{}"));
  // alg "none": the classic downgrade.
  std::string none = b64url(as_bytes(R"({"alg":"none"})")) + "." + payload + ".";
  EXPECT_EQ(jws_verify(none, key->public_key()).error().code, Errc::unsupported);
  // An HMAC alg with a public key as secret: the other classic confusion.
  std::string hs = b64url(as_bytes(R"({"alg":"HS256"})")) + "." + payload + ".AAAA";
  EXPECT_EQ(jws_verify(hs, key->public_key()).error().code, Errc::unsupported);
  auto crit = jws_sign(*key, JwsAlg::ES256, Bytes{1}, {{"crit", {"exp"}}, {"exp", 1}});
  ASSERT_TRUE(crit.ok());
  EXPECT_EQ(jws_verify(*crit, key->public_key()).error().code, Errc::unsupported);

  auto token = jws_sign(*key, JwsAlg::ES256, as_bytes("hello"));
  ASSERT_TRUE(token.ok());
  for (std::string bad : {std::string(""), std::string("a.b"), std::string("a.b.c.d"),
                          "!!!" + token->substr(token->find('.')), *token + "=",
                          token->substr(0, token->size() - 2)}) {
    auto r = jws_verify(bad, key->public_key());
    EXPECT_FALSE(r.ok()) << bad;
  }
  // A header that is JSON but not an object, and one that is not JSON.
  EXPECT_EQ(jws_parse(b64url(as_bytes("[1]")) + "..").error().code, Errc::parse);
  auto not_json = jws_parse(b64url(as_bytes("{\"alg\":")) + "..");
  ASSERT_FALSE(not_json.ok());
  EXPECT_NE(not_json.error().message.find("jws.header"), std::string::npos);
}

// ---- JWE published vectors ----

// RFC 7518 Appendix C: ECDH-ES key agreement and Concat KDF.
TEST(JweVectors, Rfc7518AppendixCConcatKdf) {
  auto alice = PrivateKey::from_jwk(must_parse(R"({"kty":"EC","crv":"P-256",
      "x":"gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0",
      "y":"SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps",
      "d":"0_NxaRPUMQoAJt50Gz8YiTr8gRTwyEaCumd-MToTmIo"})"));
  auto bob = PublicKey::from_jwk(must_parse(R"({"kty":"EC","crv":"P-256",
      "x":"weNJy2HscCSM6AEDTDg04biOvhFhyyWvOHQfeF_PxMQ",
      "y":"e8lnCO-AlStT-NJVX-crhB7QRYhiix03illJOVAOyck"})"));
  ASSERT_TRUE(alice.ok() && bob.ok());
  auto z = ecdh(*alice, *bob);
  ASSERT_TRUE(z.ok());
  EXPECT_EQ(hex_encode(view(*z)),
            "9e56d91d817135d372834283bf84269cfb316ea3da806a48f6daa7798cfe90c4");
  SecretBytes key = concat_kdf(view(*z), "A128GCM", as_bytes("Alice"), as_bytes("Bob"), 128);
  EXPECT_EQ(b64url(view(key)), "VqqN6vgjbSBcIijNcacQGg");
}

class Rfc7520Ecdh : public ::testing::TestWithParam<const char*> {};

// RFC 7520 §5.4: ECDH-ES+A128KW with A128GCM on P-384, in all three serialisations.
TEST_P(Rfc7520Ecdh, DecryptsThePublishedMessage) {
  Json v = load_vector("rfc7520_5_4_ecdh_es_a128kw.json");
  auto key = PrivateKey::from_jwk(v["key"]);
  ASSERT_TRUE(key.ok());
  std::string form = GetParam();
  auto pt = form == "compact" ? jwe_decrypt(v["compact"].get<std::string>(), *key)
                              : jwe_decrypt_json(v[form], *key);
  ASSERT_TRUE(pt.ok()) << pt.error().to_string();
  EXPECT_EQ(secret_text(*pt), v["plaintext"].get<std::string>());
}

INSTANTIATE_TEST_SUITE_P(Serialisations, Rfc7520Ecdh,
                         ::testing::Values("compact", "json", "json_flat"));

TEST(JweVectors, Rfc7520WrongKeyOrAlteredPartsFail) {
  Json v = load_vector("rfc7520_5_4_ecdh_es_a128kw.json");
  auto key = PrivateKey::from_jwk(v["key"]);
  auto other = PrivateKey::generate_ec(Curve::p384);
  ASSERT_TRUE(key.ok() && other.ok());
  EXPECT_EQ(jwe_decrypt_json(v["json_flat"], *other).error().code, Errc::verify_failed);
  for (const char* member : {"ciphertext", "tag", "encrypted_key", "iv"}) {
    Json bad = v["json_flat"];
    std::string s = bad[member];
    s[0] = s[0] == 'A' ? 'B' : 'A';
    bad[member] = s;
    auto r = jwe_decrypt_json(bad, *key);
    ASSERT_FALSE(r.ok()) << member;
    EXPECT_EQ(r.error().code, Errc::verify_failed) << member << ": " << r.error().message;
  }
}

// ---- JWE behaviour ----

struct JweCase {
  JweAlg alg;
  int key;  // 0 P-256, 1 P-384, 2 P-521, 3 RSA
};

class JweRoundTrip : public ::testing::TestWithParam<JweCase> {};

// 0 P-256, 1 P-384, 2 P-521, 3 RSA-2048.
Result<PrivateKey> jwe_key(int which) {
  return test::make_test_key(static_cast<test::TestKey>(which));
}

TEST_P(JweRoundTrip, EncryptsAndDecryptsInBothSerialisations) {
  auto key = jwe_key(GetParam().key);
  ASSERT_TRUE(key.ok());
  for (JweEnc enc : {JweEnc::A128GCM, JweEnc::A256GCM}) {
    Bytes secret = to_bytes("the resource: {\"password\":\"s3cr3t\"}");
    auto flat = jwe_encrypt(key->public_key(), GetParam().alg, enc, secret);
    ASSERT_TRUE(flat.ok()) << flat.error().to_string();
    auto pt = jwe_decrypt_json(*flat, *key);
    ASSERT_TRUE(pt.ok()) << pt.error().to_string();
    EXPECT_EQ(Bytes(pt->begin(), pt->end()), secret);
    auto compact = jwe_encrypt_compact(key->public_key(), GetParam().alg, enc, secret);
    ASSERT_TRUE(compact.ok());
    auto pt2 = jwe_decrypt(*compact, *key);
    ASSERT_TRUE(pt2.ok());
    EXPECT_EQ(Bytes(pt2->begin(), pt2->end()), secret);
    // Empty plaintext is legal.
    auto empty = jwe_encrypt(key->public_key(), GetParam().alg, enc, {});
    ASSERT_TRUE(empty.ok());
    auto pt3 = jwe_decrypt_json(*empty, *key);
    ASSERT_TRUE(pt3.ok());
    EXPECT_TRUE(pt3->empty());
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllAlgs, JweRoundTrip,
    ::testing::Values(JweCase{JweAlg::ECDH_ES_A256KW, 0}, JweCase{JweAlg::ECDH_ES_A256KW, 2},
                      JweCase{JweAlg::ECDH_ES_A128KW, 1}, JweCase{JweAlg::ECDH_ES_A192KW, 0},
                      JweCase{JweAlg::RSA_OAEP_256, 3}, JweCase{JweAlg::RSA1_5, 3}));

// CoCo KBS JWE response (trustee @ 78962cd4 kbs/src/jwe/mod.rs; guest-components @ 8246e5e0
// kbs_protocol keypair.rs, kbs-types generate_aad): the CoCo client recomputes the AAD by
// re-serialising the header with serde_json, so the protected header must be compact JSON with
// sorted keys.
TEST(Jwe, ProtectedHeaderIsCompactSortedJsonAsKbsEmitsIt) {
  auto key = PrivateKey::generate_ec(Curve::p256);
  ASSERT_TRUE(key.ok());
  auto jwe = jwe_encrypt(key->public_key(), JweAlg::ECDH_ES_A256KW, JweEnc::A256GCM, Bytes{1});
  ASSERT_TRUE(jwe.ok());
  auto header_bytes = b64url_decode((*jwe)["protected"].get<std::string>());
  ASSERT_TRUE(header_bytes.ok());
  std::string header = to_string(*header_bytes);
  Json parsed = must_parse(header);
  const Json& epk = parsed["epk"];
  std::string expected =
      R"({"alg":"ECDH-ES+A256KW","enc":"A256GCM","epk":{"crv":"P-256","kty":"EC","x":")" +
      epk["x"].get<std::string>() + R"(","y":")" + epk["y"].get<std::string>() + R"("}})";
  EXPECT_EQ(header, expected);
  // Exactly the five members KBS's Response has, and the 40-byte wrapped A256GCM key.
  EXPECT_EQ(jwe->size(), 5u);
  EXPECT_EQ(b64url_decode((*jwe)["encrypted_key"].get<std::string>())->size(), 40u);
  EXPECT_EQ(b64url_decode((*jwe)["iv"].get<std::string>())->size(), 12u);
  EXPECT_EQ(b64url_decode((*jwe)["tag"].get<std::string>())->size(), 16u);
  // kbs-types' own test vector for the serialisation of a two-member header.
  EXPECT_EQ(b64url(as_bytes(dump_compact(Json{{"enc", "fakeenc"}, {"alg", "fakealg"}}))),
            "eyJhbGciOiJmYWtlYWxnIiwiZW5jIjoiZmFrZWVuYyJ9");
}

// An invalid-curve attack: an epk whose point is not on the recipient's curve is refused, as
// the epk, before any ECDH with the recipient's key.
TEST(Jwe, AnEpkOffTheCurveIsRefused) {
  auto key = PrivateKey::generate_ec(Curve::p256);
  ASSERT_TRUE(key.ok());
  auto jwe = jwe_encrypt(key->public_key(), JweAlg::ECDH_ES_A256KW, JweEnc::A256GCM, Bytes{1});
  ASSERT_TRUE(jwe.ok());
  Json header = must_parse(to_string(*b64url_decode((*jwe)["protected"].get<std::string>())));
  Bytes y = *b64url_decode(header["epk"]["y"].get<std::string>());
  y.back() ^= 1;
  header["epk"]["y"] = b64url(y);
  Json bad = *jwe;
  bad["protected"] = b64url(as_bytes(dump_compact(header)));
  auto r = jwe_decrypt_json(bad, *key);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("jwe.header.epk"), std::string::npos) << r.error().message;
  // The same thread decrypts the untouched JWE afterwards.
  auto good = jwe_decrypt_json(*jwe, *key);
  ASSERT_TRUE(good.ok()) << good.error().message;
  EXPECT_EQ(Bytes(good->begin(), good->end()), Bytes{1});
}

TEST(Jwe, KeyTypeMismatchesAreErrors) {
  auto ec = PrivateKey::generate_ec(Curve::p256);
  auto rsa = PrivateKey::generate_rsa(2048);
  ASSERT_TRUE(ec.ok() && rsa.ok());
  EXPECT_EQ(jwe_encrypt(rsa->public_key(), JweAlg::ECDH_ES_A256KW, JweEnc::A256GCM, Bytes{1})
                .error()
                .code,
            Errc::invalid_argument);
  EXPECT_EQ(
      jwe_encrypt(ec->public_key(), JweAlg::RSA_OAEP_256, JweEnc::A256GCM, Bytes{1}).error().code,
      Errc::invalid_argument);
  auto to_ec = jwe_encrypt(ec->public_key(), JweAlg::ECDH_ES_A256KW, JweEnc::A256GCM, Bytes{1});
  ASSERT_TRUE(to_ec.ok());
  EXPECT_FALSE(jwe_decrypt_json(*to_ec, *rsa).ok());
  // An epk on another curve is refused before any ECDH.
  auto p384 = PrivateKey::generate_ec(Curve::p384);
  ASSERT_TRUE(p384.ok());
  EXPECT_FALSE(jwe_decrypt_json(*to_ec, *p384).ok());
}

TEST(Jwe, Rsa15FailuresLookLikeTagFailures) {
  // RFC 7516 §11.5: a bad RSA1_5 padding must not be distinguishable from a bad tag.
  auto key = PrivateKey::generate_rsa(2048);
  ASSERT_TRUE(key.ok());
  auto jwe = jwe_encrypt(key->public_key(), JweAlg::RSA1_5, JweEnc::A256GCM, to_bytes("secret"));
  ASSERT_TRUE(jwe.ok());
  Json bad_key = *jwe;
  auto ek = *b64url_decode((*jwe)["encrypted_key"].get<std::string>());
  ek[5] ^= 0xff;
  bad_key["encrypted_key"] = b64url(ek);
  Json bad_tag = *jwe;
  auto tag = *b64url_decode((*jwe)["tag"].get<std::string>());
  tag[0] ^= 1;
  bad_tag["tag"] = b64url(tag);
  auto r1 = jwe_decrypt_json(bad_key, *key);
  auto r2 = jwe_decrypt_json(bad_tag, *key);
  ASSERT_FALSE(r1.ok());
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r1.error().code, r2.error().code);
  EXPECT_EQ(r1.error().message, r2.error().message);
}

TEST(Jwe, MalformedInputsGiveErrorsNotCrashes) {
  auto key = PrivateKey::generate_ec(Curve::p256);
  ASSERT_TRUE(key.ok());
  auto good = jwe_encrypt(key->public_key(), JweAlg::ECDH_ES_A256KW, JweEnc::A256GCM, Bytes{1, 2});
  ASSERT_TRUE(good.ok());
  std::string compact_good =
      *jwe_encrypt_compact(key->public_key(), JweAlg::ECDH_ES_A256KW, JweEnc::A256GCM, Bytes{1, 2});
  // Truncation of the compact form at every offset.
  for (size_t n = 0; n < compact_good.size(); ++n) {
    EXPECT_FALSE(jwe_decrypt(std::string_view(compact_good).substr(0, n), *key).ok()) << n;
  }
  std::vector<std::pair<std::string, Json>> mutations = {
      {"protected", 5},
      {"protected", "!!"},
      {"protected", b64url(as_bytes("[]"))},
      {"protected", b64url(as_bytes(R"({"alg":"dir","enc":"A256GCM"})"))},
      {"protected", b64url(as_bytes(R"({"alg":"ECDH-ES+A256KW","enc":"A128CBC-HS256"})"))},
      {"protected", b64url(as_bytes(R"({"alg":"ECDH-ES+A256KW","enc":"A256GCM"})"))},
      {"protected", b64url(as_bytes(R"({"alg":"ECDH-ES+A256KW","enc":"A256GCM","zip":"DEF"})"))},
      {"protected",
       b64url(as_bytes(R"({"alg":"ECDH-ES+A256KW","enc":"A256GCM","epk":{"kty":"EC"}})"))},
      {"iv", "AAAA"},
      {"tag", ""},
      {"encrypted_key", "AAAA"},
      {"encrypted_key", std::string(100000, 'A')},
      {"ciphertext", "*"},
      {"unprotected", Json{{"alg", "RSA1_5"}}},
      {"recipients", Json::array()},
  };
  for (const auto& [member, value] : mutations) {
    Json bad = *good;
    bad[member] = value;
    auto r = jwe_decrypt_json(bad, *key);
    EXPECT_FALSE(r.ok()) << member << " = " << value.dump();
  }
  for (const char* member : {"protected", "iv", "ciphertext", "tag"}) {
    Json bad = *good;
    bad.erase(member);
    auto r = jwe_decrypt_json(bad, *key);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find(member), std::string::npos) << r.error().message;
  }
  EXPECT_FALSE(jwe_decrypt("{", *key).ok());
  EXPECT_FALSE(jwe_decrypt("{}", *key).ok());
  EXPECT_FALSE(jwe_decrypt("....", *key).ok());
}

TEST(Jwe, HeaderMembersMaySplitAcrossHeadersButNotRepeat) {
  auto key = PrivateKey::generate_rsa(2048);
  ASSERT_TRUE(key.ok());
  auto good = jwe_encrypt(key->public_key(), JweAlg::RSA_OAEP_256, JweEnc::A256GCM, Bytes{7});
  ASSERT_TRUE(good.ok());
  Json repeated = *good;
  repeated["unprotected"] = {{"enc", "A256GCM"}};
  auto r = jwe_decrypt_json(repeated, *key);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("repeated"), std::string::npos);
  Json extra = *good;
  extra["unprotected"] = {{"kid", "k1"}};
  EXPECT_TRUE(jwe_decrypt_json(extra, *key).ok());
}

}  // namespace
}  // namespace acon::jose
