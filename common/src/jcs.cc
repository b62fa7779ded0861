// RFC 8785 JSON Canonicalization Scheme.
#include <cmath>

#include "acon/common/json.h"
#include "acon/common/utf8.h"

namespace acon {
namespace {

const JsonTextFormat& jcs_format() {
  static const JsonTextFormat format{
      .name = "jcs",
      .error_code = Errc::parse,
      .utf16_member_order = true,
      .string = [](std::string& out, std::string_view s) -> Status {
        if (!is_valid_utf8(s)) return make_error(Errc::parse, "jcs: string is not valid UTF-8");
        append_json_string(out, s);
        return {};
      },
      // JCS numbers are IEEE-754 doubles: integers beyond 2^53 round as JavaScript would.
      .number = [](std::string& out, double value) -> Status {
        ACON_TRY(std::string text, es6_number(value));
        out += text;
        return {};
      },
  };
  return format;
}

}  // namespace

Result<std::string> es6_number(double value) {
  if (!std::isfinite(value)) return make_error(Errc::parse, "jcs: NaN and Infinity are not JSON");
  if (value == 0) return std::string("0");  // also -0
  // ECMA-262 Number::toString: value = 0.digits x 10^n.
  const DecimalDigits d = shortest_decimal_digits(value);
  const int n = d.point;
  std::string out = value < 0 ? "-" : "";
  out += (-6 < n && n <= 21) ? decimal_plain(d) : decimal_exponent(d, 1);
  return out;
}

Result<std::string> jcs_canonicalize(const Json& value) {
  return write_json_text(value, jcs_format());
}

Result<std::string> jcs_canonicalize_text(std::string_view json_text) {
  ACON_TRY(Json value, parse_json(json_text));
  return jcs_canonicalize(value);
}

}  // namespace acon
