// "tdx-legacy" against the emulated /dev/tdx_guest driver (kernel_standin.h), which answers only
// the drivers' request codes and decodes every request struct by byte offset.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "acon/common/hash.h"
#include "acon/guest/tdx.h"
#include "acon/tdx/quote.h"
#include "kernel_standin.h"
#include "test_util.h"

namespace acon::guest {
namespace {

using test::kExtendRtmrCode;
using test::kGetQuoteCode;
using test::kGetReport0Code;

Bytes extended(const Bytes& reg, ByteView digest) {
  Bytes input = reg;
  input.insert(input.end(), digest.begin(), digest.end());
  return sha384(input);
}

Bytes to_vec(ByteView v) { return Bytes(v.begin(), v.end()); }

bool has(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

class TdxLegacyTest : public ::testing::Test {
 protected:
  TdxLegacyBackend make_backend() { return TdxLegacyBackend(driver.open(), tree.root()); }

  void expect_quote_error(const test::TdxGuestDriver::QuoteAnswer& answer, Errc code,
                          std::string_view part) {
    driver.set_quote_answer(answer);
    TdxLegacyBackend backend = make_backend();
    ReportData data{};
    data.fill(0x3c);
    auto quote = backend.quote(data);
    ASSERT_FALSE(quote.ok());
    EXPECT_EQ(quote.error().code, code) << quote.error().to_string();
    EXPECT_TRUE(has(quote.error().message, part)) << quote.error().message;
  }

  test::KernelTree tree;  // only for the CCEL and the device node
  test::TdxGuestDriver driver;
};

TEST_F(TdxLegacyTest, NamesItself) {
  TdxLegacyBackend backend = make_backend();
  EXPECT_EQ(backend.name(), "tdx-legacy");
  EXPECT_EQ(backend.register_kind(), RegisterKind::rtmr);
}

TEST_F(TdxLegacyTest, RoundTripExtendReadQuote) {
  TdxLegacyBackend backend = make_backend();
  Backend& b = backend;
  const test::TdState before = driver.state();
  const Bytes d1 = sha384(as_bytes("INIT sha384/" + std::string(96, '0')));
  const Bytes d2 = sha384(as_bytes("github.com/intel/ACON Finalize"));
  const Bytes d3 = sha384(as_bytes("rtmr2 record"));
  ASSERT_TRUE(b.extend(3, HashAlg::sha384, d1).ok());
  ASSERT_TRUE(b.extend(3, HashAlg::sha384, d2).ok());
  ASSERT_TRUE(b.extend(2, HashAlg::sha384, d3).ok());
  const Bytes expected3 = extended(extended(before.rtmr[3], d1), d2);

  auto rtmr3 = b.read(3, HashAlg::sha384);
  ASSERT_TRUE(rtmr3.ok()) << rtmr3.error().to_string();
  EXPECT_EQ(*rtmr3, expected3);
  auto rtmr2 = b.read(2, HashAlg::sha384);
  ASSERT_TRUE(rtmr2.ok());
  EXPECT_EQ(*rtmr2, extended(before.rtmr[2], d3));

  ReportData data{};
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i);
  auto quote = b.quote(data);
  ASSERT_TRUE(quote.ok()) << quote.error().to_string() << " / driver: " << driver.last_refusal();
  auto parsed = tdx::parse_quote(*quote);
  ASSERT_TRUE(parsed.ok()) << parsed.error().to_string();
  const tdx::TdReport10* td = parsed->td_report();
  ASSERT_NE(td, nullptr);
  EXPECT_EQ(to_vec(td->report_data), Bytes(data.begin(), data.end()));
  EXPECT_EQ(to_vec(td->rtmr[3]), expected3);
  EXPECT_EQ(to_vec(td->rtmr[2]), *rtmr2);
  EXPECT_EQ(to_vec(td->mr_td), before.mr_td);

  const std::vector<unsigned long> expected_requests = {
      kExtendRtmrCode, kExtendRtmrCode, kExtendRtmrCode, kGetReport0Code,
      kGetReport0Code, kGetReport0Code, kGetQuoteCode};
  EXPECT_EQ(driver.requests(), expected_requests);
}

TEST_F(TdxLegacyTest, GetQuoteRequestIsFramedLikeAcond) {
  TdxLegacyBackend backend = make_backend();
  ReportData data{};
  data.fill(0xc3);
  auto quote = backend.quote(data);
  ASSERT_TRUE(quote.ok()) << quote.error().to_string() << " / driver: " << driver.last_refusal();
  const auto& seen = driver.last_quote_request();
  EXPECT_EQ(seen.buffer_len, 0x4000u);
  EXPECT_EQ(seen.version, 1u);
  EXPECT_EQ(seen.status, 0u);
  EXPECT_EQ(seen.in_len, 4u + 24u + 1024u);  // length field + GET_QUOTE_REQ
  EXPECT_EQ(seen.out_len, 0u);
  EXPECT_EQ(seen.length_field, 24u + 1024u);
  EXPECT_EQ(seen.major, 1u);
  EXPECT_EQ(seen.minor, 0u);
  EXPECT_EQ(seen.type, 0u);  // GET_QUOTE_REQ
  EXPECT_EQ(seen.size, 24u + 1024u);
  EXPECT_EQ(seen.error_code, 0u);
  EXPECT_EQ(seen.report_size, 1024u);
  EXPECT_EQ(seen.id_list_size, 0u);
  auto tdreport = tdx::parse_tdreport(seen.tdreport);
  ASSERT_TRUE(tdreport.ok());
  EXPECT_EQ(to_vec(tdreport->report_data), Bytes(64, 0xc3));
}

TEST_F(TdxLegacyTest, SelectedIdPrecedesTheQuote) {
  test::TdxGuestDriver::QuoteAnswer answer;
  answer.selected_id = Bytes(16, 0xee);
  driver.set_quote_answer(answer);
  TdxLegacyBackend backend = make_backend();
  ReportData data{};
  data.fill(0x09);
  auto quote = backend.quote(data);
  ASSERT_TRUE(quote.ok()) << quote.error().to_string();
  EXPECT_EQ((*quote)[0], 0x04);  // the quote starts right after the id: version 4
  EXPECT_TRUE(tdx::parse_quote(*quote).ok());
}

TEST_F(TdxLegacyTest, ReadsComeFromTheTdreport) {
  TdxLegacyBackend backend = make_backend();
  const test::TdState state = driver.state();
  for (uint32_t i = 0; i < 4; ++i) {
    auto value = backend.read(i, HashAlg::sha384);
    ASSERT_TRUE(value.ok());
    EXPECT_EQ(*value, state.rtmr[i]) << "RTMR" << i;
  }
  auto mrtd = backend.read_measurement(TdMeasurement::mr_td);
  auto owner_config = backend.read_measurement(TdMeasurement::mr_owner_config);
  ASSERT_TRUE(mrtd.ok() && owner_config.ok());
  EXPECT_EQ(*mrtd, state.mr_td);
  EXPECT_EQ(*owner_config, state.mr_owner_config);
  EXPECT_EQ(driver.requests(), std::vector<unsigned long>(6, kGetReport0Code));
}

TEST_F(TdxLegacyTest, DriverRefusesRtmr0) {
  TdxLegacyBackend backend = make_backend();
  auto status = backend.extend(0, HashAlg::sha384, Bytes(48, 1));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, Errc::io);
  EXPECT_TRUE(has(status.error().message, "EXTEND_RTMR(RTMR0)")) << status.error().message;
  EXPECT_TRUE(has(status.error().message, "reserves RTMR0 and RTMR1"));
  EXPECT_EQ(driver.last_refusal(), "RTMR0/1 are not for user space");
}

TEST_F(TdxLegacyTest, BadArgumentsIssueNoIoctl) {
  TdxLegacyBackend backend = make_backend();
  auto bad_size = backend.extend(3, HashAlg::sha384, Bytes(47, 0));
  ASSERT_FALSE(bad_size.ok());
  EXPECT_EQ(bad_size.error().code, Errc::invalid_argument);
  EXPECT_TRUE(has(bad_size.error().message, "47 bytes"));
  EXPECT_EQ(backend.extend(3, HashAlg::sm3, Bytes(32, 0)).error().code, Errc::unsupported);
  EXPECT_EQ(backend.extend(7, HashAlg::sha384, Bytes(48, 0)).error().code, Errc::invalid_argument);
  EXPECT_EQ(backend.read(4, HashAlg::sha384).error().code, Errc::invalid_argument);
  EXPECT_TRUE(driver.requests().empty());
}

TEST_F(TdxLegacyTest, UpstreamDriverHasOnlyGetReport0) {
  test::TdxGuestDriver upstream(test::TdxGuestDriver::Flavor::upstream);
  TdxLegacyBackend backend(upstream.open(), tree.root());
  auto extend = backend.extend(3, HashAlg::sha384, Bytes(48, 2));
  ASSERT_FALSE(extend.ok());
  EXPECT_EQ(extend.error().code, Errc::unsupported);
  EXPECT_TRUE(has(extend.error().message, "lacks EXTEND_RTMR")) << extend.error().message;
  auto quote = backend.quote(ReportData{});
  ASSERT_FALSE(quote.ok());
  EXPECT_EQ(quote.error().code, Errc::unsupported);
  EXPECT_TRUE(has(quote.error().message, "lacks GET_QUOTE")) << quote.error().message;
  EXPECT_TRUE(backend.report(ReportData{}).ok());
  EXPECT_TRUE(backend.read(3, HashAlg::sha384).ok());
}

TEST_F(TdxLegacyTest, QuoteStatusFromTheHost) {
  test::TdxGuestDriver::QuoteAnswer answer;
  answer.status = 0x8000000000000001ull;
  expect_quote_error(answer, Errc::unsupported, "GET_QUOTE_SERVICE_UNAVAILABLE");
  answer.status = 0xffffffffffffffffull;
  expect_quote_error(answer, Errc::io, "GET_QUOTE_IN_FLIGHT");
  answer.status = 0x8000000000000000ull;
  expect_quote_error(answer, Errc::io, "(GET_QUOTE_ERROR)");
  answer.status = 0x1234;
  expect_quote_error(answer, Errc::io, "undefined status");
}

TEST_F(TdxLegacyTest, QgsErrorCode) {
  test::TdxGuestDriver::QuoteAnswer answer;
  answer.qgs_error_code = 0x00012001;
  expect_quote_error(answer, Errc::io, "error_code at offset 40: 0x00012001 (QGS error)");
}

TEST_F(TdxLegacyTest, InconsistentLengthsAreRejected) {
  test::TdxGuestDriver::QuoteAnswer answer;
  answer.out_len_delta = 1;
  expect_quote_error(answer, Errc::parse, "message length at offset 24");
  answer = {};
  answer.length_field_delta = -1;
  expect_quote_error(answer, Errc::parse, "message length at offset 24");
  answer = {};
  answer.out_len_delta = 20000;
  expect_quote_error(answer, Errc::parse, "tdx_quote_hdr.out_len at offset 20");
  answer = {};
  answer.out_len_delta = -100000;  // wraps below the 4-byte length field
  expect_quote_error(answer, Errc::parse, "tdx_quote_hdr.out_len at offset 20");
  answer = {};
  answer.length_field_delta = -10;
  answer.out_len_delta = -10;  // consistent outer lengths, but the QGS size no longer fits
  expect_quote_error(answer, Errc::parse, "qgs_get_quote_resp.size at offset 36");
}

TEST_F(TdxLegacyTest, QuoteForOtherReportDataFails) {
  test::TdxGuestDriver::QuoteAnswer answer;
  answer.corrupt_report_data = true;
  expect_quote_error(answer, Errc::verify_failed, "quote.report_data at offset 568");
}

TEST_F(TdxLegacyTest, TdreportForOtherReportDataFails) {
  driver.set_wrong_report_data(true);
  TdxLegacyBackend backend = make_backend();
  ReportData data{};
  data.fill(0x44);
  auto report = backend.report(data);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.error().code, Errc::verify_failed);
  EXPECT_TRUE(has(report.error().message, "report_data at offset 128"));
}

TEST_F(TdxLegacyTest, MissingDevice) {
  auto backend = TdxLegacyBackend::open(tree.root());
  ASSERT_FALSE(backend.ok());
  EXPECT_EQ(backend.error().code, Errc::not_found);
  EXPECT_TRUE(has(backend.error().message, "dev/tdx_guest")) << backend.error().message;
}

TEST_F(TdxLegacyTest, RegularFileIsNoDevice) {
  // The production device: open(2) succeeds on a plain file, every ioctl(2) fails with ENOTTY.
  std::filesystem::create_directories(tree.root() / "dev");
  std::ofstream(tree.root() / "dev/tdx_guest") << "not a device";
  auto backend = TdxLegacyBackend::open(tree.root());
  ASSERT_TRUE(backend.ok()) << backend.error().to_string();
  auto extend = (*backend)->extend(3, HashAlg::sha384, Bytes(48, 3));
  ASSERT_FALSE(extend.ok());
  EXPECT_EQ(extend.error().code, Errc::unsupported);
  EXPECT_TRUE(has(extend.error().message, "errno 25")) << extend.error().message;
  auto report = (*backend)->report(ReportData{});
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.error().code, Errc::unsupported);
  EXPECT_TRUE(has(report.error().message, "TDX_CMD_GET_REPORT0"));
}

TEST_F(TdxLegacyTest, FirmwareEventLogIsTheCcel) {
  const Bytes ccel = acon::test::read_data_bytes("eventlog/cc-trusted-api/ccel_data.bin");
  ASSERT_FALSE(ccel.empty());
  tree.install_ccel(ccel);
  TdxLegacyBackend backend = make_backend();
  auto log = backend.firmware_event_log();
  ASSERT_TRUE(log.ok()) << log.error().to_string();
  EXPECT_EQ(*log, ccel);
}

}  // namespace
}  // namespace acon::guest
