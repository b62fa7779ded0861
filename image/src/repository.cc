#include "acon/image/repository.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "acon/common/unique_fd.h"
#include "acon/image/layers/create.h"
#include "acon/image/layers/extract.h"
#include "acon/image/manifest.h"
#include "archive_util.h"
#include "counting_stream.h"

namespace acon::image {

namespace fs = std::filesystem;
namespace lay = layers;

// ---- files -----------------------------------------------------------------------------------

namespace {

// Removes a staging directory on every path out.
class StagingDir {
 public:
  explicit StagingDir(fs::path path) : path_(std::move(path)) {}
  ~StagingDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  StagingDir(const StagingDir&) = delete;
  StagingDir& operator=(const StagingDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

uint32_t digest_mask_of(HashAlg alg) {
  return alg == HashAlg::sha256   ? lay::kDigestSha256
         : alg == HashAlg::sha512 ? lay::kDigestSha512
                                  : lay::kDigestSha384;
}

Status write_bundle_files(const fs::path& dir, const SignedManifest& image) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return make_error(Errc::io, dir.string() + ": " + ec.message());
  ACON_CHECK(write_file_atomic(dir / kBundleManifestFile, image.manifest.raw));
  ACON_CHECK(write_file_atomic(dir / kBundleCertificateFile, as_chars(image.certificate_der)));
  return write_file_atomic(dir / kBundleSignatureFile, as_chars(image.signature));
}

// Reads `file` to its end as a (possibly compressed) tar stream, whatever its entries name: tells
// a bundle that is not an archive at all (unusable input) from one whose entries are refused.
Status check_tar_stream(const fs::path& file) {
  lay::detail::ArchiveReadPtr a(archive_read_new());
  if (!a) return make_error(Errc::crypto, "libarchive: out of memory");
  archive_read_support_format_tar(a.get());
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_zstd(a.get());
  archive_read_support_filter_xz(a.get());
  archive_read_support_filter_bzip2(a.get());
  const auto failure = [&] {
    const char* msg = archive_error_string(a.get());
    return make_error(Errc::parse, file.string() + ": tar: " + (msg ? msg : "malformed archive"));
  };
  if (archive_read_open_filename(a.get(), file.c_str(), 1 << 16) != ARCHIVE_OK) return failure();
  for (;;) {
    archive_entry* entry = nullptr;
    const int r = archive_read_next_header(a.get(), &entry);
    if (r == ARCHIVE_EOF) return {};
    if (r != ARCHIVE_OK || archive_read_data_skip(a.get()) != ARCHIVE_OK) return failure();
  }
}

}  // namespace

Result<std::string> read_bounded_file(const fs::path& path, uint64_t max_bytes) {
  const std::string name = path.string();
  const int fd = ::open(name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ELOOP) return make_error(Errc::io, name + ": is a symlink");
    return make_error(errno == ENOENT ? Errc::not_found : Errc::io,
                      name + ": " + std::strerror(errno));
  }
  UniqueFd file(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return make_error(Errc::io, name + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return make_error(Errc::io, name + ": not a regular file");
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return make_error(Errc::io, name + ": larger than " + std::to_string(max_bytes) + " bytes");
  }
  std::string out;
  char buffer[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return make_error(Errc::io, name + ": " + std::strerror(errno));
    if (n == 0) return out;
    if (out.size() + static_cast<size_t>(n) > max_bytes) {  // grew while being read
      return make_error(Errc::io, name + ": larger than " + std::to_string(max_bytes) + " bytes");
    }
    out.append(buffer, static_cast<size_t>(n));
  }
}

Result<Certificate> parse_certificate_file(ByteView data) {
  const std::string_view text = as_chars(data);
  return text.find("-----BEGIN") != std::string_view::npos ? Certificate::from_pem(text)
                                                           : Certificate::from_der(data);
}

Status refuse_existing(const fs::path& path, bool overwrite) {
  std::error_code ec;
  if (overwrite || !fs::exists(path, ec)) return {};
  return make_error(Errc::invalid_argument, path.string() + " exists (use --force to overwrite)");
}

Status write_file_atomic(const fs::path& path, std::string_view data, unsigned mode) {
  // Renaming over a device or directory would replace it (as root, /dev/null too).
  std::error_code ec;
  if (fs::exists(fs::symlink_status(path, ec)) &&
      !fs::is_regular_file(fs::symlink_status(path, ec))) {
    return make_error(Errc::invalid_argument, path.string() + ": exists and is not a regular file");
  }
  const fs::path tmp = path.string() + ".tmp-" + std::to_string(::getpid());
  {
    ACON_TRY(lay::FileSink sink, lay::FileSink::create(tmp, mode));
    ACON_CHECK(sink.write(as_bytes(data)));
    ACON_CHECK(sink.close(false));
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return make_error(Errc::io, path.string() + ": " + ec.message());
  }
  return {};
}

// ---- bundles ---------------------------------------------------------------------------------

Result<Bundle> read_bundle_dir(const fs::path& dir) {
  Bundle b;
  b.label = dir.string();
  ACON_TRY(b.manifest, read_bounded_file(dir / kBundleManifestFile, kMaxBundleFileBytes));
  ACON_TRY(std::string cert_bytes,
           read_bounded_file(dir / kBundleCertificateFile, kMaxBundleFileBytes));
  auto cert = parse_certificate_file(as_bytes(cert_bytes));
  if (!cert) return cert.error().wrap((dir / kBundleCertificateFile).string());
  b.certificate = cert->der();
  ACON_TRY(std::string signature,
           read_bounded_file(dir / kBundleSignatureFile, kMaxBundleFileBytes));
  b.signature = to_bytes(signature);
  const std::string digest = dir.filename().string(), alg = dir.parent_path().filename().string();
  if (acon_hash_from_name(alg)) b.filed_as = std::pair{alg, digest};
  return b;
}

Result<SignedManifest> verify_bundle(const Bundle& b, CertProfile profile) {
  auto signed_manifest = verify_signed_manifest(b.manifest, b.signature, b.certificate, profile);
  if (!signed_manifest) return signed_manifest.error().wrap(b.label);
  if (b.filed_as) {
    const auto& id = signed_manifest->identity;
    if (b.filed_as->first != hash_name(id.hash) || b.filed_as->second != id.manifest_digest) {
      return make_error(Errc::verify_failed,
                        b.label + ": filed as " + b.filed_as->first + "/" + b.filed_as->second +
                            " but the manifest's digest is " + std::string(hash_name(id.hash)) +
                            "/" + id.manifest_digest + " (modified after signing?)");
    }
  }
  return signed_manifest;
}

// ---- the repository --------------------------------------------------------------------------

Result<Repository> Repository::open(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir / "manifests", ec) || !fs::is_directory(dir / "blobs", ec)) {
    return make_error(Errc::invalid_argument,
                      dir.string() + " is not an ACON repository (run acon-image init)");
  }
  ACON_TRY(lay::BlobStore store, lay::BlobStore::open(dir / "blobs"));
  return Repository(fs::absolute(dir).lexically_normal(), std::move(store));
}

Result<Repository> Repository::create(const fs::path& dir) {
  std::error_code ec;
  for (const char* sub : {"manifests", "blobs"}) {
    fs::create_directories(dir / sub, ec);
    if (ec) return make_error(Errc::io, (dir / sub).string() + ": " + ec.message());
  }
  return open(dir);
}

Result<Repository> Repository::locate(const std::string& option) {
  std::error_code ec;
  if (!option.empty()) {
    const fs::path p(option);
    if (p.filename() != kRepositoryDirName && fs::is_directory(p / kRepositoryDirName, ec)) {
      return open(p / kRepositoryDirName);
    }
    return open(p);
  }
  for (fs::path dir = fs::current_path(ec); !ec; dir = dir.parent_path()) {
    if (fs::is_directory(dir / kRepositoryDirName, ec)) return open(dir / kRepositoryDirName);
    if (dir == dir.parent_path()) break;
  }
  return make_error(Errc::invalid_argument,
                    "no .acon repository here or above (run acon-image init, or pass --repo)");
}

Result<std::vector<fs::path>> Repository::find_bundles(
    const std::vector<std::string>& specs) const {
  std::vector<fs::path> dirs;
  for (const auto& spec : specs) {
    ACON_TRY(fs::path dir, find_bundle(spec));
    dirs.push_back(std::move(dir));
  }
  return dirs;
}

Result<std::vector<Bundle>> Repository::read_bundles(const std::vector<std::string>& specs) const {
  ACON_TRY(std::vector<fs::path> dirs, find_bundles(specs));
  std::vector<Bundle> bundles;
  for (const auto& dir : dirs) {
    ACON_TRY(Bundle bundle, read_bundle_dir(dir));
    bundles.push_back(std::move(bundle));
  }
  return bundles;
}

Status Repository::check_private_key_path(const fs::path& path) const {
  std::error_code ec;
  const fs::path p = fs::weakly_canonical(fs::absolute(path), ec),
                 d = fs::weakly_canonical(dir_, ec);
  if (std::mismatch(p.begin(), p.end(), d.begin(), d.end()).second != d.end()) return {};
  return make_error(Errc::invalid_argument,
                    path.string() + ": private keys are never stored in the repository");
}

fs::path Repository::bundle_dir(HashAlg alg, const std::string& digest) const {
  return dir_ / "manifests" / std::string(hash_name(alg)) / digest;
}

std::vector<fs::path> Repository::bundle_dirs() const {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& alg : fs::directory_iterator(dir_ / "manifests", ec)) {
    if (alg.is_symlink(ec) || !alg.is_directory(ec)) continue;
    std::error_code inner;
    for (const auto& d : fs::directory_iterator(alg.path(), inner)) {
      if (!d.is_symlink(inner) && d.is_directory(inner) &&
          !d.path().filename().string().starts_with(".")) {
        out.push_back(d.path());
      }
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<fs::path> Repository::find_bundle(const std::string& spec) const {
  std::error_code ec;
  if (fs::is_regular_file(fs::path(spec) / kBundleManifestFile, ec)) return fs::path(spec);
  std::string digest = spec, alg;
  if (auto id = parse_image_id(spec); id.ok()) {
    alg = std::string(hash_name(id->hash));
    digest = id->manifest_digest;
  } else if (const size_t slash = spec.find('/'); slash != std::string::npos) {
    alg = spec.substr(0, slash);
    digest = spec.substr(slash + 1);
  }
  if (digest.size() < 4) {
    return make_error(Errc::invalid_argument, "image '" + spec + "': give at least 4 digits");
  }
  std::vector<fs::path> matches;
  for (const auto& d : bundle_dirs()) {
    if (!alg.empty() && d.parent_path().filename() != alg) continue;
    if (d.filename().string().starts_with(digest)) matches.push_back(d);
  }
  if (matches.size() == 1) return matches.front();
  return make_error(matches.empty() ? Errc::not_found : Errc::invalid_argument,
                    "image '" + spec + "': " +
                        (matches.empty() ? std::string("not in ") + dir_.string()
                                         : std::to_string(matches.size()) + " images match"));
}

std::vector<std::pair<fs::path, SignedManifest>> Repository::verified_bundles(
    CertProfile profile) const {
  std::vector<std::pair<fs::path, SignedManifest>> out;
  for (const auto& d : bundle_dirs()) {
    auto b = read_bundle_dir(d);
    if (!b) continue;
    auto sm = verify_bundle(*b, profile);
    if (sm) out.emplace_back(d, std::move(*sm));
  }
  return out;
}

std::vector<SignedManifest> Repository::verified_manifests(CertProfile profile) const {
  std::vector<SignedManifest> out;
  for (auto& [dir, sm] : verified_bundles(profile)) out.push_back(std::move(sm));
  return out;
}

Result<fs::path> Repository::store(const SignedManifest& image) {
  const fs::path dir = bundle_dir(image.identity.hash, image.identity.manifest_digest);
  ACON_CHECK(write_bundle_files(dir, image));
  return dir;
}

Result<std::vector<fs::path>> Repository::closure(const std::vector<fs::path>& roots,
                                                  CertProfile profile) const {
  const auto all = verified_bundles(profile);
  std::vector<fs::path> out;
  std::set<fs::path> seen;
  std::vector<fs::path> pending = roots;
  while (!pending.empty()) {
    fs::path dir = pending.back();
    pending.pop_back();
    std::error_code ec;
    if (!seen.insert(fs::weakly_canonical(dir, ec)).second) continue;
    ACON_TRY(Bundle b, read_bundle_dir(dir));
    ACON_TRY(SignedManifest sm, verify_bundle(b, profile));
    out.push_back(dir);
    std::vector<AliasRef> wanted;
    for (const auto& layer : sm.manifest.layers_or_default()) {
      if (auto r = parse_alias_ref(layer); r) wanted.push_back(*r);
    }
    std::set<std::string> asked;  // aliases of vendor manifests may form a cycle
    while (!wanted.empty()) {
      const AliasRef want = wanted.back();
      wanted.pop_back();
      if (!asked.insert(want.to_string()).second) continue;
      for (const auto& [vdir, vendor] : all) {
        if (vendor.identity.hash != want.alg || vendor.identity.signer_digest != want.signer) {
          continue;
        }
        bool defines = false;
        for (const auto& [object, names] : vendor.manifest.aliases.contents) {
          if (std::find(names.begin(), names.end(), want.name) == names.end()) continue;
          defines = true;
          if (auto next = parse_alias_ref(object); next) wanted.push_back(*next);
        }
        if (defines) {
          pending.push_back(vdir);
          break;
        }
      }
    }
  }
  return out;
}

Status Repository::check_layer(const DigestRef& ref, const ProgressFn& progress) const {
  const std::string text = ref.to_string();
  ACON_TRY(fs::path path, blobs_.find(text));
  ACON_TRY(lay::FileSource source, lay::FileSource::open(path));
  CountingSource counted(source, progress, source.size().value_or(0));
  ACON_TRY(lay::LayerDigests d, lay::digest_stream(counted, digest_mask_of(ref.alg)));
  if (hex_encode(d.get(ref.alg)) != ref.hex) {
    return make_error(Errc::verify_failed,
                      "layer " + text + ": stored blob has digest " + hex_encode(d.get(ref.alg)));
  }
  return {};
}

// ---- export / import -------------------------------------------------------------------------

Result<ExportSummary> export_bundle(const Repository& repo, const std::vector<fs::path>& roots,
                                    const fs::path& output, CertProfile profile,
                                    const ProgressFn& progress) {
  ACON_TRY(std::vector<fs::path> dirs, repo.closure(roots, profile));
  std::vector<lay::ArchiveMember> members;
  std::set<std::string> blobs;
  uint64_t total = 0;
  for (const auto& dir : dirs) {
    const std::string prefix = std::string(kRepositoryDirName) + "/manifests/" +
                               dir.parent_path().filename().string() + "/" +
                               dir.filename().string() + "/";
    for (const char* f : {kBundleManifestFile, kBundleCertificateFile, kBundleSignatureFile}) {
      members.push_back({prefix + f, dir / f});
    }
    ACON_TRY(Bundle b, read_bundle_dir(dir));
    auto m = parse_manifest(b.manifest);
    if (!m) return m.error().wrap(dir.string());
    for (const auto& layer : m->layers_or_default()) {
      if (layer.starts_with("signer/")) continue;
      ACON_TRY(fs::path path, repo.blobs().find(layer));
      // Always export the primary (sha384) file, whichever name the manifest used.
      std::error_code ec;
      const fs::path primary = fs::canonical(path, ec);
      if (ec) return make_error(Errc::io, path.string() + ": " + ec.message());
      const std::string name =
          std::string(kRepositoryDirName) + "/blobs/sha384/" + primary.filename().string();
      if (blobs.insert(name).second) {
        total += fs::file_size(primary, ec);
        members.push_back({name, primary});
      }
    }
  }
  std::error_code ec;
  if (fs::exists(fs::symlink_status(output, ec)) &&
      !fs::is_regular_file(fs::symlink_status(output, ec))) {
    return make_error(Errc::invalid_argument,
                      output.string() + ": exists and is not a regular file");
  }
  lay::CreateOptions options;
  options.uid = 0;
  options.gid = 0;
  options.digest_mask = lay::kDigestSha384;
  const fs::path tmp = output.string() + ".tmp-" + std::to_string(::getpid());
  ACON_TRY(lay::FileSink file, lay::FileSink::create(tmp, 0644));
  CountingSink counted(file, progress, total);
  auto written = lay::create_archive(members, counted, options);
  Status closed = written ? file.close(false) : Status(written.error());
  if (!closed) {
    fs::remove(tmp, ec);
    return closed.error();
  }
  fs::rename(tmp, output, ec);
  if (ec) return make_error(Errc::io, output.string() + ": " + ec.message());
  return ExportSummary{dirs.size(), blobs.size()};
}

Result<std::vector<SignedManifest>> import_staged(Repository& repo, const fs::path& staged,
                                                  CertProfile profile, const std::string& label,
                                                  const NoteFn& note) {
  const auto say = [&](const std::string& text) {
    if (note) note(text);
  };
  const fs::path root = staged / kRepositoryDirName;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    return make_error(Errc::verify_failed, label + ": no .acon directory in the bundle");
  }
  struct Blob {
    fs::path path;
    DigestRef ref;
  };
  std::vector<Blob> blobs;
  std::vector<SignedManifest> manifests;
  for (auto it = fs::recursive_directory_iterator(root, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const fs::path rel = fs::relative(it->path(), root, ec);
    const std::vector<std::string> parts(rel.begin(), rel.end());
    if (it->is_symlink(ec)) {
      // Blob links are rebuilt here; anything else a link could point at is outside the bundle.
      if (parts.size() == 3 && parts[0] == "blobs" && parts[1] != "sha384") continue;
      return make_error(Errc::verify_failed, label + ": " + rel.string() + " is a symlink");
    }
    if (it->is_directory(ec)) continue;
    if (parts.size() == 3 && parts[0] == "blobs" && parts[2].ends_with(".tar")) {
      auto ref = parse_digest_ref(parts[1] + "/" + parts[2].substr(0, parts[2].size() - 4));
      if (!ref) {
        return make_error(Errc::verify_failed,
                          label + ": " + rel.string() + ": " + ref.error().message);
      }
      blobs.push_back({it->path(), *ref});
      continue;
    }
    if (parts.size() == 4 && parts[0] == "manifests") {
      if (parts[3] == "private_key.pem") {
        say(label + ": ignoring " + rel.string() + " (private keys are never imported)");
        continue;
      }
      if (parts[3] == kBundleManifestFile) {
        auto b = read_bundle_dir(it->path().parent_path());
        if (!b) return b.error().wrap(label);
        b->label = label + ":" + rel.parent_path().string();
        auto sm = verify_bundle(*b, profile);
        if (!sm) return make_error(Errc::verify_failed, sm.error().message);
        manifests.push_back(std::move(*sm));
      }
      continue;
    }
    say(label + ": ignoring unexpected " + rel.string());
  }
  if (ec) return make_error(Errc::io, label + ": " + ec.message());
  for (const auto& blob : blobs) {
    ACON_TRY(lay::FileSource src, lay::FileSource::open(blob.path));
    ACON_TRY(lay::LayerDigests d, lay::digest_stream(src, digest_mask_of(blob.ref.alg)));
    if (hex_encode(d.get(blob.ref.alg)) != blob.ref.hex) {
      return make_error(Errc::verify_failed,
                        label + ": blob " + blob.ref.to_string() + " does not match its name");
    }
  }
  // Everything holds: file the blobs (re-hashed on the way in) and the manifests.
  for (const auto& blob : blobs) {
    auto d = repo.blobs().add([&](lay::ByteSink& out) -> Status {
      ACON_TRY(lay::FileSource src, lay::FileSource::open(blob.path));
      Bytes buffer(1 << 20);
      for (;;) {
        ACON_TRY(size_t n, src.read(buffer));
        if (n == 0) return {};
        ACON_CHECK(out.write(ByteView(buffer.data(), n)));
      }
    });
    if (!d) return d.error();
    if (hex_encode(d->get(blob.ref.alg)) != blob.ref.hex) {
      return make_error(Errc::verify_failed, label + ": blob changed during import");
    }
  }
  for (const auto& sm : manifests) ACON_CHECK(repo.store(sm));
  for (const auto& sm : manifests) {
    for (const auto& layer : sm.manifest.layers_or_default()) {
      if (!layer.starts_with("signer/") && !repo.blobs().find(layer)) {
        say("warning: " + sm.identity.image_id() + " needs layer " + layer +
            ", which is not in the repository");
      }
    }
  }
  return manifests;
}

Result<std::vector<SignedManifest>> import_bundle(Repository& repo, const fs::path& file,
                                                  CertProfile profile, const NoteFn& note,
                                                  const ProgressFn& progress) {
  std::string tmpl = (repo.dir() / ".import-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return make_error(Errc::io, tmpl + ": " + std::strerror(errno));
  }
  StagingDir staging{fs::path(tmpl)};
  // A bundle is a file: a device or pipe could feed the extraction without end.
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) {
    return make_error(Errc::io, file.string() + ": not a regular file");
  }
  ACON_TRY(lay::FileSource source, lay::FileSource::open(file));
  lay::ExtractOptions options;
  options.whiteouts = lay::WhiteoutMode::literal;
  options.allow_compressed = true;
  CountingSource counted(source, progress, source.size().value_or(0));
  auto extracted = lay::extract_layer(counted, staging.path(), options);
  if (!extracted) {
    // Not a tar stream at all (empty, truncated, garbage) is unusable input; a readable archive
    // whose entries were refused (escaping paths, links, ...) is a bundle that failed its checks.
    ACON_CHECK(check_tar_stream(file));
    return make_error(Errc::verify_failed, file.string() + ": " + extracted.error().message);
  }
  return import_staged(repo, staging.path(), profile, file.string(), note);
}

// ---- checking an image set -------------------------------------------------------------------

ImageSetCheck check_image_set(const Repository& repo, const std::vector<std::string>& inputs,
                              const std::vector<Bundle>& bundles, const ImageSetOptions& options) {
  ImageSetCheck out;
  std::vector<SignedManifest> verified;
  std::vector<size_t> verified_index;
  for (size_t i = 0; i < bundles.size(); ++i) {
    ImageSetCheck::Image& item = out.images.emplace_back();
    item.input = i < inputs.size() ? inputs[i] : bundles[i].label;
    auto sm = verify_bundle(bundles[i], options.profile);
    if (!sm) {
      item.signature_problem = sm.error().message;
      out.rejected = true;
      continue;
    }
    item.image_id = sm->identity.image_id();
    item.manifest_findings = manifest_problems(sm->manifest);
    for (const auto& p : item.manifest_findings) {
      out.rejected = out.rejected || verification_severity(p.kind) == ProblemSeverity::fatal;
    }
    verified.push_back(std::move(*sm));
    verified_index.push_back(i);
  }

  // Layers: digests resolve directly, vendor aliases through the images given.
  if (options.check_layers) {
    for (size_t k = 0; k < verified.size(); ++k) {
      ImageSetCheck::Image& item = out.images[verified_index[k]];
      size_t ok = 0;
      for (const auto& layer : resolve_layers(verified[k], verified)) {
        std::string p;
        if (!layer.digest) {
          p = "layer " + layer.reference + ": " + layer.problem;
        } else if (auto s = repo.check_layer(
                       *layer.digest, options.layer_progress
                                          ? options.layer_progress(layer.digest->hex.substr(0, 12))
                                          : ProgressFn{});
                   !s) {
          p = s.error().message;
        } else {
          ++ok;
        }
        if (!p.empty()) {
          item.layer_problems.push_back(p);
          out.rejected = true;
        }
      }
      item.layers_ok = ok;
    }
  }

  // Launch policy, loading the images in the order given.
  for (PolicyMode mode : options.modes) {
    ImageSetCheck::PolicyRun& run = out.policy.emplace_back();
    run.mode = mode;
    Pod pod(mode);
    for (size_t k = 0; k < verified.size(); ++k) {
      auto admission = pod.admit(policy_image(verified[k].identity, verified[k].manifest));
      ImageSetCheck::Admitted a{verified_index[k], admission.verdict, std::nullopt};
      if (admission.refusal) a.reason = admission.refusal->reason;
      if (!admission.admitted()) out.rejected = true;
      run.admissions.push_back(std::move(a));
    }
    if (mode == PolicyMode::spec_graph) {
      auto graph = pod.check_graph();
      if (!graph.admitted()) {
        out.rejected = true;
        run.graph_rejection = std::move(graph);
      }
    }
  }
  return out;
}

Json image_set_report(const ImageSetCheck& check) {
  Json report = {{"images", Json::array()}};
  for (const auto& image : check.images) {
    Json item = {{"input", image.input}, {"problems", Json::array()}, {"warnings", Json::array()}};
    if (image.signature_problem) item["problems"].push_back(*image.signature_problem);
    if (image.image_id) item["image_id"] = *image.image_id;
    for (const auto& p : image.manifest_findings) {
      const bool fatal = verification_severity(p.kind) == ProblemSeverity::fatal;
      item[fatal ? "problems" : "warnings"].push_back(p.message());
    }
    for (const auto& p : image.layer_problems) item["problems"].push_back(p);
    if (image.layers_ok) item["layers_ok"] = *image.layers_ok;
    report["images"].push_back(item);
  }
  for (const auto& run : check.policy) {
    Json verdicts = Json::array();
    for (const auto& a : run.admissions) {
      Json v = {{"image_id", *check.images[a.image].image_id},
                {"verdict", std::string(verdict_name(a.verdict))}};
      if (a.reason) v["reason"] = *a.reason;
      verdicts.push_back(v);
    }
    report["policy"][run.mode == PolicyMode::acond_greedy ? "acond" : "spec"] = verdicts;
  }
  report["verdict"] = check.rejected ? "rejected" : "accepted";
  return report;
}

Result<std::vector<PolicyMode>> policy_modes_named(std::string_view name) {
  if (name == "acond") return std::vector<PolicyMode>{PolicyMode::acond_greedy};
  if (name == "spec") return std::vector<PolicyMode>{PolicyMode::spec_graph};
  if (name == "both")
    return std::vector<PolicyMode>{PolicyMode::acond_greedy, PolicyMode::spec_graph};
  return make_error(Errc::invalid_argument,
                    "--mode: expected acond, spec or both, not '" + std::string(name) + "'");
}

std::string image_set_text_report(const ImageSetCheck& check) {
  std::string out;
  for (const auto& image : check.images) {
    out += "image " + image.input + "\n";
    if (image.signature_problem) out += "  REJECTED: " + *image.signature_problem + "\n";
    if (!image.image_id) continue;
    out += "  image id:  " + *image.image_id + "\n  signature: ok\n";
    for (const auto& p : image.manifest_findings) {
      const bool fatal = verification_severity(p.kind) == ProblemSeverity::fatal;
      out += (fatal ? "  REJECTED: " : "  warning: ") + p.message() + "\n";
    }
  }
  for (const auto& image : check.images) {
    if (!image.layers_ok) continue;
    for (const auto& p : image.layer_problems) {
      out += "  REJECTED (" + image.input + "): " + p + "\n";
    }
    out += "  " + image.input + ": " + std::to_string(*image.layers_ok) + " layer(s) ok\n";
  }
  for (const auto& run : check.policy) {
    const std::string mode = run.mode == PolicyMode::acond_greedy ? "acond" : "spec";
    for (const auto& admitted : run.admissions) {
      out += "policy[" + mode + "] " + check.images[admitted.image].input + ": " +
             std::string(verdict_name(admitted.verdict)) +
             (admitted.reason ? " (" + *admitted.reason + ")" : "") + "\n";
    }
    if (const auto& g = run.graph_rejection) {
      out += "policy[spec] graph: " + std::string(verdict_name(g->verdict)) +
             (g->refusal ? " (" + g->refusal->reason + ")" : "") + "\n";
    }
  }
  out += std::string("verdict: ") + (check.rejected ? "rejected" : "accepted") + "\n";
  return out;
}

}  // namespace acon::image
