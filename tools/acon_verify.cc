// acon-verify: verify an Intel TDX / SGX DCAP quote against its collateral in Intel QVL's order,
// and print the status, advisories, TCB date and the key measurements (`quote`); the claims
// document a CoCo Trustee policy reads, with its checks (`claims`, docs/claims.md); or the whole
// appraisal of an evidence bundle under a policy, with its EAR (`appraise`,
// docs/appraisal-policy.md); the auditor's report of that appraisal on the terminal, as
// versioned JSON and as one self-contained HTML page (`evidence`, docs/acon-verify.md).
// Exit codes: 0 acceptable status / affirming (QvE non-terminal, docs/dcap-verification.md §9),
// 1 rejected, 2 unusable input or usage.
#include <CLI/CLI.hpp>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>

#include "acon/appraisal/appraise.h"
#include "acon/appraisal/checks.h"
#include "acon/dcap/claims.h"
#include "acon/dcap/fetch.h"
#include "acon/dcap/verify.h"
#include "acon/eventlog/event_log.h"
#include "acon/image/attestation_data.h"
#include "acon/report/archive.h"
#include "acon/report/html.h"
#include "acon/report/report.h"
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
  std::optional<Bytes> requestor_nonce;       // the nonce sent in acond's Report request
  std::vector<std::string> audience;
  std::string ear_key;  // P-256 private key (PEM) to sign the EAR with
  // evidence:
  std::string bundle;       // directory, tar / tar.gz archive, or evidence JSON
  std::string kbs_request;  // a KBS attestation request body
  std::string tee = "tdx";  // ... for this session TEE
  // Bundle files one by one, by their bundle names (docs/evidence.md "Bundle layout").
  std::vector<std::pair<std::string, std::string>> files;  // bundle name, path
  std::vector<std::string> image_dirs;  // each: manifest.json [signature] [certificate.der]
  std::string acond;        // HOST:PORT (acon-client's -c forms): take the evidence from acond
  std::string acon_client;  // the acon-client that asks it (default: beside acon-verify)
  bool allow_simulated = false;
  bool report_json = false;
  std::string html;
  bool no_color = false;
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

// The appraisal options and reference values of appraise and evidence: verification time and
// anchors, the expected nonce, audience, extra collateral and RVPS messages.
struct AppraisalSetup {
  VerifyOptions verify;
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
             load_collateral_bundle_file(in.collateral, tools::max_input_bytes()));
  }
  for (const std::string& path : in.reference_values) {
    ACON_TRY(std::string message, tools::read_input(path));
    if (auto added = setup.references.register_message(message, setup.verify.at); !added)
      return added.error().wrap(path);
  }
  return setup;
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
  auto setup = appraisal_setup(in);
  if (!setup) return fail(setup.error());
  auto result = appraisal::appraise(*evidence, *policy, setup->references, setup->options);
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

// An image directory as a bundle holds it: manifest.json (required), signature, certificate.der.
Status add_image_files(const std::string& dir, size_t number,
                       std::vector<report::ArchiveFile>& files) {
  char prefix[32];
  std::snprintf(prefix, sizeof prefix, "images/%03zu/", number);
  for (const char* name : {"manifest.json", "signature", "certificate.der"}) {
    const std::filesystem::path path = std::filesystem::path(dir) / name;
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      if (std::string_view(name) == "manifest.json")
        return make_error(Errc::not_found, path.string() + ": missing");
      continue;
    }
    ACON_TRY(std::string content, tools::read_input(path.string()));
    files.push_back({prefix + std::string(name), to_bytes(content)});
  }
  return {};
}

// acond's evidence for a fresh Report (nonce lo, hi), written as a bundle by acon-client (the
// acond client library's tool: acon-verify does not link gRPC, which would double its start-up
// time, docs/acon-verify.md §1), then read back with the bundle loader.
Result<appraisal::Evidence> evidence_from_acond(const Inputs& in, uint64_t lo, uint64_t hi) {
  std::string client = in.acon_client;
  if (client.empty()) {
    std::error_code ec;
    const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) return make_error(Errc::io, "/proc/self/exe: " + ec.message());
    client = (self.parent_path() / "acon-client").string();
  }
  ACON_TRY(report::TemporaryDirectory scratch, report::TemporaryDirectory::create());
  const std::string bundle = (scratch.path() / "bundle").string();
  const std::string lo_text = std::to_string(lo), hi_text = std::to_string(hi);
  std::vector<std::string> args = {client,  "-c",    in.acond,   "report", "--nonce",
                                   lo_text, hi_text, "--bundle", bundle};
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  // Its progress line goes nowhere (stdout may be the JSON); its errors reach stderr.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, client.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) return make_error(Errc::io, client + ": " + std::strerror(spawned));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return make_error(Errc::io, client + ": " + std::strerror(errno));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return make_error(Errc::io, "--acond " + in.acond + ": acon-client report failed (exit " +
                                    std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) +
                                    ")");
  auto evidence = appraisal::load_evidence_directory(bundle);
  if (!evidence) return evidence.error().wrap("--acond " + in.acond);
  return evidence;
}

// The evidence of `evidence` from whichever input form was given, and a name for it.
Result<appraisal::Evidence> load_evidence(const Inputs& in, std::string& source) {
  std::vector<report::ArchiveFile> image_files;
  for (size_t i = 0; i < in.image_dirs.size(); ++i)
    ACON_CHECK(add_image_files(in.image_dirs[i], i, image_files));
  if (!in.kbs_request.empty()) {
    source = in.kbs_request + " (KBS attestation request, tee " + in.tee + ")";
    ACON_TRY(std::string body, tools::read_input(in.kbs_request));
    auto evidence = appraisal::load_kbs_attestation(body, in.tee);
    if (!evidence) return evidence.error().wrap(in.kbs_request);
    // The request carries no images; the auditor adds the manifests the runtime log names.
    for (size_t i = 0; i < image_files.size();) {
      appraisal::ProvidedImage image;
      const std::string dir = image_files[i].path.substr(0, image_files[i].path.rfind('/'));
      image.name = in.image_dirs[evidence->images.size()];
      for (; i < image_files.size() && image_files[i].path.starts_with(dir + "/"); ++i) {
        const std::string name = image_files[i].path.substr(dir.size() + 1);
        Bytes& target = name == "manifest.json" ? image.manifest
                        : name == "signature"   ? image.signature
                                                : image.certificate_der;
        target = std::move(image_files[i].content);
      }
      evidence->images.push_back(std::move(image));
    }
    return evidence;
  }
  if (!in.bundle.empty()) {
    source = in.bundle;
    if (!image_files.empty())
      return make_error(Errc::invalid_argument, "--image: a bundle holds its images itself");
    std::error_code ec;
    if (std::filesystem::is_directory(in.bundle, ec)) {
      auto evidence = appraisal::load_evidence_directory(in.bundle);
      if (!evidence) return evidence.error().wrap(in.bundle);
      return evidence;
    }
    ACON_TRY(std::string content, tools::read_input(in.bundle));
    const size_t first = content.find_first_not_of(" \t\r\n");
    if (first != std::string::npos && content[first] == '{') {
      auto evidence = appraisal::parse_evidence_json(content);
      if (!evidence) return evidence.error().wrap(in.bundle);
      return evidence;
    }
    return report::load_evidence_archive(as_bytes(content), in.bundle);
  }
  source = "files";
  std::vector<report::ArchiveFile> files;
  for (const auto& [name, path] : in.files) {
    ACON_TRY(std::string content, tools::read_input(path));
    files.push_back({name, to_bytes(content)});
  }
  if (files.empty())
    return make_error(Errc::invalid_argument,
                      "no evidence: give --bundle, --kbs-request or the files (--quote ...)");
  for (report::ArchiveFile& file : image_files) files.push_back(std::move(file));
  auto evidence = report::load_evidence_files(files, source);
  if (evidence) return evidence;
  // The loader names "files:<bundle name>"; the user named the file by its path.
  std::string message = evidence.error().message;
  std::vector<std::pair<std::string, std::string>> names = in.files;
  for (size_t i = 0; i < in.image_dirs.size(); ++i) {
    char prefix[32];
    std::snprintf(prefix, sizeof prefix, "images/%03zu", i);
    names.emplace_back(prefix, in.image_dirs[i]);
  }
  for (const auto& [name, path] : names)
    for (size_t at = message.find(source + ":" + name); at != std::string::npos;
         at = message.find(source + ":" + name, at + path.size()))
      message.replace(at, source.size() + 1 + name.size(), path);
  return make_error(evidence.error().code, std::move(message));
}

// The auditor's report (docs/acon-verify.md): the appraisal under the given or the built-in
// policy, on the terminal (or as the versioned JSON model with --json), and as one HTML page
// with --html. Exit 0 when accepted (ear.status affirming), 1 rejected, 2 unusable input.
int cmd_evidence(const Inputs& in) {
  std::string source;
  Inputs options = in;
  Result<appraisal::Evidence> evidence = appraisal::Evidence{};
  if (!in.acond.empty()) {
    // --nonce is the Report's: the requestor nonce acond must put in attestation_data (random
    // when not given), so a report made for another request is refused by binding.acon.
    uint64_t nonce[2] = {0, 0};
    if (in.nonce) {
      auto value = tools::parse_u64_option("--nonce", *in.nonce);
      if (!value) return fail(value.error());
      nonce[0] = *value;
    } else {
      auto random = random_bytes(16);
      if (!random) return fail(random.error());
      for (int i = 0; i < 16; ++i) nonce[i / 8] |= uint64_t{(*random)[i]} << (8 * (i % 8));
    }
    source = "acond " + in.acond;
    evidence = evidence_from_acond(in, nonce[0], nonce[1]);
    options.nonce.reset();
    options.requestor_nonce = image::requestor_nonce(nonce[0], nonce[1]);
  } else {
    evidence = load_evidence(in, source);
  }
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
  auto setup = appraisal_setup(options);
  if (!setup) return fail(setup.error());
  auto result = appraisal::appraise(*evidence, *policy, setup->references, setup->options);
  if (!result) return fail(result.error());
  report::ReportContext context{source, policy_source, format_rfc3339(setup->verify.at)};
  auto model = report::report_model(*evidence, *result, context);
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
      "--bundle", in.bundle,
      "Evidence bundle: a directory, a .tar or .tar.gz archive of one, or an evidence JSON "
      "(docs/evidence.md)");
  auto* kbs_request = evidence->add_option(
      "--kbs-request", in.kbs_request,
      "A KBS attestation request body (kbs-types Attestation) as captured from the wire");
  evidence->add_option("--tee", in.tee, "The session's TEE for --kbs-request (tdx, sgx, tpm)")
      ->capture_default_str();
  bundle_option->excludes(kbs_request);
  auto* acond = evidence->add_option(
      "--acond", in.acond,
      "Take the evidence live from acond's Report (HOST:PORT, tcp://, unix://; via acon-client, "
      "which must be beside acon-verify or named by --acon-client); --nonce N is the Report's "
      "nonce (default: random) and attestation_data must carry it");
  evidence->add_option("--acon-client", in.acon_client, "The acon-client program for --acond");
  acond->excludes(bundle_option)->excludes(kbs_request);
  std::array<std::string, std::size(kBundleFileOptions)> file_paths;
  for (size_t i = 0; i < std::size(kBundleFileOptions); ++i) {
    auto* file = evidence->add_option(
        kBundleFileOptions[i].first, file_paths[i],
        std::string("Bundle file ") + kBundleFileOptions[i].second + " (docs/evidence.md)");
    file->excludes(bundle_option)->excludes(kbs_request)->excludes(acond);
  }
  evidence->add_option("--image", in.image_dirs,
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
        in.files.emplace_back(kBundleFileOptions[i].second, file_paths[i]);
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
}  // namespace acon

int main(int argc, char** argv) { return acon::tools::guarded_main(argc, argv, acon::run); }
