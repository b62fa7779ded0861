// Byte buffers, views, secret buffers, hex and base64.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "acon/common/result.h"

namespace acon {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

// Overwrites memory in a way the compiler may not elide.
void secure_zero(void* data, size_t size);

// Allocator that wipes memory before returning it, so that secrets in SecretBytes never
// linger in freed heap blocks (including the old block of a reallocation).
template <class T>
struct ZeroizingAllocator {
  using value_type = T;
  ZeroizingAllocator() = default;
  template <class U>
  ZeroizingAllocator(const ZeroizingAllocator<U>&) {}  // NOLINT
  T* allocate(size_t n) { return std::allocator<T>{}.allocate(n); }
  void deallocate(T* p, size_t n) {
    secure_zero(p, n * sizeof(T));
    std::allocator<T>{}.deallocate(p, n);
  }
  template <class U>
  bool operator==(const ZeroizingAllocator<U>&) const {
    return true;
  }
};

// Key material, shared secrets and decrypted plaintexts.
using SecretBytes = std::vector<uint8_t, ZeroizingAllocator<uint8_t>>;

inline ByteView as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
inline std::string_view as_chars(ByteView b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}
inline Bytes to_bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }
inline std::string to_string(ByteView b) { return std::string(as_chars(b)); }
inline SecretBytes to_secret(ByteView b) { return SecretBytes(b.begin(), b.end()); }
inline ByteView view(const SecretBytes& b) { return {b.data(), b.size()}; }

// Appends b to out.
inline void append(Bytes& out, ByteView b) { out.insert(out.end(), b.begin(), b.end()); }
// Big-endian 32-bit integer appended to out.
void append_u32be(Bytes& out, uint32_t v);

// Equality whose running time depends only on the lengths, for MACs, tags and secrets.
bool ct_equal(ByteView a, ByteView b);

// Cryptographically secure random bytes from OpenSSL's DRBG.
Result<Bytes> random_bytes(size_t n);

// The fields of `text` between each `sep`, empty fields included: split("a::b", ':') is
// {"a", "", "b"} and split("", ':') is {""}. The views point into `text`.
std::vector<std::string_view> split(std::string_view text, char sep);

// Lower-case hex.
std::string hex_encode(ByteView data);
// Accepts upper or lower case; rejects odd length and non-hex characters.
Result<Bytes> hex_decode(std::string_view text);
// An integer as C writes it with "0x%0*llx": "0x", then lower-case hex digits zero-padded to
// at least `min_digits` (hex_literal(0x1f, 4) == "0x001f"); for messages and decoded fields.
std::string hex_literal(uint64_t value, int min_digits = 1);

enum class Base64 {
  standard,        // RFC 4648 §4, with '=' padding
  standard_nopad,  // RFC 4648 §4 alphabet, padding forbidden
  url,             // RFC 4648 §5, with '=' padding
  url_nopad,       // RFC 4648 §5, padding forbidden (JOSE "base64url")
};

std::string base64_encode(ByteView data, Base64 variant = Base64::standard);
// base64_encode appending to `out`.
void append_base64(std::string& out, ByteView data, Base64 variant = Base64::standard);
// Strict: only the variant's alphabet, padding exactly as the variant demands, no whitespace,
// and unused trailing bits must be zero (so every byte string has one accepted encoding).
Result<Bytes> base64_decode(std::string_view text, Base64 variant = Base64::standard);

inline std::string b64url(ByteView data) { return base64_encode(data, Base64::url_nopad); }
inline Result<Bytes> b64url_decode(std::string_view text) {
  return base64_decode(text, Base64::url_nopad);
}

}  // namespace acon
