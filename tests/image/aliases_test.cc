// Vendor-layer resolution through aliases.contents, and aconcli's alias-substitute.
#include <gtest/gtest.h>

#include "acon/common/hash.h"
#include "acon/image/policy.h"

namespace acon::image {
namespace {

std::string h384(std::string_view seed) { return hex_encode(sha384(as_bytes(seed))); }
std::string layer(std::string_view seed) { return "sha384/" + h384(seed); }

SignedManifest signed_by(std::string_view signer_seed, std::string_view manifest_seed, Manifest m) {
  SignedManifest sm;
  m.raw = "manifest " + std::string(manifest_seed);
  sm.identity = {HashAlg::sha384, h384(signer_seed), hex_encode(sha384(as_bytes(m.raw)))};
  sm.manifest = std::move(m);
  return sm;
}

Manifest with_layers(std::vector<std::string> layers) {
  Manifest m;
  m.working_dir = "/";
  m.layers = std::move(layers);
  return m;
}

std::string alias_of(std::string_view signer_seed, std::string_view name) {
  return "signer/sha384/" + h384(signer_seed) + "/" + std::string(name);
}

TEST(ResolveLayers, DirectDigestsAndVendorAliases) {
  Manifest vendor_m;
  vendor_m.working_dir = "/";
  vendor_m.aliases.contents[layer("base")] = {"Base:1", "Base:0"};
  SignedManifest vendor = signed_by("vendor", "v1", vendor_m);
  SignedManifest app =
      signed_by("app", "a1", with_layers({alias_of("vendor", "Base:0"), layer("app")}));

  std::vector<SignedManifest> pod = {vendor, app};
  auto r = resolve_layers(app, pod);
  ASSERT_EQ(r.size(), 2u);
  ASSERT_TRUE(r[0].digest.has_value()) << r[0].problem;
  EXPECT_EQ(r[0].digest->to_string(), layer("base"));
  EXPECT_EQ(r[0].chain, std::vector<std::string>{alias_of("vendor", "Base:0")});
  EXPECT_EQ(r[1].digest->to_string(), layer("app"));
  EXPECT_TRUE(r[1].chain.empty());

  // Without the vendor manifest the alias dangles (acond's missing_layers).
  std::vector<SignedManifest> alone = {app};
  r = resolve_layers(app, alone);
  EXPECT_FALSE(r[0].digest.has_value());
  EXPECT_EQ(r[0].problem, "manifest.layers[0]: no loaded manifest signed by sha384/" +
                              h384("vendor") + " defines alias 'Base:0'");
  EXPECT_TRUE(r[1].digest.has_value());
}

TEST(ResolveLayers, ChainsCyclesAndScoping) {
  Manifest v1;
  v1.working_dir = "/";
  v1.aliases.contents[layer("base")] = {"Base"};
  v1.aliases.contents[alias_of("v1", "LoopA")] = {"LoopB"};
  v1.aliases.contents[alias_of("v1", "LoopB")] = {"LoopA"};
  v1.aliases.contents["not-a-reference"] = {"Broken"};
  Manifest v2;
  v2.working_dir = "/";
  v2.aliases.contents[alias_of("v1", "Base")] = {"Mid"};
  std::vector<SignedManifest> pod = {signed_by("v1", "m1", v1), signed_by("v2", "m2", v2)};
  SignedManifest app = signed_by(
      "app", "a",
      with_layers({alias_of("v2", "Mid"), alias_of("v1", "LoopA"), alias_of("v1", "Broken"),
                   "signer/sha512/" + std::string(128, 'a') + "/Base", "sha384/short"}));
  auto r = resolve_layers(app, pod);
  ASSERT_EQ(r.size(), 5u);
  ASSERT_TRUE(r[0].digest.has_value()) << r[0].problem;
  EXPECT_EQ(r[0].digest->to_string(), layer("base"));
  EXPECT_EQ(r[0].chain, (std::vector<std::string>{alias_of("v2", "Mid"), alias_of("v1", "Base")}));
  EXPECT_FALSE(r[1].digest.has_value());
  EXPECT_NE(r[1].problem.find("alias chain longer than 32"), std::string::npos) << r[1].problem;
  EXPECT_EQ(r[1].chain.size(), kMaxAliasDepth);
  EXPECT_NE(r[2].problem.find("'not-a-reference', which is not a layer reference"),
            std::string::npos);
  // The alias is scoped by the defining image's hash algorithm and signer.
  EXPECT_NE(r[3].problem.find("no loaded manifest signed by sha512/"), std::string::npos);
  EXPECT_NE(r[4].problem.find("digest reference 'sha384/short'"), std::string::npos);
}

TEST(ResolveLayers, FirstLoadedDefinitionWins) {
  Manifest old_m, new_m;
  old_m.working_dir = new_m.working_dir = "/";
  old_m.aliases.contents[layer("old")] = {"Lib"};
  new_m.aliases.contents[layer("new")] = {"Lib"};
  SignedManifest older = signed_by("vendor", "old", old_m);
  SignedManifest newer = signed_by("vendor", "new", new_m);
  SignedManifest app = signed_by("app", "a", with_layers({alias_of("vendor", "Lib")}));
  std::vector<SignedManifest> pod = {older, newer, app};
  EXPECT_EQ(resolve_layers(app, pod)[0].digest->to_string(), layer("old"));
  std::vector<SignedManifest> pod2 = {newer, older, app};
  EXPECT_EQ(resolve_layers(app, pod2)[0].digest->to_string(), layer("new"));
}

TEST(AliasSubstitute, ReplacesDigestsAndAddsAccepts) {
  Manifest va;
  va.working_dir = "/";
  va.aliases.contents[layer("L1")] = {"A1:2", "A1:1"};
  va.aliases.self["."] = {"VendorA:3", "VendorA:2"};
  Manifest vb;
  vb.working_dir = "/";
  vb.aliases.contents[layer("L1")] = {"B1"};
  vb.aliases.contents[layer("L2")] = {"B2"};
  std::vector<SignedManifest> refs = {signed_by("va", "ma", va), signed_by("vb", "mb", vb)};

  Manifest app = with_layers({layer("L1"), layer("L2"), layer("L3"), layer("L1")});
  app.policy.accepts = {"sha384/" + h384("vb") + "/" + refs[1].identity.manifest_digest};
  app.raw = "original bytes";
  auto out = alias_substitute(app, refs);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(*out->manifest.layers,
            (std::vector<std::string>{alias_of("va", "A1:2"), alias_of("vb", "B2"), layer("L3"),
                                      alias_of("va", "A1:2")}));
  EXPECT_EQ(out->replaced.size(), 2u);
  // Vendor A is accepted by its first self alias; vendor B (no self alias) by its manifest
  // digest, which the manifest already listed.
  EXPECT_EQ(out->added_accepts, std::vector<std::string>{"sha384/" + h384("va") + "/VendorA:3"});
  EXPECT_EQ(out->manifest.policy.accepts.size(), 2u);
  EXPECT_TRUE(out->manifest.raw.empty());

  // The substituted image resolves to its original layers once the vendors are loaded.
  SignedManifest rewritten = signed_by("app", "rewritten", out->manifest);
  std::vector<SignedManifest> pod = {refs[0], refs[1], rewritten};
  auto resolved = resolve_layers(rewritten, pod);
  ASSERT_EQ(resolved.size(), 4u);
  for (size_t i = 0; i < resolved.size(); ++i) {
    ASSERT_TRUE(resolved[i].digest.has_value()) << resolved[i].problem;
    EXPECT_EQ(resolved[i].digest->to_string(), app.layers->at(i));
  }
}

TEST(AliasSubstitute, NothingToDoAndErrors) {
  Manifest app = with_layers({layer("L9")});
  Manifest v;
  v.working_dir = "/";
  v.aliases.contents[layer("L1")] = {"X"};
  std::vector<SignedManifest> refs = {signed_by("v", "m", v)};
  auto out = alias_substitute(app, refs);
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out->replaced.empty());
  EXPECT_EQ(*out->manifest.layers, *app.layers);

  v.aliases.contents[layer("L9")] = {};
  refs = {signed_by("v", "m", v)};
  out = alias_substitute(app, refs);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.error().message.find("lists no alias name"), std::string::npos);

  v.aliases.contents[layer("L9")] = {"Y"};
  v.aliases.self["."] = {};
  refs = {signed_by("v", "m", v)};
  out = alias_substitute(app, refs);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.error().message.find("aliases.self[\".\"] is empty"), std::string::npos);

  Manifest no_layers;
  no_layers.working_dir = "/";
  out = alias_substitute(no_layers, refs);
  ASSERT_TRUE(out.ok());
  EXPECT_FALSE(out->manifest.layers.has_value());
}

}  // namespace
}  // namespace acon::image
