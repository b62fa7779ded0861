#include "acon/image/listing.h"

namespace acon::image {

namespace {

// printf's "%-Ns": `text` left-aligned in at least `width` bytes.
std::string padded(std::string_view text, size_t width) {
  std::string out(text);
  if (out.size() < width) out.resize(width, ' ');
  return out;
}

std::string joined(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : std::string(separator)) + item;
  return out;
}

std::string table_line(const std::vector<std::string_view>& cells) {
  static constexpr size_t kWidths[] = {14, 14, 7, 8, 6, 20};
  std::string line;
  for (size_t i = 0; i < cells.size(); ++i) {
    line += i < std::size(kWidths) ? padded(cells[i], kWidths[i]) + " " : std::string(cells[i]);
  }
  return line + "\n";
}

}  // namespace

std::string_view listing_status_name(ListingStatus status) {
  switch (status) {
    case ListingStatus::ok:
      return "ok";
    case ListingStatus::unreadable:
      return "unreadable";
    case ListingStatus::invalid:
      return "invalid";
    case ListingStatus::refused:
      return "refused";
  }
  return "?";
}

std::vector<ImageListing> list_images(const Repository& repo, CertProfile profile) {
  std::vector<ImageListing> rows;
  for (const auto& dir : repo.bundle_dirs()) {
    ImageListing row;
    row.dir = dir;
    auto bundle = read_bundle_dir(dir);
    auto signed_manifest =
        bundle ? verify_bundle(*bundle, profile) : Result<SignedManifest>(bundle.error());
    if (!signed_manifest) {
      row.status = !bundle                                               ? ListingStatus::unreadable
                   : signed_manifest.error().code == Errc::verify_failed ? ListingStatus::invalid
                                                                         : ListingStatus::refused;
      row.error = signed_manifest.error().to_string();
      if (bundle) {
        if (auto parsed = parse_manifest(bundle->manifest))
          row.layers = parsed->layers_or_default();
      }
    } else {
      const Manifest& m = signed_manifest->manifest;
      row.identity = signed_manifest->identity;
      row.layers = m.layers_or_default();
      row.entrypoint = m.entrypoint_or_default();
      for (const auto& [object, names] : m.aliases.self) {
        row.self_aliases.insert(row.self_aliases.end(), names.begin(), names.end());
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

Json image_listing_json(const std::vector<ImageListing>& rows) {
  Json list = Json::array();
  for (const auto& row : rows) {
    Json item = {{"path", row.dir.string()}, {"status", listing_status_name(row.status)}};
    if (row.error) item["error"] = *row.error;
    if (row.identity) {
      item["image_id"] = row.identity->image_id();
      item["signer_id"] = row.identity->signer_id();
      item["layers"] = row.layers;
      item["entrypoint"] = row.entrypoint;
      item["aliases"] = row.self_aliases;
    }
    list.push_back(std::move(item));
  }
  return list;
}

std::string image_listing_table(const std::vector<ImageListing>& rows, bool full_digests) {
  const auto shorten = [&](const std::string& hex) {
    return full_digests || hex.size() <= 12 ? hex : hex.substr(0, 12);
  };
  std::string out =
      table_line({"MANIFEST", "SIGNER", "HASH", "STATUS", "LAYERS", "ALIASES", "ENTRYPOINT"});
  for (const auto& row : rows) {
    const std::string aliases = joined(row.self_aliases, ",");
    out += table_line({shorten(row.dir.filename().string()),
                       row.identity ? shorten(row.identity->signer_digest) : "-",
                       row.dir.parent_path().filename().string(), listing_status_name(row.status),
                       std::to_string(row.layers.size()), aliases.empty() ? "-" : aliases,
                       joined(row.entrypoint, " ")});
  }
  return out;
}

}  // namespace acon::image
