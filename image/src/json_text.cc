#include "json_text.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <system_error>

#include "acon/common/utf8.h"

namespace acon::image::detail {

namespace {

// A reader of its own rather than common's parse_json (nlohmann): acond reads manifests with
// serde_json, and two of its number rules cannot be had from nlohmann, even through its SAX
// interface: a literal beyond the double range ("1e400") is a value (+-inf, which jq prints as
// +-DBL_MAX) where nlohmann stops with an error, and "-0" is the double -0.0 where nlohmann makes
// the integer 0. Its errors also name the offset of the member or escape at fault. UTF-8 and the
// writers' pieces come from common (utf8.h, json.h).
class Reader {
 public:
  // skip_deep: values nested deeper than kMaxManifestDepth are checked as JSON but not kept
  // (null stands in for them), and the offset of the first is in deep_at().
  explicit Reader(std::string_view text, bool skip_deep = false)
      : text_(text), skip_deep_(skip_deep) {}

  std::optional<size_t> deep_at() const { return deep_at_; }

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
    if (skip_deep_ && depth + 1 > kMaxManifestDepth && (peek() == '{' || peek() == '[')) {
      if (!deep_at_) deep_at_ = pos_;
      out = nullptr;
      return skip_nested();
    }
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

  // The comma-separated items between an opening bracket (at pos_) and `close`; `container`
  // names it in messages ("an object"), `read_item` reads one item.
  template <class ReadItem>
  Status read_items(size_t depth, char close, std::string_view container, ReadItem read_item) {
    ACON_CHECK(check_depth(depth));
    ++pos_;  // the opening bracket
    skip_ws();
    if (!at_end() && peek() == close) {
      ++pos_;
      return {};
    }
    while (true) {
      skip_ws();
      ACON_CHECK(read_item());
      skip_ws();
      if (at_end()) return fail("unexpected end of input in " + std::string(container));
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == close) {
        ++pos_;
        return {};
      }
      return fail(std::string("expected ',' or '") + close + "' in " + std::string(container));
    }
  }

  Status read_object(Json& out, size_t depth) {
    out = Json::object();
    return read_items(depth, '}', "an object", [&]() -> Status {
      if (at_end() || peek() != '"') return fail("expected a member name");
      const size_t key_at = pos_;
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
      return {};
    });
  }

  Status read_array(Json& out, size_t depth) {
    out = Json::array();
    return read_items(depth, ']', "an array", [&]() -> Status {
      Json value;
      ACON_CHECK(read_value(value, depth));
      out.push_back(std::move(value));
      return {};
    });
  }

  // Checks the object or array at pos_ as JSON without keeping it or recursing (its nesting is
  // only bounded by the input), as serde_json's ignore_value skips a member it does not know.
  Status skip_nested() {
    std::string closers;  // the brackets still open, innermost last
    bool need_item = true;
    bool allow_close = true;
    closers.push_back(peek() == '{' ? '}' : ']');
    ++pos_;
    for (;;) {
      skip_ws();
      if (at_end()) return fail("unexpected end of input in a nested value");
      if (need_item && allow_close && peek() == closers.back()) need_item = false;
      if (need_item) {
        if (closers.back() == '}') {
          if (peek() != '"') return fail("expected a member name");
          std::string key;
          ACON_CHECK(read_string(key));
          skip_ws();
          if (at_end() || peek() != ':') return fail("expected ':' after member name");
          ++pos_;
          skip_ws();
          if (at_end()) return fail("unexpected end of input, expected a value");
        }
        if (peek() == '{' || peek() == '[') {
          closers.push_back(peek() == '{' ? '}' : ']');
          ++pos_;
          allow_close = true;
          continue;
        }
        Json scalar;
        ACON_CHECK(read_value(scalar, 0));  // a scalar here: no recursion
        need_item = false;
        continue;
      }
      if (peek() == ',') {
        ++pos_;
        need_item = true;
        allow_close = false;
        continue;
      }
      if (peek() != closers.back())
        return fail(std::string("expected ',' or '") + closers.back() + "' in a nested value");
      ++pos_;
      closers.pop_back();
      if (closers.empty()) return {};
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
        // The two-character escapes and what they stand for, as pairs.
        static constexpr std::string_view kSimpleEscapes = "\"\"\\\\//b\bf\fn\nr\rt\t";
        if (e != 'u') {
          size_t k = 0;
          while (k < kSimpleEscapes.size() && kSimpleEscapes[k] != e) k += 2;
          if (k == kSimpleEscapes.size())
            return fail_at(pos_ - 2, std::string("invalid escape '\\") + printable(e) + "'");
          out.push_back(kSimpleEscapes[k + 1]);
          continue;
        }
        const size_t esc_at = pos_ - 2;
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
        append_utf8(out, cp);
        continue;
      }
      if (c < 0x80) {
        out.push_back(static_cast<char>(c));
        ++pos_;
        continue;
      }
      const size_t n = utf8_sequence(text_, pos_);
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
  bool skip_deep_ = false;
  std::optional<size_t> deep_at_;
};

// Go 1.21 encoding/json (HTML-safe by default): only \" \\ \n \r \t have short escapes.
void append_go_string(std::string& out, std::string_view s) {
  out.push_back('"');
  char buf[8];
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
      case '\\':
        out.push_back('\\');
        out.push_back(static_cast<char>(c));
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

const JsonTextFormat& format_of(CanonicalStyle style) {
  // Both sort members by byte: nlohmann's object is a std::map<std::string, ...>, as jq and Go
  // sort.
  static const JsonTextFormat jq{
      .name = "json",
      .error_code = Errc::invalid_argument,
      .utf16_member_order = false,
      .string = [](std::string& out, std::string_view s) -> Status {
        append_json_string(out, s, /*escape_delete=*/true);
        return {};
      },
      .number = [](std::string& out, double value) -> Status {
        out += jq_number(value);
        return {};
      },
  };
  static const JsonTextFormat go{
      .name = "json",
      .error_code = Errc::invalid_argument,
      .utf16_member_order = false,
      .string = [](std::string& out, std::string_view s) -> Status {
        append_go_string(out, s);
        return {};
      },
      .number = [](std::string& out, double value) -> Status {
        ACON_TRY(std::string text, go_number(value));
        out += text;
        return {};
      },
  };
  return style == CanonicalStyle::jq ? jq : go;
}

}  // namespace

Result<Json> read_json(std::string_view text) { return Reader(text).document(); }

Result<JsonSkippingDeep> read_json_skipping_deep(std::string_view text) {
  Reader reader(text, true);
  ACON_TRY(Json value, reader.document());
  return JsonSkippingDeep{std::move(value), reader.deep_at()};
}

std::string jq_number(double value) {
  if (std::isnan(value)) return "null";
  // jq 1.6 clamps infinities to the largest finite double before printing.
  constexpr double kMax = std::numeric_limits<double>::max();
  if (value > kMax) value = kMax;
  if (value < -kMax) value = -kMax;
  const DecimalDigits d = shortest_decimal_digits(value);
  const int n = static_cast<int>(d.digits.size());
  std::string out = std::signbit(value) ? "-" : "";
  out += (d.point <= -4 || d.point > n + 15) ? decimal_exponent(d, 2) : decimal_plain(d);
  return out;
}

Result<std::string> go_number(double value) {
  if (!std::isfinite(value))
    return make_error(Errc::invalid_argument,
                      "json: Go encodes no infinite or NaN number (its json.Unmarshal refuses "
                      "numbers outside float64)");
  const double magnitude = std::fabs(value);
  std::string out = std::signbit(value) ? "-" : "";
  // strconv pads the exponent to two digits and encoding/json trims "e-07" back to "e-7"; the
  // positive exponents here (21 and up) have two digits anyway.
  if (magnitude != 0 && (magnitude < 1e-6 || magnitude >= 1e21))
    out += decimal_exponent(shortest_decimal_digits(magnitude), 1);
  else
    out += decimal_plain(shortest_decimal_digits(magnitude));
  return out;
}

Result<std::string> write_canonical(const Json& value, CanonicalStyle style) {
  return write_json_text(value, format_of(style));
}

}  // namespace acon::image::detail
