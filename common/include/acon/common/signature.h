// Digital signatures: ECDSA (DER or raw r||s), RSA PKCS#1 v1.5 and PSS, Ed25519.
#pragma once

#include <memory>

#include "acon/common/keys.h"
#include "acon/common/ossl.h"

namespace acon {

enum class SigKind { ecdsa, rsa_pkcs1, rsa_pss, ed25519 };

struct SigScheme {
  SigKind kind;
  HashAlg hash = HashAlg::sha256;  // ignored for Ed25519; PSS salt length = digest length
};

enum class EcdsaEncoding {
  der,  // X9.62 Ecdsa-Sig-Value, as in X.509 and ACON signatures
  raw,  // r||s, each curve_field_size() bytes, as in JWS and DCAP quotes
};

Result<Bytes> sign(const PrivateKey& key, SigScheme scheme, ByteView message,
                   EcdsaEncoding encoding = EcdsaEncoding::der);
// verify_failed for a signature that does not verify; invalid_argument when the key does not
// fit the scheme.
Status verify(const PublicKey& key, SigScheme scheme, ByteView message, ByteView signature,
              EcdsaEncoding encoding = EcdsaEncoding::der);

// One key's signing operation set up once, for issuers that sign many messages with one key
// (EAR tokens, KBS responses). Setting up costs about a tenth of a P-256 signature in OpenSSL
// 3.0 (algorithm fetches, name lookups that walk the whole name map); each sign() copies the
// prepared context instead. The prepared context is only read, so one PreparedSigner may sign
// from several threads at once.
class PreparedSigner {
 public:
  static Result<PreparedSigner> create(const PrivateKey& key, SigScheme scheme);
  Result<Bytes> sign(ByteView message, EcdsaEncoding encoding = EcdsaEncoding::der) const;
  // ECDSA only: signs a message whose digest (of the scheme's hash) the caller computed, e.g.
  // from a Hasher that had a long common prefix hashed once (Hasher::copy). The same signature
  // as sign(message).
  Result<Bytes> sign_digest(ByteView digest, EcdsaEncoding encoding = EcdsaEncoding::der) const;

 private:
  PreparedSigner(ossl::MdCtxPtr ctx, ossl::PkeyCtxPtr digest_ctx, SigScheme scheme,
                 size_t field_size)
      : ctx_(std::move(ctx)),
        digest_ctx_(std::move(digest_ctx)),
        scheme_(scheme),
        field_size_(field_size) {}
  std::shared_ptr<EVP_MD_CTX> ctx_;
  std::shared_ptr<EVP_PKEY_CTX> digest_ctx_;  // ECDSA: EVP_PKEY_sign set up; else null
  SigScheme scheme_;
  size_t field_size_ = 0;  // ECDSA: bytes of r and of s
};

Result<Bytes> ecdsa_der_to_raw(ByteView der, size_t field_size);
Result<Bytes> ecdsa_raw_to_der(ByteView raw);

}  // namespace acon
