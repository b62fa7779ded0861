// The claims of a TDX quote under the names CoCo Trustee's TDX verifier gives them
// (docs/dcap-verification.md §14; trustee @ 78962cd4 deps/verifier/src/tdx/claims.rs): raw fields
// as lower-case hex of their quote bytes, TD attributes decoded.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "acon/common/json.h"
#include "acon/common/x509.h"
#include "acon/dcap/verify.h"
#include "acon/tdx/quote.h"

namespace acon::dcap {

// Marks of evidence made by acon's simulated TDX platform (guest/sim, docs/simulator.md): the
// FMSPC in its PCK certificates (AC0E51000000 is no Intel platform's) and the common-name prefix
// of all its CA and signing certificates. Such evidence proves nothing about hardware: the
// simulator's root is never a default trust anchor, and every verifier output says "simulated".
inline constexpr std::array<uint8_t, 6> kSimulatedFmspc = {0xAC, 0x0E, 0x51, 0x00, 0x00, 0x00};
inline constexpr std::string_view kSimulatedNamePrefix = "ACON Simulated ";
inline constexpr std::string_view kSimulatedRootCommonName = "ACON Simulated SGX Root CA";

// True when a PCK chain (leaf first) carries either mark: the leaf's SGX extension FMSPC equals
// kSimulatedFmspc, or some certificate's subject CN starts with kSimulatedNamePrefix.
bool is_simulated_pck_chain(const std::vector<Certificate>& chain);

// {"quote": {"header": {version, att_key_type, tee_type, reserved, vendor_id, user_data},
//            "body": {tcb_svn, mr_seam, mrsigner_seam, seam_attributes, td_attributes, xfam,
//                     mr_td, mr_config_id, mr_owner, mr_owner_config, rtmr_0..rtmr_3,
//                     report_data[, tee_tcb_svn2, mr_servicetd]}
//            [, "type", "size" for v5]},
//  "td_attributes": {debug, septve_disable, protection_keys, key_locker, perfmon},
//  "report_data": <body report_data>, "init_data": <body mr_config_id>
//  [, "platform_instance_id": <hex>]}
// report_data and init_data sit beside "quote" as in Trustee's verifier output (its
// attestation service then lifts them to the top of the policy input). platform_instance_id is
// present when the quote's PCK leaf carries one (Platform CA PCKs), its 16 bytes reversed as
// Trustee prints them (it reads the little-endian GUID as a u128 and writes it big-endian).
// An SGX body gives the header only (Trustee's TDX verifier rejects SGX quotes). A quote from the
// simulated platform gets a top-level "simulated": true only from the overload that takes the
// verdict: whether evidence is simulated is decided by verify_quote from the chain it verified.
// `verified`: the supplemental data of a verdict whose PCK chain came from this quote; its
// platform_instance_id (read from the same PCK leaf) is used instead of parsing the quote's chain
// again, which costs more than the rest of the claims together.
Json quote_claims(const tdx::Quote& quote, const SupplementalData* verified = nullptr);
Json quote_claims(const tdx::Quote& quote, const QuoteVerdict& verdict);
// The verdict as `acon-verify quote` prints it, one "name: value" line each: status, whether the
// platform is simulated (right under the status), failure, TCB status and date, advisories,
// whether the collateral had expired, FMSPC, then the body's measurements from `claims`
// (quote_claims) and the decoded TD attributes.
std::string verdict_text(const QuoteVerdict& verdict, const Json& claims);
// The verdict's supplemental data when it was read from the quote's own PCK chain, else null.
const SupplementalData* verified_supplemental(const QuoteVerdict& verdict);

// The claims Trustee derives from QVL's supplemental data (trustee @ 78962cd4
// deps/verifier/src/intel_dcap/claims.rs), from the verdict: earliest_issue_date,
// latest_issue_date, earliest_expiration_date, tcb_date (RFC 3339, "2024-03-13T00:00:00Z"),
// pck_crl_num, root_ca_crl_num, tcb_eval_num (numbers), platform_provider_id (PPID hex),
// sgx_type ("Standard", "Scalable", "Scalable with Integrity") and, for a scalable type,
// is_dynamic_platform / is_cached_keys / is_smt_enabled (false when the PCK does not say),
// root_key_id, tcb_status (Trustee's name of the QvE result: "UpToDate", "OutOfDate",
// "TDRelaunchAdvised", ...; "TerminalStatus" for results Trustee refuses),
// collateral_expiration_status ("0" or "1") and advisory_ids (QvE's sa_list: the matched
// platform TCB level's IDs). Trustee's tcb_date_current / tcb_status_current /
// advisory_ids_current (QVL supplemental minor version 5) are not produced (docs/claims.md §4).
// An empty object when verification stopped before the TCB stage (no supplemental data).
Json tcb_claims(const QuoteVerdict& verdict);

// Trustee's name of a QvE result (sgx_ql_qv_result_t), as tcb_claims writes tcb_status.
std::string_view trustee_tcb_status(uint32_t qv_result);

}  // namespace acon::dcap
