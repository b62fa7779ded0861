#include "acon/common/json.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <set>
#include <vector>

// Without RAPIDJSON_SSE2/SSE42: 1.1.0's vectorized string scan lets the control characters
// 0x1a..0x1f through unescaped (fuzz_jcs found it); the byte-wise scan refuses them.
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

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
// The fast path: RapidJSON's reader (Debian's rapidjson-dev, header-only, so the static tools
// keep linking acon::common) validates and parses, and its events build nlohmann's tree directly.
// nlohmann's own lexer reads one byte at a time and appends each byte of a string to two buffers,
// ~5 us per KB of base64 here. Where the two parsers could build different trees, or where
// parse_json refuses, nlohmann's parser decides instead, so what is accepted, the tree it gives
// and how an error reads are as they were: anything RapidJSON refuses; a decoded string that is
// not valid UTF-8 (RapidJSON lets a lone \udc00..\udfff escape through, nlohmann refuses it); a
// number other than an integer that fits 64 bits (nlohmann types those by their text: a minus
// sign makes a signed integer, none an unsigned one; fractions and exponents are left to it
// whole); duplicate member names; nesting deeper than max_depth.
class NlohmannTreeBuilder
    : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, NlohmannTreeBuilder> {
 public:
  explicit NlohmannTreeBuilder(size_t max_depth) : max_depth_(max_depth) {}

  Json take() { return std::move(root_); }

  bool Null() { return put(nullptr); }
  bool Bool(bool value) { return put(value); }
  bool RawNumber(const char* text, rapidjson::SizeType length, bool) {
    const std::string_view digits(text, length);
    if (digits.find_first_of(".eE") != std::string_view::npos) return false;
    if (digits.starts_with('-')) {
      int64_t value = 0;
      auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
      return error == std::errc() && end == digits.data() + digits.size() && put(value);
    }
    uint64_t value = 0;
    auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    return error == std::errc() && end == digits.data() + digits.size() && put(value);
  }
  bool String(const char* text, rapidjson::SizeType length, bool) {
    const std::string_view value(text, length);
    return is_valid_utf8(value) && put(std::string(value));
  }
  bool Key(const char* text, rapidjson::SizeType length, bool) {
    const std::string_view name(text, length);
    if (!is_valid_utf8(name)) return false;
    auto [slot, inserted] = open_.back()->get_ref<Json::object_t&>().try_emplace(std::string(name));
    key_slot_ = &slot->second;
    return inserted;
  }
  bool StartObject() { return open(Json::object()); }
  bool EndObject(rapidjson::SizeType) { return close(); }
  bool StartArray() { return open(Json::array()); }
  bool EndArray(rapidjson::SizeType) { return close(); }

 private:
  // Where the next value goes: the root, the member whose name came last, or an array's end.
  Json& slot() {
    if (open_.empty()) return root_;
    if (open_.back()->is_object()) return *std::exchange(key_slot_, nullptr);
    return open_.back()->get_ref<Json::array_t&>().emplace_back();
  }
  bool put(Json value) {
    slot() = std::move(value);
    return true;
  }
  bool open(Json container) {
    if (open_.size() == max_depth_) return false;
    Json& placed = slot();
    placed = std::move(container);
    open_.push_back(&placed);
    return true;
  }
  bool close() {
    open_.pop_back();
    return true;
  }

  const size_t max_depth_;
  Json root_;
  std::vector<Json*> open_;  // the containers being filled, innermost last
  Json* key_slot_ = nullptr;
};

bool parse_with_rapidjson(std::string_view text, size_t max_depth, Json& out) {
  NlohmannTreeBuilder builder(max_depth);
  rapidjson::MemoryStream bytes(text.data(), text.size());
  rapidjson::Reader reader;
  // No kParseValidateEncodingFlag: the builder checks every decoded string and name as UTF-8
  // (which also catches what the escapes made), and a byte above 0x7f outside a string is a
  // syntax error anyway.
  constexpr unsigned kFlags =
      rapidjson::kParseNumbersAsStringsFlag | rapidjson::kParseIterativeFlag;
  if (reader.Parse<kFlags>(bytes, builder).IsError()) return false;
  out = builder.take();
  return true;
}

}  // namespace

bool same_json_tree(const Json& a, const Json& b) {
  if (a.type() != b.type()) return false;
  if (a.is_object()) {
    if (a.size() != b.size()) return false;
    for (auto it = a.begin(), jt = b.begin(); it != a.end(); ++it, ++jt)
      if (it.key() != jt.key() || !same_json_tree(it.value(), jt.value())) return false;
    return true;
  }
  if (a.is_array()) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
      if (!same_json_tree(a[i], b[i])) return false;
    return true;
  }
  return a == b;
}

Result<Json> parse_json(std::string_view text, size_t max_depth) {
  // JSON has no place for a NUL byte (in a string it must be escaped), and nlohmann's lexer
  // would take one for the end of the input and ignore what follows.
  if (size_t nul = text.find('\0'); nul != std::string_view::npos)
    return make_error(Errc::parse, "json: NUL byte at offset " + std::to_string(nul));
  if (Json fast; parse_with_rapidjson(text, max_depth, fast)) return fast;
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
// nlohmann itself so that they come out exactly as before. False when the text does not give the
// value back as it is: a string or key that is not UTF-8 (replaced), a non-finite number (null),
// a binary value.
bool append_compact(std::string& out, const Json& v) {
  switch (v.type()) {
    case Json::value_t::object: {
      out.push_back('{');
      bool first = true;
      bool exact = true;
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
          if (!append_string(out, key)) {
            out += Json(key).dump(-1, ' ', false, Json::error_handler_t::replace);
            exact = false;
          }
          out.push_back(':');
        }
        exact &= append_compact(out, value);
      }
      out.push_back('}');
      return exact;
    }
    case Json::value_t::array: {
      out.push_back('[');
      bool first = true;
      bool exact = true;
      for (const auto& element : v.get_ref<const Json::array_t&>()) {
        if (!first) out.push_back(',');
        first = false;
        exact &= append_compact(out, element);
      }
      out.push_back(']');
      return exact;
    }
    case Json::value_t::string:
      if (append_string(out, v.get_ref<const std::string&>())) return true;
      break;
    case Json::value_t::boolean:
      out += v.get<bool>() ? "true" : "false";
      return true;
    case Json::value_t::null:
      out += "null";
      return true;
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: {
      char buf[24];
      auto end = v.is_number_unsigned()
                     ? std::to_chars(buf, buf + sizeof buf, v.get<uint64_t>()).ptr
                     : std::to_chars(buf, buf + sizeof buf, v.get<int64_t>()).ptr;
      out.append(buf, end);
      return true;
    }
    default:
      break;
  }
  out += v.dump(-1, ' ', false, Json::error_handler_t::replace);
  return v.is_number_float() && std::isfinite(v.get<double>());
}

}  // namespace

bool append_compact_json(std::string& out, const Json& value) { return append_compact(out, value); }

std::string dump_compact(const Json& value) {
  std::string out;
  (void)append_compact(out, value);
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
