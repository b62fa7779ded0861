// Internal plumbing of the layer library: owned descriptors, libarchive handles, the UTF-8 locale
// libarchive needs for pax names, and libarchive reading from a ByteSource.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <locale.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "acon/common/unique_fd.h"
#include "acon/image/layers/stream.h"

namespace acon::image::layers::detail {

using acon::UniqueFd;

struct ArchiveReadFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct ArchiveWriteFree {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct ArchiveEntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using ArchiveReadPtr = std::unique_ptr<archive, ArchiveReadFree>;
using ArchiveWritePtr = std::unique_ptr<archive, ArchiveWriteFree>;
using ArchiveEntryPtr = std::unique_ptr<archive_entry, ArchiveEntryFree>;

// libarchive converts pax (UTF-8) names to the current locale's charset and warns when it cannot;
// a process left in the "C" locale would see every non-ASCII name as a conversion failure. This
// switches the calling thread (only) to C.UTF-8 for the scope, so names pass through unchanged.
class Utf8LocaleScope {
 public:
  Utf8LocaleScope();
  ~Utf8LocaleScope();
  Utf8LocaleScope(const Utf8LocaleScope&) = delete;
  Utf8LocaleScope& operator=(const Utf8LocaleScope&) = delete;

 private:
  locale_t utf8_ = static_cast<locale_t>(0);
  locale_t previous_ = static_cast<locale_t>(0);
};

// Feeds a libarchive reader from a ByteSource, hashing every byte handed over and keeping the
// source's own error (libarchive only keeps a message).
class SourceFeed {
 public:
  static constexpr size_t kChunk = 256 * 1024;
  SourceFeed(ByteSource& source, std::optional<MultiHasher> hasher)
      : source_(source), hasher_(std::move(hasher)), buffer_(kChunk) {}

  // archive_read_open2 with this feed as the client. Without a hasher, skipped entry data is
  // seeked over when the source allows it.
  int open(archive* a);
  // Reads what libarchive left unread (after the end-of-archive blocks) so that the digests
  // cover the whole stream: record padding, at most kMaxTrailingBytes (tar's blocking factor
  // pads to 10 KiB by default; a stream of zeros from a device would otherwise never end).
  static constexpr uint64_t kMaxTrailingBytes = uint64_t{16} << 20;
  Status drain();
  LayerDigests digests() { return hasher_ ? hasher_->finish() : LayerDigests{}; }
  uint64_t bytes_read() const { return total_; }
  // The source's error behind a libarchive failure, if there was one.
  const std::optional<Error>& source_error() const { return error_; }

 private:
  static la_ssize_t read_callback(archive* a, void* self, const void** buffer);
  static la_int64_t skip_callback(archive* a, void* self, la_int64_t request);
  ByteSource& source_;
  std::optional<MultiHasher> hasher_;
  Bytes buffer_;
  uint64_t total_ = 0;
  std::optional<Error> error_;
};

// Printable form of an entry name for messages: escapes control and non-ASCII bytes, shortens
// very long names.
std::string printable_name(std::string_view name);

// "<what>: <libarchive message>" (or the source's own error) as a parse/io error.
Error archive_failure(archive* a, const SourceFeed* feed, std::string_view what);

}  // namespace acon::image::layers::detail
