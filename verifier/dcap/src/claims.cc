// Trustee-named claims of a TDX quote. See claims.h.
#include "acon/dcap/claims.h"

#include <openssl/objects.h>
#include <openssl/x509.h>

#include <algorithm>
#include <sstream>
#include <string>

#include "acon/dcap/chain.h"
#include "acon/dcap/sgx_extension.h"

namespace acon::dcap {
namespace {

// Trustee hex-encodes the raw little-endian bytes of integer header fields too.
std::string hex_le(uint64_t value, size_t size) {
  Bytes bytes(size);
  for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<uint8_t>(value >> (8 * i));
  return hex_encode(bytes);
}

bool has_simulated_name(const Certificate& cert) {
  const X509_NAME* name = X509_get_subject_name(cert.get());
  for (int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(name, NID_commonName, i)) {
    const ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
    std::string_view cn(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                        static_cast<size_t>(ASN1_STRING_length(value)));
    if (cn.substr(0, kSimulatedNamePrefix.size()) == kSimulatedNamePrefix) return true;
  }
  return false;
}

}  // namespace

bool is_simulated_pck_chain(const std::vector<Certificate>& chain) {
  if (chain.empty()) return false;
  if (auto ext = sgx_extension_of(chain.front()); ext.ok() && ext->fmspc == kSimulatedFmspc)
    return true;
  return std::any_of(chain.begin(), chain.end(), has_simulated_name);
}

Json quote_claims(const tdx::Quote& quote, const SupplementalData* verified) {
  Json header = {
      {"version", hex_le(quote.header.version, 2)},
      {"att_key_type", hex_le(quote.header.attestation_key_type, 2)},
      {"tee_type", hex_le(quote.header.tee_type, 4)},
      {"reserved", hex_encode(quote.header.reserved)},
      {"vendor_id", hex_encode(quote.header.qe_vendor_id)},
      {"user_data", hex_encode(quote.header.user_data)},
  };
  Json claims = {{"quote", {{"header", std::move(header)}}}};
  if (quote.header.version == tdx::kQuoteVersionWithBodyDescriptor) {
    claims["quote"]["type"] = hex_le(static_cast<uint16_t>(quote.body_type), 2);
    claims["quote"]["size"] = hex_le(quote.body_size, 4);
  }
  const tdx::TdReport10* td = quote.td_report();
  if (td == nullptr) return claims;

  Json body = {
      {"tcb_svn", hex_encode(td->tee_tcb_svn)},
      {"mr_seam", hex_encode(td->mr_seam)},
      {"mrsigner_seam", hex_encode(td->mr_signer_seam)},
      {"seam_attributes", hex_encode(td->seam_attributes)},
      {"td_attributes", hex_encode(td->td_attributes)},
      {"xfam", hex_encode(td->xfam)},
      {"mr_td", hex_encode(td->mr_td)},
      {"mr_config_id", hex_encode(td->mr_config_id)},
      {"mr_owner", hex_encode(td->mr_owner)},
      {"mr_owner_config", hex_encode(td->mr_owner_config)},
      {"rtmr_0", hex_encode(td->rtmr[0])},
      {"rtmr_1", hex_encode(td->rtmr[1])},
      {"rtmr_2", hex_encode(td->rtmr[2])},
      {"rtmr_3", hex_encode(td->rtmr[3])},
      {"report_data", hex_encode(td->report_data)},
  };
  if (const tdx::TdReport15* td15 = quote.td_report15()) {
    body["tee_tcb_svn2"] = hex_encode(td15->tee_tcb_svn2);
    body["mr_servicetd"] = hex_encode(td15->mr_service_td);
  }
  claims["quote"]["body"] = std::move(body);
  claims["report_data"] = hex_encode(td->report_data);
  claims["init_data"] = hex_encode(td->mr_config_id);

  tdx::TdAttributes attributes = td->attributes();
  claims["td_attributes"] = {
      {"debug", attributes.debug},
      {"septve_disable", attributes.septve_disable},
      {"protection_keys", attributes.protection_keys},
      {"key_locker", attributes.key_locker},
      {"perfmon", attributes.perfmon},
  };
  std::optional<std::array<uint8_t, 16>> platform_instance_id;
  if (verified) {
    platform_instance_id = verified->platform_instance_id;
  } else if (auto chain = pck_chain_from_quote(quote); chain.ok() && !chain->empty()) {
    if (auto ext = sgx_extension_of(chain->front()); ext.ok())
      platform_instance_id = ext->platform_instance_id;
  }
  if (platform_instance_id) {
    std::array<uint8_t, 16> reversed = *platform_instance_id;
    std::reverse(reversed.begin(), reversed.end());
    claims["platform_instance_id"] = hex_encode(reversed);
  }
  return claims;
}

const SupplementalData* verified_supplemental(const QuoteVerdict& verdict) {
  return verdict.supplemental_valid && !verdict.pck_chain_from_collateral ? &verdict.supplemental
                                                                          : nullptr;
}

Json quote_claims(const tdx::Quote& quote, const QuoteVerdict& verdict) {
  Json claims = quote_claims(quote, verified_supplemental(verdict));
  if (verdict.simulated) claims["simulated"] = true;
  return claims;
}

std::string_view trustee_tcb_status(uint32_t qv_result) {
  switch (qv_result) {
    case 0:
      return "UpToDate";
    case 0xA001:
      return "ConfigurationNeeded";
    case 0xA002:
      return "OutOfDate";
    case 0xA003:
      return "OutOfDateConfigurationNeeded";
    case 0xA007:
      return "SWHardeningNeeded";
    case 0xA008:
      return "ConfigurationAndSWHardeningNeeded";
    case 0xA009:
      return "TDRelaunchAdvised";
    case 0xA00A:
      return "TDRelaunchAdvisedConfigurationNeeded";
    default:
      return "TerminalStatus";
  }
}

Json tcb_claims(const QuoteVerdict& verdict) {
  if (!verdict.supplemental_valid) return Json::object();
  const SupplementalData& sup = verdict.supplemental;
  Json claims = {
      {"earliest_issue_date", format_rfc3339(sup.earliest_issue_date)},
      {"latest_issue_date", format_rfc3339(sup.latest_issue_date)},
      {"earliest_expiration_date", format_rfc3339(sup.earliest_expiration_date)},
      {"tcb_date", format_rfc3339(sup.tcb_level_date_tag)},
      {"pck_crl_num", sup.pck_crl_num},
      {"root_ca_crl_num", sup.root_ca_crl_num},
      {"tcb_eval_num", sup.tcb_eval_ref_num},
      {"platform_provider_id", hex_encode(sup.ppid)},
      {"root_key_id", hex_encode(sup.root_key_id)},
      {"tcb_status", trustee_tcb_status(verdict.qv_result)},
      {"collateral_expiration_status", verdict.collateral_expired ? "1" : "0"},
      {"advisory_ids", sup.sa_list},
  };
  switch (sup.sgx_type) {
    case SgxType::standard:
      claims["sgx_type"] = "Standard";
      break;
    case SgxType::scalable:
      claims["sgx_type"] = "Scalable";
      break;
    case SgxType::scalable_with_integrity:
      claims["sgx_type"] = "Scalable with Integrity";
      break;
  }
  if (sup.sgx_type != SgxType::standard) {
    // QvE reports PCK_FLAG_UNDEFINED (2) for a Processor CA PCK; Trustee's `== 1` makes it false.
    claims["is_dynamic_platform"] = sup.dynamic_platform.value_or(false);
    claims["is_cached_keys"] = sup.cached_keys.value_or(false);
    claims["is_smt_enabled"] = sup.smt_enabled.value_or(false);
  }
  return claims;
}

std::string verdict_text(const QuoteVerdict& verdict, const Json& claims) {
  std::ostringstream out;
  out << "status: " << qvl_status_text_label(verdict.status) << " "
      << qv_result_name(verdict.qv_result) << " " << (verdict.accepted ? "ACCEPTED" : "REJECTED")
      << "\n";
  // Right under the status, so nobody reads an accepted simulated quote as real hardware.
  out << "simulated: "
      << (verdict.simulated ? "YES - ACON simulated TDX platform, not evidence of real hardware"
                            : "no")
      << "\n";
  if (verdict.pck_chain_from_collateral)
    out << "pck_chain: from the collateral, not the quote (--allow-collateral-pck-chain)\n";
  if (!verdict.failure.empty()) out << "failure: " << verdict.failure << "\n";
  if (verdict.tcb) {
    out << "tcb_status: " << tcb_status_name(verdict.tcb->tcb_status) << "\n";
    out << "tcb_date: " << format_rfc3339(verdict.tcb_date) << "\n";
  }
  out << "advisories:";
  if (verdict.advisory_ids.empty()) out << " none";
  for (const std::string& id : verdict.advisory_ids) out << " " << id;
  out << "\n";
  // QvE's status does not change with expiry; say plainly what an accepted verdict rests on.
  out << "collateral_expired: "
      << (verdict.collateral_expired
              ? "YES - this verdict rests on expired collateral (revocations and TCB levels "
                "may be out of date); --strict rejects it"
              : "no")
      << "\n";
  if (!verdict.fmspc.empty()) out << "fmspc: " << hex_encode(verdict.fmspc) << "\n";
  if (!claims.contains("quote") || !claims["quote"].contains("body")) return out.str();
  const Json& body = claims["quote"]["body"];
  for (const char* name : {"mr_td", "rtmr_0", "rtmr_1", "rtmr_2", "rtmr_3", "report_data",
                           "mr_config_id", "td_attributes", "xfam"})
    out << name << ": " << body[name].get<std::string>() << "\n";
  out << "td_attributes_decoded:";
  for (const auto& [name, value] : claims["td_attributes"].items())
    out << " " << name << "=" << (value.get<bool>() ? 1 : 0);
  out << "\n";
  return out.str();
}

}  // namespace acon::dcap
