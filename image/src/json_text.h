// JSON text <-> value for ACON manifests (private to the image library).
//
// The reader follows serde_json where acond's behaviour depends on it: an integer literal is an
// integer only if it fits u64 (non-negative) or i64 (negative) and is not "-0"; every other
// number is a double (overflow gives +-inf, which only the canonicalisers look at). It is stricter
// than serde_json in two places: duplicate member names and lone surrogate escapes are refused
// everywhere (serde_json skips unknown members without checking either), because neither jq nor
// a signer can give such text one meaning.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "acon/common/json.h"
#include "acon/common/result.h"
#include "acon/image/manifest.h"

namespace acon::image::detail {

// serde_json's recursion limit for the values it deserialises: 128 levels fail, 127 are fine.
// Values under keys acond does not know are skipped by serde_json with no depth limit at all;
// acon keeps the 127-level limit for them too (deliberate strictness: parse_manifest says so,
// docs/acon-manifest.md lists it).
inline constexpr size_t kMaxManifestDepth = 127;

// Parses one JSON text (surrounding JSON whitespace allowed). Errors name the byte offset:
// "json at offset 17: expected ':' after member name". Nesting deeper than kMaxManifestDepth is
// an error.
Result<Json> read_json(std::string_view text);

// read_json, except that a value nested deeper than kMaxManifestDepth is checked as JSON without
// recursion and replaced by null, and the offset of the first such value is returned, so that
// the manifest parser can tell whether acond (which skips unknown members without a limit) would
// load the text.
struct JsonSkippingDeep {
  Json value;
  std::optional<size_t> deep_at;
};
Result<JsonSkippingDeep> read_json_skipping_deep(std::string_view text);

// Writes `value` canonically in the given style (see CanonicalStyle).
Result<std::string> write_canonical(const Json& value, CanonicalStyle style);

// jq 1.6's and Go's number formats for one double (jq: infinities print as +-DBL_MAX; Go:
// infinities and NaN are errors).
std::string jq_number(double value);
Result<std::string> go_number(double value);

}  // namespace acon::image::detail
