// CoCo's KBS protocol (RCAR: Request, Challenge, Attestation, Response) at version 0.4.0: the
// wire constants, the Request and Challenge bodies, resource paths, and ErrorInformation with
// the HTTP status each error type answers. docs/kbs.md describes the protocol and where acon's
// KBS differs from Trustee's.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "acon/common/json.h"
#include "acon/common/result.h"

namespace acon::kbs {

inline constexpr std::string_view kProtocolVersion = "0.4.0";
inline constexpr std::string_view kSessionCookie = "kbs-session-id";
inline constexpr std::string_view kApiPrefix = "/kbs/v0/";

// One resource path component: [A-Za-z0-9_-][A-Za-z0-9_.-]* (Trustee's rule), at most 128 bytes.
bool valid_path_component(std::string_view component);
// "<repo>/<type>/<tag>", each a valid component.
bool valid_resource_path(std::string_view path);

// Trustee's error variants (the last segment of ErrorInformation.type), and acon's additions
// (resource_not_found, too_many_requests, payload_too_large, bad_request, unavailable).
enum class ErrorType {
  plugin_not_found,           // 404 PluginNotFound
  invalid_request_path,       // 404 InvalidRequestPath
  attestation_error,          // 401 AttestationError
  token_not_found,            // 401 TokenNotFound
  token_verifier_error,       // 401 TokenVerifierError
  policy_deny,                // 401 PolicyDeny
  plugin_internal_error,      // 401 PluginInternalError
  admin_auth_access,          // 401 AdminAuthAccess
  admin_auth_initialization,  // 401 AdminAuthInitialization (Trustee's type on plugin routes)
  rvps_error,                 // 401 RvpsError
  resource_not_found,         // 404 ResourceNotFound (acon: Trustee answers 401)
  too_many_requests,          // 429 TooManyRequests (acon)
  payload_too_large,          // 413 PayloadTooLarge
  bad_request,                // 400 BadRequest (admin bodies that do not parse)
  unavailable,                // 503 ServiceUnavailable (storage down)
  internal,                   // 500 InternalError
};

std::string_view error_type_name(ErrorType type);  // "AttestationError"
int error_status(ErrorType type);
// {"type":"https://github.com/confidential-containers/kbs/errors/<Name>","detail":"..."}: the
// member order kbs-types' ErrorInformation serialises.
std::string error_information(ErrorType type, std::string_view detail);

// The TEE types of kbs-types (serde names), in its order.
bool known_tee(std::string_view tee);

// POST /auth body: {"version":"0.4.0","tee":"tdx","extra-params":...}. The version must be
// exactly 0.4.0 (Trustee's "=0.4.0" requirement); the tee a kbs-types name.
struct AuthRequest {
  std::string version;
  std::string tee;
  Json extra_params;
};
Result<AuthRequest> parse_auth_request(std::string_view body);

// {"nonce":"<base64 of 32 random bytes>","extra-params":""}.
std::string challenge_json(std::string_view nonce);
// A fresh nonce: base64 STANDARD (padded) of 32 random bytes, as Trustee's make_nonce().
Result<std::string> make_nonce();

// The path of a request target without its query, and the query split at '&' and '=' (values
// not URL-decoded: resource paths and admin routes use none).
struct Target {
  std::string_view path;
  std::string_view query;
};
Target split_target(std::string_view target);

// The value of cookie `name` in a Cookie header ("a=1; kbs-session-id=abc"), if present.
std::optional<std::string_view> cookie_value(std::string_view cookie_header, std::string_view name);
// The token of "Authorization: Bearer <token>" (scheme case-insensitive).
std::optional<std::string_view> bearer_token(std::string_view authorization);

}  // namespace acon::kbs
