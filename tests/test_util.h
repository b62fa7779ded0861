// Helpers shared by the test suites.
#pragma once

#include <cctype>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

#include "acon/common/bytes.h"
#include "acon/common/keys.h"
#include "acon/common/result.h"
#include "acon/common/x509.h"

namespace acon::test {

// Reads tests/data/<relative> whole; an empty string if missing (the test then fails on it).
inline std::string read_data(const std::string& relative) {
  std::ifstream in(std::string(ACON_TEST_DATA) + "/" + relative, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline Bytes read_data_bytes(const std::string& relative) { return to_bytes(read_data(relative)); }

// A data file holding a binary as ASCII hex (as some upstream quotes are published): whitespace
// and a leading "0x" are allowed. A malformed file yields no bytes, so the test fails on it.
inline Bytes read_hex_data(const std::string& relative) {
  std::string digits;
  for (char ch : read_data(relative)) {
    if (!std::isspace(static_cast<unsigned char>(ch))) digits.push_back(ch);
  }
  if (digits.starts_with("0x")) digits.erase(0, 2);
  auto r = hex_decode(digits);
  return r ? *r : Bytes{};
}

// A fixed RFC 3339 time for tests (verification times are passed in, never read from a clock).
inline Time at(std::string_view rfc3339) {
  auto r = parse_rfc3339(rfc3339);
  if (!r) throw std::runtime_error(r.error().to_string());
  return *r;
}

// The value of a Result the test cannot go on without; its error otherwise, as a test failure
// (gtest reports the exception with the message).
template <class T>
T must(Result<T> result) {
  if (!result) throw std::runtime_error(result.error().to_string());
  return *std::move(result);
}

inline Bytes unhex(std::string_view hex) {
  auto r = hex_decode(hex);
  return r ? *r : Bytes{};
}

enum class TestKey { p256, p384, p521, rsa2048, ed25519 };

// A fresh key of the given kind, for tests that sweep over key types.
inline Result<PrivateKey> make_test_key(TestKey kind) {
  switch (kind) {
    case TestKey::p256:
      return PrivateKey::generate_ec(Curve::p256);
    case TestKey::p384:
      return PrivateKey::generate_ec(Curve::p384);
    case TestKey::p521:
      return PrivateKey::generate_ec(Curve::p521);
    case TestKey::rsa2048:
      return PrivateKey::generate_rsa(2048);
    case TestKey::ed25519:
      break;
  }
  return PrivateKey::generate_ed25519();
}

}  // namespace acon::test
