// RCAR sessions: created by /auth with the challenge nonce, consumed by exactly one /attest
// (acon: the nonce is single-use, success or failure — Trustee lets a failed nonce be retried
// until the session expires, and runs two concurrent /attest on one session side by side), then
// holding the issued token for cookie-authenticated resource requests until expiry. Every session
// lives `lifetime` from /auth.
//
// Two implementations: in memory (one process; make_memory_session_store) and in the PostgreSQL
// database replicas share (Storage::shared_session_store), where a nonce issued by one replica is
// attested at another exactly once. The KBS picks the shared one whenever its storage has one.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "acon/appraisal/ear.h"
#include "acon/common/jose.h"
#include "acon/common/json.h"
#include "acon/common/keys.h"
#include "acon/common/result.h"
#include "acon/common/x509.h"
#include "acon/kbs/resource_policy.h"

namespace acon::kbs {

using SteadyTime = std::chrono::steady_clock::time_point;
using WallMillis = std::chrono::sys_time<std::chrono::milliseconds>;

// The clocks a request is judged at: wall time for certificates, tokens and what replicas share
// (sessions and rate limits in the database: steady clocks differ per process), a steady clock
// for what one process keeps in memory. Passed in; the service reads no clock.
struct Now {
  Time wall{};
  SteadyTime steady{};
  WallMillis wall_ms{};  // wall with milliseconds; unset (epoch) means `wall`
  static Now current();
  WallMillis precise_wall() const {
    return wall_ms.time_since_epoch().count() != 0 ? wall_ms : WallMillis(wall);
  }
};

// A verified token as the resource path needs it, derived once: when /attest issues it (kept in
// the session for cookie requests) or when a Bearer token is first verified (kept in a cache).
// It keeps the token and the facts the resource policy reads, not the EAR's evidence tree
// (SubmodFacts says why).
struct AttestedSession {
  std::string token;         // the JWT, as issued or as presented
  std::string token_digest;  // SHA-256 of the token, hex: what the audit log records
  std::string tee;
  Time expires{};                    // the token's exp
  std::vector<SubmodFacts> submods;  // what the resource policy and the audit read
  // The key resources are wrapped to (runtime_data_claims.tee-pubkey), parsed once; when the
  // token has none or it is unusable, recipient is empty and recipient_error says why.
  std::optional<PublicKey> recipient;
  jose::JweAlg recipient_alg = jose::JweAlg::ECDH_ES_A256KW;
  std::string recipient_error;

  // The annotated evidence of a submod (null when it has none), for a rule's `when` conditions:
  // read back from the token's claims on first need, then kept. The signature is not checked
  // again: this KBS signed the token, or verified it before making this. Thread-safe.
  Result<const Json*> evidence(std::string_view submod) const;
  // The first submod ("cpu0", as Trustee's), whose status and images the audit records; null
  // when the token has none.
  const SubmodFacts* cpu0() const;

 private:
  mutable std::once_flag read_once_;
  mutable std::optional<Result<appraisal::Ear>> read_;
};

// Thread-safe. Errors: Errc::io when the database is unreachable (the KBS answers 503).
class SessionStore {
 public:
  virtual ~SessionStore() = default;

  // A new session for /auth; its id is 32 lowercase hex digits (a UUIDv4 written "simple", as
  // Trustee's). Errc::unsupported when max_sessions unexpired sessions exist.
  virtual Result<std::string> create(std::string tee, std::string nonce, const Now& now) = 0;

  struct Challenge {
    std::string tee;
    std::string nonce;
  };
  // The one /attest a session gets: atomically moves it from "authed" to "attesting" and returns
  // what /auth stored. Errc::not_found for an unknown or expired id, Errc::invalid_argument when
  // the session was already used ("nonce already used").
  virtual Result<Challenge> begin_attest(std::string_view id, const Now& now) = 0;
  // Ends the attest begun on `id`: with a token (`attested` and the JWT `token` it was derived
  // from) the session becomes attested, without (null) failed.
  virtual Status finish_attest(std::string_view id, std::shared_ptr<const AttestedSession> attested,
                               std::string_view token) = 0;

  // An attested session: what this process derived when it issued the token, or else the token
  // text (issued by another replica), which the caller verifies as it verifies a Bearer token.
  struct Attested {
    std::shared_ptr<const AttestedSession> facts;
    std::string token;
  };
  // The attested session `id`, or nullopt (unknown, expired, not attested).
  virtual Result<std::optional<Attested>> attested(std::string_view id, const Now& now) = 0;

  // Open sessions: all of them in memory; those this process created, for the shared store.
  virtual size_t size() const = 0;
};

// Sessions in this process's memory, in shards; expiry is FIFO per shard on the steady clock,
// so cleanup never scans. At most max_sessions unexpired sessions.
std::unique_ptr<SessionStore> make_memory_session_store(std::chrono::seconds lifetime,
                                                        size_t max_sessions);

// A fresh session id: 16 random bytes as a UUIDv4, 32 lowercase hex digits.
Result<std::string> new_session_id();

}  // namespace acon::kbs
