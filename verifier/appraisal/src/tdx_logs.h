// The replay over TDX event logs already parsed (internal).
#pragma once

#include "acon/appraisal/checks.h"
#include "acon/appraisal/tdx_logs.h"
#include "acon/tdx/quote.h"

namespace acon::appraisal {

struct FirmwareLogFacts;

// check_tdx_replay() with the quote's TD report and the logs already parsed; the register values
// after the firmware events from `firmware` when given (derived from the same logs).
ReplayChecks check_tdx_replay(const TdxEvidence& evidence, const tdx::TdReport10& report,
                              const Result<TdxLogs>& logs,
                              const FirmwareLogFacts* firmware = nullptr);

}  // namespace acon::appraisal
