// Token buckets in shards, each shard a map plus a recency list so that eviction is O(1).
#include "acon/kbs/rate_limit.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "acon/common/bytes.h"

namespace acon::kbs {
namespace {

// Idle full buckets examined per call: enough for memory to follow departures, few enough that
// no call pays for a scan.
constexpr int kSweepPerCall = 2;

bool ip_address(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return false;
  std::string copy(text);
  unsigned char buffer[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, copy.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, copy.c_str(), buffer) == 1;
}

std::string_view trimmed(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

RateLimiter::RateLimiter(RateLimitConfig config) : config_(config) {
  if (!(config_.rate_per_second > 0) || !std::isfinite(config_.rate_per_second)) {
    config_.rate_per_second = 0;
  }
  if (!(config_.burst >= 1) || !std::isfinite(config_.burst)) config_.burst = 1;
  config_.shards = std::max<size_t>(1, config_.shards);
  config_.max_clients = std::max(config_.max_clients, config_.shards);
  per_shard_ = config_.max_clients / config_.shards;
  for (size_t i = 0; i < config_.shards; ++i) shards_.push_back(std::make_unique<Shard>());
}

double RateLimiter::refilled(const Bucket& bucket, Clock::time_point now) const {
  double elapsed = std::chrono::duration<double>(now - bucket.updated).count();
  if (elapsed <= 0) return bucket.tokens;
  return std::min(config_.burst, bucket.tokens + elapsed * config_.rate_per_second);
}

RateDecision RateLimiter::check(std::string_view key, Clock::time_point now) {
  if (!enabled()) return {};
  std::string name(key);
  Shard& shard = *shards_[std::hash<std::string>{}(name) % shards_.size()];
  std::lock_guard lock(shard.mutex);

  for (int i = 0; i < kSweepPerCall && !shard.recency.empty(); ++i) {
    auto oldest = shard.buckets.find(shard.recency.back());
    if (oldest->first == name || refilled(oldest->second, now) < config_.burst) break;
    shard.buckets.erase(oldest);
    shard.recency.pop_back();
  }

  auto it = shard.buckets.find(name);
  if (it == shard.buckets.end()) {
    if (shard.buckets.size() >= per_shard_) {
      shard.buckets.erase(shard.recency.back());
      shard.recency.pop_back();
    }
    shard.recency.push_front(name);
    it = shard.buckets.emplace(std::move(name), Bucket{config_.burst, now, shard.recency.begin()})
             .first;
  } else {
    shard.recency.splice(shard.recency.begin(), shard.recency, it->second.recency);
  }

  Bucket& bucket = it->second;
  bucket.tokens = refilled(bucket, now);
  // A clock reading earlier than the last one (another thread's) does not move time back.
  bucket.updated = std::max(bucket.updated, now);
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return {};
  }
  double wait = (1 - bucket.tokens) / config_.rate_per_second;
  auto seconds = static_cast<int64_t>(std::ceil(wait));
  return {false, std::chrono::seconds(std::max<int64_t>(1, seconds))};
}

size_t RateLimiter::tracked_clients() const {
  size_t total = 0;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    total += shard->buckets.size();
  }
  return total;
}

std::string client_key(std::string_view peer_address, std::string_view forwarded_for,
                       const std::vector<std::string>& trusted_proxies) {
  auto trusted = [&](std::string_view address) {
    return std::find(trusted_proxies.begin(), trusted_proxies.end(), address) !=
           trusted_proxies.end();
  };
  if (!trusted(peer_address) || trimmed(forwarded_for).empty()) return std::string(peer_address);
  std::vector<std::string_view> entries = split(forwarded_for, ',');
  for (size_t i = entries.size(); i-- > 0;) {
    std::string_view entry = trimmed(entries[i]);
    if (!ip_address(entry)) return std::string(peer_address);
    if (!trusted(entry) || i == 0) return std::string(entry);
  }
  return std::string(peer_address);
}

}  // namespace acon::kbs
