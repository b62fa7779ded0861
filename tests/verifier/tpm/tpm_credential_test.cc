// EK certificates, the default EK template and TPM2_MakeCredential without a TPM: the stored
// swtpm EK (tests/data/tpm, made by make_swtpm_ek.sh), test PKIs, and a software RSA EK whose
// private half opens what make_credential wrapped. The TPM itself activates these credentials in
// tests/guest/vtpm/vtpm_enrol_test.cc.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "acon/common/cipher.h"
#include "acon/common/hash.h"
#include "acon/tpm/credential.h"
#include "test_util.h"

namespace acon::tpm {
namespace {

using test::read_data;
using test::read_data_bytes;

const Time kAfterIssue = test::at("2030-01-01T00:00:00Z");

// TPM2_PolicySecret's policy update (Part 3, TPM2_PolicySecret): H(H(0…0 ‖ TPM_CC_PolicySecret ‖
// authName) ‖ ref).
TEST(EkTemplate, AuthPolicyIsPolicySecretOfTheEndorsementHierarchy) {
  Bytes step(32, 0);
  append_u32be(step, 0x00000151);  // TPM_CC_PolicySecret
  append_u32be(step, 0x4000000B);  // TPM_RH_ENDORSEMENT: a permanent handle's Name is the handle
  Bytes policy = sha256(sha256(step));  // policyRef empty
  const Bytes t = ek_template(EkType::rsa2048);
  ASSERT_GE(t.size(), 44u);
  EXPECT_EQ(Bytes(t.begin() + 10, t.begin() + 12), (Bytes{0x00, 0x20}));
  EXPECT_EQ(Bytes(t.begin() + 12, t.begin() + 44), policy);
  // TPMA_OBJECT 0x000300B2 and 256 zero bytes of unique (EK Credential Profile template L-1).
  EXPECT_EQ(Bytes(t.begin() + 6, t.begin() + 10), (Bytes{0x00, 0x03, 0x00, 0xB2}));
  EXPECT_EQ(t.size(), 2u + 58u + 256u);
  EXPECT_TRUE(std::all_of(t.end() - 256, t.end(), [](uint8_t b) { return b == 0; }));
}

TEST(EkPublic, StoredSwtpmEkIsTheDefaultTemplate) {
  auto ek = parse_ek_public(read_data_bytes("tpm/ek_rsa.tpm2b_public"));
  ASSERT_TRUE(ek.ok()) << ek.error().to_string();
  EXPECT_EQ(ek->type, 0x0001);
  EXPECT_EQ(ek->symmetric.algorithm, 0x0006);
  EXPECT_EQ(ek->symmetric.key_bits, 128);
  EXPECT_EQ(ek->symmetric.mode, 0x0043);
  auto cert = parse_ek_certificate(read_data_bytes("tpm/ek_rsa_cert.der"));
  ASSERT_TRUE(cert.ok()) << cert.error().to_string();
  EXPECT_EQ(*cert->public_key(), ek->key);
}

TEST(EkPublic, StoredEccEkIsTemplateL2) {
  const Bytes stored = read_data_bytes("tpm/ek_ecc.tpm2b_public");
  auto ek = parse_ek_public(stored);
  ASSERT_TRUE(ek.ok()) << ek.error().to_string();
  EXPECT_EQ(ek->type, 0x0023);
  EXPECT_EQ(ek->key.curve(), Curve::p256);
  const Bytes t = ek_template(EkType::ecc_nist_p256);
  EXPECT_EQ(t.size(), stored.size());
  EXPECT_TRUE(std::equal(t.begin(), t.begin() + 58, stored.begin()));
  // curve_id (P-256 → P-384) and kdf: each named.
  for (const auto& [offset, field] :
       std::vector<std::pair<size_t, std::string>>{{53, "curve_id"}, {55, "kdf"}}) {
    Bytes changed = stored;
    changed[offset] ^= 0x01;
    auto bad = parse_ek_public(changed);
    ASSERT_FALSE(bad.ok()) << field;
    if (bad.error().code == Errc::verify_failed) {
      EXPECT_NE(bad.error().message.find(field), std::string::npos) << bad.error().to_string();
    }
  }
}

TEST(EkPublic, EveryTemplateFieldIsChecked) {
  const Bytes stored = read_data_bytes("tpm/ek_rsa.tpm2b_public");
  const struct {
    size_t offset;
    const char* field;
  } cases[] = {
      {5, "name_alg"},   {9, "object_attributes"}, {20, "auth_policy"}, {45, "symmetric"},
      {49, "symmetric"}, {51, "scheme"},           {53, "key_bits"},    {57, "exponent"},
  };
  for (const auto& c : cases) {
    Bytes changed = stored;
    changed[c.offset] ^= 0x01;
    auto ek = parse_ek_public(changed);
    ASSERT_FALSE(ek.ok()) << c.field;
    // Some changes already fail to parse (an unknown algorithm); the rest name the field.
    if (ek.error().code == Errc::verify_failed) {
      EXPECT_NE(ek.error().message.find(c.field), std::string::npos) << ek.error().to_string();
    }
  }
  // A signing key with the right key is not an EK.
  auto ak = parse_ek_public(read_data_bytes("tpm/rsa_ak.tpm2b_public"));
  ASSERT_FALSE(ak.ok());
  EXPECT_EQ(ak.error().code, Errc::verify_failed);
  // Malformed input is a parse error naming an offset.
  auto cut = parse_ek_public(ByteView(stored).first(100));
  ASSERT_FALSE(cut.ok());
  EXPECT_EQ(cut.error().code, Errc::parse);
  EXPECT_NE(cut.error().message.find("offset"), std::string::npos);
}

TEST(EkCertificate, StoredSwtpmCertificateVerifiesToItsRoot) {
  const Bytes der = read_data_bytes("tpm/ek_rsa_cert.der");
  auto cert = parse_ek_certificate(der);
  ASSERT_TRUE(cert.ok()) << cert.error().to_string();
  auto roots = Certificate::all_from_pem(read_data("tpm/ek_root_ca.pem"));
  auto issuer = Certificate::all_from_pem(read_data("tpm/ek_issuer_ca.pem"));
  ASSERT_TRUE(roots.ok() && issuer.ok());
  auto key = verify_ek_certificate(*cert, *issuer, *roots, kAfterIssue);
  ASSERT_TRUE(key.ok()) << key.error().to_string();
  EXPECT_EQ(*key, *cert->public_key());

  // Without the issuing CA, with the issuing CA as the only root, or before issue: refused.
  EXPECT_FALSE(verify_ek_certificate(*cert, {}, *roots, kAfterIssue).ok());
  EXPECT_FALSE(verify_ek_certificate(*cert, {}, *issuer, kAfterIssue).ok());
  auto early = verify_ek_certificate(*cert, *issuer, *roots, test::at("2020-01-01T00:00:00Z"));
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.error().code, Errc::expired);
  auto other = Certificate::all_from_pem(read_data("tpm/other_ca.pem"));
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(verify_ek_certificate(*cert, *issuer, *other, kAfterIssue).error().code,
            Errc::verify_failed);
}

TEST(EkCertificate, NvPaddingAndMalformedHeaders) {
  const Bytes der = read_data_bytes("tpm/ek_rsa_cert.der");
  for (uint8_t fill : {uint8_t{0x00}, uint8_t{0xFF}}) {
    Bytes padded = der;
    padded.insert(padded.end(), 100, fill);
    auto cert = parse_ek_certificate(padded);
    ASSERT_TRUE(cert.ok()) << cert.error().to_string();
    EXPECT_EQ(cert->der(), der);
  }
  Bytes mixed = der;
  mixed.push_back(0xFF);
  mixed.push_back(0x00);
  auto bad_padding = parse_ek_certificate(mixed);
  ASSERT_FALSE(bad_padding.ok());
  EXPECT_NE(bad_padding.error().message.find("ek_certificate.padding at offset " +
                                             std::to_string(der.size())),
            std::string::npos)
      << bad_padding.error().to_string();

  auto truncated = parse_ek_certificate(ByteView(der).first(der.size() - 1));
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.error().code, Errc::parse);
  EXPECT_NE(truncated.error().message.find("ek_certificate.contents at offset 4"),
            std::string::npos)
      << truncated.error().to_string();
  const Bytes cases[] = {
      {},          {0x30}, {0x31, 0x00}, {0x30, 0x80}, {0x30, 0x84, 1, 0, 0, 0}, {0x30, 0x82, 0x01},
      {0x30, 0x00}};
  for (const Bytes& c : cases) {
    auto r = parse_ek_certificate(c);
    ASSERT_FALSE(r.ok()) << hex_encode(c);
    EXPECT_EQ(r.error().code, Errc::parse) << hex_encode(c);
    EXPECT_NE(r.error().message.find("ek_certificate"), std::string::npos);
  }
}

// A test PKI: root → EK certificate with the given extensions.
struct TestEkPki {
  PrivateKey root_key = *PrivateKey::generate_ec(Curve::p256);
  PrivateKey ek_key = *PrivateKey::generate_rsa(2048);
  Certificate root = make_root(root_key);

  static Certificate make_root(const PrivateKey& root_key) {
    CertificateRequest req;
    req.subject = {{"CN", "acon test TPM manufacturer"}};
    req.serial = {0x01};
    req.not_before = test::at("2020-01-01T00:00:00Z");
    req.not_after = test::at("2040-01-01T00:00:00Z");
    req.is_ca = true;
    req.key_usage = kKeyUsageKeyCertSign | kKeyUsageCrlSign;
    return *issue_certificate(req, root_key.public_key(), root_key, nullptr);
  }
  Certificate ek_cert(uint32_t key_usage, std::vector<RawExtension> extensions) const {
    CertificateRequest req;
    req.subject = {{"CN", "acon test EK"}};
    req.serial = {0x02};
    req.not_before = test::at("2020-01-01T00:00:00Z");
    req.not_after = test::at("2040-01-01T00:00:00Z");
    req.key_usage = key_usage;
    req.extensions = std::move(extensions);
    return *issue_certificate(req, ek_key.public_key(), root_key, &root);
  }
};

// DER of ExtKeyUsageSyntax holding one OID given as its DER contents.
RawExtension eku(Bytes oid_contents) {
  Bytes oid{0x06, static_cast<uint8_t>(oid_contents.size())};
  append(oid, oid_contents);
  Bytes seq{0x30, static_cast<uint8_t>(oid.size())};
  append(seq, oid);
  return {"2.5.29.37", seq, false};
}
const Bytes kTcgKpEkCertificate = {0x67, 0x81, 0x05, 0x08, 0x01};  // 2.23.133.8.1
const Bytes kServerAuth = {0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01};

TEST(EkCertificate, KeyUsageAndPurpose) {
  TestEkPki pki;
  const std::vector<Certificate> roots{pki.root};
  const Time at = test::at("2030-01-01T00:00:00Z");
  auto ok = verify_ek_certificate(pki.ek_cert(kKeyUsageKeyEncipherment, {eku(kTcgKpEkCertificate)}),
                                  {}, roots, at);
  ASSERT_TRUE(ok.ok()) << ok.error().to_string();
  EXPECT_EQ(*ok, pki.ek_key.public_key());
  // Neither extension: nothing restricts the key.
  EXPECT_TRUE(verify_ek_certificate(pki.ek_cert(0, {}), {}, roots, at).ok());
  auto tls = verify_ek_certificate(pki.ek_cert(kKeyUsageKeyEncipherment, {eku(kServerAuth)}), {},
                                   roots, at);
  ASSERT_FALSE(tls.ok());
  EXPECT_EQ(tls.error().code, Errc::verify_failed);
  EXPECT_NE(tls.error().message.find("tcg-kp-EKCertificate"), std::string::npos);
  auto signing = verify_ek_certificate(pki.ek_cert(kKeyUsageDigitalSignature, {}), {}, roots, at);
  ASSERT_FALSE(signing.ok());
  EXPECT_NE(signing.error().message.find("keyEncipherment"), std::string::npos);
}

TEST(Kdfa, LengthsAndArguments) {
  const Bytes key(32, 0x11);
  auto k128 = kdfa(HashAlg::sha256, key, "STORAGE", Bytes{1, 2}, {}, 128);
  auto k520 = kdfa(HashAlg::sha256, key, "STORAGE", Bytes{1, 2}, {}, 520);
  ASSERT_TRUE(k128.ok() && k520.ok());
  EXPECT_EQ(k128->size(), 16u);
  EXPECT_EQ(k520->size(), 65u);
  // The length is part of every block's input: a shorter key is not a prefix of a longer one.
  EXPECT_NE(Bytes(k128->begin(), k128->end()), Bytes(k520->begin(), k520->begin() + 16));
  // First block by its definition: HMAC(key, [1] ‖ "STORAGE" ‖ 0 ‖ U ‖ V ‖ [128]).
  Bytes input{0, 0, 0, 1, 'S', 'T', 'O', 'R', 'A', 'G', 'E', 0, 1, 2, 0, 0, 0, 128};
  Bytes first = *hmac(HashAlg::sha256, key, input);
  EXPECT_EQ(Bytes(k128->begin(), k128->end()), Bytes(first.begin(), first.begin() + 16));
  EXPECT_EQ(kdfa(HashAlg::sha256, key, "X", {}, {}, 0).error().code, Errc::invalid_argument);
  EXPECT_EQ(kdfa(HashAlg::sha256, key, "X", {}, {}, 7).error().code, Errc::invalid_argument);
}

// A software RSA EK: its TpmPublic as parse_ek_public would return it, and the private half.
struct SoftwareEk {
  PrivateKey key = *PrivateKey::generate_rsa(2048);
  TpmPublic ek{key.public_key(), 0x0001, 0x000B, 0x000300B2, {}, {0x0006, 128, 0x0043}};
};

Bytes oaep_decrypt_with_label(const PrivateKey& key, ByteView ciphertext, ByteView label) {
  ossl::PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  EXPECT_TRUE(ctx && EVP_PKEY_decrypt_init(ctx.get()) == 1);
  EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING);
  EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), EVP_sha256());
  EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), EVP_sha256());
  void* copy = OPENSSL_memdup(label.data(), label.size());
  EVP_PKEY_CTX_set0_rsa_oaep_label(ctx.get(), copy, static_cast<int>(label.size()));
  Bytes out(512);
  size_t len = out.size();
  if (EVP_PKEY_decrypt(ctx.get(), out.data(), &len, ciphertext.data(), ciphertext.size()) != 1)
    return {};
  out.resize(len);
  return out;
}

Bytes aes128_cfb_decrypt(ByteView key, ByteView ciphertext) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  const uint8_t iv[16] = {};
  Bytes out(ciphertext.size());
  int len = 0;
  EVP_DecryptInit_ex(ctx, EVP_aes_128_cfb128(), nullptr, key.data(), iv);
  EVP_DecryptUpdate(ctx, out.data(), &len, ciphertext.data(), static_cast<int>(ciphertext.size()));
  EVP_CIPHER_CTX_free(ctx);
  return out;
}

TEST(MakeCredential, SoftwareEkOpensTheCredential) {
  SoftwareEk sw;
  const Bytes name = [] {
    Bytes n{0x00, 0x0B};
    append(n, sha256(as_bytes(std::string_view("some AK public area"))));
    return n;
  }();
  const Bytes seed(32, 0x42);
  const Bytes secret = to_bytes("the verifier's challenge");
  auto c = make_credential_with_seed(sw.ek, name, secret, seed);
  ASSERT_TRUE(c.ok()) << c.error().to_string();

  // TPM2B_ENCRYPTED_SECRET: the seed under RSA-OAEP-SHA256 with label "IDENTITY\0".
  ASSERT_EQ(c->encrypted_secret.size(), 2u + 256u);
  EXPECT_EQ(c->encrypted_secret[0], 0x01);
  EXPECT_EQ(c->encrypted_secret[1], 0x00);
  const ByteView encrypted = ByteView(c->encrypted_secret).subspan(2);
  const uint8_t label[] = {'I', 'D', 'E', 'N', 'T', 'I', 'T', 'Y', 0};
  EXPECT_EQ(oaep_decrypt_with_label(sw.key, encrypted, label), seed);
  EXPECT_TRUE(
      oaep_decrypt_with_label(sw.key, encrypted, as_bytes(std::string_view("IDENTITY"))).empty());

  // TPM2B_ID_OBJECT: size ‖ TPM2B integrityHMAC ‖ encIdentity.
  const Bytes& id = c->id_object;
  ASSERT_EQ(id.size(), 2u + 2u + 32u + 2u + secret.size());
  EXPECT_EQ(size_t{id[0]} << 8 | id[1], id.size() - 2);
  EXPECT_EQ(size_t{id[2]} << 8 | id[3], 32u);
  const Bytes integrity(id.begin() + 4, id.begin() + 36);
  const Bytes enc_identity(id.begin() + 36, id.end());
  auto hmac_key = kdfa(HashAlg::sha256, seed, "INTEGRITY", {}, {}, 256);
  Bytes mac_input = enc_identity;
  append(mac_input, name);
  EXPECT_EQ(*hmac(HashAlg::sha256, view(*hmac_key), mac_input), integrity);
  auto sym_key = kdfa(HashAlg::sha256, seed, "STORAGE", name, {}, 128);
  const Bytes plain = aes128_cfb_decrypt(view(*sym_key), enc_identity);
  Bytes expected{0x00, static_cast<uint8_t>(secret.size())};
  append(expected, secret);
  EXPECT_EQ(plain, expected);

  // A random seed each time otherwise.
  auto r1 = make_credential(sw.ek, name, secret);
  auto r2 = make_credential(sw.ek, name, secret);
  ASSERT_TRUE(r1.ok() && r2.ok());
  EXPECT_NE(r1->id_object, r2->id_object);
}

TEST(Kdfe, ByItsDefinition) {
  const Bytes z(32, 0x22), u(32, 0x33), v(32, 0x44);
  auto seed = kdfe(HashAlg::sha256, z, "IDENTITY", u, v, 256);
  ASSERT_TRUE(seed.ok());
  Bytes input{0, 0, 0, 1};
  append(input, z);
  append(input, as_bytes(std::string_view("IDENTITY")));
  input.push_back(0);
  append(input, u);
  append(input, v);
  EXPECT_EQ(Bytes(seed->begin(), seed->end()), sha256(input));
  auto longer = kdfe(HashAlg::sha256, z, "IDENTITY", u, v, 384);
  ASSERT_TRUE(longer.ok());
  // Unlike KDFa the length is not hashed: the first block is the same.
  EXPECT_EQ(Bytes(longer->begin(), longer->begin() + 32), Bytes(seed->begin(), seed->end()));
  EXPECT_EQ(longer->size(), 48u);
  EXPECT_EQ(kdfe(HashAlg::sha256, z, "X", {}, {}, 12).error().code, Errc::invalid_argument);
}

// An ECC P-256 EK held in software: its holder recovers the seed from the ephemeral point by
// ECDH and KDFe (Part 1 Annex C, ECC secret sharing), and with it checks the HMAC.
TEST(MakeCredential, SoftwareEccEkOpensTheCredential) {
  auto ek_key = PrivateKey::generate_ec(Curve::p256);
  ASSERT_TRUE(ek_key.ok());
  const TpmPublic ek{ek_key->public_key(), 0x0023, 0x000B, 0x000300B2, {}, {0x0006, 128, 0x0043}};
  Bytes name{0x00, 0x0B};
  append(name, Bytes(32, 0x5C));
  const Bytes secret = to_bytes("ecc credential");
  auto c = make_credential(ek, name, secret);
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  // TPM2B_ENCRYPTED_SECRET holding a TPMS_ECC_POINT: size ‖ (32 ‖ x) ‖ (32 ‖ y).
  const Bytes& es = c->encrypted_secret;
  ASSERT_EQ(es.size(), 2u + 2u + 32u + 2u + 32u);
  EXPECT_EQ(size_t{es[0]} << 8 | es[1], es.size() - 2);
  EXPECT_EQ(size_t{es[2]} << 8 | es[3], 32u);
  EXPECT_EQ(size_t{es[36]} << 8 | es[37], 32u);
  Bytes point(es.begin() + 4, es.begin() + 36);
  point.insert(point.end(), es.begin() + 38, es.end());
  auto ephemeral = PublicKey::from_ec_xy(Curve::p256, point);
  ASSERT_TRUE(ephemeral.ok()) << ephemeral.error().to_string();
  auto z = ecdh(*ek_key, *ephemeral);
  ASSERT_TRUE(z.ok());
  const Bytes qs = ek_key->public_key().ec_xy();
  auto seed = kdfe(HashAlg::sha256, view(*z), "IDENTITY", ByteView(point).first(32),
                   ByteView(qs).first(32), 256);
  ASSERT_TRUE(seed.ok());
  const Bytes& id = c->id_object;
  const Bytes integrity(id.begin() + 4, id.begin() + 36);
  Bytes mac_input(id.begin() + 36, id.end());
  append(mac_input, name);
  auto hmac_key = kdfa(HashAlg::sha256, view(*seed), "INTEGRITY", {}, {}, 256);
  EXPECT_EQ(*hmac(HashAlg::sha256, view(*hmac_key), mac_input), integrity);
  auto sym_key = kdfa(HashAlg::sha256, view(*seed), "STORAGE", name, {}, 128);
  Bytes expected{0x00, static_cast<uint8_t>(secret.size())};
  append(expected, secret);
  EXPECT_EQ(aes128_cfb_decrypt(view(*sym_key), Bytes(id.begin() + 36, id.end())), expected);

  // A chosen seed is for RSA EKs only; another curve is refused.
  EXPECT_EQ(make_credential_with_seed(ek, name, secret, Bytes(32, 0)).error().code,
            Errc::unsupported);
  auto p384 = PrivateKey::generate_ec(Curve::p384);
  TpmPublic ek384 = ek;
  ek384.key = p384->public_key();
  EXPECT_EQ(make_credential(ek384, name, secret).error().code, Errc::unsupported);
}

TEST(MakeCredential, RefusesWhatTheTpmWouldNotTake) {
  SoftwareEk sw;
  Bytes name{0x00, 0x0B};
  append(name, Bytes(32, 1));
  EXPECT_TRUE(make_credential(sw.ek, name, Bytes(32, 1)).ok());
  EXPECT_EQ(make_credential(sw.ek, name, {}).error().code, Errc::invalid_argument);
  EXPECT_EQ(make_credential(sw.ek, name, Bytes(33, 1)).error().code, Errc::invalid_argument);
  EXPECT_EQ(make_credential(sw.ek, ByteView(name).first(10), Bytes(4, 1)).error().code,
            Errc::invalid_argument);
  EXPECT_EQ(make_credential(sw.ek, Bytes{0x00}, Bytes(4, 1)).error().code, Errc::invalid_argument);
  Bytes unknown_alg = name;
  unknown_alg[1] = 0x99;
  EXPECT_EQ(make_credential(sw.ek, unknown_alg, Bytes(4, 1)).error().code, Errc::invalid_argument);
  EXPECT_EQ(make_credential_with_seed(sw.ek, name, Bytes(4, 1), Bytes(31, 0)).error().code,
            Errc::invalid_argument);

  TpmPublic signing = sw.ek;
  signing.attributes = 0x00050072;  // restricted signing key
  EXPECT_EQ(make_credential(signing, name, Bytes(4, 1)).error().code, Errc::invalid_argument);
  TpmPublic no_symmetric = sw.ek;
  no_symmetric.symmetric = {};
  EXPECT_EQ(make_credential(no_symmetric, name, Bytes(4, 1)).error().code, Errc::unsupported);
  TpmPublic keyedhash = sw.ek;
  keyedhash.type = 0x0008;
  EXPECT_EQ(make_credential(keyedhash, name, Bytes(4, 1)).error().code, Errc::unsupported);
  TpmPublic rsa_as_ecc = sw.ek;  // an ECC type with an RSA key
  rsa_as_ecc.type = 0x0023;
  EXPECT_FALSE(make_credential(rsa_as_ecc, name, Bytes(4, 1)).ok());
}

}  // namespace
}  // namespace acon::tpm
