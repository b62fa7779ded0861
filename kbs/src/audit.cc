#include "acon/kbs/audit.h"

#include <algorithm>
#include <array>

#include "acon/common/hash.h"
#include "acon/common/utf8.h"

namespace acon::kbs {

namespace {

using namespace std::string_view_literals;

// The exported object's members, in the order audit_record_from_json checks them; "hash" and
// "signature" are the two outside the preimage.
constexpr std::array<std::string_view, 20> kMembers = {
    "action"sv, "detail"sv,      "ear_status"sv,  "extra"sv,         "format"sv,
    "hash"sv,   "http_status"sv, "image_ids"sv,   "image_signers"sv, "outcome"sv,
    "peer"sv,   "policy_id"sv,   "policy_rule"sv, "prev_hash"sv,     "resource"sv,
    "seq"sv,    "signature"sv,   "tee"sv,         "time"sv,          "token_digest"sv,
};

Error field_error(std::string_view field, std::string message) {
  return make_error(Errc::invalid_argument,
                    "audit record: " + std::string(field) + ": " + std::move(message));
}

Status check_text(std::string_view field, std::string_view text) {
  if (text.size() > kMaxAuditText)
    return field_error(
        field, std::to_string(text.size()) + " bytes, more than " + std::to_string(kMaxAuditText));
  if (!is_valid_utf8(text)) return field_error(field, "not UTF-8");
  return {};
}

Status check_list(std::string_view field, const std::vector<std::string>& items) {
  if (items.size() > kMaxAuditListItems)
    return field_error(field, std::to_string(items.size()) + " items, more than " +
                                  std::to_string(kMaxAuditListItems));
  for (size_t i = 0; i < items.size(); ++i)
    ACON_CHECK(check_text(std::string(field) + "[" + std::to_string(i) + "]", items[i]));
  return {};
}

bool lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

Json string_array(const std::vector<std::string>& items) {
  Json array = Json::array();
  for (const auto& item : items) array.push_back(item);
  return array;
}

}  // namespace

Status validate_audit_entry(const AuditEntry& e) {
  if (e.time.time_since_epoch().count() < 0 ||
      static_cast<uint64_t>(e.time.time_since_epoch().count()) > kMaxAuditSeq)
    return field_error("time", "outside 0 .. 2^53-1 seconds since 1970");
  if (e.action.empty()) return field_error("action", "empty");
  ACON_CHECK(check_text("action", e.action));
  ACON_CHECK(check_text("resource", e.resource));
  ACON_CHECK(check_text("outcome", e.outcome));
  if (e.http_status < 0 || e.http_status > 999)
    return field_error("http_status", std::to_string(e.http_status) + " is not 0 .. 999");
  ACON_CHECK(check_text("policy_id", e.policy_id));
  ACON_CHECK(check_text("policy_rule", e.policy_rule));
  ACON_CHECK(check_text("ear_status", e.ear_status));
  ACON_CHECK(check_text("tee", e.tee));
  ACON_CHECK(check_list("image_signers", e.image_signers));
  ACON_CHECK(check_list("image_ids", e.image_ids));
  // A digest, never the token itself: this is what keeps bearer tokens out of the log.
  if (!e.token_digest.empty() && (e.token_digest.size() != 64 || !lower_hex(e.token_digest)))
    return field_error("token_digest", "not 64 lower-case hex digits (SHA-256 of the token)");
  ACON_CHECK(check_text("peer", e.peer));
  ACON_CHECK(check_text("detail", e.detail));
  if (!e.extra.is_object()) return field_error("extra", "not a JSON object");
  auto extra_text = jcs_canonicalize(e.extra);
  if (!extra_text) return field_error("extra", extra_text.error().message);
  if (extra_text->size() > kMaxAuditExtraBytes)
    return field_error("extra", std::to_string(extra_text->size()) + " bytes, more than " +
                                    std::to_string(kMaxAuditExtraBytes));
  return {};
}

Json audit_preimage(uint64_t seq, ByteView prev_hash, const AuditEntry& e) {
  // Added in byte order of the names, so each add() appends (JsonObjectBuilder).
  return JsonObjectBuilder()
      .add("action", e.action)
      .add("detail", e.detail)
      .add("ear_status", e.ear_status)
      .add("extra", e.extra)
      .add("format", kAuditFormat)
      .add("http_status", e.http_status)
      .add("image_ids", string_array(e.image_ids))
      .add("image_signers", string_array(e.image_signers))
      .add("outcome", e.outcome)
      .add("peer", e.peer)
      .add("policy_id", e.policy_id)
      .add("policy_rule", e.policy_rule)
      .add("prev_hash", hex_encode(prev_hash))
      .add("resource", e.resource)
      .add("seq", seq)
      .add("tee", e.tee)
      .add("time", static_cast<uint64_t>(e.time.time_since_epoch().count()))
      .add("token_digest", e.token_digest)
      .build();
}

Result<Bytes> audit_hash(uint64_t seq, ByteView prev_hash, const AuditEntry& entry) {
  ACON_TRY(std::string text, jcs_canonicalize(audit_preimage(seq, prev_hash, entry)));
  return sha256(as_bytes(text));
}

namespace {
Result<SigScheme> scheme_for(const PublicKey& key) {
  if (key.type() == KeyType::ed25519) return SigScheme{SigKind::ed25519};
  if (key.type() == KeyType::ec && key.curve() == Curve::p256)
    return SigScheme{SigKind::ecdsa, HashAlg::sha256};
  return make_error(Errc::unsupported, "audit signer: key is neither Ed25519 nor EC P-256");
}
}  // namespace

Result<AuditSigner> AuditSigner::create(const PrivateKey& key) {
  ACON_TRY(SigScheme scheme, scheme_for(key.public_key()));
  ACON_TRY(PreparedSigner signer, PreparedSigner::create(key, scheme));
  return AuditSigner(std::move(signer), key.public_key());
}

Result<Bytes> AuditSigner::sign(ByteView hash) const {
  return signer_.sign(hash, EcdsaEncoding::raw);
}

Result<std::vector<AuditRecord>> make_audit_records(const AuditHead& prev,
                                                    std::vector<AuditEntry> entries,
                                                    const AuditSigner& signer) {
  if (entries.empty()) return make_error(Errc::invalid_argument, "audit log: empty commit");
  if (prev.seq > kMaxAuditSeq - entries.size())
    return make_error(Errc::invalid_argument, "audit log: sequence numbers exhausted");
  if (prev.hash.size() != kAuditHashSize)
    return make_error(Errc::invalid_argument, "audit log: head hash is not 32 bytes");
  for (const AuditEntry& entry : entries) ACON_CHECK(validate_audit_entry(entry));
  std::vector<AuditRecord> records(entries.size());
  const AuditHead* link = &prev;
  AuditHead last;
  for (size_t i = 0; i < entries.size(); ++i) {
    AuditRecord& record = records[i];
    record.seq = link->seq + 1;
    record.prev_hash = link->hash;
    ACON_TRY(record.hash, audit_hash(record.seq, record.prev_hash, entries[i]));
    record.entry = std::move(entries[i]);
    last = record.head();
    link = &last;
  }
  ACON_TRY(records.back().signature, signer.sign(records.back().hash));
  return records;
}

Result<AuditRecord> make_audit_record(const AuditHead& prev, AuditEntry entry,
                                      const AuditSigner& signer) {
  std::vector<AuditEntry> one;
  one.push_back(std::move(entry));
  ACON_TRY(std::vector<AuditRecord> records, make_audit_records(prev, std::move(one), signer));
  return std::move(records.front());
}

Json audit_record_to_json(const AuditRecord& record) {
  Json json = audit_preimage(record.seq, record.prev_hash, record.entry);
  json["hash"] = hex_encode(record.hash);
  json["signature"] = b64url(record.signature);
  return json;
}

std::string audit_record_to_line(const AuditRecord& record) {
  return dump_compact(audit_record_to_json(record));
}

namespace {

Error parse_error(std::string_view field, std::string message) {
  return make_error(Errc::parse, "audit record: " + std::string(field) + ": " + std::move(message));
}

Result<const Json*> member(const Json& json, std::string_view name, Json::value_t type) {
  auto it = json.find(name);
  if (it == json.end()) return parse_error(name, "missing");
  const bool unsigned_ok = type == Json::value_t::number_unsigned;
  if (it->type() != type && !(unsigned_ok && it->is_number_integer() && *it >= 0))
    return parse_error(name, std::string("not a ") + (unsigned_ok ? "non-negative integer"
                                                      : type == Json::value_t::string ? "string"
                                                      : type == Json::value_t::array  ? "array"
                                                                                      : "object"));
  return &*it;
}

Result<std::string> text_member(const Json& json, std::string_view name) {
  ACON_TRY(const Json* value, member(json, name, Json::value_t::string));
  const auto& text = value->get_ref<const std::string&>();
  if (text.size() > kMaxAuditText)
    return parse_error(
        name, std::to_string(text.size()) + " bytes, more than " + std::to_string(kMaxAuditText));
  return text;
}

Result<uint64_t> uint_member(const Json& json, std::string_view name, uint64_t max) {
  ACON_TRY(const Json* value, member(json, name, Json::value_t::number_unsigned));
  uint64_t n = value->get<uint64_t>();
  if (n > max) return parse_error(name, std::to_string(n) + " exceeds " + std::to_string(max));
  return n;
}

Result<std::vector<std::string>> list_member(const Json& json, std::string_view name) {
  ACON_TRY(const Json* value, member(json, name, Json::value_t::array));
  if (value->size() > kMaxAuditListItems)
    return parse_error(name, std::to_string(value->size()) + " items, more than " +
                                 std::to_string(kMaxAuditListItems));
  std::vector<std::string> items;
  items.reserve(value->size());
  for (size_t i = 0; i < value->size(); ++i) {
    const Json& item = (*value)[i];
    const std::string where = std::string(name) + "[" + std::to_string(i) + "]";
    if (!item.is_string()) return parse_error(where, "not a string");
    if (item.get_ref<const std::string&>().size() > kMaxAuditText)
      return parse_error(where, "more than " + std::to_string(kMaxAuditText) + " bytes");
    items.push_back(item.get<std::string>());
  }
  return items;
}

Result<Bytes> hex_member(const Json& json, std::string_view name) {
  ACON_TRY(std::string text, text_member(json, name));
  if (text.size() != 2 * kAuditHashSize || !lower_hex(text))
    return parse_error(name, "not 64 lower-case hex digits");
  return *hex_decode(text);
}

}  // namespace

Result<AuditRecord> audit_record_from_json(const Json& json) {
  if (!json.is_object()) return make_error(Errc::parse, "audit record: not a JSON object");
  for (const auto& [name, value] : json.items())
    if (std::find(kMembers.begin(), kMembers.end(), name) == kMembers.end())
      return parse_error(name, "unknown member");
  ACON_TRY(std::string format, text_member(json, "format"));
  if (format != kAuditFormat)
    return parse_error("format", "\"" + format + "\" is not \"" + std::string(kAuditFormat) + "\"");
  AuditRecord r;
  ACON_TRY(r.seq, uint_member(json, "seq", kMaxAuditSeq));
  if (r.seq == 0) return parse_error("seq", "0 (records are numbered from 1)");
  ACON_TRY(r.prev_hash, hex_member(json, "prev_hash"));
  ACON_TRY(r.hash, hex_member(json, "hash"));
  ACON_TRY(std::string signature, text_member(json, "signature"));
  auto sig = b64url_decode(signature);
  if (!sig) return parse_error("signature", sig.error().message);
  if (!sig->empty() && sig->size() != 64)
    return parse_error("signature", "neither 64 bytes nor empty");
  r.signature = std::move(*sig);

  AuditEntry& e = r.entry;
  ACON_TRY(uint64_t time, uint_member(json, "time", kMaxAuditSeq));
  e.time = Time(std::chrono::seconds(static_cast<int64_t>(time)));
  ACON_TRY(e.action, text_member(json, "action"));
  ACON_TRY(e.resource, text_member(json, "resource"));
  ACON_TRY(e.outcome, text_member(json, "outcome"));
  ACON_TRY(uint64_t status, uint_member(json, "http_status", 999));
  e.http_status = static_cast<int>(status);
  ACON_TRY(e.policy_id, text_member(json, "policy_id"));
  ACON_TRY(e.policy_rule, text_member(json, "policy_rule"));
  ACON_TRY(e.ear_status, text_member(json, "ear_status"));
  ACON_TRY(e.tee, text_member(json, "tee"));
  ACON_TRY(e.image_signers, list_member(json, "image_signers"));
  ACON_TRY(e.image_ids, list_member(json, "image_ids"));
  ACON_TRY(e.token_digest, text_member(json, "token_digest"));
  ACON_TRY(e.peer, text_member(json, "peer"));
  ACON_TRY(e.detail, text_member(json, "detail"));
  ACON_TRY(const Json* extra, member(json, "extra", Json::value_t::object));
  e.extra = *extra;
  // Same bounds as on append (UTF-8, digest shape, size of extra), as a parse error.
  if (auto valid = validate_audit_entry(e); !valid)
    return make_error(Errc::parse, valid.error().message);
  return r;
}

Result<AuditRecord> audit_record_from_line(std::string_view line) {
  if (line.size() > kMaxAuditLine)
    return make_error(Errc::parse, "audit record: line of " + std::to_string(line.size()) +
                                       " bytes, more than " + std::to_string(kMaxAuditLine));
  auto json = parse_json(line, 16);
  if (!json) return json.error().wrap("audit record");
  return audit_record_from_json(*json);
}

std::string_view audit_fault_name(AuditFault fault) {
  switch (fault) {
    case AuditFault::none:
      return "none";
    case AuditFault::malformed:
      return "malformed";
    case AuditFault::gap:
      return "gap";
    case AuditFault::prev_mismatch:
      return "prev_mismatch";
    case AuditFault::hash_mismatch:
      return "hash_mismatch";
    case AuditFault::bad_signature:
      return "bad_signature";
    case AuditFault::truncated:
      return "truncated";
    case AuditFault::head_mismatch:
      return "head_mismatch";
    case AuditFault::unsigned_tail:
      return "unsigned_tail";
  }
  return "unknown";
}

AuditVerifier::AuditVerifier(PublicKey key, AuditHead anchor, std::optional<AuditHead> pinned)
    : key_(std::move(key)), pinned_(std::move(pinned)) {
  chain_ = anchor;
  result_.head = std::move(anchor);
  if (!pinned_ || pinned_->seq > result_.head.seq) return;
  // The pinned head is at or behind the anchor: the records to come cannot show it, so only the
  // anchor itself can be compared with it.
  if (pinned_->seq == result_.head.seq && pinned_->hash != result_.head.hash) {
    result_.fault = AuditFault::head_mismatch;
    result_.bad_seq = pinned_->seq;
    result_.reason = "the anchor at seq " + std::to_string(pinned_->seq) +
                     " has another hash than the pinned head";
  }
  pinned_.reset();
}

bool AuditVerifier::add(const AuditRecord& record) {
  if (!result_.ok()) return false;
  auto fail = [&](AuditFault fault, std::string reason) {
    result_.fault = fault;
    result_.bad_seq = record.seq;
    result_.reason = "record " + std::to_string(record.seq) + ": " + std::move(reason);
    return false;
  };
  const uint64_t expected = chain_.seq + 1;
  if (record.seq != expected)
    return fail(AuditFault::gap, "expected seq " + std::to_string(expected) + " after " +
                                     std::to_string(chain_.seq));
  if (record.prev_hash != chain_.hash)
    return fail(AuditFault::prev_mismatch,
                "prev_hash " + hex_encode(record.prev_hash) + " is not the hash of record " +
                    std::to_string(chain_.seq) + " (" + hex_encode(chain_.hash) + ")");
  if (auto valid = validate_audit_entry(record.entry); !valid)
    return fail(AuditFault::malformed, valid.error().message);
  auto hash = audit_hash(record.seq, record.prev_hash, record.entry);
  if (!hash) return fail(AuditFault::malformed, hash.error().message);
  if (*hash != record.hash)
    return fail(AuditFault::hash_mismatch, "stored hash " + hex_encode(record.hash) +
                                               " but the record's fields hash to " +
                                               hex_encode(*hash));
  if (pinned_ && pinned_->seq == record.seq && pinned_->hash != record.hash)
    return fail(AuditFault::head_mismatch, "the pinned head has hash " + hex_encode(pinned_->hash) +
                                               ", the log " + hex_encode(record.hash));
  chain_ = record.head();
  if (record.signature.empty()) {
    // Proven, with the records before it, by the signature that ends its commit.
    ++unsigned_;
    return true;
  }
  auto scheme = scheme_for(key_);
  if (!scheme) return fail(AuditFault::bad_signature, scheme.error().message);
  if (auto sig = verify(key_, *scheme, record.hash, record.signature, EcdsaEncoding::raw); !sig)
    return fail(AuditFault::bad_signature, sig.error().message);
  result_.head = chain_;
  result_.verified += unsigned_ + 1;
  unsigned_ = 0;
  return true;
}

const AuditVerification& AuditVerifier::finish() {
  if (result_.ok() && unsigned_ > 0) {
    result_.fault = AuditFault::unsigned_tail;
    result_.bad_seq = result_.head.seq + 1;
    result_.reason = "records " + std::to_string(result_.head.seq + 1) + " to " +
                     std::to_string(chain_.seq) +
                     " end the log unsigned: no signature covers them (a commit ends with a "
                     "signed record)";
    return result_;
  }
  if (result_.ok() && pinned_ && result_.head.seq < pinned_->seq) {
    result_.fault = AuditFault::truncated;
    result_.bad_seq = pinned_->seq;
    result_.reason = "the log ends at seq " + std::to_string(result_.head.seq) +
                     ", before the pinned head at seq " + std::to_string(pinned_->seq);
  }
  return result_;
}

AuditVerification verify_audit_chain(std::span<const AuditRecord> records, const PublicKey& key,
                                     const std::optional<AuditHead>& pinned) {
  AuditVerifier verifier(key, AuditHead{}, pinned);
  for (const auto& record : records)
    if (!verifier.add(record)) break;
  return verifier.finish();
}

}  // namespace acon::kbs
