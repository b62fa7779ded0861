// The .acon/ repository library: layout, look-ups, closures, export/import, image-set checks,
// and hostile repository contents (symlinks, oversize and malformed files) giving errors.
#include "acon/image/repository.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>

#include "acon/image/build.h"
#include "acon/image/layers/create.h"
#include "layer_test_util.h"
#include "repository_fixture.h"

namespace acon::image {
namespace {

namespace fs = std::filesystem;
using test::TempDir;
using test::write_file;

class RepositoryTest : public test::RepositoryFixture {
 protected:
  // A layer of one file, stored in the repository; returns its reference.
  std::string add_layer(const std::string& content) {
    write_file(tmp / "rootfs" / "file", content);
    auto stored = store_layer_input(*repo, {LayerSource::rootfs, (tmp / "rootfs").string()}, {});
    EXPECT_TRUE(stored.ok()) << stored.error().message;
    return stored->refs.at(0);
  }

  // A vendor image (layer-only, aliasing its layer as "base") and an application using it by
  // alias and accepting the vendor.
  std::pair<SignedManifest, SignedManifest> vendor_and_app() {
    const std::string layer = add_layer("vendor");
    ManifestRequest vendor_req;
    vendor_req.content_aliases = {"@0=base"};
    auto vendor_m = build_manifest(vendor_req, {layer}, std::nullopt);
    EXPECT_TRUE(vendor_m.ok());
    SignedManifest vendor = sign_and_store(*vendor_m, vendor_signer);
    ManifestRequest app_req;
    app_req.entrypoint = {"/bin/app"};
    app_req.accepts = {std::string(hash_name(vendor.identity.hash)) + "/" +
                       vendor.identity.signer_digest + "/*"};
    const std::string alias = "signer/" + std::string(hash_name(vendor.identity.hash)) + "/" +
                              vendor.identity.signer_digest + "/base";
    auto app_m = build_manifest(app_req, {alias}, std::nullopt);
    EXPECT_TRUE(app_m.ok());
    return {vendor, sign_and_store(*app_m, app_signer)};
  }

  TestSigner vendor_signer = test::make_signer("vendor");
  TestSigner app_signer = test::make_signer("app");
};

TEST_F(RepositoryTest, OpenCreateLocate) {
  EXPECT_EQ(Repository::open(tmp / "nothing").error().code, Errc::invalid_argument);
  EXPECT_TRUE(Repository::open(tmp / ".acon").ok());
  auto by_parent = Repository::locate(tmp.path().string());
  ASSERT_TRUE(by_parent.ok());
  EXPECT_EQ(by_parent->dir(), fs::absolute(tmp / ".acon").lexically_normal());
  EXPECT_TRUE(fs::is_directory(tmp / ".acon" / "manifests"));
  EXPECT_TRUE(fs::is_directory(tmp / ".acon" / "blobs"));
}

TEST_F(RepositoryTest, StoreListFindAndVerify) {
  auto [vendor, app] = vendor_and_app();
  const auto dirs = repo->bundle_dirs();
  ASSERT_EQ(dirs.size(), 2u);
  EXPECT_LT(dirs[0], dirs[1]);
  const fs::path app_dir = repo->bundle_dir(app.identity.hash, app.identity.manifest_digest);
  EXPECT_TRUE(fs::is_regular_file(app_dir / kBundleManifestFile));
  EXPECT_TRUE(fs::is_regular_file(app_dir / kBundleCertificateFile));
  EXPECT_TRUE(fs::is_regular_file(app_dir / kBundleSignatureFile));

  EXPECT_EQ(*repo->find_bundle(app.identity.image_id()), app_dir);
  EXPECT_EQ(*repo->find_bundle(app.identity.manifest_digest.substr(0, 8)), app_dir);
  EXPECT_EQ(*repo->find_bundle("sha384/" + app.identity.manifest_digest), app_dir);
  EXPECT_EQ(*repo->find_bundle(app_dir.string()), app_dir);
  EXPECT_EQ(repo->find_bundle("abc").error().code, Errc::invalid_argument);
  EXPECT_EQ(repo->find_bundle("ffffffff").error().code, Errc::not_found);

  auto bundle = read_bundle_dir(app_dir);
  ASSERT_TRUE(bundle.ok());
  auto verified = verify_bundle(*bundle, CertProfile::acond);
  ASSERT_TRUE(verified.ok()) << verified.error().message;
  EXPECT_EQ(verified->identity.image_id(), app.identity.image_id());
  EXPECT_EQ(repo->verified_manifests(CertProfile::acond).size(), 2u);

  // Filed under another digest: the signature holds but the filing does not.
  const fs::path moved = app_dir.parent_path() / std::string(96, 'a');
  fs::rename(app_dir, moved);
  auto misfiled = read_bundle_dir(moved);
  ASSERT_TRUE(misfiled.ok());
  auto refused = verify_bundle(*misfiled, CertProfile::acond);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::verify_failed);
  EXPECT_NE(refused.error().message.find("modified after signing"), std::string::npos);
}

TEST_F(RepositoryTest, ClosureFollowsVendorAliases) {
  auto [vendor, app] = vendor_and_app();
  const fs::path app_dir = repo->bundle_dir(app.identity.hash, app.identity.manifest_digest);
  auto closure = repo->closure({app_dir}, CertProfile::acond);
  ASSERT_TRUE(closure.ok()) << closure.error().message;
  ASSERT_EQ(closure->size(), 2u);
  EXPECT_EQ((*closure)[0], app_dir);
  EXPECT_EQ((*closure)[1], repo->bundle_dir(vendor.identity.hash, vendor.identity.manifest_digest));
}

TEST_F(RepositoryTest, ImageSetCheckInLoadOrder) {
  auto [vendor, app] = vendor_and_app();
  std::vector<Bundle> bundles;
  for (const auto& sm : {vendor, app}) {
    bundles.push_back(
        *read_bundle_dir(repo->bundle_dir(sm.identity.hash, sm.identity.manifest_digest)));
  }
  const ImageSetCheck ok = check_image_set(*repo, {"vendor", "app"}, bundles, {});
  EXPECT_FALSE(ok.rejected);
  ASSERT_EQ(ok.images.size(), 2u);
  EXPECT_EQ(ok.images[1].layers_ok, 1u);  // the alias resolved through the vendor image
  // The vendor image has no entrypoint: a warning, not a rejection.
  ASSERT_EQ(ok.images[0].manifest_findings.size(), 1u);
  EXPECT_EQ(ok.images[0].manifest_findings[0].kind, ManifestProblemKind::entrypoint);
  const Json report = image_set_report(ok);
  EXPECT_EQ(report["verdict"], "accepted");
  EXPECT_EQ(report["images"][0]["warnings"].size(), 1u);
  EXPECT_EQ(report["policy"]["acond"].size(), 2u);

  // Without the vendor image the alias cannot resolve: rejected.
  const ImageSetCheck alone = check_image_set(*repo, {"app"}, {bundles[1]}, {});
  EXPECT_TRUE(alone.rejected);
  EXPECT_EQ(alone.images[0].layer_problems.size(), 1u);

  // A changed layer blob is a rejection naming the layer.
  const std::string layer = vendor.manifest.layers_or_default().at(0);
  const fs::path blob = fs::canonical(*repo->blobs().find(layer));
  fs::permissions(blob, fs::perms::owner_write, fs::perm_options::add);
  test::write_file(blob, "changed");
  const ImageSetCheck changed = check_image_set(*repo, {"vendor", "app"}, bundles, {});
  EXPECT_TRUE(changed.rejected);
  ASSERT_FALSE(changed.images[0].layer_problems.empty());
  EXPECT_NE(changed.images[0].layer_problems[0].find("stored blob has digest"), std::string::npos);
}

TEST_F(RepositoryTest, ExportImportRoundTrip) {
  auto [vendor, app] = vendor_and_app();
  const fs::path app_dir = repo->bundle_dir(app.identity.hash, app.identity.manifest_digest);
  const fs::path bundle = tmp / "bundle.tar";
  auto summary = export_bundle(*repo, {app_dir}, bundle, CertProfile::acond);
  ASSERT_TRUE(summary.ok()) << summary.error().message;
  EXPECT_EQ(summary->images, 2u);
  EXPECT_EQ(summary->layers, 1u);

  TempDir other_dir;
  auto other = Repository::create(other_dir / ".acon");
  ASSERT_TRUE(other.ok());
  std::vector<std::string> notes;
  auto imported = import_bundle(*other, bundle, CertProfile::acond,
                                [&](const std::string& n) { notes.push_back(n); });
  ASSERT_TRUE(imported.ok()) << imported.error().message;
  EXPECT_EQ(imported->size(), 2u);
  EXPECT_TRUE(notes.empty());
  EXPECT_EQ(other->verified_manifests(CertProfile::acond).size(), 2u);
  EXPECT_TRUE(other->blobs().find(vendor.manifest.layers_or_default().at(0)).ok());
  // No staging directory is left behind.
  for (const auto& e : fs::directory_iterator(other->dir())) {
    EXPECT_FALSE(e.path().filename().string().starts_with(".import-")) << e.path();
  }
}

TEST_F(RepositoryTest, ImportRefusesUnusableAndHostileBundles) {
  write_file(tmp / "empty.tar", "");
  write_file(tmp / "garbage.tar", std::string(4096, 'x'));
  EXPECT_EQ(import_bundle(*repo, tmp / "empty.tar", CertProfile::acond).error().code, Errc::parse);
  EXPECT_EQ(import_bundle(*repo, tmp / "garbage.tar", CertProfile::acond).error().code,
            Errc::parse);
  EXPECT_EQ(import_bundle(*repo, tmp.path(), CertProfile::acond).error().code, Errc::io);
  EXPECT_EQ(import_bundle(*repo, "/dev/zero", CertProfile::acond).error().code, Errc::io);

  // A readable archive whose entry escapes: refused as a failed bundle.
  test::TarBuilder escaping;
  escaping.file("../escaped", "x").end();
  test::write_bytes(tmp / "escaping.tar", escaping.bytes());
  auto r = import_bundle(*repo, tmp / "escaping.tar", CertProfile::acond);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::verify_failed);

  // Manifest files that are symlinks, and private keys that are only noted.
  test::TarBuilder linked;
  const std::string dir = ".acon/manifests/sha384/abcd/";  // ustar names: at most 100 bytes
  linked.symlink(dir + "acon.json", "/etc/passwd").end();
  test::write_bytes(tmp / "linked.tar", linked.bytes());
  r = import_bundle(*repo, tmp / "linked.tar", CertProfile::acond);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("is a symlink"), std::string::npos);

  test::TarBuilder key;
  key.file(dir + "private_key.pem", "secret").end();
  test::write_bytes(tmp / "key.tar", key.bytes());
  std::vector<std::string> notes;
  r = import_bundle(*repo, tmp / "key.tar", CertProfile::acond,
                    [&](const std::string& n) { notes.push_back(n); });
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->empty());
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("private keys are never imported"), std::string::npos) << notes[0];
  EXPECT_TRUE(repo->bundle_dirs().empty());
}

TEST_F(RepositoryTest, HostileRepositoryContentsAreErrors) {
  auto [vendor, app] = vendor_and_app();
  const fs::path app_dir = repo->bundle_dir(app.identity.hash, app.identity.manifest_digest);
  const fs::path vendor_dir =
      repo->bundle_dir(vendor.identity.hash, vendor.identity.manifest_digest);

  // A symlinked manifest file is not followed.
  write_file(tmp / "outside.json", "{}");
  fs::remove(app_dir / kBundleManifestFile);
  fs::create_symlink(tmp / "outside.json", app_dir / kBundleManifestFile);
  auto linked = read_bundle_dir(app_dir);
  ASSERT_FALSE(linked.ok());
  EXPECT_NE(linked.error().message.find("is a symlink"), std::string::npos);

  // A symlinked bundle directory is not listed.
  fs::create_directory_symlink(vendor_dir, vendor_dir.parent_path() / std::string(96, 'b'));
  EXPECT_EQ(repo->bundle_dirs().size(), 2u);

  // An oversize signature is refused before it is read whole.
  write_file(vendor_dir / kBundleSignatureFile, std::string(kMaxBundleFileBytes + 1, 's'));
  auto big = read_bundle_dir(vendor_dir);
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.error().message.find("larger than"), std::string::npos);

  // A malformed certificate and a FIFO in place of a file are errors, not hangs or crashes.
  write_file(vendor_dir / kBundleSignatureFile, "sig");
  write_file(vendor_dir / kBundleCertificateFile, "-----BEGIN CERTIFICATE-----\ngarbage");
  EXPECT_FALSE(read_bundle_dir(vendor_dir).ok());
  fs::remove(vendor_dir / kBundleCertificateFile);
  ASSERT_EQ(::mkfifo((vendor_dir / kBundleCertificateFile).c_str(), 0600), 0);
  auto fifo = read_bundle_dir(vendor_dir);
  ASSERT_FALSE(fifo.ok());
  EXPECT_NE(fifo.error().message.find("not a regular file"), std::string::npos);

  // Listing and closures skip or report such bundles; nothing throws.
  EXPECT_TRUE(repo->verified_manifests(CertProfile::acond).empty());
  EXPECT_FALSE(repo->closure({app_dir}, CertProfile::acond).ok());
}

TEST(ReadBoundedFile, Bounds) {
  TempDir tmp;
  write_file(tmp / "f", "12345");
  EXPECT_EQ(*read_bounded_file(tmp / "f", 5), "12345");
  EXPECT_FALSE(read_bounded_file(tmp / "f", 4).ok());
  EXPECT_EQ(read_bounded_file(tmp / "missing", 4).error().code, Errc::not_found);
  EXPECT_FALSE(read_bounded_file(tmp.path(), 4).ok());
  EXPECT_FALSE(read_bounded_file("/dev/zero", 4).ok());
}

TEST(WriteFileAtomic, NeverReplacesANonRegularFile) {
  TempDir tmp;
  fs::create_directory(tmp / "d");
  EXPECT_EQ(write_file_atomic(tmp / "d", "x").error().code, Errc::invalid_argument);
  ASSERT_TRUE(write_file_atomic(tmp / "f", "x").ok());
  EXPECT_EQ(test::read_file(tmp / "f"), "x");
}

}  // namespace
}  // namespace acon::image
