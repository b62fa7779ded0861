// Safe extraction of layer tarballs into a directory, with OCI whiteouts for stacked layers.
//
// Every path is resolved component by component from a directory descriptor of the target root
// (openat with O_NOFOLLOW), never as a string handed to the kernel, so neither a crafted entry
// name nor a symlink extracted earlier can make a write land outside the root:
//  - absolute names are refused (or, with strip_absolute, taken relative to the root); a ".."
//    component is always refused;
//  - a symlink met in the parent path of a later entry is followed the way chroot(2) would at the
//    root: absolute targets restart at the root and ".." stops there;
//  - the last component of an entry is never followed: whatever exists there is replaced;
//  - hardlink targets are looked up inside the root the same way and must be existing
//    non-directories;
//  - symlinks are stored as given, except that relative targets climbing above the root are
//    refused (absolute targets are root-relative inside the container and never followed here);
//  - device nodes and FIFOs are refused unless allowed; setuid/setgid bits are cleared unless kept;
//  - sparse, encrypted and multi-volume entries are refused.
// Limits bound the entry count, sizes, name lengths, depth and header bytes per entry. Errors name
// the entry and the byte offset of its header in the (uncompressed) tar stream.
//
// On failure the target may hold part of the layer: extract into a staging directory and discard
// it on error.
#pragma once

#include <cstdint>
#include <filesystem>

#include "acon/image/layers/stream.h"

namespace acon::image::layers {

enum class WhiteoutMode {
  // OCI image-spec whiteouts: ".wh.NAME" deletes NAME from the layers below; ".wh..wh..opq"
  // empties its directory of everything not written by this layer. Whiteout entries themselves
  // are not created. Extracting layers bottom-first into one directory gives the merged rootfs.
  apply,
  // Whiteout entries are ordinary files (what acond's unpacking does).
  literal,
};

struct ExtractLimits {
  uint64_t max_entries = 1'000'000;
  uint64_t max_total_bytes = uint64_t{16} << 30;  // sum of regular-file sizes
  uint64_t max_entry_bytes = uint64_t{16} << 30;
  size_t max_path_bytes = 4096;  // PATH_MAX
  size_t max_name_bytes = 255;   // NAME_MAX, per component
  size_t max_link_bytes = 4096;  // symlink and hardlink targets
  size_t max_depth = 256;        // components of one path
  // Bytes of tar headers (ustar + pax + GNU long-name records) in front of one entry's data.
  uint64_t max_header_bytes = 64 * 1024;
};

struct ExtractOptions {
  ExtractLimits limits;
  WhiteoutMode whiteouts = WhiteoutMode::apply;
  bool strip_absolute = false;       // "/etc/x" becomes "etc/x" instead of an error
  bool allow_special_files = false;  // character/block devices and FIFOs (mknod needs privilege)
  bool keep_setid = false;           // keep setuid/setgid bits instead of clearing them
  bool preserve_owner = false;       // chown to the entry's numeric uid/gid (needs CAP_CHOWN)
  bool allow_escaping_symlinks = false;  // relative symlink targets that climb above the root
  bool allow_compressed = false;         // gzip/zstd/xz/bzip2 input; ACON layers are plain tar
  // Digests of the raw input bytes (all of them, up to the end of the stream), kDigest* mask.
  uint32_t digest_mask = 0;
};

struct ExtractResult {
  uint64_t entries = 0;        // tar entries read, whiteouts included
  uint64_t file_bytes = 0;     // regular-file data written
  uint64_t whiteouts = 0;      // whiteout entries applied
  uint64_t setid_cleared = 0;  // entries whose setuid/setgid bits were cleared
  LayerDigests digests;        // of the raw input, if ExtractOptions::digest_mask asked
};

// Extracts `tar` into the directory `root_dirfd` (which stays owned by the caller).
Result<ExtractResult> extract_layer(ByteSource& tar, int root_dirfd, const ExtractOptions& options);
// Opens `root` (which must exist and be a directory) and extracts into it.
Result<ExtractResult> extract_layer(ByteSource& tar, const std::filesystem::path& root,
                                    const ExtractOptions& options);

// Reads the whole tarball and applies every check extract_layer makes that does not depend on
// the target directory (names, types, link targets, limits), writing nothing. Used to vet a
// layer before it is stored or measured.
Result<ExtractResult> scan_layer(ByteSource& tar, const ExtractOptions& options);

}  // namespace acon::image::layers
