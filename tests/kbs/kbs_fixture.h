// A KBS in process over real parts: SQLite storage in a temporary directory (or PostgreSQL),
// the simulated TDX platform as the attester, an EAR signing key, an admin key. Shared by the
// service and server tests.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "acon/appraisal/checks.h"
#include "acon/common/bytes.h"
#include "acon/common/hash.h"
#include "acon/common/jose.h"
#include "acon/guest/sim/sim.h"
#include "acon/kbs/service.h"
#include "acon/kbs/storage.h"
#include "kbs_process.h"

namespace acon::kbs::testing {

inline Time at(std::string_view text) { return *parse_rfc3339(text); }
inline const Time kIssue = at("2025-06-01T00:00:00Z");
inline const Time kCheck = kIssue + std::chrono::hours(24);

template <class T>
T must(Result<T> r) {
  EXPECT_TRUE(r.ok()) << r.error().message;
  return std::move(*r);
}

// The simulated TD's attestation and resource policies (tests/data/kbs): affirming for a genuine
// simulated quote bound to the session; released to such tokens.
inline const std::string kTestAttestationPolicy =
    testing::slurp_file(ACON_TEST_DATA "/kbs/sim-attestation.toml");
inline const std::string kAllowSimulatedPolicy =
    testing::slurp_file(ACON_TEST_DATA "/kbs/sim-resource.toml");

// "Bearer <admin JWT>" for a KBS made by `acon-kbs init` in `kbs_dir` (role admin, far expiry).
inline std::string init_admin_bearer(const std::filesystem::path& kbs_dir) {
  PrivateKey key = must(PrivateKey::from_pem(testing::slurp_file(kbs_dir / "keys/admin.pem")));
  Json claims = {{"sub", "t"}, {"role", "admin"}, {"exp", 4102444800}};
  return "Bearer " + must(jose::jws_sign(key, jose::JwsAlg::EdDSA, as_bytes(claims.dump())));
}

// The simulated TD's policies and one resource (default/key/1 = "payload"), set through a
// running KBS's admin routes as an administrator would. `Client`: http_test_client.h's
// HttpTestClient (a template, so this header stays free of Boost's TLS headers).
template <class Client>
void provision_sim_kbs(Client& c, const std::string& admin) {
  const std::vector<std::pair<std::string, std::string>> auth = {{"Authorization", admin}};
  ASSERT_EQ(c.request("POST", "/kbs/v0/resource/default/key/1", "payload", auth).status, 200);
  std::string policy = Json{{"policy", b64url(as_bytes(kAllowSimulatedPolicy))}}.dump();
  ASSERT_EQ(c.request("POST", "/kbs/v0/resource-policy", policy, auth).status, 200);
  std::string attestation_policy = Json{{"type", "toml"},
                                        {"policy_id", "default"},
                                        {"policy", b64url(as_bytes(kTestAttestationPolicy))}}
                                       .dump();
  ASSERT_EQ(c.request("POST", "/kbs/v0/attestation-policy", attestation_policy, auth).status, 200);
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "acon-kbs-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The attester side: a simulated TD and a TEE key pair.
struct Attester {
  guest::sim::Simulator sim;
  PrivateKey tee_key;
  Json tee_jwk;

  explicit Attester(std::string_view seed = "kbs_test", Time issue = kIssue)
      : sim(must(guest::sim::Simulator::create(options(seed, issue)))),
        tee_key(must(PrivateKey::generate_ec(Curve::p256))) {
    tee_jwk = tee_key.public_key().to_jwk();
    tee_jwk["alg"] = "ECDH-ES+A256KW";
  }
  static guest::sim::CreateOptions options(std::string_view seed, Time issue) {
    guest::sim::CreateOptions create;
    create.seed = sha256(as_bytes(seed));
    create.dates = guest::sim::default_dates(issue);
    return create;
  }

  // The Attestation body for `nonce`; the quote binds `bound_jwk` (default: the JWK sent).
  std::string attestation(std::string_view nonce, const Json* bound_jwk = nullptr,
                          bool tamper_quote = false) const {
    appraisal::RuntimeData bound{std::string(nonce), bound_jwk ? *bound_jwk : tee_jwk, ""};
    Bytes digest = sha384(as_bytes(must(appraisal::kbs_runtime_data_jcs(bound))));
    guest::ReportData report_data{};
    std::copy(digest.begin(), digest.end(), report_data.begin());
    Bytes quote = must(sim.quote(report_data));
    if (tamper_quote) quote[200] ^= 1;
    Json body = {{"runtime-data", {{"nonce", nonce}, {"tee-pubkey", tee_jwk}}},
                 {"tee-evidence",
                  {{"primary_evidence",
                    {{"cc_eventlog", base64_encode(sim.ccel())}, {"quote", base64_encode(quote)}}},
                   {"additional_evidence", ""}}}};
    return body.dump();
  }
};

struct KbsFixture {
  TempDir dir;
  Attester attester;
  PrivateKey ear_key = must(PrivateKey::generate_ec(Curve::p256));
  PrivateKey audit_key = must(PrivateKey::generate_ed25519());
  PrivateKey admin_key = must(PrivateKey::generate_ed25519());
  Bytes master_key = Bytes(32, 0x42);
  KbsOptions options;
  std::unique_ptr<Kbs> kbs;
  Now now{kCheck, SteadyTime{} + std::chrono::hours(1)};

  std::string postgres_conninfo;  // empty: SQLite in `dir`
  std::chrono::milliseconds postgres_query_timeout = kDefaultPostgresQueryTimeout;

  KbsFixture() : KbsFixture(std::string()) {}
  // On PostgreSQL (postgres_fixture.h) when `conninfo` is not empty.
  explicit KbsFixture(std::string conninfo) : postgres_conninfo(std::move(conninfo)) {
    options.id = "acon-kbs-test";
    options.evidence.anchors.roots = {attester.sim.root_ca()};
    options.evidence.collateral = must(attester.sim.collateral());
    open();
  }

  void open() {
    kbs.reset();
    auto storage =
        must(postgres_conninfo.empty()
                 ? open_sqlite_storage(dir.path() / "kbs.db", to_secret(master_key),
                                       must(AuditSigner::create(audit_key)))
                 : open_postgres_storage(postgres_conninfo, to_secret(master_key),
                                         must(AuditSigner::create(audit_key)),
                                         kDefaultPostgresPoolSize, postgres_query_timeout));
    AdminConfig admin;
    admin.providers.push_back({"test", admin_key.public_key(), std::nullopt, std::nullopt});
    admin.acl.push_back({"admin", {"GET", "POST", "DELETE"}, {"/kbs/v0/**"}});
    kbs =
        must(Kbs::create(options, std::move(storage), must(appraisal::EarSigner::create(ear_key)),
                         must(AdminAuthorizer::create(std::move(admin))),
                         must(appraisal::parse_policy(kTestAttestationPolicy, "test")), now.wall));
  }

  std::string admin_token(std::string_view role = "admin") const {
    Json claims = {{"sub", "tester"},
                   {"role", role},
                   {"iat", now.wall.time_since_epoch().count()},
                   {"exp", (now.wall + std::chrono::minutes(5)).time_since_epoch().count()}};
    return "Bearer " + must(jose::jws_sign(admin_key, jose::JwsAlg::EdDSA, as_bytes(claims.dump()),
                                           Json{{"typ", "JWT"}}));
  }

  HttpResponse call(std::string_view method, std::string_view target, std::string_view body = "",
                    std::string_view cookie = "", std::string_view authorization = "",
                    std::string_view peer = "10.0.0.1") {
    HttpRequest r;
    r.method = method;
    r.target = target;
    r.body = body;
    r.cookie = cookie;
    r.authorization = authorization;
    r.peer = peer;
    return kbs->handle(r, now);
  }

  HttpResponse admin(std::string_view method, std::string_view target, std::string_view body) {
    return call(method, target, body, "", admin_token());
  }

  void allow_simulated() {
    std::string body = Json{{"policy", b64url(as_bytes(kAllowSimulatedPolicy))}}.dump();
    HttpResponse r = admin("POST", "/kbs/v0/resource-policy", body);
    ASSERT_EQ(r.status, 200) << r.body;
  }

  // /auth: the cookie header to send back and the nonce.
  std::pair<std::string, std::string> auth(std::string_view tee = "tdx") {
    HttpResponse r =
        call("POST", "/kbs/v0/auth",
             R"({"version":"0.4.0","tee":")" + std::string(tee) + R"(","extra-params":""})");
    EXPECT_EQ(r.status, 200) << r.body;
    std::string cookie;
    for (auto& [name, value] : r.headers)
      if (name == "Set-Cookie") cookie = value.substr(0, value.find(';'));
    Json challenge = Json::parse(r.body);
    return {cookie, challenge.value("nonce", "")};
  }

  // A full RCAR; the cookie of the attested session and the token.
  std::pair<std::string, std::string> rcar() {
    auto [cookie, nonce] = auth();
    HttpResponse r = call("POST", "/kbs/v0/attest", attester.attestation(nonce), cookie);
    EXPECT_EQ(r.status, 200) << r.body;
    return {cookie, Json::parse(r.body).value("token", "")};
  }

  std::string decrypt(const HttpResponse& r) const {
    auto plain = jose::jwe_decrypt(r.body, attester.tee_key);
    EXPECT_TRUE(plain.ok()) << (plain.ok() ? "" : plain.error().message);
    return plain.ok() ? std::string(as_chars(view(*plain))) : std::string();
  }

  std::vector<AuditRecord> audit() { return must(kbs->storage().read_audit(1, 100000)); }
};

inline std::string error_type(const HttpResponse& r) {
  auto json = Json::parse(r.body, nullptr, false);
  if (!json.is_object() || !json.contains("type")) return "<no ErrorInformation>";
  std::string type = json["type"];
  return type.substr(type.rfind('/') + 1);
}

}  // namespace acon::kbs::testing
