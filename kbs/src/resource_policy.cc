// Resource policy TOML -> ResourcePolicy, and its evaluation over a token's submods: the facts
// every rule reads, and the annotated evidence for `when` conditions.
// The `when` conditions are parsed and evaluated by the appraisal library (condition_toml.h), so
// both policy formats share one meaning for every condition.
#include "acon/kbs/resource_policy.h"

#include <algorithm>

#include "acon/appraisal/condition_toml.h"
#include "acon/common/bytes.h"
#include "acon/kbs/protocol.h"

namespace acon::kbs {
namespace {

using appraisal::Condition;
using appraisal::ConditionKind;
using appraisal::ConditionTest;
using appraisal::Tier;

constexpr std::string_view kDefaultPolicyText = R"(# acon's default resource policy: every
# submod affirming, no simulated platform.
version = 1
id = "default"

[[rules]]
resources = "*/*/*"
effect = "allow"
status = "affirming"
allow_simulated = false
)";

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Lower is better: affirming < warning < contraindicated; none is worse than all of them.
int severity(Tier tier) {
  switch (tier) {
    case Tier::affirming:
      return 0;
    case Tier::warning:
      return 1;
    case Tier::contraindicated:
      return 2;
    case Tier::none:
      break;
  }
  return 3;
}

class Parser : public appraisal::TomlSource {
 public:
  using appraisal::TomlSource::TomlSource;

  Result<SegmentPattern> segment(const toml::node& node, std::string_view text,
                                 const std::string& where) const {
    SegmentPattern out;
    if (text == "*") {
      out.prefix = true;
      return out;
    }
    std::string_view body = text;
    if (!body.empty() && body.back() == '*') {
      out.prefix = true;
      body.remove_suffix(1);
    }
    // A prefix is checked as a path component by itself: every character allowed, and the first
    // one not a dot.
    if (!valid_path_component(body)) {
      return error_at(node, where + ": \"" + std::string(text) +
                                "\" is neither \"*\", \"<prefix>*\" nor a path component "
                                "([A-Za-z0-9_-][A-Za-z0-9_.-]*)");
    }
    out.text = std::string(body);
    return out;
  }

  Status resources(const toml::node& node, ResourceRule& rule, const std::string& where) const {
    auto text = node.as_string();
    if (!text) return error_at(node, where + ": a string \"<repo>/<type>/<tag>\"");
    rule.resources = text->get();
    std::vector<std::string_view> parts = split(rule.resources, '/');
    if (parts.size() != 3) {
      return error_at(node, where + ": \"" + rule.resources +
                                "\" does not have three segments <repo>/<type>/<tag>");
    }
    for (size_t i = 0; i < 3; ++i) {
      ACON_TRY(rule.pattern[i], segment(node, parts[i], where));
    }
    return {};
  }

  Result<std::vector<std::string>> strings(const toml::node& node, const std::string& where) const {
    auto array = node.as_array();
    if (!array || array->empty()) return error_at(node, where + ": a non-empty array of strings");
    std::vector<std::string> out;
    for (const auto& member : *array) {
      auto text = member.as_string();
      if (!text || text->get().empty()) return error_at(member, where + ": a non-empty string");
      out.push_back(text->get());
    }
    return out;
  }

  // A token carries no check results and the KBS evaluates no reference values: such a
  // condition could never hold, so it is a mistake in the policy.
  Status only_claims(const std::vector<Condition>& conditions, const std::string& where) const {
    for (const auto& c : conditions) {
      if (c.kind == ConditionKind::check) {
        return error_at(c.line, where +
                                    ": \"check\" conditions are not available in a resource "
                                    "policy (a token carries no check results)");
      }
      if (c.test == ConditionTest::in_reference) {
        return error_at(c.line, where +
                                    ": \"in_reference\" is not available in a resource "
                                    "policy (reference values are the attestation policy's)");
      }
      ACON_CHECK(only_claims(c.where, where));
    }
    return {};
  }

  Result<ResourceRule> rule(const toml::node& node, const std::string& where) const {
    auto table = node.as_table();
    if (!table) return error_at(node, where + ": a rule is a table ([[rules]])");
    ResourceRule out;
    out.line = node.source().begin.line;
    bool has_resources = false;
    bool has_effect = false;
    const toml::key* allow_only = nullptr;  // the first key that only an allow rule takes
    for (const auto& [key, value] : *table) {
      std::string_view name = key.str();
      std::string field = where + "." + std::string(name);
      if (name == "resources") {
        ACON_CHECK(resources(value, out, field));
        has_resources = true;
        continue;
      }
      if (name == "effect") {
        auto effect = value.as_string();
        if (!effect || (effect->get() != "allow" && effect->get() != "deny")) {
          return error_at(value, field + ": \"allow\" or \"deny\"");
        }
        out.effect = effect->get() == "allow" ? Effect::allow : Effect::deny;
        has_effect = true;
        continue;
      }
      if (name == "status") {
        auto status = value.as_string();
        auto tier = status ? appraisal::tier_from_name(status->get()) : std::nullopt;
        if (!tier || *tier == Tier::none) {
          return error_at(value, field + ": \"affirming\", \"warning\" or \"contraindicated\"");
        }
        out.status = *tier;
      } else if (name == "tee") {
        ACON_TRY(out.tee, strings(value, field));
      } else if (name == "allow_simulated") {
        auto flag = value.as_boolean();
        if (!flag) return error_at(value, field + ": true or false");
        out.allow_simulated = flag->get();
      } else if (name == "image_signers") {
        ACON_TRY(std::vector<std::string> signers, strings(value, field));
        for (const auto& signer : signers) {
          if (!hex_decode(signer).ok()) {
            return error_at(value, field + ": \"" + signer + "\" is not a hex digest");
          }
          out.image_signers.push_back(lower(signer));
        }
      } else if (name == "image_ids") {
        ACON_TRY(out.image_ids, strings(value, field));
      } else if (name == "when") {
        ACON_TRY(out.when, appraisal::parse_conditions(value, source_, field));
        ACON_CHECK(only_claims(out.when, field));
      } else {
        return unknown_key(key, where);
      }
      if (!allow_only) allow_only = &key;
    }
    if (!has_resources) return error_at(node, where + ": the key \"resources\" is missing");
    if (!has_effect) return error_at(node, where + ": the key \"effect\" is missing");
    if (out.effect == Effect::deny && allow_only) {
      return error_at(allow_only->source().begin.line,
                      where + ": \"" + std::string(allow_only->str()) +
                          "\" applies to allow rules only (a deny rule refuses whatever it "
                          "matches)");
    }
    return out;
  }
};

const Json* member(const Json& object, std::string_view name) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(name);
  return it == object.end() ? nullptr : &*it;
}

// Annotated evidence names its TEE section as acon's appraisal writes it ("tdx", "sgx", "vtpm")
// or as Trustee's broker does (the protocol's TEE name).
bool evidence_of_tee(const SubmodFacts& submod, const std::vector<std::string>& allowed) {
  auto has = [&](std::string_view name) {
    return std::find(submod.sections.begin(), submod.sections.end(), name) != submod.sections.end();
  };
  for (const auto& tee : allowed) {
    if (has(tee)) return true;
    bool vtpm = tee == "tpm" || tee == "az-tdx-vtpm" || tee == "az-snp-vtpm";
    if (vtpm && has("vtpm")) return true;
  }
  return false;
}

std::string joined(const std::vector<std::string>& values) {
  std::string out;
  for (const auto& value : values) {
    if (!out.empty()) out += ", ";
    out += value;
  }
  return out;
}

// Why one submod does not satisfy an allow rule; empty when it does.
std::string submod_fails(const ResourceRule& rule, const SubmodFacts& submod,
                         const EvidenceOf& evidence_of) {
  if (severity(submod.status) > severity(rule.status)) {
    return "ear.status " + std::string(appraisal::tier_name(submod.status)) + ", required " +
           std::string(appraisal::tier_name(rule.status));
  }
  if (!rule.allow_simulated && submod.simulated) {
    return "acon.simulated is true and the rule does not allow simulated platforms";
  }
  if (!rule.tee.empty() && !evidence_of_tee(submod, rule.tee)) {
    return "the annotated evidence has no section for an allowed TEE (" + joined(rule.tee) + ")";
  }
  if (!rule.image_signers.empty() || !rule.image_ids.empty()) {
    if (!submod.images || submod.images->empty()) return "acon.images is absent or empty";
    const auto& images = *submod.images;
    for (size_t i = 0; i < images.size() && !rule.image_signers.empty(); ++i) {
      const std::string& digest = images[i].signer_digest;
      if (std::find(rule.image_signers.begin(), rule.image_signers.end(), digest) ==
          rule.image_signers.end()) {
        return "acon.images[" + std::to_string(i) + "] has signer " +
               (digest.empty() ? std::string("(none)") : digest) +
               ", not among the rule's image_signers";
      }
    }
    for (const auto& id : rule.image_ids) {
      bool found = std::any_of(images.begin(), images.end(), [&](const SubmodFacts::Image& image) {
        return image.image_id == id;
      });
      if (!found) return "image " + id + " is not among acon.images";
    }
  }
  if (!rule.when.empty()) {
    static const Json kNoEvidence = Json::object();
    auto evidence = evidence_of(submod.name);
    if (!evidence) return "its annotated evidence cannot be read: " + evidence.error().message;
    static const appraisal::CheckResults kNoChecks;
    static const appraisal::ReferenceValueStore kNoReferences;
    const Json& tree = *evidence && (*evidence)->is_object() ? **evidence : kNoEvidence;
    auto outcome =
        appraisal::evaluate_conditions(rule.when, tree, kNoChecks, kNoReferences, Time{});
    if (!outcome.holds) return outcome.why;
  }
  return {};
}

std::string rule_name(size_t index) { return "rules[" + std::to_string(index + 1) + "]"; }

}  // namespace

bool SegmentPattern::matches(std::string_view segment) const {
  if (!prefix) return segment == text;
  return segment.substr(0, text.size()) == text;
}

Result<ResourcePolicy> parse_resource_policy(std::string_view toml_text,
                                             std::string_view source_name) {
  Parser parser(source_name);
  ACON_TRY(const toml::table root,
           appraisal::parse_toml_text(toml_text, source_name, kMaxResourcePolicyBytes));
  ResourcePolicy policy;
  bool has_version = false;
  bool has_id = false;
  for (const auto& [key, value] : root) {
    std::string_view name = key.str();
    if (name == "version") {
      auto version = value.as_integer();
      if (!version) return parser.error_at(value, "version: an integer");
      if (version->get() != kResourcePolicyVersion) {
        return make_error(Errc::unsupported, std::string(source_name) + ":" +
                                                 std::to_string(value.source().begin.line) +
                                                 ": resource policy version " +
                                                 std::to_string(version->get()) +
                                                 " is not supported (only 1)");
      }
      has_version = true;
    } else if (name == "id") {
      auto id = value.as_string();
      // The id names a repository or "default", so it follows the path component rule.
      if (!id || !valid_path_component(id->get())) {
        return parser.error_at(value, "id: a repository name ([A-Za-z0-9_-][A-Za-z0-9_.-]*)");
      }
      policy.id = id->get();
      has_id = true;
    } else if (name == "rules") {
      auto rules = value.as_array();
      if (!rules) return parser.error_at(value, "rules: an array of tables ([[rules]])");
      for (size_t i = 0; i < rules->size(); ++i) {
        ACON_TRY(ResourceRule rule, parser.rule(*rules->get(i), rule_name(i)));
        policy.rules.push_back(std::move(rule));
      }
    } else {
      return parser.unknown_key(key, "top level");
    }
  }
  if (!has_version) return parser.error_at(1, "the key \"version\" (= 1) is missing");
  if (!has_id) return parser.error_at(1, "the key \"id\" is missing");
  return policy;
}

std::string_view default_resource_policy_text() { return kDefaultPolicyText; }

ResourcePolicy default_resource_policy() {
  static const ResourcePolicy kDefault = [] {
    auto parsed = parse_resource_policy(kDefaultPolicyText, "default");
    // The text is a constant of this file; resource_policy_test parses it too.
    return parsed.ok() ? *parsed : ResourcePolicy{kResourcePolicyVersion, "default", {}};
  }();
  return kDefault;
}

std::vector<SubmodFacts> submod_facts(const appraisal::Ear& ear) {
  std::vector<SubmodFacts> out;
  out.reserve(ear.submods.size());
  for (const auto& [name, submod] : ear.submods) {
    SubmodFacts& facts = out.emplace_back();
    facts.name = name;
    facts.status = submod.status;
    const Json* evidence = submod.annotated();
    if (!evidence || !evidence->is_object()) continue;
    for (const auto& [section, value] : evidence->items()) facts.sections.push_back(section);
    const Json* acon = member(*evidence, "acon");
    const Json* simulated = acon ? member(*acon, "simulated") : nullptr;
    facts.simulated = simulated && simulated->is_boolean() && simulated->get<bool>();
    const Json* images = acon ? member(*acon, "images") : nullptr;
    if (!images || !images->is_array()) continue;
    facts.images.emplace();
    for (const Json& image : *images) {
      SubmodFacts::Image& out_image = facts.images->emplace_back();
      const Json* signer = member(image, "signer_digest");
      if (signer && signer->is_string())
        out_image.signer_digest = lower(signer->get<std::string>());
      const Json* id = member(image, "image_id");
      if (id && id->is_string()) out_image.image_id = id->get<std::string>();
    }
  }
  return out;
}

Decision evaluate(const ResourcePolicy& policy, const appraisal::Ear& ear,
                  std::string_view resource_path, std::string_view tee) {
  const std::vector<SubmodFacts> submods = submod_facts(ear);
  return evaluate(
      policy, submods,
      [&ear](std::string_view name) -> Result<const Json*> {
        auto it = ear.submods.find(std::string(name));
        return it == ear.submods.end() ? nullptr : it->second.annotated();
      },
      resource_path, tee);
}

Decision evaluate(const ResourcePolicy& policy, std::span<const SubmodFacts> submods,
                  const EvidenceOf& evidence, std::string_view resource_path,
                  std::string_view tee) {
  Decision out;
  out.policy_id = policy.id;
  if (!valid_resource_path(resource_path)) {
    out.rule = "no rule matched";
    out.reason = "the resource path is not <repo>/<type>/<tag>";
    return out;
  }
  std::vector<std::string_view> segments = split(resource_path, '/');
  size_t index = 0;
  for (; index < policy.rules.size(); ++index) {
    const auto& pattern = policy.rules[index].pattern;
    if (pattern[0].matches(segments[0]) && pattern[1].matches(segments[1]) &&
        pattern[2].matches(segments[2])) {
      break;
    }
  }
  if (index == policy.rules.size()) {
    out.rule = "no rule matched";
    out.reason = "no rule's resources match " + std::string(resource_path);
    return out;
  }
  const ResourceRule& rule = policy.rules[index];
  out.rule = rule_name(index);
  if (rule.effect == Effect::deny) {
    out.reason = "denied by the rule for " + rule.resources;
    return out;
  }
  // An empty tee is a request whose TEE the server does not know (a Bearer token without a
  // session): the evidence sections below still have to match.
  if (!rule.tee.empty() && !tee.empty() &&
      std::find(rule.tee.begin(), rule.tee.end(), tee) == rule.tee.end()) {
    out.reason = "TEE " + std::string(tee) + " is not among " + joined(rule.tee);
    return out;
  }
  if (submods.empty()) {
    out.reason = "the token has no submods";
    return out;
  }
  for (const SubmodFacts& submod : submods) {
    std::string why = submod_fails(rule, submod, evidence);
    if (!why.empty()) {
      out.reason = submod.name + ": " + why;
      return out;
    }
  }
  out.allow = true;
  out.reason = "every submod (" + std::to_string(submods.size()) + ") satisfies " + out.rule;
  return out;
}

ResourcePolicySet::ResourcePolicySet() { put(default_resource_policy()); }

void ResourcePolicySet::put(ResourcePolicy policy) {
  std::string id = policy.id;
  policies_.insert_or_assign(std::move(id), std::move(policy));
}

bool ResourcePolicySet::erase(std::string_view id) {
  auto it = policies_.find(id);
  if (it == policies_.end()) return false;
  policies_.erase(it);
  if (id == kDefaultResourcePolicyId) put(default_resource_policy());
  return true;
}

const ResourcePolicy* ResourcePolicySet::find(std::string_view id) const {
  auto it = policies_.find(id);
  return it == policies_.end() ? nullptr : &it->second;
}

const ResourcePolicy& ResourcePolicySet::select(std::string_view repository) const {
  if (const ResourcePolicy* own = find(repository)) return *own;
  return *find(kDefaultResourcePolicyId);
}

std::vector<std::string> ResourcePolicySet::ids() const {
  std::vector<std::string> out;
  for (const auto& [id, policy] : policies_) out.push_back(id);
  return out;
}

Decision ResourcePolicySet::evaluate(std::span<const SubmodFacts> submods,
                                     const EvidenceOf& evidence, std::string_view resource_path,
                                     std::string_view tee) const {
  std::string_view repository = resource_path.substr(0, resource_path.find('/'));
  return kbs::evaluate(select(repository), submods, evidence, resource_path, tee);
}

}  // namespace acon::kbs
