#include "acon/kbs/audit.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "acon/common/hash.h"

namespace acon::kbs {
namespace {

using namespace std::chrono_literals;

const Time kTime = Time(1767225600s);

AuditEntry sample_entry(int n = 0) {
  AuditEntry e;
  e.time = kTime + std::chrono::seconds(n);
  e.action = "release";
  e.resource = "default/key/1";
  e.outcome = "allow";
  e.http_status = 200;
  e.policy_id = "default";
  e.policy_rule = "allow";
  e.ear_status = "affirming";
  e.tee = "tdx";
  e.image_signers = {"ab12"};
  e.image_ids = {"cd34"};
  e.token_digest = hex_encode(sha256(as_bytes("token")));
  e.peer = "10.0.0.2:4431";
  e.detail = n == 0 ? "" : "request " + std::to_string(n);
  e.extra = {{"n", 1}};
  return e;
}

PrivateKey ed25519_key() { return *PrivateKey::generate_ed25519(); }

std::vector<AuditRecord> make_chain(const AuditSigner& signer, int n) {
  std::vector<AuditRecord> records;
  AuditHead head;
  for (int i = 0; i < n; ++i) {
    auto record = make_audit_record(head, sample_entry(i + 1), signer);
    EXPECT_TRUE(record.ok()) << record.error().to_string();
    head = record->head();
    records.push_back(std::move(*record));
  }
  return records;
}

struct Chain : ::testing::Test {
  PrivateKey key = ed25519_key();
  AuditSigner signer = *AuditSigner::create(key);
  std::vector<AuditRecord> records = make_chain(signer, 6);
};

// The hash of a fixed entry, computed independently (Python: json.dumps(sort_keys=True,
// separators=(",", ":")) — JCS for ASCII strings and integers — then hashlib.sha256).
TEST(AuditHash, KnownAnswerForFixedEntry) {
  Bytes genesis(32, 0);
  auto hash = audit_hash(1, genesis, sample_entry());
  ASSERT_TRUE(hash.ok()) << hash.error().to_string();
  EXPECT_EQ(hex_encode(*hash), "edd189eb2521067c537942c24d4c6d52eabb4f89d4163ccbc9eca98c3ca204a0");
}

// What docs/kbs-storage.md tells an auditor: drop "hash" and "signature" from the exported
// object, canonicalise with JCS, SHA-256.
TEST_F(Chain, HashIsJcsOfExportWithoutHashAndSignature) {
  for (const auto& record : records) {
    Json exported = audit_record_to_json(record);
    exported.erase("hash");
    exported.erase("signature");
    auto text = jcs_canonicalize(exported);
    ASSERT_TRUE(text.ok());
    EXPECT_EQ(sha256(as_bytes(*text)), record.hash);
  }
}

TEST_F(Chain, VerifiesAndReportsHead) {
  ASSERT_EQ(records.front().seq, 1u);
  EXPECT_EQ(records.front().prev_hash, Bytes(32, 0));
  auto result = verify_audit_chain(records, key.public_key());
  EXPECT_TRUE(result.ok()) << result.reason;
  EXPECT_EQ(result.verified, records.size());
  EXPECT_EQ(result.head, records.back().head());
  // A pinned head inside or at the end of the chain is found there.
  EXPECT_TRUE(verify_audit_chain(records, key.public_key(), records[2].head()).ok());
  EXPECT_TRUE(verify_audit_chain(records, key.public_key(), records.back().head()).ok());
}

TEST_F(Chain, ChangedFieldIsHashMismatch) {
  records[3].entry.outcome = "deny";
  auto result = verify_audit_chain(records, key.public_key());
  EXPECT_EQ(result.fault, AuditFault::hash_mismatch);
  EXPECT_EQ(result.bad_seq, 4u);
  EXPECT_EQ(result.head.seq, 3u);
  EXPECT_NE(result.reason.find("record 4"), std::string::npos) << result.reason;
}

TEST_F(Chain, ChangedExtraIsHashMismatch) {
  records[0].entry.extra["n"] = 2;
  auto result = verify_audit_chain(records, key.public_key());
  EXPECT_EQ(result.fault, AuditFault::hash_mismatch);
  EXPECT_EQ(result.bad_seq, 1u);
}

TEST_F(Chain, DeletedMiddleRecordIsGap) {
  records.erase(records.begin() + 2);
  auto result = verify_audit_chain(records, key.public_key());
  EXPECT_EQ(result.fault, AuditFault::gap);
  EXPECT_EQ(result.bad_seq, 4u);
  EXPECT_EQ(result.head.seq, 2u);
}

TEST_F(Chain, RenumberedAfterDeletionIsPrevOrHashMismatch) {
  // Remove record 3 and renumber the rest: the links no longer match.
  records.erase(records.begin() + 2);
  for (size_t i = 2; i < records.size(); ++i) records[i].seq = i + 1;
  auto result = verify_audit_chain(records, key.public_key());
  EXPECT_EQ(result.fault, AuditFault::prev_mismatch);
  EXPECT_EQ(result.bad_seq, 3u);
}

TEST_F(Chain, ReorderedIsGap) {
  std::swap(records[1], records[2]);
  auto result = verify_audit_chain(records, key.public_key());
  EXPECT_EQ(result.fault, AuditFault::gap);
  EXPECT_EQ(result.bad_seq, 3u);
}

TEST_F(Chain, ChangedPrevHashIsPrevMismatch) {
  records[4].prev_hash[0] ^= 1;
  auto result = verify_audit_chain(records, key.public_key());
  EXPECT_EQ(result.fault, AuditFault::prev_mismatch);
  EXPECT_EQ(result.bad_seq, 5u);
}

TEST_F(Chain, ForgedWithAnotherKeyIsBadSignature) {
  // The forger changes a record and recomputes its hash correctly, but signs with its own key.
  AuditSigner forger = *AuditSigner::create(ed25519_key());
  AuditEntry changed = records[2].entry;
  changed.outcome = "deny";
  auto forged = make_audit_record(records[1].head(), changed, forger);
  ASSERT_TRUE(forged.ok());
  records[2] = *forged;
  auto result = verify_audit_chain(records, key.public_key());
  EXPECT_EQ(result.fault, AuditFault::bad_signature);
  EXPECT_EQ(result.bad_seq, 3u);
  // A whole log re-signed by another key fails at its first record.
  auto other = make_chain(forger, 3);
  EXPECT_EQ(verify_audit_chain(other, key.public_key()).fault, AuditFault::bad_signature);
  EXPECT_EQ(verify_audit_chain(other, key.public_key()).bad_seq, 1u);
}

TEST_F(Chain, FlippedSignatureBitIsBadSignature) {
  records[5].signature[10] ^= 0x20;
  auto result = verify_audit_chain(records, key.public_key());
  EXPECT_EQ(result.fault, AuditFault::bad_signature);
  EXPECT_EQ(result.bad_seq, 6u);
}

TEST_F(Chain, TruncatedTailNeedsAPinnedHead) {
  const AuditHead pinned = records.back().head();
  records.pop_back();
  records.pop_back();
  // Without a pinned head the shorter chain is internally consistent: the documented limit.
  EXPECT_TRUE(verify_audit_chain(records, key.public_key()).ok());
  auto result = verify_audit_chain(records, key.public_key(), pinned);
  EXPECT_EQ(result.fault, AuditFault::truncated);
  EXPECT_EQ(result.bad_seq, 6u);
  EXPECT_EQ(result.head.seq, 4u);
}

TEST_F(Chain, RewrittenHistoryDiffersFromPinnedHead) {
  AuditHead pinned = records[3].head();
  pinned.hash[0] ^= 1;
  auto result = verify_audit_chain(records, key.public_key(), pinned);
  EXPECT_EQ(result.fault, AuditFault::head_mismatch);
  EXPECT_EQ(result.bad_seq, 4u);
}

TEST_F(Chain, VerifiesInPiecesFromAnAnchor) {
  AuditVerifier first(key.public_key());
  for (size_t i = 0; i < 3; ++i) ASSERT_TRUE(first.add(records[i]));
  const AuditHead anchor = first.finish().head;
  AuditVerifier rest(key.public_key(), anchor, records.back().head());
  for (size_t i = 3; i < records.size(); ++i) ASSERT_TRUE(rest.add(records[i]));
  EXPECT_TRUE(rest.finish().ok());
  EXPECT_EQ(rest.result().verified, 3u);
  // A pinned head at the anchor's seq is compared with the anchor.
  AuditHead other = anchor;
  other.hash[5] ^= 1;
  AuditVerifier mismatched(key.public_key(), anchor, other);
  EXPECT_FALSE(mismatched.add(records[3]));
  EXPECT_EQ(mismatched.finish().fault, AuditFault::head_mismatch);
  // A piece that does not start right after the anchor is a gap.
  AuditVerifier wrong(key.public_key(), anchor);
  EXPECT_FALSE(wrong.add(records[4]));
  EXPECT_EQ(wrong.result().fault, AuditFault::gap);
}

// Commits of several records: only the last of each is signed, and its signature proves the
// unsigned ones before it through the chain.
struct Commits : ::testing::Test {
  PrivateKey key = ed25519_key();
  AuditSigner signer = *AuditSigner::create(key);
  std::vector<AuditRecord> records = make_commits({3, 1, 4});

  std::vector<AuditRecord> make_commits(std::initializer_list<int> sizes) {
    std::vector<AuditRecord> out;
    AuditHead head;
    int n = 0;
    for (int size : sizes) {
      std::vector<AuditEntry> entries;
      for (int i = 0; i < size; ++i) entries.push_back(sample_entry(++n));
      auto commit = make_audit_records(head, std::move(entries), signer);
      EXPECT_TRUE(commit.ok()) << commit.error().to_string();
      head = commit->back().head();
      out.insert(out.end(), commit->begin(), commit->end());
    }
    return out;
  }
};

TEST_F(Commits, OnlyTheLastRecordOfACommitIsSigned) {
  ASSERT_EQ(records.size(), 8u);
  for (size_t i = 0; i < records.size(); ++i) {
    const bool ends_commit = i == 2 || i == 3 || i == 7;
    EXPECT_EQ(records[i].signature.size(), ends_commit ? 64u : 0u) << "record " << i + 1;
    EXPECT_EQ(records[i].seq, i + 1);
    if (i > 0) {
      EXPECT_EQ(records[i].prev_hash, records[i - 1].hash);
    }
  }
  // A commit hashes exactly as the same entries appended one by one.
  auto single = make_chain(signer, 8);
  for (size_t i = 0; i < records.size(); ++i) EXPECT_EQ(records[i].hash, single[i].hash);
  auto result = verify_audit_chain(records, key.public_key(), records[5].head());
  EXPECT_TRUE(result.ok()) << result.reason;
  EXPECT_EQ(result.verified, 8u);
  EXPECT_EQ(result.head, records.back().head());
  // The export keeps an empty signature, and reads it back.
  const std::string line = audit_record_to_line(records[0]);
  EXPECT_NE(line.find("\"signature\":\"\""), std::string::npos) << line;
  EXPECT_EQ(*audit_record_from_line(line), records[0]);
}

TEST_F(Commits, ChangedUnsignedRecordIsHashMismatch) {
  records[4].entry.outcome = "deny";
  auto result = verify_audit_chain(records, key.public_key());
  EXPECT_EQ(result.fault, AuditFault::hash_mismatch);
  EXPECT_EQ(result.bad_seq, 5u);
  EXPECT_EQ(result.head.seq, 4u);
  EXPECT_EQ(result.verified, 4u);
}

TEST_F(Commits, UnsignedRecordRehashedIsCaughtByTheCommitsSignature) {
  // The forger changes an unsigned record and recomputes every hash after it: the links hold,
  // but the signature that ends the commit was over the old last hash.
  records[4].entry.outcome = "deny";
  records[4].hash = *audit_hash(5, records[4].prev_hash, records[4].entry);
  for (size_t i = 5; i < records.size(); ++i) {
    records[i].prev_hash = records[i - 1].hash;
    records[i].hash = *audit_hash(records[i].seq, records[i].prev_hash, records[i].entry);
  }
  auto result = verify_audit_chain(records, key.public_key());
  EXPECT_EQ(result.fault, AuditFault::bad_signature);
  EXPECT_EQ(result.bad_seq, 8u);
  EXPECT_EQ(result.head.seq, 4u);  // nothing of the last commit counts
  EXPECT_EQ(result.verified, 4u);
}

TEST_F(Commits, UnsignedTailIsRefused) {
  // Cut inside the last commit: its records are consistent but nothing signs them.
  records.resize(6);
  auto result = verify_audit_chain(records, key.public_key());
  EXPECT_EQ(result.fault, AuditFault::unsigned_tail);
  EXPECT_EQ(result.bad_seq, 5u);
  EXPECT_EQ(result.head.seq, 4u);
  EXPECT_EQ(result.verified, 4u);
  // So is a signature stripped from the end of a commit.
  auto stripped = make_commits({2});
  stripped.back().signature.clear();
  EXPECT_EQ(verify_audit_chain(stripped, key.public_key()).fault, AuditFault::unsigned_tail);
}

TEST_F(Commits, BoundsAndEmptyCommit) {
  EXPECT_EQ(make_audit_records(AuditHead{}, {}, signer).error().code, Errc::invalid_argument);
  // One bad entry refuses the whole commit.
  std::vector<AuditEntry> entries = {sample_entry(1), sample_entry(2)};
  entries[1].token_digest = "raw-token";
  auto refused = make_audit_records(AuditHead{}, entries, signer);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("token_digest"), std::string::npos);
  // Sequence numbers run out for the whole commit, not half of it.
  AuditHead near_end{kMaxAuditSeq - 1, Bytes(32, 7)};
  EXPECT_FALSE(make_audit_records(near_end, {sample_entry(1), sample_entry(2)}, signer).ok());
  EXPECT_TRUE(make_audit_records(near_end, {sample_entry(1)}, signer).ok());
}

TEST(AuditSigner, P256SignsAndVerifies) {
  PrivateKey key = *PrivateKey::generate_ec(Curve::p256);
  auto signer = AuditSigner::create(key);
  ASSERT_TRUE(signer.ok()) << signer.error().to_string();
  auto records = make_chain(*signer, 3);
  EXPECT_EQ(records[0].signature.size(), 64u);
  EXPECT_TRUE(verify_audit_chain(records, key.public_key()).ok());
  // Round trip through the export format keeps it verifiable.
  std::vector<AuditRecord> parsed;
  for (const auto& r : records) parsed.push_back(*audit_record_from_line(audit_record_to_line(r)));
  EXPECT_TRUE(verify_audit_chain(parsed, key.public_key()).ok());
}

TEST(AuditSigner, RefusesOtherKeyTypes) {
  auto p384 = AuditSigner::create(*PrivateKey::generate_ec(Curve::p384));
  ASSERT_FALSE(p384.ok());
  EXPECT_EQ(p384.error().code, Errc::unsupported);
}

TEST(AuditEntry, ValidationNamesTheField) {
  AuditSigner signer = *AuditSigner::create(ed25519_key());
  auto fails_on = [&](AuditEntry e, const std::string& field) {
    auto record = make_audit_record(AuditHead{}, std::move(e), signer);
    ASSERT_FALSE(record.ok()) << field;
    EXPECT_EQ(record.error().code, Errc::invalid_argument);
    EXPECT_NE(record.error().message.find(field), std::string::npos) << record.error().message;
  };
  AuditEntry e = sample_entry();
  e.action.clear();
  fails_on(e, "action");
  e = sample_entry();
  e.token_digest = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";  // a token, not its digest
  fails_on(e, "token_digest");
  e = sample_entry();
  e.detail = std::string(kMaxAuditText + 1, 'x');
  fails_on(e, "detail");
  e = sample_entry();
  e.image_ids = {"ok", "\xff\xfe"};
  fails_on(e, "image_ids[1]");
  e = sample_entry();
  e.extra = Json::array();
  fails_on(e, "extra");
  e = sample_entry();
  e.http_status = 1000;
  fails_on(e, "http_status");
  e = sample_entry();
  e.time = Time(-1s);
  fails_on(e, "time");
}

TEST_F(Chain, JsonLineRoundTrip) {
  for (const auto& record : records) {
    const std::string line = audit_record_to_line(record);
    EXPECT_EQ(line.find('\n'), std::string::npos);
    auto parsed = audit_record_from_line(line);
    ASSERT_TRUE(parsed.ok()) << parsed.error().to_string();
    EXPECT_EQ(*parsed, record);
  }
}

TEST_F(Chain, BadJsonLinesNameTheField) {
  const Json good = audit_record_to_json(records[1]);
  auto fails_on = [&](const Json& json, const std::string& field) {
    auto parsed = audit_record_from_line(dump_compact(json));
    ASSERT_FALSE(parsed.ok()) << field;
    EXPECT_EQ(parsed.error().code, Errc::parse);
    EXPECT_NE(parsed.error().message.find(field), std::string::npos)
        << field << ": " << parsed.error().message;
  };
  auto with = [&](const std::string& name, Json value) {
    Json j = good;
    j[name] = std::move(value);
    return j;
  };
  auto without = [&](const std::string& name) {
    Json j = good;
    j.erase(name);
    return j;
  };
  fails_on(without("seq"), "seq");
  fails_on(with("seq", "2"), "seq");
  fails_on(with("seq", -2), "seq");
  fails_on(with("seq", 1.5), "seq");
  fails_on(with("seq", 0), "seq");
  fails_on(with("seq", uint64_t{1} << 60), "seq");
  fails_on(without("hash"), "hash");
  fails_on(with("hash", "abcd"), "hash");
  fails_on(with("prev_hash", std::string(64, 'G')), "prev_hash");
  fails_on(with("prev_hash", std::string(64, 'A')), "prev_hash");  // upper case
  fails_on(with("signature", "not base64!"), "signature");
  fails_on(with("signature", "AAAA"), "signature");
  fails_on(with("time", "2026-01-01T00:00:00Z"), "time");
  fails_on(with("http_status", 1000), "http_status");
  fails_on(with("image_ids", Json::array({"a", 5})), "image_ids[1]");
  fails_on(with("image_signers", "ab12"), "image_signers");
  fails_on(with("token_digest", "secret-token"), "token_digest");
  fails_on(with("extra", Json::array()), "extra");
  fails_on(with("format", "acon-kbs-audit/2"), "format");
  fails_on(with("surprise", 1), "surprise");
  fails_on(with("detail", std::string(kMaxAuditText + 1, 'd')), "detail");
  fails_on(without("action"), "action");

  auto not_json = audit_record_from_line("{\"seq\":1,");
  ASSERT_FALSE(not_json.ok());
  EXPECT_EQ(not_json.error().code, Errc::parse);
  auto array = audit_record_from_line("[1,2]");
  ASSERT_FALSE(array.ok());
  EXPECT_NE(array.error().message.find("not a JSON object"), std::string::npos);
  auto too_long = audit_record_from_line(std::string(kMaxAuditLine + 1, ' '));
  ASSERT_FALSE(too_long.ok());
}

// Four records written by an independent implementation (Python: json.dumps with sorted keys and
// no spaces for the preimage, hashlib, pyca/cryptography Ed25519 with the private key bytes
// 0x00..0x1f): two signed records, then a commit of two whose first is unsigned; they are also
// the fuzz target's seeds.
TEST(AuditInterop, ChainFromAnotherImplementationVerifies) {
  auto key = PublicKey::from_ed25519(
      *hex_decode("03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"));
  ASSERT_TRUE(key.ok());
  std::vector<AuditRecord> records;
  for (const char* name : {"record1.json", "record2.json", "record3.json", "record4.json"}) {
    std::ifstream in(std::string(ACON_TEST_DATA) + "/fuzz/audit_record/" + name);
    std::stringstream text;
    text << in.rdbuf();
    auto record = audit_record_from_line(text.str());
    ASSERT_TRUE(record.ok()) << name << ": " << record.error().to_string();
    // Our export of the parsed record is byte for byte what the other implementation wrote.
    EXPECT_EQ(audit_record_to_line(*record), text.str());
    records.push_back(std::move(*record));
  }
  ASSERT_EQ(records.size(), 4u);
  EXPECT_TRUE(records[2].signature.empty());
  auto result = verify_audit_chain(records, *key);
  EXPECT_TRUE(result.ok()) << result.reason;
  EXPECT_EQ(result.head.seq, 4u);
  EXPECT_EQ(result.verified, 4u);
  records.pop_back();
  EXPECT_EQ(verify_audit_chain(records, *key).fault, AuditFault::unsigned_tail);
}

}  // namespace
}  // namespace acon::kbs
