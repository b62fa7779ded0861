// acon-verify appraise and evidence: the appraisal library from end to end under a policy, and
// the auditor's report of it (docs/acon-verify.md).
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "acon/appraisal/appraise.h"
#include "acon/report/html.h"
#include "acon/report/report.h"
#include "acon/tpm/quote.h"
#include "commands.h"
#include "tool_util.h"

namespace acon::verify_tool {

using tools::fail;

namespace {

// The appraisal options and reference values of appraise and evidence: verification time and
// anchors, the expected nonce, audience, extra collateral and RVPS messages.
struct AppraisalSetup {
  dcap::VerifyOptions verify;
  appraisal::AppraiseOptions options;
  appraisal::ReferenceValueStore references;
};
Result<AppraisalSetup> appraisal_setup(const Inputs& in) {
  AppraisalSetup setup;
  ACON_TRY(setup.verify, verify_options(in));
  setup.options.evidence = appraisal_options(setup.verify);
  setup.options.evidence.expected_nonce = in.nonce;
  setup.options.evidence.expected_requestor_nonce = in.requestor_nonce;
  setup.options.audience = in.audience;
  if (!in.collateral.empty()) {
    ACON_TRY(setup.options.evidence.collateral,
             dcap::load_collateral_bundle_file(in.collateral, tools::max_input_bytes()));
  }
  // A vTPM quote verifies only with an AK the auditor names: the evidence's own key proves nothing.
  if (!in.tpm_aks.empty()) {
    std::vector<PublicKey> aks;
    for (const std::string& path : in.tpm_aks) {
      ACON_TRY(std::string pem, tools::read_input(path));
      auto key = PublicKey::from_pem(pem);
      if (!key) return key.error().wrap(path);
      aks.push_back(std::move(*key));
    }
    setup.options.evidence.ak_trust = tpm::AkTrust::any_of(std::move(aks));
  }
  for (const std::string& path : in.reference_values) {
    ACON_TRY(std::string message, tools::read_input(path));
    if (auto added = setup.references.register_message(message, setup.verify.at); !added)
      return added.error().wrap(path);
  }
  return setup;
}

}  // namespace

// The appraisal library from end to end (appraise.h) over an evidence bundle: checks, claims,
// the policy's trust vector with an explanation per claim, and the EAR, signed when a key is
// given. Exit 0 when ear.status is affirming, 1 otherwise, 2 for unusable input.
int cmd_appraise(const Inputs& in) {
  report::EvidenceSource source;
  source.bundle = in.evidence;
  source.read_file = tools::read_input;
  auto evidence = report::load_evidence(source);
  if (!evidence) return fail(evidence.error());
  auto policy_text = tools::read_input(in.policy);
  if (!policy_text) return fail(policy_text.error());
  auto policy = appraisal::parse_policy(*policy_text, in.policy);
  if (!policy) return fail(policy.error());
  auto setup = appraisal_setup(in);
  if (!setup) return fail(setup.error());
  auto result = appraisal::appraise(evidence->evidence, *policy, setup->references, setup->options);
  if (!result) return fail(result.error());
  auto out = appraisal::attestation_result_json(*result);
  if (!out) return fail(out.error());
  if (!in.ear_key.empty()) {
    auto pem = tools::read_input(in.ear_key);
    if (!pem) return fail(pem.error());
    auto key = PrivateKey::from_pem(*pem);
    auto signer = key ? appraisal::EarSigner::create(std::move(*key)) : key.error();
    if (!signer) return fail(signer.error().wrap(in.ear_key));
    auto jwt = appraisal::sign_ear_jwt(result->ear, *signer);
    if (!jwt) return fail(jwt.error());
    (*out)["ear_jwt"] = std::move(*jwt);
  }
  std::cout << (in.compact ? out->dump() : out->dump(2)) << "\n";
  return result->appraisal.status == appraisal::Tier::affirming ? tools::kExitOk
                                                                : tools::kExitRejected;
}

// The auditor's report (docs/acon-verify.md): the appraisal under the given or the built-in
// policy, on the terminal (or as the versioned JSON model with --json), and as one HTML page
// with --html. Exit 0 when accepted (ear.status affirming), 1 rejected, 2 unusable input.
int cmd_evidence(const Inputs& in) {
  report::EvidenceSource source = in.source;
  source.read_file = tools::read_input;
  Inputs options = in;
  if (!in.source.acond.empty()) {
    // --nonce is the Report's: the requestor nonce acond must put in attestation_data (random
    // when not given), so a report made for another request is refused by binding.acon.
    if (in.nonce) {
      auto value = tools::parse_u64_option("--nonce", *in.nonce);
      if (!value) return fail(value.error());
      source.acond_nonce = *value;
    }
    options.nonce.reset();
  }
  auto evidence = report::load_evidence(source);
  if (!evidence) return fail(evidence.error());
  Result<appraisal::Policy> policy = appraisal::Policy{};
  std::string policy_source = "built-in";
  if (in.policy.empty()) {
    policy = report::builtin_policy(in.allow_simulated);
  } else {
    policy_source = in.policy;
    auto text = tools::read_input(in.policy);
    policy =
        text ? appraisal::parse_policy(*text, in.policy) : Result<appraisal::Policy>(text.error());
    if (policy && in.allow_simulated) policy->allow_simulated = true;
  }
  if (!policy) return fail(policy.error());
  options.requestor_nonce = evidence->requestor_nonce;
  auto setup = appraisal_setup(options);
  if (!setup) return fail(setup.error());
  auto result = appraisal::appraise(evidence->evidence, *policy, setup->references, setup->options);
  if (!result) return fail(result.error());
  report::ReportContext context{evidence->description, policy_source,
                                format_rfc3339(setup->verify.at)};
  auto model = report::report_model(evidence->evidence, *result, context);
  if (!model) return fail(model.error());
  if (!in.html.empty()) {
    const std::string page = report::html_report(*model);
    if (auto written = tools::write_output(in.html, as_bytes(page), false); !written)
      return fail(written.error());
  }
  if (in.report_json) {
    std::cout << model->dump(in.compact ? -1 : 2, ' ', false, Json::error_handler_t::replace)
              << "\n";
  } else {
    const char* no_color_env = std::getenv("NO_COLOR");
    const bool color = !in.no_color && ::isatty(STDOUT_FILENO) == 1 &&
                       (no_color_env == nullptr || *no_color_env == '\0');
    std::cout << report::terminal_report(*model, color);
    if (!in.html.empty()) std::cout << "\nHTML report: " << in.html << "\n";
  }
  return (*model)["verdict"] == "accepted" ? tools::kExitOk : tools::kExitRejected;
}

}  // namespace acon::verify_tool
