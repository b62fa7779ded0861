// The measurement registers of a TDX quote (v4, or v5 with a TD 1.0 / 1.5 body), read with bounds
// checks for acon-eventlog's --quote comparison. Only the register fields are read: this is not
// verification (the DCAP verifier of verifier/ checks signatures and collateral).
#pragma once

#include <map>

#include "acon/common/bytes.h"

namespace acon::tools {

// CC MR index → value: 0 MRTD, 1..4 RTMR0..3.
Result<std::map<uint32_t, Bytes>> td_quote_registers(ByteView quote);

}  // namespace acon::tools
