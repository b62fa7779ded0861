// The verifier on a quote swtpm produced through tpm2-tools (tests/data/tpm, made by
// make_swtpm_quote.sh): parsing, signature, nonce, PCR digest and AK trust, with no TPM running.
#include <gtest/gtest.h>

#include "acon/tpm/quote.h"
#include "test_util.h"

namespace acon::tpm {
namespace {

using test::read_data;
using test::read_data_bytes;

PcrValues stored_pcrs() {
  PcrValues pcrs;
  for (HashAlg bank : {HashAlg::sha256, HashAlg::sha384}) {
    Bytes all = read_data_bytes("tpm/pcrs_" + std::string(hash_name(bank)) + ".bin");
    const size_t size = hash_size(bank);
    for (uint32_t i = 0; i < 24 && (i + 1) * size <= all.size(); ++i)
      pcrs[bank][i] = Bytes(all.begin() + i * size, all.begin() + (i + 1) * size);
  }
  return pcrs;
}

class StoredQuote : public ::testing::Test {
 protected:
  void SetUp() override {
    quote_ = read_data_bytes("tpm/quote.bin");
    nonce_ = test::read_hex_data("tpm/nonce.hex");
    pcrs_ = stored_pcrs();
    auto ak = parse_tpm2b_public(read_data_bytes("tpm/ak.tpm2b_public"));
    ASSERT_TRUE(ak.ok()) << ak.error().to_string();
    ak_.emplace(std::move(*ak));
    ASSERT_EQ(nonce_.size(), 64u);
    options_.expected_extra_data = nonce_;
  }

  Result<VerifiedQuote> verify_pinned(ByteView quote, const PcrValues& pcrs) const {
    return verify_quote(quote, pcrs, {ak_->key, {}}, AkTrust::pinned(ak_->key), options_);
  }

  Bytes quote_;
  Bytes nonce_;
  PcrValues pcrs_;
  std::optional<TpmPublic> ak_;
  VerifyOptions options_;
};

TEST_F(StoredQuote, ParsesEveryField) {
  auto q = parse_quote(quote_);
  ASSERT_TRUE(q.ok()) << q.error().to_string();
  const Attest& a = q->attest;
  EXPECT_EQ(a.magic, kTpmGeneratedValue);
  EXPECT_EQ(a.type, kStAttestQuote);
  EXPECT_EQ(a.qualified_signer.size(), 34u);  // sha256 nameAlg ‖ digest
  EXPECT_EQ(a.extra_data, nonce_);
  ASSERT_EQ(a.pcr_selection.size(), 2u);
  EXPECT_EQ(a.pcr_selection[0].alg, 0x000C);  // sha384 first, as tpm2_quote -l named it
  EXPECT_EQ(a.pcr_selection[1].alg, 0x000B);
  for (const auto& s : a.pcr_selection) {
    ASSERT_EQ(s.pcrs.size(), 24u);
    EXPECT_EQ(s.pcrs.front(), 0u);
    EXPECT_EQ(s.pcrs.back(), 23u);
  }
  EXPECT_EQ(a.pcr_digest.size(), 32u);
  EXPECT_EQ(q->signature.sig_alg, 0x0018);
  EXPECT_EQ(q->signature.hash_alg, 0x000B);
  EXPECT_EQ(q->signed_bytes.size() + 2, q->signature_offset);
  EXPECT_EQ(ByteView(quote_).subspan(2, q->signed_bytes.size()).size(), q->signed_bytes.size());
}

TEST_F(StoredQuote, AkPublicMatchesPemAndIsAnAk) {
  auto pem = PublicKey::from_pem(read_data("tpm/ak.pem"));
  ASSERT_TRUE(pem.ok());
  EXPECT_TRUE(*pem == ak_->key);
  EXPECT_TRUE(ak_->is_attestation_key());
  EXPECT_EQ(ak_->type, 0x0023);  // TPM_ALG_ECC
  EXPECT_EQ(ak_->name.size(), 34u);
}

TEST_F(StoredQuote, VerifiesWithPinnedAk) {
  auto v = verify_pinned(quote_, pcrs_);
  ASSERT_TRUE(v.ok()) << v.error().to_string();
  EXPECT_EQ(v->digest_alg, HashAlg::sha256);
  // The script extended "firmware" then "separator" into PCR0 of each bank.
  Bytes pcr0(32, 0);
  for (std::string_view m : {"firmware", "separator"}) {
    Bytes joined = pcr0;
    append(joined, sha256(as_bytes(m)));
    pcr0 = sha256(joined);
  }
  EXPECT_EQ(v->pcrs.at(HashAlg::sha256).at(0), pcr0);
  EXPECT_EQ(v->pcrs.at(HashAlg::sha384).at(17), Bytes(48, 0xFF));
  // pcr_digest on its own agrees with the quote.
  auto d = pcr_digest(v->quote.attest.pcr_selection, pcrs_, HashAlg::sha256);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, v->quote.attest.pcr_digest);
}

TEST_F(StoredQuote, WrongNonceFails) {
  Bytes other = nonce_;
  other[63] ^= 1;
  options_.expected_extra_data = other;
  auto v = verify_pinned(quote_, pcrs_);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, Errc::verify_failed);
  EXPECT_NE(v.error().message.find("extra_data at offset 44"), std::string::npos)
      << v.error().message;
  // A shorter expectation (a prefix of the nonce) is not a match either.
  options_.expected_extra_data = ByteView(nonce_).first(32);
  EXPECT_FALSE(verify_pinned(quote_, pcrs_).ok());
  // And a verifier that forgot its nonce is refused outright.
  options_.expected_extra_data = {};
  auto none = verify_pinned(quote_, pcrs_);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, Errc::invalid_argument);
}

TEST_F(StoredQuote, AlteredPcrFails) {
  for (HashAlg bank : {HashAlg::sha256, HashAlg::sha384}) {
    for (uint32_t index : {0u, 7u, 23u}) {
      PcrValues altered = pcrs_;
      altered[bank][index].back() ^= 0x80;
      auto v = verify_pinned(quote_, altered);
      ASSERT_FALSE(v.ok());
      EXPECT_EQ(v.error().code, Errc::verify_failed);
      EXPECT_NE(v.error().message.find("pcr_digest"), std::string::npos);
    }
  }
  PcrValues short_value = pcrs_;
  short_value[HashAlg::sha256][1].pop_back();
  auto v = verify_pinned(quote_, short_value);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, Errc::invalid_argument);
}

TEST_F(StoredQuote, EveryAlteredAttestByteIsCaught) {
  // Every byte of TPMS_ATTEST: a change either breaks the structure (parse/unsupported) or the
  // signature (verify_failed); none verifies.
  const size_t attest_size = (size_t{quote_[0]} << 8) | quote_[1];
  for (size_t at = 2; at < 2 + attest_size; ++at) {
    Bytes tampered = quote_;
    tampered[at] ^= 0x01;
    auto v = verify_pinned(tampered, pcrs_);
    ASSERT_FALSE(v.ok()) << "byte " << at;
    const Errc code = v.error().code;
    EXPECT_TRUE(code == Errc::verify_failed || code == Errc::parse || code == Errc::unsupported ||
                code == Errc::not_found)
        << at << ": " << v.error().to_string();
  }
  // The signature's own bytes.
  auto q = parse_quote(quote_);
  ASSERT_TRUE(q.ok());
  for (size_t at = q->signature_offset + 6; at < quote_.size(); at += 5) {
    Bytes tampered = quote_;
    tampered[at] ^= 0x01;
    EXPECT_FALSE(verify_pinned(tampered, pcrs_).ok()) << "byte " << at;
  }
}

TEST_F(StoredQuote, UntrustedAkFails) {
  auto other = PrivateKey::generate_ec(Curve::p256);
  ASSERT_TRUE(other.ok());
  auto presented =
      verify_quote(quote_, pcrs_, {ak_->key, {}}, AkTrust::pinned(other->public_key()), options_);
  ASSERT_FALSE(presented.ok());
  EXPECT_EQ(presented.error().code, Errc::verify_failed);
  auto silent = verify_quote(quote_, pcrs_, {}, AkTrust::pinned(other->public_key()), options_);
  ASSERT_FALSE(silent.ok());
  EXPECT_EQ(silent.error().code, Errc::verify_failed);
  EXPECT_NE(silent.error().message.find("signature"), std::string::npos);
  // The right key presented but another one pinned: still refused.
  auto right_key_wrong_pin =
      verify_quote(quote_, pcrs_, {other->public_key(), {}}, AkTrust::pinned(ak_->key), options_);
  EXPECT_FALSE(right_key_wrong_pin.ok());
}

TEST_F(StoredQuote, SeveralPinsOrRoots) {
  auto ca = Certificate::from_pem(read_data("tpm/ak_ca.pem"));
  auto other_ca = Certificate::from_pem(read_data("tpm/other_ca.pem"));
  auto ak_cert = Certificate::from_pem(read_data("tpm/ak_cert.pem"));
  ASSERT_TRUE(ca.ok() && other_ca.ok() && ak_cert.ok());
  options_.at = ak_cert->not_before() + std::chrono::hours(24);
  const PublicKey stranger = PrivateKey::generate_ec(Curve::p256)->public_key();
  const PublicKey stranger2 = PrivateKey::generate_ec(Curve::p256)->public_key();

  // The presented key is one of the pins.
  EXPECT_TRUE(
      verify_quote(quote_, pcrs_, {ak_->key, {}}, AkTrust::any_of({stranger, ak_->key}), options_)
          .ok());
  // None of them; or no key presented when several are pinned.
  auto none =
      verify_quote(quote_, pcrs_, {ak_->key, {}}, AkTrust::any_of({stranger, stranger2}), options_);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, Errc::verify_failed);
  EXPECT_NE(none.error().message.find("none of the 2 pinned AKs"), std::string::npos);
  EXPECT_FALSE(verify_quote(quote_, pcrs_, {std::nullopt, {}},
                            AkTrust::any_of({stranger, ak_->key}), options_)
                   .ok());
  // Not pinned, but certified by a configured root; a certificate to another root is not enough.
  EXPECT_TRUE(verify_quote(quote_, pcrs_, {ak_->key, {*ak_cert}},
                           AkTrust::any_of({stranger}, {*ca}), options_)
                  .ok());
  EXPECT_FALSE(verify_quote(quote_, pcrs_, {ak_->key, {*ak_cert}},
                            AkTrust::any_of({stranger}, {*other_ca}), options_)
                   .ok());
  // A presented key that is not the certificate's is refused even when the key is pinned.
  EXPECT_FALSE(verify_quote(quote_, pcrs_, {stranger, {*ak_cert}},
                            AkTrust::any_of({stranger, stranger2}, {*ca}), options_)
                   .ok());
}

TEST_F(StoredQuote, AkCertificateChain) {
  auto ca = Certificate::from_pem(read_data("tpm/ak_ca.pem"));
  auto other_ca = Certificate::from_pem(read_data("tpm/other_ca.pem"));
  auto ak_cert = Certificate::from_pem(read_data("tpm/ak_cert.pem"));
  ASSERT_TRUE(ca.ok() && other_ca.ok() && ak_cert.ok());
  const Time inside = ak_cert->not_before() + std::chrono::hours(24);
  options_.at = inside;

  auto trusted = AkTrust::certified_by({*ca});
  auto v = verify_quote(quote_, pcrs_, {std::nullopt, {*ak_cert}}, trusted, options_);
  ASSERT_TRUE(v.ok()) << v.error().to_string();
  EXPECT_TRUE(v->ak == ak_->key);
  // With the TPM2B_PUBLIC key presented as well, it must be the certified one.
  EXPECT_TRUE(verify_quote(quote_, pcrs_, {ak_->key, {*ak_cert}}, trusted, options_).ok());
  auto stranger = PrivateKey::generate_ec(Curve::p256);
  ASSERT_TRUE(stranger.ok());
  auto mismatch =
      verify_quote(quote_, pcrs_, {stranger->public_key(), {*ak_cert}}, trusted, options_);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_EQ(mismatch.error().code, Errc::verify_failed);

  // Another root, no certificate, or a time outside the certificate's validity: not trusted.
  auto other_root = verify_quote(quote_, pcrs_, {std::nullopt, {*ak_cert}},
                                 AkTrust::certified_by({*other_ca}), options_);
  ASSERT_FALSE(other_root.ok());
  EXPECT_EQ(other_root.error().code, Errc::verify_failed);
  EXPECT_NE(other_root.error().message.find("AK certificate chain"), std::string::npos);
  EXPECT_FALSE(verify_quote(quote_, pcrs_, {ak_->key, {}}, trusted, options_).ok());
  options_.at = ak_cert->not_after() + std::chrono::hours(24);
  auto expired = verify_quote(quote_, pcrs_, {std::nullopt, {*ak_cert}}, trusted, options_);
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error().code, Errc::expired);
  options_.at = ak_cert->not_before() - std::chrono::hours(24);
  EXPECT_FALSE(verify_quote(quote_, pcrs_, {std::nullopt, {*ak_cert}}, trusted, options_).ok());

  // A pinned key also checks a presented certificate.
  options_.at = inside;
  auto pinned_other =
      verify_quote(quote_, pcrs_, {std::nullopt, {*ca}}, AkTrust::pinned(ak_->key), options_);
  EXPECT_FALSE(pinned_other.ok());
}

TEST_F(StoredQuote, TruncationsAndTrailingBytesAreParseErrorsWithOffsets) {
  for (size_t n = 0; n < quote_.size(); ++n) {
    auto q = parse_quote(ByteView(quote_).first(n));
    ASSERT_FALSE(q.ok()) << n;
    EXPECT_EQ(q.error().code, Errc::parse) << n;
    EXPECT_NE(q.error().message.find(" at offset "), std::string::npos) << q.error().message;
  }
  // Cut inside the TPMS_ATTEST: the TPM2B_ATTEST size says more than there is.
  auto cut = parse_quote(ByteView(quote_).first(100));
  ASSERT_FALSE(cut.ok());
  EXPECT_EQ(cut.error().message,
            "tpm2b_attest.attestation_data at offset 2: needs 183 bytes, only 98 left");
  // Cut inside the signature's S.
  auto q = parse_quote(quote_);
  ASSERT_TRUE(q.ok());
  auto cut_sig = parse_quote(ByteView(quote_).first(quote_.size() - 3));
  ASSERT_FALSE(cut_sig.ok());
  EXPECT_EQ(cut_sig.error().message.rfind("tpmt_signature.signature_s at offset ", 0), 0u)
      << cut_sig.error().message;
  Bytes longer = quote_;
  longer.push_back(0);
  auto trailing = parse_quote(longer);
  ASSERT_FALSE(trailing.ok());
  EXPECT_EQ(trailing.error().message, "tpmt_signature at offset " + std::to_string(quote_.size()) +
                                          ": 1 bytes follow the structure");
}

TEST_F(StoredQuote, MagicAndTypeAreChecked) {
  Bytes magic = quote_;
  magic[2] = 0x00;
  auto m = parse_quote(magic);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code, Errc::parse);
  EXPECT_EQ(m.error().message.rfind(
                "tpms_attest.magic at offset 2: 0x00544347 is not TPM_GENERATED_VALUE", 0),
            0u)
      << m.error().message;
  Bytes type = quote_;
  type[7] = 0x17;  // TPM_ST_ATTEST_CERTIFY
  auto t = parse_quote(type);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code, Errc::unsupported);
  EXPECT_EQ(
      t.error().message,
      "tpms_attest.type at offset 6: 0x8017 (TPM_ST_ATTEST_CERTIFY) is not TPM_ST_ATTEST_QUOTE");
}

// An RSA-2048 RSASSA-PSS AK and its quote (nonce 00112233…eeff, sha256 PCRs 0..7), also from
// swtpm through tpm2-tools and checked there by the TPM (tpm2_verifysignature).
TEST(StoredRsaPssQuote, SignatureVerifies) {
  auto ak = parse_tpm2b_public(read_data_bytes("tpm/rsa_ak.tpm2b_public"));
  ASSERT_TRUE(ak.ok()) << ak.error().to_string();
  EXPECT_EQ(ak->key.type(), KeyType::rsa);
  EXPECT_EQ(ak->key.bits(), 2048);
  EXPECT_TRUE(ak->is_attestation_key());
  auto q = parse_quote(read_data_bytes("tpm/rsapss_quote.bin"));
  ASSERT_TRUE(q.ok()) << q.error().to_string();
  EXPECT_EQ(q->signature.sig_alg, 0x0016);
  EXPECT_EQ(q->attest.extra_data, test::unhex("00112233445566778899aabbccddeeff"));
  ASSERT_EQ(q->attest.pcr_selection.size(), 1u);
  EXPECT_EQ(q->attest.pcr_selection[0].pcrs, (std::vector<uint32_t>{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_TRUE(verify_signature(*q, ak->key).ok());
  // Quoted right after the ECDSA quote, so over the same stored PCR values.
  EXPECT_EQ(*pcr_digest(q->attest.pcr_selection, stored_pcrs(), HashAlg::sha256),
            q->attest.pcr_digest);
  Quote tampered = *q;
  tampered.signed_bytes[20] ^= 1;
  EXPECT_FALSE(verify_signature(tampered, ak->key).ok());
  // The ECDSA AK of the other stored quote is not this quote's key.
  auto ecc = parse_tpm2b_public(read_data_bytes("tpm/ak.tpm2b_public"));
  ASSERT_TRUE(ecc.ok());
  EXPECT_FALSE(verify_signature(*q, ecc->key).ok());
}

}  // namespace
}  // namespace acon::tpm
