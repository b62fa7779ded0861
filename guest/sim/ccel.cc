// The simulated TDVF's firmware event log: what OVMF/TDVF and a Linux boot loader would record
// into RTMR0..2 (CC MR indexes 1..3) of a TD, with SHA-384 digests. See docs/simulator.md.
#include <string>
#include <string_view>
#include <vector>

#include "acon/common/hash.h"
#include "acon/common/reader.h"
#include "acon/eventlog/event_log.h"
#include "internal.h"

namespace acon::guest::sim::detail {
namespace {

namespace ev = eventlog::ev;
constexpr std::array<HashAlg, 1> kBanks = {HashAlg::sha384};
constexpr uint32_t kRtmr0 = 1, kRtmr1 = 2, kRtmr2 = 3;  // CC MR indexes

// EFI_GLOBAL_VARIABLE 8BE4DF61-93CA-11D2-AA0D-00E098032B8C, in its in-memory byte order.
constexpr uint8_t kEfiGlobalVariable[16] = {0x61, 0xDF, 0xE4, 0x8B, 0xCA, 0x93, 0xD2, 0x11,
                                            0xAA, 0x0D, 0x00, 0xE0, 0x98, 0x03, 0x2B, 0x8C};

// UEFI_VARIABLE_DATA {GUID, u64 name length (chars), u64 data length, CHAR16 name[], data}.
Bytes variable_data(std::string_view name, ByteView data) {
  Bytes out(std::begin(kEfiGlobalVariable), std::end(kEfiGlobalVariable));
  put_u64le(out, name.size());
  put_u64le(out, data.size());
  for (char ch : name) put_u16le(out, static_cast<uint16_t>(ch));
  append(out, data);
  return out;
}

// The description-prefixed blob / table events of UEFI PI: {u8 size, description, fields}.
Bytes described(std::string_view description, std::initializer_list<uint64_t> fields) {
  Bytes out{static_cast<uint8_t>(description.size())};
  append(out, as_bytes(description));
  for (uint64_t field : fields) put_u64le(out, field);
  return out;
}

// An event whose digest covers something outside its data (a firmware volume, a PE image).
Result<Bytes> external(uint32_t index, uint32_t type, std::string_view measured_content,
                       ByteView data) {
  Bytes digest = sha384(as_bytes(measured_content));
  eventlog::Digest d{eventlog::tpm_alg::kSha384, digest};
  return eventlog::event2_record(index, type, std::span<const eventlog::Digest>(&d, 1), data);
}

Result<Bytes> measured(uint32_t index, uint32_t type, ByteView data) {
  return eventlog::measured_record(index, type, kBanks, data);
}

Bytes nul_terminated(std::string_view text) {
  Bytes out = to_bytes(text);
  out.push_back(0);
  return out;
}

// GRUB's EV_IPL text events: data "<prefix><text>\0", digest over <text> alone.
Result<Bytes> grub_text(uint32_t index, std::string_view prefix, const std::string& text) {
  Bytes digest = sha384(as_bytes(text));
  eventlog::Digest d{eventlog::tpm_alg::kSha384, digest};
  return eventlog::event2_record(index, ev::kIpl, std::span<const eventlog::Digest>(&d, 1),
                                 nul_terminated(std::string(prefix) + text));
}

}  // namespace

Result<Bytes> firmware_ccel() {
  const Bytes separator = {0, 0, 0, 0};
  std::vector<Result<Bytes>> records;
  records.push_back(eventlog::spec_id_record(kBanks));
  // RTMR0: the TD HOB, the configuration firmware volume, Secure Boot variables, separator.
  records.push_back(external(kRtmr0, ev::kEfiHandoffTables2, "acon-sim TD HOB",
                             described("TdHob", {1, 0x809000})));
  records.push_back(external(kRtmr0, ev::kEfiPlatformFirmwareBlob2,
                             "acon-sim TDVF configuration volume",
                             described("CFV", {0xFFC00000, 0x40000})));
  records.push_back(
      measured(kRtmr0, ev::kEfiVariableDriverConfig, variable_data("SecureBoot", Bytes{0})));
  records.push_back(measured(kRtmr0, ev::kEfiVariableDriverConfig, variable_data("PK", {})));
  records.push_back(measured(kRtmr0, ev::kSeparator, separator));
  // RTMR1: the boot loader and ExitBootServices.
  records.push_back(
      measured(kRtmr1, ev::kEfiAction, as_bytes("Calling EFI Application from Boot Option")));
  records.push_back(measured(kRtmr1, ev::kSeparator, separator));
  Bytes image_load;  // UEFI_IMAGE_LOAD_EVENT without a device path
  for (uint64_t field : {uint64_t{0x7E000000}, uint64_t{0x1A000}, uint64_t{0}, uint64_t{0}})
    put_u64le(image_load, field);
  records.push_back(
      external(kRtmr1, ev::kEfiBootServicesApplication, "acon-sim boot loader image", image_load));
  records.push_back(measured(kRtmr1, ev::kEfiAction, as_bytes("Exit Boot Services Invocation")));
  records.push_back(
      measured(kRtmr1, ev::kEfiAction, as_bytes("Exit Boot Services Returned with Success")));
  // RTMR2: what GRUB records: its commands and the kernel command line (digest over the text
  // after the prefix, data NUL-terminated), and the files it loads (digest over their contents).
  const std::string cmdline = "/vmlinuz console=hvc0 root=/dev/vda ro";
  records.push_back(grub_text(kRtmr2, "grub_cmd: ", "linux " + cmdline));
  records.push_back(
      external(kRtmr2, ev::kIpl, "acon-sim kernel image", nul_terminated("/vmlinuz")));
  records.push_back(grub_text(kRtmr2, "kernel_cmdline: ", cmdline));
  records.push_back(grub_text(kRtmr2, "grub_cmd: ", "initrd /initrd.img"));
  records.push_back(external(kRtmr2, ev::kIpl, "acon-sim initrd", nul_terminated("/initrd.img")));

  Bytes log;
  for (auto& record : records) {
    if (!record) return std::move(record).error().wrap("sim: CCEL");
    append(log, *record);
  }
  return log;
}

}  // namespace acon::guest::sim::detail
