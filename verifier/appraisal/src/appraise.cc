// Evidence → checks and claims → policy → EAR. See appraise.h.
#include "acon/appraisal/appraise.h"

namespace acon::appraisal {

VerifierId acon_verifier_id() { return {"acon", "acon-appraisal " ACON_APPRAISAL_VERSION}; }

Json annotated_evidence(const Json& claims, Platform platform) {
  Json out = Json::object();
  const char* tee = platform == Platform::tdx ? "tdx" : platform == Platform::sgx ? "sgx" : "vtpm";
  if (auto it = claims.find(tee); it != claims.end()) out[tee] = *it;
  // Trustee's broker writes init_data(_claims) only when the verifier gave an init_data claim,
  // and runtime_data_claims only when it gave report_data.
  for (const auto& [claim, companion] :
       {std::pair{"report_data", "runtime_data_claims"}, {"init_data", "init_data_claims"}}) {
    auto it = claims.find(claim);
    if (it == claims.end()) continue;
    out[claim] = *it;
    auto with = claims.find(companion);
    out[companion] = with == claims.end() ? Json(nullptr) : *with;
  }
  if (auto it = claims.find("acon"); it != claims.end()) out["acon"] = *it;
  return out;
}

Result<AttestationResult> appraise(const Evidence& evidence, const Policy& policy,
                                   const ReferenceValueStore& references,
                                   const AppraiseOptions& options) {
  if (options.issuer.empty())
    return make_error(Errc::invalid_argument, "appraise: the EAR issuer is empty");
  if (options.submod.empty())
    return make_error(Errc::invalid_argument, "appraise: the EAR submod name is empty");
  if (options.validity <= std::chrono::seconds::zero())
    return make_error(Errc::invalid_argument, "appraise: the EAR validity is not positive");

  AttestationResult out;
  out.evidence = appraise_evidence(evidence, options.evidence);
  ACON_TRY(out.appraisal, evaluate(policy, out.evidence.claims, out.evidence.checks, references,
                                   options.evidence.at));
  out.ear.iat = options.evidence.at;
  out.ear.exp = options.evidence.at + options.validity;
  out.ear.iss = options.issuer;
  out.ear.aud = options.audience;
  out.ear.verifier_id = options.verifier_id;
  out.ear.submods[options.submod] =
      out.appraisal.to_submod(annotated_evidence(out.evidence.claims, evidence.platform));
  return out;
}

Result<Json> attestation_result_json(const AttestationResult& result) {
  Json out = Json::object();
  out["status"] = tier_name(result.appraisal.status);
  Json explanations = Json::array();
  for (const Explanation& explanation : result.appraisal.explanations)
    explanations.push_back(explanation.to_string());
  out["explanations"] = std::move(explanations);
  out["checks"] = checks_to_json(result.evidence.checks);
  ACON_TRY(out["ear"], ear_to_json(result.ear));
  return out;
}

}  // namespace acon::appraisal
