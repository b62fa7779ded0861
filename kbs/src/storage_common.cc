#include "storage_common.h"

#include <algorithm>
#include <string>

#include "acon/common/cipher.h"
#include "acon/common/utf8.h"
#include "acon/kbs/protocol.h"
#include "acon/kbs/storage.h"

namespace acon::kbs::storage_detail {

namespace {

using namespace std::string_view_literals;

constexpr std::string_view kResourceAadLabel = "acon-kbs/resource/v1"sv;
constexpr std::string_view kKeyCheckAadLabel = "acon-kbs/key-check/v1"sv;
// The key check value's plaintext: decrypting it proves the master key is the creator's.
constexpr std::string_view kKeyCheckPlaintext = "acon-kbs master key check value"sv;

// AAD of a resource row: label, NUL, key id, path. Binding the path means a row copied under
// another path no longer authenticates.
Bytes resource_aad(uint8_t key_id, std::string_view path) {
  Bytes aad(kResourceAadLabel.begin(), kResourceAadLabel.end());
  aad.push_back(0);
  aad.push_back(key_id);
  append(aad, as_bytes(path));
  return aad;
}

Bytes key_check_aad(uint8_t key_id) {
  Bytes aad(kKeyCheckAadLabel.begin(), kKeyCheckAadLabel.end());
  aad.push_back(0);
  aad.push_back(key_id);
  return aad;
}

Result<Sealed> seal(const SecretBytes& key, ByteView aad, ByteView plaintext) {
  Sealed s;
  ACON_TRY(s.iv, random_bytes(kIvSize));
  ACON_TRY(GcmSealed gcm, aes_gcm_encrypt(view(key), s.iv, aad, plaintext));
  s.ciphertext = std::move(gcm.ciphertext);
  s.tag = std::move(gcm.tag);
  return s;
}

}  // namespace

Status check_master_key_size(const SecretBytes& master_key) {
  if (master_key.size() != kMasterKeySize)
    return make_error(
        Errc::invalid_argument,
        "kbs storage: master key is " + std::to_string(master_key.size()) + " bytes, not 32");
  return {};
}

Status check_resource_path(std::string_view path) {
  if (!valid_resource_path(path))
    return make_error(Errc::invalid_argument, "kbs storage: resource path \"" +
                                                  std::string(path.substr(0, 400)) +
                                                  "\" is not repo/type/tag");
  return {};
}

Status check_resource_value(ByteView value) {
  if (value.size() > kMaxResourceSize)
    return make_error(Errc::invalid_argument,
                      "kbs storage: resource value of " + std::to_string(value.size()) +
                          " bytes, more than " + std::to_string(kMaxResourceSize));
  return {};
}

Status check_document_namespace(std::string_view ns) {
  if (!valid_path_component(ns))
    return make_error(Errc::invalid_argument, "kbs storage: document namespace \"" +
                                                  std::string(ns.substr(0, 200)) +
                                                  "\" is not a valid name");
  return {};
}

Status check_document_key(std::string_view ns, std::string_view id) {
  ACON_CHECK(check_document_namespace(ns));
  if (id.empty() || id.size() > kMaxDocumentIdSize)
    return make_error(Errc::invalid_argument, "kbs storage: document id of " +
                                                  std::to_string(id.size()) + " bytes (1 .. " +
                                                  std::to_string(kMaxDocumentIdSize) + " allowed)");
  if (!is_valid_utf8(id) ||
      std::any_of(id.begin(), id.end(), [](char c) { return (c >= 0 && c < 0x20) || c == 0x7f; }))
    return make_error(Errc::invalid_argument,
                      "kbs storage: document id is not UTF-8 without control characters");
  return {};
}

Status check_document_text(std::string_view text) {
  if (text.size() > kMaxDocumentSize)
    return make_error(Errc::invalid_argument,
                      "kbs storage: document of " + std::to_string(text.size()) +
                          " bytes, more than " + std::to_string(kMaxDocumentSize));
  if (!is_valid_utf8(text))
    return make_error(Errc::invalid_argument, "kbs storage: document text is not UTF-8");
  return {};
}

Result<Sealed> seal_resource(const SecretBytes& master_key, std::string_view path, ByteView value) {
  return seal(master_key, resource_aad(kCurrentKeyId, path), value);
}

Result<SecretBytes> open_resource(const SecretBytes& master_key, std::string_view path,
                                  int64_t key_id, ByteView iv, ByteView ciphertext, ByteView tag) {
  if (key_id != kCurrentKeyId)
    return make_error(Errc::unsupported, "kbs storage: resource " + std::string(path) +
                                             " is encrypted under key id " +
                                             std::to_string(key_id) + ", not held");
  if (iv.size() != kIvSize || tag.size() != kTagSize)
    return make_error(Errc::parse, "kbs storage: resource " + std::string(path) +
                                       ": stored IV or tag has the wrong length");
  auto plain =
      aes_gcm_decrypt(view(master_key), iv, resource_aad(kCurrentKeyId, path), ciphertext, tag);
  if (!plain)
    return make_error(Errc::verify_failed,
                      "kbs storage: resource " + std::string(path) +
                          " does not authenticate (altered, or copied from another path)");
  return std::move(*plain);
}

Result<Sealed> seal_key_check(const SecretBytes& master_key) {
  return seal(master_key, key_check_aad(kCurrentKeyId), as_bytes(kKeyCheckPlaintext));
}

Status check_key_check(const SecretBytes& master_key, ByteView iv, ByteView ciphertext,
                       ByteView tag) {
  auto plain = aes_gcm_decrypt(view(master_key), iv, key_check_aad(kCurrentKeyId), ciphertext, tag);
  if (!plain || !ct_equal(view(*plain), as_bytes(kKeyCheckPlaintext)))
    return make_error(Errc::verify_failed,
                      "kbs storage: wrong master key (it does not decrypt the key check value "
                      "stored when the database was created)");
  return {};
}

Error missing_key_check() {
  return make_error(Errc::verify_failed,
                    "kbs storage: the key check value is missing; refusing to use a database "
                    "whose master key cannot be confirmed");
}

Error newer_schema(int64_t version, size_t known) {
  return make_error(Errc::unsupported, "kbs storage: schema version " + std::to_string(version) +
                                           " is newer than " + std::to_string(known) +
                                           " (written by a newer acon)");
}

Result<AuditRecord> audit_record_from_row(int64_t seq, ByteView hash, std::string_view line) {
  auto record = audit_record_from_line(line);
  if (!record) return record.error().wrap("kbs storage: audit row " + std::to_string(seq));
  // The indexed columns must agree with the record they index.
  if (record->seq != static_cast<uint64_t>(seq) ||
      !std::equal(hash.begin(), hash.end(), record->hash.begin(), record->hash.end()))
    return make_error(Errc::parse, "kbs storage: audit row " + std::to_string(seq) +
                                       ": seq or hash column disagrees with the record");
  return std::move(*record);
}

Result<AuditHead> audit_head_from_row(int64_t seq, ByteView hash) {
  if (hash.size() != kAuditHashSize)
    return make_error(Errc::parse, "kbs storage: audit row " + std::to_string(seq) +
                                       ": hash column is not 32 bytes");
  AuditHead head;
  head.seq = static_cast<uint64_t>(seq);
  head.hash.assign(hash.begin(), hash.end());
  return head;
}

}  // namespace acon::kbs::storage_detail

namespace acon::kbs {

Result<AuditRecord> Storage::append_audit(AuditEntry entry) {
  std::vector<AuditEntry> one;
  one.push_back(std::move(entry));
  ACON_TRY(std::vector<AuditRecord> records, append_audit_batch(std::move(one)));
  return std::move(records.front());
}

}  // namespace acon::kbs
