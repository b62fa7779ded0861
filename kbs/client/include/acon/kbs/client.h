// The KBS client (CoCo's RCAR protocol, kbs-protocol 0.4.0): attests a TEE to a Key Broker
// Service, fetches resources as JWE sealed to an ephemeral TEE key, and makes the admin calls.
// It depends on acon::common, OpenSSL, Boost.Beast (header-only) and libcurl's URL parser only,
// so a guest runtime (acond) can link it; evidence comes from a caller-supplied provider.
// docs/kbs-client.md describes the API and the CLI.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "acon/common/bytes.h"
#include "acon/common/jose.h"
#include "acon/common/json.h"
#include "acon/common/keys.h"

namespace acon::kbs {

// ---- the TEE key ----

// The key types a KBS can seal a resource to (kbs-types TeePubKey). GC's default is EC P-256.
enum class TeeKeyType { ec_p256, ec_p521, rsa_oaep_256, rsa1_5 };

std::string_view tee_key_type_name(TeeKeyType type);  // "ec-p256", "ec-p521", "rsa-oaep-256", ...
std::optional<TeeKeyType> tee_key_type_from_name(std::string_view name);

// The ephemeral key pair whose public half goes to the KBS as "tee-pubkey" and is bound into
// the TEE's report data; resources come back encrypted to it.
class TeeKey {
 public:
  static Result<TeeKey> generate(TeeKeyType type = TeeKeyType::ec_p256);
  // A saved private key (PEM), with the JWE algorithm it is used with; the key must fit it.
  static Result<TeeKey> from_private_key(PrivateKey key, jose::JweAlg alg);

  jose::JweAlg alg() const { return alg_; }
  const PrivateKey& private_key() const { return key_; }
  // {"kty":"EC","crv","alg","x","y"} or {"kty":"RSA","alg","n","e"}: what the KBS re-serialises.
  const Json& public_jwk() const { return jwk_; }
  // Decrypts a JWE response (flattened JSON, as the KBS sends it) sealed to this key; the
  // header's "alg" must be this key's algorithm.
  Result<SecretBytes> decrypt(const Json& jwe) const;

 private:
  TeeKey(PrivateKey key, jose::JweAlg alg, Json jwk)
      : key_(std::move(key)), alg_(alg), jwk_(std::move(jwk)) {}
  PrivateKey key_;
  jose::JweAlg alg_;
  Json jwk_;
};

// ---- wire bodies (kbs-types) ----

// POST /kbs/v0/auth: {"version":"0.4.0","tee":<tee>,"extra-params":{}}.
Json auth_request_json(std::string_view tee);
// The nonce of a Challenge {"nonce":"...","extra-params":...}.
Result<std::string> challenge_nonce(std::string_view challenge_body);
// POST /kbs/v0/attest: {"init-data":{"format":"toml","body":<TOML>}|null,
// "runtime-data":{"nonce","tee-pubkey"},"tee-evidence":{"primary_evidence","additional_evidence"}}.
Json attestation_json(std::string_view nonce, const Json& tee_pubkey, const Json& primary_evidence,
                      std::string_view additional_evidence,
                      const std::optional<std::string>& init_data_toml);
// The value of the `name` cookie set by one Set-Cookie header value
// ("kbs-session-id=abc; Expires=..."), or nullopt when it sets another cookie.
std::optional<std::string> set_cookie_value(std::string_view set_cookie, std::string_view name);

// ---- the client ----

struct ClientConfig {
  std::string url;                     // base URL of the KBS: "https://kbs.example:8080"
  std::optional<std::string> ca_file;  // PEM trust anchors for https; else the system store
  bool insecure_http = false;          // required for, and only allowed with, an http:// URL
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds total_timeout{std::chrono::seconds(60)};  // per request
  size_t max_response_bytes = size_t{16} << 20;
  // On a 401 resource GET, run a fresh RCAR and retry (as guest-components does), at most
  // max_get_attempts GETs in all. Needs a previous attest() to know the TEE and the evidence.
  bool reattest_on_unauthorized = true;
  int max_get_attempts = 3;
};

// How a resource GET proves the attestation: the session cookie of the last RCAR, or the
// token as "Authorization: Bearer".
enum class ResourceAuth { cookie, bearer };

// Returns the TEE's primary evidence over `report_data` (64 bytes), e.g. for tdx
// {"cc_eventlog": base64|null, "quote": base64}.
using EvidenceProvider = std::function<Result<Json>(ByteView report_data)>;

// A failed HTTP exchange keeps its status and the ErrorInformation the KBS sent.
struct HttpFailure {
  long status = 0;
  std::string type;  // the last segment of ErrorInformation.type: "AttestationError"
  std::string detail;
};

class KbsClient {
 public:
  // Checks the URL scheme against insecure_http; no connection is made yet.
  static Result<KbsClient> create(ClientConfig config, TeeKey tee_key);
  KbsClient(KbsClient&&) noexcept;
  KbsClient& operator=(KbsClient&&) noexcept;
  ~KbsClient();

  // RCAR: /auth for `tee`, the provider's evidence over the binding of the challenge nonce and
  // the TEE key, /attest. Keeps the session cookie and returns (and keeps) the token.
  Result<std::string> attest(std::string_view tee, EvidenceProvider provider,
                             std::optional<std::string> init_data_toml = std::nullopt);
  const std::optional<std::string>& token() const;
  const TeeKey& tee_key() const;

  // GET /kbs/v0/resource/<path> ("repo/type/tag"), decrypted with the TEE key. A 404 is
  // Errc::not_found; other refusals are verify_failed with the KBS's type and detail.
  Result<SecretBytes> get_resource(std::string_view path, ResourceAuth auth = ResourceAuth::cookie);
  // With a token obtained elsewhere (sealed to this client's TEE key); no re-attestation.
  Result<SecretBytes> get_resource_with_token(std::string_view path, std::string_view token);

  // The last refused exchange, if the last call failed on an HTTP status.
  const std::optional<HttpFailure>& last_failure() const;

  // ---- admin (Authorization: Bearer <admin JWT>) ----
  void set_admin_token(std::string token);
  Status set_resource(std::string_view path, ByteView data);
  Status delete_resource(std::string_view path);
  // {"type":"toml","policy_id":<id>,"policy":b64url-nopad(text)}
  Status set_attestation_policy(std::string_view policy_text,
                                std::string_view policy_id = "default",
                                std::string_view type = "toml");
  // {"policy":b64url-nopad(text)}
  Status set_resource_policy(std::string_view policy_text);
  Result<Json> list_resource_policies();
  // An RVPS message (JSON text) to POST /kbs/v0/reference-value.
  Status set_reference_values(std::string_view message_json);
  Result<Json> get_reference_value(std::string_view name);
  // GET /kbs/v0/audit?from=N&limit=M: JSON lines.
  Result<std::string> audit_export(uint64_t from, uint64_t limit);

 private:
  struct State;
  explicit KbsClient(std::unique_ptr<State> state);
  Result<std::string> run_rcar();
  std::unique_ptr<State> state_;
};

// An admin JWT {"sub","role","iat","exp"(, "iss", "aud")} signed with `key`: EdDSA for Ed25519,
// ES256 for P-256 (the algorithms KBS admin auth accepts).
struct AdminTokenClaims {
  std::string role = "admin";
  std::string subject = "admin";
  std::chrono::seconds validity{std::chrono::minutes(5)};
  std::optional<std::string> issuer;
  std::optional<std::string> audience;
};
Result<std::string> make_admin_token(const PrivateKey& key, const AdminTokenClaims& claims,
                                     int64_t now_unix);

}  // namespace acon::kbs
