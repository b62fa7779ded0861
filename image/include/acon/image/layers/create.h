// Deterministic layer tarballs from a root filesystem directory.
//
// The same tree gives the same bytes: entries are emitted depth-first with the names of each
// directory sorted bytewise (a directory before its contents), in POSIX pax-restricted format
// (plain ustar headers; a pax record only where ustar cannot hold a value, e.g. names over 100
// bytes); names are relative with no "./" prefix, directories end in "/"; owners are numeric
// (no user/group names); modes keep all 12 permission bits; symlinks are stored as links; files
// sharing an inode become hardlinks to the first name in that order; the archive ends with the
// two zero blocks and no record padding. Extended attributes, ACLs and file capabilities are not
// stored. Sockets are skipped; device nodes and FIFOs are refused unless allowed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>

#include "acon/image/layers/stream.h"

namespace acon::image::layers {

struct CreateOptions {
  // Modification time written for every entry; nullopt keeps each file's own (whole seconds).
  // The default 0 makes the layer depend only on names, contents, modes and owners.
  std::optional<int64_t> mtime = 0;
  // Numeric owner written for every entry instead of the file's own (e.g. 0 for a rootfs built
  // by an unprivileged user).
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
  bool allow_special_files = false;  // store character/block devices and FIFOs
  uint32_t digest_mask = kDigestSha384 | kDigestSha256;
};

// Writes the tarball of everything under `rootfs` (not the root itself) to `out`, returning the
// digests of exactly the bytes written.
Result<LayerDigests> create_layer(const std::filesystem::path& rootfs, ByteSink& out,
                                  const CreateOptions& options = {});

// A regular file to store in an archive.
struct ArchiveMember {
  std::string name;              // relative '/'-separated name in the archive
  std::filesystem::path source;  // the file to read (symlinks followed)
};

// Writes `members` in the given order as regular-file entries (permission bits from the source
// file, times and owners as for create_layer), with the same format rules as create_layer.
// Parent directories get no entries of their own. Used for repository export bundles.
Result<LayerDigests> create_archive(std::span<const ArchiveMember> members, ByteSink& out,
                                    const CreateOptions& options = {});

}  // namespace acon::image::layers
