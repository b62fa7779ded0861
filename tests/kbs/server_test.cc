// The KBS over HTTP: the Beast server in process (limits, keep-alive, TLS), and the acon-kbs
// program as a separate process (init, serve, a concurrent load with a kill -9 and a restart,
// audit verify).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "acon/kbs/config.h"
#include "acon/kbs/server.h"
#include "http_test_client.h"
#include "kbs_fixture.h"
#include "postgres_fixture.h"

namespace acon::kbs::testing {
namespace {

std::string cookie_of(const Reply& r) {
  std::string set = r.header("Set-Cookie");
  return set.substr(0, set.find(';'));
}

struct InProcessServer {
  KbsFixture f;
  std::unique_ptr<Server> server;
  uint16_t port = 0;

  explicit InProcessServer(ServerOptions options = plain()) {
    server = must(Server::start(*f.kbs, options));
    port = server->ports().at(0);
  }
  static ServerOptions plain() {
    ServerOptions o;
    o.listen = {"127.0.0.1:0"};
    o.insecure_http = true;
    o.threads = 2;
    o.max_body_bytes = 64 << 10;
    o.max_header_bytes = 16 << 10;
    return o;
  }
};

TEST(KbsServer, KeepAliveServesManyRequestsOnOneConnection) {
  InProcessServer s;
  HttpTestClient client(s.port);
  for (int i = 0; i < 5; ++i) {
    Reply r = client.request("GET", "/healthz");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "ok\n");
  }
  EXPECT_EQ(client.connections_opened(), 1);
  Reply metrics = client.request("GET", "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("kbs_sessions"), std::string::npos);
}

TEST(KbsServer, OversizedOrMalformedRequestsAreRefusedBeforeTheKbsSeesThem) {
  InProcessServer s;
  HttpTestClient client(s.port);
  Reply big = client.request("POST", "/kbs/v0/auth", std::string(100 << 10, 'x'));
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(error_type(HttpResponse{big.status, "", big.body, {}}), "PayloadTooLarge");
  Reply head = client.request("GET", "/healthz", "", {{"X-Filler", std::string(32 << 10, 'a')}});
  EXPECT_EQ(head.status, 431);
  Reply garbage = client.raw("NOT HTTP AT ALL\r\n\r\n");
  EXPECT_EQ(garbage.status, 400);
  // The server still serves.
  EXPECT_EQ(client.request("GET", "/healthz").status, 200);
  EXPECT_EQ(s.f.call("GET", "/metrics").body.find("kbs_auth_total 0") != std::string::npos, true);
}

TEST(KbsServer, RcarOverHttpWithTheCookieTheServerSets) {
  InProcessServer s;
  s.f.allow_simulated();
  ASSERT_EQ(s.f.admin("POST", "/kbs/v0/resource/default/key/1", "over-http").status, 200);
  HttpTestClient client(s.port);
  Reply auth = client.request("POST", "/kbs/v0/auth",
                              R"({"version":"0.4.0","tee":"tdx","extra-params":""})");
  ASSERT_EQ(auth.status, 200);
  EXPECT_EQ(auth.header("Content-Type"), "application/json");
  std::string cookie = cookie_of(auth);
  ASSERT_TRUE(cookie.starts_with("kbs-session-id="));
  std::string nonce = Json::parse(auth.body)["nonce"];
  Reply attest = client.request("POST", "/kbs/v0/attest", s.f.attester.attestation(nonce),
                                {{"Cookie", cookie}});
  ASSERT_EQ(attest.status, 200) << attest.body;
  Reply get = client.request("GET", "/kbs/v0/resource/default/key/1", "", {{"Cookie", cookie}});
  ASSERT_EQ(get.status, 200) << get.body;
  EXPECT_EQ(s.f.decrypt(HttpResponse{200, "", get.body, {}}), "over-http");
}

// The server answers a release only once its audit record committed, and records of requests
// answered at the same time share a commit (kbs/src/audit_committer.h); when the log cannot be
// written, nothing is released and no token issued, also on this asynchronous path.
TEST(KbsServer, ConcurrentReleasesShareAuditCommitsAndWaitForTheirRecords) {
  InProcessServer s;
  s.f.allow_simulated();
  ASSERT_EQ(s.f.admin("POST", "/kbs/v0/resource/default/key/1", "shared-commit").status, 200);
  auto rcar = [&](HttpTestClient& client) {
    Reply auth = client.request("POST", "/kbs/v0/auth",
                                R"({"version":"0.4.0","tee":"tdx","extra-params":""})");
    std::string cookie = cookie_of(auth);
    std::string nonce = Json::parse(auth.body)["nonce"];
    Reply attest = client.request("POST", "/kbs/v0/attest", s.f.attester.attestation(nonce),
                                  {{"Cookie", cookie}});
    return std::make_pair(attest, cookie);
  };
  constexpr int kClients = 16, kEach = 20;
  std::atomic<int> released{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c)
    clients.emplace_back([&] {
      HttpTestClient client(s.port);
      auto [attest, cookie] = rcar(client);
      if (attest.status != 200) return;
      for (int i = 0; i < kEach; ++i) {
        Reply get =
            client.request("GET", "/kbs/v0/resource/default/key/1", "", {{"Cookie", cookie}});
        if (get.status == 200 &&
            s.f.decrypt(HttpResponse{200, "", get.body, {}}) == "shared-commit")
          ++released;
      }
    });
  for (auto& client : clients) client.join();
  EXPECT_EQ(released.load(), kClients * kEach);

  auto records = must(s.f.kbs->storage().read_audit(1, 100000));
  auto verified = verify_audit_chain(records, s.f.audit_key.public_key());
  EXPECT_TRUE(verified.ok()) << verified.reason;
  int releases = 0, tokens = 0;
  size_t signatures = 0;
  for (const auto& record : records) {
    releases += record.entry.action == "release" && record.entry.outcome == "release";
    tokens += record.entry.action == "attest" && record.entry.outcome == "token";
    signatures += !record.signature.empty();
  }
  EXPECT_EQ(releases, kClients * kEach);
  EXPECT_EQ(tokens, kClients);
  const std::string metrics = s.f.call("GET", "/metrics").body;
  EXPECT_NE(metrics.find("kbs_audit_records_total " + std::to_string(records.size()) + "\n"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("kbs_audit_commits_total " + std::to_string(signatures) + "\n"),
            std::string::npos)
      << metrics;

  // The log becomes unwritable: a release and a token are refused with 503, after the failed
  // commit, and nothing is released.
  HttpTestClient client(s.port);
  auto [attest, cookie] = rcar(client);
  ASSERT_EQ(attest.status, 200) << attest.body;
  sqlite3* raw = nullptr;
  ASSERT_EQ(
      sqlite3_open_v2((s.f.dir.path() / "kbs.db").c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr),
      SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "DROP TABLE audit", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(raw);
  Reply get = client.request("GET", "/kbs/v0/resource/default/key/1", "", {{"Cookie", cookie}});
  EXPECT_EQ(get.status, 503);
  EXPECT_NE(get.body.find("nothing released"), std::string::npos) << get.body;
  auto [refused, unused] = rcar(client);
  EXPECT_EQ(refused.status, 503);
  EXPECT_NE(refused.body.find("no token issued"), std::string::npos) << refused.body;
  EXPECT_EQ(refused.header("Set-Cookie"), "");
}

TEST(KbsServer, TlsWithTheCertificateInitWrites) {
  TempDir dir;
  auto config_path = must(init_kbs_directory(dir.path() / "kbs", InitOptions{}, kCheck));
  KbsConfig config = must(load_kbs_config(config_path));
  EXPECT_FALSE(config.server.insecure_http);
  InProcessServer s;  // an in-process KBS; the server takes init's TLS files
  ServerOptions options = InProcessServer::plain();
  options.insecure_http = false;
  options.certificate = config.server.certificate;
  options.private_key = config.server.private_key;
  auto tls_server = must(Server::start(*s.f.kbs, options));
  HttpTestClient client(tls_server->ports().at(0), (dir.path() / "kbs/keys/tls-ca.pem").string());
  EXPECT_EQ(client.request("GET", "/healthz").status, 200);
  HttpTestClient plain(tls_server->ports().at(0));
  EXPECT_NE(plain.request("GET", "/healthz").status, 200);
}

TEST(KbsServer, InitWritesAConfigurationThatOpens) {
  TempDir dir;
  auto path = must(init_kbs_directory(dir.path() / "kbs", InitOptions{}, kCheck));
  auto opened = open_kbs(must(load_kbs_config(path)), kCheck);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  // Secure defaults: TLS, the simulated root untrusted, admin keys mode 0600.
  auto perms = std::filesystem::status(dir.path() / "kbs/keys/admin.pem").permissions();
  EXPECT_EQ(perms & std::filesystem::perms::others_read, std::filesystem::perms::none);
  EXPECT_FALSE(init_kbs_directory(dir.path() / "kbs", InitOptions{}, kCheck).ok());  // not empty
}

TEST(KbsServer, InitPinsTpmAksOnlyWhenAsked) {
  TempDir dir;
  // Without --ak no TPM is trusted.
  auto plain = must(init_kbs_directory(dir.path() / "plain", InitOptions{}, kCheck));
  EXPECT_TRUE(must(load_kbs_config(plain)).tpm_ak_keys.empty());
  // With one, it is copied in, pinned, and the configuration opens.
  const PrivateKey ak = must(PrivateKey::generate_rsa(2048));
  const auto ak_file = dir.path() / "ak.pem";
  std::ofstream(ak_file) << ak.public_key().to_pem();
  InitOptions options;
  options.tpm_ak_keys = {ak_file};
  auto pinned = must(init_kbs_directory(dir.path() / "pinned", options, kCheck));
  KbsConfig config = must(load_kbs_config(pinned));
  ASSERT_EQ(config.tpm_ak_keys.size(), 1u);
  EXPECT_EQ(config.tpm_ak_keys[0], dir.path() / "pinned" / "keys" / "tpm-ak-0.pem");
  std::ifstream in(config.tpm_ak_keys[0]);
  const std::string pem((std::istreambuf_iterator<char>(in)), {});
  EXPECT_TRUE(must(PublicKey::from_pem(pem)) == ak.public_key());
  EXPECT_TRUE(open_kbs(config, kCheck).ok());
  // A file that is not a public key stops the KBS from opening, naming the file.
  std::ofstream(config.tpm_ak_keys[0]) << "not a key";
  auto broken = open_kbs(config, kCheck);
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.error().message.find("tpm-ak-0.pem"), std::string::npos)
      << broken.error().message;
  // And one that does not exist stops init.
  options.tpm_ak_keys = {dir.path() / "missing.pem"};
  EXPECT_FALSE(init_kbs_directory(dir.path() / "missing", options, kCheck).ok());
}

TEST(KbsServer, ConfigurationErrorsNameTheLine) {
  auto bad = parse_kbs_config("[server]\nlisten = [\"127.0.0.1:1\"]\nport = 3\n", "/tmp", "k.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "k.toml: line 3: [server]: unknown key \"port\"");
  auto section = parse_kbs_config("[servre]\n", "/tmp", "k.toml");
  ASSERT_FALSE(section.ok());
  EXPECT_NE(section.error().message.find("unknown section \"servre\""), std::string::npos);
  EXPECT_FALSE(parse_kbs_config("[server]\nthreads = -1\n", "/tmp").ok());
  EXPECT_FALSE(parse_kbs_config("[storage]\ntype = \"redis\"\n", "/tmp").ok());
  EXPECT_FALSE(parse_kbs_config("[kbs]\nid = \"\xc3\xa9\"\n", "/tmp").ok());
}

TEST(KbsServer, PostgresStorageConfiguration) {
  // SQLite stays the default.
  KbsConfig defaults = must(parse_kbs_config("", "/tmp"));
  EXPECT_EQ(defaults.storage_type, "sqlite");
  EXPECT_EQ(defaults.storage_url_env, "ACON_KBS_DATABASE_URL");

  KbsConfig pg = must(parse_kbs_config(
      "[storage]\ntype = \"postgres\"\nurl = \"host=/run/postgresql dbname=kbs\"\npool_size = 3\n",
      "/tmp"));
  EXPECT_EQ(pg.storage_type, "postgres");
  EXPECT_EQ(pg.storage_url, "host=/run/postgresql dbname=kbs");
  EXPECT_EQ(pg.storage_pool_size, 3);
  EXPECT_FALSE(parse_kbs_config("[storage]\npool_size = 0\n", "/tmp").ok());

  // Without a url, the connection string comes from the named variable when the storage opens;
  // an unset variable is refused with its name.
  TempDir dir;
  KbsConfig from_env = must(parse_kbs_config(
      "[storage]\ntype = \"postgres\"\nurl_env = \"ACON_TEST_UNSET_DATABASE_URL\"\n"
      "master_key = \"master.key\"\n[audit]\nsigning_key = \"audit.pem\"\n",
      dir.path()));
  std::ofstream(dir.path() / "master.key") << std::string(64, 'a');
  std::ofstream(dir.path() / "audit.pem")
      << to_string(view(must(PrivateKey::generate_ed25519()).to_pem()));
  ::unsetenv("ACON_TEST_UNSET_DATABASE_URL");
  auto opened = open_configured_storage(from_env);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, Errc::invalid_argument);
  EXPECT_NE(opened.error().message.find("ACON_TEST_UNSET_DATABASE_URL"), std::string::npos);
}

// ---- acon-kbs as a process ----

TEST(KbsProcess, SixtyFourClientsAKillDashNineAndARestartLoseNothingCommitted) {
  // The process reads the real clock: the simulated platform's collateral is issued yesterday.
  Attester attester("kbs_process",
                    std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()) -
                        std::chrono::hours(24));
  TempDir dir;
  std::filesystem::path sim_root = dir.path() / "sim-root.pem";
  std::filesystem::path collateral = dir.path() / "collateral.json";
  std::ofstream(sim_root) << attester.sim.root_ca().to_pem();
  std::ofstream(collateral) << attester.sim.collateral_bundle();
  std::filesystem::path kbs_dir = dir.path() / "kbs";
  ASSERT_EQ(run_tool({"init", kbs_dir.string(), "--listen", "127.0.0.1:0", "--insecure-http",
                      "--simulated-root", sim_root.string(), "--collateral", collateral.string()}),
            0);
  // 64 clients on one address against init's 50 /auth + /attest per second per client starve
  // each other (an /auth that wins a token, an /attest that loses one); rate limiting has its
  // own tests, this one is about what a kill -9 loses, so the limit is off here.
  {
    std::string config = testing::slurp_file(kbs_dir / "config.toml");
    const std::string limit = "per_second = 50";
    ASSERT_NE(config.find(limit), std::string::npos);
    config.replace(config.find(limit), limit.size(), "per_second = 0");
    std::ofstream(kbs_dir / "config.toml") << config;
  }
  KbsProcess kbs(kbs_dir / "config.toml");

  std::string admin = init_admin_bearer(kbs_dir);
  {
    HttpTestClient c(kbs.port());
    provision_sim_kbs(c, admin);
    if (HasFatalFailure()) return;
  }

  // 64 clients, each: RCAR, then GETs by cookie, until told to stop. Every 200 is remembered
  // by the digest of the token it was released to.
  std::atomic<bool> stop{false};
  std::atomic<uint16_t> port{kbs.port()};
  std::mutex mutex;
  std::map<std::string, int> released;  // token digest -> 200 responses received
  std::atomic<int> flows{0};
  auto client = [&] {
    while (!stop) {
      HttpTestClient c(port.load());
      Reply auth =
          c.request("POST", "/kbs/v0/auth", R"({"version":"0.4.0","tee":"tdx","extra-params":""})");
      if (auth.status != 200) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      std::string cookie = cookie_of(auth);
      std::string nonce = Json::parse(auth.body)["nonce"];
      Reply attest =
          c.request("POST", "/kbs/v0/attest", attester.attestation(nonce), {{"Cookie", cookie}});
      if (attest.status != 200) continue;
      std::string digest =
          hex_encode(sha256(as_bytes(std::string(Json::parse(attest.body)["token"]))));
      ++flows;
      for (int i = 0; i < 3 && !stop; ++i) {
        Reply get = c.request("GET", "/kbs/v0/resource/default/key/1", "", {{"Cookie", cookie}});
        if (get.status == 200) {
          std::lock_guard lock(mutex);
          released[digest]++;
        }
      }
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < 64; ++i) threads.emplace_back(client);
  while (flows < 40) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  kbs.kill_now(SIGKILL);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  kbs.start();  // same database, new process and port
  port = kbs.port();
  int before = flows;
  while (flows < before + 40) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  stop = true;
  for (auto& t : threads) t.join();

  // Every release a client received is in the audit log, exactly once per response.
  std::string export_text;
  {
    HttpTestClient c(kbs.port());
    Reply exported =
        c.request("GET", "/kbs/v0/audit?from=1&limit=10000", "", {{"Authorization", admin}});
    ASSERT_EQ(exported.status, 200);
    export_text = exported.body;
  }
  std::map<std::string, int> audited;
  for (std::string_view line : split(export_text, '\n')) {
    if (line.empty()) continue;
    AuditRecord record = must(audit_record_from_line(line));
    if (record.entry.action == "release" && record.entry.outcome == "release")
      audited[record.entry.token_digest]++;
  }
  int received = 0;
  for (const auto& [digest, count] : released) {
    received += count;
    // The log may hold a release whose response the kill cut off, never fewer.
    EXPECT_GE(audited[digest], count) << digest;
    EXPECT_LE(audited[digest], 3) << digest;
  }
  EXPECT_GT(received, 100);
  kbs.kill_now(SIGTERM);
  std::string out;
  EXPECT_EQ(run_tool({"audit", "verify", "--config", (kbs_dir / "config.toml").string(), "--key",
                      (kbs_dir / "keys/audit-signing.pub.pem").string()},
                     &out),
            0)
      << out;
  EXPECT_NE(out.find("audit log intact"), std::string::npos) << out;
}

// Two acon-kbs processes on one PostgreSQL database, as two replicas behind a load balancer:
// admin writes spread over both from several threads each append an audit record; the database
// ends with one chain, which `acon-kbs audit verify` accepts, and what one replica stored the
// other serves.
TEST(KbsProcess, TwoReplicasOnOnePostgresDatabaseWriteOneAuditChain) {
  if (PostgresServer::binaries().empty())
    GTEST_SKIP() << "PostgreSQL server binaries are not installed (Debian: postgresql)";
  PostgresServer server;
  ASSERT_TRUE(server.ok()) << server.error();
  const std::string conninfo = server.create_database();
  TempDir dir;
  std::filesystem::path kbs_dir = dir.path() / "kbs";
  ASSERT_EQ(run_tool({"init", kbs_dir.string(), "--listen", "127.0.0.1:0", "--insecure-http"}), 0);
  const std::filesystem::path config = kbs_dir / "config.toml";
  std::string text = [&] {
    std::ifstream in(config);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  const std::string sqlite = "type = \"sqlite\"\npath = \"kbs.db\"\n";
  ASSERT_NE(text.find(sqlite), std::string::npos) << text;
  text.replace(text.find(sqlite), sqlite.size(),
               "type = \"postgres\"\nurl = \"" + conninfo + "\"\n");
  std::ofstream(config, std::ios::trunc) << text;

  KbsProcess first(config);
  KbsProcess second(config);
  const uint16_t ports[2] = {first.port(), second.port()};
  PrivateKey admin_key = must(PrivateKey::from_pem([&] {
    std::ifstream in(kbs_dir / "keys/admin.pem");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }()));
  Json claims = {{"sub", "t"}, {"role", "admin"}, {"exp", 4102444800}};
  const std::string admin =
      "Bearer " + must(jose::jws_sign(admin_key, jose::JwsAlg::EdDSA, as_bytes(claims.dump())));

  constexpr int kThreads = 4;
  constexpr int kPerThread = 25;
  std::atomic<int> stored{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      HttpTestClient clients[2] = {HttpTestClient(ports[0]), HttpTestClient(ports[1])};
      for (int i = 0; i < kPerThread; ++i) {
        const std::string path =
            "/kbs/v0/resource/replica/t" + std::to_string(t) + "/" + std::to_string(i);
        if (clients[i % 2].request("POST", path, "v", {{"Authorization", admin}}).status == 200)
          ++stored;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(stored.load(), kThreads * kPerThread);
  // Written through the first replica (i = 0), listed by the second.
  Reply listed = HttpTestClient(ports[1]).request("GET", "/kbs/v0/audit?from=1&limit=10000", "",
                                                  {{"Authorization", admin}});
  ASSERT_EQ(listed.status, 200);
  size_t lines = 0;
  for (std::string_view line : split(listed.body, '\n')) lines += !line.empty();
  EXPECT_GE(lines, static_cast<size_t>(kThreads * kPerThread));

  first.kill_now(SIGTERM);
  second.kill_now(SIGTERM);
  std::string out;
  EXPECT_EQ(run_tool({"audit", "verify", "--config", config.string(), "--key",
                      (kbs_dir / "keys/audit-signing.pub.pem").string()},
                     &out),
            0)
      << out;
  EXPECT_NE(out.find("audit log intact: " + std::to_string(lines) + " records"), std::string::npos)
      << out;
}

}  // namespace
}  // namespace acon::kbs::testing
