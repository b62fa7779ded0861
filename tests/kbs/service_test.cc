// The KBS's protocol behaviour, in process (Kbs::handle) over real storage and real simulated
// evidence: every route, every refusal, what is audited.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "kbs_fixture.h"
#include "postgres_fixture.h"

namespace acon::kbs::testing {
namespace {

// The same protocol code over PostgreSQL: a full RCAR releases the secret, the audit chain in
// the database verifies; while the database is down the KBS answers 503 and releases nothing;
// once it is back, the same KBS serves again.
TEST(KbsService, RcarOnPostgresAnd503WhileTheDatabaseIsDown) {
  if (PostgresServer::binaries().empty())
    GTEST_SKIP() << "PostgreSQL server binaries are not installed (Debian: postgresql)";
  PostgresServer server;
  ASSERT_TRUE(server.ok()) << server.error();
  KbsFixture f(server.create_database());
  ASSERT_EQ(f.admin("POST", "/kbs/v0/resource/default/key/1", "pg-s3cret").status, 200);
  f.allow_simulated();
  auto [cookie, token] = f.rcar();
  ASSERT_FALSE(token.empty());
  HttpResponse get = f.call("GET", "/kbs/v0/resource/default/key/1", "", cookie);
  ASSERT_EQ(get.status, 200) << get.body;
  EXPECT_EQ(f.decrypt(get), "pg-s3cret");
  // The backend counts what it sent: one more GET by cookie (session cached here) is the
  // resource read and the audit append's two pipelines.
  const uint64_t before = f.kbs->storage().round_trips();
  ASSERT_EQ(f.call("GET", "/kbs/v0/resource/default/key/1", "", cookie).status, 200);
  EXPECT_EQ(f.kbs->storage().round_trips() - before, 3u);
  EXPECT_NE(f.kbs->metrics_text().find("kbs_storage_round_trips_total "), std::string::npos);

  server.stop();
  HttpResponse down = f.call("GET", "/kbs/v0/resource/default/key/1", "", "", "Bearer " + token);
  EXPECT_EQ(down.status, 503) << down.body;
  EXPECT_EQ(down.body.find("pg-s3cret"), std::string::npos);

  server.start();
  ASSERT_TRUE(server.ok()) << server.error();
  HttpResponse back = f.call("GET", "/kbs/v0/resource/default/key/1", "", "", "Bearer " + token);
  ASSERT_EQ(back.status, 200) << back.body;
  EXPECT_EQ(f.decrypt(back), "pg-s3cret");
  auto records = f.audit();
  size_t releases = 0;
  for (const AuditRecord& r : records) releases += r.entry.action == "release";
  EXPECT_EQ(releases, 3u);  // the refused GET released nothing
  EXPECT_TRUE(verify_audit_chain(records, f.audit_key.public_key()).ok());
}

// A database that holds a request (here: another session sits on the audit chain's advisory
// lock) costs the request its statement_timeout, then a 503, not a hung worker. The attest that
// could not audit its token issues none, and its session is spent.
TEST(KbsService, AStuckDatabaseIs503AfterTheQueryTimeoutAndNoUnauditedToken) {
  if (PostgresServer::binaries().empty())
    GTEST_SKIP() << "PostgreSQL server binaries are not installed (Debian: postgresql)";
  ASSERT_TRUE(shared_postgres().ok()) << shared_postgres().error();
  const std::string conninfo = shared_postgres().create_database();
  KbsFixture f(conninfo);
  f.postgres_query_timeout = std::chrono::milliseconds(300);
  f.open();
  ASSERT_EQ(f.admin("POST", "/kbs/v0/resource/default/key/1", "s3cret").status, 200);
  f.allow_simulated();

  std::unique_ptr<PGconn, void (*)(PGconn*)> holder(PQconnectdb(conninfo.c_str()), PQfinish);
  ASSERT_EQ(PQstatus(holder.get()), CONNECTION_OK);
  // The audit lock's key (postgres_storage.cc: "acon-aud"), held by a session that never ends.
  std::unique_ptr<PGresult, void (*)(PGresult*)> locked(
      PQexec(holder.get(), "SELECT pg_advisory_lock(7017575163371812196)"), PQclear);
  ASSERT_EQ(PQresultStatus(locked.get()), PGRES_TUPLES_OK);

  auto [cookie, nonce] = f.auth();
  HttpResponse attest = f.call("POST", "/kbs/v0/attest", f.attester.attestation(nonce), cookie);
  EXPECT_EQ(attest.status, 503) << attest.body;
  EXPECT_EQ(attest.body.find("token\""), std::string::npos) << attest.body;
  EXPECT_EQ(f.call("GET", "/kbs/v0/resource/default/key/1", "", cookie).status, 401);

  std::unique_ptr<PGresult, void (*)(PGresult*)> unlocked(
      PQexec(holder.get(), "SELECT pg_advisory_unlock(7017575163371812196)"), PQclear);
  ASSERT_EQ(PQresultStatus(unlocked.get()), PGRES_TUPLES_OK);
  auto [cookie2, token] = f.rcar();
  EXPECT_FALSE(token.empty());
  EXPECT_EQ(f.call("GET", "/kbs/v0/resource/default/key/1", "", cookie2).status, 200);
  size_t tokens = 0;
  for (const AuditRecord& r : f.audit())
    tokens += r.entry.action == "attest" && r.entry.outcome == "token";
  EXPECT_EQ(tokens, 1u);  // the refused attest left no record: it issued nothing
}

TEST(KbsService, FullRcarReleasesASecretByCookieAndByBearer) {
  KbsFixture f;
  ASSERT_EQ(f.admin("POST", "/kbs/v0/resource/default/key/1", "s3cret").status, 200);
  f.allow_simulated();
  auto [cookie, token] = f.rcar();
  ASSERT_FALSE(token.empty());

  // The token is an EAR signed by the KBS's key for this KBS, affirming.
  appraisal::EarVerifyOptions verify;
  verify.now = f.now.wall;
  verify.audience = "acon-kbs-test";
  verify.trusted_key = f.ear_key.public_key();
  appraisal::Ear ear = must(appraisal::verify_ear_jwt(token, verify));
  EXPECT_EQ(ear.submods.at("cpu0").status, appraisal::Tier::affirming);
  EXPECT_EQ(ear.iss, "acon-kbs-test");

  HttpResponse by_cookie = f.call("GET", "/kbs/v0/resource/default/key/1", "", cookie);
  ASSERT_EQ(by_cookie.status, 200) << by_cookie.body;
  EXPECT_EQ(by_cookie.content_type, "application/json");
  EXPECT_EQ(f.decrypt(by_cookie), "s3cret");
  // The protected header is compact JSON with sorted keys (what CoCo's client recomputes).
  Json jwe = Json::parse(by_cookie.body);
  std::string header =
      std::string(as_chars(must(b64url_decode(jwe["protected"].get<std::string>()))));
  EXPECT_EQ(header, dump_compact(Json::parse(header)));
  EXPECT_TRUE(header.starts_with(R"({"alg":"ECDH-ES+A256KW","enc":"A256GCM","epk":{)")) << header;

  HttpResponse by_bearer =
      f.call("GET", "/kbs/v0/resource/default/key/1", "", "", "Bearer " + token);
  ASSERT_EQ(by_bearer.status, 200) << by_bearer.body;
  EXPECT_EQ(f.decrypt(by_bearer), "s3cret");

  // Every release is in the audit log, with the token's digest and never the secret.
  auto records = f.audit();
  size_t releases = 0;
  for (const AuditRecord& r : records) {
    if (r.entry.action != "release") continue;
    ++releases;
    EXPECT_EQ(r.entry.outcome, "release");
    EXPECT_EQ(r.entry.resource, "default/key/1");
    EXPECT_EQ(r.entry.ear_status, "affirming");
    EXPECT_EQ(r.entry.peer, "10.0.0.1");
    EXPECT_EQ(r.entry.token_digest, hex_encode(sha256(as_bytes(token))));
    EXPECT_EQ(audit_record_to_line(r).find("s3cret"), std::string::npos);
  }
  EXPECT_EQ(releases, 2u);
  EXPECT_TRUE(verify_audit_chain(records, f.audit_key.public_key()).ok());
}

// A session keeps its token and the facts every rule reads, not the EAR's evidence tree; a rule
// with `when` conditions reads the evidence back from the token, by cookie and by Bearer alike.
TEST(KbsService, WhenConditionsReadTheEvidenceBackFromTheToken) {
  KbsFixture f;
  for (const char* path : {"tcb/key/1", "strict/key/1"})
    ASSERT_EQ(f.admin("POST", std::string("/kbs/v0/resource/") + path, "s3cret").status, 200);
  const std::string policy = R"(version = 1
id = "default"
[[rules]]
resources = "tcb/*/*"
effect = "allow"
allow_simulated = true
when = [ { claim = "tdx.tcb_status", one_of = ["UpToDate"] },
         { claim = "acon.simulated", equals = true } ]
[[rules]]
resources = "strict/*/*"
effect = "allow"
allow_simulated = true
when = [ { claim = "tdx.tcb_status", equals = "OutOfDate" } ]
)";
  ASSERT_EQ(
      f.admin("POST", "/kbs/v0/resource-policy", Json{{"policy", b64url(as_bytes(policy))}}.dump())
          .status,
      200);
  auto [cookie, token] = f.rcar();
  for (int round = 0; round < 2; ++round) {  // the second round reads the kept evidence
    HttpResponse by_cookie = f.call("GET", "/kbs/v0/resource/tcb/key/1", "", cookie);
    ASSERT_EQ(by_cookie.status, 200) << by_cookie.body;
    EXPECT_EQ(f.decrypt(by_cookie), "s3cret");
    HttpResponse by_bearer = f.call("GET", "/kbs/v0/resource/tcb/key/1", "", "", "Bearer " + token);
    ASSERT_EQ(by_bearer.status, 200) << by_bearer.body;
    EXPECT_EQ(f.decrypt(by_bearer), "s3cret");
    for (const std::string& auth_cookie : {cookie, std::string()}) {
      HttpResponse refused =
          auth_cookie.empty()
              ? f.call("GET", "/kbs/v0/resource/strict/key/1", "", "", "Bearer " + token)
              : f.call("GET", "/kbs/v0/resource/strict/key/1", "", auth_cookie);
      EXPECT_EQ(refused.status, 401);
      EXPECT_EQ(error_type(refused), "PolicyDeny");
      EXPECT_NE(refused.body.find("tdx.tcb_status"), std::string::npos) << refused.body;
      EXPECT_EQ(f.audit().back().entry.policy_rule, "rules[2]");
    }
  }
}

TEST(KbsService, TheDefaultResourcePolicyRefusesSimulatedPlatforms) {
  KbsFixture f;
  ASSERT_EQ(f.admin("POST", "/kbs/v0/resource/default/key/1", "s3cret").status, 200);
  auto [cookie, token] = f.rcar();
  HttpResponse r = f.call("GET", "/kbs/v0/resource/default/key/1", "", cookie);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(error_type(r), "PolicyDeny");
  auto records = f.audit();
  ASSERT_FALSE(records.empty());
  EXPECT_EQ(records.back().entry.outcome, "deny");
  EXPECT_EQ(records.back().entry.policy_id, "default");
}

TEST(KbsService, ANonceIsConsumedByTheFirstAttestEvenWhenItFails) {
  KbsFixture f;
  auto [cookie, nonce] = f.auth();
  HttpResponse wrong =
      f.call("POST", "/kbs/v0/attest", f.attester.attestation("not-the-nonce"), cookie);
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(error_type(wrong), "AttestationError");
  EXPECT_NE(wrong.body.find("nonce mismatch"), std::string::npos) << wrong.body;
  HttpResponse retry = f.call("POST", "/kbs/v0/attest", f.attester.attestation(nonce), cookie);
  EXPECT_EQ(retry.status, 401);
  EXPECT_NE(retry.body.find("single-use"), std::string::npos) << retry.body;

  // After a success, too: a second /attest on the session gets no second token.
  auto [cookie2, nonce2] = f.auth();
  ASSERT_EQ(f.call("POST", "/kbs/v0/attest", f.attester.attestation(nonce2), cookie2).status, 200);
  EXPECT_EQ(f.call("POST", "/kbs/v0/attest", f.attester.attestation(nonce2), cookie2).status, 401);
}

TEST(KbsService, ConcurrentAttestsOnOneSessionIssueOneToken) {
  KbsFixture f;
  const auto [session_cookie, nonce] = f.auth();
  const std::string cookie = session_cookie;  // a variable the threads' lambdas can capture
  std::string body = f.attester.attestation(nonce);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back(
        [&] { ok += f.call("POST", "/kbs/v0/attest", body, cookie).status == 200; });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
}

TEST(KbsService, EvidenceThatIsNotGenuineOrNotBoundGetsNoToken) {
  KbsFixture f;
  {
    auto [cookie, nonce] = f.auth();
    HttpResponse r = f.call("POST", "/kbs/v0/attest",
                            f.attester.attestation(nonce, nullptr, /*tamper_quote=*/true), cookie);
    EXPECT_EQ(r.status, 401);
    EXPECT_NE(r.body.find("quote.signature"), std::string::npos) << r.body;
  }
  {
    // The quote binds another key than the runtime data names: the KBS would wrap secrets to a
    // key the TD never vouched for.
    Json other = must(PrivateKey::generate_ec(Curve::p256)).public_key().to_jwk();
    other["alg"] = "ECDH-ES+A256KW";
    auto [cookie, nonce] = f.auth();
    HttpResponse r =
        f.call("POST", "/kbs/v0/attest", f.attester.attestation(nonce, &other), cookie);
    EXPECT_EQ(r.status, 401);
    EXPECT_NE(r.body.find("binding.kbs"), std::string::npos) << r.body;
  }
  {
    // A TD whose platform root the KBS does not trust.
    Attester stranger("another platform");
    auto [cookie, nonce] = f.auth();
    HttpResponse r = f.call("POST", "/kbs/v0/attest", stranger.attestation(nonce), cookie);
    EXPECT_EQ(r.status, 401);
  }
  size_t refusals = 0;
  for (const AuditRecord& r : f.audit())
    refusals += r.entry.action == "attest" && r.entry.outcome == "deny";
  EXPECT_EQ(refusals, 3u);
}

TEST(KbsService, MalformedOrUnsupportedRequestsAreAttestationErrors) {
  KbsFixture f;
  for (std::string body : {R"({"version":"0.2.0","tee":"tdx","extra-params":""})",
                           R"({"version":"0.4.0","tee":"no-such-tee","extra-params":""})",
                           R"({"version":"0.4.0")", "not json"}) {
    HttpResponse r = f.call("POST", "/kbs/v0/auth", body);
    EXPECT_EQ(r.status, 401) << body;
    EXPECT_EQ(error_type(r), "AttestationError") << body;
  }
  EXPECT_EQ(f.call("POST", "/kbs/v0/attest", "{}").status, 401);  // no cookie
  auto [cookie, nonce] = f.auth();
  HttpResponse r = f.call("POST", "/kbs/v0/attest", "{\"runtime-data\":", cookie);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(error_type(r), "AttestationError");
  HttpResponse get_auth = f.call("GET", "/kbs/v0/auth");
  EXPECT_EQ(get_auth.status, 404);
  EXPECT_EQ(error_type(get_auth), "PluginNotFound");
  EXPECT_EQ(f.call("GET", "/elsewhere").status, 404);
  EXPECT_EQ(f.call("POST", "/metrics").status, 405);
  EXPECT_EQ(f.call("GET", "/healthz").status, 200);
}

TEST(KbsService, TokensAreCheckedOnEveryResourceRequest) {
  KbsFixture f;
  f.allow_simulated();
  ASSERT_EQ(f.admin("POST", "/kbs/v0/resource/default/key/1", "v").status, 200);
  HttpResponse none = f.call("GET", "/kbs/v0/resource/default/key/1");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(error_type(none), "TokenNotFound");

  auto [cookie, token] = f.rcar();
  appraisal::EarVerifyOptions verify;
  verify.now = f.now.wall;
  verify.trusted_key = f.ear_key.public_key();
  appraisal::Ear ear = must(appraisal::verify_ear_jwt(token, verify));

  // The same claims signed by another key, carrying that key in the header (Trustee's
  // insecure_header_jwk would accept it).
  PrivateKey forger = must(PrivateKey::generate_ec(Curve::p256));
  std::string forged =
      must(appraisal::sign_ear_jwt(ear, must(appraisal::EarSigner::create(forger))));
  HttpResponse r = f.call("GET", "/kbs/v0/resource/default/key/1", "", "", "Bearer " + forged);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(error_type(r), "TokenVerifierError");

  // Our own key, but for another KBS.
  appraisal::Ear elsewhere = ear;
  elsewhere.aud = {"another-kbs"};
  std::string other =
      must(appraisal::sign_ear_jwt(elsewhere, must(appraisal::EarSigner::create(f.ear_key))));
  EXPECT_EQ(f.call("GET", "/kbs/v0/resource/default/key/1", "", "", "Bearer " + other).status, 401);

  // Expired: an hour later the token (5 minutes) is refused on both paths.
  f.now.wall += std::chrono::hours(1);
  f.now.steady += std::chrono::minutes(4);  // the session itself still lives
  EXPECT_EQ(f.call("GET", "/kbs/v0/resource/default/key/1", "", "", "Bearer " + token).status, 401);
  HttpResponse by_cookie = f.call("GET", "/kbs/v0/resource/default/key/1", "", cookie);
  EXPECT_EQ(by_cookie.status, 401);
  EXPECT_EQ(error_type(by_cookie), "TokenNotFound");
}

TEST(KbsService, ACachedBearerTokenIsMatchedByItsExactBytes) {
  KbsFixture f;
  f.allow_simulated();
  ASSERT_EQ(f.admin("POST", "/kbs/v0/resource/default/key/1", "v").status, 200);
  auto [cookie, token] = f.rcar();
  // Verified once, then cached under its signature segment.
  ASSERT_EQ(f.call("GET", "/kbs/v0/resource/default/key/1", "", "", "Bearer " + token).status, 200);

  // Another header and payload (our key, but for another KBS) behind the cached token's
  // signature segment: the cache finds the entry, the bytes differ, full verification refuses.
  appraisal::EarVerifyOptions verify;
  verify.now = f.now.wall;
  verify.trusted_key = f.ear_key.public_key();
  appraisal::Ear elsewhere = must(appraisal::verify_ear_jwt(token, verify));
  elsewhere.aud = {"another-kbs"};
  std::string other =
      must(appraisal::sign_ear_jwt(elsewhere, must(appraisal::EarSigner::create(f.ear_key))));
  std::string spliced = other.substr(0, other.rfind('.')) + token.substr(token.rfind('.'));
  HttpResponse r = f.call("GET", "/kbs/v0/resource/default/key/1", "", "", "Bearer " + spliced);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(error_type(r), "TokenVerifierError");
  // One byte more or less than the cached token is not the cached token either.
  EXPECT_EQ(f.call("GET", "/kbs/v0/resource/default/key/1", "", "", "Bearer x" + token).status,
            401);
  // The genuine token still hits.
  EXPECT_EQ(f.call("GET", "/kbs/v0/resource/default/key/1", "", "", "Bearer " + token).status, 200);
}

TEST(KbsService, AMissingResourceIs404OnlyAfterTheTokenAndPolicyPass) {
  KbsFixture f;
  auto [cookie, token] = f.rcar();
  // Under the default policy (simulated refused) the caller cannot learn what exists.
  EXPECT_EQ(f.call("GET", "/kbs/v0/resource/default/key/none", "", cookie).status, 401);
  f.allow_simulated();
  HttpResponse r = f.call("GET", "/kbs/v0/resource/default/key/none", "", cookie);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(error_type(r), "ResourceNotFound");
  HttpResponse bad_path = f.call("GET", "/kbs/v0/resource/default/../x", "", cookie);
  EXPECT_EQ(bad_path.status, 404);
  EXPECT_EQ(error_type(bad_path), "InvalidRequestPath");
}

TEST(KbsService, AdminRoutesNeedAnAdminTokenAndRefusalsChangeNothing) {
  KbsFixture f;
  HttpResponse no_token = f.call("POST", "/kbs/v0/resource/default/key/1", "x");
  EXPECT_EQ(no_token.status, 401);
  EXPECT_EQ(error_type(no_token), "AdminAuthInitialization");
  HttpResponse wrong_role =
      f.call("POST", "/kbs/v0/resource/default/key/1", "x", "", f.admin_token("reader"));
  EXPECT_EQ(wrong_role.status, 401);
  EXPECT_TRUE(must(f.kbs->storage().list_resources()).empty());
  HttpResponse policy = f.call("POST", "/kbs/v0/resource-policy", "{}");
  EXPECT_EQ(error_type(policy), "AdminAuthAccess");

  // A policy that does not parse is refused and the old one stays.
  std::string bad =
      Json{{"policy", b64url(as_bytes(std::string_view(
                          "version = 1\nid = \"default\"\n[[rules]]\nresources = \"*\"\n")))}}
          .dump();
  EXPECT_EQ(f.admin("POST", "/kbs/v0/resource-policy", bad).status, 400);
  HttpResponse ids = f.admin("GET", "/kbs/v0/resource-policy", "");
  ASSERT_EQ(ids.status, 200);
  EXPECT_EQ(ids.body, R"(["default"])");

  // Delete, reference values, audit export.
  ASSERT_EQ(f.admin("POST", "/kbs/v0/resource/default/key/1", "x").status, 200);
  EXPECT_EQ(f.admin("DELETE", "/kbs/v0/resource/default/key/1", "").status, 200);
  EXPECT_EQ(f.admin("DELETE", "/kbs/v0/resource/default/key/1", "").status, 404);
  std::string rv =
      Json{{"version", "0.1.0"},
           {"type", "sample"},
           {"payload", base64_encode(as_bytes(std::string_view(R"({"mr_td":["aa"]})")))}}
          .dump();
  ASSERT_EQ(f.admin("POST", "/kbs/v0/reference-value", rv).status, 200);
  HttpResponse got = f.admin("GET", "/kbs/v0/reference-value/mr_td", "");
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body, R"(["aa"])");
  HttpResponse exported = f.admin("GET", "/kbs/v0/audit?from=1&limit=1000", "");
  ASSERT_EQ(exported.status, 200);
  std::vector<AuditRecord> records;
  for (std::string_view line : split(exported.body, '\n'))
    if (!line.empty()) records.push_back(must(audit_record_from_line(line)));
  EXPECT_GE(records.size(), 6u);
  EXPECT_TRUE(verify_audit_chain(records, f.audit_key.public_key()).ok());
}

TEST(KbsService, WhatAnAdminStoredSurvivesARestart) {
  KbsFixture f;
  f.allow_simulated();
  ASSERT_EQ(f.admin("POST", "/kbs/v0/resource/default/key/1", "kept").status, 200);
  std::string rv = Json{{"version", "0.1.0"},
                        {"type", "sample"},
                        {"payload", base64_encode(as_bytes(std::string_view(R"({"x":["1"]})")))}}
                       .dump();
  ASSERT_EQ(f.admin("POST", "/kbs/v0/reference-value", rv).status, 200);
  f.open();  // a new process on the same database
  EXPECT_EQ(f.admin("GET", "/kbs/v0/reference-value/x", "").body, R"(["1"])");
  auto [cookie, token] = f.rcar();
  HttpResponse r = f.call("GET", "/kbs/v0/resource/default/key/1", "", cookie);
  ASSERT_EQ(r.status, 200) << r.body;  // the stored resource policy still allows simulated
  EXPECT_EQ(f.decrypt(r), "kept");
  EXPECT_TRUE(verify_audit_chain(f.audit(), f.audit_key.public_key()).ok());
}

TEST(KbsService, AuthIsRateLimitedPerClient) {
  KbsFixture f;
  f.options.auth_rate_limit.rate_per_second = 1;
  f.options.auth_rate_limit.burst = 3;
  f.open();
  std::string body = R"({"version":"0.4.0","tee":"tdx","extra-params":""})";
  for (int i = 0; i < 3; ++i) EXPECT_EQ(f.call("POST", "/kbs/v0/auth", body).status, 200);
  HttpResponse limited = f.call("POST", "/kbs/v0/auth", body);
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(error_type(limited), "TooManyRequests");
  bool retry_after = false;
  for (auto& [name, value] : limited.headers) retry_after |= name == "Retry-After" && value == "1";
  EXPECT_TRUE(retry_after);
  EXPECT_EQ(f.call("POST", "/kbs/v0/auth", body, "", "", "10.0.0.2").status,
            200);  // another client
  f.now.steady += std::chrono::seconds(2);
  EXPECT_EQ(f.call("POST", "/kbs/v0/auth", body).status, 200);
}

// On PostgreSQL the buckets are the database's: a client spreading /auth over two replicas
// (two Kbs on one database) gets one budget, refilled by wall-clock time.
TEST(KbsService, RateLimitsAreSharedByReplicasOnPostgres) {
  if (PostgresServer::binaries().empty())
    GTEST_SKIP() << "PostgreSQL server binaries are not installed (Debian: postgresql)";
  ASSERT_TRUE(shared_postgres().ok()) << shared_postgres().error();
  const std::string conninfo = shared_postgres().create_database();
  std::vector<std::unique_ptr<KbsFixture>> replicas;
  for (int i = 0; i < 2; ++i) {
    replicas.push_back(std::make_unique<KbsFixture>(conninfo));
    replicas.back()->options.auth_rate_limit.rate_per_second = 1;
    replicas.back()->options.auth_rate_limit.burst = 3;
    replicas.back()->open();
  }
  std::string body = R"({"version":"0.4.0","tee":"tdx","extra-params":""})";
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(replicas[i % 2]->call("POST", "/kbs/v0/auth", body).status, 200);
  for (auto& replica : replicas) {
    HttpResponse limited = replica->call("POST", "/kbs/v0/auth", body);
    EXPECT_EQ(limited.status, 429);
    EXPECT_EQ(error_type(limited), "TooManyRequests");
  }
  EXPECT_EQ(replicas[1]->call("POST", "/kbs/v0/auth", body, "", "", "10.0.0.2").status, 200);
  // The steady clock is each process's own and means nothing here; the wall clock refills.
  for (auto& replica : replicas) replica->now.wall += std::chrono::seconds(1);
  EXPECT_EQ(replicas[1]->call("POST", "/kbs/v0/auth", body).status, 200);
  EXPECT_EQ(replicas[0]->call("POST", "/kbs/v0/auth", body).status, 429);
}

TEST(KbsService, ManyConcurrentClientsEveryReleaseAuditedOnce) {
  KbsFixture f;
  f.allow_simulated();
  ASSERT_EQ(f.admin("POST", "/kbs/v0/resource/default/key/1", "v").status, 200);
  constexpr int kClients = 16, kFlows = 4;
  std::atomic<int> released{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c)
    threads.emplace_back([&] {
      for (int i = 0; i < kFlows; ++i) {
        auto [cookie, token] = f.rcar();
        released += f.call("GET", "/kbs/v0/resource/default/key/1", "", cookie).status == 200;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(released.load(), kClients * kFlows);
  auto records = f.audit();
  std::set<std::string> tokens;
  int audited = 0;
  for (const AuditRecord& r : records)
    if (r.entry.action == "release" && r.entry.outcome == "release") {
      ++audited;
      tokens.insert(r.entry.token_digest);
    }
  EXPECT_EQ(audited, kClients * kFlows);
  EXPECT_EQ(tokens.size(), static_cast<size_t>(kClients * kFlows));  // one release per token
  EXPECT_TRUE(verify_audit_chain(records, f.audit_key.public_key()).ok());
}

}  // namespace
}  // namespace acon::kbs::testing
