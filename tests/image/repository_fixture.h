// What the repository tests and the command tests start from: an empty .acon/ repository in a
// temporary directory, test signers, and storing a signed manifest.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>

#include "acon/image/build.h"
#include "acon/image/repository.h"
#include "layer_test_util.h"

namespace acon::test {

using image::Manifest;
using image::Repository;
using image::SignedManifest;
using image::TestSigner;

// A self-signed test signer named CN=`common_name`, valid from now; `type` as
// TestSignerRequest::type.
inline TestSigner make_signer(const std::string& common_name, const std::string& type = "p384") {
  image::TestSignerRequest req;
  req.type = type;
  req.subject = {{"CN", common_name}};
  req.now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  auto s = image::make_test_signer(req);
  EXPECT_TRUE(s.ok()) << s.error().message;
  return std::move(*s);
}

class RepositoryFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = Repository::create(tmp / ".acon");
    ASSERT_TRUE(r.ok()) << r.error().message;
    repo.emplace(std::move(*r));
  }

  // Signs the manifest's pretty text as `jq` canonicalises it and stores it.
  SignedManifest sign_and_store(const Manifest& m, const TestSigner& s) {
    const std::string text = image::pretty_manifest(m);
    auto parsed = image::parse_manifest(text);
    EXPECT_TRUE(parsed.ok());
    auto sm =
        image::sign_manifest_text(text, *parsed, s.key, s.certificate, image::CanonicalStyle::jq);
    EXPECT_TRUE(sm.ok()) << sm.error().message;
    EXPECT_TRUE(repo->store(*sm).ok());
    return *sm;
  }

  TempDir tmp;
  std::optional<Repository> repo;
};

}  // namespace acon::test
