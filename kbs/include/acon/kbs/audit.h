// The KBS's release audit log: one record per decision (resource released or denied, admin
// change), hash-chained and signed so that an auditor holding the signer's public key can check
// that no record was changed, removed from the middle or reordered. docs/kbs-storage.md gives
// the record format, the exact hash preimage and what verification does and does not prove.
//
// Records never hold secrets: no resource values, no tokens (only their SHA-256), no keys.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "acon/common/bytes.h"
#include "acon/common/json.h"
#include "acon/common/keys.h"
#include "acon/common/signature.h"
#include "acon/common/x509.h"

namespace acon::kbs {

// The value of a record's "format" member; part of the hashed preimage (domain separation).
inline constexpr std::string_view kAuditFormat = "acon-kbs-audit/1";
inline constexpr size_t kAuditHashSize = 32;  // SHA-256
// Bounds on what one record may carry, checked on append and on import.
inline constexpr size_t kMaxAuditText = 4096;         // each string member
inline constexpr size_t kMaxAuditListItems = 256;     // image_signers, image_ids
inline constexpr size_t kMaxAuditExtraBytes = 16384;  // "extra", as compact JSON
inline constexpr size_t kMaxAuditLine = 1u << 20;     // one exported JSON line
// Sequence numbers stay exact in every JSON implementation (IEEE doubles, as JCS uses).
inline constexpr uint64_t kMaxAuditSeq = (uint64_t{1} << 53) - 1;

// What the caller records about one decision. Every field is plain, non-secret text.
struct AuditEntry {
  Time time{};                             // when the KBS decided (passed in by the caller)
  std::string action;                      // "release", "deny", "admin", ...; not empty
  std::string resource;                    // "repo/type/tag", or empty when none applies
  std::string outcome;                     // the decision: "allow", "deny", "error", ...
  int http_status = 0;                     // the status answered, 0 when no HTTP request
  std::string policy_id;                   // the policy that decided
  std::string policy_rule;                 // the rule within it that decided
  std::string ear_status;                  // the EAR's status ("affirming", ...) or empty
  std::string tee;                         // TEE type from the token ("tdx", ...) or empty
  std::vector<std::string> image_signers;  // from the token's ACON image claims
  std::vector<std::string> image_ids;
  std::string token_digest;     // lower-case hex SHA-256 of the token or session id, or empty
  std::string peer;             // client address as the server saw it
  std::string detail;           // free text for humans
  Json extra = Json::object();  // further non-secret facts; always a JSON object

  bool operator==(const AuditEntry& other) const = default;
};

// The position an auditor pins: the sequence number and hash of the newest record seen.
// An empty log's head is seq 0 with the genesis hash (32 zero bytes).
struct AuditHead {
  uint64_t seq = 0;
  Bytes hash = Bytes(kAuditHashSize, 0);

  bool operator==(const AuditHead& other) const = default;
};

// One stored record: the entry, its position and the chain links.
//
// Records are appended in commits of one or more (a KBS under load gathers the records of
// concurrent requests into one commit); only the last record of a commit is signed. Its hash
// covers every record before it through the prev_hash links, so a signature proves its own record
// and the unsigned ones before it. A committed log therefore always ends with a signed record.
struct AuditRecord {
  uint64_t seq = 0;  // 1, 2, 3, ... without gaps
  Bytes prev_hash;   // the previous record's hash; 32 zero bytes for seq 1
  Bytes hash;        // SHA-256 of the JCS preimage (audit_preimage)
  // Over `hash`: Ed25519 (64 bytes) or ES256 raw r||s (64 bytes); empty when a later record of
  // the same commit is signed.
  Bytes signature;
  AuditEntry entry;

  AuditHead head() const { return {seq, hash}; }
  bool operator==(const AuditRecord& other) const = default;
};

// Checks an entry's bounds and shapes (action set, string lengths, token_digest is 64 lower-case
// hex digits or empty, extra an object of bounded size); the error names the field.
Status validate_audit_entry(const AuditEntry& entry);

// The JSON object whose RFC 8785 (JCS) text is hashed: every member of the exported record
// except "hash" and "signature".
Json audit_preimage(uint64_t seq, ByteView prev_hash, const AuditEntry& entry);
// SHA-256 over jcs_canonicalize(audit_preimage(...)).
Result<Bytes> audit_hash(uint64_t seq, ByteView prev_hash, const AuditEntry& entry);

// Holds the log's signing key: Ed25519 or EC P-256 (ES256, r||s; what `acon-kbs init` writes,
// the faster of the two to sign and to verify with OpenSSL 3.0 on x86-64).
// sign() only reads prepared state, so one signer may be used from several threads.
class AuditSigner {
 public:
  static Result<AuditSigner> create(const PrivateKey& key);
  Result<Bytes> sign(ByteView hash) const;
  const PublicKey& public_key() const { return public_key_; }

 private:
  AuditSigner(PreparedSigner signer, PublicKey public_key)
      : signer_(std::move(signer)), public_key_(std::move(public_key)) {}
  PreparedSigner signer_;
  PublicKey public_key_;
};

// The records of one commit after `prev` (the current head): validates every entry, chains and
// hashes them and signs the last. `entries` must not be empty.
Result<std::vector<AuditRecord>> make_audit_records(const AuditHead& prev,
                                                    std::vector<AuditEntry> entries,
                                                    const AuditSigner& signer);
// A commit of one record (signed).
Result<AuditRecord> make_audit_record(const AuditHead& prev, AuditEntry entry,
                                      const AuditSigner& signer);

// Export format: one JSON object per line (JSON lines), members as in the preimage plus "hash"
// (hex) and "signature" (base64url, no padding; "" for a record a later one's signature covers).
Json audit_record_to_json(const AuditRecord& record);
std::string audit_record_to_line(const AuditRecord& record);  // compact JSON, no newline
// Strict: every member present with its type, no unknown member, bounds as on append; the error
// names the member. Does not check the hash or signature (AuditVerifier does).
Result<AuditRecord> audit_record_from_json(const Json& json);
Result<AuditRecord> audit_record_from_line(std::string_view line);

enum class AuditFault {
  none,
  malformed,      // an entry breaks the bounds of validate_audit_entry
  gap,            // seq is not the previous seq + 1 (removed, reordered or duplicated records)
  prev_mismatch,  // prev_hash is not the previous record's hash
  hash_mismatch,  // hash is not the SHA-256 of the record's preimage (a field was changed)
  bad_signature,  // the signature does not verify under the auditor's key
  truncated,      // the chain ends before the pinned head
  head_mismatch,  // the record at the pinned head's seq has another hash (history rewritten)
  unsigned_tail,  // the records end with unsigned ones: no signature covers them
};
std::string_view audit_fault_name(AuditFault fault);

struct AuditVerification {
  bool ok() const { return fault == AuditFault::none; }
  AuditFault fault = AuditFault::none;
  uint64_t bad_seq = 0;   // the first record that failed (for truncated: the pinned seq)
  std::string reason;     // what failed, for humans
  AuditHead head;         // the last record a verified signature covers (seq 0 when none)
  uint64_t verified = 0;  // records that verified, each covered by a verified signature
};

// Verifies records one after another, from the genesis or from a trusted anchor head (a head
// verified earlier, so a long log can be checked in pieces). Stops at the first fault.
class AuditVerifier {
 public:
  // `pinned`: a head seen earlier (e.g. read from the KBS last week). The records must reach it
  // and hold its hash at its seq; only this detects removal of trailing records. A pinned head
  // at the anchor's seq is compared with the anchor; one before it is not checked.
  explicit AuditVerifier(PublicKey key, AuditHead anchor = {},
                         std::optional<AuditHead> pinned = std::nullopt);

  // Checks the next record; false (and result() names the fault) once one failed. An unsigned
  // record counts as verified when the next signed record's signature verifies.
  bool add(const AuditRecord& record);
  // After the last record: reports unsigned records at the end, and truncation before the
  // pinned head.
  const AuditVerification& finish();
  const AuditVerification& result() const { return result_; }

 private:
  PublicKey key_;
  std::optional<AuditHead> pinned_;
  AuditVerification result_;
  AuditHead chain_;        // the last record whose links and hash checked (signed or not)
  uint64_t unsigned_ = 0;  // records after result_.head that wait for a signature
};

// The whole chain from seq 1: AuditVerifier over `records`, then finish(pinned).
AuditVerification verify_audit_chain(std::span<const AuditRecord> records, const PublicKey& key,
                                     const std::optional<AuditHead>& pinned = std::nullopt);

}  // namespace acon::kbs
