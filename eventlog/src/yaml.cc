// Mirrors tpm2-tools 5.4 lib/tpm2_eventlog_yaml.c (eventlog version 1), function by function.
#include "acon/eventlog/yaml.h"

#include <algorithm>
#include <charconv>
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

// The document is appended to in place: built from temporaries ("..." + std::to_string() + "\n")
// it took twice the instructions (1.6 M against 0.85 M for the 82 KB of a GCE vTPM log).
void put_uint(std::string& out, uint64_t value) {
  char buf[20];
  out.append(buf, std::to_chars(buf, buf + sizeof buf, value).ptr);
}

void put_hex(std::string& out, ByteView data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  size_t at = out.size();
  out.resize(at + 2 * data.size());
  char* p = out.data() + at;
  for (uint8_t b : data) {
    *p++ = kDigits[b >> 4];
    *p++ = kDigits[b & 0x0f];
  }
}

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
  out += "  Event: \"";
  put_hex(out, data);
  out += "\"\n";
}

// yaml_uefi_var (version 1): the fixed fields, the name, and the data as hex.
bool uefi_variable(std::string& out, ByteView d) {
  if (d.size() < kVariableDataHeader) return false;
  uint64_t name_len = load_le(d.subspan(16, 8));
  uint64_t data_len = load_le(d.subspan(24, 8));
  size_t room = d.size() - kVariableDataHeader;
  if (name_len > room / 2 || data_len > room - 2 * name_len) return false;
  out += "  Event:\n    VariableName: ";
  out += guid_to_text(d.first(16));
  out += "\n    UnicodeNameLength: ";
  put_uint(out, name_len);
  out += "\n    VariableDataLength: ";
  put_uint(out, data_len);
  out += "\n    UnicodeName: ";
  out += utf16le_to_utf8(d.subspan(kVariableDataHeader, 2 * name_len));
  out += '\n';
  if (data_len > 0) {
    out += "    VariableData: \"";
    put_hex(out, d.subspan(kVariableDataHeader + 2 * name_len, data_len));
    out += "\"\n";
  }
  return true;
}

void firmware_blob_fields(std::string& out, ByteView blob) {
  out += "    BlobBase: ";
  out += hex_literal(load_le(blob.subspan(0, 8)));
  out += "\n    BlobLength: ";
  out += hex_literal(load_le(blob.subspan(8, 8)));
  out += '\n';
}

// yaml_uefi_platfwblob2. tpm2-tools converts the description through a buffer one byte too
// short, so its last byte (normally the NUL) is never printed.
bool firmware_blob2(std::string& out, ByteView d) {
  if (d.empty()) return false;
  size_t desc = d[0];
  if (d.size() < 1 + desc + kFirmwareBlob) return false;
  out += "  Event:\n    BlobDescriptionSize: ";
  put_uint(out, desc);
  out += "\n    BlobDescription: \"";
  put_hex(out, d.subspan(1, desc == 0 ? 0 : desc - 1));
  out += "\"\n";
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
  out += "  Event:\n    ImageLocationInMemory: ";
  out += hex_literal(load_le(d.subspan(0, 8)));
  out += "\n    ImageLengthInMemory: ";
  put_uint(out, load_le(d.subspan(8, 8)));
  out += "\n    ImageLinkTimeAddress: ";
  out += hex_literal(load_le(d.subspan(16, 8)));
  out += "\n    LengthOfDevicePath: ";
  put_uint(out, path_len);
  out += "\n    DevicePath: '";
  // Without efivar tpm2-tools prints every byte after the fixed fields, whatever
  // LengthOfDevicePath says.
  if (options.device_path_text)
    out += device_path_to_text(rest.first(std::min<uint64_t>(path_len, rest.size())));
  else
    put_hex(out, rest);
  out += "'\n";
  return true;
}

// yaml_event2data: EventSize, then the body by type; raw hex when nothing else applies.
void event_body(std::string& out, const Event& e, const Tpm2YamlOptions& options) {
  ByteView d = e.data;
  out += "  EventSize: ";
  put_uint(out, d.size());
  out += '\n';
  if (d.empty()) return;
  // A decoder that rejects the data leaves nothing behind: what it wrote is cut off again.
  const size_t mark = out.size();
  bool decoded = false;
  switch (e.type) {
    case ev::kEfiVariableDriverConfig:
    case ev::kEfiVariableBoot:
    case ev::kEfiVariableBoot2:
    case ev::kEfiVariableAuthority:
      decoded = uefi_variable(out, d);
      break;
    case ev::kPostCode:
      if (d.size() == kFirmwareBlob) {
        out += "  Event:\n";
        firmware_blob_fields(out, d);
      } else {
        out += "  Event: |-\n";
        text_block(out, c_text(d), "    ");
      }
      decoded = true;
      break;
    case ev::kSCrtmContents:
    case ev::kEfiPlatformFirmwareBlob:
      if (d.size() >= kFirmwareBlob) {
        out += "  Event:\n";
        firmware_blob_fields(out, d);
        decoded = true;
      }
      break;
    case ev::kEfiPlatformFirmwareBlob2:
      decoded = firmware_blob2(out, d);
      break;
    case ev::kEfiAction:
      out += "  Event: |-\n";
      text_block(out, c_text(d), "    ");
      decoded = true;
      break;
    case ev::kIpl:
      out += "  Event:\n    String: |-\n";
      ipl_lines(out, d);
      decoded = true;
      break;
    case ev::kEfiBootServicesApplication:
    case ev::kEfiBootServicesDriver:
    case ev::kEfiRuntimeServicesDriver:
      decoded = image_load(out, d, options);
      break;
    default:  // EV_EFI_GPT_EVENT and EV_NO_ACTION are hex in version 1 too
      break;
  }
  if (!decoded) {
    out.resize(mark);
    raw_hex(out, d, options);
  }
}

// yaml_specid_event: the SHA-1 format header with its Spec ID event.
void header_event(std::string& out, const EventLog& log) {
  const Event& h = log.events.front();
  const SpecIdEvent& s = log.spec_id;
  ByteView sha1 = h.digests.empty() ? ByteView{} : h.digests.front().value;
  out += "- EventNum: 0\n  PCRIndex: ";
  put_uint(out, h.index);
  out += "\n  EventType: ";
  out += event_type_name(h.type);
  out += "\n  Digest: \"";
  put_hex(out, sha1);
  out += "\"\n  EventSize: ";
  put_uint(out, h.data.size());
  out += "\n  SpecID:\n  - Signature: ";
  out += c_text(h.data.first(std::min<size_t>(16, h.data.size())));
  out += "\n    platformClass: ";
  put_uint(out, s.platform_class);
  out += "\n    specVersionMinor: ";
  put_uint(out, s.spec_version_minor);
  out += "\n    specVersionMajor: ";
  put_uint(out, s.spec_version_major);
  out += "\n    specErrata: ";
  put_uint(out, s.spec_errata);
  out += "\n    uintnSize: ";
  put_uint(out, s.uintn_size);
  out += "\n    numberOfAlgorithms: ";
  put_uint(out, s.algorithms.size());
  out += "\n    Algorithms:\n";
  for (size_t i = 0; i < s.algorithms.size(); ++i) {
    out += "    - Algorithm[";
    put_uint(out, i);
    out += "]:\n      algorithmId: ";
    out += tpm_alg_name(s.algorithms[i].id);
    out += "\n      digestSize: ";
    put_uint(out, s.algorithms[i].digest_size);
    out += '\n';
  }
  out += "    vendorInfoSize: ";
  put_uint(out, s.vendor_info.size());
  out += '\n';
  if (!s.vendor_info.empty()) {
    out += "    vendorInfo: \"";
    put_hex(out, s.vendor_info);
    out += "\"\n";
  }
}

// yaml_eventlog_pcrs: "    %-2d : 0x<hex>" per register, banks in tpm2-tools' order.
void pcrs(std::string& out, const Replayer& replay) {
  std::map<HashAlg, std::map<uint32_t, const Bytes*>> banks;
  for (const auto& [key, value] : replay.registers()) banks[key.second][key.first] = &value;
  out += "pcrs:\n";
  for (const auto& [alg, regs] : banks) {
    out += "  ";
    out += tpm_alg_name(tpm_alg_for_hash(alg));
    out += ":\n";
    for (const auto& [index, value] : regs) {
      out += "    ";
      put_uint(out, index);
      if (index < 10) out += ' ';  // "%-2u"
      out += " : 0x";
      put_hex(out, *value);
      out += '\n';
    }
  }
}

}  // namespace

void write_tpm2_yaml(const EventLog& log, const Replayer& replay,
                     const std::function<void(std::string_view)>& sink,
                     const Tpm2YamlOptions& options) {
  constexpr size_t kPiece = 16384;
  std::string out;
  out.reserve(2 * kPiece);
  auto flush_if_full = [&] {
    if (out.size() < kPiece) return;
    sink(out);
    out.clear();
  };
  out += "---\nversion: 1\nevents:\n";
  if (!log.events.empty()) header_event(out, log);
  for (size_t i = 1; i < log.events.size(); ++i) {
    flush_if_full();
    const Event& e = log.events[i];
    out += "- EventNum: ";
    put_uint(out, e.number);
    out += "\n  PCRIndex: ";
    put_uint(out, e.index);
    out += "\n  EventType: ";
    out += event_type_name(e.type);
    out += "\n  DigestCount: ";
    put_uint(out, e.digests.size());
    out += "\n  Digests:\n";
    for (const Digest& dg : e.digests) {
      out += "  - AlgorithmId: ";
      out += tpm_alg_name(dg.alg);
      out += "\n    Digest: \"";
      put_hex(out, dg.value);
      out += "\"\n";
    }
    event_body(out, e, options);
  }
  pcrs(out, replay);
  if (!out.empty()) sink(out);
}

std::string to_tpm2_yaml(const EventLog& log, const Replayer& replay,
                         const Tpm2YamlOptions& options) {
  std::string text;
  // Each record's bytes come out as about 2.5 times as many characters of YAML (hex and labels).
  size_t log_bytes = 0;
  for (const Event& e : log.events) log_bytes += e.size;
  text.reserve(4096 + 3 * log_bytes);
  write_tpm2_yaml(
      log, replay, [&](std::string_view piece) { text += piece; }, options);
  return text;
}

}  // namespace acon::eventlog
