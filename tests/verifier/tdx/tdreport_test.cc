// TDREPORT_STRUCT parse and write (acon/tdx/tdreport.h), checked against offsets written out by
// hand from the TDX module ABI's TDREPORT_STRUCT table.
#include "acon/tdx/tdreport.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace acon::tdx {
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

struct Expect {
  ByteView field;
  size_t offset, size;
};

std::vector<Expect> every_field(const TdReport& r) {
  return {
      {r.report_type, 0, 4},
      {r.cpu_svn, 16, 16},
      {r.tee_tcb_info_hash, 32, 48},
      {r.tee_info_hash, 80, 48},
      {r.report_data, 128, 64},
      {r.mac, 224, 32},
      {r.tee_tcb_info_valid, 256, 8},
      {r.tee_tcb_svn, 264, 16},
      {r.mr_seam, 280, 48},
      {r.mr_signer_seam, 328, 48},
      {r.seam_attributes, 376, 8},
      {r.tee_tcb_svn2, 384, 16},
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
      // The covered regions.
      {r.report_mac_struct, 0, 256},
      {r.mac_input, 0, 224},
      {r.tee_tcb_info, 256, 239},
      {r.td_info, 512, 512},
  };
}

TEST(TdReport, FieldsSitAtTheTdxModuleOffsets) {
  const Bytes bytes = numbered_report();
  auto parsed = parse_tdreport(bytes);
  ASSERT_TRUE(parsed.ok()) << parsed.error().to_string();
  for (const auto& e : every_field(*parsed)) {
    EXPECT_EQ(offset_in(*parsed, e.field), e.offset);
    EXPECT_EQ(e.field.size(), e.size) << "field at " << e.offset;
  }
  EXPECT_EQ(kTdReportRtmrOffset, 720u);
  EXPECT_EQ(kTdReportDataOffset, 128u);
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

TEST(TdReportWrite, WritingParsedFieldsGivesBackTheBytesExceptReservedOnes) {
  const Bytes bytes = numbered_report();
  auto parsed = parse_tdreport(bytes);
  ASSERT_TRUE(parsed.ok());
  auto written = write_tdreport(*parsed);
  ASSERT_TRUE(written.ok()) << written.error().to_string();
  ASSERT_EQ(written->size(), kTdReportSize);
  // Every named field round-trips; reserved bytes are written as zeros.
  auto reparsed = parse_tdreport(*written);
  ASSERT_TRUE(reparsed.ok());
  const auto want = every_field(*parsed);
  const auto got = every_field(*reparsed);
  for (size_t i = 0; i + 4 < want.size(); ++i) {  // the covered regions include reserved bytes
    EXPECT_EQ(hex_encode(got[i].field), hex_encode(want[i].field)) << "field at " << want[i].offset;
  }
  std::vector<bool> named(kTdReportSize, false);
  for (size_t i = 0; i + 4 < want.size(); ++i) {
    for (size_t j = 0; j < want[i].size; ++j) named[want[i].offset + j] = true;
  }
  for (size_t at = 0; at < kTdReportSize; ++at) {
    if (!named[at]) {
      EXPECT_EQ((*written)[at], 0) << "reserved byte at " << at;
    }
  }
}

TEST(TdReportWrite, EmptyFieldsAreZerosAndTheTypeIsTdx) {
  auto written = write_tdreport(TdReportFields{});
  ASSERT_TRUE(written.ok());
  Bytes want(kTdReportSize, 0);
  want[0] = 0x81;
  EXPECT_EQ(*written, want);
}

TEST(TdReportWrite, SubStructuresAreTheReportsSlices) {
  const Bytes bytes = numbered_report();
  auto parsed = parse_tdreport(bytes);
  ASSERT_TRUE(parsed.ok());
  auto report = write_tdreport(*parsed);
  auto tcb_info = write_tee_tcb_info(*parsed);
  auto td_info = write_td_info(*parsed);
  ASSERT_TRUE(report.ok() && tcb_info.ok() && td_info.ok());
  EXPECT_EQ(hex_encode(*tcb_info), hex_encode(ByteView(*report).subspan(256, 239)));
  EXPECT_EQ(hex_encode(*td_info), hex_encode(ByteView(*report).subspan(512, 512)));
}

TEST(TdReportWrite, WrongSizesAndTypesNameTheField) {
  const Bytes short_mr(47, 1);
  TdReportFields f;
  f.mr_td = short_mr;
  auto bad = write_tdreport(f);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::invalid_argument);
  EXPECT_EQ(bad.error().message, "tdreport.mr_td: 47 bytes, expected 48");

  TdReportFields r;
  r.rtmr[2] = short_mr;
  bad = write_tdreport(r);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "tdreport.rtmr[2]: 47 bytes, expected 48");

  const Bytes sgx_type = {0x00, 0, 0, 0};
  TdReportFields t;
  t.report_type = sgx_type;
  bad = write_tdreport(t);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("report_type.type: 0x00"), std::string::npos);
}

TEST(TdReportQuoteBody, TakesEachFieldFromItsPlaceInTheReport) {
  const Bytes bytes = numbered_report();
  auto r = parse_tdreport(bytes);
  ASSERT_TRUE(r.ok());
  const TdReport15 body = quote_body_from_tdreport(*r);
  const std::pair<ByteView, size_t> fields[] = {
      {body.tee_tcb_svn, 264},     {body.mr_seam, 280},       {body.mr_signer_seam, 328},
      {body.seam_attributes, 376}, {body.td_attributes, 512}, {body.xfam, 520},
      {body.mr_td, 528},           {body.mr_config_id, 576},  {body.mr_owner, 624},
      {body.mr_owner_config, 672}, {body.rtmr[0], 720},       {body.rtmr[3], 864},
      {body.report_data, 128},     {body.tee_tcb_svn2, 384},  {body.mr_service_td, 912},
  };
  for (const auto& [field, offset] : fields) EXPECT_EQ(offset_in(*r, field), offset);
  // The CCEL register view of the body: MR index 0 is MRTD, 1..4 are RTMR0..3.
  const auto registers = ccel_registers(body);
  EXPECT_EQ(offset_in(*r, registers[0]), 528u);
  for (uint32_t i = 0; i < 4; ++i) {
    EXPECT_EQ(ccel_mr_index_of_rtmr(i), i + 1);
    EXPECT_EQ(offset_in(*r, registers[i + 1]), 720u + 48 * i);
  }
}

}  // namespace
}  // namespace acon::tdx
