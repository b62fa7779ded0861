// The KBS's group commit of audit records over a real SQLite storage: records that arrive while
// a commit runs share the next one (signed once, at its end), a failed commit fails exactly its
// records, and the log verifies.
#include "audit_committer.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>

namespace acon::kbs {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

AuditEntry entry(int n) {
  AuditEntry e;
  e.time = Time(1767225600s + std::chrono::seconds(n));
  e.action = "release";
  e.resource = "default/key/1";
  e.outcome = "release";
  e.http_status = 200;
  e.detail = "request " + std::to_string(n);
  return e;
}

// A real SQLite storage whose commits can be held at a gate or made to fail, so that the test
// decides what is queued while a commit runs.
class GatedStorage : public Storage {
 public:
  explicit GatedStorage(std::unique_ptr<Storage> inner) : inner_(std::move(inner)) {}

  void hold() {
    std::lock_guard lock(mutex_);
    held_ = true;
  }
  void release() {
    std::lock_guard lock(mutex_);
    held_ = false;
    changed_.notify_all();
  }
  void wait_until_held_commit_started() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return waiting_; });
  }
  std::atomic<bool> fail_next{false};
  std::vector<size_t> batch_sizes;  // written by the committing thread only

  Result<std::vector<AuditRecord>> append_audit_batch(std::vector<AuditEntry> entries) override {
    {
      std::unique_lock lock(mutex_);
      waiting_ = true;
      changed_.notify_all();
      changed_.wait(lock, [&] { return !held_; });
      waiting_ = false;
    }
    batch_sizes.push_back(entries.size());
    if (fail_next.exchange(false)) return make_error(Errc::io, "database is gone");
    return inner_->append_audit_batch(std::move(entries));
  }
  Status put_resource(std::string_view p, ByteView v) override {
    return inner_->put_resource(p, v);
  }
  Result<std::optional<SecretBytes>> get_resource(std::string_view p) override {
    return inner_->get_resource(p);
  }
  Result<bool> delete_resource(std::string_view p) override { return inner_->delete_resource(p); }
  Result<std::vector<std::string>> list_resources() override { return inner_->list_resources(); }
  Status put_document(std::string_view ns, std::string_view id, std::string_view t) override {
    return inner_->put_document(ns, id, t);
  }
  Result<std::optional<std::string>> get_document(std::string_view ns,
                                                  std::string_view id) override {
    return inner_->get_document(ns, id);
  }
  Result<bool> delete_document(std::string_view ns, std::string_view id) override {
    return inner_->delete_document(ns, id);
  }
  Result<std::vector<std::string>> list_documents(std::string_view ns) override {
    return inner_->list_documents(ns);
  }
  Result<std::vector<AuditRecord>> read_audit(uint64_t from, size_t limit) override {
    return inner_->read_audit(from, limit);
  }
  Result<AuditHead> audit_head() override { return inner_->audit_head(); }

 private:
  std::unique_ptr<Storage> inner_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool held_ = false;
  bool waiting_ = false;
};

struct AuditCommitterTest : ::testing::Test {
  fs::path dir;
  PrivateKey audit_key = *PrivateKey::generate_ec(Curve::p256);
  std::unique_ptr<GatedStorage> storage;

  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "acon-committer-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir = pattern;
    auto inner =
        open_sqlite_storage(dir / "kbs.db", SecretBytes(32, 3), *AuditSigner::create(audit_key));
    ASSERT_TRUE(inner.ok()) << inner.error().to_string();
    storage = std::make_unique<GatedStorage>(std::move(*inner));
  }
  void TearDown() override {
    storage.reset();
    fs::remove_all(dir);
  }
  std::vector<AuditRecord> log() { return *storage->read_audit(1, 1000); }
};

TEST_F(AuditCommitterTest, RecordsQueuedDuringACommitShareTheNextOne) {
  AuditCommitter committer(*storage);
  storage->hold();
  std::vector<int> outcomes(6, -1);  // 1 appended, 0 failed
  std::vector<std::thread::id> ran_on(6);
  std::thread first([&] {
    committer.submit(entry(0), [&](const Status& s) {
      outcomes[0] = s.ok();
      ran_on[0] = std::this_thread::get_id();
    });
  });
  storage->wait_until_held_commit_started();
  // The first thread is committing (held): these queue and return at once, unanswered.
  for (int i = 1; i < 6; ++i)
    committer.submit(entry(i), [&, i](const Status& s) {
      outcomes[i] = s.ok();
      ran_on[i] = std::this_thread::get_id();
    });
  for (int i = 1; i < 6; ++i) EXPECT_EQ(outcomes[i], -1) << i;
  const std::thread::id committer_thread = first.get_id();
  storage->release();
  first.join();

  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(outcomes[i], 1) << i;
    EXPECT_EQ(ran_on[i], committer_thread) << i;  // the committing thread answered all
  }
  EXPECT_EQ(storage->batch_sizes, (std::vector<size_t>{1, 5}));
  EXPECT_EQ(committer.commits(), 2u);
  EXPECT_EQ(committer.records(), 6u);
  auto records = log();
  ASSERT_EQ(records.size(), 6u);
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(records[i].entry, entry(static_cast<int>(i)));  // in submission order
    EXPECT_EQ(records[i].signature.empty(), i != 0 && i != 5) << i;
  }
  auto verified = verify_audit_chain(records, audit_key.public_key());
  EXPECT_TRUE(verified.ok()) << verified.reason;
}

// A server's workers: what the committer schedules waits here until the test runs it.
struct ManualWorkers {
  std::vector<std::function<void()>> queued;
  AuditCommitter::Schedule schedule() {
    return [this](std::function<void()> work) { queued.push_back(std::move(work)); };
  }
  void run_all() {
    while (!queued.empty()) {
      auto work = std::move(queued.front());
      queued.erase(queued.begin());
      work();
    }
  }
};

TEST_F(AuditCommitterTest, AScheduledCommitTakesTheRecordsThatArriveBeforeItRuns) {
  AuditCommitter committer(*storage);
  ManualWorkers workers;
  int answered = 0;
  for (int i = 0; i < 5; ++i)
    committer.submit(
        entry(i), [&](const Status& s) { answered += s.ok(); }, workers.schedule());
  EXPECT_EQ(workers.queued.size(), 1u);  // one commit scheduled for all five
  EXPECT_EQ(answered, 0);
  EXPECT_TRUE(storage->batch_sizes.empty());
  workers.run_all();
  EXPECT_EQ(answered, 5);
  EXPECT_EQ(storage->batch_sizes, (std::vector<size_t>{5}));

  // A blocking caller does not wait for the scheduled commit: it commits at once, taking what
  // was queued, and the scheduled start then finds nothing to do.
  committer.submit(
      entry(5), [&](const Status& s) { answered += s.ok(); }, workers.schedule());
  ASSERT_EQ(workers.queued.size(), 1u);
  ASSERT_TRUE(committer.append(entry(6)).ok());
  EXPECT_EQ(answered, 6);
  workers.run_all();
  EXPECT_EQ(storage->batch_sizes, (std::vector<size_t>{5, 2}));

  // Workers that stopped: flush commits what their schedule would have.
  committer.submit(
      entry(7), [&](const Status& s) { answered += s.ok(); }, workers.schedule());
  workers.queued.clear();  // never runs
  committer.flush();
  EXPECT_EQ(answered, 7);
  committer.submit(
      entry(8), [&](const Status& s) { answered += s.ok(); }, workers.schedule());
  EXPECT_EQ(workers.queued.size(), 1u);  // scheduling works again after the flush
  workers.run_all();
  EXPECT_EQ(answered, 8);
  auto records = log();
  ASSERT_EQ(records.size(), 9u);
  for (size_t i = 0; i < records.size(); ++i)
    EXPECT_EQ(records[i].entry, entry(static_cast<int>(i)));
  EXPECT_TRUE(verify_audit_chain(records, audit_key.public_key()).ok());
}

TEST_F(AuditCommitterTest, AFailedCommitFailsExactlyItsRecords) {
  AuditCommitter committer(*storage);
  ASSERT_TRUE(committer.append(entry(0)).ok());
  storage->fail_next = true;
  Status failed = committer.append(entry(1));
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, Errc::io);
  ASSERT_TRUE(committer.append(entry(2)).ok());
  auto records = log();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].entry, entry(2));
  EXPECT_EQ(committer.records(), 2u);
  EXPECT_TRUE(verify_audit_chain(records, audit_key.public_key()).ok());
}

TEST_F(AuditCommitterTest, AnInvalidEntryFailsAloneAndReachesNoCommit) {
  AuditCommitter committer(*storage);
  AuditEntry bad = entry(1);
  bad.token_digest = "not-a-digest";
  Status refused = committer.append(bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("token_digest"), std::string::npos);
  EXPECT_TRUE(storage->batch_sizes.empty());
  EXPECT_TRUE(committer.append(entry(2)).ok());
}

TEST_F(AuditCommitterTest, ConcurrentAppendsFormOneVerifiedChain) {
  AuditCommitter committer(*storage);
  constexpr int kThreads = 8, kEach = 40;
  std::atomic<int> appended{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i)
        if (committer.append(entry(t * 1000 + i)).ok()) ++appended;
    });
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(appended.load(), kThreads * kEach);
  auto records = log();
  ASSERT_EQ(records.size(), static_cast<size_t>(kThreads * kEach));
  auto verified = verify_audit_chain(records, audit_key.public_key());
  EXPECT_TRUE(verified.ok()) << verified.reason;
  EXPECT_EQ(committer.records(), records.size());
  size_t signatures = 0;
  for (const auto& record : records) signatures += !record.signature.empty();
  EXPECT_EQ(signatures, committer.commits());
}

}  // namespace
}  // namespace acon::kbs
