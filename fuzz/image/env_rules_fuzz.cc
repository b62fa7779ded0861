// Fuzzes the manifest env-rule parser and the resolution of a Start request's envs. Input: rule
// lines, a "--" line, then request lines. Checks: parse fails exactly when problems are found;
// a resolved environment has one entry per name, sorted, each allowed by the rules, and every
// defaulted name present.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "acon/image/env_rules.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> env, requested;
  bool in_request = false;
  size_t start = 0;
  while (start <= text.size() && env.size() + requested.size() < 256) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string line(text.substr(start, end - start));
    start = end + 1;
    if (!in_request && line == "--") {
      in_request = true;
      continue;
    }
    (in_request ? requested : env).push_back(std::move(line));
  }

  auto problems = acon::image::env_rule_problems(env);
  auto rules = acon::image::EnvRules::parse(env);
  if (rules.ok() != problems.empty()) abort();
  for (const auto& problem : problems)
    if (problem.index >= env.size()) abort();
  if (!rules) return 0;

  auto resolved = rules->resolve(requested);
  if (!resolved) {
    const std::string& message = resolved.error().message;
    if (message.find(" is not in environment array.") == std::string::npos &&
        message != "Format error of environment array in commandline.")
      abort();
    return 0;
  }
  std::set<std::string> names;
  std::string previous;
  for (const std::string& entry : *resolved) {
    size_t eq = entry.find('=');
    if (eq == std::string::npos || eq == 0) abort();
    std::string name = entry.substr(0, eq);
    if (!names.insert(name).second || (!previous.empty() && name <= previous)) abort();
    previous = name;
    auto rule = rules->rules().find(name);
    if (rule == rules->rules().end()) abort();
    if (rule->second) {
      bool allowed = false;
      for (const auto& value : *rule->second) allowed = allowed || value == entry.substr(eq + 1);
      if (!allowed) abort();
    }
  }
  for (const auto& [name, allowed] : rules->rules())
    if (allowed && !names.count(name)) abort();
  return 0;
}
