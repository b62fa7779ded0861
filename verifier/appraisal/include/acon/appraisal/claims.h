// The claims document of a TDX appraisal: the policy input CoCo Trustee's attestation service
// builds from its TDX verifier (docs/claims.md), with acon's own section beside it.
//
//   {"tdx": {quote, td_attributes, [uefi_event_logs], [platform_instance_id], TCB claims},
//    "report_data": "<hex>", "init_data": "<hex>",
//    "acon": {"simulated": bool}}
//
// "tdx" holds exactly what Trustee's TDX verifier emits (trustee @ 78962cd4
// deps/verifier/src/tdx/claims.rs, intel_dcap/claims.rs) except report_data and init_data, which
// Trustee's token broker (attestation-service/src/ear_token/broker.rs transform_claims) moves to
// the top level. init_data_claims / runtime_data_claims and the rest of "acon" are added by the
// steps that check those bindings and the images. Beside the document: the checks that decide
// whether Trustee would have issued it at all.
#pragma once

#include "acon/appraisal/check.h"
#include "acon/common/json.h"
#include "acon/dcap/verify.h"
#include "acon/eventlog/event_log.h"
#include "acon/tdx/quote.h"

namespace acon::appraisal {

struct ClaimsDocument {
  Json claims;  // the object above
  // "quote.dcap": pass when the verdict is acceptable (Trustee's non-terminal QvE results), fail
  //   otherwise with the QVL status; the claims are then what Trustee would never have issued.
  // "ccel.replay": skipped without an event log; fail when the log's CC MR 1..4 (SHA-384) do not
  //   replay to RTMR0..3, or Trustee's event-log parser would refuse the log (then the document
  //   has no uefi_event_logs); pass otherwise.
  CheckResults checks;
};

// `ccel` is the parsed CCEL of the same TD, or null. A v3 (SGX) quote has no TD report: its
// document has only the header claims and "quote.dcap" fails as Trustee's TDX verifier does.
ClaimsDocument tdx_claims(const tdx::Quote& quote, const dcap::QuoteVerdict& verdict,
                          const eventlog::EventLog* ccel);

}  // namespace acon::appraisal
