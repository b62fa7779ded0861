#include "acon/kbs/session.h"

#include <functional>

#include "acon/common/bytes.h"

namespace acon::kbs {

SessionStore::SessionStore(std::chrono::seconds lifetime, size_t max_sessions)
    : lifetime_(lifetime),
      max_per_shard_(std::max<size_t>(1, max_sessions / kShards)),
      shards_(kShards) {}

SessionStore::Shard& SessionStore::shard_for(std::string_view id) const {
  return shards_[std::hash<std::string_view>{}(id) % kShards];
}

void SessionStore::expire(Shard& shard, SteadyTime now) {
  while (!shard.expiry.empty() && shard.expiry.front().first <= now) {
    auto it = shard.entries.find(shard.expiry.front().second);
    if (it != shard.entries.end() && it->second.expires <= now) shard.entries.erase(it);
    shard.expiry.pop_front();
  }
}

Result<std::string> SessionStore::create(std::string tee, std::string nonce, SteadyTime now) {
  ACON_TRY(Bytes raw, random_bytes(16));
  raw[6] = static_cast<uint8_t>((raw[6] & 0x0f) | 0x40);  // version 4
  raw[8] = static_cast<uint8_t>((raw[8] & 0x3f) | 0x80);  // RFC 4122 variant
  std::string id = hex_encode(raw);
  Shard& shard = shard_for(id);
  std::lock_guard lock(shard.mutex);
  expire(shard, now);
  if (shard.entries.size() >= max_per_shard_)
    return make_error(Errc::unsupported, "too many open sessions");
  Entry entry;
  entry.expires = now + lifetime_;
  entry.tee = std::move(tee);
  entry.nonce = std::move(nonce);
  shard.expiry.emplace_back(entry.expires, id);
  shard.entries.emplace(id, std::move(entry));
  return id;
}

Result<SessionStore::Challenge> SessionStore::begin_attest(std::string_view id, SteadyTime now) {
  Shard& shard = shard_for(id);
  std::lock_guard lock(shard.mutex);
  auto it = shard.entries.find(std::string(id));
  if (it == shard.entries.end() || it->second.expires <= now)
    return make_error(Errc::not_found, "session unknown or expired");
  if (it->second.state != State::authed)
    return make_error(Errc::invalid_argument, "session already used: its nonce is single-use");
  it->second.state = State::attesting;
  return Challenge{it->second.tee, it->second.nonce};
}

void SessionStore::finish_attest(std::string_view id,
                                 std::shared_ptr<const AttestedSession> attested) {
  Shard& shard = shard_for(id);
  std::lock_guard lock(shard.mutex);
  auto it = shard.entries.find(std::string(id));
  if (it == shard.entries.end() || it->second.state != State::attesting) return;
  it->second.state = attested ? State::attested : State::failed;
  it->second.attested = std::move(attested);
}

std::shared_ptr<const AttestedSession> SessionStore::attested(std::string_view id,
                                                              SteadyTime now) const {
  Shard& shard = shard_for(id);
  std::lock_guard lock(shard.mutex);
  auto it = shard.entries.find(std::string(id));
  if (it == shard.entries.end() || it->second.expires <= now || it->second.state != State::attested)
    return nullptr;
  return it->second.attested;
}

size_t SessionStore::size() const {
  size_t n = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    n += shard.entries.size();
  }
  return n;
}

}  // namespace acon::kbs
