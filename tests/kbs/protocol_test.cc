#include "acon/kbs/protocol.h"

#include <gtest/gtest.h>

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
