#include "acon/image/env_rules.h"

#include <algorithm>
#include <set>

namespace acon::image {
namespace {

std::string single_quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

}  // namespace

std::vector<EnvRuleProblem> env_rule_problems(const std::vector<std::string>& env) {
  std::vector<EnvRuleProblem> problems;
  // Rules seen so far: nullopt for a bare K, else its allowed values.
  std::map<std::string, std::optional<std::vector<std::string>>, std::less<>> seen;
  for (size_t i = 0; i < env.size(); ++i) {
    const std::string& entry = env[i];
    size_t eq = entry.find('=');
    std::string key = entry.substr(0, eq);
    if (key.empty()) {
      problems.push_back({i, single_quoted(entry) + " has an empty variable name"});
      continue;
    }
    auto it = seen.find(key);
    if (eq == std::string::npos) {
      if (it != seen.end()) {
        problems.push_back({i, "bare " + single_quoted(key) +
                                   " repeats or mixes with an earlier rule for " + key});
      } else {
        seen.emplace(key, std::nullopt);
      }
      continue;
    }
    std::string value = entry.substr(eq + 1);
    if (it == seen.end()) {
      seen.emplace(key, std::vector<std::string>{value});
    } else if (!it->second) {
      problems.push_back({i, single_quoted(entry) + " mixes an allowed value with the bare rule " +
                                 single_quoted(key)});
    } else if (std::find(it->second->begin(), it->second->end(), value) != it->second->end()) {
      problems.push_back({i, single_quoted(entry) + " repeats an allowed value of " + key});
    } else {
      it->second->push_back(value);
    }
  }
  return problems;
}

Result<EnvRules> EnvRules::parse(const std::vector<std::string>& env) {
  auto problems = env_rule_problems(env);
  if (!problems.empty()) {
    return make_error(Errc::parse, "manifest.env[" + std::to_string(problems.front().index) +
                                       "]: " + problems.front().detail);
  }
  EnvRules out;
  for (const std::string& entry : env) {
    size_t eq = entry.find('=');
    if (eq == std::string::npos) {
      out.rules_.emplace(entry, std::nullopt);
      continue;
    }
    auto& allowed = out.rules_[entry.substr(0, eq)];
    if (!allowed) allowed.emplace();
    allowed->push_back(entry.substr(eq + 1));
  }
  return out;
}

Result<std::vector<std::string>> EnvRules::resolve(
    const std::vector<std::string>& requested) const {
  std::map<std::string, std::string> values;
  for (const auto& [name, allowed] : rules_) {
    if (allowed) values[name] = allowed->front();
  }
  std::set<std::string> requested_names;
  for (const std::string& entry : requested) {
    size_t eq = entry.find('=');
    // ACON refuses an entry without '=' and a variable requested twice with this text.
    if (eq == std::string::npos || !requested_names.insert(entry.substr(0, eq)).second) {
      return make_error(Errc::invalid_argument,
                        "Format error of environment array in commandline.");
    }
    auto rule = rules_.find(entry.substr(0, eq));
    bool accepted = rule != rules_.end();
    if (accepted && rule->second) {
      const auto& allowed = *rule->second;
      accepted = std::find(allowed.begin(), allowed.end(), entry.substr(eq + 1)) != allowed.end();
    }
    if (!accepted) {
      return make_error(Errc::invalid_argument, entry + " is not in environment array.");
    }
    values[rule->first] = entry.substr(eq + 1);
  }
  std::vector<std::string> out;
  out.reserve(values.size());
  for (const auto& [name, value] : values) out.push_back(name + "=" + value);
  return out;
}

}  // namespace acon::image
