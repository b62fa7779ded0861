// Authorization of the KBS's admin routes (set/delete resources, policies, reference values,
// audit export): a Bearer JWT signed by a configured identity provider (EdDSA or ES256), whose
// `role` claim an ACL then allows for the request's method and path. Nothing is allowed without
// providers and a matching ACL rule. docs/kbs-policy.md compares it with Trustee's admin API.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "acon/common/keys.h"
#include "acon/common/result.h"
#include "acon/common/x509.h"

namespace acon::kbs {

// A Bearer token longer than this is refused before it is decoded.
inline constexpr size_t kMaxAdminTokenBytes = 16 * 1024;

struct IdentityProvider {
  std::string name;                     // for messages only
  PublicKey key;                        // Ed25519 (EdDSA) or P-256 (ES256)
  std::optional<std::string> issuer;    // when set, the token's iss must equal it
  std::optional<std::string> audience;  // when set, the token's aud must be or contain it
};

// Allows `role` the listed methods on the listed paths. A path pattern is a glob over the
// request path without its query string: "*" stands for any characters except '/', "**" for
// any characters including '/'; everything else is literal ("/kbs/v0/resource/**",
// "/kbs/v0/resource/default/*/*").
struct AclRule {
  std::string role;
  std::vector<std::string> methods;  // "GET", "POST", "PUT", "DELETE", ...
  std::vector<std::string> paths;    // globs, each starting with '/'
};

struct AdminConfig {
  std::vector<IdentityProvider> providers;
  std::vector<AclRule> acl;
  // Clock skew allowed on exp and nbf.
  std::chrono::seconds leeway{60};
};

struct AdminDecision {
  bool allowed = false;
  // "alice (role admin)" once the token verified, else empty; for the audit log.
  std::string subject_or_role;
  // Fit for ErrorInformation's detail: never contains the token.
  std::string reason;
};

class AdminAuthorizer {
 public:
  // Errc::invalid_argument for a key that is neither Ed25519 nor P-256, an empty role, an
  // unknown method, or a path pattern that does not start with '/'.
  static Result<AdminAuthorizer> create(AdminConfig config);

  // `authorization` is the Authorization header's value (empty when absent); `target` the
  // request target, path and optional query ("?..." is ignored). `now` is the verification
  // time. A path with empty, "." or ".." segments or a '%' is refused, so that what the ACL
  // matched is the route the server takes.
  AdminDecision authorize(std::string_view authorization, std::string_view method,
                          std::string_view target, Time now) const;

 private:
  explicit AdminAuthorizer(AdminConfig config) : config_(std::move(config)) {}
  AdminConfig config_;
};

// Glob match as AclRule describes ('*' within a segment, '**' across segments).
bool path_glob_matches(std::string_view pattern, std::string_view path);

}  // namespace acon::kbs
