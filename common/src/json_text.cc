// The pieces every compact JSON writer here shares: shortest number digits, minimal string
// escaping, and the tree walk (JCS in jcs.cc; jq and Go forms in image/src/json_text.cc).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <vector>

#include "acon/common/json.h"
#include "acon/common/utf8.h"

namespace acon {

DecimalDigits shortest_decimal_digits(double value) {
  // std::to_chars without a precision gives the shortest text that reads back as the same double.
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, std::fabs(value), std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));
  const size_t e = sci.find('e');
  DecimalDigits d;
  for (char c : sci.substr(0, e)) {
    if (c != '.') d.digits.push_back(c);
  }
  while (d.digits.size() > 1 && d.digits.back() == '0') d.digits.pop_back();
  int exp10 = 0;
  std::from_chars(sci.data() + e + 1 + (sci[e + 1] == '+'), sci.data() + sci.size(), exp10);
  d.point = exp10 + 1;
  return d;
}

std::string decimal_plain(const DecimalDigits& d) {
  const int n = static_cast<int>(d.digits.size());
  std::string out;
  if (d.point <= 0) {
    out = "0.";
    out.append(static_cast<size_t>(-d.point), '0');
    out += d.digits;
  } else if (n > d.point) {
    out.append(d.digits, 0, static_cast<size_t>(d.point));
    out.push_back('.');
    out.append(d.digits, static_cast<size_t>(d.point));
  } else {
    out = d.digits;
    out.append(static_cast<size_t>(d.point - n), '0');
  }
  return out;
}

std::string decimal_exponent(const DecimalDigits& d, size_t min_exponent_digits) {
  std::string out(1, d.digits[0]);
  if (d.digits.size() > 1) {
    out.push_back('.');
    out.append(d.digits, 1);
  }
  const int exp10 = d.point - 1;
  out += exp10 < 0 ? "e-" : "e+";
  std::string e = std::to_string(exp10 < 0 ? -exp10 : exp10);
  if (e.size() < min_exponent_digits) out.append(min_exponent_digits - e.size(), '0');
  out += e;
  return out;
}

void append_json_string(std::string& out, std::string_view s, bool escape_delete) {
  out.push_back('"');
  // Runs of characters written as they are go in one append: most strings (hex digests, names)
  // need no escape at all.
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto u = static_cast<uint8_t>(s[i]);
    if (u >= 0x20 && u != '"' && u != '\\' && !(escape_delete && u == 0x7f)) continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (u) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default: {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(u));
        out += buf;
      }
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

namespace {

Error walk_error(const JsonTextFormat& f, std::string_view what) {
  return make_error(f.error_code, std::string(f.name) + ": " + std::string(what));
}

Status write_value(const Json& v, const JsonTextFormat& f, std::string& out, size_t depth) {
  if (depth > kMaxJsonDepth) return walk_error(f, "nesting too deep");
  switch (v.type()) {
    case Json::value_t::null:
      out += "null";
      return {};
    case Json::value_t::boolean:
      out += v.get<bool>() ? "true" : "false";
      return {};
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
      return f.number(out, v.get<double>());
    case Json::value_t::string:
      return f.string(out, v.get_ref<const std::string&>());
    case Json::value_t::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& e : v) {
        if (!first) out.push_back(',');
        first = false;
        ACON_CHECK(write_value(e, f, out, depth + 1));
      }
      out.push_back(']');
      return {};
    }
    case Json::value_t::object: {
      struct Member {
        std::u16string key16;
        const std::string* key;
        const Json* value;
      };
      // nlohmann's object is a std::map<std::string, ...>: already in byte order.
      std::vector<Member> members;
      members.reserve(v.size());
      for (auto it = v.begin(); it != v.end(); ++it) {
        Member m{{}, &it.key(), &it.value()};
        if (f.utf16_member_order && !utf8_to_utf16(it.key(), m.key16))
          return walk_error(f, "object key is not valid UTF-8");
        members.push_back(std::move(m));
      }
      if (f.utf16_member_order) {
        std::sort(members.begin(), members.end(),
                  [](const Member& a, const Member& b) { return a.key16 < b.key16; });
      }
      out.push_back('{');
      bool first = true;
      for (const auto& m : members) {
        if (!first) out.push_back(',');
        first = false;
        ACON_CHECK(f.string(out, *m.key));
        out.push_back(':');
        ACON_CHECK(write_value(*m.value, f, out, depth + 1));
      }
      out.push_back('}');
      return {};
    }
    case Json::value_t::binary:
    case Json::value_t::discarded:
      break;
  }
  return walk_error(f, "value has no JSON representation");
}

}  // namespace

Result<std::string> write_json_text(const Json& value, const JsonTextFormat& format) {
  std::string out;
  ACON_CHECK(write_value(value, format, out, 0));
  return out;
}

}  // namespace acon
