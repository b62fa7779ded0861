// acon-kbs's TOML configuration (parse only; nothing is opened).
#include <string_view>

#include "acon/kbs/config.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)acon::kbs::parse_kbs_config(text, "/nonexistent", "fuzz.toml");
  return 0;
}
