// Shared between the EAR encoders and the token code; not part of the public API.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "acon/appraisal/ear.h"

namespace acon::appraisal {

// 9999-12-31T23:59:59Z: times beyond it cannot be compared with a leeway without overflow and
// are not what an attestation result means.
inline constexpr int64_t kMaxEarTimeSeconds = 253402300799;
Result<Time> time_from_seconds(int64_t seconds, std::string_view field);

// ear_to_json_text appending to `out` (sign_ear_jwt writes into a per-thread buffer). False when
// the text does not hold the EAR's own values (append_compact_json).
bool append_ear_json_text(std::string& out, const Ear& ear);

// Walks the CBOR item heads of `data` without building anything: refuses nesting deeper than
// `max_depth`, truncation and reserved encodings, naming the byte offset (plus `base_offset`).
// libcbor's decref recurses, so depth is bounded before anything is built.
Status check_cbor_structure(ByteView data, size_t max_depth, size_t base_offset);

}  // namespace acon::appraisal
