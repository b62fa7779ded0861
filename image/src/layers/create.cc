#include "acon/image/layers/create.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include "archive_util.h"

namespace acon::image::layers {
namespace {

using detail::printable_name;
using detail::UniqueFd;

Error path_error(std::string_view path, std::string_view what, int err) {
  return make_error(Errc::io, "rootfs '" + printable_name(path) + "': " + std::string(what) + ": " +
                                  std::strerror(err));
}

class TarWriter {
 public:
  TarWriter(const CreateOptions& options, DigestingSink& sink)
      : options_(options), sink_(sink), buffer_(1 << 20) {}

  Status open() {
    a_.reset(archive_write_new());
    if (!a_) return make_error(Errc::crypto, "libarchive: out of memory");
    // pax-restricted: plain ustar unless a value does not fit, then a pax record for it.
    if (archive_write_set_format_pax_restricted(a_.get()) != ARCHIVE_OK ||
        archive_write_set_bytes_per_block(a_.get(), 10240) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(a_.get(), 1) != ARCHIVE_OK ||
        archive_write_open(a_.get(), this, nullptr, &TarWriter::write_callback, nullptr) !=
            ARCHIVE_OK) {
      return failure("open");
    }
    return {};
  }

  Status close() {
    if (archive_write_close(a_.get()) != ARCHIVE_OK) return failure("finish");
    return {};
  }

  Status walk(int dirfd, const std::string& prefix) {
    std::vector<std::string> names;
    {
      int listing = ::dup(dirfd);
      DIR* d = listing >= 0 ? ::fdopendir(listing) : nullptr;
      if (d == nullptr) {
        const int err = errno;
        if (listing >= 0) ::close(listing);
        return path_error(prefix, "opendir", err);
      }
      std::unique_ptr<DIR, int (*)(DIR*)> owned(d, &::closedir);
      errno = 0;
      while (dirent* ent = ::readdir(d)) {
        std::string_view n = ent->d_name;
        if (n != "." && n != "..") names.emplace_back(n);
      }
      if (errno != 0) return path_error(prefix, "readdir", errno);
    }
    // std::string compares as unsigned bytes: the order does not depend on the locale.
    std::sort(names.begin(), names.end());
    for (const auto& name : names) ACON_CHECK(add(dirfd, name, prefix + name));
    return {};
  }

  Status add_member(const ArchiveMember& member) {
    if (member.name.empty() || member.name.front() == '/') {
      return make_error(Errc::invalid_argument,
                        "archive member name '" + printable_name(member.name) + "'");
    }
    UniqueFd fd(::open(member.source.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return path_error(member.source.string(), "open", errno);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return path_error(member.source.string(), "stat", errno);
    if (!S_ISREG(st.st_mode)) {
      return make_error(Errc::invalid_argument, member.source.string() + ": not a regular file");
    }
    detail::ArchiveEntryPtr entry(archive_entry_new());
    if (!entry) return make_error(Errc::crypto, "libarchive: out of memory");
    archive_entry_set_filetype(entry.get(), AE_IFREG);
    archive_entry_set_pathname(entry.get(), member.name.c_str());
    archive_entry_set_perm(entry.get(), st.st_mode & 0777);
    archive_entry_set_uid(entry.get(), options_.uid.value_or(st.st_uid));
    archive_entry_set_gid(entry.get(), options_.gid.value_or(st.st_gid));
    archive_entry_set_mtime(entry.get(), options_.mtime.value_or(st.st_mtim.tv_sec), 0);
    archive_entry_set_size(entry.get(), st.st_size);
    ACON_CHECK(write_header(entry.get(), member.name));
    return copy_data(fd.get(), static_cast<uint64_t>(st.st_size), member.source.string());
  }

 private:
  static la_ssize_t write_callback(archive* a, void* self, const void* buffer, size_t length) {
    auto* w = static_cast<TarWriter*>(self);
    Status s = w->sink_.write(ByteView(static_cast<const uint8_t*>(buffer), length));
    if (!s.ok()) {
      w->sink_error_ = s.error();
      archive_set_error(a, EIO, "%s", s.error().message.c_str());
      return -1;
    }
    return static_cast<la_ssize_t>(length);
  }

  Error failure(std::string_view what) {
    if (sink_error_) return sink_error_->wrap("layer output");
    const char* msg = archive_error_string(a_.get());
    return make_error(Errc::io, "layer " + std::string(what) + ": " +
                                    (msg != nullptr ? msg : "libarchive error"));
  }

  Status write_header(archive_entry* entry, std::string_view path) {
    const int r = archive_write_header(a_.get(), entry);
    // WARN: a name that is not valid UTF-8 went into a pax record as binary; still exact.
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      return failure("entry '" + printable_name(path) + "'");
    }
    return {};
  }

  Status add(int dirfd, const std::string& name, const std::string& path) {
    struct stat st {};
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return path_error(path, "stat", errno);
    }
    if (S_ISSOCK(st.st_mode)) return {};  // a tar cannot carry a socket
    detail::ArchiveEntryPtr entry(archive_entry_new());
    if (!entry) return make_error(Errc::crypto, "libarchive: out of memory");
    archive_entry_set_perm(entry.get(), st.st_mode & 07777);
    archive_entry_set_uid(entry.get(), options_.uid.value_or(st.st_uid));
    archive_entry_set_gid(entry.get(), options_.gid.value_or(st.st_gid));
    archive_entry_set_mtime(entry.get(), options_.mtime.value_or(st.st_mtim.tv_sec), 0);

    if (S_ISDIR(st.st_mode)) {
      archive_entry_set_filetype(entry.get(), AE_IFDIR);
      archive_entry_set_pathname(entry.get(), (path + "/").c_str());
      ACON_CHECK(write_header(entry.get(), path));
      UniqueFd sub(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!sub.valid()) return path_error(path, "open", errno);
      return walk(sub.get(), path + "/");
    }
    archive_entry_set_pathname(entry.get(), path.c_str());
    if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t n = ::readlinkat(dirfd, name.c_str(), target.data(), target.size());
      if (n < 0) return path_error(path, "readlink", errno);
      if (static_cast<size_t>(n) != target.size() - 1) {
        return make_error(Errc::io, "rootfs '" + printable_name(path) + "': symlink changed");
      }
      target.resize(static_cast<size_t>(n));
      archive_entry_set_filetype(entry.get(), AE_IFLNK);
      archive_entry_set_symlink(entry.get(), target.c_str());
      return write_header(entry.get(), path);
    }
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode)) {
      if (!options_.allow_special_files) {
        return make_error(Errc::unsupported, "rootfs '" + printable_name(path) +
                                                 "': device node or FIFO (not allowed)");
      }
      archive_entry_set_filetype(entry.get(), S_ISCHR(st.st_mode)   ? AE_IFCHR
                                              : S_ISBLK(st.st_mode) ? AE_IFBLK
                                                                    : AE_IFIFO);
      archive_entry_set_rdev(entry.get(), st.st_rdev);
      return write_header(entry.get(), path);
    }
    if (!S_ISREG(st.st_mode)) {
      return make_error(Errc::unsupported, "rootfs '" + printable_name(path) + "': unknown type");
    }
    archive_entry_set_filetype(entry.get(), AE_IFREG);
    if (st.st_nlink > 1) {
      auto [it, first] = inodes_.try_emplace({st.st_dev, st.st_ino}, path);
      if (!first) {
        archive_entry_set_hardlink(entry.get(), it->second.c_str());
        archive_entry_set_size(entry.get(), 0);
        return write_header(entry.get(), path);
      }
    }
    UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) return path_error(path, "open", errno);
    archive_entry_set_size(entry.get(), st.st_size);
    ACON_CHECK(write_header(entry.get(), path));
    return copy_data(fd.get(), static_cast<uint64_t>(st.st_size), path);
  }

  // Streams exactly `size` bytes of `fd` as the current entry's data.
  Status copy_data(int fd, uint64_t size, const std::string& path) {
    uint64_t copied = 0;
    for (;;) {
      ssize_t n = ::read(fd, buffer_.data(), buffer_.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return path_error(path, "read", errno);
      }
      if (n == 0) break;
      copied += static_cast<uint64_t>(n);
      if (copied > size) break;
      if (archive_write_data(a_.get(), buffer_.data(), static_cast<size_t>(n)) != n) {
        return failure("data of '" + printable_name(path) + "'");
      }
    }
    if (copied != size) {
      return make_error(Errc::io, "'" + printable_name(path) + "': file changed while being read");
    }
    return {};
  }

  const CreateOptions& options_;
  DigestingSink& sink_;
  Bytes buffer_;
  detail::ArchiveWritePtr a_;
  std::optional<Error> sink_error_;
  std::map<std::pair<dev_t, ino_t>, std::string> inodes_;  // first name of each linked inode
};

}  // namespace

Result<LayerDigests> create_archive(std::span<const ArchiveMember> members, ByteSink& out,
                                    const CreateOptions& options) {
  detail::Utf8LocaleScope utf8;
  ACON_TRY(DigestingSink sink, DigestingSink::create(options.digest_mask, &out));
  TarWriter writer(options, sink);
  ACON_CHECK(writer.open());
  for (const auto& m : members) ACON_CHECK(writer.add_member(m));
  ACON_CHECK(writer.close());
  return sink.finish();
}

Result<LayerDigests> create_layer(const std::filesystem::path& rootfs, ByteSink& out,
                                  const CreateOptions& options) {
  detail::Utf8LocaleScope utf8;
  UniqueFd root(::open(rootfs.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) {
    return make_error(Errc::io, rootfs.string() + ": " + std::strerror(errno));
  }
  ACON_TRY(DigestingSink sink, DigestingSink::create(options.digest_mask, &out));
  TarWriter writer(options, sink);
  ACON_CHECK(writer.open());
  ACON_CHECK(writer.walk(root.get(), ""));
  ACON_CHECK(writer.close());
  return sink.finish();
}

}  // namespace acon::image::layers
