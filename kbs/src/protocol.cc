#include "acon/kbs/protocol.h"

#include <array>
#include <cctype>

#include "acon/common/bytes.h"

namespace acon::kbs {

namespace {

bool word_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

struct ErrorInfo {
  std::string_view name;
  int status;
};

ErrorInfo info(ErrorType type) {
  switch (type) {
    case ErrorType::plugin_not_found:
      return {"PluginNotFound", 404};
    case ErrorType::invalid_request_path:
      return {"InvalidRequestPath", 404};
    case ErrorType::attestation_error:
      return {"AttestationError", 401};
    case ErrorType::token_not_found:
      return {"TokenNotFound", 401};
    case ErrorType::token_verifier_error:
      return {"TokenVerifierError", 401};
    case ErrorType::policy_deny:
      return {"PolicyDeny", 401};
    case ErrorType::plugin_internal_error:
      return {"PluginInternalError", 401};
    case ErrorType::admin_auth_access:
      return {"AdminAuthAccess", 401};
    case ErrorType::admin_auth_initialization:
      return {"AdminAuthInitialization", 401};
    case ErrorType::rvps_error:
      return {"RvpsError", 401};
    case ErrorType::resource_not_found:
      return {"ResourceNotFound", 404};
    case ErrorType::too_many_requests:
      return {"TooManyRequests", 429};
    case ErrorType::payload_too_large:
      return {"PayloadTooLarge", 413};
    case ErrorType::bad_request:
      return {"BadRequest", 400};
    case ErrorType::unavailable:
      return {"ServiceUnavailable", 503};
    case ErrorType::internal:
      return {"InternalError", 500};
  }
  return {"InternalError", 500};
}

// kbs-types' Tee enum, serde lowercase with the renamed variants.
constexpr std::array<std::string_view, 13> kTees = {
    "az-snp-vtpm", "az-tdx-vtpm", "nvidia",   "sgx", "snp",    "tdx",         "cca",
    "csv",         "se",          "hygondcu", "tpm", "sample", "sampledevice"};

bool is_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return !(s.size() > 1 && s[0] == '0');
}

}  // namespace

bool valid_path_component(std::string_view component) {
  if (component.empty() || component.size() > 128 || !word_char(component.front())) return false;
  for (char c : component)
    if (!word_char(c) && c != '.') return false;
  return true;
}

bool valid_resource_path(std::string_view path) {
  auto parts = split(path, '/');
  if (parts.size() != 3) return false;
  for (auto p : parts)
    if (!valid_path_component(p)) return false;
  return true;
}

std::string_view error_type_name(ErrorType type) { return info(type).name; }
int error_status(ErrorType type) { return info(type).status; }

std::string error_information(ErrorType type, std::string_view detail) {
  std::string out = "{\"type\":";
  append_json_string(out, "https://github.com/confidential-containers/kbs/errors/" +
                              std::string(error_type_name(type)));
  out += ",\"detail\":";
  append_json_string(out, detail);
  out += '}';
  return out;
}

bool known_tee(std::string_view tee) {
  for (auto t : kTees)
    if (t == tee) return true;
  return false;
}

Result<AuthRequest> parse_auth_request(std::string_view body) {
  ACON_TRY(Json json, parse_json(body));
  if (!json.is_object()) return make_error(Errc::parse, "Request: not a JSON object");
  AuthRequest request;
  ACON_TRY(request.version, json_get_string(json, "version"));
  ACON_TRY(request.tee, json_get_string(json, "tee"));
  if (auto it = json.find("extra-params"); it != json.end()) request.extra_params = *it;
  // semver: MAJOR.MINOR.PATCH with optional build metadata; a pre-release never matches "=0.4.0".
  std::string_view version = request.version;
  if (auto plus = version.find('+'); plus != std::string_view::npos)
    version = version.substr(0, plus);
  auto parts = split(version, '.');
  bool semver = parts.size() == 3;
  for (auto p : parts) semver = semver && is_digits(p);
  if (!semver)
    return make_error(Errc::parse, "Request.version \"" + request.version + "\" is not semver");
  if (version != kProtocolVersion)
    return make_error(Errc::unsupported, "KBS Client Protocol Version Mismatch: expect =" +
                                             std::string(kProtocolVersion) +
                                             " while the request is " + request.version);
  if (!known_tee(request.tee))
    return make_error(Errc::unsupported, "Request.tee \"" + request.tee + "\" is not a TEE type");
  return request;
}

std::string challenge_json(std::string_view nonce) {
  std::string out = "{\"nonce\":";
  append_json_string(out, nonce);
  out += ",\"extra-params\":\"\"}";
  return out;
}

Result<std::string> make_nonce() {
  ACON_TRY(Bytes raw, random_bytes(32));
  return base64_encode(raw, Base64::standard);
}

Target split_target(std::string_view target) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return {target, {}};
  return {target.substr(0, q), target.substr(q + 1)};
}

std::optional<std::string_view> cookie_value(std::string_view header, std::string_view name) {
  for (std::string_view part : split(header, ';')) {
    while (!part.empty() && (part.front() == ' ' || part.front() == '\t')) part.remove_prefix(1);
    auto eq = part.find('=');
    if (eq == std::string_view::npos || part.substr(0, eq) != name) continue;
    std::string_view value = part.substr(eq + 1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    return value;
  }
  return std::nullopt;
}

std::optional<std::string_view> bearer_token(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return std::nullopt;
  for (size_t i = 0; i < kScheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i])
      return std::nullopt;
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty()) return std::nullopt;
  return token;
}

}  // namespace acon::kbs
