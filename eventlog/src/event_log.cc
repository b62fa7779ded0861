#include "acon/eventlog/event_log.h"

#include <algorithm>
#include <cstdio>

#include "acon/common/reader.h"

namespace acon::eventlog {
namespace {

struct TypeName {
  uint32_t type;
  std::string_view name;
};
constexpr TypeName kTypeNames[] = {
    {ev::kPrebootCert, "EV_PREBOOT_CERT"},
    {ev::kPostCode, "EV_POST_CODE"},
    {0x2, "EV_UNUSED"},
    {ev::kNoAction, "EV_NO_ACTION"},
    {ev::kSeparator, "EV_SEPARATOR"},
    {ev::kAction, "EV_ACTION"},
    {ev::kEventTag, "EV_EVENT_TAG"},
    {ev::kSCrtmContents, "EV_S_CRTM_CONTENTS"},
    {ev::kSCrtmVersion, "EV_S_CRTM_VERSION"},
    {ev::kCpuMicrocode, "EV_CPU_MICROCODE"},
    {ev::kPlatformConfigFlags, "EV_PLATFORM_CONFIG_FLAGS"},
    {ev::kTableOfDevices, "EV_TABLE_OF_DEVICES"},
    {ev::kCompactHash, "EV_COMPACT_HASH"},
    {ev::kIpl, "EV_IPL"},
    {ev::kIplPartitionData, "EV_IPL_PARTITION_DATA"},
    {ev::kNonhostCode, "EV_NONHOST_CODE"},
    {ev::kNonhostConfig, "EV_NONHOST_CONFIG"},
    {ev::kNonhostInfo, "EV_NONHOST_INFO"},
    {ev::kOmitBootDeviceEvents, "EV_OMIT_BOOT_DEVICE_EVENTS"},
    {ev::kEfiVariableDriverConfig, "EV_EFI_VARIABLE_DRIVER_CONFIG"},
    {ev::kEfiVariableBoot, "EV_EFI_VARIABLE_BOOT"},
    {ev::kEfiBootServicesApplication, "EV_EFI_BOOT_SERVICES_APPLICATION"},
    {ev::kEfiBootServicesDriver, "EV_EFI_BOOT_SERVICES_DRIVER"},
    {ev::kEfiRuntimeServicesDriver, "EV_EFI_RUNTIME_SERVICES_DRIVER"},
    {ev::kEfiGptEvent, "EV_EFI_GPT_EVENT"},
    {ev::kEfiAction, "EV_EFI_ACTION"},
    {ev::kEfiPlatformFirmwareBlob, "EV_EFI_PLATFORM_FIRMWARE_BLOB"},
    {ev::kEfiHandoffTables, "EV_EFI_HANDOFF_TABLES"},
    {ev::kEfiPlatformFirmwareBlob2, "EV_EFI_PLATFORM_FIRMWARE_BLOB2"},
    {ev::kEfiHandoffTables2, "EV_EFI_HANDOFF_TABLES2"},
    {ev::kEfiVariableBoot2, "EV_EFI_VARIABLE_BOOT2"},
    {ev::kEfiHcrtmEvent, "EV_EFI_HCRTM_EVENT"},
    {ev::kEfiVariableAuthority, "EV_EFI_VARIABLE_AUTHORITY"},
    {ev::kEfiSpdmFirmwareBlob, "EV_EFI_SPDM_FIRMWARE_BLOB"},
    {ev::kEfiSpdmFirmwareConfig, "EV_EFI_SPDM_FIRMWARE_CONFIG"},
};

constexpr size_t kHeaderFixedSize = 32;  // TCG_PCR_EVENT before its event data
constexpr size_t kSpecIdMinSize = 29;    // up to numberOfAlgorithms, plus vendorInfoSize
constexpr char kSpecIdSignature[] = "Spec ID Event03";

Error at_event(const Error& e, size_t number) {
  return make_error(e.code, "event " + std::to_string(number) + ": " + e.message);
}

// True when the next 8 bytes are all 0xFF or all 0x00: where trustee and guest-components stop.
std::optional<uint8_t> fill_marker(ByteView rest) {
  if (rest.size() < 8) return std::nullopt;
  for (uint8_t fill : {uint8_t{0xff}, uint8_t{0x00}}) {
    if (std::all_of(rest.begin(), rest.begin() + 8, [&](uint8_t b) { return b == fill; }))
      return fill;
  }
  return std::nullopt;
}

Result<SpecIdEvent> parse_spec_id(ByteView data, size_t base, const ParseOptions& options) {
  ByteReader r(data, base);
  SpecIdEvent s;
  ACON_TRY(ByteView sig, r.bytes(16, "SpecID.signature"));
  bool zero = std::all_of(sig.begin(), sig.end(), [](uint8_t b) { return b == 0; });
  if (zero && !options.allow_zero_signature)
    return make_error(
        Errc::parse,
        "SpecID.signature at offset " + std::to_string(base) +
            ": all zero (synthetic header; not accepted without allow_zero_signature)");
  if (!zero && as_chars(sig) != std::string_view(kSpecIdSignature, 16))
    return make_error(Errc::parse, "SpecID.signature at offset " + std::to_string(base) +
                                       ": not \"Spec ID Event03\"");
  s.signature = zero ? std::string() : std::string(kSpecIdSignature);
  ACON_TRY(s.platform_class, r.u32("SpecID.platformClass"));
  ACON_TRY(s.spec_version_minor, r.u8("SpecID.specVersionMinor"));
  ACON_TRY(s.spec_version_major, r.u8("SpecID.specVersionMajor"));
  ACON_TRY(s.spec_errata, r.u8("SpecID.specErrata"));
  ACON_TRY(s.uintn_size, r.u8("SpecID.uintnSize"));
  ACON_TRY(uint32_t count, r.u32("SpecID.numberOfAlgorithms"));
  if (count == 0 || count > 16)
    return r.invalid("SpecID.numberOfAlgorithms", std::to_string(count) + " is not in 1..16");
  for (uint32_t i = 0; i < count; ++i) {
    ACON_TRY(uint16_t id, r.u16("SpecID.digestSizes.algorithmId"));
    ACON_TRY(uint16_t size, r.u16("SpecID.digestSizes.digestSize"));
    if (size == 0 || size > 64)
      return r.invalid("SpecID.digestSizes.digestSize", std::to_string(size) + " is not in 1..64");
    if (auto h = hash_for_tpm_alg(id); h && hash_size(*h) != size)
      return r.invalid("SpecID.digestSizes.digestSize",
                       tpm_alg_name(id) + " must be " + std::to_string(hash_size(*h)) +
                           " bytes, table says " + std::to_string(size));
    for (const auto& a : s.algorithms) {
      if (a.id == id)
        return r.invalid("SpecID.digestSizes.algorithmId", tpm_alg_name(id) + " listed twice");
    }
    s.algorithms.push_back({id, size});
  }
  ACON_TRY(uint8_t vendor_size, r.u8("SpecID.vendorInfoSize"));
  ACON_TRY(s.vendor_info, r.bytes(vendor_size, "SpecID.vendorInfo"));
  if (!r.empty())
    return r.invalid("SpecID", std::to_string(r.remaining()) +
                                   " bytes beyond vendorInfo (eventSize inconsistent)");
  return s;
}

}  // namespace

std::string event_type_name(uint32_t type) {
  for (const auto& t : kTypeNames) {
    if (t.type == type) return std::string(t.name);
  }
  return "UNKNOWN_" + hex_literal(type);
}

namespace {
struct TpmAlg {
  uint16_t id;
  HashAlg hash;
  std::string_view name;  // tpm2-tools spelling
};
constexpr TpmAlg kTpmAlgs[] = {{tpm_alg::kSha1, HashAlg::sha1, "sha1"},
                               {tpm_alg::kSha256, HashAlg::sha256, "sha256"},
                               {tpm_alg::kSha384, HashAlg::sha384, "sha384"},
                               {tpm_alg::kSha512, HashAlg::sha512, "sha512"},
                               {tpm_alg::kSm3_256, HashAlg::sm3, "sm3_256"}};
const TpmAlg* find_tpm_alg(uint16_t id) {
  for (const auto& a : kTpmAlgs) {
    if (a.id == id) return &a;
  }
  return nullptr;
}
}  // namespace

std::optional<HashAlg> hash_for_tpm_alg(uint16_t alg_id) {
  const TpmAlg* a = find_tpm_alg(alg_id);
  return a ? std::optional(a->hash) : std::nullopt;
}

uint16_t tpm_alg_for_hash(HashAlg alg) {
  for (const auto& a : kTpmAlgs) {
    if (a.hash == alg) return a.id;
  }
  return 0;
}

std::string tpm_alg_name(uint16_t alg_id) {
  const TpmAlg* a = find_tpm_alg(alg_id);
  return a ? std::string(a->name) : hex_literal(alg_id);
}

std::string_view mr_name(uint32_t index) {
  static constexpr std::string_view kNames[] = {"MRTD", "RTMR0", "RTMR1", "RTMR2", "RTMR3"};
  return index < 5 ? kNames[index] : std::string_view("MR?");
}

std::string_view cc_type_name(uint8_t cc_type) {
  static constexpr std::string_view kNames[] = {"none", "SEV", "TDX", "APTEE", "CCA"};
  return cc_type < 5 ? kNames[cc_type] : std::string_view("unknown");
}

std::optional<ByteView> Event::digest(uint16_t alg) const {
  for (const auto& d : digests) {
    if (d.alg == alg) return d.value;
  }
  return std::nullopt;
}

Result<CcelTable> parse_ccel_table(ByteView table) {
  ByteReader r(table);
  CcelTable t;
  ACON_TRY(ByteView sig, r.bytes(4, "CCEL.Signature"));
  if (as_chars(sig) != "CCEL")
    return make_error(Errc::parse, "CCEL.Signature at offset 0: not \"CCEL\"");
  ACON_TRY(t.length, r.u32("CCEL.Length"));
  if (t.length < 56)
    return make_error(Errc::parse,
                      "CCEL.Length at offset 4: " + std::to_string(t.length) + " < 56");
  if (t.length > table.size())
    return make_error(Errc::parse, "CCEL.Length at offset 4: " + std::to_string(t.length) +
                                       " exceeds the " + std::to_string(table.size()) +
                                       " bytes given");
  ACON_TRY(t.revision, r.u8("CCEL.Revision"));
  ACON_TRY(t.checksum, r.u8("CCEL.Checksum"));
  ACON_TRY(ByteView oem, r.bytes(6, "CCEL.OEMID"));
  t.oem_id = to_string(oem);
  ACON_TRY(ByteView oem_table, r.bytes(8, "CCEL.OEMTableID"));
  t.oem_table_id = to_string(oem_table);
  ACON_TRY(t.oem_revision, r.u32("CCEL.OEMRevision"));
  ACON_TRY(ByteView creator, r.bytes(4, "CCEL.CreatorID"));
  t.creator_id = to_string(creator);
  ACON_TRY(t.creator_revision, r.u32("CCEL.CreatorRevision"));
  ACON_TRY(t.cc_type, r.u8("CCEL.CCType"));
  ACON_TRY(t.cc_subtype, r.u8("CCEL.CCSubtype"));
  ACON_CHECK(r.skip(2, "CCEL.Reserved"));
  ACON_TRY(t.laml, r.u64("CCEL.LAML"));
  ACON_TRY(t.lasa, r.u64("CCEL.LASA"));
  uint8_t sum = 0;
  for (size_t i = 0; i < t.length; ++i) sum = static_cast<uint8_t>(sum + table[i]);
  t.checksum_valid = sum == 0;
  return t;
}

Result<EventLog> parse_event_log(ByteView log, const ParseOptions& options) {
  EventLog out;
  ByteReader r(log);
  // Header record: TCG_PCR_EVENT (SHA-1 layout) carrying the Spec ID event.
  Event header{};
  header.number = 0;
  header.offset = 0;
  ACON_TRY(header.index, r.u32("header.pcrIndex"));
  ACON_TRY(header.type, r.u32("header.eventType"));
  if (header.type != ev::kNoAction)
    return make_error(Errc::parse, "header.eventType at offset 4: " + event_type_name(header.type) +
                                       ", expected EV_NO_ACTION (not a TCG2 crypto-agile log)");
  ACON_TRY(ByteView sha1, r.bytes(20, "header.digest"));
  header.digests.push_back({tpm_alg::kSha1, sha1});
  ACON_TRY(uint32_t header_size, r.u32("header.eventSize"));
  if (header_size < kSpecIdMinSize)
    return make_error(Errc::parse, "header.eventSize at offset 28: " + std::to_string(header_size) +
                                       " is too small for a Spec ID event");
  ACON_TRY(header.data, r.bytes(header_size, "header.event"));
  header.size = kHeaderFixedSize + header_size;
  auto spec = parse_spec_id(header.data, kHeaderFixedSize, options);
  if (!spec) return at_event(spec.error(), 0);
  out.spec_id = std::move(*spec);
  out.events.push_back(header);

  // Digest sizes come from the Spec ID table only (a log may use algorithms we cannot hash).
  auto size_of = [&](uint16_t alg) -> std::optional<uint16_t> {
    for (const auto& a : out.spec_id.algorithms) {
      if (a.id == alg) return a.digest_size;
    }
    return std::nullopt;
  };

  while (r.remaining() > 0) {
    if (auto fill = fill_marker(r.rest())) {
      out.fill = fill;
      break;
    }
    // Fewer than 8 bytes of fill end the log too (trimmed logs with partial padding).
    ByteView rest = r.rest();
    if (rest.size() < 8 &&
        (std::all_of(rest.begin(), rest.end(), [](uint8_t b) { return b == 0xff; }) ||
         std::all_of(rest.begin(), rest.end(), [](uint8_t b) { return b == 0; }))) {
      out.fill = rest[0];
      break;
    }
    Event e{};
    e.number = out.events.size();
    e.offset = r.offset();
    auto parse_one = [&]() -> Status {
      ACON_TRY(e.index, r.u32("index"));
      ACON_TRY(e.type, r.u32("eventType"));
      ACON_TRY(uint32_t count, r.u32("digests.count"));
      // TCG PC Client PFP §10.2.2: every TCG_PCR_EVENT2 carries one digest per bank the Spec ID
      // event lists. An event missing a bank would replay into some banks and not others, so a
      // comparison in the bank it lacks could never prove it: the log is refused.
      if (count != out.spec_id.algorithms.size())
        return make_error(Errc::parse, "digests.count at offset " + std::to_string(r.offset() - 4) +
                                           ": " + std::to_string(count) +
                                           " digests, but the Spec ID lists " +
                                           std::to_string(out.spec_id.algorithms.size()) +
                                           " algorithms and every event needs one for each");
      for (uint32_t i = 0; i < count; ++i) {
        ACON_TRY(uint16_t alg, r.u16("digests.hashAlg"));
        auto size = size_of(alg);
        if (!size)
          return make_error(Errc::parse, "digests.hashAlg at offset " +
                                             std::to_string(r.offset() - 2) + ": " +
                                             tpm_alg_name(alg) + " is not in the Spec ID table");
        for (const auto& d : e.digests) {
          if (d.alg == alg)
            return make_error(Errc::parse, "digests.hashAlg at offset " +
                                               std::to_string(r.offset() - 2) + ": " +
                                               tpm_alg_name(alg) + " appears twice");
        }
        ACON_TRY(ByteView value, r.bytes(*size, "digests.digest"));
        e.digests.push_back({alg, value});
      }
      ACON_TRY(uint32_t data_size, r.u32("eventSize"));
      ACON_TRY(e.data, r.bytes(data_size, "event"));
      return {};
    };
    if (auto st = parse_one(); !st) return at_event(st.error(), e.number);
    e.size = r.offset() - e.offset;
    out.events.push_back(std::move(e));
  }
  out.end_offset = out.events.back().offset + out.events.back().size;
  return out;
}

Result<Bytes> spec_id_record(std::span<const HashAlg> banks, uint32_t index, ByteView vendor_info) {
  if (banks.empty() || banks.size() > 16)
    return make_error(Errc::invalid_argument, "spec id: 1..16 banks required");
  if (vendor_info.size() > 255)
    return make_error(Errc::invalid_argument, "spec id: vendorInfo over 255 bytes");
  Bytes spec = to_bytes(std::string_view(kSpecIdSignature, 16));
  put_u32le(spec, 0);  // platformClass: client
  spec.push_back(0);   // specVersionMinor
  spec.push_back(2);   // specVersionMajor
  spec.push_back(0);   // specErrata
  spec.push_back(2);   // uintnSize: UINT64
  put_u32le(spec, static_cast<uint32_t>(banks.size()));
  for (HashAlg b : banks) {
    put_u16le(spec, tpm_alg_for_hash(b));
    put_u16le(spec, static_cast<uint16_t>(hash_size(b)));
  }
  spec.push_back(static_cast<uint8_t>(vendor_info.size()));
  append(spec, vendor_info);
  Bytes out;
  put_u32le(out, index);
  put_u32le(out, ev::kNoAction);
  out.insert(out.end(), 20, 0);
  put_u32le(out, static_cast<uint32_t>(spec.size()));
  append(out, spec);
  return out;
}

Result<Bytes> event2_record(uint32_t index, uint32_t type, std::span<const Digest> digests,
                            ByteView data) {
  if (digests.empty())
    return make_error(Errc::invalid_argument, "event: at least one digest required");
  if (data.size() > UINT32_MAX) return make_error(Errc::invalid_argument, "event: data too large");
  Bytes out;
  put_u32le(out, index);
  put_u32le(out, type);
  put_u32le(out, static_cast<uint32_t>(digests.size()));
  for (const auto& d : digests) {
    put_u16le(out, d.alg);
    append(out, d.value);
  }
  put_u32le(out, static_cast<uint32_t>(data.size()));
  append(out, data);
  return out;
}

Result<Bytes> measured_record(uint32_t index, uint32_t type, std::span<const HashAlg> banks,
                              ByteView data) {
  std::vector<Bytes> values;
  std::vector<Digest> digests;
  values.reserve(banks.size());
  for (HashAlg b : banks) {
    ACON_TRY(Bytes d, digest(b, data));
    values.push_back(std::move(d));
    digests.push_back({tpm_alg_for_hash(b), values.back()});
  }
  return event2_record(index, type, digests, data);
}

}  // namespace acon::eventlog
