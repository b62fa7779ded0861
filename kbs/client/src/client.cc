// The KBS client: RCAR over HTTP/1.1 (http_connection.h), JWE resources, admin calls (client.h).
#include "acon/kbs/client.h"

#include <algorithm>
#include <cctype>

#include "acon/common/curl.h"
#include "acon/common/kbs_binding.h"
#include "acon/kbs/protocol.h"
#include "http_connection.h"

namespace acon::kbs {

namespace {

constexpr size_t kMaxHeaderBytes = 64 * 1024;
constexpr std::string_view kErrorTypePrefix =
    "https://github.com/confidential-containers/kbs/errors/";

Result<jose::JweAlg> jwe_alg_of(TeeKeyType type) {
  switch (type) {
    case TeeKeyType::ec_p256:
    case TeeKeyType::ec_p521:
      return jose::JweAlg::ECDH_ES_A256KW;
    case TeeKeyType::rsa_oaep_256:
      return jose::JweAlg::RSA_OAEP_256;
    case TeeKeyType::rsa1_5:
      return jose::JweAlg::RSA1_5;
  }
  return make_error(Errc::invalid_argument, "tee key: unknown type");
}

// The typed TeePubKey members of the key, with the JWE algorithm the KBS is to use.
Result<Json> tee_pubkey_jwk(const PublicKey& key, jose::JweAlg alg) {
  const Json full = key.to_jwk();
  const std::string alg_name(jose::jwe_alg_name(alg));
  if (key.type() == KeyType::ec) {
    if (alg != jose::JweAlg::ECDH_ES_A256KW ||
        (key.curve() != Curve::p256 && key.curve() != Curve::p521))
      return make_error(
          Errc::invalid_argument,
          "tee key: an EC key must be P-256 or P-521 with ECDH-ES+A256KW, not " + alg_name);
    return Json{{"kty", "EC"},
                {"crv", full.at("crv")},
                {"alg", alg_name},
                {"x", full.at("x")},
                {"y", full.at("y")}};
  }
  if (key.type() == KeyType::rsa) {
    if (alg != jose::JweAlg::RSA_OAEP_256 && alg != jose::JweAlg::RSA1_5)
      return make_error(Errc::invalid_argument,
                        "tee key: an RSA key needs RSA-OAEP-256 or RSA1_5, not " + alg_name);
    return Json{{"kty", "RSA"}, {"alg", alg_name}, {"n", full.at("n")}, {"e", full.at("e")}};
  }
  return make_error(Errc::invalid_argument, "tee key: must be an EC or RSA key");
}

bool valid_path_for_url(std::string_view path) {
  // Resource paths and reference-value names go into the URL as they are: no query, fragment,
  // spaces or dot segments.
  if (path.empty()) return false;
  for (std::string_view part : split(path, '/')) {
    if (part.empty() || part == "." || part == "..") return false;
    for (char ch : part) {
      const bool ok =
          std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.';
      if (!ok) return false;
    }
  }
  return true;
}

}  // namespace

// ---- TeeKey ----

std::string_view tee_key_type_name(TeeKeyType type) {
  switch (type) {
    case TeeKeyType::ec_p256:
      return "ec-p256";
    case TeeKeyType::ec_p521:
      return "ec-p521";
    case TeeKeyType::rsa_oaep_256:
      return "rsa-oaep-256";
    case TeeKeyType::rsa1_5:
      return "rsa1_5";
  }
  return "?";
}

std::optional<TeeKeyType> tee_key_type_from_name(std::string_view name) {
  for (TeeKeyType type :
       {TeeKeyType::ec_p256, TeeKeyType::ec_p521, TeeKeyType::rsa_oaep_256, TeeKeyType::rsa1_5}) {
    if (tee_key_type_name(type) == name) return type;
  }
  return std::nullopt;
}

Result<TeeKey> TeeKey::generate(TeeKeyType type) {
  ACON_TRY(jose::JweAlg alg, jwe_alg_of(type));
  std::optional<PrivateKey> key;
  if (type == TeeKeyType::ec_p256 || type == TeeKeyType::ec_p521) {
    ACON_TRY(PrivateKey ec,
             PrivateKey::generate_ec(type == TeeKeyType::ec_p256 ? Curve::p256 : Curve::p521));
    key = std::move(ec);
  } else {
    // GC's RSA TEE key is 2048 bits: the key lives for one session.
    ACON_TRY(PrivateKey rsa, PrivateKey::generate_rsa(2048));
    key = std::move(rsa);
  }
  return from_private_key(std::move(*key), alg);
}

Result<TeeKey> TeeKey::from_private_key(PrivateKey key, jose::JweAlg alg) {
  ACON_TRY(Json jwk, tee_pubkey_jwk(key.public_key(), alg));
  return TeeKey(std::move(key), alg, std::move(jwk));
}

Result<SecretBytes> TeeKey::decrypt(const Json& jwe) const {
  if (!jwe.is_object()) return make_error(Errc::parse, "jwe: not a JSON object");
  ACON_TRY(std::string protected_b64, json_get_string(jwe, "protected"));
  ACON_TRY(Bytes protected_bytes, b64url_decode(protected_b64));
  ACON_TRY(Json header, parse_json(as_chars(protected_bytes)));
  auto alg = json_get_string(header, "alg");
  if (!alg) return alg.error().wrap("jwe.protected");
  if (*alg != jose::jwe_alg_name(alg_))
    return make_error(Errc::verify_failed, "jwe.protected.alg: \"" + *alg +
                                               "\" is not the TEE key's algorithm " +
                                               std::string(jose::jwe_alg_name(alg_)));
  return jose::jwe_decrypt_json(jwe, key_);
}

// ---- wire bodies ----

Json auth_request_json(std::string_view tee) {
  // Only SHA-384 is offered: the binding is computed with it (kbs_report_data).
  return Json{{"version", std::string(kProtocolVersion)},
              {"tee", std::string(tee)},
              {"extra-params", Json{{"supported-hash-algorithms", Json::array({"sha384"})}}}};
}

Result<std::string> challenge_nonce(std::string_view challenge_body) {
  ACON_TRY(Json challenge, parse_json(challenge_body));
  if (!challenge.is_object()) return make_error(Errc::parse, "challenge: not a JSON object");
  auto nonce = json_get_string(challenge, "nonce");
  if (!nonce) return nonce.error().wrap("challenge");
  // A KBS that selects another hash for the binding (IBM SE's sha512) is not served.
  auto extra = challenge.find("extra-params");
  if (extra != challenge.end() && extra->is_object()) {
    auto selected = extra->find("selected-hash-algorithm");
    if (selected != extra->end() && *selected != "sha384")
      return make_error(Errc::unsupported, "challenge.extra-params.selected-hash-algorithm: " +
                                               selected->dump() + " (only sha384 is implemented)");
  }
  return std::move(*nonce);
}

Json attestation_json(std::string_view nonce, const Json& tee_pubkey, const Json& primary_evidence,
                      std::string_view additional_evidence,
                      const std::optional<std::string>& init_data_toml) {
  Json init_data = nullptr;  // kbs-types Option<InitData>: null when there is none
  if (init_data_toml) init_data = Json{{"format", "toml"}, {"body", *init_data_toml}};
  return Json{{"init-data", std::move(init_data)},
              {"runtime-data", Json{{"nonce", std::string(nonce)}, {"tee-pubkey", tee_pubkey}}},
              {"tee-evidence", Json{{"primary_evidence", primary_evidence},
                                    {"additional_evidence", std::string(additional_evidence)}}}};
}

std::optional<std::string> set_cookie_value(std::string_view set_cookie, std::string_view name) {
  // "name=value; Attr=...": the first pair is the cookie; attributes follow after ';'.
  const std::string_view pair = trim_http_whitespace(set_cookie.substr(0, set_cookie.find(';')));
  const size_t eq = pair.find('=');
  if (eq == std::string_view::npos) return std::nullopt;
  if (trim_http_whitespace(pair.substr(0, eq)) != name) return std::nullopt;
  std::string_view value = trim_http_whitespace(pair.substr(eq + 1));
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
    value = value.substr(1, value.size() - 2);
  return std::string(value);
}

// ---- KbsClient ----

struct KbsClient::State {
  ClientConfig config;
  TeeKey tee_key;
  HttpConnection connection;  // one per client: kept alive between requests
  std::optional<std::string> cookie;
  std::optional<std::string> token;
  std::optional<std::string> admin_token;
  std::optional<HttpFailure> last_failure;
  // The last attest() call, for a re-attestation after a 401.
  std::string tee;
  EvidenceProvider provider;
  std::optional<std::string> init_data;

  State(ClientConfig c, TeeKey k, HttpConnection link)
      : config(std::move(c)), tee_key(std::move(k)), connection(std::move(link)) {}

  struct Request {
    const char* method = "GET";
    std::string path;  // below the base URL: "/kbs/v0/auth"
    std::optional<std::string> body;
    const char* content_type = "application/json";
    std::string_view bearer;  // empty: no Authorization header; the token outlives the request
    bool send_cookie = false;
  };

  Result<HttpResponse> perform(const Request& request) {
    HttpRequestView view;
    view.method = request.method;
    view.path = request.path;
    if (request.body) view.body = *request.body;
    view.content_type = request.content_type;
    view.bearer = request.bearer;
    std::string cookie_header;
    if (request.send_cookie && cookie) cookie_header = std::string(kSessionCookie) + "=" + *cookie;
    view.cookie = cookie_header;
    ACON_TRY(HttpResponse response, connection.perform(view));
    for (const auto& [name, value] : response.headers) {
      if (name != "set-cookie") continue;
      if (auto session = set_cookie_value(value, kSessionCookie)) cookie = std::move(*session);
    }
    return response;
  }

  // Turns a non-200 answer into an error carrying the KBS's ErrorInformation.
  Error refused(const Request& request, const HttpResponse& response) {
    HttpFailure failure;
    failure.status = response.status;
    auto info = parse_json(response.body);
    if (info && info->is_object() && info->contains("type") && info->contains("detail") &&
        (*info)["type"].is_string() && (*info)["detail"].is_string()) {
      std::string type = (*info)["type"];
      if (type.starts_with(kErrorTypePrefix)) type.erase(0, kErrorTypePrefix.size());
      failure.type = std::move(type);
      failure.detail = (*info)["detail"];
    } else {
      // Not ErrorInformation (a proxy's page, an empty 413): quote the start of it.
      failure.detail = response.body.substr(0, 200);
    }
    std::string message = std::string(request.method) + " " + request.path + ": HTTP " +
                          std::to_string(response.status);
    if (!failure.type.empty()) message += " " + failure.type;
    if (!failure.detail.empty()) message += ": " + failure.detail;
    Errc code = Errc::io;
    if (response.status == 404)
      code = Errc::not_found;
    else if (response.status == 401 || response.status == 403)
      code = Errc::verify_failed;
    else if (response.status == 400 || response.status == 413)
      code = Errc::invalid_argument;
    last_failure = std::move(failure);
    return make_error(code, std::move(message));
  }

  Result<HttpResponse> exchange(const Request& request) {
    last_failure.reset();
    ACON_TRY(HttpResponse response, perform(request));
    if (response.status != 200) return refused(request, response);
    return response;
  }

  Result<HttpResponse> admin(Request& request) {
    if (!admin_token)
      return make_error(
          Errc::invalid_argument,
          "kbs client: no admin token set for " + std::string(request.method) + " " + request.path);
    request.bearer = *admin_token;
    return exchange(request);
  }
};

KbsClient::KbsClient(std::unique_ptr<State> state) : state_(std::move(state)) {}
KbsClient::KbsClient(KbsClient&&) noexcept = default;
KbsClient& KbsClient::operator=(KbsClient&&) noexcept = default;
KbsClient::~KbsClient() = default;

Result<KbsClient> KbsClient::create(ClientConfig config, TeeKey tee_key) {
  const std::string scheme_url = ascii_lower(config.url);
  if (scheme_url.starts_with("http://")) {
    if (!config.insecure_http)
      return make_error(Errc::invalid_argument,
                        "kbs client: " + config.url + " is plain HTTP; insecure_http must be set");
  } else if (scheme_url.starts_with("https://")) {
    if (config.insecure_http)
      return make_error(Errc::invalid_argument,
                        "kbs client: insecure_http is only for http:// URLs");
  } else {
    return make_error(Errc::invalid_argument,
                      "kbs client: the URL must start with https:// (or http://): " + config.url);
  }
  if (config.max_get_attempts < 1)
    return make_error(Errc::invalid_argument, "kbs client: max_get_attempts must be at least 1");
  auto origin = parse_base_url(config.url);
  if (!origin) return origin.error().wrap("kbs client");
  HttpConnectionOptions options;
  options.ca_file = config.ca_file;
  options.connect_timeout = config.connect_timeout;
  options.total_timeout = config.total_timeout;
  options.max_response_bytes = config.max_response_bytes;
  options.max_header_bytes = kMaxHeaderBytes;
  HttpConnection connection(std::move(*origin), std::move(options));
  return KbsClient(
      std::make_unique<State>(std::move(config), std::move(tee_key), std::move(connection)));
}

const std::optional<std::string>& KbsClient::token() const { return state_->token; }
const TeeKey& KbsClient::tee_key() const { return state_->tee_key; }
const std::optional<HttpFailure>& KbsClient::last_failure() const { return state_->last_failure; }

Result<std::string> KbsClient::attest(std::string_view tee, EvidenceProvider provider,
                                      std::optional<std::string> init_data_toml) {
  if (!provider) return make_error(Errc::invalid_argument, "attest: no evidence provider");
  state_->tee = std::string(tee);
  state_->provider = std::move(provider);
  state_->init_data = std::move(init_data_toml);
  return run_rcar();
}

Result<std::string> KbsClient::run_rcar() {
  State& s = *state_;
  s.cookie.reset();  // a new session: never carry the old cookie into /auth
  s.token.reset();
  State::Request auth;
  auth.method = "POST";
  auth.path = std::string(kApiPrefix) + "auth";
  auth.body = dump_compact(auth_request_json(s.tee));
  ACON_TRY(HttpResponse challenge, s.exchange(auth));
  if (!s.cookie)
    return make_error(Errc::parse, "POST /kbs/v0/auth: no " + std::string(kSessionCookie) +
                                       " cookie in the answer");
  auto nonce = challenge_nonce(challenge.body);
  if (!nonce) return nonce.error().wrap("POST /kbs/v0/auth");

  const Json& tee_pubkey = s.tee_key.public_jwk();
  ACON_TRY(Bytes report_data, kbs_report_data(*nonce, tee_pubkey, ""));
  auto evidence = s.provider(report_data);
  if (!evidence) return evidence.error().wrap("evidence");

  State::Request attest;
  attest.method = "POST";
  attest.path = std::string(kApiPrefix) + "attest";
  attest.body = dump_compact(attestation_json(*nonce, tee_pubkey, *evidence, "", s.init_data));
  attest.send_cookie = true;
  ACON_TRY(HttpResponse answer, s.exchange(attest));
  auto body = parse_json(answer.body);
  if (!body) return body.error().wrap("POST /kbs/v0/attest");
  auto token = body->is_object() ? json_get_string(*body, "token")
                                 : Result<std::string>(make_error(Errc::parse, "not an object"));
  if (!token) return token.error().wrap("POST /kbs/v0/attest");
  s.token = *token;
  return std::move(*token);
}

namespace {

Status check_resource_path(std::string_view path) {
  if (split(path, '/').size() != 3 || !valid_path_for_url(path))
    return make_error(Errc::invalid_argument,
                      "resource path \"" + std::string(path) +
                          "\": must be <repository>/<type>/<tag> of [A-Za-z0-9_.-]");
  return {};
}

}  // namespace

Result<SecretBytes> KbsClient::get_resource(std::string_view path, ResourceAuth auth) {
  ACON_CHECK(check_resource_path(path));
  State& s = *state_;
  if (!s.token)
    return make_error(Errc::invalid_argument, "get_resource: attest() first (no session)");
  for (int attempt = 1;; ++attempt) {
    State::Request get;
    get.path = std::string(kApiPrefix) + "resource/" + std::string(path);
    get.send_cookie = auth == ResourceAuth::cookie;
    if (auth == ResourceAuth::bearer && s.token) get.bearer = *s.token;
    auto response = s.exchange(get);
    if (response) {
      auto jwe = parse_json(response->body);
      if (!jwe) return jwe.error().wrap("GET " + get.path);
      return s.tee_key.decrypt(*jwe);
    }
    // Only a 401 is worth a new attestation (guest-components' rule); a 404 fails at once.
    const bool unauthorized = s.last_failure && s.last_failure->status == 401;
    if (!unauthorized || !s.config.reattest_on_unauthorized || !s.provider ||
        attempt >= s.config.max_get_attempts)
      return std::move(response).error();
    auto again = run_rcar();
    if (!again) return again.error().wrap("re-attestation after " + response.error().message);
  }
}

Result<SecretBytes> KbsClient::get_resource_with_token(std::string_view path,
                                                       std::string_view token) {
  ACON_CHECK(check_resource_path(path));
  State& s = *state_;
  State::Request get;
  get.path = std::string(kApiPrefix) + "resource/" + std::string(path);
  get.bearer = token;
  ACON_TRY(HttpResponse response, s.exchange(get));
  auto jwe = parse_json(response.body);
  if (!jwe) return jwe.error().wrap("GET " + get.path);
  return s.tee_key.decrypt(*jwe);
}

// ---- admin ----

void KbsClient::set_admin_token(std::string token) { state_->admin_token = std::move(token); }

Status KbsClient::set_resource(std::string_view path, ByteView data) {
  ACON_CHECK(check_resource_path(path));
  State::Request post;
  post.method = "POST";
  post.path = std::string(kApiPrefix) + "resource/" + std::string(path);
  post.body = std::string(as_chars(data));
  post.content_type = "application/octet-stream";
  auto stored = state_->admin(post);
  // The resource is a secret: no copy outlives the request.
  secure_zero(post.body->data(), post.body->size());
  if (!stored) return std::move(stored).error();
  return {};
}

Status KbsClient::delete_resource(std::string_view path) {
  ACON_CHECK(check_resource_path(path));
  State::Request del;
  del.method = "DELETE";
  del.path = std::string(kApiPrefix) + "resource/" + std::string(path);
  ACON_TRY(HttpResponse ignored, state_->admin(del));
  (void)ignored;
  return {};
}

Status KbsClient::set_attestation_policy(std::string_view policy_text, std::string_view policy_id,
                                         std::string_view type) {
  State::Request post;
  post.method = "POST";
  post.path = std::string(kApiPrefix) + "attestation-policy";
  post.body = dump_compact(Json{{"type", std::string(type)},
                                {"policy_id", std::string(policy_id)},
                                {"policy", b64url(as_bytes(policy_text))}});
  ACON_TRY(HttpResponse ignored, state_->admin(post));
  (void)ignored;
  return {};
}

Status KbsClient::set_resource_policy(std::string_view policy_text) {
  State::Request post;
  post.method = "POST";
  post.path = std::string(kApiPrefix) + "resource-policy";
  post.body = dump_compact(Json{{"policy", b64url(as_bytes(policy_text))}});
  ACON_TRY(HttpResponse ignored, state_->admin(post));
  (void)ignored;
  return {};
}

Result<Json> KbsClient::list_resource_policies() {
  State::Request get;
  get.path = std::string(kApiPrefix) + "resource-policy";
  ACON_TRY(HttpResponse response, state_->admin(get));
  auto listed = parse_json(response.body);
  if (!listed) return listed.error().wrap("GET " + get.path);
  return std::move(*listed);
}

Status KbsClient::set_reference_values(std::string_view message_json) {
  // Checked here so a typo fails before it reaches the KBS.
  auto parsed = parse_json(message_json);
  if (!parsed) return parsed.error().wrap("reference values");
  State::Request post;
  post.method = "POST";
  post.path = std::string(kApiPrefix) + "reference-value";
  post.body = std::string(message_json);
  ACON_TRY(HttpResponse ignored, state_->admin(post));
  (void)ignored;
  return {};
}

Result<Json> KbsClient::get_reference_value(std::string_view name) {
  if (!valid_path_for_url(name))
    return make_error(Errc::invalid_argument,
                      "reference value name \"" + std::string(name) + "\": not a URL path");
  State::Request get;
  get.path = std::string(kApiPrefix) + "reference-value/" + std::string(name);
  ACON_TRY(HttpResponse response, state_->admin(get));
  auto value = parse_json(response.body);
  if (!value) return value.error().wrap("GET " + get.path);
  return std::move(*value);
}

Result<std::string> KbsClient::audit_export(uint64_t from, uint64_t limit) {
  State::Request get;
  get.path = std::string(kApiPrefix) + "audit?from=" + std::to_string(from) +
             "&limit=" + std::to_string(limit);
  ACON_TRY(HttpResponse response, state_->admin(get));
  return std::move(response.body);
}

// ---- admin tokens ----

Result<std::string> make_admin_token(const PrivateKey& key, const AdminTokenClaims& claims,
                                     int64_t now_unix) {
  jose::JwsAlg alg;
  if (key.type() == KeyType::ed25519)
    alg = jose::JwsAlg::EdDSA;
  else if (key.type() == KeyType::ec && key.curve() == Curve::p256)
    alg = jose::JwsAlg::ES256;
  else
    return make_error(Errc::invalid_argument, "admin token: the key must be Ed25519 or EC P-256");
  if (claims.role.empty()) return make_error(Errc::invalid_argument, "admin token: empty role");
  if (claims.validity.count() <= 0)
    return make_error(Errc::invalid_argument, "admin token: validity must be positive");
  Json payload = {{"sub", claims.subject},
                  {"role", claims.role},
                  {"iat", now_unix},
                  {"exp", now_unix + static_cast<int64_t>(claims.validity.count())}};
  if (claims.issuer) payload["iss"] = *claims.issuer;
  if (claims.audience) payload["aud"] = *claims.audience;
  return jose::jws_sign(key, alg, as_bytes(dump_compact(payload)), Json{{"typ", "JWT"}});
}

}  // namespace acon::kbs
