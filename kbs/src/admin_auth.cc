// Admin authorization: verify the Bearer JWT against each identity provider in turn, check its
// time window and role, then match the ACL on method and path.
#include "acon/kbs/admin_auth.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "acon/common/bytes.h"
#include "acon/common/jose.h"
#include "acon/common/json.h"

namespace acon::kbs {
namespace {

constexpr std::array<std::string_view, 7> kMethods = {"GET",   "HEAD",   "POST",   "PUT",
                                                      "PATCH", "DELETE", "OPTIONS"};
constexpr std::array<jose::JwsAlg, 2> kAllowedAlgs = {jose::JwsAlg::EdDSA, jose::JwsAlg::ES256};
// Claims echoed into reasons come from a signed token, but are still cut to keep details short.
constexpr size_t kMaxShownChars = 64;

std::string shown(std::string_view text) {
  if (text.size() <= kMaxShownChars) return std::string(text);
  return std::string(text.substr(0, kMaxShownChars)) + "...";
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

AdminDecision deny(std::string reason, std::string who = {}) {
  return {false, std::move(who), std::move(reason)};
}

// NumericDate (RFC 7519 §2): a JSON number of seconds; fractions are truncated.
std::optional<int64_t> numeric_date(const Json& claims, const char* name) {
  auto it = claims.find(name);
  if (it == claims.end() || !it->is_number()) return std::nullopt;
  double seconds = it->get<double>();
  if (!std::isfinite(seconds) || std::fabs(seconds) > 1e15) return std::nullopt;
  return static_cast<int64_t>(seconds);
}

bool audience_contains(const Json& claims, const std::string& audience) {
  auto it = claims.find("aud");
  if (it == claims.end()) return false;
  if (it->is_string()) return it->get_ref<const std::string&>() == audience;
  if (!it->is_array()) return false;
  return std::any_of(it->begin(), it->end(), [&](const Json& member) {
    return member.is_string() && member.get_ref<const std::string&>() == audience;
  });
}

// Why the provider does not accept these claims; empty when it does.
std::string provider_mismatch(const IdentityProvider& provider, const Json& claims) {
  if (provider.issuer) {
    auto iss = claims.find("iss");
    if (iss == claims.end() || !iss->is_string() ||
        iss->get_ref<const std::string&>() != *provider.issuer) {
      return "the token's issuer is not " + *provider.issuer;
    }
  }
  if (provider.audience && !audience_contains(claims, *provider.audience)) {
    return "the token's audience does not include " + *provider.audience;
  }
  return {};
}

// Only canonical paths are matched: a router that collapses "//" or resolves ".." or percent-
// escapes would otherwise reach a route the ACL did not see.
bool canonical_path(std::string_view path) {
  if (path.empty() || path.front() != '/') return false;
  if (path.find('%') != std::string_view::npos) return false;
  for (std::string_view segment : split(path.substr(1), '/')) {
    if (segment.empty() || segment == "." || segment == "..") return false;
  }
  return true;
}

}  // namespace

bool path_glob_matches(std::string_view pattern, std::string_view path) {
  // Dynamic programming from the end: matches[j] says whether the pattern from the current
  // token on matches path[j..]; O(tokens x path length), no backtracking blow-up.
  enum : int { kStar = -1, kCrossingStar = -2 };
  std::vector<int> tokens;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '*') {
      tokens.push_back(static_cast<unsigned char>(pattern[i]));
    } else if (i + 1 < pattern.size() && pattern[i + 1] == '*') {
      tokens.push_back(kCrossingStar);
      ++i;
    } else {
      tokens.push_back(kStar);
    }
  }
  const size_t n = path.size();
  std::vector<char> next(n + 1, 0);  // the empty pattern matches only the empty rest
  next[n] = 1;
  std::vector<char> matches(n + 1, 0);
  for (size_t t = tokens.size(); t-- > 0;) {
    const int token = tokens[t];
    for (size_t j = n + 1; j-- > 0;) {
      if (token >= 0) {
        matches[j] = j < n && static_cast<unsigned char>(path[j]) == token && next[j + 1];
      } else {
        bool take = j < n && (token == kCrossingStar || path[j] != '/') && matches[j + 1];
        matches[j] = next[j] || take;
      }
    }
    std::swap(matches, next);
  }
  return next[0] != 0;
}

Result<AdminAuthorizer> AdminAuthorizer::create(AdminConfig config) {
  for (size_t i = 0; i < config.providers.size(); ++i) {
    const PublicKey& key = config.providers[i].key;
    bool fits = std::any_of(kAllowedAlgs.begin(), kAllowedAlgs.end(),
                            [&](jose::JwsAlg alg) { return jose::jws_alg_fits(alg, key); });
    if (!fits) {
      return make_error(Errc::invalid_argument,
                        "admin: identity provider " + std::to_string(i + 1) + " (" +
                            config.providers[i].name + "): the key is neither Ed25519 nor P-256");
    }
  }
  for (size_t i = 0; i < config.acl.size(); ++i) {
    AclRule& rule = config.acl[i];
    std::string where = "admin: acl rule " + std::to_string(i + 1);
    if (rule.role.empty()) return make_error(Errc::invalid_argument, where + ": the role is empty");
    if (rule.methods.empty() || rule.paths.empty()) {
      return make_error(Errc::invalid_argument, where + ": needs methods and paths");
    }
    for (auto& method : rule.methods) {
      auto known = std::find_if(kMethods.begin(), kMethods.end(),
                                [&](std::string_view m) { return iequals(m, method); });
      if (known == kMethods.end()) {
        return make_error(Errc::invalid_argument, where + ": unknown method \"" + method + "\"");
      }
      method = std::string(*known);
    }
    for (const auto& path : rule.paths) {
      if (path.empty() || path.front() != '/' || path.find('?') != std::string::npos) {
        return make_error(Errc::invalid_argument, where + ": path pattern \"" + path +
                                                      "\" must start with '/' and "
                                                      "have no query");
      }
    }
  }
  if (config.leeway < std::chrono::seconds::zero()) {
    return make_error(Errc::invalid_argument, "admin: the leeway is negative");
  }
  return AdminAuthorizer(std::move(config));
}

AdminDecision AdminAuthorizer::authorize(std::string_view authorization, std::string_view method,
                                         std::string_view target, Time now) const {
  if (config_.providers.empty()) {
    return deny("the admin API is disabled: no identity provider is configured");
  }
  // RFC 7235: the scheme is case-insensitive, one or more spaces before the token.
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size() ||
      !iequals(authorization.substr(0, kScheme.size()), kScheme) ||
      authorization[kScheme.size()] != ' ') {
    return deny("no Bearer token in the Authorization header");
  }
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty()) return deny("no Bearer token in the Authorization header");
  if (token.size() > kMaxAdminTokenBytes) {
    return deny("the Bearer token is longer than " + std::to_string(kMaxAdminTokenBytes) +
                " bytes");
  }

  std::optional<Json> claims;
  std::string mismatch;
  for (const auto& provider : config_.providers) {
    auto jws = jose::jws_verify(token, provider.key, kAllowedAlgs);
    if (!jws) continue;
    auto parsed = parse_json(as_chars(jws->payload));
    if (!parsed || !parsed->is_object()) return deny("the token's payload is not a JSON object");
    std::string why = provider_mismatch(provider, *parsed);
    if (!why.empty()) {
      mismatch = std::move(why);
      continue;
    }
    claims = std::move(*parsed);
    break;
  }
  if (!claims) {
    if (!mismatch.empty()) return deny(mismatch);
    return deny("the token is not an EdDSA or ES256 JWT signed by a configured identity provider");
  }

  int64_t at = now.time_since_epoch().count();
  int64_t leeway = config_.leeway.count();
  auto exp = numeric_date(*claims, "exp");
  if (!exp) return deny("the token has no exp");
  if (at > *exp + leeway) return deny("the token expired");
  if (claims->contains("nbf")) {
    auto nbf = numeric_date(*claims, "nbf");
    if (!nbf) return deny("the token's nbf is not a NumericDate");
    if (at + leeway < *nbf) return deny("the token is not valid yet (nbf)");
  }
  auto role_it = claims->find("role");
  if (role_it == claims->end() || !role_it->is_string() ||
      role_it->get_ref<const std::string&>().empty()) {
    return deny("the token has no role");
  }
  const std::string& role = role_it->get_ref<const std::string&>();
  std::string who = "role " + shown(role);
  if (auto sub = claims->find("sub"); sub != claims->end() && sub->is_string()) {
    who = shown(sub->get_ref<const std::string&>()) + " (" + who + ")";
  }

  std::string_view path = target.substr(0, target.find_first_of("?#"));
  if (!canonical_path(path)) {
    return deny("the request path is not in canonical form", who);
  }
  bool role_known = false;
  for (const auto& rule : config_.acl) {
    if (rule.role != role) continue;
    role_known = true;
    bool method_ok = std::any_of(rule.methods.begin(), rule.methods.end(),
                                 [&](const std::string& m) { return m == method; });
    if (!method_ok) continue;
    for (const auto& pattern : rule.paths) {
      if (path_glob_matches(pattern, path)) return {true, who, "allowed for " + who};
    }
  }
  if (!role_known) return deny("no ACL rule for " + who, who);
  return deny(who + " may not " + shown(method) + " " + shown(path), who);
}

}  // namespace acon::kbs
