// The event timeline of the report model: every event of every register from the evidence's own
// logs, decoded, with what the replay check proves of it; and its views.
#include <gtest/gtest.h>

#include <string>

#include "acon/appraisal/checks.h"
#include "acon/eventlog/event_log.h"
#include "acon/eventlog/runtime.h"
#include "acon/report/html.h"
#include "acon/report/report.h"
#include "test_util.h"
#include "verifier/appraisal/vtpm_fixture.h"

namespace acon::report {
namespace {

using appraisal::Evidence;
using appraisal::Platform;

Evidence cc_trusted_api(bool with_ima) {
  Evidence evidence;
  evidence.platform = Platform::tdx;
  evidence.tdx.quote = test::read_data_bytes("eventlog/cc-trusted-api/quote.bin");
  evidence.tdx.ccel = test::read_data_bytes("eventlog/cc-trusted-api/ccel_data.bin");
  if (with_ima) evidence.tdx.ima_log = test::read_data("eventlog/cc-trusted-api/ima_log.bin");
  return evidence;
}

Json timeline_of(const Evidence& evidence, appraisal::CheckResults* checks = nullptr) {
  appraisal::CheckResults replay = appraisal::check_tdx_replay(evidence.tdx).registers;
  Json timeline = event_timeline(evidence, replay);
  if (checks != nullptr) *checks = std::move(replay);
  return timeline;
}

const Json& reg(const Json& timeline, size_t i) { return timeline["registers"][i]; }

// A model holding only what the views need for the timeline.
Json model_of(const Json& timeline, const appraisal::CheckResults& checks) {
  return {{"version", kReportVersion},
          {"result", {{"checks", appraisal::checks_to_json(checks)}}},
          {"timeline", timeline}};
}

TEST(EventTimeline, ListsEveryDecodedEventOfCcTrustedApiWithoutAVerifiedQuote) {
  // No collateral for this quote: it cannot verify, and the timeline is there all the same.
  const Json timeline = timeline_of(cc_trusted_api(true));
  ASSERT_EQ(timeline["registers"].size(), 4u);
  EXPECT_EQ(timeline["notes"], Json::array());
  const size_t expected[] = {17, 8, 74, 0};
  for (size_t i = 0; i < 4; ++i) {
    const Json& r = reg(timeline, i);
    EXPECT_EQ(r["register"], "rtmr" + std::to_string(i));
    EXPECT_EQ(r["outcome"], "pass");
    EXPECT_EQ(r["events"], expected[i]);
    EXPECT_EQ(r["rows"].size(), expected[i]);
    EXPECT_EQ(r["proven"], expected[i]);
    EXPECT_EQ(r["more"], 0u);
    EXPECT_TRUE(r["divergent"].is_null());
    for (const Json& row : r["rows"]) EXPECT_EQ(row["status"], "proven") << row.dump();
  }
  const Json& secure_boot = reg(timeline, 0)["rows"][2];
  EXPECT_EQ(secure_boot["number"], 3);
  EXPECT_EQ(secure_boot["source"], "firmware");
  EXPECT_EQ(secure_boot["type"], "EV_EFI_VARIABLE_DRIVER_CONFIG");
  EXPECT_EQ(secure_boot["meaning"], "SecureBoot = disabled {8be4df61-93ca-11d2-aa0d-00e098032b8c}");
  EXPECT_EQ(secure_boot["digest_check"], "match");
  EXPECT_EQ(secure_boot["digest"].get<std::string>().size(), 96u);  // the full SHA-384
  const Json& boot_app = reg(timeline, 1)["rows"][2];
  EXPECT_EQ(boot_app["type"], "EV_EFI_BOOT_SERVICES_APPLICATION");
  EXPECT_TRUE(boot_app["meaning"].get<std::string>().ends_with("\\EFI\\BOOT\\BOOTX64.EFI"))
      << boot_app["meaning"];
  EXPECT_TRUE(reg(timeline, 1)["rows"][1]["meaning"].get<std::string>().starts_with("GPT disk "));
  const Json& ima = reg(timeline, 2)["rows"][73];
  EXPECT_EQ(ima["source"], "ima");
  EXPECT_EQ(ima["type"], "IMA ima-ng");
  EXPECT_EQ(ima["where"], "line 1");
  EXPECT_TRUE(ima["meaning"].get<std::string>().starts_with("boot_aggregate (sha384:"));
}

TEST(EventTimeline, NoPrefixReproducesTheQuoteSoNothingIsCovered) {
  // Without the IMA log RTMR2's firmware events alone do not reach the quoted value, and no
  // prefix does: the quote covers none of them, and names none as divergent.
  appraisal::CheckResults checks;
  const Json timeline = timeline_of(cc_trusted_api(false), &checks);
  const Json& rtmr2 = reg(timeline, 2);
  EXPECT_EQ(rtmr2["outcome"], "fail");
  EXPECT_EQ(rtmr2["events"], 73u);
  EXPECT_EQ(rtmr2["proven"], 0u);
  EXPECT_TRUE(rtmr2["divergent"].is_null());
  for (const Json& row : rtmr2["rows"]) EXPECT_EQ(row["status"], "not_covered");
  EXPECT_EQ(reg(timeline, 1)["proven"], 8u);
}

TEST(EventTimeline, AnAppendedRuntimeLineIsWhereReplayDiverges) {
  Evidence evidence;
  evidence.platform = Platform::tdx;
  evidence.tdx.quote = test::read_data_bytes("eventlog/trustee_aael_legacy/AAEL_quote_tdx");
  std::string log = test::read_data("eventlog/trustee_aael_legacy/AAEL_data_1");
  const Json honest = timeline_of(evidence);  // no log at all: nothing to list
  EXPECT_EQ(reg(honest, 3)["events"], 0u);

  evidence.tdx.runtime_text_aael = log;
  const Json replayed = timeline_of(evidence);
  const size_t lines = reg(replayed, 3)["events"].get<size_t>();
  ASSERT_GE(lines, 2u);
  EXPECT_EQ(reg(replayed, 3)["proven"], lines);
  EXPECT_EQ(reg(replayed, 3)["rows"][0]["type"], "AAEL INIT");
  EXPECT_EQ(reg(replayed, 3)["rows"][1]["source"], "text_aael");

  // A line the quote never saw: everything before it is covered, it is where replay diverges.
  if (!log.ends_with("\n")) log += "\n";
  evidence.tdx.runtime_text_aael = log + "github.com/intel/ACON AddManifest sha384/forged\n";
  appraisal::CheckResults checks;
  const Json tampered = timeline_of(evidence, &checks);
  const Json& rtmr3 = reg(tampered, 3);
  EXPECT_EQ(rtmr3["outcome"], "fail");
  ASSERT_EQ(rtmr3["events"], lines + 1);
  EXPECT_EQ(rtmr3["proven"], lines);
  EXPECT_EQ(rtmr3["rows"][lines]["status"], "diverges");
  EXPECT_EQ(rtmr3["rows"][lines]["meaning"], "github.com/intel/ACON AddManifest sha384/forged");
  EXPECT_EQ(rtmr3["divergent"]["number"], lines + 1);

  const Json model = model_of(tampered, checks);
  const std::string page = html_report(model);
  EXPECT_NE(page.find("<tr class=\"diverged\">"), std::string::npos);
  EXPECT_NE(page.find("replay diverges here"), std::string::npos);
  const std::string text = terminal_report(model, false);
  EXPECT_NE(text.find("replay diverges at event " + std::to_string(lines + 1) +
                      " (text_aael line " + std::to_string(lines + 1) +
                      ", AAEL): github.com/intel/ACON AddManifest sha384/forged"),
            std::string::npos)
      << text;
}

// Runtime TCG2 records written by eventlog's writer, carrying hostile text.
Bytes hostile_runtime_records() {
  const HashAlg sha384[] = {HashAlg::sha384};
  Bytes out = *eventlog::aael_record(
      4, HashAlg::sha384,
      {"github.com/intel/ACON", "AddManifest", "<script>alert(1)</script> \x1b[2J"});
  append(out, *eventlog::measured_record(2, eventlog::ev::kEfiAction, sha384,
                                         as_bytes("\"><img src=x onerror=alert(1)>")));
  return out;
}

TEST(EventTimeline, HostileEventTextStaysEscaped) {
  Evidence evidence = cc_trusted_api(true);
  evidence.tdx.runtime_aael = hostile_runtime_records();
  appraisal::CheckResults checks;
  const Json timeline = timeline_of(evidence, &checks);
  // RTMR3 is zero in the quote: the record is logged after it, so replay diverges there.
  const Json& rtmr3 = reg(timeline, 3);
  ASSERT_EQ(rtmr3["events"], 1u);
  EXPECT_EQ(rtmr3["rows"][0]["source"], "aael");
  EXPECT_EQ(rtmr3["rows"][0]["status"], "diverges");
  EXPECT_EQ(rtmr3["rows"][0]["meaning"],
            "github.com/intel/ACON AddManifest <script>alert(1)</script> \x1b[2J");
  const Json& rtmr1 = reg(timeline, 1);
  ASSERT_EQ(rtmr1["events"], 9u);
  EXPECT_EQ(rtmr1["rows"][8]["meaning"], "\"><img src=x onerror=alert(1)>");
  EXPECT_EQ(rtmr1["rows"][8]["status"], "diverges");
  EXPECT_EQ(rtmr1["proven"], 8u);

  const Json model = model_of(timeline, checks);
  const std::string page = html_report(model);
  for (const char* tag : {"<script", "<img"}) EXPECT_EQ(page.find(tag), std::string::npos) << tag;
  EXPECT_EQ(page.find('\x1b'), std::string::npos);
  EXPECT_NE(page.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(page.find("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"), std::string::npos);
  const std::string text = terminal_report(model, false);
  EXPECT_EQ(text.find('\x1b'), std::string::npos);
  EXPECT_NE(text.find("<script>alert(1)</script>"), std::string::npos);
}

TEST(EventTimeline, RowsPerRegisterAreCapped) {
  Evidence evidence = cc_trusted_api(true);
  Bytes records;
  const size_t count = kMaxTimelineRows + 25;
  for (size_t i = 0; i < count; ++i)
    append(records, *eventlog::aael_record(4, HashAlg::sha384,
                                           {"example.org", "Op", "n" + std::to_string(i)}));
  evidence.tdx.runtime_aael = records;
  const Json timeline = timeline_of(evidence);
  const Json& rtmr3 = reg(timeline, 3);
  EXPECT_EQ(rtmr3["events"], count);
  EXPECT_EQ(rtmr3["rows"].size(), kMaxTimelineRows);
  EXPECT_EQ(rtmr3["more"], 25u);
  EXPECT_EQ(rtmr3["divergent"]["number"], 1);
  const std::string page = html_report(model_of(timeline, {}));
  EXPECT_NE(page.find("… 25 more events"), std::string::npos);
  // A divergent row past the cap is still named under the table.
  EXPECT_EQ(page.find("Replay diverges at event"), std::string::npos);
  Json past_cap = timeline;
  past_cap["registers"][3]["divergent"]["number"] = kMaxTimelineRows + 7;
  EXPECT_NE(html_report(model_of(past_cap, {}))
                .find("Replay diverges at event " + std::to_string(kMaxTimelineRows + 7)),
            std::string::npos);
}

TEST(EventTimeline, VtpmEventsPerPcr) {
  const Evidence evidence = test::stored_vtpm(Time{}).evidence;
  appraisal::CheckResults checks = appraisal::check_vtpm_replay(evidence.vtpm).registers;
  Json timeline = event_timeline(evidence, checks);
  EXPECT_EQ(timeline["notes"], Json::array());
  ASSERT_EQ(timeline["registers"].size(), 3u);  // PCRs 0, 4, 7, in order
  const Json& pcr0 = reg(timeline, 0);
  EXPECT_EQ(pcr0["register"], "pcr0");
  EXPECT_EQ(pcr0["outcome"], "pass");
  ASSERT_EQ(pcr0["events"], 2u);
  EXPECT_EQ(pcr0["proven"], 2u);
  EXPECT_EQ(pcr0["rows"][0]["type"], "EV_ACTION");
  EXPECT_EQ(pcr0["rows"][0]["meaning"], "firmware");
  EXPECT_EQ(pcr0["rows"][1]["meaning"], "separator");
  EXPECT_EQ(pcr0["rows"][1]["where"].get<std::string>().rfind("log record #4 at offset ", 0), 0u);
  EXPECT_EQ(reg(timeline, 1)["register"], "pcr4");
  EXPECT_EQ(reg(timeline, 2)["rows"][0]["meaning"], "secure-boot-config");

  // Without the last measurement PCR 0 no longer replays: nothing in it is covered.
  const Evidence missing = test::stored_vtpm(Time{}, false).evidence;
  checks = appraisal::check_vtpm_replay(missing.vtpm).registers;
  timeline = event_timeline(missing, checks);
  EXPECT_EQ(reg(timeline, 0)["outcome"], "fail");
  EXPECT_EQ(reg(timeline, 0)["proven"], 0u);
  EXPECT_EQ(reg(timeline, 0)["rows"][0]["status"], "not_covered");
  EXPECT_TRUE(reg(timeline, 0)["divergent"].is_null());
  EXPECT_EQ(reg(timeline, 1)["proven"], 1u);
}

TEST(EventTimeline, OtherPlatformsAndUnparsableLogsGiveNotes) {
  Evidence sgx;
  sgx.platform = Platform::sgx;
  const Json none = event_timeline(sgx, {});
  EXPECT_EQ(none["registers"], Json::array());
  EXPECT_EQ(none["notes"].size(), 1u);

  Evidence broken = cc_trusted_api(false);
  broken.tdx.ccel = Bytes{1, 2, 3};
  broken.tdx.ima_log = "not an IMA line";
  const Json timeline = timeline_of(broken);
  ASSERT_EQ(timeline["notes"].size(), 2u);
  EXPECT_TRUE(timeline["notes"][0].get<std::string>().starts_with("the event log does not parse"));
  EXPECT_TRUE(timeline["notes"][1].get<std::string>().starts_with("IMA log: "));
  for (const Json& r : timeline["registers"]) EXPECT_EQ(r["events"], 0u);

  // Both log forms at once: refused, as the appraisal refuses them.
  Evidence both = cc_trusted_api(false);
  both.tdx.cc_eventlog = both.tdx.ccel;
  const Json refused = timeline_of(both);
  ASSERT_EQ(refused["notes"].size(), 1u);
  EXPECT_NE(refused["notes"][0].get<std::string>().find("both given"), std::string::npos);
  EXPECT_EQ(reg(refused, 0)["outcome"], "error");
  EXPECT_EQ(reg(refused, 0)["events"], 0u);
}

}  // namespace
}  // namespace acon::report
