#include "acon/common/json.h"

#include <charconv>
#include <cstdint>
#include <cstring>
#include <set>
#include <vector>

#include "acon/common/utf8.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace acon {

namespace {
// Linear pre-scan of bracket nesting outside strings; cheap next to the parse itself.
bool depth_within(std::string_view text, size_t max_depth, size_t& offset) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"')
      in_string = true;
    else if (c == '[' || c == '{') {
      if (++depth > max_depth) {
        offset = i;
        return false;
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return true;
}
// A fast path for the documents attestation exchanges (KBS requests, evidence, collateral): it
// accepts only a subset of JSON whose tree is certain to be the one nlohmann's parser builds, and
// builds it without nlohmann's lexer, which reads one byte at a time and appends each byte of a
// string to two buffers (~5 us per KB of base64 here). The subset: strings of printable ASCII
// (0x20..0x7e) without escapes, integers of at most 18 digits without fraction or exponent (an
// unsigned number when non-negative, a signed one when negative, as nlohmann types them), the
// literals, arrays and objects without duplicate member names, nested at most max_depth deep.
// Anything else (an escape, a byte outside that range, a float, a longer integer, a duplicate,
// a deeper document) and every syntax error give up: parse_json then runs nlohmann's parser,
// which decides and words the error exactly as before.
class PlainJsonParser {
 public:
  PlainJsonParser(std::string_view text, size_t max_depth)
      : p_(text.data()), end_(text.data() + text.size()), max_depth_(max_depth) {}

  bool parse(Json& out) {
    skip_whitespace();
    if (!value(out, 0)) return false;
    skip_whitespace();
    return p_ == end_;
  }

 private:
  void skip_whitespace() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }

  bool value(Json& out, size_t depth) {
    if (p_ == end_) return false;
    switch (*p_) {
      case '{':
        return object(out, depth + 1);
      case '[':
        return array(out, depth + 1);
      case '"': {
        std::string text;
        if (!string(text)) return false;
        out = std::move(text);
        return true;
      }
      case 't':
        return literal("true", true, out);
      case 'f':
        return literal("false", false, out);
      case 'n':
        return literal("null", nullptr, out);
      default:
        return number(out);
    }
  }

  bool literal(std::string_view word, Json literal_value, Json& out) {
    if (static_cast<size_t>(end_ - p_) < word.size() ||
        std::memcmp(p_, word.data(), word.size()) != 0)
      return false;
    p_ += word.size();
    out = std::move(literal_value);
    return true;
  }

  bool number(Json& out) {
    const bool negative = *p_ == '-';
    if (negative) ++p_;
    const char* const digits = p_;
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    const auto count = static_cast<size_t>(p_ - digits);
    if (count == 0 || count > 18 || (count > 1 && *digits == '0')) return false;
    if (p_ < end_ && (*p_ == '.' || *p_ == 'e' || *p_ == 'E')) return false;
    uint64_t magnitude = 0;
    for (const char* d = digits; d < p_; ++d) magnitude = magnitude * 10 + (*d - '0');
    if (negative)
      out = -static_cast<int64_t>(magnitude);
    else
      out = magnitude;
    return true;
  }

  // At the opening quote; `out` gets the text between the quotes.
  bool string(std::string& out) {
    const char* const start = ++p_;
#ifdef __SSE2__
    // As signed bytes, 0x80..0xff are negative: below 0x20 or from 0x80 is one comparison.
    const __m128i space = _mm_set1_epi8(0x20);
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i del = _mm_set1_epi8(0x7f);
    for (; end_ - p_ >= 16; p_ += 16) {
      const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p_));
      const __m128i special =
          _mm_or_si128(_mm_or_si128(_mm_cmpgt_epi8(space, x), _mm_cmpeq_epi8(x, del)),
                       _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, backslash)));
      if (const int mask = _mm_movemask_epi8(special); mask != 0) {
        p_ += __builtin_ctz(static_cast<unsigned>(mask));
        break;
      }
    }
#endif
    while (p_ < end_) {
      const auto c = static_cast<uint8_t>(*p_);
      if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') break;
      ++p_;
    }
    if (p_ == end_ || *p_ != '"') return false;
    out.assign(start, p_);
    ++p_;
    return true;
  }

  bool array(Json& out, size_t depth) {
    if (depth > max_depth_) return false;
    ++p_;
    out = Json::array();
    auto& elements = out.get_ref<Json::array_t&>();
    skip_whitespace();
    if (p_ < end_ && *p_ == ']') {
      ++p_;
      return true;
    }
    while (true) {
      skip_whitespace();
      if (!value(elements.emplace_back(), depth)) return false;
      skip_whitespace();
      if (p_ == end_) return false;
      if (*p_ == ']') {
        ++p_;
        return true;
      }
      if (*p_++ != ',') return false;
    }
  }

  bool object(Json& out, size_t depth) {
    if (depth > max_depth_) return false;
    ++p_;
    out = Json::object();
    auto& members = out.get_ref<Json::object_t&>();
    skip_whitespace();
    if (p_ < end_ && *p_ == '}') {
      ++p_;
      return true;
    }
    while (true) {
      skip_whitespace();
      std::string name;
      if (p_ == end_ || *p_ != '"' || !string(name)) return false;
      skip_whitespace();
      if (p_ == end_ || *p_++ != ':') return false;
      skip_whitespace();
      auto [member, inserted] = members.try_emplace(std::move(name));
      if (!inserted || !value(member->second, depth)) return false;
      skip_whitespace();
      if (p_ == end_) return false;
      if (*p_ == '}') {
        ++p_;
        return true;
      }
      if (*p_++ != ',') return false;
    }
  }

  const char* p_;
  const char* const end_;
  const size_t max_depth_;
};

}  // namespace

Result<Json> parse_json(std::string_view text, size_t max_depth) {
  if (Json plain; PlainJsonParser(text, max_depth).parse(plain)) return plain;
  size_t offset = 0;
  if (!depth_within(text, max_depth, offset))
    return make_error(Errc::parse, "json: nesting deeper than " + std::to_string(max_depth) +
                                       " at offset " + std::to_string(offset));
  // Duplicate member names are refused: two parsers reading one document differently is a
  // classic way to smuggle a value past a check.
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;
  auto track_keys = [&](int, Json::parse_event_t event, Json& parsed) {
    if (event == Json::parse_event_t::object_start) {
      open_objects.emplace_back();
    } else if (event == Json::parse_event_t::object_end && !open_objects.empty()) {
      open_objects.pop_back();
    } else if (event == Json::parse_event_t::key && !open_objects.empty() && duplicate.empty() &&
               !open_objects.back().insert(parsed.get<std::string>()).second) {
      duplicate = parsed.get<std::string>();
    }
    return true;
  };
  try {
    Json value = Json::parse(text.begin(), text.end(), track_keys, /*allow_exceptions=*/true,
                             /*ignore_comments=*/false);
    if (!duplicate.empty())
      return make_error(Errc::parse, "json: duplicate member '" + duplicate + "'");
    return value;
  } catch (const Json::parse_error& e) {
    // nlohmann counts bytes read (1-based); report the 0-based offset like every other error.
    size_t at = e.byte > 0 ? e.byte - 1 : 0;
    return make_error(Errc::parse, "json: syntax error at offset " + std::to_string(at) + ": " +
                                       std::string(e.what()));
  } catch (const std::exception& e) {
    return make_error(Errc::parse, std::string("json: ") + e.what());
  }
}

namespace {

// True when `s` is printable ASCII without '"' or '\\': written as it is, between quotes. Most
// strings in attestation documents (hex digests, names, base64) are, so they are checked 16
// bytes at a time with SSE2 (part of x86-64), else 8 at a time in a 64-bit word: there,
// (x - k * 0x01..01) & ~x & 0x80..80 is non-zero exactly when some byte of x is below k
// (k <= 0x80), and a byte equal to c is a zero byte of x ^ (c * 0x01..01).
bool plain_ascii(std::string_view s) {
  const char* p = s.data();
  const char* const end = p + s.size();
#ifdef __SSE2__
  // As signed bytes, 0x80..0xff are negative, so "printable ASCII" is one signed comparison.
  const __m128i space = _mm_set1_epi8(0x20);
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  for (; end - p >= 16; p += 16) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i bad =
        _mm_or_si128(_mm_cmpgt_epi8(space, x) /* below 0x20 or 0x80 and above */,
                     _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, backslash)));
    if (_mm_movemask_epi8(bad) != 0) return false;
  }
#endif
  constexpr uint64_t kOnes = 0x0101010101010101;
  constexpr uint64_t kHigh = 0x8080808080808080;
  auto any_below = [](uint64_t x, uint64_t k) { return (x - k * kOnes) & ~x & kHigh; };
  for (; end - p >= 8; p += 8) {
    uint64_t x;
    std::memcpy(&x, p, 8);
    if ((x & kHigh) | any_below(x, 0x20) | any_below(x ^ ('"' * kOnes), 1) |
        any_below(x ^ ('\\' * kOnes), 1))
      return false;
  }
  for (; p < end; ++p) {
    const auto u = static_cast<uint8_t>(*p);
    if (u < 0x20 || u >= 0x80 || u == '"' || u == '\\') return false;
  }
  return true;
}

// '"' + s + '"' in one step (s already known to need no escape).
void append_quoted(std::string& out, std::string_view s) {
  const size_t at = out.size();
  out.resize(at + s.size() + 2);
  char* p = out.data() + at;
  p[0] = '"';
  std::memcpy(p + 1, s.data(), s.size());
  p[s.size() + 1] = '"';
}

// Appends `s` as a JSON string if it is well-formed UTF-8; false (nothing written) otherwise.
bool append_string(std::string& out, std::string_view s) {
  if (plain_ascii(s)) {
    append_quoted(out, s);
    return true;
  }
  if (!is_valid_utf8(s)) return false;
  append_json_string(out, s);
  return true;
}

// nlohmann's dump checks every string byte by byte through its UTF-8 automaton; this walk writes
// the same text (same member order, escapes and integers) with whole runs appended at once, and
// leaves the rare cases — invalid UTF-8 to replace, floating-point numbers, binary values — to
// nlohmann itself so that they come out exactly as before.
void append_compact(std::string& out, const Json& v) {
  switch (v.type()) {
    case Json::value_t::object: {
      out.push_back('{');
      bool first = true;
      // The containers themselves rather than nlohmann's iterators, which check the value's
      // type at every step.
      for (const auto& [key, value] : v.get_ref<const Json::object_t&>()) {
        const char* separator = first ? "" : ",";
        first = false;
        if (plain_ascii(key)) {
          // ,"key": in one step
          const size_t at = out.size();
          const size_t comma = *separator ? 1 : 0;
          out.resize(at + comma + key.size() + 3);
          char* p = out.data() + at;
          if (comma) *p++ = ',';
          *p++ = '"';
          std::memcpy(p, key.data(), key.size());
          p[key.size()] = '"';
          p[key.size() + 1] = ':';
        } else {
          out += separator;
          if (!append_string(out, key))
            out += Json(key).dump(-1, ' ', false, Json::error_handler_t::replace);
          out.push_back(':');
        }
        append_compact(out, value);
      }
      out.push_back('}');
      return;
    }
    case Json::value_t::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& element : v.get_ref<const Json::array_t&>()) {
        if (!first) out.push_back(',');
        first = false;
        append_compact(out, element);
      }
      out.push_back(']');
      return;
    }
    case Json::value_t::string:
      if (append_string(out, v.get_ref<const std::string&>())) return;
      break;
    case Json::value_t::boolean:
      out += v.get<bool>() ? "true" : "false";
      return;
    case Json::value_t::null:
      out += "null";
      return;
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: {
      char buf[24];
      auto end = v.is_number_unsigned()
                     ? std::to_chars(buf, buf + sizeof buf, v.get<uint64_t>()).ptr
                     : std::to_chars(buf, buf + sizeof buf, v.get<int64_t>()).ptr;
      out.append(buf, end);
      return;
    }
    default:
      break;
  }
  out += v.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace

void append_compact_json(std::string& out, const Json& value) { append_compact(out, value); }

std::string dump_compact(const Json& value) {
  std::string out;
  append_compact(out, value);
  return out;
}

Result<const Json*> json_get(const Json& object, std::string_view key) {
  if (!object.is_object()) return make_error(Errc::parse, "expected a JSON object");
  auto it = object.find(key);
  if (it == object.end())
    return make_error(Errc::parse, "missing member '" + std::string(key) + "'");
  return &*it;
}

Result<std::string> json_get_string(const Json& object, std::string_view key) {
  ACON_TRY(const Json* member, json_get(object, key));
  if (!member->is_string())
    return make_error(Errc::parse, "member '" + std::string(key) + "' is not a string");
  return member->get<std::string>();
}

}  // namespace acon
