// acond on the vTPM backend against a real swtpm: two images and Finalize measured into the
// runtime PCR, the quote from Evidence verified with acon::tpm under the swtpm's AK, and the
// runtime log replayed to the quoted PCR value, in both log modes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "acon/acond/measurement_log.h"
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

class VtpmAcond : public ::testing::TestWithParam<std::string> {};
INSTANTIATE_TEST_SUITE_P(Acond, VtpmAcond, ::testing::Values("coco", "acon"),
                         [](const auto& mode) { return mode.param; });

TEST_P(VtpmAcond, MeasuresIntoThePcrAndTheQuoteVerifies) {
  const std::string mode = GetParam();
  const uint32_t pcr = 14;  // not the default (15), to show --runtime-pcr is honoured
  test::SwtpmProcess swtpm;
  std::string why = swtpm.start();
  ASSERT_TRUE(why.empty()) << why;
  TempDir dir;
  // A firmware log with only its Spec ID header: this swtpm has no firmware in front of it.
  const HashAlg banks[] = {HashAlg::sha256, HashAlg::sha384};
  Bytes firmware_log = must(eventlog::spec_id_record(banks));
  {
    std::ofstream out(dir.path() / "firmware.log", std::ios::binary);
    out.write(reinterpret_cast<const char*>(firmware_log.data()),
              static_cast<std::streamsize>(firmware_log.size()));
  }
  Signer p384 = load_signer("p384");
  auto a = sign(p384, app_manifest({}, {p384.rule_prefix + "*"}, true));
  auto b = sign(p384, app_manifest({}, {}, false));

  acon::evidence::EvidenceResponse evidence;
  {
    AcondChild acond(
        dir.path(), {"--backend", "vtpm", "--tcti", swtpm.tcti(), "--tpm-event-log", "firmware.log",
                     "--runtime-pcr", std::to_string(pcr), "--state-dir", "st", "--log-mode", mode,
                     "--tcp-address", "127.0.0.1", "--tcp-port", "0"});
    ASSERT_NE(acond.port(), 0) << acond.log();
    EXPECT_NE(acond.log().find("backend=vtpm"), std::string::npos) << acond.log();
    AcondClient client(acond.target());
    ASSERT_TRUE(client.add_manifest(a).ok()) << acond.log();
    ASSERT_TRUE(client.add_manifest(b).ok()) << acond.log();
    ASSERT_TRUE(client.finalize().ok()) << acond.log();
    acon::grpc::ReportResponse report;
    ASSERT_TRUE(client.report(1, &report).ok()) << acond.log();
    EXPECT_EQ(report.mrlog().at(3).logs_size(), mode == "coco" ? 3 : 4);
    ASSERT_TRUE(client.get_evidence(0x1234, 0x5678, &evidence).ok()) << acond.log();
    EXPECT_EQ(evidence.backend(), "vtpm");
    EXPECT_EQ(acond.stop(), 0);
  }
  EXPECT_EQ(evidence.firmware_event_log(), std::string(as_chars(firmware_log)));

  // The same TPM gives the same AK (a primary key from the endorsement seed); acond has released
  // the TPM, so the test reads the PCRs the quote covers.
  guest::VtpmOptions options;
  options.tcti = swtpm.tcti();
  auto tpm = must(guest::VtpmBackend::open(options));
  auto pcrs = must(tpm->read_pcrs(tpm->quote_selection()));
  const std::string& attestation_data = evidence.report().attestation_data();
  EXPECT_NE(attestation_data.find(b.image_id), std::string::npos);
  Bytes report_data = image::attestation_report_data(as_bytes(attestation_data));
  tpm::VerifyOptions verify;
  verify.expected_extra_data = report_data;
  auto verified =
      tpm::verify_quote(as_bytes(evidence.report().data()), pcrs, {tpm->ak_public_key(), {}},
                        tpm::AkTrust::pinned(tpm->ak_public_key()), verify);
  ASSERT_TRUE(verified.ok()) << verified.error().to_string();
  ASSERT_TRUE(verified->pcrs.contains(HashAlg::sha384));
  const Bytes& quoted = verified->pcrs.at(HashAlg::sha384).at(pcr);

  Bytes replayed;
  if (mode == "coco") {
    const HashAlg bank[] = {HashAlg::sha384};
    Bytes framed = must(eventlog::spec_id_record(bank));
    append(framed, as_bytes(evidence.runtime_aael()));
    auto log = must(eventlog::parse_event_log(framed));
    ASSERT_EQ(log.events.size(), 4u);
    EXPECT_EQ(log.events[1].index, pcr);  // the records name the PCR itself
    eventlog::Replayer replayer;
    ASSERT_TRUE(eventlog::replay(log, replayer).ok());
    replayed = replayer.value(pcr, HashAlg::sha384);
  } else {
    replayed =
        eventlog::replay_text_aael(must(eventlog::parse_text_aael(evidence.runtime_text_aael())));
  }
  EXPECT_EQ(hex_encode(replayed), hex_encode(quoted));
  EXPECT_NE(quoted, Bytes(48, 0));
}

}  // namespace
}  // namespace acon::acond
