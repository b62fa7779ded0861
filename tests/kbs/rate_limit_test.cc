// The per-client token bucket: burst then refusal with Retry-After, refill over injected time,
// bounded memory under many keys, several threads at once, and the forwarded-for client key.
#include "acon/kbs/rate_limit.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace acon::kbs {
namespace {

using namespace std::chrono_literals;
using Clock = RateLimiter::Clock;

const Clock::time_point kStart = Clock::time_point(1000s);

TEST(RateLimit, OffWhenRateIsZero) {
  RateLimiter limiter({.rate_per_second = 0, .burst = 0});
  EXPECT_FALSE(limiter.enabled());
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(limiter.check("10.0.0.1", kStart).allowed);
  EXPECT_EQ(limiter.tracked_clients(), 0u);
}

TEST(RateLimit, BurstThenRetryAfter) {
  RateLimiter limiter({.rate_per_second = 0.5, .burst = 3});
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.check("10.0.0.1", kStart).allowed) << i;
  RateDecision refused = limiter.check("10.0.0.1", kStart);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, 2s);  // one token at 0.5/s
  // Another client has its own bucket.
  EXPECT_TRUE(limiter.check("10.0.0.2", kStart).allowed);
  // Half-way there: still refused, one second left.
  RateDecision later = limiter.check("10.0.0.1", kStart + 1s);
  EXPECT_FALSE(later.allowed);
  EXPECT_EQ(later.retry_after, 1s);
}

TEST(RateLimit, RefillsOverTimeUpToTheBurst) {
  RateLimiter limiter({.rate_per_second = 2, .burst = 4});
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(limiter.check("c", kStart).allowed);
  EXPECT_FALSE(limiter.check("c", kStart).allowed);
  // 1 s at 2/s: two more.
  EXPECT_TRUE(limiter.check("c", kStart + 1s).allowed);
  EXPECT_TRUE(limiter.check("c", kStart + 1s).allowed);
  EXPECT_FALSE(limiter.check("c", kStart + 1s).allowed);
  // A long idle time refills to the burst, not beyond.
  int allowed = 0;
  for (int i = 0; i < 10; ++i) allowed += limiter.check("c", kStart + 1h).allowed;
  EXPECT_EQ(allowed, 4);
  // A clock reading from the past (another thread's) neither refills nor breaks the bucket.
  EXPECT_FALSE(limiter.check("c", kStart).allowed);
  // Sub-second retry rounds up to one second.
  RateLimiter fast({.rate_per_second = 100, .burst = 1});
  EXPECT_TRUE(fast.check("c", kStart).allowed);
  EXPECT_EQ(fast.check("c", kStart).retry_after, 1s);
}

TEST(RateLimit, MemoryIsBounded) {
  RateLimiter limiter({.rate_per_second = 1, .burst = 2, .max_clients = 64, .shards = 4});
  for (int i = 0; i < 10000; ++i) {
    limiter.check("198.51.100." + std::to_string(i), kStart + std::chrono::milliseconds(i));
  }
  EXPECT_LE(limiter.tracked_clients(), 64u);
  // Idle clients whose buckets are full again are forgotten as calls pass by.
  for (int i = 0; i < 200; ++i) limiter.check("203.0.113.1", kStart + 1h + std::chrono::seconds(i));
  EXPECT_LT(limiter.tracked_clients(), 64u);
  // The one active client keeps its (depleted) bucket.
  RateLimiter small({.rate_per_second = 1, .burst = 1, .max_clients = 4, .shards = 1});
  EXPECT_TRUE(small.check("active", kStart).allowed);
  EXPECT_FALSE(small.check("active", kStart).allowed);
  EXPECT_TRUE(small.check("a", kStart).allowed);
  EXPECT_FALSE(small.check("active", kStart).allowed);
  EXPECT_EQ(small.tracked_clients(), 2u);
}

TEST(RateLimit, ConcurrentClientsGetExactlyTheirBurst) {
  constexpr int kThreads = 8;
  constexpr int kKeys = 16;
  constexpr int kCallsPerKey = 50;
  RateLimiter limiter({.rate_per_second = 1, .burst = 10, .max_clients = 1024, .shards = 4});
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int k = 0; k < kKeys; ++k) {
        for (int c = 0; c < kCallsPerKey; ++c) {
          if (limiter.check("client-" + std::to_string(k), kStart).allowed) ++allowed;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  // At one instant every client gets its burst of 10, however the threads interleave.
  EXPECT_EQ(allowed.load(), kKeys * 10);
  EXPECT_EQ(limiter.tracked_clients(), static_cast<size_t>(kKeys));
}

TEST(RateLimit, ClientKeyTrustsForwardedForOnlyFromProxies) {
  const std::vector<std::string> proxies = {"10.0.0.5", "10.0.0.6"};
  // Not a proxy: the header is the client's own words.
  EXPECT_EQ(client_key("192.0.2.7", "203.0.113.9", proxies), "192.0.2.7");
  // From a proxy: the rightmost address not a proxy.
  EXPECT_EQ(client_key("10.0.0.5", "203.0.113.9", proxies), "203.0.113.9");
  EXPECT_EQ(client_key("10.0.0.5", "1.2.3.4, 203.0.113.9, 10.0.0.6", proxies), "203.0.113.9");
  EXPECT_EQ(client_key("10.0.0.5", "2001:db8::1", proxies), "2001:db8::1");
  // Only proxies: the leftmost.
  EXPECT_EQ(client_key("10.0.0.5", "10.0.0.6", proxies), "10.0.0.6");
  // Absent or malformed: the peer.
  EXPECT_EQ(client_key("10.0.0.5", "", proxies), "10.0.0.5");
  EXPECT_EQ(client_key("10.0.0.5", "unknown", proxies), "10.0.0.5");
  EXPECT_EQ(client_key("10.0.0.5", "203.0.113.9,,", proxies), "10.0.0.5");
  EXPECT_EQ(client_key("10.0.0.5", "203.0.113.9:443", proxies), "10.0.0.5");
}

}  // namespace
}  // namespace acon::kbs
