#include "acon/kbs/session.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace acon::kbs {
namespace {

using std::chrono::seconds;

TEST(KbsSession, IdsAreUuidV4InSimpleForm) {
  SessionStore store(seconds(300), 1024);
  SteadyTime t0{};
  auto id = store.create("tdx", "n", t0);
  ASSERT_TRUE(id.ok());
  ASSERT_EQ(id->size(), 32u);
  EXPECT_EQ((*id)[12], '4');
  EXPECT_NE(id->find_first_of("89ab", 16), std::string::npos);
  EXPECT_EQ(id->find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST(KbsSession, TheNonceIsSingleUseEvenWhenTheAttestFails) {
  SessionStore store(seconds(300), 1024);
  SteadyTime t0{};
  std::string id = *store.create("tdx", "nonce-1", t0);
  auto first = store.begin_attest(id, t0 + seconds(1));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->nonce, "nonce-1");
  EXPECT_EQ(first->tee, "tdx");
  // While the first attest runs, a second one on the same session is refused ...
  auto concurrent = store.begin_attest(id, t0 + seconds(1));
  ASSERT_FALSE(concurrent.ok());
  EXPECT_EQ(concurrent.error().code, Errc::invalid_argument);
  store.finish_attest(id, nullptr);
  // ... and after it failed, too: no retry with the same nonce.
  EXPECT_FALSE(store.begin_attest(id, t0 + seconds(2)).ok());
  EXPECT_EQ(store.attested(id, t0 + seconds(2)), nullptr);
}

TEST(KbsSession, AnAttestedSessionHoldsItsTokenUntilExpiry) {
  SessionStore store(seconds(300), 1024);
  SteadyTime t0{};
  std::string id = *store.create("tdx", "n", t0);
  ASSERT_TRUE(store.begin_attest(id, t0).ok());
  auto attested = std::make_shared<AttestedSession>();
  attested->token_digest = "t";
  store.finish_attest(id, attested);
  ASSERT_NE(store.attested(id, t0 + seconds(299)), nullptr);
  EXPECT_EQ(store.attested(id, t0 + seconds(299))->token_digest, "t");
  EXPECT_EQ(store.attested(id, t0 + seconds(300)), nullptr);
  EXPECT_FALSE(store.begin_attest(id, t0 + seconds(1)).ok());  // attested: not again
}

TEST(KbsSession, ExpiredSessionsAreRefusedAndDropped) {
  SessionStore store(seconds(10), 1024);
  SteadyTime t0{};
  std::string id = *store.create("tdx", "n", t0);
  auto late = store.begin_attest(id, t0 + seconds(10));
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, Errc::not_found);
  EXPECT_FALSE(store.begin_attest("00000000000000000000000000000000", t0).ok());
  // Creating sessions later drops the expired ones of the shards they land in; with enough new
  // sessions every shard has been visited.
  for (int i = 0; i < 400; ++i) ASSERT_TRUE(store.create("tdx", "n", t0 + seconds(20)).ok());
  EXPECT_EQ(store.size(), 400u);
}

TEST(KbsSession, TheNumberOfOpenSessionsIsBounded) {
  SessionStore store(seconds(10), 16);  // one per shard
  SteadyTime t0{};
  int created = 0;
  for (int i = 0; i < 200; ++i) created += store.create("tdx", "n", t0).ok();
  EXPECT_LE(created, 16);
  EXPECT_GE(created, 1);
  EXPECT_TRUE(store.create("tdx", "n", t0 + seconds(11)).ok());  // expired ones make room
}

TEST(KbsSession, ConcurrentAttestsOnOneSessionSucceedOnce) {
  SessionStore store(seconds(300), 1024);
  SteadyTime t0{};
  for (int round = 0; round < 50; ++round) {
    std::string id = *store.create("tdx", "n", t0);
    std::atomic<int> won{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 8; ++i)
      threads.emplace_back([&] { won += store.begin_attest(id, t0).ok(); });
    for (auto& t : threads) t.join();
    EXPECT_EQ(won.load(), 1);
  }
}

}  // namespace
}  // namespace acon::kbs
