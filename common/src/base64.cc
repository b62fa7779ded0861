#include <array>
#include <cstring>

#include "acon/common/bytes.h"

namespace acon {
namespace {

constexpr char kStandard[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

bool is_url(Base64 v) { return v == Base64::url || v == Base64::url_nopad; }
bool is_padded(Base64 v) { return v == Base64::standard || v == Base64::url; }

// 0xff marks characters outside the alphabet.
constexpr std::array<uint8_t, 256> make_table(const char* alphabet) {
  std::array<uint8_t, 256> t{};
  for (auto& e : t) e = 0xff;
  for (uint8_t i = 0; i < 64; ++i) t[static_cast<uint8_t>(alphabet[i])] = i;
  return t;
}
constexpr auto kStandardTable = make_table(kStandard);
constexpr auto kUrlTable = make_table(kUrl);

// Every 12-bit value as its two characters, for encoding.
using Pairs = std::array<std::array<char, 2>, 4096>;
constexpr Pairs make_pairs(const char* alphabet) {
  Pairs pairs{};
  for (size_t v = 0; v < pairs.size(); ++v) pairs[v] = {alphabet[v >> 6], alphabet[v & 63]};
  return pairs;
}
constexpr Pairs kStandardPairs = make_pairs(kStandard);
constexpr Pairs kUrlPairs = make_pairs(kUrl);

Error b64_error(const std::string& what, size_t offset) {
  return make_error(Errc::parse, "base64: " + what + " at offset " + std::to_string(offset));
}

}  // namespace

void append_base64(std::string& out, ByteView data, Base64 variant) {
  const char* alphabet = is_url(variant) ? kUrl : kStandard;
  const auto& pairs = is_url(variant) ? kUrlPairs : kStandardPairs;
  const size_t rest = data.size() % 3;
  const size_t full = data.size() - rest;
  size_t length = full / 3 * 4;
  if (rest > 0) length += is_padded(variant) ? 4 : rest + 1;
  const size_t at = out.size();
  out.resize(at + length);
  char* p = out.data() + at;
  const uint8_t* in = data.data();
  // Six input bytes become eight characters: four 12-bit lookups, one 8-byte store.
  size_t i = 0;
  for (; i + 6 <= full; i += 6, p += 8) {
    const uint32_t a = uint32_t{in[i]} << 16 | uint32_t{in[i + 1]} << 8 | in[i + 2];
    const uint32_t b = uint32_t{in[i + 3]} << 16 | uint32_t{in[i + 4]} << 8 | in[i + 5];
    char chunk[8];
    std::memcpy(chunk, pairs[a >> 12].data(), 2);
    std::memcpy(chunk + 2, pairs[a & 0xfff].data(), 2);
    std::memcpy(chunk + 4, pairs[b >> 12].data(), 2);
    std::memcpy(chunk + 6, pairs[b & 0xfff].data(), 2);
    std::memcpy(p, chunk, 8);
  }
  for (; i < full; i += 3, p += 4) {
    const uint32_t v = uint32_t{in[i]} << 16 | uint32_t{in[i + 1]} << 8 | in[i + 2];
    std::memcpy(p, pairs[v >> 12].data(), 2);
    std::memcpy(p + 2, pairs[v & 0xfff].data(), 2);
  }
  if (rest > 0) {
    uint32_t v = uint32_t{in[full]} << 16 | (rest == 2 ? uint32_t{in[full + 1]} << 8 : 0);
    *p++ = alphabet[v >> 18];
    *p++ = alphabet[(v >> 12) & 63];
    if (rest == 2) *p++ = alphabet[(v >> 6) & 63];
    if (is_padded(variant)) {
      *p++ = '=';
      if (rest == 1) *p++ = '=';
    }
  }
}

std::string base64_encode(ByteView data, Base64 variant) {
  std::string out;
  append_base64(out, data, variant);
  return out;
}

Result<Bytes> base64_decode(std::string_view text, Base64 variant) {
  const auto& table = is_url(variant) ? kUrlTable : kStandardTable;
  size_t data_len = text.size();
  if (is_padded(variant)) {
    if (text.size() % 4 != 0) return b64_error("length not a multiple of 4", text.size());
    if (data_len > 0 && text[data_len - 1] == '=') --data_len;
    if (data_len > 0 && text[data_len - 1] == '=') --data_len;
  }
  if (data_len % 4 == 1) return b64_error("impossible length", data_len);

  Bytes out;
  out.reserve(data_len / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < data_len; ++i) {
    uint8_t v = table[static_cast<uint8_t>(text[i])];
    if (v == 0xff) {
      return b64_error(text[i] == '=' ? "unexpected padding" : "invalid character", i);
    }
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>(acc >> bits));
      acc &= (1u << bits) - 1;
    }
  }
  // Leftover bits must be zero, otherwise two encodings would decode to the same bytes.
  if (acc != 0) return b64_error("non-zero trailing bits", data_len - 1);
  return out;
}

}  // namespace acon
