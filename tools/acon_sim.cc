// acon-sim: drive the simulated TDX platform (docs/simulator.md) through its state file: create
// it, print its root CA and collateral, extend and read RTMRs, make TDREPORTs, quotes and the
// CCEL. Its quotes verify only with `acon-verify quote --root <acon-sim root>`, and are labelled
// "simulated" there. Exit codes: 0 ok, 2 bad input or usage.
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <chrono>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "acon/common/hash.h"
#include "acon/dcap/collateral.h"
#include "acon/guest/sim/sim.h"
#include "acon/guest/sim/state.h"
#include "tool_util.h"

namespace acon {
namespace {

using namespace guest::sim;
using tools::fail;

Error usage(std::string message) { return make_error(Errc::invalid_argument, std::move(message)); }

Time now() { return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()); }

template <size_t N>
Result<std::array<uint8_t, N>> hex_exact(std::string_view option, const std::string& text) {
  ACON_TRY(Bytes bytes, tools::parse_hex_option(option, text, N));
  std::array<uint8_t, N> out{};
  std::copy(bytes.begin(), bytes.end(), out.begin());
  return out;
}

// TD fields settable at creation and with `set`.
struct TdOptions {
  // Unset options leave the field as it is; an empty value is an error like any other.
  std::optional<std::string> mr_td, mr_config_id, mr_owner, mr_owner_config, mr_seam, mr_service_td,
      tee_tcb_svn, tee_tcb_svn2, td_attributes, xfam;
  std::optional<uint16_t> quote_version;
  bool td_relaunch = false;

  void add(CLI::App* cmd) {
    cmd->add_option("--mrtd", mr_td, "MRTD (48 bytes hex)");
    cmd->add_option("--mr-config-id", mr_config_id, "MRCONFIGID (48 bytes hex)");
    cmd->add_option("--mr-owner", mr_owner, "MROWNER (48 bytes hex)");
    cmd->add_option("--mr-owner-config", mr_owner_config, "MROWNERCONFIG (48 bytes hex)");
    cmd->add_option("--mr-seam", mr_seam, "MRSEAM (48 bytes hex)");
    cmd->add_option("--mr-service-td", mr_service_td, "MRSERVICETD, TD 1.5 (48 bytes hex)");
    cmd->add_option("--tee-tcb-svn", tee_tcb_svn,
                    "TEE_TCB_SVN, the TD's launch TCB (16 bytes hex)");
    cmd->add_option("--tee-tcb-svn2", tee_tcb_svn2,
                    "TEE_TCB_SVN2, the current module's TCB, TD 1.5 (16 bytes hex)");
    cmd->add_option("--td-attributes", td_attributes,
                    "TDATTRIBUTES as a number (default 0x10000000 = SEPT_VE_DISABLE)");
    cmd->add_option("--xfam", xfam, "XFAM as a number");
    cmd->add_option("--quote-version", quote_version, "Quote version: 4 (TD 1.0) or 5 (TD 1.5)")
        ->check(CLI::Range(4, 5));
    cmd->add_flag(
        "--td-relaunch", td_relaunch,
        "Launch the TD one TDX module TCB level below the current one (TEE_TCB_SVN[2]-1): "
        "v5 quotes then get TD relaunch advice");
  }

  Status apply(Simulator& sim) const {
    TdState& td = sim.td();
    auto measurement = [](const std::string& option, const std::optional<std::string>& text,
                          Measurement& field) -> Status {
      if (!text) return {};
      ACON_TRY(field, hex_exact<48>(option, *text));
      return {};
    };
    ACON_CHECK(measurement("--mrtd", mr_td, td.mr_td));
    ACON_CHECK(measurement("--mr-config-id", mr_config_id, td.mr_config_id));
    ACON_CHECK(measurement("--mr-owner", mr_owner, td.mr_owner));
    ACON_CHECK(measurement("--mr-owner-config", mr_owner_config, td.mr_owner_config));
    ACON_CHECK(measurement("--mr-seam", mr_seam, td.mr_seam));
    ACON_CHECK(measurement("--mr-service-td", mr_service_td, td.mr_service_td));
    if (tee_tcb_svn) {
      ACON_TRY(td.tee_tcb_svn, hex_exact<16>("--tee-tcb-svn", *tee_tcb_svn));
    }
    if (tee_tcb_svn2) {
      ACON_TRY(td.tee_tcb_svn2, hex_exact<16>("--tee-tcb-svn2", *tee_tcb_svn2));
    }
    if (td_attributes) {
      ACON_TRY(td.td_attributes, tools::parse_u64_option("--td-attributes", *td_attributes));
    }
    if (xfam) {
      ACON_TRY(td.xfam, tools::parse_u64_option("--xfam", *xfam));
    }
    if (quote_version) ACON_CHECK(sim.set_quote_version(*quote_version));
    if (td_relaunch) ACON_CHECK(sim.launch_below_current_tcb());
    return {};
  }
};

// Collateral dates and TCB judgement, at creation and with `collateral --reissue`.
struct CollateralOptions {
  std::optional<std::string> issue_date, next_update, root_crl_next_update, tcb_status;
  std::vector<std::string> advisory_ids;
  bool revoke_pck = false;

  void add(CLI::App* cmd) {
    cmd->add_option(
        "--issue-date", issue_date,
        "Collateral issueDate / CRL thisUpdate: unix seconds or RFC 3339 (default: now)");
    cmd->add_option("--next-update", next_update,
                    "TCB info / QE identity / PCK CRL nextUpdate (default: issue date + 30 days)");
    cmd->add_option("--root-crl-next-update", root_crl_next_update,
                    "Root CA CRL nextUpdate (default: issue date + 365 days)");
    cmd->add_option("--tcb-status", tcb_status,
                    "Status of the platform's TCB level: UpToDate, SWHardeningNeeded, "
                    "ConfigurationNeeded, ConfigurationAndSWHardeningNeeded, OutOfDate, "
                    "OutOfDateConfigurationNeeded, Revoked (default UpToDate)");
    cmd->add_option("--advisory-id", advisory_ids,
                    "Advisory ID of that level when not UpToDate (repeatable; default "
                    "ACON-SIM-SA-00002)");
    cmd->add_flag("--revoke-pck", revoke_pck, "List the PCK certificate in the PCK CRL");
  }

  Result<CollateralDates> dates() const {
    Time issue = now();
    if (issue_date) {
      ACON_TRY(issue, tools::parse_time_option("--issue-date", *issue_date));
    }
    CollateralDates out = default_dates(issue);
    if (next_update) {
      ACON_TRY(out.next_update, tools::parse_time_option("--next-update", *next_update));
    }
    if (root_crl_next_update) {
      ACON_TRY(out.root_crl_next_update,
               tools::parse_time_option("--root-crl-next-update", *root_crl_next_update));
    }
    return out;
  }

  Result<TcbPolicy> policy() const {
    TcbPolicy out;
    if (tcb_status) {
      auto status = dcap::tcb_status_from_name(*tcb_status);
      if (!status) return usage("--tcb-status: unknown status '" + *tcb_status + "'");
      out.platform_status = *status;
    }
    out.advisory_ids = advisory_ids;
    out.revoke_pck = revoke_pck;
    return out;
  }
};

Result<guest::ReportData> report_data(const std::string& text) {
  auto bytes = hex_decode(text);
  if (!bytes || bytes->size() > 64)
    return usage("--report-data: expected at most 64 bytes as hex (zero-padded to 64)");
  guest::ReportData data{};
  std::copy(bytes->begin(), bytes->end(), data.begin());
  return data;
}

int run(int argc, char** argv) {
  CLI::App app{
      "acon-sim: the simulated TDX platform (Intel-shaped PKI and collateral, a TD with RTMRs,\n"
      "TDREPORTs, DCAP quotes v4/v5 and a CCEL), kept in a state file that holds private keys.\n"
      "Its quotes verify only against its own root (acon-verify quote --root), and every\n"
      "verifier output labels them \"simulated\". Exit codes: 0 ok, 2 bad input or usage."};
  app.require_subcommand(1);
  tools::add_input_limit_option(app);
  std::string state, out, seed, digest, data, report_data_hex;
  uint32_t rtmr = 0;
  bool force = false, der = false, reissue = false;
  TdOptions td;
  CollateralOptions coll;

  auto* create = app.add_subcommand("create", "Create a simulated platform and TD");
  create->add_option("--state", state, "State file to create")->required();
  create->add_option("--seed", seed,
                     "Derive every key from SHA-256 of this text (default: fresh random keys)");
  create->add_flag("--force", force, "Replace an existing state file");
  td.add(create);
  coll.add(create);

  auto* set = app.add_subcommand("set", "Change TD fields of an existing state");
  set->add_option("--state", state, "State file")->required();
  td.add(set);

  auto* collateral = app.add_subcommand("collateral", "Print or write the collateral bundle");
  collateral->add_option("--state", state, "State file")->required();
  collateral->add_option("--out", out, "Write the bundle here instead of stdout");
  collateral->add_flag("--reissue", reissue,
                       "First sign new collateral with the dates / TCB options below and store it");
  coll.add(collateral);

  auto* root =
      app.add_subcommand("root", "Print the simulator's root CA (the trust anchor to configure)");
  root->add_option("--state", state, "State file")->required();
  root->add_option("--out", out, "Write it here instead of stdout");
  root->add_flag("--der", der, "DER instead of PEM");

  auto* extend = app.add_subcommand("extend", "Extend an RTMR: RTMR = SHA-384(RTMR || digest)");
  extend->add_option("--state", state, "State file")->required();
  extend->add_option("--rtmr", rtmr, "RTMR index 0..3")->required()->check(CLI::Range(0, 3));
  auto* digest_opt = extend->add_option("--digest", digest, "48-byte SHA-384 digest as hex");
  auto* data_opt = extend->add_option("--data", data, "Text whose SHA-384 is extended");
  digest_opt->excludes(data_opt);

  auto* read = app.add_subcommand("read", "Print RTMR0..3 (or one with --rtmr)");
  read->add_option("--state", state, "State file")->required();
  auto* read_rtmr = read->add_option("--rtmr", rtmr, "RTMR index 0..3")->check(CLI::Range(0, 3));

  auto* report = app.add_subcommand("report", "Make a 1024-byte TDREPORT");
  report->add_option("--state", state, "State file")->required();
  report->add_option("--report-data", report_data_hex, "REPORTDATA, up to 64 bytes hex");
  report->add_option("--out", out, "Write the binary report here (default: hex on stdout)");

  auto* quote = app.add_subcommand("quote", "Make a DCAP quote (v4 or v5 as the state says)");
  quote->add_option("--state", state, "State file")->required();
  quote->add_option("--report-data", report_data_hex, "REPORTDATA, up to 64 bytes hex");
  quote->add_option("--out", out, "Write the binary quote here (default: hex on stdout)");

  auto* ccel = app.add_subcommand("ccel", "The firmware CCEL (TCG2 event log)");
  ccel->add_option("--state", state, "State file")->required();
  ccel->add_option("--out", out, "Write the binary log here (default: hex on stdout)");

  if (auto done = tools::parse_command_line(app, argc, argv)) return *done;

  if (*create) {
    if (!force && ::access(state.c_str(), F_OK) == 0)
      return fail(usage(state + ": exists (use --force to replace it)"));
    CreateOptions options;
    if (!seed.empty()) options.seed = sha256(as_bytes(seed));
    auto dates = coll.dates();
    if (!dates) return fail(dates.error());
    options.dates = *dates;
    auto policy = coll.policy();
    if (!policy) return fail(policy.error());
    options.tcb = *policy;
    if (td.quote_version) options.quote_version = *td.quote_version;
    auto sim = Simulator::create(options);
    if (!sim) return fail(sim.error());
    if (auto applied = td.apply(*sim); !applied) return fail(applied.error());
    if (auto saved = save_state(state, *sim); !saved) return fail(saved.error());
    std::cout << "created " << state << " (quote v" << sim->quote_version() << ", root "
              << sim->root_ca().subject() << ")\n";
    return 0;
  }
  if (*set) {
    auto changed = update_state(state, [&](Simulator& sim) { return td.apply(sim); });
    return changed ? 0 : fail(changed.error());
  }
  if (*extend) {
    Bytes value;
    if (!digest.empty()) {
      auto parsed = tools::parse_hex_option("--digest", digest, 48);
      if (!parsed) return fail(parsed.error());
      value = *parsed;
    } else if (data_opt->count() > 0) {
      value = sha384(as_bytes(data));
    } else {
      return fail(usage("extend needs --digest or --data"));
    }
    guest::sim::SimBackend backend(state);
    auto done = backend.extend(rtmr, HashAlg::sha384, value);
    return done ? 0 : fail(done.error());
  }
  if (*collateral && reissue) {
    auto dates = coll.dates();
    if (!dates) return fail(dates.error());
    auto policy = coll.policy();
    if (!policy) return fail(policy.error());
    auto done = update_state(
        state, [&](Simulator& sim) { return sim.reissue_collateral(*dates, *policy); });
    if (!done) return fail(done.error());
  }
  if (*root && der && (out.empty() || out == "-"))
    return fail(usage("--der needs --out (binary output)"));
  auto rd = report_data(report_data_hex);
  if (!rd) return fail(rd.error());

  // The remaining commands read the state as it now is.
  auto sim = load_state(state);
  if (!sim) return fail(sim.error());
  if (*read) {
    for (uint32_t i = 0; i < kRtmrCount; ++i)
      if (read_rtmr->count() == 0 || i == rtmr)
        std::cout << "rtmr" << i << ": " << hex_encode(sim->td().rtmr[i]) << "\n";
    return 0;
  }
  Result<Bytes> output = Bytes();
  if (*collateral) output = to_bytes(sim->collateral_bundle());
  if (*root) output = der ? sim->root_ca().der() : to_bytes(sim->root_ca().to_pem());
  if (*report) output = sim->td_report(*rd);
  if (*quote) output = sim->quote(*rd);
  if (*ccel) output = sim->ccel();
  if (!output) return fail(output.error());
  // Binary reports, quotes and logs go to a terminal as hex; PEM and JSON as they are.
  auto written = tools::write_output(out, *output, *report || *quote || *ccel);
  return written ? 0 : fail(written.error());
}

}  // namespace
}  // namespace acon

int main(int argc, char** argv) { return acon::tools::guarded_main(argc, argv, acon::run); }
