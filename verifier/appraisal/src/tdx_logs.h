// The replay over TDX event logs already parsed (internal).
#pragma once

#include "acon/appraisal/checks.h"
#include "acon/appraisal/tdx_logs.h"
#include "acon/tdx/quote.h"

namespace acon::appraisal {

// check_tdx_replay() with the quote's TD report and the logs already parsed.
ReplayChecks check_tdx_replay(const TdxEvidence& evidence, const tdx::TdReport10& report,
                              const Result<TdxLogs>& logs);

}  // namespace acon::appraisal
