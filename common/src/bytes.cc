#include "acon/common/bytes.h"

#include <openssl/crypto.h>

#include <cstdio>

namespace acon {

std::string_view errc_name(Errc code) {
  switch (code) {
    case Errc::invalid_argument:
      return "invalid_argument";
    case Errc::parse:
      return "parse";
    case Errc::unsupported:
      return "unsupported";
    case Errc::crypto:
      return "crypto";
    case Errc::verify_failed:
      return "verify_failed";
    case Errc::not_found:
      return "not_found";
    case Errc::expired:
      return "expired";
    case Errc::io:
      return "io";
  }
  return "unknown";
}

std::string Error::to_string() const { return std::string(errc_name(code)) + ": " + message; }

void secure_zero(void* data, size_t size) {
  if (data != nullptr && size > 0) OPENSSL_cleanse(data, size);
}

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> fields;
  size_t start = 0;
  for (size_t at = text.find(sep); at != std::string_view::npos; at = text.find(sep, start)) {
    fields.push_back(text.substr(start, at - start));
    start = at + 1;
  }
  fields.push_back(text.substr(start));
  return fields;
}

void append_u32be(Bytes& out, uint32_t v) {
  out.push_back(static_cast<uint8_t>(v >> 24));
  out.push_back(static_cast<uint8_t>(v >> 16));
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

bool ct_equal(ByteView a, ByteView b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string hex_literal(uint64_t value, int min_digits) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%0*llx",
                min_digits < 1 ? 1 : (min_digits > 16 ? 16 : min_digits),
                static_cast<unsigned long long>(value));
  return buf;
}

std::string hex_encode(ByteView data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.resize(data.size() * 2);
  for (size_t i = 0; i < data.size(); ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 0x0f];
  }
  return out;
}

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

Result<Bytes> hex_decode(std::string_view text) {
  if (text.size() % 2 != 0)
    return make_error(Errc::parse, "hex: odd length " + std::to_string(text.size()));
  Bytes out(text.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = hex_value(text[2 * i]);
    int lo = hex_value(text[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return make_error(Errc::parse, "hex: invalid character at offset " +
                                         std::to_string(hi < 0 ? 2 * i : 2 * i + 1));
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}

}  // namespace acon
