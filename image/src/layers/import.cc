#include "acon/image/layers/import.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <set>

#include "acon/common/json.h"
#include "archive_util.h"

namespace acon::image::layers {
namespace {

using detail::printable_name;

namespace fs = std::filesystem;

// JSON documents of an image (indexes, manifests, configs) are small; anything bigger is refused.
constexpr size_t kMaxJsonBytes = 4 << 20;
// Total JSON-looking members of a docker save kept in memory between its two passes.
constexpr size_t kMaxCachedBytes = 64 << 20;
constexpr int kMaxIndexDepth = 4;

Error os_error(const fs::path& path, std::string_view what) {
  return make_error(Errc::io,
                    path.string() + ": " + std::string(what) + ": " + std::strerror(errno));
}

std::string_view digest_dir(HashAlg alg) { return hash_name(alg); }

bool is_lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// Removes a temporary file unless released.
class TempFile {
 public:
  explicit TempFile(fs::path path) : path_(std::move(path)) {}
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  const fs::path& path() const { return path_; }
  void release() { path_.clear(); }

 private:
  fs::path path_;
};

Result<std::string> read_small_file(const fs::path& path) {
  ACON_TRY(FileSource source, FileSource::open(path));
  std::string out;
  Bytes buffer(64 * 1024);
  for (;;) {
    ACON_TRY(size_t n, source.read(buffer));
    if (n == 0) break;
    if (out.size() + n > kMaxJsonBytes) {
      return make_error(
          Errc::parse, path.string() + ": larger than " + std::to_string(kMaxJsonBytes) + " bytes");
    }
    out.append(reinterpret_cast<const char*>(buffer.data()), n);
  }
  return out;
}

// ---- OCI descriptors ----------------------------------------------------------------------

struct Descriptor {
  std::string media_type;
  HashAlg alg = HashAlg::sha256;
  std::string hex;
  std::optional<uint64_t> size;
  std::string ref_name;  // org.opencontainers.image.ref.name
  std::string platform;  // "os/arch[/variant]", empty if absent
};

Result<std::pair<HashAlg, std::string>> parse_digest(std::string_view text,
                                                     std::string_view field) {
  const size_t colon = text.find(':');
  const auto bad = [&](std::string_view why) {
    return make_error(Errc::parse, std::string(field) + ": " + std::string(why) + " ('" +
                                       printable_name(text) + "')");
  };
  if (colon == std::string_view::npos) return bad("digest without an algorithm");
  const std::string_view alg_name = text.substr(0, colon), hex = text.substr(colon + 1);
  HashAlg alg;
  if (alg_name == "sha256") {
    alg = HashAlg::sha256;
  } else if (alg_name == "sha384") {
    alg = HashAlg::sha384;
  } else if (alg_name == "sha512") {
    alg = HashAlg::sha512;
  } else {
    return bad("unsupported digest algorithm");
  }
  if (hex.size() != hash_size(alg) * 2 || !is_lower_hex(hex)) return bad("malformed digest");
  return std::pair{alg, std::string(hex)};
}

Result<Descriptor> parse_descriptor(const Json& j, const std::string& field) {
  if (!j.is_object()) return make_error(Errc::parse, field + ": not an object");
  Descriptor d;
  if (auto mt = j.find("mediaType"); mt != j.end() && mt->is_string()) d.media_type = *mt;
  ACON_TRY(std::string digest, json_get_string(j, "digest"));
  ACON_TRY(auto parsed, parse_digest(digest, field + ".digest"));
  d.alg = parsed.first;
  d.hex = std::move(parsed.second);
  if (auto sz = j.find("size"); sz != j.end()) {
    if (!sz->is_number_unsigned()) return make_error(Errc::parse, field + ".size: not a count");
    d.size = sz->get<uint64_t>();
  }
  if (auto ann = j.find("annotations"); ann != j.end() && ann->is_object()) {
    if (auto r = ann->find("org.opencontainers.image.ref.name");
        r != ann->end() && r->is_string()) {
      d.ref_name = *r;
    } else if (auto c = ann->find("io.containerd.image.name"); c != ann->end() && c->is_string()) {
      d.ref_name = *c;
    }
  }
  if (auto p = j.find("platform"); p != j.end() && p->is_object()) {
    auto os = p->find("os"), arch = p->find("architecture"), var = p->find("variant");
    if (os != p->end() && os->is_string() && arch != p->end() && arch->is_string()) {
      d.platform = os->get<std::string>() + "/" + arch->get<std::string>();
      if (var != p->end() && var->is_string()) d.platform += "/" + var->get<std::string>();
    }
  }
  return d;
}

bool is_index_type(std::string_view mt) {
  return mt == "application/vnd.oci.image.index.v1+json" ||
         mt == "application/vnd.docker.distribution.manifest.list.v2+json";
}

bool platform_matches(std::string_view have, std::string_view want) {
  if (have == want) return true;
  // "linux/arm64" matches "linux/arm64/v8" and the reverse: the variant is optional there.
  return have.starts_with(std::string(want) + "/") || want.starts_with(std::string(have) + "/");
}

// Picks one descriptor of an index's manifests by reference name, then by platform.
Result<Descriptor> select_manifest(const Json& index, std::string_view where,
                                   const ImportOptions& options, bool use_ref) {
  auto list = index.find("manifests");
  if (list == index.end() || !list->is_array() || list->empty()) {
    return make_error(Errc::parse, std::string(where) + ": no manifests");
  }
  std::vector<Descriptor> all;
  for (size_t i = 0; i < list->size(); ++i) {
    ACON_TRY(Descriptor d, parse_descriptor((*list)[i], std::string(where) + ".manifests[" +
                                                            std::to_string(i) + "]"));
    all.push_back(std::move(d));
  }
  std::vector<Descriptor> picked;
  if (use_ref && !options.ref.empty()) {
    for (const auto& d : all) {
      if (d.ref_name == options.ref) picked.push_back(d);
    }
    if (picked.empty()) {
      std::string names;
      for (const auto& d : all) names += (names.empty() ? "" : ", ") + d.ref_name;
      return make_error(Errc::not_found, std::string(where) + ": no image named '" + options.ref +
                                             "' (have: " + names + ")");
    }
  } else {
    picked = all;
  }
  if (picked.size() > 1) {
    std::vector<Descriptor> by_platform;
    for (const auto& d : picked) {
      if (d.platform.empty() || platform_matches(d.platform, options.platform)) {
        by_platform.push_back(d);
      }
    }
    picked = std::move(by_platform);
  }
  if (picked.size() != 1) {
    return make_error(Errc::invalid_argument,
                      std::string(where) + ": " +
                          (picked.empty() ? "no manifest for platform " + options.platform
                                          : "several images; select one by reference name"));
  }
  return picked.front();
}

// Where an import reads JSON blobs from: an OCI layout directory, or a docker save's members.
using BlobLookup = std::function<Result<std::string>(const Descriptor&)>;

Result<std::string> checked_blob(std::string bytes, const Descriptor& d, std::string_view what) {
  if (d.size && *d.size != bytes.size()) {
    return make_error(Errc::verify_failed, std::string(what) + ": size " +
                                               std::to_string(bytes.size()) +
                                               " but descriptor says " + std::to_string(*d.size));
  }
  ACON_TRY(Bytes got, digest(d.alg, as_bytes(bytes)));
  if (hex_encode(got) != d.hex) {
    return make_error(Errc::verify_failed,
                      std::string(what) + ": content does not match digest " + d.hex);
  }
  return bytes;
}

struct ManifestPlan {
  std::string config_json;
  std::vector<Descriptor> layers;
};

// index.json → (nested indexes) → image manifest → config.
Result<ManifestPlan> resolve_oci(const Json& index, const BlobLookup& lookup,
                                 const ImportOptions& options) {
  ACON_TRY(Descriptor d, select_manifest(index, "index.json", options, true));
  for (int depth = 0;; ++depth) {
    const std::string what = std::string(hash_name(d.alg)) + ":" + d.hex;
    ACON_TRY(std::string text, lookup(d));
    ACON_TRY(Json doc, parse_json(text));
    if (!doc.is_object()) return make_error(Errc::parse, what + ": not a JSON object");
    std::string media_type = d.media_type;
    if (auto mt = doc.find("mediaType"); mt != doc.end() && mt->is_string()) media_type = *mt;
    if (is_index_type(media_type) || (doc.contains("manifests") && !doc.contains("layers"))) {
      if (depth >= kMaxIndexDepth) return make_error(Errc::parse, what + ": indexes nest too deep");
      ACON_TRY(d, select_manifest(doc, what, options, false));
      continue;
    }
    auto config = doc.find("config");
    auto layers = doc.find("layers");
    if (config == doc.end() || layers == doc.end() || !layers->is_array()) {
      return make_error(Errc::parse, what + ": not an image manifest (config/layers missing)");
    }
    ManifestPlan plan;
    ACON_TRY(Descriptor config_desc, parse_descriptor(*config, what + ".config"));
    ACON_TRY(plan.config_json, lookup(config_desc));
    for (size_t i = 0; i < layers->size(); ++i) {
      ACON_TRY(Descriptor layer,
               parse_descriptor((*layers)[i], what + ".layers[" + std::to_string(i) + "]"));
      if (layer.media_type.find("encrypted") != std::string::npos ||
          (!layer.media_type.empty() && layer.media_type.find("tar") == std::string::npos)) {
        return make_error(Errc::unsupported, what + ".layers[" + std::to_string(i) +
                                                 "]: media type " + layer.media_type);
      }
      plan.layers.push_back(std::move(layer));
    }
    return plan;
  }
}

// rootfs.diff_ids of a config: the SHA-256 of each uncompressed layer, bottom first.
Result<std::vector<std::string>> config_diff_ids(std::string_view config_json) {
  ACON_TRY(Json doc, parse_json(config_json));
  std::vector<std::string> out;
  auto rootfs = doc.find("rootfs");
  if (rootfs == doc.end() || !rootfs->is_object()) return out;
  auto ids = rootfs->find("diff_ids");
  if (ids == rootfs->end() || !ids->is_array()) return out;
  for (size_t i = 0; i < ids->size(); ++i) {
    if (!(*ids)[i].is_string()) {
      return make_error(Errc::parse,
                        "config.rootfs.diff_ids[" + std::to_string(i) + "]: not a string");
    }
    out.push_back((*ids)[i]);
  }
  return out;
}

// Hashes what passes through (the compressed blob) to check it against its descriptor.
class CheckedSource final : public ByteSource {
 public:
  CheckedSource(ByteSource& inner, Hasher hasher) : inner_(inner), hasher_(std::move(hasher)) {}
  Result<size_t> read(std::span<uint8_t> out) override {
    ACON_TRY(size_t n, inner_.read(out));
    hasher_.update(ByteView(out.data(), n));
    size_ += n;
    return n;
  }
  uint64_t size() const { return size_; }
  std::string hex() { return hex_encode(hasher_.finish()); }

 private:
  ByteSource& inner_;
  Hasher hasher_;
  uint64_t size_ = 0;
};

// Decompresses (if needed) `compressed` into `out`: the layer's uncompressed tar bytes.
Status decompress_into(ByteSource& compressed, ByteSink& out, const std::function<void()>& tick) {
  detail::Utf8LocaleScope utf8;
  detail::ArchiveReadPtr a(archive_read_new());
  if (!a) return make_error(Errc::crypto, "libarchive: out of memory");
  archive_read_support_format_raw(a.get());
  // Only in-process decoders: libarchive runs external programs for some other formats.
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_zstd(a.get());
  archive_read_support_filter_xz(a.get());
  archive_read_support_filter_lzma(a.get());
  archive_read_support_filter_bzip2(a.get());
  detail::SourceFeed feed(compressed, std::nullopt);
  if (feed.open(a.get()) != ARCHIVE_OK) return detail::archive_failure(a.get(), &feed, "layer");
  archive_entry* ae = nullptr;
  const int r = archive_read_next_header(a.get(), &ae);
  if (r == ARCHIVE_EOF) return make_error(Errc::parse, "layer: empty");
  if (r != ARCHIVE_OK) return detail::archive_failure(a.get(), &feed, "layer");
  for (;;) {
    const void* block = nullptr;
    size_t len = 0;
    la_int64_t off = 0;
    const int d = archive_read_data_block(a.get(), &block, &len, &off);
    if (d == ARCHIVE_EOF) break;
    if (d != ARCHIVE_OK) return detail::archive_failure(a.get(), &feed, "layer data");
    ACON_CHECK(out.write(ByteView(static_cast<const uint8_t*>(block), len)));
    if (tick) tick();
  }
  return feed.drain();
}

Status scan_stored(const fs::path& file, const ImportOptions& options) {
  ExtractOptions checks = options.checks;
  checks.digest_mask = 0;
  checks.allow_compressed = false;
  ACON_TRY(FileSource source, FileSource::open(file));
  auto scanned = scan_layer(source, checks);
  if (!scanned.ok()) return std::move(scanned).error();
  return {};
}

// Stores one (possibly compressed) layer; checks the compressed digest when one is given.
Result<LayerDigests> store_layer(ByteSource& blob, const Descriptor* descriptor, BlobStore& store,
                                 const ImportOptions& options, const std::string& what,
                                 const std::function<void()>& tick) {
  std::optional<Hasher> hasher;
  if (descriptor != nullptr) {
    ACON_TRY(Hasher h, Hasher::create(descriptor->alg));
    hasher.emplace(std::move(h));
  }
  return store.add(
      [&](ByteSink& out) -> Status {
        if (!hasher) {
          auto s = decompress_into(blob, out, tick);
          if (!s.ok()) return s.error().wrap(what);
          return {};
        }
        CheckedSource checked(blob, std::move(*hasher));
        auto s = decompress_into(checked, out, tick);
        if (!s.ok()) return s.error().wrap(what);
        if (descriptor->size && checked.size() != *descriptor->size) {
          return make_error(Errc::verify_failed,
                            what + ": blob is " + std::to_string(checked.size()) +
                                " bytes, descriptor says " + std::to_string(*descriptor->size));
        }
        if (checked.hex() != descriptor->hex) {
          return make_error(Errc::verify_failed, what + ": blob does not match its digest");
        }
        return {};
      },
      [&](const fs::path& tmp) -> Status {
        auto s = scan_stored(tmp, options);
        if (!s.ok()) return s.error().wrap(what);
        return {};
      });
}

Result<ImportedImage> finish_image(std::string_view config_json,
                                   const std::vector<LayerDigests>& layers) {
  ImportedImage image;
  ACON_TRY(image.config, parse_image_config(config_json));
  ACON_TRY(std::vector<std::string> diff_ids, config_diff_ids(config_json));
  if (!diff_ids.empty() && diff_ids.size() != layers.size()) {
    return make_error(Errc::verify_failed,
                      "config.rootfs.diff_ids lists " + std::to_string(diff_ids.size()) +
                          " layers, image has " + std::to_string(layers.size()));
  }
  std::set<Bytes> seen;
  for (size_t i = 0; i < layers.size(); ++i) {
    if (!diff_ids.empty() && diff_ids[i] != "sha256:" + hex_encode(layers[i].sha256)) {
      return make_error(Errc::verify_failed, "layer " + std::to_string(i) +
                                                 ": uncompressed SHA-256 differs from "
                                                 "config.rootfs.diff_ids[" +
                                                 std::to_string(i) + "]");
    }
    if (seen.insert(layers[i].sha384).second) image.layers.push_back(layers[i]);
  }
  return image;
}

// ---- docker save ---------------------------------------------------------------------------

// ByteSource over the data of the current entry of an outer archive.
class EntrySource final : public ByteSource {
 public:
  explicit EntrySource(archive* a) : a_(a) {}
  Result<size_t> read(std::span<uint8_t> out) override {
    const la_ssize_t n = archive_read_data(a_, out.data(), out.size());
    if (n < 0) {
      const char* msg = archive_error_string(a_);
      return make_error(Errc::parse, msg != nullptr ? msg : "unreadable member");
    }
    return static_cast<size_t>(n);
  }

 private:
  archive* a_;
};

// Normalises a member name or link target: no "./" or "/" prefix, "." and ".." resolved;
// nullopt if it climbs above the archive root.
std::optional<std::string> normalize_member(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    const std::string_view part = path.substr(pos, slash - pos);
    pos = slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (parts.empty()) return std::nullopt;
      parts.pop_back();
    } else {
      parts.push_back(part);
    }
  }
  std::string out;
  for (auto p : parts) {
    if (!out.empty()) out.push_back('/');
    out += p;
  }
  return out;
}

struct Member {
  std::string name;
  uint64_t size = 0;
  uint64_t position = 0;  // bytes of the (possibly compressed) file read so far
  // For a symlink or hardlink member, the member it names (empty if it leaves the archive).
  std::optional<std::string> link_target;
};

// Visits every regular-file and link member of a docker save tarball; `visit` reads or ignores
// a regular member's data.
Status for_each_member(const fs::path& path,
                       const std::function<Status(const Member&, archive*)>& visit) {
  detail::Utf8LocaleScope utf8;
  ACON_TRY(FileSource source, FileSource::open(path));
  detail::ArchiveReadPtr a(archive_read_new());
  if (!a) return make_error(Errc::crypto, "libarchive: out of memory");
  archive_read_support_format_tar(a.get());
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_zstd(a.get());
  detail::SourceFeed feed(source, std::nullopt);
  if (feed.open(a.get()) != ARCHIVE_OK) {
    return detail::archive_failure(a.get(), &feed, path.string());
  }
  for (;;) {
    archive_entry* ae = nullptr;
    const int r = archive_read_next_header(a.get(), &ae);
    if (r == ARCHIVE_EOF) return {};
    if (r != ARCHIVE_OK) {
      return detail::archive_failure(
          a.get(), &feed,
          path.string() + " at offset " + std::to_string(archive_read_header_position(a.get())));
    }
    const char* raw = archive_entry_pathname(ae);
    if (raw == nullptr) continue;
    Member m;
    m.name = normalize_member(raw).value_or("");
    m.size = static_cast<uint64_t>(archive_entry_size(ae));
    m.position = feed.bytes_read();
    if (const char* hard = archive_entry_hardlink(ae); hard != nullptr) {
      m.link_target = normalize_member(hard).value_or("");
    } else if (archive_entry_filetype(ae) == AE_IFLNK) {
      // Legacy docker save links a layer shared by several images: <id>/layer.tar ->
      // ../<other>/layer.tar, relative to the link's directory.
      const char* target = archive_entry_symlink(ae);
      const std::string dir = fs::path(m.name).parent_path().string();
      m.link_target = target == nullptr  ? std::string()
                      : target[0] == '/' ? normalize_member(target).value_or("")
                                         : normalize_member(dir + "/" + target).value_or("");
    } else if (archive_entry_filetype(ae) != AE_IFREG) {
      continue;
    }
    if (m.name.empty()) continue;
    ACON_CHECK(visit(m, a.get()));
  }
}

Result<std::string> read_member(archive* a, const std::string& name, uint64_t size) {
  if (size > kMaxJsonBytes) {
    return make_error(Errc::parse, name + ": larger than " + std::to_string(kMaxJsonBytes));
  }
  std::string out(size, '\0');
  size_t done = 0;
  while (done < size) {
    const la_ssize_t n = archive_read_data(a, out.data() + done, size - done);
    if (n <= 0) {
      const char* msg = archive_error_string(a);
      return make_error(Errc::parse, name + ": " + (msg != nullptr ? msg : "truncated"));
    }
    done += static_cast<size_t>(n);
  }
  return out;
}

}  // namespace

// ---- BlobStore -------------------------------------------------------------------------------

Result<BlobStore> BlobStore::open(fs::path dir, uint32_t link_mask) {
  link_mask &= kDigestSha256 | kDigestSha512;
  std::error_code ec;
  for (HashAlg alg : {HashAlg::sha384, HashAlg::sha256, HashAlg::sha512}) {
    const bool wanted = alg == HashAlg::sha384 ||
                        (alg == HashAlg::sha256 && (link_mask & kDigestSha256)) ||
                        (alg == HashAlg::sha512 && (link_mask & kDigestSha512));
    if (!wanted) continue;
    fs::create_directories(dir / digest_dir(alg), ec);
    if (ec) return make_error(Errc::io, (dir / digest_dir(alg)).string() + ": " + ec.message());
  }
  return BlobStore(std::move(dir), link_mask);
}

Result<fs::path> BlobStore::path_of(std::string_view ref) const {
  const size_t slash = ref.find('/');
  const auto bad = make_error(Errc::parse, "layer reference '" + printable_name(ref) +
                                               "': expected sha256|sha384|sha512/<hex>");
  if (slash == std::string_view::npos) return bad;
  auto alg = hash_from_name(ref.substr(0, slash));
  if (!alg || *alg == HashAlg::sha1 || *alg == HashAlg::sm3 ||
      ref.substr(0, slash) != hash_name(*alg)) {
    return bad;
  }
  const std::string_view hex = ref.substr(slash + 1);
  if (hex.size() != hash_size(*alg) * 2 || !is_lower_hex(hex)) return bad;
  return dir_ / digest_dir(*alg) / (std::string(hex) + ".tar");
}

Result<fs::path> BlobStore::find(std::string_view ref) const {
  ACON_TRY(fs::path path, path_of(ref));
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return make_error(Errc::not_found, "layer " + std::string(ref) + " is not in " + dir_.string());
  }
  return path;
}

Result<LayerDigests> BlobStore::add(const std::function<Status(ByteSink&)>& produce,
                                    const std::function<Status(const fs::path&)>& check) {
  const fs::path primary = dir_ / digest_dir(HashAlg::sha384);
  std::string tmpl = (primary / ".incoming-XXXXXX").string();
  const int fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
  if (fd < 0) return os_error(primary, "create temporary file");
  TempFile temp{fs::path(tmpl)};
  FileSink file(fd, tmpl);
  ACON_TRY(DigestingSink sink, DigestingSink::create(digest_mask(), &file));
  ACON_CHECK(produce(sink));
  ACON_CHECK(file.close());
  LayerDigests digests = sink.finish();
  if (check) ACON_CHECK(check(temp.path()));
  if (::chmod(temp.path().c_str(), 0644) != 0) return os_error(temp.path(), "chmod");

  const std::string hex384 = hex_encode(digests.sha384);
  const fs::path final_path = primary / (hex384 + ".tar");
  struct stat st {};
  if (::lstat(final_path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
    // Same SHA-384, same bytes: keep the stored copy.
  } else {
    if (::rename(temp.path().c_str(), final_path.c_str()) != 0)
      return os_error(final_path, "rename");
    temp.release();
  }
  for (HashAlg alg : {HashAlg::sha256, HashAlg::sha512}) {
    const uint32_t bit = alg == HashAlg::sha256 ? kDigestSha256 : kDigestSha512;
    if (!(link_mask_ & bit)) continue;
    const fs::path link = dir_ / digest_dir(alg) / (hex_encode(digests.get(alg)) + ".tar");
    const std::string target = "../sha384/" + hex384 + ".tar";
    ::unlink(link.c_str());
    if (::symlink(target.c_str(), link.c_str()) != 0) return os_error(link, "symlink");
  }
  return digests;
}

// ---- imports ---------------------------------------------------------------------------------

Result<ImageConfig> parse_image_config(std::string_view config_json) {
  ACON_TRY(Json doc, parse_json(config_json));
  if (!doc.is_object()) return make_error(Errc::parse, "image config: not a JSON object");
  ImageConfig out;
  auto cfg = doc.find("config");
  if (cfg == doc.end() || cfg->is_null()) return out;
  if (!cfg->is_object()) return make_error(Errc::parse, "image config.config: not an object");
  const auto strings = [&](const char* key, std::vector<std::string>& into) -> Status {
    auto it = cfg->find(key);
    if (it == cfg->end() || it->is_null()) return {};
    if (!it->is_array()) {
      return make_error(Errc::parse, std::string("image config.config.") + key + ": not an array");
    }
    for (size_t i = 0; i < it->size(); ++i) {
      if (!(*it)[i].is_string()) {
        return make_error(Errc::parse, std::string("image config.config.") + key + "[" +
                                           std::to_string(i) + "]: not a string");
      }
      into.push_back((*it)[i]);
    }
    return {};
  };
  ACON_CHECK(strings("Entrypoint", out.entrypoint));
  ACON_CHECK(strings("Cmd", out.entrypoint));
  ACON_CHECK(strings("Env", out.env));
  if (auto wd = cfg->find("WorkingDir"); wd != cfg->end() && !wd->is_null()) {
    if (!wd->is_string()) {
      return make_error(Errc::parse, "image config.config.WorkingDir: not a string");
    }
    if (!wd->get<std::string>().empty()) out.working_dir = *wd;
  }
  return out;
}

Result<LayerDigests> import_tarball(ByteSource& tarball, BlobStore& store,
                                    const ImportOptions& options) {
  uint64_t ticks = 0;
  struct Counting final : ByteSource {
    ByteSource& inner;
    uint64_t done = 0;
    explicit Counting(ByteSource& s) : inner(s) {}
    Result<size_t> read(std::span<uint8_t> out) override {
      ACON_TRY(size_t n, inner.read(out));
      done += n;
      return n;
    }
  } counting(tarball);
  const auto tick = [&] {
    if (options.progress && (++ticks % 16) == 0) options.progress(counting.done, 0);
  };
  return store.add([&](ByteSink& out) { return decompress_into(counting, out, tick); },
                   [&](const fs::path& tmp) { return scan_stored(tmp, options); });
}

Result<ImportedImage> import_oci_layout(const fs::path& dir, BlobStore& store,
                                        const ImportOptions& options) {
  ACON_TRY(std::string index_text, read_small_file(dir / "index.json"));
  ACON_TRY(Json index, parse_json(index_text));
  if (!index.is_object()) return make_error(Errc::parse, "index.json: not a JSON object");
  const auto blob_path = [&](const Descriptor& d) {
    return dir / "blobs" / std::string(hash_name(d.alg)) / d.hex;
  };
  const BlobLookup lookup = [&](const Descriptor& d) -> Result<std::string> {
    ACON_TRY(std::string bytes, read_small_file(blob_path(d)));
    return checked_blob(std::move(bytes), d, std::string(hash_name(d.alg)) + ":" + d.hex);
  };
  ACON_TRY(ManifestPlan plan, resolve_oci(index, lookup, options));

  uint64_t total = 0, done = 0;
  for (const auto& l : plan.layers) total += l.size.value_or(0);
  std::vector<LayerDigests> layers;
  for (size_t i = 0; i < plan.layers.size(); ++i) {
    const Descriptor& d = plan.layers[i];
    ACON_TRY(FileSource file, FileSource::open(blob_path(d)));
    const std::string what =
        "layers[" + std::to_string(i) + "] " + std::string(hash_name(d.alg)) + ":" + d.hex;
    uint64_t ticks = 0;
    const auto tick = [&] {
      if (options.progress && (++ticks % 16) == 0) options.progress(done, total);
    };
    ACON_TRY(LayerDigests digests, store_layer(file, &d, store, options, what, tick));
    done += d.size.value_or(0);
    if (options.progress) options.progress(done, total);
    layers.push_back(std::move(digests));
  }
  return finish_image(plan.config_json, layers);
}

Result<ImportedImage> import_docker_save(const fs::path& tarball, BlobStore& store,
                                         const ImportOptions& options) {
  std::error_code ec;
  const uint64_t file_size = fs::file_size(tarball, ec);
  if (ec) return make_error(Errc::io, tarball.string() + ": " + ec.message());

  // Pass 1: the small JSON members (manifest.json, index.json, configs, OCI manifests).
  std::map<std::string, std::string> json_members;
  size_t cached = 0;
  std::map<std::string, std::string> links;
  ACON_CHECK(for_each_member(tarball, [&](const Member& m, archive* a) -> Status {
    if (m.link_target) {
      links[m.name] = *m.link_target;
      return {};
    }
    const std::string& name = m.name;
    const uint64_t size = m.size;
    if (size > kMaxJsonBytes || size == 0) return {};
    const bool named_json = name == "manifest.json" || name == "index.json" ||
                            name.ends_with(".json") || name == "oci-layout";
    if (!named_json && !name.starts_with("blobs/")) return {};
    // Peek at the first byte: blobs/ also holds layers, which are not JSON.
    char first = 0;
    if (archive_read_data(a, &first, 1) != 1) return {};
    if (!named_json && first != '{') return {};
    ACON_TRY(std::string rest, read_member(a, name, size - 1));
    cached += size;
    if (cached > kMaxCachedBytes) {
      return make_error(Errc::parse, tarball.string() + ": too much JSON metadata");
    }
    json_members[name] = std::string(1, first) + rest;
    return {};
  }));

  // Which members are layers, in order, and the config.
  std::string config_json;
  std::vector<std::string> layer_members;
  std::vector<std::optional<Descriptor>> layer_descriptors;
  if (auto m = json_members.find("manifest.json"); m != json_members.end()) {
    ACON_TRY(Json manifest, parse_json(m->second));
    if (!manifest.is_array() || manifest.empty()) {
      return make_error(Errc::parse, "manifest.json: not a non-empty array");
    }
    std::optional<size_t> pick;
    for (size_t i = 0; i < manifest.size(); ++i) {
      const Json& item = manifest[i];
      if (!item.is_object()) {
        return make_error(Errc::parse, "manifest.json[" + std::to_string(i) + "]: not an object");
      }
      if (options.ref.empty()) {
        if (manifest.size() == 1) pick = i;
        continue;
      }
      if (auto tags = item.find("RepoTags"); tags != item.end() && tags->is_array()) {
        for (const auto& t : *tags) {
          if (t.is_string() && t.get<std::string>() == options.ref) pick = i;
        }
      }
    }
    if (!pick) {
      return make_error(options.ref.empty() ? Errc::invalid_argument : Errc::not_found,
                        options.ref.empty()
                            ? "manifest.json: several images; select one by tag"
                            : "manifest.json: no image tagged '" + options.ref + "'");
    }
    const Json& item = manifest[*pick];
    const std::string where = "manifest.json[" + std::to_string(*pick) + "]";
    ACON_TRY(std::string config_name, json_get_string(item, "Config"));
    auto config = json_members.find(normalize_member(config_name).value_or(""));
    if (config == json_members.end()) {
      return make_error(Errc::parse, where + ".Config: member " + config_name + " not found");
    }
    config_json = config->second;
    auto layers = item.find("Layers");
    if (layers == item.end() || !layers->is_array()) {
      return make_error(Errc::parse, where + ".Layers: not an array");
    }
    for (size_t i = 0; i < layers->size(); ++i) {
      if (!(*layers)[i].is_string()) {
        return make_error(Errc::parse, where + ".Layers[" + std::to_string(i) + "]: not a string");
      }
      const std::string name = normalize_member((*layers)[i].get<std::string>()).value_or("");
      layer_members.push_back(name);
      // Docker 25+ names layers by their blob digest: check the content against it.
      std::optional<Descriptor> d;
      if (name.starts_with("blobs/")) {
        const std::string rest = name.substr(6);
        const size_t slash = rest.find('/');
        if (slash != std::string::npos) {
          auto parsed = parse_digest(rest.substr(0, slash) + ":" + rest.substr(slash + 1),
                                     where + ".Layers[" + std::to_string(i) + "]");
          if (parsed.ok()) {
            d = Descriptor{};
            d->alg = parsed->first;
            d->hex = parsed->second;
          }
        }
      }
      layer_descriptors.push_back(std::move(d));
    }
  } else if (auto idx = json_members.find("index.json"); idx != json_members.end()) {
    ACON_TRY(Json index, parse_json(idx->second));
    const BlobLookup lookup = [&](const Descriptor& d) -> Result<std::string> {
      const std::string name = "blobs/" + std::string(hash_name(d.alg)) + "/" + d.hex;
      auto it = json_members.find(name);
      if (it == json_members.end()) {
        return make_error(Errc::parse, "member " + name + " not found or not JSON");
      }
      return checked_blob(it->second, d, name);
    };
    ACON_TRY(ManifestPlan plan, resolve_oci(index, lookup, options));
    config_json = std::move(plan.config_json);
    for (auto& d : plan.layers) {
      layer_members.push_back("blobs/" + std::string(hash_name(d.alg)) + "/" + d.hex);
      layer_descriptors.emplace_back(std::move(d));
    }
  } else {
    return make_error(Errc::parse, tarball.string() + ": neither manifest.json nor index.json");
  }

  // Pass 2: stream each layer member (links followed) into the store.
  std::map<std::string, std::vector<size_t>> wanted;
  for (size_t i = 0; i < layer_members.size(); ++i) {
    std::string name = layer_members[i];
    for (int hops = 0; hops < 8; ++hops) {
      auto link = links.find(name);
      if (link == links.end()) break;
      name = link->second;
    }
    wanted[name].push_back(i);
  }
  std::vector<std::optional<LayerDigests>> stored(layer_members.size());
  ACON_CHECK(for_each_member(tarball, [&](const Member& m, archive* a) -> Status {
    if (m.link_target) return {};
    const std::string& name = m.name;
    const uint64_t pos = m.position;
    auto it = wanted.find(name);
    if (it == wanted.end() || stored[it->second.front()]) return {};
    const size_t first = it->second.front();
    EntrySource member(a);
    uint64_t ticks = 0;
    const auto tick = [&] {
      if (options.progress && (++ticks % 16) == 0) options.progress(pos, file_size);
    };
    const Descriptor* d = layer_descriptors[first] ? &*layer_descriptors[first] : nullptr;
    ACON_TRY(LayerDigests digests, store_layer(member, d, store, options, name, tick));
    for (size_t i : it->second) stored[i] = digests;
    if (options.progress) options.progress(pos, file_size);
    return {};
  }));
  std::vector<LayerDigests> layers;
  for (size_t i = 0; i < stored.size(); ++i) {
    if (!stored[i]) {
      return make_error(Errc::parse, "layer member " + layer_members[i] + " not found");
    }
    layers.push_back(*stored[i]);
  }
  return finish_image(config_json, layers);
}

}  // namespace acon::image::layers
