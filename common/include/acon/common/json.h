// JSON (nlohmann-json) helpers that never throw, and RFC 8785 canonical serialisation.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <string_view>

#include "acon/common/result.h"

namespace acon {

using Json = nlohmann::json;

// Nesting deeper than this is refused before parsing: serialisers recurse.
inline constexpr size_t kMaxJsonDepth = 128;

// Strict RFC 8259 parse (no comments, no trailing commas); the error names the byte offset.
Result<Json> parse_json(std::string_view text, size_t max_depth = kMaxJsonDepth);

// Equal values of equal types all the way down (nlohmann's == calls 1 and 1u equal): how
// parse_json's two parsers are held to one tree.
bool same_json_tree(const Json& a, const Json& b);

// Compact, keys sorted by byte value (as serde_json and nlohmann order them); invalid UTF-8
// in strings is replaced rather than thrown on.
std::string dump_compact(const Json& value);
// dump_compact appending to `out`. False when the text does not give the value back as it is
// (a string or key that is not UTF-8 is replaced, a non-finite number written as null, a binary
// value), so that a writer knows whether what it wrote is what it holds.
bool append_compact_json(std::string& out, const Json& value);

// RFC 8785 JSON Canonicalization Scheme: keys sorted by UTF-16 code units, ECMAScript number
// formatting, minimal string escaping. Fails on invalid UTF-8, NaN/Infinity, or excess depth.
Result<std::string> jcs_canonicalize(const Json& value);
// Parses then canonicalises.
Result<std::string> jcs_canonicalize_text(std::string_view json_text);

// ECMAScript Number::toString for a finite double (RFC 8785 §3.2.2.3).
Result<std::string> es6_number(double value);

// Shortest round-trip decimal digits of a finite double's magnitude: |value| = 0.DIGITS x 10^point
// with no trailing zero digit (zero is digits "0", point 1). The one digit generator behind the
// number formats of JCS, jq and Go.
struct DecimalDigits {
  std::string digits;
  int point = 0;
};
DecimalDigits shortest_decimal_digits(double value);
// The digits without an exponent: "1200", "1.5", "0.0015".
std::string decimal_plain(const DecimalDigits& d);
// d[.ddd]e+x / d[.ddd]e-x, the exponent zero-padded to `min_exponent_digits`: "1.5e+300", "1e-05".
std::string decimal_exponent(const DecimalDigits& d, size_t min_exponent_digits);

// Appends `s` as a JSON string with RFC 8785's minimal escaping: \" \\ \b \f \n \r \t, other
// control characters as \u00xx, everything else as it is; `escape_delete` also writes U+007F as
// \u007f (as jq does). The bytes are not checked to be UTF-8.
void append_json_string(std::string& out, std::string_view s, bool escape_delete = false);

// The format of a compact JSON text: how strings and numbers are written and how object members
// are ordered. One tree walk (write_json_text) serves JCS and the jq / Go canonical forms.
struct JsonTextFormat {
  std::string_view name;            // prefixes error messages: "jcs: nesting too deep"
  Errc error_code = Errc::parse;    // for the errors the walk itself reports
  bool utf16_member_order = false;  // RFC 8785 order; otherwise byte order of the UTF-8 names
  std::function<Status(std::string& out, std::string_view s)> string;
  std::function<Status(std::string& out, double value)> number;  // every number as a double
};
// Fails on nesting deeper than kMaxJsonDepth, binary values, member names that are not UTF-8
// (with utf16_member_order) and whatever the format's writers refuse.
Result<std::string> write_json_text(const Json& value, const JsonTextFormat& format);

// Builds an object member by member. A member added after every key already there (the order
// the object keeps them in) goes to the end of the map without a search; nlohmann's
// initializer-list constructor {{"k", v}, ...} instead makes a two-element array per member and
// checks the whole list's shape first, which is most of what a small object costs to build.
class JsonObjectBuilder {
 public:
  JsonObjectBuilder& add(std::string_view key, Json value) {
    members_.emplace_hint(members_.end(), key, std::move(value));
    return *this;
  }
  Json build() { return Json(std::move(members_)); }  // leaves the builder empty

 private:
  Json::object_t members_;
};

// Member access with errors that name the member.
Result<std::string> json_get_string(const Json& object, std::string_view key);
Result<const Json*> json_get(const Json& object, std::string_view key);

}  // namespace acon
