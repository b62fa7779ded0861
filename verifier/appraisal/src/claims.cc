// The TDX claims document. See claims.h and docs/claims.md.
#include "acon/appraisal/claims.h"

#include <string>
#include <utility>

#include "acon/dcap/claims.h"
#include "acon/eventlog/trustee.h"
#include "firmware_log.h"

namespace acon::appraisal {
namespace {

// Trustee's uefi_event_logs of `log`, the firmware events' entries from `firmware` when given.
Result<Json> uefi_event_logs(const eventlog::EventLog& log, const FirmwareLogFacts* firmware) {
  if (firmware == nullptr) return eventlog::trustee_uefi_event_logs(log);
  // Trustee stops at the first event it refuses; the firmware events come first.
  if (firmware->trustee_error) return *firmware->trustee_error;
  Json::array_t entries = firmware->take_entries();
  entries.reserve(log.events.empty() ? 0 : log.events.size() - 1);
  ACON_CHECK(
      eventlog::append_trustee_event_entries(log, firmware->events, log.events.size(), entries));
  return Json(std::move(entries));
}

}  // namespace

ClaimsDocument tdx_claims(const tdx::Quote& quote, const dcap::QuoteVerdict& verdict,
                          const eventlog::EventLog* ccel) {
  return tdx_claims(quote, verdict, ccel, nullptr);
}

ClaimsDocument tdx_claims(const tdx::Quote& quote, const dcap::QuoteVerdict& verdict,
                          const eventlog::EventLog* ccel, const FirmwareLogFacts* firmware) {
  ClaimsDocument doc;
  Json tdx = dcap::quote_claims(quote, dcap::verified_supplemental(verdict));
  doc.claims = Json::object();
  for (const char* lifted : {"report_data", "init_data"}) {
    if (auto it = tdx.find(lifted); it != tdx.end()) {
      doc.claims[lifted] = std::move(*it);
      tdx.erase(it);
    }
  }
  Json tcb = dcap::tcb_claims(verdict);
  for (auto it = tcb.begin(); it != tcb.end(); ++it) tdx[it.key()] = std::move(it.value());

  doc.event_log = {"claims.uefi_event_logs", Outcome::pass, "", nullptr};
  if (ccel == nullptr) {
    doc.event_log.outcome = Outcome::skipped;
    doc.event_log.reason = "no CCEL event log was given";
  } else if (quote.td_report() == nullptr) {
    doc.event_log.outcome = Outcome::skipped;
    doc.event_log.reason = "an SGX quote has no event log claims";
  } else if (auto entries = uefi_event_logs(*ccel, firmware); !entries) {
    doc.event_log.outcome = Outcome::fail;
    doc.event_log.reason =
        "Trustee's event-log parser refuses this log, so Trustee would refuse "
        "the evidence: " +
        entries.error().message;
  } else {
    doc.event_log.reason =
        std::to_string(entries->size()) + " event log entries, as Trustee's parser lists them";
    tdx["uefi_event_logs"] = std::move(*entries);
    if (firmware != nullptr) doc.prewritten_event_log = firmware->trustee_entries_text;
  }
  doc.claims["tdx"] = std::move(tdx);
  return doc;
}

}  // namespace acon::appraisal
