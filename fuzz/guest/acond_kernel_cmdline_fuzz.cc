// The kernel command line reaches acond from whoever launched the TD: any bytes must give a
// configuration or an error value; parsing it twice gives the same answer.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "acon/acond/kernel_cmdline.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = acon::acond::parse_kernel_cmdline(text);
  auto again = acon::acond::parse_kernel_cmdline(text);
  if (config.ok() != again.ok()) std::abort();
  if (config.ok() &&
      (config->tcp_port != again->tcp_port || config->vsock_port != again->vsock_port ||
       config->timeout_seconds != again->timeout_seconds)) {
    std::abort();
  }
  return 0;
}
