// The pod after a restart: Runtime::open rebuilds the loaded images and the Finalize state from
// the runtime log and the stored images, and refuses a state directory that disagrees with the
// log, naming what disagrees.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "acon/acond/runtime.h"
#include "acond_fixtures.h"

namespace acon::acond {
namespace {

using namespace test_fixtures;
namespace fs = std::filesystem;

struct Td {
  TempDir dir;
  std::string state = (dir.path() / "sim.json").string();
  guest::sim::Simulator sim = create_sim_state(state);
  guest::sim::SimBackend backend{state};
  fs::path state_dir = dir.path() / "acond";

  Result<std::unique_ptr<Runtime>> open(LogMode mode) {
    RuntimeOptions options;
    options.state_dir = state_dir;
    options.log_mode = mode;
    return Runtime::open(backend, options);
  }
  fs::path image_dir(const SignedImage& image) const {
    auto id = must(image::parse_image_id(image.image_id));
    return state_dir / "images" / "sha384" / id.signer_digest / id.manifest_digest;
  }
};

class Reload : public ::testing::TestWithParam<LogMode> {};
INSTANTIATE_TEST_SUITE_P(Acond, Reload, ::testing::Values(LogMode::coco, LogMode::acon),
                         [](const auto& mode) { return std::string(log_mode_name(mode.param)); });

TEST_P(Reload, RestartKeepsImagesPolicyAndFinalize) {
  Td td;
  Signer p384 = load_signer("p384");
  Signer p521 = load_signer("p521");
  Layer layer = make_layer(td.dir.path(), "reload");
  auto a = sign(p384, app_manifest({layer.ref}, {p384.rule_prefix + "*"}, true));
  auto b = sign(p384, app_manifest({}, {}, false));
  auto c = sign(p521, app_manifest({}, {}, false));
  std::vector<std::string> entries;
  {
    auto runtime = must(td.open(GetParam()));
    ASSERT_TRUE(runtime->add_manifest(a.manifest, a.signature, a.certificate).ok());
    ASSERT_TRUE(runtime->add_blob(2, layer.tar).ok());
    ASSERT_TRUE(runtime->add_manifest(b.manifest, b.signature, b.certificate).ok());
    auto report = runtime->report(1, 2, kRequestTdReport);
    ASSERT_TRUE(report.ok());
    entries = report->mrlog[3];
  }
  {
    auto runtime = must(td.open(GetParam()));
    EXPECT_EQ(runtime->image_count(), 2u);
    EXPECT_FALSE(runtime->finalized());
    auto manifest = runtime->get_manifest(a.image_id);
    ASSERT_TRUE(manifest.ok());
    EXPECT_EQ(manifest->manifest, a.manifest);
    EXPECT_EQ(manifest->certificate_der, a.certificate);
    // Idempotent as before the restart: no new measurement, the layer is present.
    auto again = runtime->add_manifest(a.manifest, a.signature, a.certificate);
    ASSERT_TRUE(again.ok());
    EXPECT_TRUE(again->missing_layers.empty());
    // The rebuilt pod applies a's policy (it accepts only p384's images).
    auto refused = runtime->add_manifest(c.manifest, c.signature, c.certificate);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().message, messages::kIncompatiblePolicies);
    auto report = runtime->report(1, 2, kRequestTdReport);
    ASSERT_TRUE(report.ok());
    EXPECT_EQ(report->mrlog[3], entries);
    EXPECT_NE(report->attestation_data.find(b.image_id), std::string::npos);
    ASSERT_TRUE(runtime->finalize().ok());
  }
  auto runtime = must(td.open(GetParam()));
  EXPECT_TRUE(runtime->finalized());
  EXPECT_EQ(runtime->image_count(), 2u);
  auto after = runtime->add_manifest(b.manifest, b.signature, b.certificate);
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.error().message, messages::kManifestsFinalized);
  EXPECT_FALSE(runtime->finalize().ok());
}

TEST(Reload, MeasuredImageWithoutItsDirectoryIsAnError) {
  Td td;
  Signer p384 = load_signer("p384");
  auto a = sign(p384, app_manifest({}, {}, false));
  {
    auto runtime = must(td.open(LogMode::coco));
    ASSERT_TRUE(runtime->add_manifest(a.manifest, a.signature, a.certificate).ok());
  }
  fs::remove_all(td.image_dir(a));
  auto reopened = td.open(LogMode::coco);
  ASSERT_FALSE(reopened.ok());
  EXPECT_NE(reopened.error().message.find(a.image_id), std::string::npos)
      << reopened.error().message;
}

TEST(Reload, StoredImageWithoutARecordIsAnError) {
  Td td;
  Signer p384 = load_signer("p384");
  auto a = sign(p384, app_manifest({}, {}, false));
  auto b = sign(p384, app_manifest({}, {}, true));
  {
    auto runtime = must(td.open(LogMode::coco));
    ASSERT_TRUE(runtime->add_manifest(a.manifest, a.signature, a.certificate).ok());
  }
  fs::copy(td.image_dir(a), td.image_dir(b), fs::copy_options::recursive);
  auto reopened = td.open(LogMode::coco);
  ASSERT_FALSE(reopened.ok());
  EXPECT_NE(reopened.error().message.find(td.image_dir(b).string()), std::string::npos)
      << reopened.error().message;
}

TEST(Reload, StagedImageIsPublishedOnlyWhenLogged) {
  Td td;
  Signer p384 = load_signer("p384");
  auto a = sign(p384, app_manifest({}, {}, false));
  auto b = sign(p384, app_manifest({}, {}, true));
  {
    auto runtime = must(td.open(LogMode::acon));
    ASSERT_TRUE(runtime->add_manifest(a.manifest, a.signature, a.certificate).ok());
  }
  // a measured but not yet renamed into place; b staged but never measured.
  fs::rename(td.image_dir(a), td.image_dir(a).string() + ".staging");
  fs::copy(td.image_dir(a).string() + ".staging", td.image_dir(b).string() + ".staging",
           fs::copy_options::recursive);
  auto runtime = must(td.open(LogMode::acon));
  EXPECT_EQ(runtime->image_count(), 1u);
  EXPECT_TRUE(fs::is_directory(td.image_dir(a)));
  EXPECT_FALSE(fs::exists(td.image_dir(a).string() + ".staging"));
  EXPECT_FALSE(fs::exists(td.image_dir(b).string() + ".staging"));
  EXPECT_FALSE(runtime->get_manifest(b.image_id).ok());
}

TEST(Reload, TamperedStoredManifestIsAnError) {
  Td td;
  Signer p384 = load_signer("p384");
  auto a = sign(p384, app_manifest({}, {}, false));
  {
    auto runtime = must(td.open(LogMode::coco));
    ASSERT_TRUE(runtime->add_manifest(a.manifest, a.signature, a.certificate).ok());
  }
  {
    std::ofstream out(td.image_dir(a) / "acon-manifest.json", std::ios::app);
    out << " ";
  }
  auto reopened = td.open(LogMode::coco);
  ASSERT_FALSE(reopened.ok());
  EXPECT_NE(reopened.error().message.find("does not verify"), std::string::npos)
      << reopened.error().message;
}

}  // namespace
}  // namespace acon::acond
