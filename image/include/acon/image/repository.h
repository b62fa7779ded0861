// The local image repository, aconcli's `.acon/` layout, and what tools do with it: store and
// look up signed images, the closure of images a bundle needs, export to and import from bundle
// tarballs, and checking an image set in load order.
//
// Layout:
//   blobs/sha384/<hex>.tar                layers (uncompressed tarballs) by SHA-384
//   blobs/sha256/<hex>.tar                relative symlinks to the sha384 file
//   manifests/<alg>/<digest>/acon.json    the signed manifest bytes (canonical JSON)
//                           /signer.cer   the signer's X.509 certificate (DER)
//                           /signature    the signature over acon.json
// Private keys are never stored in the repository. An export bundle is a tar of the same tree
// under `.acon/`, holding only the images asked for, the vendor images their layers need and the
// layers themselves.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "acon/common/json.h"
#include "acon/common/result.h"
#include "acon/common/x509.h"
#include "acon/image/layers/import.h"
#include "acon/image/manifest.h"
#include "acon/image/policy.h"
#include "acon/image/signature.h"

namespace acon::image {

inline constexpr const char* kRepositoryDirName = ".acon";
inline constexpr const char* kBundleManifestFile = "acon.json";
inline constexpr const char* kBundleCertificateFile = "signer.cer";
inline constexpr const char* kBundleSignatureFile = "signature";

// Each file of a bundle (manifest, certificate, signature) is read up to this many bytes; a
// larger file is refused before it is held in memory. acond's own manifest limit is far lower.
inline constexpr uint64_t kMaxBundleFileBytes = uint64_t{4} << 20;

// A regular file of at most `max_bytes`, never through a symlink at its last component: a
// symlink, directory, device or larger file is an error naming the path.
Result<std::string> read_bounded_file(const std::filesystem::path& path, uint64_t max_bytes);

// A certificate in DER or PEM (PEM when the text holds "-----BEGIN").
Result<Certificate> parse_certificate_file(ByteView data);

// Outputs are not replaced unasked: Errc::invalid_argument "PATH exists (use --force to
// overwrite)" when `path` exists and `overwrite` is off.
Status refuse_existing(const std::filesystem::path& path, bool overwrite);

// Writes a file atomically (a temporary name in the same directory, then rename).
Status write_file_atomic(const std::filesystem::path& path, std::string_view data,
                         unsigned mode = 0644);

// One signed image as stored (or given as loose files): exact manifest bytes, DER certificate,
// signature, and the (alg, digest) directory names it was filed under, if any.
struct Bundle {
  std::string label;  // for messages: the directory
  std::string manifest;
  Bytes certificate;
  Bytes signature;
  std::optional<std::pair<std::string, std::string>> filed_as;
};

// Reads acon.json, signer.cer (DER or PEM) and signature from `dir`, each bounded by
// kMaxBundleFileBytes and never through a symlink.
Result<Bundle> read_bundle_dir(const std::filesystem::path& dir);

// Checks a bundle's signature and that it is filed under its own digest (Errc::verify_failed
// "... filed as A/D but the manifest's digest is ..." otherwise).
Result<SignedManifest> verify_bundle(const Bundle& bundle, CertProfile profile);

// Called as input is consumed: bytes done and the total (0 when unknown).
using ProgressFn = layers::ProgressFn;

class Repository {
 public:
  // `dir` is the .acon directory itself; it must hold manifests/ and blobs/.
  static Result<Repository> open(const std::filesystem::path& dir);
  // Creates `dir` (the .acon directory) with manifests/ and blobs/ as needed.
  static Result<Repository> create(const std::filesystem::path& dir);
  // `option` (the .acon directory or one holding it), or when empty the nearest .acon in the
  // working directory or above.
  static Result<Repository> locate(const std::string& option);

  const std::filesystem::path& dir() const { return dir_; }
  layers::BlobStore& blobs() { return blobs_; }
  const layers::BlobStore& blobs() const { return blobs_; }
  std::filesystem::path bundle_dir(HashAlg alg, const std::string& digest) const;

  // Every bundle directory, sorted by algorithm then digest (aconcli's listing order). Hidden
  // names and symlinks are skipped.
  std::vector<std::filesystem::path> bundle_dirs() const;

  // An image given as a bundle directory path, an Image ID, "alg/digest", or a unique prefix (at
  // least 4 digits) of a manifest digest.
  Result<std::filesystem::path> find_bundle(const std::string& spec) const;
  // find_bundle for each spec, and then read_bundle_dir, in order; the first error ends it.
  Result<std::vector<std::filesystem::path>> find_bundles(
      const std::vector<std::string>& specs) const;
  Result<std::vector<Bundle>> read_bundles(const std::vector<std::string>& specs) const;

  // Private keys are never stored in the repository: Errc::invalid_argument when `path`
  // (existing or not; relative to the working directory) lies inside it once symlinks of its
  // existing part are resolved.
  Status check_private_key_path(const std::filesystem::path& path) const;

  // Signed manifests of the repository whose signatures hold, in listing order, with their
  // directories.
  std::vector<std::pair<std::filesystem::path, SignedManifest>> verified_bundles(
      CertProfile profile) const;
  std::vector<SignedManifest> verified_manifests(CertProfile profile) const;

  // Files a verified image under manifests/<alg>/<digest>/; returns that directory.
  Result<std::filesystem::path> store(const SignedManifest& image);

  // The bundle directories `roots` need: themselves and, for each vendor-layer alias, the first
  // manifest (in listing order) of that signer defining the name, recursively.
  Result<std::vector<std::filesystem::path>> closure(
      const std::vector<std::filesystem::path>& roots, CertProfile profile) const;

  // Re-hashes a stored layer: absent is Errc::not_found, a different digest Errc::verify_failed.
  Status check_layer(const DigestRef& ref, const ProgressFn& progress = {}) const;

 private:
  Repository(std::filesystem::path dir, layers::BlobStore blobs)
      : dir_(std::move(dir)), blobs_(std::move(blobs)) {}
  std::filesystem::path dir_;
  layers::BlobStore blobs_;
};

// ---- export / import -------------------------------------------------------------------------

struct ExportSummary {
  size_t images = 0;
  size_t layers = 0;
};

// Writes the closure of `roots` and the layers it names (always the sha384 file) to the tarball
// `output` (atomically).
Result<ExportSummary> export_bundle(const Repository& repo,
                                    const std::vector<std::filesystem::path>& roots,
                                    const std::filesystem::path& output, CertProfile profile,
                                    const ProgressFn& progress = {});

// Receives notes about an import (ignored members, layers still missing afterwards).
using NoteFn = std::function<void(const std::string&)>;

// Checks an unpacked bundle in `staged` (which holds .acon/) whole: no symlinks but the blob
// links, every manifest's signature and filing, every blob's digest. Only if all of it holds are
// the blobs (re-hashed) and manifests added to `repo`. Returns the images added. Errors are
// Errc::verify_failed (the bundle is refused) or Errc::io.
Result<std::vector<SignedManifest>> import_staged(Repository& repo,
                                                  const std::filesystem::path& staged,
                                                  CertProfile profile, const std::string& label,
                                                  const NoteFn& note = {});

// Unpacks the bundle tarball `file` (a regular file, plain or compressed) into a private staging
// directory inside the repository, then import_staged(); the staging directory is always removed.
// A file that is not a tar stream (empty, truncated, garbage) is Errc::parse or Errc::io; a
// readable bundle whose entries are refused is Errc::verify_failed.
Result<std::vector<SignedManifest>> import_bundle(Repository& repo,
                                                  const std::filesystem::path& file,
                                                  CertProfile profile, const NoteFn& note = {},
                                                  const ProgressFn& progress = {});

// ---- checking an image set in load order -----------------------------------------------------

struct ImageSetCheck {
  struct Image {
    std::string input;                             // as given
    std::optional<std::string> image_id;           // set when the signature holds
    std::optional<std::string> signature_problem;  // set when it does not
    // manifest_problems() of a verified image; verification_severity() tells fatal ones.
    std::vector<ManifestProblem> manifest_findings;
    std::vector<std::string> layer_problems;
    std::optional<size_t> layers_ok;  // set when layers were checked
  };
  struct Admitted {
    size_t image;  // index into images
    Verdict verdict;
    std::optional<std::string> reason;
  };
  struct PolicyRun {
    PolicyMode mode;
    std::vector<Admitted> admissions;          // the verified images, in load order
    std::optional<Admission> graph_rejection;  // spec_graph only
  };
  std::vector<Image> images;
  std::vector<PolicyRun> policy;
  bool rejected = false;
};

// The launch-policy modes named "acond" (acond_greedy), "spec" (spec_graph) or "both".
Result<std::vector<PolicyMode>> policy_modes_named(std::string_view name);

struct ImageSetOptions {
  std::vector<PolicyMode> modes = {PolicyMode::acond_greedy, PolicyMode::spec_graph};
  bool check_layers = true;
  CertProfile profile = CertProfile::acond;
  // Called with the layer's short name before each layer is re-hashed.
  std::function<ProgressFn(const std::string&)> layer_progress;
};

// Checks images loaded in the order given: signature and filing, manifest problems, layers
// (digests in the repository, vendor aliases through the images given) and the launch policy in
// each mode. `inputs` are labels for `bundles` (same length).
ImageSetCheck check_image_set(const Repository& repo, const std::vector<std::string>& inputs,
                              const std::vector<Bundle>& bundles, const ImageSetOptions& options);

// The JSON report of acon-image verify --json.
Json image_set_report(const ImageSetCheck& check);

// The text report of acon-image verify: per image its signature and manifest findings, then the
// layer checks, the policy verdicts of each mode and "verdict: accepted|rejected".
std::string image_set_text_report(const ImageSetCheck& check);

}  // namespace acon::image
