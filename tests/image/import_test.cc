#include "acon/image/layers/import.h"

#include <gtest/gtest.h>

#include "acon/common/hash.h"
#include "acon/common/json.h"
#include "acon/image/layers/create.h"
#include "layer_test_util.h"

namespace acon::image::layers {
namespace {

using test::read_file;
using test::TarBuilder;
using test::TempDir;
namespace fs = std::filesystem;

std::string sha256_hex(ByteView b) { return hex_encode(sha256(b)); }

Bytes base_layer() {
  TarBuilder t;
  t.dir("bin/").file("bin/busybox", "ELF", 0755).symlink("bin/sh", "busybox").end();
  return t.bytes();
}
Bytes app_layer() {
  TarBuilder t;
  t.dir("app/").file("app/run.sh", "echo hi\n", 0755).file("bin/.wh.sh", "").end();
  return t.bytes();
}
Bytes device_layer() {
  TarBuilder t;
  t.special("dev/null", '3').end();
  return t.bytes();
}

Json config_for(const std::vector<Bytes>& uncompressed_layers) {
  Json diff_ids = Json::array();
  for (const auto& l : uncompressed_layers) diff_ids.push_back("sha256:" + sha256_hex(l));
  return Json{{"architecture", "amd64"},
              {"os", "linux"},
              {"config",
               {{"Entrypoint", {"/bin/sh", "-c"}},
                {"Cmd", {"/app/run.sh"}},
                {"Env", {"PATH=/bin", "MODE=prod"}},
                {"WorkingDir", "/app"}}},
              {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}};
}

// Writes an OCI image layout: blobs by SHA-256 and an index.json.
class OciLayout {
 public:
  explicit OciLayout(fs::path dir) : dir_(std::move(dir)) {
    test::write_file(dir_ / "oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  }
  Json blob(ByteView content, const std::string& media_type) {
    const std::string hex = sha256_hex(content);
    test::write_bytes(dir_ / "blobs/sha256" / hex, content);
    return Json{{"mediaType", media_type}, {"digest", "sha256:" + hex}, {"size", content.size()}};
  }
  Json json_blob(const Json& doc, const std::string& media_type) {
    return blob(as_bytes(dump_compact(doc)), media_type);
  }
  // An image manifest over (compressed) layer blobs, with the config for the uncompressed ones.
  Json image(const std::vector<std::pair<Bytes, std::string>>& layers,
             const std::vector<Bytes>& uncompressed) {
    Json layer_descs = Json::array();
    for (const auto& [bytes, mt] : layers) layer_descs.push_back(blob(bytes, mt));
    Json manifest = {
        {"schemaVersion", 2},
        {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
        {"config", json_blob(config_for(uncompressed), "application/vnd.oci.image.config.v1+json")},
        {"layers", layer_descs}};
    return json_blob(manifest, "application/vnd.oci.image.manifest.v1+json");
  }
  void index(const Json& manifests) {
    test::write_file(dir_ / "index.json",
                     dump_compact(Json{{"schemaVersion", 2}, {"manifests", manifests}}));
  }
  const fs::path& dir() const { return dir_; }

 private:
  fs::path dir_;
};

class ImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = BlobStore::open(tmp_ / "repo/blobs");
    ASSERT_TRUE(s.ok()) << s.error().to_string();
    store_.emplace(std::move(*s));
  }
  // The stored blob of a layer holds exactly these uncompressed bytes.
  void expect_stored(const LayerDigests& d, const Bytes& uncompressed) {
    EXPECT_EQ(d.sha384, sha384(uncompressed));
    auto path = store_->find(d.ref());
    ASSERT_TRUE(path.ok()) << path.error().to_string();
    EXPECT_EQ(read_file(*path), to_string(uncompressed));
    auto link = store_->find("sha256/" + hex_encode(d.sha256));
    ASSERT_TRUE(link.ok());
    EXPECT_TRUE(fs::is_symlink(*link));
    EXPECT_EQ(fs::read_symlink(*link).string(), "../sha384/" + hex_encode(d.sha384) + ".tar");
  }
  size_t stored_files() {
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(tmp_ / "repo/blobs/sha384")) {
      (void)e;
      ++n;
    }
    return n;
  }
  TempDir tmp_;
  std::optional<BlobStore> store_;
};

TEST_F(ImportTest, OciLayoutWithGzipZstdAndPlainLayers) {
  OciLayout oci(tmp_ / "oci");
  const Bytes base = base_layer(), app = app_layer();
  TarBuilder third_tar;
  third_tar.file("etc/motd", "welcome").end();
  const Bytes third = third_tar.bytes();
  Json m = oci.image({{test::compress(base, "gzip"), "application/vnd.oci.image.layer.v1.tar+gzip"},
                      {test::compress(app, "zstd"), "application/vnd.oci.image.layer.v1.tar+zstd"},
                      {third, "application/vnd.oci.image.layer.v1.tar"}},
                     {base, app, third});
  m["annotations"] = {{"org.opencontainers.image.ref.name", "latest"}};
  oci.index(Json::array({m}));

  auto image = import_oci_layout(oci.dir(), *store_);
  ASSERT_TRUE(image.ok()) << image.error().to_string();
  ASSERT_EQ(image->layers.size(), 3u);
  expect_stored(image->layers[0], base);
  expect_stored(image->layers[1], app);
  expect_stored(image->layers[2], third);
  EXPECT_EQ(image->config.entrypoint, (std::vector<std::string>{"/bin/sh", "-c", "/app/run.sh"}));
  EXPECT_EQ(image->config.env, (std::vector<std::string>{"PATH=/bin", "MODE=prod"}));
  EXPECT_EQ(image->config.working_dir, "/app");
  EXPECT_EQ(stored_files(), 3u);  // no temporary files left behind
}

TEST_F(ImportTest, NestedIndexSelectsThePlatform) {
  OciLayout oci(tmp_ / "oci");
  const Bytes base = base_layer(), app = app_layer();
  Json amd = oci.image({{base, "application/vnd.oci.image.layer.v1.tar"}}, {base});
  amd["platform"] = {{"os", "linux"}, {"architecture", "amd64"}};
  Json arm = oci.image({{app, "application/vnd.oci.image.layer.v1.tar"}}, {app});
  arm["platform"] = {{"os", "linux"}, {"architecture", "arm64"}, {"variant", "v8"}};
  Json inner = oci.json_blob(Json{{"schemaVersion", 2},
                                  {"mediaType", "application/vnd.oci.image.index.v1+json"},
                                  {"manifests", {arm, amd}}},
                             "application/vnd.oci.image.index.v1+json");
  oci.index(Json::array({inner}));

  auto amd_image = import_oci_layout(oci.dir(), *store_);
  ASSERT_TRUE(amd_image.ok()) << amd_image.error().to_string();
  ASSERT_EQ(amd_image->layers.size(), 1u);
  EXPECT_EQ(amd_image->layers[0].sha384, sha384(base));

  ImportOptions arm_options;
  arm_options.platform = "linux/arm64";
  auto arm_image = import_oci_layout(oci.dir(), *store_, arm_options);
  ASSERT_TRUE(arm_image.ok()) << arm_image.error().to_string();
  EXPECT_EQ(arm_image->layers[0].sha384, sha384(app));

  ImportOptions none;
  none.platform = "linux/s390x";
  EXPECT_FALSE(import_oci_layout(oci.dir(), *store_, none).ok());
}

TEST_F(ImportTest, ReferenceNameSelectsAnImage) {
  OciLayout oci(tmp_ / "oci");
  const Bytes base = base_layer(), app = app_layer();
  Json a = oci.image({{base, "application/vnd.oci.image.layer.v1.tar"}}, {base});
  a["annotations"] = {{"org.opencontainers.image.ref.name", "a"}};
  Json b = oci.image({{app, "application/vnd.oci.image.layer.v1.tar"}}, {app});
  b["annotations"] = {{"org.opencontainers.image.ref.name", "b"}};
  oci.index(Json::array({a, b}));

  auto ambiguous = import_oci_layout(oci.dir(), *store_);
  ASSERT_FALSE(ambiguous.ok());
  EXPECT_NE(ambiguous.error().message.find("several images"), std::string::npos);
  ImportOptions pick;
  pick.ref = "b";
  auto image = import_oci_layout(oci.dir(), *store_, pick);
  ASSERT_TRUE(image.ok()) << image.error().to_string();
  EXPECT_EQ(image->layers[0].sha384, sha384(app));
  pick.ref = "c";
  auto missing = import_oci_layout(oci.dir(), *store_, pick);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::not_found);
}

TEST_F(ImportTest, TamperedBlobsAndDiffIdsAreRejected) {
  const Bytes base = base_layer();
  {
    OciLayout oci(tmp_ / "oci1");
    // Compressed once: a gzip header carries a timestamp, so two calls may differ.
    const Bytes gz = test::compress(base, "gzip");
    Json m = oci.image({{gz, "application/vnd.oci.image.layer.v1.tar+gzip"}}, {base});
    oci.index(Json::array({m}));
    // Replace the layer blob by another valid gzip stream under the same name.
    const std::string layer_hex = sha256_hex(gz);
    test::write_bytes(oci.dir() / "blobs/sha256" / layer_hex, test::compress(app_layer(), "gzip"));
    auto r = import_oci_layout(oci.dir(), *store_);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::verify_failed) << r.error().to_string();
  }
  {
    OciLayout oci(tmp_ / "oci2");
    Json m = oci.image({{base, "application/vnd.oci.image.layer.v1.tar"}}, {app_layer()});
    oci.index(Json::array({m}));
    auto r = import_oci_layout(oci.dir(), *store_);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::verify_failed);
    EXPECT_NE(r.error().message.find("diff_ids"), std::string::npos);
  }
  {
    OciLayout oci(tmp_ / "oci3");
    Json m = oci.image({{base, "application/vnd.oci.image.layer.v1.tar"}}, {base});
    oci.index(Json::array({m}));
    // Corrupt the manifest blob itself.
    const std::string hex = m["digest"].get<std::string>().substr(7);
    test::write_file(oci.dir() / "blobs/sha256" / hex, R"({"schemaVersion":2})");
    auto r = import_oci_layout(oci.dir(), *store_);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::verify_failed);
  }
}

TEST_F(ImportTest, LayerTheGuestWouldRefuseIsNotStored) {
  OciLayout oci(tmp_ / "oci");
  const Bytes dev = device_layer();
  Json m = oci.image({{dev, "application/vnd.oci.image.layer.v1.tar"}}, {dev});
  oci.index(Json::array({m}));
  auto r = import_oci_layout(oci.dir(), *store_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("device node"), std::string::npos);
  EXPECT_EQ(stored_files(), 0u);
}

// Packs a directory into a tar as `docker save` would deliver it.
Bytes pack(const fs::path& dir) {
  MemorySink sink;
  CreateOptions options;
  options.digest_mask = 0;
  auto r = create_layer(dir, sink, options);
  return r.ok() ? sink.take() : Bytes{};
}

TEST_F(ImportTest, DockerSaveLegacyLayout) {
  const Bytes base = base_layer(), app = app_layer();
  const fs::path save = tmp_ / "save";
  test::write_bytes(save / "1111/layer.tar", base);
  test::write_file(save / "1111/VERSION", "1.0");
  test::write_bytes(save / "2222/layer.tar", app);
  // docker save links a layer shared with another image instead of repeating it.
  fs::create_directories(save / "3333");
  fs::create_symlink("../1111/layer.tar", save / "3333/layer.tar");
  const std::string config = dump_compact(config_for({base, app, base}));
  const std::string config_name = sha256_hex(as_bytes(config)) + ".json";
  test::write_file(save / config_name, config);
  test::write_file(save / "manifest.json",
                   dump_compact(Json::array(
                       {{{"Config", config_name},
                         {"RepoTags", {"busybox:latest"}},
                         {"Layers", {"1111/layer.tar", "2222/layer.tar", "3333/layer.tar"}}}})));
  test::write_file(save / "repositories", R"({"busybox":{"latest":"2222"}})");
  test::write_bytes(tmp_ / "save.tar", pack(save));

  auto image = import_docker_save(tmp_ / "save.tar", *store_);
  ASSERT_TRUE(image.ok()) << image.error().to_string();
  ASSERT_EQ(image->layers.size(), 2u);  // the repeated layer is listed once
  expect_stored(image->layers[0], base);
  expect_stored(image->layers[1], app);
  EXPECT_EQ(image->config.working_dir, "/app");

  ImportOptions tagged;
  tagged.ref = "busybox:latest";
  EXPECT_TRUE(import_docker_save(tmp_ / "save.tar", *store_, tagged).ok());
  tagged.ref = "alpine:3";
  EXPECT_FALSE(import_docker_save(tmp_ / "save.tar", *store_, tagged).ok());
}

TEST_F(ImportTest, DockerSaveOciLayoutAndPlainOciArchive) {
  const Bytes base = base_layer(), app = app_layer();
  const fs::path save = tmp_ / "save";
  OciLayout oci(save);
  const Bytes base_gz = test::compress(base, "gzip");
  Json m = oci.image({{base_gz, "application/vnd.oci.image.layer.v1.tar+gzip"},
                      {app, "application/vnd.oci.image.layer.v1.tar"}},
                     {base, app});
  oci.index(Json::array({m}));
  test::write_bytes(tmp_ / "oci-archive.tar", pack(save));  // no manifest.json yet

  const std::string config_hex = sha256_hex(as_bytes(dump_compact(config_for({base, app}))));
  test::write_file(
      save / "manifest.json",
      dump_compact(Json::array(
          {{{"Config", "blobs/sha256/" + config_hex},
            {"RepoTags", {"app:1"}},
            {"Layers",
             {"blobs/sha256/" + sha256_hex(base_gz), "blobs/sha256/" + sha256_hex(app)}}}})));
  test::write_bytes(tmp_ / "save.tar", pack(save));

  uint64_t last_done = 0, calls = 0;
  ImportOptions options;
  options.progress = [&](uint64_t done, uint64_t total) {
    ++calls;
    EXPECT_LE(done, total);
    last_done = done;
  };
  for (const char* file : {"save.tar", "oci-archive.tar"}) {
    auto image = import_docker_save(tmp_ / file, *store_, options);
    ASSERT_TRUE(image.ok()) << file << ": " << image.error().to_string();
    ASSERT_EQ(image->layers.size(), 2u);
    expect_stored(image->layers[0], base);
    expect_stored(image->layers[1], app);
    EXPECT_EQ(image->config.entrypoint.front(), "/bin/sh");
  }
  EXPECT_GT(calls, 0u);
  EXPECT_GT(last_done, 0u);

  // A blob whose content does not match its name in manifest.json.
  test::write_bytes(save / "blobs/sha256" / sha256_hex(app), base);
  test::write_bytes(tmp_ / "bad.tar", pack(save));
  auto bad = import_docker_save(tmp_ / "bad.tar", *store_);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::verify_failed);
}

TEST_F(ImportTest, RootfsTarballIsStoredUncompressed) {
  const Bytes base = base_layer();
  for (const char* filter : {"gzip", "zstd"}) {
    const Bytes packed = test::compress(base, filter);
    MemorySource source(packed);
    auto d = import_tarball(source, *store_);
    ASSERT_TRUE(d.ok()) << d.error().to_string();
    expect_stored(*d, base);
  }
  MemorySource plain(base);
  auto d = import_tarball(plain, *store_);
  ASSERT_TRUE(d.ok());
  expect_stored(*d, base);
  const Bytes dev = device_layer();
  MemorySource refused(dev);
  EXPECT_FALSE(import_tarball(refused, *store_).ok());
  const std::string junk = "not a tarball at all";
  MemorySource garbage(as_bytes(junk));
  EXPECT_FALSE(import_tarball(garbage, *store_).ok());
  EXPECT_EQ(stored_files(), 1u);
}

TEST_F(ImportTest, BlobStoreReferences) {
  EXPECT_FALSE(store_->path_of("sha384/abc").ok());
  EXPECT_FALSE(store_->path_of("md5/" + std::string(32, 'a')).ok());
  EXPECT_FALSE(store_->path_of("sha384/" + std::string(96, 'A')).ok());
  EXPECT_FALSE(store_->path_of("SHA384/" + std::string(96, 'a')).ok());
  auto p = store_->path_of("sha384/" + std::string(96, 'a'));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p, tmp_ / "repo/blobs/sha384" / (std::string(96, 'a') + ".tar"));
  auto missing = store_->find("sha384/" + std::string(96, 'a'));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::not_found);
}

TEST(ImageConfig, DefaultsAndTypeErrors) {
  auto empty = parse_image_config(R"({"config":null})");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->entrypoint.empty());
  EXPECT_EQ(empty->working_dir, "/");
  auto cmd_only = parse_image_config(R"({"config":{"Cmd":["sh"],"WorkingDir":""}})");
  ASSERT_TRUE(cmd_only.ok());
  EXPECT_EQ(cmd_only->entrypoint, std::vector<std::string>{"sh"});
  EXPECT_EQ(cmd_only->working_dir, "/");
  auto bad = parse_image_config(R"({"config":{"Env":"PATH=/bin"}})");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("Env"), std::string::npos);
  EXPECT_FALSE(parse_image_config(R"({"config":{"Entrypoint":[1]}})").ok());
  EXPECT_FALSE(parse_image_config("[").ok());
}

}  // namespace
}  // namespace acon::image::layers
