// Three acon-kbs processes on one PostgreSQL database, as replicas behind a round-robin load
// balancer without session affinity: an RCAR whose /auth, /attest and resource GET each go to a
// different replica; one nonce attested at two replicas at once; 64 clients across the replicas
// while one replica is killed (SIGKILL) and restarted and then the database is restarted.
// docs/kbs-storage.md "Replicas" describes what each operation guarantees.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "http_test_client.h"
#include "kbs_fixture.h"
#include "kbs_process.h"
#include "postgres_fixture.h"

namespace acon::kbs::testing {
namespace {

constexpr size_t kReplicas = 3;
constexpr std::string_view kAuthBody = R"({"version":"0.4.0","tee":"tdx","extra-params":""})";
constexpr std::string_view kResource = "/kbs/v0/resource/default/key/1";

std::string cookie_of(const Reply& r) {
  std::string set = r.header("Set-Cookie");
  return set.substr(0, set.find(';'));
}

std::string token_digest(const Reply& attest) {
  return hex_encode(sha256(as_bytes(std::string(Json::parse(attest.body)["token"]))));
}

// A database, an `acon-kbs init` directory whose config names it, three replicas started on it,
// and the secret, resource policy and attestation policy a simulated TD needs, stored through
// the first replica.
struct KbsReplicas : ::testing::Test {
  // The processes read the real clock: the simulated platform's collateral is issued yesterday.
  Attester attester{"kbs_replicas",
                    std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()) -
                        std::chrono::hours(24)};
  std::unique_ptr<PostgresServer> database;
  TempDir dir;
  std::filesystem::path kbs_dir = dir.path() / "kbs";
  std::filesystem::path config = kbs_dir / "config.toml";
  std::vector<std::unique_ptr<KbsProcess>> replicas;
  std::array<std::atomic<uint16_t>, kReplicas> ports{};
  std::string admin;

  void SetUp() override {
    if (PostgresServer::binaries().empty())
      GTEST_SKIP() << "PostgreSQL server binaries are not installed (Debian: postgresql)";
    database = std::make_unique<PostgresServer>();
    ASSERT_TRUE(database->ok()) << database->error();
    const std::string conninfo = database->create_database();
    ASSERT_FALSE(conninfo.empty());

    const std::filesystem::path sim_root = dir.path() / "sim-root.pem";
    const std::filesystem::path collateral = dir.path() / "collateral.json";
    std::ofstream(sim_root) << attester.sim.root_ca().to_pem();
    std::ofstream(collateral) << attester.sim.collateral_bundle();
    ASSERT_EQ(
        run_tool({"init", kbs_dir.string(), "--listen", "127.0.0.1:0", "--insecure-http",
                  "--simulated-root", sim_root.string(), "--collateral", collateral.string()}),
        0);
    std::string text = slurp_file(config);
    auto replace = [&](const std::string& from, const std::string& to) {
      ASSERT_NE(text.find(from), std::string::npos) << text;
      text.replace(text.find(from), from.size(), to);
    };
    replace("type = \"sqlite\"\npath = \"kbs.db\"\n",
            "type = \"postgres\"\nurl = \"" + conninfo + "\"\nquery_timeout_ms = 2000\n");
    // 64 clients share one address here: init's 50 /auth + /attest per second per client,
    // shared by the replicas now, would starve them. The shared buckets have their own test.
    replace("per_second = 50", "per_second = 0");
    std::ofstream(config, std::ios::trunc) << text;

    for (size_t i = 0; i < kReplicas; ++i) {
      replicas.push_back(std::make_unique<KbsProcess>(config));
      ASSERT_NE(replicas.back()->port(), 0);
      ports[i] = replicas.back()->port();
    }

    admin = init_admin_bearer(kbs_dir);
    HttpTestClient c(ports[0]);
    provision_sim_kbs(c, admin);
    if (HasFatalFailure()) return;
    // Replicas re-read policies within a second (policy_refresh); restarting the others now
    // means the tests need not wait for it.
    for (size_t i = 1; i < kReplicas; ++i) restart(i, SIGTERM);
  }

  void restart(size_t i, int signal) {
    replicas[i]->kill_now(signal);
    replicas[i]->start();
    ports[i] = replicas[i]->port();
  }

  Reply at(size_t replica, std::string_view method, std::string_view target,
           std::string_view body = "",
           std::vector<std::pair<std::string, std::string>> headers = {}) {
    return HttpTestClient(ports[replica % kReplicas].load())
        .request(method, target, body, std::move(headers));
  }

  std::vector<AuditRecord> audit() {
    Reply exported =
        at(0, "GET", "/kbs/v0/audit?from=1&limit=10000", "", {{"Authorization", admin}});
    EXPECT_EQ(exported.status, 200);
    std::vector<AuditRecord> records;
    for (std::string_view line : split(exported.body, '\n'))
      if (!line.empty()) records.push_back(must(audit_record_from_line(line)));
    return records;
  }

  void expect_audit_verifies() {
    for (auto& replica : replicas) replica->kill_now(SIGTERM);
    std::string out;
    EXPECT_EQ(run_tool({"audit", "verify", "--config", config.string(), "--key",
                        (kbs_dir / "keys/audit-signing.pub.pem").string()},
                       &out),
              0)
        << out;
    EXPECT_NE(out.find("audit log intact"), std::string::npos) << out;
  }
};

TEST_F(KbsReplicas, AuthAttestAndGetEachAtAnotherReplica) {
  Reply auth = at(0, "POST", "/kbs/v0/auth", kAuthBody);
  ASSERT_EQ(auth.status, 200);
  const std::string cookie = cookie_of(auth);
  const std::string nonce = Json::parse(auth.body)["nonce"];
  Reply attest = at(1, "POST", "/kbs/v0/attest", attester.attestation(nonce), {{"Cookie", cookie}});
  ASSERT_EQ(attest.status, 200) << attest.body;
  Reply get = at(2, "GET", kResource, "", {{"Cookie", cookie}});
  ASSERT_EQ(get.status, 200) << get.body;
  // The released JWE opens with the TEE key the attestation bound.
  SecretBytes value = must(jose::jwe_decrypt_json(must(parse_json(get.body)), attester.tee_key));
  EXPECT_EQ(std::string(value.begin(), value.end()), "payload");
  // And at the replica that attested (its own cache) and the first one (the database's token).
  EXPECT_EQ(at(1, "GET", kResource, "", {{"Cookie", cookie}}).status, 200);
  EXPECT_EQ(at(0, "GET", kResource, "", {{"Cookie", cookie}}).status, 200);
  // A session no replica issued gets nothing anywhere.
  EXPECT_EQ(
      at(2, "GET", kResource, "", {{"Cookie", "kbs-session-id=0123456789abcdef0123456789abcdef"}})
          .status,
      401);
  expect_audit_verifies();
}

// An admin's write at one replica reaches the others without a restart: each re-reads the
// policies when its copy is older than [kbs] policy_refresh (1 s). Resources are read from the
// database on every request.
TEST_F(KbsReplicas, AnAdminWriteAtOneReplicaReachesTheOthers) {
  Reply auth = at(0, "POST", "/kbs/v0/auth", kAuthBody);
  ASSERT_EQ(auth.status, 200);
  const std::string cookie = cookie_of(auth);
  Reply attest =
      at(0, "POST", "/kbs/v0/attest",
         attester.attestation(std::string(Json::parse(auth.body)["nonce"])), {{"Cookie", cookie}});
  ASSERT_EQ(attest.status, 200) << attest.body;
  ASSERT_EQ(at(2, "GET", kResource, "", {{"Cookie", cookie}}).status, 200);

  // A new secret value at replica 1 is what replica 2 releases next.
  ASSERT_EQ(at(1, "POST", kResource, "rotated", {{"Authorization", admin}}).status, 200);
  Reply rotated = at(2, "GET", kResource, "", {{"Cookie", cookie}});
  ASSERT_EQ(rotated.status, 200);
  SecretBytes value =
      must(jose::jwe_decrypt_json(must(parse_json(rotated.body)), attester.tee_key));
  EXPECT_EQ(std::string(value.begin(), value.end()), "rotated");

  // A resource policy that releases nothing, stored at replica 1, is in force at replica 2
  // within the refresh interval (polled, bounded: not a timing assertion).
  const std::string deny_all = R"(version = 1
id = "default"
[[rules]]
resources = "*/*/*"
effect = "deny"
)";
  std::string policy = Json{{"policy", b64url(as_bytes(deny_all))}}.dump();
  Reply stored = at(1, "POST", "/kbs/v0/resource-policy", policy, {{"Authorization", admin}});
  ASSERT_EQ(stored.status, 200) << stored.body;
  Reply denied;
  for (int i = 0; i < 100; ++i) {
    denied = at(2, "GET", kResource, "", {{"Cookie", cookie}});
    if (denied.status != 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(denied.status, 401);
  EXPECT_NE(denied.body.find("Access denied by policy"), std::string::npos) << denied.body;
  expect_audit_verifies();
}

// One nonce, two /attest sent together to two replicas: one token, one "already used" refusal,
// and the refusal is in the audit log.
TEST_F(KbsReplicas, OneNonceAttestedConcurrentlyAtTwoReplicasSucceedsOnce) {
  constexpr int kRounds = 5;
  for (int round = 0; round < kRounds; ++round) {
    Reply auth = at(0, "POST", "/kbs/v0/auth", kAuthBody);
    ASSERT_EQ(auth.status, 200);
    const std::string cookie = cookie_of(auth);
    const std::string evidence = attester.attestation(std::string(Json::parse(auth.body)["nonce"]));
    std::array<Reply, 2> replies;
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (size_t i = 0; i < 2; ++i) {
      threads.emplace_back([&, i] {
        HttpTestClient client(ports[1 + i].load());
        client.request("GET", "/healthz");  // connected before the race starts
        while (!go) std::this_thread::yield();
        replies[i] = client.request("POST", "/kbs/v0/attest", evidence, {{"Cookie", cookie}});
      });
    }
    go = true;
    for (auto& t : threads) t.join();
    const int won = (replies[0].status == 200) + (replies[1].status == 200);
    EXPECT_EQ(won, 1) << replies[0].body << " / " << replies[1].body;
    const Reply& lost = replies[0].status == 200 ? replies[1] : replies[0];
    EXPECT_EQ(lost.status, 401);
    EXPECT_NE(lost.body.find("already used"), std::string::npos) << lost.body;
  }
  size_t refusals = 0, tokens = 0;
  for (const AuditRecord& record : audit()) {
    if (record.entry.action != "attest") continue;
    tokens += record.entry.outcome == "token";
    refusals += record.entry.outcome == "deny" &&
                record.entry.detail.find("already used") != std::string::npos;
  }
  EXPECT_EQ(tokens, static_cast<size_t>(kRounds));
  EXPECT_EQ(refusals, static_cast<size_t>(kRounds));
  expect_audit_verifies();
}

// 64 clients, each flow's /auth, /attest and three GETs sent round-robin over the replicas. Mid
// run one replica is killed with SIGKILL and restarted; later the database itself is stopped
// (immediate shutdown) and started again, and the replicas, not restarted, answer 503 meanwhile
// and then serve again. At the end: every release a client received is in the audit log, no
// token was issued twice for one session, and the chain verifies.
TEST_F(KbsReplicas, SixtyFourClientsThroughAReplicaKillAndADatabaseRestart) {
  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::map<std::string, int> released;  // token digest -> 200 responses received
  std::set<std::string> sessions_attested;
  std::atomic<int> flows{0}, double_tokens{0};
  std::atomic<size_t> next{0};
  auto client = [&] {
    while (!stop) {
      Reply auth = at(next++, "POST", "/kbs/v0/auth", kAuthBody);
      if (auth.status != 200) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      const std::string cookie = cookie_of(auth);
      const std::string nonce = Json::parse(auth.body)["nonce"];
      Reply attest =
          at(next++, "POST", "/kbs/v0/attest", attester.attestation(nonce), {{"Cookie", cookie}});
      if (attest.status != 200) continue;
      const std::string digest = token_digest(attest);
      {
        std::lock_guard lock(mutex);
        if (!sessions_attested.insert(cookie).second) ++double_tokens;
      }
      ++flows;
      for (int i = 0; i < 3 && !stop; ++i) {
        Reply get = at(next++, "GET", kResource, "", {{"Cookie", cookie}});
        if (get.status == 200) {
          std::lock_guard lock(mutex);
          released[digest]++;
        }
      }
    }
  };
  auto wait_for_flows = [&](int more) {
    const int target = flows + more;
    // Bounded: a stall fails the test instead of hanging it.
    for (int i = 0; i < 3000 && flows < target; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return flows >= target;
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < 64; ++i) threads.emplace_back(client);

  EXPECT_TRUE(wait_for_flows(30));
  restart(1, SIGKILL);  // same database, new process and port
  EXPECT_TRUE(wait_for_flows(30));

  database->stop();
  // Every replica answers, and answers 503, while the database is down.
  for (size_t i = 0; i < kReplicas; ++i) {
    Reply down = at(i, "POST", "/kbs/v0/auth", kAuthBody);
    EXPECT_EQ(down.status, 503) << "replica " << i << ": " << down.body;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  database->start();
  ASSERT_TRUE(database->ok()) << database->error();
  EXPECT_TRUE(wait_for_flows(30));
  stop = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(double_tokens.load(), 0);

  std::map<std::string, int> audited, attested;
  for (const AuditRecord& record : audit()) {
    if (record.entry.action == "release" && record.entry.outcome == "release")
      audited[record.entry.token_digest]++;
    if (record.entry.action == "attest" && record.entry.outcome == "token")
      attested[record.entry.token_digest]++;
  }
  int received = 0;
  for (const auto& [digest, count] : released) {
    received += count;
    // The log may hold a release whose response a kill cut off, never fewer; at most the three
    // GETs of the flow, and one attest record for the token.
    EXPECT_GE(audited[digest], count) << digest;
    EXPECT_LE(audited[digest], 3) << digest;
    EXPECT_EQ(attested[digest], 1) << digest;
  }
  EXPECT_GT(received, 100);
  expect_audit_verifies();
}

}  // namespace
}  // namespace acon::kbs::testing
