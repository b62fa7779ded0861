// Replay of measurement registers: MR = H(MR || digest), from zeros unless a start value is set.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "acon/eventlog/event_log.h"

namespace acon::eventlog {

class Replayer {
 public:
  // Sets a register's start value (the text AAEL INIT line does this).
  void set(uint32_t index, HashAlg alg, Bytes value);
  // MR = H(MR || digest). A digest shorter than the register is zero-padded (as CoCo pads
  // SHA-256 AAEL digests into SHA-384 RTMRs); a longer one is an error.
  Status extend(uint32_t index, HashAlg alg, ByteView digest);
  // The register's value; all zero if nothing touched it.
  Bytes value(uint32_t index, HashAlg alg) const;
  // Every (index, alg) that was set or extended, in order.
  const std::map<std::pair<uint32_t, HashAlg>, Bytes>& registers() const { return registers_; }

 private:
  std::map<std::pair<uint32_t, HashAlg>, Bytes> registers_;
  std::map<HashAlg, Hasher> hashers_;  // one reusable context per bank: extend is the hot path
};

// Extends every record except EV_NO_ACTION (logged, never extended) into `replayer`, for each
// of its digests whose algorithm acon can compute (others are skipped, as they cannot replay).
Status replay(const EventLog& log, Replayer& replayer);

struct RegisterComparison {
  uint32_t index;
  Bytes expected;
  Bytes replayed;
  bool match;
};
// Compares expected register values (by index) with the replay in bank `alg`.
std::vector<RegisterComparison> compare(const Replayer& replayer, HashAlg alg,
                                        const std::map<uint32_t, Bytes>& expected);

// ---- which events a replay proves (docs/eventlog-formats.md "Replay rules") ----

// TDX firmware extends only RTMR0..3 (CC MR indexes 1..4); MRTD (0) is measured by the TDX module
// and no other index exists. Errc::parse naming the first event (other than EV_NO_ACTION, which
// is never extended) at any other index.
Status check_ccel_indexes(const EventLog& log);

// The events (other than EV_NO_ACTION) extended into a register outside `covered`: nothing a
// comparison of the registers in `covered` checks proves them.
std::vector<const Event*> uncovered_events(const EventLog& log, const std::set<uint32_t>& covered);

// Errc::verify_failed naming every event outside `covered` ("event #7 (EV_IPL) at index 0"),
// or ok when there is none. A replay "matches" only when this is ok as well.
Status check_events_covered(const EventLog& log, const std::set<uint32_t>& covered);

// The events a replay proved: those (other than EV_NO_ACTION) whose register was compared in
// bank `alg` and matched, and only when no event lies outside the compared registers. This is
// what may become claims (kernel command line, image IDs): an event of a register that was not
// compared, or did not match, proves nothing.
std::vector<const Event*> proven_events(const EventLog& log,
                                        const std::vector<RegisterComparison>& comparisons);

}  // namespace acon::eventlog
