// RFC 8785 JSON Canonicalization Scheme.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <vector>

#include "acon/common/json.h"

namespace acon {
namespace {

// Decodes UTF-8 into UTF-16 code units, rejecting overlongs, surrogates and truncation.
bool utf8_to_utf16(std::string_view s, std::u16string& out) {
  out.clear();
  for (size_t i = 0; i < s.size();) {
    auto b0 = static_cast<uint8_t>(s[i]);
    uint32_t cp;
    size_t len;
    if (b0 < 0x80) {
      cp = b0;
      len = 1;
    } else if ((b0 & 0xe0) == 0xc0) {
      cp = b0 & 0x1f;
      len = 2;
    } else if ((b0 & 0xf0) == 0xe0) {
      cp = b0 & 0x0f;
      len = 3;
    } else if ((b0 & 0xf8) == 0xf0) {
      cp = b0 & 0x07;
      len = 4;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      auto b = static_cast<uint8_t>(s[i + k]);
      if ((b & 0xc0) != 0x80) return false;
      cp = cp << 6 | (b & 0x3f);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out.push_back(static_cast<char16_t>(0xd800 + (cp >> 10)));
      out.push_back(static_cast<char16_t>(0xdc00 + (cp & 0x3ff)));
    } else {
      out.push_back(static_cast<char16_t>(cp));
    }
    i += len;
  }
  return true;
}

Status write_string(std::string_view s, std::string& out) {
  std::u16string scratch;
  if (!utf8_to_utf16(s, scratch)) return make_error(Errc::parse, "jcs: string is not valid UTF-8");
  out.push_back('"');
  for (char c : s) {
    switch (c) {
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
      default:
        if (static_cast<uint8_t>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<uint8_t>(c)));
          out += buf;
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
  return {};
}

Status write_value(const Json& v, std::string& out, size_t depth) {
  if (depth > kMaxJsonDepth) return make_error(Errc::parse, "jcs: nesting too deep");
  switch (v.type()) {
    case Json::value_t::null:
      out += "null";
      return {};
    case Json::value_t::boolean:
      out += v.get<bool>() ? "true" : "false";
      return {};
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float: {
      // JCS numbers are IEEE-754 doubles: integers beyond 2^53 round as JavaScript would.
      ACON_TRY(std::string num, es6_number(v.get<double>()));
      out += num;
      return {};
    }
    case Json::value_t::string:
      return write_string(v.get_ref<const std::string&>(), out);
    case Json::value_t::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& e : v) {
        if (!first) out.push_back(',');
        first = false;
        ACON_CHECK(write_value(e, out, depth + 1));
      }
      out.push_back(']');
      return {};
    }
    case Json::value_t::object: {
      struct Entry {
        std::u16string key16;
        const std::string* key;
        const Json* value;
      };
      std::vector<Entry> entries;
      entries.reserve(v.size());
      for (auto it = v.begin(); it != v.end(); ++it) {
        Entry e{{}, &it.key(), &it.value()};
        if (!utf8_to_utf16(it.key(), e.key16))
          return make_error(Errc::parse, "jcs: object key is not valid UTF-8");
        entries.push_back(std::move(e));
      }
      std::sort(entries.begin(), entries.end(),
                [](const Entry& a, const Entry& b) { return a.key16 < b.key16; });
      out.push_back('{');
      bool first = true;
      for (const auto& e : entries) {
        if (!first) out.push_back(',');
        first = false;
        ACON_CHECK(write_string(*e.key, out));
        out.push_back(':');
        ACON_CHECK(write_value(*e.value, out, depth + 1));
      }
      out.push_back('}');
      return {};
    }
    case Json::value_t::binary:
    case Json::value_t::discarded:
      break;
  }
  return make_error(Errc::parse, "jcs: value has no JSON representation");
}

}  // namespace

Result<std::string> es6_number(double value) {
  if (!std::isfinite(value)) return make_error(Errc::parse, "jcs: NaN and Infinity are not JSON");
  if (value == 0) return std::string("0");  // also -0
  std::string sign = value < 0 ? "-" : "";
  // Shortest round-trip digits, in the form d[.ddd]e±x.
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, std::fabs(value), std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));
  size_t e_pos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e_pos)) {
    if (c != '.') digits.push_back(c);
  }
  int exp10 = 0;
  std::from_chars(sci.data() + e_pos + 1 + (sci[e_pos + 1] == '+'), sci.data() + sci.size(), exp10);
  // ECMA-262 Number::toString: value = 0.digits × 10^n.
  int k = static_cast<int>(digits.size());
  int n = exp10 + 1;
  std::string out = sign;
  if (k <= n && n <= 21) {
    out += digits + std::string(static_cast<size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out += digits.substr(0, static_cast<size_t>(n)) + "." + digits.substr(static_cast<size_t>(n));
  } else if (-6 < n && n <= 0) {
    out += "0." + std::string(static_cast<size_t>(-n), '0') + digits;
  } else {
    int e = n - 1;
    out += digits.substr(0, 1);
    if (k > 1) {
      out += '.';
      out.append(digits, 1);
    }
    out += e < 0 ? "e-" : "e+";
    out += std::to_string(e < 0 ? -e : e);
  }
  return out;
}

Result<std::string> jcs_canonicalize(const Json& value) {
  std::string out;
  ACON_CHECK(write_value(value, out, 0));
  return out;
}

Result<std::string> jcs_canonicalize_text(std::string_view json_text) {
  ACON_TRY(Json value, parse_json(json_text));
  return jcs_canonicalize(value);
}

}  // namespace acon
