// Storage on SQLite (the C API): one connection guarded by a mutex, WAL journal, statements
// prepared once, and the WAL checkpointed on a second connection and thread. docs/kbs-storage.md
// describes the schema, encryption at rest and durability.
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <limits>
#include <mutex>
#include <thread>

#include "acon/kbs/storage.h"
#include "storage_common.h"

namespace acon::kbs {

namespace {

using namespace std::string_view_literals;
using namespace storage_detail;

struct SqliteClose {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbPtr = std::unique_ptr<sqlite3, SqliteClose>;
struct SqliteFinalize {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, SqliteFinalize>;

constexpr int kBusyTimeoutMs = 5000;

// Schema migrations, applied in order inside one transaction at open; index i brings the
// database to version i + 1. Append only: never edit a shipped migration.
constexpr std::array<std::string_view, 1> kMigrations = {
    R"sql(
CREATE TABLE key_check (
  key_id     INTEGER PRIMARY KEY,
  iv         BLOB NOT NULL,
  ciphertext BLOB NOT NULL,
  tag        BLOB NOT NULL
) STRICT;
CREATE TABLE resources (
  path       TEXT PRIMARY KEY,
  key_id     INTEGER NOT NULL,
  iv         BLOB NOT NULL,
  ciphertext BLOB NOT NULL,
  tag        BLOB NOT NULL
) STRICT;
CREATE TABLE documents (
  namespace  TEXT NOT NULL,
  id         TEXT NOT NULL,
  body       TEXT NOT NULL,
  PRIMARY KEY (namespace, id)
) STRICT;
CREATE TABLE audit (
  seq        INTEGER PRIMARY KEY CHECK (seq >= 1),
  hash       BLOB NOT NULL,
  record     TEXT NOT NULL
) STRICT;
)sql"sv,
};

Error db_error(sqlite3* db, std::string_view what) {
  return make_error(Errc::io, "kbs storage: " + std::string(what) + ": " + sqlite3_errmsg(db));
}

// One use of a prepared statement: binds, steps, and resets it (with its bindings) on scope
// exit so the next use starts clean. Values are bound SQLITE_STATIC: they outlive this object.
class StmtUse {
 public:
  StmtUse(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~StmtUse() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  StmtUse(const StmtUse&) = delete;
  StmtUse& operator=(const StmtUse&) = delete;

  Status text(int index, std::string_view value) {
    // A null pointer would bind SQL NULL; an empty value is "".
    const char* data = value.empty() ? "" : value.data();
    return check(sqlite3_bind_text64(stmt_, index, data, value.size(), SQLITE_STATIC, SQLITE_UTF8),
                 "bind");
  }
  Status blob(int index, ByteView value) {
    static const uint8_t kEmpty = 0;
    const uint8_t* data = value.empty() ? &kEmpty : value.data();
    return check(sqlite3_bind_blob64(stmt_, index, data, value.size(), SQLITE_STATIC), "bind");
  }
  Status integer(int index, int64_t value) {
    return check(sqlite3_bind_int64(stmt_, index, value), "bind");
  }
  // true: a row is ready; false: done.
  Result<bool> step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return db_error(db_, sqlite3_sql(stmt_));
  }
  Status run() {
    ACON_TRY(bool row, step());
    (void)row;
    return {};
  }

  int64_t column_int(int i) const { return sqlite3_column_int64(stmt_, i); }
  ByteView column_blob(int i) const {
    const void* data = sqlite3_column_blob(stmt_, i);
    const int size = sqlite3_column_bytes(stmt_, i);
    if (data == nullptr || size <= 0) return {};
    return {static_cast<const uint8_t*>(data), static_cast<size_t>(size)};
  }
  std::string_view column_text(int i) const {
    const auto* data = sqlite3_column_text(stmt_, i);
    const int size = sqlite3_column_bytes(stmt_, i);
    if (data == nullptr || size <= 0) return {};
    return {reinterpret_cast<const char*>(data), static_cast<size_t>(size)};
  }

 private:
  Status check(int rc, const char* what) {
    if (rc != SQLITE_OK) return db_error(db_, what);
    return {};
  }
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

Status exec(sqlite3* db, const char* sql) {
  // Only constant SQL goes through here; values are always bound to prepared statements.
  char* message = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &message);
  std::unique_ptr<char, void (*)(void*)> owned(message, sqlite3_free);
  if (rc != SQLITE_OK)
    return make_error(Errc::io, "kbs storage: " + std::string(sql).substr(0, 40) + ": " +
                                    (message ? message : sqlite3_errstr(rc)));
  return {};
}

Result<StmtPtr> prepare(sqlite3* db, std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  StmtPtr stmt(raw);
  if (rc != SQLITE_OK) return db_error(db, "prepare " + std::string(sql));
  return stmt;
}

// Rolls back unless committed, so an early error return leaves no transaction open.
class Transaction {
 public:
  static Result<Transaction> begin(sqlite3* db, sqlite3_stmt* begin_stmt, sqlite3_stmt* commit,
                                   sqlite3_stmt* rollback) {
    StmtUse use(db, begin_stmt);
    ACON_CHECK(use.run());
    return Transaction(db, commit, rollback);
  }
  Transaction(Transaction&& other) noexcept
      : db_(other.db_), commit_(other.commit_), rollback_(other.rollback_), open_(other.open_) {
    other.open_ = false;
  }
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction() {
    if (open_) {
      StmtUse use(db_, rollback_);
      (void)use.run();
    }
  }
  Status commit() {
    StmtUse use(db_, commit_);
    ACON_CHECK(use.run());
    open_ = false;
    return {};
  }

 private:
  Transaction(sqlite3* db, sqlite3_stmt* commit, sqlite3_stmt* rollback)
      : db_(db), commit_(commit), rollback_(rollback) {}
  sqlite3* db_;
  sqlite3_stmt* commit_;
  sqlite3_stmt* rollback_;
  bool open_ = true;
};

// Opens a connection (NOMUTEX: each connection is used by one thread at a time) and puts the
// database in WAL mode or finds it there. That first read of the file also fails a file that is
// not SQLite ("file is not a database"), and tells the connection that the database is in WAL
// mode, without which a checkpoint call on it does nothing.
Result<DbPtr> open_wal_connection(const std::filesystem::path& path) {
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE, nullptr);
  DbPtr db(raw);
  if (rc != SQLITE_OK)
    return make_error(Errc::io, std::string("kbs storage: opening: ") +
                                    (db ? sqlite3_errmsg(db.get()) : sqlite3_errstr(rc)));
  sqlite3_busy_timeout(db.get(), kBusyTimeoutMs);
  ACON_TRY(StmtPtr stmt, prepare(db.get(), "PRAGMA journal_mode=WAL"));
  StmtUse use(db.get(), stmt.get());
  ACON_TRY(bool row, use.step());
  if (!row || use.column_text(0) != "wal")
    return make_error(Errc::io, "kbs storage: WAL journal mode refused");
  return db;
}

// Copies the WAL back into the database on a connection and thread of its own. SQLite's own
// automatic checkpoint runs inside the commit that takes the WAL past its threshold, under the
// storage's mutex, and it is the only step that syncs files (synchronous=NORMAL): at 64 clients
// of Bearer GETs it held every read and write of both workers for ~20 ms about twice a second,
// which was most of the GETs' p99. A PASSIVE checkpoint runs beside the other connection's reads
// and writes (that is WAL's design), so the serving connection never waits for a sync.
class WalCheckpointer {
 public:
  // SQLite's default threshold for its automatic checkpoint (4 MB of 4 KB pages).
  static constexpr int kWalPages = 1000;
  // Writes that outrun the checkpointer are held up beyond this. A checkpoint copies only the
  // frames that were in the WAL when it began, and a writer starts the WAL over only when all of
  // them were copied, so under a stream of commits the WAL could grow without end.
  static constexpr int kWalPagesLimit = 4 * kWalPages;

  static Result<std::unique_ptr<WalCheckpointer>> start(const std::filesystem::path& path) {
    ACON_TRY(DbPtr db, open_wal_connection(path));
    auto checkpointer = std::unique_ptr<WalCheckpointer>(new WalCheckpointer(std::move(db)));
    checkpointer->thread_ = std::thread([raw = checkpointer.get()] { raw->run(); });
    return checkpointer;
  }

  ~WalCheckpointer() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

  // From the serving connection's WAL hook after a commit: only sets a flag.
  void request() {
    {
      std::lock_guard lock(mutex_);
      wanted_ = true;
    }
    wake_.notify_one();
  }

  // From the WAL hook past kWalPagesLimit, with the storage's mutex held so that nothing is
  // committed meanwhile: waits (at most the busy timeout) for a checkpoint that began after this
  // call, which then copies the whole WAL, so that the next commit starts the WAL over.
  void catch_up() {
    std::unique_lock lock(mutex_);
    const uint64_t awaited = started_ + 1;
    wanted_ = true;
    wake_.notify_one();
    finished_cv_.wait_for(lock, std::chrono::milliseconds(kBusyTimeoutMs),
                          [&] { return finished_ >= awaited || stopping_; });
  }

 private:
  explicit WalCheckpointer(DbPtr db) : db_(std::move(db)) {}

  void run() {
    std::unique_lock lock(mutex_);
    for (;;) {
      wake_.wait(lock, [this] { return wanted_ || stopping_; });
      if (stopping_) return;
      wanted_ = false;
      const uint64_t number = ++started_;
      lock.unlock();
      // A failure (another process's checkpoint running: SQLITE_BUSY) leaves the WAL to the
      // next request; nothing is lost, the WAL only grows meanwhile.
      (void)sqlite3_wal_checkpoint_v2(db_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr,
                                      nullptr);
      lock.lock();
      finished_ = number;
      finished_cv_.notify_all();
    }
  }

  DbPtr db_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable finished_cv_;
  bool wanted_ = false;
  bool stopping_ = false;
  uint64_t started_ = 0;   // checkpoints begun
  uint64_t finished_ = 0;  // the number of the last one finished
  std::thread thread_;
};

class SqliteStorage final : public Storage {
 public:
  SqliteStorage(DbPtr db, SecretBytes master_key, AuditSigner signer)
      : db_(std::move(db)), master_key_(std::move(master_key)), signer_(std::move(signer)) {}
  ~SqliteStorage() override {
    // The checkpointer stops before the hook that calls it goes; closing this (now the last)
    // connection then checkpoints what is left, as SQLite does on the last close.
    sqlite3_wal_hook(db_.get(), nullptr, nullptr);
    checkpointer_.reset();
  }
  SqliteStorage(const SqliteStorage&) = delete;
  SqliteStorage& operator=(const SqliteStorage&) = delete;

  // Replaces SQLite's automatic checkpoint (which a WAL hook turns off) with WalCheckpointer.
  Status start_checkpointer(const std::filesystem::path& path) {
    ACON_TRY(checkpointer_, WalCheckpointer::start(path));
    sqlite3_wal_hook(
        db_.get(),
        [](void* self, sqlite3*, const char*, int pages) {
          WalCheckpointer& checkpointer = *static_cast<SqliteStorage*>(self)->checkpointer_;
          if (pages >= WalCheckpointer::kWalPagesLimit)
            checkpointer.catch_up();
          else if (pages >= WalCheckpointer::kWalPages)
            checkpointer.request();
          return SQLITE_OK;
        },
        this);
    return {};
  }

  Status prepare_all() {
    auto p = [&](StmtPtr& stmt, std::string_view sql) -> Status {
      ACON_TRY(stmt, prepare(db_.get(), sql));
      return {};
    };
    ACON_CHECK(p(begin_, "BEGIN IMMEDIATE"));
    ACON_CHECK(p(commit_, "COMMIT"));
    ACON_CHECK(p(rollback_, "ROLLBACK"));
    ACON_CHECK(p(put_resource_,
                 "INSERT OR REPLACE INTO resources (path, key_id, iv, ciphertext, tag) "
                 "VALUES (?1, ?2, ?3, ?4, ?5)"));
    ACON_CHECK(
        p(get_resource_, "SELECT key_id, iv, ciphertext, tag FROM resources WHERE path = ?1"));
    ACON_CHECK(p(delete_resource_, "DELETE FROM resources WHERE path = ?1"));
    ACON_CHECK(p(list_resources_, "SELECT path FROM resources ORDER BY path"));
    ACON_CHECK(p(put_document_,
                 "INSERT OR REPLACE INTO documents (namespace, id, body) VALUES (?1, ?2, ?3)"));
    ACON_CHECK(p(get_document_, "SELECT body FROM documents WHERE namespace = ?1 AND id = ?2"));
    ACON_CHECK(p(delete_document_, "DELETE FROM documents WHERE namespace = ?1 AND id = ?2"));
    ACON_CHECK(p(list_documents_, "SELECT id FROM documents WHERE namespace = ?1 ORDER BY id"));
    ACON_CHECK(p(audit_head_, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1"));
    ACON_CHECK(p(audit_insert_, "INSERT INTO audit (seq, hash, record) VALUES (?1, ?2, ?3)"));
    ACON_CHECK(p(audit_read_,
                 "SELECT seq, hash, record FROM audit WHERE seq >= ?1 "
                 "ORDER BY seq LIMIT ?2"));
    return {};
  }

  Status put_resource(std::string_view path, ByteView value) override {
    ACON_CHECK(check_resource_path(path));
    ACON_CHECK(check_resource_value(value));
    // Encrypted before taking the lock: other threads need not wait for AES.
    ACON_TRY(Sealed sealed, seal_resource(master_key_, path, value));
    std::lock_guard lock(mutex_);
    StmtUse use(db_.get(), put_resource_.get());
    ACON_CHECK(use.text(1, path));
    ACON_CHECK(use.integer(2, sealed.key_id));
    ACON_CHECK(use.blob(3, sealed.iv));
    ACON_CHECK(use.blob(4, sealed.ciphertext));
    ACON_CHECK(use.blob(5, sealed.tag));
    return use.run();
  }

  Result<std::optional<SecretBytes>> get_resource(std::string_view path) override {
    ACON_CHECK(check_resource_path(path));
    Sealed sealed;
    int64_t key_id = 0;
    {
      std::lock_guard lock(mutex_);
      StmtUse use(db_.get(), get_resource_.get());
      ACON_CHECK(use.text(1, path));
      ACON_TRY(bool row, use.step());
      if (!row) return std::optional<SecretBytes>();
      key_id = use.column_int(0);
      auto copy = [](ByteView b) { return Bytes(b.begin(), b.end()); };
      sealed.iv = copy(use.column_blob(1));
      sealed.ciphertext = copy(use.column_blob(2));
      sealed.tag = copy(use.column_blob(3));
    }
    ACON_TRY(SecretBytes plain,
             open_resource(master_key_, path, key_id, sealed.iv, sealed.ciphertext, sealed.tag));
    return std::optional<SecretBytes>(std::move(plain));
  }

  Result<bool> delete_resource(std::string_view path) override {
    ACON_CHECK(check_resource_path(path));
    std::lock_guard lock(mutex_);
    StmtUse use(db_.get(), delete_resource_.get());
    ACON_CHECK(use.text(1, path));
    ACON_CHECK(use.run());
    return sqlite3_changes(db_.get()) > 0;
  }

  Result<std::vector<std::string>> list_resources() override {
    std::lock_guard lock(mutex_);
    StmtUse use(db_.get(), list_resources_.get());
    return collect_text(use);
  }

  Status put_document(std::string_view ns, std::string_view id, std::string_view text) override {
    ACON_CHECK(check_document_key(ns, id));
    ACON_CHECK(check_document_text(text));
    std::lock_guard lock(mutex_);
    StmtUse use(db_.get(), put_document_.get());
    ACON_CHECK(use.text(1, ns));
    ACON_CHECK(use.text(2, id));
    ACON_CHECK(use.text(3, text));
    return use.run();
  }

  Result<std::optional<std::string>> get_document(std::string_view ns,
                                                  std::string_view id) override {
    ACON_CHECK(check_document_key(ns, id));
    std::lock_guard lock(mutex_);
    StmtUse use(db_.get(), get_document_.get());
    ACON_CHECK(use.text(1, ns));
    ACON_CHECK(use.text(2, id));
    ACON_TRY(bool row, use.step());
    if (!row) return std::optional<std::string>();
    return std::optional<std::string>(std::string(use.column_text(0)));
  }

  Result<bool> delete_document(std::string_view ns, std::string_view id) override {
    ACON_CHECK(check_document_key(ns, id));
    std::lock_guard lock(mutex_);
    StmtUse use(db_.get(), delete_document_.get());
    ACON_CHECK(use.text(1, ns));
    ACON_CHECK(use.text(2, id));
    ACON_CHECK(use.run());
    return sqlite3_changes(db_.get()) > 0;
  }

  Result<std::vector<std::string>> list_documents(std::string_view ns) override {
    ACON_CHECK(check_document_namespace(ns));
    std::lock_guard lock(mutex_);
    StmtUse use(db_.get(), list_documents_.get());
    ACON_CHECK(use.text(1, ns));
    return collect_text(use);
  }

  Result<std::vector<AuditRecord>> append_audit_batch(std::vector<AuditEntry> entries) override {
    std::lock_guard lock(mutex_);
    // Read head, sign, insert in one write transaction: with the PRIMARY KEY on seq, a second
    // writer (another process on the same file) cannot insert the same seq, so the chain cannot
    // fork; it gets SQLITE_BUSY or a constraint error instead.
    ACON_TRY(Transaction txn,
             Transaction::begin(db_.get(), begin_.get(), commit_.get(), rollback_.get()));
    ACON_TRY(AuditHead head, read_head());
    ACON_TRY(std::vector<AuditRecord> records,
             make_audit_records(head, std::move(entries), signer_));
    for (const AuditRecord& record : records) {
      const std::string line = audit_record_to_line(record);
      StmtUse use(db_.get(), audit_insert_.get());
      ACON_CHECK(use.integer(1, static_cast<int64_t>(record.seq)));
      ACON_CHECK(use.blob(2, record.hash));
      ACON_CHECK(use.text(3, line));
      ACON_CHECK(use.run());
    }
    ACON_CHECK(txn.commit());
    return records;
  }

  Result<std::vector<AuditRecord>> read_audit(uint64_t from_seq, size_t limit) override {
    std::vector<AuditRecord> records;
    std::lock_guard lock(mutex_);
    StmtUse use(db_.get(), audit_read_.get());
    const auto max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    ACON_CHECK(use.integer(1, static_cast<int64_t>(std::min(from_seq, max))));
    ACON_CHECK(use.integer(2, static_cast<int64_t>(std::min<uint64_t>(limit, max))));
    for (;;) {
      ACON_TRY(bool row, use.step());
      if (!row) break;
      ACON_TRY(AuditRecord record,
               audit_record_from_row(use.column_int(0), use.column_blob(1), use.column_text(2)));
      records.push_back(std::move(record));
    }
    return records;
  }

  Result<AuditHead> audit_head() override {
    std::lock_guard lock(mutex_);
    return read_head();
  }

 private:
  // Caller holds mutex_.
  Result<AuditHead> read_head() {
    StmtUse use(db_.get(), audit_head_.get());
    ACON_TRY(bool row, use.step());
    if (!row) return AuditHead{};
    return audit_head_from_row(use.column_int(0), use.column_blob(1));
  }

  static Result<std::vector<std::string>> collect_text(StmtUse& use) {
    std::vector<std::string> out;
    for (;;) {
      ACON_TRY(bool row, use.step());
      if (!row) break;
      out.emplace_back(use.column_text(0));
    }
    return out;
  }

  std::mutex mutex_;  // guards the connection and every statement
  DbPtr db_;          // declared before the statements, so it is closed after they finalize
  SecretBytes master_key_;
  AuditSigner signer_;
  StmtPtr begin_, commit_, rollback_;
  StmtPtr put_resource_, get_resource_, delete_resource_, list_resources_;
  StmtPtr put_document_, get_document_, delete_document_, list_documents_;
  StmtPtr audit_head_, audit_insert_, audit_read_;
  std::unique_ptr<WalCheckpointer> checkpointer_;
};

// Creates the file with mode 0600 when absent (SQLite would use 0644 less the umask); the WAL
// and shared-memory files SQLite creates later take the database file's mode.
Status create_private_file(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return {};
    return make_error(Errc::io,
                      std::string("kbs storage: creating the file: ") + std::strerror(errno));
  }
  ::close(fd);
  return {};
}

Result<int64_t> schema_version(sqlite3* db) {
  ACON_TRY(StmtPtr stmt, prepare(db, "SELECT coalesce(max(version), 0) FROM schema_version"));
  StmtUse use(db, stmt.get());
  ACON_TRY(bool row, use.step());
  if (!row) return int64_t{0};
  return use.column_int(0);
}

// Applies the missing migrations; on a new database also stores the key check value, in the
// same transaction, so a database never exists without one.
Status migrate(sqlite3* db, const SecretBytes& master_key) {
  ACON_CHECK(exec(db, "BEGIN IMMEDIATE"));
  auto body = [&]() -> Status {
    ACON_CHECK(exec(db,
                    "CREATE TABLE IF NOT EXISTS schema_version "
                    "(version INTEGER PRIMARY KEY) STRICT"));
    ACON_TRY(int64_t version, schema_version(db));
    if (version > static_cast<int64_t>(kMigrations.size()))
      return newer_schema(version, kMigrations.size());
    const bool fresh = version == 0;
    ACON_TRY(StmtPtr record, prepare(db, "INSERT INTO schema_version (version) VALUES (?1)"));
    for (auto v = static_cast<size_t>(version); v < kMigrations.size(); ++v) {
      ACON_CHECK(exec(db, std::string(kMigrations[v]).c_str()));
      StmtUse use(db, record.get());
      ACON_CHECK(use.integer(1, static_cast<int64_t>(v + 1)));
      ACON_CHECK(use.run());
    }
    if (fresh) {
      ACON_TRY(Sealed check, seal_key_check(master_key));
      ACON_TRY(StmtPtr insert, prepare(db,
                                       "INSERT INTO key_check (key_id, iv, ciphertext, tag) "
                                       "VALUES (?1, ?2, ?3, ?4)"));
      StmtUse use(db, insert.get());
      ACON_CHECK(use.integer(1, check.key_id));
      ACON_CHECK(use.blob(2, check.iv));
      ACON_CHECK(use.blob(3, check.ciphertext));
      ACON_CHECK(use.blob(4, check.tag));
      ACON_CHECK(use.run());
    }
    return {};
  };
  if (auto status = body(); !status) {
    (void)exec(db, "ROLLBACK");
    return status;
  }
  return exec(db, "COMMIT");
}

Status check_master_key(sqlite3* db, const SecretBytes& master_key) {
  ACON_TRY(StmtPtr stmt,
           prepare(db, "SELECT iv, ciphertext, tag FROM key_check WHERE key_id = ?1"));
  StmtUse use(db, stmt.get());
  ACON_CHECK(use.integer(1, kCurrentKeyId));
  ACON_TRY(bool row, use.step());
  if (!row) return missing_key_check();
  return check_key_check(master_key, use.column_blob(0), use.column_blob(1), use.column_blob(2));
}

Result<std::unique_ptr<Storage>> open_connection(const std::filesystem::path& path,
                                                 SecretBytes master_key, AuditSigner signer) {
  ACON_CHECK(create_private_file(path));
  // SqliteStorage's own mutex serialises every use of this connection.
  ACON_TRY(DbPtr db, open_wal_connection(path));
  // WAL + NORMAL: a commit is durable across a process crash; a power loss may lose the last
  // commits since the previous checkpoint sync but never corrupts the database.
  ACON_CHECK(exec(db.get(), "PRAGMA synchronous=NORMAL"));
  ACON_CHECK(migrate(db.get(), master_key));
  ACON_CHECK(check_master_key(db.get(), master_key));
  auto storage =
      std::make_unique<SqliteStorage>(std::move(db), std::move(master_key), std::move(signer));
  ACON_CHECK(storage->prepare_all());
  ACON_CHECK(storage->start_checkpointer(path));
  return std::unique_ptr<Storage>(std::move(storage));
}

}  // namespace

Result<std::unique_ptr<Storage>> open_sqlite_storage(const std::filesystem::path& path,
                                                     SecretBytes master_key, AuditSigner signer) {
  ACON_CHECK(check_master_key_size(master_key));
  auto storage = open_connection(path, std::move(master_key), std::move(signer));
  if (!storage) return storage.error().wrap(path.string());
  return storage;
}

}  // namespace acon::kbs
