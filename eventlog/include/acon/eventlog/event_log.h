// TCG2 crypto-agile event logs as TDX firmware leaves them in the CCEL (and as vTPMs keep them):
// the ACPI CCEL table, the SHA-1-format Spec ID header, TCG_PCR_EVENT2 records. Parsing is
// zero-copy: every view points into the caller's buffer, which must outlive the EventLog.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "acon/common/bytes.h"
#include "acon/common/hash.h"

namespace acon::eventlog {

// ---- event types (TCG PC Client PFP; UEFI) ----
namespace ev {
inline constexpr uint32_t kPrebootCert = 0x0;
inline constexpr uint32_t kPostCode = 0x1;
inline constexpr uint32_t kNoAction = 0x3;
inline constexpr uint32_t kSeparator = 0x4;
inline constexpr uint32_t kAction = 0x5;
inline constexpr uint32_t kEventTag = 0x6;
inline constexpr uint32_t kSCrtmContents = 0x7;
inline constexpr uint32_t kSCrtmVersion = 0x8;
inline constexpr uint32_t kCpuMicrocode = 0x9;
inline constexpr uint32_t kPlatformConfigFlags = 0xA;
inline constexpr uint32_t kTableOfDevices = 0xB;
inline constexpr uint32_t kCompactHash = 0xC;
inline constexpr uint32_t kIpl = 0xD;
inline constexpr uint32_t kIplPartitionData = 0xE;
inline constexpr uint32_t kNonhostCode = 0xF;
inline constexpr uint32_t kNonhostConfig = 0x10;
inline constexpr uint32_t kNonhostInfo = 0x11;
inline constexpr uint32_t kOmitBootDeviceEvents = 0x12;
inline constexpr uint32_t kEfiVariableDriverConfig = 0x80000001;
inline constexpr uint32_t kEfiVariableBoot = 0x80000002;
inline constexpr uint32_t kEfiBootServicesApplication = 0x80000003;
inline constexpr uint32_t kEfiBootServicesDriver = 0x80000004;
inline constexpr uint32_t kEfiRuntimeServicesDriver = 0x80000005;
inline constexpr uint32_t kEfiGptEvent = 0x80000006;
inline constexpr uint32_t kEfiAction = 0x80000007;
inline constexpr uint32_t kEfiPlatformFirmwareBlob = 0x80000008;
inline constexpr uint32_t kEfiHandoffTables = 0x80000009;
inline constexpr uint32_t kEfiPlatformFirmwareBlob2 = 0x8000000A;
inline constexpr uint32_t kEfiHandoffTables2 = 0x8000000B;
inline constexpr uint32_t kEfiVariableBoot2 = 0x8000000C;
inline constexpr uint32_t kEfiHcrtmEvent = 0x80000010;
inline constexpr uint32_t kEfiVariableAuthority = 0x800000E0;
inline constexpr uint32_t kEfiSpdmFirmwareBlob = 0x800000E1;
inline constexpr uint32_t kEfiSpdmFirmwareConfig = 0x800000E2;
}  // namespace ev

// "EV_EFI_ACTION"; "UNKNOWN_0x…" for values no specification names.
std::string event_type_name(uint32_t type);

// ---- TPM algorithm IDs ----
namespace tpm_alg {
inline constexpr uint16_t kSha1 = 0x0004;
inline constexpr uint16_t kSha256 = 0x000B;
inline constexpr uint16_t kSha384 = 0x000C;
inline constexpr uint16_t kSha512 = 0x000D;
inline constexpr uint16_t kSm3_256 = 0x0012;
}  // namespace tpm_alg

std::optional<HashAlg> hash_for_tpm_alg(uint16_t alg_id);
uint16_t tpm_alg_for_hash(HashAlg alg);
// "sha384", "sm3_256" (tpm2-tools spelling); "0x…" for unknown IDs.
std::string tpm_alg_name(uint16_t alg_id);

// ---- ACPI CCEL table (56 bytes; edk2 EFI_CC_EVENTLOG_ACPI_TABLE) ----
struct CcelTable {
  uint32_t length;
  uint8_t revision;
  uint8_t checksum;
  bool checksum_valid;  // all 56 bytes sum to 0 mod 256
  std::string oem_id;
  std::string oem_table_id;
  uint32_t oem_revision;
  std::string creator_id;
  uint32_t creator_revision;
  uint8_t cc_type;  // 2 = TDX
  uint8_t cc_subtype;
  uint64_t laml;  // log area minimum length
  uint64_t lasa;  // log area start address
};
Result<CcelTable> parse_ccel_table(ByteView table);
std::string_view cc_type_name(uint8_t cc_type);  // "TDX", "SEV", ...

// ---- the log ----
struct SpecIdAlgorithm {
  uint16_t id;
  uint16_t digest_size;
};

struct SpecIdEvent {
  std::string signature;  // "Spec ID Event03" (without the NUL)
  uint32_t platform_class;
  uint8_t spec_version_minor;
  uint8_t spec_version_major;
  uint8_t spec_errata;
  uint8_t uintn_size;
  std::vector<SpecIdAlgorithm> algorithms;
  ByteView vendor_info;
};

struct Digest {
  uint16_t alg;
  ByteView value;
};

struct Event {
  size_t number;   // 0 is the Spec ID header record
  size_t offset;   // where the record starts in the log
  uint32_t index;  // as stored: CC MR index in a CCEL, PCR number in a TPM log
  uint32_t type;
  std::vector<Digest> digests;
  ByteView data;
  size_t size;  // bytes of the whole record

  // The digest for an algorithm, if the record carries one.
  std::optional<ByteView> digest(uint16_t alg) const;
};

struct EventLog {
  SpecIdEvent spec_id;
  std::vector<Event> events;    // events[0] is the header record
  size_t end_offset = 0;        // first byte after the last record
  std::optional<uint8_t> fill;  // 0xFF or 0x00 if the log is followed by fill
};

struct ParseOptions {
  // A log whose Spec ID signature is all zero (guest-components' synthetic EL_HEADER) is
  // accepted only when this is set.
  bool allow_zero_signature = false;
};

// Cost is linear in the log size; errors name the field, the byte offset and the event number.
Result<EventLog> parse_event_log(ByteView log, const ParseOptions& options = {});

// ---- writing ----
// The SHA-1-format header record carrying a Spec ID event for `banks` (OVMF writes index 1,
// td-shim and tpm2-tools expect 0).
Result<Bytes> spec_id_record(std::span<const HashAlg> banks, uint32_t index = 0,
                             ByteView vendor_info = {});
// A TCG_PCR_EVENT2 record with the given digests (algorithm IDs and values as they should appear).
Result<Bytes> event2_record(uint32_t index, uint32_t type, std::span<const Digest> digests,
                            ByteView data);
// A TCG_PCR_EVENT2 record measuring `data` itself into every bank: digest_b = H_b(data).
Result<Bytes> measured_record(uint32_t index, uint32_t type, std::span<const HashAlg> banks,
                              ByteView data);

// ---- CC measurement registers ----
// CC MR index 0..4 → "MRTD", "RTMR0".."RTMR3".
std::string_view mr_name(uint32_t index);

}  // namespace acon::eventlog
