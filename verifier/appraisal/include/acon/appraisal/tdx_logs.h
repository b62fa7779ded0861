// The TDX event logs of one evidence as the single TCG2 log the appraisal reads: the claims
// (Trustee's uefi_event_logs), the replay and the auditor's timeline (acon/report) parse it here,
// once, with the same framing and the same refusals.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "acon/appraisal/evidence.h"
#include "acon/common/bytes.h"
#include "acon/common/result.h"
#include "acon/eventlog/event_log.h"

namespace acon::appraisal {

struct TdxLogs {
  Bytes buffer;  // the TCG2 log the EventLog views point into (moving keeps them valid)
  std::optional<eventlog::EventLog> log;  // none when the evidence has no TCG2 log
  size_t firmware_end = SIZE_MAX;         // events at or after this offset are runtime records
  eventlog::ParseOptions parsed_with;     // how `log` was parsed (cc_eventlog: zero signature)
};

// cc_eventlog as it is (guest-components' zero-signature header allowed); or the CCEL's events
// followed by the runtime TCG2 AAEL records. Refuses both forms at once, and runtime records
// without the CCEL they follow.
Result<TdxLogs> parse_tdx_logs(const TdxEvidence& evidence);

}  // namespace acon::appraisal
