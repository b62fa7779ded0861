// The in-memory session store: shards of a map plus a FIFO of expiry times.
#include "acon/kbs/session.h"

#include <algorithm>
#include <deque>
#include <functional>
#include <mutex>
#include <unordered_map>

#include "acon/common/bytes.h"
#include "acon/common/jose.h"
#include "acon/common/json.h"

namespace acon::kbs {

namespace {

class MemorySessionStore final : public SessionStore {
 public:
  MemorySessionStore(std::chrono::seconds lifetime, size_t max_sessions)
      : lifetime_(lifetime),
        max_per_shard_(std::max<size_t>(1, max_sessions / kShards)),
        shards_(kShards) {}

  Result<std::string> create(std::string tee, std::string nonce, const Now& now) override {
    ACON_TRY(std::string id, new_session_id());
    Shard& shard = shard_for(id);
    std::lock_guard lock(shard.mutex);
    expire(shard, now.steady);
    if (shard.entries.size() >= max_per_shard_)
      return make_error(Errc::unsupported, "too many open sessions");
    Entry entry;
    entry.expires = now.steady + lifetime_;
    entry.tee = std::move(tee);
    entry.nonce = std::move(nonce);
    shard.expiry.emplace_back(entry.expires, id);
    shard.entries.emplace(id, std::move(entry));
    return id;
  }

  Result<Challenge> begin_attest(std::string_view id, const Now& now) override {
    Shard& shard = shard_for(id);
    std::lock_guard lock(shard.mutex);
    auto it = shard.entries.find(std::string(id));
    if (it == shard.entries.end() || it->second.expires <= now.steady)
      return make_error(Errc::not_found, "session unknown or expired");
    if (it->second.state != State::authed)
      return make_error(Errc::invalid_argument, "session already used: its nonce is single-use");
    it->second.state = State::attesting;
    return Challenge{it->second.tee, it->second.nonce};
  }

  Status finish_attest(std::string_view id, std::shared_ptr<const AttestedSession> attested,
                       std::string_view /*token: the facts are kept instead*/) override {
    Shard& shard = shard_for(id);
    std::lock_guard lock(shard.mutex);
    auto it = shard.entries.find(std::string(id));
    if (it == shard.entries.end() || it->second.state != State::attesting) return {};
    it->second.state = attested ? State::attested : State::failed;
    it->second.attested = std::move(attested);
    return {};
  }

  Result<std::optional<Attested>> attested(std::string_view id, const Now& now) override {
    Shard& shard = shard_for(id);
    std::lock_guard lock(shard.mutex);
    auto it = shard.entries.find(std::string(id));
    if (it == shard.entries.end() || it->second.expires <= now.steady ||
        it->second.state != State::attested)
      return std::optional<Attested>();
    return std::optional<Attested>(Attested{it->second.attested, {}});
  }

  size_t size() const override {
    size_t n = 0;
    for (const Shard& shard : shards_) {
      std::lock_guard lock(shard.mutex);
      n += shard.entries.size();
    }
    return n;
  }

 private:
  enum class State { authed, attesting, attested, failed };
  struct Entry {
    State state = State::authed;
    SteadyTime expires;
    std::string tee;
    std::string nonce;
    std::shared_ptr<const AttestedSession> attested;
  };
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, Entry> entries;
    std::deque<std::pair<SteadyTime, std::string>> expiry;  // creation order = expiry order
  };
  static constexpr size_t kShards = 16;

  Shard& shard_for(std::string_view id) {
    return shards_[std::hash<std::string_view>{}(id) % kShards];
  }
  static void expire(Shard& shard, SteadyTime now) {
    while (!shard.expiry.empty() && shard.expiry.front().first <= now) {
      auto it = shard.entries.find(shard.expiry.front().second);
      if (it != shard.entries.end() && it->second.expires <= now) shard.entries.erase(it);
      shard.expiry.pop_front();
    }
  }

  std::chrono::seconds lifetime_;
  size_t max_per_shard_;
  std::vector<Shard> shards_;
};

}  // namespace

Result<const Json*> AttestedSession::evidence(std::string_view submod) const {
  std::call_once(read_once_, [this] {
    read_ = [this]() -> Result<appraisal::Ear> {
      ACON_TRY(jose::Jws jws, jose::jws_parse(token));
      ACON_TRY(Json claims, parse_json(as_chars(jws.payload)));
      return appraisal::ear_from_json(claims);
    }();
  });
  if (!*read_) return read_->error().wrap("the token's claims");
  auto it = (*read_)->submods.find(std::string(submod));
  return it == (*read_)->submods.end() ? nullptr : it->second.annotated();
}

const SubmodFacts* AttestedSession::cpu0() const {
  auto it = std::find_if(submods.begin(), submods.end(),
                         [](const SubmodFacts& submod) { return submod.name == "cpu0"; });
  return it == submods.end() ? nullptr : &*it;
}

Result<std::string> new_session_id() {
  ACON_TRY(Bytes raw, random_bytes(16));
  raw[6] = static_cast<uint8_t>((raw[6] & 0x0f) | 0x40);  // version 4
  raw[8] = static_cast<uint8_t>((raw[8] & 0x3f) | 0x80);  // RFC 4122 variant
  return hex_encode(raw);
}

std::unique_ptr<SessionStore> make_memory_session_store(std::chrono::seconds lifetime,
                                                        size_t max_sessions) {
  return std::make_unique<MemorySessionStore>(lifetime, max_sessions);
}

}  // namespace acon::kbs
