// Building an image's manifest from acon-image create's inputs, and rootfs layer options.
#include "acon/image/build.h"

#include <gtest/gtest.h>

namespace acon::image {
namespace {

TEST(BuildManifest, LayersAliasesAndConfigDefaults) {
  const std::vector<std::string> layers = {"sha384/" + std::string(96, 'a'),
                                           "sha384/" + std::string(96, 'b')};
  ManifestRequest req;
  req.content_aliases = {"@1=base", "sha384/" + std::string(96, 'a') + "=first"};
  req.self_aliases = {"app:3"};
  layers::ImageConfig config{{"/bin/sh", "-c", "run"}, {"PATH=/bin"}, "/srv"};
  auto m = build_manifest(req, layers, config);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->aliases.contents.at(layers[1]), std::vector<std::string>{"base"});
  EXPECT_EQ(m->aliases.contents.at(layers[0]), std::vector<std::string>{"first"});
  EXPECT_EQ(m->aliases.self.at("."), std::vector<std::string>{"app:3"});
  EXPECT_EQ(m->entrypoint_or_default(), config.entrypoint);
  EXPECT_EQ(m->working_dir, "/srv");
  EXPECT_EQ(m->max_instances_or_default(), 1u);
  EXPECT_TRUE(manifest_problems(*m).empty());

  req.entrypoint = {"/own"};
  req.working_dir = "/w";
  m = build_manifest(req, layers, config);
  EXPECT_EQ(m->entrypoint_or_default(), std::vector<std::string>{"/own"});
  EXPECT_EQ(m->working_dir, "/w");
  EXPECT_EQ(build_manifest({}, {}, std::nullopt)->working_dir, "/");

  for (const char* bad : {"@2=x", "@=x", "@-1=x", "noequals", "=x", "obj="}) {
    ManifestRequest r;
    r.content_aliases = {bad};
    EXPECT_FALSE(build_manifest(r, layers, std::nullopt).ok()) << bad;
  }
}

TEST(BuildManifest, RootfsOptions) {
  auto o = rootfs_create_options("42", "1000:100", true);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->mtime, 42);
  EXPECT_EQ(o->uid, 1000u);
  EXPECT_EQ(o->gid, 100u);
  EXPECT_TRUE(o->allow_special_files);
  EXPECT_FALSE(rootfs_create_options("preserve", "", false)->mtime.has_value());
  EXPECT_EQ(rootfs_create_options("-5", "", false)->mtime, -5);
  for (const char* mtime : {"", "x", "1e3", "99999999999999999999", "12 ", "9223372036854775807",
                            "253402300800", "-62135596801"}) {
    EXPECT_FALSE(rootfs_create_options(mtime, "", false).ok()) << mtime;
  }
  for (const char* owner : {"1", "1:", ":1", "a:b", "1:4294967295", "1:99999999999", "1:2:3"}) {
    EXPECT_FALSE(rootfs_create_options("0", owner, false).ok()) << owner;
  }
}

TEST(BuildManifest, SubjectAndTestSigner) {
  auto subject = parse_subject("CN=a,O=b");
  ASSERT_TRUE(subject.ok());
  EXPECT_EQ(subject->size(), 2u);
  for (const char* bad : {"", "CN", "CN=", "=a", "CN=a,"}) EXPECT_FALSE(parse_subject(bad).ok());
  TestSignerRequest req;
  req.type = "dsa";
  EXPECT_EQ(make_test_signer(req).error().code, Errc::invalid_argument);
  req.type = "p256";
  req.hash = HashAlg::sha1;
  EXPECT_FALSE(make_test_signer(req).ok());
}

}  // namespace
}  // namespace acon::image
