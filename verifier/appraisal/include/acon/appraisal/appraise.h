// One appraisal from end to end: evidence → checks and the claims document (checks.h) → the
// declarative policy (policy.h) → an EAR ready to sign (ear.h). The KBS and acon-verify both
// call appraise(), so the same evidence under the same policy gets the same decision, the same
// explanations and the same token wherever it is judged. Nothing here reads a clock.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "acon/appraisal/checks.h"
#include "acon/appraisal/ear.h"
#include "acon/appraisal/policy.h"
#include "acon/appraisal/reference_values.h"

namespace acon::appraisal {

// {"acon", "acon-appraisal <version>"}: who issued an EAR that appraise() made.
VerifierId acon_verifier_id();

struct AppraiseOptions {
  // Verification of the evidence; `evidence.at` is also the policy's "now" (reference-value
  // expiry) and the EAR's iat.
  AppraisalOptions evidence;
  // The EAR's issuer fields.
  std::string issuer = "acon";        // iss
  std::vector<std::string> audience;  // aud; the KBS puts its own name here
  VerifierId verifier_id = acon_verifier_id();
  std::chrono::seconds validity{300};  // exp = iat + validity (Trustee's default, 5 minutes)
  std::string submod = "cpu0";         // Trustee names its one CPU appraisal "cpu0"
};

struct AttestationResult {
  EvidenceAppraisal evidence;  // every check and the claims document
  Appraisal appraisal;         // trust vector, ear.status and an explanation per trust claim
  // One submod: the appraisal, annotated with the evidence claims (the same tree as
  // evidence.claims, shared).
  Ear ear;
};

// The submod's ear.veraison.annotated-evidence for a claims document, in Trustee's layout: "tdx"
// (or "sgx"), "report_data" and "runtime_data_claims" when the quote has report data,
// "init_data" and "init_data_claims" when it has an MRCONFIGID; plus acon's "acon" section (a
// CoCo client ignores members it does not know). When the claims document holds exactly those
// members, as appraise_evidence() builds it, the result is `claims` itself, shared, not a copy.
std::shared_ptr<const Json> annotated_evidence(const std::shared_ptr<const Json>& claims,
                                               Platform platform);

// Errors only for options that cannot make a valid EAR (Errc::invalid_argument: an empty issuer
// or submod name, a validity that is not positive). Everything about the evidence is a check.
Result<AttestationResult> appraise(const Evidence& evidence, const Policy& policy,
                                   const ReferenceValueStore& references,
                                   const AppraiseOptions& options);

// What an auditor reads and acon-verify prints: {"status": "<tier>", "explanations": ["<claim>:
// <value> (<why>)", ...], "checks": [<check_to_json>...], "ear": <ear_to_json>}.
Result<Json> attestation_result_json(const AttestationResult& result);

}  // namespace acon::appraisal
