#include "acon/image/build.h"

#include "acon/image/signature.h"
#include "counting_stream.h"

#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdlib>
#include <filesystem>

namespace acon::image {

namespace fs = std::filesystem;
namespace lay = layers;

namespace {

// Bytes of regular files under `dir`, for a progress total.
uint64_t tree_size(const fs::path& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec) && !it->is_symlink(ec)) total += it->file_size(ec);
  }
  return total;
}

template <typename T>
bool parse_decimal(std::string_view text, T& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

Result<StoredInput> store(Repository& repo, const LayerInput& input,
                          const LayerInputOptions& options, const ProgressFn& progress) {
  StoredInput out;
  const std::string& value = input.value;
  lay::ImportOptions import;
  import.ref = options.ref;
  import.platform = options.platform;
  import.checks = options.checks;
  switch (input.source) {
    case LayerSource::rootfs: {
      const uint64_t total = progress ? tree_size(value) : 0;
      ACON_TRY(lay::LayerDigests d, repo.blobs().add(
                                        [&](lay::ByteSink& sink) -> Status {
                                          CountingSink counted(sink, progress, total);
                                          auto r =
                                              lay::create_layer(value, counted, options.create);
                                          if (!r) return std::move(r).error();
                                          return {};
                                        },
                                        [&](const fs::path& tmp) -> Status {
                                          ACON_TRY(lay::FileSource src, lay::FileSource::open(tmp));
                                          auto scanned = lay::scan_layer(src, options.checks);
                                          if (!scanned) return std::move(scanned).error();
                                          return {};
                                        }));
      out.stored.push_back({d, value});
      break;
    }
    case LayerSource::tarball: {
      std::optional<lay::FileSource> file;
      if (value != "-") {
        // A device could feed the import without end; files and pipes end.
        std::error_code ec;
        const auto type = fs::status(value, ec).type();
        if (!ec && type != fs::file_type::regular && type != fs::file_type::fifo) {
          return make_error(Errc::io, "not a regular file or pipe");
        }
        ACON_TRY(lay::FileSource f, lay::FileSource::open(value));
        file.emplace(std::move(f));
      } else {
        file.emplace(::dup(0), "<stdin>");
      }
      CountingSource counted(*file, progress, file->size().value_or(0));
      ACON_TRY(lay::LayerDigests d, lay::import_tarball(counted, repo.blobs(), import));
      out.stored.push_back({d, value});
      break;
    }
    case LayerSource::oci:
    case LayerSource::docker_save: {
      import.progress = progress;
      auto image = input.source == LayerSource::oci
                       ? lay::import_oci_layout(value, repo.blobs(), import)
                       : lay::import_docker_save(value, repo.blobs(), import);
      if (!image) return std::move(image).error();
      for (size_t i = 0; i < image->layers.size(); ++i) {
        out.stored.push_back({image->layers[i], value + " layer " + std::to_string(i)});
      }
      out.config = image->config;
      break;
    }
    case LayerSource::reference: {
      ACON_TRY(LayerRef ref, parse_layer_ref(value));
      if (ref.digest) ACON_CHECK(repo.blobs().find(value));
      out.refs.push_back(value);
      return out;
    }
  }
  for (const auto& layer : out.stored) out.refs.push_back(layer.digests.ref());
  return out;
}

}  // namespace

Result<StoredInput> store_layer_input(Repository& repo, const LayerInput& input,
                                      const LayerInputOptions& options,
                                      const ProgressFn& progress) {
  auto stored = store(repo, input, options, progress);
  if (!stored) {
    return stored.error().wrap(input.source == LayerSource::reference ? "--layer" : input.value);
  }
  return stored;
}

namespace {
constexpr std::pair<LayerSource, std::string_view> kSourceOptions[] = {
    {LayerSource::rootfs, "--rootfs"},   {LayerSource::tarball, "--tarball"},
    {LayerSource::oci, "--oci"},         {LayerSource::docker_save, "--docker-save"},
    {LayerSource::reference, "--layer"},
};
}  // namespace

std::string_view layer_source_option(LayerSource source) {
  for (const auto& [s, option] : kSourceOptions) {
    if (s == source) return option;
  }
  return "";
}

std::optional<LayerSource> layer_source_for_option(std::string_view option) {
  for (const auto& [source, name] : kSourceOptions) {
    if (name == option) return source;
  }
  return std::nullopt;
}

std::string layer_input_label(const LayerInput& input) {
  const bool image = input.source == LayerSource::oci || input.source == LayerSource::docker_save;
  return (image ? std::string(layer_source_option(input.source).substr(2)) : "layer") + " " +
         input.value;
}

std::string default_rootfs_mtime() {
  const char* epoch = std::getenv("SOURCE_DATE_EPOCH");
  return epoch != nullptr && *epoch != '\0' ? epoch : "0";
}

Result<Manifest> build_image(Repository& repo, const std::vector<LayerInput>& inputs,
                             const LayerInputOptions& options, const ManifestRequest& request,
                             const ImageBuildCallbacks& callbacks) {
  std::vector<std::string> refs;
  std::optional<lay::ImageConfig> config;
  for (const auto& input : inputs) {
    const ProgressFn progress = callbacks.start ? callbacks.start(input) : ProgressFn{};
    ACON_TRY(StoredInput stored, store_layer_input(repo, input, options, progress));
    if (callbacks.stored) callbacks.stored(stored);
    refs.insert(refs.end(), stored.refs.begin(), stored.refs.end());
    if (stored.config) config = stored.config;
  }
  return build_manifest(request, refs, config);
}

Result<lay::CreateOptions> rootfs_create_options(std::string_view mtime, std::string_view owner,
                                                 bool allow_special_files) {
  lay::CreateOptions o;
  o.allow_special_files = allow_special_files;
  if (mtime == "preserve") {
    o.mtime.reset();
  } else {
    // Seconds from 0001-01-01 to 9999-12-31T23:59:59Z: the range of every time acon takes
    // (parse_time_text), and one that pax readers and `date` can all show.
    constexpr int64_t kFirstSecond = -62135596800;
    constexpr int64_t kLastSecond = 253402300799;
    int64_t seconds = 0;
    if (!parse_decimal(mtime.starts_with('+') ? mtime.substr(1) : mtime, seconds)) {
      return make_error(Errc::invalid_argument, "--mtime: expected seconds or 'preserve'");
    }
    if (seconds < kFirstSecond || seconds > kLastSecond)
      return make_error(Errc::invalid_argument,
                        "--mtime: " + std::string(mtime) + " is outside the years 1..9999");
    o.mtime = seconds;
  }
  if (!owner.empty()) {
    const size_t colon = owner.find(':');
    uint32_t uid = 0, gid = 0;
    if (colon == std::string_view::npos || !parse_decimal(owner.substr(0, colon), uid) ||
        !parse_decimal(owner.substr(colon + 1), gid) || uid == 0xffffffff || gid == 0xffffffff) {
      return make_error(Errc::invalid_argument, "--owner: expected UID:GID");
    }
    o.uid = uid;
    o.gid = gid;
  }
  return o;
}

Result<Manifest> build_manifest(const ManifestRequest& a,
                                const std::vector<std::string>& layer_refs,
                                const std::optional<lay::ImageConfig>& config) {
  Manifest m;
  m.acon_spec_version = std::vector<uint32_t>{1, 0};
  m.layers = layer_refs;
  for (const auto& alias : a.self_aliases) m.aliases.self["."].push_back(alias);
  for (const auto& spec : a.content_aliases) {
    const size_t eq = spec.rfind('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()) {
      return make_error(Errc::invalid_argument, "--alias '" + spec + "': expected OBJECT=NAME");
    }
    std::string object = spec.substr(0, eq);
    if (object.starts_with('@')) {  // @N: the N-th layer of this image
      size_t i = 0;
      if (!parse_decimal(std::string_view(object).substr(1), i) || i >= layer_refs.size()) {
        return make_error(Errc::invalid_argument, "--alias '" + spec + "': no such layer");
      }
      object = layer_refs[i];
    }
    m.aliases.contents[object].push_back(spec.substr(eq + 1));
  }
  m.entrypoint = !a.entrypoint.empty() ? a.entrypoint
                 : config              ? config->entrypoint
                                       : std::vector<std::string>{};
  m.env = !a.env.empty() ? a.env : config ? config->env : std::vector<std::string>{};
  m.working_dir = !a.working_dir.empty() ? a.working_dir : config ? config->working_dir : "/";
  m.uids = a.uids;
  m.log_fds = a.log_fds;
  m.writable_fs = a.writable_fs;
  m.no_restart = a.no_restart;
  m.signals = a.signals;
  m.max_instances = a.max_instances;
  m.policy.accepts = a.accepts;
  m.policy.reject_unaccepted = a.reject_unaccepted;
  return m;
}

std::string pretty_manifest(const Manifest& manifest) {
  return manifest_to_json(manifest).dump(4, ' ', false, Json::error_handler_t::replace) + "\n";
}

Result<std::vector<NameEntry>> parse_subject(std::string_view text) {
  std::vector<NameEntry> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view part = text.substr(start, comma - start);
    const size_t eq = part.find('=');
    if (eq == std::string_view::npos || eq == 0 || eq + 1 == part.size()) {
      return make_error(Errc::invalid_argument, "--subject: expected TYPE=VALUE[,TYPE=VALUE...]");
    }
    out.push_back({std::string(part.substr(0, eq)), std::string(part.substr(eq + 1))});
    start = comma + 1;
  }
  return out;
}

Result<TestSigner> make_test_signer(const TestSignerRequest& r) {
  Result<PrivateKey> key = make_error(Errc::invalid_argument, "--type: unknown key type");
  if (r.type == "p256") key = PrivateKey::generate_ec(Curve::p256);
  if (r.type == "p384") key = PrivateKey::generate_ec(Curve::p384);
  if (r.type == "p521") key = PrivateKey::generate_ec(Curve::p521);
  if (r.type == "rsa") key = PrivateKey::generate_rsa(r.rsa_bits);
  if (r.type == "ed25519") key = PrivateKey::generate_ed25519();
  if (!key) return key.error();
  if (r.hash != HashAlg::sha256 && r.hash != HashAlg::sha384 && r.hash != HashAlg::sha512) {
    return make_error(Errc::invalid_argument, "--hash: expected sha256, sha384 or sha512");
  }
  CertificateRequest req;
  req.subject = r.subject;
  ACON_TRY(req.serial, random_bytes(16));
  req.serial[0] = static_cast<uint8_t>((req.serial[0] & 0x7f) | 0x01);
  req.not_before = r.now - std::chrono::minutes(1);
  req.not_after = r.now + std::chrono::hours(24) * r.days;
  req.key_usage = kKeyUsageDigitalSignature;
  req.signature_hash = r.hash;
  ACON_TRY(Certificate cert, issue_certificate(req, key->public_key(), *key, nullptr));
  return TestSigner{std::move(*key), std::move(cert)};
}

Result<PrivateKey> parse_private_key_file(ByteView data) {
  auto key = PrivateKey::from_pem(as_chars(data));
  if (!key) key = PrivateKey::from_der(data);
  return key;
}

Status review_for_signing(const Repository& repo, const Manifest& manifest, bool force,
                          const NoteFn& note) {
  bool refused = false;
  for (const auto& problem : manifest_problems(manifest)) {
    const bool fatal = signing_severity(problem.kind) == ProblemSeverity::fatal && !force;
    if (note) note((fatal ? "" : "warning: ") + problem.message());
    refused = refused || fatal;
  }
  if (refused) {
    return make_error(Errc::invalid_argument, "not signed (fix the problems above or use --force)");
  }
  for (const auto& layer : manifest.layers_or_default()) {
    if (!layer.starts_with("signer/") && !repo.blobs().find(layer) && note) {
      note("warning: layer " + layer + " is not in the repository");
    }
  }
  return {};
}

Result<ImageIdentity> manifest_file_identity(const Certificate& certificate, std::string_view bytes,
                                             std::optional<CanonicalStyle> style) {
  if (!style) return image_identity(certificate, bytes);
  ACON_TRY(std::string canonical, canonicalize_json(bytes, *style));
  return image_identity(certificate, canonical);
}

Result<SignedManifest> sign_manifest_text(std::string_view text, const Manifest& parsed,
                                          const PrivateKey& key, const Certificate& certificate,
                                          CanonicalStyle style) {
  ACON_TRY(std::string canonical, canonicalize_json(text, style));
  auto reparsed = parse_manifest(canonical);
  if (!reparsed || manifest_to_json(*reparsed) != manifest_to_json(parsed)) {
    return make_error(Errc::invalid_argument, "canonical form changes a value (number precision)");
  }
  ACON_TRY(Bytes signature, sign_manifest(canonical, key, certificate));
  ACON_TRY(ImageIdentity identity, image_identity(certificate, canonical));
  SignedManifest out;
  out.manifest = std::move(*reparsed);
  out.identity = std::move(identity);
  out.certificate_der = certificate.der();
  out.signature = std::move(signature);
  return out;
}

}  // namespace acon::image
