// TDREPORT layout and the ioctl request codes, checked against numbers written out by hand
// (TDX module ABI TDREPORT_STRUCT; _IOC encoding of the drivers' headers).
#include <gtest/gtest.h>

#include "acon/guest/tdx.h"
#include "kernel_standin.h"

namespace acon::guest {
namespace {

// Each byte holds its own offset (mod 251, so that 48-byte fields are all distinct).
Bytes numbered_report() {
  Bytes r(1024);
  for (size_t i = 0; i < r.size(); ++i) r[i] = static_cast<uint8_t>(i % 251);
  r[0] = 0x81;
  return r;
}

size_t offset_in(const TdReport& report, ByteView field) {
  return static_cast<size_t>(field.data() - report.raw.data());
}

TEST(TdReport, FieldsSitAtTheTdxModuleOffsets) {
  const Bytes bytes = numbered_report();
  auto parsed = parse_tdreport(bytes);
  ASSERT_TRUE(parsed.ok()) << parsed.error().to_string();
  const TdReport& r = *parsed;
  struct Expect {
    ByteView field;
    size_t offset, size;
  };
  const Expect expected[] = {
      {r.report_type, 0, 4},
      {r.cpu_svn, 16, 16},
      {r.tee_tcb_info_hash, 32, 48},
      {r.tee_info_hash, 80, 48},
      {r.report_data, 128, 64},
      {r.mac, 224, 32},
      {r.tee_tcb_info, 256, 239},
      {r.tee_tcb_svn, 264, 16},
      {r.mr_seam, 280, 48},
      {r.mr_signer_seam, 328, 48},
      {r.seam_attributes, 376, 8},
      {r.td_attributes, 512, 8},
      {r.xfam, 520, 8},
      {r.mr_td, 528, 48},
      {r.mr_config_id, 576, 48},
      {r.mr_owner, 624, 48},
      {r.mr_owner_config, 672, 48},
      {r.rtmr[0], 720, 48},
      {r.rtmr[1], 768, 48},
      {r.rtmr[2], 816, 48},
      {r.rtmr[3], 864, 48},
      {r.servtd_hash, 912, 48},
  };
  for (const auto& e : expected) {
    EXPECT_EQ(offset_in(r, e.field), e.offset);
    EXPECT_EQ(e.field.size(), e.size) << "field at " << e.offset;
  }
  EXPECT_EQ(kTdReportRtmrOffset, 720u);
}

TEST(TdReport, RejectsWrongSizeAndType) {
  Bytes bytes = numbered_report();
  bytes.pop_back();
  auto short_report = parse_tdreport(bytes);
  ASSERT_FALSE(short_report.ok());
  EXPECT_EQ(short_report.error().code, Errc::parse);
  EXPECT_NE(short_report.error().message.find("1023 bytes"), std::string::npos);

  Bytes sgx = numbered_report();
  sgx[0] = 0x00;
  auto wrong_type = parse_tdreport(sgx);
  ASSERT_FALSE(wrong_type.ok());
  EXPECT_NE(wrong_type.error().message.find("report_type.type at offset 0: 0x00"),
            std::string::npos)
      << wrong_type.error().message;
}

TEST(TdReport, StandInReportCarriesTheTdState) {
  const test::TdState state = test::TdState::from_quote(test::template_quote());
  ReportData data{};
  data.fill(0x5a);
  const Bytes report = state.tdreport(data);
  auto parsed = parse_tdreport(report);
  ASSERT_TRUE(parsed.ok()) << parsed.error().to_string();
  EXPECT_EQ(Bytes(parsed->report_data.begin(), parsed->report_data.end()), Bytes(64, 0x5a));
  EXPECT_EQ(Bytes(parsed->mr_td.begin(), parsed->mr_td.end()), state.mr_td);
  EXPECT_EQ(Bytes(parsed->rtmr[3].begin(), parsed->rtmr[3].end()), state.rtmr[3]);
}

TEST(IoctlCodes, MatchTheDriversEncoding) {
  // dir << 30 | size << 16 | 'T' << 8 | nr, with read|write = 3 and read = 2.
  EXPECT_EQ(kTdxCmdGetReport0, (3ul << 30) | (1088ul << 16) | (0x54ul << 8) | 1);
  EXPECT_EQ(kTdxCmdExtendRtmr, (2ul << 30) | (49ul << 16) | (0x54ul << 8) | 3);
  EXPECT_EQ(kTdxCmdGetQuote, (2ul << 30) | (16ul << 16) | (0x54ul << 8) | 4);
  EXPECT_EQ(kTdxCmdGetReport0, test::kGetReport0Code);
  EXPECT_EQ(kTdxCmdExtendRtmr, test::kExtendRtmrCode);
  EXPECT_EQ(kTdxCmdGetQuote, test::kGetQuoteCode);
}

}  // namespace
}  // namespace acon::guest
