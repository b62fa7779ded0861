#include <algorithm>
#include <deque>
#include <map>
#include <optional>

#include "acon/image/manifest.h"
#include "acon/image/policy.h"
#include "acon/image/signature.h"
#include "acon/report/report.h"

namespace acon::report {
namespace {

constexpr std::string_view kBuiltinPolicy =
    R"(# acon-verify evidence's built-in policy: internally consistent, genuine evidence of an ACON TD.
version = 1
id = "acon-verify-strict"
allow_simulated = false
allow_debug = false

# The report is bound to a request: the KBS rule or acond's attestation_data.
[instance-identity]
default = 97
[[instance-identity.tiers]]
value = 2
when = [{ check = "binding.kbs" }]
[[instance-identity.tiers]]
value = 2
when = [{ check = "binding.acon" }]

# A quote that verifies to the trust anchor with an acceptable TCB; a vTPM quote (which has no
# TCB) signed by an AK the auditor pinned (--ak-pin).
[hardware]
default = 97
[[hardware.tiers]]
value = 2
when = [{ check = "quote.signature" }, { check = "quote.tcb" }]
[[hardware.tiers]]
value = 2
when = [{ claim = "acon.platform", equals = "vtpm" }, { check = "quote.signature" }]

# Not a debug TD (init-data, when supplied, must match MRCONFIGID: a hard rule). A vTPM guest
# has no debug attribute; its boot configuration is what the replayed PCRs show.
[configuration]
default = 36
[[configuration.tiers]]
value = 2
when = [{ claim = "tdx.td_attributes.debug", is = false }]
[[configuration.tiers]]
value = 2
when = [{ claim = "acon.platform", equals = "vtpm" }]

# Every register replays from its log, nothing in the runtime log is unexplained, acond closed
# the image set, its launch policy admits the images in log order, and every image's manifest
# was provided (its ID and signature are checked: hard rules).
[executables]
default = 33
[[executables.tiers]]
value = 2
when = [
  { check = "replay.rtmr0" },
  { check = "replay.rtmr1" },
  { check = "replay.rtmr2" },
  { check = "replay.rtmr3" },
  { check = "runtime_log.unexplained" },
  { check = "runtime_log.acon_finalized" },
  { check = "launch_policy.acond" },
  { all = "acon.images", where = [{ claim = "provided", is = true }] },
]
# vTPM: every record of the firmware and runtime logs is proven by a quoted PCR (a PCR that does
# not replay is a hard rule), and the same image checks.
[[executables.tiers]]
value = 2
when = [
  { claim = "acon.platform", equals = "vtpm" },
  { check = "runtime_log.unexplained" },
  { check = "runtime_log.acon_finalized" },
  { check = "launch_policy.acond" },
  { all = "acon.images", where = [{ claim = "provided", is = true }] },
]
)";

// One image as the graph sees it: its identity and, when its manifest was provided and matches,
// its launch policy.
struct GraphImage {
  std::string image_id;
  std::string name;
  std::string signer;
  bool logged = false;
  Json verdict = nullptr;
  std::optional<image::PolicyImage> policy;
};

// The name an auditor recognises: the image's own alias ("App:2") when it has one.
std::string image_name(const std::optional<image::PolicyImage>& policy, size_t number) {
  if (policy && !policy->self_aliases.empty()) return policy->self_aliases.front();
  return "image " + std::to_string(number);
}

struct ProvidedPolicy {
  std::string image_id;
  image::PolicyImage policy;
  std::string signer;
};

// The provided images whose certificate and manifest parse, by recomputed Image ID. A provided
// image that does not parse has no policy to draw; the image checks report why.
std::vector<ProvidedPolicy> provided_policies(const appraisal::Evidence& evidence) {
  std::vector<ProvidedPolicy> out;
  for (const appraisal::ProvidedImage& provided : evidence.images) {
    auto cert = Certificate::from_der(provided.certificate_der);
    if (!cert) continue;
    const std::string_view bytes(reinterpret_cast<const char*>(provided.manifest.data()),
                                 provided.manifest.size());
    auto identity = image::image_identity(*cert, bytes, image::CertProfile::acond);
    auto manifest = image::parse_manifest(bytes);
    if (!identity || !manifest) continue;
    out.push_back(
        {identity->image_id(), image::policy_image(*identity, *manifest), cert->subject()});
  }
  return out;
}

const Json* member(const Json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

std::string string_member(const Json& object, std::string_view key) {
  const Json* value = member(object, key);
  return value != nullptr && value->is_string() ? value->get<std::string>() : std::string();
}

}  // namespace

std::string_view builtin_policy_toml() { return kBuiltinPolicy; }

Result<appraisal::Policy> builtin_policy(bool allow_simulated) {
  ACON_TRY(appraisal::Policy policy, appraisal::parse_policy(kBuiltinPolicy, "built-in policy"));
  policy.allow_simulated = allow_simulated;
  return policy;
}

Json launch_policy_graph(const appraisal::Evidence& evidence, const Json& acon_images) {
  std::vector<ProvidedPolicy> provided = provided_policies(evidence);
  std::vector<GraphImage> images;
  std::vector<bool> used(provided.size(), false);
  auto take_provided = [&](std::string_view image_id) -> const ProvidedPolicy* {
    for (size_t i = 0; i < provided.size(); ++i)
      if (!used[i] && provided[i].image_id == image_id) {
        used[i] = true;
        return &provided[i];
      }
    return nullptr;
  };
  if (acon_images.is_array()) {
    for (const Json& logged : acon_images) {
      GraphImage node;
      node.image_id = string_member(logged, "image_id");
      node.signer = string_member(logged, "signer");
      node.logged = true;
      if (const Json* verdict = member(logged, "verdict")) node.verdict = *verdict;
      // The same Image ID logged twice is one image (acond answers the second AddManifest
      // without loading anything).
      if (std::any_of(images.begin(), images.end(),
                      [&](const GraphImage& seen) { return seen.image_id == node.image_id; }))
        continue;
      if (const ProvidedPolicy* match = take_provided(node.image_id)) node.policy = match->policy;
      images.push_back(std::move(node));
    }
  }
  for (size_t i = 0; i < provided.size(); ++i) {
    if (used[i]) continue;
    if (std::any_of(images.begin(), images.end(),
                    [&](const GraphImage& seen) { return seen.image_id == provided[i].image_id; }))
      continue;
    GraphImage node;
    node.image_id = provided[i].image_id;
    node.signer = provided[i].signer;
    node.policy = provided[i].policy;
    images.push_back(std::move(node));
  }
  for (size_t i = 0; i < images.size(); ++i) images[i].name = image_name(images[i].policy, i + 1);

  struct Edge {
    size_t from, to;
    std::string kind;
    std::optional<std::string> rule;
  };
  std::vector<Edge> edges;
  for (size_t a = 0; a < images.size(); ++a) {
    if (!images[a].policy) continue;
    for (size_t b = 0; b < images.size(); ++b) {
      if (a == b || !images[b].policy) continue;
      const image::PolicyImage& judge = *images[a].policy;
      image::RuleMatchResult match = image::match_rules(judge.accepts, *images[b].policy);
      std::optional<std::string> rule;
      if (match.match != image::RuleMatch::no && match.rule_index < judge.accepts.size())
        rule = judge.accepts[match.rule_index];
      if (match.match == image::RuleMatch::yes)
        edges.push_back({a, b, "accepts", rule});
      else if (match.match == image::RuleMatch::error)
        edges.push_back({a, b, "error", rule});
      else if (judge.reject_unaccepted)
        edges.push_back({a, b, "refuses", std::nullopt});
    }
  }

  // Layers: breadth-first along "accepts" edges, starting (in node order) from nodes nothing
  // accepts, then from any node not reached yet (cycles).
  std::vector<std::optional<size_t>> layer(images.size());
  std::vector<bool> accepted(images.size(), false);
  for (const Edge& e : edges)
    if (e.kind == "accepts") accepted[e.to] = true;
  auto walk = [&](size_t start) {
    std::deque<size_t> queue{start};
    layer[start] = 0;
    while (!queue.empty()) {
      size_t at = queue.front();
      queue.pop_front();
      for (const Edge& e : edges)
        if (e.from == at && e.kind == "accepts" && !layer[e.to]) {
          layer[e.to] = *layer[at] + 1;
          queue.push_back(e.to);
        }
    }
  };
  for (size_t i = 0; i < images.size(); ++i)
    if (!accepted[i] && !layer[i]) walk(i);
  for (size_t i = 0; i < images.size(); ++i)
    if (!layer[i]) walk(i);
  std::map<size_t, size_t> rows_per_layer;

  Json nodes = Json::array();
  for (size_t i = 0; i < images.size(); ++i) {
    const GraphImage& node = images[i];
    nodes.push_back({{"id", "n" + std::to_string(i)},
                     {"image_id", node.image_id},
                     {"name", node.name},
                     {"signer", node.signer},
                     {"logged", node.logged},
                     {"policy_known", node.policy.has_value()},
                     {"reject_unaccepted", node.policy && node.policy->reject_unaccepted},
                     {"verdict", node.verdict},
                     {"layer", *layer[i]},
                     {"row", rows_per_layer[*layer[i]]++}});
  }
  Json edge_list = Json::array();
  for (const Edge& e : edges)
    edge_list.push_back({{"from", "n" + std::to_string(e.from)},
                         {"to", "n" + std::to_string(e.to)},
                         {"kind", e.kind},
                         {"rule", e.rule ? Json(*e.rule) : Json(nullptr)}});
  return {{"nodes", std::move(nodes)}, {"edges", std::move(edge_list)}};
}

Result<Json> report_model(const appraisal::Evidence& evidence,
                          const appraisal::AttestationResult& result,
                          const ReportContext& context) {
  const appraisal::Appraisal& appraisal = result.appraisal;
  const Json& claims = *result.evidence.claims;  // never null (checks.h)
  ACON_TRY(Json result_json, appraisal::attestation_result_json(result));

  // What decided: among the claims in the worst tier, a hard rule of a failed check (the
  // highest value first, as the hard rules rank them), else the first claim in AR4SI order.
  Json decided_by = nullptr;
  if (appraisal.status != appraisal::Tier::affirming) {
    constexpr std::string_view kHardRule = "hard rule: ";
    const appraisal::Explanation* decisive = nullptr;
    std::string decisive_check;
    for (const appraisal::Explanation& explanation : appraisal.explanations) {
      if (appraisal::tier_of(explanation.value) != appraisal.status) continue;
      // Hard rules on claims (allow_simulated, allow_debug) are no check of their own.
      std::string check;
      if (explanation.rule.starts_with(kHardRule)) {
        check = explanation.rule.substr(kHardRule.size());
        if (appraisal::find_check(result.evidence.checks, check) == nullptr) check.clear();
      }
      const bool better =
          decisive == nullptr ||
          (!check.empty() && (decisive_check.empty() || explanation.value > decisive->value));
      if (better) {
        decisive = &explanation;
        decisive_check = std::move(check);
      }
    }
    // Every check that failed or could not run, in order: when the policy decided (no hard
    // rule), these are what the auditor looks at next.
    Json failed = Json::array();
    for (const appraisal::CheckResult& check : result.evidence.checks)
      if (check.outcome == appraisal::Outcome::fail || check.outcome == appraisal::Outcome::error)
        failed.push_back(check.name);
    if (decisive != nullptr)
      decided_by = {{"claim", appraisal::trust_claim_name(decisive->claim)},
                    {"value", decisive->value},
                    {"rule", decisive->rule},
                    {"check", decisive_check.empty() ? Json(nullptr) : Json(decisive_check)},
                    {"reason", decisive->reason},
                    {"failed_checks", std::move(failed)}};
  }
  const Json* acon = member(claims, "acon");
  const Json empty = Json::array();
  const Json* images = acon != nullptr ? member(*acon, "images") : nullptr;
  return Json{
      {"version", kReportVersion},
      {"source", context.source},
      {"policy", {{"id", appraisal.policy_id}, {"source", context.policy_source}}},
      {"verification_time", context.verification_time},
      {"platform", appraisal::platform_name(evidence.platform)},
      {"simulated", result.evidence.simulated},
      {"verdict", appraisal.status == appraisal::Tier::affirming ? "accepted" : "rejected"},
      {"status", appraisal::tier_name(appraisal.status)},
      {"decided_by", std::move(decided_by)},
      {"result", std::move(result_json)},
      {"claims", claims},
      {"launch_policy_graph", launch_policy_graph(evidence, images != nullptr ? *images : empty)},
      {"timeline", event_timeline(evidence, result.evidence.checks)}};
}

}  // namespace acon::report
