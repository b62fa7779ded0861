// UEFI identifiers as text: one writer for the event decoders (decode.cc) and for Trustee's
// uefi_event_logs entries (trustee.cc), which spell them alike but for the letter case.
#pragma once

#include <cstdint>
#include <string>

#include "acon/common/bytes.h"

namespace acon::eventlog {

enum class HexCase { lower, upper };

// An EFI GUID (16 bytes) in registry form, Data1..Data3 little-endian:
// "8be4df61-93ca-11d2-aa0d-00e098032b8c" (lower: UEFI variables and tables; upper: device path
// nodes, as UEFI's own text form and Trustee's parsers print them).
std::string guid_text(ByteView guid16, HexCase hex_case);

// An EISA compressed PNP ID (ACPI _HID/_CID) as text: "PNP0A03".
std::string eisa_id(uint32_t id);

}  // namespace acon::eventlog
