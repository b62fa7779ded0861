// Event decoding and digest rules (decode.h) on the real logs of tests/data/eventlog, checked
// against trustee's parse output (trustee/*_out.json) and against the per-type digest rules of
// docs/eventlog-formats.md §4; device path text; and hand-made malformed payloads.
#include "acon/eventlog/decode.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "acon/common/hash.h"
#include "acon/common/reader.h"
#include "test_util.h"

namespace acon::eventlog {
namespace {

// Every real log in tests/data/eventlog that is a CCEL (plus the AA evidence log).
const std::vector<std::string> kRealLogs = {"trustee/CCEL_data",
                                            "trustee/CCEL_data_ovmf",
                                            "trustee/CCEL_data_grub",
                                            "trustee/CCEL_data_gcp",
                                            "trustee/CCEL_data_grub_gke",
                                            "trustee/CCEL_data_csv",
                                            "trustee/CCEL_AAEL_alibabacloud",
                                            "cc-trusted-api/ccel_data.bin"};

// A parsed log with the bytes its views point into.
struct LoadedLog {
  Bytes bytes;
  EventLog log;
  std::string error;  // empty when parsing succeeded
};

const LoadedLog& load(const std::string& name) {
  static std::map<std::string, std::unique_ptr<LoadedLog>> cache;
  auto& slot = cache[name];
  if (!slot) {
    slot = std::make_unique<LoadedLog>();
    slot->bytes = test::read_data_bytes("eventlog/" + name);
    auto parsed = parse_event_log(slot->bytes);
    if (parsed) {
      slot->log = std::move(*parsed);
    } else {
      slot->error = parsed.error().to_string();
    }
  }
  return *slot;
}

std::string where(const std::string& log, size_t number) {
  return log + " event " + std::to_string(number);
}

Event make_event(uint32_t type, ByteView data, std::vector<Digest> digests = {}) {
  Event e{};
  e.type = type;
  e.data = data;
  e.digests = std::move(digests);
  e.size = data.size();
  return e;
}

std::string str(const Json& details, const std::string& key) {
  auto it = details.find(key);
  return it != details.end() && it->is_string() ? it->get<std::string>() : "<no " + key + ">";
}

// Bytes for hand-made payloads.
Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) append(out, p);
  return out;
}
Bytes le16(uint16_t v) {
  Bytes b;
  put_u16le(b, v);
  return b;
}
Bytes le32(uint32_t v) {
  Bytes b;
  put_u32le(b, v);
  return b;
}
Bytes le64(uint64_t v) {
  Bytes b;
  put_u64le(b, v);
  return b;
}
Bytes utf16(std::string_view ascii, bool nul = true) {
  Bytes b;
  for (char c : ascii) put_u16le(b, static_cast<uint8_t>(c));
  if (nul) put_u16le(b, 0);
  return b;
}
Bytes node(uint8_t type, uint8_t subtype, const Bytes& body) {
  Bytes b = {type, subtype};
  put_u16le(b, static_cast<uint16_t>(body.size() + 4));
  append(b, body);
  return b;
}
const Bytes kEndNode = test::unhex("7fff0400");
// EFI_GLOBAL_VARIABLE as stored (mixed endian).
const Bytes kGlobalVariableGuid = test::unhex("61dfe48bca93d211aa0d00e098032b8c");

Bytes uefi_variable(const Bytes& guid, std::string_view name, const Bytes& value) {
  return cat({guid, le64(name.size()), le64(value.size()), utf16(name, false), value});
}

// ---- GUIDs ----

TEST(GuidText, CanonicalFormSwapsTheFirstThreeFields) {
  EXPECT_EQ(guid_to_text(kGlobalVariableGuid), "8be4df61-93ca-11d2-aa0d-00e098032b8c");
  EXPECT_EQ(guid_to_text(test::unhex("a159c0a5e494a74a87b5ab155c2bf072")),
            "a5c059a1-94e4-4aa7-87b5-ab155c2bf072");  // EFI_CERT_X509_GUID
}

TEST(GuidText, WrongSizeGivesEmptyText) {
  EXPECT_EQ(guid_to_text(ByteView(kGlobalVariableGuid).first(15)), "");
  EXPECT_EQ(guid_to_text({}), "");
}

// ---- device paths ----

TEST(DevicePathText, CommonNodes) {
  const Bytes guid = test::unhex("72f728144ab61e44b8c39ebdd7f893c7");
  const std::string guid_text = "1428F772-B64A-441E-B8C3-9EBDD7F893C7";
  struct Case {
    Bytes node;
    std::string text;
  };
  const std::vector<Case> cases = {
      {node(1, 1, {0x00, 0x03}), "Pci(0x3,0x0)"},
      {node(1, 3, cat({le32(0xb), le64(0xffc00000), le64(0xffffffff)})),
       "MemoryMapped(0xb,0xffc00000,0xffffffff)"},
      {node(1, 4, guid), "VenHw(" + guid_text + ")"},
      {node(2, 1, cat({le32(0x0a0341d0), le32(0)})), "PciRoot(0x0)"},
      {node(2, 1, cat({le32(0x0a0841d0), le32(1)})), "PcieRoot(0x1)"},
      {node(2, 1, cat({le32(0x0a0541d0), le32(2)})), "Acpi(PNP0A05,0x2)"},
      {node(2, 2, cat({le32(0x0a0841d0), le32(0), le32(0x0a0341d0), {0, 0, 0}})),
       "AcpiEx(PNP0A08,PNP0A03,0x0,,,)"},
      {node(3, 2, cat({le16(1), le16(2)})), "Scsi(0x1,0x2)"},
      {node(3, 18, cat({le16(0), le16(0xffff), le16(0)})), "Sata(0x0,0xffff,0x0)"},
      {node(3, 23, cat({le32(1), test::unhex("0102030405060708")})),
       "NVMe(0x1,08-07-06-05-04-03-02-01)"},
      {node(3, 5, {0x01, 0x00}), "USB(0x1,0x0)"},
      {node(3, 11, cat({test::unhex("525400123456"), Bytes(26, 0), {0x01}})),
       "MAC(525400123456,0x1)"},
      {node(3, 24, to_bytes("http://boot/x.efi")), "Uri(http://boot/x.efi)"},
      {node(3, 10, cat({guid, {0xab}})), "VenMsg(" + guid_text + ",ab)"},
      {node(4, 1,
            cat({le32(1), le64(0x800), le64(0x1000), le32(0x12345678), Bytes(12, 0), {1, 1}})),
       "HD(1,MBR,0x12345678,0x800,0x1000)"},
      {node(4, 1,
            cat({le32(15),
                 le64(0x2800),
                 le64(0x35000),
                 test::unhex("5e27f1007553d5439eb5de2add4c9932"),
                 {2, 2}})),
       "HD(15,GPT,00F1275E-5375-43D5-9EB5-DE2ADD4C9932,0x2800,0x35000)"},
      {node(4, 2, cat({le32(0), le64(0x10), le64(0x20)})), "CDROM(0x0,0x10,0x20)"},
      {node(4, 3, guid), "VenMedia(" + guid_text + ")"},
      {node(4, 4, utf16("\\EFI\\BOOT\\BOOTX64.EFI")), "\\EFI\\BOOT\\BOOTX64.EFI"},
      {node(4, 6, guid), "FvFile(" + guid_text + ")"},
      {node(4, 7, guid), "Fv(" + guid_text + ")"},
      {node(4, 8, cat({le32(0), le64(0), le64(0xfff)})), "Offset(0x0,0xfff)"},
      {node(9, 9, {0xde, 0xad}), "Path(9,9,dead)"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(device_path_to_text(cat({c.node, kEndNode})), c.text) << hex_encode(c.node);
  }
}

TEST(DevicePathText, NodesJoinWithSlashAndInstancesWithComma) {
  Bytes root = node(2, 1, cat({le32(0x0a0341d0), le32(0)}));
  Bytes pci = node(1, 1, {0x00, 0x01});
  EXPECT_EQ(device_path_to_text(cat({root, pci, kEndNode})), "PciRoot(0x0)/Pci(0x1,0x0)");
  EXPECT_EQ(device_path_to_text(cat({root, test::unhex("7f010400"), pci, kEndNode})),
            "PciRoot(0x0),Pci(0x1,0x0)");
  // Without an End node the path simply ends; after End nothing is read.
  EXPECT_EQ(device_path_to_text(root), "PciRoot(0x0)");
  EXPECT_EQ(device_path_to_text(cat({root, kEndNode, pci})), "PciRoot(0x0)");
  EXPECT_EQ(device_path_to_text({}), "");
}

TEST(DevicePathText, BodyTooShortForItsTypeIsPrintedGenerically) {
  EXPECT_EQ(device_path_to_text(cat({node(1, 1, {}), kEndNode})), "Path(1,1,)");
  EXPECT_EQ(device_path_to_text(cat({node(4, 1, {1, 2, 3}), kEndNode})), "Path(4,1,010203)");
  EXPECT_EQ(device_path_to_text(cat({node(4, 7, Bytes(15, 0)), kEndNode})),
            "Path(4,7," + std::string(30, '0') + ")");
}

TEST(DevicePathText, UnreadableNodeLengthStopsWithTruncated) {
  Bytes root = node(2, 1, cat({le32(0x0a0341d0), le32(0)}));
  // Lengths 0 and 2 are below the 4-byte header (a naive walker would loop forever on 0).
  EXPECT_EQ(device_path_to_text(cat({root, test::unhex("04040000"), kEndNode})),
            "PciRoot(0x0)/<truncated>");
  EXPECT_EQ(device_path_to_text(cat({root, test::unhex("04040200"), kEndNode})),
            "PciRoot(0x0)/<truncated>");
  EXPECT_EQ(device_path_to_text(cat({root, test::unhex("0404ffff"), kEndNode})),
            "PciRoot(0x0)/<truncated>");
  EXPECT_EQ(device_path_to_text(cat({root, test::unhex("7fff04")})), "PciRoot(0x0)/<truncated>");
  EXPECT_EQ(device_path_to_text(test::unhex("0404")), "<truncated>");
}

TEST(DevicePathText, RandomBytesNeverCrashAndGiveValidUtf8) {
  std::mt19937 rng(20240611);
  for (int i = 0; i < 3000; ++i) {
    Bytes path(rng() % 96);
    for (auto& b : path) b = static_cast<uint8_t>(rng());
    // Bias towards plausible headers so that node decoders run, not just the length check.
    for (size_t k = 0; k + 4 <= path.size(); k += 4 + rng() % 24) {
      path[k] = static_cast<uint8_t>(1 + rng() % 4);
      path[k + 2] = static_cast<uint8_t>(rng() % 40);
      path[k + 3] = 0;
    }
    std::string text = device_path_to_text(path);
    EXPECT_NO_THROW((void)Json(text).dump()) << "input " << hex_encode(path);
  }
}

// ---- trustee oracle ----

// trustee prints variable_name as the raw 16 bytes in hex with dashes.
std::string canonical_guid_from_trustee(const std::string& raw) {
  std::string digits;
  for (char c : raw) {
    if (c != '-') digits.push_back(c);
  }
  return guid_to_text(test::unhex(digits));
}

// "Name(a,b,c)" → name "Name", arguments "a,b,c"; false when the text is not of that form.
bool split_node(const std::string& text, std::string* name, std::string* args) {
  size_t open = text.find('(');
  if (open == std::string::npos || text.empty() || text.back() != ')') return false;
  *name = text.substr(0, open);
  *args = text.substr(open + 1, text.size() - open - 2);
  return true;
}

std::vector<std::string> split_commas(const std::string& args) {
  std::vector<std::string> out(1);
  for (char c : args) {
    if (c == ',') {
      out.emplace_back();
    } else {
      out.back().push_back(c);
    }
  }
  return out;
}

// trustee's device path node text → the text acon gives the same node; "" if the form is unknown.
std::string acon_node_for_trustee(const std::string& node_text) {
  std::string name;
  std::string args;
  if (!split_node(node_text, &name, &args)) return "";
  std::vector<std::string> a = split_commas(args);
  char buf[64];
  if (name == "ACPI" && a.size() == 2 && a[0] == "PNP0A03") {
    std::snprintf(buf, sizeof buf, "PciRoot(0x%x)", std::stoi(a[1]));
    return buf;
  }
  if (name == "Pci" && a.size() == 2) {
    // trustee prints (function, device) in decimal; UEFI text is Pci(device,function) in hex.
    std::snprintf(buf, sizeof buf, "Pci(0x%x,0x%x)", std::stoi(a[1]), std::stoi(a[0]));
    return buf;
  }
  if (name == "Path" && a.size() == 3) {
    // A node trustee does not know: rebuild its bytes and let acon render them.
    return device_path_to_text(node(static_cast<uint8_t>(std::stoi(a[0])),
                                    static_cast<uint8_t>(std::stoi(a[1])), test::unhex(a[2])));
  }
  if (name == "HD") return node_text;
  if (name == "File") return args;
  if (name == "VenMedia" && a.size() == 2 && a[1].empty()) return "VenMedia(" + a[0] + ")";
  return "";
}

bool is_whole_data_rule(const Event& e) {
  switch (e.type) {
    case ev::kSeparator:
    case ev::kEfiAction:
    case ev::kEfiGptEvent:
    case ev::kEfiVariableDriverConfig:
    case ev::kEfiVariableAuthority:
      return true;
    case ev::kEventTag:
      return as_chars(e.data).starts_with("LEAA");  // AAEL tag, LE bytes
    default:
      return false;
  }
}

void expect_same_details(const Json& theirs, const Json& ours, const Event& e,
                         const std::string& at) {
  for (auto it = theirs.begin(); it != theirs.end(); ++it) {
    const std::string& key = it.key();
    const Json& value = it.value();
    if (key == "unicode_name" && e.type == ev::kEventTag) {
      EXPECT_EQ(str(ours, "tag_name"), value.get<std::string>()) << at;
    } else if (key == "unicode_name" || key == "variable_data") {
      EXPECT_EQ(str(ours, key), value.get<std::string>()) << at << " " << key;
    } else if (key == "unicode_name_length" || key == "variable_data_length") {
      EXPECT_EQ(ours.value(key, Json()), value) << at << " " << key;
    } else if (key == "variable_name") {
      EXPECT_EQ(str(ours, key), canonical_guid_from_trustee(value.get<std::string>())) << at;
    } else if (key == "device_paths") {
      ASSERT_TRUE(ours.contains("device_paths")) << at;
      const Json& nodes = ours["device_paths"];
      ASSERT_EQ(nodes.size(), value.size()) << at << ": " << str(ours, "device_path");
      for (size_t i = 0; i < value.size(); ++i) {
        std::string expected = acon_node_for_trustee(value[i].get<std::string>());
        EXPECT_FALSE(expected.empty()) << at << ": no mapping for trustee node " << value[i];
        EXPECT_EQ(nodes[i].get<std::string>(), expected) << at << " node " << i;
      }
    } else if (key == "data") {
      EXPECT_EQ(ours.value("aael", Json()), value) << at;
    } else if (key == "string") {
      std::string s = value.get<std::string>();
      if (e.type == ev::kEfiHandoffTables2 || e.type == ev::kEfiPlatformFirmwareBlob2) {
        EXPECT_EQ(str(ours, "description"), s) << at;
      } else if (ours.contains("descriptor")) {
        // td-shim's {descriptor[16], u32 info_length, info}: trustee shows "" when the info is
        // binary, else descriptor and info run together with the length bytes stripped.
        if (s.empty()) {
          EXPECT_TRUE(ours.contains("info_hex")) << at;
        } else {
          EXPECT_TRUE(s.starts_with(str(ours, "descriptor"))) << at << ": " << s;
          EXPECT_TRUE(s.ends_with(str(ours, "info_string"))) << at << ": " << s;
        }
      } else if (e.type == ev::kIpl && e.data.size() >= 2 && e.data[0] == '.' && e.data[1] == 0) {
        // GCE's UTF-16 section names: trustee drops the leading "." with its 2e00 prefix check.
        EXPECT_EQ(str(ours, "string"), "." + s) << at;
      } else {
        EXPECT_EQ(str(ours, "string"), s) << at;
      }
    } else {
      ADD_FAILURE() << at << ": trustee detail " << key << " is not compared";
    }
  }
}

class DecodeTrusteeOracle : public ::testing::TestWithParam<std::string> {};

TEST_P(DecodeTrusteeOracle, EveryEventDecodesToWhatTrusteeShows) {
  const std::string name = GetParam();
  const LoadedLog& loaded = load(name);
  ASSERT_EQ(loaded.error, "") << name;
  auto oracle = parse_json(test::read_data("eventlog/" + name + "_out.json"));
  ASSERT_TRUE(oracle.ok()) << name;
  const Json& entries = (*oracle)["uefi_event_logs"];
  const auto& events = loaded.log.events;
  ASSERT_EQ(events.size() - 1, entries.size()) << name;
  for (size_t i = 0; i < entries.size(); ++i) {
    const Json& want = entries[i];
    const Event& e = events[i + 1];
    const std::string at = where(name, e.number);
    EXPECT_EQ(e.index, want["index"].get<uint32_t>()) << at;
    EXPECT_EQ(event_type_name(e.type), want["type_name"].get<std::string>()) << at;
    ASSERT_EQ(e.digests.size(), want["digests"].size()) << at;
    for (size_t k = 0; k < e.digests.size(); ++k) {
      EXPECT_EQ(hash_for_tpm_alg(e.digests[k].alg),
                hash_from_name(want["digests"][k]["alg"].get<std::string>()))
          << at;
      EXPECT_EQ(hex_encode(e.digests[k].value), want["digests"][k]["digest"].get<std::string>())
          << at;
    }
    EXPECT_EQ(base64_encode(e.data), want["event"].get<std::string>()) << at;

    DecodedEvent decoded = decode_event(e);
    EXPECT_FALSE(decoded.details.contains("error")) << at << ": " << str(decoded.details, "error");
    expect_same_details(want["details"], decoded.details, e, at);

    // trustee hashes the whole data of every event; that is acon's rule only for some types.
    bool trustee_match = want["digest_matches_event"].get<bool>();
    if (trustee_match) {
      EXPECT_EQ(decoded.digest_check, DigestCheck::match) << at;
    }
    if (is_whole_data_rule(e)) {
      EXPECT_EQ(decoded.digest_check == DigestCheck::match, trustee_match) << at;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(DecodeTrusteeOutJson, DecodeTrusteeOracle,
                         ::testing::Values("trustee/CCEL_data", "trustee/CCEL_data_ovmf",
                                           "trustee/CCEL_data_grub", "trustee/CCEL_data_grub_gke",
                                           "trustee/CCEL_data_csv",
                                           "trustee/CCEL_AAEL_alibabacloud"),
                         [](const auto& param_info) {
                           std::string n = param_info.param.substr(param_info.param.find('/') + 1);
                           for (char& c : n) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return n;
                         });

// ---- digest rules on the corpus ----

// The rule an event falls under, judged from its type and bytes alone (not by decode.cc).
std::string rule_of(const Event& e) {
  std::string_view text = as_chars(e.data);
  switch (e.type) {
    case ev::kSeparator:
      return "separator";
    case ev::kEfiAction:
      return "efi_action";
    case ev::kEfiGptEvent:
      return "gpt";
    case ev::kEfiVariableDriverConfig:
      return "variable_driver_config";
    case ev::kEfiVariableAuthority:
      return "variable_authority";
    case ev::kEfiVariableBoot:
    case ev::kEfiVariableBoot2:
      return "variable_boot";
    case ev::kEventTag:
      return text.starts_with("LEAA") ? "aael_tag" : "";
    case ev::kIpl:
      if (text.starts_with("grub_cmd: ")) return "ipl_grub_cmd_colon";
      if (text.starts_with("kernel_cmdline: ")) return "ipl_kernel_cmdline_colon";
      if (text.starts_with("grub_cmd ")) return "ipl_grub_cmd_space";
      if (text.starts_with("grub_kernel_cmdline ")) return "ipl_grub_kernel_cmdline";
      return "";
    default:
      return "";
  }
}

TEST(DecodeDigestRules, EveryRuleMatchesOnEveryRealLog) {
  ASSERT_TRUE(hash_available(HashAlg::sm3)) << "the Hygon CSV log is SM3";
  std::map<std::string, size_t> matched;
  for (const auto& name : kRealLogs) {
    const LoadedLog& loaded = load(name);
    ASSERT_EQ(loaded.error, "") << name;
    for (const Event& e : loaded.log.events) {
      const std::string at = where(name, e.number);
      DecodedEvent decoded = decode_event(e);
      std::string rule = rule_of(e);
      if (rule.empty()) {
        // Authenticode, firmware volumes, HOBs, files, kernel EFI loader tags, EV_NO_ACTION, ...
        EXPECT_EQ(decoded.digest_check, DigestCheck::not_applicable)
            << at << " " << event_type_name(e.type);
      } else {
        EXPECT_EQ(decoded.digest_check, DigestCheck::match) << at << " " << rule;
        matched[rule] += decoded.digest_check == DigestCheck::match;
      }
    }
  }
  // Counts over the 8 real logs in tests/data/eventlog (docs/eventlog-formats.md §4 was checked on
  // 10 logs).
  const std::map<std::string, size_t> expected = {
      {"separator", 16},
      {"efi_action", 23},
      {"gpt", 6},
      {"variable_driver_config", 35},
      {"variable_authority", 9},
      {"variable_boot", 31},
      {"aael_tag", 2},
      {"ipl_grub_cmd_colon", 56},
      {"ipl_kernel_cmdline_colon", 1},
      {"ipl_grub_cmd_space", 102},
      {"ipl_grub_kernel_cmdline", 2},
  };
  EXPECT_EQ(matched, expected);
}

TEST(DecodeDigestRules, AlteredDigestOrDataIsAMismatch) {
  std::map<std::string, size_t> tried;
  for (const auto& name : kRealLogs) {
    const LoadedLog& loaded = load(name);
    ASSERT_EQ(loaded.error, "") << name;
    for (const Event& e : loaded.log.events) {
      std::string rule = rule_of(e);
      if (rule.empty() || tried[rule]++ > 0) continue;
      const std::string at = where(name, e.number);
      Bytes digest(e.digests[0].value.begin(), e.digests[0].value.end());
      digest[0] ^= 1;
      Event tampered = e;
      tampered.digests[0].value = digest;
      EXPECT_EQ(decode_event(tampered).digest_check, DigestCheck::mismatch) << at << " " << rule;
      // Changing the last byte the rule covers (a printable one, so strings stay strings) must
      // break the match too.
      Bytes data(e.data.begin(), e.data.end());
      Event changed = e;
      changed.data = data;
      std::string_view text = as_chars(e.data);
      size_t covered_end = rule.starts_with("ipl_") ? text.find('\0') : data.size();
      if (covered_end == std::string_view::npos) covered_end = data.size();
      ASSERT_GT(covered_end, 0u) << at;
      data[covered_end - 1] = data[covered_end - 1] == 'x' ? 'y' : 'x';
      EXPECT_EQ(decode_event(changed).digest_check, DigestCheck::mismatch) << at << " " << rule;
    }
  }
  EXPECT_EQ(tried.size(), 11u);
}

TEST(DecodeDigestRules, VariableBootHashesOnlyTheVariableData) {
  Bytes value = test::unhex("01000000");
  Bytes data = uefi_variable(kGlobalVariableGuid, "BootOrder", value);
  Bytes value_digest = sha384(value);
  Bytes whole_digest = sha384(data);
  EXPECT_EQ(decode_event(make_event(ev::kEfiVariableBoot, data, {{tpm_alg::kSha384, value_digest}}))
                .digest_check,
            DigestCheck::match);
  EXPECT_EQ(decode_event(make_event(ev::kEfiVariableBoot, data, {{tpm_alg::kSha384, whole_digest}}))
                .digest_check,
            DigestCheck::mismatch);
  EXPECT_EQ(decode_event(
                make_event(ev::kEfiVariableDriverConfig, data, {{tpm_alg::kSha384, whole_digest}}))
                .digest_check,
            DigestCheck::match);
}

TEST(DecodeDigestRules, GrubStringForms) {
  struct Case {
    std::string data;
    std::string hashed;
  };
  const std::vector<Case> cases = {
      {std::string("grub_cmd: set timeout=0\0", 24), "set timeout=0"},
      {std::string("kernel_cmdline: /vmlinuz ro\0", 28), "/vmlinuz ro"},
      // RHEL grub: the command's NUL is hashed; one stray byte follows it in real logs.
      {std::string("grub_cmd set pager=1\0`", 22), std::string("set pager=1\0", 12)},
      {std::string("grub_kernel_cmdline /vmlinuz ro\0\0", 33), "/vmlinuz ro"},
  };
  for (const auto& c : cases) {
    Bytes digest = sha384(as_bytes(c.hashed));
    DecodedEvent d =
        decode_event(make_event(ev::kIpl, as_bytes(c.data), {{tpm_alg::kSha384, digest}}));
    EXPECT_EQ(d.digest_check, DigestCheck::match) << c.data;
  }
  Bytes digest = sha384(as_bytes(std::string_view("MokList")));
  EXPECT_EQ(decode_event(make_event(ev::kIpl, as_bytes(std::string_view("MokList\0", 8)),
                                    {{tpm_alg::kSha384, digest}}))
                .digest_check,
            DigestCheck::not_applicable);
}

TEST(DecodeDigestRules, EveryHashableDigestMustMatchAndOthersAreIgnored) {
  Bytes data = test::unhex("00000000");
  Bytes good256 = sha256(data);
  Bytes good384 = sha384(data);
  Bytes bad256 = good256;
  bad256[5] ^= 0xff;
  Bytes unknown(20, 0xaa);
  auto check = [&](std::vector<Digest> digests) {
    return decode_event(make_event(ev::kSeparator, data, std::move(digests))).digest_check;
  };
  EXPECT_EQ(check({{tpm_alg::kSha256, good256}, {tpm_alg::kSha384, good384}}), DigestCheck::match);
  EXPECT_EQ(check({{tpm_alg::kSha256, bad256}, {tpm_alg::kSha384, good384}}),
            DigestCheck::mismatch);
  EXPECT_EQ(check({{0x0099, unknown}, {tpm_alg::kSha384, good384}}), DigestCheck::match);
  EXPECT_EQ(check({{0x0099, unknown}}), DigestCheck::not_applicable);
  EXPECT_EQ(check({}), DigestCheck::not_applicable);
}

// ---- what real events decode to ----

const Event& real_event(const std::string& log, size_t number) {
  const LoadedLog& loaded = load(log);
  EXPECT_EQ(loaded.error, "") << log;
  EXPECT_LT(number, loaded.log.events.size()) << log;
  static const Event kNone{};
  return number < loaded.log.events.size() ? loaded.log.events[number] : kNone;
}

TEST(DecodeRealEvents, SpecIdHeader) {
  Json d = decode_event(real_event("trustee/CCEL_data", 0)).details;
  EXPECT_EQ(str(d, "kind"), "spec_id");
  EXPECT_EQ(str(d, "signature"), "Spec ID Event03");
  EXPECT_EQ(d["spec_errata"], 105);
  EXPECT_EQ(d["spec_version_major"], 2);
  EXPECT_EQ(str(d, "vendor_info"), "td-shim");
  ASSERT_EQ(d["algorithms"].size(), 1u);
  EXPECT_EQ(d["algorithms"][0]["algorithm"], "sha384");
  EXPECT_EQ(d["algorithms"][0]["digest_size"], 48);
}

TEST(DecodeRealEvents, Sp800_155PlatformIdOnGke) {
  const std::string log = "trustee/CCEL_data_grub_gke";
  Json uefi_variable_locator = decode_event(real_event(log, 1)).details;
  Json uri_locator = decode_event(real_event(log, 2)).details;
  for (const Json* d : {&uefi_variable_locator, &uri_locator}) {
    EXPECT_EQ(str(*d, "kind"), "sp800_155_platform_id") << *d;
    EXPECT_EQ(str(*d, "platform_manufacturer"), "Google, Inc.");
    EXPECT_EQ(str(*d, "platform_model"), "Google Compute Engine");
    EXPECT_EQ(str(*d, "firmware_version"), "2.7");
    EXPECT_EQ((*d)["platform_manufacturer_id"], 11129);  // Google's IANA enterprise number
  }
  EXPECT_EQ(uefi_variable_locator["rim_locator"]["type"], 3);
  EXPECT_EQ(uefi_variable_locator["rim_locator"]["variable_name"], "FirmwareRIM");
  EXPECT_EQ(uri_locator["rim_locator"]["type"], 1);
  EXPECT_TRUE(
      str(uri_locator["rim_locator"], "uri").starts_with("https://storage.googleapis.com/"));
}

TEST(DecodeRealEvents, TdShimEvents) {
  const std::string log = "trustee/CCEL_data";
  Json hob = decode_event(real_event(log, 1)).details;
  EXPECT_EQ(str(hob, "descriptor"), "td_hob");
  EXPECT_EQ(hob["info_length"], 5248);
  Json payload = decode_event(real_event(log, 4)).details;
  EXPECT_EQ(str(payload, "description"), "td_payload");
  EXPECT_EQ(str(payload, "blob_base"), "0x901000");
  EXPECT_EQ(payload["blob_length"], 0x10000000);
  Json params = decode_event(real_event(log, 5)).details;
  EXPECT_EQ(str(params, "descriptor"), "td_payload_info");
  EXPECT_EQ(str(params, "info_string"), "root=/dev/vda1 console=hvc0 rw");
}

TEST(DecodeRealEvents, OvmfHandoffTablesAndFirmwareVolume) {
  const std::string log = "trustee/CCEL_data_gcp";
  Json tables = decode_event(real_event(log, 1)).details;
  EXPECT_EQ(str(tables, "description"), "TdxTable");
  ASSERT_EQ(tables["tables"].size(), 1u) << tables;
  EXPECT_EQ(tables["tables"][0]["vendor_table"], "0x809000");
  Json cfv = decode_event(real_event(log, 2)).details;
  EXPECT_EQ(str(cfv, "description"), "Fv(48DB5E17-707C-472D-91CD-1613E7EF51B0)");
  EXPECT_EQ(str(cfv, "blob_base"), "0xffe00000");
  EXPECT_EQ(cfv["blob_length"], 0x20000);
}

TEST(DecodeRealEvents, UefiVariables) {
  const std::string log = "trustee/CCEL_data_gcp";
  Json secure_boot = decode_event(real_event(log, 3)).details;
  EXPECT_EQ(str(secure_boot, "unicode_name"), "SecureBoot");
  EXPECT_EQ(secure_boot["secure_boot"], false);
  Json dbx = decode_event(real_event(log, 7)).details;
  EXPECT_EQ(str(dbx, "unicode_name"), "dbx");
  ASSERT_EQ(dbx["signature_lists"].size(), 4u) << dbx;
  EXPECT_EQ(dbx["signature_lists"][3]["signature_type"], "sha256");
  EXPECT_EQ(dbx["signature_lists"][3]["signature_count"], 183);
  Json order = decode_event(real_event(log, 12)).details;
  EXPECT_EQ(order["boot_order"], Json::array({"Boot0001", "Boot0000"}));
  Json boot1 = decode_event(real_event(log, 13)).details;
  EXPECT_EQ(str(boot1, "unicode_name"), "Boot0001");
  EXPECT_EQ(str(boot1["load_option"], "description"), "UEFI nvme_card-pd");
  EXPECT_EQ(str(boot1["load_option"], "device_path"),
            "PciRoot(0x0)/Pci(0x4,0x0)/NVMe(0x1,00-00-00-00-00-00-00-00)");
  Json boot0 = decode_event(real_event(log, 14)).details;
  EXPECT_EQ(str(boot0["load_option"], "description"), "UiApp");
  EXPECT_EQ(
      str(boot0["load_option"], "device_path"),
      "Fv(7CB8BDC9-F8EB-4F34-AAEA-3EE4AF6516A1)/FvFile(462CAA21-7614-4503-836E-8AB6F4662331)");
  Json authority = decode_event(real_event("trustee/CCEL_data_grub", 17)).details;
  EXPECT_EQ(str(authority, "unicode_name"), "db");
  EXPECT_EQ(str(authority, "signature_owner"), "77fa9abd-0359-4d32-bd60-28f4e78f784b");
  Json sbat = decode_event(real_event("trustee/CCEL_AAEL_alibabacloud", 26)).details;
  EXPECT_EQ(str(sbat, "variable_data_text"), "sbat,1,2021030218\n");
}

TEST(DecodeRealEvents, GptAndImageLoad) {
  const std::string log = "trustee/CCEL_data_gcp";
  Json gpt = decode_event(real_event(log, 17)).details;
  EXPECT_EQ(str(gpt, "signature"), "EFI PART");
  EXPECT_EQ(gpt["number_of_partitions"], 3);
  ASSERT_EQ(gpt["partitions"].size(), 3u) << gpt;
  EXPECT_EQ(gpt["partitions"][0]["name"], "esp");
  EXPECT_EQ(gpt["partitions"][0]["partition_type_guid"], "c12a7328-f81f-11d2-ba4b-00a0c93ec93b");
  EXPECT_EQ(gpt["partitions"][0]["unique_partition_guid"], "cb96a8e9-addc-4be7-b68e-69b6d1ea59cb");
  Json image = decode_event(real_event(log, 18)).details;
  EXPECT_EQ(
      str(image, "device_path"),
      "PciRoot(0x0)/Pci(0x4,0x0)/NVMe(0x1,00-00-00-00-00-00-00-00)/"
      "HD(1,GPT,CB96A8E9-ADDC-4BE7-B68E-69B6D1EA59CB,0x800,0x100000)/\\EFI\\BOOT\\BOOTX64.EFI");
  EXPECT_EQ(image["device_path_length"], 128);
  Json kernel = decode_event(real_event("trustee/CCEL_data_ovmf", 12)).details;
  EXPECT_EQ(str(kernel, "device_path"), "VenMedia(1428F772-B64A-441E-B8C3-9EBDD7F893C7)/kernel");
}

TEST(DecodeRealEvents, IplStrings) {
  Json grub_cmd = decode_event(real_event("cc-trusted-api/ccel_data.bin", 31)).details;
  EXPECT_TRUE(grub_cmd.contains("grub_cmd")) << grub_cmd;
  EXPECT_EQ("grub_cmd: " + str(grub_cmd, "grub_cmd"), str(grub_cmd, "string"));
  Json rhel = decode_event(real_event("trustee/CCEL_AAEL_alibabacloud", 35)).details;
  EXPECT_EQ(str(rhel, "grub_cmd"), "[  ]");
  EXPECT_EQ(str(rhel, "trailing_hex"), "60");  // the stray byte after the NUL
  Json cmdline = decode_event(real_event("trustee/CCEL_AAEL_alibabacloud", 81)).details;
  EXPECT_TRUE(str(cmdline, "kernel_cmdline").starts_with("(hd0,gpt3)/boot/vmlinuz-5.10.134"))
      << cmdline;
  Json mok = decode_event(real_event("trustee/CCEL_data_grub", 20)).details;
  EXPECT_EQ(str(mok, "shim_variable"), "MokList");
  Json gce = decode_event(real_event("trustee/CCEL_data_grub_gke", 25)).details;
  EXPECT_EQ(str(gce, "string"), ".cmdline");
}

TEST(DecodeRealEvents, EventTags) {
  Json load_options = decode_event(real_event("trustee/CCEL_data_ovmf", 17)).details;
  EXPECT_EQ(str(load_options, "tagged_event_id"), "0x8f3b22ed");
  EXPECT_EQ(str(load_options, "string"), "LOADED_IMAGE::LoadOptions");
  Json initrd = decode_event(real_event("trustee/CCEL_data_ovmf", 18)).details;
  EXPECT_EQ(str(initrd, "tag_name"), "Linux initrd");
  const std::string aa = "trustee/CCEL_AAEL_alibabacloud";
  Json text = decode_event(real_event(aa, 86)).details;
  EXPECT_EQ(
      text["aael"],
      Json({{"domain", "coco.com"}, {"operation", "some-operation"}, {"content", "some-content"}}));
  Json json = decode_event(real_event(aa, 87)).details;
  EXPECT_EQ(json["aael"]["content"],
            Json::parse(R"({"key":"value","nested-key":{"sub-key":"value"}})"));
}

TEST(DecodeHandMade, NoActionAndStringTypes) {
  Bytes locality = cat({to_bytes(std::string_view("StartupLocality\0", 16)), {3}});
  Json d = decode_event(make_event(ev::kNoAction, locality)).details;
  EXPECT_EQ(str(d, "kind"), "startup_locality");
  EXPECT_EQ(d["locality"], 3);
  // A CRTM version in UTF-16, a POST code that is a firmware blob, an unknown type.
  EXPECT_EQ(str(decode_event(make_event(ev::kSCrtmVersion, utf16("1.0"))).details, "string"),
            "1.0");
  Json blob =
      decode_event(make_event(ev::kPostCode, cat({le64(0xffc84000), le64(0x1000)}))).details;
  EXPECT_EQ(str(blob, "blob_base"), "0xffc84000");
  EXPECT_EQ(blob["blob_length"], 0x1000);
  Json unknown = decode_event(make_event(0x12345, test::unhex("0102"))).details;
  EXPECT_EQ(unknown, Json({{"hex", "0102"}}));
  Json tables = decode_event(make_event(ev::kEfiHandoffTables,
                                        cat({le64(1), kGlobalVariableGuid, le64(0x7f000000)})))
                    .details;
  EXPECT_EQ(tables["tables"][0]["vendor_guid"], "8be4df61-93ca-11d2-aa0d-00e098032b8c");
  EXPECT_EQ(tables["tables"][0]["vendor_table"], "0x7f000000");
}

// ---- malformed payloads ----

void expect_error(const Event& e, const std::string& field, const std::string& what) {
  DecodedEvent d = decode_event(e);
  ASSERT_TRUE(d.details.contains("error")) << what << ": " << d.details;
  std::string error = d.details["error"].get<std::string>();
  EXPECT_NE(error.find(field), std::string::npos) << what << ": " << error;
  EXPECT_NE(error.find("offset "), std::string::npos) << what << ": " << error;
  EXPECT_EQ(str(d.details, "hex"), hex_encode(e.data)) << what;
}

TEST(DecodeMalformed, UefiVariableData) {
  Bytes truncated = Bytes(kGlobalVariableGuid.begin(), kGlobalVariableGuid.begin() + 10);
  expect_error(make_event(ev::kEfiVariableDriverConfig, truncated), "VariableName",
               "truncated guid");
  Bytes no_lengths = cat({kGlobalVariableGuid, le64(4)});
  expect_error(make_event(ev::kEfiVariableBoot, no_lengths), "VariableDataLength",
               "no data length");
  Bytes long_name = cat({kGlobalVariableGuid, le64(1000), le64(0), utf16("PK", false)});
  expect_error(make_event(ev::kEfiVariableDriverConfig, long_name), "UnicodeName", "name too long");
  // A length whose byte count overflows 64 bits.
  Bytes huge_name =
      cat({kGlobalVariableGuid, le64(0x8000000000000001ULL), le64(0), utf16("PK", false)});
  expect_error(make_event(ev::kEfiVariableDriverConfig, huge_name), "UnicodeName", "huge name");
  Bytes long_data = cat({kGlobalVariableGuid, le64(2), le64(50), utf16("PK", false), {1, 2}});
  expect_error(make_event(ev::kEfiVariableBoot, long_data), "VariableData", "data too long");
  Json partial = decode_event(make_event(ev::kEfiVariableBoot, long_data)).details;
  EXPECT_EQ(str(partial, "unicode_name"), "PK");  // what decoded before the error stays
  Bytes odd_order = uefi_variable(kGlobalVariableGuid, "BootOrder", {1, 0, 2});
  expect_error(make_event(ev::kEfiVariableBoot, odd_order), "BootOrder", "odd BootOrder");
  Bytes no_nul =
      uefi_variable(kGlobalVariableGuid, "Boot0001", cat({le32(1), le16(4), utf16("ab", false)}));
  expect_error(make_event(ev::kEfiVariableBoot, no_nul), "EFI_LOAD_OPTION.Description", "no NUL");
  Bytes bad_list =
      uefi_variable(kGlobalVariableGuid, "PK", cat({Bytes(16, 0), le32(27), le32(0), le32(16)}));
  expect_error(make_event(ev::kEfiVariableDriverConfig, bad_list), "EFI_SIGNATURE_LIST",
               "short list");
}

TEST(DecodeMalformed, WholeDataRuleStillAppliesWhenTheStructureIsBroken) {
  Bytes broken = cat({kGlobalVariableGuid, le64(1000)});
  Bytes digest = sha384(broken);
  Event e = make_event(ev::kEfiVariableDriverConfig, broken, {{tpm_alg::kSha384, digest}});
  DecodedEvent d = decode_event(e);
  EXPECT_TRUE(d.details.contains("error"));
  EXPECT_EQ(d.digest_check, DigestCheck::match);
  // VARIABLE_BOOT's rule needs the VariableData it cannot find.
  Event boot = make_event(ev::kEfiVariableBoot, broken, {{tpm_alg::kSha384, digest}});
  EXPECT_EQ(decode_event(boot).digest_check, DigestCheck::not_applicable);
}

TEST(DecodeMalformed, DevicePathNodeLengths) {
  Bytes root = node(2, 1, cat({le32(0x0a0341d0), le32(0)}));
  for (const char* bad : {"04040000", "04040200", "0404ffff", "0404"}) {
    Bytes path = cat({root, test::unhex(bad)});
    Bytes image = cat({le64(0x1000), le64(0x2000), le64(0), le64(path.size()), path});
    expect_error(make_event(ev::kEfiBootServicesApplication, image), "DevicePath at offset 44",
                 std::string("node ") + bad);
    Json d = decode_event(make_event(ev::kEfiBootServicesApplication, image)).details;
    EXPECT_EQ(str(d, "device_path"), "PciRoot(0x0)/<truncated>") << bad;
  }
  Bytes short_path = cat({le64(0x1000), le64(0x2000), le64(0), le64(64), root});
  expect_error(make_event(ev::kEfiBootServicesApplication, short_path), "DevicePath",
               "path length");
  // FilePathList of 8 bytes whose first node claims length 0.
  Bytes load_option =
      uefi_variable(kGlobalVariableGuid, "Boot0002",
                    cat({le32(1), le16(8), utf16("x"), test::unhex("0101000000000000")}));
  expect_error(make_event(ev::kEfiVariableBoot, load_option), "FilePathList", "load option path");
}

TEST(DecodeMalformed, TaggedEventSizeBeyondData) {
  Bytes tagged = cat({le32(0x4141454C), le32(100), to_bytes("a b c")});
  Event e = make_event(ev::kEventTag, tagged);
  Bytes digest = sha384(tagged);
  e.digests = {{tpm_alg::kSha384, digest}};
  expect_error(e, "taggedEventData", "size 100");
  // The AAEL digest covers the whole tagged event, so it is still checked.
  EXPECT_EQ(decode_event(e).digest_check, DigestCheck::match);
  expect_error(make_event(ev::kEventTag, test::unhex("ed223b")), "taggedEventID", "3 bytes");
  Bytes one_field = cat({le32(0x4141454C), le32(6), to_bytes("domain")});
  expect_error(make_event(ev::kEventTag, one_field), "AAEL", "one field");
}

TEST(DecodeMalformed, OtherStructures) {
  Bytes gpt_header =
      cat({to_bytes("EFI PART"), le32(0x10000), le32(92), Bytes(8, 0), le64(1), le64(2), le64(34),
           le64(100), Bytes(16, 0), le64(2), le32(128), le32(128), le32(0)});
  expect_error(make_event(ev::kEfiGptEvent, cat({gpt_header, le64(1000000)})),
               "GPT.NumberOfPartitions", "partition count");
  expect_error(make_event(ev::kEfiGptEvent, Bytes(gpt_header.begin(), gpt_header.begin() + 50)),
               "GPT.Header", "short header");
  Bytes small_entries = gpt_header;
  small_entries[84] = 64;  // SizeOfPartitionEntry
  expect_error(make_event(ev::kEfiGptEvent, cat({small_entries, le64(1), Bytes(64, 0)})),
               "SizeOfPartitionEntry", "entry size");
  expect_error(make_event(ev::kEfiHandoffTables, cat({le64(0xffffffffffffffffULL), Bytes(24, 0)})),
               "NumberOfTables", "table count");
  expect_error(make_event(ev::kEfiHandoffTables2, cat({{40}, to_bytes("TdxTable")})),
               "TableDescription", "description size");
  expect_error(make_event(ev::kEfiPlatformFirmwareBlob2, cat({{3}, to_bytes("abc"), le64(1)})),
               "BlobLength", "blob2 length");
  expect_error(make_event(ev::kEfiPlatformFirmwareBlob, le64(1)), "BlobLength", "blob length");
  expect_error(make_event(ev::kEfiBootServicesDriver, le64(1)), "ImageLengthInMemory", "image");
  Bytes spec_id = cat({to_bytes(std::string_view("Spec ID Event03\0", 16)),
                       le32(0),
                       {0, 2, 0, 2},
                       le32(0x7fffffff)});
  expect_error(make_event(ev::kNoAction, spec_id), "SpecID.numberOfAlgorithms", "spec id");
  Bytes sp800 = cat({to_bytes("SP800-155 Event3"), le32(1), Bytes(16, 0), {200}, to_bytes("x")});
  expect_error(make_event(ev::kNoAction, sp800), "platformManufacturerStr", "sp800-155");
  expect_error(make_event(ev::kNoAction, to_bytes(std::string_view("StartupLocality\0", 16))),
               "StartupLocality.locality", "locality");
}

// Every prefix and many one-byte mutations of every real event: no crash, details always an object
// that serialises (valid UTF-8), errors always name an offset.
TEST(DecodeMalformed, TruncatedAndMutatedRealEventsNeverBreakTheDecoder) {
  std::mt19937 rng(7);
  size_t decoded = 0;
  for (const auto& name : kRealLogs) {
    const LoadedLog& loaded = load(name);
    ASSERT_EQ(loaded.error, "") << name;
    for (const Event& e : loaded.log.events) {
      const std::string at = where(name, e.number);
      Bytes data(e.data.begin(), e.data.end());
      auto run = [&](ByteView bytes, const std::string& how) {
        Event copy = e;
        copy.data = bytes;
        DecodedEvent d = decode_event(copy);
        ++decoded;
        ASSERT_TRUE(d.details.is_object()) << at << " " << how;
        EXPECT_NO_THROW((void)d.details.dump()) << at << " " << how;
        if (d.details.contains("error")) {
          EXPECT_NE(str(d.details, "error").find("offset"), std::string::npos) << at << " " << how;
        }
      };
      size_t step = data.size() <= 512 ? 1 : data.size() / 64;
      for (size_t n = 0; n < data.size(); n += step)
        run(ByteView(data).first(n), "prefix " + std::to_string(n));
      for (int k = 0; k < 24 && !data.empty(); ++k) {
        Bytes mutated = data;
        size_t at_byte = rng() % std::min<size_t>(mutated.size(), 160);
        mutated[at_byte] = static_cast<uint8_t>(rng());
        run(mutated, "byte " + std::to_string(at_byte) + " = " + std::to_string(mutated[at_byte]));
      }
    }
  }
  EXPECT_GT(decoded, 10000u);
}

}  // namespace
}  // namespace acon::eventlog
