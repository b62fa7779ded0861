// acon-eventlog: read, decode and replay TDX CCEL / TCG2 event logs and runtime logs.
// Exit codes: 0 ok, 1 replay does not match the expected registers, 2 unusable input or usage.
#include <CLI/CLI.hpp>

#include <iostream>
#include <map>
#include <set>

#include "acon/eventlog/format.h"
#include "acon/eventlog/runtime.h"
#include "acon/eventlog/yaml.h"
#include "acon/tdx/quote.h"
#include "tool_util.h"

namespace acon {
namespace {

using namespace eventlog;
using tools::fail;

constexpr const char* kCcelData = "/sys/firmware/acpi/tables/data/CCEL";
constexpr const char* kCcelTable = "/sys/firmware/acpi/tables/CCEL";

struct Inputs {
  std::string log = kCcelData;
  std::string text_aael;
  std::string ima;
  uint32_t ima_index = 3;  // cc-trusted-api kernels extend RTMR2 (CC MR index 3)
  bool pcr_naming = false;
  bool allow_zero_signature = false;
};

// The parsed log together with the bytes its views point into.
struct Loaded {
  std::string bytes;
  EventLog log;
  Replayer replay;
};

Result<Loaded> load(const Inputs& in) {
  Loaded out;
  ACON_TRY(out.bytes, tools::read_input(in.log));
  auto log =
      parse_event_log(as_bytes(out.bytes), {.allow_zero_signature = in.allow_zero_signature});
  if (!log) return log.error().wrap(in.log);
  out.log = std::move(*log);
  if (!in.pcr_naming) {
    if (auto st = check_ccel_indexes(out.log); !st) return st.error().wrap(in.log);
  }
  ACON_CHECK(replay(out.log, out.replay));
  if (!in.ima.empty()) {
    ACON_TRY(std::string text, tools::read_input(in.ima));
    auto ima = parse_ima_log(text);
    if (!ima) return ima.error().wrap(in.ima);
    auto replayed = replay_ima_log(*ima, in.ima_index, out.replay);
    if (!replayed) return replayed.error().wrap(in.ima);
  }
  if (!in.text_aael.empty()) {
    ACON_TRY(std::string text, tools::read_input(in.text_aael));
    auto aael = parse_text_aael(text);
    if (!aael) return aael.error().wrap(in.text_aael);
    ACON_CHECK(replay_text_aael(*aael, 4, out.replay));
  }
  return out;
}

FormatOptions format_options(const Inputs& in) {
  FormatOptions o;
  o.naming = in.pcr_naming ? RegisterNaming::pcr : RegisterNaming::cc_mr;
  return o;
}

int cmd_dump(const Inputs& in, const std::string& format) {
  auto loaded = load(in);
  if (!loaded) return fail(loaded.error());
  if (format == "json") {
    std::cout << to_json(loaded->log, loaded->replay, format_options(in))
                     .dump(2, ' ', false, Json::error_handler_t::replace)
              << "\n";
  } else if (format == "yaml") {
    write_tpm2_yaml(loaded->log, loaded->replay,
                    [](std::string_view piece) { std::cout.write(piece.data(), piece.size()); });
  } else {
    std::cout << to_text(loaded->log, loaded->replay, format_options(in));
  }
  return tools::kExitOk;
}

// "--expect 2=<hex>" or "--expect RTMR1=<hex>".
Result<std::pair<uint32_t, Bytes>> parse_expectation(const std::string& text) {
  size_t eq = text.find('=');
  if (eq == std::string::npos)
    return make_error(Errc::invalid_argument, "--expect '" + text + "': want INDEX=HEX");
  std::string key = text.substr(0, eq);
  uint32_t index = 0;
  if (key == "MRTD") {
    index = 0;
  } else if (key.starts_with("RTMR") && key.size() == 5 && key[4] >= '0' && key[4] <= '3') {
    index = static_cast<uint32_t>(key[4] - '0') + 1;
  } else if (!key.empty() && key.find_first_not_of("0123456789") == std::string::npos &&
             key.size() < 4) {
    index = static_cast<uint32_t>(std::stoul(key));
  } else {
    return make_error(Errc::invalid_argument,
                      "--expect '" + text + "': index must be a number, MRTD or RTMR0..3");
  }
  auto value = hex_decode(text.substr(eq + 1));
  if (!value) return value.error().wrap("--expect " + key);
  return std::pair{index, std::move(*value)};
}

int cmd_replay(const Inputs& in, const std::vector<std::string>& expect,
               const std::string& quote_path, const std::string& bank_name) {
  auto bank = hash_from_name(bank_name);
  if (!bank)
    return fail(
        make_error(Errc::invalid_argument, "--bank: unknown algorithm '" + bank_name + "'"));
  auto loaded = load(in);
  if (!loaded) return fail(loaded.error());
  std::map<uint32_t, Bytes> expected;
  for (const auto& e : expect) {
    auto parsed = parse_expectation(e);
    if (!parsed) return fail(parsed.error());
    expected[parsed->first] = parsed->second;
  }
  if (!quote_path.empty()) {
    auto quote = tools::read_input(quote_path);
    if (!quote) return fail(quote.error());
    auto parsed = tdx::parse_quote(as_bytes(*quote));
    if (!parsed) return fail(parsed.error().wrap(quote_path));
    const tdx::TdReport10* td = parsed->td_report();
    if (td == nullptr)
      return fail(make_error(Errc::invalid_argument, quote_path + ": not a TD quote"));
    // MRTD is measured by the TDX module at build time and never appears in the log. The quote
    // is only parsed here; `acon-verify quote` checks its signatures and collateral.
    const auto registers = tdx::ccel_registers(*td);
    for (uint32_t index = 0; index < registers.size(); ++index) {
      if (index != tdx::kCcelMrIndexMrtd)
        expected[index] = Bytes(registers[index].begin(), registers[index].end());
    }
  }
  const auto naming = format_options(in).naming;
  if (expected.empty()) {
    for (const auto& [key, value] : loaded->replay.registers()) {
      if (key.second == *bank)
        std::cout << register_name(key.first, naming) << " " << hex_encode(value) << "\n";
    }
    return tools::kExitOk;
  }
  bool all = true;
  // Every event must lie in a compared register, or the "match" proves nothing about it; the
  // runtime logs extend one register each.
  std::set<uint32_t> covered;
  for (const auto& [index, value] : expected) covered.insert(index);
  if (auto st = check_events_covered(loaded->log, covered); !st) {
    std::cout << "UNCOVERED " << st.error().message << "\n";
    all = false;
  }
  auto runtime_log_covered = [&](bool given, const char* option, uint32_t index) {
    if (!given || covered.contains(index)) return true;
    std::cout << "UNCOVERED " << option << " log extends " << register_name(index, naming)
              << ", which the comparison does not cover\n";
    return false;
  };
  all = runtime_log_covered(!in.ima.empty(), "--ima", in.ima_index) && all;
  all = runtime_log_covered(!in.text_aael.empty(), "--text-aael", 4) && all;
  for (const auto& c : compare(loaded->replay, *bank, expected)) {
    std::cout << register_name(c.index, naming) << " " << (c.match ? "match   " : "MISMATCH") << " "
              << hex_encode(c.replayed);
    if (!c.match) std::cout << " (expected " << hex_encode(c.expected) << ")";
    std::cout << "\n";
    all = all && c.match;
  }
  return all ? tools::kExitOk : tools::kExitRejected;
}

int cmd_table(const std::string& path) {
  auto bytes = tools::read_input(path);
  if (!bytes) return fail(bytes.error());
  auto t = parse_ccel_table(as_bytes(*bytes));
  if (!t) return fail(t.error().wrap(path));
  std::cout << "signature        CCEL\n"
            << "length           " << t->length << "\n"
            << "revision         " << int{t->revision} << "\n"
            << "checksum         0x" << hex_encode(Bytes{t->checksum})
            << (t->checksum_valid ? " (valid)" : " (INVALID)") << "\n"
            << "oem_id           '" << t->oem_id << "'\n"
            << "oem_table_id     '" << t->oem_table_id << "'\n"
            << "oem_revision     " << t->oem_revision << "\n"
            << "creator_id       '" << t->creator_id << "'\n"
            << "creator_revision 0x" << std::hex << t->creator_revision << std::dec << "\n"
            << "cc_type          " << int{t->cc_type} << " (" << cc_type_name(t->cc_type) << ")\n"
            << "cc_subtype       " << int{t->cc_subtype} << "\n"
            << "laml             " << t->laml << " (0x" << std::hex << t->laml << ")\n"
            << "lasa             0x" << t->lasa << std::dec << "\n";
  return t->checksum_valid ? tools::kExitOk : tools::kExitBadInput;
}

void add_log_options(CLI::App* cmd, Inputs& in) {
  cmd->add_option("log", in.log, "CCEL / TCG2 log file ('-' for stdin)")->capture_default_str();
  cmd->add_option(
      "--text-aael", in.text_aael,
      "Text AAEL runtime log (ACON rtmr3.log or CoCo legacy): replayed into RTMR3 (index 4)");
  cmd->add_option("--ima", in.ima,
                  "IMA ASCII runtime log (ima-ng): template hashes extended after the CCEL");
  cmd->add_option("--ima-index", in.ima_index,
                  "Register the IMA log extends (CC MR index; 3 = RTMR2)")
      ->capture_default_str()
      ->check(CLI::Range(0u, 23u));
  cmd->add_flag("--pcr", in.pcr_naming,
                "Name registers as TPM PCRs (vTPM TCG2 logs) instead of MRTD/RTMRn");
  cmd->add_flag("--allow-zero-signature", in.allow_zero_signature,
                "Accept guest-components' synthetic header whose Spec ID signature is all zero");
}

int run(int argc, char** argv) {
  CLI::App app{
      "acon-eventlog: decode and replay TDX CCEL / TCG2 event logs and the runtime logs on top of "
      "them.\n"
      "Registers use CC MR indexes: 0 MRTD, 1 RTMR0, 2 RTMR1, 3 RTMR2, 4 RTMR3. EV_NO_ACTION "
      "records are\n"
      "logged but never extended. A CCEL event outside RTMR0..3, or missing a Spec ID bank, is "
      "refused; a replay\n"
      "with an event in a register it does not compare fails. Exit codes: 0 ok, 1 replay "
      "mismatch, 2 bad input or usage."};
  app.require_subcommand(1);
  tools::add_input_limit_option(app);
  Inputs in;
  std::string format = "text", quote, bank = "sha384", table = kCcelTable;
  std::vector<std::string> expect;

  auto* dump = app.add_subcommand("dump", "Print every event decoded, and the replayed registers");
  add_log_options(dump, in);
  dump->add_option("--format", format,
                   "json (stable, documented) | yaml (tpm2_eventlog shape) | text")
      ->check(CLI::IsMember({"json", "yaml", "text"}))
      ->capture_default_str();

  auto* rep =
      app.add_subcommand("replay", "Replay the registers; compare with --expect or --quote");
  add_log_options(rep, in);
  rep->add_option("--expect", expect, "Expected register, INDEX=HEX or RTMRn=HEX (repeatable)");
  rep->add_option("--quote", quote, "TDX quote (v4/v5) whose RTMR0..3 the replay must equal");
  rep->add_option("--bank", bank,
                  "Bank to replay and compare (sha384 for TDX, sm3_256 for Hygon CSV)")
      ->capture_default_str();

  auto* tab = app.add_subcommand("table", "Print the ACPI CCEL table (type, LAML, LASA)");
  tab->add_option("file", table, "ACPI CCEL table file")->capture_default_str();

  if (auto done = tools::parse_command_line(app, argc, argv)) return *done;
  if (*dump) return cmd_dump(in, format);
  if (*rep) return cmd_replay(in, expect, quote, bank);
  if (*tab) return cmd_table(table);
  return tools::kExitBadInput;
}

}  // namespace
}  // namespace acon

int main(int argc, char** argv) {
  return acon::tools::guarded_main(argc, argv, acon::run, acon::tools::OpenSslUse::digests_only);
}
