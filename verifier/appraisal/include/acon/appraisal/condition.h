// Conditions over a JSON document: the `when` lists of the appraisal policy (policy.h), also
// used by the KBS resource policy (acon/kbs/resource_policy.h) over an EAR's annotated evidence.
// docs/appraisal-policy.md describes every kind and test. Parsing from TOML is in
// condition_toml.h, so that this header does not bring toml++ along.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "acon/appraisal/check.h"
#include "acon/appraisal/reference_values.h"
#include "acon/common/json.h"
#include "acon/common/x509.h"

namespace acon::appraisal {

// any / all conditions nest at most this deep.
inline constexpr size_t kMaxConditionDepth = 8;

// A place in the claims document: "tdx.quote.body.mr_td" (dots separate members, a decimal
// segment indexes an array) or a JSON pointer "/tdx/quote/body/mr_td" (RFC 6901, for member
// names that contain a dot).
struct ClaimPath {
  std::string text;                   // as written, for messages
  std::vector<std::string> segments;  // unescaped
};

enum class ConditionKind {
  claim,  // the value at `path` passes `test`
  check,  // the CheckResult named `check` has outcome pass
  any,    // `path` is an array and some element satisfies every condition of `where`
  all,    // `path` is an array and every element satisfies every condition of `where`
};

enum class ConditionTest {
  none,          // check, any, all
  equals,        // JSON equality with `operand`
  one_of,        // equal to a member of the array `operand`
  in_reference,  // among the values of the reference value named `operand` (unexpired)
  min,           // integer >= operand; or, operand a hex string, byte-wise >= (SVN arrays)
  is,            // the boolean `operand`
  contains,      // an array with a member equal to `operand`
  subset_of,     // an array whose every member is in the array `operand`
};

struct Condition {
  ConditionKind kind = ConditionKind::claim;
  ClaimPath path;     // claim, any, all (relative to the element inside `where`)
  std::string check;  // check
  ConditionTest test = ConditionTest::none;
  Json operand;                  // the test's TOML value as JSON
  std::vector<Condition> where;  // any, all
  size_t line = 0;               // in the policy text, for messages
};

struct ConditionsOutcome {
  bool holds = true;
  // When they do not hold: every failing condition's reason, "; "-separated, in terms of the
  // claims read ("tdx.tcb_status is OutOfDate, allowed: UpToDate").
  std::string why;
};

// Whether every condition holds over `root`. A `check` condition looks its name up in `checks`
// (absent: does not hold); `in_reference` reads `references` at `now` (expired values match
// nothing). Never fails: a condition that cannot be evaluated does not hold.
ConditionsOutcome evaluate_conditions(const std::vector<Condition>& conditions, const Json& root,
                                      const CheckResults& checks,
                                      const ReferenceValueStore& references, Time now);

}  // namespace acon::appraisal
