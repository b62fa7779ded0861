// KBS evidence for tee "tpm" (CoCo's TPM attester form): Trustee's own sample read and its quote
// verified; quotes made by a real swtpm through acon's vTPM backend with CoCo's options, loaded
// from a KBS Attestation body and appraised: the KBS binding (extraData = the first 32 bytes of
// SHA-384(JCS(runtime data))), init-data in PCR 8, and the refusals (tampered quote, wrong nonce,
// wrong PCR value, unknown AK).
#include <gtest/gtest.h>

#include "acon/appraisal/checks.h"
#include "acon/appraisal/evidence.h"
#include "acon/common/hash.h"
#include "acon/common/kbs_binding.h"
#include "acon/eventlog/event_log.h"
#include "acon/eventlog/runtime.h"
#include "acon/guest/vtpm.h"
#include "acon/tpm/quote.h"
#include "guest/vtpm/swtpm_process.h"
#include "test_util.h"

namespace acon::appraisal {
namespace {

using test::must;

template <class T>
std::string error_of(const Result<T>& result) {
  return result ? std::string("(ok)") : result.error().message;
}

const CheckResult& check(const EvidenceAppraisal& appraisal, std::string_view name) {
  const CheckResult* found = find_check(appraisal.checks, name);
  if (!found) throw std::runtime_error("no check " + std::string(name));
  return *found;
}

// ---- Trustee's sample (deps/verifier/test_data/tpm_evidence.json) ----

TEST(TrusteeTpmEvidence, SampleReadsVerifiesAndWritesBackUnchanged) {
  const Json sample = must(parse_json(test::read_data("trustee/tpm_evidence.json")));
  VtpmEvidence vtpm = must(tpm_evidence_from_trustee(sample));
  EXPECT_EQ(vtpm.ak_encoding, AkEncoding::spki_der);
  EXPECT_EQ(vtpm.pcrs.at("sha256").size(), 24u);
  EXPECT_EQ(must(tpm_evidence_to_trustee(vtpm)), sample);

  // The sample's quote verifies with its AK over its PCR values: our reading of the signature,
  // the message and the PCR list is Trustee's.
  const tpm::Quote quote = must(tpm::parse_quote(vtpm.quote));
  Evidence evidence;
  evidence.platform = Platform::vtpm;
  evidence.vtpm = vtpm;
  AppraisalOptions options;
  options.ak_trust = tpm::AkTrust::pinned(must(vtpm_ak_key(vtpm)));
  options.tpm_extra_data = quote.attest.extra_data;
  EvidenceAppraisal appraisal = appraise_evidence(evidence, options);
  EXPECT_EQ(check(appraisal, "quote.signature").outcome, Outcome::pass)
      << check(appraisal, "quote.signature").reason;
  EXPECT_EQ(appraisal.claims->at("vtpm").at("ak_public"), sample["ak_public"]);
  EXPECT_EQ(appraisal.claims->at("vtpm").at("pcr08"), sample["tpm_quote"]["pcrs"][8]);

  // One changed PCR value no longer matches the quote's digest.
  evidence.vtpm.pcrs["sha256"][3][0] ^= 1;
  appraisal = appraise_evidence(evidence, options);
  EXPECT_EQ(check(appraisal, "quote.signature").outcome, Outcome::fail);
}

TEST(TrusteeTpmEvidence, ErrorsNameTheMember) {
  const Json sample = must(parse_json(test::read_data("trustee/tpm_evidence.json")));
  auto error = [](const Json& primary) { return error_of(tpm_evidence_from_trustee(primary)); };
  Json bad = sample;
  bad["tpm_quote"]["pcrs"][5] = "00";
  EXPECT_NE(error(bad).find("primary_evidence.tpm_quote.pcrs[5]"), std::string::npos) << error(bad);
  bad = sample;
  bad["tpm_quote"]["pcrs"].push_back(sample["tpm_quote"]["pcrs"][0]);
  EXPECT_NE(error(bad).find("primary_evidence.tpm_quote.pcrs: 25 values"), std::string::npos)
      << error(bad);
  bad = sample;
  bad["tpm_quote"].erase("message");
  EXPECT_NE(error(bad).find("primary_evidence.tpm_quote.message: missing"), std::string::npos)
      << error(bad);
  bad = sample;
  bad["ak_public"] = "!";
  EXPECT_NE(error(bad).find("primary_evidence.ak_public"), std::string::npos) << error(bad);
  bad = sample;
  bad["tpm_quote"]["message"] = base64_encode(Bytes(0x10000, 0));
  EXPECT_NE(error(bad).find("primary_evidence.tpm_quote.message: larger than 65535"),
            std::string::npos)
      << error(bad);
  EXPECT_NE(error(Json::array()).find("primary_evidence: not an object"), std::string::npos);

  // acon's own vtpm name is not a kbs-types tee.
  EXPECT_EQ(load_kbs_attestation("{}", "vtpm").error().code, Errc::unsupported);
}

// ---- acon's extension members (acond's GetSecret on the vTPM) ----

TEST(TrusteeTpmEvidence, AconExtensionMembersRoundTrip) {
  const Json sample = must(parse_json(test::read_data("trustee/tpm_evidence.json")));
  VtpmEvidence vtpm = must(tpm_evidence_from_trustee(sample));
  // The sample has none of them: nothing extra is read, and nothing extra is written.
  EXPECT_FALSE(vtpm.event_log);
  EXPECT_FALSE(vtpm.runtime_aael);
  EXPECT_EQ(vtpm.pcrs.size(), 1u);
  std::vector<ProvidedImage> images;
  must(tpm_evidence_from_trustee(sample, &images));
  EXPECT_TRUE(images.empty());

  vtpm.event_log = Bytes{1, 2, 3};
  vtpm.runtime_aael = Bytes{4, 5};
  vtpm.pcrs["sha384"][15] = Bytes(48, 0xAB);
  vtpm.pcrs["sha384"][0] = Bytes(48, 0);
  const std::vector<ProvidedImage> sent = {
      {"sha384/aa/bb", to_bytes(std::string_view("{}")), Bytes{9}, Bytes{}}};
  const Json written = must(tpm_evidence_to_trustee(vtpm, sent));
  // CoCo's members are untouched; the SHA-256 list stays CoCo's.
  EXPECT_EQ(written["ak_public"], sample["ak_public"]);
  EXPECT_EQ(written["tpm_quote"], sample["tpm_quote"]);
  EXPECT_EQ(written[std::string(kAconEventLogMember)], base64_encode(Bytes{1, 2, 3}));
  EXPECT_EQ(written[std::string(kAconPcrsMember)]["sha384"]["15"], hex_encode(Bytes(48, 0xAB)));
  EXPECT_FALSE(written[std::string(kAconPcrsMember)].contains("sha256"));

  std::vector<ProvidedImage> read_images;
  const VtpmEvidence back = must(tpm_evidence_from_trustee(written, &read_images));
  EXPECT_EQ(back.quote, vtpm.quote);
  EXPECT_EQ(back.ak_public, vtpm.ak_public);
  EXPECT_EQ(back.pcrs, vtpm.pcrs);
  EXPECT_EQ(back.event_log, vtpm.event_log);
  EXPECT_EQ(back.runtime_aael, vtpm.runtime_aael);
  ASSERT_EQ(read_images.size(), 1u);
  EXPECT_EQ(read_images[0].name, sent[0].name);
  EXPECT_EQ(read_images[0].manifest, sent[0].manifest);
  EXPECT_EQ(read_images[0].signature, sent[0].signature);

  // Through a KBS Attestation body, the images land in Evidence::images.
  const Json body = {{"runtime-data", {{"nonce", "n"}, {"tee-pubkey", Json::object()}}},
                     {"tee-evidence", {{"primary_evidence", written}}}};
  Evidence evidence = must(load_kbs_attestation(body.dump(), "tpm"));
  EXPECT_EQ(evidence.vtpm.event_log, vtpm.event_log);
  EXPECT_EQ(evidence.vtpm.pcrs, vtpm.pcrs);
  ASSERT_EQ(evidence.images.size(), 1u);
  EXPECT_EQ(evidence.images[0].name, sent[0].name);
}

TEST(TrusteeTpmEvidence, AconExtensionErrorsNameTheMember) {
  const Json sample = must(parse_json(test::read_data("trustee/tpm_evidence.json")));
  auto error = [](const Json& primary) {
    std::vector<ProvidedImage> images;
    return error_of(tpm_evidence_from_trustee(primary, &images));
  };
  Json bad = sample;
  bad[std::string(kAconEventLogMember)] = "!";
  EXPECT_NE(error(bad).find("primary_evidence.acon_event_log"), std::string::npos) << error(bad);
  bad = sample;
  bad[std::string(kAconRuntimeLogMember)] = 7;
  EXPECT_NE(error(bad).find("primary_evidence.acon_runtime_aael: not a string"), std::string::npos)
      << error(bad);
  bad = sample;
  bad[std::string(kAconPcrsMember)] = {{"sha256", {{"0", std::string(64, '0')}}}};
  EXPECT_NE(error(bad).find("primary_evidence.acon_pcrs.sha256: the SHA-256 PCRs are"),
            std::string::npos)
      << error(bad);
  bad = sample;
  bad[std::string(kAconPcrsMember)] = {{"sha384", {{"24", std::string(96, '0')}}}};
  EXPECT_NE(error(bad).find("primary_evidence.acon_pcrs.sha384.24: not a PCR index"),
            std::string::npos)
      << error(bad);
  bad = sample;
  bad[std::string(kAconImagesMember)] = {{{"name", "x"}}};
  EXPECT_NE(error(bad).find("primary_evidence.acon_images[0].manifest: missing"), std::string::npos)
      << error(bad);
}

// The vTPM replay of acond's runtime records: a record whose digest is not that of its data is
// named and never proven; a record logged after the quoted value is named as the first divergent
// event after the prefix that reproduces it.
TEST(VtpmReplay, NamesTheFirstDivergentEvent) {
  constexpr uint32_t kPcr = 15;
  const HashAlg banks[] = {HashAlg::sha256, HashAlg::sha384};
  VtpmEvidence vtpm;
  vtpm.event_log = must(eventlog::spec_id_record(banks));
  Bytes records;
  Bytes pcr(48, 0);
  for (const char* content : {"sha384/aa/bb", "sha384/aa/cc"}) {
    const eventlog::AaelEvent event{"github.com/intel/ACON", "AddManifest", content};
    append(records, must(eventlog::aael_record(kPcr, HashAlg::sha384, event)));
    Bytes extended = pcr;
    append(extended, sha384(must(eventlog::aael_tagged_event(event))));
    pcr = sha384(extended);
  }
  for (uint32_t i = 0; i < 24; ++i) {
    // Reset values: PCRs 17..22 (the dynamic-launch PCRs) hold all ones.
    const uint8_t reset = i >= 17 && i <= 22 ? 0xFF : 0x00;
    vtpm.pcrs["sha256"][i] = Bytes(32, reset);
    vtpm.pcrs["sha384"][i] = Bytes(48, reset);
  }
  vtpm.pcrs["sha384"][kPcr] = pcr;
  vtpm.runtime_aael = records;
  auto find = [](const ReplayChecks& checks, std::string_view name) {
    for (const CheckResult& c : checks.registers)
      if (c.name == name) return c;
    return CheckResult{};
  };
  ReplayChecks replay = check_vtpm_replay(vtpm);
  EXPECT_EQ(find(replay, "replay.pcr15.sha384").outcome, Outcome::pass);
  EXPECT_EQ(replay.unexplained.outcome, Outcome::pass) << replay.unexplained.reason;
  ASSERT_EQ(replay.aael_events.size(), 2u);
  EXPECT_TRUE(replay.aael_events[1].proven);

  // The second record's content changed (its digest kept): named as altered, not proven, though
  // the PCR still replays.
  VtpmEvidence altered = vtpm;
  altered.runtime_aael->back() ^= 0x01;
  replay = check_vtpm_replay(altered);
  EXPECT_EQ(find(replay, "replay.pcr15.sha384").outcome, Outcome::pass);
  EXPECT_EQ(replay.unexplained.outcome, Outcome::fail);
  EXPECT_NE(replay.unexplained.reason.find("runtime AAEL record #2 (PCR 15)"), std::string::npos)
      << replay.unexplained.reason;
  ASSERT_EQ(replay.aael_events.size(), 2u);
  EXPECT_TRUE(replay.aael_events[0].proven);
  EXPECT_FALSE(replay.aael_events[1].proven);

  // The quote was taken after the first record: the second is the first divergent event.
  VtpmEvidence later = vtpm;
  Bytes first(48, 0);
  append(first, sha384(must(eventlog::aael_tagged_event(
                    {"github.com/intel/ACON", "AddManifest", "sha384/aa/bb"}))));
  later.pcrs["sha384"][kPcr] = sha384(first);
  replay = check_vtpm_replay(later);
  const CheckResult pcr15 = find(replay, "replay.pcr15.sha384");
  EXPECT_EQ(pcr15.outcome, Outcome::fail);
  EXPECT_NE(pcr15.reason.find("first divergent event: runtime AAEL record #2 (PCR 15) at offset"),
            std::string::npos)
      << pcr15.reason;
  EXPECT_NE(pcr15.reason.find("the 1 events before it reproduce the quoted value"),
            std::string::npos)
      << pcr15.reason;
}

// ---- a real swtpm ----

constexpr std::string_view kInitData = "version = \"0.1.0\"\nalgorithm = \"sha256\"\n[data]\n";

class SwtpmKbsEvidence : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why = swtpm_.start();
    ASSERT_TRUE(why.empty()) << why;
    auto backend = guest::VtpmBackend::open(guest::coco_tpm_options(swtpm_.tcti()));
    ASSERT_TRUE(backend.ok()) << backend.error().to_string();
    backend_ = std::move(*backend);
    // CoCo's attester binds the init-data at boot: its digest extended into SHA-256 PCR 8.
    ASSERT_TRUE(backend_->extend(8, HashAlg::sha256, sha256(as_bytes(kInitData))).ok());
    tee_key_ = must(PrivateKey::generate_ec(Curve::p256)).public_key().to_jwk();
    tee_key_["alg"] = "ECDH-ES+A256KW";
  }
  void TearDown() override {
    backend_.reset();  // flushes the AK while the TPM still runs
    swtpm_.stop();
  }

  // The KBS Attestation body a CoCo guest would send for `nonce`, quoted over `quoted_nonce`.
  Json body(const std::string& nonce, const std::string& quoted_nonce) {
    Bytes report_data = must(kbs_report_data(quoted_nonce, tee_key_, ""));
    guest::ReportData data{};
    std::copy(report_data.begin(), report_data.end(), data.begin());
    guest::Attestation attestation = must(backend_->attest(data));
    VtpmEvidence vtpm;
    vtpm.quote = attestation.quote;
    vtpm.ak_public = backend_->ak_public_key().to_der();
    vtpm.ak_encoding = AkEncoding::spki_der;
    vtpm.pcrs["sha256"] = attestation.pcrs.at(HashAlg::sha256);
    return {
        {"init-data", {{"format", "toml"}, {"body", kInitData}}},
        {"runtime-data", {{"nonce", nonce}, {"tee-pubkey", tee_key_}}},
        {"tee-evidence",
         {{"primary_evidence", must(tpm_evidence_to_trustee(vtpm))}, {"additional_evidence", ""}}}};
  }

  AppraisalOptions options(const std::string& nonce) const {
    AppraisalOptions o;
    o.ak_trust = tpm::AkTrust::pinned(backend_->ak_public_key());
    o.expected_nonce = nonce;
    return o;
  }

  EvidenceAppraisal appraise(const Json& attestation, const AppraisalOptions& o) {
    Evidence evidence = must(load_kbs_attestation(attestation.dump(), "tpm"));
    return appraise_evidence(evidence, o);
  }

  test::SwtpmProcess swtpm_;
  std::unique_ptr<guest::VtpmBackend> backend_;
  Json tee_key_;
};

TEST_F(SwtpmKbsEvidence, BoundQuotePassesEveryRequiredCheck) {
  const Json attestation = body("n1", "n1");
  // The quote's qualifyingData is the first 32 bytes of SHA-384(JCS(runtime data)).
  const Evidence evidence = must(load_kbs_attestation(attestation.dump(), "tpm"));
  EXPECT_EQ(evidence.platform, Platform::vtpm);
  const Bytes extra = must(tpm::parse_quote(evidence.vtpm.quote)).attest.extra_data;
  EXPECT_EQ(extra, must(kbs_tpm_extra_data(*evidence.runtime_data)));
  EXPECT_EQ(extra.size(), 32u);

  EvidenceAppraisal appraisal = appraise(attestation, options("n1"));
  for (const char* name : {"quote.signature", "binding.kbs", "init_data"})
    EXPECT_EQ(check(appraisal, name).outcome, Outcome::pass)
        << name << ": " << check(appraisal, name).reason;
  EXPECT_EQ(appraisal.claims->at("report_data"), hex_encode(extra));
  EXPECT_EQ(appraisal.claims->at("runtime_data_claims").at("tee-pubkey").at("x"), tee_key_["x"]);
  EXPECT_EQ(appraisal.claims->at("init_data"), appraisal.claims->at("vtpm").at("pcr08"));
  EXPECT_TRUE(appraisal.claims->at("init_data_claims").is_object());
}

TEST_F(SwtpmKbsEvidence, TamperedQuoteFails) {
  Json attestation = body("n1", "n1");
  auto& primary = attestation["tee-evidence"]["primary_evidence"];
  Bytes message = must(base64_decode(primary["tpm_quote"]["message"].get<std::string>()));
  message.back() ^= 1;  // the last byte of pcrDigest
  primary["tpm_quote"]["message"] = base64_encode(message);
  EvidenceAppraisal appraisal = appraise(attestation, options("n1"));
  EXPECT_EQ(check(appraisal, "quote.signature").outcome, Outcome::fail)
      << check(appraisal, "quote.signature").reason;
}

TEST_F(SwtpmKbsEvidence, WrongNonceFails) {
  // A quote made for another nonce, sent with this session's nonce: extraData differs.
  EvidenceAppraisal appraisal = appraise(body("n1", "other"), options("n1"));
  EXPECT_EQ(check(appraisal, "quote.signature").outcome, Outcome::fail);
  EXPECT_EQ(check(appraisal, "binding.kbs").outcome, Outcome::fail)
      << check(appraisal, "binding.kbs").reason;
  // A correctly bound quote replayed to a session with another challenge.
  appraisal = appraise(body("n1", "n1"), options("n2"));
  EXPECT_EQ(check(appraisal, "binding.kbs").outcome, Outcome::fail);
  EXPECT_NE(check(appraisal, "binding.kbs").reason.find("not the challenge nonce"),
            std::string::npos);
}

TEST_F(SwtpmKbsEvidence, WrongPcrValueFails) {
  Json attestation = body("n1", "n1");
  auto& pcrs = attestation["tee-evidence"]["primary_evidence"]["tpm_quote"]["pcrs"];
  pcrs[8] = std::string(64, '0');  // claim a PCR 8 the quote does not cover
  EvidenceAppraisal appraisal = appraise(attestation, options("n1"));
  EXPECT_EQ(check(appraisal, "quote.signature").outcome, Outcome::fail);
  EXPECT_NE(check(appraisal, "quote.signature").reason.find("pcr_digest"), std::string::npos);

  // Other init-data than the guest measured: PCR 8 is genuine but not this init-data's.
  attestation = body("n1", "n1");
  attestation["init-data"]["body"] = std::string(kInitData) + "x = \"y\"\n";
  appraisal = appraise(attestation, options("n1"));
  EXPECT_EQ(check(appraisal, "quote.signature").outcome, Outcome::pass);
  EXPECT_EQ(check(appraisal, "init_data").outcome, Outcome::fail)
      << check(appraisal, "init_data").reason;
}

TEST_F(SwtpmKbsEvidence, UnknownAkFails) {
  const Json attestation = body("n1", "n1");
  AppraisalOptions o = options("n1");
  const PublicKey stranger = must(PrivateKey::generate_rsa(2048)).public_key();
  o.ak_trust = tpm::AkTrust::pinned(stranger);
  EvidenceAppraisal appraisal = appraise(attestation, o);
  EXPECT_EQ(check(appraisal, "quote.signature").outcome, Outcome::fail);
  EXPECT_NE(check(appraisal, "quote.signature").reason.find("not the pinned AK"), std::string::npos)
      << check(appraisal, "quote.signature").reason;
  // Several pins, none of them this AK; then one of them is.
  o.ak_trust =
      tpm::AkTrust::any_of({stranger, must(PrivateKey::generate_ec(Curve::p256)).public_key()});
  appraisal = appraise(attestation, o);
  EXPECT_NE(check(appraisal, "quote.signature").reason.find("none of the 2 pinned AKs"),
            std::string::npos)
      << check(appraisal, "quote.signature").reason;
  o.ak_trust = tpm::AkTrust::any_of({stranger, backend_->ak_public_key()});
  EXPECT_EQ(check(appraise(attestation, o), "quote.signature").outcome, Outcome::pass);
  // No AK trust configured at all: never verified.
  o.ak_trust.reset();
  EXPECT_EQ(check(appraise(attestation, o), "quote.signature").outcome, Outcome::error);
}

}  // namespace
}  // namespace acon::appraisal
