// acond's TOML configuration file: any bytes must give a configuration or an error value (toml++
// runs without exceptions), and parsing twice gives the same answer.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "acon/acond/config.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = acon::acond::parse_config(text);
  auto again = acon::acond::parse_config(text);
  if (config.ok() != again.ok()) std::abort();
  if (!config.ok() && config.error().message != again.error().message) std::abort();
  if (config.ok() &&
      (config->backend != again->backend || config->tcp_port != again->tcp_port ||
       config->max_message != again->max_message || config->runtime_pcr != again->runtime_pcr ||
       config->state_dir != again->state_dir || config->no_tcp != again->no_tcp)) {
    std::abort();
  }
  // Values that parse are within the ranges acond accepts.
  if (config.ok() &&
      ((config->runtime_pcr && *config->runtime_pcr > acon::acond::kMaxPcr) ||
       (config->max_message && (*config->max_message < acon::acond::kMinMaxMessage ||
                                *config->max_message > acon::acond::kMaxMaxMessage)))) {
    std::abort();
  }
  // A [network] that parses names an interface that fits an ifreq and a prefix length of a
  // 32-bit address; every module path is absolute.
  if (config.ok() && config->network &&
      (config->network->interface.empty() || config->network->interface.size() > 15 ||
       config->network->prefix_length > 32 || config->network != again->network)) {
    std::abort();
  }
  if (config.ok() && config->modules) {
    for (const auto& path : *config->modules) {
      if (path.empty() || path[0] != '/') std::abort();
    }
  }
  return 0;
}
