// acon-kbs: the Key Broker Service (docs/kbs.md).
//   acon-kbs --config FILE             serve until SIGINT or SIGTERM
//   acon-kbs init DIR [...]            write a working, secure configuration with fresh keys
//   acon-kbs audit verify ...          check the release audit log's chain and signatures
#include <pthread.h>
#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>

#include "acon/kbs/audit.h"
#include "acon/kbs/config.h"
#include "acon/kbs/server.h"
#include "tool_util.h"

namespace acon {
namespace {

int serve(const std::string& config_path) {
  // SIGINT and SIGTERM are taken with sigwait below; block them before any thread starts.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto config = kbs::load_kbs_config(config_path);
  if (!config) return tools::fail(config.error());
  auto opened = kbs::open_kbs(*config, kbs::Now::current().wall);
  if (!opened) return tools::fail(opened.error());
  auto server = kbs::Server::start(*opened->kbs, config->server);
  if (!server) return tools::fail(server.error());
  for (size_t i = 0; i < config->server.listen.size(); ++i) {
    std::string host = config->server.listen[i].substr(0, config->server.listen[i].rfind(':'));
    std::cout << "acon-kbs: listening on " << (config->server.insecure_http ? "http" : "https")
              << "://" << host << ":" << (*server)->ports()[i] << std::endl;
  }
  int signal = 0;
  sigwait(&stop_signals, &signal);
  std::cout << "acon-kbs: stopping (signal " << signal << ")" << std::endl;
  (*server)->stop();
  return tools::kExitOk;
}

Result<PublicKey> read_public_key(const std::string& path) {
  ACON_TRY(std::string pem, tools::read_input(path));
  auto key = PublicKey::from_pem(pem);
  if (!key) return key.error().wrap(path);
  return key;
}

// "SEQ:HASH" (HASH 64 hex digits), as `audit verify` prints a head.
Result<kbs::AuditHead> parse_head(const std::string& text) {
  auto colon = text.find(':');
  if (colon == std::string::npos) return make_error(Errc::parse, "--head: expected SEQ:HASH");
  ACON_TRY(uint64_t seq, tools::parse_u64_option("--head", text.substr(0, colon)));
  ACON_TRY(Bytes hash,
           tools::parse_hex_option("--head", text.substr(colon + 1), kbs::kAuditHashSize));
  return kbs::AuditHead{seq, std::move(hash)};
}

std::string head_text(const kbs::AuditHead& head) {
  return std::to_string(head.seq) + ":" + hex_encode(head.hash);
}

// Verifies an export (JSON lines) or the log in a KBS's storage, record by record.
int audit_verify(const std::string& config_path, const std::string& export_file,
                 const std::string& key_file, const std::string& pinned_text) {
  if (config_path.empty() == export_file.empty()) {
    std::cerr << "acon-kbs audit verify: give exactly one of --config and --file\n";
    return tools::kExitBadInput;
  }
  auto key = read_public_key(key_file);
  if (!key) return tools::fail(key.error());
  std::optional<kbs::AuditHead> pinned;
  if (!pinned_text.empty()) {
    auto head = parse_head(pinned_text);
    if (!head) return tools::fail(head.error());
    pinned = *head;
  }
  kbs::AuditVerifier verifier(*key, {}, pinned);
  if (!export_file.empty()) {
    auto text = tools::read_input(export_file);
    if (!text) return tools::fail(text.error());
    size_t line_number = 0;
    for (std::string_view line : split(*text, '\n')) {
      ++line_number;
      if (line.empty()) continue;
      auto record = kbs::audit_record_from_line(line);
      if (!record)
        return tools::fail(record.error().wrap(export_file + ":" + std::to_string(line_number)));
      if (!verifier.add(*record)) break;
    }
  } else {
    auto config = kbs::load_kbs_config(config_path);
    if (!config) return tools::fail(config.error());
    auto storage = kbs::open_configured_storage(*config);
    if (!storage) return tools::fail(storage.error());
    for (uint64_t from = 1;;) {
      auto page = (*storage)->read_audit(from, 4096);
      if (!page) return tools::fail(page.error());
      bool broken = false;
      for (const auto& record : *page)
        if (!verifier.add(record)) {
          broken = true;
          break;
        }
      if (broken || page->empty()) break;
      from = page->back().seq + 1;
    }
  }
  const kbs::AuditVerification& result = verifier.finish();
  if (!result.ok()) {
    std::cout << "audit log BROKEN at seq " << result.bad_seq << ": "
              << kbs::audit_fault_name(result.fault) << ": " << result.reason << "\n"
              << "verified before it: " << result.verified << " records, head "
              << head_text(result.head) << "\n";
    return tools::kExitRejected;
  }
  std::cout << "audit log intact: " << result.verified << " records, head "
            << head_text(result.head) << "\n"
            << "(pin this head: a later `audit verify --head " << head_text(result.head)
            << "` detects records removed after it)\n";
  return tools::kExitOk;
}

int run(int argc, char** argv) {
  CLI::App app{
      "acon-kbs: a Key Broker Service for CoCo's KBS protocol (RCAR), with EAR tokens, "
      "declarative resource policies and a signed release audit log"};
  tools::add_input_limit_option(app);
  app.require_subcommand(0, 1);
  std::string config_path;
  app.add_option("--config,-c", config_path, "Configuration file (TOML)");

  auto* init = app.add_subcommand("init", "Write a working, secure configuration with fresh keys");
  std::string init_dir;
  kbs::InitOptions init_options;
  std::string simulated_root;
  init->add_option("dir", init_dir, "Directory to create (must not exist or be empty)")->required();
  init->add_option("--listen", init_options.listen, "host:port to listen on")
      ->default_val(init_options.listen);
  init->add_flag("--insecure-http", init_options.insecure_http,
                 "Serve plain HTTP (only behind a TLS-terminating proxy)");
  init->add_option("--simulated-root", simulated_root,
                   "Trust acon's simulated TDX platform with this root (tests and demos only)");

  auto* audit = app.add_subcommand("audit", "The release audit log");
  audit->require_subcommand(1);
  auto* verify = audit->add_subcommand(
      "verify", "Check that no record was removed or changed (exit 0 intact, 1 broken)");
  std::string export_file, public_key_file, expected_head;
  verify->add_option("--config,-c", config_path, "Read the log from this KBS's storage");
  verify->add_option("--file", export_file, "Read an export (JSON lines, GET /kbs/v0/audit)");
  verify->add_option("--key", public_key_file, "The audit signing public key (PEM)")->required();
  verify->add_option("--head", expected_head,
                     "SEQ:HASH of a head seen before: the log must still contain it");
  std::vector<std::string> tpm_aks;
  init->add_option("--ak", tpm_aks,
                   "Pin this TPM attestation key (PEM public key; repeatable): the only AKs whose "
                   "tee \"tpm\" quotes verify");
  std::string collateral;
  init->add_option("--collateral", collateral,
                   "A DCAP collateral bundle to use for every quote (copied in)");
  if (auto done = tools::parse_command_line(app, argc, argv)) return *done;

  if (*init) {
    if (!simulated_root.empty()) init_options.simulated_root = simulated_root;
    if (!collateral.empty()) init_options.collateral = collateral;
    for (const std::string& ak : tpm_aks) init_options.tpm_ak_keys.emplace_back(ak);
    auto written = kbs::init_kbs_directory(init_dir, init_options, kbs::Now::current().wall);
    if (!written) return tools::fail(written.error());
    std::cout << "acon-kbs: wrote " << written->string() << "\n"
              << "  start it:     acon-kbs --config " << written->string() << "\n"
              << "  admin key:    " << init_dir << "/keys/admin.pem (Ed25519; role \"admin\")\n"
              << "  token key:    " << init_dir << "/keys/token-signing.pub.pem (EAR ES256)\n"
              << "  audit key:    " << init_dir << "/keys/audit-signing.pub.pem\n";
    if (!init_options.insecure_http)
      std::cout << "  TLS CA:       " << init_dir << "/keys/tls-ca.pem (clients pin it)\n";
    return tools::kExitOk;
  }
  if (*verify) return audit_verify(config_path, export_file, public_key_file, expected_head);
  if (config_path.empty()) {
    std::cerr << "acon-kbs: --config FILE is required (or: acon-kbs init DIR)\n";
    return tools::kExitBadInput;
  }
  return serve(config_path);
}

}  // namespace
}  // namespace acon

int main(int argc, char** argv) { return acon::tools::guarded_main(argc, argv, acon::run); }
