// The repository's images as acon-image ls shows them: one row per bundle directory, in
// listing order, whether or not its signature holds, and the two ways of printing the rows.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "acon/common/json.h"
#include "acon/image/repository.h"
#include "acon/image/signature.h"

namespace acon::image {

enum class ListingStatus {
  ok,          // the signature holds and the bundle is filed under its own digest
  unreadable,  // a bundle file is missing, oversize, a symlink or not parseable
  invalid,     // the signature or the filing does not hold (Errc::verify_failed)
  refused,     // the profile refuses the certificate, or the signed manifest does not parse
};
std::string_view listing_status_name(ListingStatus status);  // "ok", "unreadable", ...

struct ImageListing {
  std::filesystem::path dir;  // manifests/<alg>/<digest>
  ListingStatus status = ListingStatus::ok;
  std::optional<std::string> error;       // why the status is not ok
  std::optional<ImageIdentity> identity;  // when ok
  // The manifest's layers (also when the signature does not hold but the manifest parses),
  // entrypoint and aliases.self names (only when ok).
  std::vector<std::string> layers, entrypoint, self_aliases;
};

// Every bundle directory of `repo` (Repository::bundle_dirs order), read and verified.
std::vector<ImageListing> list_images(const Repository& repo, CertProfile profile);

// An array of {path, status, [error], [image_id, signer_id, layers, entrypoint, aliases]}.
Json image_listing_json(const std::vector<ImageListing>& rows);

// A header and one line per row: MANIFEST SIGNER HASH STATUS LAYERS ALIASES ENTRYPOINT, digests
// cut to 12 characters unless `full_digests`.
std::string image_listing_table(const std::vector<ImageListing>& rows, bool full_digests);

}  // namespace acon::image
