// EAR tokens: ES256 JWT in Trustee's header layout and COSE_Sign1 CWT; issuing and verifying.
#include <algorithm>
#include <array>

#include "acon/common/hash.h"
#include "acon/common/jose.h"
#include "acon/common/signature.h"
#include "cbor_util.h"
#include "ear_internal.h"

namespace acon::appraisal {
namespace {

constexpr SigScheme kEs256{SigKind::ecdsa, HashAlg::sha256};

Status require_p256(const PublicKey& key, std::string_view what) {
  if (key.type() != KeyType::ec || key.curve() != Curve::p256)
    return make_error(Errc::invalid_argument,
                      std::string(what) +
                          ": EAR tokens are signed with ES256, which needs a P-256 "
                          "key");
  return {};
}

// The key that must have signed the token: the pinned one, or the header key once its
// certificate chain is verified to a configured root.
Result<PublicKey> signing_key(const std::optional<PublicKey>& header_key,
                              const std::vector<Bytes>& chain_der, std::string_view chain_field,
                              const EarVerifyOptions& options) {
  if (options.trusted_key) {
    ACON_CHECK(require_p256(*options.trusted_key, "trusted key"));
    return *options.trusted_key;
  }
  if (options.roots.empty())
    return make_error(Errc::invalid_argument,
                      "ear: no trust configured (neither a trusted key nor roots)");
  if (chain_der.empty())
    return make_error(Errc::verify_failed,
                      std::string(chain_field) + ": missing; needed to chain to the roots");
  std::vector<Certificate> chain;
  for (size_t i = 0; i < chain_der.size(); ++i) {
    auto cert = Certificate::from_der(chain_der[i]);
    if (!cert) return cert.error().wrap(std::string(chain_field) + "[" + std::to_string(i) + "]");
    chain.push_back(std::move(*cert));
  }
  ACON_TRY(PublicKey leaf_key, chain.front().public_key());
  ACON_CHECK(require_p256(leaf_key, std::string(chain_field) + "[0]"));
  if (header_key && !(*header_key == leaf_key))
    return make_error(Errc::verify_failed,
                      std::string(chain_field) + "[0]: certifies a different key than the header");
  std::span<const Certificate> intermediates(chain.data() + 1, chain.size() - 1);
  auto path =
      verify_chain(chain.front(), intermediates, options.roots, {}, options.now, CrlCheck::none);
  if (!path) return path.error().wrap(chain_field);
  return leaf_key;
}

// jsonwebtoken's checks (exp required; exp, nbf with leeway) plus iat not in the future.
Status check_claims(const Ear& ear, const EarVerifyOptions& options) {
  const Time now = options.now;
  const auto leeway = options.leeway;
  if (!ear.exp) return make_error(Errc::parse, "exp: missing (required)");
  if (now > *ear.exp + leeway)
    return make_error(Errc::expired, "exp: token expired at " + format_rfc3339(*ear.exp) +
                                         ", now " + format_rfc3339(now));
  if (ear.nbf && now + leeway < *ear.nbf)
    return make_error(Errc::expired, "nbf: token not valid before " + format_rfc3339(*ear.nbf));
  if (now + leeway < ear.iat)
    return make_error(Errc::expired,
                      "iat: token issued in the future (" + format_rfc3339(ear.iat) + ")");
  if (options.audience) {
    bool found = false;
    for (const auto& a : ear.aud) found = found || a == *options.audience;
    if (!found)
      return make_error(Errc::verify_failed, "aud: does not name \"" + *options.audience + "\"");
  }
  return {};
}

}  // namespace

Result<EarSigner> EarSigner::create(PrivateKey key, std::vector<Certificate> chain) {
  ACON_CHECK(require_p256(key.public_key(), "ear signer"));
  if (!chain.empty()) {
    ACON_TRY(PublicKey leaf_key, chain.front().public_key());
    if (!(leaf_key == key.public_key()))
      return make_error(Errc::invalid_argument,
                        "ear signer: the chain's leaf certifies a different key");
  }
  // Trustee's header (ear_token/broker.rs): the signing key as a JWK carrying its alg and, when
  // configured, the x5c chain (standard base64 DER, leaf first).
  Json jwk = key.public_key().to_jwk();
  jwk["alg"] = "ES256";
  if (!chain.empty()) {
    Json x5c = Json::array();
    for (const auto& cert : chain) x5c.push_back(base64_encode(cert.der()));
    jwk["x5c"] = std::move(x5c);
  }
  Json header = {{"typ", "JWT"}, {"alg", "ES256"}, {"jwk", std::move(jwk)}};
  std::string header_b64 = b64url(as_bytes(dump_compact(header)));
  ACON_TRY(PreparedSigner es256, PreparedSigner::create(key, kEs256));
  return EarSigner(std::move(key), std::move(chain), std::move(header_b64), std::move(es256),
                   std::make_shared<JwtPrefixCache>());
}

namespace {

// The prefix of tokens by `signer` whose claims text starts with `head` and then the text of
// `entries`: from the signer's cache, or computed and added to it.
Result<std::shared_ptr<const JwtPrefix>> jwt_prefix(
    const EarSigner& signer, std::string_view head,
    const std::shared_ptr<const PrewrittenEntries>& entries) {
  JwtPrefixCache& cache = signer.jwt_prefixes();
  // Under the cache's lock: the prefix for (head, entries), moved to the front, or null.
  auto find = [&]() -> std::shared_ptr<const JwtPrefix> {
    for (auto it = cache.prefixes.begin(); it != cache.prefixes.end(); ++it) {
      if ((*it)->entries != entries || (*it)->head != head) continue;
      std::rotate(cache.prefixes.begin(), it, it + 1);
      return cache.prefixes.front();
    }
    return nullptr;
  };
  {
    std::lock_guard lock(cache.mutex);
    if (auto found = find()) return found;
  }
  std::string claims_start;
  claims_start.reserve(head.size() + entries->text.size());
  claims_start += head;
  claims_start += entries->text;
  const size_t whole_groups = claims_start.size() / 3 * 3;
  std::string token_text;
  token_text.reserve(signer.jwt_header_b64().size() + 1 + whole_groups / 3 * 4);
  token_text += signer.jwt_header_b64();
  token_text += '.';
  append_base64(token_text, as_bytes(std::string_view(claims_start).substr(0, whole_groups)),
                Base64::url_nopad);
  ACON_TRY(Hasher state, Hasher::create(HashAlg::sha256));
  state.update(token_text);
  auto prefix = std::make_shared<const JwtPrefix>(
      JwtPrefix{std::string(head), entries, std::move(token_text),
                claims_start.substr(whole_groups), std::move(state)});
  std::lock_guard lock(cache.mutex);
  // Another token may have computed it meanwhile: keep one copy.
  if (auto found = find()) return found;
  cache.prefixes.insert(cache.prefixes.begin(), prefix);
  if (cache.prefixes.size() > JwtPrefixCache::kMaxPrefixes) cache.prefixes.pop_back();
  return prefix;
}

}  // namespace

// The JWS compact form (RFC 7515 §7.1) written here rather than with jose::jws_sign, which would
// rebuild and re-encode the constant header (2/3 of it the x5c chain) for every token. When the
// EAR carries prewritten uefi_event_logs entries (appraise() of TDX evidence with a firmware-log
// cache), the token up to their end is the same for every TD of that image: its base64 text and
// the SHA-256 state after it are taken from the signer's cache, and only the rest of the claims
// (a few KB of ~55 KB) is encoded and hashed per token.
Result<std::string> sign_ear_jwt(const Ear& ear, const EarSigner& signer, bool* json_form_exact) {
  ACON_CHECK(validate_for_issue(ear));
  // The claims text is only the input of the base64url below; a per-thread buffer that keeps its
  // capacity spares each token the reallocations (and page faults) of growing a fresh string. It
  // holds nothing once the token is written.
  thread_local std::string claims;
  claims.clear();
  ClaimsSplice splice;
  const bool exact = append_ear_json_text(claims, ear, &splice);
  if (json_form_exact != nullptr) *json_form_exact = exact;
  std::string token;
  Bytes signature;
  if (!splice.entries) {
    token.reserve(signer.jwt_header_b64().size() + claims.size() * 4 / 3 + 96);
    token += signer.jwt_header_b64();
    token += '.';
    append_base64(token, as_bytes(claims), Base64::url_nopad);
    claims.clear();
    ACON_TRY(signature, signer.es256().sign(as_bytes(token), EcdsaEncoding::raw));
  } else {
    const std::string_view text = claims;
    ACON_TRY(std::shared_ptr<const JwtPrefix> prefix,
             jwt_prefix(signer, text.substr(0, splice.offset), splice.entries));
    std::string& rest = claims;  // the leftover bytes, then the claims after the entries
    rest.replace(0, splice.offset, prefix->leftover);
    token.reserve(prefix->token_text.size() + rest.size() * 4 / 3 + 96);
    token += prefix->token_text;
    append_base64(token, as_bytes(rest), Base64::url_nopad);
    claims.clear();
    ACON_TRY(Hasher hasher, prefix->signing_state.copy());
    hasher.update(std::string_view(token).substr(prefix->token_text.size()));
    std::array<uint8_t, 32> digest;
    hasher.finish_into(digest);
    ACON_TRY(signature, signer.es256().sign_digest(digest, EcdsaEncoding::raw));
  }
  token += '.';
  append_base64(token, signature, Base64::url_nopad);
  return token;
}

Result<Bytes> sign_ear_cwt(const Ear& ear, const EarSigner& signer) {
  ACON_CHECK(validate_for_issue(ear));
  ACON_TRY(Bytes protected_header, cose_protected_header(signer.chain()));
  ACON_TRY(Bytes payload, ear_to_cbor(ear));
  ACON_TRY(Bytes to_be_signed, cose_sig_structure(protected_header, payload));
  ACON_TRY(Bytes signature, signer.es256().sign(to_be_signed, EcdsaEncoding::raw));
  return cose_sign1_encode(protected_header, payload, signature);
}

Result<Ear> verify_ear_jwt(std::string_view token, const EarVerifyOptions& options) {
  if (token.size() > options.max_token_bytes)
    return make_error(Errc::parse, "jwt: " + std::to_string(token.size()) + " bytes, more than " +
                                       std::to_string(options.max_token_bytes));
  auto parsed = jose::jws_parse(token);
  if (!parsed) {
    // jws_parse refuses "none" and unknown algorithms as parse errors; say why plainly.
    return parsed.error().wrap("jwt");
  }
  const jose::Jws& jws = *parsed;
  if (jws.alg != jose::JwsAlg::ES256)
    return make_error(Errc::unsupported,
                      "jwt.header.alg: " + std::string(jose::jws_alg_name(jws.alg)) +
                          " refused; EAR tokens are ES256");
  std::optional<PublicKey> header_key;
  std::vector<Bytes> x5c;
  if (auto jwk = jws.header.find("jwk"); jwk != jws.header.end() && !options.trusted_key) {
    if (!jwk->is_object()) return make_error(Errc::parse, "jwt.header.jwk: must be an object");
    // Trustee's KBS takes the algorithm from the JWK, so it must be there and be ES256.
    auto alg = jwk->find("alg");
    if (alg == jwk->end() || !alg->is_string() || *alg != "ES256")
      return make_error(Errc::verify_failed, "jwt.header.jwk.alg: must be \"ES256\"");
    auto key = PublicKey::from_jwk(*jwk);
    if (!key) return key.error().wrap("jwt.header.jwk");
    header_key = std::move(*key);
    if (auto chain = jwk->find("x5c"); chain != jwk->end()) {
      if (!chain->is_array()) return make_error(Errc::parse, "jwt.header.jwk.x5c: not an array");
      for (size_t i = 0; i < chain->size(); ++i) {
        const Json& entry = (*chain)[i];
        std::string field = "jwt.header.jwk.x5c[" + std::to_string(i) + "]";
        if (!entry.is_string()) return make_error(Errc::parse, field + ": not a string");
        auto der = base64_decode(entry.get<std::string>());
        if (!der) return der.error().wrap(field);
        x5c.push_back(std::move(*der));
      }
    }
  }
  ACON_TRY(PublicKey key, signing_key(header_key, x5c, "jwt.header.jwk.x5c", options));
  auto verified =
      verify(key, kEs256, as_bytes(jws.signing_input), jws.signature, EcdsaEncoding::raw);
  if (!verified) return verified.error().wrap("jwt.signature");
  auto claims = parse_json(as_chars(jws.payload), kMaxJsonDepth);
  if (!claims) return claims.error().wrap("jwt.payload");
  auto ear = ear_from_json(*claims);
  if (!ear) return ear.error().wrap("jwt.payload");
  ACON_CHECK(check_claims(*ear, options));
  return std::move(*ear);
}

Result<Ear> verify_ear_cwt(ByteView token, const EarVerifyOptions& options) {
  if (token.size() > options.max_token_bytes)
    return make_error(Errc::parse, "cwt: " + std::to_string(token.size()) + " bytes, more than " +
                                       std::to_string(options.max_token_bytes));
  ACON_TRY(CoseSign1 message, cose_sign1_decode(token));
  if (!message.alg) return make_error(Errc::parse, "cose_sign1.protected.alg: missing");
  if (*message.alg != kCoseAlgEs256)
    return make_error(Errc::unsupported,
                      "cose_sign1.protected.alg: " + std::to_string(*message.alg) +
                          " refused; EAR tokens are ES256 (-7)");
  ACON_TRY(PublicKey key,
           signing_key(std::nullopt, message.x5chain, "cose_sign1.protected.x5chain", options));
  if (message.signature.size() != 64)
    return make_error(Errc::verify_failed,
                      "cose_sign1.signature: " + std::to_string(message.signature.size()) +
                          " bytes, ES256 needs 64 (r||s)");
  ACON_TRY(Bytes to_be_signed, cose_sig_structure(message.protected_header, message.payload));
  auto verified = verify(key, kEs256, to_be_signed, message.signature, EcdsaEncoding::raw);
  if (!verified) return verified.error().wrap("cose_sign1.signature");
  ACON_TRY(Ear ear, ear_from_cbor(message.payload, message.payload_offset));
  ACON_CHECK(check_claims(ear, options));
  return ear;
}

}  // namespace acon::appraisal
