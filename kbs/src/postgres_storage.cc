// Storage on PostgreSQL through libpq: a small pool of connections, statements prepared once per
// connection, every value bound as a binary parameter. Encryption at rest, argument checks and
// audit row checks are the SQLite backend's (storage_common.h). docs/kbs-storage.md describes the
// schema, how replicas share one database and what happens when the server goes away.
#include <libpq-fe.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <limits>
#include <mutex>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "acon/kbs/rate_limit.h"
#include "acon/kbs/session.h"
#include "acon/kbs/storage.h"
#include "storage_common.h"

namespace acon::kbs {

namespace {

using namespace std::string_view_literals;
using namespace storage_detail;

struct PgFinish {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
using ConnPtr = std::unique_ptr<PGconn, PgFinish>;
struct PgClear {
  void operator()(PGresult* result) const { PQclear(result); }
};
using ResultPtr = std::unique_ptr<PGresult, PgClear>;

// Type OIDs of the bound parameters (pg_type.dat).
constexpr Oid kInt4Oid = 23;
constexpr Oid kInt8Oid = 20;
constexpr Oid kTextOid = 25;
constexpr Oid kByteaOid = 17;
constexpr Oid kFloat8Oid = 701;

// Advisory lock keys (any 64-bit values, fixed forever): one serialises schema migrations between
// processes opening the same database, the other every audit append of every replica.
constexpr int64_t kMigrationLock = 0x61636f6e2d6d6967;  // "acon-mig"
constexpr int64_t kAuditLock = 0x61636f6e2d617564;      // "acon-aud"

// Schema migrations, applied in order inside one transaction at open; index i brings the
// database to version i + 1. Append only: never edit a shipped migration. Document bodies are
// bytea, not text: PostgreSQL's text cannot hold NUL, which valid UTF-8 may contain.
constexpr std::array<std::string_view, 2> kMigrations = {
    R"sql(
CREATE TABLE key_check (
  key_id     integer PRIMARY KEY,
  iv         bytea NOT NULL,
  ciphertext bytea NOT NULL,
  tag        bytea NOT NULL
);
CREATE TABLE resources (
  path       text PRIMARY KEY,
  key_id     integer NOT NULL,
  iv         bytea NOT NULL,
  ciphertext bytea NOT NULL,
  tag        bytea NOT NULL
);
CREATE TABLE documents (
  namespace  text NOT NULL,
  id         text NOT NULL,
  body       bytea NOT NULL,
  PRIMARY KEY (namespace, id)
);
CREATE TABLE audit (
  seq        bigint PRIMARY KEY CHECK (seq >= 1),
  hash       bytea NOT NULL,
  record     text NOT NULL
);
)sql"sv,
    // 2: what replicas share besides the data (session.h, rate_limit.h). Times are Unix seconds
    // (sessions) and milliseconds (buckets) of the callers' wall clocks; the indexes on them let
    // expired rows go in small batches without a scan.
    R"sql(
CREATE TABLE sessions (
  id         text PRIMARY KEY,
  state      text NOT NULL CHECK (state IN ('authed', 'attesting', 'attested', 'failed')),
  expires    bigint NOT NULL,
  tee        text NOT NULL,
  nonce      text NOT NULL,
  token      text
);
CREATE INDEX sessions_by_expiry ON sessions (expires);
CREATE TABLE rate_buckets (
  client     text PRIMARY KEY,
  tokens     double precision NOT NULL,
  updated    bigint NOT NULL,
  allowed    boolean NOT NULL
);
CREATE INDEX rate_buckets_by_update ON rate_buckets (updated);
)sql"sv,
};

// Expired sessions (or full, idle rate buckets) each call deletes at most: more than the one row
// a call adds, so the tables shrink back to the live rows, and few enough that no call pays for a
// scan. SKIP LOCKED: two replicas cleaning up at once take different rows instead of waiting.
constexpr int kCleanupBatch = 8;

// The statements every connection prepares, by name. COLLATE "C" sorts by byte value, as the
// interface promises, whatever the database's collation.
struct StatementSql {
  std::string name;
  std::string sql;
  std::vector<Oid> types;
};
const std::vector<StatementSql>& statements() {
  static const std::vector<StatementSql> kStatements = {
      {"put_resource",
       "INSERT INTO resources (path, key_id, iv, ciphertext, tag) VALUES ($1, $2, $3, $4, $5) "
       "ON CONFLICT (path) DO UPDATE SET key_id = EXCLUDED.key_id, iv = EXCLUDED.iv, "
       "ciphertext = EXCLUDED.ciphertext, tag = EXCLUDED.tag",
       {kTextOid, kInt4Oid, kByteaOid, kByteaOid, kByteaOid}},
      {"get_resource",
       "SELECT key_id, iv, ciphertext, tag FROM resources WHERE path = $1",
       {kTextOid}},
      {"delete_resource", "DELETE FROM resources WHERE path = $1", {kTextOid}},
      {"list_resources", "SELECT path FROM resources ORDER BY path COLLATE \"C\"", {}},
      {"put_document",
       "INSERT INTO documents (namespace, id, body) VALUES ($1, $2, $3) "
       "ON CONFLICT (namespace, id) DO UPDATE SET body = EXCLUDED.body",
       {kTextOid, kTextOid, kByteaOid}},
      {"get_document",
       "SELECT body FROM documents WHERE namespace = $1 AND id = $2",
       {kTextOid, kTextOid}},
      {"delete_document",
       "DELETE FROM documents WHERE namespace = $1 AND id = $2",
       {kTextOid, kTextOid}},
      {"list_documents",
       "SELECT id FROM documents WHERE namespace = $1 ORDER BY id COLLATE \"C\"",
       {kTextOid}},
      {"audit_lock", "SELECT pg_advisory_xact_lock($1)", {kInt8Oid}},
      {"audit_head", "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", {}},
      {"audit_insert",
       "INSERT INTO audit (seq, hash, record) VALUES ($1, $2, $3)",
       {kInt8Oid, kByteaOid, kTextOid}},
      {"audit_read",
       "SELECT seq, hash, record FROM audit WHERE seq >= $1 ORDER BY seq LIMIT $2",
       {kInt8Oid, kInt8Oid}},
      // $1 id, $2 expires, $3 tee, $4 nonce, $5 now.
      {"session_create",
       "WITH expired AS (DELETE FROM sessions WHERE id IN (SELECT id FROM sessions "
       "WHERE expires <= $5 ORDER BY expires LIMIT " +
           std::to_string(kCleanupBatch) +
           " FOR UPDATE SKIP LOCKED)) "
           "INSERT INTO sessions (id, state, expires, tee, nonce) VALUES ($1, 'authed', $2, $3, "
           "$4)",
       {kTextOid, kInt8Oid, kTextOid, kTextOid, kInt8Oid}},
      // The one statement that makes the nonce single-use across replicas: a concurrent second
      // UPDATE of the row waits for the first, then re-checks state and finds it 'attesting'.
      {"session_begin_attest",
       "UPDATE sessions SET state = 'attesting' WHERE id = $1 AND state = 'authed' "
       "AND expires > $2 RETURNING tee, nonce",
       {kTextOid, kInt8Oid}},
      {"session_state", "SELECT expires FROM sessions WHERE id = $1", {kTextOid}},
      {"session_attested",
       "UPDATE sessions SET state = 'attested', token = $2 WHERE id = $1 AND state = 'attesting' "
       "RETURNING expires",
       {kTextOid, kTextOid}},
      {"session_failed",
       "UPDATE sessions SET state = 'failed' WHERE id = $1 AND state = 'attesting'",
       {kTextOid}},
      {"session_get_attested",
       "SELECT token, expires FROM sessions WHERE id = $1 AND state = 'attested' "
       "AND expires > $2",
       {kTextOid, kInt8Oid}},
      // One token bucket, refilled and taken from in one atomic upsert (the row lock orders
      // concurrent calls): $1 client, $2 now (ms), $3 burst, $4 tokens per second, $5 the update
      // time before which an idle bucket is full again, so deleting it changes nothing.
      {"rate_take",
       "WITH idle AS (DELETE FROM rate_buckets WHERE client IN (SELECT client FROM rate_buckets "
       "WHERE updated < $5 AND client <> $1 ORDER BY updated LIMIT " +
           std::to_string(kCleanupBatch) +
           " FOR UPDATE SKIP LOCKED)) "
           "INSERT INTO rate_buckets AS b (client, tokens, updated, allowed) "
           "VALUES ($1, $3 - 1, $2, true) ON CONFLICT (client) DO UPDATE SET "
           "allowed = least($3, b.tokens + greatest(0, $2 - b.updated) * $4 / 1000.0) >= 1, "
           "tokens = least($3, b.tokens + greatest(0, $2 - b.updated) * $4 / 1000.0) - "
           "CASE WHEN least($3, b.tokens + greatest(0, $2 - b.updated) * $4 / 1000.0) >= 1 "
           "THEN 1 ELSE 0 END, "
           "updated = greatest(b.updated, $2) RETURNING tokens, allowed",
       {kTextOid, kInt8Oid, kFloat8Oid, kFloat8Oid, kInt8Oid}},
  };
  return kStatements;
}

// What open() runs once, before and after the migrations (see Session::run_once).
const StatementSql kMigrationLockSql = {
    "migration lock", "SELECT pg_advisory_xact_lock($1)", {kInt8Oid}};
const StatementSql kSchemaVersionGetSql = {
    "reading schema_version", "SELECT coalesce(max(version), 0)::bigint FROM schema_version", {}};
const StatementSql kSchemaVersionPutSql = {
    "writing schema_version", "INSERT INTO schema_version (version) VALUES ($1)", {kInt4Oid}};
const StatementSql kKeyCheckGetSql = {
    "reading key_check", "SELECT iv, ciphertext, tag FROM key_check WHERE key_id = $1", {kInt4Oid}};
const StatementSql kKeyCheckPutSql = {
    "writing key_check",
    "INSERT INTO key_check (key_id, iv, ciphertext, tag) VALUES ($1, $2, $3, $4)",
    {kInt4Oid, kByteaOid, kByteaOid, kByteaOid}};

// The server's words without the DETAIL and CONTEXT lines, which can quote row values.
std::string describe(const PGresult* result, PGconn* conn) {
  const char* primary = result ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string text = primary ? primary : PQerrorMessage(conn);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (state) text += std::string(" (SQLSTATE ") + state + ")";
  return text;
}

Error db_error(std::string_view operation, const PGresult* result, PGconn* conn) {
  return make_error(Errc::io, "kbs storage (postgres): " + std::string(operation) + ": " +
                                  describe(result, conn));
}

// Binary parameters of one statement. Values are referenced, not copied: they outlive the call.
class Params {
 public:
  Params& text(std::string_view value) { return add(value.data(), value.size()); }
  Params& bytes(ByteView value) {
    return add(reinterpret_cast<const char*>(value.data()), value.size());
  }
  Params& int4(int32_t value) { return integer(static_cast<uint32_t>(value), 4); }
  Params& int8(int64_t value) { return integer(static_cast<uint64_t>(value), 8); }
  Params& float8(double value) { return integer(std::bit_cast<uint64_t>(value), 8); }

  int size() const { return static_cast<int>(values_.size()); }
  const char* const* values() const { return values_.data(); }
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  Params& add(const char* data, size_t size) {
    // A null pointer would bind SQL NULL; an empty value is "". Sizes are bounded by the
    // argument checks (16 MiB), far below INT_MAX.
    values_.push_back(size == 0 ? "" : data);
    lengths_.push_back(static_cast<int>(size));
    formats_.push_back(1);
    return *this;
  }
  // Network byte order, as PostgreSQL's binary format wants.
  Params& integer(uint64_t value, size_t width) {
    std::array<char, 8>& out = integers_.emplace_back();
    for (size_t i = 0; i < width; ++i) out[i] = static_cast<char>(value >> (8 * (width - 1 - i)));
    return add(out.data(), width);
  }
  std::vector<const char*> values_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
  std::deque<std::array<char, 8>> integers_;  // stable addresses
};

// A result in binary format: accessors bounds-check what the server sent.
class Rows {
 public:
  explicit Rows(ResultPtr result) : result_(std::move(result)) {}
  int count() const { return PQntuples(result_.get()); }
  ByteView bytes(int row, int column) const {
    if (row >= count() || column >= PQnfields(result_.get()) ||
        PQgetisnull(result_.get(), row, column))
      return {};
    const int size = PQgetlength(result_.get(), row, column);
    return {reinterpret_cast<const uint8_t*>(PQgetvalue(result_.get(), row, column)),
            static_cast<size_t>(std::max(size, 0))};
  }
  std::string_view text(int row, int column) const {
    ByteView b = bytes(row, column);
    return {reinterpret_cast<const char*>(b.data()), b.size()};
  }
  // A big-endian int2, int4 or int8 column.
  Result<int64_t> integer(int row, int column, std::string_view what) const {
    ByteView b = bytes(row, column);
    if (b.size() != 2 && b.size() != 4 && b.size() != 8)
      return make_error(Errc::parse, "kbs storage (postgres): " + std::string(what) + ": " +
                                         std::to_string(b.size()) + "-byte integer column");
    uint64_t value = (b[0] & 0x80) ? ~uint64_t{0} : 0;  // sign extension
    for (uint8_t byte : b) value = (value << 8) | byte;
    return static_cast<int64_t>(value);
  }
  Result<double> float8(int row, int column, std::string_view what) const {
    ByteView b = bytes(row, column);
    if (b.size() != 8)
      return make_error(Errc::parse, "kbs storage (postgres): " + std::string(what) + ": " +
                                         std::to_string(b.size()) + "-byte float8 column");
    uint64_t bits = 0;
    for (uint8_t byte : b) bits = (bits << 8) | byte;
    return std::bit_cast<double>(bits);
  }
  Result<bool> boolean(int row, int column, std::string_view what) const {
    ByteView b = bytes(row, column);
    if (b.size() != 1)
      return make_error(Errc::parse, "kbs storage (postgres): " + std::string(what) + ": " +
                                         std::to_string(b.size()) + "-byte boolean column");
    return b[0] != 0;
  }
  // Rows changed by an INSERT, UPDATE or DELETE.
  uint64_t affected() const {
    const char* text = PQcmdTuples(result_.get());
    return text && *text ? std::strtoull(text, nullptr, 10) : 0;
  }

 private:
  ResultPtr result_;
};

// Opens a connection; its statements are prepared on first use (open() migrates first).
Result<ConnPtr> connect(const std::string& conninfo, std::chrono::milliseconds query_timeout) {
  // conninfo is expanded in place of "dbname" (expand_dbname): what it says overrides the
  // connect timeout given before it, which bounds a server that accepts and never answers.
  const char* keywords[] = {"connect_timeout", "dbname", nullptr};
  const char* values[] = {"10", conninfo.c_str(), nullptr};
  ConnPtr conn(PQconnectdbParams(keywords, values, 1));
  if (!conn) return make_error(Errc::io, "kbs storage (postgres): connecting: out of memory");
  if (PQstatus(conn.get()) != CONNECTION_OK) return db_error("connecting", nullptr, conn.get());
  // The server cancels any statement that runs longer (a lock held by a stuck session, a
  // server under load): the call fails with io and the KBS answers 503 rather than hanging.
  // Constant SQL: the value is an integer this code formats.
  const std::string timeout =
      "SET statement_timeout = " + std::to_string(std::max<int64_t>(0, query_timeout.count()));
  if (ResultPtr set(PQexec(conn.get(), timeout.c_str()));
      !set || PQresultStatus(set.get()) != PGRES_COMMAND_OK)
    return db_error("setting statement_timeout", set.get(), conn.get());
  // Paths, ids and records are bound as UTF-8 bytes (the argument checks enforce it): the
  // session's encoding must be UTF-8 whatever the server's default.
  if (PQsetClientEncoding(conn.get(), "UTF8") != 0)
    return db_error("setting client_encoding", nullptr, conn.get());
  // Server notices (e.g. "terminating connection due to administrator command") would go to
  // stderr; the failed call reports what matters.
  PQsetNoticeProcessor(
      conn.get(), [](void*, const char*) {}, nullptr);
  return conn;
}

Status prepare_statements(PGconn* conn) {
  for (const StatementSql& s : statements()) {
    ResultPtr result(PQprepare(conn, s.name.c_str(), s.sql.c_str(),
                               static_cast<int>(s.types.size()),
                               s.types.empty() ? nullptr : s.types.data()));
    if (!result || PQresultStatus(result.get()) != PGRES_COMMAND_OK)
      return db_error(std::string("preparing ") + s.name, result.get(), conn);
  }
  return {};
}

// A pooled connection, whether statements() are prepared on it, and whether it was opened for
// this call (rather than taken idle from the pool, where the server may have closed it).
struct PooledConn {
  ConnPtr conn;
  bool prepared = false;
  bool fresh = false;
};

// The connections: at most `capacity`, opened when a call finds none idle, dropped when the
// server broke them. A call waits while every connection is busy.
class Pool {
 public:
  Pool(std::string conninfo, size_t capacity, std::chrono::milliseconds query_timeout)
      : conninfo_(std::move(conninfo)),
        capacity_(std::max<size_t>(capacity, 1)),
        query_timeout_(query_timeout) {}

  Result<PooledConn> acquire() {
    {
      std::unique_lock lock(mutex_);
      available_.wait(lock, [&] { return !idle_.empty() || open_ < capacity_; });
      if (!idle_.empty()) {
        PooledConn conn = std::move(idle_.back());
        idle_.pop_back();
        conn.fresh = false;
        return conn;
      }
      ++open_;
    }
    // Connecting takes a round trip or more: outside the lock.
    auto conn = connect(conninfo_, query_timeout_);
    if (!conn) {
      release({});
      return conn.error();
    }
    return PooledConn{std::move(*conn), false, true};
  }

  // Requests sent and answered (a pipeline is one), for the metrics: where a request's time goes.
  void count_round_trips(uint64_t n) { round_trips_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t round_trips() const { return round_trips_.load(std::memory_order_relaxed); }

  // Returns a connection; one that is broken (or null) is closed and its slot freed.
  void release(PooledConn conn) {
    const bool healthy = conn.conn && PQstatus(conn.conn.get()) == CONNECTION_OK &&
                         PQtransactionStatus(conn.conn.get()) == PQTRANS_IDLE &&
                         PQpipelineStatus(conn.conn.get()) == PQ_PIPELINE_OFF;
    std::lock_guard lock(mutex_);
    if (healthy)
      idle_.push_back(std::move(conn));
    else
      --open_;
    available_.notify_one();
  }

 private:
  const std::string conninfo_;
  const size_t capacity_;
  const std::chrono::milliseconds query_timeout_;
  std::atomic<uint64_t> round_trips_{0};
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<PooledConn> idle_;
  size_t open_ = 0;  // idle and leased
};

// One call's use of a pooled connection. Counts the statements that succeeded, so the caller
// can tell a connection that was already dead (nothing ran: safe to retry on a fresh one) from a
// failure part way.
class Session {
 public:
  Session(Pool& pool, PooledConn conn) : pool_(pool), pooled_(std::move(conn)) {}
  ~Session() {
    // An early error return inside a transaction: roll back so the connection goes back clean.
    if (PQstatus(conn()) == CONNECTION_OK && PQtransactionStatus(conn()) != PQTRANS_IDLE) {
      pool_.count_round_trips(1);
      ResultPtr(PQexec(conn(), "ROLLBACK"));
    }
    pool_.release(std::move(pooled_));
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // One of statements(), by name.
  Result<Rows> run(const char* name, const Params& params = {}) {
    ACON_CHECK(prepare());
    pool_.count_round_trips(1);
    ResultPtr result(PQexecPrepared(conn(), name, params.size(), params.values(), params.lengths(),
                                    params.formats(), 1));
    return check(std::move(result), name);
  }
  // One step of a pipeline: a prepared statement by name, or (name null) constant SQL without
  // parameters, such as BEGIN and COMMIT.
  struct Step {
    const char* name = nullptr;
    const Params* params = nullptr;
    const char* sql = nullptr;
  };
  // Sends every step, then waits once: one round trip for all of them (libpq's pipeline mode,
  // https://www.postgresql.org/docs/15/libpq-pipeline-mode.html). Returns each step's rows; the
  // first failure is the error (the server skips the steps after it).
  Result<std::vector<Rows>> pipeline(std::initializer_list<Step> steps) {
    return pipeline(std::span<const Step>(steps.begin(), steps.size()));
  }
  Result<std::vector<Rows>> pipeline(std::span<const Step> steps) {
    ACON_CHECK(prepare());
    pool_.count_round_trips(1);
    if (PQenterPipelineMode(conn()) != 1)
      return db_error("entering pipeline mode", nullptr, conn());
    size_t sent = 0;
    std::optional<Error> error;
    const Params none;
    for (const Step& step : steps) {
      const Params& params = step.params ? *step.params : none;
      const int ok =
          step.name ? PQsendQueryPrepared(conn(), step.name, params.size(), params.values(),
                                          params.lengths(), params.formats(), 1)
                    : PQsendQueryParams(conn(), step.sql, 0, nullptr, nullptr, nullptr, nullptr, 1);
      if (ok != 1) {
        error = db_error(step.name ? step.name : step.sql, nullptr, conn());
        break;
      }
      ++sent;
    }
    std::vector<Rows> rows;
    if (PQpipelineSync(conn()) == 1) {
      auto step = steps.begin();
      for (size_t i = 0; i < sent; ++i, ++step) {
        ResultPtr result(PQgetResult(conn()));
        if (!result) {  // the connection is gone
          if (!error) error = db_error(step->name ? step->name : step->sql, nullptr, conn());
          break;
        }
        const ExecStatusType status = PQresultStatus(result.get());
        if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
          ++succeeded_;
          rows.emplace_back(std::move(result));
        } else if (!error) {
          error = db_error(step->name ? step->name : step->sql, result.get(), conn());
        }
        ResultPtr end(PQgetResult(conn()));  // each step's results end with a null
      }
      ResultPtr sync(PQgetResult(conn()));  // PGRES_PIPELINE_SYNC
    } else if (!error) {
      error = db_error("pipeline sync", nullptr, conn());
    }
    // Fails only with results left unread, i.e. a broken connection, which the pool drops.
    PQexitPipelineMode(conn());
    if (error) return *error;
    return rows;
  }

  // SQL used once per open (migrations, the key check): parameters bound all the same, but not
  // prepared, since the tables the prepared statements name may not exist yet.
  Result<Rows> run_once(const StatementSql& statement, const Params& params = {}) {
    pool_.count_round_trips(1);
    ResultPtr result(PQexecParams(conn(), statement.sql.c_str(), params.size(),
                                  statement.types.empty() ? nullptr : statement.types.data(),
                                  params.values(), params.lengths(), params.formats(), 1));
    return check(std::move(result), statement.name);
  }
  // Constant SQL only (transaction control, migrations): values always go through run().
  Status exec(const char* sql, std::string_view operation) {
    pool_.count_round_trips(1);
    ResultPtr result(PQexec(conn(), sql));
    ACON_CHECK(check(std::move(result), operation));
    return {};
  }

  // Nothing ran and the connection, taken idle from the pool, is gone: the server closed it
  // while it sat there.
  bool stale() const {
    return !pooled_.fresh && succeeded_ == 0 && PQstatus(conn()) != CONNECTION_OK;
  }

 private:
  PGconn* conn() const { return pooled_.conn.get(); }
  // Statements are prepared once per connection, on its first use: one round trip each.
  Status prepare() {
    if (pooled_.prepared) return {};
    pool_.count_round_trips(statements().size());
    ACON_CHECK(prepare_statements(conn()));
    pooled_.prepared = true;
    return {};
  }
  Result<Rows> check(ResultPtr result, std::string_view operation) {
    const ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
      return db_error(operation, result.get(), conn());
    ++succeeded_;
    return Rows(std::move(result));
  }

  Pool& pool_;
  PooledConn pooled_;
  int succeeded_ = 0;
};

// Runs `body` on a pooled connection. A connection the server closed while it sat idle (a
// restart, an idle timeout) fails on its first statement; it is dropped and the call runs again
// on the next one, until one works or a newly opened connection fails too. So after a restart,
// which closes every idle connection, the very next call succeeds. A failure after a statement
// succeeded is returned as it is: the call's effect is then unknown. Each retry drops one
// connection, so the loop ends.
template <typename Body>
auto with_session(Pool& pool, Body&& body) -> decltype(body(std::declval<Session&>())) {
  for (;;) {
    auto conn = pool.acquire();
    if (!conn) return conn.error();
    Session session(pool, std::move(*conn));
    auto result = body(session);
    if (result || !session.stale()) return result;
  }
}

int64_t unix_seconds(Time t) { return t.time_since_epoch().count(); }

// Sessions in the `sessions` table, shared by every replica on the database. The bound on open
// sessions is kept per process, from the sessions it created (counting the table's rows would be
// a scan per /auth): the table holds at most replicas x max_sessions unexpired sessions.
class PostgresSessionStore final : public SessionStore {
 public:
  PostgresSessionStore(std::shared_ptr<Pool> pool, std::chrono::seconds lifetime,
                       size_t max_sessions)
      : pool_(std::move(pool)),
        lifetime_(lifetime),
        max_sessions_(std::max<size_t>(1, max_sessions)) {}

  Result<std::string> create(std::string tee, std::string nonce, const Now& now) override {
    const Time expires = now.wall + lifetime_;
    {
      std::lock_guard lock(mutex_);
      while (!created_.empty() && created_.front() <= now.wall) created_.pop_front();
      if (created_.size() >= max_sessions_)
        return make_error(Errc::unsupported, "too many open sessions");
    }
    ACON_TRY(std::string id, new_session_id());
    ACON_CHECK(with_session(*pool_, [&](Session& s) -> Status {
      ACON_CHECK(s.run("session_create", Params()
                                             .text(id)
                                             .int8(unix_seconds(expires))
                                             .text(tee)
                                             .text(nonce)
                                             .int8(unix_seconds(now.wall))));
      return {};
    }));
    std::lock_guard lock(mutex_);
    // Sessions are created in wall-clock order up to concurrent calls: close enough for a bound.
    created_.push_back(expires);
    return id;
  }

  Result<Challenge> begin_attest(std::string_view id, const Now& now) override {
    return with_session(*pool_, [&](Session& s) -> Result<Challenge> {
      ACON_TRY(Rows taken,
               s.run("session_begin_attest", Params().text(id).int8(unix_seconds(now.wall))));
      if (taken.count() == 1)
        return Challenge{std::string(taken.text(0, 0)), std::string(taken.text(0, 1))};
      // Not taken: only the error message depends on why.
      ACON_TRY(Rows state, s.run("session_state", Params().text(id)));
      if (state.count() == 0) return make_error(Errc::not_found, "session unknown or expired");
      ACON_TRY(int64_t expires, state.integer(0, 0, "sessions.expires"));
      if (expires <= unix_seconds(now.wall))
        return make_error(Errc::not_found, "session unknown or expired");
      return make_error(Errc::invalid_argument, "session already used: its nonce is single-use");
    });
  }

  Status finish_attest(std::string_view id, std::shared_ptr<const AttestedSession> attested,
                       std::string_view token) override {
    if (!attested) {
      return with_session(*pool_, [&](Session& s) -> Status {
        ACON_CHECK(s.run("session_failed", Params().text(id)));
        return {};
      });
    }
    ACON_TRY(Rows rows, with_session(*pool_, [&](Session& s) {
               return s.run("session_attested", Params().text(id).text(token));
             }));
    if (rows.count() == 1) {
      ACON_TRY(int64_t expires, rows.integer(0, 0, "sessions.expires"));
      remember(id, Attested{std::move(attested), std::string(token)}, expires);
    }
    return {};
  }

  Result<std::optional<Attested>> attested(std::string_view id, const Now& now) override {
    const int64_t at = unix_seconds(now.wall);
    {
      std::lock_guard lock(mutex_);
      if (auto it = cache_.find(std::string(id)); it != cache_.end()) {
        if (it->second.second > at) return std::optional<Attested>(it->second.first);
        cache_.erase(it);
      }
    }
    ACON_TRY(Rows rows, with_session(*pool_, [&](Session& s) {
               return s.run("session_get_attested", Params().text(id).int8(at));
             }));
    if (rows.count() == 0) return std::optional<Attested>();
    ACON_TRY(int64_t expires, rows.integer(0, 1, "sessions.expires"));
    Attested found{nullptr, std::string(rows.text(0, 0))};
    remember(id, found, expires);
    return std::optional<Attested>(std::move(found));
  }

  size_t size() const override {
    std::lock_guard lock(mutex_);
    return created_.size();
  }

 private:
  // An attested session changes no more until it expires: a replica keeps the ones it saw, so a
  // cookie request repeated at the same replica costs no round trip. Bounded: cleared when full.
  void remember(std::string_view id, Attested attested, int64_t expires) {
    std::lock_guard lock(mutex_);
    if (cache_.size() >= kCacheSize) cache_.clear();
    cache_.insert_or_assign(std::string(id), std::make_pair(std::move(attested), expires));
  }
  static constexpr size_t kCacheSize = 4096;

  std::shared_ptr<Pool> pool_;
  std::chrono::seconds lifetime_;
  size_t max_sessions_;
  mutable std::mutex mutex_;
  std::deque<Time> created_;  // expiry of each unexpired session this process created
  std::unordered_map<std::string, std::pair<Attested, int64_t>> cache_;  // id -> (session, expires)
};

// Token buckets in `rate_buckets`: the refill is computed by the database in the statement that
// takes the token, so replicas deciding for one client at the same moment are ordered by the
// row lock. Replicas' clocks may differ a little; a bucket's time never moves back.
class PostgresRateLimiter final : public SharedRateLimiter {
 public:
  PostgresRateLimiter(std::shared_ptr<Pool> pool, const RateLimitConfig& config)
      : pool_(std::move(pool)),
        rate_(config.rate_per_second),
        burst_(std::isfinite(config.burst) && config.burst >= 1 ? config.burst : 1),
        refill_ms_(static_cast<int64_t>(std::ceil(burst_ / rate_ * 1000))) {}

  Result<RateDecision> check(std::string_view key,
                             std::chrono::sys_time<std::chrono::milliseconds> now) override {
    const int64_t at = now.time_since_epoch().count();
    ACON_TRY(Rows rows, with_session(*pool_, [&](Session& s) {
               return s.run(
                   "rate_take",
                   Params().text(key).int8(at).float8(burst_).float8(rate_).int8(at - refill_ms_));
             }));
    ACON_TRY(double tokens, rows.float8(0, 0, "rate_buckets.tokens"));
    ACON_TRY(bool allowed, rows.boolean(0, 1, "rate_buckets.allowed"));
    if (allowed) return RateDecision{};
    const auto wait = static_cast<int64_t>(std::ceil((1 - tokens) / rate_));
    return RateDecision{false, std::chrono::seconds(std::max<int64_t>(1, wait))};
  }

 private:
  std::shared_ptr<Pool> pool_;
  double rate_;
  double burst_;
  int64_t refill_ms_;
};

class PostgresStorage final : public Storage {
 public:
  PostgresStorage(std::string conninfo, size_t pool_size, std::chrono::milliseconds query_timeout,
                  SecretBytes master_key, AuditSigner signer)
      : pool_(std::make_shared<Pool>(std::move(conninfo), pool_size, query_timeout)),
        master_key_(std::move(master_key)),
        signer_(std::move(signer)) {}

  // Migrations and the master key check, on one connection.
  Status open() {
    return with_session([&](Session& s) -> Status {
      ACON_CHECK(s.exec("BEGIN", "begin migration"));
      ACON_CHECK(s.run_once(kMigrationLockSql, Params().int8(kMigrationLock)));
      ACON_CHECK(s.exec("CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY)",
                        "creating schema_version"));
      ACON_TRY(Rows rows, s.run_once(kSchemaVersionGetSql));
      ACON_TRY(int64_t version, rows.integer(0, 0, "schema_version"));
      if (version > static_cast<int64_t>(kMigrations.size()))
        return newer_schema(version, kMigrations.size());
      for (auto v = static_cast<size_t>(version); v < kMigrations.size(); ++v) {
        ACON_CHECK(
            s.exec(std::string(kMigrations[v]).c_str(), "migration " + std::to_string(v + 1)));
        ACON_CHECK(s.run_once(kSchemaVersionPutSql, Params().int4(static_cast<int32_t>(v + 1))));
      }
      // A new database gets its key check value in the same transaction, so a database never
      // exists without one.
      if (version == 0) {
        ACON_TRY(Sealed check, seal_key_check(master_key_));
        ACON_CHECK(s.run_once(
            kKeyCheckPutSql,
            Params().int4(check.key_id).bytes(check.iv).bytes(check.ciphertext).bytes(check.tag)));
      }
      ACON_CHECK(s.exec("COMMIT", "commit migration"));
      ACON_TRY(Rows check, s.run_once(kKeyCheckGetSql, Params().int4(kCurrentKeyId)));
      if (check.count() == 0) return missing_key_check();
      return check_key_check(master_key_, check.bytes(0, 0), check.bytes(0, 1), check.bytes(0, 2));
    });
  }

  Status put_resource(std::string_view path, ByteView value) override {
    ACON_CHECK(check_resource_path(path));
    ACON_CHECK(check_resource_value(value));
    ACON_TRY(Sealed sealed, seal_resource(master_key_, path, value));
    return with_session([&](Session& s) -> Status {
      ACON_CHECK(s.run("put_resource", Params()
                                           .text(path)
                                           .int4(sealed.key_id)
                                           .bytes(sealed.iv)
                                           .bytes(sealed.ciphertext)
                                           .bytes(sealed.tag)));
      return {};
    });
  }

  Result<std::optional<SecretBytes>> get_resource(std::string_view path) override {
    ACON_CHECK(check_resource_path(path));
    return with_session([&](Session& s) -> Result<std::optional<SecretBytes>> {
      ACON_TRY(Rows rows, s.run("get_resource", Params().text(path)));
      if (rows.count() == 0) return std::optional<SecretBytes>();
      ACON_TRY(int64_t key_id, rows.integer(0, 0, "resources.key_id"));
      ACON_TRY(SecretBytes plain, open_resource(master_key_, path, key_id, rows.bytes(0, 1),
                                                rows.bytes(0, 2), rows.bytes(0, 3)));
      return std::optional<SecretBytes>(std::move(plain));
    });
  }

  Result<bool> delete_resource(std::string_view path) override {
    ACON_CHECK(check_resource_path(path));
    return with_session([&](Session& s) -> Result<bool> {
      ACON_TRY(Rows rows, s.run("delete_resource", Params().text(path)));
      return rows.affected() > 0;
    });
  }

  Result<std::vector<std::string>> list_resources() override {
    return with_session([&](Session& s) -> Result<std::vector<std::string>> {
      ACON_TRY(Rows rows, s.run("list_resources"));
      return column_text(rows);
    });
  }

  Status put_document(std::string_view ns, std::string_view id, std::string_view text) override {
    ACON_CHECK(check_document_key(ns, id));
    ACON_CHECK(check_document_text(text));
    return with_session([&](Session& s) -> Status {
      ACON_CHECK(s.run("put_document", Params().text(ns).text(id).bytes(as_bytes(text))));
      return {};
    });
  }

  Result<std::optional<std::string>> get_document(std::string_view ns,
                                                  std::string_view id) override {
    ACON_CHECK(check_document_key(ns, id));
    return with_session([&](Session& s) -> Result<std::optional<std::string>> {
      ACON_TRY(Rows rows, s.run("get_document", Params().text(ns).text(id)));
      if (rows.count() == 0) return std::optional<std::string>();
      return std::optional<std::string>(std::string(rows.text(0, 0)));
    });
  }

  Result<bool> delete_document(std::string_view ns, std::string_view id) override {
    ACON_CHECK(check_document_key(ns, id));
    return with_session([&](Session& s) -> Result<bool> {
      ACON_TRY(Rows rows, s.run("delete_document", Params().text(ns).text(id)));
      return rows.affected() > 0;
    });
  }

  Result<std::vector<std::string>> list_documents(std::string_view ns) override {
    ACON_CHECK(check_document_namespace(ns));
    return with_session([&](Session& s) -> Result<std::vector<std::string>> {
      ACON_TRY(Rows rows, s.run("list_documents", Params().text(ns)));
      return column_text(rows);
    });
  }

  // The transaction-scoped advisory lock makes appends of every Storage on this database, in
  // every process, one sequence: the head is read after the lock is held (READ COMMITTED takes a
  // fresh snapshot per statement, so the previous holder's commit is visible), and the lock is
  // released by COMMIT or ROLLBACK, also when the connection dies. The PRIMARY KEY on seq would
  // refuse a fork even without the lock.
  Result<std::vector<AuditRecord>> append_audit_batch(std::vector<AuditEntry> entries) override {
    if (entries.empty()) return make_error(Errc::invalid_argument, "audit log: empty commit");
    for (const AuditEntry& entry : entries) ACON_CHECK(validate_audit_entry(entry));
    return with_session([&](Session& s) -> Result<std::vector<AuditRecord>> {
      // Two round trips: BEGIN, lock and head read in one pipeline; the inserts and COMMIT in
      // the other. Each statement still gets its own snapshot, so the head is read under the lock.
      Params lock;
      lock.int8(kAuditLock);
      ACON_TRY(std::vector<Rows> first,
               s.pipeline({{.sql = "BEGIN"}, {"audit_lock", &lock}, {"audit_head"}}));
      ACON_TRY(AuditHead head, head_from(first.at(2)));
      // A retried session gets the entries again (with_session may run this twice).
      ACON_TRY(std::vector<AuditRecord> records, make_audit_records(head, entries, signer_));
      // Params reference their values: the lines and parameters live until the pipeline ran.
      std::vector<std::string> lines(records.size());
      std::vector<Params> inserts(records.size());
      std::vector<Session::Step> second;
      second.reserve(records.size() + 1);
      for (size_t i = 0; i < records.size(); ++i) {
        lines[i] = audit_record_to_line(records[i]);
        inserts[i].int8(static_cast<int64_t>(records[i].seq)).bytes(records[i].hash).text(lines[i]);
        second.push_back({"audit_insert", &inserts[i]});
      }
      second.push_back({.sql = "COMMIT"});
      ACON_CHECK(s.pipeline(second));
      return records;
    });
  }

  Result<std::vector<AuditRecord>> read_audit(uint64_t from_seq, size_t limit) override {
    const auto max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    return with_session([&](Session& s) -> Result<std::vector<AuditRecord>> {
      ACON_TRY(Rows rows, s.run("audit_read",
                                Params()
                                    .int8(static_cast<int64_t>(std::min(from_seq, max)))
                                    .int8(static_cast<int64_t>(std::min<uint64_t>(limit, max)))));
      std::vector<AuditRecord> records;
      records.reserve(static_cast<size_t>(rows.count()));
      for (int i = 0; i < rows.count(); ++i) {
        ACON_TRY(int64_t seq, rows.integer(i, 0, "audit.seq"));
        ACON_TRY(AuditRecord record, audit_record_from_row(seq, rows.bytes(i, 1), rows.text(i, 2)));
        records.push_back(std::move(record));
      }
      return records;
    });
  }

  Result<AuditHead> audit_head() override {
    return with_session([&](Session& s) { return read_head(s); });
  }

  uint64_t round_trips() const override { return pool_->round_trips(); }

  std::unique_ptr<SessionStore> shared_session_store(std::chrono::seconds lifetime,
                                                     size_t max_sessions) override {
    return std::make_unique<PostgresSessionStore>(pool_, lifetime, max_sessions);
  }
  std::unique_ptr<SharedRateLimiter> shared_rate_limiter(const RateLimitConfig& config) override {
    if (!(config.rate_per_second > 0) || !std::isfinite(config.rate_per_second)) return nullptr;
    return std::make_unique<PostgresRateLimiter>(pool_, config);
  }

 private:
  static Result<AuditHead> read_head(Session& s) {
    ACON_TRY(Rows rows, s.run("audit_head"));
    return head_from(rows);
  }
  static Result<AuditHead> head_from(const Rows& rows) {
    if (rows.count() == 0) return AuditHead{};
    ACON_TRY(int64_t seq, rows.integer(0, 0, "audit.seq"));
    return audit_head_from_row(seq, rows.bytes(0, 1));
  }

  static std::vector<std::string> column_text(const Rows& rows) {
    std::vector<std::string> out;
    out.reserve(static_cast<size_t>(rows.count()));
    for (int i = 0; i < rows.count(); ++i) out.emplace_back(rows.text(i, 0));
    return out;
  }

  template <typename Body>
  auto with_session(Body&& body) -> decltype(body(std::declval<Session&>())) {
    return kbs::with_session(*pool_, std::forward<Body>(body));
  }

  // Shared with the session store and rate limiter made from this storage, which may outlive it.
  std::shared_ptr<Pool> pool_;
  SecretBytes master_key_;
  AuditSigner signer_;
};

}  // namespace

Result<std::unique_ptr<Storage>> open_postgres_storage(std::string_view conninfo,
                                                       SecretBytes master_key, AuditSigner signer,
                                                       size_t pool_size,
                                                       std::chrono::milliseconds query_timeout) {
  ACON_CHECK(check_master_key_size(master_key));
  auto storage = std::make_unique<PostgresStorage>(std::string(conninfo), pool_size, query_timeout,
                                                   std::move(master_key), std::move(signer));
  ACON_CHECK(storage->open());
  return std::unique_ptr<Storage>(std::move(storage));
}

}  // namespace acon::kbs
