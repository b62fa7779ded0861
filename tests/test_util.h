// Helpers shared by the test suites.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

#include "acon/common/bytes.h"

namespace acon::test {

// Reads tests/data/<relative> whole; an empty string if missing (the test then fails on it).
inline std::string read_data(const std::string& relative) {
  std::ifstream in(std::string(ACON_TEST_DATA) + "/" + relative, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline Bytes read_data_bytes(const std::string& relative) { return to_bytes(read_data(relative)); }

inline Bytes unhex(std::string_view hex) {
  auto r = hex_decode(hex);
  return r ? *r : Bytes{};
}

}  // namespace acon::test
