// JSON (nlohmann-json) helpers that never throw, and RFC 8785 canonical serialisation.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "acon/common/result.h"

namespace acon {

using Json = nlohmann::json;

// Nesting deeper than this is refused before parsing: serialisers recurse.
inline constexpr size_t kMaxJsonDepth = 128;

// Strict RFC 8259 parse (no comments, no trailing commas); the error names the byte offset.
Result<Json> parse_json(std::string_view text, size_t max_depth = kMaxJsonDepth);

// Compact, keys sorted by byte value (as serde_json and nlohmann order them); invalid UTF-8
// in strings is replaced rather than thrown on.
std::string dump_compact(const Json& value);

// RFC 8785 JSON Canonicalization Scheme: keys sorted by UTF-16 code units, ECMAScript number
// formatting, minimal string escaping. Fails on invalid UTF-8, NaN/Infinity, or excess depth.
Result<std::string> jcs_canonicalize(const Json& value);
// Parses then canonicalises.
Result<std::string> jcs_canonicalize_text(std::string_view json_text);

// ECMAScript Number::toString for a finite double (RFC 8785 §3.2.2.3).
Result<std::string> es6_number(double value);

// Member access with errors that name the member.
Result<std::string> json_get_string(const Json& object, std::string_view key);
Result<const Json*> json_get(const Json& object, std::string_view key);

}  // namespace acon
