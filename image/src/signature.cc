#include "acon/image/signature.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <memory>

#include "acon/common/ossl.h"

namespace acon::image {

namespace {

// The text rust-openssl's Asn1Object Display gives for signatureAlgorithm: OBJ_obj2txt with
// names allowed, i.e. the long name ("sha384WithRSAEncryption", "ecdsa-with-SHA384") or the
// dotted OID when OpenSSL has no name for it.
std::string signature_algorithm_text(const Certificate& cert) {
  const ASN1_BIT_STRING* sig = nullptr;
  const X509_ALGOR* alg = nullptr;
  X509_get0_signature(&sig, &alg, cert.get());
  if (alg == nullptr) return {};
  const ASN1_OBJECT* obj = nullptr;
  X509_ALGOR_get0(&obj, nullptr, nullptr, alg);
  if (obj == nullptr) return {};
  char buf[128];
  int n = OBJ_obj2txt(buf, sizeof buf, obj, 0);
  if (n <= 0) return {};
  return std::string(buf, std::min<size_t>(static_cast<size_t>(n), sizeof buf - 1));
}

std::string key_description(const PublicKey& key) {
  switch (key.type()) {
    case KeyType::ec:
      switch (*key.curve()) {
        case Curve::p256:
          return "ECDSA P-256";
        case Curve::p384:
          return "ECDSA P-384";
        case Curve::p521:
          return "ECDSA P-521";
      }
      return "ECDSA";
    case KeyType::rsa:
      return "RSA-" + std::to_string(key.bits()) + " PKCS#1 v1.5";
    case KeyType::ed25519:
      return "Ed25519";
  }
  return "unknown key";
}

// What acond's verify_signature() answers for this certificate, signature and bytes: rust-openssl's
// Verifier::new(digest, key) and verify_oneshot, i.e. EVP_DigestVerifyInit with the digest named
// by signatureAlgorithm and whatever key OpenSSL reads from the certificate, then
// EVP_DigestVerify. Used only to word acon's own refusals of keys acond takes.
bool acond_signature_verifies(const Certificate& cert, HashAlg alg, std::string_view bytes,
                              ByteView signature) {
  EVP_PKEY* key = X509_get0_pubkey(cert.get());
  const EVP_MD* md = alg == HashAlg::sha256   ? EVP_sha256()
                     : alg == HashAlg::sha384 ? EVP_sha384()
                                              : EVP_sha512();
  std::unique_ptr<EVP_MD_CTX, ossl::Deleter<EVP_MD_CTX_free>> ctx(EVP_MD_CTX_new());
  const bool ok =
      key != nullptr && ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key) == 1 &&
      EVP_DigestVerify(ctx.get(), signature.data(), signature.size(),
                       reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()) == 1;
  ERR_clear_error();
  return ok;
}

// The subject key as OpenSSL names its type ("DSA", "EC secp256k1", "RSA-1024", "RSA-PSS-2048").
std::string openssl_key_text(const Certificate& cert) {
  EVP_PKEY* key = X509_get0_pubkey(cert.get());
  ERR_clear_error();
  if (key == nullptr) return "unreadable";
  const char* type = EVP_PKEY_get0_type_name(key);
  std::string text = type != nullptr ? type : "unknown";
  char group[64] = {};
  size_t len = 0;
  if (EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME,
                                                                 group, sizeof group, &len) == 1)
    return text + " " + group;
  ERR_clear_error();
  return text + "-" + std::to_string(EVP_PKEY_get_bits(key));
}

Result<Certificate> parse_certificate(ByteView der) {
  auto cert = Certificate::from_der(der);
  if (!cert)
    return make_error(Errc::parse, "Invalid certificate: not an X.509 DER certificate (" +
                                       cert.error().message + ")");
  return cert;
}

}  // namespace

Result<HashAlg> id_hash_for_certificate(const Certificate& cert, CertProfile profile) {
  std::string name = signature_algorithm_text(cert);
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  // acond's order: a name containing several (none exists today) picks the first.
  if (lower.find("sha256") != std::string::npos) return HashAlg::sha256;
  if (lower.find("sha384") != std::string::npos) return HashAlg::sha384;
  if (lower.find("sha512") != std::string::npos) return HashAlg::sha512;
  if (profile == CertProfile::aconcli) {
    int nid = X509_get_signature_nid(cert.get());
    if (nid == NID_ED25519) return HashAlg::sha512;  // aconcli: "Ed25519" -> sha512
    if (nid == NID_rsassaPss) {
      auto scheme = cert.signature_scheme();
      if (scheme) return scheme->hash;
      return make_error(Errc::unsupported,
                        "Invalid certificate: RSASSA-PSS signatureAlgorithm with a hash other "
                        "than sha256, sha384 or sha512");
    }
  }
  return make_error(Errc::unsupported,
                    "Invalid certificate: signatureAlgorithm '" + name +
                        "' names no sha256, sha384 or sha512 hash" +
                        (profile == CertProfile::acond
                             ? " (acond also refuses Ed25519 and RSASSA-PSS certificates)"
                             : ""));
}

std::string ImageIdentity::signer_id() const {
  return std::string(hash_name(hash)) + "/" + signer_digest;
}

std::string ImageIdentity::image_id() const { return signer_id() + "/" + manifest_digest; }

Result<std::string> signer_id(const Certificate& cert, CertProfile profile) {
  ACON_TRY(HashAlg alg, id_hash_for_certificate(cert, profile));
  ACON_TRY(Bytes d, digest(alg, cert.der()));
  return std::string(hash_name(alg)) + "/" + hex_encode(d);
}

Result<ImageIdentity> image_identity(const Certificate& cert, std::string_view manifest_bytes,
                                     CertProfile profile) {
  ImageIdentity id;
  ACON_TRY(id.hash, id_hash_for_certificate(cert, profile));
  ACON_TRY(Bytes signer, digest(id.hash, cert.der()));
  ACON_TRY(Bytes manifest, digest(id.hash, as_bytes(manifest_bytes)));
  id.signer_digest = hex_encode(signer);
  id.manifest_digest = hex_encode(manifest);
  return id;
}

Result<ImageIdentity> parse_image_id(std::string_view image_id) {
  auto fail = [&](const std::string& what) {
    return make_error(Errc::parse, "Image ID '" + std::string(image_id) + "': " + what);
  };
  size_t a = image_id.find('/');
  size_t b = a == std::string_view::npos ? a : image_id.find('/', a + 1);
  if (b == std::string_view::npos || image_id.find('/', b + 1) != std::string_view::npos)
    return fail("expected HASH/SIGNER/MANIFEST");
  auto alg = acon_hash_from_name(image_id.substr(0, a));
  if (!alg) return fail("hash must be sha256, sha384 or sha512");
  ImageIdentity id{*alg, std::string(image_id.substr(a + 1, b - a - 1)),
                   std::string(image_id.substr(b + 1))};
  for (const std::string* part : {&id.signer_digest, &id.manifest_digest}) {
    auto ref = parse_digest_ref(std::string(hash_name(*alg)) + "/" + *part);
    if (!ref) return fail(ref.error().message);
  }
  return id;
}

Result<SigScheme> manifest_signature_scheme(const Certificate& cert, CertProfile profile) {
  ACON_TRY(HashAlg alg, id_hash_for_certificate(cert, profile));
  auto key = cert.public_key();
  if (!key)
    return make_error(Errc::unsupported,
                      "certificate key: unsupported key type (" + key.error().message + ")");
  switch (key->type()) {
    case KeyType::ec:
      return SigScheme{SigKind::ecdsa, alg};
    case KeyType::rsa:
      return SigScheme{SigKind::rsa_pkcs1, alg};
    case KeyType::ed25519:
      if (profile == CertProfile::acond)
        return make_error(Errc::unsupported,
                          "certificate key: acond cannot verify Ed25519 signatures (OpenSSL "
                          "Verifier with a digest)");
      return SigScheme{SigKind::ed25519, alg};
  }
  return make_error(Errc::unsupported, "certificate key: unsupported key type");
}

Result<Bytes> sign_manifest(std::string_view manifest_bytes, const PrivateKey& key,
                            const Certificate& cert, CertProfile profile) {
  ACON_TRY(SigScheme scheme, manifest_signature_scheme(cert, profile));
  ACON_TRY(PublicKey cert_key, cert.public_key());
  if (!(cert_key == key.public_key()))
    return make_error(Errc::invalid_argument,
                      "sign: the private key does not belong to the certificate");
  auto sig = sign(key, scheme, as_bytes(manifest_bytes), EcdsaEncoding::der);
  if (!sig) return sig.error().wrap("sign");
  return sig;
}

Status verify_manifest_signature(std::string_view manifest_bytes, ByteView signature,
                                 const Certificate& cert, CertProfile profile) {
  auto usable = manifest_signature_scheme(cert, profile);
  if (!usable && !cert.public_key()) {
    // acon's key floors (curves, RSA sizes, key types) are hardening, not acond's rule: acond
    // verifies with any key OpenSSL reads. Say which of the two refuses (when acond's hash rule
    // refuses the certificate, acond refuses it too and the profile's error stands).
    auto alg = id_hash_for_certificate(cert, CertProfile::acond);
    if (alg) {
      const char* profile_name = profile == CertProfile::acond ? "acond" : "aconcli";
      const std::string key = openssl_key_text(cert);
      const std::string why = cert.public_key().error().message;
      if (acond_signature_verifies(cert, *alg, manifest_bytes, signature))
        return make_error(Errc::unsupported,
                          std::string("acond would accept this signature; acon refuses it "
                                      "because its ") +
                              profile_name + " profile is stricter than acond about signer keys (" +
                              key + " with " + std::string(hash_name(*alg)) + ": " + why + ")");
      return make_error(Errc::verify_failed,
                        "manifest signature does not verify with certificate key " + key +
                            " with " + std::string(hash_name(*alg)) +
                            ", so acond refuses it too (acon would also refuse the key: " + why +
                            ")");
    }
  }
  if (!usable) return usable.error();
  const SigScheme scheme = *usable;
  ACON_TRY(PublicKey key, cert.public_key());
  auto st = verify(key, scheme, as_bytes(manifest_bytes), signature, EcdsaEncoding::der);
  if (st) return {};
  std::string id = "?";
  if (auto s = signer_id(cert, profile)) id = *s;
  std::string scheme_text = key_description(key);
  if (scheme.kind != SigKind::ed25519)
    scheme_text += " with " + std::string(hash_name(scheme.hash));
  return make_error(st.error().code,
                    "manifest signature does not verify with certificate " + id + " (" +
                        scheme_text + "): wrong key, altered manifest bytes or corrupt signature");
}

Result<SignedManifest> verify_signed_manifest(std::string_view manifest_bytes, ByteView signature,
                                              ByteView certificate_der, CertProfile profile) {
  ACON_TRY(Certificate cert, parse_certificate(certificate_der));
  ACON_CHECK(verify_manifest_signature(manifest_bytes, signature, cert, profile));
  SignedManifest out;
  ACON_TRY(out.identity, image_identity(cert, manifest_bytes, profile));
  ACON_TRY(out.manifest, parse_manifest(manifest_bytes));
  out.certificate_der.assign(certificate_der.begin(), certificate_der.end());
  out.signature.assign(signature.begin(), signature.end());
  return out;
}

}  // namespace acon::image
