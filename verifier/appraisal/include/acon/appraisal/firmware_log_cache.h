// A cache of what an appraisal derives from the firmware part of a TDX event log alone
// (docs/evidence.md §5.1). A fleet of TDs booted from the same firmware, kernel and command line
// sends byte-identical firmware events in its CCEL; Trustee's uefi_event_logs entries of those
// events (their hex, base64 and digest_matches_event SHA-384s) and the RTMR values their extends
// give are a pure function of those bytes, so a verifier that has seen them once need not derive
// them again. Opt-in, like dcap::VerificationCache: AppraisalOptions::firmware_log_cache.
//
// The entries are also kept as JSON text, which EAR tokens copy instead of writing the entries
// again (docs/ear.md, "Signing"), and a claims document's copy of the entries is given back to
// the cache when the document is freed and reused for the next one (only when it is still equal
// to the cached entries).
//
// Keyed on the exact bytes: a 64-bit hash finds the candidate, the whole byte string is compared
// before anything cached is used, so a hash collision is only a miss. Nothing that depends on the
// quote, the nonce, the runtime records or the policy is cached: every comparison with the quoted
// registers, every check's outcome and every claim is still made per appraisal. An appraisal with
// the cache decides and writes exactly what one without it does (tests/verifier/appraisal/
// firmware_log_cache_test.cc compares the two).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "acon/common/bytes.h"

namespace acon::appraisal {

struct FirmwareLogFacts;  // internal (src/firmware_log.h)

class FirmwareLogCache {
 public:
  // Bounds: least recently used entries go first when either is reached. A `charge` is the key's
  // bytes plus an estimate of the entries' text (documented in firmware_log.cc); a log whose facts
  // alone exceed max_bytes is appraised without being kept.
  struct Limits {
    size_t max_entries = 64;
    size_t max_bytes = size_t{64} << 20;
  };
  struct Stats {
    uint64_t hits = 0;
    uint64_t misses = 0;
    size_t entries = 0;
    size_t bytes = 0;
  };

  FirmwareLogCache() : FirmwareLogCache(Limits{}) {}
  explicit FirmwareLogCache(Limits limits) : limits_(limits) {}
  FirmwareLogCache(const FirmwareLogCache&) = delete;
  FirmwareLogCache& operator=(const FirmwareLogCache&) = delete;

  Stats stats() const;

  // For the appraisal (firmware_log.cc); thread-safe. find() returns the facts whose key is
  // exactly (`form`, `firmware_bytes`), or null (counted as a miss). insert() keeps `facts` unless
  // an entry with the same key is already there or the facts exceed max_bytes.
  std::shared_ptr<const FirmwareLogFacts> find(uint8_t form, ByteView firmware_bytes) const;
  void insert(std::shared_ptr<const FirmwareLogFacts> facts);

 private:
  struct Slot {
    uint64_t hash;
    size_t charge;
    uint64_t last_used;
    std::shared_ptr<const FirmwareLogFacts> facts;
  };
  Limits limits_;
  mutable std::mutex mutex_;
  mutable std::vector<Slot> slots_;  // at most max_entries: a linear scan of hashes
  mutable uint64_t clock_ = 0;
  mutable uint64_t hits_ = 0;
  mutable uint64_t misses_ = 0;
  size_t bytes_ = 0;
};

}  // namespace acon::appraisal
