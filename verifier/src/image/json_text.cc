#include "json_text.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <system_error>

namespace acon::verifier::image::detail {

namespace {

class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}

  Result<Json> document() {
    skip_ws();
    Json value;
    ACON_CHECK(read_value(value, 0));
    skip_ws();
    if (pos_ != text_.size()) return fail("trailing characters after the JSON value");
    return value;
  }

 private:
  Error fail(std::string what) const { return fail_at(pos_, std::move(what)); }
  Error fail_at(size_t at, std::string what) const {
    return make_error(Errc::parse, "json at offset " + std::to_string(at) + ": " + what);
  }

  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return text_[pos_]; }

  void skip_ws() {
    while (!at_end()) {
      char c = peek();
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
      ++pos_;
    }
  }

  bool consume_literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  Status read_value(Json& out, size_t depth) {
    if (at_end()) return fail("unexpected end of input, expected a value");
    switch (peek()) {
      case '{':
        return read_object(out, depth + 1);
      case '[':
        return read_array(out, depth + 1);
      case '"': {
        std::string s;
        ACON_CHECK(read_string(s));
        out = std::move(s);
        return {};
      }
      case 't':
        if (!consume_literal("true")) return fail("invalid literal");
        out = true;
        return {};
      case 'f':
        if (!consume_literal("false")) return fail("invalid literal");
        out = false;
        return {};
      case 'n':
        if (!consume_literal("null")) return fail("invalid literal");
        out = nullptr;
        return {};
      default:
        if (peek() == '-' || (peek() >= '0' && peek() <= '9')) return read_number(out);
        return fail(std::string("unexpected character '") + printable(peek()) + "'");
    }
  }

  static std::string printable(char c) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) return std::string(1, c);
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02x", u);
    return buf;
  }

  Status check_depth(size_t depth) {
    if (depth > kMaxManifestDepth)
      return fail("nesting deeper than " + std::to_string(kMaxManifestDepth) + " levels");
    return {};
  }

  Status read_object(Json& out, size_t depth) {
    ACON_CHECK(check_depth(depth));
    ++pos_;  // '{'
    out = Json::object();
    skip_ws();
    if (!at_end() && peek() == '}') {
      ++pos_;
      return {};
    }
    while (true) {
      skip_ws();
      if (at_end() || peek() != '"') return fail("expected a member name");
      size_t key_at = pos_;
      std::string key;
      ACON_CHECK(read_string(key));
      skip_ws();
      if (at_end() || peek() != ':') return fail("expected ':' after member name");
      ++pos_;
      skip_ws();
      Json value;
      ACON_CHECK(read_value(value, depth));
      if (out.contains(key)) return fail_at(key_at, "duplicate member name \"" + key + "\"");
      out.emplace(std::move(key), std::move(value));
      skip_ws();
      if (at_end()) return fail("unexpected end of input in an object");
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == '}') {
        ++pos_;
        return {};
      }
      return fail("expected ',' or '}' in an object");
    }
  }

  Status read_array(Json& out, size_t depth) {
    ACON_CHECK(check_depth(depth));
    ++pos_;  // '['
    out = Json::array();
    skip_ws();
    if (!at_end() && peek() == ']') {
      ++pos_;
      return {};
    }
    while (true) {
      skip_ws();
      Json value;
      ACON_CHECK(read_value(value, depth));
      out.push_back(std::move(value));
      skip_ws();
      if (at_end()) return fail("unexpected end of input in an array");
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == ']') {
        ++pos_;
        return {};
      }
      return fail("expected ',' or ']' in an array");
    }
  }

  Result<uint32_t> read_hex4() {
    if (text_.size() - pos_ < 4) return fail("truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text_[pos_ + i];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f')
        v |= static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        v |= static_cast<uint32_t>(c - 'A' + 10);
      else
        return fail("invalid hex digit in \\u escape");
    }
    pos_ += 4;
    return v;
  }

  static void put_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }

  // Length of the well-formed UTF-8 sequence at pos_ (RFC 3629), 0 if ill-formed.
  size_t utf8_length() const {
    auto byte = [&](size_t i) -> unsigned {
      return pos_ + i < text_.size() ? static_cast<unsigned char>(text_[pos_ + i]) : 0x100;
    };
    unsigned b0 = byte(0);
    auto cont = [&](size_t i, unsigned lo = 0x80, unsigned hi = 0xbf) {
      unsigned b = byte(i);
      return b >= lo && b <= hi;
    };
    if (b0 >= 0xc2 && b0 <= 0xdf) return cont(1) ? 2 : 0;
    if (b0 == 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
    if ((b0 >= 0xe1 && b0 <= 0xec) || b0 == 0xee || b0 == 0xef) return cont(1) && cont(2) ? 3 : 0;
    if (b0 == 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;  // no surrogates
    if (b0 == 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
    if (b0 >= 0xf1 && b0 <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
    if (b0 == 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
    return 0;
  }

  Status read_string(std::string& out) {
    ++pos_;  // opening quote
    while (true) {
      if (at_end()) return fail("unterminated string");
      unsigned char c = static_cast<unsigned char>(peek());
      if (c == '"') {
        ++pos_;
        return {};
      }
      if (c < 0x20) return fail("control character in a string must be escaped");
      if (c == '\\') {
        ++pos_;
        if (at_end()) return fail("unterminated escape");
        char e = peek();
        ++pos_;
        switch (e) {
          case '"':
            out.push_back('"');
            break;
          case '\\':
            out.push_back('\\');
            break;
          case '/':
            out.push_back('/');
            break;
          case 'b':
            out.push_back('\b');
            break;
          case 'f':
            out.push_back('\f');
            break;
          case 'n':
            out.push_back('\n');
            break;
          case 'r':
            out.push_back('\r');
            break;
          case 't':
            out.push_back('\t');
            break;
          case 'u': {
            size_t esc_at = pos_ - 2;
            ACON_TRY(uint32_t cp, read_hex4());
            if (cp >= 0xdc00 && cp <= 0xdfff)
              return fail_at(esc_at, "lone low surrogate in \\u escape");
            if (cp >= 0xd800 && cp <= 0xdbff) {
              if (text_.substr(pos_, 2) != "\\u")
                return fail_at(esc_at, "lone high surrogate in \\u escape");
              pos_ += 2;
              ACON_TRY(uint32_t lo, read_hex4());
              if (lo < 0xdc00 || lo > 0xdfff)
                return fail_at(esc_at, "high surrogate not followed by a low surrogate");
              cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            put_utf8(out, cp);
            break;
          }
          default:
            return fail_at(pos_ - 2, std::string("invalid escape '\\") + printable(e) + "'");
        }
        continue;
      }
      if (c < 0x80) {
        out.push_back(static_cast<char>(c));
        ++pos_;
        continue;
      }
      size_t n = utf8_length();
      if (n == 0) return fail("invalid UTF-8 in a string");
      out.append(text_.substr(pos_, n));
      pos_ += n;
    }
  }

  Status read_number(Json& out) {
    size_t start = pos_;
    bool negative = false;
    if (peek() == '-') {
      negative = true;
      ++pos_;
    }
    if (at_end() || !(peek() >= '0' && peek() <= '9')) return fail("expected a digit");
    if (peek() == '0') {
      ++pos_;
      if (!at_end() && peek() >= '0' && peek() <= '9')
        return fail_at(pos_ - 1, "leading zero in a number");
    } else {
      while (!at_end() && peek() >= '0' && peek() <= '9') ++pos_;
    }
    bool integral = true;
    if (!at_end() && peek() == '.') {
      integral = false;
      ++pos_;
      if (at_end() || !(peek() >= '0' && peek() <= '9')) return fail("expected a digit after '.'");
      while (!at_end() && peek() >= '0' && peek() <= '9') ++pos_;
    }
    if (!at_end() && (peek() == 'e' || peek() == 'E')) {
      integral = false;
      ++pos_;
      if (!at_end() && (peek() == '+' || peek() == '-')) ++pos_;
      if (at_end() || !(peek() >= '0' && peek() <= '9'))
        return fail("expected a digit in the exponent");
      while (!at_end() && peek() >= '0' && peek() <= '9') ++pos_;
    }
    std::string_view literal = text_.substr(start, pos_ - start);
    if (integral) {
      std::string_view digits = negative ? literal.substr(1) : literal;
      uint64_t magnitude = 0;
      auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), magnitude);
      if (ec == std::errc() && ptr == digits.data() + digits.size()) {
        if (!negative) {
          out = magnitude;
          return {};
        }
        // serde_json: "-0" and values below i64::MIN become doubles.
        if (magnitude != 0 && magnitude <= uint64_t{1} << 63) {
          out = magnitude == uint64_t{1} << 63 ? std::numeric_limits<int64_t>::min()
                                               : -static_cast<int64_t>(magnitude);
          return {};
        }
      }
    }
    out = to_double(literal);
    return {};
  }

  static double to_double(std::string_view literal) {
    double value = 0;
    auto [ptr, ec] = std::from_chars(literal.data(), literal.data() + literal.size(), value);
    bool negative = literal.front() == '-';
    if (ec == std::errc::result_out_of_range) {
      // Overflow or underflow: decide by the decimal exponent of the first significant digit.
      long exponent = 0;
      size_t e = literal.find_first_of("eE");
      if (e != std::string_view::npos) {
        std::string_view exp_text = literal.substr(e + 1);
        bool exp_negative = !exp_text.empty() && exp_text.front() == '-';
        if (!exp_text.empty() && (exp_text.front() == '-' || exp_text.front() == '+'))
          exp_text.remove_prefix(1);
        long parsed = 0;
        for (char c : exp_text) {
          parsed = parsed * 10 + (c - '0');
          if (parsed > 100000) break;  // far beyond any double either way
        }
        exponent = exp_negative ? -parsed : parsed;
      }
      std::string_view mantissa =
          literal.substr(negative ? 1 : 0, e == std::string_view::npos ? std::string_view::npos
                                                                       : e - (negative ? 1 : 0));
      size_t dot = mantissa.find('.');
      std::string_view int_part = mantissa.substr(0, dot);
      long position;  // decimal exponent of the leading significant digit
      size_t first = int_part.find_first_not_of('0');
      if (first != std::string_view::npos) {
        position = static_cast<long>(int_part.size() - first) - 1;
      } else {
        std::string_view frac = dot == std::string_view::npos ? "" : mantissa.substr(dot + 1);
        size_t nz = frac.find_first_not_of('0');
        position = nz == std::string_view::npos ? -100000 : -static_cast<long>(nz) - 1;
      }
      bool overflow = exponent + position > 0;
      value = overflow ? std::numeric_limits<double>::infinity() : 0.0;
      if (negative) value = -value;
    }
    return value;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

// Shortest round-trip digits and the decimal point position (value = 0.DIGITS * 10^decpt).
void shortest_digits(double magnitude, std::string& digits, int& decpt) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, magnitude, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));
  size_t e = sci.find('e');
  std::string_view mant = sci.substr(0, e);
  int exp10 = 0;
  std::string_view exp_text = sci.substr(e + 1);
  bool neg = exp_text.front() == '-';
  for (char c : exp_text.substr(1)) exp10 = exp10 * 10 + (c - '0');
  if (neg) exp10 = -exp10;
  digits.clear();
  for (char c : mant)
    if (c != '.') digits.push_back(c);
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  decpt = exp10 + 1;
}

void append_escaped(std::string& out, std::string_view s, CanonicalStyle style) {
  out.push_back('"');
  char buf[8];
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      default:
        break;
    }
    if (style == CanonicalStyle::jq) {
      if (c == '\b') {
        out += "\\b";
      } else if (c == '\f') {
        out += "\\f";
      } else if (c < 0x20 || c == 0x7f) {
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out += buf;
      } else {
        out.push_back(static_cast<char>(c));
      }
      continue;
    }
    // Go 1.21 encoding/json (HTML-safe by default).
    if (c < 0x20 || c == '<' || c == '>' || c == '&') {
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else if (c == 0xe2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
               (static_cast<unsigned char>(s[i + 2]) == 0xa8 ||
                static_cast<unsigned char>(s[i + 2]) == 0xa9)) {
      out += static_cast<unsigned char>(s[i + 2]) == 0xa8 ? "\\u2028" : "\\u2029";
      i += 2;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
}

double number_value(const Json& v) {
  if (v.is_number_unsigned()) return static_cast<double>(v.get<uint64_t>());
  if (v.is_number_integer()) return static_cast<double>(v.get<int64_t>());
  return v.get<double>();
}

Status write_value(std::string& out, const Json& v, CanonicalStyle style, size_t depth) {
  if (depth > kMaxJsonDepth) return make_error(Errc::invalid_argument, "json: nesting too deep");
  switch (v.type()) {
    case Json::value_t::null:
      out += "null";
      return {};
    case Json::value_t::boolean:
      out += v.get<bool>() ? "true" : "false";
      return {};
    case Json::value_t::string:
      append_escaped(out, v.get_ref<const std::string&>(), style);
      return {};
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float: {
      double d = number_value(v);
      if (style == CanonicalStyle::jq) {
        out += jq_number(d);
      } else {
        ACON_TRY(std::string text, go_number(d));
        out += text;
      }
      return {};
    }
    case Json::value_t::array: {
      out.push_back('[');
      bool first = true;
      for (const Json& item : v) {
        if (!first) out.push_back(',');
        first = false;
        ACON_CHECK(write_value(out, item, style, depth + 1));
      }
      out.push_back(']');
      return {};
    }
    case Json::value_t::object: {
      // nlohmann's object is a std::map<std::string, ...>: byte-wise key order, as jq and Go sort.
      out.push_back('{');
      bool first = true;
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (!first) out.push_back(',');
        first = false;
        append_escaped(out, it.key(), style);
        out.push_back(':');
        ACON_CHECK(write_value(out, it.value(), style, depth + 1));
      }
      out.push_back('}');
      return {};
    }
    default:
      return make_error(Errc::invalid_argument, "json: binary values have no JSON text");
  }
}

}  // namespace

Result<Json> read_json(std::string_view text) { return Reader(text).document(); }

std::string jq_number(double value) {
  if (std::isnan(value)) return "null";
  // jq 1.6 clamps infinities to the largest finite double before printing.
  constexpr double kMax = std::numeric_limits<double>::max();
  if (value > kMax) value = kMax;
  if (value < -kMax) value = -kMax;
  std::string out;
  if (std::signbit(value)) out.push_back('-');
  std::string digits;
  int decpt = 0;
  shortest_digits(std::fabs(value), digits, decpt);
  const int n = static_cast<int>(digits.size());
  if (decpt <= -4 || decpt > n + 15) {
    out.push_back(digits[0]);
    if (n > 1) {
      out.push_back('.');
      out.append(digits, 1);
    }
    out.push_back('e');
    int exp10 = decpt - 1;
    out.push_back(exp10 < 0 ? '-' : '+');
    std::string e = std::to_string(exp10 < 0 ? -exp10 : exp10);
    if (e.size() < 2) out.push_back('0');
    out += e;
  } else if (decpt <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-decpt), '0');
    out += digits;
  } else if (n > decpt) {
    out.append(digits, 0, static_cast<size_t>(decpt));
    out.push_back('.');
    out.append(digits, static_cast<size_t>(decpt));
  } else {
    out += digits;
    out.append(static_cast<size_t>(decpt - n), '0');
  }
  return out;
}

Result<std::string> go_number(double value) {
  if (!std::isfinite(value))
    return make_error(Errc::invalid_argument,
                      "json: Go encodes no infinite or NaN number (its json.Unmarshal refuses "
                      "numbers outside float64)");
  std::string out;
  if (std::signbit(value)) out.push_back('-');
  double magnitude = std::fabs(value);
  std::string digits;
  int decpt = 0;
  shortest_digits(magnitude, digits, decpt);
  const int n = static_cast<int>(digits.size());
  if (magnitude != 0 && (magnitude < 1e-6 || magnitude >= 1e21)) {
    out.push_back(digits[0]);
    if (n > 1) {
      out.push_back('.');
      out.append(digits, 1);
    }
    int exp10 = decpt - 1;
    out.push_back('e');
    out.push_back(exp10 < 0 ? '-' : '+');
    std::string e = std::to_string(exp10 < 0 ? -exp10 : exp10);
    // strconv pads to two digits; encoding/json then trims "e-07" back to "e-7".
    if (e.size() < 2 && exp10 >= 0) out.push_back('0');
    out += e;
  } else if (magnitude == 0) {
    out.push_back('0');
  } else if (decpt <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-decpt), '0');
    out += digits;
  } else if (n > decpt) {
    out.append(digits, 0, static_cast<size_t>(decpt));
    out.push_back('.');
    out.append(digits, static_cast<size_t>(decpt));
  } else {
    out += digits;
    out.append(static_cast<size_t>(decpt - n), '0');
  }
  return out;
}

Result<std::string> write_canonical(const Json& value, CanonicalStyle style) {
  std::string out;
  ACON_CHECK(write_value(out, value, style, 0));
  return out;
}

}  // namespace acon::verifier::image::detail
