#include "acon/common/jose.h"

#include <algorithm>

#include "acon/common/cipher.h"

namespace acon::jose {
namespace {

constexpr size_t kGcmIvSize = 12;

struct JwsInfo {
  JwsAlg alg;
  std::string_view name;
  SigScheme scheme;
};
constexpr JwsInfo kJwsAlgs[] = {
    {JwsAlg::ES256, "ES256", {SigKind::ecdsa, HashAlg::sha256}},
    {JwsAlg::ES384, "ES384", {SigKind::ecdsa, HashAlg::sha384}},
    {JwsAlg::ES512, "ES512", {SigKind::ecdsa, HashAlg::sha512}},
    {JwsAlg::EdDSA, "EdDSA", {SigKind::ed25519, HashAlg::sha512}},
    {JwsAlg::RS256, "RS256", {SigKind::rsa_pkcs1, HashAlg::sha256}},
    {JwsAlg::RS384, "RS384", {SigKind::rsa_pkcs1, HashAlg::sha384}},
    {JwsAlg::RS512, "RS512", {SigKind::rsa_pkcs1, HashAlg::sha512}},
    {JwsAlg::PS256, "PS256", {SigKind::rsa_pss, HashAlg::sha256}},
    {JwsAlg::PS384, "PS384", {SigKind::rsa_pss, HashAlg::sha384}},
    {JwsAlg::PS512, "PS512", {SigKind::rsa_pss, HashAlg::sha512}},
};
const JwsInfo& jws_info(JwsAlg alg) { return kJwsAlgs[static_cast<int>(alg)]; }

constexpr std::string_view kJweAlgNames[] = {"ECDH-ES+A128KW", "ECDH-ES+A192KW", "ECDH-ES+A256KW",
                                             "RSA-OAEP-256", "RSA1_5"};
constexpr std::string_view kJweEncNames[] = {"A128GCM", "A192GCM", "A256GCM"};

bool is_ecdh(JweAlg alg) { return alg <= JweAlg::ECDH_ES_A256KW; }
// Key-wrap key length in bytes for the ECDH-ES+AxxxKW algorithms.
size_t kek_size(JweAlg alg) { return 16 + 8 * static_cast<size_t>(alg); }
size_t cek_size(JweEnc enc) { return 16 + 8 * static_cast<size_t>(enc); }

Error field_error(const Error& e, std::string_view field) { return e.wrap(field); }

Result<Bytes> decode_field(std::string_view text, std::string_view field) {
  auto bytes = b64url_decode(text);
  if (!bytes) return field_error(bytes.error(), field);
  return bytes;
}

Result<Json> decode_header(std::string_view b64, std::string_view field) {
  ACON_TRY(Bytes raw, decode_field(b64, field));
  auto header = parse_json(as_chars(raw));
  if (!header) return field_error(header.error(), field);
  if (!header->is_object())
    return make_error(Errc::parse, std::string(field) + ": not a JSON object");
  return header;
}

Status reject_crit(const Json& header, std::string_view field) {
  if (header.contains("crit"))
    return make_error(Errc::unsupported,
                      std::string(field) + ".crit: no critical extensions are understood");
  return {};
}

}  // namespace

// ---- JWS ----

std::string_view jws_alg_name(JwsAlg alg) { return jws_info(alg).name; }

std::optional<JwsAlg> jws_alg_from_name(std::string_view name) {
  for (const auto& a : kJwsAlgs) {
    if (a.name == name) return a.alg;
  }
  return std::nullopt;
}

JwsAlg default_jws_alg(const PublicKey& key) {
  switch (key.type()) {
    case KeyType::ed25519:
      return JwsAlg::EdDSA;
    case KeyType::rsa:
      return JwsAlg::RS256;
    case KeyType::ec:
      break;
  }
  switch (*key.curve()) {
    case Curve::p256:
      return JwsAlg::ES256;
    case Curve::p384:
      return JwsAlg::ES384;
    case Curve::p521:
      return JwsAlg::ES512;
  }
  return JwsAlg::ES256;
}

bool jws_alg_fits(JwsAlg alg, const PublicKey& key) {
  switch (jws_info(alg).scheme.kind) {
    case SigKind::ecdsa:
      return key.type() == KeyType::ec && default_jws_alg(key) == alg;
    case SigKind::rsa_pkcs1:
    case SigKind::rsa_pss:
      return key.type() == KeyType::rsa;
    case SigKind::ed25519:
      return key.type() == KeyType::ed25519;
  }
  return false;
}

Result<std::string> jws_sign(const PrivateKey& key, JwsAlg alg, ByteView payload,
                             const Json& header) {
  if (!header.is_object())
    return make_error(Errc::invalid_argument, "jws: header must be a JSON object");
  if (!jws_alg_fits(alg, key.public_key()))
    return make_error(Errc::invalid_argument,
                      "jws: key does not fit alg " + std::string(jws_alg_name(alg)));
  Json h = header;
  h["alg"] = jws_alg_name(alg);
  std::string input = b64url(as_bytes(dump_compact(h))) + "." + b64url(payload);
  ACON_TRY(Bytes sig, sign(key, jws_info(alg).scheme, as_bytes(input), EcdsaEncoding::raw));
  return input + "." + b64url(sig);
}

Result<Jws> jws_parse(std::string_view compact) {
  auto parts = split(compact, '.');
  if (parts.size() != 3)
    return make_error(Errc::parse,
                      "jws: expected 3 dot-separated parts, got " + std::to_string(parts.size()));
  Jws jws;
  ACON_TRY(jws.header, decode_header(parts[0], "jws.header"));
  ACON_CHECK(reject_crit(jws.header, "jws.header"));
  auto alg_name = json_get_string(jws.header, "alg");
  if (!alg_name) return field_error(alg_name.error(), "jws.header");
  auto alg = jws_alg_from_name(*alg_name);
  if (!alg)
    return make_error(Errc::unsupported, "jws.header.alg: '" + *alg_name + "' is not accepted");
  jws.alg = *alg;
  ACON_TRY(jws.payload, decode_field(parts[1], "jws.payload"));
  ACON_TRY(jws.signature, decode_field(parts[2], "jws.signature"));
  jws.signing_input = std::string(compact.substr(0, parts[0].size() + 1 + parts[1].size()));
  return jws;
}

Result<Jws> jws_verify(std::string_view compact, const PublicKey& key,
                       std::span<const JwsAlg> allowed) {
  ACON_TRY(Jws jws, jws_parse(compact));
  if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), jws.alg) == allowed.end())
    return make_error(Errc::verify_failed,
                      "jws: alg " + std::string(jws_alg_name(jws.alg)) + " not allowed");
  if (!jws_alg_fits(jws.alg, key))
    return make_error(Errc::verify_failed,
                      "jws: alg " + std::string(jws_alg_name(jws.alg)) + " does not fit the key");
  auto ok = verify(key, jws_info(jws.alg).scheme, as_bytes(jws.signing_input), jws.signature,
                   EcdsaEncoding::raw);
  if (!ok) return field_error(ok.error(), "jws.signature");
  return jws;
}

// ---- JWE ----

std::string_view jwe_alg_name(JweAlg alg) { return kJweAlgNames[static_cast<int>(alg)]; }
std::string_view jwe_enc_name(JweEnc enc) { return kJweEncNames[static_cast<int>(enc)]; }

std::optional<JweAlg> jwe_alg_from_name(std::string_view name) {
  for (size_t i = 0; i < std::size(kJweAlgNames); ++i) {
    if (kJweAlgNames[i] == name) return static_cast<JweAlg>(i);
  }
  return std::nullopt;
}

std::optional<JweEnc> jwe_enc_from_name(std::string_view name) {
  for (size_t i = 0; i < std::size(kJweEncNames); ++i) {
    if (kJweEncNames[i] == name) return static_cast<JweEnc>(i);
  }
  return std::nullopt;
}

SecretBytes concat_kdf(ByteView shared_secret, std::string_view algorithm_id, ByteView apu,
                       ByteView apv, size_t key_bits) {
  Bytes other_info;
  auto put_field = [&](ByteView field) {
    append_u32be(other_info, static_cast<uint32_t>(field.size()));
    append(other_info, field);
  };
  put_field(as_bytes(algorithm_id));
  put_field(apu);
  put_field(apv);
  append_u32be(other_info, static_cast<uint32_t>(key_bits));

  size_t key_bytes = (key_bits + 7) / 8;
  SecretBytes out;
  auto hasher = *Hasher::create(HashAlg::sha256);
  for (uint32_t counter = 1; out.size() < key_bytes; ++counter) {
    Bytes c;
    append_u32be(c, counter);
    hasher.update(c);
    hasher.update(shared_secret);
    hasher.update(other_info);
    Bytes block = hasher.finish();
    out.insert(out.end(), block.begin(), block.end());
    secure_zero(block.data(), block.size());
  }
  out.resize(key_bytes);
  return out;
}

namespace {

struct Sealed {
  std::string protected_b64;
  Bytes encrypted_key, iv, ciphertext, tag;
};

Result<Sealed> seal(const PublicKey& recipient, JweAlg alg, JweEnc enc, ByteView plaintext) {
  Json header = {{"alg", jwe_alg_name(alg)}, {"enc", jwe_enc_name(enc)}};
  // The CEK and the IV from one DRBG call: each call costs a CTR-DRBG update (~2.5 us) beside
  // the bytes themselves.
  const size_t cek_bytes = cek_size(enc);
  ACON_TRY(Bytes random, random_bytes(cek_bytes + kGcmIvSize));
  SecretBytes cek = to_secret(ByteView(random).first(cek_bytes));
  Sealed out;
  out.iv.assign(random.begin() + static_cast<std::ptrdiff_t>(cek_bytes), random.end());
  secure_zero(random.data(), random.size());
  if (is_ecdh(alg)) {
    if (recipient.type() != KeyType::ec)
      return make_error(Errc::invalid_argument, "jwe: ECDH-ES needs an EC recipient key");
    ACON_TRY(EphemeralEcdh agreed, ecdh_ephemeral(recipient));
    SecretBytes kek =
        concat_kdf(view(agreed.shared_secret), jwe_alg_name(alg), {}, {}, kek_size(alg) * 8);
    ACON_TRY(out.encrypted_key, aes_key_wrap(view(kek), view(cek)));
    // The same members PublicKey::to_jwk gives an EC key (RFC 7518 §6.2.1).
    const ByteView xy = agreed.ephemeral_xy;
    const size_t field = xy.size() / 2;
    header["epk"] = Json{{"kty", "EC"},
                         {"crv", curve_jwk_name(*recipient.curve())},
                         {"x", b64url(xy.first(field))},
                         {"y", b64url(xy.subspan(field))}};
  } else {
    if (recipient.type() != KeyType::rsa)
      return make_error(Errc::invalid_argument,
                        "jwe: RSA key management needs an RSA recipient key");
    auto padding = alg == JweAlg::RSA1_5 ? RsaPadding::pkcs1_v15 : RsaPadding::oaep_sha256;
    ACON_TRY(out.encrypted_key, rsa_encrypt(recipient, padding, view(cek)));
  }
  out.protected_b64 = b64url(as_bytes(dump_compact(header)));
  ACON_TRY(GcmSealed sealed,
           aes_gcm_encrypt(view(cek), out.iv, as_bytes(out.protected_b64), plaintext));
  out.ciphertext = std::move(sealed.ciphertext);
  out.tag = std::move(sealed.tag);
  return out;
}

// The parts of a JWE after structural parsing, before any key is used.
struct JweParts {
  std::string protected_b64;
  std::string aad_b64;  // empty when absent
  Json header;          // union of protected, unprotected and recipient headers
  Bytes encrypted_key, iv, ciphertext, tag;
};

Status merge_header(Json& into, const Json& from, std::string_view field) {
  if (!from.is_object()) return make_error(Errc::parse, std::string(field) + ": not a JSON object");
  for (auto it = from.begin(); it != from.end(); ++it) {
    if (into.contains(it.key()))
      return make_error(Errc::parse,
                        std::string(field) + "." + it.key() + ": repeated in another header");
    into[it.key()] = it.value();
  }
  return {};
}

Result<std::string> member_string(const Json& jwe, std::string_view key, bool required) {
  if (!jwe.contains(key)) {
    if (required) return make_error(Errc::parse, "jwe." + std::string(key) + ": missing");
    return std::string();
  }
  auto s = json_get_string(jwe, key);
  if (!s) return field_error(s.error(), "jwe");
  return s;
}

Result<JweParts> parse_json_jwe(const Json& jwe) {
  if (!jwe.is_object()) return make_error(Errc::parse, "jwe: not a JSON object");
  JweParts p;
  ACON_TRY(p.protected_b64, member_string(jwe, "protected", true));
  ACON_TRY(p.header, decode_header(p.protected_b64, "jwe.protected"));
  if (jwe.contains("unprotected"))
    ACON_CHECK(merge_header(p.header, jwe["unprotected"], "jwe.unprotected"));
  const Json* recipient = &jwe;
  if (jwe.contains("recipients")) {
    const Json& list = jwe["recipients"];
    if (!list.is_array() || list.size() != 1)
      return make_error(Errc::unsupported, "jwe.recipients: exactly one recipient is supported");
    recipient = &list[0];
    if (!recipient->is_object())
      return make_error(Errc::parse, "jwe.recipients[0]: not a JSON object");
  }
  if (recipient->contains("header"))
    ACON_CHECK(merge_header(p.header, (*recipient)["header"], "jwe.header"));
  ACON_TRY(std::string ek, member_string(*recipient, "encrypted_key", false));
  ACON_TRY(p.encrypted_key, decode_field(ek, "jwe.encrypted_key"));
  ACON_TRY(std::string iv, member_string(jwe, "iv", true));
  ACON_TRY(p.iv, decode_field(iv, "jwe.iv"));
  ACON_TRY(std::string ct, member_string(jwe, "ciphertext", true));
  ACON_TRY(p.ciphertext, decode_field(ct, "jwe.ciphertext"));
  ACON_TRY(std::string tag, member_string(jwe, "tag", true));
  ACON_TRY(p.tag, decode_field(tag, "jwe.tag"));
  ACON_TRY(p.aad_b64, member_string(jwe, "aad", false));
  if (!p.aad_b64.empty()) ACON_CHECK(decode_field(p.aad_b64, "jwe.aad"));
  return p;
}

Result<JweParts> parse_compact_jwe(std::string_view compact) {
  auto parts = split(compact, '.');
  if (parts.size() != 5)
    return make_error(Errc::parse,
                      "jwe: expected 5 dot-separated parts, got " + std::to_string(parts.size()));
  JweParts p;
  p.protected_b64 = std::string(parts[0]);
  ACON_TRY(p.header, decode_header(parts[0], "jwe.protected"));
  ACON_TRY(p.encrypted_key, decode_field(parts[1], "jwe.encrypted_key"));
  ACON_TRY(p.iv, decode_field(parts[2], "jwe.iv"));
  ACON_TRY(p.ciphertext, decode_field(parts[3], "jwe.ciphertext"));
  ACON_TRY(p.tag, decode_field(parts[4], "jwe.tag"));
  return p;
}

// Recovers the content-encryption key. Errors here must not tell a padding oracle apart from
// a tag failure, so RSA1_5 substitutes a random key (RFC 7516 §11.5).
Result<SecretBytes> unwrap_cek(const JweParts& p, JweAlg alg, JweEnc enc, const PrivateKey& key) {
  if (is_ecdh(alg)) {
    if (key.type() != KeyType::ec)
      return make_error(Errc::invalid_argument, "jwe: alg needs an EC private key");
    ACON_TRY(const Json* epk_json, json_get(p.header, "epk"));
    auto epk = ec_point_from_jwk(*epk_json);
    if (!epk) return field_error(epk.error(), "jwe.header.epk");
    if (epk->curve != key.curve())
      return make_error(Errc::verify_failed, "jwe.header.epk: not on the recipient key's curve");
    Bytes apu, apv;
    if (p.header.contains("apu")) {
      ACON_TRY(std::string s, json_get_string(p.header, "apu"));
      ACON_TRY(apu, decode_field(s, "jwe.header.apu"));
    }
    if (p.header.contains("apv")) {
      ACON_TRY(std::string s, json_get_string(p.header, "apv"));
      ACON_TRY(apv, decode_field(s, "jwe.header.apv"));
    }
    auto z = ecdh(key, *epk);
    if (!z) return field_error(z.error(), "jwe.header.epk");
    SecretBytes kek = concat_kdf(view(*z), jwe_alg_name(alg), apu, apv, kek_size(alg) * 8);
    auto cek = aes_key_unwrap(view(kek), p.encrypted_key);
    if (!cek) return field_error(cek.error(), "jwe.encrypted_key");
    if (cek->size() != cek_size(enc))
      return make_error(Errc::verify_failed, "jwe.encrypted_key: key length does not match enc");
    return cek;
  }
  if (key.type() != KeyType::rsa)
    return make_error(Errc::invalid_argument, "jwe: alg needs an RSA private key");
  if (alg == JweAlg::RSA_OAEP_256) {
    auto cek = rsa_decrypt(key, RsaPadding::oaep_sha256, p.encrypted_key);
    if (!cek) return field_error(cek.error(), "jwe.encrypted_key");
    if (cek->size() != cek_size(enc))
      return make_error(Errc::verify_failed, "jwe.encrypted_key: key length does not match enc");
    return cek;
  }
  ACON_TRY(Bytes fallback, random_bytes(cek_size(enc)));
  SecretBytes cek = to_secret(fallback);
  secure_zero(fallback.data(), fallback.size());
  auto decrypted = rsa_decrypt(key, RsaPadding::pkcs1_v15, p.encrypted_key);
  if (decrypted && decrypted->size() == cek_size(enc)) cek = std::move(*decrypted);
  return cek;
}

Result<SecretBytes> open(const JweParts& p, const PrivateKey& key) {
  ACON_CHECK(reject_crit(p.header, "jwe.header"));
  if (p.header.contains("zip"))
    return make_error(Errc::unsupported, "jwe.header.zip: compression is not supported");
  ACON_TRY(std::string alg_name, json_get_string(p.header, "alg"));
  ACON_TRY(std::string enc_name, json_get_string(p.header, "enc"));
  auto alg = jwe_alg_from_name(alg_name);
  if (!alg)
    return make_error(Errc::unsupported, "jwe.header.alg: '" + alg_name + "' is not supported");
  auto enc = jwe_enc_from_name(enc_name);
  if (!enc)
    return make_error(Errc::unsupported, "jwe.header.enc: '" + enc_name + "' is not supported");
  if (p.iv.size() != kGcmIvSize) return make_error(Errc::parse, "jwe.iv: must be 12 bytes");
  if (p.tag.size() != 16) return make_error(Errc::parse, "jwe.tag: must be 16 bytes");
  ACON_TRY(SecretBytes cek, unwrap_cek(p, *alg, *enc, key));
  std::string aad = p.protected_b64;
  if (!p.aad_b64.empty()) aad += "." + p.aad_b64;
  auto plaintext = aes_gcm_decrypt(view(cek), p.iv, as_bytes(aad), p.ciphertext, p.tag);
  if (!plaintext) return field_error(plaintext.error(), "jwe.tag");
  return plaintext;
}

}  // namespace

Result<Json> jwe_encrypt(const PublicKey& recipient, JweAlg alg, JweEnc enc, ByteView plaintext) {
  ACON_TRY(Sealed s, seal(recipient, alg, enc, plaintext));
  return Json{{"protected", s.protected_b64},
              {"encrypted_key", b64url(s.encrypted_key)},
              {"iv", b64url(s.iv)},
              {"ciphertext", b64url(s.ciphertext)},
              {"tag", b64url(s.tag)}};
}

Result<std::string> jwe_encrypt_compact(const PublicKey& recipient, JweAlg alg, JweEnc enc,
                                        ByteView plaintext) {
  ACON_TRY(Sealed s, seal(recipient, alg, enc, plaintext));
  return s.protected_b64 + "." + b64url(s.encrypted_key) + "." + b64url(s.iv) + "." +
         b64url(s.ciphertext) + "." + b64url(s.tag);
}

Result<SecretBytes> jwe_decrypt_json(const Json& jwe, const PrivateKey& key) {
  ACON_TRY(JweParts parts, parse_json_jwe(jwe));
  return open(parts, key);
}

Result<SecretBytes> jwe_decrypt(std::string_view serialized, const PrivateKey& key) {
  size_t first = serialized.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && serialized[first] == '{') {
    ACON_TRY(Json jwe, parse_json(serialized));
    return jwe_decrypt_json(jwe, key);
  }
  ACON_TRY(JweParts parts, parse_compact_jwe(serialized));
  return open(parts, key);
}

}  // namespace acon::jose
