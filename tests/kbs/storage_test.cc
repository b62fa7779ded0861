#include "acon/kbs/storage.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "acon/common/hash.h"
#include "kbs/postgres_fixture.h"

namespace acon::kbs {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "acon-kbs-storage-XXXXXX").string();
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// The test's own connection to the database file, to read and tamper with rows as an attacker
// with file access would.
class RawDb {
 public:
  explicit RawDb(const fs::path& path) {
    sqlite3* raw = nullptr;
    sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr);
    db_.reset(raw);
    sqlite3_busy_timeout(raw, 5000);
  }
  // Runs constant SQL written by the test; true on success.
  bool exec(const std::string& sql) {
    return sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK;
  }
  Bytes blob(const std::string& sql) {
    sqlite3_stmt* raw = nullptr;
    sqlite3_prepare_v2(db_.get(), sql.c_str(), -1, &raw, nullptr);
    std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(raw, sqlite3_finalize);
    Bytes out;
    if (stmt && sqlite3_step(stmt.get()) == SQLITE_ROW) {
      const auto* data = static_cast<const uint8_t*>(sqlite3_column_blob(stmt.get(), 0));
      out.assign(data, data + sqlite3_column_bytes(stmt.get(), 0));
    }
    return out;
  }

 private:
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> db_{nullptr, sqlite3_close_v2};
};

Bytes read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool contains(const Bytes& haystack, std::string_view needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) !=
         haystack.end();
}

AuditEntry entry(std::string action, int n = 0) {
  AuditEntry e;
  e.time = Time(1767225600s) + std::chrono::seconds(n);
  e.action = std::move(action);
  e.resource = "default/key/1";
  e.outcome = "allow";
  e.http_status = 200;
  e.policy_id = "default";
  e.policy_rule = "allow";
  e.token_digest = hex_encode(sha256(as_bytes("token " + std::to_string(n))));
  e.peer = "10.0.0." + std::to_string(n % 250);
  return e;
}

struct StorageTest : ::testing::Test {
  TempDir dir;
  fs::path db = dir.path() / "kbs.db";
  SecretBytes master = to_secret(*random_bytes(kMasterKeySize));
  PrivateKey audit_key = *PrivateKey::generate_ed25519();

  Result<std::unique_ptr<Storage>> open(const SecretBytes& key) {
    return open_sqlite_storage(db, key, *AuditSigner::create(audit_key));
  }
  std::unique_ptr<Storage> open() {
    auto storage = open(master);
    EXPECT_TRUE(storage.ok()) << storage.error().to_string();
    return storage.ok() ? std::move(*storage) : nullptr;
  }
};

// ---- The Storage contract, run against every backend ----

// One backend under test: how to open a Storage on its database, and a raw SQL door into that
// database for the tests that play an attacker with database access.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual Result<std::unique_ptr<Storage>> open(const SecretBytes& key, AuditSigner signer) = 0;
  virtual bool exec(const std::string& sql) = 0;
  // An SQL expression for n zero bytes.
  virtual std::string zeros(int n) const = 0;
};

class SqliteBackend final : public Backend {
 public:
  Result<std::unique_ptr<Storage>> open(const SecretBytes& key, AuditSigner signer) override {
    return open_sqlite_storage(db_, key, std::move(signer));
  }
  bool exec(const std::string& sql) override { return RawDb(db_).exec(sql); }
  std::string zeros(int n) const override { return "zeroblob(" + std::to_string(n) + ")"; }

 private:
  TempDir dir_;
  fs::path db_ = dir_.path() / "kbs.db";
};

class PostgresBackend final : public Backend {
 public:
  explicit PostgresBackend(std::string conninfo) : conninfo_(std::move(conninfo)) {}
  Result<std::unique_ptr<Storage>> open(const SecretBytes& key, AuditSigner signer) override {
    return open_postgres_storage(conninfo_, key, std::move(signer));
  }
  bool exec(const std::string& sql) override {
    return testing::PostgresServer::exec(conninfo_, sql);
  }
  std::string zeros(int n) const override {
    return "decode(repeat('00', " + std::to_string(n) + "), 'hex')";
  }
  const std::string& conninfo() const { return conninfo_; }

 private:
  std::string conninfo_;
};

enum class BackendKind { sqlite, postgres };

std::string backend_name(const ::testing::TestParamInfo<BackendKind>& info) {
  return info.param == BackendKind::sqlite ? "Sqlite" : "Postgres";
}

// A fresh database per test: a file in a temporary directory, or a new database on the shared
// PostgreSQL server. Skips only when the PostgreSQL binaries are not installed.
struct StorageContract : ::testing::TestWithParam<BackendKind> {
  std::unique_ptr<Backend> backend;
  SecretBytes master = to_secret(*random_bytes(kMasterKeySize));
  PrivateKey audit_key = *PrivateKey::generate_ed25519();

  void SetUp() override {
    if (GetParam() == BackendKind::sqlite) {
      backend = std::make_unique<SqliteBackend>();
      return;
    }
    if (testing::PostgresServer::binaries().empty())
      GTEST_SKIP() << "PostgreSQL server binaries are not installed (Debian: postgresql)";
    auto& server = testing::shared_postgres();
    ASSERT_TRUE(server.ok()) << server.error();
    std::string conninfo = server.create_database();
    ASSERT_FALSE(conninfo.empty()) << "CREATE DATABASE failed";
    backend = std::make_unique<PostgresBackend>(std::move(conninfo));
  }

  Result<std::unique_ptr<Storage>> open(const SecretBytes& key) {
    return backend->open(key, *AuditSigner::create(audit_key));
  }
  std::unique_ptr<Storage> open() {
    auto storage = open(master);
    EXPECT_TRUE(storage.ok()) << storage.error().to_string();
    return storage.ok() ? std::move(*storage) : nullptr;
  }
};

INSTANTIATE_TEST_SUITE_P(Backends, StorageContract,
                         ::testing::Values(BackendKind::sqlite, BackendKind::postgres),
                         backend_name);

TEST_P(StorageContract, ResourceRoundTripReplaceDeleteList) {
  auto s = open();
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->get_resource("default/key/1")->has_value());
  ASSERT_TRUE(s->put_resource("default/key/1", as_bytes("first")).ok());
  ASSERT_TRUE(s->put_resource("default/key/2", as_bytes("")).ok());
  ASSERT_TRUE(s->put_resource("other/cert/a.pem", as_bytes("pem")).ok());
  auto got = s->get_resource("default/key/1");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ(to_string(view(**got)), "first");
  EXPECT_TRUE(s->get_resource("default/key/2")->value().empty());

  ASSERT_TRUE(s->put_resource("default/key/1", as_bytes("second")).ok());
  EXPECT_EQ(to_string(view(**s->get_resource("default/key/1"))), "second");

  EXPECT_EQ(*s->list_resources(),
            (std::vector<std::string>{"default/key/1", "default/key/2", "other/cert/a.pem"}));
  EXPECT_TRUE(*s->delete_resource("default/key/2"));
  EXPECT_FALSE(*s->delete_resource("default/key/2"));
  EXPECT_FALSE(s->get_resource("default/key/2")->has_value());
  EXPECT_EQ(s->list_resources()->size(), 2u);
}

TEST_P(StorageContract, InvalidPathsAndSizesAreRefused) {
  auto s = open();
  ASSERT_TRUE(s);
  for (const char* path : {"default/key", "a/../b", "a/b/c/d", "", "a/b/ c"}) {
    auto put = s->put_resource(path, as_bytes("x"));
    ASSERT_FALSE(put.ok()) << path;
    EXPECT_EQ(put.error().code, Errc::invalid_argument);
    EXPECT_FALSE(s->get_resource(path).ok());
    EXPECT_FALSE(s->delete_resource(path).ok());
  }
  Bytes big(kMaxResourceSize + 1, 0);
  EXPECT_EQ(s->put_resource("a/b/c", big).error().code, Errc::invalid_argument);
}

TEST_F(StorageTest, ValuesAreEncryptedAtRest) {
  const std::string secret = "SECRET-PLAINTEXT-7f3a9c-do-not-store";
  {
    auto s = open();
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->put_resource("default/key/1", as_bytes(secret)).ok());
    // Neither the main file nor the WAL holds the plaintext while the storage is open.
    Bytes files = read_file(db);
    append(files, read_file(db.string() + "-wal"));
    EXPECT_FALSE(contains(files, secret));
    EXPECT_TRUE(contains(files, "default/key/1"));  // the path is not secret
  }
  EXPECT_FALSE(contains(read_file(db), secret));
  RawDb raw(db);
  Bytes ciphertext = raw.blob("SELECT ciphertext FROM resources WHERE path = 'default/key/1'");
  EXPECT_EQ(ciphertext.size(), secret.size());
  EXPECT_NE(to_string(ciphertext), secret);
  EXPECT_EQ(raw.blob("SELECT iv FROM resources").size(), 12u);
  EXPECT_EQ(raw.blob("SELECT tag FROM resources").size(), 16u);
}

TEST_F(StorageTest, FreshIvPerWrite) {
  auto s = open();
  ASSERT_TRUE(s);
  RawDb raw(db);
  ASSERT_TRUE(s->put_resource("a/b/c", as_bytes("same")).ok());
  Bytes iv1 = raw.blob("SELECT iv FROM resources");
  Bytes ct1 = raw.blob("SELECT ciphertext FROM resources");
  ASSERT_TRUE(s->put_resource("a/b/c", as_bytes("same")).ok());
  EXPECT_NE(raw.blob("SELECT iv FROM resources"), iv1);
  EXPECT_NE(raw.blob("SELECT ciphertext FROM resources"), ct1);
}

TEST_P(StorageContract, WrongMasterKeyIsRefusedAtOpen) {
  {
    auto s = open();
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->put_resource("a/b/c", as_bytes("value")).ok());
  }
  SecretBytes wrong = master;
  wrong[0] ^= 1;
  auto s = open(wrong);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::verify_failed);
  EXPECT_NE(s.error().message.find("wrong master key"), std::string::npos) << s.error().message;
  // The right key still opens it.
  EXPECT_TRUE(open());

  auto short_key = open(SecretBytes(16, 1));
  ASSERT_FALSE(short_key.ok());
  EXPECT_EQ(short_key.error().code, Errc::invalid_argument);
}

TEST_P(StorageContract, MissingKeyCheckIsRefused) {
  ASSERT_TRUE(open());
  ASSERT_TRUE(backend->exec("DELETE FROM key_check"));
  auto s = open(master);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::verify_failed);
}

TEST_P(StorageContract, CiphertextMovedToAnotherPathFailsToDecrypt) {
  const std::string secret = "moved-secret-value";
  auto s = open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->put_resource("default/key/1", as_bytes(secret)).ok());
  ASSERT_TRUE(s->put_resource("default/key/2", as_bytes("decoy")).ok());
  Backend& raw = *backend;
  // Copy key/1's sealed value over key/2's row.
  ASSERT_TRUE(raw.exec(
      "UPDATE resources SET (iv, ciphertext, tag) = (SELECT iv, ciphertext, tag FROM resources "
      "WHERE path = 'default/key/1') WHERE path = 'default/key/2'"));
  auto got = s->get_resource("default/key/2");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, Errc::verify_failed);
  EXPECT_EQ(got.error().message.find(secret), std::string::npos);
  // And a renamed row as well.
  ASSERT_TRUE(raw.exec("UPDATE resources SET path = 'default/key/3' WHERE path = 'default/key/1'"));
  EXPECT_EQ(s->get_resource("default/key/3").error().code, Errc::verify_failed);
  // A flipped ciphertext bit is caught the same way.
  ASSERT_TRUE(s->put_resource("default/key/4", as_bytes(secret)).ok());
  ASSERT_TRUE(
      raw.exec("UPDATE resources SET tag = " + raw.zeros(16) + " WHERE path = 'default/key/4'"));
  EXPECT_EQ(s->get_resource("default/key/4").error().code, Errc::verify_failed);
}

TEST_P(StorageContract, DocumentsRoundTripByNamespace) {
  auto s = open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->put_document("resource-policy", "default", "package policy\nallow = true").ok());
  ASSERT_TRUE(s->put_document("resource-policy", "strict", "allow = false").ok());
  ASSERT_TRUE(s->put_document("reference-values", "default", "{}").ok());
  EXPECT_EQ(**s->get_document("resource-policy", "default"), "package policy\nallow = true");
  EXPECT_EQ(**s->get_document("reference-values", "default"), "{}");
  EXPECT_FALSE(s->get_document("attestation-policy", "default")->has_value());
  ASSERT_TRUE(s->put_document("resource-policy", "default", "").ok());
  EXPECT_EQ(**s->get_document("resource-policy", "default"), "");
  EXPECT_EQ(*s->list_documents("resource-policy"), (std::vector<std::string>{"default", "strict"}));
  EXPECT_TRUE(*s->delete_document("resource-policy", "strict"));
  EXPECT_FALSE(*s->delete_document("resource-policy", "strict"));
  EXPECT_EQ(s->list_documents("resource-policy")->size(), 1u);
  EXPECT_TRUE(s->list_documents("nothing-here")->empty());
  // Valid UTF-8 may hold NUL; it comes back byte for byte (PostgreSQL's text could not hold it).
  const std::string with_nul("a\0b", 3);
  ASSERT_TRUE(s->put_document("reference-values", "nul", with_nul).ok());
  EXPECT_EQ(**s->get_document("reference-values", "nul"), with_nul);
  // Ids sort by byte value, not by a locale's collation.
  ASSERT_TRUE(s->put_document("order", "b", "").ok());
  ASSERT_TRUE(s->put_document("order", "B", "").ok());
  ASSERT_TRUE(s->put_document("order", "a", "").ok());
  EXPECT_EQ(*s->list_documents("order"), (std::vector<std::string>{"B", "a", "b"}));

  EXPECT_EQ(s->put_document("bad/ns", "x", "").error().code, Errc::invalid_argument);
  EXPECT_EQ(s->put_document("ns", "", "").error().code, Errc::invalid_argument);
  EXPECT_EQ(s->put_document("ns", "a\nb", "").error().code, Errc::invalid_argument);
  EXPECT_EQ(s->put_document("ns", "id", "\xff").error().code, Errc::invalid_argument);
  EXPECT_EQ(s->list_documents("").error().code, Errc::invalid_argument);
}

TEST_P(StorageContract, EverythingPersistsAcrossReopen) {
  AuditHead head;
  {
    auto s = open();
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->put_resource("default/key/1", as_bytes("kept")).ok());
    ASSERT_TRUE(s->put_document("resource-policy", "default", "policy text").ok());
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(s->append_audit(entry("release", i)).ok());
    head = *s->audit_head();
  }
  auto s = open();
  ASSERT_TRUE(s);
  EXPECT_EQ(to_string(view(**s->get_resource("default/key/1"))), "kept");
  EXPECT_EQ(**s->get_document("resource-policy", "default"), "policy text");
  EXPECT_EQ(*s->audit_head(), head);
  auto next = s->append_audit(entry("deny", 4));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->seq, 4u);
  EXPECT_EQ(next->prev_hash, head.hash);
  auto records = s->read_audit(1, 100);
  ASSERT_TRUE(records.ok());
  EXPECT_EQ(records->size(), 4u);
  auto result = verify_audit_chain(*records, audit_key.public_key(), head);
  EXPECT_TRUE(result.ok()) << result.reason;
  EXPECT_EQ(result.head, next->head());
}

TEST_F(StorageTest, DatabaseFileIsPrivate) {
  ASSERT_TRUE(open());
  struct stat st {};
  ASSERT_EQ(::stat(db.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

// The WAL is copied back into the database while the storage is open, by the storage's own
// checkpointer (the serving connection's automatic checkpoint is off): of 12 MiB written, under
// the limit at which a commit waits for a checkpoint, all but the last < 1,000 pages (4 MB) reach
// the database within seconds. That tail may stay in the WAL: once a checkpoint has copied
// everything, the next commit starts the WAL over and asks for a checkpoint again only at 1,000
// pages, as SQLite's own automatic checkpoint does (the sanitizer build, whose checkpointer keeps
// up, stops there). Without the checkpointer nothing reaches the database while it is open. A
// burst of 32 MiB, faster than the checkpointer, leaves the WAL file near the hold-up limit rather
// than holding every write.
TEST_F(StorageTest, TheWalIsCheckpointedWhileOpenAndStaysBounded) {
  auto s = open();
  ASSERT_TRUE(s);
  const Bytes value = *random_bytes(512 * 1024);
  auto size = [](const fs::path& file) {
    std::error_code ec;
    const auto bytes = fs::file_size(file, ec);
    return ec ? uintmax_t{0} : bytes;
  };
  const fs::path wal = db.string() + "-wal";
  for (int i = 0; i < 24; ++i)
    ASSERT_TRUE(s->put_resource("default/big/" + std::to_string(i), value).ok());
  const uintmax_t reached = (12u << 20) - 1000 * 4096;
  for (int i = 0; i < 500 && size(db) < reached; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_GE(size(db), reached);

  for (int i = 0; i < 64; ++i)
    ASSERT_TRUE(s->put_resource("default/burst/" + std::to_string(i), value).ok());
  EXPECT_LE(size(wal), 20u << 20);
  auto back = s->get_resource("default/burst/63");
  ASSERT_TRUE(back.ok() && back->has_value());
  EXPECT_TRUE(std::equal(value.begin(), value.end(), (*back)->begin(), (*back)->end()));
}

TEST_P(StorageContract, AuditAppendReadAndHead) {
  auto s = open();
  ASSERT_TRUE(s);
  EXPECT_EQ(*s->audit_head(), AuditHead{});
  EXPECT_TRUE(s->read_audit(1, 10)->empty());
  for (int i = 0; i < 10; ++i) {
    auto record = s->append_audit(entry(i % 2 ? "deny" : "release", i));
    ASSERT_TRUE(record.ok()) << record.error().to_string();
    EXPECT_EQ(record->seq, static_cast<uint64_t>(i + 1));
  }
  auto page = s->read_audit(4, 3);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 3u);
  EXPECT_EQ((*page)[0].seq, 4u);
  EXPECT_EQ((*page)[2].seq, 6u);
  EXPECT_EQ((*page)[1].entry, entry("release", 4));
  EXPECT_TRUE(s->read_audit(11, 10)->empty());
  EXPECT_EQ(s->audit_head()->seq, 10u);

  // A malformed entry is refused and leaves the head alone.
  AuditEntry bad = entry("release");
  bad.token_digest = "raw-bearer-token";
  EXPECT_EQ(s->append_audit(bad).error().code, Errc::invalid_argument);
  EXPECT_EQ(s->audit_head()->seq, 10u);
}

TEST_P(StorageContract, AuditBatchIsOneCommitSignedAtItsEnd) {
  auto s = open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->append_audit(entry("release", 0)).ok());
  std::vector<AuditEntry> entries;
  for (int i = 1; i <= 4; ++i) entries.push_back(entry(i % 2 ? "deny" : "release", i));
  auto batch = s->append_audit_batch(entries);
  ASSERT_TRUE(batch.ok()) << batch.error().to_string();
  ASSERT_EQ(batch->size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ((*batch)[i].seq, i + 2);
    EXPECT_EQ((*batch)[i].entry, entries[i]);
    EXPECT_EQ((*batch)[i].signature.empty(), i < 3);
  }
  EXPECT_EQ(*s->audit_head(), batch->back().head());
  auto stored = s->read_audit(1, 100);
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 5u);
  EXPECT_TRUE(std::equal(batch->begin(), batch->end(), stored->begin() + 1));
  auto result = verify_audit_chain(*stored, audit_key.public_key());
  EXPECT_TRUE(result.ok()) << result.reason;
  EXPECT_EQ(result.verified, 5u);

  // One malformed entry refuses the whole batch: nothing of it is stored.
  entries[2].token_digest = "raw-bearer-token";
  EXPECT_EQ(s->append_audit_batch(entries).error().code, Errc::invalid_argument);
  EXPECT_EQ(s->append_audit_batch({}).error().code, Errc::invalid_argument);
  EXPECT_EQ(s->audit_head()->seq, 5u);
}

TEST_P(StorageContract, AuditTamperingInTheDatabaseIsDetected) {
  auto s = open();
  ASSERT_TRUE(s);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(s->append_audit(entry("release", i)).ok());
  const AuditHead pinned = *s->audit_head();
  Backend& raw = *backend;
  // A changed field in the stored record.
  ASSERT_TRUE(
      raw.exec("UPDATE audit SET record = replace(record, '\"outcome\":\"allow\"', "
               "'\"outcome\":\"deny\"') WHERE seq = 2"));
  auto result = verify_audit_chain(*s->read_audit(1, 100), audit_key.public_key());
  EXPECT_EQ(result.fault, AuditFault::hash_mismatch);
  EXPECT_EQ(result.bad_seq, 2u);
  // A deleted middle record.
  ASSERT_TRUE(raw.exec("DELETE FROM audit WHERE seq IN (2, 3)"));
  result = verify_audit_chain(*s->read_audit(1, 100), audit_key.public_key());
  EXPECT_EQ(result.fault, AuditFault::gap);
  EXPECT_EQ(result.bad_seq, 4u);
  // Deleted tail records: only the pinned head shows it.
  ASSERT_TRUE(raw.exec("DELETE FROM audit WHERE seq >= 2"));
  EXPECT_TRUE(verify_audit_chain(*s->read_audit(1, 100), audit_key.public_key()).ok());
  result = verify_audit_chain(*s->read_audit(1, 100), audit_key.public_key(), pinned);
  EXPECT_EQ(result.fault, AuditFault::truncated);
  // A record whose indexed hash column disagrees with its text is refused on read.
  ASSERT_TRUE(raw.exec("UPDATE audit SET hash = " + raw.zeros(32) + " WHERE seq = 1"));
  EXPECT_EQ(s->read_audit(1, 100).error().code, Errc::parse);
}

TEST_P(StorageContract, ConcurrentAppendsFormOneGapFreeChain) {
  auto s = open();
  ASSERT_TRUE(s);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 60;
  std::vector<std::thread> threads;
  std::vector<std::vector<uint64_t>> seqs(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto record = s->append_audit(entry("release", t * 1000 + i));
        if (record.ok()) seqs[t].push_back(record->seq);
        // Readers and resource traffic interleave with the appends.
        (void)s->put_resource("t/key/" + std::to_string(t), as_bytes("v"));
        (void)s->get_resource("t/key/" + std::to_string(t));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  std::set<uint64_t> all;
  for (const auto& per_thread : seqs) {
    EXPECT_EQ(per_thread.size(), static_cast<size_t>(kPerThread));
    // Each thread's own appends come out in increasing order.
    EXPECT_TRUE(std::is_sorted(per_thread.begin(), per_thread.end()));
    all.insert(per_thread.begin(), per_thread.end());
  }
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(*all.begin(), 1u);
  EXPECT_EQ(*all.rbegin(), static_cast<uint64_t>(kThreads * kPerThread));
  auto records = s->read_audit(1, 10000);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), static_cast<size_t>(kThreads * kPerThread));
  auto result = verify_audit_chain(*records, audit_key.public_key(), *s->audit_head());
  EXPECT_TRUE(result.ok()) << result.reason;
}

TEST_F(StorageTest, NotADatabaseIsAnErrorNotACrash) {
  {
    std::ofstream out(db, std::ios::binary);
    for (int i = 0; i < 200; ++i) out << "this is not an SQLite database file. ";
  }
  auto s = open(master);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::io);
  EXPECT_NE(s.error().message.find(db.string()), std::string::npos) << s.error().message;
}

TEST_F(StorageTest, CorruptedPagesAreAnErrorNotACrash) {
  {
    auto s = open();
    ASSERT_TRUE(s);
    for (int i = 0; i < 50; ++i)
      ASSERT_TRUE(s->put_resource("r/k/" + std::to_string(i), Bytes(2000, 7)).ok());
    ASSERT_TRUE(s->append_audit(entry("release")).ok());
  }
  ASSERT_TRUE(RawDb(db).exec("PRAGMA wal_checkpoint(TRUNCATE)"));
  // Overwrite everything after the first page (the header stays valid).
  Bytes file = read_file(db);
  ASSERT_GT(file.size(), 8192u);
  for (size_t i = 4096; i < file.size(); ++i) file[i] = static_cast<uint8_t>(i * 131);
  {
    std::ofstream out(db, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(file.data()),
              static_cast<std::streamsize>(file.size()));
  }
  auto s = open(master);
  if (!s.ok()) return;  // refused at open: fine
  // Or opened, then every read fails cleanly or returns what authenticates.
  for (int i = 0; i < 50; ++i) (void)(*s)->get_resource("r/k/" + std::to_string(i));
  (void)(*s)->list_resources();
  (void)(*s)->read_audit(1, 10);
}

TEST_P(StorageContract, NewerSchemaIsRefused) {
  ASSERT_TRUE(open());
  ASSERT_TRUE(backend->exec("INSERT INTO schema_version (version) VALUES (99)"));
  auto s = open(master);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::unsupported);
}

TEST_F(StorageTest, MissingDirectoryIsAnIoError) {
  auto s = open_sqlite_storage(dir.path() / "no" / "such" / "kbs.db", master,
                               *AuditSigner::create(audit_key));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::io);
}

// ---- PostgreSQL only: replicas sharing one database, and the server going away ----

struct PostgresStorageTest : ::testing::Test {
  SecretBytes master = to_secret(*random_bytes(kMasterKeySize));
  PrivateKey audit_key = *PrivateKey::generate_ed25519();

  void SetUp() override {
    if (testing::PostgresServer::binaries().empty())
      GTEST_SKIP() << "PostgreSQL server binaries are not installed (Debian: postgresql)";
  }
  std::unique_ptr<Storage> open(const std::string& conninfo, size_t pool_size = 4) {
    auto storage =
        open_postgres_storage(conninfo, master, *AuditSigner::create(audit_key), pool_size);
    EXPECT_TRUE(storage.ok()) << storage.error().to_string();
    return storage.ok() ? std::move(*storage) : nullptr;
  }
};

// Two Storage objects on one database stand for two KBS replicas (each with its own pool, as two
// processes would have); several threads append through each at once. The database must end
// with one chain: consecutive seqs, each linked to the one before, verifying under the key.
TEST_F(PostgresStorageTest, ReplicasAndThreadsAppendToOneChain) {
  auto& server = testing::shared_postgres();
  ASSERT_TRUE(server.ok()) << server.error();
  const std::string conninfo = server.create_database();
  std::vector<std::unique_ptr<Storage>> replicas;
  for (int r = 0; r < 2; ++r) {
    replicas.push_back(open(conninfo));
    ASSERT_TRUE(replicas.back());
  }
  constexpr int kThreadsPerReplica = 4;
  constexpr int kPerThread = 40;
  std::vector<std::thread> threads;
  std::vector<std::vector<uint64_t>> seqs(2 * kThreadsPerReplica);
  for (int t = 0; t < 2 * kThreadsPerReplica; ++t) {
    threads.emplace_back([&, t] {
      Storage& replica = *replicas[static_cast<size_t>(t % 2)];
      for (int i = 0; i < kPerThread; ++i) {
        auto record = replica.append_audit(entry("release", t * 1000 + i));
        if (record.ok()) seqs[static_cast<size_t>(t)].push_back(record->seq);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  std::set<uint64_t> all;
  for (const auto& per_thread : seqs) {
    EXPECT_EQ(per_thread.size(), static_cast<size_t>(kPerThread));
    EXPECT_TRUE(std::is_sorted(per_thread.begin(), per_thread.end()));
    all.insert(per_thread.begin(), per_thread.end());
  }
  const size_t total = 2 * kThreadsPerReplica * kPerThread;
  EXPECT_EQ(all.size(), total);
  EXPECT_EQ(*all.rbegin(), total);
  // Either replica reads the same, whole chain.
  for (auto& replica : replicas) {
    auto records = replica->read_audit(1, 100000);
    ASSERT_TRUE(records.ok()) << records.error().to_string();
    ASSERT_EQ(records->size(), total);
    auto result = verify_audit_chain(*records, audit_key.public_key(), *replica->audit_head());
    EXPECT_TRUE(result.ok()) << result.reason;
  }
  // A write through one replica is read through the other.
  ASSERT_TRUE(replicas[0]->put_resource("shared/key/1", as_bytes("from replica 0")).ok());
  EXPECT_EQ(to_string(view(**replicas[1]->get_resource("shared/key/1"))), "from replica 0");
}

// More threads than connections: calls wait for a free connection instead of failing.
TEST_F(PostgresStorageTest, SmallPoolServesManyThreads) {
  auto& server = testing::shared_postgres();
  ASSERT_TRUE(server.ok()) << server.error();
  auto s = open(server.create_database(), 1);
  ASSERT_TRUE(s);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      const std::string path = "pool/key/" + std::to_string(t);
      for (int i = 0; i < 20; ++i) {
        if (!s->put_resource(path, as_bytes(std::to_string(i))).ok()) ++failures;
        auto got = s->get_resource(path);
        if (!got.ok() || !got->has_value() || to_string(view(**got)) != std::to_string(i))
          ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(s->list_resources()->size(), 6u);
}

// The server stops (immediate shutdown: every connection drops) and comes back. While it is
// down every call fails with io, naming the operation and not the value; once it is back the
// same Storage serves calls again, without being reopened, and the chain continues.
TEST_F(PostgresStorageTest, ServerDownThenBackWithoutReopening) {
  testing::PostgresServer server;  // its own server: this test stops it
  ASSERT_TRUE(server.ok()) << server.error();
  auto s = open(server.create_database());
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->put_resource("down/key/1", as_bytes("before")).ok());
  ASSERT_TRUE(s->append_audit(entry("release", 1)).ok());
  // Concurrent calls leave several idle connections in the pool; the restart closes them all.
  {
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&] {
        for (int i = 0; i < 10; ++i) (void)s->get_resource("down/key/1");
      });
    for (auto& thread : threads) thread.join();
  }

  server.stop();
  const std::string secret = "value-written-while-down";
  auto put = s->put_resource("down/key/2", as_bytes(secret));
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.error().code, Errc::io);
  EXPECT_EQ(put.error().message.find(secret), std::string::npos) << put.error().message;
  auto get = s->get_resource("down/key/1");
  ASSERT_FALSE(get.ok());
  EXPECT_EQ(get.error().code, Errc::io);
  auto append = s->append_audit(entry("release", 2));
  ASSERT_FALSE(append.ok());
  EXPECT_EQ(append.error().code, Errc::io);
  EXPECT_EQ(s->audit_head().error().code, Errc::io);

  server.start();
  ASSERT_TRUE(server.ok()) << server.error();
  auto again = s->get_resource("down/key/1");
  ASSERT_TRUE(again.ok()) << again.error().to_string();
  EXPECT_EQ(to_string(view(**again)), "before");
  ASSERT_TRUE(s->put_resource("down/key/2", as_bytes("after")).ok());
  auto next = s->append_audit(entry("release", 3));
  ASSERT_TRUE(next.ok()) << next.error().to_string();
  EXPECT_EQ(next->seq, 2u);
  auto records = s->read_audit(1, 100);
  ASSERT_TRUE(records.ok());
  EXPECT_TRUE(verify_audit_chain(*records, audit_key.public_key(), next->head()).ok());
}

// An append the database refuses part way (here a constraint the test adds, failing the
// INSERT after BEGIN, the lock and the head read succeeded) rolls back, releases the lock and
// leaves the connection usable: with a pool of one, the next append reuses it and continues
// the chain.
TEST_F(PostgresStorageTest, RefusedAppendRollsBackAndTheConnectionIsReused) {
  auto& server = testing::shared_postgres();
  ASSERT_TRUE(server.ok()) << server.error();
  const std::string conninfo = server.create_database();
  auto s = open(conninfo, 1);
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->append_audit(entry("release", 1)).ok());
  ASSERT_TRUE(testing::PostgresServer::exec(
      conninfo,
      "ALTER TABLE audit ADD CONSTRAINT test_refuse CHECK (position('refuse-me' in record) = 0)"));
  AuditEntry refused = entry("release", 2);
  refused.detail = "refuse-me";
  auto failed = s->append_audit(refused);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, Errc::io);
  EXPECT_NE(failed.error().message.find("audit_insert"), std::string::npos)
      << failed.error().message;
  auto next = s->append_audit(entry("release", 3));
  ASSERT_TRUE(next.ok()) << next.error().to_string();
  EXPECT_EQ(next->seq, 2u);
  // Another Storage can take the audit lock: it was released with the rollback.
  auto other = open(conninfo, 1);
  ASSERT_TRUE(other);
  auto third = other->append_audit(entry("release", 4));
  ASSERT_TRUE(third.ok()) << third.error().to_string();
  EXPECT_EQ(third->seq, 3u);
  EXPECT_TRUE(verify_audit_chain(*s->read_audit(1, 10), audit_key.public_key()).ok());
}

TEST_F(PostgresStorageTest, UnreachableServerIsAnIoErrorWithoutThePassword) {
  auto s = open_postgres_storage(
      "host=/nonexistent-acon-dir user=acon password=hunter2-secret "
      "dbname=kbs connect_timeout=2",
      master, *AuditSigner::create(audit_key));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::io);
  EXPECT_EQ(s.error().message.find("hunter2"), std::string::npos) << s.error().message;
  EXPECT_EQ(
      open_postgres_storage("", SecretBytes(16, 1), *AuditSigner::create(audit_key)).error().code,
      Errc::invalid_argument);
}

}  // namespace
}  // namespace acon::kbs
