// acon-image: build, sign, inspect and verify ACON images in a local repository (the image half
// of ACON's aconcli). Exit codes: 0 ok, 1 rejected (a signature, digest or launch policy does not
// hold), 2 unusable input or usage.
//
// Repository layout (aconcli's `.acon/`):
//   blobs/sha384/<hex>.tar            layers (uncompressed tarballs) by SHA-384
//   blobs/sha256/<hex>.tar            relative symlinks to the sha384 file
//   manifests/<alg>/<digest>/acon.json    the signed manifest bytes (canonical JSON)
//                           /signer.cer   the signer's X.509 certificate (DER)
//                           /signature    the signature over acon.json
// Private keys are never stored in the repository.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>

#include "acon/common/json.h"
#include "acon/common/keys.h"
#include "acon/common/x509.h"
#include "acon/image/layers/create.h"
#include "acon/image/layers/extract.h"
#include "acon/image/layers/import.h"
#include "acon/image/manifest.h"
#include "acon/image/policy.h"
#include "acon/image/signature.h"
#include "tool_util.h"

namespace acon {
namespace {

namespace fs = std::filesystem;
namespace img = image;
namespace lay = image::layers;
using tools::fail;
using tools::kExitBadInput;
using tools::kExitOk;
using tools::kExitRejected;

constexpr const char* kRepoDirName = ".acon";
constexpr const char* kManifestFile = "acon.json";
constexpr const char* kCertFile = "signer.cer";
constexpr const char* kSignatureFile = "signature";

// ---- progress on stderr --------------------------------------------------------------------

// A one-line progress bar, drawn only when stderr is a terminal and at most ten times a second.
class Progress {
 public:
  explicit Progress(std::string label) : label_(std::move(label)), enabled_(::isatty(2) == 1) {}
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  ~Progress() { finish(); }

  bool enabled() const { return enabled_; }
  void update(uint64_t done, uint64_t total) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (drawn_ && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    drawn_ = true;
    constexpr double kMiB = 1024.0 * 1024.0;
    char line[160];
    if (total > 0) {
      const uint64_t shown = std::min(done, total);
      const int width = 30, filled = static_cast<int>(width * shown / total);
      std::string bar(static_cast<size_t>(filled), '#');
      bar.resize(width, '.');
      std::snprintf(line, sizeof line, "\r%s [%s] %3d%% %.1f/%.1f MiB", label_.c_str(), bar.c_str(),
                    static_cast<int>(100 * shown / total), static_cast<double>(shown) / kMiB,
                    static_cast<double>(total) / kMiB);
    } else {
      std::snprintf(line, sizeof line, "\r%s %.1f MiB", label_.c_str(),
                    static_cast<double>(done) / kMiB);
    }
    std::cerr << line << "\033[K" << std::flush;
  }
  void finish() {
    if (enabled_ && drawn_) std::cerr << "\r\033[K" << std::flush;
    drawn_ = false;
  }

 private:
  std::string label_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_{};
};

// Counts bytes on their way to another sink, for the progress bar.
class ProgressSink final : public lay::ByteSink {
 public:
  ProgressSink(lay::ByteSink& next, Progress& progress, uint64_t total)
      : next_(next), progress_(progress), total_(total) {}
  Status write(ByteView data) override {
    done_ += data.size();
    progress_.update(done_, total_);
    return next_.write(data);
  }

 private:
  lay::ByteSink& next_;
  Progress& progress_;
  uint64_t total_;
  uint64_t done_ = 0;
};

class ProgressSource final : public lay::ByteSource {
 public:
  ProgressSource(lay::ByteSource& inner, Progress& progress, uint64_t total)
      : inner_(inner), progress_(progress), total_(total) {}
  Result<size_t> read(std::span<uint8_t> out) override {
    ACON_TRY(size_t n, inner_.read(out));
    done_ += n;
    progress_.update(done_, total_);
    return n;
  }

 private:
  lay::ByteSource& inner_;
  Progress& progress_;
  uint64_t total_;
  uint64_t done_ = 0;
};

// ---- small file helpers --------------------------------------------------------------------

Result<Bytes> read_bytes(const fs::path& path) {
  ACON_TRY(std::string text, tools::read_input(path.string()));
  return to_bytes(text);
}

// Key files are read into wiped memory.
Result<SecretBytes> read_secret(const fs::path& path) {
  ACON_TRY(lay::FileSource source, lay::FileSource::open(path));
  SecretBytes out;
  SecretBytes chunk(4096);  // wiped when freed, like `out`
  for (;;) {
    ACON_TRY(size_t n, source.read(chunk));
    if (n == 0) return out;
    out.insert(out.end(), chunk.begin(), chunk.begin() + static_cast<long>(n));
    if (out.size() > (1 << 20)) {
      return make_error(Errc::parse, path.string() + ": too large for a key");
    }
  }
}

// Writes a file atomically (temporary name, then rename).
Status write_file_atomic(const fs::path& path, std::string_view data, unsigned mode = 0644) {
  const fs::path tmp = path.string() + ".tmp-" + std::to_string(::getpid());
  {
    ACON_TRY(lay::FileSink sink, lay::FileSink::create(tmp, mode));
    ACON_CHECK(sink.write(as_bytes(data)));
    ACON_CHECK(sink.close(false));
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return make_error(Errc::io, path.string() + ": " + ec.message());
  }
  return {};
}

// A certificate file in DER or PEM.
Result<Certificate> load_certificate(const fs::path& path) {
  ACON_TRY(Bytes data, read_bytes(path));
  const std::string_view text = as_chars(data);
  auto cert = text.find("-----BEGIN") != std::string_view::npos ? Certificate::from_pem(text)
                                                                : Certificate::from_der(data);
  if (!cert) return cert.error().wrap(path.string());
  return cert;
}

Result<img::CanonicalStyle> canonical_style(const std::string& name) {
  if (name == "jq") return img::CanonicalStyle::jq;
  if (name == "go") return img::CanonicalStyle::go;
  return make_error(Errc::invalid_argument, "--canonical: expected jq or go");
}

std::string pretty_json(const Json& j) {
  return j.dump(4, ' ', false, Json::error_handler_t::replace) + "\n";
}

// ---- the repository ------------------------------------------------------------------------

// One signed image as stored (or given as loose files): exact manifest bytes, DER certificate,
// signature, and the directory name it was filed under.
struct Bundle {
  std::string label;  // for messages: the directory or the manifest file
  std::string manifest;
  Bytes certificate;
  Bytes signature;
  std::optional<std::pair<std::string, std::string>> filed_as;  // (alg, digest) from the path
};

Result<Bundle> read_bundle_dir(const fs::path& dir) {
  Bundle b;
  b.label = dir.string();
  ACON_TRY(std::string manifest, tools::read_input((dir / kManifestFile).string()));
  b.manifest = std::move(manifest);
  ACON_TRY(Certificate cert, load_certificate(dir / kCertFile));
  b.certificate = cert.der();
  ACON_TRY(b.signature, read_bytes(dir / kSignatureFile));
  const std::string digest = dir.filename().string(), alg = dir.parent_path().filename().string();
  if (img::acon_hash_from_name(alg)) b.filed_as = std::pair{alg, digest};
  return b;
}

// Checks a bundle's signature and that it is filed under its own digest.
Result<img::SignedManifest> verify_bundle(const Bundle& b, img::CertProfile profile) {
  auto signed_manifest =
      img::verify_signed_manifest(b.manifest, b.signature, b.certificate, profile);
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

class Repo {
 public:
  // `dir` is the .acon directory itself.
  static Result<Repo> open(const fs::path& dir) {
    std::error_code ec;
    if (!fs::is_directory(dir / "manifests", ec) || !fs::is_directory(dir / "blobs", ec)) {
      return make_error(Errc::invalid_argument,
                        dir.string() + " is not an ACON repository (run acon-image init)");
    }
    ACON_TRY(lay::BlobStore store, lay::BlobStore::open(dir / "blobs"));
    return Repo(fs::absolute(dir).lexically_normal(), std::move(store));
  }

  static Result<Repo> create(const fs::path& dir) {
    std::error_code ec;
    fs::create_directories(dir / "manifests", ec);
    if (ec) return make_error(Errc::io, (dir / "manifests").string() + ": " + ec.message());
    fs::create_directories(dir / "blobs", ec);
    if (ec) return make_error(Errc::io, (dir / "blobs").string() + ": " + ec.message());
    return open(dir);
  }

  // --repo, or the nearest .acon in the working directory or above.
  static Result<Repo> locate(const std::string& option) {
    if (!option.empty()) {
      const fs::path p(option);
      if (p.filename() != kRepoDirName && fs::is_directory(p / kRepoDirName)) {
        return open(p / kRepoDirName);
      }
      return open(p);
    }
    std::error_code ec;
    for (fs::path dir = fs::current_path(ec); !ec; dir = dir.parent_path()) {
      if (fs::is_directory(dir / kRepoDirName, ec)) return open(dir / kRepoDirName);
      if (dir == dir.parent_path()) break;
    }
    return make_error(Errc::invalid_argument,
                      "no .acon repository here or above (run acon-image init, or pass --repo)");
  }

  const fs::path& dir() const { return dir_; }
  lay::BlobStore& blobs() { return store_; }
  fs::path bundle_dir(HashAlg alg, const std::string& digest) const {
    return dir_ / "manifests" / std::string(hash_name(alg)) / digest;
  }

  // Every bundle directory, sorted by algorithm then digest (aconcli's listing order).
  std::vector<fs::path> bundle_dirs() const {
    std::vector<fs::path> out;
    std::error_code ec;
    for (const auto& alg : fs::directory_iterator(dir_ / "manifests", ec)) {
      if (!alg.is_directory()) continue;
      for (const auto& d : fs::directory_iterator(alg.path(), ec)) {
        if (d.is_directory() && !d.path().filename().string().starts_with(".")) {
          out.push_back(d.path());
        }
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  // An image given as a bundle directory path, an Image ID, "alg/digest", or a unique prefix of
  // a manifest digest.
  Result<fs::path> find_bundle(const std::string& spec) const {
    std::error_code ec;
    if (fs::is_regular_file(fs::path(spec) / kManifestFile, ec)) return fs::path(spec);
    std::string digest = spec, alg;
    if (auto id = img::parse_image_id(spec); id.ok()) {
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

  // Signed manifests of the repository whose signatures hold, in listing order.
  std::vector<img::SignedManifest> verified_manifests(img::CertProfile profile) const {
    std::vector<img::SignedManifest> out;
    for (const auto& d : bundle_dirs()) {
      auto b = read_bundle_dir(d);
      if (!b) continue;
      auto sm = verify_bundle(*b, profile);
      if (sm) out.push_back(std::move(*sm));
    }
    return out;
  }

 private:
  Repo(fs::path dir, lay::BlobStore store) : dir_(std::move(dir)), store_(std::move(store)) {}
  fs::path dir_;
  lay::BlobStore store_;
};

Result<img::CertProfile> cert_profile(const std::string& name) {
  if (name == "acond") return img::CertProfile::acond;
  if (name == "aconcli") return img::CertProfile::aconcli;
  return make_error(Errc::invalid_argument, "--profile: expected acond or aconcli");
}

// ---- init ----------------------------------------------------------------------------------

int cmd_init(const std::string& where) {
  const fs::path dir = fs::path(where) / kRepoDirName;
  auto repo = Repo::create(dir);
  if (!repo) return fail(repo.error());
  std::cout << "initialized ACON repository " << repo->dir().string() << "\n";
  return kExitOk;
}

// ---- create --------------------------------------------------------------------------------

struct CreateArgs {
  std::string repo, output = "acon.json";
  std::vector<std::string> rootfs, tarballs, layers;
  std::string oci, docker_save, ref, platform = "linux/amd64";
  std::vector<std::string> entrypoint, env, accepts, self_aliases, content_aliases;
  std::vector<uint32_t> uids;
  std::vector<int32_t> signals, log_fds;
  std::string working_dir, mtime, owner;
  uint64_t max_instances = 1;
  bool writable_fs = false, no_restart = false, reject_unaccepted = false;
  bool allow_special = false, force = false;
};

// Bytes of regular files under `dir`, for the progress bar's total.
uint64_t tree_size(const fs::path& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec) && !it->is_symlink(ec)) total += it->file_size(ec);
  }
  return total;
}

Result<lay::CreateOptions> layer_options(const CreateArgs& a) {
  lay::CreateOptions o;
  o.allow_special_files = a.allow_special;
  std::string mtime = a.mtime;
  if (mtime.empty()) {
    const char* epoch = std::getenv("SOURCE_DATE_EPOCH");
    mtime = epoch != nullptr && *epoch != '\0' ? epoch : "0";
  }
  if (mtime == "preserve") {
    o.mtime.reset();
  } else {
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(mtime.c_str(), &end, 10);
    if (errno != 0 || end == mtime.c_str() || *end != '\0') {
      return make_error(Errc::invalid_argument, "--mtime: expected seconds or 'preserve'");
    }
    o.mtime = v;
  }
  if (!a.owner.empty()) {
    unsigned long uid = 0, gid = 0;
    char colon = 0;
    int used = 0;
    if (std::sscanf(a.owner.c_str(), "%lu%c%lu%n", &uid, &colon, &gid, &used) != 3 ||
        colon != ':' || static_cast<size_t>(used) != a.owner.size() || uid > 0xfffffffe ||
        gid > 0xfffffffe) {
      return make_error(Errc::invalid_argument, "--owner: expected UID:GID");
    }
    o.uid = static_cast<uint32_t>(uid);
    o.gid = static_cast<uint32_t>(gid);
  }
  return o;
}

lay::ImportOptions import_options(const CreateArgs& a, lay::ExtractOptions checks) {
  lay::ImportOptions o;
  o.ref = a.ref;
  o.platform = a.platform;
  o.checks = checks;
  return o;
}

int cmd_create(CLI::App& cmd, const CreateArgs& a) {
  std::error_code ec;
  if (!a.force && fs::exists(a.output, ec)) {
    return fail(
        make_error(Errc::invalid_argument, a.output + " exists (use --force to overwrite)"));
  }
  auto repo = Repo::locate(a.repo);
  if (!repo) return fail(repo.error());
  auto create_options = layer_options(a);
  if (!create_options) return fail(create_options.error());
  lay::ExtractOptions checks;
  checks.allow_special_files = a.allow_special;

  // Layers in command-line order across --rootfs, --tarball, --oci, --docker-save and --layer.
  std::vector<std::string> layer_refs;
  std::optional<lay::ImageConfig> config;
  std::map<const CLI::Option*, size_t> seen;
  const auto add_layer = [&](const lay::LayerDigests& d, const std::string& from) {
    layer_refs.push_back(d.ref());
    std::cout << d.ref() << "\t" << d.size << " bytes\t" << from << "\n";
  };
  for (const CLI::Option* opt : cmd.parse_order()) {
    const std::string name = opt->get_name();
    if (name != "--rootfs" && name != "--tarball" && name != "--oci" && name != "--docker-save" &&
        name != "--layer") {
      continue;
    }
    const size_t index = seen[opt]++;
    const auto& results = opt->results();
    if (index >= results.size()) continue;
    const std::string value = results[index];
    if (name == "--rootfs") {
      Progress progress("layer " + value);
      const uint64_t total = progress.enabled() ? tree_size(value) : 0;
      auto d = repo->blobs().add(
          [&](lay::ByteSink& out) -> Status {
            ProgressSink counted(out, progress, total);
            auto r = lay::create_layer(value, counted, *create_options);
            if (!r) return std::move(r).error();
            return {};
          },
          [&](const fs::path& tmp) -> Status {
            ACON_TRY(lay::FileSource src, lay::FileSource::open(tmp));
            auto scanned = lay::scan_layer(src, checks);
            if (!scanned) return std::move(scanned).error();
            return {};
          });
      progress.finish();
      if (!d) return fail(d.error().wrap(value));
      add_layer(*d, value);
    } else if (name == "--tarball") {
      Progress progress("layer " + value);
      std::optional<lay::FileSource> file;
      if (value != "-") {
        auto f = lay::FileSource::open(value);
        if (!f) return fail(f.error());
        file.emplace(std::move(*f));
      }
      lay::FileSource stdin_source(::dup(0), "<stdin>");
      lay::ByteSource& raw = file ? static_cast<lay::ByteSource&>(*file) : stdin_source;
      ProgressSource counted(raw, progress, file ? file->size().value_or(0) : 0);
      auto d = lay::import_tarball(counted, repo->blobs(), import_options(a, checks));
      progress.finish();
      if (!d) return fail(d.error().wrap(value));
      add_layer(*d, value);
    } else if (name == "--oci" || name == "--docker-save") {
      Progress progress(name.substr(2) + " " + value);
      auto options = import_options(a, checks);
      options.progress = [&](uint64_t done, uint64_t total) { progress.update(done, total); };
      auto image = name == "--oci" ? lay::import_oci_layout(value, repo->blobs(), options)
                                   : lay::import_docker_save(value, repo->blobs(), options);
      progress.finish();
      if (!image) return fail(image.error().wrap(value));
      for (size_t i = 0; i < image->layers.size(); ++i) {
        add_layer(image->layers[i], value + " layer " + std::to_string(i));
      }
      config = image->config;
    } else {
      auto ref = img::parse_layer_ref(value);
      if (!ref) return fail(ref.error().wrap("--layer"));
      if (ref->digest) {
        auto found = repo->blobs().find(value);
        if (!found) return fail(found.error().wrap("--layer"));
      }
      layer_refs.push_back(value);
    }
  }

  img::Manifest m;
  m.acon_spec_version = std::vector<uint32_t>{1, 0};
  m.layers = layer_refs;
  for (const auto& alias : a.self_aliases) m.aliases.self["."].push_back(alias);
  for (const auto& spec : a.content_aliases) {
    const size_t eq = spec.rfind('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()) {
      return fail(
          make_error(Errc::invalid_argument, "--alias '" + spec + "': expected OBJECT=NAME"));
    }
    std::string object = spec.substr(0, eq);
    if (object.starts_with('@')) {  // @N: the N-th layer of this image
      char* end = nullptr;
      const unsigned long i = std::strtoul(object.c_str() + 1, &end, 10);
      if (*end != '\0' || i >= layer_refs.size()) {
        return fail(make_error(Errc::invalid_argument, "--alias '" + spec + "': no such layer"));
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
  for (const auto& problem : img::manifest_problems(m)) {
    std::cerr << "acon-image: warning: " << problem.message() << "\n";
  }
  if (auto s = write_file_atomic(a.output, pretty_json(img::manifest_to_json(m)), 0644); !s) {
    return fail(s.error());
  }
  std::cout << "wrote " << a.output << "\n";
  return kExitOk;
}

// ---- keygen --------------------------------------------------------------------------------

struct KeygenArgs {
  std::string key_out, cert_out, type = "p384", subject = "CN=ACON test signer", hash = "sha384";
  std::string cert_format = "der", repo;
  int rsa_bits = 3072;
  unsigned days = 365;
  bool force = false;
};

Result<std::vector<NameEntry>> parse_subject(const std::string& text) {
  std::vector<NameEntry> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    const std::string part = text.substr(start, comma - start);
    const size_t eq = part.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == part.size()) {
      return make_error(Errc::invalid_argument, "--subject: expected TYPE=VALUE[,TYPE=VALUE...]");
    }
    out.push_back({part.substr(0, eq), part.substr(eq + 1)});
    start = comma + 1;
  }
  return out;
}

bool inside(const fs::path& path, const fs::path& dir) {
  std::error_code ec;
  const fs::path p = fs::weakly_canonical(fs::absolute(path), ec);
  const fs::path d = fs::weakly_canonical(dir, ec);
  auto [pe, de] = std::mismatch(p.begin(), p.end(), d.begin(), d.end());
  return de == d.end();
}

int cmd_keygen(const KeygenArgs& a) {
  if (auto repo = Repo::locate(a.repo); repo.ok() && inside(a.key_out, repo->dir())) {
    return fail(make_error(Errc::invalid_argument,
                           a.key_out + ": private keys are never stored in the repository"));
  }
  std::error_code ec;
  for (const auto& out : {a.key_out, a.cert_out}) {
    if (!a.force && fs::exists(out, ec)) {
      return fail(make_error(Errc::invalid_argument, out + " exists (use --force to overwrite)"));
    }
  }
  Result<PrivateKey> key = make_error(Errc::invalid_argument, "--type: unknown key type");
  if (a.type == "p256") key = PrivateKey::generate_ec(Curve::p256);
  if (a.type == "p384") key = PrivateKey::generate_ec(Curve::p384);
  if (a.type == "p521") key = PrivateKey::generate_ec(Curve::p521);
  if (a.type == "rsa") key = PrivateKey::generate_rsa(a.rsa_bits);
  if (a.type == "ed25519") key = PrivateKey::generate_ed25519();
  if (!key) return fail(key.error());
  auto hash = hash_from_name(a.hash);
  if (!hash || (*hash != HashAlg::sha256 && *hash != HashAlg::sha384 && *hash != HashAlg::sha512)) {
    return fail(make_error(Errc::invalid_argument, "--hash: expected sha256, sha384 or sha512"));
  }
  auto subject = parse_subject(a.subject);
  if (!subject) return fail(subject.error());
  CertificateRequest req;
  req.subject = *subject;
  auto serial = random_bytes(16);
  if (!serial) return fail(serial.error());
  req.serial = *serial;
  req.serial[0] = static_cast<uint8_t>((req.serial[0] & 0x7f) | 0x01);
  const Time now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  req.not_before = now - std::chrono::minutes(1);
  req.not_after = now + std::chrono::hours(24) * a.days;
  req.key_usage = kKeyUsageDigitalSignature;
  req.signature_hash = *hash;
  auto cert = issue_certificate(req, key->public_key(), *key, nullptr);
  if (!cert) return fail(cert.error());

  const SecretBytes pem = key->to_pem();
  if (auto s = tools::write_private_file(a.key_out, view(pem)); !s) return fail(s.error());
  const std::string cert_bytes = a.cert_format == "pem" ? cert->to_pem() : to_string(cert->der());
  if (auto s = write_file_atomic(a.cert_out, cert_bytes, 0644); !s) return fail(s.error());
  auto id = img::signer_id(*cert);
  if (!id) return fail(id.error());
  std::cout << *id << "\t" << a.cert_out << "\n";
  if (!img::signer_id(*cert, img::CertProfile::acond)) {
    std::cerr << "acon-image: warning: acond refuses " << a.type
              << " certificates (aconcli accepts them)\n";
  }
  return kExitOk;
}

// ---- sign ----------------------------------------------------------------------------------

struct SignArgs {
  std::string repo, manifest, key, cert, canonical = "jq";
  bool force = false;
};

int cmd_sign(const SignArgs& a) {
  auto repo = Repo::locate(a.repo);
  if (!repo) return fail(repo.error());
  auto text = tools::read_input(a.manifest);
  if (!text) return fail(text.error());
  auto parsed = img::parse_manifest(*text);
  if (!parsed) return fail(parsed.error().wrap(a.manifest));
  bool refused = false;
  for (const auto& problem : img::manifest_problems(*parsed)) {
    const bool fatal =
        img::signing_severity(problem.kind) == img::ProblemSeverity::fatal && !a.force;
    std::cerr << "acon-image: " << (fatal ? "" : "warning: ") << problem.message() << "\n";
    refused = refused || fatal;
  }
  if (refused) {
    return fail(make_error(Errc::invalid_argument,
                           a.manifest + ": not signed (fix the problems above or use --force)"));
  }
  auto style = canonical_style(a.canonical);
  if (!style) return fail(style.error());
  auto canonical = img::canonicalize_json(std::string_view(*text), *style);
  if (!canonical) return fail(canonical.error().wrap(a.manifest));
  // The canonical bytes must describe the same manifest (no number rounded on the way).
  auto reparsed = img::parse_manifest(*canonical);
  if (!reparsed || img::manifest_to_json(*reparsed) != img::manifest_to_json(*parsed)) {
    return fail(make_error(Errc::invalid_argument,
                           a.manifest + ": canonical form changes a value (number precision)"));
  }
  for (const auto& layer : parsed->layers_or_default()) {
    if (layer.starts_with("signer/")) continue;
    if (!repo->blobs().find(layer)) {
      std::cerr << "acon-image: warning: layer " << layer << " is not in the repository\n";
    }
  }
  auto cert = load_certificate(a.cert);
  if (!cert) return fail(cert.error());
  auto key_bytes = read_secret(a.key);
  if (!key_bytes) return fail(key_bytes.error());
  auto key = PrivateKey::from_pem(as_chars(view(*key_bytes)));
  if (!key) key = PrivateKey::from_der(view(*key_bytes));
  if (!key) return fail(key.error().wrap(a.key));
  auto signature = img::sign_manifest(*canonical, *key, *cert);
  if (!signature) return fail(signature.error());
  auto identity = img::image_identity(*cert, *canonical);
  if (!identity) return fail(identity.error());
  if (!img::id_hash_for_certificate(*cert, img::CertProfile::acond)) {
    std::cerr << "acon-image: warning: acond refuses this certificate type\n";
  }

  const fs::path dir = repo->bundle_dir(identity->hash, identity->manifest_digest);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return fail(make_error(Errc::io, dir.string() + ": " + ec.message()));
  for (auto s : {write_file_atomic(dir / kManifestFile, *canonical),
                 write_file_atomic(dir / kCertFile, as_chars(cert->der())),
                 write_file_atomic(dir / kSignatureFile, as_chars(*signature))}) {
    if (!s) return fail(s.error());
  }
  std::cout << identity->image_id() << "\n";
  return kExitOk;
}

// ---- hash ----------------------------------------------------------------------------------

int cmd_hash(const std::string& cert_path, const std::vector<std::string>& manifests,
             const std::string& canonical) {
  auto cert = load_certificate(cert_path);
  if (!cert) return fail(cert.error());
  auto signer = img::signer_id(*cert);
  if (!signer) return fail(signer.error());
  std::cout << *signer << "\t" << cert_path << "\n";
  int rc = kExitOk;
  for (const auto& path : manifests) {
    auto text = tools::read_input(path);
    if (!text) {
      rc = fail(text.error());
      continue;
    }
    std::string bytes = *text;
    if (canonical != "none") {
      auto style = canonical_style(canonical);
      if (!style) return fail(style.error());
      auto c = img::canonicalize_json(std::string_view(*text), *style);
      if (!c) {
        rc = fail(c.error().wrap(path));
        continue;
      }
      bytes = std::move(*c);
    }
    auto id = img::image_identity(*cert, bytes);
    if (!id) return fail(id.error());
    std::cout << id->image_id() << "\t" << path << "\n";
  }
  return rc;
}

// ---- alias-substitute ----------------------------------------------------------------------

int cmd_alias_substitute(const std::string& repo_opt, const std::string& manifest_path,
                         const std::string& output, const std::string& profile_name) {
  auto repo = Repo::locate(repo_opt);
  if (!repo) return fail(repo.error());
  auto profile = cert_profile(profile_name);
  if (!profile) return fail(profile.error());
  auto text = tools::read_input(manifest_path);
  if (!text) return fail(text.error());
  auto m = img::parse_manifest(*text);
  if (!m) return fail(m.error().wrap(manifest_path));
  const auto references = repo->verified_manifests(*profile);
  auto out = img::alias_substitute(*m, references);
  if (!out) return fail(out.error());
  for (const auto& [from, to] : out->replaced) std::cout << from << " -> " << to << "\n";
  for (const auto& rule : out->added_accepts) std::cout << "accepts += " << rule << "\n";
  if (out->replaced.empty()) std::cout << "no layer has an alias in the repository\n";
  const std::string target = output.empty() ? manifest_path : output;
  if (auto s = write_file_atomic(target, pretty_json(img::manifest_to_json(out->manifest))); !s) {
    return fail(s.error());
  }
  return kExitOk;
}

// ---- ls ------------------------------------------------------------------------------------

int cmd_ls(const std::string& repo_opt, bool json, bool no_trunc, const std::string& profile_name) {
  auto repo = Repo::locate(repo_opt);
  if (!repo) return fail(repo.error());
  auto profile = cert_profile(profile_name);
  if (!profile) return fail(profile.error());
  const auto shorten = [&](const std::string& hex) {
    return no_trunc || hex.size() <= 12 ? hex : hex.substr(0, 12);
  };
  Json list = Json::array();
  if (!json) {
    std::printf("%-14s %-14s %-7s %-8s %-6s %-20s %s\n", "MANIFEST", "SIGNER", "HASH", "STATUS",
                "LAYERS", "ALIASES", "ENTRYPOINT");
  }
  for (const auto& dir : repo->bundle_dirs()) {
    Json item = {{"path", dir.string()}};
    std::string status = "ok", signer = "-", digest = dir.filename().string();
    std::string alg = dir.parent_path().filename().string(), aliases, entry;
    size_t layers = 0;
    auto b = read_bundle_dir(dir);
    if (!b) {
      status = "unreadable";
      item["error"] = b.error().to_string();
    } else {
      auto sm = verify_bundle(*b, *profile);
      if (!sm) {
        status = sm.error().code == Errc::verify_failed ? "invalid" : "refused";
        item["error"] = sm.error().to_string();
        if (auto parsed = img::parse_manifest(b->manifest); parsed) {
          layers = parsed->layers_or_default().size();
        }
      } else {
        signer = sm->identity.signer_digest;
        item["image_id"] = sm->identity.image_id();
        item["signer_id"] = sm->identity.signer_id();
        const auto& m = sm->manifest;
        layers = m.layers_or_default().size();
        item["layers"] = m.layers_or_default();
        item["entrypoint"] = m.entrypoint_or_default();
        std::vector<std::string> self;
        for (const auto& [k, names] : m.aliases.self)
          self.insert(self.end(), names.begin(), names.end());
        item["aliases"] = self;
        for (const auto& s : self) aliases += (aliases.empty() ? "" : ",") + s;
        for (const auto& e : m.entrypoint_or_default()) entry += (entry.empty() ? "" : " ") + e;
      }
    }
    item["status"] = status;
    list.push_back(item);
    if (!json) {
      std::printf("%-14s %-14s %-7s %-8s %-6zu %-20s %s\n", shorten(digest).c_str(),
                  shorten(signer).c_str(), alg.c_str(), status.c_str(), layers,
                  aliases.empty() ? "-" : aliases.c_str(), entry.c_str());
    }
  }
  if (json) std::cout << list.dump(2) << "\n";
  return kExitOk;
}

// ---- verify --------------------------------------------------------------------------------

struct VerifyArgs {
  std::string repo, mode = "both", profile = "acond";
  std::vector<std::string> images;
  bool skip_layers = false, json = false;
};

// Digest check of one stored layer: missing or different is a rejection.
Status check_layer_blob(Repo& repo, const img::DigestRef& ref) {
  const std::string text = ref.to_string();
  ACON_TRY(fs::path path, repo.blobs().find(text));
  ACON_TRY(lay::FileSource source, lay::FileSource::open(path));
  Progress progress("hash " + ref.hex.substr(0, 12));
  ProgressSource counted(source, progress, source.size().value_or(0));
  const uint32_t mask = ref.alg == HashAlg::sha256   ? lay::kDigestSha256
                        : ref.alg == HashAlg::sha512 ? lay::kDigestSha512
                                                     : lay::kDigestSha384;
  ACON_TRY(lay::LayerDigests d, lay::digest_stream(counted, mask));
  if (hex_encode(d.get(ref.alg)) != ref.hex) {
    return make_error(Errc::verify_failed,
                      "layer " + text + ": stored blob has digest " + hex_encode(d.get(ref.alg)));
  }
  return {};
}

int cmd_verify(const VerifyArgs& a) {
  auto repo = Repo::locate(a.repo);
  if (!repo) return fail(repo.error());
  auto profile = cert_profile(a.profile);
  if (!profile) return fail(profile.error());
  std::vector<img::PolicyMode> modes;
  if (a.mode == "acond" || a.mode == "both") modes.push_back(img::PolicyMode::acond_greedy);
  if (a.mode == "spec" || a.mode == "both") modes.push_back(img::PolicyMode::spec_graph);

  // Load everything first: unusable input is exit 2 before any verdict.
  std::vector<Bundle> bundles;
  for (const auto& spec : a.images) {
    auto dir = repo->find_bundle(spec);
    if (!dir) return fail(dir.error());
    auto b = read_bundle_dir(*dir);
    if (!b) return fail(b.error());
    bundles.push_back(std::move(*b));
  }

  bool rejected = false;
  Json report = {{"images", Json::array()}};
  std::vector<img::SignedManifest> verified;
  std::vector<size_t> verified_index;
  const auto say = [&](const std::string& line) {
    if (!a.json) std::cout << line << "\n";
  };
  for (size_t i = 0; i < bundles.size(); ++i) {
    const Bundle& b = bundles[i];
    Json item = {{"input", a.images[i]}, {"problems", Json::array()}, {"warnings", Json::array()}};
    const auto problem = [&](const std::string& p) {
      item["problems"].push_back(p);
      say("  REJECTED: " + p);
      rejected = true;
    };
    say("image " + a.images[i]);
    auto sm = verify_bundle(b, *profile);
    if (!sm) {
      problem(sm.error().message);
      report["images"].push_back(item);
      continue;
    }
    item["image_id"] = sm->identity.image_id();
    say("  image id:  " + sm->identity.image_id());
    say("  signature: ok");
    for (const auto& p : img::manifest_problems(sm->manifest)) {
      if (img::verification_severity(p.kind) == img::ProblemSeverity::fatal) {
        problem(p.message());
      } else {
        item["warnings"].push_back(p.message());
        say("  warning: " + p.message());
      }
    }
    verified.push_back(std::move(*sm));
    verified_index.push_back(i);
    report["images"].push_back(item);
  }

  // Layers: digests resolve directly, vendor aliases through the images given.
  if (!a.skip_layers) {
    for (size_t k = 0; k < verified.size(); ++k) {
      Json& item = report["images"][verified_index[k]];
      size_t ok = 0;
      for (const auto& layer : img::resolve_layers(verified[k], verified)) {
        std::string p;
        if (!layer.digest) {
          p = "layer " + layer.reference + ": " + layer.problem;
        } else if (auto s = check_layer_blob(*repo, *layer.digest); !s) {
          p = s.error().message;
        } else {
          ++ok;
        }
        if (!p.empty()) {
          item["problems"].push_back(p);
          say("  REJECTED (" + a.images[verified_index[k]] + "): " + p);
          rejected = true;
        }
      }
      item["layers_ok"] = ok;
      say("  " + a.images[verified_index[k]] + ": " + std::to_string(ok) + " layer(s) ok");
    }
  }

  // Launch policy, loading the images in the order given.
  for (img::PolicyMode mode : modes) {
    const std::string mode_name = mode == img::PolicyMode::acond_greedy ? "acond" : "spec";
    img::Pod pod(mode);
    Json verdicts = Json::array();
    for (size_t k = 0; k < verified.size(); ++k) {
      auto admission = pod.admit(img::policy_image(verified[k].identity, verified[k].manifest));
      Json v = {{"image_id", verified[k].identity.image_id()},
                {"verdict", std::string(img::verdict_name(admission.verdict))}};
      std::string line = "policy[" + mode_name + "] " + a.images[verified_index[k]] + ": " +
                         std::string(img::verdict_name(admission.verdict));
      if (admission.refusal) {
        v["reason"] = admission.refusal->reason;
        line += " (" + admission.refusal->reason + ")";
      }
      if (!admission.admitted()) rejected = true;
      verdicts.push_back(v);
      say(line);
    }
    if (mode == img::PolicyMode::spec_graph) {
      auto graph = pod.check_graph();
      if (!graph.admitted()) {
        rejected = true;
        say("policy[spec] graph: " + std::string(img::verdict_name(graph.verdict)) +
            (graph.refusal ? " (" + graph.refusal->reason + ")" : ""));
      }
    }
    report["policy"][mode_name] = verdicts;
  }
  report["verdict"] = rejected ? "rejected" : "accepted";
  if (a.json) {
    std::cout << report.dump(2) << "\n";
  } else {
    std::cout << "verdict: " << (rejected ? "rejected" : "accepted") << "\n";
  }
  return rejected ? kExitRejected : kExitOk;
}

// ---- export / import -----------------------------------------------------------------------

// The bundle directories an image needs: itself and, for each vendor-layer alias, the first
// manifest (in repository order) of that signer defining the name, recursively.
Result<std::vector<fs::path>> bundle_closure(Repo& repo, const std::vector<fs::path>& roots,
                                             img::CertProfile profile) {
  std::vector<std::pair<fs::path, img::SignedManifest>> all;
  for (const auto& d : repo.bundle_dirs()) {
    auto b = read_bundle_dir(d);
    if (!b) continue;
    auto sm = verify_bundle(*b, profile);
    if (sm) all.emplace_back(d, std::move(*sm));
  }
  std::vector<fs::path> out;
  std::set<fs::path> seen;
  std::vector<fs::path> pending = roots;
  while (!pending.empty()) {
    fs::path dir = pending.back();
    pending.pop_back();
    if (!seen.insert(fs::weakly_canonical(dir)).second) continue;
    ACON_TRY(Bundle b, read_bundle_dir(dir));
    ACON_TRY(img::SignedManifest sm, verify_bundle(b, profile));
    out.push_back(dir);
    std::vector<img::AliasRef> wanted;
    for (const auto& layer : sm.manifest.layers_or_default()) {
      if (auto r = img::parse_alias_ref(layer); r) wanted.push_back(*r);
    }
    while (!wanted.empty()) {
      const img::AliasRef want = wanted.back();
      wanted.pop_back();
      for (const auto& [vdir, vendor] : all) {
        if (vendor.identity.hash != want.alg || vendor.identity.signer_digest != want.signer) {
          continue;
        }
        bool defines = false;
        for (const auto& [object, names] : vendor.manifest.aliases.contents) {
          if (std::find(names.begin(), names.end(), want.name) == names.end()) continue;
          defines = true;
          if (auto next = img::parse_alias_ref(object); next) wanted.push_back(*next);
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

int cmd_export(const std::string& repo_opt, const std::vector<std::string>& images,
               const std::string& output, const std::string& profile_name) {
  auto repo = Repo::locate(repo_opt);
  if (!repo) return fail(repo.error());
  auto profile = cert_profile(profile_name);
  if (!profile) return fail(profile.error());
  std::vector<fs::path> roots;
  for (const auto& spec : images) {
    auto dir = repo->find_bundle(spec);
    if (!dir) return fail(dir.error());
    roots.push_back(*dir);
  }
  auto dirs = bundle_closure(*repo, roots, *profile);
  if (!dirs) return fail(dirs.error());

  std::vector<lay::ArchiveMember> members;
  std::set<std::string> blobs;
  uint64_t total = 0;
  for (const auto& dir : *dirs) {
    const std::string prefix = std::string(kRepoDirName) + "/manifests/" +
                               dir.parent_path().filename().string() + "/" +
                               dir.filename().string() + "/";
    for (const char* f : {kManifestFile, kCertFile, kSignatureFile}) {
      members.push_back({prefix + f, dir / f});
    }
    auto b = read_bundle_dir(dir);
    if (!b) return fail(b.error());
    auto m = img::parse_manifest(b->manifest);
    if (!m) return fail(m.error().wrap(dir.string()));
    for (const auto& layer : m->layers_or_default()) {
      if (layer.starts_with("signer/")) continue;
      auto path = repo->blobs().find(layer);
      if (!path) return fail(path.error());
      // Always export the primary (sha384) file, whichever name the manifest used.
      const fs::path primary = fs::canonical(*path);
      const std::string name =
          std::string(kRepoDirName) + "/blobs/sha384/" + primary.filename().string();
      if (blobs.insert(name).second) {
        std::error_code ec;
        total += fs::file_size(primary, ec);
        members.push_back({name, primary});
      }
    }
  }
  lay::CreateOptions options;
  options.uid = 0;
  options.gid = 0;
  options.digest_mask = lay::kDigestSha384;
  const fs::path tmp = output + ".tmp-" + std::to_string(::getpid());
  auto file = lay::FileSink::create(tmp, 0644);
  if (!file) return fail(file.error());
  Progress progress("export");
  ProgressSink counted(*file, progress, total);
  auto written = lay::create_archive(members, counted, options);
  progress.finish();
  Status closed = written ? file->close(false) : Status(written.error());
  std::error_code ec;
  if (!closed) {
    fs::remove(tmp, ec);
    return fail(closed.error());
  }
  fs::rename(tmp, output, ec);
  if (ec) return fail(make_error(Errc::io, output + ": " + ec.message()));
  std::cout << "exported " << dirs->size() << " image(s), " << blobs.size() << " layer(s) to "
            << output << "\n";
  return kExitOk;
}

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

// Validates one exported bundle in `staged` (.acon inside) and, if all of it holds, adds it.
Status import_staged(Repo& repo, const fs::path& staged, img::CertProfile profile,
                     const std::string& label) {
  const fs::path root = staged / kRepoDirName;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    return make_error(Errc::verify_failed, label + ": no .acon directory in the bundle");
  }
  struct Blob {
    fs::path path;
    img::DigestRef ref;
  };
  std::vector<Blob> blobs;
  std::vector<std::pair<fs::path, img::SignedManifest>> manifests;
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
      auto ref = img::parse_digest_ref(parts[1] + "/" + parts[2].substr(0, parts[2].size() - 4));
      if (!ref)
        return make_error(Errc::verify_failed,
                          label + ": " + rel.string() + ": " + ref.error().message);
      blobs.push_back({it->path(), *ref});
      continue;
    }
    if (parts.size() == 4 && parts[0] == "manifests") {
      if (parts[3] == "private_key.pem") {
        std::cerr << "acon-image: " << label << ": ignoring " << rel.string()
                  << " (private keys are never imported)\n";
        continue;
      }
      if (parts[3] == kManifestFile) {
        auto b = read_bundle_dir(it->path().parent_path());
        if (!b) return b.error().wrap(label);
        b->label = label + ":" + rel.parent_path().string();
        auto sm = verify_bundle(*b, profile);
        if (!sm) return make_error(Errc::verify_failed, sm.error().message);
        manifests.emplace_back(it->path().parent_path(), std::move(*sm));
      }
      continue;
    }
    std::cerr << "acon-image: " << label << ": ignoring unexpected " << rel.string() << "\n";
  }
  if (ec) return make_error(Errc::io, label + ": " + ec.message());
  for (const auto& blob : blobs) {
    ACON_TRY(lay::FileSource src, lay::FileSource::open(blob.path));
    const uint32_t mask = blob.ref.alg == HashAlg::sha256   ? lay::kDigestSha256
                          : blob.ref.alg == HashAlg::sha512 ? lay::kDigestSha512
                                                            : lay::kDigestSha384;
    ACON_TRY(lay::LayerDigests d, lay::digest_stream(src, mask));
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
  for (const auto& [dir, sm] : manifests) {
    const fs::path target = repo.bundle_dir(sm.identity.hash, sm.identity.manifest_digest);
    fs::create_directories(target, ec);
    if (ec) return make_error(Errc::io, target.string() + ": " + ec.message());
    ACON_CHECK(write_file_atomic(target / kManifestFile, sm.manifest.raw));
    ACON_CHECK(write_file_atomic(target / kCertFile, as_chars(sm.certificate_der)));
    ACON_CHECK(write_file_atomic(target / kSignatureFile, as_chars(sm.signature)));
    std::cout << "imported " << sm.identity.image_id() << "\n";
  }
  for (const auto& [dir, sm] : manifests) {
    for (const auto& layer : sm.manifest.layers_or_default()) {
      if (!layer.starts_with("signer/") && !repo.blobs().find(layer)) {
        std::cerr << "acon-image: warning: " << sm.identity.image_id() << " needs layer " << layer
                  << ", which is not in the repository\n";
      }
    }
  }
  return {};
}

int cmd_import(const std::string& repo_opt, const std::vector<std::string>& files,
               const std::string& profile_name) {
  auto repo = Repo::locate(repo_opt);
  if (!repo) return fail(repo.error());
  auto profile = cert_profile(profile_name);
  if (!profile) return fail(profile.error());
  int rc = kExitOk;
  for (const auto& file : files) {
    std::string tmpl = (repo->dir() / ".import-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      return fail(make_error(Errc::io, tmpl + ": " + std::strerror(errno)));
    }
    StagingDir staging{fs::path(tmpl)};
    auto source = lay::FileSource::open(file);
    if (!source) {
      rc = std::max(rc, fail(source.error()));
      continue;
    }
    lay::ExtractOptions options;
    options.whiteouts = lay::WhiteoutMode::literal;
    options.allow_compressed = true;
    Progress progress("import " + file);
    ProgressSource counted(*source, progress, source->size().value_or(0));
    auto extracted = lay::extract_layer(counted, staging.path(), options);
    progress.finish();
    if (!extracted) {
      rc = std::max(rc,
                    fail(make_error(Errc::verify_failed, file + ": " + extracted.error().message)));
      continue;
    }
    if (auto s = import_staged(*repo, staging.path(), *profile, file); !s) {
      rc = std::max(rc, fail(s.error()));
    }
  }
  return rc;
}

}  // namespace
}  // namespace acon

int main(int argc, char** argv) {
  using namespace acon;
  CLI::App app{
      "acon-image: build, sign and verify ACON images in a local repository (.acon/, aconcli's "
      "layout).\n"
      "Layers are uncompressed tarballs named by SHA-384; manifests are signed in canonical JSON.\n"
      "Exit codes: 0 ok, 1 rejected (signature, digest or launch policy), 2 unusable input or "
      "usage."};
  app.require_subcommand(1);
  std::string repo;
  app.add_option("--repo", repo,
                 "Repository: the .acon directory or a directory holding it (default: the "
                 "nearest .acon in the working directory or above)");

  std::string init_dir = ".";
  auto* init = app.add_subcommand("init", "Create an empty repository (DIR/.acon)");
  init->add_option("dir", init_dir, "Where to create .acon")->capture_default_str();

  CreateArgs ca;
  auto* create = app.add_subcommand(
      "create",
      "Store layers from the given inputs (in command-line order) and write a manifest for them");
  create
      ->add_option("--rootfs", ca.rootfs,
                   "Root filesystem directory packed as one deterministic layer (repeatable)")
      ->allow_extra_args(false);
  create
      ->add_option("--tarball", ca.tarballs,
                   "Rootfs tarball (plain, gzip, zstd, xz, bzip2; '-' = stdin) stored "
                   "uncompressed as one layer (repeatable)")
      ->allow_extra_args(false);
  create->add_option("--oci", ca.oci,
                     "OCI image layout directory: its layers plus Entrypoint+Cmd, Env, WorkingDir");
  create->add_option("--docker-save", ca.docker_save,
                     "`docker save` tarball (legacy or Docker 25+ OCI layout): as --oci");
  create
      ->add_option("--layer", ca.layers,
                   "Existing layer reference to include: sha384/HEX in the repository, or a "
                   "vendor layer signer/HASH/SIGNER/NAME (repeatable)")
      ->allow_extra_args(false);
  create->add_option("--ref", ca.ref,
                     "Which image of a multi-image --oci index (ref.name) or --docker-save (tag)");
  create->add_option("--platform", ca.platform, "Platform in multi-platform OCI indexes")
      ->capture_default_str();
  create->add_option("-o,--output", ca.output, "Manifest file to write")->capture_default_str();
  create->add_flag("--force", ca.force, "Overwrite an existing manifest file");
  create
      ->add_option("--entrypoint", ca.entrypoint,
                   "entrypoint element (repeatable; replaces the image config's)")
      ->allow_extra_args(false);
  create
      ->add_option("--env", ca.env,
                   "env rule: K (any value) or K=V (allowed value, first = default) "
                   "(repeatable; replaces the image config's)")
      ->allow_extra_args(false);
  create->add_option("--working-dir", ca.working_dir,
                     "workingDir (default: the image config's, else /)");
  create->add_option("--uid", ca.uids, "Extra UID mapped into the container (repeatable)")
      ->allow_extra_args(false);
  create->add_option("--log-fd", ca.log_fds, "logFDs entry (repeatable)")->allow_extra_args(false);
  create->add_flag("--writable-fs", ca.writable_fs, "writableFS: add a writable overlay layer");
  create->add_flag("--no-restart", ca.no_restart, "noRestart: forbid Restart");
  create
      ->add_option("--signal", ca.signals,
                   "Allowed signal (repeatable; negative = process group; the first is the "
                   "restart signal)")
      ->allow_extra_args(false);
  create->add_option("--max-instances", ca.max_instances, "maxInstances")->capture_default_str();
  create
      ->add_option("--self-alias", ca.self_aliases,
                   "Image alias NAME:SVN in aliases.self[\".\"] (repeatable)")
      ->allow_extra_args(false);
  create
      ->add_option("--alias", ca.content_aliases,
                   "aliases.contents entry OBJECT=NAME; OBJECT is a layer reference or @N for "
                   "this image's N-th layer (repeatable)")
      ->allow_extra_args(false);
  create
      ->add_option("--accept", ca.accepts,
                   "policy.accepts rule HASH/SIGNER/MANIFEST (SIGNER may be *, MANIFEST a "
                   "digest, * or NAME:SVN) (repeatable)")
      ->allow_extra_args(false);
  create->add_flag("--reject-unaccepted", ca.reject_unaccepted, "policy.rejectUnaccepted");
  create->add_option("--mtime", ca.mtime,
                     "Entry mtime for --rootfs layers: seconds, or 'preserve' (default: "
                     "$SOURCE_DATE_EPOCH, else 0)");
  create->add_option("--owner", ca.owner,
                     "UID:GID written for every --rootfs entry (default: the files' own)");
  create->add_flag("--allow-special-files", ca.allow_special,
                   "Allow device nodes and FIFOs in layers (refused by default)");

  KeygenArgs ka;
  auto* keygen = app.add_subcommand(
      "keygen", "Make a test signer: a private key (PEM) and a self-signed certificate");
  keygen->add_option("-k,--key", ka.key_out, "Private key output (PKCS#8 PEM, mode 0600)")
      ->required();
  keygen->add_option("-c,--cert", ka.cert_out, "Certificate output")->required();
  keygen->add_option("--type", ka.type, "p384 | p256 | p521 | rsa | ed25519")
      ->check(CLI::IsMember({"p384", "p256", "p521", "rsa", "ed25519"}))
      ->capture_default_str();
  keygen->add_option("--rsa-bits", ka.rsa_bits, "RSA modulus size")->capture_default_str();
  keygen
      ->add_option("--hash", ka.hash,
                   "Certificate signature hash, which is the hash of Signer and Image IDs")
      ->check(CLI::IsMember({"sha256", "sha384", "sha512"}))
      ->capture_default_str();
  keygen->add_option("--subject", ka.subject, "Subject, TYPE=VALUE[,TYPE=VALUE...]")
      ->capture_default_str();
  keygen->add_option("--days", ka.days, "Validity in days")->capture_default_str();
  keygen->add_option("--cert-format", ka.cert_format, "der | pem")
      ->check(CLI::IsMember({"der", "pem"}))
      ->capture_default_str();
  keygen->add_flag("--force", ka.force, "Overwrite existing files");

  SignArgs sa;
  auto* sign = app.add_subcommand(
      "sign", "Canonicalise and sign a manifest; store manifest, signature and certificate");
  sign->add_option("manifest", sa.manifest, "Manifest file")->required();
  sign->add_option("-k,--key", sa.key, "Private key (PEM or DER)")->required();
  sign->add_option("-c,--cert", sa.cert, "Signer certificate (DER or PEM)")->required();
  sign->add_option("--canonical", sa.canonical,
                   "jq (jq -jcS ., as ACON's doc) | go (aconcli's encoding/json)")
      ->check(CLI::IsMember({"jq", "go"}))
      ->capture_default_str();
  sign->add_flag("--force", sa.force, "Sign despite manifest validation problems");

  std::string hash_cert, hash_canonical = "jq";
  std::vector<std::string> hash_manifests;
  auto* hash = app.add_subcommand(
      "hash", "Print the Signer ID of a certificate and the Image IDs manifests would get");
  hash->add_option("cert", hash_cert, "Certificate (DER or PEM)")->required();
  hash->add_option("manifests", hash_manifests, "Manifest files");
  hash->add_option("--canonical", hash_canonical,
                   "Hash the jq or go canonical form (as sign stores it), or none (the bytes)")
      ->check(CLI::IsMember({"jq", "go", "none"}))
      ->capture_default_str();

  std::string alias_manifest, alias_output, profile = "acond";
  auto* alias = app.add_subcommand(
      "alias-substitute",
      "Replace layer digests that signed repository manifests alias by signer/... references, "
      "and accept those vendors");
  alias->add_option("manifest", alias_manifest, "Manifest file (rewritten in place)")->required();
  alias->add_option("-o,--output", alias_output, "Write the result here instead");

  bool ls_json = false, ls_no_trunc = false;
  auto* ls = app.add_subcommand("ls", "List the images in the repository");
  ls->add_flag("--json", ls_json, "JSON output");
  ls->add_flag("--no-trunc", ls_no_trunc, "Full digests");

  VerifyArgs va;
  auto* verify = app.add_subcommand(
      "verify",
      "Check signatures, IDs, layers and launch-policy compatibility of images loaded in order");
  verify
      ->add_option("images", va.images,
                   "Images in load order: Image ID, [HASH/]digest prefix, or a bundle "
                   "directory (acon.json, signer.cer, signature)")
      ->required();
  verify
      ->add_option("--mode", va.mode,
                   "Launch-policy algorithm: acond (greedy, as acond) | spec (graph) | both")
      ->check(CLI::IsMember({"acond", "spec", "both"}))
      ->capture_default_str();
  verify->add_flag("--no-layers", va.skip_layers, "Skip the layer presence and digest checks");
  verify->add_flag("--json", va.json, "JSON report");

  std::vector<std::string> export_images;
  std::string export_output;
  auto* exp = app.add_subcommand(
      "export",
      "Write images (with the vendor manifests their layers need) and layers to a tarball");
  exp->add_option("images", export_images, "Images to export")->required();
  exp->add_option("-o,--output", export_output, "Bundle tarball to write")->required();

  std::vector<std::string> import_files;
  auto* imp = app.add_subcommand(
      "import", "Verify exported bundles and add their manifests and layers to the repository");
  imp->add_option("files", import_files, "Bundle tarballs (plain or compressed)")->required();

  for (auto* cmd : {alias, ls, verify, exp, imp}) {
    cmd->add_option("--profile", profile,
                    "Certificate rules: acond (RSA/ECDSA with SHA-2) | aconcli (also Ed25519, "
                    "RSA-PSS)")
        ->check(CLI::IsMember({"acond", "aconcli"}))
        ->capture_default_str();
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : tools::kExitBadInput;
  }
  ka.repo = repo;
  sa.repo = repo;
  ca.repo = repo;
  va.repo = repo;
  va.profile = profile;
  if (*init) return cmd_init(init_dir);
  if (*create) return cmd_create(*create, ca);
  if (*keygen) return cmd_keygen(ka);
  if (*sign) return cmd_sign(sa);
  if (*hash) return cmd_hash(hash_cert, hash_manifests, hash_canonical);
  if (*alias) return cmd_alias_substitute(repo, alias_manifest, alias_output, profile);
  if (*ls) return cmd_ls(repo, ls_json, ls_no_trunc, profile);
  if (*verify) return cmd_verify(va);
  if (*exp) return cmd_export(repo, export_images, export_output, profile);
  if (*imp) return cmd_import(repo, import_files, profile);
  return tools::kExitBadInput;
}
