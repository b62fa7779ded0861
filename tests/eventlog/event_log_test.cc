// Reader and replay on every real log in tests/data/eventlog (expected values: expected.json,
// sources in tests/data/SOURCES.md), plus malformed inputs.
#include "acon/eventlog/event_log.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <set>

#include "acon/common/json.h"
#include "acon/common/reader.h"
#include "acon/eventlog/replay.h"
#include "acon/eventlog/runtime.h"
#include "test_util.h"

namespace acon::eventlog {
namespace {

const Json& expected() {
  static const Json j = [] {
    auto parsed = parse_json(test::read_data("eventlog/expected.json"));
    return parsed ? *parsed : Json::object();
  }();
  return j;
}

std::vector<std::string> log_names() {
  std::vector<std::string> names;
  for (auto it = expected()["logs"].begin(); it != expected()["logs"].end(); ++it)
    names.push_back(it.key());
  return names;
}

ParseOptions options_for(const std::string&) { return {}; }

// Register values of a TD quote (v4 body at 48, v5 at 54): MRTD, then RTMR0..3 by CC MR index.
std::map<uint32_t, Bytes> quote_registers(ByteView quote) {
  ByteReader r(quote);
  uint16_t version = *r.u16("version");
  size_t body = version == 5 ? 54 : 48;
  std::map<uint32_t, Bytes> regs;
  regs[0] = Bytes(quote.begin() + body + 136, quote.begin() + body + 184);
  for (uint32_t i = 0; i < 4; ++i) {
    size_t off = body + 328 + 48 * i;
    regs[i + 1] = Bytes(quote.begin() + off, quote.begin() + off + 48);
  }
  return regs;
}

class RealLog : public ::testing::TestWithParam<std::string> {};

TEST_P(RealLog, ParsesAndReplaysToTheExpectedRegisters) {
  const std::string name = GetParam();
  const Json& want = expected()["logs"][name];
  Bytes bytes = test::read_data_bytes("eventlog/" + name);
  ASSERT_EQ(bytes.size(), want["size"].get<size_t>()) << name;
  auto log = parse_event_log(bytes, options_for(name));
  ASSERT_TRUE(log.ok()) << name << ": " << log.error().to_string();

  EXPECT_EQ(log->end_offset, want["log_end_offset"].get<size_t>()) << name;
  EXPECT_EQ(log->events.size() - 1, want["events_after_header"].get<size_t>()) << name;
  EXPECT_EQ(log->events[0].index, want["first_record_index_field"].get<uint32_t>()) << name;
  ASSERT_TRUE(log->fill.has_value()) << name;
  EXPECT_EQ(*log->fill, want["padding_byte"] == "0xff" ? 0xff : 0x00) << name;
  size_t no_action = 0;
  for (size_t i = 1; i < log->events.size(); ++i) no_action += log->events[i].type == ev::kNoAction;
  EXPECT_EQ(no_action, want["ev_no_action_events"].get<size_t>()) << name;

  const Json& spec = want["specid"];
  EXPECT_EQ(log->spec_id.spec_errata, spec["specErrata"].get<int>()) << name;
  EXPECT_EQ(log->spec_id.vendor_info.size(), spec["vendorInfoSize"].get<size_t>()) << name;
  ASSERT_EQ(log->spec_id.algorithms.size(), spec["algorithms"].size()) << name;

  Replayer replayer;
  ASSERT_TRUE(replay(*log, replayer).ok());
  for (auto bank = want["expected_replay"].begin(); bank != want["expected_replay"].end(); ++bank) {
    auto alg = hash_from_name(bank.key());
    ASSERT_TRUE(alg.has_value()) << bank.key();
    for (uint32_t index = 0; index <= 4; ++index) {
      std::string key = std::to_string(index);
      std::string expect = bank.value().contains(key) ? bank.value()[key].get<std::string>()
                                                      : std::string(2 * hash_size(*alg), '0');
      EXPECT_EQ(hex_encode(replayer.value(index, *alg)), expect) << name << " MR index " << index;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Corpus, RealLog, ::testing::ValuesIn(log_names()),
                         [](const auto& param_info) {
                           std::string n = param_info.param;
                           for (char& c : n) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return n;
                         });

// docs/eventlog-formats.md §10: RTMR0/1 equal the CCEL replay, RTMR2 additionally needs the IMA
// runtime log, RTMR3 stays zero.
TEST(QuotePair, CcTrustedApiCcelPlusImaEqualsQuote) {
  Bytes ccel = test::read_data_bytes("eventlog/cc-trusted-api/ccel_data.bin");
  Bytes quote = test::read_data_bytes("eventlog/cc-trusted-api/quote.bin");
  auto log = parse_event_log(ccel);
  ASSERT_TRUE(log.ok());
  Replayer replayer;
  ASSERT_TRUE(replay(*log, replayer).ok());
  auto regs = quote_registers(quote);
  EXPECT_EQ(replayer.value(1, HashAlg::sha384), regs[1]);
  EXPECT_EQ(replayer.value(2, HashAlg::sha384), regs[2]);
  EXPECT_NE(replayer.value(3, HashAlg::sha384), regs[3]);  // not without IMA

  auto ima = parse_ima_log(test::read_data("eventlog/cc-trusted-api/ima_log.bin"));
  ASSERT_TRUE(ima.ok()) << ima.error().to_string();
  ASSERT_EQ(ima->size(), 1u);
  EXPECT_EQ((*ima)[0].pcr, 2u);  // cc-trusted-api kernels write the RTMR number
  EXPECT_EQ((*ima)[0].path, "boot_aggregate");
  for (const auto& e : *ima)
    ASSERT_TRUE(replayer.extend(e.pcr + 1, HashAlg::sha384, e.template_hash).ok());
  EXPECT_EQ(replayer.value(3, HashAlg::sha384), regs[3]);
  EXPECT_EQ(hex_encode(regs[3]).substr(0, 8), "247eed9f");
  EXPECT_EQ(regs[4], Bytes(48, 0));
}

TEST(QuotePair, LegacyTextAaelEqualsQuoteRtmr3) {
  auto aael = parse_text_aael(test::read_data("eventlog/trustee_aael_legacy/AAEL_data_1"));
  ASSERT_TRUE(aael.ok()) << aael.error().to_string();
  Bytes quote = test::read_data_bytes("eventlog/trustee_aael_legacy/AAEL_quote_tdx");
  EXPECT_EQ(replay_text_aael(*aael), quote_registers(quote)[4]);
}

TEST(TextAael, EveryLegacyLogReplaysToItsExpectedValue) {
  const Json& logs = expected()["legacy_text_aael"];
  ASSERT_GE(logs.size(), 3u);
  for (auto it = logs.begin(); it != logs.end(); ++it) {
    auto aael = parse_text_aael(test::read_data("eventlog/" + it.key()));
    ASSERT_TRUE(aael.ok()) << it.key();
    EXPECT_EQ(aael->lines.size() + 1, it.value()["lines"].size()) << it.key();
    EXPECT_EQ(hex_encode(replay_text_aael(*aael)), it.value()["expected_rtmr3"].get<std::string>())
        << it.key();
  }
}

// ---- malformed input ----

Bytes small_log() {
  Bytes b = test::read_data_bytes("eventlog/trustee/CCEL_data_ovmf");
  b.resize(2120);  // its end offset: no fill after it
  return b;
}

TEST(Malformed, TruncationAtEveryOffsetIsAnErrorOrAShorterLog) {
  Bytes log = small_log();
  auto full = parse_event_log(log);
  ASSERT_TRUE(full.ok());
  std::set<size_t> boundaries;
  for (const auto& e : full->events) boundaries.insert(e.offset + e.size);
  for (size_t n = 0; n < log.size(); ++n) {
    auto cut = parse_event_log(ByteView(log).first(n));
    if (boundaries.count(n)) {
      ASSERT_TRUE(cut.ok()) << n;
      EXPECT_EQ(cut->end_offset, n);
    } else {
      ASSERT_FALSE(cut.ok()) << "truncated at " << n;
      EXPECT_EQ(cut.error().code, Errc::parse);
      if (n >= 32 + 33) {
        EXPECT_NE(cut.error().message.find("event "), std::string::npos) << cut.error().message;
        EXPECT_NE(cut.error().message.find("offset"), std::string::npos) << cut.error().message;
      }
    }
  }
}

// Offsets inside the first TCG_PCR_EVENT2 record of the OVMF log (header record is 65 bytes).
constexpr size_t kFirst = 65;
void put32(Bytes& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<uint8_t>(v >> (8 * i));
}

TEST(Malformed, DigestCountZeroOrHuge) {
  for (uint32_t count : {0u, 2u, 0xffffffffu}) {
    Bytes log = small_log();
    put32(log, kFirst + 8, count);
    auto r = parse_event_log(log);
    ASSERT_FALSE(r.ok()) << count;
    EXPECT_NE(r.error().message.find("digests.count"), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("event 1"), std::string::npos) << r.error().message;
  }
}

TEST(Malformed, EventSizeBeyondTheBuffer) {
  Bytes log = small_log();
  put32(log, kFirst + 12 + 2 + 48, 0x7fffffff);
  auto r = parse_event_log(log);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("event 1: event: needs 2147483647 bytes at offset"),
            std::string::npos)
      << r.error().message;
}

TEST(Malformed, AlgorithmNotInSpecIdTable) {
  Bytes log = small_log();
  log[kFirst + 12] = 0x0b;  // sha256, but the table lists only sha384
  auto r = parse_event_log(log);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("not in the Spec ID table"), std::string::npos)
      << r.error().message;
}

TEST(Malformed, SpecIdWithBadSizes) {
  struct Case {
    size_t offset;
    uint8_t value;
    const char* why;
  } cases[] = {
      {32 + 28 + 2, 20, "sha384 must be 48"},  // digestSize of sha384 wrong
      {32 + 28 + 2, 0, "not in 1..64"},        // zero digest size
      {32 + 24, 0, "numberOfAlgorithms"},      // zero algorithms
      {32 + 24, 200, "numberOfAlgorithms"},    // absurd count
      {28, 40, "beyond vendorInfo"},           // eventSize larger than the Spec ID
      {28, 10, "too small"},                   // eventSize smaller than any Spec ID
      {32 + 3, 'X', "signature"},              // signature altered
      {4, 1, "EV_NO_ACTION"},                  // header type not EV_NO_ACTION
  };
  for (const auto& c : cases) {
    Bytes log = small_log();
    log[c.offset] = c.value;
    auto r = parse_event_log(log);
    ASSERT_FALSE(r.ok()) << c.why;
    EXPECT_NE(r.error().message.find(c.why), std::string::npos) << r.error().message;
  }
}

TEST(Malformed, UnknownEventTypeIsKeptNotRejected) {
  Bytes log = small_log();
  put32(log, kFirst + 4, 0x12345678);
  auto r = parse_event_log(log);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->events[1].type, 0x12345678u);
  EXPECT_EQ(event_type_name(0x12345678), "UNKNOWN_0x12345678");
}

TEST(Malformed, SyntheticZeroSignatureHeaderNeedsTheOption) {
  Bytes log = small_log();
  std::fill(log.begin() + 32, log.begin() + 48, 0);
  EXPECT_FALSE(parse_event_log(log).ok());
  EXPECT_TRUE(parse_event_log(log, {.allow_zero_signature = true}).ok());
}

TEST(CcelTable, ParsesFieldsAndChecksum) {
  Bytes t(56, 0);
  std::memcpy(t.data(), "CCEL", 4);
  put32(t, 4, 56);
  t[8] = 1;
  std::memcpy(t.data() + 10, "INTEL EDK2    ", 14);
  put32(t, 24, 2);
  std::memcpy(t.data() + 28, "    ", 4);
  put32(t, 32, 0x01000013);
  t[36] = 2;
  put32(t, 40, 0x10000);
  put32(t, 48, 0x7f000000);
  uint8_t sum = 0;
  for (uint8_t b : t) sum = static_cast<uint8_t>(sum + b);
  t[9] = static_cast<uint8_t>(0x100 - sum);
  auto table = parse_ccel_table(t);
  ASSERT_TRUE(table.ok()) << table.error().to_string();
  EXPECT_TRUE(table->checksum_valid);
  EXPECT_EQ(table->cc_type, 2);
  EXPECT_EQ(cc_type_name(table->cc_type), "TDX");
  EXPECT_EQ(table->laml, 0x10000u);
  EXPECT_EQ(table->lasa, 0x7f000000u);
  EXPECT_EQ(table->oem_id, "INTEL ");
  t[50] ^= 1;
  EXPECT_FALSE(parse_ccel_table(t)->checksum_valid);
  EXPECT_FALSE(parse_ccel_table(ByteView(t).first(55)).ok());
  put32(t, 4, 40);
  EXPECT_FALSE(parse_ccel_table(t).ok());
  t[0] = 'X';
  EXPECT_FALSE(parse_ccel_table(t).ok());
}

}  // namespace
}  // namespace acon::eventlog

namespace acon::eventlog {
namespace {

// A vTPM-style log with three banks, written by our writer: our replay per PCR and bank must
// equal the definition, and tpm2-tools' tpm2_eventlog (an independent parser) must agree.
TEST(Writer, MultiBankPcrLogReplaysAndTpm2EventlogAgrees) {
  const HashAlg banks[] = {HashAlg::sha1, HashAlg::sha256, HashAlg::sha384};
  auto header = spec_id_record(banks, 0);
  ASSERT_TRUE(header.ok());
  Bytes log = *header;
  struct Item {
    uint32_t pcr;
    uint32_t type;
    std::string data;
  } items[] = {{0, ev::kSCrtmVersion, std::string("1.0\0", 4)},
               {7, ev::kEfiAction, "Exit Boot Services Invocation"},
               {4, ev::kSeparator, std::string(4, '\0')},
               {0, ev::kNoAction, "StartupLocality"},
               {7, ev::kEfiAction, "Exit Boot Services Returned with Success"}};
  // `want` skips EV_NO_ACTION as the spec requires; tpm2-tools 5.4 extends it anyway (its bug,
  // fixed upstream in PR #3230), so `tpm2_5_4` models that to compare with the installed tool.
  std::map<std::pair<uint32_t, HashAlg>, Bytes> want, tpm2_5_4;
  auto extend = [](auto& regs, uint32_t pcr, HashAlg b, ByteView data) {
    auto& reg = regs.try_emplace({pcr, b}, Bytes(hash_size(b), 0)).first->second;
    Bytes concat = reg;
    append(concat, *digest(b, data));
    reg = *digest(b, concat);
  };
  for (const auto& it : items) {
    auto rec = measured_record(it.pcr, it.type, banks, as_bytes(it.data));
    ASSERT_TRUE(rec.ok());
    append(log, *rec);
    for (HashAlg b : banks) {
      if (it.type != ev::kNoAction) extend(want, it.pcr, b, as_bytes(it.data));
      extend(tpm2_5_4, it.pcr, b, as_bytes(it.data));
    }
  }
  EXPECT_NE(want, tpm2_5_4);
  auto parsed = parse_event_log(log);
  ASSERT_TRUE(parsed.ok()) << parsed.error().to_string();
  EXPECT_EQ(parsed->events.size(), 6u);
  EXPECT_EQ(parsed->spec_id.algorithms.size(), 3u);
  Replayer replayer;
  ASSERT_TRUE(replay(*parsed, replayer).ok());
  EXPECT_EQ(replayer.registers(), want);

  // tpm2_eventlog prints "pcrs:" then "  <bank>:" then "    %-2d : 0x<hex>".
  char path[] = "/tmp/acon-tcg2-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, log.data(), log.size()), static_cast<ssize_t>(log.size()));
  close(fd);
  std::string cmd = std::string("tpm2_eventlog ") + path + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  for (int c; (c = std::fgetc(p)) != EOF;) out.push_back(static_cast<char>(c));
  int rc = pclose(p);
  std::remove(path);
  ASSERT_EQ(rc, 0) << out;
  size_t checked = 0;
  for (const auto& [key, value] : tpm2_5_4) {
    std::string bank = key.second == HashAlg::sha1 ? "sha1" : std::string(hash_name(key.second));
    size_t at = out.find("  " + bank + ":\n", out.find("pcrs:"));
    ASSERT_NE(at, std::string::npos) << bank << "\n" << out;
    std::string hex = hex_encode(value);
    std::string pcr = std::to_string(key.first);
    pcr.resize(2, ' ');
    size_t next_bank = out.find(":\n", at + bank.size() + 4);
    std::string section =
        out.substr(at, next_bank == std::string::npos ? std::string::npos : next_bank - at);
    EXPECT_NE(section.find("    " + pcr + " : 0x" + hex), std::string::npos)
        << bank << " PCR" << key.first << "\n"
        << out;
    ++checked;
  }
  EXPECT_EQ(checked, 9u);
}

TEST(Writer, RejectsWhatCannotBeEncoded) {
  EXPECT_FALSE(spec_id_record({}).ok());
  EXPECT_FALSE(event2_record(1, ev::kEfiAction, {}, Bytes{1}).ok());
  const HashAlg one[] = {HashAlg::sha384};
  EXPECT_FALSE(spec_id_record(one, 0, Bytes(256, 1)).ok());
}

}  // namespace
}  // namespace acon::eventlog
