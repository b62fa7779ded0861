// The verifier on quotes marshalled and signed here: signature schemes a real AK may use, the
// PCR digest order, TPM2B_PUBLIC parsing and TCG2 log replay against quoted PCRs.
#include <gtest/gtest.h>

#include "acon/eventlog/event_log.h"
#include "quote_builder.h"
#include "test_util.h"

namespace acon::tpm {
namespace {

using namespace acon::test;

Bytes extend(HashAlg alg, ByteView old_value, ByteView digest_value) {
  Bytes joined(old_value.begin(), old_value.end());
  append(joined, digest_value);
  return *digest(alg, joined);
}

// Two banks, selected PCRs 0 and 7 of sha384 then 0 and 7 of sha256, with distinct values.
struct Fixture {
  PcrValues pcrs;
  AttestFields fields;
  Fixture() {
    for (HashAlg bank : {HashAlg::sha256, HashAlg::sha384})
      for (uint32_t i : {0u, 7u, 9u})
        pcrs[bank][i] = Bytes(hash_size(bank), static_cast<uint8_t>(i + hash_size(bank)));
    fields.selection = {{kAlgSha384, 0x000081}, {kAlgSha256, 0x000081}};
    Bytes concatenated;
    for (HashAlg bank : {HashAlg::sha384, HashAlg::sha256})
      for (uint32_t i : {0u, 7u}) append(concatenated, pcrs[bank][i]);
    fields.pcr_digest = sha256(concatenated);
  }
};

Result<VerifiedQuote> verify_with(ByteView quote, const PcrValues& pcrs, const PublicKey& key,
                                  ByteView nonce) {
  VerifyOptions o;
  o.expected_extra_data = nonce;
  return verify_quote(quote, pcrs, {}, AkTrust::pinned(key), o);
}

TEST(TpmSynthetic, PcrDigestFollowsSelectionOrder) {
  Fixture f;
  auto q = parse_quote(join_quote(marshal_attest(f.fields), ecdsa_signature(kAlgSha256, {}, {})));
  ASSERT_TRUE(q.ok()) << q.error().to_string();
  ASSERT_EQ(q->attest.pcr_selection.size(), 2u);
  EXPECT_EQ(q->attest.pcr_selection[0].pcrs, (std::vector<uint32_t>{0, 7}));
  auto d = pcr_digest(q->attest.pcr_selection, f.pcrs, HashAlg::sha256);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, f.fields.pcr_digest);
  // The other order is another digest.
  std::vector<PcrSelection> swapped = {q->attest.pcr_selection[1], q->attest.pcr_selection[0]};
  EXPECT_NE(*pcr_digest(swapped, f.pcrs, HashAlg::sha256), f.fields.pcr_digest);
  // sha384 digests over the same values (a P-384 AK signs with SHA-384).
  Bytes concatenated;
  for (HashAlg bank : {HashAlg::sha384, HashAlg::sha256})
    for (uint32_t i : {0u, 7u}) append(concatenated, f.pcrs[bank][i]);
  EXPECT_EQ(*pcr_digest(q->attest.pcr_selection, f.pcrs, HashAlg::sha384), sha384(concatenated));
  // An empty selection hashes nothing.
  EXPECT_EQ(*pcr_digest({}, f.pcrs, HashAlg::sha256), sha256(ByteView{}));
}

TEST(TpmSynthetic, EcdsaP384AndRsaSchemesVerify) {
  Fixture f;
  const Bytes attest = marshal_attest(f.fields);
  auto p384 = PrivateKey::generate_ec(Curve::p384);
  auto rsa = PrivateKey::generate_rsa(2048);
  ASSERT_TRUE(p384.ok() && rsa.ok());

  // TPM2_Quote hashes the PCRs with the signing hash: SHA-384 for this AK.
  AttestFields fields384 = f.fields;
  Bytes concatenated;
  for (HashAlg bank : {HashAlg::sha384, HashAlg::sha256})
    for (uint32_t i : {0u, 7u}) append(concatenated, f.pcrs[bank][i]);
  fields384.pcr_digest = sha384(concatenated);
  const Bytes attest384 = marshal_attest(fields384);

  struct Case {
    const char* name;
    const PrivateKey* key;
    Bytes attest;
    Bytes signature;
  };
  std::vector<Case> cases;
  cases.push_back({"ecdsa-p384-sha384", &*p384, attest384,
                   sign_ecdsa(*p384, HashAlg::sha384, kAlgSha384, attest384)});
  cases.push_back({"rsassa-sha256", &*rsa, attest,
                   rsa_signature(kAlgRsassa, kAlgSha256,
                                 *sign(*rsa, {SigKind::rsa_pkcs1, HashAlg::sha256}, attest))});
  cases.push_back({"rsapss-salt-digest", &*rsa, attest, sign_pss(*rsa, attest, 32)});
  cases.push_back({"rsapss-salt-max", &*rsa, attest, sign_pss(*rsa, attest, RSA_PSS_SALTLEN_MAX)});
  cases.push_back({"rsapss-salt-zero", &*rsa, attest, sign_pss(*rsa, attest, 0)});
  for (const Case& c : cases) {
    const Bytes quote = join_quote(c.attest, c.signature);
    auto v = verify_with(quote, f.pcrs, c.key->public_key(), f.fields.extra_data);
    ASSERT_TRUE(v.ok()) << c.name << ": " << v.error().to_string();
    EXPECT_EQ(v->pcrs.at(HashAlg::sha384).size(), 2u) << c.name;
    EXPECT_FALSE(v->pcrs.at(HashAlg::sha256).contains(9)) << c.name;
    // The same signature over a changed attest fails.
    Bytes tampered = quote;
    tampered[30] ^= 0x01;
    auto bad = verify_with(tampered, f.pcrs, c.key->public_key(), f.fields.extra_data);
    ASSERT_FALSE(bad.ok()) << c.name;
    EXPECT_EQ(bad.error().code, Errc::verify_failed) << c.name;
  }
  // A scheme used with the wrong kind of key.
  const Bytes rsa_quote = join_quote(attest, cases[1].signature);
  auto wrong = verify_with(rsa_quote, f.pcrs, p384->public_key(), f.fields.extra_data);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, Errc::verify_failed);
}

TEST(TpmSynthetic, ShortEcdsaComponentsArePadded) {
  // A TPM may drop leading zero bytes of r or s; search for a signature with one.
  Fixture f;
  auto key = PrivateKey::generate_ec(Curve::p256);
  ASSERT_TRUE(key.ok());
  for (int attempt = 0; attempt < 5000; ++attempt) {
    f.fields.clock = static_cast<uint64_t>(attempt);
    const Bytes attest = marshal_attest(f.fields);
    Bytes raw = *sign(*key, {SigKind::ecdsa, HashAlg::sha256}, attest, EcdsaEncoding::raw);
    if (raw[0] != 0) continue;
    const ByteView r = ByteView(raw).subspan(1, 31);  // r without its leading zero
    const ByteView s = ByteView(raw).subspan(32);
    auto v = verify_with(join_quote(attest, ecdsa_signature(kAlgSha256, r, s)), f.pcrs,
                         key->public_key(), f.fields.extra_data);
    EXPECT_TRUE(v.ok()) << v.error().to_string();
    return;
  }
  FAIL() << "no signature with a leading zero in 5000 tries";
}

TEST(TpmSynthetic, WeakOrMalformedSignaturesAreRejected) {
  Fixture f;
  const Bytes attest = marshal_attest(f.fields);
  auto key = PrivateKey::generate_ec(Curve::p256);
  ASSERT_TRUE(key.ok());
  // A signature whose hash field says SHA-1 is refused before any curve arithmetic.
  Bytes raw = *sign(*key, {SigKind::ecdsa, HashAlg::sha256}, attest, EcdsaEncoding::raw);
  auto sha1 = verify_with(join_quote(attest, ecdsa_signature(kAlgSha1, ByteView(raw).first(32),
                                                             ByteView(raw).subspan(32))),
                          f.pcrs, key->public_key(), f.fields.extra_data);
  ASSERT_FALSE(sha1.ok());
  EXPECT_EQ(sha1.error().code, Errc::unsupported);
  // r longer than the curve's field.
  auto too_long =
      verify_with(join_quote(attest, ecdsa_signature(kAlgSha256, Bytes(33, 1), Bytes(32, 1))),
                  f.pcrs, key->public_key(), f.fields.extra_data);
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.error().code, Errc::verify_failed);
  // An HMAC "signature" parses as a TPMT_SIGNATURE but is no AK signature.
  Bytes hmac;
  put_u16be(hmac, 0x0005);
  put_u16be(hmac, kAlgSha256);
  append(hmac, Bytes(32, 0));
  auto h = parse_quote(join_quote(attest, hmac));
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.error().code, Errc::unsupported);
  // An unknown signature algorithm is a parse error naming the field.
  Bytes unknown;
  put_u16be(unknown, 0x7777);
  auto u = parse_quote(join_quote(attest, unknown));
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error().message, "tpmt_signature.sig_alg at offset " +
                                   std::to_string(2 + attest.size()) +
                                   ": 0x7777 is no signature scheme");
}

TEST(TpmSynthetic, StructureErrorsNameFieldAndOffset) {
  Fixture f;
  // A selection count beyond TPM2_NUM_PCR_BANKS.
  Bytes attest = marshal_attest(f.fields);
  const size_t count_at = 4 + 2 + 2 + 34 + 2 + 64 + 17 + 8;
  attest[count_at + 3] = 17;
  auto q = parse_attest(attest, 2);
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.error().message, "tpms_quote_info.pcr_select.count at offset " +
                                   std::to_string(2 + count_at) +
                                   ": 17 selections, at most 16 allowed");
  // sizeofSelect larger than the 4-byte bitmap.
  attest = marshal_attest(f.fields);
  attest[count_at + 4 + 2] = 5;
  auto big = parse_attest(attest);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().message.rfind(
                "tpms_quote_info.pcr_select[0] at offset " + std::to_string(count_at + 4), 0),
            0u)
      << big.error().message;
  // extraData longer than TPM2B_DATA holds.
  f.fields.extra_data = Bytes(67, 0);
  auto extra = parse_attest(marshal_attest(f.fields));
  ASSERT_FALSE(extra.ok());
  EXPECT_EQ(extra.error().message.rfind("tpms_attest.extra_data at offset 42", 0), 0u)
      << extra.error().message;
  // TPM2B_ATTEST size beyond sizeof(TPMS_ATTEST).
  Bytes huge = {0xFF, 0xFF};
  auto h = parse_quote(huge);
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.error().message.rfind("tpm2b_attest.size at offset 0: 65535 exceeds", 0), 0u);
}

TEST(TpmSynthetic, Tpm2bPublicRsaAndErrors) {
  // An RSA AK template as TPM2_CreatePrimary returns it, exponent 0 meaning 65537.
  auto rsa = PrivateKey::generate_rsa(2048);
  ASSERT_TRUE(rsa.ok());
  const nlohmann::json jwk = rsa->public_key().to_jwk();
  const Bytes n = *b64url_decode(jwk["n"].get<std::string>());
  Bytes area;
  put_u16be(area, 0x0001);      // TPM_ALG_RSA
  put_u16be(area, kAlgSha256);  // nameAlg
  append_u32be(
      area,
      0x00050472);     // fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth|noDA|restricted|sign
  put_u16be(area, 0);  // authPolicy
  put_u16be(area, 0x0010);      // symmetric: TPM_ALG_NULL
  put_u16be(area, kAlgRsassa);  // scheme
  put_u16be(area, kAlgSha256);
  put_u16be(area, 2048);  // keyBits
  append_u32be(area, 0);  // exponent
  put_tpm2b(area, n);
  Bytes tpm2b;
  put_tpm2b(tpm2b, area);
  auto p = parse_tpm2b_public(tpm2b);
  ASSERT_TRUE(p.ok()) << p.error().to_string();
  EXPECT_TRUE(p->key == rsa->public_key());
  EXPECT_TRUE(p->is_attestation_key());
  Bytes expected_name;
  put_u16be(expected_name, kAlgSha256);
  append(expected_name, sha256(area));
  EXPECT_EQ(p->name, expected_name);

  // Not restricted: a general signing key, which could sign a forged TPMS_ATTEST.
  Bytes unrestricted = tpm2b;
  unrestricted[2 + 4 + 1] &= 0xFE;  // clear bit 16 (restricted)
  auto u = parse_tpm2b_public(unrestricted);
  ASSERT_TRUE(u.ok());
  EXPECT_FALSE(u->is_attestation_key());

  Bytes trailing = tpm2b;
  trailing.push_back(0);
  EXPECT_EQ(
      parse_tpm2b_public(trailing).error().message,
      "tpm2b_public at offset " + std::to_string(tpm2b.size()) + ": 1 bytes follow the structure");
  for (size_t cut : {size_t{0}, size_t{1}, size_t{5}, tpm2b.size() - 1}) {
    auto t = parse_tpm2b_public(ByteView(tpm2b).first(cut));
    ASSERT_FALSE(t.ok());
    EXPECT_NE(t.error().message.find(" at offset "), std::string::npos) << t.error().message;
  }
  // The TPM2B size claims less than the TPMT_PUBLIC needs.
  Bytes shrunk(tpm2b.begin(), tpm2b.end() - 4);
  shrunk[0] = static_cast<uint8_t>((area.size() - 4) >> 8);
  shrunk[1] = static_cast<uint8_t>(area.size() - 4);
  auto s = parse_tpm2b_public(shrunk);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message.rfind("tpmt_public.unique at offset ", 0), 0u) << s.error().message;
}

// ---- event log replay ----

Bytes log_with(std::span<const Bytes> records) {
  const std::vector<HashAlg> banks = {HashAlg::sha256};
  Bytes log = *eventlog::spec_id_record(banks);
  for (const Bytes& r : records) append(log, r);
  return log;
}

TEST(TpmReplay, StartupLocalityAndResetValues) {
  const std::vector<HashAlg> banks = {HashAlg::sha256};
  // EV_NO_ACTION records carry all-zero digests for every bank.
  const Bytes zeros(32, 0);
  const std::vector<eventlog::Digest> no_action_digests = {{kAlgSha256, zeros}};
  Bytes locality_data = to_bytes(std::string_view("StartupLocality\0", 16));
  locality_data.push_back(3);
  std::vector<Bytes> records = {
      *eventlog::event2_record(0, eventlog::ev::kNoAction, no_action_digests, locality_data),
      *eventlog::measured_record(0, eventlog::ev::kSCrtmVersion, banks, as_bytes("v1")),
      *eventlog::measured_record(2, eventlog::ev::kEfiBootServicesDriver, banks, as_bytes("drv")),
  };
  const Bytes log_bytes = log_with(records);
  auto log = eventlog::parse_event_log(log_bytes);
  ASSERT_TRUE(log.ok()) << log.error().to_string();

  Bytes pcr0(32, 0);
  pcr0[31] = 3;  // TPM2_Startup at locality 3
  pcr0 = extend(HashAlg::sha256, pcr0, sha256(as_bytes("v1")));
  PcrValues quoted;
  quoted[HashAlg::sha256][0] = pcr0;
  quoted[HashAlg::sha256][2] = extend(HashAlg::sha256, Bytes(32, 0), sha256(as_bytes("drv")));
  quoted[HashAlg::sha256][5] = Bytes(32, 0);      // untouched: reset value 0
  quoted[HashAlg::sha256][18] = Bytes(32, 0xFF);  // untouched DRTM PCR: all ones
  auto replays = replay_event_log(*log, quoted);
  ASSERT_TRUE(replays.ok());
  ASSERT_EQ(replays->size(), 4u);
  for (const auto& r : *replays) EXPECT_TRUE(r.match) << r.index;
  EXPECT_TRUE((*replays)[0].in_log);
  EXPECT_FALSE((*replays)[2].in_log);
  EXPECT_TRUE(check_event_log(*log, quoted).ok());

  // Replayed from locality 0 instead, PCR0 would differ: the StartupLocality event matters.
  PcrValues from_zero = quoted;
  from_zero[HashAlg::sha256][0] = extend(HashAlg::sha256, Bytes(32, 0), sha256(as_bytes("v1")));
  auto mismatch = check_event_log(*log, from_zero);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_EQ(mismatch.error().code, Errc::verify_failed);
  EXPECT_EQ(mismatch.error().message.rfind("PCR sha256:0: quoted ", 0), 0u);

  // An event in a PCR the quote does not select is proven by nothing: the log is refused,
  // naming it, even though every selected PCR matches (issue 17, finding 7).
  PcrValues without_pcr2 = quoted;
  without_pcr2[HashAlg::sha256].erase(2);
  auto uncovered = check_event_log(*log, without_pcr2);
  ASSERT_FALSE(uncovered.ok());
  EXPECT_EQ(uncovered.error().code, Errc::verify_failed);
  EXPECT_NE(uncovered.error().message.find("event #3 (EV_EFI_BOOT_SERVICES_DRIVER)"),
            std::string::npos)
      << uncovered.error().message;

  // A quoted bank the log has no digests for cannot be explained.
  PcrValues sha384_bank;
  sha384_bank[HashAlg::sha384][0] = Bytes(48, 1);
  sha384_bank[HashAlg::sha384][2] = Bytes(48, 1);
  auto other_bank = check_event_log(*log, sha384_bank);
  ASSERT_FALSE(other_bank.ok());
  EXPECT_NE(other_bank.error().message.find("never extends it"), std::string::npos);
  EXPECT_EQ(pcr_reset_value(16, HashAlg::sha384), Bytes(48, 0));
  EXPECT_EQ(pcr_reset_value(22, HashAlg::sha256), Bytes(32, 0xFF));
  EXPECT_EQ(pcr_reset_value(23, HashAlg::sha256), Bytes(32, 0));
}

}  // namespace
}  // namespace acon::tpm
