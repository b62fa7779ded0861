// Enrolment of the vTPM backend's AK from the EK certificate swtpm_setup writes: the EK
// certificate read from NV, TPM2_MakeCredential computed by acon and activated by the TPM
// (libtpms), tpm2-tools' tpm2_makecredential activated through the backend, and the refusals:
// another CA, another TPM's EK certificate, a credential for another TPM or another object.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>

#include "acon/common/x509.h"
#include "acon/guest/vtpm.h"
#include "acon/tpm/credential.h"
#include "acon/tpm/quote.h"
#include "swtpm_process.h"

namespace acon::guest {
namespace {

namespace vt = acon::tpm;

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

Time now() {
  return std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
}

// A temporary directory for swtpm's local CA, shared by the TPMs one test manufactures.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/acon-ekca-XXXXXX";
    if (mkdtemp(tmpl) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// An EnrolmentTpm whose parts come from two different TPMs: what a host that swaps the TPM (or
// copies another TPM's certificate) presents.
class CrossedTpm final : public vt::EnrolmentTpm {
 public:
  CrossedTpm(VtpmBackend& certified, VtpmBackend& answering, bool ek_from_certified)
      : certified_(certified), answering_(answering), ek_from_certified_(ek_from_certified) {}
  Result<Bytes> ek_certificate(vt::EkType type) override {
    return certified_.read_ek_certificate(type);
  }
  Result<Bytes> ek_public(vt::EkType type) override {
    return ek_from_certified_ ? certified_.ek_tpm2b_public(type) : answering_.ek_tpm2b_public(type);
  }
  Result<Bytes> ak_public() override { return answering_.ak_tpm2b_public(); }
  Result<SecretBytes> activate_credential(vt::EkType type, ByteView id_object,
                                          ByteView secret) override {
    return answering_.activate_credential(id_object, secret, type);
  }

 private:
  VtpmBackend& certified_;
  VtpmBackend& answering_;
  bool ek_from_certified_;
};

class VtpmEnrolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(ca_.path().empty());
    swtpm_.manufacture_with_ek_certificate(ca_.path());
    std::string why = swtpm_.start();
    ASSERT_TRUE(why.empty()) << why;
  }

  std::unique_ptr<VtpmBackend> open(const test::SwtpmProcess& swtpm) {
    VtpmOptions o;  // acond's defaults
    o.tcti = swtpm.tcti();
    auto backend = VtpmBackend::open(o);
    EXPECT_TRUE(backend.ok()) << backend.error().to_string();
    return backend ? std::move(*backend) : nullptr;
  }

  vt::EkTrust trust() const {
    vt::EkTrust t;
    t.roots = *Certificate::all_from_pem(read_text(test::SwtpmProcess::ek_root_pem(ca_.path())));
    t.intermediates =
        *Certificate::all_from_pem(read_text(test::SwtpmProcess::ek_issuer_pem(ca_.path())));
    return t;
  }

  TempDir ca_;
  test::SwtpmProcess swtpm_;
};

TEST_F(VtpmEnrolTest, EnrolsTheAkTheBackendQuotesWith) {
  auto backend = open(swtpm_);
  ASSERT_TRUE(backend);
  VtpmEnrolment tpm(*backend);
  auto enrolled = vt::enrol_attestation_key(tpm, trust(), now());
  ASSERT_TRUE(enrolled.ok()) << enrolled.error().to_string();
  EXPECT_EQ(enrolled->ak.key, backend->ak_public_key());
  EXPECT_EQ(enrolled->ak.name, backend->ak_name());

  // The EK certificate is what swtpm_setup wrote, and its key is the default-template EK's.
  auto cert = vt::parse_ek_certificate(*backend->read_ek_certificate());
  ASSERT_TRUE(cert.ok()) << cert.error().to_string();
  auto ek = vt::parse_ek_public(*backend->ek_tpm2b_public());
  ASSERT_TRUE(ek.ok()) << ek.error().to_string();
  EXPECT_EQ(*cert->public_key(), ek->key);

  // A quote from the backend verifies with the enrolled key pinned.
  ReportData nonce{};
  nonce[0] = 0x5A;
  auto attestation = backend->attest(nonce);
  ASSERT_TRUE(attestation.ok()) << attestation.error().to_string();
  vt::VerifyOptions opts;
  opts.expected_extra_data = ByteView(nonce.data(), nonce.size());
  auto verified = vt::verify_quote(attestation->quote, attestation->pcrs,
                                   vt::AkEvidence{backend->ak_public_key(), {}},
                                   vt::AkTrust::pinned(enrolled->ak.key), opts);
  EXPECT_TRUE(verified.ok()) << verified.error().to_string();

  // The same TPM yields the same AK in a later process: the enrolment stays valid.
  backend.reset();
  auto again = open(swtpm_);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->ak_public_key(), enrolled->ak.key);
}

TEST_F(VtpmEnrolTest, RefusedWithAnotherCa) {
  auto backend = open(swtpm_);
  ASSERT_TRUE(backend);
  // A second swtpm CA, unrelated to the one that certified this TPM.
  TempDir other_ca;
  test::SwtpmProcess other;
  other.manufacture_with_ek_certificate(other_ca.path());
  ASSERT_EQ(other.start(), "");
  vt::EkTrust wrong;
  wrong.roots =
      *Certificate::all_from_pem(read_text(test::SwtpmProcess::ek_root_pem(other_ca.path())));
  wrong.intermediates =
      *Certificate::all_from_pem(read_text(test::SwtpmProcess::ek_issuer_pem(other_ca.path())));
  VtpmEnrolment tpm(*backend);
  auto enrolled = vt::enrol_attestation_key(tpm, wrong, now());
  ASSERT_FALSE(enrolled.ok());
  EXPECT_EQ(enrolled.error().code, Errc::verify_failed) << enrolled.error().to_string();

  // The issuing CA alone is not a root here: without the root the path does not verify.
  vt::EkTrust issuer_only;
  issuer_only.roots = trust().intermediates;
  EXPECT_FALSE(vt::enrol_attestation_key(tpm, issuer_only, now()).ok());

  // Before the certificate's notBefore it is refused as well.
  auto cert = vt::parse_ek_certificate(*backend->read_ek_certificate());
  ASSERT_TRUE(cert.ok());
  auto early = vt::enrol_attestation_key(tpm, trust(), cert->not_before() - std::chrono::hours(1));
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.error().code, Errc::expired) << early.error().to_string();
}

TEST_F(VtpmEnrolTest, RefusedWhenTheEkCertificateBelongsToAnotherTpm) {
  // TPM B, certified by the same CA: each certificate verifies, but not for the other TPM.
  test::SwtpmProcess other;
  other.manufacture_with_ek_certificate(ca_.path());
  ASSERT_EQ(other.start(), "");
  auto a = open(swtpm_);
  auto b = open(other);
  ASSERT_TRUE(a && b);

  // B presents its own EK with A's certificate: the keys differ.
  CrossedTpm own_ek(*a, *b, false);
  auto mismatch = vt::enrol_attestation_key(own_ek, trust(), now());
  ASSERT_FALSE(mismatch.ok());
  EXPECT_EQ(mismatch.error().code, Errc::verify_failed);
  EXPECT_NE(mismatch.error().to_string().find("not the key its EK certificate certifies"),
            std::string::npos)
      << mismatch.error().to_string();

  // B presents A's EK public area too: only TPM2_ActivateCredential can tell, and B's TPM cannot
  // unwrap a seed encrypted to A's EK.
  CrossedTpm copied_ek(*a, *b, true);
  auto refused = vt::enrol_attestation_key(copied_ek, trust(), now());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::verify_failed);
  EXPECT_NE(refused.error().to_string().find("TPM2_ActivateCredential failed"), std::string::npos)
      << refused.error().to_string();
}

TEST_F(VtpmEnrolTest, TheTpmActivatesAconsCredentials) {
  auto backend = open(swtpm_);
  ASSERT_TRUE(backend);
  for (vt::EkType type : {vt::EkType::rsa2048, vt::EkType::ecc_nist_p256}) {
    auto ek = vt::parse_ek_public(*backend->ek_tpm2b_public(type));
    ASSERT_TRUE(ek.ok()) << ek.error().to_string();
    EXPECT_EQ(ek->type, type == vt::EkType::rsa2048 ? 0x0001 : 0x0023);
    for (size_t size : {size_t{1}, size_t{16}, size_t{32}}) {
      Bytes secret(size);
      for (size_t i = 0; i < size; ++i) secret[i] = static_cast<uint8_t>(0xA0 + i);
      auto credential = vt::make_credential(*ek, backend->ak_name(), secret);
      ASSERT_TRUE(credential.ok()) << credential.error().to_string();
      auto recovered =
          backend->activate_credential(credential->id_object, credential->encrypted_secret, type);
      ASSERT_TRUE(recovered.ok()) << size << ": " << recovered.error().to_string();
      EXPECT_EQ(Bytes(recovered->begin(), recovered->end()), secret);
      // The other EK cannot open it.
      const vt::EkType other =
          type == vt::EkType::rsa2048 ? vt::EkType::ecc_nist_p256 : vt::EkType::rsa2048;
      EXPECT_FALSE(
          backend->activate_credential(credential->id_object, credential->encrypted_secret, other)
              .ok());
    }
  }
  auto ek = vt::parse_ek_public(*backend->ek_tpm2b_public());
  ASSERT_TRUE(ek.ok()) << ek.error().to_string();
  // More than a SHA-256 digest is refused before the TPM sees it.
  EXPECT_EQ(vt::make_credential(*ek, backend->ak_name(), Bytes(33, 1)).error().code,
            Errc::invalid_argument);

  // A credential for another Name: the TPM's HMAC check fails.
  Bytes other_name = backend->ak_name();
  other_name.back() ^= 1;
  auto wrong = vt::make_credential(*ek, other_name, Bytes(32, 7));
  ASSERT_TRUE(wrong.ok());
  EXPECT_FALSE(backend->activate_credential(wrong->id_object, wrong->encrypted_secret).ok());

  // A tampered blob or seed is refused by the TPM; a malformed one before it.
  auto good = vt::make_credential(*ek, backend->ak_name(), Bytes(32, 9));
  ASSERT_TRUE(good.ok());
  Bytes blob = good->id_object;
  blob.back() ^= 0x01;
  EXPECT_FALSE(backend->activate_credential(blob, good->encrypted_secret).ok());
  Bytes seed = good->encrypted_secret;
  seed[10] ^= 0x01;
  EXPECT_FALSE(backend->activate_credential(good->id_object, seed).ok());
  Bytes truncated(good->id_object.begin(), good->id_object.end() - 1);
  auto parse = backend->activate_credential(truncated, good->encrypted_secret);
  ASSERT_FALSE(parse.ok());
  EXPECT_EQ(parse.error().code, Errc::parse);
  EXPECT_EQ(backend->activate_credential({}, good->encrypted_secret).error().code, Errc::parse);
  Bytes trailing = good->encrypted_secret;
  trailing.push_back(0);
  EXPECT_EQ(backend->activate_credential(good->id_object, trailing).error().code, Errc::parse);
  // The backend still works afterwards (no session or object slot leaked).
  auto again = backend->activate_credential(good->id_object, good->encrypted_secret);
  ASSERT_TRUE(again.ok()) << again.error().to_string();
}

// tpm2-tools computes TPM2_MakeCredential offline (--tcti none) with its own code; the backend's
// activation must recover the secret from its output. Its file holds a 4-byte magic, a 4-byte
// version, then TPM2B_ID_OBJECT and TPM2B_ENCRYPTED_SECRET (tpm2-tools lib/files.c).
class VtpmEnrolTypes : public VtpmEnrolTest, public ::testing::WithParamInterface<vt::EkType> {};

TEST_P(VtpmEnrolTypes, ActivatesTpm2ToolsCredentials) {
  const vt::EkType type = GetParam();
  auto backend = open(swtpm_);
  ASSERT_TRUE(backend);
  auto ek_public = backend->ek_tpm2b_public(type);
  ASSERT_TRUE(ek_public.ok()) << ek_public.error().to_string();
  const auto dir = swtpm_.dir();
  {
    std::ofstream ek(dir / "ek.pub", std::ios::binary);
    ek.write(reinterpret_cast<const char*>(ek_public->data()),
             static_cast<std::streamsize>(ek_public->size()));
    std::ofstream secret(dir / "secret.bin", std::ios::binary);
    secret << "tpm2-tools made this credential";
  }
  std::string error;
  const int status =
      test::run_program({"tpm2_makecredential", "--tcti", "none", "-u", (dir / "ek.pub").string(),
                         "-s", (dir / "secret.bin").string(), "-n", hex_encode(backend->ak_name()),
                         "-o", (dir / "credential.bin").string()},
                        dir / "makecredential.log", error);
  ASSERT_EQ(status, 0) << error << read_text(dir / "makecredential.log");
  const std::string file = read_text(dir / "credential.bin");
  ASSERT_GT(file.size(), 10u);
  const Bytes bytes = to_bytes(file);
  EXPECT_EQ(Bytes(bytes.begin(), bytes.begin() + 4), (Bytes{0xBA, 0xDC, 0xC0, 0xDE}));
  const size_t id_size = size_t{bytes[8]} << 8 | bytes[9];
  ASSERT_GE(bytes.size(), 10 + id_size);
  const ByteView id_object(bytes.data() + 8, 2 + id_size);
  const ByteView encrypted_secret(bytes.data() + 10 + id_size, bytes.size() - 10 - id_size);
  auto recovered = backend->activate_credential(id_object, encrypted_secret, type);
  ASSERT_TRUE(recovered.ok()) << recovered.error().to_string();
  EXPECT_EQ(to_string(view(*recovered)), "tpm2-tools made this credential");

  // Ours has the same shape: the same sizes field by field (the contents are randomised).
  auto ek = vt::parse_ek_public(*ek_public);
  ASSERT_TRUE(ek.ok());
  auto ours = vt::make_credential(*ek, backend->ak_name(),
                                  as_bytes(std::string_view("tpm2-tools made this credential")));
  ASSERT_TRUE(ours.ok());
  EXPECT_EQ(ours->id_object.size(), id_object.size());
  EXPECT_EQ(ours->encrypted_secret.size(), encrypted_secret.size());
}

INSTANTIATE_TEST_SUITE_P(Ek, VtpmEnrolTypes,
                         ::testing::Values(vt::EkType::rsa2048, vt::EkType::ecc_nist_p256),
                         [](const ::testing::TestParamInfo<vt::EkType>& param) {
                           return param.param == vt::EkType::rsa2048 ? "Rsa2048" : "EccP256";
                         });

// swtpm 0.7.1's swtpm_setup certifies an ECC P-384 EK, not the P-256 EK of template L-2: the test
// issues the P-256 EK's certificate from a CA of its own and writes it to NV index 0x01c0000a with
// tpm2-tools, as a manufacturer would.
TEST_F(VtpmEnrolTest, EnrolsWithAnEccEkCertificate) {
  Bytes ek_public;
  {
    auto backend = open(swtpm_);
    ASSERT_TRUE(backend);
    EXPECT_EQ(backend->read_ek_certificate(vt::EkType::ecc_nist_p256).error().code,
              Errc::not_found);
    ek_public = *backend->ek_tpm2b_public(vt::EkType::ecc_nist_p256);
  }  // swtpm serves one connection at a time: tpm2-tools runs while no backend is open
  auto ek = vt::parse_ek_public(ek_public);
  ASSERT_TRUE(ek.ok()) << ek.error().to_string();

  auto ca_key = PrivateKey::generate_ec(Curve::p256);
  ASSERT_TRUE(ca_key.ok());
  CertificateRequest ca_req;
  ca_req.subject = {{"CN", "acon test ECC EK CA"}};
  ca_req.serial = {0x01};
  ca_req.not_before = now() - std::chrono::hours(1);
  ca_req.not_after = now() + std::chrono::hours(24);
  ca_req.is_ca = true;
  ca_req.key_usage = kKeyUsageKeyCertSign;
  auto ca = issue_certificate(ca_req, ca_key->public_key(), *ca_key, nullptr);
  ASSERT_TRUE(ca.ok()) << ca.error().to_string();
  CertificateRequest ek_req = ca_req;
  ek_req.subject = {{"CN", "acon test ECC EK"}};
  ek_req.serial = {0x02};
  ek_req.is_ca = false;
  ek_req.key_usage = kKeyUsageKeyAgreement;
  ek_req.extensions = {
      {"2.5.29.37", {0x30, 0x07, 0x06, 0x05, 0x67, 0x81, 0x05, 0x08, 0x01}, false}};
  auto ek_cert = issue_certificate(ek_req, ek->key, *ca_key, &*ca);
  ASSERT_TRUE(ek_cert.ok()) << ek_cert.error().to_string();

  const auto der_path = swtpm_.dir() / "ecc_ek_cert.der";
  {
    const Bytes der = ek_cert->der();
    std::ofstream out(der_path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(der.data()), static_cast<std::streamsize>(der.size()));
  }
  const std::string index = "0x01c0000a";
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"tpm2_nvdefine", "--tcti", swtpm_.tcti(), "-C", "p", "-s",
                                 std::to_string(std::filesystem::file_size(der_path)), "-a",
                                 "ppwrite|ppread|ownerread|authread|no_da|platformcreate", index},
        std::vector<std::string>{"tpm2_nvwrite", "--tcti", swtpm_.tcti(), "-C", "p", "-i",
                                 der_path.string(), index}}) {
    std::string error;
    const int status = test::run_program(args, swtpm_.dir() / "nv.log", error);
    ASSERT_EQ(status, 0) << args[0] << ": " << error << read_text(swtpm_.dir() / "nv.log");
  }

  auto backend = open(swtpm_);
  ASSERT_TRUE(backend);
  VtpmEnrolment tpm(*backend);
  vt::EkTrust trust_ecc;
  trust_ecc.roots = {*ca};
  auto enrolled = vt::enrol_attestation_key(tpm, trust_ecc, now(), vt::EkType::ecc_nist_p256);
  ASSERT_TRUE(enrolled.ok()) << enrolled.error().to_string();
  EXPECT_EQ(enrolled->ak.key, backend->ak_public_key());
  EXPECT_EQ(enrolled->ek, ek->key);
  // The RSA EK's certificate is swtpm's CA's, not this one's; and this CA vouches for no RSA EK.
  EXPECT_FALSE(vt::enrol_attestation_key(tpm, trust_ecc, now(), vt::EkType::rsa2048).ok());
  EXPECT_TRUE(vt::enrol_attestation_key(tpm, trust(), now(), vt::EkType::rsa2048).ok());
  EXPECT_FALSE(vt::enrol_attestation_key(tpm, trust(), now(), vt::EkType::ecc_nist_p256).ok());
}

TEST(VtpmEnrol, NoEkCertificateIsNotFound) {
  test::SwtpmProcess plain;  // not manufactured: no EK certificate in NV
  ASSERT_EQ(plain.start(), "");
  VtpmOptions o;
  o.tcti = plain.tcti();
  auto backend = VtpmBackend::open(o);
  ASSERT_TRUE(backend.ok()) << backend.error().to_string();
  auto cert = (*backend)->read_ek_certificate();
  ASSERT_FALSE(cert.ok());
  EXPECT_EQ(cert.error().code, Errc::not_found) << cert.error().to_string();
}

}  // namespace
}  // namespace acon::guest
