// The claims of a TDX quote under the names CoCo Trustee's TDX verifier gives them
// (shared/specs/kbs-protocol.md §4, Trustee deps/verifier/src/tdx/claims.rs): raw fields as
// lower-case hex of their quote bytes, TD attributes decoded.
#pragma once

#include "acon/common/json.h"
#include "acon/verifier/quote.h"

namespace acon::verifier {

// {"quote": {"header": {version, att_key_type, tee_type, reserved, vendor_id, user_data},
//            "body": {tcb_svn, mr_seam, mrsigner_seam, seam_attributes, td_attributes, xfam,
//                     mr_td, mr_config_id, mr_owner, mr_owner_config, rtmr_0..rtmr_3,
//                     report_data[, tee_tcb_svn2, mr_servicetd]}
//            [, "type", "size" for v5]},
//  "td_attributes": {debug, septve_disable, protection_keys, key_locker, perfmon}}
// An SGX body gives the header only (Trustee's TDX verifier rejects SGX quotes).
Json quote_claims(const Quote& quote);

}  // namespace acon::verifier
