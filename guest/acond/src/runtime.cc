#include "acon/acond/runtime.h"
#include "acon/acond/container.h"
#include "acon/image/attestation_data.h"
#include "acon/image/env_rules.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "acon/common/hash.h"
#include "acon/common/json.h"
#include "acon/common/unique_fd.h"
#include "acon/image/layers/extract.h"
#include "acon/image/layers/stream.h"

namespace acon::acond {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kAconDomain = "github.com/intel/ACON";

RpcError unknown(std::string message) { return {RpcCode::unknown, std::move(message)}; }
RpcError rpc_error(RpcCode code, std::string_view message) { return {code, std::string(message)}; }

// What the client sees of a library error: its message, as ACON passes OpenSSL, serde and I/O
// texts through with Unknown.
RpcError internal(const Error& error) { return unknown(error.message); }

Status write_file(const fs::path& path, ByteView data) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) {
    return make_error(Errc::io, path.string() + ": open: " + std::strerror(errno));
  }
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return make_error(Errc::io, path.string() + ": write: " + std::strerror(errno));
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) {
    return make_error(Errc::io, path.string() + ": fsync: " + std::strerror(errno));
  }
  return {};
}

Status make_dirs(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return make_error(Errc::io, dir.string() + ": " + ec.message());
  return {};
}

Status make_symlink(const fs::path& target, const fs::path& link) {
  ACON_CHECK(make_dirs(link.parent_path()));
  std::error_code ec;
  fs::create_symlink(target, link, ec);
  if (ec) return make_error(Errc::io, link.string() + ": " + ec.message());
  return {};
}

bool link_exists(const fs::path& path) {
  std::error_code ec;
  return fs::is_symlink(fs::symlink_status(path, ec));
}

bool resolves_to_directory(const fs::path& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

// The symlinks one image's aliases define, relative to the state directory, with their targets.
struct AliasLink {
  fs::path link;    // relative to the state dir
  fs::path target;  // as stored in the symlink
};

Result<std::vector<AliasLink>> alias_links(const image::SignedManifest& candidate) {
  std::vector<AliasLink> out;
  const auto& id = candidate.identity;
  std::string hash(hash_name(id.hash));
  fs::path contents_dir = fs::path("contents") / "signer" / hash / id.signer_digest;
  for (const auto& [object, names] : candidate.manifest.aliases.contents) {
    auto ref = image::parse_layer_ref(object);
    if (!ref) return make_error(Errc::parse, "manifest.aliases.contents: " + ref.error().message);
    fs::path target = ref->digest
                          ? fs::path("../../..") / hash_name(ref->digest->alg) / ref->digest->hex
                          : fs::path("../..") / hash_name(ref->alias->alg) / ref->alias->signer /
                                ref->alias->name;
    for (const auto& name : names) {
      if (auto checked = image::check_alias_name(name); !checked) {
        return make_error(Errc::parse, "manifest.aliases.contents[\"" + object +
                                           "\"]: " + checked.error().message);
      }
      out.push_back({contents_dir / name, target});
    }
  }
  fs::path images_dir = fs::path("images") / hash / id.signer_digest;
  for (const auto& [key, names] : candidate.manifest.aliases.self) {
    for (const auto& name : names) {
      if (auto checked = image::check_alias_name(name); !checked) {
        return make_error(Errc::parse,
                          "manifest.aliases.self[\"" + key + "\"]: " + checked.error().message);
      }
      out.push_back({images_dir / name, fs::path(id.manifest_digest)});
    }
  }
  return out;
}

}  // namespace

std::string_view rpc_code_name(RpcCode code) {
  switch (code) {
    case RpcCode::unknown:
      return "Unknown";
    case RpcCode::invalid_argument:
      return "InvalidArgument";
    case RpcCode::deadline_exceeded:
      return "DeadlineExceeded";
    case RpcCode::permission_denied:
      return "PermissionDenied";
    case RpcCode::failed_precondition:
      return "FailedPrecondition";
  }
  return "Unknown";
}

Result<std::unique_ptr<Runtime>> Runtime::open(guest::Backend& backend, RuntimeOptions options) {
  if (options.state_dir.empty()) {
    return make_error(Errc::invalid_argument, "acond: no state directory");
  }
  // Layer links point into the content store by absolute path, so the directory is made absolute
  // before anything is linked.
  std::error_code ec;
  options.state_dir = fs::absolute(options.state_dir, ec);
  if (ec) return make_error(Errc::io, options.state_dir.string() + ": " + ec.message());
  ACON_CHECK(make_dirs(options.state_dir / "contents" / "sha384"));
  ACON_CHECK(make_dirs(options.state_dir / "images"));
  fs::path log_path = options.log_path.value_or(
      options.state_dir / (options.log_mode == LogMode::coco ? "aael" : "rtmr3.log"));
  ACON_TRY(auto log, MeasurementLog::open(backend, options.log_mode, log_path));
  options.log_path = log_path;
  return std::unique_ptr<Runtime>(new Runtime(backend, std::move(options), std::move(log)));
}

Runtime::Runtime(guest::Backend& backend, RuntimeOptions options, MeasurementLog log)
    : backend_(&backend),
      options_(std::move(options)),
      log_(std::move(log)),
      pod_(options_.policy_mode),
      containers_(std::make_unique<ContainerManager>(options_.state_dir)) {}

Runtime::~Runtime() = default;

bool Runtime::finalized() const {
  std::lock_guard lock(mutex_);
  return finalized_;
}

size_t Runtime::image_count() const {
  std::lock_guard lock(mutex_);
  return images_.size();
}

std::vector<std::string> Runtime::missing_layers_of(const Image& image) const {
  // ACON lists each dangling l/<i> link by the last two components of its target.
  std::vector<std::string> out;
  const auto& layers = image.signed_manifest.manifest.layers_or_default();
  for (size_t i = 0; i < layers.size(); ++i) {
    fs::path link = image.dir / "l" / std::to_string(i);
    if (resolves_to_directory(link)) continue;
    std::error_code ec;
    fs::path target = fs::read_symlink(link, ec);
    if (ec) {
      out.push_back(layers[i]);
      continue;
    }
    out.push_back((target.parent_path().filename() / target.filename()).string());
  }
  return out;
}

RpcStatus Runtime::check_alias_links(const image::SignedManifest& candidate) const {
  auto links = alias_links(candidate);
  if (!links) return unknown(links.error().message);
  for (const auto& link : *links) {
    fs::path path = options_.state_dir / link.link;
    // A link that resolves is kept (the first definition wins); one that dangles cannot be
    // replaced (ACON fails the symlink with EEXIST). Checked before anything is measured, so an
    // image's links are created all or none.
    if (link_exists(path) && !fs::exists(path)) {
      return unknown("alias link " + link.link.string() + ": File exists (os error 17)");
    }
  }
  for (const auto& layer : candidate.manifest.layers_or_default()) {
    auto ref = image::parse_layer_ref(layer);
    if (!ref) return unknown("manifest.layers: " + ref.error().message);
  }
  return Done{};
}

Status Runtime::create_alias_links(const image::SignedManifest& candidate) const {
  ACON_TRY(auto links, alias_links(candidate));
  for (const auto& link : links) {
    fs::path path = options_.state_dir / link.link;
    if (link_exists(path)) continue;
    ACON_CHECK(make_symlink(link.target, path));
  }
  return {};
}

Status Runtime::store_image(const image::SignedManifest& candidate, const fs::path& dir) const {
  // Staged beside the final directory and renamed into place, so a loaded image's directory is
  // always complete.
  fs::path staging = dir.string() + ".staging";
  std::error_code ec;
  fs::remove_all(staging, ec);
  ACON_CHECK(make_dirs(staging / "l"));
  ACON_CHECK(write_file(staging / "acon-manifest.json", as_bytes(candidate.manifest.raw)));
  ACON_CHECK(write_file(staging / "certificate.der", candidate.certificate_der));
  const auto& layers = candidate.manifest.layers_or_default();
  for (size_t i = 0; i < layers.size(); ++i) {
    ACON_CHECK(make_symlink(options_.state_dir / "contents" / layers[i],
                            staging / "l" / std::to_string(i)));
  }
  fs::remove_all(dir, ec);
  fs::rename(staging, dir, ec);
  if (ec) return make_error(Errc::io, dir.string() + ": " + ec.message());
  return {};
}

RpcResult<AddManifestReply> Runtime::add_manifest(std::string_view manifest, ByteView signature,
                                                  ByteView certificate_der) {
  std::lock_guard lock(mutex_);
  // 1. Nothing is added after Finalize, not even an image that is already loaded.
  if (finalized_) return rpc_error(RpcCode::permission_denied, messages::kManifestsFinalized);
  // 2-4. Certificate, signature over the exact bytes, Image ID, manifest.
  auto verified = image::verify_signed_manifest(manifest, signature, certificate_der,
                                                image::CertProfile::acond);
  if (!verified) {
    const auto& error = verified.error();
    if (error.code == Errc::verify_failed) {
      return rpc_error(RpcCode::invalid_argument, messages::kInvalidSignature);
    }
    if (error.message.starts_with(messages::kInvalidCertificate)) {
      return rpc_error(RpcCode::unknown, messages::kInvalidCertificate);
    }
    return internal(error);
  }
  std::string image_id = verified->identity.image_id();
  // 5-6. An image that is loaded already: OK with the layers still missing, nothing measured.
  for (const auto& loaded : images_) {
    if (loaded.signed_manifest.identity.image_id() == image_id) {
      return AddManifestReply{image_id, missing_layers_of(loaded)};
    }
  }
  // A new image's missing_layers is its layer list verbatim (ACON computes it before the
  // image's directory exists).
  AddManifestReply reply{image_id, verified->manifest.layers_or_default()};
  // 7. Launch policy against the loaded images.
  auto candidate = image::policy_image(verified->identity, verified->manifest);
  auto admission = pod_.check(candidate);
  if (admission.verdict == image::Verdict::rejected) {
    return rpc_error(RpcCode::permission_denied, messages::kIncompatiblePolicies);
  }
  if (admission.verdict == image::Verdict::error) {
    return unknown(admission.refusal ? admission.refusal->reason : "Invalid launch policy format");
  }
  // 8. Aliases and layer references: every link must be creatable before anything is measured.
  if (auto links = check_alias_links(*verified); !links) return links.error();
  // 9. Measure.
  if (auto measured = log_.measure({std::string(kAconDomain), "AddManifest", image_id});
      !measured) {
    return internal(measured.error());
  }
  // 10. Store. The image is measured now, so it joins the pod even if a file cannot be written
  // (the error is still reported): the log must not name an image the pod does not hold.
  fs::path dir = options_.state_dir / "images" / hash_name(verified->identity.hash) /
                 verified->identity.signer_digest / verified->identity.manifest_digest;
  Status stored = create_alias_links(*verified);
  if (stored) stored = store_image(*verified, dir);
  (void)pod_.admit(std::move(candidate));
  images_.push_back({std::move(*verified), dir});
  if (!stored) return internal(stored.error());
  return reply;
}

RpcStatus Runtime::finalize() {
  std::lock_guard lock(mutex_);
  if (finalized_) return rpc_error(RpcCode::permission_denied, messages::kManifestsFinalized);
  // coco mode: a third field (the number of images loaded) so that the record is a valid AAEL
  // event; acon mode: ACON's two-field line.
  eventlog::AaelEvent event{std::string(kAconDomain), "Finalize",
                            log_.mode() == LogMode::coco ? std::to_string(images_.size()) : ""};
  if (auto measured = log_.measure(event); !measured) return internal(measured.error());
  finalized_ = true;
  return Done{};
}

Status Runtime::unpack_blob(
    ByteView data, const std::string& sha384_hex,
    const std::vector<std::pair<std::string, std::string>>& other_refs) const {
  fs::path contents = options_.state_dir / "contents";
  fs::path dir = contents / "sha384" / sha384_hex;
  if (!resolves_to_directory(dir)) {
    // Unpacked once per digest, into a staging directory renamed into place: a half-extracted
    // (hostile or truncated) layer never appears under its digest.
    fs::path staging = contents / ".staging" / sha384_hex;
    std::error_code ec;
    fs::remove_all(staging, ec);
    ACON_CHECK(make_dirs(staging));
    image::layers::MemorySource source(data);
    image::layers::ExtractOptions extract;
    extract.whiteouts = image::layers::WhiteoutMode::literal;  // as acond unpacks
    auto extracted = image::layers::extract_layer(source, staging, extract);
    if (!extracted) {
      fs::remove_all(staging, ec);
      return extracted.error();
    }
    fs::rename(staging, dir, ec);
    if (ec) return make_error(Errc::io, dir.string() + ": " + ec.message());
  }
  for (const auto& [alg, hex] : other_refs) {
    fs::path link = contents / alg / hex;
    if (link_exists(link) || fs::exists(link)) continue;
    ACON_CHECK(make_symlink(fs::path("..") / "sha384" / sha384_hex, link));
  }
  return {};
}

RpcStatus Runtime::add_blob(uint32_t alg, ByteView data) {
  std::lock_guard lock(mutex_);
  namespace layers = image::layers;
  uint32_t requested =
      alg & (layers::kDigestSha256 | layers::kDigestSha384 | layers::kDigestSha512);
  if (requested == 0 || images_.empty()) {
    return rpc_error(RpcCode::permission_denied, messages::kNoReferencingManifest);
  }
  // sha384 names the content directory whatever `alg` asks for.
  auto hasher = layers::MultiHasher::create(requested | layers::kDigestSha384);
  if (!hasher) return internal(hasher.error());
  hasher->update(data);
  auto digests = hasher->finish();
  std::vector<std::string> refs;
  std::vector<std::pair<std::string, std::string>> other_refs;
  for (auto [bit, hash] : {std::pair{layers::kDigestSha256, HashAlg::sha256},
                           std::pair{layers::kDigestSha384, HashAlg::sha384},
                           std::pair{layers::kDigestSha512, HashAlg::sha512}}) {
    if (!(requested & bit)) continue;
    refs.push_back(digests.ref(hash));
    if (hash != HashAlg::sha384) {
      other_refs.emplace_back(std::string(hash_name(hash)), hex_encode(digests.get(hash)));
    }
  }
  bool referenced = false;
  for (const auto& loaded : images_) {
    for (const auto& layer : loaded.signed_manifest.manifest.layers_or_default()) {
      referenced = referenced || std::find(refs.begin(), refs.end(), layer) != refs.end();
    }
  }
  if (!referenced) return rpc_error(RpcCode::permission_denied, messages::kNoReferencingManifest);
  if (auto unpacked = unpack_blob(data, hex_encode(digests.sha384), other_refs); !unpacked) {
    return internal(unpacked.error());
  }
  return Done{};
}

RpcResult<ManifestReply> Runtime::get_manifest(std::string_view image_id) {
  std::lock_guard lock(mutex_);
  for (const auto& loaded : images_) {
    if (loaded.signed_manifest.identity.image_id() == image_id) {
      return ManifestReply{loaded.signed_manifest.manifest.raw,
                           loaded.signed_manifest.certificate_der};
    }
  }
  return rpc_error(RpcCode::invalid_argument, messages::kInvalidImageId);
}

RpcResult<ReportReply> Runtime::report_locked(uint64_t nonce_lo, uint64_t nonce_hi,
                                              uint32_t request_type) {
  if (images_.empty()) return rpc_error(RpcCode::unknown, messages::kNoImages);
  auto acond_nonce = random_bytes(16);
  if (!acond_nonce) return internal(acond_nonce.error());
  // Every loaded image, with its containers (exited ones included).
  image::AttestedImages images = containers_->containers_by_image();
  for (const auto& loaded : images_) images[loaded.signed_manifest.identity.image_id()];
  ReportReply reply;
  reply.attestation_data = image::write_attestation_data(image::requestor_nonce(nonce_lo, nonce_hi),
                                                         *acond_nonce, images);
  reply.mrlog = {{0, {}}, {1, {}}, {2, {}}, {3, log_.entries()}};
  if (request_type != kRequestTdReport && request_type != kRequestQuote) {
    return rpc_error(RpcCode::invalid_argument, messages::kInvalidRequestType);
  }
  guest::ReportData report_data{};
  const Bytes bound = image::attestation_report_data(as_bytes(reply.attestation_data));
  std::copy(bound.begin(), bound.end(), report_data.begin());
  auto data = request_type == kRequestTdReport ? backend_->report(report_data)
                                               : backend_->quote(report_data);
  if (!data) return internal(data.error());
  reply.data = std::move(*data);
  return reply;
}

RpcResult<ReportReply> Runtime::report(uint64_t nonce_lo, uint64_t nonce_hi,
                                       uint32_t request_type) {
  std::lock_guard lock(mutex_);
  return report_locked(nonce_lo, nonce_hi, request_type);
}

RpcResult<EvidenceReply> Runtime::evidence(uint64_t nonce_lo, uint64_t nonce_hi,
                                           uint32_t request_type) {
  std::lock_guard lock(mutex_);
  auto report = report_locked(nonce_lo, nonce_hi, request_type);
  if (!report) return report.error();
  EvidenceReply reply;
  reply.report = std::move(*report);
  reply.backend = std::string(backend_->name());
  auto firmware = backend_->firmware_event_log();
  if (!firmware) return internal(firmware.error());
  reply.firmware_event_log = std::move(*firmware);
  reply.log_mode = log_.mode();
  auto runtime_log = log_.contents();
  if (!runtime_log) return internal(runtime_log.error());
  reply.runtime_log = std::move(*runtime_log);
  return reply;
}

RpcResult<uint32_t> Runtime::start(std::string_view image_id,
                                   const std::vector<std::string>& envs) {
  ContainerSpec spec;
  {
    std::lock_guard lock(mutex_);
    const Image* found = nullptr;
    for (const auto& loaded : images_) {
      if (loaded.signed_manifest.identity.image_id() == image_id) found = &loaded;
    }
    if (found == nullptr) return rpc_error(RpcCode::invalid_argument, messages::kInvalidImageId);
    const image::Manifest& manifest = found->signed_manifest.manifest;
    // Checked before anything is allocated (ACON 3430805 aborts on an empty entrypoint).
    if (manifest.entrypoint_or_default().empty()) {
      return rpc_error(RpcCode::invalid_argument, messages::kInvalidEntrypoint);
    }
    if (!missing_layers_of(*found).empty()) {
      return rpc_error(RpcCode::failed_precondition, messages::kMissingLayers);
    }
    auto rules = image::EnvRules::parse(manifest.env_or_default());
    if (!rules) return internal(rules.error());
    auto env = rules->resolve(envs);
    if (!env) return internal(env.error());
    spec.image_id = std::string(image_id);
    for (size_t i = 0; i < manifest.layers_or_default().size(); ++i) {
      spec.layers.push_back(found->dir / "l" / std::to_string(i));
    }
    spec.entrypoint = manifest.entrypoint_or_default();
    spec.env = std::move(*env);
    spec.working_dir = manifest.working_dir;
    spec.uids = manifest.uids_or_default();
    spec.writable_fs = manifest.writable_fs_or_default();
    spec.no_restart = manifest.no_restart_or_default();
    spec.signals = manifest.signals;
    spec.max_instances = manifest.max_instances_or_default();
  }
  return containers_->start(std::move(spec));
}

RpcStatus Runtime::kill(uint32_t container_id, int32_t signal_num) {
  return containers_->kill(container_id, signal_num);
}

RpcStatus Runtime::restart(uint32_t container_id, uint64_t timeout_seconds) {
  return containers_->restart(container_id, timeout_seconds);
}

RpcResult<ExecReply> Runtime::exec(const ExecRequest& request) {
  return containers_->exec(request);
}

RpcResult<std::vector<ContainerInfo>> Runtime::inspect(uint32_t container_id) {
  return containers_->inspect(container_id);
}

}  // namespace acon::acond
