// The vTPM backend against a real swtpm: PCR arithmetic, quotes verified by acon's verifier and
// by tpm2-tools, tampering, AK trust, and event-log replay.
#include <gtest/gtest.h>

#include <fstream>

#include "acon/common/hash.h"
#include "acon/common/signature.h"
#include "acon/eventlog/event_log.h"
#include "acon/guest/vtpm.h"
#include "acon/tpm/quote.h"
#include "swtpm_process.h"

namespace acon::guest {
namespace {

namespace vt = acon::tpm;

ReportData nonce_of(uint8_t seed) {
  ReportData d{};
  for (size_t i = 0; i < d.size(); ++i) d[i] = static_cast<uint8_t>(seed + 7 * i);
  return d;
}

ByteView view_of(const ReportData& d) { return {d.data(), d.size()}; }

// SHA-x(old || digest), computed without the TPM.
Bytes extended(HashAlg alg, ByteView old_value, ByteView digest_value) {
  Bytes joined(old_value.begin(), old_value.end());
  append(joined, digest_value);
  return *digest(alg, joined);
}

class VtpmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why = swtpm_.start();
    ASSERT_TRUE(why.empty()) << why;
  }
  void TearDown() override { swtpm_.stop(); }

  VtpmOptions options() const {
    VtpmOptions o;
    o.tcti = swtpm_.tcti();
    o.event_log_path = (swtpm_.dir() / "binary_bios_measurements").string();
    return o;
  }

  std::unique_ptr<VtpmBackend> open(const VtpmOptions& o) {
    auto backend = VtpmBackend::open(o);
    EXPECT_TRUE(backend.ok()) << backend.error().to_string();
    return backend ? std::move(*backend) : nullptr;
  }

  // verify_quote with the backend's AK pinned.
  static Result<vt::VerifiedQuote> verify(const VtpmBackend& b, ByteView quote,
                                          const PcrValues& pcrs, ByteView nonce) {
    vt::AkEvidence ak{b.ak_public_key(), {}};
    vt::VerifyOptions opts;
    opts.expected_extra_data = nonce;
    return vt::verify_quote(quote, pcrs, ak, vt::AkTrust::pinned(b.ak_public_key()), opts);
  }

  void check_with_tpm2_checkquote(const VtpmOptions& o);

  test::SwtpmProcess swtpm_;
};

TEST_F(VtpmTest, DescribesItself) {
  auto b = open(options());
  ASSERT_TRUE(b);
  EXPECT_EQ(b->name(), "vtpm");
  EXPECT_EQ(b->register_kind(), RegisterKind::pcr);
  // swtpm allocates sha1, sha256, sha384 and sha512 banks on a fresh state.
  const auto& banks = b->allocated_banks();
  EXPECT_NE(std::find(banks.begin(), banks.end(), HashAlg::sha256), banks.end());
  EXPECT_NE(std::find(banks.begin(), banks.end(), HashAlg::sha384), banks.end());
  // Default selection: sha384 then sha256, PCRs 0..23 each.
  ASSERT_EQ(b->quote_selection().size(), 2u);
  EXPECT_EQ(b->quote_selection()[0].bank, HashAlg::sha384);
  EXPECT_EQ(b->quote_selection()[1].bank, HashAlg::sha256);
  EXPECT_EQ(b->quote_selection()[0].pcrs.size(), 24u);
}

TEST_F(VtpmTest, ExtendReadRoundTripOnBothBanks) {
  auto b = open(options());
  ASSERT_TRUE(b);
  for (HashAlg bank : {HashAlg::sha256, HashAlg::sha384}) {
    for (uint32_t pcr : {0u, 10u, 23u}) {
      auto before = b->read(pcr, bank);
      ASSERT_TRUE(before.ok()) << before.error().to_string();
      EXPECT_EQ(*before, Bytes(hash_size(bank), 0));
      Bytes expected = *before;
      for (int i = 0; i < 3; ++i) {
        Bytes d = *digest(bank, "event " + std::to_string(pcr) + "/" + std::to_string(i));
        ASSERT_TRUE(b->extend(pcr, bank, d).ok());
        expected = extended(bank, expected, d);
        auto after = b->read(pcr, bank);
        ASSERT_TRUE(after.ok()) << after.error().to_string();
        EXPECT_EQ(hex_encode(*after), hex_encode(expected)) << hash_name(bank) << ":" << pcr;
      }
    }
  }
  // Extending one bank leaves the same PCR of the other bank alone.
  ASSERT_TRUE(b->extend(5, HashAlg::sha256, sha256(as_bytes("only sha256"))).ok());
  EXPECT_EQ(*b->read(5, HashAlg::sha384), Bytes(48, 0));
  // PCRs 17..22 start at all ones on a PC Client TPM.
  EXPECT_EQ(*b->read(17, HashAlg::sha256), Bytes(32, 0xFF));
}

TEST_F(VtpmTest, ExtendRejectsBadArguments) {
  auto b = open(options());
  ASSERT_TRUE(b);
  auto wrong_size = b->extend(0, HashAlg::sha384, sha256(as_bytes("x")));
  ASSERT_FALSE(wrong_size.ok());
  EXPECT_EQ(wrong_size.error().code, Errc::invalid_argument);
  auto no_such_pcr = b->extend(24, HashAlg::sha256, sha256(as_bytes("x")));
  ASSERT_FALSE(no_such_pcr.ok());
  EXPECT_EQ(no_such_pcr.error().code, Errc::invalid_argument);
  EXPECT_FALSE(b->read(40, HashAlg::sha256).ok());
  // PCR 17 is DRTM: locality 0 may not extend it, and the TPM's refusal comes back as an error.
  auto locality = b->extend(17, HashAlg::sha256, sha256(as_bytes("x")));
  ASSERT_FALSE(locality.ok());
  EXPECT_NE(locality.error().message.find("PCR sha256:17"), std::string::npos);
}

TEST_F(VtpmTest, AkIsARestrictedSigningKeyAndStable) {
  auto b = open(options());
  ASSERT_TRUE(b);
  EXPECT_EQ(b->ak_public_key().type(), KeyType::ec);
  EXPECT_EQ(b->ak_public_key().curve(), Curve::p256);
  auto parsed = vt::parse_tpm2b_public(b->ak_tpm2b_public());
  ASSERT_TRUE(parsed.ok()) << parsed.error().to_string();
  EXPECT_TRUE(parsed->is_attestation_key());
  EXPECT_TRUE(parsed->key == b->ak_public_key());
  EXPECT_EQ(parsed->name, b->ak_name());
  auto pem_key = PublicKey::from_pem(b->ak_public_pem());
  ASSERT_TRUE(pem_key.ok());
  EXPECT_TRUE(*pem_key == b->ak_public_key());

  // A primary key comes from the hierarchy seed: reopening yields the same AK, and the owner
  // hierarchy a different one.
  auto again = open(options());
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->ak_public_key() == b->ak_public_key());
  VtpmOptions owner = options();
  owner.ak_hierarchy = AkHierarchy::owner;
  auto under_owner = open(owner);
  ASSERT_TRUE(under_owner);
  EXPECT_FALSE(under_owner->ak_public_key() == b->ak_public_key());
}

TEST_F(VtpmTest, QuoteVerifies) {
  auto b = open(options());
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->extend(7, HashAlg::sha384, sha384(as_bytes("secure boot"))).ok());
  ASSERT_TRUE(b->extend(7, HashAlg::sha256, sha256(as_bytes("secure boot"))).ok());
  const ReportData nonce = nonce_of(1);
  auto att = b->attest(nonce);
  ASSERT_TRUE(att.ok()) << att.error().to_string();
  auto verified = verify(*b, att->quote, att->pcrs, view_of(nonce));
  ASSERT_TRUE(verified.ok()) << verified.error().to_string();
  EXPECT_EQ(verified->digest_alg, HashAlg::sha256);
  EXPECT_EQ(verified->quote.attest.extra_data, Bytes(nonce.begin(), nonce.end()));
  ASSERT_EQ(verified->pcrs.size(), 2u);
  EXPECT_EQ(verified->pcrs.at(HashAlg::sha384).size(), 24u);
  EXPECT_EQ(verified->pcrs.at(HashAlg::sha256).size(), 24u);
  EXPECT_EQ(verified->pcrs.at(HashAlg::sha384).at(7),
            extended(HashAlg::sha384, Bytes(48, 0), sha384(as_bytes("secure boot"))));
  // The quote alone (quote()/report()) verifies against PCR values read separately.
  auto pcrs = b->read_pcrs(b->quote_selection());
  ASSERT_TRUE(pcrs.ok());
  for (auto evidence : {b->quote(nonce), b->report(nonce)}) {
    ASSERT_TRUE(evidence.ok()) << evidence.error().to_string();
    auto v = verify(*b, *evidence, *pcrs, view_of(nonce));
    EXPECT_TRUE(v.ok()) << v.error().to_string();
  }
}

// CoCo's binding on a backend opened with the default options (acond's): the same AK and PCR
// selection, qualifyingData = the first 32 bytes; the whole ReportData no longer verifies.
TEST_F(VtpmTest, AttestPrefixQuotesTheFirstBytes) {
  auto b = open(options());
  ASSERT_TRUE(b);
  const ReportData nonce = nonce_of(3);
  auto att = b->attest_prefix(nonce, kCocoQualifyingDataBytes);
  ASSERT_TRUE(att.ok()) << att.error().to_string();
  const Bytes prefix(nonce.begin(), nonce.begin() + kCocoQualifyingDataBytes);
  auto verified = verify(*b, att->quote, att->pcrs, prefix);
  ASSERT_TRUE(verified.ok()) << verified.error().to_string();
  EXPECT_EQ(verified->quote.attest.extra_data, prefix);
  EXPECT_EQ(verified->pcrs.size(), 2u);
  EXPECT_FALSE(verify(*b, att->quote, att->pcrs, view_of(nonce)).ok());
  // The backend's own options still hold for attest().
  auto whole = b->attest(nonce);
  ASSERT_TRUE(whole.ok()) << whole.error().to_string();
  EXPECT_TRUE(verify(*b, whole->quote, whole->pcrs, view_of(nonce)).ok());
  for (size_t bad : {size_t{0}, size_t{65}}) {
    auto refused = b->attest_prefix(nonce, bad);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code, Errc::invalid_argument);
  }
}

TEST_F(VtpmTest, WrongNonceFails) {
  auto b = open(options());
  ASSERT_TRUE(b);
  auto att = b->attest(nonce_of(2));
  ASSERT_TRUE(att.ok());
  const ReportData other = nonce_of(3);
  auto v = verify(*b, att->quote, att->pcrs, view_of(other));
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, Errc::verify_failed);
  EXPECT_NE(v.error().message.find("extra_data"), std::string::npos) << v.error().message;
}

TEST_F(VtpmTest, AlteredPcrValueFails) {
  auto b = open(options());
  ASSERT_TRUE(b);
  const ReportData nonce = nonce_of(4);
  auto att = b->attest(nonce);
  ASSERT_TRUE(att.ok());
  for (HashAlg bank : {HashAlg::sha384, HashAlg::sha256}) {
    PcrValues altered = att->pcrs;
    altered[bank][14][0] ^= 0x01;
    auto v = verify(*b, att->quote, altered, view_of(nonce));
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(v.error().code, Errc::verify_failed);
    EXPECT_NE(v.error().message.find("pcr_digest"), std::string::npos) << v.error().message;
  }
  // A value the quote covers but the caller does not supply cannot be checked.
  PcrValues missing = att->pcrs;
  missing[HashAlg::sha256].erase(3);
  auto v = verify(*b, att->quote, missing, view_of(nonce));
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, Errc::not_found);
}

TEST_F(VtpmTest, AlteredAttestByteFailsSignature) {
  auto b = open(options());
  ASSERT_TRUE(b);
  const ReportData nonce = nonce_of(5);
  auto att = b->attest(nonce);
  ASSERT_TRUE(att.ok());
  auto parsed = vt::parse_quote(att->quote);
  ASSERT_TRUE(parsed.ok());
  // Bytes of clockInfo, firmwareVersion and the pcrDigest: the structure still parses, only
  // the signature can tell.
  const size_t attest_end = parsed->signature_offset;
  for (size_t at : {size_t{2 + 6 + 2 + parsed->attest.qualified_signer.size() + 2 + 64 + 3},
                    attest_end - 30, attest_end - 1}) {
    Bytes tampered = att->quote;
    tampered[at] ^= 0x40;
    ASSERT_TRUE(vt::parse_quote(tampered).ok()) << at;
    auto v = verify(*b, tampered, att->pcrs, view_of(nonce));
    ASSERT_FALSE(v.ok()) << at;
    EXPECT_EQ(v.error().code, Errc::verify_failed);
    EXPECT_NE(v.error().message.find("signature"), std::string::npos) << v.error().message;
  }
  // And a flipped signature byte.
  Bytes bad_signature = att->quote;
  bad_signature.back() ^= 0x01;
  EXPECT_FALSE(verify(*b, bad_signature, att->pcrs, view_of(nonce)).ok());
}

TEST_F(VtpmTest, UntrustedAkFails) {
  auto b = open(options());
  ASSERT_TRUE(b);
  const ReportData nonce = nonce_of(6);
  auto att = b->attest(nonce);
  ASSERT_TRUE(att.ok());
  auto stranger = PrivateKey::generate_ec(Curve::p256);
  ASSERT_TRUE(stranger.ok());
  vt::VerifyOptions opts;
  opts.expected_extra_data = view_of(nonce);

  // The verifier pins another key: the presented AK is rejected before any signature check.
  auto presented = vt::verify_quote(att->quote, att->pcrs, {b->ak_public_key(), {}},
                                    vt::AkTrust::pinned(stranger->public_key()), opts);
  ASSERT_FALSE(presented.ok());
  EXPECT_EQ(presented.error().code, Errc::verify_failed);
  EXPECT_NE(presented.error().message.find("pinned"), std::string::npos);
  // Nothing presented: the pinned key is used and the signature does not verify with it.
  auto silent = vt::verify_quote(att->quote, att->pcrs, {},
                                 vt::AkTrust::pinned(stranger->public_key()), opts);
  ASSERT_FALSE(silent.ok());
  EXPECT_EQ(silent.error().code, Errc::verify_failed);
  // Certificate trust without a certificate.
  auto uncertified = vt::verify_quote(att->quote, att->pcrs, {b->ak_public_key(), {}},
                                      vt::AkTrust::certified_by({}), opts);
  EXPECT_FALSE(uncertified.ok());
}

TEST_F(VtpmTest, OtherAkAlgorithmsVerify) {
  for (AkAlgorithm alg : {AkAlgorithm::ecdsa_p384_sha384, AkAlgorithm::rsa2048_rsassa_sha256,
                          AkAlgorithm::rsa2048_rsapss_sha256}) {
    VtpmOptions o = options();
    o.ak_algorithm = alg;
    auto b = open(o);
    ASSERT_TRUE(b);
    const ReportData nonce = nonce_of(static_cast<uint8_t>(alg));
    auto att = b->attest(nonce);
    ASSERT_TRUE(att.ok()) << att.error().to_string();
    auto v = verify(*b, att->quote, att->pcrs, view_of(nonce));
    ASSERT_TRUE(v.ok()) << static_cast<int>(alg) << ": " << v.error().to_string();
    const bool rsa = alg != AkAlgorithm::ecdsa_p384_sha384;
    EXPECT_EQ(b->ak_public_key().type(), rsa ? KeyType::rsa : KeyType::ec);
    EXPECT_EQ(v->digest_alg, rsa ? HashAlg::sha256 : HashAlg::sha384);
    Bytes tampered = att->quote;
    tampered[20] ^= 0x01;
    EXPECT_FALSE(verify(*b, tampered, att->pcrs, view_of(nonce)).ok());
  }
}

TEST_F(VtpmTest, ConfiguredSelectionAndHashedNonce) {
  VtpmOptions o = options();
  o.quote_selection = {{HashAlg::sha256, {7, 0, 4}}};
  o.qualifying_data_hash = HashAlg::sha256;
  auto b = open(o);
  ASSERT_TRUE(b);
  ASSERT_EQ(b->quote_selection().size(), 1u);
  EXPECT_EQ(b->quote_selection()[0].pcrs, (std::vector<uint32_t>{0, 4, 7}));
  const ReportData nonce = nonce_of(9);
  auto att = b->attest(nonce);
  ASSERT_TRUE(att.ok()) << att.error().to_string();
  const Bytes hashed = sha256(view_of(nonce));
  auto v = verify(*b, att->quote, att->pcrs, hashed);
  ASSERT_TRUE(v.ok()) << v.error().to_string();
  ASSERT_EQ(v->quote.attest.pcr_selection.size(), 1u);
  EXPECT_EQ(v->quote.attest.pcr_selection[0].pcrs, (std::vector<uint32_t>{0, 4, 7}));
  EXPECT_EQ(v->pcrs.at(HashAlg::sha256).size(), 3u);
  // Values outside the selection are not vouched for, so they are not in the result.
  PcrValues extra = att->pcrs;
  extra[HashAlg::sha256][9] = Bytes(32, 0xAB);
  auto with_extra = verify(*b, att->quote, extra, hashed);
  ASSERT_TRUE(with_extra.ok());
  EXPECT_FALSE(with_extra->pcrs.at(HashAlg::sha256).contains(9));
  EXPECT_FALSE(verify(*b, att->quote, att->pcrs, view_of(nonce)).ok());

  VtpmOptions bad = options();
  bad.quote_selection = {{HashAlg::sha256, {24}}};
  EXPECT_FALSE(VtpmBackend::open(bad).ok());
}

TEST_F(VtpmTest, EventLogReplaysToQuotedPcrs) {
  auto b = open(options());
  ASSERT_TRUE(b);
  const std::vector<HashAlg> banks = {HashAlg::sha256, HashAlg::sha384};
  Bytes log = *eventlog::spec_id_record(banks);
  struct Measured {
    uint32_t pcr;
    uint32_t type;
    std::string data;
  };
  const std::vector<Measured> events = {
      {0, eventlog::ev::kSCrtmVersion, "acon test firmware 1.0"},
      {0, eventlog::ev::kEfiPlatformFirmwareBlob, "firmware volume"},
      {1, eventlog::ev::kEfiHandoffTables, "ACPI tables"},
      {7, eventlog::ev::kEfiVariableDriverConfig, "SecureBoot=1"},
      {4, eventlog::ev::kEfiBootServicesApplication, "grubx64.efi"},
  };
  for (const Measured& m : events) {
    auto record = eventlog::measured_record(m.pcr, m.type, banks, as_bytes(m.data));
    ASSERT_TRUE(record.ok());
    append(log, *record);
    for (HashAlg bank : banks) ASSERT_TRUE(b->extend(m.pcr, bank, *digest(bank, m.data)).ok());
  }
  // EV_SEPARATOR into PCRs 0..7, as firmware does at ExitBootServices.
  for (uint32_t pcr = 0; pcr < 8; ++pcr) {
    const Bytes separator(4, 0);
    append(log, *eventlog::measured_record(pcr, eventlog::ev::kSeparator, banks, separator));
    for (HashAlg bank : banks) ASSERT_TRUE(b->extend(pcr, bank, *digest(bank, separator)).ok());
  }
  {
    std::ofstream out(options().event_log_path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(log.data()), static_cast<std::streamsize>(log.size()));
  }

  auto fetched = b->firmware_event_log();
  ASSERT_TRUE(fetched.ok()) << fetched.error().to_string();
  EXPECT_EQ(*fetched, log);
  auto parsed = eventlog::parse_event_log(*fetched);
  ASSERT_TRUE(parsed.ok()) << parsed.error().to_string();

  const ReportData nonce = nonce_of(10);
  auto att = b->attest(nonce);
  ASSERT_TRUE(att.ok());
  auto v = verify(*b, att->quote, att->pcrs, view_of(nonce));
  ASSERT_TRUE(v.ok()) << v.error().to_string();
  auto replays = vt::replay_event_log(*parsed, v->pcrs);
  ASSERT_TRUE(replays.ok());
  EXPECT_EQ(replays->size(), 48u);
  for (const auto& r : *replays) EXPECT_TRUE(r.match) << hash_name(r.bank) << ":" << r.index;
  auto check = vt::check_event_log(*parsed, v->pcrs);
  EXPECT_TRUE(check.ok()) << check.error().to_string();

  // A measurement the log does not record makes the replay disagree with the next quote.
  ASSERT_TRUE(b->extend(4, HashAlg::sha384, sha384(as_bytes("unlogged"))).ok());
  auto att2 = b->attest(nonce);
  ASSERT_TRUE(att2.ok());
  auto v2 = verify(*b, att2->quote, att2->pcrs, view_of(nonce));
  ASSERT_TRUE(v2.ok());
  auto mismatch = vt::check_event_log(*parsed, v2->pcrs);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_EQ(mismatch.error().code, Errc::verify_failed);
  EXPECT_NE(mismatch.error().message.find("PCR sha384:4"), std::string::npos)
      << mismatch.error().message;
  // So does a PCR the log never mentions but someone extended.
  ASSERT_TRUE(b->extend(12, HashAlg::sha256, sha256(as_bytes("hidden"))).ok());
  auto att3 = b->attest(nonce);
  ASSERT_TRUE(att3.ok());
  auto replays3 = vt::replay_event_log(*parsed, att3->pcrs);
  ASSERT_TRUE(replays3.ok());
  for (const auto& r : *replays3) {
    if (r.bank == HashAlg::sha256 && r.index == 12) {
      EXPECT_FALSE(r.in_log);
      EXPECT_FALSE(r.match);
    }
  }
}

TEST_F(VtpmTest, MissingEventLogIsNotFound) {
  auto b = open(options());
  ASSERT_TRUE(b);
  auto log = b->firmware_event_log();
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.error().code, Errc::not_found);
}

// tpm2-tools' own verifier accepts the backend's quote: the marshalled layout is the standard one.
// (Not with an RSAPSS AK: tpm2_checkquote cannot check those, tpm2-software/tpm2-tools#3283.)
TEST_F(VtpmTest, QuoteVerifiesWithTpm2Checkquote) {
  for (AkAlgorithm alg : {AkAlgorithm::ecdsa_p256_sha256, AkAlgorithm::rsa2048_rsassa_sha256}) {
    SCOPED_TRACE(static_cast<int>(alg));
    VtpmOptions o = options();
    o.ak_algorithm = alg;
    check_with_tpm2_checkquote(o);
  }
}

void VtpmTest::check_with_tpm2_checkquote(const VtpmOptions& o) {
  auto b = open(o);
  ASSERT_TRUE(b);
  const ReportData nonce = nonce_of(11);
  auto q = b->quote(nonce);
  ASSERT_TRUE(q.ok());
  auto parsed = vt::parse_quote(*q);
  ASSERT_TRUE(parsed.ok());
  const auto dir = swtpm_.dir();
  auto write = [](const std::filesystem::path& p, ByteView data) {
    std::ofstream out(p, std::ios::binary);
    out.write(reinterpret_cast<const char*>(data.data()),
              static_cast<std::streamsize>(data.size()));
  };
  write(dir / "attest.bin", parsed->signed_bytes);
  write(dir / "signature.bin", ByteView(*q).subspan(parsed->signature_offset));
  write(dir / "ak.pem", as_bytes(b->ak_public_pem()));
  std::string error;
  int status = test::run_program(
      {"tpm2_checkquote", "-u", (dir / "ak.pem").string(), "-m", (dir / "attest.bin").string(),
       "-s", (dir / "signature.bin").string(), "-q", hex_encode(view_of(nonce))},
      dir / "checkquote.out", error);
  ASSERT_GE(status, 0) << error << " (install tpm2-tools)";
  std::ifstream output(dir / "checkquote.out");
  EXPECT_EQ(status, 0) << std::string(std::istreambuf_iterator<char>(output), {});
  // And it rejects the quote under another nonce.
  ReportData other = nonce_of(12);
  status = test::run_program(
      {"tpm2_checkquote", "-u", (dir / "ak.pem").string(), "-m", (dir / "attest.bin").string(),
       "-s", (dir / "signature.bin").string(), "-q", hex_encode(view_of(other))},
      dir / "checkquote2.out", error);
  EXPECT_NE(status, 0);
}

TEST(VtpmOpen, UnreachableTctiFails) {
  VtpmOptions o;
  o.tcti = "swtpm:host=127.0.0.1,port=1";
  auto b = VtpmBackend::open(o);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code, Errc::io);
  EXPECT_NE(b.error().message.find("vtpm:"), std::string::npos);
}

}  // namespace
}  // namespace acon::guest
