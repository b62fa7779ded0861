#include "acon/report/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>
#include <span>
#include <utility>

#include "acon/common/unique_fd.h"

namespace acon::report {
namespace {

namespace fs = std::filesystem;

struct ArchiveReadFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
using ArchiveReadPtr = std::unique_ptr<archive, ArchiveReadFree>;

std::string entry_name(size_t number, std::string_view path) {
  return "entry " + std::to_string(number) + " (" + std::string(path) + ")";
}

// The path's components without "." ones; an error for anything that could leave the bundle
// directory or name it ambiguously.
Result<std::vector<std::string>> path_components(std::string_view path, bool directory,
                                                 const std::string& where) {
  if (path.empty()) return make_error(Errc::parse, where + ": empty path");
  if (path.front() == '/') return make_error(Errc::parse, where + ": absolute path");
  if (directory && path.back() == '/') path.remove_suffix(1);
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (part == "..") return make_error(Errc::parse, where + ": path leaves the bundle");
    if (part.empty()) return make_error(Errc::parse, where + ": empty path component");
    if (part != ".") parts.emplace_back(part);
    start = end + 1;
  }
  return parts;
}

std::string join(std::span<const std::string> parts) {
  std::string out;
  for (const std::string& part : parts) out += (out.empty() ? "" : "/") + part;
  return out;
}

Status write_new_file(const fs::path& path, ByteView content) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) return make_error(Errc::io, path.string() + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return make_error(Errc::io, path.string() + ": " + std::strerror(errno));
    done += static_cast<size_t>(n);
  }
  return {};
}

// Errors of the directory loader name files under the staging directory; the user knows them as
// members of the archive.
std::string rename_paths(std::string message, const std::string& staged, std::string_view source) {
  const std::string member_prefix = std::string(source) + ":";
  for (size_t at = message.find(staged); at != std::string::npos; at = message.find(staged, at)) {
    const bool member = at + staged.size() < message.size() && message[at + staged.size()] == '/';
    const std::string replacement = member ? member_prefix : std::string(source);
    message.replace(at, staged.size() + (member ? 1 : 0), replacement);
    at += replacement.size();
  }
  return message;
}

}  // namespace

Result<TemporaryDirectory> TemporaryDirectory::create() {
  std::error_code ec;
  fs::path base = fs::temp_directory_path(ec);
  if (ec) base = "/tmp";
  std::string tmpl = (base / "acon-evidence-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr)
    return make_error(Errc::io, tmpl + ": " + std::strerror(errno));
  return TemporaryDirectory(fs::path(tmpl));
}

TemporaryDirectory::TemporaryDirectory(TemporaryDirectory&& other) noexcept
    : path_(std::exchange(other.path_, {})) {}

TemporaryDirectory::~TemporaryDirectory() {
  std::error_code ec;
  if (!path_.empty()) fs::remove_all(path_, ec);
}

Result<std::vector<ArchiveFile>> read_evidence_archive(ByteView bytes,
                                                       const ArchiveLimits& limits) {
  ArchiveReadPtr reader(archive_read_new());
  if (!reader) return make_error(Errc::io, "libarchive: out of memory");
  // tar (ustar, pax, GNU) only, optionally gzip-compressed: nothing else is a bundle archive.
  archive_read_support_format_tar(reader.get());
  archive_read_support_filter_gzip(reader.get());
  if (bytes.empty() ||
      archive_read_open_memory(reader.get(), bytes.data(), bytes.size()) != ARCHIVE_OK)
    return make_error(Errc::parse, "not a tar or tar.gz archive");

  std::vector<ArchiveFile> files;
  std::set<std::string> seen;
  size_t total = 0;
  Bytes chunk(64 * 1024);
  for (size_t number = 1;; ++number) {
    archive_entry* entry = nullptr;
    const int status = archive_read_next_header(reader.get(), &entry);
    if (status == ARCHIVE_EOF) break;
    if (status != ARCHIVE_OK && status != ARCHIVE_WARN) {
      const char* why = archive_error_string(reader.get());
      return make_error(Errc::parse, "entry " + std::to_string(number) + ": " +
                                         (why != nullptr ? why : "unreadable header"));
    }
    if (number > limits.max_entries)
      return make_error(Errc::parse, "more than " + std::to_string(limits.max_entries) +
                                         " entries (an evidence bundle has far fewer)");
    const char* raw_path = archive_entry_pathname(entry);
    const std::string path = raw_path != nullptr ? raw_path : "";
    const std::string where = entry_name(number, path.substr(0, limits.max_path_bytes));
    if (path.size() > limits.max_path_bytes)
      return make_error(Errc::parse, where + ": path longer than " +
                                         std::to_string(limits.max_path_bytes) + " bytes");
    if (archive_entry_hardlink(entry) != nullptr)
      return make_error(Errc::parse, where + ": hard link (only regular files are accepted)");
    const mode_t type = archive_entry_filetype(entry);
    if (type != AE_IFREG && type != AE_IFDIR) {
      const char* kind = type == AE_IFLNK                       ? "symbolic link"
                         : type == AE_IFCHR || type == AE_IFBLK ? "device"
                         : type == AE_IFIFO                     ? "FIFO"
                                                                : "special file";
      return make_error(Errc::parse,
                        where + ": " + kind + " (only regular files and directories are accepted)");
    }
    ACON_TRY(auto parts, path_components(path, type == AE_IFDIR, where));
    if (type == AE_IFDIR) continue;  // directories come from the files' paths
    if (parts.empty()) return make_error(Errc::parse, where + ": a file without a name");
    if (archive_entry_size_is_set(entry) &&
        static_cast<uint64_t>(archive_entry_size(entry)) > limits.max_entry_bytes)
      return make_error(Errc::parse, where + ": larger than " +
                                         std::to_string(limits.max_entry_bytes) + " bytes");
    ArchiveFile file{join(parts), {}};
    if (!seen.insert(file.path).second)
      return make_error(Errc::parse, where + ": the same path twice");
    // The header's size is not trusted: what is read is bounded as it arrives.
    for (;;) {
      const la_ssize_t n = archive_read_data(reader.get(), chunk.data(), chunk.size());
      if (n == 0) break;
      if (n < 0) {
        const char* why = archive_error_string(reader.get());
        return make_error(Errc::parse, where + ": " + (why != nullptr ? why : "unreadable data"));
      }
      const auto got = static_cast<size_t>(n);
      if (file.content.size() + got > limits.max_entry_bytes)
        return make_error(Errc::parse, where + ": larger than " +
                                           std::to_string(limits.max_entry_bytes) + " bytes");
      if (total + got > limits.max_total_bytes)
        return make_error(Errc::parse, "the files together are larger than " +
                                           std::to_string(limits.max_total_bytes) + " bytes");
      total += got;
      file.content.insert(file.content.end(), chunk.begin(), chunk.begin() + n);
    }
    files.push_back(std::move(file));
  }

  // `tar -cf bundle.tar bundle/`: one top-level directory holding everything.
  if (!files.empty()) {
    const std::string top = files.front().path.substr(0, files.front().path.find('/'));
    const bool one_top_directory = std::all_of(files.begin(), files.end(), [&](const auto& f) {
      return f.path.size() > top.size() + 1 && f.path.compare(0, top.size(), top) == 0 &&
             f.path[top.size()] == '/';
    });
    if (one_top_directory)
      for (ArchiveFile& file : files) file.path.erase(0, top.size() + 1);
  }
  // A file that is also another file's directory ("a" and "a/b") cannot be laid out.
  std::set<std::string> paths;
  for (const ArchiveFile& file : files) paths.insert(file.path);
  for (const ArchiveFile& file : files)
    for (size_t slash = file.path.find('/'); slash != std::string::npos;
         slash = file.path.find('/', slash + 1))
      if (paths.contains(file.path.substr(0, slash)))
        return make_error(Errc::parse, file.path + ": its directory " + file.path.substr(0, slash) +
                                           " is also a file");
  return files;
}

Result<appraisal::Evidence> load_evidence_files(std::span<const ArchiveFile> files,
                                                std::string_view source,
                                                const ArchiveLimits& limits) {
  if (files.size() > limits.max_entries)
    return make_error(Errc::parse, std::string(source) + ": more than " +
                                       std::to_string(limits.max_entries) + " files");
  size_t total = 0;
  for (const ArchiveFile& file : files) {
    const std::string where = std::string(source) + ":" + file.path;
    ACON_TRY(auto parts, path_components(file.path, false, where));
    if (parts.empty() || join(parts) != file.path)
      return make_error(Errc::invalid_argument, where + ": not a plain relative bundle path");
    if (file.content.size() > limits.max_entry_bytes)
      return make_error(Errc::parse, where + ": larger than " +
                                         std::to_string(limits.max_entry_bytes) + " bytes");
    total += file.content.size();
    if (total > limits.max_total_bytes)
      return make_error(Errc::parse, std::string(source) + ": the files together are larger than " +
                                         std::to_string(limits.max_total_bytes) + " bytes");
  }
  ACON_TRY(TemporaryDirectory staging, TemporaryDirectory::create());
  const std::string staged = staging.path().string();
  for (const ArchiveFile& file : files) {
    const fs::path target = staging.path() / file.path;
    std::error_code ec;
    fs::create_directories(target.parent_path(), ec);
    if (ec)
      return make_error(Errc::io, std::string(source) + ":" + file.path + ": " + ec.message());
    if (auto written = write_new_file(target, file.content); !written)
      return make_error(written.error().code,
                        rename_paths(written.error().message, staged, source));
  }
  auto evidence = appraisal::load_evidence_directory(staging.path());
  if (!evidence)
    return make_error(evidence.error().code,
                      rename_paths(evidence.error().message, staged, source));
  return evidence;
}

Result<appraisal::Evidence> load_evidence_archive(ByteView archive, std::string_view source,
                                                  const ArchiveLimits& limits) {
  auto files = read_evidence_archive(archive, limits);
  if (!files) return files.error().wrap(source);
  return load_evidence_files(*files, source, limits);
}

}  // namespace acon::report
