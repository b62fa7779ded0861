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

}  // namespace
}  // namespace acon::eventlog
