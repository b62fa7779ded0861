// Evidence → checks and claims → policy → EAR. See appraise.h.
#include "acon/appraisal/appraise.h"

#include <array>
#include <utility>

namespace acon::appraisal {

VerifierId acon_verifier_id() { return {"acon", "acon-appraisal " ACON_APPRAISAL_VERSION}; }

std::shared_ptr<const Json> annotated_evidence(const std::shared_ptr<const Json>& claims,
                                               Platform platform) {
  const Json& document = *claims;
  const char* tee = platform == Platform::tdx ? "tdx" : platform == Platform::sgx ? "sgx" : "vtpm";
  // Trustee's broker writes init_data(_claims) only when the verifier gave an init_data claim,
  // and runtime_data_claims only when it gave report_data.
  constexpr std::array<std::pair<const char*, const char*>, 2> kWithCompanion = {
      {{"report_data", "runtime_data_claims"}, {"init_data", "init_data_claims"}}};
  // The document already has this layout when every member is one of the above and each
  // companion is there with its claim: then it is shared rather than rebuilt.
  size_t layout_members = document.contains(tee) + document.contains("acon");
  bool companions_present = true;
  for (const auto& [claim, companion] : kWithCompanion) {
    if (!document.contains(claim)) continue;
    layout_members += 1 + document.contains(companion);
    companions_present &= document.contains(companion);
  }
  if (document.is_object() && companions_present && layout_members == document.size())
    return claims;

  Json out = Json::object();
  if (auto it = document.find(tee); it != document.end()) out[tee] = *it;
  for (const auto& [claim, companion] : kWithCompanion) {
    auto it = document.find(claim);
    if (it == document.end()) continue;
    out[claim] = *it;
    auto with = document.find(companion);
    out[companion] = with == document.end() ? Json(nullptr) : *with;
  }
  if (auto it = document.find("acon"); it != document.end()) out["acon"] = *it;
  return std::make_shared<const Json>(std::move(out));
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
  ACON_TRY(out.appraisal, evaluate(policy, *out.evidence.claims, out.evidence.checks, references,
                                   options.evidence.at));
  out.ear.iat = options.evidence.at;
  out.ear.exp = options.evidence.at + options.validity;
  out.ear.iss = options.issuer;
  out.ear.aud = options.audience;
  out.ear.verifier_id = options.verifier_id;
  Submod& submod = out.ear.submods[options.submod] =
      out.appraisal.to_submod(annotated_evidence(out.evidence.claims, evidence.platform));
  submod.prewritten_event_log = out.evidence.prewritten_event_log;
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
