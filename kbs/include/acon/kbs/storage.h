// The KBS's persistence: secret resources (encrypted at rest), named plain-text documents
// (resource policies, the attestation policy, reference values) and the release audit log.
// Storage is the interface the protocol server, policy and admin code use; SQLite is the default
// backend (open_sqlite_storage), PostgreSQL the one for replicas sharing a database
// (open_postgres_storage); another database plugs in by implementing Storage.
// docs/kbs-storage.md describes the SQLite schema, the encryption and durability.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "acon/common/bytes.h"
#include "acon/common/result.h"
#include "acon/kbs/audit.h"
#include "acon/kbs/rate_limit.h"
#include "acon/kbs/session.h"

namespace acon::kbs {

inline constexpr size_t kMasterKeySize = 32;           // AES-256
inline constexpr size_t kMaxResourceSize = 16u << 20;  // one resource value
inline constexpr size_t kMaxDocumentSize = 16u << 20;  // one document's text
inline constexpr size_t kMaxDocumentIdSize = 512;

// Thread safety: every method may be called from several threads at once on one Storage (the
// HTTP server's workers share it); implementations serialise internally as they need. Audit
// appends are linearised: concurrent appends yield consecutive sequence numbers, each chained to
// the one before.
//
// Errors: invalid_argument for a bad path, namespace, id or oversized value; not_found never
// (absence is an empty optional or false); io for database failures. Messages never contain
// resource values.
class Storage {
 public:
  virtual ~Storage() = default;

  // Resources, by path "repo/type/tag" (valid_resource_path). put inserts or replaces.
  virtual Status put_resource(std::string_view path, ByteView value) = 0;
  virtual Result<std::optional<SecretBytes>> get_resource(std::string_view path) = 0;
  // Whether the resource existed.
  virtual Result<bool> delete_resource(std::string_view path) = 0;
  // All resource paths, sorted by byte value.
  virtual Result<std::vector<std::string>> list_resources() = 0;

  // Documents: plain text (not secret) by namespace (a valid_path_component, e.g.
  // "resource-policy") and id (1 .. kMaxDocumentIdSize bytes of UTF-8 without control
  // characters, e.g. "default"). put inserts or replaces.
  virtual Status put_document(std::string_view ns, std::string_view id, std::string_view text) = 0;
  virtual Result<std::optional<std::string>> get_document(std::string_view ns,
                                                          std::string_view id) = 0;
  virtual Result<bool> delete_document(std::string_view ns, std::string_view id) = 0;
  // The ids in one namespace, sorted by byte value.
  virtual Result<std::vector<std::string>> list_documents(std::string_view ns) = 0;

  // Appends the entries as the next records, in order, in one commit (validated, chained, the
  // last one signed with the storage's AuditSigner: audit.h) and returns them as stored. All or
  // none are committed; an invalid entry fails the whole call (invalid_argument). Not empty.
  virtual Result<std::vector<AuditRecord>> append_audit_batch(std::vector<AuditEntry> entries) = 0;
  // A commit of one record.
  Result<AuditRecord> append_audit(AuditEntry entry);
  // Up to `limit` records with seq >= from_seq, in order.
  virtual Result<std::vector<AuditRecord>> read_audit(uint64_t from_seq, size_t limit) = 0;
  // The newest record's seq and hash; seq 0 and the genesis hash when the log is empty.
  virtual Result<AuditHead> audit_head() = 0;

  // Requests this Storage (and what it shared) sent to a database server and waited for; 0 for
  // an embedded database. The KBS's metrics show it: database round trips per request.
  virtual uint64_t round_trips() const { return 0; }

  // What replicas on one database must share besides the data above: RCAR sessions (so a nonce
  // issued by one replica is attested at another, once) and rate-limit buckets. Null from a
  // storage one process owns (SQLite): the KBS then keeps both in memory.
  virtual std::unique_ptr<SessionStore> shared_session_store(std::chrono::seconds /*lifetime*/,
                                                             size_t /*max_sessions*/) {
    return nullptr;
  }
  virtual std::unique_ptr<SharedRateLimiter> shared_rate_limiter(const RateLimitConfig&) {
    return nullptr;
  }
};

// Opens (creating when absent, with mode 0600) the SQLite database at `db`, applies schema
// migrations, and checks `master_key` (32 bytes) against the key check value stored when the
// database was created: a different key is refused here (verify_failed), not on every read.
// `signer` signs the audit records appended through this Storage.
Result<std::unique_ptr<Storage>> open_sqlite_storage(const std::filesystem::path& db,
                                                     SecretBytes master_key, AuditSigner signer);

inline constexpr size_t kDefaultPostgresPoolSize = 8;
// Each connection's statement_timeout: a query the server has not finished by then is cancelled
// and the call fails (io, so the KBS answers 503) instead of holding a worker.
inline constexpr std::chrono::milliseconds kDefaultPostgresQueryTimeout{5000};

// Connects to PostgreSQL with the libpq connection string `conninfo` ("host=... dbname=..." or a
// postgresql:// URI), applies schema migrations (serialised between processes, so replicas may
// start together), and checks `master_key` as open_sqlite_storage does. Up to `pool_size`
// connections are opened as concurrent calls need them; a connection the server dropped is
// replaced on the next call. Several Storage objects, in one or several processes, may share one
// database: their audit appends form one chain, and shared_session_store / shared_rate_limiter
// give them one set of sessions and rate-limit buckets. Every statement is cancelled by the
// server after `query_timeout` (0: never). Error messages never contain `conninfo` (it may hold
// a password).
Result<std::unique_ptr<Storage>> open_postgres_storage(
    std::string_view conninfo, SecretBytes master_key, AuditSigner signer,
    size_t pool_size = kDefaultPostgresPoolSize,
    std::chrono::milliseconds query_timeout = kDefaultPostgresQueryTimeout);

}  // namespace acon::kbs
