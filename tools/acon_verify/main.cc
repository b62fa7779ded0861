// acon-verify: verify an Intel TDX / SGX DCAP quote against its collateral in Intel QVL's order,
// and print the status, advisories, TCB date and the key measurements (`quote`); the claims
// document a CoCo Trustee policy reads, with its checks (`claims`, docs/claims.md); or the whole
// appraisal of an evidence bundle under a policy, with its EAR (`appraise`,
// docs/appraisal-policy.md); the auditor's report of that appraisal on the terminal, as
// versioned JSON and as one self-contained HTML page (`evidence`, docs/acon-verify.md).
// Exit codes: 0 acceptable status / affirming (QvE non-terminal, docs/dcap-verification.md §9),
// 1 rejected, 2 unusable input or usage.
#include <CLI/CLI.hpp>

#include <array>
#include <iostream>

#include "acon/report/report.h"
#include "commands.h"
#include "tool_util.h"

namespace acon::verify_tool {
namespace {

// Bundle file options of `evidence`: option name, bundle file name (docs/evidence.md).
constexpr std::pair<const char*, const char*> kBundleFileOptions[] = {
    {"--quote", "quote.bin"},
    {"--cc-eventlog", "cc_eventlog.bin"},
    {"--ccel", "ccel.bin"},
    {"--runtime-aael", "runtime_aael.bin"},
    {"--runtime-aael-text", "runtime_aael.txt"},
    {"--ima-log", "ima.txt"},
    {"--runtime-data", "runtime_data.json"},
    {"--attestation-data", "attestation_data.json"},
    {"--init-data", "init_data.toml"},
};

int run(int argc, char** argv) {
  CLI::App app{
      "acon-verify: verify Intel TDX / SGX DCAP quotes in Intel QVL's order, and appraise "
      "evidence.\nExit codes: 0 acceptable status (OK, OutOfDate, ConfigurationNeeded, "
      "SWHardeningNeeded, TDRelaunchAdvised, ...) or affirming, 1 rejected, 2 bad input or usage."};
  app.require_subcommand(1);
  tools::add_input_limit_option(app);
  Inputs in;
  auto* quote = app.add_subcommand("quote", "Verify a quote against its collateral");
  auto* claims = app.add_subcommand(
      "claims",
      "Verify a quote, replay its event log, and print {\"claims\": the document a CoCo Trustee "
      "policy reads (docs/claims.md), \"checks\": [...]}. Exit 1 when a check fails or cannot "
      "be made (quote.*, replay.rtmr*, claims.uefi_event_logs: Trustee would refuse the log)");
  auto* appraise = app.add_subcommand(
      "appraise",
      "Appraise evidence under a policy (docs/appraisal-policy.md) and print {\"status\", "
      "\"explanations\", \"checks\", \"ear\"[, \"ear_jwt\"]}: the same decision the KBS makes. "
      "Exit 0 when ear.status is affirming, 1 otherwise");
  auto* evidence = app.add_subcommand(
      "evidence",
      "The auditor's report (docs/acon-verify.md): appraise an evidence bundle (a directory, a "
      ".tar/.tar.gz archive, an evidence JSON, the files one by one, or a KBS attestation "
      "request) under a policy (default: the built-in strict one), and show which check "
      "decided: on the terminal, as versioned JSON (--json), as one self-contained HTML page "
      "(--html). Exit 0 accepted (affirming), 1 rejected, 2 unusable input");
  for (CLI::App* sub : {quote, claims, appraise, evidence}) {
    sub->add_option("--time", in.time,
                    "Verification time: unix seconds or RFC 3339 (default: now)");
    sub->add_option("--root", in.root,
                    "Trust anchor (DER or PEM) instead of the pinned Intel SGX Root CA");
    sub->add_flag("--strict", in.strict, "Fail on expired collateral instead of flagging it");
    sub->add_flag("--allow-collateral-pck-chain", in.allow_collateral_pck_chain,
                  "Verify a quote without a type-5 PCK chain with the collateral's "
                  "pck_certificate_chain (QvE rejects such quotes); the verdict says so");
    auto* bundle = sub->add_option("--collateral", in.collateral,
                                   "Collateral bundle JSON (flat format, docs/dcap-verification.md "
                                   "§3); for appraise, when the evidence carries none");
    if (sub == appraise || sub == evidence) continue;
    sub->add_option("--quote", in.quote, "Quote file: binary, or hex text ('-' for stdin)")
        ->required();
    auto* pcs = sub->add_option("--pcs", in.pcs,
                                "Fetch collateral for the quote's FMSPC from this Intel PCS or "
                                "PCCS base URL (e.g. https://api.trustedservices.intel.com)");
    bundle->excludes(pcs);
    pcs->excludes(bundle);
    sub->add_flag("--pccs", in.pccs, "The --pcs URL is a PCCS (root CA CRL served as hex)");
    sub->add_option("--root-crl-url", in.root_crl_url,
                    "With --pcs: where to fetch the Intel SGX Root CA CRL (default: Intel's URL "
                    "for a PCS, <pcs>/sgx/certification/v4/rootcacrl for a PCCS)");
    sub->add_option("--cache-dir", in.cache_dir, "On-disk collateral cache for --pcs");
    sub->add_flag("--offline", in.offline, "With --pcs: use only the cache, never the network");
  }
  quote->add_flag("--json", in.json, "Print the verdict, supplemental data and claims as JSON");
  claims->add_option("--eventlog", in.eventlog,
                     "The TD's CCEL event log (the raw log area, as in Trustee's cc_eventlog)");
  appraise
      ->add_option("--evidence", in.evidence,
                   "Evidence bundle directory or evidence JSON (docs/evidence.md)")
      ->required();
  appraise->add_option("--policy", in.policy, "Appraisal policy TOML")->required();
  appraise->add_option("--ear-key", in.ear_key,
                       "P-256 private key (PEM) to sign the EAR with; adds \"ear_jwt\"");
  auto* bundle_option = evidence->add_option(
      "--bundle", in.source.bundle,
      "Evidence bundle: a directory, a .tar or .tar.gz archive of one, or an evidence JSON "
      "(docs/evidence.md)");
  auto* kbs_request = evidence->add_option(
      "--kbs-request", in.source.kbs_request,
      "A KBS attestation request body (kbs-types Attestation) as captured from the wire");
  evidence
      ->add_option("--tee", in.source.tee, "The session's TEE for --kbs-request (tdx, sgx, tpm)")
      ->capture_default_str();
  bundle_option->excludes(kbs_request);
  auto* acond = evidence->add_option(
      "--acond", in.source.acond,
      "Take the evidence live from acond's Report (HOST:PORT, tcp://, unix://; via acon-client, "
      "which must be beside acon-verify or named by --acon-client); --nonce N is the Report's "
      "nonce (default: random) and attestation_data must carry it");
  evidence->add_option("--acon-client", in.source.acon_client,
                       "The acon-client program for --acond");
  acond->excludes(bundle_option)->excludes(kbs_request);
  std::array<std::string, std::size(kBundleFileOptions)> file_paths;
  for (size_t i = 0; i < std::size(kBundleFileOptions); ++i) {
    auto* file = evidence->add_option(
        kBundleFileOptions[i].first, file_paths[i],
        std::string("Bundle file ") + kBundleFileOptions[i].second + " (docs/evidence.md)");
    file->excludes(bundle_option)->excludes(kbs_request)->excludes(acond);
  }
  evidence->add_option("--image", in.source.image_dirs,
                       "A directory with an image's manifest.json, signature and certificate.der "
                       "(repeatable; with the files or --kbs-request)");
  evidence->add_option("--policy", in.policy,
                       "Appraisal policy TOML (default: the built-in strict policy, "
                       "--show-default-policy)");
  bool show_policy = false;
  evidence->add_flag("--show-default-policy", show_policy, "Print the built-in policy and exit");
  evidence->add_flag("--allow-simulated", in.allow_simulated,
                     "Accept acon's simulated TDX platform (the policy may also allow it); the "
                     "report still labels it simulated");
  for (CLI::App* sub : {appraise, evidence}) {
    sub->add_option("--reference-values", in.reference_values,
                    "RVPS message (Trustee's sample form) with reference values; repeatable");
    sub->add_option("--nonce", in.nonce,
                    sub == evidence ? "The challenge nonce the KBS runtime data must carry; with "
                                      "--acond, the Report's nonce (a number)"
                                    : "The challenge nonce the KBS runtime data must carry");
    sub->add_option("--audience", in.audience, "The EAR's aud; repeatable");
    sub->add_option(
        "--ak-pin", in.tpm_aks,
        "A vTPM attestation key (PEM public key) to verify TPM quotes with (acon-client "
        "report --ak-out, acon-tpm enroll); repeatable. Without one a TPM quote is refused");
  }
  evidence->add_flag("--json", in.report_json,
                     "Print the versioned result model as JSON instead of the terminal report");
  evidence->add_option("--html", in.html, "Write the report as one self-contained HTML page");
  evidence->add_flag("--no-color", in.no_color,
                     "No ANSI colours (they are used only when standard output is a terminal)");
  for (CLI::App* sub : {claims, appraise, evidence})
    sub->add_flag("--compact", in.compact, "One-line JSON instead of 2-space indented");
  if (auto done = tools::parse_command_line(app, argc, argv)) return *done;
  if (*appraise) return cmd_appraise(in);
  if (*evidence) {
    if (show_policy) {
      std::cout << report::builtin_policy_toml();
      return tools::kExitOk;
    }
    for (size_t i = 0; i < std::size(kBundleFileOptions); ++i)
      if (!file_paths[i].empty())
        in.source.files.emplace_back(kBundleFileOptions[i].second, file_paths[i]);
    return cmd_evidence(in);
  }
  if (*quote || *claims) {
    if (in.collateral.empty() == in.pcs.empty()) {
      std::cerr << "acon-verify: give exactly one of --collateral and --pcs\n";
      return tools::kExitBadInput;
    }
    return *quote ? cmd_quote(in) : cmd_claims(in);
  }
  return tools::kExitBadInput;
}

}  // namespace
}  // namespace acon::verify_tool

int main(int argc, char** argv) {
  return acon::tools::guarded_main(argc, argv, acon::verify_tool::run);
}
