#include "acon/kbs/service.h"

#include "audit_committer.h"

#include <algorithm>
#include <exception>

#include "acon/appraisal/evidence.h"
#include "acon/common/bytes.h"
#include "acon/common/hash.h"
#include "acon/common/jose.h"
#include "acon/kbs/protocol.h"

namespace acon::kbs {

namespace {

// Storage namespaces of the KBS's documents.
constexpr std::string_view kAttestationPolicyNs = "attestation-policy";
constexpr std::string_view kResourcePolicyNs = "resource-policy";
constexpr std::string_view kReferenceValuesNs = "reference-values";
constexpr std::string_view kReferenceValuesId = "store";
constexpr std::string_view kDefaultId = "default";

// The checks without which a token is not issued at all (Trustee's verifier fails /attest on
// them too): the evidence is not genuine, or not bound to this session and its init-data.
constexpr std::string_view kRequiredChecks[] = {"quote.signature", "binding.kbs", "init_data"};

HttpResponse error_response(ErrorType type, std::string_view detail) {
  HttpResponse r;
  r.status = error_status(type);
  r.content_type = "application/json";
  r.body = error_information(type, detail);
  return r;
}

HttpResponse json_response(std::string body) {
  HttpResponse r;
  r.content_type = "application/json";
  r.body = std::move(body);
  return r;
}

// Trustee's admin replies: 200, empty body, text/xml.
HttpResponse admin_ok() {
  HttpResponse r;
  r.content_type = "text/xml";
  return r;
}

std::string session_cookie(std::string_view id, Time expires) {
  // Only the expiry, as Trustee (no Path: the client's default path /kbs/v0 covers every route).
  std::string out = std::string(kSessionCookie) + "=" + std::string(id) + "; Expires=";
  auto days = std::chrono::floor<std::chrono::days>(expires);
  std::chrono::year_month_day ymd{days};
  std::chrono::hh_mm_ss hms{expires - days};
  static constexpr const char* kWeekdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02u %s %04d %02lld:%02lld:%02lld GMT",
                kWeekdays[std::chrono::weekday{days}.c_encoding()],
                static_cast<unsigned>(ymd.day()), kMonths[static_cast<unsigned>(ymd.month()) - 1],
                static_cast<int>(ymd.year()), static_cast<long long>(hms.hours().count()),
                static_cast<long long>(hms.minutes().count()),
                static_cast<long long>(hms.seconds().count()));
  return out + buf;
}

const Json* json_at(const Json& doc, std::initializer_list<std::string_view> path) {
  const Json* at = &doc;
  for (std::string_view key : path) {
    if (!at->is_object()) return nullptr;
    auto it = at->find(key);
    if (it == at->end()) return nullptr;
    at = &*it;
  }
  return at;
}

// The annotated evidence of the EAR's first submod ("cpu0", as Trustee's), or null.
const Json* cpu0_evidence(const appraisal::Ear& ear) {
  auto it = ear.submods.find("cpu0");
  return it == ear.submods.end() ? nullptr : it->second.annotated();
}

// The TEE key the resource is wrapped to: where Trustee's KBS looks for it in an EAR.
const Json* tee_pubkey_of(const appraisal::Ear& ear) {
  const Json* evidence = cpu0_evidence(ear);
  return evidence ? json_at(*evidence, {"runtime_data_claims", "tee-pubkey"}) : nullptr;
}

// The TEE the token's first submod attests, from its annotated evidence's sections.
std::string tee_of(const SubmodFacts* cpu0) {
  if (!cpu0) return {};
  for (std::string_view tee : {"tdx", "sgx", "vtpm"})
    if (std::find(cpu0->sections.begin(), cpu0->sections.end(), tee) != cpu0->sections.end())
      return tee == "vtpm" ? "tpm" : std::string(tee);
  return {};
}

std::string digest_hex(std::string_view text) { return hex_encode(sha256(as_bytes(text))); }

Result<jose::JweAlg> jwe_alg_for(const Json& jwk) {
  auto alg = jwk.find("alg");
  if (alg == jwk.end() || !alg->is_string())
    return make_error(Errc::parse, "tee-pubkey.alg: missing");
  auto parsed = jose::jwe_alg_from_name(alg->get<std::string>());
  if (!parsed || *parsed == jose::JweAlg::ECDH_ES_A128KW || *parsed == jose::JweAlg::ECDH_ES_A192KW)
    return make_error(Errc::unsupported,
                      "tee-pubkey.alg \"" + alg->get<std::string>() + "\" is not supported");
  return *parsed;
}

// The audit record every decision on `request` starts from.
AuditEntry audit_entry(const HttpRequest& request, const Now& now, std::string action) {
  AuditEntry entry;
  entry.time = now.wall;
  entry.action = std::move(action);
  entry.peer = std::string(request.peer);
  return entry;
}

// Everything the resource path reads from a token, derived once from its EAR, which is then
// dropped (AttestedSession keeps the token).
std::shared_ptr<AttestedSession> token_facts(const appraisal::Ear& ear, std::string token,
                                             std::string tee, Time expires) {
  auto facts = std::make_shared<AttestedSession>();
  facts->token_digest = digest_hex(token);
  facts->token = std::move(token);
  facts->submods = submod_facts(ear);
  facts->tee = tee.empty() ? tee_of(facts->cpu0()) : std::move(tee);
  facts->expires = expires;
  const Json* jwk = tee_pubkey_of(ear);
  if (!jwk || !jwk->is_object()) {
    facts->recipient_error = "no tee-pubkey in the token";
  } else if (auto alg = jwe_alg_for(*jwk); !alg) {
    facts->recipient_error = "tee-pubkey: " + alg.error().message;
  } else if (auto key = PublicKey::from_jwk(*jwk); !key) {
    facts->recipient_error = "tee-pubkey: " + key.error().message;
  } else {
    facts->recipient = std::move(*key);
    facts->recipient_alg = *alg;
  }
  return facts;
}

std::optional<std::string_view> query_param(std::string_view query, std::string_view name) {
  for (std::string_view part : split(query, '&')) {
    auto eq = part.find('=');
    if (eq != std::string_view::npos && part.substr(0, eq) == name) return part.substr(eq + 1);
  }
  return std::nullopt;
}

}  // namespace

Now Now::current() {
  const auto wall = std::chrono::system_clock::now();
  return {std::chrono::floor<std::chrono::seconds>(wall), std::chrono::steady_clock::now(),
          std::chrono::floor<std::chrono::milliseconds>(wall)};
}

Kbs::Kbs(KbsOptions options, std::unique_ptr<Storage> storage, appraisal::EarSigner signer,
         AdminAuthorizer admin)
    : options_(std::move(options)),
      storage_(std::move(storage)),
      audit_(std::make_unique<AuditCommitter>(*storage_)),
      signer_(std::move(signer)),
      signer_public_(signer_.key().public_key()),
      admin_(std::move(admin)),
      sessions_(storage_->shared_session_store(options_.session_lifetime, options_.max_sessions)),
      rate_limiter_(options_.auth_rate_limit),
      shared_rate_limiter_(storage_->shared_rate_limiter(options_.auth_rate_limit)) {
  shared_storage_ = sessions_ != nullptr;
  if (!sessions_)
    sessions_ = make_memory_session_store(options_.session_lifetime, options_.max_sessions);
}

Result<std::unique_ptr<Kbs>> Kbs::create(KbsOptions options, std::unique_ptr<Storage> storage,
                                         appraisal::EarSigner signer, AdminAuthorizer admin,
                                         appraisal::Policy attestation_policy, Time now) {
  // Checked before Kbs::Kbs, which asks the storage for its shared session store.
  if (!storage) return make_error(Errc::invalid_argument, "kbs: no storage");
  std::unique_ptr<Kbs> kbs(
      new Kbs(std::move(options), std::move(storage), std::move(signer), std::move(admin)));
  kbs->configured_policy_ =
      std::make_shared<const appraisal::Policy>(std::move(attestation_policy));
  ACON_TRY(kbs->snapshot_, kbs->load_snapshot());
  (void)now;
  return kbs;
}

Result<Kbs::Snapshot> Kbs::load_snapshot() {
  Storage& store = *storage_;
  // What an admin stored earlier wins over the configured defaults.
  std::shared_ptr<const appraisal::Policy> attestation_policy = configured_policy_;
  ACON_TRY(auto stored_policy, store.get_document(kAttestationPolicyNs, kDefaultId));
  if (stored_policy) {
    ACON_TRY(appraisal::Policy parsed,
             appraisal::parse_policy(*stored_policy, "stored attestation policy"));
    attestation_policy = std::make_shared<const appraisal::Policy>(std::move(parsed));
  }
  auto references = std::make_shared<appraisal::ReferenceValueStore>();
  ACON_TRY(auto stored_refs, store.get_document(kReferenceValuesNs, kReferenceValuesId));
  if (stored_refs) {
    ACON_TRY(Json records, parse_json(*stored_refs));
    ACON_TRY(*references, appraisal::ReferenceValueStore::from_json(records));
  }
  auto policies = std::make_shared<ResourcePolicySet>();
  ACON_TRY(auto ids, store.list_documents(kResourcePolicyNs));
  for (const std::string& id : ids) {
    ACON_TRY(auto text, store.get_document(kResourcePolicyNs, id));
    if (!text) continue;
    ACON_TRY(ResourcePolicy policy, parse_resource_policy(*text, "stored resource policy " + id));
    policies->put(std::move(policy));
  }
  return Snapshot{std::move(attestation_policy), std::move(references), std::move(policies)};
}

void Kbs::refresh_snapshot(const Now& now) {
  if (!shared_storage_) return;
  const int64_t at =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.steady.time_since_epoch()).count();
  int64_t last = refreshed_at_ms_.load();
  if (at - last < options_.policy_refresh.count()) return;
  if (!refreshed_at_ms_.compare_exchange_strong(last, at)) return;  // another request does it
  // Under the admin lock: a write at this replica is not overtaken by an older read.
  std::unique_lock admin_lock(admin_mutex_, std::try_to_lock);
  if (!admin_lock.owns_lock()) return;
  // A failed read (database down, a stored document this version cannot parse) keeps the
  // snapshot in use; the next interval tries again.
  auto loaded = load_snapshot();
  if (!loaded) return;
  std::lock_guard lock(snapshot_mutex_);
  snapshot_ = std::move(*loaded);
}

Kbs::Snapshot Kbs::snapshot() const {
  std::lock_guard lock(snapshot_mutex_);
  return snapshot_;
}

Kbs::~Kbs() = default;

Kbs::Reply Kbs::reply(const HttpRequest& request, const Now& now) {
  try {
    return route(request, now);
  } catch (...) {
    return error_response(ErrorType::internal, "internal error");
  }
}

HttpResponse Kbs::handle(const HttpRequest& request, const Now& now) {
  Reply r = reply(request, now);
  if (!r.audit) return std::move(r.response);
  try {
    const Status appended = audit_->append(std::move(*r.audit));
    if (r.after_audit) r.after_audit(appended, r.response);
  } catch (...) {
    return error_response(ErrorType::internal, "internal error");
  }
  return std::move(r.response);
}

void Kbs::handle_async(const HttpRequest& request, const Now& now, RunLater run_later,
                       Respond respond) {
  Reply r = reply(request, now);
  if (!r.audit) return respond(std::move(r.response));
  AuditEntry entry = std::move(*r.audit);
  r.audit.reset();
  // The commit runs through run_later, after the requests the workers have already read; the
  // committing thread only hands each outcome over, and the rest runs where the request does.
  AuditCommitter::Schedule schedule = run_later;
  audit_->submit(
      std::move(entry),
      [r = std::move(r), run_later = std::move(run_later),
       respond = std::move(respond)](const Status& appended) mutable {
        run_later([r = std::move(r), respond = std::move(respond), appended]() mutable {
          try {
            if (r.after_audit) r.after_audit(appended, r.response);
          } catch (...) {
            r.response = error_response(ErrorType::internal, "internal error");
          }
          respond(std::move(r.response));
        });
      },
      std::move(schedule));
}

void Kbs::flush_audit() { audit_->flush(); }

Kbs::Reply Kbs::route(const HttpRequest& request, const Now& now) {
  Target target = split_target(request.target);
  if (target.path == "/healthz" && request.method == "GET") {
    HttpResponse r;
    r.content_type = "text/plain";
    r.body = "ok\n";
    return r;
  }
  if (target.path == "/metrics") {
    if (request.method != "GET") return HttpResponse{405, "", "", {}};
    HttpResponse r;
    r.content_type = "text/plain; version=0.0.4";
    r.body = metrics_text();
    return r;
  }
  if (!target.path.starts_with(kApiPrefix)) return HttpResponse{404, "", "", {}};
  std::string_view rest = target.path.substr(kApiPrefix.size());
  std::string_view first = rest.substr(0, rest.find('/'));
  std::string_view tail = first.size() < rest.size() ? rest.substr(first.size() + 1) : "";

  if (first == "auth" && request.method == "POST" && tail.empty()) return auth(request, now);
  if (first == "attest" && request.method == "POST" && tail.empty()) return attest(request, now);
  if (first == "resource") {
    if (!valid_resource_path(tail))
      return error_response(ErrorType::invalid_request_path,
                            "Invalid Request Path: resource path must be <repo>/<type>/<tag>");
    if (request.method == "GET") return get_resource(request, tail, now);
    if (request.method == "POST" || request.method == "DELETE")
      return admin(request, first, tail, now);
  }
  if (first == "attestation-policy" || first == "resource-policy" || first == "reference-value" ||
      first == "audit")
    return admin(request, first, tail, now);
  return error_response(ErrorType::plugin_not_found, "Plugin " + std::string(first) + " not found");
}

std::optional<HttpResponse> Kbs::rate_limited(const HttpRequest& request, const Now& now) {
  if (!rate_limiter_.enabled()) return std::nullopt;
  std::string client = client_key(request.peer, request.forwarded_for, options_.trusted_proxies);
  RateDecision decision;
  if (shared_rate_limiter_) {
    auto shared = shared_rate_limiter_->check(client, now.precise_wall());
    if (!shared) return error_response(ErrorType::unavailable, "rate limit store unavailable");
    decision = *shared;
  } else {
    decision = rate_limiter_.check(client, now.steady);
  }
  if (decision.allowed) return std::nullopt;
  counters_.rate_limited++;
  HttpResponse r =
      error_response(ErrorType::too_many_requests, "too many requests from this client");
  r.headers.emplace_back("Retry-After",
                         std::to_string(std::max<int64_t>(1, decision.retry_after.count())));
  return r;
}

HttpResponse Kbs::auth(const HttpRequest& request, const Now& now) {
  if (auto limited = rate_limited(request, now)) return *limited;
  auto parsed = parse_auth_request(request.body);
  if (!parsed)
    return error_response(
        ErrorType::attestation_error,
        "Attestation error: RCAR handshake Auth failed: " + parsed.error().message);
  auto nonce = make_nonce();
  if (!nonce) return error_response(ErrorType::internal, "nonce generation failed");
  auto id = sessions_->create(parsed->tee, *nonce, now);
  if (!id)
    return error_response(ErrorType::unavailable, "Attestation error: " + id.error().message);
  counters_.auth++;
  HttpResponse r = json_response(challenge_json(*nonce));
  r.headers.emplace_back("Set-Cookie", session_cookie(*id, now.wall + options_.session_lifetime));
  return r;
}

Kbs::Reply Kbs::attest(const HttpRequest& request, const Now& now) {
  auto failed = [&](std::string_view cause, const std::string& tee) {
    counters_.attest_failed++;
    AuditEntry entry = audit_entry(request, now, "attest");
    entry.outcome = "deny";
    entry.http_status = 401;
    entry.tee = tee;
    entry.detail = std::string(cause);
    // Refused either way; the answer waits for the record (an unrecorded refusal is not sent).
    return Reply(
        error_response(ErrorType::attestation_error,
                       "Attestation error: RCAR handshake Attest failed: " + std::string(cause)),
        std::move(entry));
  };
  if (auto limited = rate_limited(request, now)) return *limited;
  auto cookie = cookie_value(request.cookie, kSessionCookie);
  if (!cookie) return failed("no kbs-session-id cookie", "");
  auto challenge = sessions_->begin_attest(*cookie, now);
  if (!challenge && challenge.error().code == Errc::io)
    return error_response(ErrorType::unavailable, "session store unavailable");
  if (!challenge) return failed(challenge.error().message, "");
  std::string session_id(*cookie);

  auto fail_session = [&](std::string_view cause) {
    // The nonce is spent either way; a session left "attesting" (store unreachable) only expires.
    (void)sessions_->finish_attest(session_id, nullptr, {});
    return failed(cause, challenge->tee);
  };
  auto evidence = appraisal::load_kbs_attestation(request.body, challenge->tee);
  if (!evidence) return fail_session(evidence.error().message);
  if (!evidence->runtime_data || evidence->runtime_data->nonce != challenge->nonce)
    return fail_session("nonce mismatch: the runtime data does not carry this session's nonce");

  refresh_snapshot(now);
  Snapshot snap = snapshot();
  appraisal::AppraiseOptions options;
  options.evidence = options_.evidence;
  options.evidence.at = now.wall;
  options.evidence.expected_nonce = challenge->nonce;
  options.issuer = options_.id;
  options.audience = {options_.id};
  options.validity = options_.token_validity;
  // The collateral fetcher keeps per-call state and is not thread-safe: with one configured,
  // appraisals take turns (the verification cache keeps that short after the first fetch).
  std::unique_lock fetch_lock(fetch_mutex_, std::defer_lock);
  if (options.evidence.fetcher) fetch_lock.lock();
  auto result = appraisal::appraise(*evidence, *snap.attestation_policy, *snap.references, options);
  if (fetch_lock.owns_lock()) fetch_lock.unlock();
  if (!result) return fail_session(result.error().message);
  for (std::string_view name : kRequiredChecks) {
    const appraisal::CheckResult* check = appraisal::find_check(result->evidence.checks, name);
    if (check &&
        (check->outcome == appraisal::Outcome::fail || check->outcome == appraisal::Outcome::error))
      return fail_session(std::string(name) + ": " + check->reason);
  }
  // TPM evidence with acon's event log (acond's GetSecret, docs/kbs.md "TPM evidence"): a log
  // that is sent must replay to the quoted PCRs, every record proven, or nothing it says about
  // the images counts; the first failing check names the divergent event. CoCo's attester sends
  // no log and is judged as before.
  if (evidence->platform == appraisal::Platform::vtpm && evidence->vtpm.event_log) {
    for (const appraisal::CheckResult& check : result->evidence.checks) {
      const bool replay =
          check.name.starts_with("replay.pcr") || check.name == "runtime_log.unexplained";
      if (replay && check.outcome != appraisal::Outcome::pass)
        return fail_session(check.name + ": " + check.reason);
    }
  }
  // The session's facts come from the appraisal's EAR, whose annotated evidence is shared with
  // the appraisal rather than copied into a claims tree (~90 us for real TDX evidence), unless
  // the token's text does not give its values back (json_form_exact): then from the text's.
  bool json_form_exact = true;
  auto token = appraisal::sign_ear_jwt(result->ear, signer_, &json_form_exact);
  if (!token) return fail_session(token.error().message);
  const Time expires = result->ear.exp.value_or(now.wall + options_.token_validity);
  appraisal::Ear issued = std::move(result->ear);
  if (!json_form_exact) {
    auto token_claims = appraisal::ear_to_json(issued);
    auto reread = token_claims ? appraisal::ear_from_json(*token_claims)
                               : Result<appraisal::Ear>(token_claims.error());
    if (!reread) return fail_session(reread.error().message);
    issued = std::move(*reread);
  }
  if (!tee_pubkey_of(issued)) return fail_session("the runtime data carries no tee-pubkey");
  std::shared_ptr<AttestedSession> attested =
      token_facts(issued, std::move(*token), challenge->tee, expires);
  // The token is audited before the session holds it and before it is sent: a token no record
  // names is never issued (a record whose token the client never got is the most a failure
  // leaves), and the record's commit makes the nonce's consumption durable before the answer.
  AuditEntry entry = audit_entry(request, now, "attest");
  entry.outcome = "token";
  entry.http_status = 200;
  entry.tee = challenge->tee;
  entry.ear_status = std::string(appraisal::tier_name(result->appraisal.status));
  entry.policy_id = result->appraisal.policy_id;
  entry.token_digest = attested->token_digest;

  std::string body;
  body.reserve(attested->token.size() + 16);  // one allocation for the (often tens of KB) token
  body = "{\"token\":";
  append_json_string(body, attested->token);
  body += '}';
  HttpResponse r = json_response(std::move(body));
  r.headers.emplace_back("Set-Cookie",
                         session_cookie(session_id, now.wall + options_.session_lifetime));
  return Reply(std::move(r), std::move(entry),
               [this, session_id = std::move(session_id), attested = std::move(attested)](
                   const Status& appended, HttpResponse& response) {
                 if (!appended) {
                   counters_.attest_failed++;  // the nonce is spent; the client starts again
                   (void)sessions_->finish_attest(session_id, nullptr, {});
                   response = error_response(ErrorType::unavailable,
                                             "audit log unavailable: no token issued");
                 } else if (!sessions_->finish_attest(session_id, attested, attested->token)) {
                   counters_.attest_failed++;
                   response = error_response(ErrorType::unavailable, "session store unavailable");
                 } else {
                   counters_.attest_ok++;
                 }
               });
}

Result<std::shared_ptr<const AttestedSession>> Kbs::verify_bearer(std::string_view token,
                                                                  Time now) {
  // No SHA-256 over the (often tens of KB) token per request: the lookup hashes the signature
  // segment and a hit compares the token's bytes; exp is checked on every hit.
  const std::string_view signature = token.substr(token.rfind('.') + 1);
  {
    std::lock_guard lock(token_cache_mutex_);
    if (auto it = token_cache_.find(signature);
        it != token_cache_.end() && it->second->token == token) {
      if (it->second->expires + options_.token_leeway >= now) return it->second;
      token_cache_bytes_ -= token.size();
      token_cache_.erase(it);
    }
  }
  appraisal::EarVerifyOptions verify;
  verify.now = now;
  verify.leeway = options_.token_leeway;
  verify.audience = options_.id;
  verify.trusted_key = signer_public_;
  auto ear = appraisal::verify_ear_jwt(token, verify);
  if (!ear && ear.error().code == Errc::verify_failed && !options_.token_roots.empty()) {
    verify.trusted_key.reset();
    verify.roots = options_.token_roots;
    ear = appraisal::verify_ear_jwt(token, verify);
  }
  if (!ear) return ear.error();
  const Time expires = ear->exp.value_or(now);
  std::shared_ptr<const AttestedSession> verified =
      token_facts(*ear, std::string(token), "", expires);
  std::lock_guard lock(token_cache_mutex_);
  if (token_cache_.size() >= options_.verified_token_cache ||
      token_cache_bytes_ + token.size() > options_.verified_token_cache_bytes) {
    token_cache_.clear();
    token_cache_bytes_ = 0;
  }
  if (token.size() <= options_.verified_token_cache_bytes) {
    // Replaces an entry whose signature segment another verified token shares (not expected
    // from a real signer; kept exact either way).
    std::shared_ptr<const AttestedSession>& slot = token_cache_[std::string(signature)];
    if (slot) token_cache_bytes_ -= slot->token.size();
    token_cache_bytes_ += token.size();
    slot = verified;
  }
  return verified;
}

Kbs::Reply Kbs::get_resource(const HttpRequest& request, std::string_view path, const Now& now) {
  // The token: the session's (cookie), else a Bearer token verified against our key or the
  // configured roots. Either way its exp is checked now.
  std::shared_ptr<const AttestedSession> token;
  if (auto cookie = cookie_value(request.cookie, kSessionCookie)) {
    auto session = sessions_->attested(*cookie, now);
    if (!session) return error_response(ErrorType::unavailable, "session store unavailable");
    if (*session && (*session)->facts) {
      token = (*session)->facts;
    } else if (*session) {
      // Issued by another replica: the stored token, verified as a Bearer token is (and cached).
      if (auto verified = verify_bearer((*session)->token, now.wall)) token = std::move(*verified);
    }
    if (token && token->expires + options_.token_leeway < now.wall) token.reset();
  }
  if (!token) {
    auto bearer = bearer_token(request.authorization);
    if (!bearer) return error_response(ErrorType::token_not_found, "Attestation Token not found");
    auto verified = verify_bearer(*bearer, now.wall);
    if (!verified) {
      counters_.denied++;
      return error_response(ErrorType::token_verifier_error,
                            "Token Verifier error: " + verified.error().message);
    }
    token = std::move(*verified);
  }

  AuditEntry entry = audit_entry(request, now, "release");
  entry.resource = std::string(path);
  entry.tee = token->tee;
  entry.token_digest = token->token_digest;
  if (const SubmodFacts* cpu0 = token->cpu0()) {
    entry.ear_status = std::string(appraisal::tier_name(cpu0->status));
    if (cpu0->images) {
      for (const SubmodFacts::Image& image : *cpu0->images) {
        if (!image.signer_digest.empty()) entry.image_signers.push_back(image.signer_digest);
        if (!image.image_id.empty()) entry.image_ids.push_back(image.image_id);
      }
    }
  }
  auto refuse = [&](ErrorType type, std::string detail) {
    entry.outcome = "deny";
    entry.http_status = error_status(type);
    entry.detail = detail;
    return Reply(error_response(type, detail), std::move(entry),
                 [](const Status& appended, HttpResponse& response) {
                   if (!appended)
                     response = error_response(ErrorType::unavailable, "audit log unavailable");
                 });
  };

  if (!token->recipient) {
    counters_.denied++;
    return refuse(ErrorType::token_verifier_error,
                  "Token Verifier error: " + token->recipient_error);
  }
  refresh_snapshot(now);
  Snapshot snap = snapshot();
  Decision decision = snap.resource_policies->evaluate(
      token->submods, [&token](std::string_view submod) { return token->evidence(submod); }, path,
      token->tee);
  entry.policy_id = decision.policy_id;
  entry.policy_rule = decision.rule;
  if (!decision.allow) {
    counters_.denied++;
    return refuse(ErrorType::policy_deny, "Access denied by policy: " + decision.reason);
  }
  auto value = storage_->get_resource(path);
  if (!value) return refuse(ErrorType::unavailable, "storage unavailable");
  if (!*value) {
    counters_.not_found++;
    return refuse(ErrorType::resource_not_found, "resource " + std::string(path) + " not found");
  }
  auto jwe = jose::jwe_encrypt(*token->recipient, token->recipient_alg, jose::JweEnc::A256GCM,
                               view(**value));
  if (!jwe) return refuse(ErrorType::internal, "JWE: " + jwe.error().message);

  entry.outcome = "release";
  entry.http_status = 200;
  return Reply(json_response(dump_compact(*jwe)), std::move(entry),
               [this](const Status& appended, HttpResponse& response) {
                 if (!appended)
                   response = error_response(ErrorType::unavailable,
                                             "audit log unavailable: nothing released");
                 else
                   counters_.released++;
               });
}

HttpResponse Kbs::admin(const HttpRequest& request, std::string_view route, std::string_view rest,
                        const Now& now) {
  Target target = split_target(request.target);
  AdminDecision decision =
      admin_.authorize(request.authorization, request.method, request.target, now.wall);
  // Trustee answers AdminAuthInitialization on plugin routes (resource) and AdminAuthAccess on
  // its built-in ones; kept for clients that match on the type.
  const ErrorType denied_type =
      route == "resource" ? ErrorType::admin_auth_initialization : ErrorType::admin_auth_access;
  auto audit_admin = [&](std::string decision_text, int status, std::string detail) {
    AuditEntry entry = audit_entry(
        request, now, "admin " + std::string(request.method) + " " + std::string(target.path));
    entry.resource = route == "resource" ? std::string(rest) : std::string();
    entry.outcome = std::move(decision_text);
    entry.http_status = status;
    entry.extra = Json{{"admin", decision.subject_or_role}};
    entry.detail = std::move(detail);
    return audit_->append(std::move(entry));
  };
  if (!decision.allowed) {
    counters_.admin_denied++;
    (void)audit_admin("deny", 401, decision.reason);
    return error_response(
        denied_type,
        route == "resource"
            ? "failed to initialize [admin] configuration: Admin access denied: " + decision.reason
            : "admin access denied for endpoint " + std::string(route) +
                  ": Admin access denied: " + decision.reason);
  }
  auto bad = [&](std::string detail) { return error_response(ErrorType::bad_request, detail); };
  auto committed = [&](std::string detail) {
    counters_.admin_ok++;
    if (!audit_admin("ok", 200, std::move(detail)))
      return error_response(ErrorType::unavailable, "audit log unavailable");
    return admin_ok();
  };
  std::lock_guard admin_lock(admin_mutex_);

  if (route == "resource") {
    if (request.method == "POST") {
      if (auto put = storage_->put_resource(rest, as_bytes(request.body)); !put)
        return error_response(ErrorType::unavailable, "storage: " + put.error().message);
      return committed("stored " + std::to_string(request.body.size()) + " bytes");
    }
    auto removed = storage_->delete_resource(rest);
    if (!removed)
      return error_response(ErrorType::unavailable, "storage: " + removed.error().message);
    if (!*removed)
      return error_response(ErrorType::resource_not_found,
                            "resource " + std::string(rest) + " not found");
    return committed("deleted");
  }

  if (route == "attestation-policy" && request.method == "POST" && rest.empty()) {
    auto body = parse_json(request.body);
    if (!body || !body->is_object()) return bad("attestation policy: body is not a JSON object");
    auto encoded = json_get_string(*body, "policy");
    if (!encoded) return bad("attestation policy: " + encoded.error().message);
    auto text = b64url_decode(*encoded);
    if (!text) return bad("attestation policy: policy is not base64url");
    auto policy = appraisal::parse_policy(as_chars(*text), "attestation policy");
    if (!policy) return bad(policy.error().message);
    if (auto put = storage_->put_document(kAttestationPolicyNs, kDefaultId, as_chars(*text)); !put)
      return error_response(ErrorType::unavailable, "storage: " + put.error().message);
    {
      std::lock_guard lock(snapshot_mutex_);
      snapshot_.attestation_policy = std::make_shared<const appraisal::Policy>(std::move(*policy));
    }
    return committed("attestation policy " + snapshot().attestation_policy->id);
  }

  if (route == "resource-policy" && rest.empty()) {
    if (request.method == "GET") {
      Json ids = Json::array();
      for (const std::string& id : snapshot().resource_policies->ids()) ids.push_back(id);
      counters_.admin_ok++;
      return json_response(dump_compact(ids));
    }
    if (request.method == "POST") {
      auto body = parse_json(request.body);
      if (!body || !body->is_object()) return bad("resource policy: body is not a JSON object");
      auto encoded = json_get_string(*body, "policy");
      if (!encoded) return bad("resource policy: " + encoded.error().message);
      auto text = b64url_decode(*encoded);
      if (!text) return bad("resource policy: policy is not base64url");
      auto policy = parse_resource_policy(as_chars(*text), "resource policy");
      if (!policy) return bad(policy.error().message);
      std::string id = policy->id;
      if (auto put = storage_->put_document(kResourcePolicyNs, id, as_chars(*text)); !put)
        return error_response(ErrorType::unavailable, "storage: " + put.error().message);
      auto next = std::make_shared<ResourcePolicySet>(*snapshot().resource_policies);
      next->put(std::move(*policy));
      {
        std::lock_guard lock(snapshot_mutex_);
        snapshot_.resource_policies = std::move(next);
      }
      return committed("resource policy " + id);
    }
  }

  if (route == "reference-value") {
    if (request.method == "POST" && rest.empty()) {
      auto next = std::make_shared<appraisal::ReferenceValueStore>(*snapshot().references);
      auto names = next->register_message(request.body, now.wall);
      if (!names)
        return error_response(ErrorType::rvps_error,
                              "RVPS configuration failed: " + names.error().message);
      if (auto put = storage_->put_document(kReferenceValuesNs, kReferenceValuesId,
                                            dump_compact(next->to_json()));
          !put)
        return error_response(ErrorType::unavailable, "storage: " + put.error().message);
      {
        std::lock_guard lock(snapshot_mutex_);
        snapshot_.references = std::move(next);
      }
      std::string list;
      for (const std::string& name : *names) list += (list.empty() ? "" : ",") + name;
      return committed("reference values " + list);
    }
    if (request.method == "GET" && !rest.empty()) {
      auto value = snapshot().references->get(rest, now.wall);
      if (!value)
        return error_response(
            ErrorType::rvps_error,
            "RVPS configuration failed: Failed to get reference_values: " + value.error().message);
      Json values = Json::array();
      for (const Json& v : (*value)->values) values.push_back(v);
      counters_.admin_ok++;
      return json_response(dump_compact(values));
    }
  }

  if (route == "audit" && request.method == "GET" && rest.empty()) {
    uint64_t from = 1;
    size_t limit = 1000;
    if (auto v = query_param(target.query, "from"))
      from = std::strtoull(std::string(*v).c_str(), nullptr, 10);
    if (auto v = query_param(target.query, "limit"))
      limit = std::min<size_t>(10000, std::strtoull(std::string(*v).c_str(), nullptr, 10));
    auto records = storage_->read_audit(std::max<uint64_t>(from, 1), limit);
    if (!records)
      return error_response(ErrorType::unavailable, "storage: " + records.error().message);
    HttpResponse r;
    r.content_type = "application/x-ndjson";
    for (const AuditRecord& record : *records) {
      r.body += dump_compact(audit_record_to_json(record));
      r.body += '\n';
    }
    counters_.admin_ok++;
    return r;
  }
  return error_response(ErrorType::plugin_not_found, "Plugin " + std::string(route) + " not found");
}

std::string Kbs::metrics_text() const {
  std::string out;
  auto counter = [&](std::string_view name, std::string_view help, std::string_view labels,
                     uint64_t value) {
    if (!labels.empty() && out.find(std::string(name) + "{") != std::string::npos) {
      out += std::string(name) + "{" + std::string(labels) + "} " + std::to_string(value) + "\n";
      return;
    }
    out += "# HELP " + std::string(name) + " " + std::string(help) + "\n# TYPE " +
           std::string(name) + " counter\n" + std::string(name) +
           (labels.empty() ? "" : "{" + std::string(labels) + "}") + " " + std::to_string(value) +
           "\n";
  };
  counter("kbs_auth_total", "Challenges issued by /auth.", "", counters_.auth.load());
  counter("kbs_attestation_total", "Attestations by outcome.", "outcome=\"token\"",
          counters_.attest_ok.load());
  counter("kbs_attestation_total", "", "outcome=\"refused\"", counters_.attest_failed.load());
  counter("kbs_resource_requests_total", "Resource requests by outcome.", "outcome=\"released\"",
          counters_.released.load());
  counter("kbs_resource_requests_total", "", "outcome=\"denied\"", counters_.denied.load());
  counter("kbs_resource_requests_total", "", "outcome=\"not_found\"", counters_.not_found.load());
  counter("kbs_admin_requests_total", "Admin requests by outcome.", "outcome=\"ok\"",
          counters_.admin_ok.load());
  counter("kbs_admin_requests_total", "", "outcome=\"denied\"", counters_.admin_denied.load());
  counter("kbs_rate_limited_total", "Requests refused by the per-client rate limit.", "",
          counters_.rate_limited.load());
  counter("kbs_storage_round_trips_total",
          "Requests sent to the database server and answered (0: embedded SQLite).", "",
          storage_->round_trips());
  counter("kbs_audit_commits_total",
          "Audit log commits (each signed once; records of concurrent requests share one).", "",
          audit_->commits());
  counter("kbs_audit_records_total", "Audit records committed.", "", audit_->records());
  out += "# HELP kbs_sessions Open RCAR sessions.\n# TYPE kbs_sessions gauge\nkbs_sessions " +
         std::to_string(sessions_->size()) + "\n";
  return out;
}

}  // namespace acon::kbs
