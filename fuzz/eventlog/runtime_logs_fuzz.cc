// Text AAEL, IMA and AAEL tagged-event parsers never crash; accepted text AAEL re-serialises to
// lines the parser accepts again.
#include <cstdint>
#include <cstdlib>

#include "acon/eventlog/runtime.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto aael = acon::eventlog::parse_text_aael(text)) {
    (void)acon::eventlog::replay_text_aael(*aael);
    for (const auto& line : aael->lines) {
      auto formatted = acon::eventlog::format_aael_line(line.event);
      if (formatted && !acon::eventlog::parse_aael_line(*formatted, true)) std::abort();
    }
  }
  (void)acon::eventlog::parse_ima_log(text);
  (void)acon::eventlog::parse_aael_tagged_event(acon::ByteView(data, size));
  return 0;
}
