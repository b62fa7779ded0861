// Building an image from its inputs, as acon-image create does: layers from root filesystem
// directories, tarballs, OCI layouts, docker-save tarballs or existing references are stored in
// a repository in the order given, then a manifest is written for them.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "acon/common/keys.h"
#include "acon/common/result.h"
#include "acon/common/x509.h"
#include "acon/image/layers/create.h"
#include "acon/image/layers/extract.h"
#include "acon/image/layers/import.h"
#include "acon/image/manifest.h"
#include "acon/image/repository.h"

namespace acon::image {

enum class LayerSource {
  rootfs,       // a directory packed as one deterministic layer
  tarball,      // a rootfs tarball (plain or compressed; "-" = standard input)
  oci,          // an OCI image layout directory: its layers and config
  docker_save,  // a `docker save` tarball: as oci
  reference,    // an existing layer reference (sha384/HEX in the repository, or signer/...)
};

struct LayerInput {
  LayerSource source;
  std::string value;
};

struct LayerInputOptions {
  layers::CreateOptions create;   // for rootfs
  layers::ExtractOptions checks;  // applied to every stored layer
  std::string ref;                // which image of an OCI index / docker save
  std::string platform = "linux/amd64";
};

struct StoredLayer {
  layers::LayerDigests digests;
  std::string from;  // "DIR", or "FILE layer N" for an image's N-th layer
};

struct StoredInput {
  std::vector<StoredLayer> stored;            // layers added to the repository
  std::vector<std::string> refs;              // manifest.layers entries, in order
  std::optional<layers::ImageConfig> config;  // oci and docker_save only
};

// Stores one input's layers in `repo` (a reference is only checked: a digest must be present).
// Errors name the input.
Result<StoredInput> store_layer_input(Repository& repo, const LayerInput& input,
                                      const LayerInputOptions& options,
                                      const ProgressFn& progress = {});

// The command-line option naming each source ("--rootfs", "--tarball", "--oci", "--docker-save",
// "--layer"), and back (nullopt for any other name).
std::string_view layer_source_option(LayerSource source);
std::optional<LayerSource> layer_source_for_option(std::string_view option);

// What a progress bar says while an input is stored: "oci DIR", "docker-save FILE", or
// "layer VALUE" for the single-layer sources.
std::string layer_input_label(const LayerInput& input);

// Entry mtime of rootfs layers when none is asked for: $SOURCE_DATE_EPOCH when set and not empty
// (the reproducible-builds convention), else "0".
std::string default_rootfs_mtime();

// Options for rootfs layers: entry mtime as decimal seconds or "preserve" (keep the files'),
// owner "UID:GID" or empty (keep the files'). Errors name --mtime / --owner.
Result<layers::CreateOptions> rootfs_create_options(std::string_view mtime, std::string_view owner,
                                                    bool allow_special_files);

// What the manifest says besides its layers; empty entrypoint / env / working_dir take the
// image config's (if any), working_dir then "/".
struct ManifestRequest {
  std::vector<std::string> entrypoint, env, accepts;
  std::vector<std::string> self_aliases;     // NAME:SVN for aliases.self["."]
  std::vector<std::string> content_aliases;  // OBJECT=NAME; OBJECT "@N" = the N-th layer
  std::string working_dir;
  std::vector<uint32_t> uids;
  std::vector<int32_t> signals, log_fds;
  uint64_t max_instances = 1;
  bool writable_fs = false, no_restart = false, reject_unaccepted = false;
};

// The manifest (aconSpecVersion [1, 0]) for `layer_refs`. A malformed --alias is an error;
// manifest_problems() of the result is for the caller to report.
Result<Manifest> build_manifest(const ManifestRequest& request,
                                const std::vector<std::string>& layer_refs,
                                const std::optional<layers::ImageConfig>& config);

// What build_image reports while it works.
struct ImageBuildCallbacks {
  // Before an input is stored: the progress callback for it (or none).
  std::function<ProgressFn(const LayerInput&)> start;
  // After an input is stored, before the next one starts.
  std::function<void(const StoredInput&)> stored;
};

// acon-image create: stores every input in order (store_layer_input), then builds the manifest
// for all their layers (build_manifest), with the image config of the last oci / docker_save
// input. The first error ends it; inputs stored before it stay in the repository.
Result<Manifest> build_image(Repository& repo, const std::vector<LayerInput>& inputs,
                             const LayerInputOptions& options, const ManifestRequest& request,
                             const ImageBuildCallbacks& callbacks = {});

// Manifest text as acon-image writes it for editing: 4-space indented JSON and a newline.
std::string pretty_manifest(const Manifest& manifest);

// ---- signers and signing ---------------------------------------------------------------------

// "TYPE=VALUE[,TYPE=VALUE...]" (e.g. "CN=ACON test signer,O=Example"); errors name --subject.
Result<std::vector<NameEntry>> parse_subject(std::string_view text);

// A test signer: a fresh key and a self-signed certificate valid from a minute before `now` for
// `days` days, for digital signatures, signed with `hash` (sha256/384/512: the hash of its
// Signer and Image IDs).
struct TestSignerRequest {
  std::string type = "p384";  // p256 | p384 | p521 | rsa | ed25519
  int rsa_bits = 3072;
  HashAlg hash = HashAlg::sha384;
  std::vector<NameEntry> subject;
  unsigned days = 365;
  Time now{};
};
struct TestSigner {
  PrivateKey key;
  Certificate certificate;
};
Result<TestSigner> make_test_signer(const TestSignerRequest& request);

// A private key file: PEM (PKCS#8 or traditional), else DER.
Result<PrivateKey> parse_private_key_file(ByteView data);

// What acon-image sign checks before signing, in order, each finding handed to `note`: every
// manifest problem, as its message when signing_severity() makes it fatal and `force` is off,
// else as "warning: MESSAGE"; then, unless a fatal problem stopped it, "warning: layer REF is
// not in the repository" for each digest layer `repo` lacks. A fatal problem is
// Errc::invalid_argument "not signed (fix the problems above or use --force)".
Status review_for_signing(const Repository& repo, const Manifest& manifest, bool force,
                          const NoteFn& note);

// The Image ID a manifest file would get under `certificate`: its canonical form in `style`, as
// sign_manifest_text signs it, or with no style its exact bytes.
Result<ImageIdentity> manifest_file_identity(const Certificate& certificate, std::string_view bytes,
                                             std::optional<CanonicalStyle> style);

// Canonicalises manifest text (`parsed` is its parse) in `style`, checks the canonical bytes
// still describe the same manifest (no number rounded), and signs them. The result is ready for
// Repository::store().
Result<SignedManifest> sign_manifest_text(std::string_view text, const Manifest& parsed,
                                          const PrivateKey& key, const Certificate& certificate,
                                          CanonicalStyle style);

}  // namespace acon::image
