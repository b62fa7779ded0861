// The KBS itself, apart from any transport: one HTTP request in, one response out. The server
// (server.h) feeds it requests from Boost.Beast; tests and the fuzz target call it directly.
// Routes, status codes and bodies follow Trustee's KBS at protocol 0.4.0 except where
// docs/kbs.md "Where acon differs" says otherwise.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "acon/appraisal/appraise.h"
#include "acon/appraisal/ear.h"
#include "acon/kbs/admin_auth.h"
#include "acon/kbs/rate_limit.h"
#include "acon/kbs/resource_policy.h"
#include "acon/kbs/session.h"
#include "acon/kbs/storage.h"

namespace acon::kbs {

class AuditCommitter;  // kbs/src/audit_committer.h

struct HttpRequest {
  std::string_view method;  // "GET", "POST", ...
  std::string_view target;  // path and query as sent
  std::string_view body;
  std::string_view cookie;         // the Cookie header, "" when absent
  std::string_view authorization;  // the Authorization header, "" when absent
  std::string_view forwarded_for;  // X-Forwarded-For, "" when absent
  std::string_view peer;           // the peer's address, without port
};

struct HttpResponse {
  int status = 200;
  std::string content_type;  // empty: no body type
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // Set-Cookie, Retry-After
};

struct KbsOptions {
  // This KBS's name: the EAR's aud (and tokens for another audience are refused), and its iss.
  std::string id = "acon-kbs";
  std::chrono::seconds session_lifetime{300};  // Trustee: [attestation_service] timeout, 5 min
  size_t max_sessions = 1 << 20;
  std::chrono::seconds token_validity{300};
  std::chrono::seconds token_leeway{60};
  // Verification of evidence: trust anchors (the simulated root only when configured),
  // collateral, fetcher and cache. `at` and `expected_nonce` are set per request.
  appraisal::AppraisalOptions evidence;
  // Tokens from other issuers are accepted when their x5c chains to one of these roots and
  // their aud names this KBS.
  std::vector<Certificate> token_roots;
  RateLimitConfig auth_rate_limit;  // per client on /auth and /attest
  std::vector<std::string> trusted_proxies;
  // Verified Bearer tokens kept (each with its exact bytes), at most this many and this many
  // token bytes in all; when either is reached the cache starts afresh.
  size_t verified_token_cache = 4096;
  size_t verified_token_cache_bytes = size_t{64} << 20;
  // With storage that replicas share: how old a replica's copy of the policies and reference
  // values may get before it reads them again (an admin write at another replica).
  std::chrono::milliseconds policy_refresh{1000};
};

class Kbs {
 public:
  // `attestation_policy` is used until an admin sets another (and one stored earlier wins).
  static Result<std::unique_ptr<Kbs>> create(KbsOptions options, std::unique_ptr<Storage> storage,
                                             appraisal::EarSigner signer, AdminAuthorizer admin,
                                             appraisal::Policy attestation_policy, Time now);
  Kbs(const Kbs&) = delete;
  Kbs& operator=(const Kbs&) = delete;

  ~Kbs();

  // Never throws; every failure is an HTTP response. A refused request changes nothing but the
  // audit log (which records it) and the session it consumed.
  HttpResponse handle(const HttpRequest& request, const Now& now);

  // handle() for a server that serves other requests while a record commits: a release, a token
  // or a refusal is answered only once its audit record committed, and the records of requests
  // answered at the same time share one commit (one signature: audit.h). `respond` gets the
  // answer exactly once, on this thread before handle_async returns or later through
  // `run_later`, which must run what it is given soon, on the request's own executor (so that
  // the committing thread only commits). `request` is not used after handle_async returns.
  using Respond = std::function<void(HttpResponse)>;
  using RunLater = std::function<void(std::function<void()>)>;
  void handle_async(const HttpRequest& request, const Now& now, RunLater run_later,
                    Respond respond);
  // Once the workers that run_later ran on have stopped: commits the records still waiting, so
  // that nothing waits on work that will not run (Server::stop calls it).
  void flush_audit();

  Storage& storage() { return *storage_; }
  std::string metrics_text() const;

 private:
  struct Snapshot {
    std::shared_ptr<const appraisal::Policy> attestation_policy;
    std::shared_ptr<const appraisal::ReferenceValueStore> references;
    std::shared_ptr<const ResourcePolicySet> resource_policies;
  };

  Kbs(KbsOptions options, std::unique_ptr<Storage> storage, appraisal::EarSigner signer,
      AdminAuthorizer admin);
  Snapshot snapshot() const;
  // The policies and reference values as stored (the configured attestation policy when none
  // is), read from the storage.
  Result<Snapshot> load_snapshot();
  // Replicas: another replica's admin may have changed what is stored; reloaded at most once per
  // policy_refresh, by one request while the others go on with the current snapshot.
  void refresh_snapshot(const Now& now);

  // An answer, and the audit record that must commit before it is sent: `after_audit` then gets
  // the append's outcome and may change the answer (503 when the log is unavailable) or finish
  // what the record allows (the session's token).
  struct Reply {
    Reply(HttpResponse r) : response(std::move(r)) {}  // NOLINT: implicit by design
    Reply(HttpResponse r, AuditEntry entry,
          std::function<void(const Status&, HttpResponse&)> after = nullptr)
        : response(std::move(r)), audit(std::move(entry)), after_audit(std::move(after)) {}
    HttpResponse response;
    std::optional<AuditEntry> audit;
    std::function<void(const Status& appended, HttpResponse& response)> after_audit;
  };
  Reply reply(const HttpRequest& request, const Now& now);  // route(), exceptions answered

  Reply route(const HttpRequest& request, const Now& now);
  std::optional<HttpResponse> rate_limited(const HttpRequest& request, const Now& now);
  HttpResponse auth(const HttpRequest& request, const Now& now);
  Reply attest(const HttpRequest& request, const Now& now);
  Reply get_resource(const HttpRequest& request, std::string_view path, const Now& now);
  HttpResponse admin(const HttpRequest& request, std::string_view route, std::string_view rest,
                     const Now& now);
  Result<std::shared_ptr<const AttestedSession>> verify_bearer(std::string_view token, Time now);

  KbsOptions options_;
  std::unique_ptr<Storage> storage_;
  std::unique_ptr<AuditCommitter> audit_;  // every append goes through it
  appraisal::EarSigner signer_;
  PublicKey signer_public_;
  AdminAuthorizer admin_;
  // Sessions and rate-limit buckets: the storage's shared ones when it has them (PostgreSQL,
  // for replicas), else this process's (Kbs::Kbs decides).
  std::unique_ptr<SessionStore> sessions_;
  RateLimiter rate_limiter_;
  std::unique_ptr<SharedRateLimiter> shared_rate_limiter_;

  mutable std::mutex snapshot_mutex_;  // guards the three pointers of snapshot_
  Snapshot snapshot_;
  std::shared_ptr<const appraisal::Policy> configured_policy_;
  bool shared_storage_ = false;              // replicas: the snapshot is refreshed
  std::atomic<int64_t> refreshed_at_ms_{0};  // steady clock, when the snapshot was last loaded
  std::mutex admin_mutex_;                   // serialises admin writes (read, change, store, swap)
  std::mutex fetch_mutex_;                   // serialises appraisals that may fetch collateral

  // Verified Bearer tokens by their signature segment (the text after the last '.'): a short
  // key that differs between any two tokens this KBS or a trusted issuer signed. A hit still
  // compares the whole token byte for byte, so a forged token that reuses a signature segment
  // is a miss and goes through full verification.
  std::mutex token_cache_mutex_;
  struct TextHash {
    using is_transparent = void;
    size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
  };
  std::unordered_map<std::string, std::shared_ptr<const AttestedSession>, TextHash, std::equal_to<>>
      token_cache_;
  size_t token_cache_bytes_ = 0;

  struct Counters {
    std::atomic<uint64_t> auth{0}, attest_ok{0}, attest_failed{0}, released{0}, denied{0},
        not_found{0}, admin_ok{0}, admin_denied{0}, rate_limited{0};
  };
  mutable Counters counters_;
};

}  // namespace acon::kbs
