#include "acon/acond/kernel_cmdline.h"

#include <limits>
#include <string>

#include "acon/image/manifest.h"

namespace acon::acond {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

template <class T>
Result<T> parse_number(std::string_view key, std::string_view value, size_t offset) {
  auto parsed = image::parse_rust_u64(value);
  if (!parsed || *parsed > std::numeric_limits<T>::max()) {
    return make_error(Errc::parse, "kernel command line: " + std::string(key) + " at offset " +
                                       std::to_string(offset) + ": '" + std::string(value) +
                                       "' is not a number in 0.." +
                                       std::to_string(std::numeric_limits<T>::max()));
  }
  return static_cast<T>(*parsed);
}

}  // namespace

Result<KernelConfig> parse_kernel_cmdline(std::string_view cmdline) {
  KernelConfig config;
  size_t pos = 0;
  while (pos < cmdline.size()) {
    while (pos < cmdline.size() && is_space(cmdline[pos])) ++pos;
    size_t start = pos;
    while (pos < cmdline.size() && !is_space(cmdline[pos])) ++pos;
    std::string_view param = cmdline.substr(start, pos - start);
    if (param.empty()) break;
    if (param.starts_with("acond.vsock_conn")) {
      config.vsock_conn = true;
      continue;
    }
    size_t eq = param.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = param.substr(0, eq);
    std::string_view value = param.substr(eq + 1);
    size_t value_offset = start + eq + 1;
    if (key == "acond.vsock_port") {
      ACON_TRY(config.vsock_port, parse_number<uint32_t>(key, value, value_offset));
    } else if (key == "acond.tcp_port") {
      ACON_TRY(config.tcp_port, parse_number<uint16_t>(key, value, value_offset));
    } else if (key == "acond.timeout") {
      ACON_TRY(config.timeout_seconds, parse_number<uint64_t>(key, value, value_offset));
    }
  }
  return config;
}

}  // namespace acon::acond
