// What every Storage backend does the same way, whatever the database: argument checks,
// AES-256-GCM sealing of resource values with the path in the AAD, the master key check value,
// and the consistency check of a stored audit row. docs/kbs-storage.md describes the formats.
// Backends keep only their SQL and connection handling.
#pragma once

#include <cstdint>
#include <string_view>

#include "acon/common/bytes.h"
#include "acon/common/result.h"
#include "acon/kbs/audit.h"

namespace acon::kbs::storage_detail {

// The key that encrypts new rows. Rows carry the id they were written under, so a later
// rotation can add keys and re-encrypt without another schema change.
inline constexpr uint8_t kCurrentKeyId = 1;
inline constexpr size_t kIvSize = 12;
inline constexpr size_t kTagSize = 16;

// One AES-256-GCM sealed value as the tables store it: four columns.
struct Sealed {
  uint8_t key_id = kCurrentKeyId;
  Bytes iv;
  Bytes ciphertext;
  Bytes tag;
};

// invalid_argument unless the key is kMasterKeySize bytes.
Status check_master_key_size(const SecretBytes& master_key);

// Argument checks shared by the backends; the errors name the field, never a value.
Status check_resource_path(std::string_view path);
Status check_resource_value(ByteView value);
Status check_document_namespace(std::string_view ns);
Status check_document_key(std::string_view ns, std::string_view id);
Status check_document_text(std::string_view text);

// A resource value sealed under the current key, bound to its path.
Result<Sealed> seal_resource(const SecretBytes& master_key, std::string_view path, ByteView value);
// The value of a stored row at `path`: unsupported for a key id not held, parse for malformed
// columns, verify_failed when it does not authenticate (altered, or moved from another path).
Result<SecretBytes> open_resource(const SecretBytes& master_key, std::string_view path,
                                  int64_t key_id, ByteView iv, ByteView ciphertext, ByteView tag);

// The key check value stored with a new database, and its check at open: verify_failed for a
// different key.
Result<Sealed> seal_key_check(const SecretBytes& master_key);
Status check_key_check(const SecretBytes& master_key, ByteView iv, ByteView ciphertext,
                       ByteView tag);
// The error for a database without a key check row.
Error missing_key_check();

// The error for a database whose schema version is newer than this code's.
Error newer_schema(int64_t version, size_t known);

// A stored audit row (seq and hash columns, the record's JSON line) as a record; parse when the
// indexed columns disagree with the record they index.
Result<AuditRecord> audit_record_from_row(int64_t seq, ByteView hash, std::string_view line);
// The head from the newest row's seq and hash columns.
Result<AuditHead> audit_head_from_row(int64_t seq, ByteView hash);

}  // namespace acon::kbs::storage_detail
