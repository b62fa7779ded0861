// Fuzzes layer / alias / Image ID / NAME:SVN parsing and vendor-layer resolution. Accepted
// references print back as the input; resolution terminates (alias cycles included) and every
// resolved layer is a digest reference.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "acon/image/policy.h"
#include "fuzz_support.h"

namespace {

using namespace acon::image;

std::vector<std::string> lines_of(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size() && out.size() < 64) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    out.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto lines = lines_of(text);

  for (const std::string& line : lines) {
    if (auto d = parse_digest_ref(line); d.ok() && d->to_string() != line) abort();
    if (auto a = parse_alias_ref(line); a.ok() && a->to_string() != line) abort();
    auto l = parse_layer_ref(line);
    if (l.ok() && (l->to_string() != line || l->digest.has_value() == l->alias.has_value()))
      abort();
    if (!l.ok() && l.error().code != acon::Errc::parse) abort();
    if (auto id = parse_image_id(line); id.ok() && id->image_id() != line) abort();
    auto ns = parse_name_svn(line);
    if (ns.ok()) {
      auto again = parse_name_svn(ns->to_string());
      if (!again.ok() || *again != *ns) abort();
    }
    auto u = parse_rust_u64(line);
    if (u && line.empty()) abort();
  }

  // Two vendor manifests and an image built from the lines: "L<ref>" is a layer of the image,
  // "<object>=<name>" an aliases.contents entry of vendor 0 or (with "2:" in front) vendor 1.
  SignedManifest vendors[2];
  const std::string signers[2] = {std::string(96, 'a'), std::string(96, 'b')};
  for (int v = 0; v < 2; ++v) {
    vendors[v].identity = {acon::HashAlg::sha384, signers[v], std::string(96, 'c' + v)};
    vendors[v].manifest.working_dir = "/";
  }
  SignedManifest app;
  app.identity = {acon::HashAlg::sha384, std::string(96, 'e'), std::string(96, 'f')};
  app.manifest.layers.emplace();
  for (std::string line : lines) {
    if (line.starts_with("L")) {
      app.manifest.layers->push_back(line.substr(1));
      continue;
    }
    int v = 0;
    if (line.starts_with("2:")) {
      v = 1;
      line.erase(0, 2);
    }
    size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    vendors[v].manifest.aliases.contents[line.substr(0, eq)].push_back(line.substr(eq + 1));
  }
  std::vector<SignedManifest> loaded = {vendors[0], vendors[1], app};
  auto resolved = resolve_layers(app, loaded);
  if (resolved.size() != app.manifest.layers->size()) abort();
  for (const auto& r : resolved) {
    if (r.digest.has_value() == !r.problem.empty()) abort();
    if (r.chain.size() > kMaxAliasDepth) abort();
    if (r.digest && !parse_digest_ref(r.digest->to_string()).ok()) abort();
  }
  auto sub = alias_substitute(app.manifest, std::vector<SignedManifest>{vendors[0], vendors[1]});
  if (sub.ok() && sub->manifest.layers->size() != app.manifest.layers->size()) abort();
  return 0;
}
