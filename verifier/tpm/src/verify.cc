// Quote verification: AK trust, signature, nonce and PCR digest.
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <tss2/tss2_tpm2_types.h>

#include <string>

#include "acon/common/ossl.h"
#include "acon/common/signature.h"
#include "acon/tpm/quote.h"
#include "mu_cursor.h"

namespace acon::tpm {
namespace {

Error failed(std::string message) { return make_error(Errc::verify_failed, std::move(message)); }

std::string pcr_label(HashAlg bank, uint32_t index) {
  return std::string(hash_name(bank)) + ":" + std::to_string(index);
}

// The signing digest: SHA-256/384/512 only (SHA-1 is broken for collisions, SM3 AKs are not
// something acon attests).
Result<HashAlg> signing_hash(uint16_t tpm_alg) {
  auto alg = eventlog::hash_for_tpm_alg(tpm_alg);
  if (alg == HashAlg::sha256 || alg == HashAlg::sha384 || alg == HashAlg::sha512) return *alg;
  return make_error(Errc::unsupported, "tpmt_signature.signature.hash: " + hex_literal(tpm_alg, 4) +
                                           " is not SHA-256, SHA-384 or SHA-512");
}

Result<Bytes> left_pad(ByteView value, size_t size) {
  if (value.size() > size)
    return failed("tpmt_signature: ECDSA component of " + std::to_string(value.size()) +
                  " bytes is longer than the AK curve's " + std::to_string(size));
  Bytes out(size - value.size(), 0);
  append(out, value);
  return out;
}

// RSASSA-PSS with the salt length recovered from the signature: TPMs differ (the digest
// length, or the largest the modulus allows), and any salt length is as sound for verifying.
Status verify_pss_any_salt(const PublicKey& key, HashAlg hash, ByteView message,
                           ByteView signature) {
  const char* md_name = hash == HashAlg::sha256   ? "SHA256"
                        : hash == HashAlg::sha384 ? "SHA384"
                                                  : "SHA512";
  ossl::MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  if (!ctx ||
      EVP_DigestVerifyInit_ex(ctx.get(), &pctx, md_name, nullptr, nullptr, key.get(), nullptr) !=
          1 ||
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) != 1)
    return make_error(Errc::crypto, "tpm quote: PSS setup: " + ossl::drain_errors());
  if (EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(),
                       message.size()) != 1) {
    ERR_clear_error();
    return failed("tpm quote: RSAPSS signature does not verify with the AK");
  }
  return {};
}

}  // namespace

Status verify_signature(const Quote& quote, const PublicKey& ak) {
  const Signature& sig = quote.signature;
  ACON_TRY(HashAlg hash, signing_hash(sig.hash_alg));
  switch (sig.sig_alg) {
    case TPM2_ALG_ECDSA: {
      if (ak.type() != KeyType::ec)
        return failed("tpm quote: ECDSA signature, but the AK is not an EC key");
      const size_t field = curve_field_size(*ak.curve());
      ACON_TRY(Bytes raw, left_pad(sig.ecdsa_r, field));
      ACON_TRY(Bytes s, left_pad(sig.ecdsa_s, field));
      append(raw, s);
      Status st = verify(ak, {SigKind::ecdsa, hash}, quote.signed_bytes, raw, EcdsaEncoding::raw);
      if (!st) return failed("tpm quote: ECDSA signature does not verify with the AK");
      return {};
    }
    case TPM2_ALG_RSASSA: {
      if (ak.type() != KeyType::rsa)
        return failed("tpm quote: RSASSA signature, but the AK is not an RSA key");
      Status st = verify(ak, {SigKind::rsa_pkcs1, hash}, quote.signed_bytes, sig.rsa_signature);
      if (!st) return failed("tpm quote: RSASSA signature does not verify with the AK");
      return {};
    }
    case TPM2_ALG_RSAPSS:
      if (ak.type() != KeyType::rsa)
        return failed("tpm quote: RSAPSS signature, but the AK is not an RSA key");
      return verify_pss_any_salt(ak, hash, quote.signed_bytes, sig.rsa_signature);
    default:
      return make_error(Errc::unsupported,
                        "tpmt_signature.sig_alg: " + hex_literal(sig.sig_alg, 4) +
                            " is not ECDSA, RSASSA or RSAPSS");
  }
}

Result<Bytes> pcr_digest(std::span<const PcrSelection> selection, const PcrValues& pcrs,
                         HashAlg alg) {
  ACON_TRY(Hasher hasher, Hasher::create(alg));
  for (const PcrSelection& sel : selection) {
    auto bank = eventlog::hash_for_tpm_alg(sel.alg);
    if (!bank)
      return make_error(Errc::unsupported, "tpms_quote_info.pcr_select: bank " +
                                               hex_literal(sel.alg, 4) + " is no hash acon knows");
    auto values = pcrs.find(*bank);
    for (uint32_t index : sel.pcrs) {
      const Bytes* value = nullptr;
      if (values != pcrs.end()) {
        auto it = values->second.find(index);
        if (it != values->second.end()) value = &it->second;
      }
      if (!value)
        return make_error(Errc::not_found, "PCR " + pcr_label(*bank, index) +
                                               " is quoted but no value was supplied");
      if (value->size() != hash_size(*bank))
        return make_error(Errc::invalid_argument, "PCR " + pcr_label(*bank, index) + ": " +
                                                      std::to_string(value->size()) +
                                                      " bytes supplied, the bank holds " +
                                                      std::to_string(hash_size(*bank)));
      hasher.update(*value);
    }
  }
  return hasher.finish();
}

AkTrust AkTrust::pinned(PublicKey key) {
  AkTrust t;
  t.pinned_.push_back(std::move(key));
  return t;
}

AkTrust AkTrust::any_of(std::vector<PublicKey> pinned, std::vector<Certificate> roots,
                        std::vector<Crl> crls, CrlCheck crl_check) {
  AkTrust t = certified_by(std::move(roots), std::move(crls), crl_check);
  t.pinned_ = std::move(pinned);
  return t;
}

AkTrust AkTrust::certified_by(std::vector<Certificate> roots, std::vector<Crl> crls,
                              CrlCheck crl_check) {
  AkTrust t;
  t.roots_ = std::move(roots);
  t.crls_ = std::move(crls);
  t.crl_check_ = crl_check;
  return t;
}

Result<PublicKey> AkTrust::resolve(const AkEvidence& ak, Time at) const {
  if (pinned_.size() == 1 && roots_.empty()) {
    const PublicKey& pinned = pinned_.front();
    if (ak.key && !(*ak.key == pinned)) return failed("AK: the presented key is not the pinned AK");
    if (!ak.chain.empty()) {
      ACON_TRY(PublicKey leaf_key, ak.chain.front().public_key());
      if (!(leaf_key == pinned))
        return failed("AK: the presented AK certificate does not carry the pinned AK");
    }
    return pinned;
  }
  if (!pinned_.empty()) {
    // Several pins: the evidence must say which key it is (a key, or a certificate carrying it).
    std::optional<PublicKey> presented = ak.key;
    if (!ak.chain.empty()) {
      ACON_TRY(PublicKey leaf_key, ak.chain.front().public_key());
      if (presented && !(*presented == leaf_key))
        return failed("AK: the presented key differs from the key in the AK certificate");
      presented = std::move(leaf_key);
    }
    if (presented)
      for (const PublicKey& pinned : pinned_)
        if (*presented == pinned) return pinned;
    if (roots_.empty())
      return failed(presented ? "AK: the presented key is none of the " +
                                    std::to_string(pinned_.size()) + " pinned AKs"
                              : "AK: no key presented, and several AKs are pinned");
  }
  if (roots_.empty())
    return make_error(Errc::invalid_argument, "AK trust: no root certificates configured");
  if (ak.chain.empty())
    return failed("AK: no AK certificate presented, and AKs are trusted only through certificates");
  std::span<const Certificate> intermediates(ak.chain.data() + 1, ak.chain.size() - 1);
  auto path = verify_chain(ak.chain.front(), intermediates, roots_, crls_, at, crl_check_);
  if (!path) return path.error().wrap("AK certificate chain");
  ACON_TRY(PublicKey leaf_key, ak.chain.front().public_key());
  if (ak.key && !(*ak.key == leaf_key))
    return failed("AK: the presented key differs from the key in the AK certificate");
  return leaf_key;
}

Result<VerifiedQuote> verify_quote(ByteView quote_bytes, const PcrValues& pcrs,
                                   const AkEvidence& ak, const AkTrust& trust,
                                   const VerifyOptions& options) {
  if (options.expected_extra_data.empty())
    return make_error(Errc::invalid_argument,
                      "tpm quote: no expected nonce given (a quote without one can be replayed)");
  ACON_TRY(Quote quote, parse_quote(quote_bytes));
  ACON_TRY(PublicKey key, trust.resolve(ak, options.at));
  ACON_CHECK(verify_signature(quote, key));
  if (!ct_equal(quote.attest.extra_data, options.expected_extra_data))
    return failed("tpms_attest.extra_data at offset " +
                  std::to_string(2 + 6 + 2 + quote.attest.qualified_signer.size()) +
                  ": does not equal the expected nonce");
  ACON_TRY(HashAlg digest_alg, signing_hash(quote.signature.hash_alg));
  ACON_TRY(Bytes digest, pcr_digest(quote.attest.pcr_selection, pcrs, digest_alg));
  if (digest != quote.attest.pcr_digest)
    return failed("tpms_quote_info.pcr_digest: the supplied PCR values hash to " +
                  hex_encode(digest) + ", the quote holds " + hex_encode(quote.attest.pcr_digest));

  PcrValues quoted;
  for (const PcrSelection& sel : quote.attest.pcr_selection) {
    HashAlg bank = *eventlog::hash_for_tpm_alg(sel.alg);  // pcr_digest accepted every bank
    for (uint32_t index : sel.pcrs) quoted[bank][index] = pcrs.at(bank).at(index);
  }
  return VerifiedQuote{std::move(quote), std::move(key), digest_alg, std::move(quoted)};
}

}  // namespace acon::tpm
