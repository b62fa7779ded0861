// Decoding of TCG PC Client / UEFI event data, and the per-type rules that say which bytes an
// event's digest covers. Layouts: TCG PC Client PFP (UEFI_VARIABLE_DATA, UEFI_IMAGE_LOAD_EVENT,
// UEFI_GPT_DATA, UEFI_PLATFORM_FIRMWARE_BLOB[2], UEFI_HANDOFF_TABLE_POINTERS[2],
// TCG_PCClientTaggedEvent, TCG_EfiSpecIDEvent, TCG_Sp800_155_PlatformId_Event3), UEFI 2.10 §10
// (device paths), §3.1.3 (EFI_LOAD_OPTION), §32.4 (EFI_SIGNATURE_LIST).
//
// Every read goes through ByteReader, so a malformed payload becomes details["error"] ("<field> at
// offset N: why", N relative to the start of the event data) next to whatever decoded before it,
// plus the raw bytes as details["hex"]. Every string placed in the JSON is valid UTF-8 (bytes from
// the log are sanitised), so callers can dump() the details without exceptions.
#include "acon/eventlog/decode.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "acon/common/reader.h"
#include "acon/common/utf8.h"
#include "uefi_text.h"

namespace acon::eventlog {
namespace {

// TCG_PCClientTaggedEvent IDs seen in TDX logs.
constexpr uint32_t kTagLinuxLoadOptions = 0x8F3B22ED;  // Linux kernel EFI loader: command line
constexpr uint32_t kTagLinuxInitrd = 0x8F3B22EC;       // Linux kernel EFI loader: initrd
constexpr uint32_t kTagAael = 0x4141454C;              // CoCo AAEL (runtime.h kAaelEventTag)

constexpr size_t kGuidSize = 16;
constexpr size_t kGptEntryMinSize = 128;     // sizeof(EFI_PARTITION_ENTRY)
constexpr size_t kSignatureListHeader = 28;  // EFI_SIGNATURE_LIST before SignatureHeader

// EFI_GLOBAL_VARIABLE and EFI_IMAGE_SECURITY_DATABASE_GUID, canonical text.
constexpr std::string_view kEfiGlobalVariable = "8be4df61-93ca-11d2-aa0d-00e098032b8c";
constexpr std::string_view kImageSecurityDatabase = "d719b2cb-3d3a-4596-a3bc-dad00e67656f";

// The bytes as UTF-8 with every invalid sequence replaced by U+FFFD.
std::string sanitize_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = 0;
    size_t n = utf8_sequence(s, i, &cp);
    if (n == 0) {
      append_utf8(out, kUnicodeReplacement);
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string sanitize_utf8(ByteView b) { return sanitize_utf8(as_chars(b)); }

// Valid UTF-8 without control characters other than tab, LF and CR.
bool is_printable_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = 0;
    size_t n = utf8_sequence(s, i, &cp);
    if (n == 0) return false;
    if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || cp == 0x7F) return false;
    i += n;
  }
  return true;
}

bool all_zero(ByteView b) {
  return std::all_of(b.begin(), b.end(), [](uint8_t c) { return c == 0; });
}

// Text found in event data: `text` is exactly the bytes of data[text_begin, text_end) for UTF-8,
// which the digest rules hash; `trailing` is what follows the terminator.
struct Text {
  std::string text;
  bool utf16 = false;
  size_t text_end = 0;  // for UTF-8: index of the NUL (or data.size())
  ByteView trailing;    // after the terminating NUL
};

// ASCII-range UTF-16LE ("."\0"l"\0...) as GCE and CRTM versions log it: even size, at least two
// units, every high byte zero up to a NUL unit, and only zero bytes after it.
std::optional<Text> decode_utf16_text(ByteView data) {
  if (data.size() < 4 || data.size() % 2 != 0 || data[0] == 0 || data[1] != 0) return std::nullopt;
  size_t units = data.size() / 2;
  size_t end = units;
  for (size_t k = 0; k < units; ++k) {
    if (data[2 * k] == 0 && data[2 * k + 1] == 0) {
      end = k;
      break;
    }
    if (data[2 * k + 1] != 0) return std::nullopt;
  }
  if (end < 2) return std::nullopt;
  if (!all_zero(data.subspan(2 * end))) return std::nullopt;
  Text t;
  t.text = utf16le_to_utf8(data.first(2 * end));
  if (!is_printable_utf8(t.text)) return std::nullopt;
  t.utf16 = true;
  t.text_end = 2 * end;
  t.trailing = data.subspan(std::min(data.size(), 2 * end + 2));
  return t;
}

// Printable text up to the first NUL (UTF-8), or ASCII-range UTF-16LE; nullopt for binary data.
// Empty data and all-NUL data decode as "".
std::optional<Text> decode_text(ByteView data) {
  if (auto u16 = decode_utf16_text(data)) return u16;
  auto nul = std::find(data.begin(), data.end(), uint8_t{0});
  size_t end = static_cast<size_t>(nul - data.begin());
  std::string_view head = as_chars(data.first(end));
  if (!is_printable_utf8(head)) return std::nullopt;
  if (head.empty() && !all_zero(data)) return std::nullopt;
  Text t;
  t.text = std::string(head);
  t.text_end = end;
  t.trailing = data.subspan(std::min(data.size(), end + 1));
  return t;
}

// "string" for printable data (NUL-trimmed, with any non-zero bytes after the NUL kept as
// trailing_hex), else the raw bytes as "hex".
void put_text_or_hex(ByteView data, Json& d) {
  if (auto t = decode_text(data)) {
    d["string"] = t->text;
    if (!all_zero(t->trailing)) d["trailing_hex"] = hex_encode(t->trailing);
  } else {
    d["hex"] = hex_encode(data);
  }
}

// ---- device paths ----

struct PathNodes {
  std::vector<std::string> nodes;  // "," marks the end of a device path instance
  bool truncated = false;
  size_t problem_offset = 0;  // where the unreadable node starts, relative to the path
  std::string problem;        // why it cannot be read
};

constexpr uint32_t kPnpEisaPrefix = 0x41D0;  // "PNP" compressed

std::string acpi_text(uint32_t hid, uint32_t uid) {
  char buf[64];
  if ((hid & 0xFFFF) == kPnpEisaPrefix) {
    const char* name = nullptr;
    switch (hid >> 16) {
      case 0x0A03:
        name = "PciRoot";
        break;
      case 0x0A08:
        name = "PcieRoot";
        break;
      case 0x0604:
        name = "Floppy";
        break;
      case 0x0301:
        name = "Keyboard";
        break;
      case 0x0501:
        name = "Serial";
        break;
      case 0x0401:
        name = "ParallelPort";
        break;
      default:
        break;
    }
    if (name) {
      std::snprintf(buf, sizeof buf, "%s(0x%x)", name, uid);
      return buf;
    }
  }
  std::snprintf(buf, sizeof buf, "Acpi(%s,0x%x)", eisa_id(hid).c_str(), uid);
  return buf;
}

// Reads a NUL-terminated ASCII string (or up to the end of the node).
std::string read_cstring(ByteReader& r) {
  ByteView rest = r.rest();
  auto nul = std::find(rest.begin(), rest.end(), uint8_t{0});
  size_t n = static_cast<size_t>(nul - rest.begin());
  std::string s = sanitize_utf8(rest.first(n));
  (void)r.skip(std::min(rest.size(), n + 1), "string");
  return s;
}

std::string vendor_text(std::string_view name, ByteReader& r, const std::string& guid) {
  std::string s = std::string(name) + "(" + guid;
  if (!r.empty()) s += "," + hex_encode(r.rest());
  return s + ")";
}

// One node's text, or nullopt when the body is too short for its type (the caller then prints the
// generic form).
std::optional<std::string> node_text(uint8_t type, uint8_t subtype, ByteView body, size_t base) {
  ByteReader r(body, base);
  char buf[160];
  auto guid = [&]() -> std::optional<std::string> {
    auto g = r.bytes(kGuidSize, "GUID");
    if (!g) return std::nullopt;
    return guid_text(*g, HexCase::upper);
  };
  switch (type) {
    case 1:  // hardware
      if (subtype == 1 && body.size() >= 2) {
        std::snprintf(buf, sizeof buf, "Pci(0x%x,0x%x)", body[1], body[0]);
        return buf;
      }
      if (subtype == 3) {
        auto mem_type = r.u32("MemoryType");
        auto start = r.u64("StartingAddress");
        auto end = r.u64("EndingAddress");
        if (!mem_type || !start || !end) return std::nullopt;
        std::snprintf(buf, sizeof buf, "MemoryMapped(0x%x,0x%llx,0x%llx)", *mem_type,
                      static_cast<unsigned long long>(*start),
                      static_cast<unsigned long long>(*end));
        return buf;
      }
      if (subtype == 4) {
        auto g = guid();
        if (!g) return std::nullopt;
        return vendor_text("VenHw", r, *g);
      }
      if (subtype == 5 && body.size() >= 4) {
        std::snprintf(buf, sizeof buf, "Ctrl(0x%x)", *r.u32("ControllerNumber"));
        return buf;
      }
      break;
    case 2:  // ACPI
      if (subtype == 1) {
        auto hid = r.u32("HID");
        auto uid = r.u32("UID");
        if (!hid || !uid) return std::nullopt;
        return acpi_text(*hid, *uid);
      }
      if (subtype == 2) {
        auto hid = r.u32("HID");
        auto uid = r.u32("UID");
        auto cid = r.u32("CID");
        if (!hid || !uid || !cid) return std::nullopt;
        std::string hid_str = read_cstring(r);
        std::string uid_str = read_cstring(r);
        std::string cid_str = read_cstring(r);
        std::snprintf(buf, sizeof buf, "AcpiEx(%s,%s,0x%x,", eisa_id(*hid).c_str(),
                      eisa_id(*cid).c_str(), *uid);
        return std::string(buf) + hid_str + "," + cid_str + "," + uid_str + ")";
      }
      if (subtype == 3 && body.size() >= 4) {
        std::string s = "AcpiAdr(";
        for (bool first = true; r.remaining() >= 4; first = false) {
          std::snprintf(buf, sizeof buf, "%s0x%x", first ? "" : ",", *r.u32("ADR"));
          s += buf;
        }
        return s + ")";
      }
      break;
    case 3:  // messaging
      switch (subtype) {
        case 1:
          if (body.size() >= 4) {
            std::snprintf(buf, sizeof buf, "Ata(%s,%s,0x%x)", body[0] ? "Secondary" : "Primary",
                          body[1] ? "Slave" : "Master", body[2] | (body[3] << 8));
            return buf;
          }
          break;
        case 2:
          if (body.size() >= 4) {
            std::snprintf(buf, sizeof buf, "Scsi(0x%x,0x%x)", body[0] | (body[1] << 8),
                          body[2] | (body[3] << 8));
            return buf;
          }
          break;
        case 5:
          if (body.size() >= 2) {
            std::snprintf(buf, sizeof buf, "USB(0x%x,0x%x)", body[0], body[1]);
            return buf;
          }
          break;
        case 10: {
          auto g = guid();
          if (!g) return std::nullopt;
          return vendor_text("VenMsg", r, *g);
        }
        case 11:
          if (body.size() >= 33) {
            // IfType 0 (unknown) and 1 (Ethernet) use the 6-byte MAC (edk2 DevPathToTextMacAddr).
            size_t size = body[32] <= 1 ? 6 : 32;
            std::snprintf(buf, sizeof buf, ",0x%x)", body[32]);
            return "MAC(" + hex_encode(body.first(size)) + buf;
          }
          break;
        case 18:
          if (body.size() >= 6) {
            std::snprintf(buf, sizeof buf, "Sata(0x%x,0x%x,0x%x)", body[0] | (body[1] << 8),
                          body[2] | (body[3] << 8), body[4] | (body[5] << 8));
            return buf;
          }
          break;
        case 23:
          if (body.size() >= 12) {
            // edk2 prints the EUI-64 most significant byte first.
            std::snprintf(buf, sizeof buf, "NVMe(0x%x,%02X-%02X-%02X-%02X-%02X-%02X-%02X-%02X)",
                          *r.u32("NamespaceId"), body[11], body[10], body[9], body[8], body[7],
                          body[6], body[5], body[4]);
            return buf;
          }
          break;
        case 24:
          return "Uri(" + sanitize_utf8(body) + ")";
        default:
          break;
      }
      break;
    case 4:  // media
      switch (subtype) {
        case 1: {
          auto part = r.u32("PartitionNumber");
          auto start = r.u64("PartitionStart");
          auto size = r.u64("PartitionSize");
          auto sig = r.bytes(16, "Signature");
          auto mbr_type = r.u8("MBRType");
          auto sig_type = r.u8("SignatureType");
          if (!part || !start || !size || !sig || !mbr_type || !sig_type) return std::nullopt;
          (void)mbr_type;
          std::string s = "HD(" + std::to_string(*part) + ",";
          if (*sig_type == 1) {
            std::snprintf(buf, sizeof buf, "MBR,0x%08x,",
                          (*sig)[0] | ((*sig)[1] << 8) | ((*sig)[2] << 16) |
                              (static_cast<uint32_t>((*sig)[3]) << 24));
            s += buf;
          } else if (*sig_type == 2) {
            s += "GPT," + guid_text(*sig, HexCase::upper) + ",";
          } else {
            s += std::to_string(*sig_type) + ",0,";
          }
          std::snprintf(buf, sizeof buf, "0x%llx,0x%llx)", static_cast<unsigned long long>(*start),
                        static_cast<unsigned long long>(*size));
          return s + buf;
        }
        case 2: {
          auto entry = r.u32("BootEntry");
          auto start = r.u64("PartitionStart");
          auto size = r.u64("PartitionSize");
          if (!entry || !start || !size) return std::nullopt;
          std::snprintf(buf, sizeof buf, "CDROM(0x%x,0x%llx,0x%llx)", *entry,
                        static_cast<unsigned long long>(*start),
                        static_cast<unsigned long long>(*size));
          return buf;
        }
        case 3: {
          auto g = guid();
          if (!g) return std::nullopt;
          return vendor_text("VenMedia", r, *g);
        }
        case 4:
          return utf16le_to_utf8(body);
        case 5:
        case 6:
        case 7: {
          auto g = guid();
          if (!g) return std::nullopt;
          const char* name = subtype == 5 ? "Media" : subtype == 6 ? "FvFile" : "Fv";
          return std::string(name) + "(" + *g + ")";
        }
        case 8: {
          auto reserved = r.u32("Reserved");
          auto start = r.u64("StartingOffset");
          auto end = r.u64("EndingOffset");
          if (!reserved || !start || !end) return std::nullopt;
          std::snprintf(buf, sizeof buf, "Offset(0x%llx,0x%llx)",
                        static_cast<unsigned long long>(*start),
                        static_cast<unsigned long long>(*end));
          return buf;
        }
        default:
          break;
      }
      break;
    default:
      break;
  }
  return std::nullopt;
}

PathNodes device_path_nodes(ByteView path) {
  PathNodes out;
  size_t pos = 0;
  while (pos < path.size()) {
    if (path.size() - pos < 4) {
      out.truncated = true;
      out.problem_offset = pos;
      out.problem = std::to_string(path.size() - pos) + " bytes left, too few for a node header";
      break;
    }
    uint8_t type = path[pos];
    uint8_t subtype = path[pos + 1];
    size_t length = path[pos + 2] | (path[pos + 3] << 8);
    // A length below the header size would never advance; one past the end cannot be read.
    if (length < 4 || length > path.size() - pos) {
      out.truncated = true;
      out.problem_offset = pos;
      out.problem = "node length " + std::to_string(length) +
                    (length < 4 ? " is below the 4-byte header"
                                : " runs past the end (" + std::to_string(path.size() - pos) +
                                      " bytes left)");
      break;
    }
    ByteView body = path.subspan(pos + 4, length - 4);
    pos += length;
    if (type == 0x7F && subtype == 0xFF) break;  // end of the whole path
    if (type == 0x7F && subtype == 0x01) {       // end of this instance, another follows
      out.nodes.push_back(",");
      continue;
    }
    auto text = node_text(type, subtype, body, pos - length + 4);
    if (!text)
      text = "Path(" + std::to_string(type) + "," + std::to_string(subtype) + "," +
             hex_encode(body) + ")";
    out.nodes.push_back(std::move(*text));
  }
  return out;
}

std::string join_nodes(const PathNodes& p) {
  std::string s;
  bool after_separator = true;
  for (const auto& n : p.nodes) {
    if (n == ",") {
      s += ",";
      after_separator = true;
      continue;
    }
    if (!after_separator) s += "/";
    s += n;
    after_separator = false;
  }
  if (p.truncated) s += after_separator ? "<truncated>" : "/<truncated>";
  return s;
}

// Puts the text and the node list; a node that cannot be read is an error at its offset (`base` is
// the path's offset in the event data).
Status put_device_path(ByteView path, size_t base, std::string_view field, Json& d) {
  PathNodes p = device_path_nodes(path);
  d["device_path"] = join_nodes(p);
  Json nodes = Json::array();
  for (const auto& n : p.nodes) nodes.push_back(n);
  if (p.truncated) nodes.push_back("<truncated>");
  d["device_paths"] = std::move(nodes);
  if (!p.truncated) return {};
  return make_error(Errc::parse, std::string(field) + " at offset " +
                                     std::to_string(base + p.problem_offset) + ": " + p.problem);
}

// ---- digest rules ----

// The bytes a type's digest covers, when they are inside the event data.
struct HashInput {
  ByteView data;
  bool nul_terminator = false;  // RHEL grub hashes "X\0"
};

DigestCheck check_digests(const Event& e, const HashInput& in) {
  size_t checked = 0;
  bool all_match = true;
  for (const auto& d : e.digests) {
    auto alg = hash_for_tpm_alg(d.alg);
    if (!alg || !hash_available(*alg)) continue;
    auto hasher = Hasher::create(*alg);
    if (!hasher) continue;
    hasher->update(in.data);
    static constexpr uint8_t kNul[1] = {0};
    if (in.nul_terminator) hasher->update(ByteView(kNul, 1));
    Bytes got = hasher->finish();
    ++checked;
    if (!std::equal(got.begin(), got.end(), d.value.begin(), d.value.end())) all_match = false;
  }
  if (checked == 0) return DigestCheck::not_applicable;
  return all_match ? DigestCheck::match : DigestCheck::mismatch;
}

using Rule = std::optional<HashInput>;

// ---- per-type decoders; each fills `d` and returns the first structural error ----

Status decode_spec_id(ByteView data, Json& d) {
  ByteReader r(data);
  ACON_TRY(ByteView sig, r.bytes(16, "SpecID.signature"));
  d["kind"] = "spec_id";
  d["signature"] = sanitize_utf8(as_chars(sig).substr(0, as_chars(sig).find('\0')));
  ACON_TRY(uint32_t platform_class, r.u32("SpecID.platformClass"));
  d["platform_class"] = platform_class;
  ACON_TRY(uint8_t minor, r.u8("SpecID.specVersionMinor"));
  ACON_TRY(uint8_t major, r.u8("SpecID.specVersionMajor"));
  d["spec_version_minor"] = minor;
  d["spec_version_major"] = major;
  ACON_TRY(uint8_t errata, r.u8("SpecID.specErrata"));
  d["spec_errata"] = errata;
  ACON_TRY(uint8_t uintn, r.u8("SpecID.uintnSize"));
  d["uintn_size"] = uintn;
  ACON_TRY(uint32_t count, r.u32("SpecID.numberOfAlgorithms"));
  d["number_of_algorithms"] = count;
  if (count > r.remaining() / 4)
    return r.invalid("SpecID.numberOfAlgorithms",
                     std::to_string(count) + " entries do not fit in the " +
                         std::to_string(r.remaining()) + " bytes left");
  Json algs = Json::array();
  for (uint32_t i = 0; i < count; ++i) {
    ACON_TRY(uint16_t id, r.u16("SpecID.digestSizes.algorithmId"));
    ACON_TRY(uint16_t size, r.u16("SpecID.digestSizes.digestSize"));
    algs.push_back({{"algorithm_id", id}, {"algorithm", tpm_alg_name(id)}, {"digest_size", size}});
  }
  d["algorithms"] = std::move(algs);
  ACON_TRY(uint8_t vendor_size, r.u8("SpecID.vendorInfoSize"));
  d["vendor_info_size"] = vendor_size;
  ACON_TRY(ByteView vendor, r.bytes(vendor_size, "SpecID.vendorInfo"));
  if (auto t = decode_text(vendor); t && !vendor.empty()) d["vendor_info"] = t->text;
  d["vendor_info_hex"] = hex_encode(vendor);
  if (!r.empty())
    return r.invalid("SpecID", std::to_string(r.remaining()) + " bytes after vendorInfo");
  return {};
}

// TCG_Sp800_155_PlatformId_Event3 (PFP 1.06 §10.4.5.2): a reference-manifest pointer that
// firmware logs but never extends.
Status decode_sp800_155(ByteView data, Json& d) {
  ByteReader r(data);
  d["kind"] = "sp800_155_platform_id";
  ACON_CHECK(r.skip(16, "Sp800_155.signature"));
  d["signature"] = "SP800-155 Event3";
  ACON_TRY(uint32_t manufacturer_id, r.u32("Sp800_155.platformManufacturerId"));
  d["platform_manufacturer_id"] = manufacturer_id;
  ACON_TRY(ByteView manifest, r.bytes(kGuidSize, "Sp800_155.referenceManifestGuid"));
  d["reference_manifest_guid"] = guid_to_text(manifest);
  auto sized_string = [&](std::string_view field, const char* key) -> Status {
    ACON_TRY(uint8_t n, r.u8(field));
    ACON_TRY(ByteView s, r.bytes(n, field));
    auto t = decode_text(s);
    d[key] = t ? t->text : hex_encode(s);
    return {};
  };
  ACON_CHECK(sized_string("Sp800_155.platformManufacturerStr", "platform_manufacturer"));
  ACON_CHECK(sized_string("Sp800_155.platformModel", "platform_model"));
  ACON_CHECK(sized_string("Sp800_155.platformVersion", "platform_version"));
  ACON_CHECK(sized_string("Sp800_155.firmwareManufacturerStr", "firmware_manufacturer"));
  ACON_TRY(uint32_t fw_manufacturer_id, r.u32("Sp800_155.firmwareManufacturerId"));
  d["firmware_manufacturer_id"] = fw_manufacturer_id;
  ACON_CHECK(sized_string("Sp800_155.firmwareVersion", "firmware_version"));
  auto locator = [&](std::string_view field, const std::string& key) -> Status {
    ACON_TRY(uint32_t type, r.u32(std::string(field) + "Type"));
    ACON_TRY(uint32_t length, r.u32(std::string(field) + "Length"));
    ACON_TRY(ByteView value, r.bytes(length, field));
    Json loc = {{"type", type}};
    // Locator types (PFP 1.06 Table 12): 0 raw data, 1 URI, 2 device path, 3 UEFI variable.
    if (type == 1) {
      loc["uri"] = sanitize_utf8(as_chars(value).substr(0, as_chars(value).find('\0')));
    } else if (type == 2) {
      loc["device_path"] = device_path_to_text(value);
    } else if (type == 3 && value.size() >= kGuidSize) {
      loc["variable_guid"] = guid_to_text(value.first(kGuidSize));
      loc["variable_name"] = utf16le_to_utf8(value.subspan(kGuidSize));
    } else {
      loc["hex"] = hex_encode(value);
    }
    d[key] = std::move(loc);
    return {};
  };
  ACON_CHECK(locator("Sp800_155.rimLocator", "rim_locator"));
  ACON_CHECK(locator("Sp800_155.platformCertLocator", "platform_cert_locator"));
  if (!r.empty() && !all_zero(r.rest())) d["trailing_hex"] = hex_encode(r.rest());
  return {};
}

Status decode_no_action(const Event& e, Json& d) {
  ByteView data = e.data;
  auto signature_is = [&](std::string_view sig) {
    return data.size() >= sig.size() && as_chars(data.first(sig.size())) == sig;
  };
  if (signature_is(std::string_view("Spec ID Event03\0", 16)) ||
      (e.number == 0 && data.size() >= 16 && all_zero(data.first(16))))
    return decode_spec_id(data, d);
  if (signature_is(std::string_view("StartupLocality\0", 16))) {
    ByteReader r(data);
    d["kind"] = "startup_locality";
    ACON_CHECK(r.skip(16, "StartupLocality.signature"));
    ACON_TRY(uint8_t locality, r.u8("StartupLocality.locality"));
    d["locality"] = locality;
    return {};
  }
  if (signature_is("SP800-155 Event3")) return decode_sp800_155(data, d);
  d["hex"] = hex_encode(data);
  return {};
}

// UEFI_PLATFORM_FIRMWARE_BLOB{base, length}.
Status decode_blob(ByteReader& r, Json& d) {
  ACON_TRY(uint64_t base, r.u64("BlobBase"));
  ACON_TRY(uint64_t length, r.u64("BlobLength"));
  d["blob_base"] = hex_literal(base);
  d["blob_length"] = length;
  return {};
}

Status decode_blob2(ByteView data, Json& d) {
  ByteReader r(data);
  ACON_TRY(uint8_t n, r.u8("BlobDescriptionSize"));
  ACON_TRY(ByteView desc, r.bytes(n, "BlobDescription"));
  auto t = decode_text(desc);
  d["description"] = t ? t->text : sanitize_utf8(desc);
  return decode_blob(r, d);
}

// UEFI_HANDOFF_TABLE_POINTERS[2]: count, then {VendorGuid, VendorTable} pairs.
Status decode_handoff_tables(ByteView data, bool with_description, Json& d) {
  ByteReader r(data);
  if (with_description) {
    ACON_TRY(uint8_t n, r.u8("TableDescriptionSize"));
    ACON_TRY(ByteView desc, r.bytes(n, "TableDescription"));
    auto t = decode_text(desc);
    d["description"] = t ? t->text : sanitize_utf8(desc);
  }
  ACON_TRY(uint64_t count, r.u64("NumberOfTables"));
  d["number_of_tables"] = count;
  if (count > r.remaining() / (kGuidSize + 8))
    return r.invalid("NumberOfTables", std::to_string(count) + " tables do not fit in the " +
                                           std::to_string(r.remaining()) + " bytes left");
  Json tables = Json::array();
  for (uint64_t i = 0; i < count; ++i) {
    ACON_TRY(ByteView guid, r.bytes(kGuidSize, "TableEntry.VendorGuid"));
    ACON_TRY(uint64_t ptr, r.u64("TableEntry.VendorTable"));
    tables.push_back({{"vendor_guid", guid_to_text(guid)}, {"vendor_table", hex_literal(ptr)}});
  }
  d["tables"] = std::move(tables);
  return {};
}

// td-shim's TdShimPlatformConfigInfoHeader: char descriptor[16] (NUL padded), u32 info_length,
// then the info (TD HOB, or the payload command line).
bool decode_td_shim_config(ByteView data, Json& d) {
  if (data.size() < 20) return false;
  ByteView descriptor = data.first(16);
  auto nul = std::find(descriptor.begin(), descriptor.end(), uint8_t{0});
  size_t n = static_cast<size_t>(nul - descriptor.begin());
  if (n == 0 || n == 16 || !all_zero(descriptor.subspan(n))) return false;
  if (!is_printable_utf8(as_chars(descriptor.first(n)))) return false;
  uint32_t info_length =
      data[16] | (data[17] << 8) | (data[18] << 16) | (static_cast<uint32_t>(data[19]) << 24);
  if (info_length != data.size() - 20) return false;
  ByteView info = data.subspan(20);
  d["descriptor"] = std::string(as_chars(descriptor.first(n)));
  d["info_length"] = info_length;
  if (auto t = decode_text(info); t && !t->text.empty() && all_zero(t->trailing)) {
    d["info_string"] = t->text;
  } else {
    d["info_hex"] = hex_encode(info);
  }
  return true;
}

// EFI_SIGNATURE_LIST sequence (PK, KEK, db, dbx, ...).
Status decode_signature_lists(ByteView data, size_t base, Json& d) {
  ByteReader r(data, base);
  Json lists = Json::array();
  while (!r.empty()) {
    size_t list_start = r.pos();
    ACON_TRY(ByteView type, r.bytes(kGuidSize, "EFI_SIGNATURE_LIST.SignatureType"));
    ACON_TRY(uint32_t list_size, r.u32("EFI_SIGNATURE_LIST.SignatureListSize"));
    ACON_TRY(uint32_t header_size, r.u32("EFI_SIGNATURE_LIST.SignatureHeaderSize"));
    ACON_TRY(uint32_t sig_size, r.u32("EFI_SIGNATURE_LIST.SignatureSize"));
    size_t available = data.size() - list_start;
    if (list_size < kSignatureListHeader || list_size > available ||
        header_size > list_size - kSignatureListHeader || sig_size < kGuidSize ||
        (list_size - kSignatureListHeader - header_size) % sig_size != 0)
      return r.invalid("EFI_SIGNATURE_LIST.SignatureListSize",
                       "list " + std::to_string(list_size) + ", header " +
                           std::to_string(header_size) + ", signature " + std::to_string(sig_size) +
                           " bytes is inconsistent (" + std::to_string(available) + " bytes left)");
    std::string type_text = guid_to_text(type);
    std::string type_name = type_text;
    if (type_text == "a5c059a1-94e4-4aa7-87b5-ab155c2bf072") type_name = "x509";
    if (type_text == "c1c41626-504c-4092-aca9-41f936934328") type_name = "sha256";
    if (type_text == "826ca512-cf10-4ac9-b187-be01496631bd") type_name = "sha1";
    if (type_text == "3c5766e8-269c-4e34-aa14-ed776e85b3b6") type_name = "rsa2048";
    size_t count = (list_size - kSignatureListHeader - header_size) / sig_size;
    std::vector<std::string> owners;  // distinct, in order of appearance
    ACON_CHECK(r.skip(header_size, "EFI_SIGNATURE_LIST.SignatureHeader"));
    for (size_t i = 0; i < count; ++i) {
      ACON_TRY(ByteView owner, r.bytes(kGuidSize, "EFI_SIGNATURE_DATA.SignatureOwner"));
      ACON_CHECK(r.skip(sig_size - kGuidSize, "EFI_SIGNATURE_DATA.SignatureData"));
      std::string o = guid_to_text(owner);
      if (std::find(owners.begin(), owners.end(), o) == owners.end()) owners.push_back(o);
    }
    lists.push_back({{"signature_type", type_name},
                     {"signature_count", count},
                     {"signature_size", sig_size},
                     {"owners", std::move(owners)}});
  }
  d["signature_lists"] = std::move(lists);
  return {};
}

bool is_load_option_name(std::string_view name) {
  for (std::string_view prefix : {"Boot", "Driver", "SysPrep", "PlatformRecovery"}) {
    if (name.size() != prefix.size() + 4 || !name.starts_with(prefix)) continue;
    return std::all_of(name.begin() + static_cast<long>(prefix.size()), name.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); });
  }
  return false;
}

// EFI_LOAD_OPTION: u32 Attributes, u16 FilePathListLength, CHAR16 Description[] (NUL-terminated),
// FilePathList, OptionalData.
Status decode_load_option(ByteView data, size_t base, Json& d) {
  ByteReader r(data, base);
  Json opt = Json::object();
  auto finish = [&](Status st) {
    d["load_option"] = std::move(opt);
    return st;
  };
  auto attributes = r.u32("EFI_LOAD_OPTION.Attributes");
  if (!attributes) return finish(attributes.error());
  opt["attributes"] = *attributes;
  opt["active"] = (*attributes & 1) != 0;
  auto path_length = r.u16("EFI_LOAD_OPTION.FilePathListLength");
  if (!path_length) return finish(path_length.error());
  opt["file_path_list_length"] = *path_length;
  ByteView rest = r.rest();
  size_t units = 0;
  while (2 * units + 1 < rest.size() && (rest[2 * units] | rest[2 * units + 1]) != 0) ++units;
  if (2 * units + 1 >= rest.size())
    return finish(r.invalid("EFI_LOAD_OPTION.Description", "no NUL terminator"));
  opt["description"] = utf16le_to_utf8(rest.first(2 * units));
  (void)r.skip(2 * units + 2, "EFI_LOAD_OPTION.Description");
  size_t path_offset = r.offset();
  auto path = r.bytes(*path_length, "EFI_LOAD_OPTION.FilePathList");
  if (!path) return finish(path.error());
  if (!r.empty()) opt["optional_data_hex"] = hex_encode(r.rest());
  return finish(put_device_path(*path, path_offset, "EFI_LOAD_OPTION.FilePathList", opt));
}

// UEFI_VARIABLE_DATA; `rule` receives VariableData for the types whose digest covers only it.
Status decode_variable(uint32_t type, ByteView data, Json& d, Rule& rule) {
  // edk2 MeasureVariable hashes VariableData alone for every type but DRIVER_CONFIG (and
  // AUTHORITY, which DxeImageVerificationLib and shim hash whole).
  bool digest_is_variable_data = type == ev::kEfiVariableBoot || type == ev::kEfiVariableBoot2;
  ByteReader r(data);
  ACON_TRY(ByteView guid, r.bytes(kGuidSize, "UEFI_VARIABLE_DATA.VariableName"));
  std::string vendor = guid_to_text(guid);
  d["variable_name"] = vendor;
  ACON_TRY(uint64_t name_length, r.u64("UEFI_VARIABLE_DATA.UnicodeNameLength"));
  ACON_TRY(uint64_t data_length, r.u64("UEFI_VARIABLE_DATA.VariableDataLength"));
  d["unicode_name_length"] = name_length;
  d["variable_data_length"] = data_length;
  if (name_length > r.remaining() / 2)
    return r.invalid("UEFI_VARIABLE_DATA.UnicodeName",
                     std::to_string(name_length) + " UTF-16 characters do not fit in the " +
                         std::to_string(r.remaining()) + " bytes left");
  ACON_TRY(ByteView name_bytes,
           r.bytes(static_cast<size_t>(name_length) * 2, "UEFI_VARIABLE_DATA.UnicodeName"));
  std::string name = utf16le_to_utf8(name_bytes);
  d["unicode_name"] = name;
  if (data_length > r.remaining())
    return r.invalid("UEFI_VARIABLE_DATA.VariableData",
                     std::to_string(data_length) + " bytes do not fit in the " +
                         std::to_string(r.remaining()) + " bytes left");
  size_t value_offset = r.offset();
  ACON_TRY(ByteView value,
           r.bytes(static_cast<size_t>(data_length), "UEFI_VARIABLE_DATA.VariableData"));
  if (digest_is_variable_data) rule = HashInput{value};
  d["variable_data"] = base64_encode(value);
  d["variable_data_hex"] = hex_encode(value);
  if (!value.empty() && is_printable_utf8(as_chars(value)))
    d["variable_data_text"] = to_string(value);
  if (!r.empty()) d["trailing_hex"] = hex_encode(r.rest());

  if (vendor == kEfiGlobalVariable && name == "BootOrder") {
    if (value.size() % 2 != 0)
      return r.invalid("BootOrder", "odd length " + std::to_string(value.size()));
    Json order = Json::array();
    for (size_t i = 0; i + 1 < value.size(); i += 2) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "Boot%04X", value[i] | (value[i + 1] << 8));
      order.push_back(buf);
    }
    d["boot_order"] = std::move(order);
  } else if (vendor == kEfiGlobalVariable && is_load_option_name(name)) {
    ACON_CHECK(decode_load_option(value, value_offset, d));
  } else if (vendor == kEfiGlobalVariable && name == "SecureBoot" && value.size() == 1) {
    d["secure_boot"] = value[0] == 1;
  } else if (type == ev::kEfiVariableAuthority) {
    // The one EFI_SIGNATURE_DATA {owner, certificate} that authorised an image (db entry, shim's
    // MokListRT); shim's SbatLevel is plain text instead.
    if (value.size() > kGuidSize && !d.contains("variable_data_text")) {
      d["signature_owner"] = guid_to_text(value.first(kGuidSize));
      d["signature_data_length"] = value.size() - kGuidSize;
    }
  } else if ((vendor == kEfiGlobalVariable && (name == "PK" || name == "KEK")) ||
             (vendor == kImageSecurityDatabase &&
              (name == "db" || name == "dbx" || name == "dbt" || name == "dbr"))) {
    ACON_CHECK(decode_signature_lists(value, value_offset, d));
  }
  return {};
}

// UEFI_IMAGE_LOAD_EVENT.
Status decode_image_load(ByteView data, Json& d) {
  ByteReader r(data);
  ACON_TRY(uint64_t location, r.u64("UEFI_IMAGE_LOAD_EVENT.ImageLocationInMemory"));
  d["image_location"] = hex_literal(location);
  ACON_TRY(uint64_t length, r.u64("UEFI_IMAGE_LOAD_EVENT.ImageLengthInMemory"));
  d["image_length"] = length;
  ACON_TRY(uint64_t link, r.u64("UEFI_IMAGE_LOAD_EVENT.ImageLinkTimeAddress"));
  d["image_link_time_address"] = hex_literal(link);
  ACON_TRY(uint64_t path_length, r.u64("UEFI_IMAGE_LOAD_EVENT.LengthOfDevicePath"));
  d["device_path_length"] = path_length;
  if (path_length > r.remaining())
    return r.invalid("UEFI_IMAGE_LOAD_EVENT.DevicePath",
                     std::to_string(path_length) + " bytes do not fit in the " +
                         std::to_string(r.remaining()) + " bytes left");
  size_t path_offset = r.offset();
  ACON_TRY(ByteView path,
           r.bytes(static_cast<size_t>(path_length), "UEFI_IMAGE_LOAD_EVENT.DevicePath"));
  if (!r.empty()) d["trailing_hex"] = hex_encode(r.rest());
  return put_device_path(path, path_offset, "UEFI_IMAGE_LOAD_EVENT.DevicePath", d);
}

// UEFI_GPT_DATA: the 92-byte EFI_PARTITION_TABLE_HEADER, a u64 count, then the entries.
Status decode_gpt(ByteView data, Json& d) {
  ByteReader r(data);
  ACON_TRY(ByteView signature, r.bytes(8, "GPT.Header.Signature"));
  d["signature"] = sanitize_utf8(signature);
  ACON_TRY(uint32_t revision, r.u32("GPT.Header.Revision"));
  d["revision"] = hex_literal(revision, 8);
  ACON_TRY(uint32_t header_size, r.u32("GPT.Header.HeaderSize"));
  d["header_size"] = header_size;
  ACON_CHECK(r.skip(8, "GPT.Header.HeaderCRC32+Reserved"));
  ACON_TRY(uint64_t my_lba, r.u64("GPT.Header.MyLBA"));
  ACON_TRY(uint64_t alternate_lba, r.u64("GPT.Header.AlternateLBA"));
  ACON_TRY(uint64_t first_usable, r.u64("GPT.Header.FirstUsableLBA"));
  ACON_TRY(uint64_t last_usable, r.u64("GPT.Header.LastUsableLBA"));
  d["my_lba"] = my_lba;
  d["alternate_lba"] = alternate_lba;
  d["first_usable_lba"] = first_usable;
  d["last_usable_lba"] = last_usable;
  ACON_TRY(ByteView disk_guid, r.bytes(kGuidSize, "GPT.Header.DiskGUID"));
  d["disk_guid"] = guid_to_text(disk_guid);
  ACON_TRY(uint64_t entry_lba, r.u64("GPT.Header.PartitionEntryLBA"));
  d["partition_entry_lba"] = entry_lba;
  ACON_TRY(uint32_t entries, r.u32("GPT.Header.NumberOfPartitionEntries"));
  d["number_of_partition_entries"] = entries;
  ACON_TRY(uint32_t entry_size, r.u32("GPT.Header.SizeOfPartitionEntry"));
  d["size_of_partition_entry"] = entry_size;
  ACON_CHECK(r.skip(4, "GPT.Header.PartitionEntryArrayCRC32"));
  ACON_TRY(uint64_t count, r.u64("GPT.NumberOfPartitions"));
  d["number_of_partitions"] = count;
  if (count == 0) return {};
  if (entry_size < kGptEntryMinSize)
    return r.invalid("GPT.Header.SizeOfPartitionEntry",
                     std::to_string(entry_size) + " is below " + std::to_string(kGptEntryMinSize));
  if (count > r.remaining() / entry_size)
    return r.invalid("GPT.NumberOfPartitions", std::to_string(count) + " entries of " +
                                                   std::to_string(entry_size) +
                                                   " bytes do not fit in the " +
                                                   std::to_string(r.remaining()) + " bytes left");
  Json parts = Json::array();
  for (uint64_t i = 0; i < count; ++i) {
    ACON_TRY(ByteView entry, r.bytes(entry_size, "GPT.Partition"));
    ByteReader e(entry, r.offset() - entry_size);
    ByteView type = *e.bytes(kGuidSize, "PartitionTypeGUID");
    ByteView unique = *e.bytes(kGuidSize, "UniquePartitionGUID");
    uint64_t start = *e.u64("StartingLBA");
    uint64_t end = *e.u64("EndingLBA");
    uint64_t attributes = *e.u64("Attributes");
    ByteView name = *e.bytes(72, "PartitionName");
    parts.push_back({{"partition_type_guid", guid_to_text(type)},
                     {"unique_partition_guid", guid_to_text(unique)},
                     {"starting_lba", start},
                     {"ending_lba", end},
                     {"attributes", hex_literal(attributes)},
                     {"name", utf16le_to_utf8(name)}});
  }
  d["partitions"] = std::move(parts);
  return {};
}

// AAEL text "<domain> <operation> <content>"; content becomes JSON when it parses as JSON.
Status decode_aael_text(ByteView text, size_t base, Json& d) {
  std::string_view s = as_chars(text);
  size_t first = s.find(' ');
  if (first == std::string_view::npos)
    return make_error(Errc::parse, "AAEL.text at offset " + std::to_string(base) +
                                       ": no space between domain and operation");
  std::string_view domain = s.substr(0, first);
  std::string_view rest = s.substr(first + 1);
  size_t second = rest.find(' ');
  std::string_view operation = rest.substr(0, second);
  std::string_view content = second == std::string_view::npos ? "" : rest.substr(second + 1);
  Json aael = {{"domain", sanitize_utf8(domain)}, {"operation", sanitize_utf8(operation)}};
  aael["content"] = sanitize_utf8(content);
  if (!content.empty()) {
    if (auto parsed = parse_json(content)) aael["content"] = std::move(*parsed);
  }
  d["aael"] = std::move(aael);
  return {};
}

// TCG_PCClientTaggedEvent {u32 taggedEventID, u32 taggedEventDataSize, data}.
Status decode_tagged_event(ByteView data, Json& d, Rule& rule) {
  ByteReader r(data);
  ACON_TRY(uint32_t id, r.u32("TaggedEvent.taggedEventID"));
  d["tagged_event_id"] = hex_literal(id, 8);
  if (id == kTagAael) {
    d["tag_name"] = "AAEL";
    // The CoCo AA extends H(whole tagged event), whatever its inner size field says.
    rule = HashInput{data};
  } else if (id == kTagLinuxLoadOptions) {
    d["tag_name"] = "LOADED_IMAGE::LoadOptions";
  } else if (id == kTagLinuxInitrd) {
    d["tag_name"] = "Linux initrd";
  }
  ACON_TRY(uint32_t size, r.u32("TaggedEvent.taggedEventDataSize"));
  d["tagged_event_data_size"] = size;
  if (size > r.remaining())
    return r.invalid("TaggedEvent.taggedEventData",
                     std::to_string(size) + " bytes do not fit in the " +
                         std::to_string(r.remaining()) + " bytes left");
  size_t base = r.offset();
  ACON_TRY(ByteView payload, r.bytes(size, "TaggedEvent.taggedEventData"));
  if (!r.empty()) d["trailing_hex"] = hex_encode(r.rest());
  if (id == kTagAael) {
    d["string"] = sanitize_utf8(payload);
    return decode_aael_text(payload, base, d);
  }
  put_text_or_hex(payload, d);
  return {};
}

// EV_IPL: grub logs commands and the kernel command line, shim logs MOK variable names, GCE logs
// UKI section names in UTF-16. Only grub's strings are hashed from the data itself:
//   "grub_cmd: X", "kernel_cmdline: X" (upstream grub)   digest = H(X)
//   "grub_cmd X"  (RHEL/Anolis grub, X is followed by NUL) digest = H(X || NUL)
//   "grub_kernel_cmdline X" (RHEL/Anolis grub)            digest = H(X)
// (every such event in the real logs of tests/data/eventlog matches its rule).
void decode_ipl(ByteView data, Json& d, Rule& rule) {
  auto t = decode_text(data);
  if (!t) {
    d["hex"] = hex_encode(data);
    return;
  }
  d["string"] = t->text;
  if (!all_zero(t->trailing)) d["trailing_hex"] = hex_encode(t->trailing);
  if (t->utf16) return;
  std::string_view s = t->text;
  struct Form {
    std::string_view prefix;
    const char* key;
    bool nul;
  };
  static constexpr Form kForms[] = {
      {"grub_cmd: ", "grub_cmd", false},
      {"kernel_cmdline: ", "kernel_cmdline", false},
      {"grub_kernel_cmdline ", "kernel_cmdline", false},
      {"grub_cmd ", "grub_cmd", true},
  };
  for (const auto& f : kForms) {
    if (!s.starts_with(f.prefix)) continue;
    d[f.key] = std::string(s.substr(f.prefix.size()));
    rule = HashInput{data.subspan(f.prefix.size(), t->text_end - f.prefix.size()), f.nul};
    return;
  }
  if (s.starts_with("grub_linuxefi ")) {
    d["grub_linuxefi"] = std::string(s.substr(14));  // digest covers the loaded file
  } else if (s.starts_with("Mok") || s == "SbatLevel") {
    d["shim_variable"] = std::string(s);
  } else if (s.starts_with("(") || s.starts_with("/")) {
    d["grub_file"] = std::string(s);  // digest covers the file's contents
  }
}

Status decode_into(const Event& e, Json& d, Rule& rule) {
  ByteView data = e.data;
  switch (e.type) {
    case ev::kNoAction:
      return decode_no_action(e, d);
    case ev::kSeparator:
      rule = HashInput{data};
      d["value"] = hex_encode(data);
      return {};
    case ev::kPostCode:
      if (auto t = decode_text(data); t && !t->text.empty()) {
        put_text_or_hex(data, d);
        return {};
      }
      if (data.size() == 16) {
        ByteReader r(data);
        return decode_blob(r, d);
      }
      d["hex"] = hex_encode(data);
      return {};
    case ev::kPlatformConfigFlags:
      if (decode_td_shim_config(data, d)) return {};
      put_text_or_hex(data, d);
      return {};
    case ev::kEfiAction:
      rule = HashInput{data};
      put_text_or_hex(data, d);
      return {};
    case ev::kAction:
    case ev::kSCrtmContents:
    case ev::kSCrtmVersion:
    case ev::kCompactHash:
    case ev::kOmitBootDeviceEvents:
    case ev::kEfiHcrtmEvent:
      put_text_or_hex(data, d);
      return {};
    case ev::kIpl:
      decode_ipl(data, d, rule);
      return {};
    case ev::kEventTag:
      return decode_tagged_event(data, d, rule);
    case ev::kEfiPlatformFirmwareBlob: {
      ByteReader r(data);
      return decode_blob(r, d);
    }
    case ev::kEfiPlatformFirmwareBlob2:
      return decode_blob2(data, d);
    case ev::kEfiHandoffTables:
      return decode_handoff_tables(data, false, d);
    case ev::kEfiHandoffTables2:
      return decode_handoff_tables(data, true, d);
    case ev::kEfiVariableDriverConfig:
    case ev::kEfiVariableAuthority:
      rule = HashInput{data};
      return decode_variable(e.type, data, d, rule);
    case ev::kEfiVariableBoot:
    case ev::kEfiVariableBoot2:
      return decode_variable(e.type, data, d, rule);
    case ev::kEfiBootServicesApplication:
    case ev::kEfiBootServicesDriver:
    case ev::kEfiRuntimeServicesDriver:
      return decode_image_load(data, d);
    case ev::kEfiGptEvent:
      rule = HashInput{data};
      return decode_gpt(data, d);
    default:
      d["hex"] = hex_encode(data);
      return {};
  }
}

}  // namespace

DecodedEvent decode_event(const Event& event) {
  DecodedEvent out;
  out.details = Json::object();
  Rule rule;
  if (Status st = decode_into(event, out.details, rule); !st) {
    out.details["error"] = st.error().message;
    if (!out.details.contains("hex")) out.details["hex"] = hex_encode(event.data);
  }
  if (rule) out.digest_check = check_digests(event, *rule);
  return out;
}

std::string device_path_to_text(ByteView path) { return join_nodes(device_path_nodes(path)); }

std::string guid_to_text(ByteView guid16) {
  if (guid16.size() != kGuidSize) return {};
  return guid_text(guid16, HexCase::lower);
}

std::string guid_text(ByteView g, HexCase hex_case) {
  static constexpr char kLower[] = "0123456789abcdef";
  static constexpr char kUpper[] = "0123456789ABCDEF";
  const char* digits = hex_case == HexCase::upper ? kUpper : kLower;
  // Data1 (u32), Data2 (u16), Data3 (u16) are little-endian; Data4 is 8 bytes in order.
  static constexpr int kOrder[] = {3,  2, 1, 0,  -1, 5,  4,  -1, 7,  6,
                                   -1, 8, 9, -1, 10, 11, 12, 13, 14, 15};
  std::string out;
  out.reserve(36);
  for (int i : kOrder) {
    if (i < 0) {
      out.push_back('-');
      continue;
    }
    out.push_back(digits[g[static_cast<size_t>(i)] >> 4]);
    out.push_back(digits[g[static_cast<size_t>(i)] & 0xF]);
  }
  return out;
}

std::string eisa_id(uint32_t id) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%c%c%c%04X", static_cast<char>(((id >> 10) & 0x1F) + 'A' - 1),
                static_cast<char>(((id >> 5) & 0x1F) + 'A' - 1),
                static_cast<char>((id & 0x1F) + 'A' - 1), id >> 16);
  return buf;
}

}  // namespace acon::eventlog
