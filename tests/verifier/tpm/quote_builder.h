// Quotes marshalled by hand (big-endian, per TPM 2.0 Part 2) and signed with software keys, for
// the cases a real TPM will not produce: other schemes, bad hashes, odd salts, broken fields.
#pragma once

#include <openssl/rsa.h>

#include <vector>

#include "acon/common/hash.h"
#include "acon/common/ossl.h"
#include "acon/common/reader.h"
#include "acon/common/signature.h"
#include "acon/tpm/quote.h"

namespace acon::test {

inline void put_tpm2b(Bytes& out, ByteView data) {
  put_u16be(out, static_cast<uint16_t>(data.size()));
  append(out, data);
}

inline constexpr uint16_t kAlgSha1 = 0x0004;
inline constexpr uint16_t kAlgSha256 = 0x000B;
inline constexpr uint16_t kAlgSha384 = 0x000C;
inline constexpr uint16_t kAlgRsassa = 0x0014;
inline constexpr uint16_t kAlgRsapss = 0x0016;
inline constexpr uint16_t kAlgEcdsa = 0x0018;

struct AttestFields {
  uint32_t magic = tpm::kTpmGeneratedValue;
  uint16_t type = tpm::kStAttestQuote;
  Bytes signer = Bytes(34, 0x5A);
  Bytes extra_data = Bytes(64, 0x11);
  uint64_t clock = 123456;
  uint32_t reset_count = 1;
  uint32_t restart_count = 0;
  uint8_t safe = 1;
  uint64_t firmware_version = 0x2019102300163636;
  // TPMS_PCR_SELECTION entries: TPM_ALG_ID and a 3-byte bitmap.
  std::vector<std::pair<uint16_t, uint32_t>> selection = {{kAlgSha256, 0x000081}};  // PCRs 0, 7
  Bytes pcr_digest = Bytes(32, 0);
};

inline Bytes marshal_attest(const AttestFields& f) {
  Bytes out;
  append_u32be(out, f.magic);
  put_u16be(out, f.type);
  put_tpm2b(out, f.signer);
  put_tpm2b(out, f.extra_data);
  put_u64be(out, f.clock);
  append_u32be(out, f.reset_count);
  append_u32be(out, f.restart_count);
  out.push_back(f.safe);
  put_u64be(out, f.firmware_version);
  append_u32be(out, static_cast<uint32_t>(f.selection.size()));
  for (const auto& [alg, bits] : f.selection) {
    put_u16be(out, alg);
    out.push_back(3);
    out.push_back(static_cast<uint8_t>(bits));
    out.push_back(static_cast<uint8_t>(bits >> 8));
    out.push_back(static_cast<uint8_t>(bits >> 16));
  }
  put_tpm2b(out, f.pcr_digest);
  return out;
}

inline Bytes ecdsa_signature(uint16_t hash_alg, ByteView r, ByteView s) {
  Bytes out;
  put_u16be(out, kAlgEcdsa);
  put_u16be(out, hash_alg);
  put_tpm2b(out, r);
  put_tpm2b(out, s);
  return out;
}

inline Bytes rsa_signature(uint16_t scheme, uint16_t hash_alg, ByteView sig) {
  Bytes out;
  put_u16be(out, scheme);
  put_u16be(out, hash_alg);
  put_tpm2b(out, sig);
  return out;
}

inline Bytes join_quote(ByteView attest, ByteView signature) {
  Bytes out;
  put_tpm2b(out, attest);
  append(out, signature);
  return out;
}

// ECDSA over `attest` with `key`, as a TPMT_SIGNATURE.
inline Bytes sign_ecdsa(const PrivateKey& key, HashAlg hash, uint16_t hash_alg, ByteView attest) {
  Bytes raw = *sign(key, {SigKind::ecdsa, hash}, attest, EcdsaEncoding::raw);
  const size_t half = raw.size() / 2;
  return ecdsa_signature(hash_alg, ByteView(raw).first(half), ByteView(raw).subspan(half));
}

// RSASSA-PSS with an explicit salt length (RSA_PSS_SALTLEN_MAX, or a byte count).
inline Bytes sign_pss(const PrivateKey& key, ByteView attest, int salt_length) {
  ossl::MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  EVP_DigestSignInit_ex(ctx.get(), &pctx, "SHA256", nullptr, nullptr, key.get(), nullptr);
  EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
  EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt_length);
  size_t len = 0;
  EVP_DigestSign(ctx.get(), nullptr, &len, attest.data(), attest.size());
  Bytes sig(len);
  EVP_DigestSign(ctx.get(), sig.data(), &len, attest.data(), attest.size());
  sig.resize(len);
  return rsa_signature(kAlgRsapss, kAlgSha256, sig);
}

}  // namespace acon::test
