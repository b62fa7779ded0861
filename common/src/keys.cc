#include "acon/common/keys.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <array>
#include <climits>

#include "acon/common/json.h"

namespace acon {
namespace {

using nlohmann::json;

struct CurveInfo {
  Curve curve;
  std::string_view jwk;
  const char* group;  // OpenSSL group name
  size_t field;
};
constexpr CurveInfo kCurves[] = {
    {Curve::p256, "P-256", "prime256v1", 32},
    {Curve::p384, "P-384", "secp384r1", 48},
    {Curve::p521, "P-521", "secp521r1", 66},
};
const CurveInfo& curve_info(Curve c) { return kCurves[static_cast<int>(c)]; }

Error crypto_error(std::string_view what) {
  return make_error(Errc::crypto, std::string(what) + ": " + ossl::drain_errors());
}
Error key_error(Errc code, std::string_view what) {
  ERR_clear_error();
  return make_error(code, "key: " + std::string(what));
}

// The RSA public-key checks, the same for every way a key arrives (JWK, PEM, DER, certificate).
// They are deterministic on purpose: OpenSSL 3.0's EVP_PKEY_public_check runs Miller-Rabin on n
// with random bases, so an odd-shaped modulus may pass one import and fail the next.
Status check_rsa_public(EVP_PKEY* key) {
  int bits = EVP_PKEY_get_bits(key);
  if (bits < kMinRsaBits || bits > kMaxRsaBits)
    return key_error(Errc::unsupported, "RSA modulus of " + std::to_string(bits) +
                                            " bits is outside " + std::to_string(kMinRsaBits) +
                                            ".." + std::to_string(kMaxRsaBits));
  BIGNUM* raw_n = nullptr;
  BIGNUM* raw_e = nullptr;
  EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &raw_n);
  ossl::BnPtr n(raw_n);
  EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &raw_e);
  ossl::BnPtr e(raw_e);
  if (!n || !e) return crypto_error("RSA parameters");
  if (!BN_is_odd(n.get())) return key_error(Errc::parse, "RSA modulus is even");
  // As SP 800-56B's public-key check: e odd, 1 < e < 2^256 (and so far below n).
  if (!BN_is_odd(e.get()) || BN_is_one(e.get()) || BN_num_bits(e.get()) > 256)
    return key_error(Errc::parse, "RSA public exponent must be odd, > 1 and < 2^256");
  return {};
}

// Identifies a key's type and curve; rejects everything outside the supported set.
Result<std::pair<KeyType, std::optional<Curve>>> classify(EVP_PKEY* key) {
  // EC first: certificate and attestation keys are EC, and each test is a name lookup.
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[64] = {};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       &len) != 1)
      return key_error(Errc::unsupported, "EC key without a named curve");
    for (const auto& c : kCurves) {
      if (std::string_view(group) == c.group) return std::pair{KeyType::ec, std::optional{c.curve}};
    }
    return key_error(Errc::unsupported, "EC curve " + std::string(group) + " is not supported");
  }
  if (EVP_PKEY_is_a(key, "ED25519")) return std::pair{KeyType::ed25519, std::optional<Curve>{}};
  if (EVP_PKEY_is_a(key, "RSA")) {
    ACON_CHECK(check_rsa_public(key));
    return std::pair{KeyType::rsa, std::optional<Curve>{}};
  }
  return key_error(Errc::unsupported, "key type is not EC, RSA or Ed25519");
}

Result<ossl::PkeyPtr> decode(ByteView data, const char* input_type, int selection) {
  EVP_PKEY* raw = nullptr;
  using DecoderCtxPtr = std::unique_ptr<OSSL_DECODER_CTX, ossl::Deleter<OSSL_DECODER_CTX_free>>;
  DecoderCtxPtr dctx(OSSL_DECODER_CTX_new_for_pkey(&raw, input_type, nullptr, nullptr, selection,
                                                   nullptr, nullptr));
  if (!dctx) return crypto_error("key decoder");
  const unsigned char* p = data.data();
  size_t len = data.size();
  if (OSSL_DECODER_from_data(dctx.get(), &p, &len) != 1 || raw == nullptr) {
    ossl::PkeyPtr discard(raw);
    return key_error(Errc::parse, std::string("not a ") +
                                      (selection == EVP_PKEY_KEYPAIR ? "private" : "public") +
                                      " key in " + input_type);
  }
  return ossl::PkeyPtr(raw);
}

Result<ossl::PkeyPtr> from_params(const char* type, OSSL_PARAM_BLD* bld, int selection) {
  ossl::OsslParamPtr params(OSSL_PARAM_BLD_to_param(bld));
  ossl::PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, selection, params.get()) != 1)
    return key_error(Errc::parse, std::string("invalid ") + type + " key parameters");
  ossl::PkeyPtr key(raw);
  // fromdata does not always validate; a point off the curve or an inconsistent key pair
  // must never reach ECDH or signature code.
  // An RSA public key has no OpenSSL check here: check_rsa_public (through classify) is its
  // deterministic replacement.
  if (selection != EVP_PKEY_KEYPAIR && std::string_view(type) == "RSA") return key;
  ossl::PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  int ok = selection == EVP_PKEY_KEYPAIR ? EVP_PKEY_pairwise_check(check.get())
                                         : EVP_PKEY_public_check(check.get());
  if (!check || ok != 1) return key_error(Errc::parse, std::string(type) + " key fails validation");
  return key;
}

Bytes bn_param(EVP_PKEY* key, const char* name, size_t pad_to) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &raw) != 1) return {};
  ossl::BnPtr bn(raw);
  size_t n = pad_to != 0 ? pad_to : static_cast<size_t>(BN_num_bytes(bn.get()));
  Bytes out(n);
  BN_bn2binpad(bn.get(), out.data(), static_cast<int>(n));
  return out;
}

// Member "name" of a JWK as base64url bytes, optionally of an exact length.
Result<Bytes> jwk_bytes(const json& jwk, std::string_view name, size_t exact = 0) {
  ACON_TRY(std::string text, json_get_string(jwk, name));
  auto bytes = b64url_decode(text);
  if (!bytes) return bytes.error().wrap("jwk." + std::string(name));
  if (exact != 0 && bytes->size() != exact)
    return make_error(Errc::parse, "jwk." + std::string(name) + ": expected " +
                                       std::to_string(exact) + " bytes, got " +
                                       std::to_string(bytes->size()));
  return bytes;
}

Result<Curve> jwk_curve(const json& jwk) {
  ACON_TRY(std::string crv, json_get_string(jwk, "crv"));
  for (const auto& c : kCurves) {
    if (crv == c.jwk) return c.curve;
  }
  return make_error(Errc::unsupported, "jwk.crv: unsupported curve '" + crv + "'");
}

int push_bn(OSSL_PARAM_BLD* bld, const char* name, ByteView bytes, std::vector<ossl::BnPtr>& keep) {
  if (bytes.size() > INT_MAX) return 0;
  keep.emplace_back(BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), nullptr));
  return keep.back() ? OSSL_PARAM_BLD_push_BN(bld, name, keep.back().get()) : 0;
}

Bytes uncompressed_point(ByteView xy) {
  Bytes point{0x04};
  append(point, xy);
  return point;
}

// Builds an EC key from a JWK or raw coordinates; d empty for a public key.
Result<ossl::PkeyPtr> ec_key(Curve curve, ByteView xy, ByteView d) {
  const auto& info = curve_info(curve);
  ossl::OsslParamBldPtr bld(OSSL_PARAM_BLD_new());
  std::vector<ossl::BnPtr> keep;
  Bytes point = uncompressed_point(xy);
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, info.group, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1 ||
      (!d.empty() && push_bn(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, d, keep) != 1))
    return crypto_error("EC params");
  return from_params("EC", bld.get(), d.empty() ? EVP_PKEY_PUBLIC_KEY : EVP_PKEY_KEYPAIR);
}

// A parameters-only EC key per curve, built once per process. from_ec_xy duplicates it and sets
// the point: EVP_PKEY_fromdata builds the curve group from scratch (Montgomery constants and
// all) for every key, which costs several times an ECDSA verification on OpenSSL 3.0.
EVP_PKEY* ec_domain_template(Curve curve) {
  struct Templates {
    std::array<ossl::PkeyPtr, std::size(kCurves)> by_curve;
    Templates() {
      OPENSSL_init_crypto(0, nullptr);  // so OpenSSL's own cleanup runs after our destructor
      for (const auto& c : kCurves) {
        ossl::OsslParamBldPtr bld(OSSL_PARAM_BLD_new());
        if (!bld ||
            OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, c.group, 0) != 1)
          continue;
        ossl::OsslParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
        ossl::PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
        EVP_PKEY* raw = nullptr;
        if (params && ctx && EVP_PKEY_fromdata_init(ctx.get()) == 1 &&
            EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_KEY_PARAMETERS, params.get()) == 1)
          by_curve[static_cast<size_t>(c.curve)].reset(raw);
        ERR_clear_error();
      }
    }
  };
  static const Templates templates;
  return templates.by_curve[static_cast<size_t>(curve)].get();
}

// A public EC key from an encoded point on the template's group. EVP_PKEY_set1_encoded_public_key
// decodes the point with EC_POINT_oct2point, which refuses coordinates outside the field and
// points off the curve; the NIST curves have cofactor 1, so that is the full public-key
// validation (EVP_PKEY_public_check would add a scalar multiplication by the group order).
Result<ossl::PkeyPtr> ec_key_from_point(Curve curve, ByteView encoded) {
  EVP_PKEY* domain = ec_domain_template(curve);
  if (domain == nullptr) return crypto_error("EC domain parameters");
  ossl::PkeyPtr key(EVP_PKEY_dup(domain));
  if (!key) return crypto_error("EC key copy");
  if (EVP_PKEY_set1_encoded_public_key(key.get(), encoded.data(), encoded.size()) != 1)
    return key_error(Errc::parse, "EC key fails validation");
  return key;
}

// A public EC key from x||y (its length checked by the caller against the curve).
Result<ossl::PkeyPtr> ec_public_key_fast(Curve curve, ByteView xy) {
  uint8_t point[1 + 2 * 66];
  if (xy.size() > sizeof point - 1) return key_error(Errc::parse, "EC point too long");
  point[0] = 0x04;
  std::copy(xy.begin(), xy.end(), point + 1);
  return ec_key_from_point(curve, ByteView(point, 1 + xy.size()));
}

// The public half of an EC key pair as its own key: the pair's encoded point on the template,
// ~5x cheaper than exporting and importing the public parameters, which rebuilds the group.
Result<ossl::PkeyPtr> ec_public_twin(EVP_PKEY* pair, Curve curve) {
  uint8_t point[1 + 2 * 66];
  size_t point_len = 0;
  if (EVP_PKEY_get_octet_string_param(pair, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point,
                                      &point_len) != 1)
    return crypto_error("EC public key export");
  return ec_key_from_point(curve, ByteView(point, point_len));
}

Result<ossl::PkeyPtr> ed25519_key(ByteView pub, ByteView priv) {
  EVP_PKEY* raw =
      priv.empty()
          ? EVP_PKEY_new_raw_public_key_ex(nullptr, "ED25519", nullptr, pub.data(), pub.size())
          : EVP_PKEY_new_raw_private_key_ex(nullptr, "ED25519", nullptr, priv.data(), priv.size());
  if (raw == nullptr) return key_error(Errc::parse, "invalid Ed25519 key bytes");
  ossl::PkeyPtr key(raw);
  if (!priv.empty()) {
    Bytes derived(32);
    size_t len = derived.size();
    if (EVP_PKEY_get_raw_public_key(key.get(), derived.data(), &len) != 1 ||
        !ct_equal(derived, pub))
      return key_error(Errc::parse, "Ed25519 private key does not match x");
  }
  return key;
}

}  // namespace

std::string_view curve_jwk_name(Curve c) { return curve_info(c).jwk; }
size_t curve_field_size(Curve c) { return curve_info(c).field; }

// ---- PublicKey ----

Result<PublicKey> PublicKey::adopt(ossl::PkeyPtr key) {
  if (!key) return key_error(Errc::invalid_argument, "null key");
  ACON_TRY(auto kind, classify(key.get()));
  return PublicKey(std::shared_ptr<EVP_PKEY>(key.release(), EVP_PKEY_free), kind.first,
                   kind.second);
}

Result<PublicKey> PublicKey::from_pem(std::string_view pem) {
  ACON_TRY(auto key, decode(as_bytes(pem), "PEM", EVP_PKEY_PUBLIC_KEY));
  return adopt(std::move(key));
}

Result<PublicKey> PublicKey::from_der(ByteView der) {
  ACON_TRY(auto key, decode(der, "DER", EVP_PKEY_PUBLIC_KEY));
  return adopt(std::move(key));
}

Result<PublicKey> PublicKey::from_ec_xy(Curve curve, ByteView xy) {
  if (xy.size() != 2 * curve_field_size(curve))
    return make_error(Errc::parse, "ec key: expected " +
                                       std::to_string(2 * curve_field_size(curve)) +
                                       " bytes of x||y, got " + std::to_string(xy.size()));
  ACON_TRY(auto key, ec_public_key_fast(curve, xy));
  return PublicKey(std::shared_ptr<EVP_PKEY>(key.release(), EVP_PKEY_free), KeyType::ec, curve);
}

Result<PublicKey> PublicKey::from_rsa(ByteView n, ByteView e) {
  ossl::OsslParamBldPtr bld(OSSL_PARAM_BLD_new());
  std::vector<ossl::BnPtr> keep;
  if (!bld || push_bn(bld.get(), OSSL_PKEY_PARAM_RSA_N, n, keep) != 1 ||
      push_bn(bld.get(), OSSL_PKEY_PARAM_RSA_E, e, keep) != 1)
    return crypto_error("RSA params");
  ACON_TRY(auto key, from_params("RSA", bld.get(), EVP_PKEY_PUBLIC_KEY));
  return adopt(std::move(key));
}

Result<PublicKey> PublicKey::from_ed25519(ByteView raw) {
  if (raw.size() != 32) return make_error(Errc::parse, "ed25519 key: expected 32 bytes");
  ACON_TRY(auto key, ed25519_key(raw, {}));
  return adopt(std::move(key));
}

Result<PublicKey> PublicKey::from_jwk(const json& jwk) {
  if (!jwk.is_object()) return make_error(Errc::parse, "jwk: not a JSON object");
  ACON_TRY(std::string kty, json_get_string(jwk, "kty"));
  if (kty == "EC") {
    ACON_TRY(EcPoint point, ec_point_from_jwk(jwk));
    return from_ec_xy(point.curve, point.xy);
  }
  if (kty == "RSA") {
    ACON_TRY(Bytes n, jwk_bytes(jwk, "n"));
    ACON_TRY(Bytes e, jwk_bytes(jwk, "e"));
    return from_rsa(n, e);
  }
  if (kty == "OKP") {
    ACON_TRY(std::string crv, json_get_string(jwk, "crv"));
    if (crv != "Ed25519")
      return make_error(Errc::unsupported, "jwk.crv: unsupported OKP curve '" + crv + "'");
    ACON_TRY(Bytes x, jwk_bytes(jwk, "x", 32));
    return from_ed25519(x);
  }
  return make_error(Errc::unsupported, "jwk.kty: unsupported key type '" + kty + "'");
}

int PublicKey::bits() const { return EVP_PKEY_get_bits(key_.get()); }

Bytes PublicKey::to_der() const {
  int len = i2d_PUBKEY(key_.get(), nullptr);
  if (len <= 0) return {};
  Bytes out(static_cast<size_t>(len));
  unsigned char* p = out.data();
  i2d_PUBKEY(key_.get(), &p);
  return out;
}

std::string PublicKey::to_pem() const {
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key_.get()) != 1) return {};
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

Bytes PublicKey::ec_xy() const {
  if (type_ != KeyType::ec) return {};
  size_t field = curve_field_size(*curve_);
  // The encoded point is one affine conversion into a stack buffer; the X and Y parameters
  // would be two, each through a BIGNUM (about 4x the cost). A key that arrived compressed
  // keeps that form for its encoding, so only an uncompressed point is taken as it is.
  uint8_t point[1 + 2 * 66];
  size_t point_len = 0;
  if (EVP_PKEY_get_octet_string_param(key_.get(), OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point,
                                      &point_len) == 1 &&
      point_len == 1 + 2 * field && point[0] == 0x04)
    return Bytes(point + 1, point + point_len);
  ERR_clear_error();
  Bytes xy = bn_param(key_.get(), OSSL_PKEY_PARAM_EC_PUB_X, field);
  append(xy, bn_param(key_.get(), OSSL_PKEY_PARAM_EC_PUB_Y, field));
  return xy;
}

json PublicKey::to_jwk() const {
  switch (type_) {
    case KeyType::ec: {
      Bytes xy = ec_xy();
      size_t field = xy.size() / 2;
      return {{"kty", "EC"},
              {"crv", curve_jwk_name(*curve_)},
              {"x", b64url(ByteView(xy).first(field))},
              {"y", b64url(ByteView(xy).subspan(field))}};
    }
    case KeyType::rsa:
      return {{"kty", "RSA"},
              {"n", b64url(bn_param(key_.get(), OSSL_PKEY_PARAM_RSA_N, 0))},
              {"e", b64url(bn_param(key_.get(), OSSL_PKEY_PARAM_RSA_E, 0))}};
    case KeyType::ed25519: {
      Bytes raw(32);
      size_t len = raw.size();
      EVP_PKEY_get_raw_public_key(key_.get(), raw.data(), &len);
      return {{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", b64url(raw)}};
    }
  }
  return json::object();
}

std::string PublicKey::thumbprint(HashAlg alg) const {
  // to_jwk() holds exactly the RFC 7638 required members; dump() sorts keys, no whitespace.
  std::string canonical = to_jwk().dump();
  auto d = digest(alg, canonical);
  return d ? b64url(*d) : std::string();
}

bool PublicKey::operator==(const PublicKey& other) const {
  return EVP_PKEY_eq(key_.get(), other.key_.get()) == 1;
}

// ---- PrivateKey ----

Result<PrivateKey> PrivateKey::adopt(ossl::PkeyPtr key) {
  if (!key) return key_error(Errc::invalid_argument, "null key");
  ACON_TRY(auto kind, classify(key.get()));
  if (kind.first == KeyType::ec) {
    // See ec_public_twin: the generic export/import below would rebuild the curve group.
    ACON_TRY(ossl::PkeyPtr pub, ec_public_twin(key.get(), *kind.second));
    return PrivateKey(std::shared_ptr<EVP_PKEY>(key.release(), EVP_PKEY_free),
                      PublicKey(std::shared_ptr<EVP_PKEY>(pub.release(), EVP_PKEY_free),
                                KeyType::ec, kind.second));
  }
  // A public-only twin built from the key's public parameters (an encode/decode round trip
  // through SubjectPublicKeyInfo would cost ~20x more on OpenSSL 3.0).
  OSSL_PARAM* raw_params = nullptr;
  if (EVP_PKEY_todata(key.get(), EVP_PKEY_PUBLIC_KEY, &raw_params) != 1)
    return crypto_error("public key export");
  ossl::OsslParamPtr params(raw_params);
  ossl::PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  EVP_PKEY* raw_pub = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw_pub, EVP_PKEY_PUBLIC_KEY, params.get()) != 1)
    return crypto_error("public key copy");
  ACON_TRY(PublicKey pub, PublicKey::adopt(ossl::PkeyPtr(raw_pub)));
  return PrivateKey(std::shared_ptr<EVP_PKEY>(key.release(), EVP_PKEY_free), std::move(pub));
}

namespace {
// A key pair on the per-process curve template, made through a key-generation context kept per
// thread and curve: EVP_EC_gen builds the group from its name (Montgomery set-up included) for
// every key, which is half the cost of a P-256 keygen, and a new context copies the template's
// group once more (~15 us a key with a new context, ~12.5 us with a kept one). The context holds
// only the domain parameters.
Result<ossl::PkeyPtr> generate_ec_key(Curve curve) {
  thread_local std::array<ossl::PkeyCtxPtr, std::size(kCurves)> generators;
  ossl::PkeyCtxPtr& ctx = generators[static_cast<size_t>(curve)];
  if (!ctx) {
    EVP_PKEY* domain = ec_domain_template(curve);
    if (domain == nullptr) return crypto_error("EC domain parameters");
    ossl::PkeyCtxPtr made(EVP_PKEY_CTX_new_from_pkey(nullptr, domain, nullptr));
    if (!made || EVP_PKEY_keygen_init(made.get()) != 1) return crypto_error("EC key generation");
    ctx = std::move(made);
  }
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_generate(ctx.get(), &raw) != 1) return crypto_error("EC key generation");
  return ossl::PkeyPtr(raw);
}
}  // namespace

Result<PrivateKey> PrivateKey::generate_ec(Curve curve) {
  ACON_TRY(ossl::PkeyPtr key, generate_ec_key(curve));
  ACON_TRY(ossl::PkeyPtr pub, ec_public_twin(key.get(), curve));
  return PrivateKey(
      std::shared_ptr<EVP_PKEY>(key.release(), EVP_PKEY_free),
      PublicKey(std::shared_ptr<EVP_PKEY>(pub.release(), EVP_PKEY_free), KeyType::ec, curve));
}

Result<PrivateKey> PrivateKey::generate_rsa(int bits) {
  if (bits < kMinRsaBits || bits > kMaxRsaBits)
    return make_error(Errc::invalid_argument, "RSA key size must be " +
                                                  std::to_string(kMinRsaBits) + ".." +
                                                  std::to_string(kMaxRsaBits) + " bits");
  EVP_PKEY* raw = EVP_RSA_gen(static_cast<unsigned>(bits));
  if (raw == nullptr) return crypto_error("RSA key generation");
  return adopt(ossl::PkeyPtr(raw));
}

Result<PrivateKey> PrivateKey::generate_ed25519() {
  EVP_PKEY* raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (raw == nullptr) return crypto_error("Ed25519 key generation");
  return adopt(ossl::PkeyPtr(raw));
}

Result<PrivateKey> PrivateKey::from_pem(std::string_view pem) {
  ACON_TRY(auto key, decode(as_bytes(pem), "PEM", EVP_PKEY_KEYPAIR));
  return adopt(std::move(key));
}

Result<PrivateKey> PrivateKey::from_der(ByteView der) {
  ACON_TRY(auto key, decode(der, "DER", EVP_PKEY_KEYPAIR));
  return adopt(std::move(key));
}

Result<PrivateKey> PrivateKey::from_jwk(const json& jwk) {
  if (!jwk.is_object()) return make_error(Errc::parse, "jwk: not a JSON object");
  if (!jwk.contains("d")) return make_error(Errc::parse, "jwk.d: missing (not a private key)");
  ACON_TRY(std::string kty, json_get_string(jwk, "kty"));
  if (kty == "EC") {
    ACON_TRY(Curve curve, jwk_curve(jwk));
    size_t field = curve_field_size(curve);
    ACON_TRY(Bytes xy, jwk_bytes(jwk, "x", field));
    ACON_TRY(Bytes y, jwk_bytes(jwk, "y", field));
    ACON_TRY(Bytes d_raw, jwk_bytes(jwk, "d", field));
    SecretBytes d = to_secret(d_raw);
    secure_zero(d_raw.data(), d_raw.size());
    append(xy, y);
    ACON_TRY(auto key, ec_key(curve, xy, view(d)));
    return adopt(std::move(key));
  }
  if (kty == "RSA") {
    ossl::OsslParamBldPtr bld(OSSL_PARAM_BLD_new());
    std::vector<ossl::BnPtr> keep;
    if (!bld) return crypto_error("RSA params");
    // n, e and d are required; the CRT members come all together or not at all.
    struct Member {
      const char* jwk;
      const char* param;
      bool crt;
    };
    static constexpr Member kMembers[] = {{"n", OSSL_PKEY_PARAM_RSA_N, false},
                                          {"e", OSSL_PKEY_PARAM_RSA_E, false},
                                          {"d", OSSL_PKEY_PARAM_RSA_D, false},
                                          {"p", OSSL_PKEY_PARAM_RSA_FACTOR1, true},
                                          {"q", OSSL_PKEY_PARAM_RSA_FACTOR2, true},
                                          {"dp", OSSL_PKEY_PARAM_RSA_EXPONENT1, true},
                                          {"dq", OSSL_PKEY_PARAM_RSA_EXPONENT2, true},
                                          {"qi", OSSL_PKEY_PARAM_RSA_COEFFICIENT1, true}};
    bool has_crt = jwk.contains("p");
    for (const auto& m : kMembers) {
      if (m.crt && !has_crt) continue;
      ACON_TRY(Bytes v, jwk_bytes(jwk, m.jwk));
      int ok = push_bn(bld.get(), m.param, v, keep);
      secure_zero(v.data(), v.size());
      if (ok != 1) return crypto_error("RSA params");
    }
    ACON_TRY(auto key, from_params("RSA", bld.get(), EVP_PKEY_KEYPAIR));
    return adopt(std::move(key));
  }
  if (kty == "OKP") {
    ACON_TRY(std::string crv, json_get_string(jwk, "crv"));
    if (crv != "Ed25519")
      return make_error(Errc::unsupported, "jwk.crv: unsupported OKP curve '" + crv + "'");
    ACON_TRY(Bytes x, jwk_bytes(jwk, "x", 32));
    ACON_TRY(Bytes d_raw, jwk_bytes(jwk, "d", 32));
    SecretBytes d = to_secret(d_raw);
    secure_zero(d_raw.data(), d_raw.size());
    ACON_TRY(auto key, ed25519_key(x, view(d)));
    return adopt(std::move(key));
  }
  return make_error(Errc::unsupported, "jwk.kty: unsupported key type '" + kty + "'");
}

SecretBytes PrivateKey::to_pem() const {
  ossl::BioPtr bio(BIO_new(BIO_s_secmem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return {};
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return SecretBytes(data, data + len);
}

json PrivateKey::to_jwk() const {
  json jwk = pub_.to_jwk();
  EVP_PKEY* key = key_.get();
  auto put = [&](const char* member, Bytes secret) {
    jwk[member] = b64url(secret);
    secure_zero(secret.data(), secret.size());
  };
  switch (type()) {
    case KeyType::ec:
      put("d", bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, curve_field_size(*curve())));
      break;
    case KeyType::rsa:
      put("d", bn_param(key, OSSL_PKEY_PARAM_RSA_D, 0));
      put("p", bn_param(key, OSSL_PKEY_PARAM_RSA_FACTOR1, 0));
      put("q", bn_param(key, OSSL_PKEY_PARAM_RSA_FACTOR2, 0));
      put("dp", bn_param(key, OSSL_PKEY_PARAM_RSA_EXPONENT1, 0));
      put("dq", bn_param(key, OSSL_PKEY_PARAM_RSA_EXPONENT2, 0));
      put("qi", bn_param(key, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, 0));
      break;
    case KeyType::ed25519: {
      Bytes raw(32);
      size_t len = raw.size();
      EVP_PKEY_get_raw_private_key(key, raw.data(), &len);
      put("d", std::move(raw));
      break;
    }
  }
  return jwk;
}

// ---- ECDH and RSA encryption ----

namespace {
// The shared x coordinate of `own` (a key pair) and `peer`, both EC on one curve.
Result<SecretBytes> derive_ecdh(EVP_PKEY* own, EVP_PKEY* peer) {
  ossl::PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, own, nullptr));
  size_t len = 0;
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      // Every PublicKey was validated when it was built, so OpenSSL need not check it again.
      EVP_PKEY_derive_set_peer_ex(ctx.get(), peer, 0) != 1 ||
      EVP_PKEY_derive(ctx.get(), nullptr, &len) != 1)
    return crypto_error("ecdh");
  SecretBytes z(len);
  if (EVP_PKEY_derive(ctx.get(), z.data(), &len) != 1) return crypto_error("ecdh");
  z.resize(len);
  return z;
}
}  // namespace

Result<SecretBytes> ecdh(const PrivateKey& own, const PublicKey& peer) {
  if (own.type() != KeyType::ec || peer.type() != KeyType::ec || own.curve() != peer.curve())
    return make_error(Errc::invalid_argument, "ecdh: keys must be EC keys on the same curve");
  return derive_ecdh(own.get(), peer.get());
}

Result<EcPoint> ec_point_from_jwk(const json& jwk) {
  if (!jwk.is_object()) return make_error(Errc::parse, "jwk: not a JSON object");
  ACON_TRY(std::string kty, json_get_string(jwk, "kty"));
  if (kty != "EC") return make_error(Errc::unsupported, "jwk.kty: '" + kty + "' is not EC");
  ACON_TRY(Curve curve, jwk_curve(jwk));
  const size_t field = curve_field_size(curve);
  ACON_TRY(Bytes xy, jwk_bytes(jwk, "x", field));
  ACON_TRY(Bytes y, jwk_bytes(jwk, "y", field));
  append(xy, y);
  return EcPoint{curve, std::move(xy)};
}

Result<SecretBytes> ecdh(const PrivateKey& own, const EcPoint& peer) {
  if (own.type() != KeyType::ec || own.curve() != peer.curve)
    return make_error(Errc::invalid_argument, "ecdh: the peer point must be on the key's curve");
  const size_t field = curve_field_size(peer.curve);
  if (peer.xy.size() != 2 * field)
    return make_error(Errc::parse, "ec point: expected " + std::to_string(2 * field) +
                                       " bytes of x||y, got " + std::to_string(peer.xy.size()));
  // Public points only: whatever a thread's key last held is overwritten before every use, and
  // a point that fails the check is never used.
  thread_local std::array<ossl::PkeyPtr, std::size(kCurves)> peers;
  ossl::PkeyPtr& key = peers[static_cast<size_t>(peer.curve)];
  if (!key) {
    EVP_PKEY* domain = ec_domain_template(peer.curve);
    if (domain == nullptr) return crypto_error("EC domain parameters");
    key.reset(EVP_PKEY_dup(domain));
    if (!key) return crypto_error("EC key copy");
  }
  uint8_t point[1 + 2 * 66];
  point[0] = 0x04;
  std::copy(peer.xy.begin(), peer.xy.end(), point + 1);
  if (EVP_PKEY_set1_encoded_public_key(key.get(), point, 1 + peer.xy.size()) != 1)
    return key_error(Errc::parse, "EC key fails validation");
  return derive_ecdh(own.get(), key.get());
}

Result<EphemeralEcdh> ecdh_ephemeral(const PublicKey& peer) {
  if (peer.type() != KeyType::ec)
    return make_error(Errc::invalid_argument, "ecdh: the peer key must be an EC key");
  const Curve curve = *peer.curve();
  // No PrivateKey (and so no public twin, ~1/6 of a P-256 keygen) is built: the key is used
  // once and only its point is sent.
  ACON_TRY(ossl::PkeyPtr ephemeral, generate_ec_key(curve));
  const size_t field = curve_field_size(curve);
  uint8_t point[1 + 2 * 66];
  size_t point_len = 0;
  if (EVP_PKEY_get_octet_string_param(ephemeral.get(), OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point,
                                      &point_len) != 1 ||
      point_len != 1 + 2 * field || point[0] != 0x04)
    return crypto_error("EC public key export");
  EphemeralEcdh out;
  ACON_TRY(out.shared_secret, derive_ecdh(ephemeral.get(), peer.get()));
  out.ephemeral_xy.assign(point + 1, point + point_len);
  return out;
}

namespace {
Result<ossl::PkeyCtxPtr> rsa_ctx(EVP_PKEY* key, RsaPadding padding, bool encrypt) {
  ossl::PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (!ctx || (encrypt ? EVP_PKEY_encrypt_init(ctx.get()) : EVP_PKEY_decrypt_init(ctx.get())) != 1)
    return crypto_error("rsa init");
  if (padding == RsaPadding::pkcs1_v15) {
    if (EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1)
      return crypto_error("rsa padding");
  } else if (EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
             EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), ossl::md("SHA2-256")) != 1 ||
             EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), ossl::md("SHA2-256")) != 1) {
    return crypto_error("rsa oaep");
  }
  return ctx;
}
}  // namespace

Result<Bytes> rsa_encrypt(const PublicKey& key, RsaPadding padding, ByteView plaintext,
                          ByteView oaep_label) {
  if (key.type() != KeyType::rsa)
    return make_error(Errc::invalid_argument, "rsa_encrypt: not an RSA key");
  ACON_TRY(auto ctx, rsa_ctx(key.get(), padding, true));
  if (!oaep_label.empty()) {
    if (padding != RsaPadding::oaep_sha256)
      return make_error(Errc::invalid_argument, "rsa_encrypt: a label needs OAEP");
    // set0 takes ownership of an OPENSSL_malloc'd copy, also when it fails.
    void* label = OPENSSL_memdup(oaep_label.data(), oaep_label.size());
    if (label == nullptr || EVP_PKEY_CTX_set0_rsa_oaep_label(
                                ctx.get(), label, static_cast<int>(oaep_label.size())) <= 0)
      return crypto_error("rsa oaep label");
  }
  size_t len = 0;
  if (EVP_PKEY_encrypt(ctx.get(), nullptr, &len, plaintext.data(), plaintext.size()) != 1)
    return crypto_error("rsa encrypt");
  Bytes out(len);
  if (EVP_PKEY_encrypt(ctx.get(), out.data(), &len, plaintext.data(), plaintext.size()) != 1)
    return make_error(Errc::invalid_argument,
                      "rsa encrypt: plaintext too long for the key: " + ossl::drain_errors());
  out.resize(len);
  return out;
}

Result<SecretBytes> rsa_decrypt(const PrivateKey& key, RsaPadding padding, ByteView ciphertext) {
  if (key.type() != KeyType::rsa)
    return make_error(Errc::invalid_argument, "rsa_decrypt: not an RSA key");
  ACON_TRY(auto ctx, rsa_ctx(key.get(), padding, false));
  size_t len = 0;
  if (EVP_PKEY_decrypt(ctx.get(), nullptr, &len, ciphertext.data(), ciphertext.size()) != 1)
    return crypto_error("rsa decrypt");
  SecretBytes out(len);
  if (EVP_PKEY_decrypt(ctx.get(), out.data(), &len, ciphertext.data(), ciphertext.size()) != 1) {
    ERR_clear_error();
    return make_error(Errc::verify_failed, "rsa decrypt: padding check failed");
  }
  out.resize(len);
  return out;
}

}  // namespace acon
