// A manifest's `env` list read as acond reads it (ACON 3430805, get_env_vars): which variables a
// Start request may set, to which values, and the defaults the container gets without asking.
//   bare "K"             K may be set to any value; no default
//   "K=V1", "K=V2", ...  K may be set to V1 or V2; V1 (the first) is the default
// Mixing a bare K with K=V, repeating a bare K or the same K=V, and an empty K are errors. A
// default of "" sets the variable to the empty string (it does not leave it unset).
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "acon/common/result.h"

namespace acon::image {

// One problem with the rules: the index of the `env` entry and what is wrong with it.
struct EnvRuleProblem {
  size_t index = 0;
  std::string detail;  // "'A=1' repeats an allowed value of A"
};

// Every problem in `env`, in entry order (empty = the rules are valid). validate_manifest()
// reports these as "manifest.env[<index>]: <detail>".
std::vector<EnvRuleProblem> env_rule_problems(const std::vector<std::string>& env);

class EnvRules {
 public:
  // Errc::parse naming the first bad entry: "manifest.env[1]: bare 'A' repeats ...".
  static Result<EnvRules> parse(const std::vector<std::string>& env);

  // The environment of a container started with `requested` ("K=V" entries): every default,
  // overridden by the request, sorted by name. Refused with Errc::invalid_argument and ACON's
  // messages: an entry naming an undeclared K or a value K does not allow, "<entry> is not in
  // environment array."; an entry without '=' or a K requested twice, "Format error of
  // environment array in commandline.".
  Result<std::vector<std::string>> resolve(const std::vector<std::string>& requested) const;

  // nullopt: any value allowed (bare K); otherwise the allowed values, default first.
  const std::map<std::string, std::optional<std::vector<std::string>>>& rules() const {
    return rules_;
  }

 private:
  std::map<std::string, std::optional<std::vector<std::string>>> rules_;
};

}  // namespace acon::image
