// Asymmetric keys (EC P-256/384/521, RSA, Ed25519): import, export, JWK, ECDH, RSA encryption.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

#include "acon/common/bytes.h"
#include "acon/common/hash.h"
#include "acon/common/ossl.h"

namespace acon {

enum class KeyType { ec, rsa, ed25519 };
enum class Curve { p256, p384, p521 };

std::string_view curve_jwk_name(Curve c);  // "P-256"
// Bytes of one coordinate or scalar: 32, 48, 66.
size_t curve_field_size(Curve c);

// Smallest RSA modulus accepted on import or generation.
inline constexpr int kMinRsaBits = 2048;
// Larger moduli cost seconds per operation and serve no one; refused on import.
inline constexpr int kMaxRsaBits = 16384;

class PublicKey {
 public:
  // SubjectPublicKeyInfo, or PKCS#1 for RSA, in PEM or DER.
  static Result<PublicKey> from_pem(std::string_view pem);
  static Result<PublicKey> from_der(ByteView der);
  // RFC 7517 JWK; private members, if present, are ignored.
  static Result<PublicKey> from_jwk(const nlohmann::json& jwk);
  // Raw affine coordinates x||y (as in TDX quotes), each curve_field_size() bytes; the point
  // must lie on the curve.
  static Result<PublicKey> from_ec_xy(Curve curve, ByteView xy);
  static Result<PublicKey> from_rsa(ByteView n, ByteView e);
  static Result<PublicKey> from_ed25519(ByteView raw);
  // Takes ownership of a key handed out by OpenSSL (e.g. from a certificate); checks its type.
  static Result<PublicKey> adopt(ossl::PkeyPtr key);

  KeyType type() const { return type_; }
  std::optional<Curve> curve() const { return curve_; }
  int bits() const;

  Bytes to_der() const;  // SubjectPublicKeyInfo
  std::string to_pem() const;
  // Raw x||y of an EC key, empty for other types.
  Bytes ec_xy() const;
  // Public members only, e.g. {"crv":"P-256","kty":"EC","x":..,"y":..}.
  nlohmann::json to_jwk() const;
  // RFC 7638 thumbprint, base64url without padding.
  std::string thumbprint(HashAlg alg = HashAlg::sha256) const;

  bool operator==(const PublicKey& other) const;
  EVP_PKEY* get() const { return key_.get(); }

 private:
  PublicKey(std::shared_ptr<EVP_PKEY> key, KeyType type, std::optional<Curve> curve)
      : key_(std::move(key)), type_(type), curve_(curve) {}
  friend class PrivateKey;
  std::shared_ptr<EVP_PKEY> key_;  // immutable once built, so copies may share it
  KeyType type_;
  std::optional<Curve> curve_;
};

class PrivateKey {
 public:
  static Result<PrivateKey> generate_ec(Curve curve);
  static Result<PrivateKey> generate_rsa(int bits = 3072);
  static Result<PrivateKey> generate_ed25519();
  // PKCS#8 (also SEC1 "EC PRIVATE KEY" and PKCS#1 "RSA PRIVATE KEY") in PEM or DER; unencrypted.
  static Result<PrivateKey> from_pem(std::string_view pem);
  static Result<PrivateKey> from_der(ByteView der);
  // RFC 7517 JWK with "d" (and for RSA the CRT members); the public part must match.
  static Result<PrivateKey> from_jwk(const nlohmann::json& jwk);

  KeyType type() const { return pub_.type(); }
  std::optional<Curve> curve() const { return pub_.curve(); }
  const PublicKey& public_key() const { return pub_; }

  // Unencrypted PKCS#8 PEM (held in wiped memory).
  SecretBytes to_pem() const;
  // JWK with private members; the JSON holds secrets, so the caller wipes its dump.
  nlohmann::json to_jwk() const;

  EVP_PKEY* get() const { return key_.get(); }

 private:
  PrivateKey(std::shared_ptr<EVP_PKEY> key, PublicKey pub)
      : key_(std::move(key)), pub_(std::move(pub)) {}
  static Result<PrivateKey> adopt(ossl::PkeyPtr key);
  std::shared_ptr<EVP_PKEY> key_;
  PublicKey pub_;  // a separate public-only copy, so handing it out never leaks the private half
};

// Raw ECDH shared secret (the x coordinate), for JWE ECDH-ES.
Result<SecretBytes> ecdh(const PrivateKey& own, const PublicKey& peer);

// An EC public key as its curve and point, x||y (each curve_field_size() bytes), not yet
// checked to lie on the curve.
struct EcPoint {
  Curve curve;
  Bytes xy;
};
// The point of a JWK with "kty" "EC" (PublicKey::from_jwk builds the key from it).
Result<EcPoint> ec_point_from_jwk(const nlohmann::json& jwk);
// ECDH with a peer key used once, such as a JWE's "epk": the point is checked to lie on own's
// curve as from_ec_xy checks it, but set on a key kept per thread instead of a new key (whose
// copy of the curve's group cost ~5 us, more than the check and a tenth of the ECDH).
Result<SecretBytes> ecdh(const PrivateKey& own, const EcPoint& peer);

// One-pass ECDH with a fresh key on the peer's curve, for senders such as JWE ECDH-ES: the
// ephemeral key is generated, used once and freed (OpenSSL clears its scalar), and only its
// public point leaves. Cheaper than generate_ec + ecdh, which also build the ephemeral key's
// public-only twin.
struct EphemeralEcdh {
  SecretBytes shared_secret;  // the x coordinate of the shared point
  Bytes ephemeral_xy;         // the ephemeral public key, x||y (each curve_field_size() bytes)
};
Result<EphemeralEcdh> ecdh_ephemeral(const PublicKey& peer);

enum class RsaPadding { pkcs1_v15, oaep_sha256 };
// `oaep_label`: the OAEP label (RFC 8017 §7.1.1 L), e.g. the TPM's "IDENTITY\0"; OAEP only.
Result<Bytes> rsa_encrypt(const PublicKey& key, RsaPadding padding, ByteView plaintext,
                          ByteView oaep_label = {});
Result<SecretBytes> rsa_decrypt(const PrivateKey& key, RsaPadding padding, ByteView ciphertext);

}  // namespace acon
