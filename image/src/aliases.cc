// Vendor-layer resolution (acond's content-store symlinks, modelled without a file system) and
// aconcli's alias-substitute.
#include <algorithm>
#include <map>
#include <tuple>

#include "acon/image/policy.h"

namespace acon::image {

namespace {

using AliasKey = std::tuple<HashAlg, std::string, std::string>;  // (hash, signer hex, NAME)

struct Definition {
  std::string object;    // the aliases.contents key NAME points at
  std::string image_id;  // the manifest defining it
};

// acond links contents/signer/<hash>/<signer>/<NAME> for every NAME of every loaded manifest
// and never replaces an existing link, so the first loaded definition of a NAME wins.
std::map<AliasKey, Definition> collect_definitions(std::span<const SignedManifest> loaded) {
  std::map<AliasKey, Definition> defs;
  for (const SignedManifest& sm : loaded)
    for (const auto& [object, names] : sm.manifest.aliases.contents)
      for (const auto& name : names)
        defs.emplace(AliasKey{sm.identity.hash, sm.identity.signer_digest, name},
                     Definition{object, sm.identity.image_id()});
  return defs;
}

}  // namespace

std::vector<ResolvedLayer> resolve_layers(const SignedManifest& image,
                                          std::span<const SignedManifest> loaded) {
  auto defs = collect_definitions(loaded);
  std::vector<ResolvedLayer> out;
  const auto& layers = image.manifest.layers_or_default();
  out.reserve(layers.size());
  for (size_t i = 0; i < layers.size(); ++i) {
    ResolvedLayer r;
    r.reference = layers[i];
    const std::string field = "manifest.layers[" + std::to_string(i) + "]";
    auto ref = parse_layer_ref(layers[i]);
    if (!ref) {
      r.problem = field + ": " + ref.error().message;
      out.push_back(std::move(r));
      continue;
    }
    std::optional<AliasRef> alias = ref->alias;
    if (ref->digest) r.digest = ref->digest;
    size_t hops = 0;
    while (alias) {
      if (hops++ == kMaxAliasDepth) {
        r.problem = field + ": alias chain longer than " + std::to_string(kMaxAliasDepth) +
                    " hops (a cycle?) at " + alias->to_string();
        break;
      }
      r.chain.push_back(alias->to_string());
      auto it = defs.find(AliasKey{alias->alg, alias->signer, alias->name});
      if (it == defs.end()) {
        r.problem = field + ": no loaded manifest signed by " + std::string(hash_name(alias->alg)) +
                    "/" + alias->signer + " defines alias '" + alias->name + "'";
        break;
      }
      auto next = parse_layer_ref(it->second.object);
      if (!next) {
        r.problem = field + ": alias '" + alias->name + "' of image " + it->second.image_id +
                    " points at '" + it->second.object + "', which is not a layer reference";
        break;
      }
      alias = next->alias;
      if (next->digest) r.digest = next->digest;
    }
    if (!r.problem.empty()) r.digest.reset();
    out.push_back(std::move(r));
  }
  return out;
}

Result<AliasSubstitution> alias_substitute(const Manifest& manifest,
                                           std::span<const SignedManifest> references) {
  AliasSubstitution out;
  out.manifest = manifest;
  out.manifest.raw.clear();
  if (!manifest.layers) return out;

  std::map<std::string, std::string> replacement;  // layer -> alias reference
  for (const std::string& layer : *manifest.layers) {
    if (replacement.contains(layer)) continue;
    for (const SignedManifest& ref : references) {
      auto it = ref.manifest.aliases.contents.find(layer);
      if (it == ref.manifest.aliases.contents.end()) continue;
      const std::string alg(hash_name(ref.identity.hash));
      const std::string& signer = ref.identity.signer_digest;
      if (it->second.empty())
        return make_error(Errc::invalid_argument, "reference manifest " + ref.identity.image_id() +
                                                      ": aliases.contents[\"" + layer +
                                                      "\"] lists no alias name");
      std::string alias = "signer/" + alg + "/" + signer + "/" + it->second.front();
      replacement.emplace(layer, alias);
      out.replaced.emplace_back(layer, alias);

      std::string bundle = ref.identity.manifest_digest;
      if (auto self = ref.manifest.aliases.self.find(".");
          self != ref.manifest.aliases.self.end()) {
        if (self->second.empty())
          return make_error(
              Errc::invalid_argument,
              "reference manifest " + ref.identity.image_id() + ": aliases.self[\".\"] is empty");
        bundle = self->second.front();
      }
      std::string rule = alg + "/" + signer + "/" + bundle;
      auto& accepts = out.manifest.policy.accepts;
      if (std::find(accepts.begin(), accepts.end(), rule) == accepts.end()) {
        accepts.push_back(rule);
        out.added_accepts.push_back(rule);
      }
      break;
    }
  }
  for (std::string& layer : *out.manifest.layers)
    if (auto it = replacement.find(layer); it != replacement.end()) layer = it->second;
  return out;
}

}  // namespace acon::image
