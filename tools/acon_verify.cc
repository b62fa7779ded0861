// acon-verify: verify an Intel TDX / SGX DCAP quote against its collateral in Intel QVL's order,
// and print the status, advisories, TCB date and the key measurements (`quote`); the claims
// document a CoCo Trustee policy reads, with its checks (`claims`, docs/claims.md); or the whole
// appraisal of an evidence bundle under a policy, with its EAR (`appraise`,
// docs/appraisal-policy.md).
// Exit codes: 0 acceptable status / affirming (QvE non-terminal, docs/dcap-verification.md §9),
// 1 rejected, 2 unusable input or usage.
#include <CLI/CLI.hpp>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <optional>

#include "acon/appraisal/appraise.h"
#include "acon/appraisal/checks.h"
#include "acon/dcap/claims.h"
#include "acon/dcap/fetch.h"
#include "acon/dcap/verify.h"
#include "acon/eventlog/event_log.h"
#include "tool_util.h"

namespace acon {
namespace {

using namespace dcap;
using tools::fail;

struct Inputs {
  std::string quote;
  std::string collateral;
  std::string pcs;  // PCS or PCCS base URL; collateral fetched for the quote's platform
  bool pccs = false;
  std::string root_crl_url;
  std::string cache_dir;  // on-disk collateral cache for --pcs
  bool offline = false;
  std::optional<std::string> time;
  std::string root;
  bool json = false;
  bool strict = false;
  bool allow_collateral_pck_chain = false;
  std::string eventlog;  // claims: the TD's CCEL event log
  bool compact = false;  // claims: one-line JSON
  // appraise:
  std::string evidence;                       // bundle directory or evidence JSON
  std::string policy;                         // policy TOML
  std::vector<std::string> reference_values;  // RVPS messages
  std::optional<std::string> nonce;           // the challenge nonce the runtime data must carry
  std::vector<std::string> audience;
  std::string ear_key;  // P-256 private key (PEM) to sign the EAR with
};

// The platform's FMSPC and PCK CA come from the PCK chain inside the quote; nothing fetched is
// trusted before verify_quote checks its signatures.
Result<Collateral> fetch_for(const tdx::Quote& quote, const Inputs& in, Time now) {
  PcsConfig config;
  config.base_url = in.pcs;
  config.kind = in.pccs ? PcsConfig::Kind::pccs : PcsConfig::Kind::pcs;
  config.cache_dir = in.cache_dir;
  config.root_ca_crl_url = in.root_crl_url;
  config.offline = in.offline;
  return CollateralFetcher(config).fetch_for_quote(quote, now);
}

// The options every command shares: verification time (default now), expiry rule, where the
// PCK chain may come from, and --root, which replaces the pinned Intel root (DER or PEM).
Result<VerifyOptions> verify_options(const Inputs& in) {
  VerifyOptions options;
  options.strict_expiry = in.strict;
  options.allow_collateral_pck_chain = in.allow_collateral_pck_chain;
  options.at = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  if (in.time) {
    ACON_TRY(options.at, tools::parse_time_option("--time", *in.time));
  }
  if (!in.root.empty()) {
    ACON_TRY(std::string root_bytes, tools::read_input(in.root));
    auto root = Certificate::from_der(as_bytes(root_bytes));
    if (!root) root = Certificate::from_pem(root_bytes);
    if (!root) return root.error().wrap(in.root);
    options.anchors.roots = {*root};
  }
  return options;
}

appraisal::AppraisalOptions appraisal_options(const VerifyOptions& verify) {
  appraisal::AppraisalOptions options;
  options.at = verify.at;
  options.anchors = verify.anchors;
  options.strict_expiry = verify.strict_expiry;
  options.allow_collateral_pck_chain = verify.allow_collateral_pck_chain;
  return options;
}

// A quote read and parsed, with the collateral and options to verify it; `quote` views into
// `bytes`, so this stays where it is made.
struct Loaded {
  Bytes bytes;
  tdx::Quote quote;
  std::optional<Collateral> collateral;
  VerifyOptions options;
};

// Reads and parses the quote of `in`, and loads or fetches its collateral; an exit code when that
// fails.
std::optional<int> load_inputs(const Inputs& in, Loaded& out) {
  auto content = tools::read_input(in.quote);
  if (!content) return fail(content.error());
  auto quote_bytes = tdx::decode_quote_file(*content);
  if (!quote_bytes) return fail(quote_bytes.error().wrap(in.quote));
  out.bytes = std::move(*quote_bytes);
  auto quote = tdx::parse_quote(out.bytes);
  if (!quote) return fail(quote.error().wrap(in.quote));
  out.quote = *quote;
  auto options = verify_options(in);
  if (!options) return fail(options.error());
  out.options = std::move(*options);
  Result<Collateral> collateral =
      in.pcs.empty() ? load_collateral_bundle_file(in.collateral, tools::max_input_bytes())
                     : fetch_for(out.quote, in, out.options.at);
  if (!collateral) return fail(collateral.error());
  out.collateral = std::move(*collateral);
  return std::nullopt;
}

int cmd_quote(const Inputs& in) {
  Loaded loaded;
  if (auto code = load_inputs(in, loaded)) return *code;
  auto verified = verify_quote(loaded.quote, *loaded.collateral, loaded.options);
  if (!verified) return fail(verified.error().wrap(in.quote));
  const QuoteVerdict& verdict = *verified;
  Json claims = quote_claims(loaded.quote, verdict);
  if (in.json) {
    Json out = verdict_json(verdict);
    out["verification_time"] = format_rfc3339(loaded.options.at);
    out["claims"] = std::move(claims);
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << verdict_text(verdict, claims);
  }
  return verdict.accepted ? tools::kExitOk : tools::kExitRejected;
}

// {"claims": <the claims document, appraisal/checks.h>, "checks": [<CheckResult>...]}: the
// appraisal library's evidence step over the quote and its event log, without a policy. Trustee
// issues claims only after verification succeeds; this prints them either way and lets the
// checks (and the exit code) say whether Trustee would have issued them.
int cmd_claims(const Inputs& in) {
  Loaded loaded;
  if (auto code = load_inputs(in, loaded)) return *code;
  appraisal::Evidence evidence;
  evidence.platform = loaded.quote.is_tdx() ? appraisal::Platform::tdx : appraisal::Platform::sgx;
  (loaded.quote.is_tdx() ? evidence.tdx.quote : evidence.sgx.quote) = loaded.bytes;
  if (!in.eventlog.empty()) {
    auto read = tools::read_input(in.eventlog);
    if (!read) return fail(read.error());
    evidence.tdx.cc_eventlog = to_bytes(*read);
    // A file that is no event log at all is unusable input (exit 2), named by its path; what a
    // log that parses says is the checks' business.
    eventlog::ParseOptions parse;
    parse.allow_zero_signature = true;
    if (auto log = eventlog::parse_event_log(*evidence.tdx.cc_eventlog, parse); !log)
      return fail(log.error().wrap(in.eventlog));
  }
  appraisal::AppraisalOptions options = appraisal_options(loaded.options);
  options.collateral = std::move(loaded.collateral);
  appraisal::EvidenceAppraisal result = appraisal::appraise_evidence(evidence, options);
  const bool rejected = appraisal::any_failed(result.checks);
  Json out = {{"claims", *result.claims}, {"checks", appraisal::checks_to_json(result.checks)}};
  std::cout << (in.compact ? out.dump() : out.dump(2)) << "\n";
  return rejected ? tools::kExitRejected : tools::kExitOk;
}

// The appraisal library from end to end (appraise.h) over an evidence bundle: checks, claims,
// the policy's trust vector with an explanation per claim, and the EAR, signed when a key is
// given. Exit 0 when ear.status is affirming, 1 otherwise, 2 for unusable input.
int cmd_appraise(const Inputs& in) {
  std::error_code ec;
  Result<appraisal::Evidence> evidence = std::filesystem::is_directory(in.evidence, ec)
                                             ? appraisal::load_evidence_directory(in.evidence)
                                             : [&]() -> Result<appraisal::Evidence> {
    ACON_TRY(std::string text, tools::read_input(in.evidence));
    return appraisal::parse_evidence_json(text);
  }();
  if (!evidence) return fail(evidence.error().wrap(in.evidence));
  auto policy_text = tools::read_input(in.policy);
  if (!policy_text) return fail(policy_text.error());
  auto policy = appraisal::parse_policy(*policy_text, in.policy);
  if (!policy) return fail(policy.error());
  auto verify = verify_options(in);
  if (!verify) return fail(verify.error());
  appraisal::AppraiseOptions options;
  options.evidence = appraisal_options(*verify);
  options.evidence.expected_nonce = in.nonce;
  options.audience = in.audience;
  if (!in.collateral.empty()) {
    auto collateral = load_collateral_bundle_file(in.collateral, tools::max_input_bytes());
    if (!collateral) return fail(collateral.error());
    options.evidence.collateral = std::move(*collateral);
  }
  appraisal::ReferenceValueStore references;
  for (const std::string& path : in.reference_values) {
    auto message = tools::read_input(path);
    if (!message) return fail(message.error());
    if (auto added = references.register_message(*message, verify->at); !added)
      return fail(added.error().wrap(path));
  }

  auto result = appraisal::appraise(*evidence, *policy, references, options);
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
  for (CLI::App* sub : {quote, claims, appraise}) {
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
    if (sub == appraise) continue;
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
  appraise->add_option("--reference-values", in.reference_values,
                       "RVPS message (Trustee's sample form) with reference values; repeatable");
  appraise->add_option("--nonce", in.nonce, "The challenge nonce the KBS runtime data must carry");
  appraise->add_option("--audience", in.audience, "The EAR's aud; repeatable");
  appraise->add_option("--ear-key", in.ear_key,
                       "P-256 private key (PEM) to sign the EAR with; adds \"ear_jwt\"");
  for (CLI::App* sub : {claims, appraise})
    sub->add_flag("--compact", in.compact, "One-line JSON instead of 2-space indented");
  if (auto done = tools::parse_command_line(app, argc, argv)) return *done;
  if (*appraise) return cmd_appraise(in);
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
}  // namespace acon

int main(int argc, char** argv) { return acon::tools::guarded_main(argc, argv, acon::run); }
