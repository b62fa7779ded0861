// CoCo's KBS protocol (RCAR: Request, Challenge, Attestation, Response) at version 0.4.0: the
// wire constants, resource paths, and ErrorInformation with the HTTP status each error type
// answers. docs/kbs.md describes the protocol and where acon's KBS differs from Trustee's.
#pragma once

#include <string>
#include <string_view>

namespace acon::kbs {

inline constexpr std::string_view kProtocolVersion = "0.4.0";
inline constexpr std::string_view kSessionCookie = "kbs-session-id";
inline constexpr std::string_view kApiPrefix = "/kbs/v0/";

// One resource path component: [A-Za-z0-9_-][A-Za-z0-9_.-]* (Trustee's rule), at most 128 bytes.
bool valid_path_component(std::string_view component);
// "<repo>/<type>/<tag>", each a valid component.
bool valid_resource_path(std::string_view path);

}  // namespace acon::kbs
