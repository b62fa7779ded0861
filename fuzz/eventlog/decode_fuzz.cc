// Event decoding never crashes on any event type with any data, in acon's decoders or as
// Trustee's uefi_event_logs entries (trustee.h); rendering a parsed log (JSON, text, tpm2-style
// YAML, Trustee's entries) never crashes either.
#include <cstdint>
#include <cstring>

#include "acon/eventlog/decode.h"
#include "acon/eventlog/format.h"
#include "acon/eventlog/trustee.h"
#include "acon/eventlog/yaml.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace acon::eventlog;
  // First 4 bytes choose the type (folded onto the types that have decoders), the rest is data.
  if (size >= 4) {
    uint32_t raw;
    std::memcpy(&raw, data, 4);
    const uint32_t kTypes[] = {ev::kNoAction,
                               ev::kSeparator,
                               ev::kEventTag,
                               ev::kIpl,
                               ev::kPostCode,
                               ev::kPlatformConfigFlags,
                               ev::kEfiVariableDriverConfig,
                               ev::kEfiVariableBoot,
                               ev::kEfiVariableBoot2,
                               ev::kEfiVariableAuthority,
                               ev::kEfiBootServicesApplication,
                               ev::kEfiGptEvent,
                               ev::kEfiAction,
                               ev::kEfiPlatformFirmwareBlob,
                               ev::kEfiPlatformFirmwareBlob2,
                               ev::kEfiHandoffTables,
                               ev::kEfiHandoffTables2,
                               ev::kCompactHash,
                               raw};
    Event e{};
    e.type = kTypes[raw % std::size(kTypes)];
    e.data = acon::ByteView(data + 4, size - 4);
    (void)decode_event(e);
    (void)device_path_to_text(e.data);
    if (auto entry = trustee_event_entry(e)) (void)entry->dump();
  }
  if (auto log = parse_event_log(acon::ByteView(data, size))) {
    Replayer replayer;
    (void)replay(*log, replayer);
    (void)to_json(*log, replayer).dump();
    (void)to_text(*log, replayer);
    (void)to_tpm2_yaml(*log, replayer);
    if (auto entries = trustee_uefi_event_logs(*log)) (void)entries->dump();
  }
  return 0;
}
