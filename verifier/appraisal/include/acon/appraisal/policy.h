// Declarative appraisal policy: a versioned TOML file that turns a claims document (the input
// Trustee's attestation service gives its Rego policy, plus our "acon" section) and the
// CheckResults beside it into an AR4SI trustworthiness vector, ear.status and, for every claim,
// the rule that decided it and why. It stands where Trustee runs Rego (regorus); the format, every
// key and the evaluation order are in docs/appraisal-policy.md.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "acon/appraisal/check.h"
#include "acon/appraisal/condition.h"
#include "acon/appraisal/ear.h"
#include "acon/appraisal/reference_values.h"
#include "acon/common/json.h"
#include "acon/common/result.h"
#include "acon/common/x509.h"

namespace acon::appraisal {

inline constexpr int64_t kPolicyVersion = 1;
inline constexpr size_t kMaxPolicyBytes = 1 << 20;
// "value V if every condition in `when` holds".
struct PolicyTier {
  int8_t value = 0;
  std::vector<Condition> when;
  size_t line = 0;
};

// The rules for one trust claim: the first tier whose conditions hold gives the value, else
// `default_value`. A claim the policy does not mention gets 0 (no claim), as Trustee's defaults.
struct ClaimRules {
  int8_t default_value = ar4si::kNoClaim;
  std::vector<PolicyTier> tiers;
};

struct Policy {
  int64_t version = kPolicyVersion;
  std::string id;                // becomes ear.appraisal-policy-id
  bool allow_simulated = false;  // else acon.simulated == true forces hardware 96
  bool allow_debug = false;      // else tdx.td_attributes.debug == true forces configuration 96
  std::array<ClaimRules, kTrustClaimCount> rules{};

  const ClaimRules& rules_for(TrustClaim claim) const { return rules[static_cast<size_t>(claim)]; }
};

// Parses policy TOML. Errors are Errc::parse naming the source, the line and the key
// ("default_cpu.toml:12: [hardware] tier 1: unknown key \"equal\""), or Errc::unsupported for a
// version other than 1. Unknown keys anywhere are refused.
Result<Policy> parse_policy(std::string_view toml_text, std::string_view source_name = "policy");

// Why one claim has its value.
struct Explanation {
  TrustClaim claim = TrustClaim::instance_identity;
  int8_t value = 0;
  // What decided: "tier 1 (value 3)", "default", or "hard rule: quote.signature".
  std::string rule;
  // For a value from a tier, that its conditions hold; otherwise what each tier lacked, e.g.
  // "tdx.tcb_status is OutOfDate, allowed: UpToDate".
  std::string reason;
  // "hardware=97 (default): tdx.tcb_status is OutOfDate, allowed: UpToDate"
  std::string to_string() const;
};

struct Appraisal {
  TrustVector trust_vector;  // all eight claims set
  Tier status = Tier::none;  // trust_vector.tier()
  std::string policy_id;
  std::array<Explanation, kTrustClaimCount> explanations{};  // in TrustClaim order

  const Explanation& explanation(TrustClaim claim) const {
    return explanations[static_cast<size_t>(claim)];
  }
  // The submod an EAR carries for this appraisal.
  Submod to_submod(std::shared_ptr<const Json> annotated_evidence = nullptr) const;
};

// Hard rules, applied after the policy and whatever it says (a forced value replaces the policy's;
// of several, the highest stays; an "at least" value only raises a better one):
//   quote.signature fail            -> hardware 99, instance-identity 99 (crypto validation failed)
//   quote.signature error           -> hardware 97 (the verifier could not recognise the hardware)
//   binding.* fail                  -> instance-identity 96 (report data not bound to this session)
//   init_data fail                  -> configuration 96 (MRCONFIGID does not match the init-data)
//   replay.* fail                   -> executables 96 (the event log does not replay to the RTMRs)
//   image.*.signature fail          -> executables 99
//   launch_policy.* fail            -> executables 96
//   image.*.id fail                 -> executables 96 (the manifest is not the one measured)
//   runtime_log.acon_events fail, claims.uefi_event_logs fail -> executables 96
//   image.*.manifest fail           -> executables at least 33 (an image nobody can judge ran)
//   runtime_log.unexplained fail    -> executables at least 33 (logged but not quoted)
//   acon.simulated true, not allowed             -> hardware 96
//   tdx.td_attributes.debug true, not allowed    -> configuration 96
// A reference value that has expired at `now` matches nothing. Errc::invalid_argument when
// `claims` is not a JSON object; nothing else is an error (a condition that cannot be evaluated
// does not hold, and the explanation says why).
Result<Appraisal> evaluate(const Policy& policy, const Json& claims, const CheckResults& checks,
                           const ReferenceValueStore& references, Time now);

}  // namespace acon::appraisal
