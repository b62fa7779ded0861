// ACON Signer IDs, Image IDs and manifest signatures (signing and verification).
//
// Signer ID = HASH/hex(HASH(certificate DER)); Image ID = Signer ID + "/" + hex(HASH(manifest
// bytes as received)). HASH comes from the certificate's signatureAlgorithm, as acond picks it.
#pragma once

#include <string>
#include <string_view>

#include "acon/common/bytes.h"
#include "acon/common/hash.h"
#include "acon/common/keys.h"
#include "acon/common/result.h"
#include "acon/common/x509.h"
#include "acon/image/manifest.h"

namespace acon::image {

// Which certificates are usable.
enum class CertProfile {
  // acond: the lower-cased OpenSSL long name of signatureAlgorithm must contain sha256, sha384
  // or sha512 (first match in that order); anything else is "Invalid certificate". Ed25519 and
  // RSASSA-PSS certificates are refused.
  acond,
  // acond's rule plus what aconcli (cryptoutil/hash.go) signs with: an Ed25519 signatureAlgorithm
  // selects sha512, RSASSA-PSS selects the hash of its parameters (sha256/384/512).
  aconcli,
};

// The HASH of Signer and Image IDs for this certificate. Errc::unsupported with
// "Invalid certificate: ..." when the profile names no hash for its signatureAlgorithm.
//   ACON_TRY(HashAlg h, id_hash_for_certificate(cert));
Result<HashAlg> id_hash_for_certificate(const Certificate& cert,
                                        CertProfile profile = CertProfile::aconcli);

// An image's identity: hash, signer digest and manifest digest (lower-case hex).
struct ImageIdentity {
  HashAlg hash = HashAlg::sha384;
  std::string signer_digest;    // hex(HASH(certificate DER))
  std::string manifest_digest;  // hex(HASH(manifest bytes))

  std::string signer_id() const;  // "sha384/<signer>"
  std::string image_id() const;   // "sha384/<signer>/<manifest>"
  bool operator==(const ImageIdentity&) const = default;
};

// "sha384/<hex>" for this certificate.
//   auto id = signer_id(cert); // "sha384/7be2e3..."
Result<std::string> signer_id(const Certificate& cert, CertProfile profile = CertProfile::aconcli);

// Identity of `manifest_bytes` (exact bytes, no canonicalisation) signed under `cert`.
//   ACON_TRY(auto ident, image_identity(cert, bytes)); ident.image_id();
Result<ImageIdentity> image_identity(const Certificate& cert, std::string_view manifest_bytes,
                                     CertProfile profile = CertProfile::aconcli);

// Parses "HASH/SIGNER/MANIFEST" Image IDs (lower-case hex of the hash's length).
Result<ImageIdentity> parse_image_id(std::string_view image_id);

// The signature scheme used for manifests under `cert`: the subject key decides the kind
// (EC -> ECDSA with DER (r,s), RSA -> PKCS#1 v1.5, Ed25519 -> pure Ed25519 over the bytes, as
// aconcli signs); the hash is id_hash_for_certificate().
Result<SigScheme> manifest_signature_scheme(const Certificate& cert,
                                            CertProfile profile = CertProfile::aconcli);

// Signs manifest bytes like `openssl dgst -<hash> -sign key` (Ed25519: `openssl pkeyutl
// -sign -rawin`). The key must be the certificate's: a mismatch is Errc::invalid_argument.
//   ACON_TRY(Bytes sig, sign_manifest(canonical_bytes, key, cert));
Result<Bytes> sign_manifest(std::string_view manifest_bytes, const PrivateKey& key,
                            const Certificate& cert, CertProfile profile = CertProfile::aconcli);

// Verifies a manifest signature with the certificate's key. Errors:
// Errc::verify_failed "manifest signature does not verify with certificate <Signer ID> (...)",
// Errc::unsupported for certificates the profile refuses or key types it cannot use.
Status verify_manifest_signature(std::string_view manifest_bytes, ByteView signature,
                                 const Certificate& cert,
                                 CertProfile profile = CertProfile::aconcli);

// A manifest whose signature has been checked, with its identity. What acond's AddManifest
// holds after its signature step, and what launch-policy and alias resolution take.
struct SignedManifest {
  Manifest manifest;  // manifest.raw = the signed bytes
  ImageIdentity identity;
  Bytes certificate_der;
  Bytes signature;
};

// acond's AddManifest checks in its order: certificate (DER) -> hash -> signature over the exact
// bytes -> manifest parse (serde semantics). Validation (validate_manifest) is separate.
//   ACON_TRY(SignedManifest sm, verify_signed_manifest(bytes, sig, cert_der));
Result<SignedManifest> verify_signed_manifest(std::string_view manifest_bytes, ByteView signature,
                                              ByteView certificate_der,
                                              CertProfile profile = CertProfile::aconcli);

}  // namespace acon::image
