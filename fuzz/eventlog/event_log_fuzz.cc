// CCEL / TCG2 log parsing, replay and the ACPI table parser never crash or hang on any bytes.
#include <cstdint>
#include <cstdlib>

#include "acon/eventlog/event_log.h"
#include "acon/eventlog/replay.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  acon::ByteView input(data, size);
  (void)acon::eventlog::parse_ccel_table(input);
  for (bool zero_ok : {false, true}) {
    auto log = acon::eventlog::parse_event_log(input, {.allow_zero_signature = zero_ok});
    if (!log) continue;
    // Every view must lie inside the input, and records must tile it up to end_offset.
    size_t expect = 0;
    for (const auto& e : log->events) {
      if (e.offset != expect || e.offset + e.size > size) std::abort();
      if (e.data.data() < data || e.data.data() + e.data.size() > data + size) std::abort();
      expect = e.offset + e.size;
    }
    if (expect != log->end_offset) std::abort();
    acon::eventlog::Replayer replayer;
    (void)acon::eventlog::replay(*log, replayer);
  }
  return 0;
}
