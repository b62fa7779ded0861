// acon-verify quote and claims: a quote verified against its collateral in Intel QVL's order, and
// the claims document a CoCo Trustee policy reads (docs/claims.md).
#include <chrono>
#include <iostream>
#include <optional>

#include "acon/appraisal/checks.h"
#include "acon/dcap/claims.h"
#include "acon/dcap/fetch.h"
#include "acon/dcap/verify.h"
#include "acon/eventlog/event_log.h"
#include "commands.h"
#include "tool_util.h"

namespace acon::verify_tool {

using namespace dcap;
using tools::fail;

namespace {

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

}  // namespace

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

namespace {

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

}  // namespace

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

}  // namespace acon::verify_tool
