#include "acon/image/layers/extract.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <unordered_set>

#include "archive_util.h"

namespace acon::image::layers {
namespace {

using detail::archive_failure;
using detail::printable_name;
using detail::UniqueFd;

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kWhiteoutMetaPrefix = ".wh..wh.";
constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";
// Symlinks followed while resolving one parent path, as the kernel's MAXSYMLINKS.
constexpr int kMaxSymlinkHops = 40;

enum class Kind { file, dir, symlink, hardlink, chardev, blockdev, fifo, whiteout, opaque, skip };

struct Entry {
  std::string name;                // as stored, for messages
  std::vector<std::string> parts;  // validated components, empty for the root
  Kind kind = Kind::file;
  std::string symlink_target;
  std::vector<std::string> link_parts;  // hardlink target
  std::string whiteout_target;          // NAME of ".wh.NAME"
  unsigned mode = 0;                    // permission bits, setid already handled
  uint64_t size = 0;
  uint32_t uid = 0, gid = 0;
  timespec mtime{};
  dev_t rdev = 0;
  int64_t offset = 0;
};

std::string join(std::span<const std::string> parts) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out.push_back('/');
    out += p;
  }
  return out;
}

// Offsets are those of the entry's first header block; deferred work (offset -1) has none.
Error entry_error(const Entry& e, Errc code, std::string_view message) {
  std::string where = "tar entry '" + printable_name(e.name) + "'";
  if (e.offset >= 0) where += " at offset " + std::to_string(e.offset);
  return make_error(code, where + ": " + std::string(message));
}

Error entry_os_error(const Entry& e, std::string_view what) {
  return entry_error(e, Errc::io, std::string(what) + ": " + std::strerror(errno));
}

// Splits a stored name into components, refusing "..", over-long names and excessive depth.
Result<std::vector<std::string>> split_name(std::string_view name, const ExtractOptions& options,
                                            std::string_view what) {
  const ExtractLimits& lim = options.limits;
  if (name.size() > lim.max_path_bytes) {
    return make_error(Errc::parse, std::string(what) + " is " + std::to_string(name.size()) +
                                       " bytes (limit " + std::to_string(lim.max_path_bytes) + ")");
  }
  if (name.empty()) return make_error(Errc::parse, std::string(what) + " is empty");
  if (name.front() == '/' && !options.strip_absolute) {
    return make_error(Errc::parse, std::string(what) + " is an absolute path");
  }
  std::vector<std::string> parts;
  size_t pos = 0;
  while (pos <= name.size()) {
    size_t slash = name.find('/', pos);
    if (slash == std::string_view::npos) slash = name.size();
    std::string_view part = name.substr(pos, slash - pos);
    pos = slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      return make_error(Errc::parse, std::string(what) + " has a '..' component");
    }
    if (part.size() > lim.max_name_bytes) {
      return make_error(Errc::parse, std::string(what) + " has a component of " +
                                         std::to_string(part.size()) + " bytes (limit " +
                                         std::to_string(lim.max_name_bytes) + ")");
    }
    parts.emplace_back(part);
    if (parts.size() > lim.max_depth) {
      return make_error(Errc::parse, std::string(what) + " is deeper than " +
                                         std::to_string(lim.max_depth) + " components");
    }
  }
  return parts;
}

// A relative symlink target read lexically from the link's directory climbs above the root.
bool escapes_root(std::string_view target, size_t link_depth) {
  if (target.starts_with('/')) return false;
  int64_t depth = static_cast<int64_t>(link_depth);
  size_t pos = 0;
  while (pos <= target.size()) {
    size_t slash = target.find('/', pos);
    if (slash == std::string_view::npos) slash = target.size();
    std::string_view part = target.substr(pos, slash - pos);
    pos = slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (--depth < 0) return true;
    } else {
      ++depth;
    }
  }
  return false;
}

// Reads the header fields of one entry and applies every check that needs no filesystem.
Result<Entry> describe(archive_entry* ae, int64_t offset, const ExtractOptions& options,
                       ExtractResult& stats) {
  Entry e;
  e.offset = offset;
  const char* raw_name = archive_entry_pathname(ae);
  if (raw_name == nullptr) raw_name = archive_entry_pathname_utf8(ae);
  if (raw_name == nullptr) {
    return make_error(Errc::parse,
                      "tar entry at offset " + std::to_string(offset) + ": no usable name");
  }
  e.name = raw_name;
  auto parts = split_name(e.name, options, "name");
  if (!parts.ok()) return entry_error(e, Errc::parse, parts.error().message);
  e.parts = std::move(*parts);

  if (archive_entry_is_encrypted(ae)) return entry_error(e, Errc::unsupported, "encrypted entry");
  if (archive_entry_sparse_count(ae) > 0) {
    return entry_error(e, Errc::unsupported, "sparse files are not supported");
  }
  const la_int64_t size = archive_entry_size(ae);
  if (size < 0) return entry_error(e, Errc::parse, "negative size");
  e.size = static_cast<uint64_t>(size);
  if (e.size > options.limits.max_entry_bytes) {
    return entry_error(e, Errc::parse,
                       "size " + std::to_string(e.size) + " exceeds the entry limit " +
                           std::to_string(options.limits.max_entry_bytes));
  }
  const la_int64_t uid = archive_entry_uid(ae), gid = archive_entry_gid(ae);
  if (uid < 0 || gid < 0 || uid > 0xfffffffe || gid > 0xfffffffe) {
    return entry_error(e, Errc::parse, "owner out of range");
  }
  e.uid = static_cast<uint32_t>(uid);
  e.gid = static_cast<uint32_t>(gid);
  e.mtime.tv_sec = static_cast<time_t>(archive_entry_mtime(ae));
  e.mtime.tv_nsec = archive_entry_mtime_nsec(ae);
  if (e.mtime.tv_nsec < 0 || e.mtime.tv_nsec > 999'999'999) e.mtime.tv_nsec = 0;
  e.mode = static_cast<unsigned>(archive_entry_perm(ae)) & 07777;
  if ((e.mode & (S_ISUID | S_ISGID)) != 0 && !options.keep_setid) {
    e.mode &= ~static_cast<unsigned>(S_ISUID | S_ISGID);
    ++stats.setid_cleared;
  }

  const std::string leaf = e.parts.empty() ? std::string() : e.parts.back();
  if (options.whiteouts == WhiteoutMode::apply && leaf.starts_with(kWhiteoutPrefix)) {
    if (leaf == kOpaqueMarker) {
      e.kind = Kind::opaque;
    } else if (leaf.starts_with(kWhiteoutMetaPrefix)) {
      e.kind = Kind::skip;  // aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs): no meaning here
    } else {
      e.kind = Kind::whiteout;
      e.whiteout_target = leaf.substr(kWhiteoutPrefix.size());
      if (e.whiteout_target.empty() || e.whiteout_target == "." || e.whiteout_target == "..") {
        return entry_error(e, Errc::parse, "whiteout without a valid name");
      }
    }
    return e;
  }

  if (const char* link = archive_entry_hardlink(ae); link != nullptr) {
    e.kind = Kind::hardlink;
    if (e.size != 0) return entry_error(e, Errc::unsupported, "hardlink carrying data");
    auto target = split_name(link, options, "hardlink target");
    if (!target.ok()) return entry_error(e, Errc::parse, target.error().message);
    if (target->empty()) return entry_error(e, Errc::parse, "hardlink to the root");
    if (*target == e.parts) return entry_error(e, Errc::parse, "hardlink to itself");
    e.link_parts = std::move(*target);
  } else {
    switch (archive_entry_filetype(ae)) {
      case AE_IFREG:
        e.kind = Kind::file;
        break;
      case AE_IFDIR:
        e.kind = Kind::dir;
        break;
      case AE_IFLNK:
        e.kind = Kind::symlink;
        break;
      case AE_IFCHR:
        e.kind = Kind::chardev;
        break;
      case AE_IFBLK:
        e.kind = Kind::blockdev;
        break;
      case AE_IFIFO:
        e.kind = Kind::fifo;
        break;
      default:
        return entry_error(e, Errc::unsupported, "unsupported entry type");
    }
  }
  if (e.kind == Kind::symlink) {
    const char* target = archive_entry_symlink(ae);
    if (target == nullptr) target = archive_entry_symlink_utf8(ae);
    if (target == nullptr || *target == '\0') {
      return entry_error(e, Errc::parse, "symlink without a target");
    }
    e.symlink_target = target;
    if (e.symlink_target.size() > options.limits.max_link_bytes) {
      return entry_error(e, Errc::parse,
                         "symlink target is " + std::to_string(e.symlink_target.size()) +
                             " bytes (limit " + std::to_string(options.limits.max_link_bytes) +
                             ")");
    }
    if (!options.allow_escaping_symlinks &&
        escapes_root(e.symlink_target, e.parts.empty() ? 0 : e.parts.size() - 1)) {
      return entry_error(
          e, Errc::parse,
          "symlink target '" + printable_name(e.symlink_target) + "' leads outside the root");
    }
  }
  if (e.kind == Kind::chardev || e.kind == Kind::blockdev || e.kind == Kind::fifo) {
    if (!options.allow_special_files) {
      return entry_error(e, Errc::unsupported,
                         e.kind == Kind::fifo ? "FIFO refused" : "device node refused");
    }
    e.rdev = makedev(archive_entry_rdevmajor(ae), archive_entry_rdevminor(ae));
  }
  if (e.parts.empty() && e.kind != Kind::dir) {
    return entry_error(e, Errc::parse, "a non-directory entry names the root");
  }
  return e;
}

// Iterates a tarball, enforcing the stream-level limits; `handle` must consume the entry's data.
Result<ExtractResult> for_each_entry(
    ByteSource& source, const ExtractOptions& options,
    const std::function<Status(archive*, const Entry&, ExtractResult&)>& handle) {
  detail::Utf8LocaleScope utf8;
  detail::ArchiveReadPtr a(archive_read_new());
  if (!a) return make_error(Errc::crypto, "libarchive: out of memory");
  archive_read_support_format_tar(a.get());
  if (options.allow_compressed) {
    archive_read_support_filter_gzip(a.get());
    archive_read_support_filter_zstd(a.get());
    archive_read_support_filter_xz(a.get());
    archive_read_support_filter_bzip2(a.get());
  }
  std::optional<MultiHasher> hasher;
  if (options.digest_mask != 0) {
    ACON_TRY(auto h, MultiHasher::create(options.digest_mask));
    hasher.emplace(std::move(h));
  }
  detail::SourceFeed feed(source, std::move(hasher));
  if (feed.open(a.get()) != ARCHIVE_OK) return archive_failure(a.get(), &feed, "tar");

  ExtractResult stats;
  for (;;) {
    archive_entry* ae = nullptr;
    const int r = archive_read_next_header(a.get(), &ae);
    if (r == ARCHIVE_EOF) break;
    const int64_t offset = archive_read_header_position(a.get());
    if (r != ARCHIVE_OK) {
      std::string where = "tar at offset " + std::to_string(offset);
      if (ae != nullptr && archive_entry_pathname(ae) != nullptr) {
        where = "tar entry '" + printable_name(archive_entry_pathname(ae)) + "' at offset " +
                std::to_string(offset);
      }
      return archive_failure(a.get(), &feed, where);
    }
    if (++stats.entries > options.limits.max_entries) {
      return make_error(Errc::parse, "tar entry at offset " + std::to_string(offset) +
                                         ": more than " +
                                         std::to_string(options.limits.max_entries) + " entries");
    }
    ACON_TRY(Entry e, describe(ae, offset, options, stats));
    const int64_t header_bytes = archive_filter_bytes(a.get(), 0) - offset;
    if (header_bytes < 0 || static_cast<uint64_t>(header_bytes) > options.limits.max_header_bytes) {
      return entry_error(e, Errc::parse,
                         "headers of " + std::to_string(header_bytes) + " bytes (limit " +
                             std::to_string(options.limits.max_header_bytes) + ")");
    }
    if (e.kind == Kind::file) {
      if (e.size > options.limits.max_total_bytes -
                       std::min(stats.file_bytes, options.limits.max_total_bytes)) {
        return entry_error(e, Errc::parse,
                           "layer exceeds the size limit of " +
                               std::to_string(options.limits.max_total_bytes) + " bytes");
      }
      stats.file_bytes += e.size;
    }
    ACON_CHECK(handle(a.get(), e, stats));
  }
  ACON_CHECK(feed.drain());
  stats.digests = feed.digests();
  return stats;
}

Status skip_data(archive* a, const Entry& e) {
  if (archive_read_data_skip(a) != ARCHIVE_OK) {
    const char* msg = archive_error_string(a);
    return entry_error(e, Errc::parse, msg != nullptr ? msg : "unreadable data");
  }
  return {};
}

struct DirMeta {
  std::vector<std::string> parts;
  unsigned mode;
  uint32_t uid, gid;
  timespec mtime;
};

// Removes `name` in `dirfd` and, for a directory, everything below it, never following symlinks.
Status remove_tree(int dirfd, const std::string& name, std::string_view what, size_t depth = 0) {
  struct stat st {};
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return {};
    return make_error(Errc::io, std::string(what) + ": stat: " + std::strerror(errno));
  }
  if (!S_ISDIR(st.st_mode)) {
    if (::unlinkat(dirfd, name.c_str(), 0) != 0 && errno != ENOENT) {
      return make_error(Errc::io, std::string(what) + ": unlink: " + std::strerror(errno));
    }
    return {};
  }
  // Trees here were written under the same depth limit; this bounds recursion on foreign ones.
  if (depth > 4096) return make_error(Errc::io, std::string(what) + ": directory tree too deep");
  UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return make_error(Errc::io, std::string(what) + ": " + std::strerror(errno));
  std::vector<std::string> children;
  {
    int listing = ::dup(fd.get());
    DIR* dir = listing >= 0 ? ::fdopendir(listing) : nullptr;
    if (dir == nullptr) {
      if (listing >= 0) ::close(listing);
      return make_error(Errc::io, std::string(what) + ": opendir: " + std::strerror(errno));
    }
    std::unique_ptr<DIR, int (*)(DIR*)> owned(dir, &::closedir);
    while (dirent* d = ::readdir(dir)) {
      std::string_view n = d->d_name;
      if (n != "." && n != "..") children.emplace_back(n);
    }
  }
  ::fchmod(fd.get(), (st.st_mode & 07777) | S_IRWXU);  // a read-only directory must be emptied
  for (const auto& child : children) ACON_CHECK(remove_tree(fd.get(), child, what, depth + 1));
  if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
    return make_error(Errc::io, std::string(what) + ": rmdir: " + std::strerror(errno));
  }
  return {};
}

class Extractor {
 public:
  Extractor(int root, const ExtractOptions& options) : root_(root), options_(options) {}

  Status handle(archive* a, const Entry& e, ExtractResult& stats) {
    switch (e.kind) {
      case Kind::skip:
        return skip_data(a, e);
      case Kind::whiteout:
        ++stats.whiteouts;
        ACON_CHECK(skip_data(a, e));
        return apply_whiteout(e);
      case Kind::opaque:
        ++stats.whiteouts;
        ACON_CHECK(skip_data(a, e));
        return apply_opaque(e);
      default:
        break;
    }
    if (e.parts.empty()) return skip_data(a, e);  // "./": the root's own metadata stays as is
    mark_touched(e.parts);
    const std::span<const std::string> parent(e.parts.data(), e.parts.size() - 1);
    ACON_TRY(UniqueFd dir, open_dir(parent, true, e));
    const std::string& leaf = e.parts.back();
    switch (e.kind) {
      case Kind::file:
        return write_file(a, e, dir.get(), leaf);
      case Kind::dir:
        ACON_CHECK(skip_data(a, e));
        return make_dir(e, dir.get(), leaf);
      case Kind::symlink:
        ACON_CHECK(skip_data(a, e));
        return make_symlink(e, dir.get(), leaf);
      case Kind::hardlink:
        ACON_CHECK(skip_data(a, e));
        return make_hardlink(e, dir.get(), leaf);
      default:
        ACON_CHECK(skip_data(a, e));
        return make_special(e, dir.get(), leaf);
    }
  }

  // Directory modes and times are set last, deepest first: creating entries inside a directory
  // changes its mtime, and a read-only mode would stop the extraction of its contents.
  Status finish() {
    std::vector<const DirMeta*> order;
    order.reserve(dirs_.size());
    for (const auto& [path, meta] : dirs_) order.push_back(&meta);
    std::stable_sort(order.begin(), order.end(), [](const DirMeta* x, const DirMeta* y) {
      return x->parts.size() > y->parts.size();
    });
    for (const DirMeta* m : order) {
      Entry e;
      e.name = join(m->parts);
      e.offset = -1;
      const std::span<const std::string> parent(m->parts.data(), m->parts.size() - 1);
      auto pdir = open_dir(parent, false, e);
      if (!pdir.ok()) continue;  // removed or replaced later in the layer
      UniqueFd fd(::openat(pdir->get(), m->parts.back().c_str(),
                           O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!fd.valid()) continue;
      if (options_.preserve_owner && ::fchown(fd.get(), m->uid, m->gid) != 0) {
        return entry_os_error(e, "chown");
      }
      if (::fchmod(fd.get(), m->mode) != 0) return entry_os_error(e, "chmod");
      const timespec times[2] = {m->mtime, m->mtime};
      if (::futimens(fd.get(), times) != 0) return entry_os_error(e, "set times");
    }
    return {};
  }

 private:
  UniqueFd open_root() const {
    return UniqueFd(::openat(root_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  }

  // Opens the directory `parts` below the root. Symlinks on the way resolve as under chroot(2):
  // an absolute target restarts at the root and ".." never climbs above it. With `create`,
  // missing directories are made.
  Result<UniqueFd> open_dir(std::span<const std::string> parts, bool create, const Entry& e) {
    std::deque<std::string> pending(parts.begin(), parts.end());
    std::vector<std::string> walked;  // real directories from the root to `cur`
    UniqueFd cur = open_root();
    if (!cur.valid()) return entry_os_error(e, "open target root");
    int hops = 0;
    while (!pending.empty()) {
      std::string comp = std::move(pending.front());
      pending.pop_front();
      if (comp.empty() || comp == ".") continue;
      if (comp == "..") {
        if (!walked.empty()) {
          walked.pop_back();
          cur = open_root();
          for (const auto& w : walked) {
            cur.reset(
                ::openat(cur.get(), w.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!cur.valid()) return entry_os_error(e, "reopen '" + printable_name(w) + "'");
          }
        }
        continue;
      }
      int fd = ::openat(cur.get(), comp.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0 && errno == ENOENT && create) {
        if (::mkdirat(cur.get(), comp.c_str(), 0755) != 0 && errno != EEXIST) {
          return entry_os_error(e, "create directory '" + printable_name(comp) + "'");
        }
        fd = ::openat(cur.get(), comp.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      }
      if (fd >= 0) {
        cur.reset(fd);
        walked.push_back(std::move(comp));
        if (walked.size() > options_.limits.max_depth) {
          return entry_error(e, Errc::parse, "path resolves deeper than the depth limit");
        }
        continue;
      }
      const int err = errno;
      if (err == ENOENT) {
        return entry_error(e, Errc::not_found,
                           "'" + printable_name(comp) + "' does not exist in the target");
      }
      struct stat st {};
      if ((err == ELOOP || err == ENOTDIR) &&
          ::fstatat(cur.get(), comp.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
          S_ISLNK(st.st_mode)) {
        if (++hops > kMaxSymlinkHops) {
          return entry_error(e, Errc::parse, "too many levels of symbolic links in its path");
        }
        std::string target(options_.limits.max_link_bytes + 1, '\0');
        ssize_t n = ::readlinkat(cur.get(), comp.c_str(), target.data(), target.size());
        if (n < 0) return entry_os_error(e, "readlink");
        if (static_cast<size_t>(n) > options_.limits.max_link_bytes || n == 0) {
          return entry_error(e, Errc::parse, "unusable symlink in its path");
        }
        target.resize(static_cast<size_t>(n));
        std::vector<std::string> split;
        size_t pos = 0;
        while (pos <= target.size()) {
          size_t slash = target.find('/', pos);
          if (slash == std::string::npos) slash = target.size();
          split.emplace_back(target.substr(pos, slash - pos));
          pos = slash + 1;
        }
        pending.insert(pending.begin(), split.begin(), split.end());
        if (target.front() == '/') {
          walked.clear();
          cur = open_root();
        }
        continue;
      }
      if (err == ENOTDIR || err == ELOOP) {
        return entry_error(e, Errc::parse,
                           "parent '" + printable_name(comp) + "' is not a directory");
      }
      errno = err;
      return entry_os_error(e, "open '" + printable_name(comp) + "'");
    }
    return cur;
  }

  // Clears the way for a new entry named `leaf`; an existing directory is kept for a directory.
  Result<bool> make_room(const Entry& e, int dir, const std::string& leaf, bool want_dir) {
    struct stat st {};
    if (::fstatat(dir, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) return false;
      return entry_os_error(e, "stat");
    }
    if (S_ISDIR(st.st_mode)) {
      if (want_dir) return true;
      auto removed = remove_tree(dir, leaf, "replace directory");
      if (!removed.ok()) return entry_error(e, Errc::io, removed.error().message);
      return false;
    }
    if (::unlinkat(dir, leaf.c_str(), 0) != 0) return entry_os_error(e, "replace");
    return false;
  }

  Status set_times_nofollow(const Entry& e, int dir, const std::string& leaf) {
    const timespec times[2] = {e.mtime, e.mtime};
    if (::utimensat(dir, leaf.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
      return entry_os_error(e, "set times");
    }
    return {};
  }

  Status write_file(archive* a, const Entry& e, int dir, const std::string& leaf) {
    ACON_CHECK(make_room(e, dir, leaf, false));
    UniqueFd fd(
        ::openat(dir, leaf.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid()) return entry_os_error(e, "create");
    uint64_t written = 0;
    for (;;) {
      const void* block = nullptr;
      size_t len = 0;
      la_int64_t off = 0;
      const int r = archive_read_data_block(a, &block, &len, &off);
      if (r == ARCHIVE_EOF) break;
      if (r != ARCHIVE_OK) {
        const char* msg = archive_error_string(a);
        return entry_error(e, Errc::parse, msg != nullptr ? msg : "unreadable data");
      }
      if (off < 0 || static_cast<uint64_t>(off) != written) {
        return entry_error(e, Errc::unsupported, "data with holes");
      }
      const auto* p = static_cast<const uint8_t*>(block);
      size_t done = 0;
      while (done < len) {
        ssize_t n = ::write(fd.get(), p + done, len - done);
        if (n < 0) {
          if (errno == EINTR) continue;
          return entry_os_error(e, "write");
        }
        done += static_cast<size_t>(n);
      }
      written += len;
    }
    if (written != e.size) return entry_error(e, Errc::parse, "data shorter than its size");
    if (options_.preserve_owner && ::fchown(fd.get(), e.uid, e.gid) != 0) {
      return entry_os_error(e, "chown");
    }
    if (::fchmod(fd.get(), e.mode) != 0) return entry_os_error(e, "chmod");
    const timespec times[2] = {e.mtime, e.mtime};
    if (::futimens(fd.get(), times) != 0) return entry_os_error(e, "set times");
    if (::close(fd.release()) != 0) return entry_os_error(e, "close");
    return {};
  }

  Status make_dir(const Entry& e, int dir, const std::string& leaf) {
    ACON_TRY(bool exists, make_room(e, dir, leaf, true));
    if (!exists && ::mkdirat(dir, leaf.c_str(), 0700) != 0) return entry_os_error(e, "mkdir");
    dirs_[join(e.parts)] = DirMeta{e.parts, e.mode, e.uid, e.gid, e.mtime};
    return {};
  }

  Status make_symlink(const Entry& e, int dir, const std::string& leaf) {
    ACON_CHECK(make_room(e, dir, leaf, false));
    if (::symlinkat(e.symlink_target.c_str(), dir, leaf.c_str()) != 0) {
      return entry_os_error(e, "symlink");
    }
    if (options_.preserve_owner &&
        ::fchownat(dir, leaf.c_str(), e.uid, e.gid, AT_SYMLINK_NOFOLLOW) != 0) {
      return entry_os_error(e, "chown");
    }
    return set_times_nofollow(e, dir, leaf);
  }

  Status make_hardlink(const Entry& e, int dir, const std::string& leaf) {
    const std::span<const std::string> target_parent(e.link_parts.data(), e.link_parts.size() - 1);
    auto tdir = open_dir(target_parent, false, e);
    if (!tdir.ok()) return entry_error(e, Errc::parse, "hardlink target not found");
    const std::string& tleaf = e.link_parts.back();
    struct stat st {};
    if (::fstatat(tdir->get(), tleaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return entry_error(
          e, Errc::parse,
          "hardlink target '" + printable_name(join(e.link_parts)) + "' does not exist");
    }
    if (S_ISDIR(st.st_mode)) return entry_error(e, Errc::parse, "hardlink to a directory");
    ACON_CHECK(make_room(e, dir, leaf, false));
    if (::linkat(tdir->get(), tleaf.c_str(), dir, leaf.c_str(), 0) != 0) {
      return entry_os_error(e, "link");
    }
    return {};
  }

  Status make_special(const Entry& e, int dir, const std::string& leaf) {
    ACON_CHECK(make_room(e, dir, leaf, false));
    const mode_t type = e.kind == Kind::chardev    ? S_IFCHR
                        : e.kind == Kind::blockdev ? S_IFBLK
                                                   : S_IFIFO;
    if (::mknodat(dir, leaf.c_str(), type | (e.mode & 0777), e.rdev) != 0) {
      return entry_os_error(e, "mknod");
    }
    if (options_.preserve_owner &&
        ::fchownat(dir, leaf.c_str(), e.uid, e.gid, AT_SYMLINK_NOFOLLOW) != 0) {
      return entry_os_error(e, "chown");
    }
    return set_times_nofollow(e, dir, leaf);
  }

  Status apply_whiteout(const Entry& e) {
    const std::span<const std::string> parent(e.parts.data(), e.parts.size() - 1);
    auto dir = open_dir(parent, false, e);
    if (!dir.ok()) {
      if (dir.error().code == Errc::not_found) return {};  // nothing below to hide
      return std::move(dir).error();
    }
    auto removed = remove_tree(dir->get(), e.whiteout_target, "whiteout");
    if (!removed.ok()) return entry_error(e, Errc::io, removed.error().message);
    return {};
  }

  Status apply_opaque(const Entry& e) {
    const std::span<const std::string> parent(e.parts.data(), e.parts.size() - 1);
    mark_touched(parent);
    ACON_TRY(UniqueFd dir, open_dir(parent, true, e));
    return clear_untouched(e, dir.get(), join(parent));
  }

  // Removes what lower layers left in `dir` (path `prefix`), keeping this layer's entries.
  Status clear_untouched(const Entry& e, int dir, const std::string& prefix) {
    std::vector<std::string> children;
    {
      int listing = ::dup(dir);
      DIR* d = listing >= 0 ? ::fdopendir(listing) : nullptr;
      if (d == nullptr) {
        if (listing >= 0) ::close(listing);
        return entry_os_error(e, "opendir");
      }
      std::unique_ptr<DIR, int (*)(DIR*)> owned(d, &::closedir);
      while (dirent* ent = ::readdir(d)) {
        std::string_view n = ent->d_name;
        if (n != "." && n != "..") children.emplace_back(n);
      }
    }
    for (const auto& child : children) {
      const std::string path = prefix.empty() ? child : prefix + "/" + child;
      if (!touched_.contains(path)) {
        auto removed = remove_tree(dir, child, "opaque whiteout");
        if (!removed.ok()) return entry_error(e, Errc::io, removed.error().message);
        continue;
      }
      UniqueFd sub(::openat(dir, child.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (sub.valid()) ACON_CHECK(clear_untouched(e, sub.get(), path));
    }
    return {};
  }

  void mark_touched(std::span<const std::string> parts) {
    if (options_.whiteouts != WhiteoutMode::apply) return;
    std::string path;
    for (const auto& p : parts) {
      if (!path.empty()) path.push_back('/');
      path += p;
      touched_.insert(path);
    }
  }

  int root_;
  const ExtractOptions& options_;
  std::unordered_set<std::string> touched_;  // paths this layer wrote (and their parents)
  std::map<std::string, DirMeta> dirs_;
};

}  // namespace

Result<ExtractResult> extract_layer(ByteSource& tar, int root_dirfd,
                                    const ExtractOptions& options) {
  Extractor extractor(root_dirfd, options);
  ACON_TRY(ExtractResult stats,
           for_each_entry(tar, options, [&](archive* a, const Entry& e, ExtractResult& s) {
             return extractor.handle(a, e, s);
           }));
  ACON_CHECK(extractor.finish());
  return stats;
}

Result<ExtractResult> extract_layer(ByteSource& tar, const std::filesystem::path& root,
                                    const ExtractOptions& options) {
  UniqueFd dir(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) {
    return make_error(Errc::io, root.string() + ": " + std::strerror(errno));
  }
  return extract_layer(tar, dir.get(), options);
}

Result<ExtractResult> scan_layer(ByteSource& tar, const ExtractOptions& options) {
  return for_each_entry(tar, options, [](archive* a, const Entry& e, ExtractResult& stats) {
    if (e.kind == Kind::whiteout || e.kind == Kind::opaque) ++stats.whiteouts;
    return skip_data(a, e);
  });
}

}  // namespace acon::image::layers
