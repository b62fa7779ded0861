// The KBS resource policy: which verified attestation tokens may fetch which resources. Trustee
// evaluates a Rego rule (data.policy.allow) over the EAR; acon uses a versioned TOML file of
// ordered rules instead, whose extra conditions are the appraisal policy's (condition.h). The
// format, the evaluation and the default are in docs/kbs-policy.md.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "acon/appraisal/condition.h"
#include "acon/appraisal/ear.h"
#include "acon/common/json.h"
#include "acon/common/result.h"

namespace acon::kbs {

inline constexpr int64_t kResourcePolicyVersion = 1;
inline constexpr size_t kMaxResourcePolicyBytes = 1 << 20;
// The id of the policy that applies to a repository without a policy of its own.
inline constexpr std::string_view kDefaultResourcePolicyId = "default";

// One segment of a resource pattern: "*" (any segment), "prefix*" (a segment starting with
// prefix) or a literal segment.
struct SegmentPattern {
  std::string text;     // the literal, or the prefix before '*'
  bool prefix = false;  // text followed by '*'
  bool matches(std::string_view segment) const;
};

enum class Effect { allow, deny };

struct ResourceRule {
  std::string resources;                  // as written: "<repo>/<type>/<tag>" patterns
  std::array<SegmentPattern, 3> pattern;  // repo, type, tag
  Effect effect = Effect::allow;
  // The rest applies to allow rules only (a deny rule refuses whatever it matches).
  // The worst ear.status of every submod must be at least this good (affirming is best).
  appraisal::Tier status = appraisal::Tier::affirming;
  std::vector<std::string> tee;  // allowed TEE names; empty = any
  bool allow_simulated = false;
  std::vector<std::string> image_signers;  // lowercase hex signer digests; empty = no rule
  std::vector<std::string> image_ids;      // Image IDs that must all be present; empty = no rule
  // Conditions over each submod's ear.veraison.annotated-evidence.
  std::vector<appraisal::Condition> when;
  size_t line = 0;  // of the [[rules]] header
};

struct ResourcePolicy {
  int64_t version = kResourcePolicyVersion;
  std::string id;
  std::vector<ResourceRule> rules;  // in order; the first whose resources match decides
};

// Errors are Errc::parse naming the source, line and key ("repo.toml:7: rules[2]: unknown key
// \"efect\""), Errc::unsupported for a version other than 1. Unknown keys are refused, and so
// are conditions that read checks or reference values (a token carries neither).
Result<ResourcePolicy> parse_resource_policy(std::string_view toml_text,
                                             std::string_view source_name = "resource-policy");

// Allows every resource when every submod is affirming and no submod comes from a simulated
// platform; refuses everything else. Stricter than Trustee's default (docs/kbs-policy.md).
ResourcePolicy default_resource_policy();
// Its TOML text, as parse_resource_policy reads it.
std::string_view default_resource_policy_text();

struct Decision {
  bool allow = false;
  std::string policy_id;
  std::string rule;    // "rules[2]" (counted from 1) or "no rule matched"
  std::string reason;  // "cpu0: ear.status warning, required affirming"; no secrets
};

// What the rules read from one submod of a verified token, taken from its EAR once. A session
// keeps these (and its token) rather than the EAR's annotated evidence, whose tree is ~20 KB for
// TDX evidence: sessions live minutes, and a busy KBS holds hundreds of thousands of them. Only
// a rule with `when` conditions needs the evidence itself (EvidenceOf).
struct SubmodFacts {
  struct Image {
    std::string signer_digest;  // lowercase; empty when absent or not a string
    std::string image_id;       // empty when absent or not a string
  };
  std::string name;  // "cpu0"
  appraisal::Tier status = appraisal::Tier::none;
  bool simulated = false;             // acon.simulated is true
  std::vector<std::string> sections;  // the annotated evidence's member names ("tdx", "acon", ...)
  // acon.images when it is an array; nullopt when it is absent or not an array.
  std::optional<std::vector<Image>> images;
};
std::vector<SubmodFacts> submod_facts(const appraisal::Ear& ear);

// The annotated evidence of the submod named, for `when` conditions: null when the submod has
// none, an error when it cannot be read back.
using EvidenceOf = std::function<Result<const Json*>(std::string_view submod)>;

// Evaluates the policy for a verified token's submods and a resource path "<repo>/<type>/<tag>".
// `tee` is the TEE the client attested as (the protocol's name: "tdx", "sgx", "az-tdx-vtpm",
// ...), empty when the server does not know it (a Bearer token without a session). Every submod
// must satisfy an allow rule; no rule matching, a malformed path or a token without submods deny.
Decision evaluate(const ResourcePolicy& policy, std::span<const SubmodFacts> submods,
                  const EvidenceOf& evidence, std::string_view resource_path, std::string_view tee);
// The same over an EAR and its evidence trees.
Decision evaluate(const ResourcePolicy& policy, const appraisal::Ear& ear,
                  std::string_view resource_path, std::string_view tee);

// The KBS's named policies. A request for a resource in repository R is decided by the policy
// whose id is R when there is one, else by the policy "default" (the built-in default until an
// administrator stores one with that id).
class ResourcePolicySet {
 public:
  ResourcePolicySet();
  // Adds or replaces the policy with this id.
  void put(ResourcePolicy policy);
  // Removes a policy; removing "default" restores the built-in default. False when absent.
  bool erase(std::string_view id);
  const ResourcePolicy* find(std::string_view id) const;
  const ResourcePolicy& select(std::string_view repository) const;
  std::vector<std::string> ids() const;
  // select() by the path's first segment, then kbs::evaluate.
  Decision evaluate(std::span<const SubmodFacts> submods, const EvidenceOf& evidence,
                    std::string_view resource_path, std::string_view tee) const;

 private:
  std::map<std::string, ResourcePolicy, std::less<>> policies_;
};

}  // namespace acon::kbs
