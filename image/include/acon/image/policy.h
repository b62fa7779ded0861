// ACON launch policy: which images may share a TD. Two modes:
//  - acond_greedy: acond's algorithm (Pod::is_manifest_accepted / accept_image in
//    acond/src/pod.rs) reproduced step by step, including its ERROR cases;
//  - spec_graph: doc/Image.md's rule: with an edge A->B when A's policy accepts B, every image
//    must be reachable from every rejectUnaccepted image in the would-be graph.
// Plus vendor-layer resolution through aliases, and aconcli's alias-substitute.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "acon/common/result.h"
#include "acon/image/manifest.h"
#include "acon/image/signature.h"

namespace acon::image {

// One image as the launch policy sees it.
struct PolicyImage {
  ImageIdentity identity;
  std::vector<std::string> accepts;       // policy.accepts, in order
  bool reject_unaccepted = false;         // policy.rejectUnaccepted
  std::vector<std::string> self_aliases;  // every aliases.self value, keys in byte order

  std::string image_id() const { return identity.image_id(); }
};
// From a verified manifest.
//   pod.admit(policy_image(signed.identity, signed.manifest));
PolicyImage policy_image(const ImageIdentity& identity, const Manifest& manifest);

// ---- Rules ---------------------------------------------------------------------------------

// A launch-policy rule "HASH/SIGNER/MANIFEST".
struct PolicyRule {
  std::string hash;      // ignored by acond's matcher
  std::string signer;    // hex signer digest or "*"
  std::string manifest;  // hex manifest digest, "*" or NAME:SVN
};
// acond's split: exactly three '/'-separated fields, nothing else checked.
Result<PolicyRule> split_policy_rule(std::string_view rule);
// Strict syntax (validation, spec_graph mode): HASH in sha256/384/512; SIGNER "*" or lower-case
// hex of that hash; MANIFEST "*", lower-case hex of that hash, or NAME:SVN with a non-empty NAME.
//   ACON_CHECK(check_policy_rule("sha384/<signer>/App:2"));
Status check_policy_rule(std::string_view rule);

// Outcome of matching one rule list against one image.
enum class RuleMatch { no, yes, error };
struct RuleMatchResult {
  RuleMatch match = RuleMatch::no;
  size_t rule_index = 0;  // the deciding rule (yes / error)
  std::string message;    // error: acond's cause ("Invalid launch policy format: ...")
};
// acond's accept_image(): rules in order; the first rule that matches or errs decides. A rule
// matches by manifest digest (any signer), or by signer digest with "*" or NAME:SVN against the
// image's self aliases (same NAME, SVN >=). Malformed rules and aliases met on the way are
// errors.
//   auto r = match_rules(pod_image.accepts, candidate);
RuleMatchResult match_rules(std::span<const std::string> rules, const PolicyImage& image);

// ---- Pods ----------------------------------------------------------------------------------

enum class PolicyMode { acond_greedy, spec_graph };

enum class Verdict {
  accepted,        // admissible (admit() loaded it)
  already_loaded,  // the Image ID is loaded: acond answers OK without a new measurement
  rejected,        // acond: PermissionDenied "Incompatible polices"
  error,           // acond: Unknown, e.g. "Invalid launch policy format"
};
std::string_view verdict_name(Verdict v);

// Why an image was refused: the loaded image whose policy (or lack of acceptance) decided, the
// rule if one rule decided, and a sentence for humans.
struct Refusal {
  std::string image_id;              // a loaded image, or the candidate itself
  std::optional<size_t> rule_index;  // index into that image's policy.accepts
  std::string rule;                  // the rule text (empty when no single rule decided)
  std::string reason;                // "image sha384/... has rejectUnaccepted and ..."
};

struct Admission {
  Verdict verdict = Verdict::accepted;
  std::optional<Refusal> refusal;  // set for rejected and error
  bool admitted() const {
    return verdict == Verdict::accepted || verdict == Verdict::already_loaded;
  }
};

// The images loaded into one TD, indexed by Image ID, manifest digest and signer digest, and the
// rules of loaded images by the digest / signer they name, so that one admission costs about
// the number of rules that name the candidate, not the pod size.
//   Pod pod; auto a = pod.admit(img); if (!a.admitted()) log(a.refusal->reason);
class Pod {
 public:
  explicit Pod(PolicyMode mode = PolicyMode::acond_greedy);
  ~Pod();
  Pod(Pod&&) noexcept;
  Pod& operator=(Pod&&) noexcept;
  Pod(const Pod&);
  Pod& operator=(const Pod&);

  PolicyMode mode() const;
  size_t size() const;
  // Loaded images in load order.
  const PolicyImage& at(size_t index) const;
  const PolicyImage* find(std::string_view image_id) const;

  // Would `image` be admitted now? No change to the pod.
  Admission check(const PolicyImage& image) const;
  // check(), and load the image when it is accepted.
  Admission admit(PolicyImage image);

  // Whole-graph check of the current pod under the spec's rule, with the first unreachable
  // (rejecting image, image) pair as the refusal. Also meaningful for greedy pods.
  Admission check_graph() const;

 private:
  struct Index;
  std::unique_ptr<Index> index_;
};

// ---- Vendor layers -------------------------------------------------------------------------

inline constexpr size_t kMaxAliasDepth = 32;  // alias -> alias hops; Linux allows 40 symlinks

struct ResolvedLayer {
  std::string reference;            // the manifest.layers entry
  std::optional<DigestRef> digest;  // the concrete HASH/HEX, if it resolves
  std::vector<std::string> chain;   // alias references followed, in order
  std::string problem;              // why it does not resolve (empty if it does)
};

// Resolves every layer of `image` through the aliases.contents of `loaded` manifests (the images
// of the pod, in load order; `image` itself may be among them). signer/HASH/SIGNER/NAME is
// looked up among manifests with that hash and signer digest; the first loaded definition of a
// NAME wins (acond keeps an existing symlink). Chains are followed up to kMaxAliasDepth hops.
//   for (auto& l : resolve_layers(img, pod_manifests)) if (!l.digest) missing.push_back(...)
std::vector<ResolvedLayer> resolve_layers(const SignedManifest& image,
                                          std::span<const SignedManifest> loaded);

// ---- aconcli alias-substitute ----------------------------------------------------------------

struct AliasSubstitution {
  Manifest manifest;  // the rewritten manifest (raw cleared)
  std::vector<std::pair<std::string, std::string>> replaced;  // layer -> alias reference
  std::vector<std::string> added_accepts;                     // rules appended to policy.accepts
};

// aconcli's Repo.Alias: for each layer digest, the first reference manifest (in the given order)
// whose aliases.contents has that digest as a key supplies `signer/ALG/SIGNER/<first NAME>`;
// its `ALG/SIGNER/<first aliases.self["."] value, or the hex digest of its bytes>` is appended
// to policy.accepts unless present. A key with an empty NAME list is an error (aconcli panics).
//   ACON_TRY(auto out, alias_substitute(m, vendor_manifests));
Result<AliasSubstitution> alias_substitute(const Manifest& manifest,
                                           std::span<const SignedManifest> references);

}  // namespace acon::image
