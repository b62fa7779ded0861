// One named check of an appraisal and its outcome. Every step that can decide a verdict (quote
// signature, report-data binding, init-data, replay, image signatures, launch policy, reference
// values) yields one of these, so that a relying party, an auditor's report and the policy all
// see the same result with the same reason.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "acon/common/json.h"

namespace acon::appraisal {

enum class Outcome {
  pass,     // the check ran and the evidence satisfied it
  fail,     // the check ran and the evidence contradicts it
  skipped,  // the evidence needed for the check was not supplied (reason says what is missing)
  error,    // the check could not run (unusable input, verifier fault)
};
std::string_view outcome_name(Outcome outcome);  // "pass", "fail", "skipped", "error"

struct CheckResult {
  // A stable dotted name: "quote.signature", "quote.tcb", "binding.kbs", "binding.acon",
  // "init_data", "replay.rtmr3", "image.<image id>.signature", "launch_policy.acond", ...
  std::string name;
  Outcome outcome = Outcome::skipped;
  // One sentence for humans: what was compared with what, and where it diverged (the first
  // divergent event, the byte offset, the rule).
  std::string reason;
  // Machine-readable detail for reports (expected/actual values, the event index, ...); null
  // when there is none.
  Json detail = nullptr;

  bool passed() const { return outcome == Outcome::pass; }
};

using CheckResults = std::vector<CheckResult>;

// {"name","outcome","reason"[, "detail"]}
Json check_to_json(const CheckResult& check);
// [check_to_json(check)...] in order.
Json checks_to_json(const CheckResults& checks);
// True when a check failed or could not be made.
bool any_failed(const CheckResults& checks);
// The first check with the given name, or nullptr.
const CheckResult* find_check(const CheckResults& checks, std::string_view name);

}  // namespace acon::appraisal
