// Replay of measurement registers: MR = H(MR || digest), from zeros unless a start value is set.
#pragma once

#include <map>
#include <optional>
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

}  // namespace acon::eventlog
