#include "acon/appraisal/check.h"

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

const CheckResult* find_check(const CheckResults& checks, std::string_view name) {
  for (const auto& check : checks) {
    if (check.name == name) return &check;
  }
  return nullptr;
}

}  // namespace acon::appraisal
