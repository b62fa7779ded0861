// Mirrors tpm2-tools 5.4 lib/tpm2_eventlog_yaml.c (eventlog version 1), function by function.
#include "acon/eventlog/yaml.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <map>

#include "acon/common/reader.h"
#include "acon/common/utf8.h"
#include "acon/eventlog/decode.h"

namespace acon::eventlog {
namespace {

// tpm2-tools' EVENT_BUF_MAX: a raw event is printed through a buffer of 2 * 1024 + 1 chars.
constexpr size_t kMaxRawHexBytes = 1024;
constexpr size_t kVariableDataHeader = 32;  // UEFI_VARIABLE_DATA up to UnicodeName
constexpr size_t kImageLoadHeader = 32;     // UEFI_IMAGE_LOAD_EVENT up to DevicePath
constexpr size_t kFirmwareBlob = 16;        // UEFI_PLATFORM_FIRMWARE_BLOB

// `bytes` up to its first NUL, as printf("%.*s") prints it.
std::string_view c_text(ByteView bytes) {
  std::string_view s = as_chars(bytes);
  return s.substr(0, s.find('\0'));
}

// A `|-` block body: the text up to its first NUL, every line indented by `indent`.
void text_block(std::string& out, std::string_view text, std::string_view indent) {
  size_t start = 0;
  while (true) {
    size_t nl = text.find('\n', start);
    out += indent;
    out += text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    out += '\n';
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
}

void raw_hex(std::string& out, ByteView data, const Tpm2YamlOptions& options) {
  if (options.truncate_hex && data.size() > kMaxRawHexBytes) data = data.first(kMaxRawHexBytes);
  out += "  Event: \"" + hex_encode(data) + "\"\n";
}

// yaml_uefi_var (version 1): the fixed fields, the name, and the data as hex.
bool uefi_variable(std::string& out, ByteView d) {
  if (d.size() < kVariableDataHeader) return false;
  uint64_t name_len = load_le(d.subspan(16, 8));
  uint64_t data_len = load_le(d.subspan(24, 8));
  size_t room = d.size() - kVariableDataHeader;
  if (name_len > room / 2 || data_len > room - 2 * name_len) return false;
  out += "  Event:\n    VariableName: " + guid_to_text(d.first(16)) + "\n";
  out += "    UnicodeNameLength: " + std::to_string(name_len) + "\n";
  out += "    VariableDataLength: " + std::to_string(data_len) + "\n";
  out += "    UnicodeName: " + utf16le_to_utf8(d.subspan(kVariableDataHeader, 2 * name_len)) + "\n";
  if (data_len > 0) {
    out += "    VariableData: \"" +
           hex_encode(d.subspan(kVariableDataHeader + 2 * name_len, data_len)) + "\"\n";
  }
  return true;
}

void firmware_blob_fields(std::string& out, ByteView blob) {
  out += "    BlobBase: " + hex_literal(load_le(blob.subspan(0, 8))) + "\n";
  out += "    BlobLength: " + hex_literal(load_le(blob.subspan(8, 8))) + "\n";
}

// yaml_uefi_platfwblob2. tpm2-tools converts the description through a buffer one byte too
// short, so its last byte (normally the NUL) is never printed.
bool firmware_blob2(std::string& out, ByteView d) {
  if (d.empty()) return false;
  size_t desc = d[0];
  if (d.size() < 1 + desc + kFirmwareBlob) return false;
  out += "  Event:\n    BlobDescriptionSize: " + std::to_string(desc) + "\n";
  out += "    BlobDescription: \"" + hex_encode(d.subspan(1, desc == 0 ? 0 : desc - 1)) + "\"\n";
  firmware_blob_fields(out, d.subspan(1 + desc, kFirmwareBlob));
  return true;
}

// yaml_split_escape_string (5.4): one double-quoted line per '\n'-separated piece.
void ipl_lines(std::string& out, ByteView d) {
  size_t i = 0;
  do {
    size_t len = d.size() - i;
    for (size_t j = i; j < d.size(); ++j) {
      if (d[j] == '\n') {
        len = j - i;
        break;
      }
    }
    out += "      \"";
    for (size_t j = i; j < i + len; ++j) {
      char escape = 0;
      switch (d[j]) {
        case '\0':
          escape = '0';
          break;
        case '\a':
          escape = 'a';
          break;
        case '\b':
          escape = 'b';
          break;
        case '\t':
          escape = 't';
          break;
        case '\v':
          escape = 'v';
          break;
        case '\f':
          escape = 'f';
          break;
        case '\r':
          escape = 'r';
          break;
        case 0x1b:
          escape = 'e';
          break;
        case '\'':
          escape = '\'';
          break;
        case '\\':
          escape = '\\';
          break;
        default:
          break;
      }
      if (escape) {
        out += '\\';
        out += escape;
      } else {
        out += static_cast<char>(d[j]);
      }
    }
    out += "\"\n";
    i += len + 1;
  } while (i < d.size());
}

bool image_load(std::string& out, ByteView d, const Tpm2YamlOptions& options) {
  if (d.size() < kImageLoadHeader) return false;
  uint64_t path_len = load_le(d.subspan(24, 8));
  ByteView rest = d.subspan(kImageLoadHeader);
  out += "  Event:\n    ImageLocationInMemory: " + hex_literal(load_le(d.subspan(0, 8))) + "\n";
  out += "    ImageLengthInMemory: " + std::to_string(load_le(d.subspan(8, 8))) + "\n";
  out += "    ImageLinkTimeAddress: " + hex_literal(load_le(d.subspan(16, 8))) + "\n";
  out += "    LengthOfDevicePath: " + std::to_string(path_len) + "\n";
  // Without efivar tpm2-tools prints every byte after the fixed fields, whatever
  // LengthOfDevicePath says.
  std::string path =
      options.device_path_text
          ? device_path_to_text(rest.first(std::min<uint64_t>(path_len, rest.size())))
          : hex_encode(rest);
  out += "    DevicePath: '" + path + "'\n";
  return true;
}

// yaml_event2data: EventSize, then the body by type; raw hex when nothing else applies.
void event_body(std::string& out, const Event& e, const Tpm2YamlOptions& options) {
  ByteView d = e.data;
  out += "  EventSize: " + std::to_string(d.size()) + "\n";
  if (d.empty()) return;
  std::string body;
  bool decoded = false;
  switch (e.type) {
    case ev::kEfiVariableDriverConfig:
    case ev::kEfiVariableBoot:
    case ev::kEfiVariableBoot2:
    case ev::kEfiVariableAuthority:
      decoded = uefi_variable(body, d);
      break;
    case ev::kPostCode:
      if (d.size() == kFirmwareBlob) {
        body += "  Event:\n";
        firmware_blob_fields(body, d);
      } else {
        body += "  Event: |-\n";
        text_block(body, c_text(d), "    ");
      }
      decoded = true;
      break;
    case ev::kSCrtmContents:
    case ev::kEfiPlatformFirmwareBlob:
      if (d.size() >= kFirmwareBlob) {
        body += "  Event:\n";
        firmware_blob_fields(body, d);
        decoded = true;
      }
      break;
    case ev::kEfiPlatformFirmwareBlob2:
      decoded = firmware_blob2(body, d);
      break;
    case ev::kEfiAction:
      body += "  Event: |-\n";
      text_block(body, c_text(d), "    ");
      decoded = true;
      break;
    case ev::kIpl:
      body += "  Event:\n    String: |-\n";
      ipl_lines(body, d);
      decoded = true;
      break;
    case ev::kEfiBootServicesApplication:
    case ev::kEfiBootServicesDriver:
    case ev::kEfiRuntimeServicesDriver:
      decoded = image_load(body, d, options);
      break;
    default:  // EV_EFI_GPT_EVENT and EV_NO_ACTION are hex in version 1 too
      break;
  }
  if (decoded) {
    out += body;
  } else {
    raw_hex(out, d, options);
  }
}

// yaml_specid_event: the SHA-1 format header with its Spec ID event.
void header_event(std::string& out, const EventLog& log) {
  const Event& h = log.events.front();
  const SpecIdEvent& s = log.spec_id;
  ByteView sha1 = h.digests.empty() ? ByteView{} : h.digests.front().value;
  out += "- EventNum: 0\n";
  out += "  PCRIndex: " + std::to_string(h.index) + "\n";
  out += "  EventType: " + event_type_name(h.type) + "\n";
  out += "  Digest: \"" + hex_encode(sha1) + "\"\n";
  out += "  EventSize: " + std::to_string(h.data.size()) + "\n";
  out += "  SpecID:\n";
  out +=
      "  - Signature: " + std::string(c_text(h.data.first(std::min<size_t>(16, h.data.size())))) +
      "\n";
  out += "    platformClass: " + std::to_string(s.platform_class) + "\n";
  out += "    specVersionMinor: " + std::to_string(s.spec_version_minor) + "\n";
  out += "    specVersionMajor: " + std::to_string(s.spec_version_major) + "\n";
  out += "    specErrata: " + std::to_string(s.spec_errata) + "\n";
  out += "    uintnSize: " + std::to_string(s.uintn_size) + "\n";
  out += "    numberOfAlgorithms: " + std::to_string(s.algorithms.size()) + "\n";
  out += "    Algorithms:\n";
  for (size_t i = 0; i < s.algorithms.size(); ++i) {
    out += "    - Algorithm[" + std::to_string(i) + "]:\n";
    out += "      algorithmId: " + tpm_alg_name(s.algorithms[i].id) + "\n";
    out += "      digestSize: " + std::to_string(s.algorithms[i].digest_size) + "\n";
  }
  out += "    vendorInfoSize: " + std::to_string(s.vendor_info.size()) + "\n";
  if (!s.vendor_info.empty()) out += "    vendorInfo: \"" + hex_encode(s.vendor_info) + "\"\n";
}

// yaml_eventlog_pcrs: "    %-2d : 0x<hex>" per register, banks in tpm2-tools' order.
void pcrs(std::string& out, const Replayer& replay) {
  std::map<HashAlg, std::map<uint32_t, const Bytes*>> banks;
  for (const auto& [key, value] : replay.registers()) banks[key.second][key.first] = &value;
  out += "pcrs:\n";
  for (const auto& [alg, regs] : banks) {
    out += "  " + tpm_alg_name(tpm_alg_for_hash(alg)) + ":\n";
    for (const auto& [index, value] : regs) {
      char label[16];
      std::snprintf(label, sizeof label, "%-2u", index);
      out += "    " + std::string(label) + " : 0x" + hex_encode(*value) + "\n";
    }
  }
}

}  // namespace

std::string to_tpm2_yaml(const EventLog& log, const Replayer& replay,
                         const Tpm2YamlOptions& options) {
  std::string out = "---\nversion: 1\nevents:\n";
  if (!log.events.empty()) header_event(out, log);
  for (size_t i = 1; i < log.events.size(); ++i) {
    const Event& e = log.events[i];
    out += "- EventNum: " + std::to_string(e.number) + "\n";
    out += "  PCRIndex: " + std::to_string(e.index) + "\n";
    out += "  EventType: " + event_type_name(e.type) + "\n";
    out += "  DigestCount: " + std::to_string(e.digests.size()) + "\n";
    out += "  Digests:\n";
    for (const Digest& dg : e.digests) {
      out += "  - AlgorithmId: " + tpm_alg_name(dg.alg) + "\n";
      out += "    Digest: \"" + hex_encode(dg.value) + "\"\n";
    }
    event_body(out, e, options);
  }
  pcrs(out, replay);
  return out;
}

}  // namespace acon::eventlog
