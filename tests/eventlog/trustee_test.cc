// trustee_uefi_event_logs (trustee.h) against Trustee's own parse output for the same logs
// (tests/data/eventlog/trustee/*_out.json, trustee @ 78962cd4 deps/eventlog/test_data): the whole
// uefi_event_logs array must be equal, key for key. Plus the rules where Trustee refuses a log.
#include "acon/eventlog/trustee.h"

#include <gtest/gtest.h>

#include <string>

#include "acon/common/hash.h"
#include "test_util.h"

namespace acon::eventlog {
namespace {

class TrusteeEntries : public ::testing::TestWithParam<std::string> {};

TEST_P(TrusteeEntries, EqualTrusteesOutput) {
  const std::string name = GetParam();
  Bytes bytes = test::read_data_bytes("eventlog/trustee/" + name);
  auto log = parse_event_log(bytes);
  ASSERT_TRUE(log.ok()) << log.error().to_string();
  auto entries = trustee_uefi_event_logs(*log);
  ASSERT_TRUE(entries.ok()) << entries.error().to_string();
  auto oracle = parse_json(test::read_data("eventlog/trustee/" + name + "_out.json"));
  ASSERT_TRUE(oracle.ok());
  const Json& want = (*oracle)["uefi_event_logs"];
  ASSERT_EQ(entries->size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ((*entries)[i], want[i])
        << name << " entry " << i << "\nours:   " << (*entries)[i].dump()
        << "\ntheirs: " << want[i].dump();
  }
}

INSTANTIATE_TEST_SUITE_P(TrusteeOutJson, TrusteeEntries,
                         ::testing::Values("CCEL_data", "CCEL_data_ovmf", "CCEL_data_grub",
                                           "CCEL_data_grub_gke", "CCEL_data_csv",
                                           "CCEL_AAEL_alibabacloud"));

// Trustee parses this GCE log in its replay tests but has no _out.json for it.
TEST(TrusteeEntries, GceLogIsAccepted) {
  Bytes bytes = test::read_data_bytes("eventlog/trustee/CCEL_data_gcp");
  auto log = parse_event_log(bytes);
  ASSERT_TRUE(log.ok());
  auto entries = trustee_uefi_event_logs(*log);
  ASSERT_TRUE(entries.ok()) << entries.error().to_string();
  EXPECT_EQ(entries->size(), log->events.size() - 1);
}

Event event_of(uint32_t type, ByteView data, std::vector<Digest> digests = {}) {
  Event e{};
  e.number = 7;
  e.index = 3;
  e.type = type;
  e.data = data;
  e.digests = std::move(digests);
  return e;
}

// An EV_EFI_BOOT_SERVICES_APPLICATION event whose device path is one node plus the end node.
Bytes image_load_with_node(uint8_t type, uint8_t sub, const Bytes& node_data) {
  Bytes path = {type, sub, static_cast<uint8_t>(node_data.size() + 4), 0};
  path.insert(path.end(), node_data.begin(), node_data.end());
  path.insert(path.end(), {0x7f, 0xff, 0x04, 0x00});
  Bytes event(32, 0);
  event[24] = static_cast<uint8_t>(path.size());
  event.insert(event.end(), path.begin(), path.end());
  return event;
}

// Node texts from the unit tests of Trustee's device path parsers (trustee @ 78962cd4
// deps/eventlog/src/ccel/device_paths/*.rs): the same node bytes must give the same text.
TEST(TrusteeEntries, DevicePathNodesPrintAsTrusteePrintsThem) {
  struct Case {
    uint8_t type, sub;
    const char* hex;
    const char* text;
  };
  const Case cases[] = {
      {1, 1, "0001", "Pci(0,1)"},
      {2, 1, "d041030a02000000", "ACPI(PNP0A03,2)"},
      {3, 5, "0000", "USB(0,0)"},
      {3, 0x0b, "001320f5fa77000000000000000000000000000000000000000000000000000001",
       "Mac(001320F5FA77,0x01)"},
      {3, 0x0c, "0100A8C06400A8C00000BC0C0600010000000000000000",
       "IPv4(192.168.0.100,TCP,Static,192.168.0.1)"},
      {3, 0x15, "00010203040506070001020304050607",
       "FibreEx(0x0001020304050607,0x0001020304050607)"},
      {4, 1, "0f000000002800000000000000500300000000005e27f1007553d5439eb5de2add4c99320202",
       "HD(15,GPT,00F1275E-5375-43D5-9EB5-DE2ADD4C9932,0x2800,0x35000)"},
      {4, 1, "00000000000000000000000000000000000000000000000000000000431202a0000000000101",
       "HD(0,MBR,0x00000000)"},
      {4, 1, "01000000000800000000000000E02E0000000000431202a000000000431202a0000000000101",
       "HD(1,MBR,0xa0021243,0x800,0x2ee000)"},
      {4, 3, "f8d1c555cd04b5468a20e56cbb3052d0", "VenMedia(55C5D1F8-04CD-46B5-8A20-E56CBB3052D0,)"},
      {4, 4, "6b00650072006e0065006c000000", "File(kernel)"},
      {5, 1, "0500000000", "BBS(USB,,0)"},
      {5, 1, "F0FF000000", "BBS(65520,,0)"},
      {5, 1, "8000000041424300", "BBS(DEV,ABC,0)"},
      // Parsers that reject the node leave the generic form, in decimal.
      {1, 2, "0000", "Path(1,2,0000)"},
      {3, 0x0b, "0013", "Path(3,11,0013)"},
  };
  for (const Case& c : cases) {
    Bytes node = *hex_decode(c.hex);
    Bytes data = image_load_with_node(c.type, c.sub, node);
    auto entry = trustee_event_entry(event_of(ev::kEfiBootServicesApplication, data));
    ASSERT_TRUE(entry.ok()) << c.text << ": " << entry.error().to_string();
    EXPECT_EQ((*entry)["details"], (Json{{"device_paths", {c.text}}})) << c.hex;
  }
  // A path too short for a node header, and a node longer than the path, are refused.
  Bytes truncated = image_load_with_node(4, 4, {});
  truncated[24] = 6;
  EXPECT_FALSE(trustee_event_entry(event_of(ev::kEfiBootServicesApplication, truncated)).ok());
  Bytes overlong = image_load_with_node(1, 1, {0, 1});
  overlong[34] = 40;
  EXPECT_FALSE(trustee_event_entry(event_of(ev::kEfiBootServicesApplication, overlong)).ok());
}

TEST(TrusteeEntries, RefusesWhatTrusteeRefuses) {
  const Bytes bad_utf8 = {0x41, 0xFF};
  auto action = trustee_event_entry(event_of(ev::kEfiAction, bad_utf8));
  ASSERT_FALSE(action.ok());
  EXPECT_NE(action.error().message.find("event 7"), std::string::npos);
  EXPECT_FALSE(trustee_event_entry(event_of(0x1234, {})).ok());

  const Bytes data = {0x01, 0x02};
  Bytes sha1(20, 0);
  EXPECT_FALSE(trustee_event_entry(event_of(ev::kSeparator, data, {{tpm_alg::kSha1, sha1}})).ok());

  // A variable whose name runs past the data.
  Bytes variable(32, 0);
  variable[16] = 9;
  auto var = trustee_event_entry(event_of(ev::kEfiVariableBoot, variable));
  ASSERT_FALSE(var.ok());
  EXPECT_NE(var.error().message.find("UnicodeName at offset 32"), std::string::npos);
}

TEST(TrusteeEntries, DigestStopsAtFirstMismatchAndRulesOfSmallTypes) {
  const Bytes data = {0x00, 0x00, 0x00, 0x00};
  Bytes good = sha384(data);
  Bytes bad = good;
  bad[0] ^= 1;
  auto ok = trustee_event_entry(event_of(ev::kSeparator, data, {{tpm_alg::kSha384, good}}));
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE((*ok)["digest_matches_event"].get<bool>());
  EXPECT_EQ((*ok)["details"], Json::object());
  EXPECT_EQ((*ok)["event"], "AAAAAA==");
  EXPECT_EQ((*ok)["type_name"], "EV_SEPARATOR");
  // SHA-1 after a mismatch is never reached, as in Trustee.
  Bytes sha1(20, 0);
  auto mismatch = trustee_event_entry(
      event_of(ev::kSeparator, data, {{tpm_alg::kSha384, bad}, {tpm_alg::kSha1, sha1}}));
  ASSERT_TRUE(mismatch.ok());
  EXPECT_FALSE((*mismatch)["digest_matches_event"].get<bool>());

  // EV_IPL: GCE UTF-16 names, NUL cut, hex when not UTF-8.
  const Bytes gce = {0x2e, 0x00, 'l', 0, 'i', 0, 'n', 0, 'u', 0, 'x', 0, 0, 0};
  EXPECT_EQ((*trustee_event_entry(event_of(ev::kIpl, gce)))["details"]["string"], "linux");
  const Bytes cut = {'M', 'o', 'k', 0, 'X'};
  EXPECT_EQ((*trustee_event_entry(event_of(ev::kIpl, cut)))["details"]["string"], "Mok");
  const Bytes binary = {0xC3, 0x28, 0x00};
  EXPECT_EQ((*trustee_event_entry(event_of(ev::kIpl, binary)))["details"]["string"], "c32800");
  // Firmware blob description: the length byte counts the NUL, which is left out.
  const Bytes blob = {0x09, 'T', 'd', 'x', 'T', 'a', 'b', 'l', 'e', 0x00, 0x01};
  EXPECT_EQ((*trustee_event_entry(event_of(ev::kEfiHandoffTables2, blob)))["details"]["string"],
            "TdxTable");
  // Platform config flags: DLE becomes a space, other controls go, invalid UTF-8 gives "".
  const Bytes flags = {'a', 0x10, 'b', 0x01, 'c'};
  EXPECT_EQ((*trustee_event_entry(event_of(ev::kPlatformConfigFlags, flags)))["details"]["string"],
            "a bc");
  EXPECT_EQ((*trustee_event_entry(
                event_of(ev::kPlatformConfigFlags, Bytes{0x61, 0xFF})))["details"]["string"],
            "");
}

// An AAEL record's content is kept as JSON when it parses as JSON and as the text otherwise;
// the parser is skipped for text that no JSON value can begin with, which must not change that.
TEST(TrusteeEntries, AaelContentIsJsonWhenItParsesElseText) {
  auto content_of = [](std::string_view record) {
    Bytes data = {0x4C, 0x45, 0x41, 0x41};  // the AAEL tag, little-endian
    const auto size = static_cast<uint32_t>(record.size());
    for (int shift = 0; shift < 32; shift += 8) data.push_back(static_cast<uint8_t>(size >> shift));
    data.insert(data.end(), record.begin(), record.end());
    auto entry = trustee_event_entry(event_of(ev::kEventTag, data));
    EXPECT_TRUE(entry.ok()) << record;
    return entry.ok() ? (*entry)["details"]["data"]["content"] : Json();
  };
  EXPECT_EQ(content_of("d op {\"a\":1}"), Json({{"a", 1}}));
  EXPECT_EQ(content_of("d op \t[1,2]"), Json({1, 2}));
  EXPECT_EQ(content_of("d op -7"), Json(-7));
  EXPECT_EQ(content_of("d op null"), Json(nullptr));
  EXPECT_EQ(content_of("d op registry.example/app:0"), Json("registry.example/app:0"));
  EXPECT_EQ(content_of("d op nope"), Json("nope"));  // begins like null, is not JSON
  EXPECT_EQ(content_of("d op {\"a\":"), Json("{\"a\":"));
  EXPECT_EQ(content_of("d op "), Json(""));
  EXPECT_EQ(content_of("d op  "), Json(" "));
}

}  // namespace
}  // namespace acon::eventlog
