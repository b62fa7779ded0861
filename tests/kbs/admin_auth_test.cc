// Admin authorization: Bearer JWTs (EdDSA, ES256) from configured identity providers, their
// time window, issuer, audience and role, then the ACL on method and path; default deny.
#include "acon/kbs/admin_auth.h"

#include <gtest/gtest.h>

#include "acon/common/bytes.h"
#include "acon/common/jose.h"
#include "acon/common/json.h"

namespace acon::kbs {
namespace {

using namespace std::chrono_literals;

const Time kNow = Time(1767225600s);  // 2026-01-01T00:00:00Z

PrivateKey must(Result<PrivateKey> key) {
  EXPECT_TRUE(key.ok()) << key.error().to_string();
  return std::move(key).value();
}

struct Keys {
  PrivateKey ed25519 = must(PrivateKey::generate_ed25519());
  PrivateKey p256 = must(PrivateKey::generate_ec(Curve::p256));
  PrivateKey other = must(PrivateKey::generate_ed25519());
};

const Keys& keys() {
  static const Keys k;
  return k;
}

Json claims(std::string role = "admin") {
  Json c = {{"iss", "TrusteeInDocker"},
            {"sub", "alice"},
            {"aud", Json::array({"KBS"})},
            {"iat", 1767225600 - 10},
            {"exp", 1767225600 + 300}};
  if (!role.empty()) c["role"] = role;
  return c;
}

std::string sign(const PrivateKey& key, jose::JwsAlg alg, const Json& payload) {
  auto jwt = jose::jws_sign(key, alg, as_bytes(payload.dump()), {{"typ", "JWT"}});
  EXPECT_TRUE(jwt.ok()) << jwt.error().to_string();
  return jwt.ok() ? *jwt : std::string();
}

std::string bearer(const std::string& jwt) { return "Bearer " + jwt; }

AdminConfig config() {
  AdminConfig c;
  c.providers.push_back({"docker", keys().ed25519.public_key(), "TrusteeInDocker", "KBS"});
  c.providers.push_back({"ci", keys().p256.public_key(), std::nullopt, std::nullopt});
  c.acl.push_back({"admin", {"GET", "POST", "DELETE"}, {"/kbs/v0/**"}});
  c.acl.push_back({"reader", {"GET"}, {"/kbs/v0/resource/*/*/*", "/kbs/v0/audit"}});
  return c;
}

AdminAuthorizer authorizer(AdminConfig c = config()) {
  auto a = AdminAuthorizer::create(std::move(c));
  EXPECT_TRUE(a.ok()) << a.error().to_string();
  return std::move(a).value();
}

const std::string kResource = "/kbs/v0/resource/default/key/1";

TEST(AdminAuth, EdDsaAndEs256TokensFromConfiguredProviders) {
  AdminAuthorizer a = authorizer();
  AdminDecision ed = a.authorize(bearer(sign(keys().ed25519, jose::JwsAlg::EdDSA, claims())),
                                 "POST", kResource, kNow);
  EXPECT_TRUE(ed.allowed) << ed.reason;
  EXPECT_EQ(ed.subject_or_role, "alice (role admin)");
  AdminDecision es = a.authorize(bearer(sign(keys().p256, jose::JwsAlg::ES256, claims())), "DELETE",
                                 kResource, kNow);
  EXPECT_TRUE(es.allowed) << es.reason;
  // The scheme is case-insensitive; the query string is not part of the matched path.
  EXPECT_TRUE(a.authorize("bearer  " + sign(keys().ed25519, jose::JwsAlg::EdDSA, claims()), "GET",
                          kResource + "?version=2", kNow)
                  .allowed);
}

TEST(AdminAuth, WrongKeyIsRefusedWithoutEchoingTheToken) {
  std::string jwt = sign(keys().other, jose::JwsAlg::EdDSA, claims());
  AdminDecision d = authorizer().authorize(bearer(jwt), "GET", kResource, kNow);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason,
            "the token is not an EdDSA or ES256 JWT signed by a configured identity provider");
  EXPECT_TRUE(d.subject_or_role.empty());
  EXPECT_EQ(d.reason.find(jwt.substr(0, 20)), std::string::npos);
}

TEST(AdminAuth, TimeWindow) {
  AdminAuthorizer a = authorizer();
  Json expired = claims();
  expired["exp"] = 1767225600 - 61;  // past the 60 s leeway
  EXPECT_EQ(a.authorize(bearer(sign(keys().ed25519, jose::JwsAlg::EdDSA, expired)), "GET",
                        kResource, kNow)
                .reason,
            "the token expired");
  Json in_leeway = claims();
  in_leeway["exp"] = 1767225600 - 30;
  EXPECT_TRUE(a.authorize(bearer(sign(keys().ed25519, jose::JwsAlg::EdDSA, in_leeway)), "GET",
                          kResource, kNow)
                  .allowed);
  Json no_exp = claims();
  no_exp.erase("exp");
  EXPECT_EQ(
      a.authorize(bearer(sign(keys().ed25519, jose::JwsAlg::EdDSA, no_exp)), "GET", kResource, kNow)
          .reason,
      "the token has no exp");
  Json later = claims();
  later["nbf"] = 1767225600 + 120;
  EXPECT_EQ(
      a.authorize(bearer(sign(keys().ed25519, jose::JwsAlg::EdDSA, later)), "GET", kResource, kNow)
          .reason,
      "the token is not valid yet (nbf)");
  later["nbf"] = 1767225600 + 30;
  EXPECT_TRUE(
      a.authorize(bearer(sign(keys().ed25519, jose::JwsAlg::EdDSA, later)), "GET", kResource, kNow)
          .allowed);
}

TEST(AdminAuth, RoleIsRequired) {
  AdminDecision d = authorizer().authorize(
      bearer(sign(keys().ed25519, jose::JwsAlg::EdDSA, claims(""))), "GET", kResource, kNow);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, "the token has no role");
  Json numeric = claims();
  numeric["role"] = 1;
  EXPECT_FALSE(authorizer()
                   .authorize(bearer(sign(keys().ed25519, jose::JwsAlg::EdDSA, numeric)), "GET",
                              kResource, kNow)
                   .allowed);
}

TEST(AdminAuth, UnsignedAndHmacTokensAreRefused) {
  std::string payload = b64url(as_bytes(claims().dump()));
  std::string none = b64url(as_bytes(R"({"alg":"none","typ":"JWT"})")) + "." + payload + ".";
  std::string hs256 = b64url(as_bytes(R"({"alg":"HS256","typ":"JWT"})")) + "." + payload + "." +
                      b64url(Bytes(32, 0x41));
  // An RS256 token from an RSA key is refused too: only EdDSA and ES256 are accepted.
  PrivateKey rsa = must(PrivateKey::generate_rsa(2048));
  AdminConfig with_rsa = config();
  for (const auto& token : {none, hs256}) {
    AdminDecision d = authorizer().authorize(bearer(token), "GET", kResource, kNow);
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.reason,
              "the token is not an EdDSA or ES256 JWT signed by a configured identity provider");
  }
  with_rsa.providers.push_back({"rsa", rsa.public_key(), std::nullopt, std::nullopt});
  auto refused = AdminAuthorizer::create(with_rsa);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("neither Ed25519 nor P-256"), std::string::npos);
  // A tampered signature is refused.
  EXPECT_FALSE(authorizer()
                   .authorize(bearer(sign(keys().p256, jose::JwsAlg::ES256, claims()) + "x"), "GET",
                              kResource, kNow)
                   .allowed);
}

TEST(AdminAuth, IssuerAndAudienceWhenConfigured) {
  AdminConfig only_docker = config();
  only_docker.providers.pop_back();
  AdminAuthorizer a = authorizer(only_docker);
  Json wrong_iss = claims();
  wrong_iss["iss"] = "someone-else";
  EXPECT_EQ(a.authorize(bearer(sign(keys().ed25519, jose::JwsAlg::EdDSA, wrong_iss)), "GET",
                        kResource, kNow)
                .reason,
            "the token's issuer is not TrusteeInDocker");
  Json wrong_aud = claims();
  wrong_aud["aud"] = "other-kbs";
  EXPECT_EQ(a.authorize(bearer(sign(keys().ed25519, jose::JwsAlg::EdDSA, wrong_aud)), "GET",
                        kResource, kNow)
                .reason,
            "the token's audience does not include KBS");
  Json string_aud = claims();
  string_aud["aud"] = "KBS";
  EXPECT_TRUE(a.authorize(bearer(sign(keys().ed25519, jose::JwsAlg::EdDSA, string_aud)), "GET",
                          kResource, kNow)
                  .allowed);
  // The ES256 provider has neither configured: any iss and aud pass.
  EXPECT_TRUE(authorizer()
                  .authorize(bearer(sign(keys().p256, jose::JwsAlg::ES256, wrong_iss)), "GET",
                             kResource, kNow)
                  .allowed);
}

TEST(AdminAuth, AclMatchesMethodAndPath) {
  AdminAuthorizer a = authorizer();
  std::string reader = bearer(sign(keys().ed25519, jose::JwsAlg::EdDSA, claims("reader")));
  EXPECT_TRUE(a.authorize(reader, "GET", kResource, kNow).allowed);
  EXPECT_TRUE(a.authorize(reader, "GET", "/kbs/v0/audit", kNow).allowed);
  AdminDecision del = a.authorize(reader, "DELETE", kResource, kNow);
  EXPECT_FALSE(del.allowed);
  EXPECT_EQ(del.reason, "alice (role reader) may not DELETE " + kResource);
  EXPECT_EQ(del.subject_or_role, "alice (role reader)");
  AdminDecision policy = a.authorize(reader, "GET", "/kbs/v0/resource-policy", kNow);
  EXPECT_FALSE(policy.allowed);
  // '*' does not cross a '/'.
  EXPECT_FALSE(a.authorize(reader, "GET", "/kbs/v0/resource/default/key/1/2", kNow).allowed);
  EXPECT_FALSE(a.authorize(reader, "GET", "/kbs/v0/audit/x", kNow).allowed);
  // Paths a router could resolve elsewhere are refused before matching.
  for (const char* path :
       {"/kbs/v0/resource/default/key/../../../audit", "/kbs/v0/resource/default//key/1",
        "/kbs/v0/resource/%64efault/k/1", "/kbs/v0/./audit", "kbs/v0/audit"}) {
    AdminDecision d = a.authorize(reader, "GET", path, kNow);
    EXPECT_FALSE(d.allowed) << path;
    EXPECT_EQ(d.reason, "the request path is not in canonical form") << path;
  }
  std::string guest = bearer(sign(keys().ed25519, jose::JwsAlg::EdDSA, claims("guest")));
  EXPECT_EQ(a.authorize(guest, "GET", kResource, kNow).reason,
            "no ACL rule for alice (role guest)");
}

TEST(AdminAuth, NothingConfiguredDeniesEverything) {
  AdminAuthorizer none = authorizer(AdminConfig{});
  AdminDecision d = none.authorize(bearer(sign(keys().ed25519, jose::JwsAlg::EdDSA, claims())),
                                   "GET", kResource, kNow);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, "the admin API is disabled: no identity provider is configured");
  // Providers but no ACL: a valid token is still refused.
  AdminConfig no_acl = config();
  no_acl.acl.clear();
  EXPECT_FALSE(authorizer(no_acl)
                   .authorize(bearer(sign(keys().ed25519, jose::JwsAlg::EdDSA, claims())), "GET",
                              kResource, kNow)
                   .allowed);
}

TEST(AdminAuth, MalformedAuthorization) {
  AdminAuthorizer a = authorizer();
  for (const char* header :
       {"", "Bearer", "Bearer   ", "Basic YWRtaW46YWRtaW4=", "Bearerx.y.z", "Bearer not-a-jwt"}) {
    AdminDecision d = a.authorize(header, "GET", kResource, kNow);
    EXPECT_FALSE(d.allowed) << header;
  }
  EXPECT_NE(
      a.authorize("Bearer " + std::string(kMaxAdminTokenBytes + 1, 'a'), "GET", kResource, kNow)
          .reason.find("longer than"),
      std::string::npos);
}

TEST(AdminAuth, ConfigValidation) {
  AdminConfig bad_method = config();
  bad_method.acl[0].methods.push_back("FETCH");
  EXPECT_FALSE(AdminAuthorizer::create(bad_method).ok());
  AdminConfig bad_path = config();
  bad_path.acl[0].paths.push_back("kbs/v0/*");
  EXPECT_FALSE(AdminAuthorizer::create(bad_path).ok());
  AdminConfig empty_role = config();
  empty_role.acl[0].role.clear();
  EXPECT_FALSE(AdminAuthorizer::create(empty_role).ok());
  // Methods are normalised to upper case.
  AdminConfig lower = config();
  lower.acl[1].methods = {"get"};
  std::string reader = bearer(sign(keys().ed25519, jose::JwsAlg::EdDSA, claims("reader")));
  EXPECT_TRUE(authorizer(lower).authorize(reader, "GET", kResource, kNow).allowed);
}

TEST(AdminAuth, PathGlob) {
  EXPECT_TRUE(path_glob_matches("/kbs/v0/resource/**", "/kbs/v0/resource/a/b/c"));
  EXPECT_TRUE(path_glob_matches("/kbs/v0/resource/*/*/*", "/kbs/v0/resource/a/b/c"));
  EXPECT_FALSE(path_glob_matches("/kbs/v0/resource/*/*/*", "/kbs/v0/resource/a/b"));
  EXPECT_TRUE(path_glob_matches("/kbs/v0/resource/lab-*/**", "/kbs/v0/resource/lab-1/k/1"));
  EXPECT_FALSE(path_glob_matches("/kbs/v0/resource/lab-*/**", "/kbs/v0/resource/prod/k/1"));
  EXPECT_TRUE(path_glob_matches("/kbs/**/audit", "/kbs/v0/x/audit"));
  EXPECT_TRUE(path_glob_matches("/a*b", "/ab"));
  EXPECT_FALSE(path_glob_matches("/a*b", "/a/b"));
  EXPECT_TRUE(path_glob_matches("/exact", "/exact"));
  EXPECT_FALSE(path_glob_matches("/exact", "/exact2"));
}

}  // namespace
}  // namespace acon::kbs
