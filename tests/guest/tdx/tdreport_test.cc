// The stand-in kernel's TDREPORT against acon::tdx's parser, and the ioctl request codes checked
// against numbers written out by hand (_IOC encoding of the drivers' headers). The TDREPORT
// layout itself is tested with acon::tdx (tests/verifier/tdx/tdreport_test.cc).
#include <gtest/gtest.h>

#include "acon/guest/tdx.h"
#include "acon/tdx/tdreport.h"
#include "kernel_standin.h"

namespace acon::guest {
namespace {

TEST(TdReport, StandInReportCarriesTheTdState) {
  const test::TdState state = test::TdState::from_quote(test::template_quote());
  ReportData data{};
  data.fill(0x5a);
  const Bytes report = state.tdreport(data);
  auto parsed = tdx::parse_tdreport(report);
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
