// Digital signatures: ECDSA (DER or raw r||s), RSA PKCS#1 v1.5 and PSS, Ed25519.
#pragma once

#include "acon/common/keys.h"

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

Result<Bytes> ecdsa_der_to_raw(ByteView der, size_t field_size);
Result<Bytes> ecdsa_raw_to_der(ByteView raw);

}  // namespace acon
