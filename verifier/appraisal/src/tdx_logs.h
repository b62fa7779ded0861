// The TDX event logs of one evidence as the single TCG2 log the checks read (internal): the
// claims (Trustee's uefi_event_logs) and the replay parse it once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "acon/appraisal/checks.h"
#include "acon/eventlog/event_log.h"
#include "acon/tdx/quote.h"

namespace acon::appraisal {

struct TdxLogs {
  Bytes buffer;  // the TCG2 log the EventLog views point into (moving keeps them valid)
  std::optional<eventlog::EventLog> log;  // none when the evidence has no TCG2 log
  size_t firmware_end = SIZE_MAX;         // events at or after this offset are runtime records
};

// cc_eventlog as it is; or the CCEL's events followed by the runtime TCG2 AAEL records.
Result<TdxLogs> parse_tdx_logs(const TdxEvidence& evidence);

// check_tdx_replay() with the quote's TD report and the logs already parsed.
ReplayChecks check_tdx_replay(const TdxEvidence& evidence, const tdx::TdReport10& report,
                              const Result<TdxLogs>& logs);

}  // namespace acon::appraisal
