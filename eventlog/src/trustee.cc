// Trustee's `uefi_event_logs` entries. See trustee.h; the per-type rules are described in
// docs/claims.md §3 (each one as trustee @ 78962cd4 deps/eventlog/src/ccel/*.rs behaves).
#include "acon/eventlog/trustee.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include "acon/common/hash.h"
#include "acon/common/utf8.h"
#include "uefi_text.h"

namespace acon::eventlog {
namespace {

constexpr size_t kGuidSize = 16;
constexpr uint32_t kAaelTag = 0x4141454C;  // "LEAA" little-endian, runtime.h kAaelEventTag

// The event types Trustee's TcgEventType knows, spelled as it serialises them; any other type
// makes it refuse the log.
struct TypeName {
  uint32_t type;
  std::string_view name;
};
constexpr TypeName kTrusteeTypes[] = {
    {0x0, "EV_PREBOOT_CERT"},
    {0x1, "EV_POST_CODE"},
    {0x2, "EV_UNUSED"},
    {0x3, "EV_NO_ACTION"},
    {0x4, "EV_SEPARATOR"},
    {0x5, "EV_ACTION"},
    {0x6, "EV_EVENT_TAG"},
    {0x7, "EV_S_CRTM_CONTENTS"},
    {0x8, "EV_S_CRTM_VERSION"},
    {0x9, "EV_CPU_MICROCODE"},
    {0xA, "EV_PLATFORM_CONFIG_FLAGS"},
    {0xB, "EV_TABLE_OF_DEVICES"},
    {0xC, "EV_COMPACT_HASH"},
    {0xD, "EV_IPL"},
    {0xE, "EV_IPL_PARTITION_DATA"},
    {0xF, "EV_NONHOST_CODE"},
    {0x10, "EV_NONHOST_CONFIG"},
    {0x11, "EV_NONHOST_INFO"},
    {0x12, "EV_OMIT_BOOT_DEVICE_EVENTS"},
    {0x80000000, "EV_EFI_EVENT_BASE"},
    {0x80000001, "EV_EFI_VARIABLE_DRIVER_CONFIG"},
    {0x80000002, "EV_EFI_VARIABLE_BOOT"},
    {0x80000003, "EV_EFI_BOOT_SERVICES_APPLICATION"},
    {0x80000004, "EV_EFI_BOOT_SERVICES_DRIVER"},
    {0x80000005, "EV_EFI_RUNTIME_SERVICES_DRIVER"},
    {0x80000006, "EV_EFI_GPT_EVENT"},
    {0x80000007, "EV_EFI_ACTION"},
    {0x80000008, "EV_EFI_PLATFORM_FIRMWARE_BLOB"},
    {0x80000009, "EV_EFI_HANDOFF_TABLES"},
    {0x8000000A, "EV_EFI_PLATFORM_FIRMWARE_BLOB2"},
    {0x8000000B, "EV_EFI_HANDOFF_TABLES2"},
    {0x8000000C, "EV_EFI_VARIABLE_BOOT2"},
    {0x80000010, "EV_EFI_HCRTM_EVENT"},
    {0x800000E0, "EV_EFI_VARIABLE_AUTHORITY"},
    {0x800000E1, "EV_EFI_SPDM_FIRMWARE_BLOB"},
    {0x800000E2, "EV_EFI_SPDM_FIRMWARE_CONFIG"},
};

std::optional<std::string_view> trustee_type_name(uint32_t type) {
  for (const auto& t : kTrusteeTypes) {
    if (t.type == type) return t.name;
  }
  return std::nullopt;
}

// Trustee's TcgAlgorithm names; nullopt for IDs it does not know.
std::optional<std::string_view> trustee_alg_name(uint16_t alg) {
  switch (alg) {
    case 0x1:
      return "RSA";
    case 0x3:
      return "TDES";
    case tpm_alg::kSha1:
      return "SHA-1";
    case tpm_alg::kSha256:
      return "SHA-256";
    case tpm_alg::kSha384:
      return "SHA-384";
    case tpm_alg::kSha512:
      return "SHA-512";
    case tpm_alg::kSm3_256:
      return "SM3";
    default:
      return std::nullopt;
  }
}

Error field_error(std::string_view field, size_t offset, std::string_view why) {
  return make_error(Errc::parse, std::string(field) + " at offset " + std::to_string(offset) +
                                     ": " + std::string(why));
}

uint16_t le16(ByteView b, size_t at) { return static_cast<uint16_t>(b[at] | (b[at + 1] << 8)); }
uint32_t le32(ByteView b, size_t at) {
  return static_cast<uint32_t>(b[at]) | static_cast<uint32_t>(b[at + 1]) << 8 |
         static_cast<uint32_t>(b[at + 2]) << 16 | static_cast<uint32_t>(b[at + 3]) << 24;
}
uint64_t le64(ByteView b, size_t at) {
  return static_cast<uint64_t>(le32(b, at)) | static_cast<uint64_t>(le32(b, at + 4)) << 32;
}

// Bytes of the longest prefix of an ill-formed sequence at s[i] that could start a well-formed
// one (Unicode "maximal subpart"): what one U+FFFD replaces in a lossy decode.
size_t maximal_subpart(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  uint8_t lead = byte(i);
  size_t need = 0;
  uint8_t lo = 0x80, hi = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    need = 1;
  } else if (lead == 0xE0) {
    need = 2, lo = 0xA0;
  } else if (lead == 0xED) {
    need = 2, hi = 0x9F;
  } else if (lead >= 0xE1 && lead <= 0xEF) {
    need = 2;
  } else if (lead == 0xF0) {
    need = 3, lo = 0x90;
  } else if (lead == 0xF4) {
    need = 3, hi = 0x8F;
  } else if (lead >= 0xF1 && lead <= 0xF3) {
    need = 3;
  } else {
    return 1;
  }
  size_t n = 1;
  for (size_t k = 0; k < need && i + n < s.size(); ++k) {
    uint8_t c = byte(i + n);
    uint8_t low = k == 0 ? lo : 0x80, high = k == 0 ? hi : 0xBF;
    if (c < low || c > high) break;
    ++n;
  }
  return n;
}

// Rust's String::from_utf8_lossy.
std::string utf8_lossy(ByteView bytes) {
  std::string_view s = as_chars(bytes);
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8_sequence(s, i);
    if (n == 0) {
      append_utf8(out, kUnicodeReplacement);
      i += maximal_subpart(s, i);
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

// Rust's String::from_utf16 (strict: nullopt on an unpaired surrogate) or from_utf16_lossy.
// NUL units are kept; an odd trailing byte never reaches here (callers pass whole units).
std::optional<std::string> utf16le(ByteView bytes, bool lossy) {
  std::string out;
  const size_t units = bytes.size() / 2;
  for (size_t i = 0; i < units; ++i) {
    uint32_t u = le16(bytes, 2 * i);
    if (u >= 0xD800 && u <= 0xDBFF && i + 1 < units) {
      uint32_t low = le16(bytes, 2 * (i + 1));
      if (low >= 0xDC00 && low <= 0xDFFF) {
        append_utf8(out, 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00));
        ++i;
        continue;
      }
    }
    if (u >= 0xD800 && u <= 0xDFFF) {
      if (!lossy) return std::nullopt;
      u = kUnicodeReplacement;
    }
    append_utf8(out, u);
  }
  return out;
}

std::optional<std::string> utf8_strict(ByteView bytes) {
  std::string_view s = as_chars(bytes);
  if (!is_valid_utf8(s)) return std::nullopt;
  return std::string(s);
}

Json string_details(std::string s) {
  return JsonObjectBuilder().add("string", std::move(s)).build();
}

std::string hex_prefixed(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

// Rust's Ipv4Addr::from_bits over a little-endian u32: the four bytes in reverse order.
std::string ipv4_from_le(ByteView b, size_t at) {
  return std::to_string(b[at + 3]) + "." + std::to_string(b[at + 2]) + "." +
         std::to_string(b[at + 1]) + "." + std::to_string(b[at]);
}

// One device path node's text by Trustee's parsers; nullopt where they fail (the caller then
// prints the generic Path(type,subtype,hex)).
std::optional<std::string> device_node_text(uint8_t type, uint8_t sub, ByteView d) {
  switch (type) {
    case 0x01:  // hardware
      if (sub != 0x01 || d.size() < 2) return std::nullopt;
      return "Pci(" + std::to_string(d[0]) + "," + std::to_string(d[1]) + ")";
    case 0x02: {  // ACPI
      if (sub != 0x01 || d.size() < 8) return std::nullopt;
      return "ACPI(" + eisa_id(le32(d, 0)) + "," + std::to_string(le32(d, 4)) + ")";
    }
    case 0x03:  // messaging
      switch (sub) {
        case 0x15:
          if (d.size() < 16) return std::nullopt;
          return "FibreEx(0x" + hex_encode(d.subspan(0, 8)) + ",0x" + hex_encode(d.subspan(8, 8)) +
                 ")";
        case 0x05:
          if (d.size() < 2) return std::nullopt;
          return "USB(" + std::to_string(d[0]) + "," + std::to_string(d[1]) + ")";
        case 0x0B: {
          if (d.size() != 33) return std::nullopt;
          std::string mac = hex_encode(d.subspan(0, 31));
          while (!mac.empty() && mac.back() == '0') mac.pop_back();
          for (char& c : mac) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
          char if_type[8];
          std::snprintf(if_type, sizeof if_type, "0x%02x", d[32]);
          return "Mac(" + mac + "," + if_type + ")";
        }
        case 0x0C: {
          if (d.size() < 23) return std::nullopt;
          uint16_t protocol = le16(d, 12);
          uint8_t origin = d[14];
          uint32_t gateway = le32(d, 15), subnet = le32(d, 19);
          std::string text = "IPv4(" + ipv4_from_le(d, 4) + "," +
                             (protocol == 6    ? "TCP"
                              : protocol == 17 ? "UDP"
                                               : "") +
                             "," +
                             (origin == 0   ? "DHCP"
                              : origin == 1 ? "Static"
                                            : "") +
                             "," + ipv4_from_le(d, 0);
          if (gateway != 0 || subnet != 0)
            text += "," + std::to_string(gateway) + "," + std::to_string(subnet);
          return text + ")";
        }
        default:
          return std::nullopt;
      }
    case 0x04:  // media
      switch (sub) {
        case 0x01: {
          // Trustee reads the signature type at byte 37 after checking for 37 bytes only; a
          // 37-byte node makes it panic, so it is not decoded here.
          if (d.size() < 38) return std::nullopt;
          uint32_t number = le32(d, 0);
          std::string prefix, sig;
          if (d[36] == 0x01) {
            char buf[16];
            std::snprintf(buf, sizeof buf, "0x%08x", le32(d, 20));
            prefix = "MBR", sig = buf;
          } else if (d[36] == 0x02) {
            prefix = "GPT", sig = guid_text(d.subspan(20, 16), HexCase::upper);
          } else {
            return std::nullopt;
          }
          std::string text = "HD(" + std::to_string(number) + "," + prefix + "," + sig;
          if (number != 0) text += "," + hex_prefixed(le64(d, 4)) + "," + hex_prefixed(le64(d, 12));
          return text + ")";
        }
        case 0x03:
          if (d.size() < kGuidSize) return std::nullopt;
          return "VenMedia(" + guid_text(d.subspan(0, kGuidSize), HexCase::upper) + "," +
                 hex_encode(d.subspan(kGuidSize)) + ")";
        case 0x04:
          if (d.empty() || d.size() % 2 != 0) return std::nullopt;
          return "File(" + *utf16le(d.subspan(0, d.size() - 2), true) + ")";
        default:
          return std::nullopt;
      }
    case 0x05: {  // BIOS boot specification
      if (sub != 0x01 || d.size() < 4) return std::nullopt;
      uint16_t device_type = le16(d, 0);
      std::string type_text;
      switch (device_type) {
        case 0x01:
          type_text = "FLOPPY";
          break;
        case 0x02:
          type_text = "HARD_DRIVE";
          break;
        case 0x03:
          type_text = "CDROM";
          break;
        case 0x04:
          type_text = "PCMCIA";
          break;
        case 0x05:
          type_text = "USB";
          break;
        case 0x06:
          type_text = "EMBEDDED_NETWORK";
          break;
        case 0x80:
          type_text = "DEV";
          break;
        case 0xFF:
          type_text = "UNKNOWN";
          break;
        default:
          type_text = std::to_string(device_type);
      }
      ByteView rest = d.subspan(4);
      size_t end = 0;
      while (end < rest.size() && rest[end] != 0) ++end;
      auto description = utf8_strict(rest.subspan(0, end));
      if (!description) return std::nullopt;
      return "BBS(" + type_text + "," + *description + "," + std::to_string(le16(d, 2)) + ")";
    }
    default:
      return std::nullopt;
  }
}

// UEFI_IMAGE_LOAD_EVENT: the device path nodes, the last 4 bytes of the path (its end node)
// left out as Trustee does.
Result<Json> boot_services_app_details(ByteView data) {
  constexpr size_t kPathLengthAt = 24, kPathAt = 32;
  if (data.size() < kPathAt)
    return field_error("UEFI_IMAGE_LOAD_EVENT.LengthOfDevicePath", kPathLengthAt,
                       "needs 32 bytes of image load event, have " + std::to_string(data.size()));
  uint64_t path_length = le64(data, kPathLengthAt);
  if (path_length == 0) return Json::object();
  if (path_length < 4 || path_length - 4 > data.size() - kPathAt)
    return field_error("UEFI_IMAGE_LOAD_EVENT.DevicePath", kPathAt,
                       "length " + std::to_string(path_length) + " does not fit the " +
                           std::to_string(data.size() - kPathAt) + " bytes after it");
  ByteView path = data.subspan(kPathAt, static_cast<size_t>(path_length - 4));
  Json nodes = Json::array();
  size_t at = 0;
  do {
    const size_t node_at = kPathAt + at;
    if (path.size() - at < 4)
      return field_error("DevicePath node", node_at, "fewer than 4 bytes of node header");
    uint8_t type = path[at], sub = path[at + 1];
    uint16_t length = le16(path, at + 2);
    if (length < 4 || length > path.size() - at)
      return field_error("DevicePath node.Length", node_at + 2,
                         std::to_string(length) + " does not fit the " +
                             std::to_string(path.size() - at) + " bytes left");
    ByteView node_data = path.subspan(at + 4, length - 4);
    auto text = device_node_text(type, sub, node_data);
    nodes.push_back(text ? *text
                         : "Path(" + std::to_string(type) + "," + std::to_string(sub) + "," +
                               hex_encode(node_data) + ")");
    at += length;
  } while (at < path.size());
  return JsonObjectBuilder().add("device_paths", std::move(nodes)).build();
}

// UEFI_VARIABLE_DATA; the GUID as the plain hex of its bytes in 4-2-2-2-6 groups.
Result<Json> efi_variable_details(ByteView data) {
  if (data.size() < kGuidSize) return field_error("VariableName", 0, "fewer than 16 bytes");
  if (data.size() < 32)
    return field_error(data.size() < 24 ? "UnicodeNameLength" : "VariableDataLength",
                       data.size() < 24 ? 16 : 24, "truncated");
  uint64_t name_units = le64(data, 16), data_length = le64(data, 24);
  size_t at = 32;
  if (name_units > (data.size() - at) / 2)
    return field_error("UnicodeName", at,
                       std::to_string(name_units) + " UTF-16 units run past the event data");
  auto name = utf16le(data.subspan(at, static_cast<size_t>(name_units) * 2), false);
  if (!name) return field_error("UnicodeName", at, "not UTF-16 (unpaired surrogate)");
  at += static_cast<size_t>(name_units) * 2;
  std::string variable_data;
  if (data_length > 0) {
    if (data_length > data.size() - at)
      return field_error("VariableData", at,
                         std::to_string(data_length) + " bytes run past the event data");
    variable_data = base64_encode(data.subspan(at, static_cast<size_t>(data_length)));
  }
  ByteView g = data.subspan(0, kGuidSize);
  std::string guid = hex_encode(g.subspan(0, 4)) + "-" + hex_encode(g.subspan(4, 2)) + "-" +
                     hex_encode(g.subspan(6, 2)) + "-" + hex_encode(g.subspan(8, 2)) + "-" +
                     hex_encode(g.subspan(10, 6));
  return JsonObjectBuilder()
      .add("unicode_name", std::move(*name))
      .add("unicode_name_length", name_units)
      .add("variable_data", std::move(variable_data))
      .add("variable_data_length", data_length)
      .add("variable_name", std::move(guid))
      .build();
}

// False when no JSON text can start like `text` (RFC 8259 §2: optional blanks, then a value),
// so that nlohmann's parser would refuse it. That parser skips a leading UTF-8 BOM, so text
// starting with one is left to it.
bool could_begin_json(std::string_view text) {
  if (text.starts_with("\xEF\xBB\xBF")) return true;
  const size_t at = text.find_first_not_of(" \t\n\r");
  if (at == std::string_view::npos) return false;
  const char c = text[at];
  return c == '{' || c == '[' || c == '"' || c == '-' || (c >= '0' && c <= '9') || c == 't' ||
         c == 'f' || c == 'n';
}

// TCG_PCClientTaggedEvent; the AAEL tag's "domain operation content" split into "data".
Result<Json> event_tag_details(ByteView data) {
  if (data.size() < 8) return field_error("TaggedEvent.taggedEventID/DataSize", 0, "truncated");
  uint32_t id = le32(data, 0), size = le32(data, 4);
  if (size > data.size() - 8)
    return field_error("TaggedEventData", 8,
                       std::to_string(size) + " bytes run past the event data");
  ByteView tagged = data.subspan(8, size);
  std::string text;
  for (char c : utf8_lossy(tagged)) {
    if (c != '\0') text.push_back(c);
  }
  Json details = string_details(std::move(text));
  if (id != kAaelTag) return details;
  auto aael = utf8_strict(tagged);
  if (!aael) return field_error("TaggedEventData", 8, "AAEL entry is not UTF-8");
  std::string_view s = *aael;
  size_t first = s.find(' ');
  if (first == std::string_view::npos)
    return field_error("TaggedEventData", 8, "AAEL entry has no space after its domain");
  size_t second = s.find(' ', first + 1);
  if (second == std::string_view::npos)
    return field_error("TaggedEventData", 8 + first + 1,
                       "AAEL entry has no space after its operation");
  std::string content_text(s.substr(second + 1));
  // Trustee keeps the content as JSON when it parses as JSON, else as a string. Text whose first
  // non-blank character cannot begin a JSON value (an image reference, a path) is a string
  // without running the parser, whose failure path builds an error message it then discards.
  Json content = could_begin_json(content_text) ? Json::parse(content_text, nullptr, false)
                                                : Json(Json::value_t::discarded);
  if (content.is_discarded()) content = content_text;
  details["data"] = JsonObjectBuilder()
                        .add("content", std::move(content))
                        .add("domain", s.substr(0, first))
                        .add("operation", s.substr(first + 1, second - first - 1))
                        .build();
  details["unicode_name"] = "AAEL";
  return details;
}

Result<Json> details_of(const Event& e) {
  ByteView data = e.data;
  switch (e.type) {
    case ev::kPostCode:
    case ev::kAction:
    case ev::kCompactHash:
    case ev::kOmitBootDeviceEvents:
    case ev::kEfiAction: {
      auto s = utf8_strict(data);
      if (!s) return field_error("event data", 0, "not UTF-8");
      return string_details(std::move(*s));
    }
    case ev::kEventTag:
      return event_tag_details(data);
    case ev::kPlatformConfigFlags: {
      // Not UTF-8 → ""; DLE (0x10) → space; then every Unicode control character dropped.
      std::string out;
      if (auto s = utf8_strict(data)) {
        for (size_t i = 0; i < s->size();) {
          uint32_t cp = 0;
          size_t n = utf8_sequence(*s, i, &cp);
          if (cp == 0x10) {
            out.push_back(' ');
          } else if (!(cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))) {
            out.append(*s, i, n);
          }
          i += n;
        }
      }
      return string_details(std::move(out));
    }
    case ev::kIpl: {
      if (data.size() < 2) return field_error("event data", 0, "fewer than 2 bytes");
      if (data[0] == 0x2E && data[1] == 0x00) {
        // GCE's ".\0" + UTF-16 name + NUL unit: the units between prefix and terminator.
        size_t rest = data.size() - 2;
        if (rest == 0 || rest % 2 != 0)
          return field_error("event data", 2, "not a UTF-16 string after the 2e00 prefix");
        return string_details(*utf16le(data.subspan(2, data.size() - 4), true));
      }
      size_t cutoff = 0;
      while (cutoff < data.size() && data[cutoff] != 0) ++cutoff;
      auto s = utf8_strict(data.subspan(0, cutoff));
      return string_details(s ? std::move(*s) : hex_encode(data));
    }
    case ev::kEfiVariableDriverConfig:
    case ev::kEfiVariableBoot:
    case ev::kEfiVariableBoot2:
    case ev::kEfiVariableAuthority:
      return efi_variable_details(data);
    case ev::kEfiBootServicesApplication:
      return boot_services_app_details(data);
    case ev::kEfiPlatformFirmwareBlob2:
    case ev::kEfiHandoffTables2: {
      // A length byte, then Trustee takes bytes 1..length: the description less its last byte
      // (the NUL the firmware writes).
      if (data.empty()) return field_error("DescriptionSize", 0, "no data");
      size_t end = data[0];
      if (end < 1) return field_error("DescriptionSize", 0, "0");
      if (data.size() < end)
        return field_error(
            "Description", 1,
            "needs " + std::to_string(end) + " bytes, have " + std::to_string(data.size()));
      auto s = utf8_strict(data.subspan(1, end - 1));
      if (!s) return field_error("Description", 1, "not UTF-8");
      return string_details(std::move(*s));
    }
    default:
      return Json::object();
  }
}

}  // namespace

namespace {

// One hasher per algorithm for all the events of a log: an EVP_MD_CTX made once, not per event.
class EventHashers {
 public:
  Result<Hasher*> get(HashAlg alg) {
    std::optional<Hasher>& slot = by_alg_[static_cast<size_t>(alg)];
    if (!slot) {
      ACON_TRY(Hasher hasher, Hasher::create(alg));
      slot.emplace(std::move(hasher));
    }
    return &*slot;
  }

 private:
  std::array<std::optional<Hasher>, static_cast<size_t>(HashAlg::sm3) + 1> by_alg_;
};

Result<Json> event_entry(const Event& event, EventHashers& hashers) {
  // The message prefix, built only for an error.
  auto at = [&event] { return "event " + std::to_string(event.number) + ": "; };
  auto type_name = trustee_type_name(event.type);
  if (!type_name)
    return make_error(Errc::parse, at() + "event type " + event_type_name(event.type) +
                                       " is not one Trustee knows");
  Json::array_t digests;
  digests.reserve(event.digests.size());
  for (const Digest& d : event.digests) {
    auto alg_name = trustee_alg_name(d.alg);
    if (!alg_name)
      return make_error(Errc::parse, at() + "digest algorithm " + tpm_alg_name(d.alg) +
                                         " is not one Trustee knows");
    digests.push_back(
        JsonObjectBuilder().add("alg", *alg_name).add("digest", hex_encode(d.value)).build());
  }
  // Trustee hashes the whole event data with each digest's algorithm in order and stops at the
  // first mismatch; an algorithm it cannot compute (SHA-1, RSA, TDES) before that fails the log.
  bool matches = true;
  for (const Digest& d : event.digests) {
    std::optional<HashAlg> alg = hash_for_tpm_alg(d.alg);
    if (!alg || *alg == HashAlg::sha1)
      return make_error(Errc::parse, at() + "digest algorithm " + tpm_alg_name(d.alg) +
                                         " cannot be checked against the event data by Trustee");
    ACON_TRY(Hasher * hasher, hashers.get(*alg));
    std::array<uint8_t, 64> computed;
    const std::span<uint8_t> out(computed.data(), hash_size(*alg));
    hasher->update(event.data);
    hasher->finish_into(out);
    if (!std::equal(out.begin(), out.end(), d.value.begin(), d.value.end())) {
      matches = false;
      break;
    }
  }
  auto details = details_of(event);
  if (!details)
    return make_error(Errc::parse,
                      at() + event_type_name(event.type) + " data " + details.error().message);
  return JsonObjectBuilder()
      .add("details", std::move(*details))
      .add("digest_matches_event", matches)
      .add("digests", std::move(digests))
      .add("event", base64_encode(event.data))
      .add("index", event.index)
      .add("type_name", *type_name)
      .build();
}

}  // namespace

Result<Json> trustee_event_entry(const Event& event) {
  EventHashers hashers;
  return event_entry(event, hashers);
}

Status append_trustee_event_entries(const EventLog& log, size_t first, size_t last,
                                    Json::array_t& entries) {
  EventHashers hashers;
  first = std::max<size_t>(first, 1);
  last = std::min(last, log.events.size());
  if (first < last) entries.reserve(entries.size() + (last - first));
  for (size_t i = first; i < last; ++i) {
    ACON_TRY(Json entry, event_entry(log.events[i], hashers));
    entries.push_back(std::move(entry));
  }
  return {};
}

Result<Json> trustee_uefi_event_logs(const EventLog& log) {
  Json::array_t entries;
  ACON_CHECK(append_trustee_event_entries(log, 1, log.events.size(), entries));
  return Json(std::move(entries));
}

}  // namespace acon::eventlog
