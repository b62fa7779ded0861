// JOSE: JWS compact serialisation and JWE (flattened JSON and compact), RFC 7515 / 7516 / 7518.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "acon/common/json.h"
#include "acon/common/keys.h"
#include "acon/common/signature.h"

namespace acon::jose {

// ---- JWS ----

enum class JwsAlg { ES256, ES384, ES512, EdDSA, RS256, RS384, RS512, PS256, PS384, PS512 };

std::string_view jws_alg_name(JwsAlg alg);
// "none" and unknown names give nullopt: an unsigned token can never be verified.
std::optional<JwsAlg> jws_alg_from_name(std::string_view name);
// The natural algorithm for a key: ES256/ES384/ES512 by curve, EdDSA, RS256 for RSA.
JwsAlg default_jws_alg(const PublicKey& key);
// Whether the key can produce/verify this alg (ES256 needs P-256, and so on).
bool jws_alg_fits(JwsAlg alg, const PublicKey& key);

// Compact JWS: b64url(header).b64url(payload).b64url(signature). `header` members other
// than "alg" are kept ("typ", "kid", ...); "alg" is set from `alg`.
Result<std::string> jws_sign(const PrivateKey& key, JwsAlg alg, ByteView payload,
                             const Json& header = Json::object());

struct Jws {
  Json header;
  JwsAlg alg;
  Bytes payload;
  Bytes signature;
  std::string signing_input;  // ASCII(b64url(header) "." b64url(payload))
};

// Structure only: decodes the three parts; nothing is trusted yet. Rejects "none", unknown
// algorithms and any "crit" member (no extensions are understood).
Result<Jws> jws_parse(std::string_view compact);
// Parses and verifies with `key`. The header's alg must be in `allowed` (all when empty) and
// fit the key, so a token cannot choose a weaker algorithm than the verifier expects.
Result<Jws> jws_verify(std::string_view compact, const PublicKey& key,
                       std::span<const JwsAlg> allowed = {});

// ---- JWE ----

enum class JweAlg { ECDH_ES_A128KW, ECDH_ES_A192KW, ECDH_ES_A256KW, RSA_OAEP_256, RSA1_5 };
enum class JweEnc { A128GCM, A192GCM, A256GCM };

std::string_view jwe_alg_name(JweAlg alg);
std::optional<JweAlg> jwe_alg_from_name(std::string_view name);
std::string_view jwe_enc_name(JweEnc enc);
std::optional<JweEnc> jwe_enc_from_name(std::string_view name);

// Encrypts to `recipient` and returns the flattened JSON serialisation
// {"protected","encrypted_key","iv","ciphertext","tag"}. The protected header is compact JSON
// with sorted keys, byte-identical to what CoCo's KBS emits and its client recomputes.
Result<Json> jwe_encrypt(const PublicKey& recipient, JweAlg alg, JweEnc enc, ByteView plaintext);
// The same, as compact serialisation (five dot-separated parts).
Result<std::string> jwe_encrypt_compact(const PublicKey& recipient, JweAlg alg, JweEnc enc,
                                        ByteView plaintext);

// Decrypts flattened JSON (also general JSON with exactly one recipient) or compact text.
// Header members may sit in "protected", "unprotected" or the recipient "header", but must not
// repeat. Failures of the key unwrap or tag are verify_failed and release no plaintext.
Result<SecretBytes> jwe_decrypt(std::string_view serialized, const PrivateKey& key);
Result<SecretBytes> jwe_decrypt_json(const Json& jwe, const PrivateKey& key);

// RFC 7518 §4.6.2 Concat KDF (NIST SP 800-56A single-step, SHA-256) for ECDH-ES.
SecretBytes concat_kdf(ByteView shared_secret, std::string_view algorithm_id, ByteView apu,
                       ByteView apv, size_t key_bits);

}  // namespace acon::jose
