#include "acon/kbs/protocol.h"

#include <gtest/gtest.h>

#include "acon/common/bytes.h"

namespace acon::kbs {
namespace {

TEST(KbsProtocol, ResourcePathComponentsFollowTrusteesRule) {
  EXPECT_TRUE(valid_resource_path("default/key/1"));
  EXPECT_TRUE(valid_resource_path("my-repo/tls_cert/v1.2"));
  EXPECT_FALSE(valid_resource_path("default/key"));
  EXPECT_FALSE(valid_resource_path("default/key/1/2"));
  EXPECT_FALSE(valid_resource_path("default/../1"));
  EXPECT_FALSE(valid_resource_path("default/.hidden/1"));
  EXPECT_FALSE(valid_resource_path("default//1"));
  EXPECT_FALSE(valid_resource_path("default/key/a b"));
  EXPECT_FALSE(valid_resource_path(std::string("default/key/") + std::string(129, 'a')));
}

}  // namespace
}  // namespace acon::kbs

namespace acon::kbs {
namespace {

TEST(KbsProtocol, AuthRequestNeedsExactlyVersion040AndAKnownTee) {
  auto ok = parse_auth_request(
      R"({"version":"0.4.0","tee":"tdx","extra-params":{"supported-hash-algorithms":["sha384"]}})");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->tee, "tdx");
  EXPECT_TRUE(
      parse_auth_request(R"({"version":"0.4.0+build.1","tee":"sgx","extra-params":""})").ok());

  auto old = parse_auth_request(R"({"version":"0.2.0","tee":"tdx","extra-params":""})");
  ASSERT_FALSE(old.ok());
  EXPECT_EQ(old.error().message,
            "KBS Client Protocol Version Mismatch: expect =0.4.0 while the request is 0.2.0");
  EXPECT_FALSE(parse_auth_request(R"({"version":"0.4.0-rc1","tee":"tdx"})").ok());
  EXPECT_FALSE(parse_auth_request(R"({"version":"0.4","tee":"tdx"})").ok());
  EXPECT_FALSE(parse_auth_request(R"({"version":"0.4.0","tee":"amd"})").ok());
  EXPECT_FALSE(parse_auth_request(R"({"version":"0.4.0"})").ok());
  EXPECT_FALSE(parse_auth_request(R"(["version"])").ok());
  EXPECT_FALSE(parse_auth_request("{").ok());
}

TEST(KbsProtocol, ErrorInformationHasTrusteesTypeUriAndMemberOrder) {
  EXPECT_EQ(error_information(ErrorType::policy_deny, "Access denied by policy"),
            R"({"type":"https://github.com/confidential-containers/kbs/errors/PolicyDeny",)"
            R"("detail":"Access denied by policy"})");
  EXPECT_EQ(error_status(ErrorType::plugin_not_found), 404);
  EXPECT_EQ(error_status(ErrorType::attestation_error), 401);
  EXPECT_EQ(error_status(ErrorType::resource_not_found), 404);
  EXPECT_EQ(error_status(ErrorType::too_many_requests), 429);
  // Quotes and control characters in the detail stay valid JSON.
  auto parsed = parse_json(error_information(ErrorType::internal, "a \"b\"\n"));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ((*parsed)["detail"], "a \"b\"\n");
}

TEST(KbsProtocol, ChallengeCarriesA32ByteStandardBase64Nonce) {
  auto nonce = make_nonce();
  ASSERT_TRUE(nonce.ok());
  EXPECT_EQ(nonce->size(), 44u);
  EXPECT_EQ(base64_decode(*nonce)->size(), 32u);
  EXPECT_NE(*nonce, *make_nonce());
  EXPECT_EQ(challenge_json("abc"), R"({"nonce":"abc","extra-params":""})");
}

TEST(KbsProtocol, CookiesBearerAndTargets) {
  EXPECT_EQ(cookie_value("a=1; kbs-session-id=abc ; b=2", "kbs-session-id"), "abc");
  EXPECT_EQ(cookie_value("kbs-session-id=\"q\"", "kbs-session-id"), "q");
  EXPECT_FALSE(cookie_value("xkbs-session-id=abc", "kbs-session-id"));
  EXPECT_FALSE(cookie_value("", "kbs-session-id"));
  EXPECT_EQ(bearer_token("Bearer abc.def.ghi"), "abc.def.ghi");
  EXPECT_EQ(bearer_token("bearer  t "), "t");
  EXPECT_FALSE(bearer_token("Basic abc"));
  EXPECT_FALSE(bearer_token("Bearer "));
  Target t = split_target("/kbs/v0/resource/a/b/c?x=1&y=2");
  EXPECT_EQ(t.path, "/kbs/v0/resource/a/b/c");
  EXPECT_EQ(t.query, "x=1&y=2");
  EXPECT_EQ(split_target("/healthz").query, "");
}

}  // namespace
}  // namespace acon::kbs
