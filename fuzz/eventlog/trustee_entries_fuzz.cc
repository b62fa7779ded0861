// Trustee's uefi_event_logs entries (trustee.h) never crash and always serialise: any event type
// with any data, and every record of any log that parses.
#include <cstdint>
#include <cstring>

#include "acon/eventlog/trustee.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace acon::eventlog;
  // First 4 bytes choose the type (folded onto the types Trustee decodes), the rest is data.
  if (size >= 4) {
    uint32_t raw;
    std::memcpy(&raw, data, 4);
    const uint32_t kTypes[] = {ev::kSeparator,
                               ev::kEventTag,
                               ev::kIpl,
                               ev::kPostCode,
                               ev::kPlatformConfigFlags,
                               ev::kEfiVariableDriverConfig,
                               ev::kEfiVariableBoot,
                               ev::kEfiVariableBoot2,
                               ev::kEfiVariableAuthority,
                               ev::kEfiBootServicesApplication,
                               ev::kEfiAction,
                               ev::kEfiPlatformFirmwareBlob2,
                               ev::kEfiHandoffTables2,
                               raw};
    Event e{};
    e.type = kTypes[raw % std::size(kTypes)];
    e.data = acon::ByteView(data + 4, size - 4);
    if (auto entry = trustee_event_entry(e)) (void)entry->dump();
  }
  if (auto log = parse_event_log(acon::ByteView(data, size))) {
    if (auto entries = trustee_uefi_event_logs(*log)) (void)entries->dump();
  }
  return 0;
}
