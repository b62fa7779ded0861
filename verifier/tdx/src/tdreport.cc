// TDREPORT_STRUCT parse and write from one field table (layout in tdreport.h).
#include "acon/tdx/tdreport.h"

#include <algorithm>
#include <string>

namespace acon::tdx {
namespace {

struct Field {
  ByteView TdReportFields::*member;
  size_t offset, size;
  const char* name;
};

// Every named field except the RTMRs (an array, handled next to the table), in offset order.
constexpr Field kFields[] = {
    {&TdReportFields::report_type, 0, 4, "tdreport.report_type"},
    {&TdReportFields::cpu_svn, 16, 16, "tdreport.cpu_svn"},
    {&TdReportFields::tee_tcb_info_hash, 32, 48, "tdreport.tee_tcb_info_hash"},
    {&TdReportFields::tee_info_hash, 80, 48, "tdreport.tee_info_hash"},
    {&TdReportFields::report_data, kTdReportDataOffset, 64, "tdreport.report_data"},
    {&TdReportFields::mac, kTdReportMacOffset, 32, "tdreport.mac"},
    {&TdReportFields::tee_tcb_info_valid, kTeeTcbInfoOffset, 8, "tdreport.tee_tcb_info_valid"},
    {&TdReportFields::tee_tcb_svn, kTeeTcbInfoOffset + 8, 16, "tdreport.tee_tcb_svn"},
    {&TdReportFields::mr_seam, kTeeTcbInfoOffset + 24, 48, "tdreport.mr_seam"},
    {&TdReportFields::mr_signer_seam, kTeeTcbInfoOffset + 72, 48, "tdreport.mr_signer_seam"},
    {&TdReportFields::seam_attributes, kTeeTcbInfoOffset + 120, 8, "tdreport.seam_attributes"},
    {&TdReportFields::tee_tcb_svn2, kTeeTcbInfoOffset + 128, 16, "tdreport.tee_tcb_svn2"},
    {&TdReportFields::td_attributes, kTdInfoOffset, 8, "tdreport.td_attributes"},
    {&TdReportFields::xfam, kTdInfoOffset + 8, 8, "tdreport.xfam"},
    {&TdReportFields::mr_td, kTdInfoOffset + 16, 48, "tdreport.mr_td"},
    {&TdReportFields::mr_config_id, kTdInfoOffset + 64, 48, "tdreport.mr_config_id"},
    {&TdReportFields::mr_owner, kTdInfoOffset + 112, 48, "tdreport.mr_owner"},
    {&TdReportFields::mr_owner_config, kTdInfoOffset + 160, 48, "tdreport.mr_owner_config"},
    {&TdReportFields::servtd_hash, kTdInfoOffset + 400, 48, "tdreport.servtd_hash"},
};

std::string rtmr_name(size_t i) { return "tdreport.rtmr[" + std::to_string(i) + "]"; }

// Copies `value` to `at` in `out` (zeros stay when it is empty); a size other than `size` is an
// error naming the field.
Status place(Bytes& out, size_t at, size_t size, ByteView value, std::string_view name) {
  if (value.empty()) return {};
  if (value.size() != size) {
    return make_error(Errc::invalid_argument, std::string(name) + ": " +
                                                  std::to_string(value.size()) +
                                                  " bytes, expected " + std::to_string(size));
  }
  std::copy(value.begin(), value.end(), out.begin() + static_cast<ptrdiff_t>(at));
  return {};
}

Result<Bytes> write_all(const TdReportFields& fields) {
  if (!fields.report_type.empty() && fields.report_type.size() == 4 &&
      fields.report_type[0] != kTdReportTypeTdx) {
    return make_error(Errc::invalid_argument,
                      "tdreport.report_type.type: " + hex_literal(fields.report_type[0], 2) +
                          ", a TDREPORT is type 0x81 (TDX)");
  }
  Bytes out(kTdReportSize, 0);
  out[0] = kTdReportTypeTdx;
  for (const Field& f : kFields) {
    ACON_CHECK(place(out, f.offset, f.size, fields.*f.member, f.name));
  }
  for (size_t i = 0; i < kRtmrCount; ++i) {
    ACON_CHECK(
        place(out, kTdReportRtmrOffset + i * kRtmrSize, kRtmrSize, fields.rtmr[i], rtmr_name(i)));
  }
  return out;
}

}  // namespace

Result<TdReport> parse_tdreport(ByteView bytes) {
  if (bytes.size() != kTdReportSize) {
    return make_error(Errc::parse, "tdreport: " + std::to_string(bytes.size()) +
                                       " bytes, a TDREPORT has exactly 1024");
  }
  TdReport out;
  out.raw = bytes;
  for (const Field& f : kFields) out.*f.member = bytes.subspan(f.offset, f.size);
  if (out.report_type[0] != kTdReportTypeTdx) {
    return make_error(Errc::parse, "tdreport.report_type.type at offset 0: " +
                                       hex_literal(out.report_type[0], 2) +
                                       ", expected 0x81 (TDX)");
  }
  for (size_t i = 0; i < kRtmrCount; ++i) {
    out.rtmr[i] = bytes.subspan(kTdReportRtmrOffset + i * kRtmrSize, kRtmrSize);
  }
  out.report_mac_struct = bytes.first(kReportMacStructSize);
  out.mac_input = bytes.first(kTdReportMacOffset);
  out.tee_tcb_info = bytes.subspan(kTeeTcbInfoOffset, kTeeTcbInfoSize);
  out.td_info = bytes.subspan(kTdInfoOffset, kTdInfoSize);
  return out;
}

Result<Bytes> write_tdreport(const TdReportFields& fields) { return write_all(fields); }

Result<Bytes> write_tee_tcb_info(const TdReportFields& fields) {
  ACON_TRY(Bytes report, write_all(fields));
  return Bytes(report.begin() + kTeeTcbInfoOffset,
               report.begin() + kTeeTcbInfoOffset + kTeeTcbInfoSize);
}

Result<Bytes> write_td_info(const TdReportFields& fields) {
  ACON_TRY(Bytes report, write_all(fields));
  return Bytes(report.begin() + kTdInfoOffset, report.end());
}

TdReport15 quote_body_from_tdreport(const TdReport& report) {
  TdReport15 body;
  body.tee_tcb_svn = report.tee_tcb_svn;
  body.mr_seam = report.mr_seam;
  body.mr_signer_seam = report.mr_signer_seam;
  body.seam_attributes = report.seam_attributes;
  body.td_attributes = report.td_attributes;
  body.xfam = report.xfam;
  body.mr_td = report.mr_td;
  body.mr_config_id = report.mr_config_id;
  body.mr_owner = report.mr_owner;
  body.mr_owner_config = report.mr_owner_config;
  body.rtmr = report.rtmr;
  body.report_data = report.report_data;
  body.tee_tcb_svn2 = report.tee_tcb_svn2;
  body.mr_service_td = report.servtd_hash;
  return body;
}

}  // namespace acon::tdx
