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
//  "td_attributes": {debug, septve_disable, protection_keys, key_locker, perfmon}}
// An SGX body gives the header only (Trustee's TDX verifier rejects SGX quotes). A quote from the
// simulated platform gets a top-level "simulated": true only from the overload that takes the
// verdict: whether evidence is simulated is decided by verify_quote from the chain it verified.
Json quote_claims(const tdx::Quote& quote);
Json quote_claims(const tdx::Quote& quote, const QuoteVerdict& verdict);

}  // namespace acon::dcap
