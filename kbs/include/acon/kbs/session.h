// RCAR sessions, in memory: created by /auth with the challenge nonce, consumed by exactly one
// /attest (acon: the nonce is single-use, success or failure — Trustee lets a failed nonce be
// retried until the session expires, and runs two concurrent /attest on one session side by
// side), then holding the issued token for cookie-authenticated resource requests until expiry.
// Every session lives `lifetime` from /auth; expiry is FIFO per shard, so cleanup never scans.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "acon/common/jose.h"
#include "acon/common/json.h"
#include "acon/common/keys.h"
#include "acon/common/result.h"
#include "acon/common/x509.h"

namespace acon::kbs {

using SteadyTime = std::chrono::steady_clock::time_point;

// A verified token as the resource path needs it, derived once: when /attest issues it (kept in
// the session for cookie requests) or when a Bearer token is first verified (kept in a cache).
struct AttestedSession {
  Json claims;               // the EAR claims set (ear_to_json), trusted
  std::string token_digest;  // SHA-256 of the token, hex: what the audit log records
  std::string tee;
  Time expires{};                                     // the token's exp
  std::string ear_status;                             // submods.cpu0's
  std::vector<std::string> image_signers, image_ids;  // from acon.images
  // The key resources are wrapped to (runtime_data_claims.tee-pubkey), parsed once; when the
  // token has none or it is unusable, recipient is empty and recipient_error says why.
  std::optional<PublicKey> recipient;
  jose::JweAlg recipient_alg = jose::JweAlg::ECDH_ES_A256KW;
  std::string recipient_error;
};

class SessionStore {
 public:
  SessionStore(std::chrono::seconds lifetime, size_t max_sessions);
  SessionStore(const SessionStore&) = delete;
  SessionStore& operator=(const SessionStore&) = delete;

  // A new session for /auth; its id is 32 lowercase hex digits (a UUIDv4 written "simple", as
  // Trustee's). Errc::unsupported when max_sessions unexpired sessions exist.
  Result<std::string> create(std::string tee, std::string nonce, SteadyTime now);

  struct Challenge {
    std::string tee;
    std::string nonce;
  };
  // The one /attest a session gets: atomically moves it from "authed" to "attesting" and returns
  // what /auth stored. Errc::not_found for an unknown or expired id, Errc::invalid_argument when
  // the session was already used ("nonce already used").
  Result<Challenge> begin_attest(std::string_view id, SteadyTime now);
  // Ends the attest begun on `id`: with a token the session becomes attested, without it failed.
  void finish_attest(std::string_view id, std::shared_ptr<const AttestedSession> attested);

  // The attested session `id`, or null (unknown, expired, not attested).
  std::shared_ptr<const AttestedSession> attested(std::string_view id, SteadyTime now) const;

  size_t size() const;

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
  Shard& shard_for(std::string_view id) const;
  static void expire(Shard& shard, SteadyTime now);

  std::chrono::seconds lifetime_;
  size_t max_per_shard_;
  mutable std::vector<Shard> shards_;
};

}  // namespace acon::kbs
