// acon-verify: verify an Intel TDX / SGX DCAP quote against its collateral in Intel QVL's order,
// and print the status, advisories, TCB date and the key measurements (`quote`); the claims
// document a CoCo Trustee policy reads, with its checks (`claims`, docs/claims.md); or the whole
// appraisal of an evidence bundle under a policy, with its EAR (`appraise`,
// docs/appraisal-policy.md).
// Exit codes: 0 acceptable status / affirming (QvE non-terminal, docs/dcap-verification.md §9),
// 1 rejected, 2 unusable input or usage.
#include <CLI/CLI.hpp>

#include <cctype>
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

// A quote file is either the binary quote or ASCII hex of it (optionally 0x-prefixed, with
// surrounding whitespace). Strict: hex only when every byte is a hex digit or that whitespace,
// which a binary quote (starting 03/04/05 00) never is.
Result<Bytes> decode_quote_file(const std::string& content) {
  size_t begin = 0, end = content.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(content[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(content[end - 1]))) --end;
  std::string_view text(content.data() + begin, end - begin);
  if (text.rfind("0x", 0) == 0 || text.rfind("0X", 0) == 0) text.remove_prefix(2);
  const bool hex = !text.empty() && std::all_of(text.begin(), text.end(), [](char ch) {
    return std::isxdigit(static_cast<unsigned char>(ch)) != 0;
  });
  if (!hex) return to_bytes(content);
  auto bytes = hex_decode(text);
  if (!bytes.ok()) return bytes.error().wrap("hex quote");
  return bytes;
}

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

void print_text(const QuoteVerdict& verdict, const Json& claims) {
  std::cout << "status: " << qvl_status_text_label(verdict.status) << " "
            << qv_result_name(verdict.qv_result) << " "
            << (verdict.accepted ? "ACCEPTED" : "REJECTED") << "\n";
  // Right under the status, so nobody reads an accepted simulated quote as real hardware.
  std::cout << "simulated: "
            << (verdict.simulated
                    ? "YES - ACON simulated TDX platform, not evidence of real hardware"
                    : "no")
            << "\n";
  if (verdict.pck_chain_from_collateral)
    std::cout << "pck_chain: from the collateral, not the quote (--allow-collateral-pck-chain)\n";
  if (!verdict.failure.empty()) std::cout << "failure: " << verdict.failure << "\n";
  if (verdict.tcb) {
    std::cout << "tcb_status: " << tcb_status_name(verdict.tcb->tcb_status) << "\n";
    std::cout << "tcb_date: " << format_rfc3339(verdict.tcb_date) << "\n";
  }
  std::cout << "advisories:";
  if (verdict.advisory_ids.empty()) std::cout << " none";
  for (const std::string& id : verdict.advisory_ids) std::cout << " " << id;
  std::cout << "\n";
  // QvE's status does not change with expiry; say plainly what an accepted verdict rests on.
  std::cout << "collateral_expired: "
            << (verdict.collateral_expired
                    ? "YES - this verdict rests on expired collateral (revocations and TCB levels "
                      "may be out of date); --strict rejects it"
                    : "no")
            << "\n";
  if (!verdict.fmspc.empty()) std::cout << "fmspc: " << hex_encode(verdict.fmspc) << "\n";
  if (!claims.contains("quote") || !claims["quote"].contains("body")) return;
  const Json& body = claims["quote"]["body"];
  for (const char* name : {"mr_td", "rtmr_0", "rtmr_1", "rtmr_2", "rtmr_3", "report_data",
                           "mr_config_id", "td_attributes", "xfam"})
    std::cout << name << ": " << body[name].get<std::string>() << "\n";
  std::cout << "td_attributes_decoded:";
  for (const auto& [name, value] : claims["td_attributes"].items())
    std::cout << " " << name << "=" << (value.get<bool>() ? 1 : 0);
  std::cout << "\n";
}

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

// --root replaces the pinned Intel root with the one given (DER or PEM); an exit code when it
// cannot be read.
std::optional<int> load_root(const Inputs& in, TrustAnchors& anchors) {
  if (in.root.empty()) return std::nullopt;
  auto root_bytes = tools::read_input(in.root);
  if (!root_bytes) return fail(root_bytes.error());
  auto root = Certificate::from_der(as_bytes(*root_bytes));
  if (!root) root = Certificate::from_pem(*root_bytes);
  if (!root) return fail(root.error().wrap(in.root));
  anchors.roots = {*root};
  return std::nullopt;
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
  auto quote_bytes = decode_quote_file(*content);
  if (!quote_bytes) return fail(quote_bytes.error().wrap(in.quote));
  out.bytes = std::move(*quote_bytes);
  auto quote = tdx::parse_quote(out.bytes);
  if (!quote) return fail(quote.error().wrap(in.quote));
  out.quote = *quote;

  VerifyOptions& options = out.options;
  options.strict_expiry = in.strict;
  options.allow_collateral_pck_chain = in.allow_collateral_pck_chain;
  const Time now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  options.at = now;
  if (in.time) {
    auto at = tools::parse_time_option("--time", *in.time);
    if (!at) return fail(at.error());
    options.at = *at;
  }

  Result<Collateral> collateral =
      in.pcs.empty() ? load_collateral_bundle_file(in.collateral, tools::max_input_bytes())
                     : fetch_for(out.quote, in, now);
  if (!collateral) return fail(collateral.error());
  out.collateral = std::move(*collateral);
  if (auto code = load_root(in, options.anchors)) return *code;
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
    print_text(verdict, claims);
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
  appraisal::AppraisalOptions options;
  options.at = loaded.options.at;
  options.anchors = loaded.options.anchors;
  options.strict_expiry = loaded.options.strict_expiry;
  options.allow_collateral_pck_chain = loaded.options.allow_collateral_pck_chain;
  options.collateral = std::move(loaded.collateral);
  appraisal::EvidenceAppraisal result = appraisal::appraise_evidence(evidence, options);
  Json checks = Json::array();
  bool rejected = false;
  for (const appraisal::CheckResult& check : result.checks) {
    checks.push_back(appraisal::check_to_json(check));
    if (check.outcome == appraisal::Outcome::fail || check.outcome == appraisal::Outcome::error)
      rejected = true;
  }
  Json out = {{"claims", std::move(result.claims)}, {"checks", std::move(checks)}};
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

  appraisal::AppraiseOptions options;
  appraisal::AppraisalOptions& ev = options.evidence;
  ev.at = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  if (in.time) {
    auto at = tools::parse_time_option("--time", *in.time);
    if (!at) return fail(at.error());
    ev.at = *at;
  }
  ev.strict_expiry = in.strict;
  ev.allow_collateral_pck_chain = in.allow_collateral_pck_chain;
  ev.expected_nonce = in.nonce;
  if (!in.collateral.empty()) {
    auto collateral = load_collateral_bundle_file(in.collateral, tools::max_input_bytes());
    if (!collateral) return fail(collateral.error());
    ev.collateral = std::move(*collateral);
  }
  if (auto code = load_root(in, ev.anchors)) return *code;
  appraisal::ReferenceValueStore references;
  for (const std::string& path : in.reference_values) {
    auto message = tools::read_input(path);
    if (!message) return fail(message.error());
    if (auto registered = references.register_message(*message, ev.at); !registered)
      return fail(registered.error().wrap(path));
  }
  options.audience = in.audience;

  auto result = appraisal::appraise(*evidence, *policy, references, options);
  if (!result) return fail(result.error());
  Json out = Json::object();
  out["status"] = appraisal::tier_name(result->appraisal.status);
  Json explanations = Json::array();
  for (const appraisal::Explanation& e : result->appraisal.explanations)
    explanations.push_back(e.to_string());
  out["explanations"] = std::move(explanations);
  Json checks = Json::array();
  for (const appraisal::CheckResult& check : result->evidence.checks)
    checks.push_back(appraisal::check_to_json(check));
  out["checks"] = std::move(checks);
  auto ear = appraisal::ear_to_json(result->ear);
  if (!ear) return fail(ear.error());
  out["ear"] = std::move(*ear);
  if (!in.ear_key.empty()) {
    auto pem = tools::read_input(in.ear_key);
    if (!pem) return fail(pem.error());
    auto key = PrivateKey::from_pem(*pem);
    if (!key) return fail(key.error().wrap(in.ear_key));
    auto signer = appraisal::EarSigner::create(std::move(*key));
    if (!signer) return fail(signer.error().wrap(in.ear_key));
    auto jwt = appraisal::sign_ear_jwt(result->ear, *signer);
    if (!jwt) return fail(jwt.error());
    out["ear_jwt"] = std::move(*jwt);
  }
  std::cout << (in.compact ? out.dump() : out.dump(2)) << "\n";
  return result->appraisal.status == appraisal::Tier::affirming ? tools::kExitOk
                                                                : tools::kExitRejected;
}

int run(int argc, char** argv) {
  CLI::App app{
      "acon-verify: verify Intel TDX / SGX DCAP quotes in Intel QVL's order.\n"
      "Exit codes: 0 acceptable status (OK, OutOfDate, ConfigurationNeeded, SWHardeningNeeded, "
      "TDRelaunchAdvised, ...),\n"
      "1 rejected, 2 bad input or usage."};
  app.require_subcommand(1);
  tools::add_input_limit_option(app);
  Inputs in;
  auto* quote = app.add_subcommand("quote", "Verify a quote against its collateral");
  auto* claims = app.add_subcommand(
      "claims",
      "Verify a quote (and replay its event log) and print the claims document a CoCo Trustee "
      "policy reads (docs/claims.md) with the appraisal checks beside it: {\"claims\": ..., "
      "\"checks\": [...]}.\n"
      "Trustee issues claims only after verification succeeds; this prints them either way and "
      "exits 1 when a check fails or cannot be made (quote.signature / quote.tcb: the quote or its "
      "TCB is not acceptable; replay.rtmr*: the log does not replay to the quote; "
      "claims.uefi_event_logs: Trustee would refuse the log), 0 when none does");
  for (CLI::App* sub : {quote, claims}) {
    sub->add_option("--quote", in.quote, "Quote file: binary, or hex text ('-' for stdin)")
        ->required();
    auto* bundle =
        sub->add_option("--collateral", in.collateral,
                        "Collateral bundle JSON (flat format, docs/dcap-verification.md §3)");
    auto* pcs = sub->add_option(
        "--pcs", in.pcs,
        "Fetch collateral for the quote's FMSPC from this Intel PCS or PCCS base URL "
        "(e.g. https://api.trustedservices.intel.com)");
    bundle->excludes(pcs);
    pcs->excludes(bundle);
    sub->add_flag("--pccs", in.pccs, "The --pcs URL is a PCCS (root CA CRL served as hex)");
    sub->add_option(
        "--root-crl-url", in.root_crl_url,
        "With --pcs: where to fetch the Intel SGX Root CA CRL (default: Intel's URL for a PCS, "
        "<pcs>/sgx/certification/v4/rootcacrl for a PCCS)");
    sub->add_option("--cache-dir", in.cache_dir, "On-disk collateral cache for --pcs");
    sub->add_flag("--offline", in.offline, "With --pcs: use only the cache, never the network");
    sub->add_option("--time", in.time,
                    "Verification time: unix seconds or RFC 3339 (default: now)");
    sub->add_option("--root", in.root,
                    "Trust anchor (DER or PEM) instead of the pinned Intel SGX Root CA");
    sub->add_flag("--strict", in.strict, "Fail on expired collateral instead of flagging it");
    sub->add_flag("--allow-collateral-pck-chain", in.allow_collateral_pck_chain,
                  "Verify a quote without a type-5 PCK chain with the collateral's "
                  "pck_certificate_chain (QvE rejects such quotes); the verdict says so");
  }
  quote->add_flag("--json", in.json, "Print the verdict, supplemental data and claims as JSON");
  auto* appraise = app.add_subcommand(
      "appraise",
      "Appraise evidence under a policy (docs/appraisal-policy.md) and print {\"status\", "
      "\"explanations\", \"checks\", \"ear\"[, \"ear_jwt\"]}: the same decision the KBS makes.\n"
      "Exit 0 when ear.status is affirming, 1 otherwise, 2 for unusable input");
  appraise
      ->add_option("--evidence", in.evidence,
                   "Evidence bundle directory or evidence JSON (docs/evidence.md)")
      ->required();
  appraise->add_option("--policy", in.policy, "Appraisal policy TOML")->required();
  appraise->add_option("--reference-values", in.reference_values,
                       "RVPS message (Trustee's sample form) with reference values; repeatable");
  appraise->add_option("--collateral", in.collateral,
                       "DCAP collateral bundle when the evidence carries none");
  appraise->add_option("--time", in.time,
                       "Appraisal time: unix seconds or RFC 3339 (default: now)");
  appraise->add_option("--root", in.root,
                       "Trust anchor (DER or PEM) instead of the pinned Intel SGX Root CA");
  appraise->add_flag("--strict", in.strict, "Fail on expired collateral instead of flagging it");
  appraise->add_option("--nonce", in.nonce, "The challenge nonce the KBS runtime data must carry");
  appraise->add_option("--audience", in.audience, "The EAR's aud; repeatable");
  appraise->add_option("--ear-key", in.ear_key,
                       "P-256 private key (PEM) to sign the EAR with; adds \"ear_jwt\"");
  appraise->add_flag("--compact", in.compact, "One-line JSON instead of 2-space indented");
  claims->add_option("--eventlog", in.eventlog,
                     "The TD's CCEL event log (the raw log area, as in Trustee's cc_eventlog)");
  claims->add_flag("--compact", in.compact, "One-line JSON instead of 2-space indented");
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
