// The Trustee part of a TDX claims document: what CoCo Trustee's attestation service builds from
// its TDX verifier as the input of its policy (docs/claims.md).
//
//   {"tdx": {quote, td_attributes, [uefi_event_logs], [platform_instance_id], TCB claims},
//    "report_data": "<hex>", "init_data": "<hex>"}
//
// "tdx" holds exactly what Trustee's TDX verifier emits (trustee @ 78962cd4
// deps/verifier/src/tdx/claims.rs, intel_dcap/claims.rs) except report_data and init_data, which
// Trustee's token broker (attestation-service/src/ear_token/broker.rs transform_claims) moves to
// the top level. appraise_evidence() (checks.h) adds init_data_claims, runtime_data_claims and
// acon's own "acon" section beside it.
#pragma once

#include <memory>

#include "acon/appraisal/check.h"
#include "acon/appraisal/ear.h"
#include "acon/common/json.h"
#include "acon/dcap/verify.h"
#include "acon/eventlog/event_log.h"
#include "acon/tdx/quote.h"

namespace acon::appraisal {

struct ClaimsDocument {
  Json claims;  // the object above, without the members that come from other checks
  // "claims.uefi_event_logs": pass when Trustee's event-log parser lists the log's entries,
  // skipped without a log or for an SGX quote, fail when Trustee's parser refuses the log (Trustee
  // then refuses the evidence and the document has no uefi_event_logs). Whether the quote
  // verifies and the log replays are the quote.* and replay.* checks' business (checks.h).
  CheckResult event_log;
  // The text of the first entries of tdx.uefi_event_logs when they came from a firmware-log
  // cache (Submod::prewritten_event_log); null otherwise.
  std::shared_ptr<const PrewrittenEntries> prewritten_event_log;
};

// `ccel` is the parsed CCEL of the same TD, or null. A v3 (SGX) quote has no TD report: its
// document has only the header claims (Trustee's TDX verifier refuses it).
ClaimsDocument tdx_claims(const tdx::Quote& quote, const dcap::QuoteVerdict& verdict,
                          const eventlog::EventLog* ccel);

}  // namespace acon::appraisal
