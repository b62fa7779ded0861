// Layer storage and import of existing images: rootfs tarballs, OCI image layouts and
// `docker save` tarballs.
//
// ACON layers are uncompressed tarballs named by the SHA-384 of their bytes, so every import
// decompresses (gzip/zstd/xz/bzip2) and re-digests while it streams into the store; compressed
// blobs are checked against their descriptor digests and the uncompressed bytes against the
// image config's rootfs.diff_ids. Each stored layer is then scanned with the extraction checks,
// so a layer the guest would refuse is refused here already.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "acon/image/layers/extract.h"
#include "acon/image/layers/stream.h"

namespace acon::image::layers {

// aconcli's blob directory (`.acon/blobs`): blobs/sha384/<hex>.tar holds each layer, and
// blobs/sha256/<hex>.tar (and sha512 when asked) are relative symlinks to it.
class BlobStore {
 public:
  // Creates the directories as needed.
  static Result<BlobStore> open(std::filesystem::path dir, uint32_t link_mask = kDigestSha256);

  // Streams what `produce` writes into a temporary file in the store, lets `check` (if given)
  // vet the complete file, then files it under its SHA-384 digest (keeping an existing blob
  // with that digest) and adds the links. On any error nothing is filed.
  Result<LayerDigests> add(const std::function<Status(ByteSink&)>& produce,
                           const std::function<Status(const std::filesystem::path&)>& check = {});

  // File of a reference "sha384/<hex>" (or "sha256/<hex>", "sha512/<hex>"); not_found if absent.
  Result<std::filesystem::path> find(std::string_view ref) const;
  // Where that reference's file would be; parse error for a malformed reference.
  Result<std::filesystem::path> path_of(std::string_view ref) const;
  const std::filesystem::path& dir() const { return dir_; }
  // SHA-256 is always computed: imports compare it with the image config's diff_ids.
  uint32_t digest_mask() const { return kDigestSha384 | kDigestSha256 | link_mask_; }

 private:
  BlobStore(std::filesystem::path dir, uint32_t link_mask)
      : dir_(std::move(dir)), link_mask_(link_mask) {}
  std::filesystem::path dir_;
  uint32_t link_mask_;
};

// What a container image's config says about running it.
struct ImageConfig {
  std::vector<std::string> entrypoint;  // config.Entrypoint followed by config.Cmd
  std::vector<std::string> env;         // config.Env ("K=V")
  std::string working_dir = "/";        // config.WorkingDir, "/" when empty
};

struct ImportedImage {
  // Bottom layer first; a layer repeated later in the image is listed once (as aconcli does).
  std::vector<LayerDigests> layers;
  ImageConfig config;
};

// Called as input is consumed: bytes done and the total (0 when unknown).
using ProgressFn = std::function<void(uint64_t done, uint64_t total)>;

struct ImportOptions {
  // Which image: an OCI index's org.opencontainers.image.ref.name annotation or a docker save
  // RepoTags entry. Empty selects the only image (an error if there are several).
  std::string ref;
  // For multi-platform indexes: "os/arch" or "os/arch/variant".
  std::string platform = "linux/amd64";
  // Checks applied to each stored layer (scan_layer); digest_mask is ignored.
  ExtractOptions checks;
  ProgressFn progress;
};

// A root filesystem tarball, plain or compressed: stores the uncompressed tar bytes as they are
// (not re-packed), then scans them.
Result<LayerDigests> import_tarball(ByteSource& tarball, BlobStore& store,
                                    const ImportOptions& options = {});

// An OCI image layout directory (oci-layout, index.json, blobs/<alg>/<hex>).
Result<ImportedImage> import_oci_layout(const std::filesystem::path& dir, BlobStore& store,
                                        const ImportOptions& options = {});

// A `docker save` tarball: the legacy layout (manifest.json naming <id>/layer.tar and <id>.json)
// and the OCI layout that Docker 25+ writes (manifest.json naming blobs/sha256/<hex>, plus
// index.json); an OCI image layout archive without manifest.json is read through index.json.
// The file is read twice (small JSON members first, then the layers), so it must be seekable.
Result<ImportedImage> import_docker_save(const std::filesystem::path& tarball, BlobStore& store,
                                         const ImportOptions& options = {});

// Maps an image config JSON document (OCI or Docker) to ImageConfig.
Result<ImageConfig> parse_image_config(std::string_view config_json);

}  // namespace acon::image::layers
