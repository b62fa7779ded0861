#include "acon/acond/runtime.h"
#include "acon/acond/container.h"
#include "acon/image/attestation_data.h"
#include "acon/image/env_rules.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <future>
#include <set>
#include <system_error>

#include "acon/common/hash.h"
#include "acon/common/json.h"
#include "acon/common/unique_fd.h"
#include "acon/eventlog/event_log.h"
#include "acon/image/layers/extract.h"
#include "acon/image/layers/stream.h"
#include "acon/kbs/evidence_provider.h"

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

fs::path staging_path(const fs::path& dir) { return dir.string() + ".staging"; }

Status publish(const fs::path& staging, const fs::path& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::rename(staging, dir, ec);
  if (ec) return make_error(Errc::io, dir.string() + ": " + ec.message());
  UniqueFd parent(::open(dir.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (parent.valid()) ::fsync(parent.get());
  return {};
}

Result<Bytes> read_whole(const fs::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return make_error(Errc::io, path.string() + ": open: " + std::strerror(errno));
  Bytes out;
  uint8_t buffer[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return make_error(Errc::io, path.string() + ": read: " + std::strerror(errno));
    if (n == 0) break;
    out.insert(out.end(), buffer, buffer + n);
  }
  return out;
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
  ACON_TRY(auto log,
           MeasurementLog::open(backend, options.log_mode, log_path,
                                log_register_for(backend.register_kind(), options.runtime_pcr)));
  log.set_step_hook(options.step_hook);
  options.log_path = log_path;
  // A layer whose unpacking was interrupted never reached its digest's name.
  fs::remove_all(options.state_dir / "contents" / ".staging", ec);
  std::unique_ptr<Runtime> runtime(new Runtime(backend, std::move(options), std::move(log)));
  ACON_CHECK(runtime->reload());
  return runtime;
}

Runtime::Runtime(guest::Backend& backend, RuntimeOptions options, MeasurementLog log)
    : backend_(&backend),
      options_(std::move(options)),
      log_(std::move(log)),
      pod_(options_.policy_mode),
      containers_(std::make_unique<ContainerManager>(options_.state_dir)) {}

Runtime::~Runtime() = default;

Status Runtime::reload() {
  // The log is the truth (RTMR3 holds what it records): every AddManifest record must find its
  // image stored, staged images it names are published (a crash came between the measurement and
  // the rename), and staged images it does not name were never measured and are dropped.
  const fs::path images_root = options_.state_dir / "images";
  const auto& events = log_.events();
  std::set<fs::path> loaded_dirs;
  for (size_t i = 0; i < events.size(); ++i) {
    const auto& event = events[i];
    std::string where = log_.path().string() + " event " + std::to_string(i);
    if (event.domain != kAconDomain) {
      return make_error(Errc::parse, where + ": domain '" + event.domain + "', expected " +
                                         std::string(kAconDomain));
    }
    if (finalized_) {
      return make_error(Errc::parse, where + ": " + event.operation + " after Finalize");
    }
    if (event.operation == "Finalize") {
      finalized_ = true;
      continue;
    }
    if (event.operation != "AddManifest") {
      return make_error(Errc::parse, where + ": unknown operation '" + event.operation + "'");
    }
    auto id = image::parse_image_id(event.content);
    if (!id) return make_error(Errc::parse, where + ": " + id.error().message);
    fs::path dir = images_root / hash_name(id->hash) / id->signer_digest / id->manifest_digest;
    if (!resolves_to_directory(dir) && resolves_to_directory(staging_path(dir))) {
      ACON_CHECK(publish(staging_path(dir), dir));
    }
    if (!resolves_to_directory(dir)) {
      return make_error(Errc::io, where + ": image " + event.content + " is measured but " +
                                      dir.string() + " is missing");
    }
    ACON_TRY(Bytes manifest, read_whole(dir / "acon-manifest.json"));
    ACON_TRY(Bytes certificate, read_whole(dir / "certificate.der"));
    ACON_TRY(Bytes signature, read_whole(dir / "signature"));
    auto verified = image::verify_signed_manifest(as_chars(manifest), signature, certificate,
                                                  image::CertProfile::acond);
    if (!verified) {
      return make_error(Errc::verify_failed, dir.string() + ": stored image does not verify: " +
                                                 verified.error().message);
    }
    if (verified->identity.image_id() != event.content || !loaded_dirs.insert(dir).second) {
      return make_error(Errc::parse, where + ": stored image " + dir.string() + " is " +
                                         verified->identity.image_id() +
                                         " (loaded twice or renamed)");
    }
    auto admission = pod_.admit(image::policy_image(verified->identity, verified->manifest));
    if (admission.verdict != image::Verdict::accepted) {
      return make_error(Errc::verify_failed,
                        where + ": image " + event.content + " is not admitted on reload");
    }
    // Links of a crash between the measurement and the publication are made now.
    ACON_CHECK(create_alias_links(*verified));
    images_.push_back({std::move(*verified), dir});
  }
  // What is stored but not logged: staged leftovers go, anything else is an inconsistency.
  std::error_code ec;
  std::vector<fs::path> stored;  // images/<H>/<S>/<entry>, not image aliases (symlinks)
  for (auto it = fs::recursive_directory_iterator(images_root, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it.depth() < 2) continue;
    it.disable_recursion_pending();
    if (!it->is_symlink()) stored.push_back(it->path());
  }
  if (ec) return make_error(Errc::io, images_root.string() + ": " + ec.message());
  for (const auto& path : stored) {
    if (path.extension() == ".staging") {
      fs::remove_all(path, ec);
      if (ec) return make_error(Errc::io, path.string() + ": " + ec.message());
    } else if (!loaded_dirs.contains(path)) {
      return make_error(
          Errc::io, path.string() + ": stored image without a record in " + log_.path().string());
    }
  }
  return {};
}

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

Status Runtime::stage_image(const image::SignedManifest& candidate, const fs::path& staging) const {
  // Complete before the image is measured (the signature too, so that a restart re-verifies it);
  // renamed into place after the measurement, or by reload() when a crash came in between.
  std::error_code ec;
  fs::remove_all(staging, ec);
  ACON_CHECK(make_dirs(staging / "l"));
  ACON_CHECK(write_file(staging / "acon-manifest.json", as_bytes(candidate.manifest.raw)));
  ACON_CHECK(write_file(staging / "certificate.der", candidate.certificate_der));
  ACON_CHECK(write_file(staging / "signature", candidate.signature));
  const auto& layers = candidate.manifest.layers_or_default();
  for (size_t i = 0; i < layers.size(); ++i) {
    ACON_CHECK(make_symlink(options_.state_dir / "contents" / layers[i],
                            staging / "l" / std::to_string(i)));
  }
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
      return AddManifestReply{image_id, missing_layers_of(loaded), true};
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
  // 9. Stage the image's files, then measure.
  fs::path dir = options_.state_dir / "images" / hash_name(verified->identity.hash) /
                 verified->identity.signer_digest / verified->identity.manifest_digest;
  fs::path staging = staging_path(dir);
  if (auto staged = stage_image(*verified, staging); !staged) {
    std::error_code ec;
    fs::remove_all(staging, ec);
    return internal(staged.error());
  }
  if (auto measured = log_.measure({std::string(kAconDomain), "AddManifest", image_id});
      !measured) {
    std::error_code ec;
    fs::remove_all(staging, ec);
    return internal(measured.error());
  }
  step("after-measure");
  // 10. Publish. The image is measured now, so it joins the pod even if a file cannot be written
  // (the error is still reported): the log must not name an image the pod does not hold.
  Status stored = create_alias_links(*verified);
  if (stored) stored = publish(staging, dir);
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

Result<fs::path> Runtime::extract_blob(ByteView data) const {
  // A staging directory of its own under contents/.staging (which open() clears): a
  // half-extracted (hostile or truncated) layer never appears under a digest.
  auto name = random_bytes(8);
  if (!name) return name.error();
  fs::path staging = options_.state_dir / "contents" / ".staging" / ("blob-" + hex_encode(*name));
  ACON_CHECK(make_dirs(staging));
  image::layers::MemorySource source(data);
  image::layers::ExtractOptions extract;
  extract.whiteouts = image::layers::WhiteoutMode::literal;  // as acond unpacks
  auto extracted = image::layers::extract_layer(source, staging, extract);
  if (!extracted) {
    std::error_code ec;
    fs::remove_all(staging, ec);
    return extracted.error();
  }
  return staging;
}

Status Runtime::publish_blob(
    const fs::path& staging, const std::string& sha384_hex,
    const std::vector<std::pair<std::string, std::string>>& other_refs) const {
  fs::path contents = options_.state_dir / "contents";
  fs::path dir = contents / "sha384" / sha384_hex;
  std::error_code ec;
  if (resolves_to_directory(dir)) {
    fs::remove_all(staging, ec);  // unpacked once per digest
  } else {
    step("mid-unpack");
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
  // Whether the blob is wanted depends on its digests; extracting it does not. So the hash runs
  // on a second thread while this one extracts into a private staging directory, which becomes
  // the content directory only when a loaded manifest references the digest, and is removed
  // otherwise (a refused AddBlob leaves nothing): AddBlob takes about as long as its hash.
  std::future<layers::LayerDigests> hashing;
  try {
    hashing = std::async(std::launch::async, [&hasher, data] {
      hasher->update(data);
      return hasher->finish();
    });
  } catch (const std::system_error&) {  // no thread to be had: hash here first
    hasher->update(data);
    std::promise<layers::LayerDigests> done;
    done.set_value(hasher->finish());
    hashing = done.get_future();
  }
  auto staging = extract_blob(data);
  auto digests = hashing.get();
  auto discard = [&] {
    std::error_code ec;
    if (staging) fs::remove_all(*staging, ec);
  };
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
  if (!referenced) {
    discard();
    return rpc_error(RpcCode::permission_denied, messages::kNoReferencingManifest);
  }
  if (!staging) return internal(staging.error());
  if (auto published = publish_blob(*staging, hex_encode(digests.sha384), other_refs); !published) {
    discard();
    return internal(published.error());
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
                                              uint32_t request_type,
                                              const image::ContainerAttestations& attached) {
  if (images_.empty()) return rpc_error(RpcCode::unknown, messages::kNoImages);
  auto acond_nonce = random_bytes(16);
  if (!acond_nonce) return internal(acond_nonce.error());
  // Every loaded image, with its containers (exited ones included).
  image::AttestedImages images = containers_->containers_by_image();
  for (const auto& loaded : images_) images[loaded.signed_manifest.identity.image_id()];
  ReportReply reply;
  image::ContainerAttestations container_data = attached;
  // insert() keeps what `attached` already holds.
  container_data.insert(container_attestations_.begin(), container_attestations_.end());
  reply.attestation_data = image::write_attestation_data(image::requestor_nonce(nonce_lo, nonce_hi),
                                                         *acond_nonce, images, container_data);
  reply.mrlog = {{0, {}}, {1, {}}, {2, {}}, {3, log_.entries()}};
  if (request_type != kRequestTdReport && request_type != kRequestQuote) {
    return rpc_error(RpcCode::invalid_argument, messages::kInvalidRequestType);
  }
  guest::ReportData report_data{};
  const Bytes bound = image::attestation_report_data(as_bytes(reply.attestation_data));
  std::copy(bound.begin(), bound.end(), report_data.begin());
  if (request_type == kRequestTdReport) {
    auto data = backend_->report(report_data);
    if (!data) return internal(data.error());
    reply.data = std::move(*data);
    return reply;
  }
  auto attested = backend_->attest(report_data);
  if (!attested) return internal(attested.error());
  reply.data = std::move(attested->quote);
  reply.ak_public = std::move(attested->ak_public);
  reply.pcrs = std::move(attested->pcrs);
  return reply;
}

ipc::HandlerResult Runtime::answer_ipc(uid_t peer_uid, const ipc::Request& request) {
  // Container IDs start at 2; inspect(0) would list every container.
  auto known = peer_uid >= 2 ? containers_->inspect(peer_uid)
                             : RpcResult<std::vector<ContainerInfo>>(RpcError{});
  if (!known || known->empty()) return ipc::HandlerError{std::string(ipc::kInvalidContainerId)};
  if (const auto* get_secret = std::get_if<ipc::GetSecretRequest>(&request)) {
    std::shared_ptr<SecretBroker> broker;
    {
      std::lock_guard lock(mutex_);
      broker = secrets_;
    }
    if (!broker) return ipc::HandlerError{std::string(ipc::kKbsNotConfigured)};
    // Not under the pod lock: the KBS exchange takes seconds at worst, the evidence it needs
    // takes the lock itself (kbs_evidence).
    auto secret = broker->fetch(get_secret->resource_path);
    if (!secret) return ipc::HandlerError{secret_failure_message(secret.error())};
    if (secret->size() > ipc::kMaxMessageSize - ipc::kHeaderSize) {
      return ipc::HandlerError{"KBS: the resource is larger than an IPC reply can hold"};
    }
    return ipc::encode_get_secret_reply(view(*secret));
  }
  const auto& attestation = std::holds_alternative<ipc::GetReportRequest>(request)
                                ? std::get<ipc::GetReportRequest>(request).attestation
                                : std::get<ipc::SetAttestationDataRequest>(request).attestation;
  // ACON reports type 0 as {"type":0,"data":""} whatever bytes followed it.
  image::ContainerAttestation entry{attestation.type,
                                    attestation.type == 0 ? std::string() : attestation.data};
  std::lock_guard lock(mutex_);
  if (std::holds_alternative<ipc::SetAttestationDataRequest>(request)) {
    container_attestations_[peer_uid] = std::move(entry);
    return ipc::encode_set_attestation_data_reply();
  }
  const auto& get = std::get<ipc::GetReportRequest>(request);
  auto report = report_locked(get.nonce_lo(), get.nonce_hi(), get.request_type,
                              {{peer_uid, std::move(entry)}});
  if (!report) return ipc::HandlerError{report.error().message};
  return ipc::encode_get_report_reply(
      {std::move(report->mrlog[3]), std::move(report->attestation_data), std::move(report->data)});
}

void Runtime::set_secret_broker(std::shared_ptr<SecretBroker> broker) {
  std::lock_guard lock(mutex_);
  secrets_ = std::move(broker);
}

size_t Runtime::runtime_event_count() const {
  std::lock_guard lock(mutex_);
  return log_.events().size();
}

std::string Runtime::kbs_tee() const {
  return backend_->register_kind() == guest::RegisterKind::pcr ? "tpm" : "tdx";
}

Result<TdEvidence> Runtime::kbs_evidence(ByteView report_data) {
  std::lock_guard lock(mutex_);
  if (log_.mode() != LogMode::coco) {
    return make_error(Errc::unsupported,
                      "KBS evidence: log_mode acon writes a text log that the evidence cannot "
                      "carry; secrets need log_mode coco");
  }
  // The loaded images go with the evidence (acon's extension, docs/acond.md "Secrets") so that
  // the KBS can run the images checks against the log and affirm the TD. Taken under the lock
  // with the quote and the log, so every image the log names is here.
  std::vector<appraisal::ProvidedImage> images;
  images.reserve(images_.size());
  for (const Image& image : images_) {
    const image::SignedManifest& signed_manifest = image.signed_manifest;
    images.push_back({signed_manifest.identity.image_id(), to_bytes(signed_manifest.manifest.raw),
                      signed_manifest.signature, signed_manifest.certificate_der});
  }
  if (backend_->register_kind() == guest::RegisterKind::pcr) {
    auto* vtpm = dynamic_cast<guest::VtpmBackend*>(backend_);
    if (vtpm == nullptr) {
      return make_error(Errc::unsupported, "KBS evidence: the " + std::string(backend_->name()) +
                                               " backend measures into a PCR but is no vTPM");
    }
    // CoCo's TPM evidence from the AK the Report RPC quotes with, and as acon's extension members
    // the firmware's TCG2 log and the runtime records, which the KBS replays against the quoted
    // PCRs (the runtime PCR's SHA-384 bank proves the runtime records), and the images.
    kbs::TpmEvidenceExtras extras;
    auto firmware = backend_->firmware_event_log();
    if (!firmware) {
      return firmware.error().wrap(
          "KBS evidence: the firmware's TCG2 event log (the KBS replays the runtime log after "
          "it)");
    }
    extras.firmware_event_log = std::move(*firmware);
    ACON_TRY(extras.runtime_aael, log_.contents());
    extras.images = std::move(images);
    const auto provider = kbs::tpm_evidence_provider(
        std::shared_ptr<guest::VtpmBackend>(std::shared_ptr<void>(), vtpm), std::move(extras));
    ACON_TRY(Json primary, provider(report_data));
    return TdEvidence{std::move(primary), log_.events().size()};
  }
  // The library's TDX evidence (quote + CCEL), over a backend this Runtime does not own.
  const auto provider = kbs::tdx_evidence_provider(
      std::shared_ptr<guest::Backend>(std::shared_ptr<void>(), backend_), std::move(images));
  ACON_TRY(Json primary, provider(report_data));
  ACON_TRY(Bytes runtime, log_.contents());
  if (primary["cc_eventlog"].is_null()) {
    return make_error(Errc::not_found,
                      "KBS evidence: the firmware CCEL cannot be read, so the runtime log "
                      "cannot go with it");
  }
  ACON_TRY(Bytes log, base64_decode(primary["cc_eventlog"].get<std::string>()));
  // The runtime records follow the CCEL's last record, not the fill after it.
  auto firmware = eventlog::parse_event_log(log);
  if (!firmware) return firmware.error().wrap("KBS evidence: firmware CCEL");
  log.resize(firmware->end_offset);
  append(log, runtime);
  primary["cc_eventlog"] = base64_encode(log);
  return TdEvidence{std::move(primary), log_.events().size()};
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
  for (const Image& image : images_) reply.images.push_back(image.signed_manifest);
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
