// Decoding of event data for humans and policies: what each record says, and whether its digest
// can be recomputed from its data (and matches).
#pragma once

#include "acon/common/json.h"
#include "acon/eventlog/event_log.h"

namespace acon::eventlog {

enum class DigestCheck {
  not_applicable,  // the digest covers something outside the event data (e.g. a PE image)
  match,           // recomputed from the data per the type's rule, and equal for every digest
  mismatch,        // recomputable, but differs
};

struct DecodedEvent {
  Json details;  // type-specific fields (object); empty object when nothing is decoded
  DigestCheck digest_check = DigestCheck::not_applicable;
};

// Never fails: data that does not parse as its type says is reported in details["error"]
// ("<field> at offset N: why", N counted from the start of the event data) together with what
// decoded before it and the raw "hex"; unknown types are kept raw. Common keys: "string",
// "unicode_name", "variable_name" (canonical GUID), "variable_data", "device_path",
// "device_paths", "domain"/"operation"/"content" (AAEL), "tag_name", "hex". All text is valid
// UTF-8, so the JSON always serialises.
DecodedEvent decode_event(const Event& event);

// UEFI device path (EFI_DEVICE_PATH_PROTOCOL list) as UEFI's text form, e.g.
// "PciRoot(0x0)/Pci(0x1,0x0)/HD(1,GPT,…)/\EFI\BOOT\BOOTX64.EFI".
std::string device_path_to_text(ByteView path);

// An EFI GUID in canonical text form (Data1..3 little-endian):
// "8be4df61-93ca-11d2-aa0d-00e098032b8c".
std::string guid_to_text(ByteView guid16);

}  // namespace acon::eventlog
