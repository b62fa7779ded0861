// "tdx-tsm" against the kernel stand-in (kernel_standin.h): a temporary configfs-tsm / sysfs
// tree whose answers a watcher thread produces the way the kernel does inside write().
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "acon/common/hash.h"
#include "acon/guest/tdx.h"
#include "acon/tdx/quote.h"
#include "kernel_standin.h"
#include "test_util.h"

namespace acon::guest {
namespace {

using namespace std::chrono_literals;

Bytes extended(const Bytes& reg, ByteView digest) {
  Bytes input = reg;
  input.insert(input.end(), digest.begin(), digest.end());
  return sha384(input);
}

Bytes to_vec(ByteView v) { return Bytes(v.begin(), v.end()); }

// REPORTDATA as acond makes it: SHA384(attestation data JSON) || 16 zero bytes.
ReportData acond_report_data(std::string_view json) {
  ReportData data{};
  const Bytes h = sha384(as_bytes(json));
  std::copy(h.begin(), h.end(), data.begin());
  return data;
}

bool has(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

bool dir_empty(const std::filesystem::path& dir) {
  return std::filesystem::directory_iterator(dir) == std::filesystem::directory_iterator();
}

class TdxTsmTest : public ::testing::Test {
 protected:
  TdxTsmOptions options() const {
    TdxTsmOptions o;
    o.root = tree.root();
    o.generation_wait = generation_wait;
    return o;
  }

  // Quotes and expects a failure of `code` whose message mentions `part`; the report item must
  // be gone afterwards all the same.
  void expect_quote_error(Errc code, std::string_view part) {
    TdxTsmBackend backend(options());
    ReportData data{};
    data.fill(0x11);
    auto quote = backend.quote(data);
    ASSERT_FALSE(quote.ok());
    EXPECT_EQ(quote.error().code, code) << quote.error().to_string();
    EXPECT_TRUE(has(quote.error().message, part)) << quote.error().message;
    EXPECT_EQ(tree.created_items().size(), 1u);
    EXPECT_EQ(tree.removed_items(), tree.created_items());
    EXPECT_TRUE(dir_empty(tree.report_dir()));
  }

  test::KernelTree tree;
  // Generous: the wait ends as soon as the stand-in thread has answered.
  std::chrono::milliseconds generation_wait = 2000ms;
};

TEST_F(TdxTsmTest, NamesItself) {
  TdxTsmBackend backend(options());
  Backend& b = backend;
  EXPECT_EQ(b.name(), "tdx-tsm");
  EXPECT_EQ(b.register_kind(), RegisterKind::rtmr);
  EXPECT_EQ(backend.report_dir(), tree.report_dir());
  EXPECT_EQ(backend.measurements_dir(), tree.measurements_dir());
}

TEST_F(TdxTsmTest, ExtendWritesExactlyTheDigestAndReadShowsTheRegister) {
  TdxTsmBackend backend(options());
  const Bytes initial = tree.state().rtmr[3];
  const Bytes digest = sha384(as_bytes("github.com/intel/ACON Finalize"));
  ASSERT_TRUE(backend.extend(3, HashAlg::sha384, digest).ok());
  ASSERT_TRUE(tree.wait_for_rtmr_writes(1));
  const auto writes = tree.rtmr_writes();
  ASSERT_EQ(writes.size(), 1u);
  EXPECT_EQ(writes[0].first, 3u);
  EXPECT_EQ(writes[0].second, digest);

  auto value = backend.read(3, HashAlg::sha384);
  ASSERT_TRUE(value.ok()) << value.error().to_string();
  EXPECT_EQ(*value, extended(initial, digest));
  EXPECT_NE(*value, initial);
}

TEST_F(TdxTsmTest, RoundTripExtendReadQuote) {
  TdxTsmBackend backend(options());
  Backend& b = backend;
  const test::TdState before = tree.state();
  // acond's RTMR3 records: the INIT line, then one AddManifest line.
  const std::string lines[] = {"INIT sha384/" + std::string(96, '0'),
                               "github.com/intel/ACON AddManifest sha384/" + std::string(96, 'a') +
                                   "/" + std::string(96, 'b')};
  // The kernel extends inside write(); the stand-in does so asynchronously (and inotify merges
  // two unread writes to one file), so each extend waits for the stand-in before the next.
  size_t writes = 0;
  Bytes expected3 = before.rtmr[3];
  for (const auto& line : lines) {
    const Bytes digest = sha384(as_bytes(line));
    ASSERT_TRUE(b.extend(3, HashAlg::sha384, digest).ok());
    ASSERT_TRUE(tree.wait_for_rtmr_writes(++writes));
    expected3 = extended(expected3, digest);
  }
  const Bytes digest2 = sha384(as_bytes("rtmr2 record"));
  ASSERT_TRUE(b.extend(2, HashAlg::sha384, digest2).ok());
  ASSERT_TRUE(tree.wait_for_rtmr_writes(++writes));

  auto rtmr3 = b.read(3, HashAlg::sha384);
  auto rtmr2 = b.read(2, HashAlg::sha384);
  ASSERT_TRUE(rtmr3.ok() && rtmr2.ok());
  EXPECT_EQ(*rtmr3, expected3);
  EXPECT_EQ(*rtmr2, extended(before.rtmr[2], digest2));

  const ReportData data = acond_report_data(R"({"api_version":"1.0.0"})");
  auto quote = b.quote(data);
  ASSERT_TRUE(quote.ok()) << quote.error().to_string();
  auto parsed = tdx::parse_quote(*quote);
  ASSERT_TRUE(parsed.ok()) << parsed.error().to_string();
  ASSERT_TRUE(parsed->is_tdx());
  const tdx::TdReport10* td = parsed->td_report();
  ASSERT_NE(td, nullptr);
  EXPECT_EQ(to_vec(td->report_data), Bytes(data.begin(), data.end()));
  EXPECT_EQ(to_vec(td->rtmr[3]), expected3);
  EXPECT_EQ(to_vec(td->rtmr[2]), *rtmr2);
  EXPECT_EQ(to_vec(td->rtmr[0]), before.rtmr[0]);
  EXPECT_EQ(to_vec(td->mr_td), before.mr_td);

  // One report item, removed again.
  const auto created = tree.created_items();
  ASSERT_EQ(created.size(), 1u);
  EXPECT_EQ(created[0].rfind("acon-", 0), 0u) << created[0];
  EXPECT_EQ(tree.removed_items(), created);
  EXPECT_TRUE(dir_empty(tree.report_dir()));
}

TEST_F(TdxTsmTest, EachQuoteUsesItsOwnReportItem) {
  TdxTsmOptions o = options();
  o.report_name_prefix = "acond";
  TdxTsmBackend backend(o);
  ReportData first{}, second{};
  first.fill(0x01);
  second.fill(0x02);
  auto q1 = backend.quote(first);
  auto q2 = backend.quote(second);
  ASSERT_TRUE(q1.ok() && q2.ok());
  EXPECT_EQ(Bytes(q1->begin() + 568, q1->begin() + 632), Bytes(64, 0x01));
  EXPECT_EQ(Bytes(q2->begin() + 568, q2->begin() + 632), Bytes(64, 0x02));
  const auto created = tree.created_items();
  ASSERT_EQ(created.size(), 2u);
  EXPECT_NE(created[0], created[1]);
  EXPECT_EQ(created[0].rfind("acond-", 0), 0u);
  EXPECT_EQ(tree.removed_items(), created);
  EXPECT_EQ(tree.outblobs_produced(), 2u);
}

TEST_F(TdxTsmTest, ReadsTheStaticMeasurements) {
  TdxTsmBackend backend(options());
  const test::TdState state = tree.state();
  auto mrtd = backend.read_measurement(TdMeasurement::mr_td);
  auto owner = backend.read_measurement(TdMeasurement::mr_owner);
  auto config = backend.read_measurement(TdMeasurement::mr_config_id);
  auto owner_config = backend.read_measurement(TdMeasurement::mr_owner_config);
  ASSERT_TRUE(mrtd.ok() && owner.ok() && config.ok() && owner_config.ok());
  EXPECT_EQ(*mrtd, state.mr_td);
  EXPECT_EQ(*owner, state.mr_owner);
  EXPECT_EQ(*config, state.mr_config_id);
  EXPECT_EQ(*owner_config, state.mr_owner_config);
}

TEST_F(TdxTsmTest, MissingProviderFails) {
  test::KernelTree::Behaviour behaviour;
  behaviour.create_provider = false;
  tree.set_behaviour(behaviour);
  expect_quote_error(Errc::not_found, "provider");
}

TEST_F(TdxTsmTest, WrongProviderFails) {
  test::KernelTree::Behaviour behaviour;
  behaviour.provider = "sev_guest\n";
  tree.set_behaviour(behaviour);
  expect_quote_error(Errc::unsupported, "\"sev_guest\"");
  EXPECT_EQ(tree.outblobs_produced(), 0u);  // nothing was written to inblob
}

TEST_F(TdxTsmTest, ShortOutblobFails) {
  test::KernelTree::Behaviour behaviour;
  behaviour.truncate_outblob = 100;
  tree.set_behaviour(behaviour);
  expect_quote_error(Errc::parse, "quote.body.mr_seam: needs 48 bytes at offset 64");
}

TEST_F(TdxTsmTest, ConcurrentWriterIsDetectedByGeneration) {
  test::KernelTree::Behaviour behaviour;
  behaviour.generation_step = 2;
  tree.set_behaviour(behaviour);
  expect_quote_error(Errc::io, "went from 0 to 2 across one inblob write: another writer");
}

TEST_F(TdxTsmTest, GenerationThatNeverMovesTimesOut) {
  test::KernelTree::Behaviour behaviour;
  behaviour.generation_step = 0;
  tree.set_behaviour(behaviour);
  generation_wait = 100ms;
  expect_quote_error(Errc::io, "stayed at 0 after the inblob write");
}

TEST_F(TdxTsmTest, OutblobForOtherReportDataFails) {
  test::KernelTree::Behaviour behaviour;
  behaviour.corrupt_report_data = true;
  tree.set_behaviour(behaviour);
  expect_quote_error(Errc::verify_failed, "quote.report_data at offset 568");
}

TEST_F(TdxTsmTest, RejectsBadExtendArgumentsWithoutWriting) {
  TdxTsmBackend backend(options());
  const Bytes short_digest(32, 0xaa);
  auto bad_size = backend.extend(3, HashAlg::sha384, short_digest);
  ASSERT_FALSE(bad_size.ok());
  EXPECT_EQ(bad_size.error().code, Errc::invalid_argument);
  EXPECT_TRUE(has(bad_size.error().message, "32 bytes")) << bad_size.error().message;

  auto bad_alg = backend.extend(3, HashAlg::sha256, sha256(as_bytes("x")));
  ASSERT_FALSE(bad_alg.ok());
  EXPECT_EQ(bad_alg.error().code, Errc::unsupported);
  auto bad_index = backend.extend(4, HashAlg::sha384, Bytes(48, 0));
  ASSERT_FALSE(bad_index.ok());
  EXPECT_EQ(bad_index.error().code, Errc::invalid_argument);
  EXPECT_EQ(backend.read(4, HashAlg::sha384).error().code, Errc::invalid_argument);
  EXPECT_EQ(backend.read(0, HashAlg::sha512).error().code, Errc::unsupported);

  // A valid extend afterwards is the first and only write the stand-in saw.
  const Bytes good(48, 0x42);
  ASSERT_TRUE(backend.extend(1, HashAlg::sha384, good).ok());
  ASSERT_TRUE(tree.wait_for_rtmr_writes(1));
  const auto writes = tree.rtmr_writes();
  ASSERT_EQ(writes.size(), 1u);
  EXPECT_EQ(writes[0].first, 1u);
  EXPECT_EQ(writes[0].second, good);
}

TEST_F(TdxTsmTest, MissingRegisterFileFails) {
  std::filesystem::remove(tree.measurements_dir() / "rtmr0:sha384");
  TdxTsmBackend backend(options());
  auto value = backend.read(0, HashAlg::sha384);
  ASSERT_FALSE(value.ok());
  EXPECT_EQ(value.error().code, Errc::not_found);
  EXPECT_TRUE(has(value.error().message, "rtmr0:sha384"));
}

TEST_F(TdxTsmTest, MissingConfigfsIsUnsupported) {
  std::filesystem::remove(tree.report_dir());
  TdxTsmBackend backend(options());
  auto quote = backend.quote(ReportData{});
  ASSERT_FALSE(quote.ok());
  EXPECT_EQ(quote.error().code, Errc::unsupported);
  EXPECT_TRUE(has(quote.error().message, "CONFIG_TSM_REPORTS")) << quote.error().message;
}

TEST_F(TdxTsmTest, ReportNeedsTheDevice) {
  ReportData data{};
  data.fill(0x77);
  {
    TdxTsmBackend backend(options());  // the tree has no dev/tdx_guest
    auto report = backend.report(data);
    ASSERT_FALSE(report.ok());
    EXPECT_EQ(report.error().code, Errc::unsupported);
    EXPECT_TRUE(has(report.error().message, "TDX_CMD_GET_REPORT0")) << report.error().message;
    EXPECT_TRUE(has(report.error().message, "dev/tdx_guest")) << report.error().message;
  }
  test::TdxGuestDriver driver(test::TdxGuestDriver::Flavor::upstream);
  TdxTsmOptions o = options();
  o.open_device = [&]() -> Result<std::unique_ptr<IoctlDevice>> { return driver.open(); };
  TdxTsmBackend backend(o);
  auto report = backend.report(data);
  ASSERT_TRUE(report.ok()) << report.error().to_string();
  auto parsed = tdx::parse_tdreport(*report);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(to_vec(parsed->report_data), Bytes(64, 0x77));
  EXPECT_EQ(driver.requests(), std::vector<unsigned long>{test::kGetReport0Code});
}

TEST_F(TdxTsmTest, FirmwareEventLogIsTheCcel) {
  TdxTsmBackend backend(options());
  auto missing = backend.firmware_event_log();
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::not_found);
  EXPECT_TRUE(has(missing.error().message, "sys/firmware/acpi/tables/data/CCEL"));

  const Bytes ccel = acon::test::read_data_bytes("eventlog/trustee/CCEL_data");
  ASSERT_FALSE(ccel.empty());
  tree.install_ccel(ccel);
  auto log = backend.firmware_event_log();
  ASSERT_TRUE(log.ok()) << log.error().to_string();
  EXPECT_EQ(*log, ccel);
}

}  // namespace
}  // namespace acon::guest
