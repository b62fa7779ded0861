// The simulated TD's TDREPORT and the simulated TD-QE's DCAP quotes, written with acon::tdx
// (verifier/tdx: tdreport.h, quote.h); see docs/simulator.md.
#include <string>

#include "acon/common/hash.h"
#include "acon/common/reader.h"
#include "acon/common/signature.h"
#include "acon/tdx/quote.h"
#include "acon/tdx/tdreport.h"
#include "internal.h"

namespace acon::guest::sim {

namespace {

// The TDREPORT fields of the simulated TD (views into `td`), MAC and hashes left to the caller.
tdx::TdReportFields td_fields(const TdState& td, const PlatformTcb& platform, const Bytes& words,
                              const std::array<uint8_t, 4>& report_type, const ReportData& data) {
  tdx::TdReportFields f;
  f.report_type = report_type;
  f.cpu_svn = platform.cpusvn;
  f.report_data = data;
  f.tee_tcb_info_valid = ByteView(words).first(8);
  f.tee_tcb_svn = td.tee_tcb_svn;
  f.mr_seam = td.mr_seam;
  f.mr_signer_seam = td.mr_signer_seam;
  f.seam_attributes = ByteView(words).subspan(8, 8);
  f.tee_tcb_svn2 = td.tee_tcb_svn2;
  f.td_attributes = ByteView(words).subspan(16, 8);
  f.xfam = ByteView(words).subspan(24, 8);
  f.mr_td = td.mr_td;
  f.mr_config_id = td.mr_config_id;
  f.mr_owner = td.mr_owner;
  f.mr_owner_config = td.mr_owner_config;
  for (size_t i = 0; i < tdx::kRtmrCount; ++i) f.rtmr[i] = td.rtmr[i];
  f.servtd_hash = td.mr_service_td;
  return f;
}

Error bad_report(std::string why) {
  return make_error(Errc::verify_failed, "sim: TDREPORT " + std::move(why));
}

}  // namespace

Result<Bytes> Simulator::td_report(const ReportData& data) const {
  // The little-endian u64 fields, in one buffer the views point into: TEE_TCB_INFO.VALID (every
  // field of the structure, TEE_TCB_SVN2 included, is meaningful), SEAM attributes, TD
  // attributes, XFAM.
  Bytes words;
  put_u64le(words, 0x1FF);
  put_u64le(words, td_.seam_attributes);
  put_u64le(words, td_.td_attributes);
  put_u64le(words, td_.xfam);
  // REPORTTYPE: TDX, subtype 0, version 1 when the TD 1.5 fields are in use.
  const std::array<uint8_t, 4> report_type = {tdx::kTdReportTypeTdx, 0,
                                              static_cast<uint8_t>(quote_version_ == 5 ? 1 : 0), 0};
  tdx::TdReportFields fields = td_fields(td_, platform_, words, report_type, data);
  ACON_TRY(Bytes tcb_info, tdx::write_tee_tcb_info(fields));
  ACON_TRY(Bytes info, tdx::write_td_info(fields));
  const Bytes tcb_info_hash = sha384(tcb_info);
  const Bytes info_hash = sha384(info);
  fields.tee_tcb_info_hash = tcb_info_hash;
  fields.tee_info_hash = info_hash;
  ACON_TRY(Bytes unmacced, tdx::write_tdreport(fields));
  ACON_TRY(tdx::TdReport parsed, tdx::parse_tdreport(unmacced));
  ACON_TRY(Bytes mac, hmac(HashAlg::sha256, view(material_->report_mac_key), parsed.mac_input));
  fields.mac = mac;
  return tdx::write_tdreport(fields);
}

Status Simulator::verify_td_report(ByteView bytes) const {
  if (bytes.size() != tdx::kTdReportSize)
    return bad_report("has " + std::to_string(bytes.size()) + " bytes, expected 1024");
  auto report = tdx::parse_tdreport(bytes);
  if (!report) return bad_report(report.error().message);
  ACON_TRY(Bytes mac, hmac(HashAlg::sha256, view(material_->report_mac_key), report->mac_input));
  if (!ct_equal(mac, report->mac))
    return bad_report("MAC at offset " + std::to_string(report->mac.data() - bytes.data()) +
                      " does not verify");
  if (!ct_equal(sha384(report->tee_tcb_info), report->tee_tcb_info_hash))
    return bad_report("TEE_TCB_INFO_HASH at offset " +
                      std::to_string(report->tee_tcb_info_hash.data() - bytes.data()) +
                      " does not match TEE_TCB_INFO");
  if (!ct_equal(sha384(report->td_info), report->tee_info_hash))
    return bad_report("TEE_INFO_HASH at offset " +
                      std::to_string(report->tee_info_hash.data() - bytes.data()) +
                      " does not match TDINFO");
  return {};
}

Result<Bytes> Simulator::quote(const ReportData& data) const {
  ACON_TRY(Bytes report, td_report(data));
  return quote_from_report(report);
}

Result<Bytes> Simulator::quote_from_report(ByteView report_bytes) const {
  ACON_CHECK(verify_td_report(report_bytes));
  ACON_TRY(tdx::TdReport report, tdx::parse_tdreport(report_bytes));
  const Material& m = *material_;
  Bytes attestation_key = m.attestation_key.public_key().ec_xy();
  if (attestation_key.size() != tdx::kEcdsaP256PublicKeySize)
    return make_error(Errc::crypto, "sim: attestation key is not a P-256 key");

  tdx::QuoteFields fields;
  fields.header.version = quote_version_;
  fields.header.attestation_key_type = tdx::kAttestationKeyEcdsaP256;
  fields.header.tee_type = tdx::kTeeTypeTdx;
  fields.header.qe_vendor_id = tdx::kIntelQeVendorId;
  // User data: a QE identifier derived from the attestation key, then 4 zero bytes.
  Bytes qe_id_input = to_bytes("acon-sim QE id");
  append(qe_id_input, attestation_key);
  Bytes user_data = sha256(qe_id_input);
  user_data.resize(16);
  user_data.resize(20, 0);
  fields.header.user_data = user_data;
  // Body: the TD report fields in quote order; TD 1.5 (body type 3) in v5 quotes.
  const tdx::TdReport15 body = tdx::quote_body_from_tdreport(report);
  if (quote_version_ == 5) {
    fields.body = body;
  } else {
    fields.body = static_cast<const tdx::TdReport10&>(body);
  }
  fields.attestation_key = attestation_key;

  // The QE report: the simulated TD-QE's SGX report, binding the attestation key and the auth
  // data (REPORTDATA = SHA-256(key || auth data) || 32 zero bytes).
  Bytes qe_auth_data;
  for (uint8_t i = 0; i < 32; ++i) qe_auth_data.push_back(i);
  Bytes binding = attestation_key;
  append(binding, qe_auth_data);
  Bytes qe_report_data = sha256(binding);
  qe_report_data.resize(64, 0);
  tdx::EnclaveReport& qe_report = fields.qe_report;
  qe_report.cpu_svn = report.cpu_svn;  // the platform's CPUSVN
  qe_report.misc_select = qe_.misc_select;
  qe_report.attributes = qe_.attributes;
  qe_report.mr_enclave = qe_.mr_enclave;
  qe_report.mr_signer = qe_.mr_signer;
  qe_report.isv_prod_id = qe_.isv_prod_id;
  qe_report.isv_svn = qe_.isv_svn;
  qe_report.report_data = qe_report_data;
  fields.qe_auth_data = qe_auth_data;

  // Certification data: the type-5 PEM chain, NUL-terminated as Intel's QE writes it.
  std::string chain;
  chain.reserve(m.pck_chain_pem.size() + 1);
  chain = m.pck_chain_pem;
  chain.push_back('\0');
  fields.pck_certification = {tdx::cert_data::kPckCertChain, as_bytes(chain)};

  const SigScheme es256{SigKind::ecdsa, HashAlg::sha256};
  ACON_TRY(Bytes signed_region, tdx::write_quote_signed_region(fields));
  ACON_TRY(Bytes quote_signature,
           sign(m.attestation_key, es256, signed_region, EcdsaEncoding::raw));
  ACON_TRY(Bytes qe_report_body, tdx::write_enclave_report(qe_report));
  {
    Material::QeCertification& certified = *m.qe_certification;
    const std::lock_guard lock(certified.mutex);
    if (certified.report_body != qe_report_body) {
      ACON_TRY(certified.signature, sign(m.pck_key, es256, qe_report_body, EcdsaEncoding::raw));
      certified.report_body = qe_report_body;
    }
    fields.qe_report_signature = certified.signature;
  }
  fields.quote_signature = quote_signature;
  return tdx::write_quote(fields);
}

}  // namespace acon::guest::sim
