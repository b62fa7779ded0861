// Policy evaluation: tiers in order per trust claim, then the hard rules that no policy text can
// relax. Every condition that does not hold says why, in terms of the claims it read.
#include <algorithm>
#include <optional>

#include "acon/appraisal/policy.h"
#include "acon/common/bytes.h"

namespace acon::appraisal {
namespace {

// Claim values in messages come from the evidence: long ones are cut.
constexpr size_t kMaxShownChars = 100;

std::string shown(const Json& value) {
  std::string text = value.is_string() ? value.get<std::string>() : dump_compact(value);
  if (text.size() > kMaxShownChars) text = text.substr(0, kMaxShownChars) + "...";
  return text;
}

std::string shown_list(const Json& values) {
  std::string out;
  for (const auto& value : values) {
    if (!out.empty()) out += ", ";
    out += shown(value);
  }
  return out;
}

const Json* resolve(const Json& root, const ClaimPath& path) {
  const Json* node = &root;
  for (const auto& segment : path.segments) {
    if (node->is_object()) {
      auto it = node->find(segment);
      if (it == node->end()) return nullptr;
      node = &*it;
    } else if (node->is_array()) {
      if (segment.empty() || segment.size() > 9 ||
          !std::all_of(segment.begin(), segment.end(),
                       [](char c) { return c >= '0' && c <= '9'; })) {
        return nullptr;
      }
      size_t index = std::stoul(segment);
      if (index >= node->size()) return nullptr;
      node = &(*node)[index];
    } else {
      return nullptr;
    }
  }
  return node;
}

std::string describe(const Condition& c);

std::string describe_all(const std::vector<Condition>& conditions) {
  std::string out;
  for (const auto& c : conditions) {
    if (!out.empty()) out += ", ";
    out += describe(c);
  }
  return out;
}

std::string describe(const Condition& c) {
  switch (c.kind) {
    case ConditionKind::check:
      return "check " + c.check + " passes";
    case ConditionKind::any:
      return "some element of " + c.path.text + " with " + describe_all(c.where);
    case ConditionKind::all:
      return "every element of " + c.path.text + " with " + describe_all(c.where);
    case ConditionKind::claim:
      break;
  }
  const std::string& p = c.path.text;
  switch (c.test) {
    case ConditionTest::equals:
      return p + " = " + shown(c.operand);
    case ConditionTest::one_of:
      return p + " one of " + shown_list(c.operand);
    case ConditionTest::in_reference:
      return p + " in reference value '" + c.operand.get<std::string>() + "'";
    case ConditionTest::min:
      return p + " at least " + shown(c.operand);
    case ConditionTest::is:
      return p + " is " + shown(c.operand);
    case ConditionTest::contains:
      return p + " contains " + shown(c.operand);
    case ConditionTest::subset_of:
      return p + " within " + shown_list(c.operand);
    case ConditionTest::none:
      break;
  }
  return p;
}

struct Verdict {
  bool holds = true;
  std::string why;  // when it does not hold, and only when it was asked for
};

// Evaluation runs in two modes: Explain builds the text of every failure (the explanation lists
// them all), the other only decides. An "any" over a log's 98 entries fails for almost every
// entry, and its explanation does not mention them, so it asks without Explain; whoever needs
// the text of a failure evaluates that one condition again with Explain.
template <bool Explain, class Why>
Verdict fails(Why&& why) {
  if constexpr (Explain) {
    return {false, std::forward<Why>(why)()};
  } else {
    return {false, {}};
  }
}

class Evaluator {
 public:
  Evaluator(const CheckResults& checks, const ReferenceValueStore& references, Time now)
      : checks_(checks), references_(references), now_(now) {}

  template <bool Explain>
  Verdict condition(const Condition& c, const Json& root) const {
    if (c.kind == ConditionKind::check) {
      const CheckResult* check = find_check(checks_, c.check);
      if (!check) return fails<Explain>([&] { return "check " + c.check + " was not run"; });
      if (check->passed()) return {};
      return fails<Explain>([&] {
        std::string why = "check " + c.check + " is " + std::string(outcome_name(check->outcome));
        if (!check->reason.empty()) why += ": " + check->reason;
        return why;
      });
    }
    const Json* value = resolve(root, c.path);
    if (!value) return fails<Explain>([&] { return c.path.text + " is absent"; });
    if (c.kind == ConditionKind::any || c.kind == ConditionKind::all) {
      return over_elements<Explain>(c, *value);
    }
    return test<Explain>(c, *value);
  }

  // Every condition is evaluated, so that the explanation lists all that fail; without Explain
  // the first failure decides.
  template <bool Explain>
  Verdict all_of(const std::vector<Condition>& conditions, const Json& root) const {
    Verdict out;
    for (const auto& c : conditions) {
      Verdict one = condition<Explain>(c, root);
      if (one.holds) continue;
      if constexpr (!Explain) return one;
      if (!out.holds) out.why += "; ";
      out.holds = false;
      out.why += one.why;
    }
    return out;
  }

 private:
  template <bool Explain>
  Verdict over_elements(const Condition& c, const Json& value) const {
    if (!value.is_array()) return fails<Explain>([&] { return c.path.text + " is not an array"; });
    if (c.kind == ConditionKind::all) {
      for (size_t i = 0; i < value.size(); ++i) {
        if (all_of<false>(c.where, value[i]).holds) continue;
        return fails<Explain>([&] {
          return c.path.text + "[" + std::to_string(i) +
                 "]: " + all_of<true>(c.where, value[i]).why;
        });
      }
      return {};
    }
    for (const auto& element : value) {
      if (all_of<false>(c.where, element).holds) return {};
    }
    return fails<Explain>([&] {
      return "no element of " + c.path.text + " (" + std::to_string(value.size()) + ") has " +
             describe_all(c.where);
    });
  }

  template <bool Explain>
  Verdict test(const Condition& c, const Json& value) const {
    const std::string& p = c.path.text;
    switch (c.test) {
      case ConditionTest::equals:
        if (value == c.operand) return {};
        return fails<Explain>(
            [&] { return p + " is " + shown(value) + ", expected " + shown(c.operand); });
      case ConditionTest::one_of:
        if (std::find(c.operand.begin(), c.operand.end(), value) != c.operand.end()) return {};
        return fails<Explain>(
            [&] { return p + " is " + shown(value) + ", allowed: " + shown_list(c.operand); });
      case ConditionTest::in_reference: {
        const auto& name = c.operand.get_ref<const std::string&>();
        auto reference = references_.get(name, now_);
        if (!reference)
          return fails<Explain>([&] { return p + " cannot match: " + reference.error().message; });
        if ((*reference)->contains(value)) return {};
        return fails<Explain>([&] {
          return p + " is " + shown(value) + ", not among the " +
                 std::to_string((*reference)->values.size()) + " values of reference value '" +
                 name + "'";
        });
      }
      case ConditionTest::min:
        return minimum<Explain>(c, value);
      case ConditionTest::is:
        if (value == c.operand) return {};
        return fails<Explain>(
            [&] { return p + " is " + shown(value) + ", required: " + shown(c.operand); });
      case ConditionTest::contains:
        if (value.is_array() && std::find(value.begin(), value.end(), c.operand) != value.end()) {
          return {};
        }
        return fails<Explain>([&] {
          return p + " is " + shown(value) + ", which does not contain " + shown(c.operand);
        });
      case ConditionTest::subset_of: {
        if (!value.is_array())
          return fails<Explain>([&] { return p + " is " + shown(value) + ", not an array"; });
        for (const auto& member : value) {
          if (std::find(c.operand.begin(), c.operand.end(), member) == c.operand.end()) {
            return fails<Explain>([&] {
              return p + " has " + shown(member) + ", allowed: " + shown_list(c.operand);
            });
          }
        }
        return {};
      }
      case ConditionTest::none:
        break;
    }
    return fails<Explain>([&] { return p + ": no test"; });
  }

  // Integers compare as integers; a hex operand compares byte by byte, each byte of the claim
  // at least the operand's (TCB SVN arrays are ordered component-wise, not as numbers).
  template <bool Explain>
  static Verdict minimum(const Condition& c, const Json& value) {
    const std::string& p = c.path.text;
    if (c.operand.is_number_integer()) {
      int64_t min = c.operand.get<int64_t>();
      if (value.is_number_unsigned()) {
        if (min < 0 || value.get<uint64_t>() >= static_cast<uint64_t>(min)) return {};
      } else if (value.is_number_integer()) {
        if (value.get<int64_t>() >= min) return {};
      } else {
        return fails<Explain>([&] { return p + " is " + shown(value) + ", not an integer"; });
      }
      return fails<Explain>(
          [&] { return p + " is " + shown(value) + ", below the minimum " + shown(c.operand); });
    }
    const auto& min_text = c.operand.get_ref<const std::string&>();
    auto min = hex_decode(min_text);
    if (!value.is_string())
      return fails<Explain>([&] { return p + " is " + shown(value) + ", not a hex string"; });
    auto actual = hex_decode(value.get_ref<const std::string&>());
    if (!actual || !min)
      return fails<Explain>([&] { return p + " is " + shown(value) + ", not a hex string"; });
    if (actual->size() != min->size()) {
      return fails<Explain>([&] {
        return p + " has " + std::to_string(actual->size()) + " bytes, the minimum " +
               std::to_string(min->size());
      });
    }
    for (size_t i = 0; i < actual->size(); ++i) {
      if ((*actual)[i] < (*min)[i]) {
        return fails<Explain>([&] {
          return p + " byte " + std::to_string(i) + " is " + hex_literal((*actual)[i], 2) +
                 ", below the minimum " + hex_literal((*min)[i], 2) + " (" + min_text + ")";
        });
      }
    }
    return {};
  }

  const CheckResults& checks_;
  const ReferenceValueStore& references_;
  Time now_;
};

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}
bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

struct Forced {
  TrustClaim claim;
  int8_t value;
  std::string rule;
  std::string reason;
  // A floor raises a better value to `value` and leaves a worse one alone; other forced values
  // replace the policy's.
  bool floor = false;
};

std::vector<Forced> hard_rules(const Policy& policy, const Json& claims,
                               const CheckResults& checks) {
  std::vector<Forced> out;
  auto because = [](const CheckResult& check, std::string_view what) {
    std::string reason = check.name + " " + std::string(outcome_name(check.outcome));
    if (!check.reason.empty()) reason += ": " + check.reason;
    return reason + " (" + std::string(what) + ")";
  };
  for (const auto& check : checks) {
    std::string rule = "hard rule: " + check.name;
    const std::string& name = check.name;
    if (name == "quote.signature" && check.outcome == Outcome::fail) {
      std::string reason = because(check, "crypto validation failed");
      out.push_back({TrustClaim::hardware, ar4si::kCryptoValidationFailed, rule, reason});
      out.push_back({TrustClaim::instance_identity, ar4si::kCryptoValidationFailed, rule, reason});
    } else if (name == "quote.signature" && check.outcome == Outcome::error) {
      out.push_back({TrustClaim::hardware, ar4si::kUnrecognizedHardware, rule,
                     because(check, "the quote could not be verified")});
    } else if (check.outcome != Outcome::fail) {
      continue;
    } else if (name == "binding" || starts_with(name, "binding.")) {
      out.push_back({TrustClaim::instance_identity, ar4si::kUntrustworthyInstance, rule,
                     because(check, "the report data is not bound to this session")});
    } else if (name == "init_data") {
      out.push_back({TrustClaim::configuration, ar4si::kUnsupportableConfig, rule,
                     because(check, "the init-data is not the one measured")});
    } else if (starts_with(name, "replay.")) {
      out.push_back({TrustClaim::executables, ar4si::kContraindicatedRuntime, rule,
                     because(check, "the event log does not match the measurements")});
    } else if (starts_with(name, "image.") && ends_with(name, ".signature")) {
      out.push_back({TrustClaim::executables, ar4si::kCryptoValidationFailed, rule,
                     because(check, "an image signature did not verify")});
    } else if (starts_with(name, "launch_policy.")) {
      out.push_back({TrustClaim::executables, ar4si::kContraindicatedRuntime, rule,
                     because(check, "an image violates the launch policy")});
    } else if (starts_with(name, "image.") && ends_with(name, ".id")) {
      out.push_back({TrustClaim::executables, ar4si::kContraindicatedRuntime, rule,
                     because(check, "a provided manifest is not the one measured")});
    } else if (name == "runtime_log.acon_events" || name == "claims.uefi_event_logs") {
      out.push_back({TrustClaim::executables, ar4si::kContraindicatedRuntime, rule,
                     because(check, "the event log is not one a genuine TD writes")});
    } else if (starts_with(name, "image.") && ends_with(name, ".manifest")) {
      out.push_back({TrustClaim::executables, ar4si::kUnrecognizedRuntime, rule,
                     because(check, "an image ran whose manifest was not provided"), true});
    } else if (name == "runtime_log.unexplained") {
      out.push_back({TrustClaim::executables, ar4si::kUnrecognizedRuntime, rule,
                     because(check, "the log records what the quote does not prove"), true});
    }
  }
  auto flag = [&](std::initializer_list<const char*> path) {
    const Json* node = &claims;
    for (const char* key : path) {
      if (!node->is_object()) return false;
      auto it = node->find(key);
      if (it == node->end()) return false;
      node = &*it;
    }
    return node->is_boolean() && node->get<bool>();
  };
  if (!policy.allow_simulated && flag({"acon", "simulated"})) {
    out.push_back({TrustClaim::hardware, ar4si::kContraindicatedHardware,
                   "hard rule: allow_simulated = false",
                   "acon.simulated is true: the evidence comes from a simulated TDX platform, "
                   "which the policy does not allow"});
  }
  if (!policy.allow_debug && flag({"tdx", "td_attributes", "debug"})) {
    out.push_back({TrustClaim::configuration, ar4si::kUnsupportableConfig,
                   "hard rule: allow_debug = false",
                   "tdx.td_attributes.debug is true: the host can read and change the TD's "
                   "memory, which the policy does not allow"});
  }
  return out;
}

}  // namespace

ConditionsOutcome evaluate_conditions(const std::vector<Condition>& conditions, const Json& root,
                                      const CheckResults& checks,
                                      const ReferenceValueStore& references, Time now) {
  Verdict verdict = Evaluator(checks, references, now).all_of<true>(conditions, root);
  return {verdict.holds, std::move(verdict.why)};
}

std::string Explanation::to_string() const {
  return std::string(trust_claim_name(claim)) + "=" + std::to_string(value) + " (" + rule +
         "): " + reason;
}

Submod Appraisal::to_submod(std::shared_ptr<const Json> annotated_evidence) const {
  return Submod::from_vector(trust_vector, policy_id, std::move(annotated_evidence));
}

Result<Appraisal> evaluate(const Policy& policy, const Json& claims, const CheckResults& checks,
                           const ReferenceValueStore& references, Time now) {
  if (!claims.is_object()) {
    return make_error(Errc::invalid_argument, "appraisal: the claims document is not an object");
  }
  Evaluator evaluator(checks, references, now);
  Appraisal out;
  out.policy_id = policy.id;
  for (size_t i = 0; i < kTrustClaimCount; ++i) {
    const ClaimRules& rules = policy.rules[i];
    Explanation& explanation = out.explanations[i];
    explanation.claim = static_cast<TrustClaim>(i);
    std::vector<std::string> misses;  // per tier tried, why it does not apply
    bool decided = false;
    for (size_t t = 0; t < rules.tiers.size() && !decided; ++t) {
      const PolicyTier& tier = rules.tiers[t];
      auto outcome = evaluator.all_of<true>(tier.when, claims);
      if (outcome.holds) {
        explanation.value = tier.value;
        explanation.rule =
            "tier " + std::to_string(t + 1) + " (value " + std::to_string(tier.value) + ")";
        explanation.reason = "all " + std::to_string(tier.when.size()) + " conditions hold";
        decided = true;
      } else {
        misses.push_back(std::move(outcome.why));
      }
    }
    if (!decided) {
      explanation.value = rules.default_value;
      explanation.rule = "default";
      if (misses.empty()) {
        explanation.reason = "the policy has no tier for this claim";
      } else if (misses.size() == 1) {
        explanation.reason = misses[0];
      } else {
        for (size_t t = 0; t < misses.size(); ++t) {
          if (t != 0) explanation.reason += " | ";
          explanation.reason += "not " + std::to_string(rules.tiers[t].value) + ": " + misses[t];
        }
      }
    }
  }
  for (auto& forced : hard_rules(policy, claims, checks)) {
    Explanation& explanation = out.explanations[static_cast<size_t>(forced.claim)];
    if (forced.floor
            ? explanation.value >= forced.value
            : explanation.rule.starts_with("hard rule") && explanation.value >= forced.value)
      continue;
    explanation.value = forced.value;
    explanation.rule = std::move(forced.rule);
    explanation.reason = std::move(forced.reason);
  }
  for (const auto& explanation : out.explanations) {
    out.trust_vector.set(explanation.claim, explanation.value);
  }
  out.status = out.trust_vector.tier();
  return out;
}

}  // namespace acon::appraisal
