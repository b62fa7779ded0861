#include "acon/appraisal/check.h"

#include <algorithm>

namespace acon::appraisal {

std::string_view outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::pass:
      return "pass";
    case Outcome::fail:
      return "fail";
    case Outcome::skipped:
      return "skipped";
    case Outcome::error:
      return "error";
  }
  return "error";
}

Json check_to_json(const CheckResult& check) {
  Json out = {{"name", check.name},
              {"outcome", std::string(outcome_name(check.outcome))},
              {"reason", check.reason}};
  if (!check.detail.is_null()) out["detail"] = check.detail;
  return out;
}

Json checks_to_json(const CheckResults& checks) {
  Json out = Json::array();
  for (const CheckResult& check : checks) out.push_back(check_to_json(check));
  return out;
}

bool any_failed(const CheckResults& checks) {
  return std::any_of(checks.begin(), checks.end(), [](const CheckResult& check) {
    return check.outcome == Outcome::fail || check.outcome == Outcome::error;
  });
}

const CheckResult* find_check(const CheckResults& checks, std::string_view name) {
  for (const auto& check : checks) {
    if (check.name == name) return &check;
  }
  return nullptr;
}

}  // namespace acon::appraisal
