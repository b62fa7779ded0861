// What acon-image's commands do, as library calls: the repository listing (ls), building an
// image from inputs (create), the review before signing (sign), Image IDs of manifest files
// (hash), loading images (verify, export), the verify text report and private key paths.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>

#include "acon/image/build.h"
#include "acon/image/listing.h"
#include "acon/image/repository.h"
#include "layer_test_util.h"
#include "repository_fixture.h"

namespace acon::image {
namespace {

namespace fs = std::filesystem;
using test::TempDir;
using test::write_file;

TestSigner signer(const std::string& type) { return test::make_signer("commands " + type, type); }

class CommandsTest : public test::RepositoryFixture {
 protected:
  LayerInput rootfs(const std::string& name, const std::string& content) {
    write_file(tmp / name / "file", content);
    return {LayerSource::rootfs, (tmp / name).string()};
  }

  // An application image of one stored layer, aliased "app:1", entrypoint /bin/app run.
  SignedManifest app_image(const TestSigner& s, const std::string& content = "app") {
    ManifestRequest req;
    req.entrypoint = {"/bin/app", "run"};
    req.self_aliases = {"app:1"};
    auto m = build_image(*repo, {rootfs("app-" + content, content)}, {}, req);
    EXPECT_TRUE(m.ok()) << m.error().message;
    return sign_and_store(*m, s);
  }

  TestSigner p384 = signer("p384");
};

TEST_F(CommandsTest, ListingRowsStatusesJsonAndTable) {
  const SignedManifest ok = app_image(p384);
  const SignedManifest tampered = app_image(p384, "tampered");
  const fs::path tampered_dir =
      repo->bundle_dir(tampered.identity.hash, tampered.identity.manifest_digest);
  write_file(tampered_dir / kBundleSignatureFile, "not a signature");
  const SignedManifest ed = app_image(signer("ed25519"), "ed25519");
  const SignedManifest gone = app_image(p384, "gone");
  fs::remove(repo->bundle_dir(gone.identity.hash, gone.identity.manifest_digest) /
             kBundleCertificateFile);

  const auto rows = list_images(*repo, CertProfile::acond);
  ASSERT_EQ(rows.size(), 4u);
  std::map<std::string, const ImageListing*> by_digest;
  for (const auto& row : rows) by_digest[row.dir.filename().string()] = &row;
  ASSERT_TRUE(std::is_sorted(rows.begin(), rows.end(),
                             [](const auto& a, const auto& b) { return a.dir < b.dir; }));

  const ImageListing& good = *by_digest.at(ok.identity.manifest_digest);
  EXPECT_EQ(good.status, ListingStatus::ok);
  EXPECT_FALSE(good.error);
  ASSERT_TRUE(good.identity);
  EXPECT_EQ(*good.identity, ok.identity);
  EXPECT_EQ(good.layers, ok.manifest.layers_or_default());
  EXPECT_EQ(good.entrypoint, (std::vector<std::string>{"/bin/app", "run"}));
  EXPECT_EQ(good.self_aliases, std::vector<std::string>{"app:1"});

  const ImageListing& invalid = *by_digest.at(tampered.identity.manifest_digest);
  EXPECT_EQ(invalid.status, ListingStatus::invalid);
  EXPECT_TRUE(invalid.error);
  EXPECT_FALSE(invalid.identity);
  EXPECT_EQ(invalid.layers.size(), 1u);  // the manifest still parses
  EXPECT_TRUE(invalid.entrypoint.empty());

  EXPECT_EQ(by_digest.at(ed.identity.manifest_digest)->status, ListingStatus::refused);
  EXPECT_EQ(list_images(*repo, CertProfile::aconcli).size(), 4u);
  for (const auto& row : list_images(*repo, CertProfile::aconcli)) {
    if (row.dir.filename() == ed.identity.manifest_digest) {
      EXPECT_EQ(row.status, ListingStatus::ok);
    }
  }
  const ImageListing& unreadable = *by_digest.at(gone.identity.manifest_digest);
  EXPECT_EQ(unreadable.status, ListingStatus::unreadable);
  EXPECT_TRUE(unreadable.layers.empty());

  const Json json = image_listing_json(rows);
  ASSERT_EQ(json.size(), 4u);
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(json[i]["path"], rows[i].dir.string());
    EXPECT_EQ(json[i]["status"], std::string(listing_status_name(rows[i].status)));
    EXPECT_EQ(json[i].contains("error"), rows[i].status != ListingStatus::ok);
    EXPECT_EQ(json[i].contains("image_id"), rows[i].status == ListingStatus::ok);
    if (rows[i].status == ListingStatus::ok) {
      EXPECT_EQ(json[i]["image_id"], rows[i].identity->image_id());
      EXPECT_EQ(json[i]["signer_id"], rows[i].identity->signer_id());
      EXPECT_EQ(json[i]["aliases"], Json::array({"app:1"}));
      EXPECT_EQ(json[i]["entrypoint"], Json::array({"/bin/app", "run"}));
    }
  }

  const std::string table = image_listing_table(rows, false);
  const std::string header =
      "MANIFEST       SIGNER         HASH    STATUS   LAYERS ALIASES              ENTRYPOINT\n";
  EXPECT_EQ(table.substr(0, header.size()), header);
  const std::string good_line = ok.identity.manifest_digest.substr(0, 12) + "   " +
                                ok.identity.signer_digest.substr(0, 12) +
                                "   sha384  ok       1      app:1                /bin/app run\n";
  EXPECT_NE(table.find(good_line), std::string::npos) << table;
  EXPECT_NE(table.find(tampered.identity.manifest_digest.substr(0, 12) +
                       "   -              sha384  invalid  1      -                    \n"),
            std::string::npos)
      << table;
  const std::string full = image_listing_table(rows, true);
  EXPECT_NE(full.find(ok.identity.manifest_digest + " " + ok.identity.signer_digest + " sha384"),
            std::string::npos);
  EXPECT_EQ(image_listing_table({}, false), header);
}

TEST_F(CommandsTest, BuildImageStoresInputsInOrderAndReportsEach) {
  std::vector<std::string> events;
  ImageBuildCallbacks callbacks;
  callbacks.start = [&](const LayerInput& input) {
    events.push_back("start " + layer_input_label(input));
    return ProgressFn([&](uint64_t, uint64_t) {
      if (events.back() != "progress") events.push_back("progress");
    });
  };
  callbacks.stored = [&](const StoredInput& stored) {
    events.push_back("stored " + stored.refs.at(0));
  };
  const LayerInput first = rootfs("one", "1"), second = rootfs("two", "2");
  ManifestRequest req;
  req.entrypoint = {"/x"};
  auto m = build_image(*repo, {first, second}, {}, req, callbacks);
  ASSERT_TRUE(m.ok()) << m.error().message;
  const auto layers = m->layers_or_default();
  ASSERT_EQ(layers.size(), 2u);
  EXPECT_EQ(events, (std::vector<std::string>{"start layer " + first.value, "progress",
                                              "stored " + layers[0], "start layer " + second.value,
                                              "progress", "stored " + layers[1]}));
  // An existing reference is only checked; the first failing input ends the build.
  auto again = build_image(*repo, {{LayerSource::reference, layers[1]}}, {}, req);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->layers_or_default(), std::vector<std::string>{layers[1]});
  events.clear();
  auto missing =
      build_image(*repo, {{LayerSource::reference, "sha384/" + std::string(96, 'e')}, second}, {},
                  req, callbacks);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message.rfind("--layer: ", 0), 0u) << missing.error().message;
  EXPECT_EQ(events, std::vector<std::string>{"start layer sha384/" + std::string(96, 'e')});
}

TEST(LayerSources, OptionNamesLabelsAndDefaultMtime) {
  for (auto source : {LayerSource::rootfs, LayerSource::tarball, LayerSource::oci,
                      LayerSource::docker_save, LayerSource::reference}) {
    EXPECT_EQ(layer_source_for_option(layer_source_option(source)), source);
  }
  EXPECT_EQ(layer_source_option(LayerSource::docker_save), "--docker-save");
  EXPECT_FALSE(layer_source_for_option("--output"));
  EXPECT_EQ(layer_input_label({LayerSource::oci, "dir"}), "oci dir");
  EXPECT_EQ(layer_input_label({LayerSource::docker_save, "s.tar"}), "docker-save s.tar");
  EXPECT_EQ(layer_input_label({LayerSource::tarball, "-"}), "layer -");

  const char* saved = std::getenv("SOURCE_DATE_EPOCH");
  const std::optional<std::string> restore =
      saved ? std::optional<std::string>(saved) : std::nullopt;
  ::setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
  EXPECT_EQ(default_rootfs_mtime(), "1700000000");
  ::setenv("SOURCE_DATE_EPOCH", "", 1);
  EXPECT_EQ(default_rootfs_mtime(), "0");
  ::unsetenv("SOURCE_DATE_EPOCH");
  EXPECT_EQ(default_rootfs_mtime(), "0");
  if (restore) ::setenv("SOURCE_DATE_EPOCH", restore->c_str(), 1);
}

TEST_F(CommandsTest, ReviewForSigning) {
  std::vector<std::string> notes;
  const NoteFn note = [&](const std::string& text) { notes.push_back(text); };
  // A layer-only vendor manifest (no entrypoint: a warning) naming a layer not stored.
  const std::string absent = "sha384/" + std::string(96, 'c');
  auto vendor =
      build_manifest({}, {absent, "signer/sha384/" + std::string(96, 'd') + "/x"}, std::nullopt);
  ASSERT_TRUE(vendor.ok());
  EXPECT_TRUE(review_for_signing(*repo, *vendor, false, note).ok());
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_EQ(notes[0].rfind("warning: manifest.entrypoint", 0), 0u) << notes[0];
  EXPECT_EQ(notes[1], "warning: layer " + absent + " is not in the repository");

  // A relative workingDir is fatal unless forced; the layer check does not run then.
  ManifestRequest req;
  req.entrypoint = {"/x"};
  req.working_dir = "relative";
  auto bad = build_manifest(req, {absent}, std::nullopt);
  ASSERT_TRUE(bad.ok());
  notes.clear();
  const Status refused = review_for_signing(*repo, *bad, false, note);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::invalid_argument);
  EXPECT_EQ(refused.error().message, "not signed (fix the problems above or use --force)");
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0].rfind("manifest.workingDir", 0), 0u) << notes[0];
  notes.clear();
  EXPECT_TRUE(review_for_signing(*repo, *bad, true, note).ok());
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_EQ(notes[0].rfind("warning: manifest.workingDir", 0), 0u) << notes[0];
  EXPECT_TRUE(review_for_signing(*repo, *bad, true, {}).ok());  // no note callback
}

TEST(PrivateKeyFile, PemDerAndGarbage) {
  const TestSigner s = signer("p256");
  const SecretBytes pem = s.key.to_pem();
  auto from_pem = parse_private_key_file(view(pem));
  ASSERT_TRUE(from_pem.ok()) << from_pem.error().message;
  auto sig = sign_manifest("{}", *from_pem, s.certificate);
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(verify_manifest_signature("{}", *sig, s.certificate).ok());
  // The same key as DER: the base64 body of the PEM.
  std::string body;
  for (const char c : as_chars(view(pem))) {
    if (c != '\n') body += c;
  }
  body = body.substr(body.find("-----", 5) + 5);
  body = body.substr(0, body.find("-----"));
  auto der = base64_decode(body);
  ASSERT_TRUE(der.ok());
  auto from_der = parse_private_key_file(*der);
  ASSERT_TRUE(from_der.ok()) << from_der.error().message;
  EXPECT_TRUE(
      verify_manifest_signature("{}", *sign_manifest("{}", *from_der, s.certificate), s.certificate)
          .ok());
  EXPECT_FALSE(parse_private_key_file(as_bytes(std::string_view("not a key"))).ok());
  EXPECT_FALSE(parse_private_key_file({}).ok());
}

TEST_F(CommandsTest, ManifestFileIdentityHashesTheCanonicalFormOrTheBytes) {
  const std::string text = "{ \"b\": 1,\n  \"a\": [] }\n";
  auto bytes_id = manifest_file_identity(p384.certificate, text, std::nullopt);
  auto jq_id = manifest_file_identity(p384.certificate, text, CanonicalStyle::jq);
  ASSERT_TRUE(bytes_id.ok() && jq_id.ok());
  EXPECT_EQ(*bytes_id, *image_identity(p384.certificate, text));
  EXPECT_EQ(*jq_id, *image_identity(p384.certificate, "{\"a\":[],\"b\":1}"));
  EXPECT_NE(bytes_id->manifest_digest, jq_id->manifest_digest);
  EXPECT_FALSE(manifest_file_identity(p384.certificate, "{", CanonicalStyle::go).ok());
}

TEST_F(CommandsTest, FindAndReadBundlesInOrder) {
  const SignedManifest a = app_image(p384, "a"), b = app_image(p384, "b");
  auto dirs = repo->find_bundles({b.identity.image_id(), a.identity.manifest_digest.substr(0, 8)});
  ASSERT_TRUE(dirs.ok()) << dirs.error().message;
  EXPECT_EQ(*dirs,
            (std::vector<fs::path>{repo->bundle_dir(b.identity.hash, b.identity.manifest_digest),
                                   repo->bundle_dir(a.identity.hash, a.identity.manifest_digest)}));
  auto bundles = repo->read_bundles({a.identity.image_id(), b.identity.image_id()});
  ASSERT_TRUE(bundles.ok());
  ASSERT_EQ(bundles->size(), 2u);
  EXPECT_EQ((*bundles)[0].manifest, a.manifest.raw);
  EXPECT_EQ((*bundles)[1].signature, b.signature);
  EXPECT_FALSE(repo->find_bundles({a.identity.image_id(), "sha384/" + std::string(96, 'f')}).ok());
  fs::remove(repo->bundle_dir(b.identity.hash, b.identity.manifest_digest) / kBundleManifestFile);
  EXPECT_FALSE(repo->read_bundles({a.identity.image_id(), b.identity.image_id()}).ok());
}

TEST_F(CommandsTest, PolicyModesByName) {
  EXPECT_EQ(*policy_modes_named("acond"), std::vector<PolicyMode>{PolicyMode::acond_greedy});
  EXPECT_EQ(*policy_modes_named("spec"), std::vector<PolicyMode>{PolicyMode::spec_graph});
  EXPECT_EQ(*policy_modes_named("both"), ImageSetOptions{}.modes);
  EXPECT_EQ(policy_modes_named("greedy").error().code, Errc::invalid_argument);
}

TEST_F(CommandsTest, ImageSetTextReport) {
  const SignedManifest app = app_image(p384);
  const std::string id = app.identity.image_id();
  auto bundles = repo->read_bundles({id});
  ASSERT_TRUE(bundles.ok());
  const ImageSetCheck check = check_image_set(*repo, {"app"}, *bundles, {});
  ASSERT_FALSE(check.rejected);
  EXPECT_EQ(image_set_text_report(check),
            "image app\n  image id:  " + id +
                "\n  signature: ok\n  app: 1 layer(s) ok\npolicy[acond] app: accepted\n"
                "policy[spec] app: accepted\nverdict: accepted\n");

  ImageSetCheck rejected;
  rejected.images.push_back({"bad", std::nullopt, "signature does not verify", {}, {}, {}});
  rejected.images.push_back({"broken",
                             "sha384/x/y",
                             std::nullopt,
                             {{ManifestProblemKind::layer, "manifest.layers[0]", "bad"},
                              {ManifestProblemKind::env, "manifest.env[0]", "odd"}},
                             {"sha384/z: missing"},
                             0});
  rejected.rejected = true;
  EXPECT_EQ(image_set_text_report(rejected),
            "image bad\n  REJECTED: signature does not verify\n"
            "image broken\n  image id:  sha384/x/y\n  signature: ok\n"
            "  REJECTED: manifest.layers[0]: bad\n  warning: manifest.env[0]: odd\n"
            "  REJECTED (broken): sha384/z: missing\n  broken: 0 layer(s) ok\nverdict: rejected\n");
}

TEST_F(CommandsTest, OutputsAreNotReplacedUnasked) {
  EXPECT_TRUE(refuse_existing(tmp / "new.json", false).ok());
  write_file(tmp / "old.json", "{}");
  const Status refused = refuse_existing(tmp / "old.json", false);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::invalid_argument);
  EXPECT_EQ(refused.error().message,
            (tmp / "old.json").string() + " exists (use --force to overwrite)");
  EXPECT_TRUE(refuse_existing(tmp / "old.json", true).ok());
}

TEST_F(CommandsTest, PrivateKeysStayOutOfTheRepository) {
  EXPECT_TRUE(repo->check_private_key_path(tmp / "key.pem").ok());
  EXPECT_TRUE(repo->check_private_key_path(tmp / ".acon-other" / "key.pem").ok());
  const Status inside = repo->check_private_key_path(tmp / ".acon" / "blobs" / "key.pem");
  ASSERT_FALSE(inside.ok());
  EXPECT_EQ(inside.error().code, Errc::invalid_argument);
  EXPECT_NE(inside.error().message.find("private keys are never stored in the repository"),
            std::string::npos);
  // Through a symlink to the repository, and through "..".
  fs::create_directory_symlink(tmp / ".acon", tmp / "link");
  EXPECT_FALSE(repo->check_private_key_path(tmp / "link" / "k.pem").ok());
  EXPECT_FALSE(repo->check_private_key_path(tmp / "x" / ".." / ".acon" / "k.pem").ok());
}

}  // namespace
}  // namespace acon::image
