// The simulated TD's TDREPORT and the simulated TD-QE's DCAP quotes. Layouts: TDX module ABI
// TDREPORT_STRUCT (docs/tdx-quote.md §7), quote layout docs/tdx-quote.md §2-§6; see
// docs/simulator.md.
#include <string>

#include "acon/common/hash.h"
#include "acon/common/reader.h"
#include "acon/common/signature.h"
#include "acon/tdx/quote.h"
#include "internal.h"

namespace acon::guest::sim {

namespace {

using detail::put;
using detail::put_zeros;

// TDREPORT_STRUCT offsets.
constexpr size_t kMacStructSize = 256;
constexpr size_t kTeeTcbInfoOffset = 256;
constexpr size_t kTeeTcbInfoSize = 239;
constexpr size_t kTdInfoOffset = 512;
constexpr size_t kTdInfoSize = 512;
constexpr size_t kCpuSvnOffset = 16;
constexpr size_t kTeeTcbInfoHashOffset = 32;
constexpr size_t kTdInfoHashOffset = 80;
constexpr size_t kReportDataOffset = 128;
constexpr size_t kMacOffset = 224;
constexpr uint8_t kReportTypeTdx = 0x81;

// TEE_TCB_INFO field offsets (relative).
constexpr size_t kTcbSvnRel = 8, kMrSeamRel = 24, kMrSignerSeamRel = 72, kSeamAttrRel = 120,
                 kTcbSvn2Rel = 128;
// TDINFO field offsets (relative).
constexpr size_t kTdAttrRel = 0, kXfamRel = 8, kMrTdRel = 16, kRtmrRel = 208, kServTdRel = 400;

// Intel's QE vendor ID (docs/tdx-quote.md §2): QVL checks it, so the simulated QE carries it too.
constexpr std::array<uint8_t, 16> kIntelQeVendorId = {
    0x93, 0x9A, 0x72, 0x33, 0xF7, 0x9C, 0x4C, 0xA9, 0x94, 0x0A, 0x0D, 0xB3, 0x95, 0x7F, 0x06, 0x07};

Bytes tee_tcb_info(const TdState& td) {
  Bytes out;
  // VALID: every field of this structure, TEE_TCB_SVN2 included, is meaningful.
  put_u64le(out, 0x1FF);
  put(out, td.tee_tcb_svn);
  put(out, td.mr_seam);
  put(out, td.mr_signer_seam);
  put_u64le(out, td.seam_attributes);
  put(out, td.tee_tcb_svn2);
  put_zeros(out, kTeeTcbInfoSize - out.size());
  return out;
}

Bytes td_info(const TdState& td) {
  Bytes out;
  put_u64le(out, td.td_attributes);
  put_u64le(out, td.xfam);
  put(out, td.mr_td);
  put(out, td.mr_config_id);
  put(out, td.mr_owner);
  put(out, td.mr_owner_config);
  for (const auto& rtmr : td.rtmr) put(out, rtmr);
  put(out, td.mr_service_td);
  put_zeros(out, kTdInfoSize - out.size());
  return out;
}

Error bad_report(std::string why) {
  return make_error(Errc::verify_failed, "sim: TDREPORT " + std::move(why));
}

}  // namespace

Result<Bytes> Simulator::td_report(const ReportData& data) const {
  Bytes tcb_info = tee_tcb_info(td_);
  Bytes info = td_info(td_);
  Bytes report;
  report.reserve(kTdReportSize);
  // REPORTTYPE: TDX, subtype 0, version 1 when the TD 1.5 fields are in use.
  report.push_back(kReportTypeTdx);
  report.push_back(0);
  report.push_back(quote_version_ == 5 ? 1 : 0);
  report.push_back(0);
  put_zeros(report, 12);
  put(report, platform_.cpusvn);
  append(report, sha384(tcb_info));
  append(report, sha384(info));
  put(report, data);
  put_zeros(report, 32);
  ACON_TRY(Bytes mac, detail::hmac_sha256(view(material_->report_mac_key), report));
  append(report, mac);
  append(report, tcb_info);
  put_zeros(report, kTdInfoOffset - report.size());
  append(report, info);
  return report;
}

Status Simulator::verify_td_report(ByteView report) const {
  if (report.size() != kTdReportSize)
    return bad_report("has " + std::to_string(report.size()) + " bytes, expected 1024");
  if (report[0] != kReportTypeTdx) return bad_report("type at offset 0 is not TDX (0x81)");
  ACON_TRY(Bytes mac,
           detail::hmac_sha256(view(material_->report_mac_key), report.first(kMacOffset)));
  if (!ct_equal(mac, report.subspan(kMacOffset, 32)))
    return bad_report("MAC at offset 224 does not verify");
  if (!ct_equal(sha384(report.subspan(kTeeTcbInfoOffset, kTeeTcbInfoSize)),
                report.subspan(kTeeTcbInfoHashOffset, 48)))
    return bad_report("TEE_TCB_INFO_HASH at offset 32 does not match TEE_TCB_INFO");
  if (!ct_equal(sha384(report.subspan(kTdInfoOffset, kTdInfoSize)),
                report.subspan(kTdInfoHashOffset, 48)))
    return bad_report("TEE_INFO_HASH at offset 80 does not match TDINFO");
  return {};
}

Result<Bytes> Simulator::quote(const ReportData& data) const {
  ACON_TRY(Bytes report, td_report(data));
  return quote_from_report(report);
}

Result<Bytes> Simulator::quote_from_report(ByteView report) const {
  ACON_CHECK(verify_td_report(report));
  const Material& m = *material_;
  ByteView tcb_info = report.subspan(kTeeTcbInfoOffset, kTeeTcbInfoSize);
  ByteView info = report.subspan(kTdInfoOffset, kTdInfoSize);
  Bytes attestation_key = m.attestation_key.public_key().ec_xy();
  if (attestation_key.size() != tdx::kEcdsaP256PublicKeySize)
    return make_error(Errc::crypto, "sim: attestation key is not a P-256 key");

  // Header.
  Bytes quote;
  put_u16le(quote, quote_version_);
  put_u16le(quote, tdx::kAttestationKeyEcdsaP256);
  put_u32le(quote, tdx::kTeeTypeTdx);
  put_zeros(quote, 4);
  put(quote, kIntelQeVendorId);
  Bytes qe_id_input = to_bytes("acon-sim QE id");
  append(qe_id_input, attestation_key);
  append(quote, ByteView(sha256(qe_id_input)).first(16));
  put_zeros(quote, 4);
  if (quote_version_ == 5) {
    put_u16le(quote, static_cast<uint16_t>(tdx::BodyType::td_report15));
    put_u32le(quote, tdx::kTdReport15Size);
  }

  // Body: the TD report fields in quote order.
  append(quote, tcb_info.subspan(kTcbSvnRel, 16));
  append(quote, tcb_info.subspan(kMrSeamRel, 48));
  append(quote, tcb_info.subspan(kMrSignerSeamRel, 48));
  append(quote, tcb_info.subspan(kSeamAttrRel, 8));
  append(quote, info.subspan(kTdAttrRel, 8));
  append(quote, info.subspan(kXfamRel, 8));
  append(quote, info.subspan(kMrTdRel, 4 * 48));  // MRTD, MRCONFIGID, MROWNER, MROWNERCONFIG
  append(quote, info.subspan(kRtmrRel, 4 * 48));
  append(quote, report.subspan(kReportDataOffset, 64));
  if (quote_version_ == 5) {
    append(quote, tcb_info.subspan(kTcbSvn2Rel, 16));
    append(quote, info.subspan(kServTdRel, 48));
  }
  ACON_TRY(Bytes quote_signature,
           sign(m.attestation_key, SigScheme{SigKind::ecdsa, HashAlg::sha256}, quote,
                EcdsaEncoding::raw));

  // The QE report: the simulated TD-QE's SGX report, binding the attestation key.
  Bytes qe_auth_data;
  for (uint8_t i = 0; i < 32; ++i) qe_auth_data.push_back(i);
  Bytes binding = attestation_key;
  append(binding, qe_auth_data);
  Bytes qe_report;
  append(qe_report, report.subspan(kCpuSvnOffset, 16));  // the platform's CPUSVN
  put_u32le(qe_report, qe_.misc_select);
  put_zeros(qe_report, 28);
  put(qe_report, qe_.attributes);
  put(qe_report, qe_.mr_enclave);
  put_zeros(qe_report, 32);
  put(qe_report, qe_.mr_signer);
  put_zeros(qe_report, 96);
  put_u16le(qe_report, qe_.isv_prod_id);
  put_u16le(qe_report, qe_.isv_svn);
  put_zeros(qe_report, 60);
  append(qe_report, sha256(binding));
  put_zeros(qe_report, 32);
  ACON_TRY(Bytes qe_report_signature, sign(m.pck_key, SigScheme{SigKind::ecdsa, HashAlg::sha256},
                                           qe_report, EcdsaEncoding::raw));

  // Certification data: type 6 wrapping the QE report, its signature, the auth data and the
  // type-5 PEM chain (NUL-terminated, as Intel's QE writes it).
  std::string chain = pck_chain_pem();
  chain.push_back('\0');
  Bytes qe_cert_data = qe_report;
  append(qe_cert_data, qe_report_signature);
  put_u16le(qe_cert_data, static_cast<uint16_t>(qe_auth_data.size()));
  append(qe_cert_data, qe_auth_data);
  put_u16le(qe_cert_data, tdx::cert_data::kPckCertChain);
  put_u32le(qe_cert_data, static_cast<uint32_t>(chain.size()));
  append(qe_cert_data, as_bytes(chain));

  Bytes signature_data = quote_signature;
  append(signature_data, attestation_key);
  put_u16le(signature_data, tdx::cert_data::kQeReportCertData);
  put_u32le(signature_data, static_cast<uint32_t>(qe_cert_data.size()));
  append(signature_data, qe_cert_data);

  put_u32le(quote, static_cast<uint32_t>(signature_data.size()));
  append(quote, signature_data);
  return quote;
}

}  // namespace acon::guest::sim
