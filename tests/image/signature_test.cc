// Signer IDs, Image IDs and manifest signatures: ACON's published vectors, OpenSSL-made
// signatures (tests/data/acon/make.sh) and sign -> verify round trips for every key type.
#include "acon/image/signature.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace acon::image {
namespace {

using test::read_data;
using test::read_data_bytes;

constexpr const char* kDocSignerDigest =
    "7be2e38d33d92874122df802ec3a3f3952bd38906f341f9fe456619447eeacc8272003e6b9434700f7bec7de2a8ade"
    "31";
constexpr const char* kDocManifestDigest =
    "89d3a2a87a796719a49212950a2c8df31402e2a3435446490169166c5044b0ef6f9c6f9fd93ea84dbd0c92ecf57305"
    "82";

Certificate cert_from(const std::string& relative) {
  auto c = Certificate::from_der(read_data_bytes(relative));
  EXPECT_TRUE(c.ok()) << relative << ": " << (c ? "" : c.error().message);
  return *c;
}

PrivateKey key_from(const std::string& relative) {
  std::string pem = read_data(relative);
  // aconcli's set1 key file starts with an "EC PARAMETERS" block; the key is the second block.
  if (auto at = pem.find("-----BEGIN EC PRIVATE KEY-----"); at != std::string::npos)
    pem.erase(0, at);
  auto k = PrivateKey::from_pem(pem);
  EXPECT_TRUE(k.ok()) << relative << ": " << (k ? "" : k.error().message);
  return *k;
}

std::string doc_manifest() { return read_data("acon/doc-example/manifest.canonical.json"); }

TEST(Identity, DocExampleImageId) {
  Certificate cert = cert_from("acon/doc-example/cert.der");
  auto id = image_identity(cert, doc_manifest());
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_EQ(id->hash, HashAlg::sha384);
  EXPECT_EQ(id->signer_digest, kDocSignerDigest);
  EXPECT_EQ(id->manifest_digest, kDocManifestDigest);
  EXPECT_EQ(id->signer_id(), std::string("sha384/") + kDocSignerDigest);
  EXPECT_EQ(id->image_id(), std::string("sha384/") + kDocSignerDigest + "/" + kDocManifestDigest);
  EXPECT_EQ(signer_id(cert).value(), id->signer_id());
  // The PEM form of the same certificate gives the same Signer ID (the DER is hashed).
  auto pem = Certificate::from_pem(read_data("acon/doc-example/cert.pem"));
  ASSERT_TRUE(pem.ok());
  EXPECT_EQ(signer_id(*pem).value(), id->signer_id());
  auto parsed = parse_image_id(id->image_id());
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, *id);
}

TEST(Identity, ExactBytesNotCanonicalForm) {
  Certificate cert = cert_from("acon/doc-example/cert.der");
  auto pretty = image_identity(cert, read_data("acon/doc-example/manifest.pretty.json"));
  ASSERT_TRUE(pretty.ok());
  EXPECT_NE(pretty->manifest_digest, kDocManifestDigest);
  EXPECT_EQ(pretty->manifest_digest,
            hex_encode(sha384(read_data_bytes("acon/doc-example/manifest.pretty.json"))));
}

TEST(Identity, AconcliCertificateDigests) {
  EXPECT_EQ(signer_id(cert_from("acon/aconcli-set1/cert.der")).value(),
            "sha384/fccdc13f89825ca910902e7cf050f280399e106074efd9fb43bd2e8939c605225eb7157e0383f61"
            "883e7454fde2ba1c4");
  EXPECT_EQ(signer_id(cert_from("acon/aconcli-set2/cert.der")).value(),
            "sha384/7ec795c3fe89687d4514a1e4f95b2421012fd0b877eba9d5d5f33a1314fe7e10a5b38b0890d890d"
            "f59b716f55f41e2ff");
  // acond's profile agrees for RSA and ECDSA certificates.
  EXPECT_EQ(signer_id(cert_from("acon/aconcli-set2/cert.der"), CertProfile::acond).value(),
            signer_id(cert_from("acon/aconcli-set2/cert.der")).value());
}

TEST(Identity, ParseImageIdRejectsMalformed) {
  std::string h(96, 'a');
  EXPECT_TRUE(parse_image_id("sha384/" + h + "/" + h).ok());
  EXPECT_FALSE(parse_image_id("sha384/" + h).ok());
  EXPECT_FALSE(parse_image_id("sha384/" + h + "/" + h + "/x").ok());
  EXPECT_FALSE(parse_image_id("sha256/" + h + "/" + h).ok());
  EXPECT_FALSE(parse_image_id("sha384/*/" + h).ok());
  EXPECT_FALSE(parse_image_id("md5/" + h + "/" + h).ok());
}

TEST(Signature, AconcliSet1PayloadVerifiesAndAlteredByteFails) {
  Certificate cert = cert_from("acon/aconcli-set1/cert.der");
  std::string payload = read_data("acon/aconcli-set1/payload.txt");
  Bytes sig = read_data_bytes("acon/aconcli-set1/payload.sig.sha384");
  ASSERT_FALSE(payload.empty());
  EXPECT_TRUE(verify_manifest_signature(payload, sig, cert).ok());
  EXPECT_TRUE(verify_manifest_signature(payload, sig, cert, CertProfile::acond).ok());
  for (size_t i : {size_t{0}, payload.size() / 2, payload.size() - 1}) {
    std::string altered = payload;
    altered[i] ^= 0x01;
    auto st = verify_manifest_signature(altered, sig, cert);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, Errc::verify_failed);
    EXPECT_NE(st.error().message.find("ECDSA P-521 with sha384"), std::string::npos)
        << st.error().message;
  }
  Bytes bad_sig = sig;
  bad_sig[bad_sig.size() - 1] ^= 0x80;
  EXPECT_EQ(verify_manifest_signature(payload, bad_sig, cert).error().code, Errc::verify_failed);
  EXPECT_FALSE(verify_manifest_signature(payload, {}, cert).ok());
}

TEST(Signature, AconcliKeysSignAndVerify) {
  for (const char* set : {"aconcli-set1", "aconcli-set2"}) {
    std::string dir = std::string("acon/") + set;
    Certificate cert = cert_from(dir + "/cert.der");
    PrivateKey key = key_from(dir + "/priv.pem");
    auto sig = sign_manifest(doc_manifest(), key, cert);
    ASSERT_TRUE(sig.ok()) << set << ": " << sig.error().message;
    auto signed_manifest = verify_signed_manifest(doc_manifest(), *sig, cert.der());
    ASSERT_TRUE(signed_manifest.ok()) << signed_manifest.error().message;
    EXPECT_EQ(signed_manifest->identity.signer_id(), signer_id(cert).value());
    EXPECT_EQ(signed_manifest->identity.manifest_digest, kDocManifestDigest);
    EXPECT_EQ(signed_manifest->manifest.raw, doc_manifest());
  }
}

struct CertCase {
  const char* name;
  HashAlg id_hash;
  SigKind kind;
  bool acond_accepts;
};

class EveryKeyType : public ::testing::TestWithParam<CertCase> {};

TEST_P(EveryKeyType, SignVerifyRoundTripAndOpenSslSignature) {
  const CertCase& c = GetParam();
  std::string base = std::string("acon/certs/") + c.name;
  Certificate cert = cert_from(base + ".cert.der");
  PrivateKey key = key_from(base + ".key.pem");

  auto alg = id_hash_for_certificate(cert);
  ASSERT_TRUE(alg.ok()) << alg.error().message;
  EXPECT_EQ(*alg, c.id_hash);
  auto scheme = manifest_signature_scheme(cert);
  ASSERT_TRUE(scheme.ok());
  EXPECT_EQ(scheme->kind, c.kind);

  std::string manifest = doc_manifest();
  auto sig = sign_manifest(manifest, key, cert);
  ASSERT_TRUE(sig.ok()) << sig.error().message;
  EXPECT_TRUE(verify_manifest_signature(manifest, *sig, cert).ok());
  auto id = image_identity(cert, manifest);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->signer_digest, hex_encode(digest(c.id_hash, cert.der()).value()));
  EXPECT_EQ(id->manifest_digest, hex_encode(digest(c.id_hash, as_bytes(manifest)).value()));

  // The signature `openssl dgst -<hash> -sign` (Ed25519: pkeyutl -rawin) made over these bytes.
  Bytes openssl_sig = read_data_bytes(base + ".manifest.sig");
  ASSERT_FALSE(openssl_sig.empty());
  EXPECT_TRUE(verify_manifest_signature(manifest, openssl_sig, cert).ok());

  std::string altered = manifest;
  altered[10] ^= 0x20;
  auto st = verify_manifest_signature(altered, *sig, cert);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::verify_failed);
  EXPECT_NE(st.error().message.find(id->signer_id()), std::string::npos) << st.error().message;

  auto acond = verify_manifest_signature(manifest, openssl_sig, cert, CertProfile::acond);
  EXPECT_EQ(acond.ok(), c.acond_accepts) << (acond ? "" : acond.error().message);
  if (!c.acond_accepts) {
    EXPECT_EQ(acond.error().code, Errc::unsupported);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Certs, EveryKeyType,
    ::testing::Values(CertCase{"p256", HashAlg::sha256, SigKind::ecdsa, true},
                      CertCase{"p384", HashAlg::sha384, SigKind::ecdsa, true},
                      CertCase{"p521", HashAlg::sha512, SigKind::ecdsa, true},
                      CertCase{"rsa3072", HashAlg::sha384, SigKind::rsa_pkcs1, true},
                      // aconcli: Ed25519 signatureAlgorithm -> sha512, pure Ed25519 signature.
                      CertCase{"ed25519", HashAlg::sha512, SigKind::ed25519, false},
                      // aconcli: SHA384-RSAPSS -> sha384; the RSA key signs PKCS#1 v1.5.
                      CertCase{"rsapss", HashAlg::sha384, SigKind::rsa_pkcs1, false},
                      // Ed25519 key under an ecdsa-with-SHA384 CA: acond's hash rule passes,
                      // but acond's OpenSSL Verifier cannot use an Ed25519 key with a digest.
                      CertCase{"ed25519_by_p384", HashAlg::sha384, SigKind::ed25519, false}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(Signature, UnsupportedSignatureAlgorithmsAreInvalidCertificates) {
  for (const char* name : {"sha1_rsa", "sha224_ec"}) {
    Certificate cert = cert_from(std::string("acon/certs/") + name + ".cert.der");
    for (CertProfile profile : {CertProfile::acond, CertProfile::aconcli}) {
      auto alg = id_hash_for_certificate(cert, profile);
      ASSERT_FALSE(alg.ok()) << name;
      EXPECT_EQ(alg.error().code, Errc::unsupported);
      EXPECT_EQ(alg.error().message.substr(0, 20), "Invalid certificate:");
      EXPECT_FALSE(signer_id(cert, profile).ok());
      EXPECT_FALSE(verify_manifest_signature("x", Bytes(64, 1), cert, profile).ok());
    }
    PrivateKey key = key_from(std::string("acon/certs/") + name + ".key.pem");
    EXPECT_EQ(sign_manifest("x", key, cert).error().code, Errc::unsupported);
  }
  Certificate ed = cert_from("acon/certs/ed25519.cert.der");
  auto acond = id_hash_for_certificate(ed, CertProfile::acond);
  ASSERT_FALSE(acond.ok());
  EXPECT_NE(acond.error().message.find("'ED25519'"), std::string::npos) << acond.error().message;
  Certificate pss = cert_from("acon/certs/rsapss.cert.der");
  EXPECT_NE(id_hash_for_certificate(pss, CertProfile::acond).error().message.find("RSASSA-PSS"),
            std::string::npos);
}

TEST(Signature, WrongKeyIsRefused) {
  Certificate p384 = cert_from("acon/certs/p384.cert.der");
  for (auto kind :
       {test::TestKey::p256, test::TestKey::p384, test::TestKey::rsa2048, test::TestKey::ed25519}) {
    auto other = test::make_test_key(kind);
    ASSERT_TRUE(other.ok());
    auto sig = sign_manifest(doc_manifest(), *other, p384);
    ASSERT_FALSE(sig.ok());
    EXPECT_EQ(sig.error().code, Errc::invalid_argument);
  }
  // A signature by another P-384 key does not verify under the certificate.
  auto stranger = PrivateKey::generate_ec(Curve::p384);
  ASSERT_TRUE(stranger.ok());
  auto sig = sign(*stranger, SigScheme{SigKind::ecdsa, HashAlg::sha384}, as_bytes(doc_manifest()));
  ASSERT_TRUE(sig.ok());
  auto st = verify_manifest_signature(doc_manifest(), *sig, p384);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::verify_failed);
  // The RSA certificate's signature does not verify under the P-384 certificate.
  Bytes rsa_sig = read_data_bytes("acon/certs/rsa3072.manifest.sig");
  EXPECT_EQ(verify_manifest_signature(doc_manifest(), rsa_sig, p384).error().code,
            Errc::verify_failed);
}

TEST(Signature, VerifySignedManifestOrderOfChecks) {
  Certificate cert = cert_from("acon/certs/p384.cert.der");
  PrivateKey key = key_from("acon/certs/p384.key.pem");
  // Not a certificate.
  auto r = verify_signed_manifest(doc_manifest(), Bytes{1}, Bytes{0x30, 0x00});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::parse);
  EXPECT_EQ(r.error().message.substr(0, 20), "Invalid certificate:");
  // PEM is not accepted where acond wants DER.
  r = verify_signed_manifest(doc_manifest(), Bytes{1},
                             read_data_bytes("acon/doc-example/cert.pem"));
  EXPECT_FALSE(r.ok());
  // The signature is checked before the manifest is parsed (acond's order).
  std::string not_json = "not a manifest";
  auto sig = sign_manifest(not_json, key, cert);
  ASSERT_TRUE(sig.ok());
  r = verify_signed_manifest(not_json, *sig, cert.der());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.substr(0, 9), "manifest:");
  r = verify_signed_manifest(not_json, Bytes(8, 0), cert.der());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::verify_failed);
}

// Keys acond verifies with but acon's acond profile refuses (tests/data/acon/make_hardening.sh):
// the refusal names itself as acon's hardening when acond would accept the signature, and as a
// bad signature (acond's decision too) when it would not.
struct HardeningCase {
  const char* name;
  const char* key_text;  // as the message names the key
  HashAlg hash;
};

class HardeningKeys : public ::testing::TestWithParam<HardeningCase> {};

TEST_P(HardeningKeys, AcondWouldAcceptAconRefuses) {
  const HardeningCase& c = GetParam();
  const std::string base = std::string("acon/hardening/") + c.name;
  Certificate cert = cert_from(base + ".cert.der");
  const Bytes sig = read_data_bytes(base + ".manifest.sig");
  // acond's identity is still computable: the hash comes from signatureAlgorithm's name.
  auto id = image_identity(cert, doc_manifest(), CertProfile::acond);
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_EQ(id->hash, c.hash);
  EXPECT_FALSE(cert.public_key().ok());

  auto r = verify_signed_manifest(doc_manifest(), sig, cert.der(), CertProfile::acond);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::unsupported);
  const std::string& msg = r.error().message;
  EXPECT_EQ(msg.rfind("acond would accept this signature; acon refuses it because its acond "
                      "profile is stricter than acond about signer keys (",
                      0),
            0u)
      << msg;
  EXPECT_NE(msg.find(std::string(c.key_text) + " with " + std::string(hash_name(c.hash))),
            std::string::npos)
      << msg;

  // The aconcli profile has the same key floors and says so in its own name.
  r = verify_signed_manifest(doc_manifest(), sig, cert.der(), CertProfile::aconcli);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.rfind("acond would accept this signature; acon refuses it because "
                                    "its aconcli profile is stricter than acond about signer keys",
                                    0),
            0u)
      << r.error().message;

  // One altered manifest byte: acond refuses too, and the message says it is the signature.
  std::string altered = doc_manifest();
  altered[altered.size() / 2] ^= 1;
  r = verify_signed_manifest(altered, sig, cert.der(), CertProfile::acond);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::verify_failed);
  EXPECT_NE(r.error().message.find("so acond refuses it too"), std::string::npos)
      << r.error().message;
  EXPECT_EQ(r.error().message.find("acond would accept"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Signature, HardeningKeys,
    ::testing::Values(HardeningCase{"dsa2048", "DSA-2048", HashAlg::sha256},
                      HardeningCase{"secp256k1", "EC secp256k1", HashAlg::sha256},
                      HardeningCase{"brainpoolp384r1", "EC brainpoolP384r1", HashAlg::sha384},
                      HardeningCase{"rsa1024", "RSA-1024", HashAlg::sha256},
                      HardeningCase{"rsapss_key", "RSA-PSS-2048", HashAlg::sha384}),
    [](const auto& test_info) { return std::string(test_info.param.name); });

// A certificate in BER (the doc example's outer SEQUENCE with a non-minimal length) would have
// its own Signer ID in acond, which hashes the bytes it receives; acon refuses it rather than
// hash bytes other than the ones given.
TEST(Identity, BerCertificateIsRefusedNotReencoded) {
  Bytes der = read_data_bytes("acon/doc-example/cert.der");
  ASSERT_GE(der.size(), 4u);
  ASSERT_EQ(der[0], 0x30);
  ASSERT_EQ(der[1], 0x82);
  Bytes ber = {0x30, 0x83, 0x00, der[2], der[3]};
  ber.insert(ber.end(), der.begin() + 4, der.end());
  auto r = verify_signed_manifest(doc_manifest(), Bytes(8, 0), ber, CertProfile::acond);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::parse);
  EXPECT_NE(r.error().message.find("Invalid certificate: not an X.509 DER certificate (x509: "
                                   "certificate is not DER ("),
            std::string::npos)
      << r.error().message;
  // The DER original's Signer ID is the hash of exactly its bytes.
  Certificate cert = cert_from("acon/doc-example/cert.der");
  EXPECT_EQ(signer_id(cert).value(), std::string("sha384/") + kDocSignerDigest);
  EXPECT_EQ(hex_encode(digest(HashAlg::sha384, der).value()), kDocSignerDigest);
}

}  // namespace
}  // namespace acon::image
