// Reading the result model (report.h) for the views: lenient accessors, since a view shows what
// the model has and must not fail on a member it lacks.
#pragma once

#include <string>
#include <string_view>

#include "acon/common/json.h"
#include "acon/common/utf8.h"

namespace acon::report::detail {

inline const Json& null_json() {
  static const Json null = nullptr;
  return null;
}

// object[key] when object is an object that has key, else null.
inline const Json& at(const Json& object, std::string_view key) {
  if (!object.is_object()) return null_json();
  auto it = object.find(key);
  return it == object.end() ? null_json() : *it;
}

// JSON text of a value, invalid UTF-8 replaced rather than thrown on.
inline std::string dump(const Json& value, int indent = -1) {
  return value.dump(indent, ' ', false, Json::error_handler_t::replace);
}

// A scalar as text: strings as they are, numbers and booleans as JSON, null as "".
inline std::string text(const Json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return {};
  return dump(value);
}

// Evidence is attacker-controlled: on a terminal, control characters (an escape sequence could
// rewrite what the auditor sees), C1 controls and invalid UTF-8 become U+FFFD; tabs and line
// breaks become spaces, so one item stays one line.
inline std::string terminal_safe(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = 0;
    const size_t n = utf8_sequence(s, i, &cp);
    if (n == 0) {
      append_utf8(out, kUnicodeReplacement);
      ++i;
      continue;
    }
    if (cp == '\t' || cp == '\n' || cp == '\r')
      out += ' ';
    else if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
      append_utf8(out, kUnicodeReplacement);
    else
      out.append(s.substr(i, n));
    i += n;
  }
  return out;
}

// The checks of the model's result, in order.
inline const Json& checks(const Json& model) { return at(at(model, "result"), "checks"); }

// The check named `name`, or null.
inline const Json& check(const Json& model, std::string_view name) {
  const Json& list = checks(model);
  if (list.is_array())
    for (const Json& c : list)
      if (at(c, "name").is_string() && at(c, "name").get<std::string>() == name) return c;
  return null_json();
}

}  // namespace acon::report::detail
