// issue_certificate / issue_crl: what they produce must satisfy our own parsers and OpenSSL's
// chain verification, with the names, extensions and CRL entries that were asked for.
#include <gtest/gtest.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include "acon/common/x509.h"
#include "test_util.h"

namespace acon {
namespace {

using namespace std::chrono;

using test::at;

PrivateKey p256() {
  auto key = PrivateKey::generate_ec(Curve::p256);
  if (!key) throw std::runtime_error(key.error().to_string());
  return *std::move(key);
}

std::vector<NameEntry> intel_style_name(const std::string& cn) {
  return {
      {"CN", cn}, {"O", "Example Corporation"}, {"L", "Santa Clara"}, {"ST", "CA"}, {"C", "US"}};
}

CertificateRequest root_request() {
  CertificateRequest req;
  req.subject = intel_style_name("Example Root CA");
  req.serial = {0x22, 0x65, 0x0c, 0xd6};
  req.not_before = at("2018-05-21T10:45:10Z");
  req.not_after = at("2049-12-31T23:59:59Z");
  req.is_ca = true;
  req.path_length = 1;
  req.key_usage = kKeyUsageKeyCertSign | kKeyUsageCrlSign;
  req.crl_distribution_points = {"https://example.com/root.der"};
  return req;
}

struct Pki {
  PrivateKey root_key = p256();
  PrivateKey ca_key = p256();
  PrivateKey leaf_key = p256();
  Certificate root;
  Certificate ca;
  Certificate leaf;
};

Certificate must(Result<Certificate> r) {
  if (!r) throw std::runtime_error(r.error().to_string());
  return *std::move(r);
}

Pki make_pki() {
  PrivateKey root_key = p256(), ca_key = p256(), leaf_key = p256();
  Certificate root =
      must(issue_certificate(root_request(), root_key.public_key(), root_key, nullptr));
  CertificateRequest ca_req = root_request();
  ca_req.subject = intel_style_name("Example Platform CA");
  ca_req.serial = {0x95, 0x6f};
  ca_req.not_after = at("2033-05-21T10:50:10Z");
  ca_req.path_length = 0;
  Certificate ca = must(issue_certificate(ca_req, ca_key.public_key(), root_key, &root));
  CertificateRequest leaf_req;
  leaf_req.subject = intel_style_name("Example Leaf");
  leaf_req.serial = {0x3c, 0x16, 0xed};
  leaf_req.not_before = at("2025-02-06T23:25:51Z");
  leaf_req.not_after = at("2032-02-06T23:25:51Z");
  leaf_req.key_usage = kKeyUsageDigitalSignature | kKeyUsageNonRepudiation;
  leaf_req.extensions.push_back({"1.2.840.113741.1.13.1", {0x30, 0x03, 0x02, 0x01, 0x07}, false});
  Certificate leaf = must(issue_certificate(leaf_req, leaf_key.public_key(), ca_key, &ca));
  return Pki{root_key, ca_key, leaf_key, root, ca, leaf};
}

TEST(X509Issue, SelfSignedRootHasTheRequestedFields) {
  PrivateKey key = p256();
  auto root = issue_certificate(root_request(), key.public_key(), key, nullptr);
  ASSERT_TRUE(root.ok()) << root.error().to_string();
  EXPECT_EQ(root->subject(), "C=US,ST=CA,L=Santa Clara,O=Example Corporation,CN=Example Root CA");
  EXPECT_EQ(root->issuer(), root->subject());
  EXPECT_EQ(root->serial_hex(), "22650cd6");
  EXPECT_EQ(root->not_before(), at("2018-05-21T10:45:10Z"));
  EXPECT_EQ(root->not_after(), at("2049-12-31T23:59:59Z"));
  EXPECT_TRUE(root->is_ca());
  EXPECT_TRUE(root->verify_signed_by(key.public_key()).ok());
  auto scheme = root->signature_scheme();
  ASSERT_TRUE(scheme.ok());
  EXPECT_EQ(scheme->kind, SigKind::ecdsa);
  EXPECT_EQ(scheme->hash, HashAlg::sha256);
  EXPECT_EQ(X509_get_pathlen(root->get()), 1);
  EXPECT_EQ(X509_get_key_usage(root->get()), static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  // Self-signed: the authority key identifier repeats the subject key identifier.
  const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(root->get());
  const ASN1_OCTET_STRING* aki = X509_get0_authority_key_id(root->get());
  ASSERT_NE(ski, nullptr);
  ASSERT_NE(aki, nullptr);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(ski, aki), 0);
  // Critical: key usage and basic constraints only.
  int critical = 0;
  for (int i = 0; i < X509_get_ext_count(root->get()); ++i)
    critical += X509_EXTENSION_get_critical(X509_get_ext(root->get(), i));
  EXPECT_EQ(critical, 2);
  // PEM round trip.
  auto again = Certificate::from_pem(root->to_pem());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->der(), root->der());
}

TEST(X509Issue, NamesUseUtf8StringAndPrintableCountry) {
  PrivateKey key = p256();
  Certificate root = must(issue_certificate(root_request(), key.public_key(), key, nullptr));
  std::string der = to_string(root.der());
  // CN as UTF8String (tag 0x0c), C as PrintableString (tag 0x13), as in Intel's certificates.
  EXPECT_NE(der.find(std::string("\x06\x03\x55\x04\x03\x0c\x0f") + "Example Root CA"),
            std::string::npos);
  EXPECT_NE(der.find(std::string("\x06\x03\x55\x04\x06\x13\x02") + "US"), std::string::npos);
}

TEST(X509Issue, ChainVerifiesAndCarriesTheRawExtension) {
  Pki pki = make_pki();
  EXPECT_EQ(pki.leaf.issuer(), pki.ca.subject());
  EXPECT_FALSE(pki.leaf.is_ca());
  auto ext = pki.leaf.extension("1.2.840.113741.1.13.1");
  ASSERT_TRUE(ext.has_value());
  EXPECT_EQ(*ext, (Bytes{0x30, 0x03, 0x02, 0x01, 0x07}));
  // The leaf's AKI is the CA's SKI.
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(pki.leaf.get()),
                                  X509_get0_subject_key_id(pki.ca.get())),
            0);
  std::vector<Certificate> intermediates{pki.ca};
  std::vector<Certificate> roots{pki.root};
  auto path =
      verify_chain(pki.leaf, intermediates, roots, {}, at("2026-01-01T00:00:00Z"), CrlCheck::none);
  ASSERT_TRUE(path.ok()) << path.error().to_string();
  EXPECT_EQ(path->size(), 3u);
  // Outside the leaf's validity the same chain is expired.
  auto late =
      verify_chain(pki.leaf, intermediates, roots, {}, at("2040-01-01T00:00:00Z"), CrlCheck::none);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, Errc::expired);
}

TEST(X509Issue, CrlRevokesTheListedSerial) {
  Pki pki = make_pki();
  CrlRequest root_crl_req;
  root_crl_req.this_update = at("2025-03-20T11:21:57Z");
  root_crl_req.next_update = at("2026-04-03T11:21:57Z");
  auto root_crl = issue_crl(root_crl_req, pki.root_key, pki.root);
  ASSERT_TRUE(root_crl.ok()) << root_crl.error().to_string();
  EXPECT_EQ(root_crl->issuer(), pki.root.subject());
  EXPECT_EQ(root_crl->this_update(), at("2025-03-20T11:21:57Z"));
  EXPECT_EQ(root_crl->next_update(), at("2026-04-03T11:21:57Z"));
  EXPECT_FALSE(root_crl->lists(pki.ca));

  CrlRequest ca_crl_req = root_crl_req;
  ca_crl_req.crl_number = 7;
  ca_crl_req.revoked.push_back(
      {{0x3c, 0x16, 0xed}, at("2025-06-19T10:00:35Z"), CrlReason::key_compromise});
  ca_crl_req.revoked.push_back({{0x01}, at("2025-06-19T10:00:35Z"), std::nullopt});
  auto ca_crl = issue_crl(ca_crl_req, pki.ca_key, pki.ca);
  ASSERT_TRUE(ca_crl.ok()) << ca_crl.error().to_string();
  EXPECT_TRUE(ca_crl->lists(pki.leaf));
  EXPECT_EQ(X509_CRL_verify(ca_crl->get(), X509_get0_pubkey(pki.ca.get())), 1);
  auto* number = static_cast<ASN1_INTEGER*>(
      X509_CRL_get_ext_d2i(ca_crl->get(), NID_crl_number, nullptr, nullptr));
  ASSERT_NE(number, nullptr);
  EXPECT_EQ(ASN1_INTEGER_get(number), 7);
  ASN1_INTEGER_free(number);

  // DER and PEM round trips give the same CRL.
  auto from_der = Crl::from_der(ca_crl->der());
  ASSERT_TRUE(from_der.ok());
  auto from_pem = Crl::from_pem(ca_crl->to_pem());
  ASSERT_TRUE(from_pem.ok());
  EXPECT_EQ(from_pem->der(), ca_crl->der());

  std::vector<Certificate> intermediates{pki.ca};
  std::vector<Certificate> roots{pki.root};
  std::vector<Crl> crls{*root_crl, *ca_crl};
  auto revoked = verify_chain(pki.leaf, intermediates, roots, crls, at("2026-01-01T00:00:00Z"));
  ASSERT_FALSE(revoked.ok());
  EXPECT_EQ(revoked.error().code, Errc::verify_failed);

  ca_crl_req.revoked.clear();
  auto clean = issue_crl(ca_crl_req, pki.ca_key, pki.ca);
  ASSERT_TRUE(clean.ok());
  crls = {*root_crl, *clean};
  auto ok = verify_chain(pki.leaf, intermediates, roots, crls, at("2026-01-01T00:00:00Z"));
  EXPECT_TRUE(ok.ok()) << ok.error().to_string();
}

TEST(X509Issue, OtherKeyTypesAndHashes) {
  auto rsa = PrivateKey::generate_rsa(2048);
  ASSERT_TRUE(rsa.ok());
  CertificateRequest req = root_request();
  req.signature_hash = HashAlg::sha384;
  auto cert = issue_certificate(req, rsa->public_key(), *rsa, nullptr);
  ASSERT_TRUE(cert.ok()) << cert.error().to_string();
  auto scheme = cert->signature_scheme();
  ASSERT_TRUE(scheme.ok());
  EXPECT_EQ(scheme->kind, SigKind::rsa_pkcs1);
  EXPECT_EQ(scheme->hash, HashAlg::sha384);

  auto ed = PrivateKey::generate_ed25519();
  ASSERT_TRUE(ed.ok());
  auto ed_cert = issue_certificate(root_request(), ed->public_key(), *ed, nullptr);
  ASSERT_TRUE(ed_cert.ok()) << ed_cert.error().to_string();
  EXPECT_EQ(ed_cert->signature_scheme()->kind, SigKind::ed25519);
  EXPECT_TRUE(ed_cert->verify_signed_by(ed->public_key()).ok());
}

TEST(X509Issue, RejectsUnusableRequests) {
  Pki pki = make_pki();
  PrivateKey other = p256();
  auto code = [](const Result<Certificate>& r) {
    return r.ok() ? std::nullopt : std::optional(r.error().code);
  };

  CertificateRequest req = root_request();
  req.is_ca = false;
  req.path_length.reset();
  // Issuer key that is not the issuer certificate's key.
  EXPECT_EQ(code(issue_certificate(req, other.public_key(), other, &pki.ca)),
            Errc::invalid_argument);
  // Self-signed with a key pair that does not match.
  EXPECT_EQ(code(issue_certificate(req, other.public_key(), pki.root_key, nullptr)),
            Errc::invalid_argument);
  // A non-CA issuer.
  EXPECT_EQ(code(issue_certificate(req, other.public_key(), pki.leaf_key, &pki.leaf)),
            Errc::invalid_argument);
  CertificateRequest bad = req;
  bad.subject.clear();
  EXPECT_EQ(code(issue_certificate(bad, other.public_key(), pki.ca_key, &pki.ca)),
            Errc::invalid_argument);
  bad = req;
  bad.serial = {0, 0};
  EXPECT_EQ(code(issue_certificate(bad, other.public_key(), pki.ca_key, &pki.ca)),
            Errc::invalid_argument);
  bad.serial = Bytes(21, 1);
  EXPECT_EQ(code(issue_certificate(bad, other.public_key(), pki.ca_key, &pki.ca)),
            Errc::invalid_argument);
  bad = req;
  bad.not_after = bad.not_before - seconds{1};
  EXPECT_EQ(code(issue_certificate(bad, other.public_key(), pki.ca_key, &pki.ca)),
            Errc::invalid_argument);
  bad = req;
  bad.extensions.push_back({"not an oid", {0x05, 0x00}, false});
  EXPECT_EQ(code(issue_certificate(bad, other.public_key(), pki.ca_key, &pki.ca)),
            Errc::invalid_argument);
  bad = req;
  bad.subject.push_back({"NoSuchAttribute", "x"});
  EXPECT_EQ(code(issue_certificate(bad, other.public_key(), pki.ca_key, &pki.ca)),
            Errc::invalid_argument);
  bad = req;
  bad.path_length = 0;  // a path length needs CA:TRUE
  EXPECT_EQ(code(issue_certificate(bad, other.public_key(), pki.ca_key, &pki.ca)),
            Errc::invalid_argument);

  CrlRequest crl_req;
  crl_req.this_update = at("2025-01-01T00:00:00Z");
  crl_req.next_update = at("2024-01-01T00:00:00Z");
  auto backwards = issue_crl(crl_req, pki.ca_key, pki.ca);
  ASSERT_FALSE(backwards.ok());
  EXPECT_EQ(backwards.error().code, Errc::invalid_argument);
  crl_req.next_update.reset();
  auto wrong_key = issue_crl(crl_req, other, pki.ca);
  ASSERT_FALSE(wrong_key.ok());
  EXPECT_EQ(wrong_key.error().code, Errc::invalid_argument);
  crl_req.revoked.push_back({{}, crl_req.this_update, std::nullopt});
  auto empty_serial = issue_crl(crl_req, pki.ca_key, pki.ca);
  ASSERT_FALSE(empty_serial.ok());
  EXPECT_EQ(empty_serial.error().code, Errc::invalid_argument);
}

}  // namespace
}  // namespace acon
