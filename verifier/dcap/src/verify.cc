// Full DCAP quote verification in Intel QVL order. See dcap.h.
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <string>

#include "acon/common/hash.h"
#include "acon/dcap/cache.h"
#include "acon/dcap/claims.h"
#include "acon/dcap/verify.h"

namespace acon::dcap {
namespace {

// QuoteVerification.h `Status` in enum order (index = code), plus the newest QVL's TD relaunch
// statuses 86 and 87.
constexpr std::string_view kQvlStatusNames[] = {
    "STATUS_OK",
    "STATUS_UNSUPPORTED_CERT_FORMAT",
    "STATUS_SGX_ROOT_CA_MISSING",
    "STATUS_SGX_ROOT_CA_INVALID",
    "STATUS_SGX_ROOT_CA_INVALID_EXTENSIONS",
    "STATUS_SGX_ROOT_CA_INVALID_ISSUER",
    "STATUS_SGX_ROOT_CA_UNTRUSTED",
    "STATUS_SGX_INTERMEDIATE_CA_MISSING",
    "STATUS_SGX_INTERMEDIATE_CA_INVALID",
    "STATUS_SGX_INTERMEDIATE_CA_INVALID_EXTENSIONS",
    "STATUS_SGX_INTERMEDIATE_CA_INVALID_ISSUER",  // 10
    "STATUS_SGX_INTERMEDIATE_CA_REVOKED",
    "STATUS_SGX_PCK_MISSING",
    "STATUS_SGX_PCK_INVALID",
    "STATUS_SGX_PCK_INVALID_EXTENSIONS",
    "STATUS_SGX_PCK_INVALID_ISSUER",
    "STATUS_SGX_PCK_REVOKED",
    "STATUS_TRUSTED_ROOT_CA_INVALID",
    "STATUS_SGX_PCK_CERT_CHAIN_UNTRUSTED",
    "STATUS_SGX_TCB_INFO_UNSUPPORTED_FORMAT",
    "STATUS_SGX_TCB_INFO_INVALID",  // 20
    "STATUS_TCB_INFO_INVALID_SIGNATURE",
    "STATUS_SGX_TCB_SIGNING_CERT_MISSING",
    "STATUS_SGX_TCB_SIGNING_CERT_INVALID",
    "STATUS_SGX_TCB_SIGNING_CERT_INVALID_EXTENSIONS",
    "STATUS_SGX_TCB_SIGNING_CERT_INVALID_ISSUER",
    "STATUS_SGX_TCB_SIGNING_CERT_CHAIN_UNTRUSTED",
    "STATUS_SGX_TCB_SIGNING_CERT_REVOKED",
    "STATUS_SGX_CRL_UNSUPPORTED_FORMAT",
    "STATUS_SGX_CRL_UNKNOWN_ISSUER",
    "STATUS_SGX_CRL_INVALID",  // 30
    "STATUS_SGX_CRL_INVALID_EXTENSIONS",
    "STATUS_SGX_CRL_INVALID_SIGNATURE",
    "STATUS_SGX_CA_CERT_UNSUPPORTED_FORMAT",
    "STATUS_SGX_CA_CERT_INVALID",
    "STATUS_TRUSTED_ROOT_CA_UNSUPPORTED_FORMAT",
    "STATUS_MISSING_PARAMETERS",
    "STATUS_UNSUPPORTED_QUOTE_FORMAT",
    "STATUS_UNSUPPORTED_PCK_CERT_FORMAT",
    "STATUS_INVALID_PCK_CERT",
    "STATUS_UNSUPPORTED_PCK_RL_FORMAT",  // 40
    "STATUS_INVALID_PCK_CRL",
    "STATUS_UNSUPPORTED_TCB_INFO_FORMAT",
    "STATUS_PCK_REVOKED",
    "STATUS_TCB_INFO_MISMATCH",
    "STATUS_TCB_OUT_OF_DATE",
    "STATUS_TCB_REVOKED",
    "STATUS_TCB_CONFIGURATION_NEEDED",
    "STATUS_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED",
    "STATUS_TCB_NOT_SUPPORTED",
    "STATUS_TCB_UNRECOGNIZED_STATUS",  // 50
    "STATUS_UNSUPPORTED_QE_CERTIFICATION",
    "STATUS_INVALID_QE_CERTIFICATION_DATA_SIZE",
    "STATUS_UNSUPPORTED_QE_CERTIFICATION_DATA_TYPE",
    "STATUS_PCK_CERT_MISMATCH",
    "STATUS_INVALID_QE_REPORT_SIGNATURE",
    "STATUS_INVALID_QE_REPORT_DATA",
    "STATUS_INVALID_QUOTE_SIGNATURE",
    "STATUS_SGX_QE_IDENTITY_UNSUPPORTED_FORMAT",
    "STATUS_SGX_QE_IDENTITY_INVALID",
    "STATUS_SGX_QE_IDENTITY_INVALID_SIGNATURE",  // 60
    "STATUS_SGX_ENCLAVE_REPORT_UNSUPPORTED_FORMAT",
    "STATUS_SGX_ENCLAVE_IDENTITY_UNSUPPORTED_FORMAT",
    "STATUS_SGX_ENCLAVE_IDENTITY_INVALID",
    "STATUS_SGX_ENCLAVE_IDENTITY_UNSUPPORTED_VERSION",
    "STATUS_SGX_ENCLAVE_IDENTITY_OUT_OF_DATE",
    "STATUS_SGX_ENCLAVE_REPORT_MISCSELECT_MISMATCH",
    "STATUS_SGX_ENCLAVE_REPORT_ATTRIBUTES_MISMATCH",
    "STATUS_SGX_ENCLAVE_REPORT_MRENCLAVE_MISMATCH",
    "STATUS_SGX_ENCLAVE_REPORT_MRSIGNER_MISMATCH",
    "STATUS_SGX_ENCLAVE_REPORT_ISVPRODID_MISMATCH",  // 70
    "STATUS_SGX_ENCLAVE_REPORT_ISVSVN_OUT_OF_DATE",
    "STATUS_UNSUPPORTED_QE_IDENTITY_FORMAT",
    "STATUS_QE_IDENTITY_OUT_OF_DATE",
    "STATUS_QE_IDENTITY_MISMATCH",
    "STATUS_SGX_TCB_INFO_EXPIRED",
    "STATUS_SGX_ENCLAVE_IDENTITY_INVALID_SIGNATURE",
    "STATUS_INVALID_PARAMETER",
    "STATUS_SGX_PCK_CERT_CHAIN_EXPIRED",
    "STATUS_SGX_CRL_EXPIRED",
    "STATUS_SGX_SIGNING_CERT_CHAIN_EXPIRED",  // 80
    "STATUS_SGX_ENCLAVE_IDENTITY_EXPIRED",
    "STATUS_TCB_SW_HARDENING_NEEDED",
    "STATUS_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED",
    "STATUS_SGX_ENCLAVE_REPORT_ISVSVN_REVOKED",
    "STATUS_TDX_MODULE_MISMATCH",
    "STATUS_TCB_TD_RELAUNCH_ADVISED",
    "STATUS_TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED",
};
constexpr size_t kQvlStatusCount = sizeof(kQvlStatusNames) / sizeof(kQvlStatusNames[0]);

QvlStatus status_named(std::string_view name) {
  auto status = qvl_status_from_text(name);
  return status ? *status : QvlStatus::tcb_unrecognized_status;
}

// The QVL status an error of chain.h ("STATUS_X: ...") or tcb.h ("STATUS_X(49): ...") starts
// with; STATUS_UNSPECIFIED-like errors without one become `fallback`.
QvlStatus status_of(const Error& error, QvlStatus fallback) {
  const std::string& text = error.message;
  size_t end = 0;
  while (end < text.size() &&
         (std::isupper(static_cast<unsigned char>(text[end])) ||
          std::isdigit(static_cast<unsigned char>(text[end])) || text[end] == '_'))
    ++end;
  auto status = qvl_status_from_text(std::string_view(text).substr(0, end));
  return status ? *status : fallback;
}

// Nominal ECDSA verifications per stage (docs/dcap-verification.md §13).
constexpr uint32_t kPckChainVerifications = 5;    // root, intermediate, leaf, 2 CRLs
constexpr uint32_t kCollateralVerifications = 6;  // 2 x (TCB signing cert + root CRL + JSON)
constexpr uint32_t kQeReportVerifications = 1;
constexpr uint32_t kQuoteVerifications = 1;

uint32_t crl_number(const Crl& crl) {
  auto* number =
      static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(crl.get(), NID_crl_number, nullptr, nullptr));
  if (number == nullptr) return 0;
  long value = ASN1_INTEGER_get(number);
  ASN1_INTEGER_free(number);
  return value < 0 ? 0 : static_cast<uint32_t>(value);
}

std::array<uint8_t, 48> root_key_id(const Certificate& root) {
  std::array<uint8_t, 48> id{};
  const ASN1_BIT_STRING* key = X509_get0_pubkey_bitstr(root.get());
  if (key == nullptr) return id;
  Bytes digest = sha384(ByteView(ASN1_STRING_get0_data(key), ASN1_STRING_length(key)));
  std::copy_n(digest.begin(), id.size(), id.begin());
  return id;
}

// Which QVL expiry status the first expired item (in QvE's order) raises; nullopt if none.
std::optional<std::pair<QvlStatus, std::string>> first_expired(const PckChain& pck,
                                                               const Collateral& collateral,
                                                               Time at) {
  // PckChain::validity: PCK leaf, intermediate, root, root CA CRL, PCK CRL.
  for (const Validity& v : pck.validity) {
    if (v.not_after > at) continue;
    bool is_crl = v.what.find("CRL") != std::string::npos;
    return std::pair{
        status_named(is_crl ? "STATUS_SGX_CRL_EXPIRED" : "STATUS_SGX_PCK_CERT_CHAIN_EXPIRED"),
        v.what + " expired " + format_rfc3339(v.not_after)};
  }
  for (const auto* chain : {&collateral.pck_crl_issuer_chain, &collateral.tcb_info_issuer_chain,
                            &collateral.qe_identity_issuer_chain})
    for (const Certificate& cert : *chain)
      if (cert.not_after() <= at)
        return std::pair{status_named("STATUS_SGX_SIGNING_CERT_CHAIN_EXPIRED"),
                         cert.subject() + " expired " + format_rfc3339(cert.not_after())};
  if (collateral.tcb_info.value.next_update <= at)
    return std::pair{
        status_named("STATUS_SGX_TCB_INFO_EXPIRED"),
        "TCB info nextUpdate " + format_rfc3339(collateral.tcb_info.value.next_update)};
  if (collateral.qe_identity.value.next_update <= at)
    return std::pair{
        status_named("STATUS_SGX_ENCLAVE_IDENTITY_EXPIRED"),
        "QE identity nextUpdate " + format_rfc3339(collateral.qe_identity.value.next_update)};
  return std::nullopt;
}

QuoteVerdict failed(QuoteVerdict verdict, QvlStatus status, std::string why) {
  verdict.status = status;
  verdict.qv_result = qve_result_of(status);
  verdict.accepted = false;
  verdict.failure = std::move(why);
  return verdict;
}

QuoteVerdict failed(QuoteVerdict verdict, const Error& error, QvlStatus fallback) {
  return failed(std::move(verdict), status_of(error, fallback), error.message);
}

// docs/dcap-verification.md §7 step 2: the TCB info fits the TEE and the PCK certificate (FMSPC,
// PCE-ID).
Status check_tcb_info_fits(const TcbInfo& tcb, const SgxExtension& pck, bool tdx) {
  auto mismatch = [](std::string why) {
    return make_error(Errc::verify_failed, "STATUS_TCB_INFO_MISMATCH: " + std::move(why));
  };
  if (tdx && (!tcb.is_tdx() || tcb.version < 3))
    return mismatch("TDX quote needs TCB info id \"TDX\" version >= 3, got \"" + tcb.id + "\" v" +
                    std::to_string(tcb.version));
  if (!tdx && tcb.id != "SGX")
    return mismatch("SGX quote needs TCB info id \"SGX\", got \"" + tcb.id + "\"");
  if (tcb.fmspc != pck.fmspc)
    return mismatch("TCB info FMSPC " + hex_encode(tcb.fmspc) + " != PCK FMSPC " +
                    hex_encode(pck.fmspc));
  if (tcb.pce_id != pck.pce_id)
    return mismatch("TCB info PCE-ID " + hex_encode(tcb.pce_id) + " != PCK PCE-ID " +
                    hex_encode(pck.pce_id));
  return {};
}

}  // namespace

std::string_view qvl_status_text(QvlStatus status) {
  uint32_t code = qvl_status_code(status);
  return code < kQvlStatusCount ? kQvlStatusNames[code] : "STATUS_UNKNOWN";
}

std::optional<QvlStatus> qvl_status_from_text(std::string_view name) {
  for (size_t code = 0; code < kQvlStatusCount; ++code)
    if (kQvlStatusNames[code] == name) return static_cast<QvlStatus>(code);
  return std::nullopt;
}

std::string qvl_status_text_label(QvlStatus status) {
  return std::string(qvl_status_text(status)) + "(" + std::to_string(qvl_status_code(status)) + ")";
}

bool is_acceptable(QvlStatus status) {
  switch (status) {
    case QvlStatus::ok:
    case QvlStatus::tcb_out_of_date:
    case QvlStatus::tcb_out_of_date_configuration_needed:
    case QvlStatus::tcb_configuration_needed:
    case QvlStatus::tcb_sw_hardening_needed:
    case QvlStatus::tcb_configuration_and_sw_hardening_needed:
    case QvlStatus::tcb_td_relaunch_advised:
    case QvlStatus::tcb_td_relaunch_advised_configuration_needed:
      return true;
    default:
      return false;
  }
}

uint32_t qve_result_of(QvlStatus status) {
  std::string_view name = qvl_status_text(status);
  static constexpr std::string_view kInvalidSignature[] = {
      "STATUS_INVALID_QE_REPORT_SIGNATURE",
      "STATUS_INVALID_QE_REPORT_DATA",
      "STATUS_INVALID_QUOTE_SIGNATURE",
      "STATUS_SGX_PCK_INVALID_ISSUER",
      "STATUS_SGX_INTERMEDIATE_CA_INVALID_ISSUER",
      "STATUS_SGX_TCB_SIGNING_CERT_INVALID_ISSUER",
      "STATUS_SGX_PCK_CERT_CHAIN_UNTRUSTED",
      "STATUS_SGX_TCB_SIGNING_CERT_CHAIN_UNTRUSTED",
      "STATUS_SGX_CRL_INVALID_SIGNATURE",
      "STATUS_SGX_CA_CERT_INVALID",
      "STATUS_TCB_INFO_INVALID_SIGNATURE",
      "STATUS_SGX_ENCLAVE_IDENTITY_INVALID_SIGNATURE",
  };
  static constexpr std::string_view kRevoked[] = {
      "STATUS_SGX_PCK_REVOKED", "STATUS_SGX_INTERMEDIATE_CA_REVOKED",
      "STATUS_SGX_TCB_SIGNING_CERT_REVOKED", "STATUS_TCB_REVOKED",
      "STATUS_SGX_ENCLAVE_REPORT_ISVSVN_REVOKED"};
  if (std::find(std::begin(kInvalidSignature), std::end(kInvalidSignature), name) !=
      std::end(kInvalidSignature))
    return 0xA004;
  if (std::find(std::begin(kRevoked), std::end(kRevoked), name) != std::end(kRevoked))
    return 0xA005;
  return qv_result(status);  // TCB statuses; everything else UNSPECIFIED
}

Result<QuoteVerdict> verify_quote(ByteView quote_bytes, const Collateral& collateral,
                                  const VerifyOptions& options) {
  ACON_TRY(tdx::Quote quote, tdx::parse_quote(quote_bytes));
  return verify_quote(quote, collateral, options);
}

Result<QuoteVerdict> verify_quote(const tdx::Quote& quote, const Collateral& collateral,
                                  const VerifyOptions& options) {
  QuoteVerdict verdict;
  VerificationCache* cache = options.cache;
  SignatureMemoScope memo;  // shared root CA CRL / TCB signing cert are verified once

  // The PCK chain (docs/dcap-verification.md §4): the quote's own (certification data type 5),
  // as QvE; the collateral bundle's only when the caller allows it for a quote of another type.
  // `chain_bytes` is what the chain is made of, for the cache: the certification data, or the
  // bundle certificates' DER.
  const tdx::CertificationData& certification = quote.signature.pck_certification;
  const bool chain_in_quote = certification.type == tdx::cert_data::kPckCertChain;
  if (!chain_in_quote) {
    if (!options.allow_collateral_pck_chain)
      return failed(std::move(verdict),
                    status_named("STATUS_UNSUPPORTED_QE_CERTIFICATION_DATA_TYPE"),
                    "PCK certification data type " + std::to_string(certification.type) +
                        " is not 5 (PCK certificate chain); QvE verifies type 5 only (the "
                        "collateral's PCK chain is used only when explicitly allowed)");
    if (collateral.pck_certificate_chain.empty())
      return make_error(Errc::unsupported,
                        "quote carries no PEM PCK chain (certification data type " +
                            std::to_string(certification.type) + ") and the collateral has none");
    verdict.pck_chain_from_collateral = true;
  }
  Bytes bundle_chain;
  ByteView chain_bytes;
  if (chain_in_quote) {
    chain_bytes = certification.data;
  } else if (cache != nullptr) {
    for (const Certificate& cert : collateral.pck_certificate_chain) {
      Bytes der = cert.der();
      append_u32be(bundle_chain, static_cast<uint32_t>(der.size()));
      append(bundle_chain, der);
    }
    chain_bytes = bundle_chain;
  }

  // 1. PCK chain and CRLs to the trust anchor (QvE: sgxAttestationVerifyPCKCertificate), then
  //    the PCK certificate's SGX extension.
  std::shared_ptr<const VerifiedPckChain> pck;
  if (cache != nullptr) pck = cache->pck_chain(chain_bytes, collateral, options.anchors);
  const bool pck_cached = pck != nullptr;
  if (pck == nullptr) {
    std::vector<Certificate> chain;
    if (chain_in_quote) {
      // The root is normally the anchor and the intermediate the collateral's PCK CRL issuer.
      std::vector<const Certificate*> reusable;
      for (const Certificate& root : options.anchors.roots) reusable.push_back(&root);
      for (const Certificate& cert : collateral.pck_crl_issuer_chain) reusable.push_back(&cert);
      auto parsed = pck_chain_from_quote(quote, reusable);
      if (!parsed.ok())
        return failed(std::move(verdict), parsed.error(),
                      status_named("STATUS_UNSUPPORTED_CERT_FORMAT"));
      chain = std::move(*parsed);
    } else {
      chain = collateral.pck_certificate_chain;
    }
    // Decided here, once, from the chain this verification uses (the quote's own or the
    // collateral's), before it is checked: a simulated quote stays labelled as one when it is
    // rejected, say for want of the simulator's root. Claims and outputs take it from here.
    verdict.simulated = is_simulated_pck_chain(chain);
    verdict.ecdsa_verifications += kPckChainVerifications;
    auto verified =
        verify_pck_chain(chain, collateral.root_ca_crl, collateral.pck_crl, options.anchors);
    if (!verified.ok())
      return failed(std::move(verdict), verified.error(), status_named("STATUS_SGX_PCK_INVALID"));
    auto sgx = sgx_extension_of(verified->leaf);
    if (!sgx.ok())
      return failed(std::move(verdict), status_named("STATUS_SGX_PCK_INVALID_EXTENSIONS"),
                    sgx.error().to_string());
    auto entry = std::make_shared<const VerifiedPckChain>(
        VerifiedPckChain{std::move(*verified), std::move(*sgx), verdict.simulated});
    if (cache != nullptr)
      cache->remember_pck_chain(chain_bytes, collateral, options.anchors, *entry);
    pck = std::move(entry);
  }
  const SgxExtension& sgx = pck->sgx;
  verdict.fmspc.assign(sgx.fmspc.begin(), sgx.fmspc.end());
  if (pck_cached) verdict.simulated = pck->simulated;

  // 2. TCB-info and QE-identity issuer chains and signatures (sgxAttestationVerifyTCBInfo /
  //    sgxAttestationVerifyEnclaveIdentity).
  const bool collateral_cached =
      cache != nullptr && cache->collateral_verified(collateral, options.anchors);
  if (!collateral_cached) {
    verdict.ecdsa_verifications += kCollateralVerifications;
    auto st = verify_collateral_signatures(collateral, collateral.root_ca_crl, options.anchors);
    if (!st.ok())
      return failed(std::move(verdict), st.error(), status_named("STATUS_SGX_TCB_INFO_INVALID"));
    if (cache != nullptr) cache->remember_collateral(collateral, options.anchors);
  }

  // 3. Time (docs/dcap-verification.md §10): only upper bounds count; expiry is a flag unless
  // strict.
  CollateralTimes times = collateral_times(pck->chain, collateral);
  verdict.collateral_expired = collateral_expired(times, options.at);
  if (verdict.collateral_expired && options.strict_expiry) {
    auto expired = first_expired(pck->chain, collateral, options.at);
    return failed(std::move(verdict),
                  expired ? expired->first : status_named("STATUS_SGX_CRL_EXPIRED"),
                  expired ? expired->second : "collateral expired");
  }

  // 4. The quote itself (sgxAttestationVerifyQuote, QuoteVerifier::verify,
  // docs/dcap-verification.md §7).
  if (!std::equal(tdx::kIntelQeVendorId.begin(), tdx::kIntelQeVendorId.end(),
                  quote.header.qe_vendor_id.begin(), quote.header.qe_vendor_id.end()))
    return failed(std::move(verdict), status_named("STATUS_UNSUPPORTED_QUOTE_FORMAT"),
                  "QE vendor ID " + hex_encode(quote.header.qe_vendor_id) + " is not Intel's");
  const TcbInfo& tcb_info = collateral.tcb_info.value;
  const EnclaveIdentity& qe_identity = collateral.qe_identity.value;
  const tdx::TdReport10* td = quote.td_report();
  if (auto st = check_tcb_info_fits(tcb_info, sgx, td != nullptr); !st.ok())
    return failed(std::move(verdict), st.error(), QvlStatus::tcb_info_mismatch);
  if (td != nullptr) {
    if (auto st = check_tdx_module_identity(tcb_info, td->tee_tcb_svn, td->mr_signer_seam,
                                            td->seam_attributes);
        !st.ok())
      return failed(std::move(verdict), st.error(), QvlStatus::tdx_module_mismatch);
  }
  // The QE report signature depends only on the report, the signature and the PCK leaf key, all
  // of which repeat between quotes of one platform; the report-data binding is checked always.
  std::string qe_key;
  bool qe_report_cached = false;
  if (cache != nullptr) {
    qe_key = VerificationCache::qe_report_key(quote, pck->chain.leaf);
    qe_report_cached = cache->qe_report_verified(qe_key);
  }
  if (!qe_report_cached) verdict.ecdsa_verifications += kQeReportVerifications;
  if (auto st = qe_report_cached ? verify_qe_report_data(quote)
                                 : verify_qe_report(quote, pck->chain.leaf);
      !st.ok())
    return failed(std::move(verdict), st.error(),
                  status_named("STATUS_INVALID_QE_REPORT_SIGNATURE"));
  if (cache != nullptr && !qe_report_cached) cache->remember_qe_report(qe_key);
  if (auto st = check_qe_identity(qe_identity, quote.signature.qe_report); !st.ok())
    return failed(std::move(verdict), st.error(), QvlStatus::qe_identity_mismatch);
  verdict.ecdsa_verifications += kQuoteVerifications;
  if (auto st = verify_quote_signature(quote, cache); !st.ok())
    return failed(std::move(verdict), st.error(), status_named("STATUS_INVALID_QUOTE_SIGNATURE"));

  // 5. TCB level evaluation (docs/dcap-verification.md §8).
  const uint16_t qe_isvsvn = quote.signature.qe_report.isv_svn;
  Result<TcbEvaluation> evaluation =
      td != nullptr
          ? evaluate_tdx_tcb(tcb_info, qe_identity, sgx, td->tee_tcb_svn,
                             quote.td_report15() != nullptr
                                 ? std::optional<ByteView>(quote.td_report15()->tee_tcb_svn2)
                                 : std::nullopt,
                             qe_isvsvn)
          : evaluate_sgx_tcb(tcb_info, qe_identity, sgx, qe_isvsvn);
  if (!evaluation.ok())
    return failed(std::move(verdict), evaluation.error(), QvlStatus::tcb_not_supported);
  verdict.status = evaluation->status;
  verdict.qv_result = qve_result_of(verdict.status);
  verdict.accepted = is_acceptable(verdict.status);
  verdict.advisory_ids = evaluation->advisory_ids;
  verdict.tcb_date = evaluation->tcb_date;

  SupplementalData& sup = verdict.supplemental;
  sup.earliest_issue_date = times.earliest_issue;
  sup.latest_issue_date = times.latest_issue;
  sup.earliest_expiration_date = times.earliest_expiration;
  sup.tcb_level_date_tag = evaluation->tcb_date;
  sup.pck_crl_num = crl_number(collateral.pck_crl);
  sup.root_ca_crl_num = crl_number(collateral.root_ca_crl);
  sup.tcb_eval_ref_num =
      std::min(tcb_info.tcb_evaluation_data_number, qe_identity.tcb_evaluation_data_number);
  sup.root_key_id = root_key_id(pck->chain.root);
  sup.ppid = sgx.ppid;
  sup.cpusvn = sgx.cpusvn;
  sup.pce_svn = sgx.pcesvn;
  sup.pce_id = sgx.pce_id;
  sup.fmspc = sgx.fmspc;
  sup.sgx_type = sgx.sgx_type;
  sup.platform_instance_id = sgx.platform_instance_id;
  if (sgx.configuration) {
    sup.dynamic_platform = sgx.configuration->dynamic_platform;
    sup.cached_keys = sgx.configuration->cached_keys;
    sup.smt_enabled = sgx.configuration->smt_enabled;
  }
  sup.sa_list = tcb_info.tcb_levels[evaluation->platform_level_index].advisory_ids;
  verdict.supplemental_valid = true;
  verdict.tcb = std::move(*evaluation);
  return verdict;
}

Json verdict_json(const QuoteVerdict& verdict) {
  Json out = {
      {"status", qvl_status_text(verdict.status)},
      {"status_code", qvl_status_code(verdict.status)},
      {"qv_result", qv_result_name(verdict.qv_result)},
      {"accepted", verdict.accepted},
      {"advisory_ids", verdict.advisory_ids},
      {"fmspc", hex_encode(verdict.fmspc)},
      {"collateral_expired", verdict.collateral_expired},
  };
  out["simulated"] = verdict.simulated;
  out["pck_chain_source"] = verdict.pck_chain_from_collateral ? "collateral" : "quote";
  if (!verdict.failure.empty()) out["failure"] = verdict.failure;
  if (verdict.tcb) {
    out["tcb_status"] = tcb_status_name(verdict.tcb->tcb_status);
    out["tcb_date"] = format_rfc3339(verdict.tcb_date);
    out["platform_tcb_status"] = tcb_status_name(verdict.tcb->platform_status);
    out["qe_tcb_status"] = tcb_status_name(verdict.tcb->qe_status);
    if (verdict.tcb->module_identity) out["module_identity"] = *verdict.tcb->module_identity;
    if (verdict.tcb->module_status)
      out["module_tcb_status"] = tcb_status_name(*verdict.tcb->module_status);
    if (verdict.tcb->current_tcb_status)
      out["tcb_status_current"] = tcb_status_name(*verdict.tcb->current_tcb_status);
  }
  if (verdict.supplemental_valid) {
    const SupplementalData& sup = verdict.supplemental;
    Json s = {
        {"earliest_issue_date", format_rfc3339(sup.earliest_issue_date)},
        {"latest_issue_date", format_rfc3339(sup.latest_issue_date)},
        {"earliest_expiration_date", format_rfc3339(sup.earliest_expiration_date)},
        {"tcb_level_date_tag", format_rfc3339(sup.tcb_level_date_tag)},
        {"pck_crl_num", sup.pck_crl_num},
        {"root_ca_crl_num", sup.root_ca_crl_num},
        {"tcb_eval_ref_num", sup.tcb_eval_ref_num},
        {"root_key_id", hex_encode(sup.root_key_id)},
        {"pck_ppid", hex_encode(sup.ppid)},
        {"tcb_cpusvn", hex_encode(sup.cpusvn)},
        {"tcb_pce_isvsvn", sup.pce_svn},
        {"pce_id", hex_encode(sup.pce_id)},
        {"fmspc", hex_encode(sup.fmspc)},
        {"sgx_type", sgx_type_name(sup.sgx_type)},
        {"sa_list", sup.sa_list},
    };
    if (sup.platform_instance_id) s["platform_instance_id"] = hex_encode(*sup.platform_instance_id);
    if (sup.dynamic_platform) s["dynamic_platform"] = *sup.dynamic_platform;
    if (sup.cached_keys) s["cached_keys"] = *sup.cached_keys;
    if (sup.smt_enabled) s["smt_enabled"] = *sup.smt_enabled;
    out["supplemental"] = std::move(s);
  }
  return out;
}

}  // namespace acon::dcap
