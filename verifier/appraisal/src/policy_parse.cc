// Policy TOML -> Policy, via toml++ (header-only, without exceptions). Every key is known or
// refused, and every error names the line it is on.
#include <limits>

#include "acon/appraisal/condition_toml.h"
#include "acon/appraisal/policy.h"
#include "acon/common/bytes.h"
#include "toml_guard.h"

namespace acon::appraisal {
namespace {

class Parser : public TomlSource {
 public:
  using TomlSource::TomlSource;

  Result<Json> to_json(const toml::node& node, const std::string& where, size_t depth = 0) const {
    if (depth > kMaxJsonDepth) return error_at(node, where + ": nested too deeply");
    if (auto s = node.as_string()) return Json(s->get());
    if (auto i = node.as_integer()) return Json(i->get());
    if (auto f = node.as_floating_point()) return Json(f->get());
    if (auto b = node.as_boolean()) return Json(b->get());
    if (auto a = node.as_array()) {
      Json out = Json::array();
      for (const auto& member : *a) {
        ACON_TRY(Json value, to_json(member, where, depth + 1));
        out.push_back(std::move(value));
      }
      return out;
    }
    if (auto t = node.as_table()) {
      Json out = Json::object();
      for (const auto& [key, member] : *t) {
        ACON_TRY(Json value, to_json(member, where, depth + 1));
        out[std::string(key.str())] = std::move(value);
      }
      return out;
    }
    return error_at(node, where + ": dates and times are not claim values");
  }

  Result<ClaimPath> path(const toml::node& node, const std::string& where) const {
    auto text = node.as_string();
    if (!text || text->get().empty()) return error_at(node, where + ": a non-empty path string");
    ClaimPath out;
    out.text = text->get();
    std::string_view body = out.text;
    if (body.front() == '/') {
      // RFC 6901: "~1" is "/", "~0" is "~", any other "~" is malformed.
      for (std::string_view token : split(body.substr(1), '/')) {
        std::string segment;
        for (size_t i = 0; i < token.size(); ++i) {
          if (token[i] != '~') {
            segment += token[i];
          } else if (i + 1 < token.size() && (token[i + 1] == '0' || token[i + 1] == '1')) {
            segment += token[i + 1] == '0' ? '~' : '/';
            ++i;
          } else {
            return error_at(node, where + ": JSON pointer \"" + out.text + "\" has a bad ~ escape");
          }
        }
        out.segments.push_back(std::move(segment));
      }
    } else {
      for (std::string_view segment : split(body, '.')) {
        if (segment.empty()) {
          return error_at(node, where + ": path \"" + out.text + "\" has an empty segment");
        }
        out.segments.emplace_back(segment);
      }
    }
    return out;
  }

  Result<int8_t> claim_value(const toml::node& node, const std::string& where) const {
    auto value = node.as_integer();
    if (!value || value->get() < std::numeric_limits<int8_t>::min() ||
        value->get() > std::numeric_limits<int8_t>::max()) {
      return error_at(node, where + ": an AR4SI value, an integer from -128 to 127");
    }
    return static_cast<int8_t>(value->get());
  }

  Result<Condition> condition(const toml::node& node, const std::string& where,
                              size_t depth) const {
    if (depth > kMaxConditionDepth) {
      return error_at(
          node, where + ": conditions nest deeper than " + std::to_string(kMaxConditionDepth));
    }
    auto table = node.as_table();
    if (!table) return error_at(node, where + ": a condition is a table");
    Condition out;
    out.line = node.source().begin.line;
    int subjects = 0;
    int tests = 0;
    const toml::node* where_node = nullptr;
    for (const auto& [key, value] : *table) {
      std::string_view name = key.str();
      std::string field = where + "." + std::string(name);
      if (name == "claim" || name == "any" || name == "all") {
        ++subjects;
        out.kind = name == "claim" ? ConditionKind::claim
                   : name == "any" ? ConditionKind::any
                                   : ConditionKind::all;
        ACON_TRY(out.path, path(value, field));
      } else if (name == "check") {
        ++subjects;
        out.kind = ConditionKind::check;
        auto check = value.as_string();
        if (!check || check->get().empty()) return error_at(value, field + ": a check name");
        out.check = check->get();
      } else if (name == "where") {
        where_node = &value;
      } else if (auto test = test_from_name(name); test != ConditionTest::none) {
        ++tests;
        out.test = test;
        ACON_TRY(out.operand, to_json(value, field));
        ACON_CHECK(check_operand(value, out.test, out.operand, field));
      } else {
        return unknown_key(key, where);
      }
    }
    if (subjects != 1) {
      return error_at(node, where + ": a condition has exactly one of claim, check, any, all");
    }
    bool over_elements = out.kind == ConditionKind::any || out.kind == ConditionKind::all;
    if (out.kind == ConditionKind::claim && tests != 1) {
      return error_at(node, where +
                                ": a claim condition has exactly one test (equals, one_of, "
                                "in_reference, min, is, contains, subset_of)");
    }
    if (out.kind != ConditionKind::claim && tests != 0) {
      return error_at(node, where + ": only a claim condition takes a test");
    }
    if (over_elements != (where_node != nullptr)) {
      return error_at(node, where + ": \"where\" goes with any and all, and only with them");
    }
    if (where_node) {
      ACON_TRY(out.where, conditions(*where_node, where + ".where", depth + 1));
    }
    return out;
  }

  Result<std::vector<Condition>> conditions(const toml::node& node, const std::string& where,
                                            size_t depth) const {
    auto array = node.as_array();
    if (!array || array->empty())
      return error_at(node, where + ": a non-empty array of conditions");
    std::vector<Condition> out;
    for (size_t i = 0; i < array->size(); ++i) {
      ACON_TRY(Condition c,
               condition(*array->get(i), where + "[" + std::to_string(i + 1) + "]", depth));
      out.push_back(std::move(c));
    }
    return out;
  }

  Result<ClaimRules> claim_rules(const toml::node& node, const std::string& group) const {
    auto table = node.as_table();
    std::string where = "[" + group + "]";
    if (!table) return error_at(node, where + " is a table");
    ClaimRules out;
    for (const auto& [key, value] : *table) {
      if (key.str() == "default") {
        ACON_TRY(out.default_value, claim_value(value, where + ".default"));
      } else if (key.str() == "tiers") {
        auto tiers = value.as_array();
        if (!tiers)
          return error_at(value, where + ".tiers: an array of tables ([[" + group + ".tiers]])");
        for (size_t i = 0; i < tiers->size(); ++i) {
          ACON_TRY(PolicyTier tier,
                   policy_tier(*tiers->get(i), where + " tier " + std::to_string(i + 1)));
          out.tiers.push_back(std::move(tier));
        }
      } else {
        return unknown_key(key, where);
      }
    }
    return out;
  }

  Result<PolicyTier> policy_tier(const toml::node& node, const std::string& where) const {
    auto table = node.as_table();
    if (!table) return error_at(node, where + ": a tier is a table");
    PolicyTier out;
    out.line = node.source().begin.line;
    bool has_value = false;
    bool has_when = false;
    for (const auto& [key, value] : *table) {
      if (key.str() == "value") {
        ACON_TRY(out.value, claim_value(value, where + ".value"));
        has_value = true;
      } else if (key.str() == "when") {
        ACON_TRY(out.when, conditions(value, where + ".when", 0));
        has_when = true;
      } else {
        return unknown_key(key, where);
      }
    }
    if (!has_value || !has_when) return error_at(node, where + ": needs both value and when");
    return out;
  }

  Result<bool> boolean(const toml::node& node, const std::string& where) const {
    auto value = node.as_boolean();
    if (!value) return error_at(node, where + ": true or false");
    return value->get();
  }

 private:
  static ConditionTest test_from_name(std::string_view name) {
    if (name == "equals") return ConditionTest::equals;
    if (name == "one_of") return ConditionTest::one_of;
    if (name == "in_reference") return ConditionTest::in_reference;
    if (name == "min") return ConditionTest::min;
    if (name == "is") return ConditionTest::is;
    if (name == "contains") return ConditionTest::contains;
    if (name == "subset_of") return ConditionTest::subset_of;
    return ConditionTest::none;
  }

  Status check_operand(const toml::node& node, ConditionTest test, const Json& operand,
                       const std::string& where) const {
    switch (test) {
      case ConditionTest::one_of:
      case ConditionTest::subset_of:
        if (!operand.is_array() || operand.empty()) {
          return error_at(node, where + ": a non-empty array");
        }
        break;
      case ConditionTest::in_reference:
        if (!operand.is_string() || operand.get_ref<const std::string&>().empty()) {
          return error_at(node, where + ": a reference value name");
        }
        break;
      case ConditionTest::is:
        if (!operand.is_boolean()) return error_at(node, where + ": true or false");
        break;
      case ConditionTest::min:
        if (operand.is_number_integer()) break;
        if (operand.is_string()) {
          const auto& text = operand.get_ref<const std::string&>();
          if (!text.empty() && hex_decode(text).ok()) break;
        }
        return error_at(node, where + ": an integer, or a hex string of SVN bytes");
      default:
        break;
    }
    return {};
  }
};

}  // namespace

Result<toml::table> parse_toml_text(std::string_view text, std::string_view source,
                                    size_t max_bytes) {
  Parser parser(source);
  if (text.size() > max_bytes) {
    return parser.error_at(1, "policy of " + std::to_string(text.size()) +
                                  " bytes exceeds the limit of " + std::to_string(max_bytes));
  }
  if (auto refused = refuse_tomlpp_mishandled(text, source); !refused) return refused.error();
  toml::parse_result parsed = toml::parse(text, source);
  if (!parsed) {
    const auto& error = parsed.error();
    return parser.error_at(error.source().begin.line, std::string(error.description()));
  }
  return std::move(parsed).table();
}

Result<std::vector<Condition>> parse_conditions(const toml::node& node, std::string_view source,
                                                const std::string& where) {
  return Parser(source).conditions(node, where, 0);
}

Result<Policy> parse_policy(std::string_view toml_text, std::string_view source_name) {
  Parser parser(source_name);
  ACON_TRY(const toml::table root, parse_toml_text(toml_text, source_name, kMaxPolicyBytes));
  Policy policy;
  bool has_version = false;
  bool has_id = false;
  for (const auto& [key, value] : root) {
    std::string_view name = key.str();
    if (name == "version") {
      auto version = value.as_integer();
      if (!version) return parser.error_at(value, "version: an integer");
      if (version->get() != kPolicyVersion) {
        return make_error(Errc::unsupported,
                          std::string(source_name) + ":" +
                              std::to_string(value.source().begin.line) + ": policy version " +
                              std::to_string(version->get()) + " is not supported (only 1)");
      }
      policy.version = version->get();
      has_version = true;
    } else if (name == "id") {
      auto id = value.as_string();
      if (!id || id->get().empty()) return parser.error_at(value, "id: a non-empty string");
      policy.id = id->get();
      has_id = true;
    } else if (name == "allow_simulated") {
      ACON_TRY(policy.allow_simulated, parser.boolean(value, "allow_simulated"));
    } else if (name == "allow_debug") {
      ACON_TRY(policy.allow_debug, parser.boolean(value, "allow_debug"));
    } else if (auto claim = trust_claim_from_name(name)) {
      ACON_TRY(policy.rules[static_cast<size_t>(*claim)],
               parser.claim_rules(value, std::string(name)));
    } else {
      return parser.unknown_key(key, "top level");
    }
  }
  if (!has_version) return parser.error_at(1, "the key \"version\" (= 1) is missing");
  if (!has_id) return parser.error_at(1, "the key \"id\" is missing");
  return policy;
}

}  // namespace acon::appraisal
