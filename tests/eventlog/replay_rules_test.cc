// The replay rules of docs/eventlog-formats.md (issue 17, finding 7): a log that "replays" must
// not carry events that no compared register proves. Crafted logs: a firmware-like CCEL with an
// extra, self-consistent EV_IPL "kernel_cmdline ... init=/bin/evil" event.
#include <gtest/gtest.h>

#include <map>
#include <stdexcept>

#include <set>
#include <string>
#include <vector>

#include "acon/common/hash.h"
#include "acon/eventlog/event_log.h"
#include "acon/eventlog/replay.h"

namespace acon::eventlog {
namespace {

constexpr std::string_view kEvilCmdline = "kernel_cmdline: /vmlinuz console=ttyS0 init=/bin/evil";

Bytes concat(std::initializer_list<Result<Bytes>> parts) {
  Bytes out;
  for (const Result<Bytes>& part : parts) {
    if (!part.ok()) throw std::runtime_error(part.error().to_string());
    append(out, *part);
  }
  return out;
}

// Spec ID (sha256 + sha384), RTMR0 firmware, RTMR1 boot loader, RTMR2 kernel command line, and
// `extra` appended.
Bytes crafted_ccel(const Bytes& extra = {}) {
  static const HashAlg banks[] = {HashAlg::sha256, HashAlg::sha384};
  Bytes log = concat({spec_id_record(banks, 0),
                      measured_record(1, ev::kEfiAction, banks, as_bytes("firmware")),
                      measured_record(2, ev::kEfiAction, banks, as_bytes("boot loader")),
                      measured_record(3, ev::kIpl, banks, as_bytes("kernel_cmdline: /vmlinuz"))});
  append(log, extra);
  return log;
}

Bytes evil_at(uint32_t index) {
  static const HashAlg banks[] = {HashAlg::sha256, HashAlg::sha384};
  return concat({measured_record(index, ev::kIpl, banks, as_bytes(kEvilCmdline))});
}

TEST(ReplayRules, CcelEventsOnlyInRtmr0To3) {
  auto clean = parse_event_log(crafted_ccel());
  ASSERT_TRUE(clean.ok()) << clean.error().to_string();
  EXPECT_TRUE(check_ccel_indexes(*clean).ok());
  for (uint32_t index : {0u, 5u, 7u}) {
    SCOPED_TRACE(index);
    const Bytes bytes = crafted_ccel(evil_at(index));
    auto log = parse_event_log(bytes);
    ASSERT_TRUE(log.ok()) << log.error().to_string();  // a well-formed TCG log...
    auto st = check_ccel_indexes(*log);                // ...but not a CCEL
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message.find("event #4 (EV_IPL)"), std::string::npos)
        << st.error().message;
  }
}

TEST(ReplayRules, EveryEventCarriesEveryBank) {
  // The evil event at RTMR2 with a sha256 digest only, in a sha256 + sha384 log.
  const Bytes sha256_digest = sha256(as_bytes(kEvilCmdline));
  const Digest only_sha256[] = {{tpm_alg::kSha256, sha256_digest}};
  auto record = event2_record(3, ev::kIpl, only_sha256, as_bytes(kEvilCmdline));
  ASSERT_TRUE(record.ok());
  auto log = parse_event_log(crafted_ccel(*record));
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.error().message.find("digests.count"), std::string::npos) << log.error().message;
  EXPECT_NE(log.error().message.find("event 4"), std::string::npos) << log.error().message;
}

TEST(ReplayRules, EventsOutsideTheComparedRegistersFailTheReplay) {
  const Bytes bytes = crafted_ccel(evil_at(3));
  auto log = parse_event_log(bytes);
  ASSERT_TRUE(log.ok());
  Replayer replayer;
  ASSERT_TRUE(replay(*log, replayer).ok());
  std::map<uint32_t, Bytes> all;
  for (uint32_t index : {1u, 2u, 3u}) all[index] = replayer.value(index, HashAlg::sha384);

  // Everything compared and matching: every event is proven, the evil one included (it was
  // measured into RTMR2, so the quote's RTMR2 vouches for it).
  auto comparisons = compare(replayer, HashAlg::sha384, all);
  EXPECT_TRUE(check_events_covered(*log, {1, 2, 3}).ok());
  EXPECT_EQ(proven_events(*log, comparisons).size(), 4u);

  // RTMR2 left out: the replay fails naming both RTMR2 events, and nothing counts as proven.
  std::map<uint32_t, Bytes> partial = {{1, all[1]}, {2, all[2]}};
  auto st = check_events_covered(*log, {1, 2});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::verify_failed);
  EXPECT_NE(st.error().message.find("event #3 (EV_IPL)"), std::string::npos);
  EXPECT_NE(st.error().message.find("event #4 (EV_IPL)"), std::string::npos);
  EXPECT_EQ(uncovered_events(*log, {1, 2}).size(), 2u);
  EXPECT_TRUE(proven_events(*log, compare(replayer, HashAlg::sha384, partial)).empty());

  // A register that does not match proves none of its events.
  std::map<uint32_t, Bytes> wrong = all;
  wrong[3] = Bytes(48, 0);
  auto proven = proven_events(*log, compare(replayer, HashAlg::sha384, wrong));
  ASSERT_EQ(proven.size(), 2u);
  for (const Event* e : proven) EXPECT_NE(e->index, 3u);
}

}  // namespace
}  // namespace acon::eventlog
