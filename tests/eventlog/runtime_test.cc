// Runtime logs: text AAEL, TCG2 AAEL, IMA — readers, and writers checked against the byte
// vectors of ACON and CoCo (tests/data/acon/vectors.json; sources in tests/data/SOURCES.md).
#include "acon/eventlog/runtime.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>

#include "acon/common/hash.h"
#include "acon/common/json.h"
#include "acon/eventlog/event_log.h"
#include "test_util.h"

namespace acon::eventlog {
namespace {

const Json& vectors() {
  static const Json j = [] {
    auto parsed = parse_json(test::read_data("acon/vectors.json"));
    return parsed ? *parsed : Json::object();
  }();
  return j;
}

// ACON's acond writes INIT (all zero), AddManifest <ImageID>, Finalize; aconcli replays them.
TEST(AconRtmr3, WriterReproducesAconLinesAndReplay) {
  const Json& v = vectors()["rtmr3_replay"];
  ASSERT_EQ(v["steps"].size(), 3u);
  std::string log = text_aael_init_line(HashAlg::sha384, Bytes(48, 0));
  auto manifest =
      text_aael_event_line({"github.com/intel/ACON", "AddManifest",
                            v["steps"][1]["line"].get<std::string>().substr(
                                std::string("github.com/intel/ACON AddManifest ").size())});
  auto finalize = text_aael_event_line({"github.com/intel/ACON", "Finalize", ""});
  ASSERT_TRUE(manifest.ok() && finalize.ok());
  log += *manifest + *finalize;
  EXPECT_EQ(log, v["steps"][0]["line"].get<std::string>() + "\n" +
                     v["steps"][1]["line"].get<std::string>() + "\n" +
                     v["steps"][2]["line"].get<std::string>() + "\n");

  // Replay after each step equals aconcli's expected RTMR3.
  std::string prefix;
  for (size_t i = 0; i < 3; ++i) {
    prefix += v["steps"][i]["line"].get<std::string>() + "\n";
    auto parsed = parse_text_aael(prefix);
    ASSERT_TRUE(parsed.ok()) << parsed.error().to_string();
    EXPECT_EQ(hex_encode(replay_text_aael(*parsed)),
              v["steps"][i]["rtmr3_after"].get<std::string>())
        << i;
    EXPECT_EQ(hex_encode(sha384(as_bytes(v["steps"][i]["line"].get<std::string>()))),
              v["steps"][i]["extend_digest_sha384"].get<std::string>());
  }
  auto parsed = parse_text_aael(log);
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->lines.back().two_fields);
  EXPECT_EQ(parsed->lines.back().event.operation, "Finalize");
}

TEST(TextAael, WriterOutputRoundTripsThroughTheReader) {
  std::string log = text_aael_init_line(HashAlg::sha256, Bytes(32, 0xab));
  for (const char* content :
       {"docker.io/library/alpine", "{\"image\":\"a b\",\"digest\":\"sha256:00\"}"}) {
    auto line = text_aael_event_line({"github.com/confidential-containers", "PullImage", content});
    ASSERT_TRUE(line.ok());
    log += *line;
  }
  auto parsed = parse_text_aael(log);
  ASSERT_TRUE(parsed.ok()) << parsed.error().to_string();
  EXPECT_EQ(parsed->alg, HashAlg::sha256);
  EXPECT_EQ(parsed->init_value, Bytes(32, 0xab));
  ASSERT_EQ(parsed->lines.size(), 2u);
  EXPECT_EQ(parsed->lines[1].event.content, "{\"image\":\"a b\",\"digest\":\"sha256:00\"}");
}

TEST(TextAael, WriterRefusesWhatWouldBreakTheFormat) {
  EXPECT_FALSE(text_aael_event_line({"dom ain", "op", "c"}).ok());
  EXPECT_FALSE(text_aael_event_line({"domain", "o p", "c"}).ok());
  EXPECT_FALSE(text_aael_event_line({"", "op", "c"}).ok());
  EXPECT_FALSE(text_aael_event_line({"domain", "", "c"}).ok());
  EXPECT_FALSE(text_aael_event_line({"domain", "op", "line1\nline2"}).ok());
}

TEST(TextAael, MalformedLogsNameTheLine) {
  struct Case {
    const char* text;
    const char* expect;
  } cases[] = {
      {"", "empty"},
      {"INIT/sha384 00", "line 1"},
      {"INIT md5/00", "line 1"},
      {"INIT sha384/00", "line 1"},
      {"INIT sha384/zz", "line 1"},
      {"INIT sha256/0000000000000000000000000000000000000000000000000000000000000000\nonlydomain\n",
       "line 2"},
      {"INIT sha256/0000000000000000000000000000000000000000000000000000000000000000\na b c\n\nd e "
       "f",
       "line 3"},
  };
  for (const auto& c : cases) {
    auto r = parse_text_aael(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_NE(r.error().message.find(c.expect), std::string::npos) << r.error().message;
  }
}

// guest-components tcg2.rs test_event_digest.
TEST(Tcg2Aael, TaggedEventAndRecordMatchCocoBytes) {
  const Json& v = vectors()["tcg2_aael"];
  AaelEvent event{"domain", "operation", "content"};
  auto tagged = aael_tagged_event(event);
  ASSERT_TRUE(tagged.ok());
  EXPECT_EQ(hex_encode(*tagged), v["tagged_event_hex"].get<std::string>());
  EXPECT_EQ(hex_encode(sha384(*tagged)), v["sha384"].get<std::string>());
  EXPECT_EQ(hex_encode(sha256(*tagged)), v["sha256"].get<std::string>());
  EXPECT_EQ(hex_encode(sha384(as_bytes("domain operation content"))),
            v["text_era_sha384_of_line"].get<std::string>());
  auto record = aael_record(4, HashAlg::sha384, event);
  ASSERT_TRUE(record.ok());
  EXPECT_EQ(hex_encode(*record), v["tcg2_record_hex"].get<std::string>());
  auto back = parse_aael_tagged_event(*tagged);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->content, "content");
}

// The two AAEL records in Alibaba's real AA evidence are rebuilt byte for byte by our writer.
TEST(Tcg2Aael, RealAlibabaRecordsAreReproducedByteForByte) {
  Bytes bytes = test::read_data_bytes("eventlog/trustee/CCEL_AAEL_alibabacloud");
  auto log = parse_event_log(bytes);
  ASSERT_TRUE(log.ok());
  size_t found = 0;
  for (const auto& e : log->events) {
    if (e.type != ev::kEventTag || e.index != 4) continue;
    auto event = parse_aael_tagged_event(e.data);
    ASSERT_TRUE(event.ok()) << event.error().to_string();
    EXPECT_EQ(event->domain, "coco.com");
    auto record = aael_record(e.index, HashAlg::sha384, *event);
    ASSERT_TRUE(record.ok());
    EXPECT_EQ(*record, Bytes(bytes.begin() + e.offset, bytes.begin() + e.offset + e.size))
        << e.number;
    ++found;
  }
  EXPECT_EQ(found, 2u);
}

TEST(Tcg2Aael, AppendedRecordsParseAndReplayLikeDirectExtends) {
  // A trimmed CCEL header followed by records written with append_to_file.
  Bytes ovmf = test::read_data_bytes("eventlog/trustee/CCEL_data_ovmf");
  char path[] = "/tmp/acon-aael-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  ASSERT_TRUE(append_to_file(path, ByteView(ovmf).first(65)).ok());
  Replayer direct;
  std::vector<AaelEvent> events = {
      {"github.com/intel/ACON", "AddManifest", "sha384/aa/bb"},
      {"github.com/confidential-containers", "PullImage", "{\"image\":\"x\"}"}};
  for (const auto& e : events) {
    auto record = aael_record(4, HashAlg::sha384, e);
    ASSERT_TRUE(record.ok());
    ASSERT_TRUE(append_to_file(path, *record).ok());
    ASSERT_TRUE(direct.extend(4, HashAlg::sha384, sha384(*aael_tagged_event(e))).ok());
  }
  Bytes file;
  FILE* f = std::fopen(path, "rb");
  ASSERT_NE(f, nullptr);
  for (int c; (c = std::fgetc(f)) != EOF;) file.push_back(static_cast<uint8_t>(c));
  std::fclose(f);
  std::remove(path);
  auto log = parse_event_log(file);
  ASSERT_TRUE(log.ok()) << log.error().to_string();
  ASSERT_EQ(log->events.size(), 3u);
  EXPECT_FALSE(log->fill.has_value());
  Replayer replayed;
  ASSERT_TRUE(replay(*log, replayed).ok());
  EXPECT_EQ(replayed.value(4, HashAlg::sha384), direct.value(4, HashAlg::sha384));
  EXPECT_EQ(parse_aael_tagged_event(log->events[2].data)->content, "{\"image\":\"x\"}");
}

TEST(Tcg2Aael, MalformedTaggedEventsAreErrors) {
  EXPECT_FALSE(parse_aael_tagged_event(Bytes{0x4c, 0x45, 0x41}).ok());
  EXPECT_FALSE(parse_aael_tagged_event(Bytes{0x4c, 0x45, 0x41, 0x41, 0xff, 0, 0, 0, 'a'}).ok());
  EXPECT_FALSE(parse_aael_tagged_event(Bytes{0xed, 0x22, 0x3b, 0x8f, 0, 0, 0, 0}).ok());
}

TEST(Ima, MalformedLinesNameTheLine) {
  std::string good = "10 " + std::string(96, 'a') + " ima-ng sha384:" + std::string(96, 'b') +
                     " /usr/bin/my tool\n";
  auto ok = parse_ima_log(good);
  ASSERT_TRUE(ok.ok()) << ok.error().to_string();
  EXPECT_EQ((*ok)[0].path, "/usr/bin/my tool");
  EXPECT_EQ((*ok)[0].pcr, 10u);
  for (std::string bad :
       {good + "x y\n", good + "10 zz ima-ng sha384:00 /p\n", good + "1x aa ima-ng sha1:00 /p\n",
        good + "10 aa ima sha1:00 /p\n", good + "10 aa ima-ng 00 /p\n"}) {
    auto r = parse_ima_log(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message.find("line 2"), std::string::npos) << r.error().message;
  }
}

// cc-trusted-api's paired capture: the CCEL and then the IMA log replay into RTMR2 (CC MR index
// 3) exactly what the quote reports; without the IMA log they do not.
TEST(Ima, ReplayAfterTheCcelGivesTheQuotedRtmr2) {
  Bytes ccel = test::read_data_bytes("eventlog/cc-trusted-api/ccel_data.bin");
  auto log = parse_event_log(ccel);
  ASSERT_TRUE(log.ok()) << log.error().to_string();
  auto ima = parse_ima_log(test::read_data("eventlog/cc-trusted-api/ima_log.bin"));
  ASSERT_TRUE(ima.ok()) << ima.error().to_string();
  ASSERT_FALSE(ima->empty());
  Bytes quote = test::read_data_bytes("eventlog/cc-trusted-api/quote.bin");
  ASSERT_GE(quote.size(), 48u + 472u);
  // Quote header 48 bytes; RTMR2 at offset 424 of the TD report body.
  const Bytes quoted_rtmr2(quote.begin() + 48 + 424, quote.begin() + 48 + 472);

  Replayer ccel_only;
  ASSERT_TRUE(replay(*log, ccel_only).ok());
  EXPECT_NE(ccel_only.value(3, HashAlg::sha384), quoted_rtmr2);

  Replayer with_ima;
  ASSERT_TRUE(replay(*log, with_ima).ok());
  ASSERT_TRUE(replay_ima_log(*ima, 3, with_ima).ok());
  EXPECT_EQ(with_ima.value(3, HashAlg::sha384), quoted_rtmr2);
}

TEST(Ima, ReplayExtendsTheBankOfEachTemplateHashAndNamesABadLine) {
  const std::string sha384_hash(96, 'a'), sha256_hash(64, 'c');
  auto ima = parse_ima_log("10 " + sha384_hash + " ima-ng sha384:" + std::string(96, 'b') +
                           " /bin/a\n10 " + sha256_hash + " ima-ng sha256:" + std::string(64, 'd') +
                           " /bin/b\n");
  ASSERT_TRUE(ima.ok()) << ima.error().to_string();
  Replayer replayer;
  ASSERT_TRUE(replay_ima_log(*ima, 3, replayer).ok());
  Bytes expected_384(48, 0);
  append(expected_384, *hex_decode(sha384_hash));
  EXPECT_EQ(replayer.value(3, HashAlg::sha384), sha384(expected_384));
  Bytes expected_256(32, 0);
  append(expected_256, *hex_decode(sha256_hash));
  EXPECT_EQ(replayer.value(3, HashAlg::sha256), sha256(expected_256));

  auto odd = parse_ima_log("10 " + sha384_hash + " ima-ng sha384:00 /a\n10 " +
                           std::string(40, 'e') + "00 ima-ng sha1:00 /b\n");
  ASSERT_TRUE(odd.ok()) << odd.error().to_string();
  Replayer untouched;
  auto bad = replay_ima_log(*odd, 3, untouched);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::parse);
  EXPECT_NE(bad.error().message.find("line 2"), std::string::npos) << bad.error().message;
}

}  // namespace
}  // namespace acon::eventlog
