// An evidence bundle that arrives as one archive (.tar or .tar.gz): read in memory with
// libarchive under fixed bounds, then handed to the appraisal library's directory loader, so the
// bundle layout is parsed in one place (docs/evidence.md "Bundle layout"). The archive is
// attacker-controlled: only regular files and directories under relative paths are accepted;
// links, devices, FIFOs, absolute paths and ".." are refused, as are too many entries, an entry
// or a total over the evidence bounds, and the same path twice.
#pragma once

#include <cstddef>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "acon/appraisal/evidence.h"
#include "acon/common/bytes.h"
#include "acon/common/result.h"

namespace acon::report {

// A fresh private directory (mode 0700, under $TMPDIR or /tmp) that is removed with everything in
// it when this goes out of scope.
class TemporaryDirectory {
 public:
  static Result<TemporaryDirectory> create();
  TemporaryDirectory(TemporaryDirectory&& other) noexcept;
  TemporaryDirectory& operator=(TemporaryDirectory&&) = delete;
  TemporaryDirectory(const TemporaryDirectory&) = delete;
  TemporaryDirectory& operator=(const TemporaryDirectory&) = delete;
  ~TemporaryDirectory();
  const std::filesystem::path& path() const { return path_; }

 private:
  explicit TemporaryDirectory(std::filesystem::path path) : path_(std::move(path)) {}
  std::filesystem::path path_;
};

struct ArchiveLimits {
  // A bundle has at most 19 top-level files and 3 files (plus one directory) per image.
  size_t max_entries = 32 + 4 * appraisal::kMaxEvidenceImages;
  size_t max_entry_bytes = appraisal::kMaxEvidenceMemberBytes;
  size_t max_total_bytes = appraisal::kMaxEvidenceBytes;
  size_t max_path_bytes = 512;
};

// One regular file of the archive; `path` is relative, '/'-separated, without "." or ".."
// components or a trailing '/'.
struct ArchiveFile {
  std::string path;
  Bytes content;
};

// Every regular file of a tar archive, optionally gzip-compressed (the format is recognised from
// the bytes, not a file name), in archive order. When every entry lies under one top-level
// directory (`tar -cf b.tar bundle/`), that directory is removed from the paths. Errors are
// Errc::parse naming the entry ("entry 3 (bundle/../x): path leaves the bundle") or the bound.
Result<std::vector<ArchiveFile>> read_evidence_archive(ByteView archive,
                                                       const ArchiveLimits& limits = {});

// Bundle files given one by one (`path` as in the bundle layout: "quote.bin",
// "images/000/manifest.json"), written into a fresh private temporary directory (0700, removed
// again before returning) and loaded with appraisal::load_evidence_directory. Errors name a file
// as "<source>:<path>", never the temporary directory. The same bounds as an archive apply.
Result<appraisal::Evidence> load_evidence_files(std::span<const ArchiveFile> files,
                                                std::string_view source,
                                                const ArchiveLimits& limits = {});

// read_evidence_archive, then load_evidence_files.
Result<appraisal::Evidence> load_evidence_archive(ByteView archive, std::string_view source,
                                                  const ArchiveLimits& limits = {});

}  // namespace acon::report
