// The session store contract, run against both implementations: in memory (one process) and
// PostgreSQL (replicas: several stores on one database stand for several processes). Then what
// only the shared store does: expired rows cleaned up in batches, rate-limit buckets shared.
#include "acon/kbs/session.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <atomic>
#include <thread>

#include "acon/common/jose.h"
#include "acon/kbs/storage.h"
#include "postgres_fixture.h"

namespace acon::kbs {
namespace {

using std::chrono::seconds;

// One instant on both clocks: the memory store reads the steady one, the shared store the wall.
Now at(int64_t offset_seconds) {
  Now now;
  now.wall = Time(seconds(1'900'000'000 + offset_seconds));
  now.steady = SteadyTime{} + std::chrono::hours(1) + seconds(offset_seconds);
  return now;
}

std::unique_ptr<Storage> open_postgres(const std::string& conninfo) {
  auto storage = open_postgres_storage(conninfo, to_secret(Bytes(kMasterKeySize, 7)),
                                       *AuditSigner::create(*PrivateKey::generate_ed25519()), 4);
  EXPECT_TRUE(storage.ok()) << storage.error().to_string();
  return storage.ok() ? std::move(*storage) : nullptr;
}

// Makes stores that share their sessions: views of one memory store, or stores of their own on
// one database (each with its own pool, as separate processes have).
class SessionStores : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgres") {
      if (testing::PostgresServer::binaries().empty())
        GTEST_SKIP() << "PostgreSQL server binaries are not installed (Debian: postgresql)";
      ASSERT_TRUE(testing::shared_postgres().ok()) << testing::shared_postgres().error();
      conninfo_ = testing::shared_postgres().create_database();
      ASSERT_FALSE(conninfo_.empty());
    }
  }
  // Replica `replica` of the store (0 is the first); the same lifetime and bound for all.
  SessionStore& replica(size_t replica, seconds lifetime = seconds(300), size_t max = 1024) {
    while (stores_.size() <= replica) {
      if (GetParam() == "memory") {
        if (!stores_.empty()) return *stores_.front();
        stores_.push_back(make_memory_session_store(lifetime, max));
      } else {
        storages_.push_back(open_postgres(conninfo_));
        stores_.push_back(storages_.back()->shared_session_store(lifetime, max));
      }
    }
    return *stores_.at(replica);
  }
  bool shared() const { return GetParam() == "postgres"; }
  const std::string& conninfo() const { return conninfo_; }

 private:
  std::string conninfo_;
  std::vector<std::unique_ptr<Storage>> storages_;
  std::vector<std::unique_ptr<SessionStore>> stores_;
};

TEST_P(SessionStores, IdsAreUuidV4InSimpleForm) {
  auto id = replica(0).create("tdx", "n", at(0));
  ASSERT_TRUE(id.ok()) << id.error().to_string();
  ASSERT_EQ(id->size(), 32u);
  EXPECT_EQ((*id)[12], '4');
  EXPECT_NE(id->find_first_of("89ab", 16), std::string::npos);
  EXPECT_EQ(id->find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST_P(SessionStores, TheNonceIsSingleUseEvenWhenTheAttestFails) {
  std::string id = *replica(0).create("tdx", "nonce-1", at(0));
  auto first = replica(1).begin_attest(id, at(1));
  ASSERT_TRUE(first.ok()) << first.error().to_string();
  EXPECT_EQ(first->nonce, "nonce-1");
  EXPECT_EQ(first->tee, "tdx");
  // While the first attest runs, a second one on the same session is refused ...
  auto concurrent = replica(2).begin_attest(id, at(1));
  ASSERT_FALSE(concurrent.ok());
  EXPECT_EQ(concurrent.error().code, Errc::invalid_argument);
  ASSERT_TRUE(replica(1).finish_attest(id, nullptr, {}).ok());
  // ... and after it failed, too: no retry with the same nonce.
  auto again = replica(0).begin_attest(id, at(2));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, Errc::invalid_argument);
  auto attested = replica(0).attested(id, at(2));
  ASSERT_TRUE(attested.ok());
  EXPECT_FALSE(attested->has_value());
}

TEST_P(SessionStores, AnAttestedSessionHoldsItsTokenUntilExpiry) {
  std::string id = *replica(0).create("tdx", "n", at(0));
  ASSERT_TRUE(replica(0).begin_attest(id, at(0)).ok());
  auto facts = std::make_shared<AttestedSession>();
  facts->token_digest = "t";
  ASSERT_TRUE(replica(0).finish_attest(id, facts, "header.claims.signature").ok());
  // The replica that attested keeps what it derived; another gets the token to verify.
  auto here = *replica(0).attested(id, at(299));
  ASSERT_TRUE(here.has_value());
  ASSERT_NE(here->facts, nullptr);
  EXPECT_EQ(here->facts->token_digest, "t");
  auto there = *replica(1).attested(id, at(299));
  ASSERT_TRUE(there.has_value());
  if (shared()) {
    EXPECT_EQ(there->facts, nullptr);
    EXPECT_EQ(there->token, "header.claims.signature");
  }
  EXPECT_FALSE(replica(0).attested(id, at(300))->has_value());
  EXPECT_FALSE(replica(1).attested(id, at(300))->has_value());
  EXPECT_FALSE(replica(1).begin_attest(id, at(1)).ok());  // attested: not again
}

// The evidence a `when` rule reads comes back from the token's claims, once, and a token whose
// claims cannot be read gives an error rather than an empty tree.
TEST(AttestedSessionEvidence, IsReadBackFromTheTokensClaims) {
  PrivateKey key = *PrivateKey::generate_ec(Curve::p256);
  Json claims = {
      {"eat_profile", appraisal::kTrusteeEarProfile},
      {"iat", 1'900'000'000},
      {"ear.verifier-id", {{"build", "b"}, {"developer", "d"}}},
      {"submods",
       {{"cpu0",
         {{"ear.status", "affirming"},
          {"ear.veraison.annotated-evidence", {{"tdx", {{"tcb_status", "UpToDate"}}}}}}}}}};
  AttestedSession session;
  session.token = *jose::jws_sign(key, jose::JwsAlg::ES256, as_bytes(claims.dump()));
  for (int i = 0; i < 2; ++i) {
    auto evidence = session.evidence("cpu0");
    ASSERT_TRUE(evidence.ok()) << evidence.error().message;
    ASSERT_NE(*evidence, nullptr);
    EXPECT_EQ((**evidence)["tdx"]["tcb_status"], "UpToDate");
  }
  EXPECT_EQ(*session.evidence("gpu0"), nullptr);

  AttestedSession unreadable;
  unreadable.token = "not-a.jwt";
  auto evidence = unreadable.evidence("cpu0");
  ASSERT_FALSE(evidence.ok());
  EXPECT_NE(evidence.error().message.find("the token's claims"), std::string::npos)
      << evidence.error().message;
}

TEST_P(SessionStores, ExpiredAndUnknownSessionsAreRefused) {
  SessionStore& store = replica(0, seconds(10));
  std::string id = *store.create("tdx", "n", at(0));
  auto late = store.begin_attest(id, at(10));
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, Errc::not_found);
  auto unknown = store.begin_attest("00000000000000000000000000000000", at(0));
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, Errc::not_found);
  // Creating sessions later drops the expired ones; what is counted is what is open.
  for (int i = 0; i < 400; ++i) ASSERT_TRUE(store.create("tdx", "n", at(20)).ok());
  EXPECT_EQ(store.size(), 400u);
}

TEST_P(SessionStores, TheNumberOfOpenSessionsIsBounded) {
  SessionStore& store = replica(0, seconds(10), 16);
  int created = 0;
  for (int i = 0; i < 200; ++i) created += store.create("tdx", "n", at(0)).ok();
  EXPECT_LE(created, 16);
  EXPECT_GE(created, 1);
  auto refused = store.create("tdx", "n", at(0));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::unsupported);
  EXPECT_TRUE(store.create("tdx", "n", at(11)).ok());  // expired ones make room
}

// Eight attests of one session at once, spread over the replicas: one wins, every round.
TEST_P(SessionStores, ConcurrentAttestsOnOneSessionSucceedOnce) {
  for (size_t r = 0; r < 4; ++r) replica(r);
  for (int round = 0; round < 20; ++round) {
    std::string id = *replica(0).create("tdx", "n", at(0));
    std::atomic<int> won{0}, used{0};
    std::vector<std::thread> threads;
    for (size_t i = 0; i < 8; ++i)
      threads.emplace_back([&, i] {
        auto begun = replica(i % 4).begin_attest(id, at(0));
        if (begun.ok()) {
          ++won;
        } else if (begun.error().code == Errc::invalid_argument) {
          ++used;
        }
      });
    for (auto& t : threads) t.join();
    EXPECT_EQ(won.load(), 1);
    EXPECT_EQ(used.load(), 7);
  }
}

INSTANTIATE_TEST_SUITE_P(Kbs, SessionStores, ::testing::Values("memory", "postgres"),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           return param.param;
                         });

// ---- the shared store's tables ----

int64_t count_rows(const std::string& conninfo, const std::string& sql) {
  std::unique_ptr<PGconn, void (*)(PGconn*)> conn(PQconnectdb(conninfo.c_str()), PQfinish);
  std::unique_ptr<PGresult, void (*)(PGresult*)> result(PQexec(conn.get(), sql.c_str()), PQclear);
  if (PQresultStatus(result.get()) != PGRES_TUPLES_OK || PQntuples(result.get()) != 1) return -1;
  return std::strtoll(PQgetvalue(result.get(), 0, 0), nullptr, 10);
}

struct SharedSessionTables : ::testing::Test {
  std::string conninfo;
  void SetUp() override {
    if (testing::PostgresServer::binaries().empty())
      GTEST_SKIP() << "PostgreSQL server binaries are not installed (Debian: postgresql)";
    ASSERT_TRUE(testing::shared_postgres().ok()) << testing::shared_postgres().error();
    conninfo = testing::shared_postgres().create_database();
  }
};

// Each /auth deletes a small batch of expired rows (by the expiry index), so the table shrinks
// back to the open sessions without any request scanning it.
TEST_F(SharedSessionTables, ExpiredRowsGoInBatchesAsSessionsAreCreated) {
  auto storage = open_postgres(conninfo);
  auto store = storage->shared_session_store(seconds(10), 1024);
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(store->create("tdx", "n", at(0)).ok());
  EXPECT_EQ(count_rows(conninfo, "SELECT count(*) FROM sessions"), 40);
  ASSERT_TRUE(store->create("tdx", "n", at(20)).ok());
  // One batch gone, not all of them.
  const int64_t after_one = count_rows(conninfo, "SELECT count(*) FROM sessions");
  EXPECT_GT(after_one, 1);
  EXPECT_LT(after_one, 41);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(store->create("tdx", "n", at(20)).ok());
  EXPECT_EQ(count_rows(conninfo, "SELECT count(*) FROM sessions"), 11);
}

// Two replicas' limiters on one database give a client one bucket: burst 3 over both, then one
// token per second. Idle, full buckets are deleted as other clients pass.
TEST_F(SharedSessionTables, RateLimitBucketsAreSharedByReplicas) {
  auto first = open_postgres(conninfo);
  auto second = open_postgres(conninfo);
  RateLimitConfig config;
  config.rate_per_second = 1;
  config.burst = 3;
  auto a = first->shared_rate_limiter(config);
  auto b = second->shared_rate_limiter(config);
  ASSERT_TRUE(a && b);
  const WallMillis t0(std::chrono::milliseconds(1'900'000'000'000));
  int allowed = 0;
  for (int i = 0; i < 6; ++i) {
    auto decision = (i % 2 ? *a : *b).check("10.0.0.1", t0);
    ASSERT_TRUE(decision.ok()) << decision.error().to_string();
    allowed += decision->allowed;
    if (!decision->allowed) {
      EXPECT_EQ(decision->retry_after, seconds(1));
    }
  }
  EXPECT_EQ(allowed, 3);
  EXPECT_TRUE(a->check("10.0.0.1", t0 + std::chrono::milliseconds(1000))->allowed);
  EXPECT_FALSE(b->check("10.0.0.1", t0 + std::chrono::milliseconds(1000))->allowed);
  // Another client's call 10 s later finds the first client's bucket full again and drops it.
  EXPECT_TRUE(b->check("10.0.0.2", t0 + seconds(10))->allowed);
  EXPECT_EQ(count_rows(conninfo, "SELECT count(*) FROM rate_buckets"), 1);
  // Off: no shared limiter at all.
  EXPECT_EQ(first->shared_rate_limiter(RateLimitConfig{}), nullptr);
}

// SQLite is one process's: its KBS keeps sessions and buckets in memory.
TEST(KbsSession, SqliteStorageSharesNothing) {
  char dir[] = "/tmp/acon-session-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  {
    auto storage = open_sqlite_storage(std::filesystem::path(dir) / "kbs.db",
                                       to_secret(Bytes(kMasterKeySize, 7)),
                                       *AuditSigner::create(*PrivateKey::generate_ed25519()));
    ASSERT_TRUE(storage.ok());
    EXPECT_EQ((*storage)->shared_session_store(seconds(300), 16), nullptr);
    RateLimitConfig on;
    on.rate_per_second = 1;
    on.burst = 1;
    EXPECT_EQ((*storage)->shared_rate_limiter(on), nullptr);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace acon::kbs
