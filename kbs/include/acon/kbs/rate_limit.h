// Per-client rate limiting for /auth and /attest: a token bucket per client key (the peer
// address, or the forwarded-for client behind a trusted proxy). Thread-safe, bounded memory,
// time passed in. docs/kbs-policy.md describes the configuration.
#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "acon/common/result.h"

namespace acon::kbs {

struct RateLimitConfig {
  double rate_per_second = 0;  // tokens added per second; 0 turns limiting off
  double burst = 0;            // bucket size; at least 1 when limiting is on
  size_t max_clients = 65536;  // buckets kept at most (spread over the shards)
  size_t shards = 16;          // independent locks
};

struct RateDecision {
  bool allowed = true;
  std::chrono::seconds retry_after{0};  // when refused: until a token is back, at least 1 s
};

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  explicit RateLimiter(RateLimitConfig config);

  bool enabled() const { return config_.rate_per_second > 0; }
  // Takes one token from `key`'s bucket if it has one. A client not seen before starts with a
  // full bucket. When the shard is full, its least recently seen client is forgotten (which can
  // only give that client a fresh burst); clients idle long enough to be full again are
  // forgotten as calls pass by, a few per call, so memory follows the active clients.
  RateDecision check(std::string_view key, Clock::time_point now);
  // Buckets currently kept (for tests and metrics).
  size_t tracked_clients() const;

 private:
  struct Bucket {
    double tokens = 0;
    Clock::time_point updated;
    std::list<std::string>::iterator recency;  // position in Shard::recency
  };
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, Bucket> buckets;
    std::list<std::string> recency;  // most recently seen first
  };

  double refilled(const Bucket& bucket, Clock::time_point now) const;

  RateLimitConfig config_;
  size_t per_shard_ = 1;
  std::vector<std::unique_ptr<Shard>> shards_;
};

// The same buckets kept where several replicas see them (Storage::shared_rate_limiter: a table in
// their PostgreSQL database), so a client spreading its requests over the replicas gets one
// budget. Time is wall-clock (steady clocks differ per process), passed in. Errc::io when the
// database is unreachable.
class SharedRateLimiter {
 public:
  virtual ~SharedRateLimiter() = default;
  virtual Result<RateDecision> check(std::string_view key,
                                     std::chrono::sys_time<std::chrono::milliseconds> now) = 0;
};

// The key a request is limited under: the peer address, unless the peer is one of
// `trusted_proxies` (exact addresses) and sent X-Forwarded-For. Then the header is read from the
// right, skipping trusted proxies, and the first other address is the client (the entries to its
// left were written by the client and prove nothing). A malformed entry gives the peer address.
std::string client_key(std::string_view peer_address, std::string_view forwarded_for,
                       const std::vector<std::string>& trusted_proxies);

}  // namespace acon::kbs
