// acond on the vTPM backend against a real swtpm: two images and Finalize measured into the
// runtime PCR; Evidence carries the AK and the quoted PCR values beside the quote, so the quote
// verifies under an AK pinned before acond started, and the runtime log replays to the quoted
// PCR value, in both log modes. In the coco mode Client::evidence() gives a vTPM bundle that the
// appraisal accepts whole, and tampered parts fail the checks that name them.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

#include "acon/acond/client.h"
#include "acon/acond/measurement_log.h"
#include "acon/appraisal/check.h"
#include "acon/appraisal/checks.h"
#include "acon/eventlog/event_log.h"
#include "acon/eventlog/replay.h"
#include "acon/eventlog/runtime.h"
#include "acon/guest/vtpm.h"
#include "acon/image/attestation_data.h"
#include "acon/tpm/quote.h"
#include "acond_process.h"
#include "guest/vtpm/swtpm_process.h"

namespace acon::acond {
namespace {

using namespace test_fixtures;
namespace fs = std::filesystem;
using appraisal::Outcome;

constexpr uint32_t kPcr = 14;  // not the default (15), to show --runtime-pcr is honoured

// A swtpm, the AK it gives (a primary key from the endorsement seed, so the same every time it is
// created: read here before acond starts, as an enrolment would record it), and acond on it with
// two images loaded and finalized.
class VtpmPod {
 public:
  // Empty on success, else why the pod could not start.
  std::string start(const std::string& mode) {
    if (std::string why = swtpm.start(); !why.empty()) return why;
    {
      guest::VtpmOptions options;
      options.tcti = swtpm.tcti();
      auto tpm = guest::VtpmBackend::open(options);
      if (!tpm) return tpm.error().to_string();
      ak = (*tpm)->ak_public_key();
    }  // acond needs the TPM connection
    // A firmware log with only its Spec ID header: this swtpm has no firmware in front of it.
    const HashAlg banks[] = {HashAlg::sha256, HashAlg::sha384};
    firmware_log = must(eventlog::spec_id_record(banks));
    std::ofstream(dir.path() / "firmware.log", std::ios::binary)
        .write(reinterpret_cast<const char*>(firmware_log.data()),
               static_cast<std::streamsize>(firmware_log.size()));
    acond = std::make_unique<AcondChild>(
        dir.path(), std::vector<std::string>{
                        "--backend", "vtpm", "--tcti", swtpm.tcti(), "--tpm-event-log",
                        "firmware.log", "--runtime-pcr", std::to_string(kPcr), "--state-dir", "st",
                        "--log-mode", mode, "--tcp-address", "127.0.0.1", "--tcp-port", "0"});
    if (acond->port() == 0) return "acond did not start: " + acond->log();
    Signer p384 = load_signer("p384");
    a = sign(p384, app_manifest({}, {p384.rule_prefix + "*"}, true));
    b = sign(p384, app_manifest({}, {}, false));
    AcondClient client(acond->target());
    if (!client.add_manifest(a).ok() || !client.add_manifest(b).ok() || !client.finalize().ok())
      return "loading failed: " + acond->log();
    return "";
  }

  test::SwtpmProcess swtpm;
  TempDir dir;
  std::optional<PublicKey> ak;
  Bytes firmware_log;
  std::unique_ptr<AcondChild> acond;
  SignedImage a, b;
};

class VtpmAcond : public ::testing::TestWithParam<std::string> {};
INSTANTIATE_TEST_SUITE_P(Acond, VtpmAcond, ::testing::Values("coco", "acon"),
                         [](const auto& mode) { return mode.param; });

TEST_P(VtpmAcond, EvidenceCarriesTheAkAndPcrsAndTheQuoteVerifies) {
  const std::string mode = GetParam();
  VtpmPod pod;
  std::string why = pod.start(mode);
  ASSERT_TRUE(why.empty()) << why;
  acon::evidence::EvidenceResponse evidence;
  {
    AcondClient client(pod.acond->target());
    acon::grpc::ReportResponse report;
    ASSERT_TRUE(client.report(1, &report).ok()) << pod.acond->log();
    EXPECT_EQ(report.mrlog().at(3).logs_size(), mode == "coco" ? 3 : 4);
    ASSERT_TRUE(client.get_evidence(0x1234, 0x5678, &evidence).ok()) << pod.acond->log();
  }
  EXPECT_EQ(evidence.backend(), "vtpm");
  EXPECT_EQ(evidence.firmware_event_log(), std::string(as_chars(pod.firmware_log)));

  // The AK acond hands out is the one pinned before it started, and the PCR values are every PCR
  // of both banks the quote selects.
  auto ak = must(tpm::parse_tpm2b_public(as_bytes(evidence.ak_public())));
  EXPECT_TRUE(ak.is_attestation_key());
  EXPECT_EQ(ak.key.to_pem(), pod.ak->to_pem());
  tpm::PcrValues pcrs;
  for (const auto& pcr : evidence.pcrs()) {
    auto bank = hash_from_name(pcr.bank());
    ASSERT_TRUE(bank) << pcr.bank();
    pcrs[*bank][pcr.index()] = to_bytes(pcr.value());
  }
  ASSERT_EQ(pcrs.size(), 2u);
  EXPECT_EQ(pcrs[HashAlg::sha256].size(), 24u);
  EXPECT_EQ(pcrs[HashAlg::sha384].size(), 24u);

  const std::string& attestation_data = evidence.report().attestation_data();
  EXPECT_NE(attestation_data.find(pod.b.image_id), std::string::npos);
  Bytes report_data = image::attestation_report_data(as_bytes(attestation_data));
  tpm::VerifyOptions verify;
  verify.expected_extra_data = report_data;
  auto verified = tpm::verify_quote(as_bytes(evidence.report().data()), pcrs, {ak.key, {}},
                                    tpm::AkTrust::pinned(*pod.ak), verify);
  ASSERT_TRUE(verified.ok()) << verified.error().to_string();
  const Bytes& quoted = verified->pcrs.at(HashAlg::sha384).at(kPcr);

  Bytes replayed;
  if (mode == "coco") {
    const HashAlg bank[] = {HashAlg::sha384};
    Bytes framed = must(eventlog::spec_id_record(bank));
    append(framed, as_bytes(evidence.runtime_aael()));
    auto log = must(eventlog::parse_event_log(framed));
    ASSERT_EQ(log.events.size(), 4u);
    EXPECT_EQ(log.events[1].index, kPcr);  // the records name the PCR itself
    eventlog::Replayer replayer;
    ASSERT_TRUE(eventlog::replay(log, replayer).ok());
    replayed = replayer.value(kPcr, HashAlg::sha384);
  } else {
    replayed =
        eventlog::replay_text_aael(must(eventlog::parse_text_aael(evidence.runtime_text_aael())));
  }
  EXPECT_EQ(hex_encode(replayed), hex_encode(quoted));
  EXPECT_NE(quoted, Bytes(48, 0));
  // Only the sha384 bank is measured into; the runtime PCR's sha256 bank keeps its reset value.
  EXPECT_EQ(verified->pcrs.at(HashAlg::sha256).at(kPcr), Bytes(32, 0));
  EXPECT_EQ(pod.acond->stop(), 0);
}

Result<Client> connect_client(const AcondChild& acond) {
  ClientOptions options;
  options.target = acond.target();
  return Client::connect(options);
}

Outcome outcome_of(const appraisal::CheckResults& checks, std::string_view name) {
  const appraisal::CheckResult* check = appraisal::find_check(checks, name);
  return check != nullptr ? check->outcome : Outcome::error;
}

std::string dump(const appraisal::CheckResults& checks) {
  std::string out;
  for (const auto& check : checks)
    out += check.name + " " + std::to_string(static_cast<int>(check.outcome)) + " " + check.reason +
           "\n";
  return out;
}

TEST(VtpmAcondEvidence, TheBundleAppraisesWithThePinnedAkAndTamperingFailsByName) {
  VtpmPod pod;
  std::string why = pod.start("coco");
  ASSERT_TRUE(why.empty()) << why;
  auto client = connect_client(*pod.acond);
  ASSERT_TRUE(client) << client.error().to_string();
  auto evidence = client->evidence(0x1234, 0x5678);
  ASSERT_TRUE(evidence) << evidence.error().to_string() << pod.acond->log();
  EXPECT_EQ(pod.acond->stop(), 0);
  ASSERT_EQ(evidence->platform, appraisal::Platform::vtpm);
  EXPECT_EQ(evidence->vtpm.event_log, pod.firmware_log);
  ASSERT_TRUE(evidence->vtpm.runtime_aael.has_value());
  EXPECT_EQ(evidence->images.size(), 2u);

  appraisal::AppraisalOptions options;
  options.ak_trust = tpm::AkTrust::pinned(*pod.ak);
  options.tpm_extra_data = image::attestation_report_data(*evidence->attestation_data);
  options.expected_requestor_nonce = image::requestor_nonce(0x1234, 0x5678);
  const std::string pcr = "replay.pcr" + std::to_string(kPcr) + ".sha384";
  const std::string pcr_sha256 = "replay.pcr" + std::to_string(kPcr) + ".sha256";
  const std::string image_a = "image." + pod.a.image_id;
  auto expect_accepted = [&](const appraisal::Evidence& e) {
    appraisal::CheckResults checks = appraisal::appraise_evidence(e, options).checks;
    const std::vector<std::string> names = {"quote.signature",
                                            "binding.acon",
                                            pcr,
                                            pcr_sha256,
                                            "runtime_log.unexplained",
                                            "runtime_log.acon_events",
                                            "runtime_log.acon_finalized",
                                            image_a + ".manifest",
                                            image_a + ".id",
                                            image_a + ".signature",
                                            "launch_policy.acond"};
    for (const std::string& name : names)
      EXPECT_EQ(outcome_of(checks, name), Outcome::pass) << name << "\n" << dump(checks);
    EXPECT_FALSE(appraisal::any_failed(checks)) << dump(checks);
  };
  expect_accepted(*evidence);

  // The bundle directory keeps every vTPM part.
  TempDir out;
  ASSERT_TRUE(appraisal::write_evidence_directory(*evidence, out.path() / "bundle"));
  EXPECT_TRUE(fs::exists(out.path() / "bundle" / "runtime_aael.bin"));
  auto loaded = appraisal::load_evidence_directory(out.path() / "bundle");
  ASSERT_TRUE(loaded) << loaded.error().to_string();
  EXPECT_EQ(loaded->vtpm.quote, evidence->vtpm.quote);
  EXPECT_EQ(loaded->vtpm.ak_public, evidence->vtpm.ak_public);
  EXPECT_EQ(loaded->vtpm.pcrs, evidence->vtpm.pcrs);
  EXPECT_EQ(loaded->vtpm.runtime_aael, evidence->vtpm.runtime_aael);
  expect_accepted(*loaded);

  {  // A runtime record's digest changed: the runtime PCR no longer replays.
    appraisal::Evidence tampered = *evidence;
    // The first record's SHA-384 digest starts after index, type, count and hashAlg (14 bytes).
    (*tampered.vtpm.runtime_aael)[14 + 5] ^= 1;
    auto checks = appraisal::appraise_evidence(tampered, options).checks;
    EXPECT_EQ(outcome_of(checks, "quote.signature"), Outcome::pass) << dump(checks);
    EXPECT_EQ(outcome_of(checks, pcr), Outcome::fail) << dump(checks);
    EXPECT_EQ(outcome_of(checks, "runtime_log.unexplained"), Outcome::fail) << dump(checks);
    // Nothing unproven counts: the images are not taken from the log.
    EXPECT_NE(outcome_of(checks, image_a + ".manifest"), Outcome::pass) << dump(checks);
  }
  {  // A PCR value changed: the quote's PCR digest no longer matches.
    appraisal::Evidence tampered = *evidence;
    tampered.vtpm.pcrs["sha384"][kPcr][0] ^= 1;
    auto checks = appraisal::appraise_evidence(tampered, options).checks;
    EXPECT_EQ(outcome_of(checks, "quote.signature"), Outcome::fail) << dump(checks);
  }
  {  // Another AK pinned: the presented one is not trusted.
    appraisal::AppraisalOptions other = options;
    other.ak_trust = tpm::AkTrust::pinned(must(PrivateKey::generate_ec(Curve::p256)).public_key());
    auto checks = appraisal::appraise_evidence(*evidence, other).checks;
    EXPECT_EQ(outcome_of(checks, "quote.signature"), Outcome::fail) << dump(checks);
  }
  {  // No AK trust configured: never trusted by default.
    appraisal::AppraisalOptions none = options;
    none.ak_trust.reset();
    auto checks = appraisal::appraise_evidence(*evidence, none).checks;
    EXPECT_EQ(outcome_of(checks, "quote.signature"), Outcome::error) << dump(checks);
  }
  {  // Another request's nonce: a replayed report.
    appraisal::AppraisalOptions replayed = options;
    replayed.expected_requestor_nonce = image::requestor_nonce(1, 2);
    auto checks = appraisal::appraise_evidence(*evidence, replayed).checks;
    EXPECT_EQ(outcome_of(checks, "binding.acon"), Outcome::fail) << dump(checks);
  }
  {  // attestation_data altered: it no longer hashes to the quote's extraData.
    appraisal::Evidence tampered = *evidence;
    tampered.attestation_data->push_back(' ');
    auto checks = appraisal::appraise_evidence(tampered, options).checks;
    EXPECT_EQ(outcome_of(checks, "binding.acon"), Outcome::fail) << dump(checks);
  }
}

// `acond --print-ak` (docs/acond.md "PID 1"): the AK a verifier pins before a VM boots is the
// one acond's backend signs with, printed by acond itself from the same TPM.
TEST(VtpmAcondEvidence, PrintAkIsTheBackendsAk) {
  test::SwtpmProcess swtpm;
  std::string why = swtpm.start();
  ASSERT_TRUE(why.empty()) << why;
  std::string expected;
  {
    guest::VtpmOptions options;
    options.tcti = swtpm.tcti();
    auto tpm = guest::VtpmBackend::open(options);
    ASSERT_TRUE(tpm) << tpm.error().to_string();
    expected = (*tpm)->ak_public_pem();
  }  // one TPM connection at a time
  std::string command = std::string(ACOND_BINARY) + " --backend vtpm --tcti '" + swtpm.tcti() +
                        "' --print-ak 2>/dev/null";
  std::FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string printed;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) printed.append(buffer, n);
  int status = ::pclose(pipe);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << printed;
  EXPECT_EQ(printed, expected);
  EXPECT_TRUE(printed.starts_with("-----BEGIN PUBLIC KEY-----")) << printed;

  // Another backend has no AK: a usage error.
  command = std::string(ACOND_BINARY) + " --backend tdx --print-ak >/dev/null 2>&1";
  status = std::system(command.c_str());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2);
}

TEST(VtpmAcondEvidence, TheTextLogModeIsRefusedByName) {
  VtpmPod pod;
  std::string why = pod.start("acon");
  ASSERT_TRUE(why.empty()) << why;
  auto client = connect_client(*pod.acond);
  ASSERT_TRUE(client) << client.error().to_string();
  auto evidence = client->evidence(1, 2);
  ASSERT_FALSE(evidence);
  EXPECT_EQ(evidence.error().code, Errc::unsupported);
  EXPECT_NE(evidence.error().message.find("\"acon\" log mode"), std::string::npos)
      << evidence.error().message;
  EXPECT_EQ(pod.acond->stop(), 0);
}

}  // namespace
}  // namespace acon::acond
