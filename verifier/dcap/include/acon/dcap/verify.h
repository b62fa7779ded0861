// Full DCAP quote verification in Intel QVL order, assembled from the stages of chain.h,
// sgx_extension.h and tcb.h: PCK chain and CRLs, PCK SGX extension, TCB-info / QE-identity
// chains and signatures, QE report signature and report-data binding, QE identity, quote
// signature, TDX module identity, TCB level evaluation (status convergence, advisory IDs, TCB
// date, TD 1.5 relaunch advice). Collateral expiry is a flag as in QvE (strict mode fails).
// Reference: docs/dcap-verification.md §2-§10, §12.
//
// The verification time is an input (VerifyOptions::at); nothing here reads a clock.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "acon/common/bytes.h"
#include "acon/common/json.h"
#include "acon/common/result.h"
#include "acon/common/x509.h"
#include "acon/dcap/chain.h"
#include "acon/dcap/collateral.h"
#include "acon/dcap/sgx_extension.h"
#include "acon/dcap/tcb.h"
#include "acon/tdx/quote.h"

namespace acon::dcap {

class VerificationCache;

// Every Intel QVL status (QuoteVerification.h `Status`, 0..87). QvlStatus (tcb.h) names only the
// TCB statuses; the verdict stores any QVL code in it (its underlying type is the QVL code), so
// use these functions, not qvl_status_name(), for verdict statuses.
std::string_view qvl_status_text(QvlStatus status);  // "STATUS_SGX_PCK_INVALID_ISSUER"; unknown
                                                     // codes give "STATUS_UNKNOWN"
std::optional<QvlStatus> qvl_status_from_text(std::string_view name);
// "STATUS_SGX_CRL_EXPIRED(79)", the spelling of vectors.json.
std::string qvl_status_text_label(QvlStatus status);
// QvE is_nonterminal_error minus the expiry statuses (expiry is the collateral_expired flag):
// OK, OutOfDate(ConfigurationNeeded), ConfigurationNeeded, SWHardeningNeeded,
// ConfigurationAndSWHardeningNeeded, TDRelaunchAdvised(ConfigurationNeeded).
bool is_acceptable(QvlStatus status);
// QvE status_error_to_ql_qve_result for any QVL status: TCB statuses as qv_result(), signature
// failures SGX_QL_QV_RESULT_INVALID_SIGNATURE, revocations SGX_QL_QV_RESULT_REVOKED, anything
// else SGX_QL_QV_RESULT_UNSPECIFIED.
uint32_t qve_result_of(QvlStatus status);

// QvE sgx_ql_qv_supplemental_t (docs/dcap-verification.md §10), as far as collateral and quote
// determine it.
struct SupplementalData {
  Time earliest_issue_date{};
  Time latest_issue_date{};
  Time earliest_expiration_date{};
  Time tcb_level_date_tag{};  // the verdict's TCB date
  uint32_t pck_crl_num = 0;
  uint32_t root_ca_crl_num = 0;
  // The lower of the TCB-info and QE-identity tcbEvaluationDataNumber.
  uint32_t tcb_eval_ref_num = 0;
  // SHA-384 of the root CA's public key (uncompressed point), as QvE's root_key_id.
  std::array<uint8_t, 48> root_key_id{};
  std::array<uint8_t, 16> ppid{};
  std::array<uint8_t, 16> cpusvn{};
  uint16_t pce_svn = 0;
  std::array<uint8_t, 2> pce_id{};
  std::array<uint8_t, 6> fmspc{};
  SgxType sgx_type = SgxType::standard;
  std::optional<std::array<uint8_t, 16>> platform_instance_id;
  std::optional<bool> dynamic_platform;
  std::optional<bool> cached_keys;
  std::optional<bool> smt_enabled;
  // Advisory IDs of the matched TCB-info level only (QvE sa_list); the verdict's advisory_ids
  // also carry the QE and module levels' IDs.
  std::vector<std::string> sa_list;
};

struct VerifyOptions {
  Time at{};
  TrustAnchors anchors = default_trust_anchors();
  // Expired collateral fails the quote with the QVL expiry status instead of setting the flag.
  bool strict_expiry = false;
  // QvE verifies only quotes that carry their PCK chain (certification data type 5, wrapped in
  // type 6 by v4/v5 quotes); any other type is rejected with
  // STATUS_UNSUPPORTED_QE_CERTIFICATION_DATA_TYPE. Set this to verify such a quote with the
  // collateral's pck_certificate_chain instead; the verdict then says so
  // (QuoteVerdict::pck_chain_from_collateral). A type-5 quote always uses its own chain.
  bool allow_collateral_pck_chain = false;
  VerificationCache* cache = nullptr;  // not owned; may be shared between threads
};

struct QuoteVerdict {
  QvlStatus status = QvlStatus::ok;       // any QVL code, see qvl_status_text()
  uint32_t qv_result = 0;                 // QvE sgx_ql_qv_result_t
  bool accepted = false;                  // is_acceptable(status)
  std::string failure;                    // why, when the status is not a TCB status
  std::vector<std::string> advisory_ids;  // platform ++ QE ++ module
  Time tcb_date{};
  Bytes fmspc;  // empty when the PCK certificate was not reached
  bool collateral_expired = false;
  // The verified PCK chain carries a mark of the simulated platform (claims.h
  // is_simulated_pck_chain): evidence from acon-sim, never from real hardware. The one place
  // this is decided; quote_claims(quote, verdict), verdict_json and acon-verify print it.
  bool simulated = false;
  // The PCK chain verified is the collateral's, not the quote's (allow_collateral_pck_chain).
  bool pck_chain_from_collateral = false;
  bool supplemental_valid = false;  // false when verification stopped before the TCB stage
  SupplementalData supplemental;
  std::optional<TcbEvaluation> tcb;
  // ECDSA verifications this call performed, counted per stage as docs/dcap-verification.md §13
  // does (PCK chain 5, TCB-info and QE-identity chains and signatures 6, QE report 1, quote 1);
  // cache hits skip their stage's share.
  uint32_t ecdsa_verifications = 0;
};

// Errors (not verdicts) only for unusable input: the quote does not parse, or
// allow_collateral_pck_chain is set, the quote carries no PEM PCK chain and the collateral has
// none either. Every verification failure is a verdict with
// its QVL status and accepted == false.
Result<QuoteVerdict> verify_quote(ByteView quote_bytes, const Collateral& collateral,
                                  const VerifyOptions& options);
Result<QuoteVerdict> verify_quote(const tdx::Quote& quote, const Collateral& collateral,
                                  const VerifyOptions& options);

// {"status": "STATUS_OK", "status_code": 0, "qv_result": "SGX_QL_QV_RESULT_OK", "accepted",
//  "tcb_status", "advisory_ids", "tcb_date", "fmspc", "collateral_expired", "supplemental": {...}}
// and "simulated": true|false (QuoteVerdict::simulated), plus "pck_chain_source": "quote" or
// "collateral".
Json verdict_json(const QuoteVerdict& verdict);

}  // namespace acon::dcap
