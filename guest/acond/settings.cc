#include "settings.h"

#include <signal.h>

#include <cstdlib>
#include <filesystem>

#include "acon/acond/kernel_cmdline.h"
#include "acon/acond/pid1.h"
#include "acon/guest/sim/state.h"
#include "acon/guest/tdx.h"
#include "acon/guest/vtpm.h"
#include "tool_util.h"

namespace acon::acond {

static_assert(kMinMaxMessage == uint64_t{1} << 20 && kMaxMaxMessage == 2147483647,
              "--max-message and the file's max_message accept the same range");

void add_options(CLI::App& app, Settings& s) {
  app.add_option("--backend", s.backend.name,
                 "sim, tdx (configfs-tsm; also tdx-tsm), tdx-legacy or vtpm")
      ->capture_default_str();
  app.add_option("--sim-state", s.backend.sim_state,
                 "State file of the simulated platform (acon-sim create)");
  app.add_option("--tcti", s.backend.tcti, "vtpm: tpm2-tss TCTI (e.g. swtpm:port=2321)")
      ->capture_default_str();
  app.add_option("--tpm-event-log", s.backend.tpm_event_log, "vtpm: the firmware's TCG2 event log")
      ->capture_default_str();
  app.add_option("--runtime-pcr", s.runtime_pcr, "vtpm: the PCR runtime events are measured into")
      ->capture_default_str()
      ->check(CLI::Range(uint32_t{0}, kMaxPcr));
  app.add_option("--config", s.config_path,
                 "TOML configuration file, one key per flag (guest/acond/acond.toml); flags win");
  app.add_option("--state-dir", s.state_dir, "Directory for contents, images and logs (required)");
  app.add_option("--kernel-cmdline", s.kernel_cmdline,
                 "Read ACON's acond.* keys from this file (e.g. /proc/cmdline); flags win");
  app.add_option("--tcp-port", s.tcp_port, "TCP port (0: any free port, printed at start)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  app.add_option("--tcp-address", s.tcp_address, "Address to listen on")->capture_default_str();
  app.add_flag("--no-tcp", s.no_tcp, "Do not listen on TCP (only --unix)");
  app.add_option("--unix", s.unix_path, "Also listen on this Unix socket");
  app.add_option("--vsock-port", s.vsock_port, "Also listen on AF_VSOCK, any CID, this port")
      ->check(CLI::Range(int64_t{0}, int64_t{4294967294}));
  app.add_option("--log-mode", s.log_mode, "Runtime log format: coco (TCG2 AAEL) or acon (text)")
      ->capture_default_str();
  app.add_option("--log-path", s.log_path, "Runtime log file (default: in --state-dir)");
  app.add_option("--policy-mode", s.policy_mode, "Launch policy: acond (ACON's) or spec (graph)")
      ->capture_default_str();
  app.add_option("--max-message", s.max_message, "Largest request in bytes (an AddBlob layer)")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1} << 20, uint64_t{2147483647}));
  app.add_option("--tls-cert", s.tls_cert,
                 "Serve TCP with TLS: this certificate chain (PEM); aconcli speaks plaintext only");
  app.add_option("--tls-key", s.tls_key, "The TLS private key (PEM)");
  app.add_option("--ipc-socket", s.ipc_socket,
                 "In-container IPC socket (default: <state-dir>/shared/acon.sock, the containers' "
                 "/shared/acon.sock)");
  app.add_option("--kbs-url", s.kbs_url,
                 "The KBS the in-container GetSecret command attests to (https://; [kbs] in "
                 "--config for the other settings)");
  app.add_option("--kbs-ca", s.kbs_ca, "PEM trust anchors for the KBS's TLS certificate");
  app.add_option("--stop-grace", s.stop_grace,
                 "Seconds between SIGTERM and SIGKILL for containers when acond stops")
      ->capture_default_str()
      ->check(CLI::Range(0, 3600));
  app.add_option("--idle-timeout", s.idle_timeout,
                 "Seconds with no container running and no RPC after which acond powers the TD "
                 "off (as PID 1) or exits (0: never; as PID 1 the default is acond.timeout)")
      ->check(CLI::Range(uint64_t{0}, uint64_t{4294967295}));
  app.add_flag("--print-ak", s.print_ak,
               "vtpm: print the attestation key's public key (PEM) and exit; the AK is a primary "
               "derived from the TPM's seed, so this is the key later quotes are signed with");
}

Status apply_config_file(const CLI::App& app, Settings& s, bool is_pid1) {
  // As PID 1 with no --config, the configuration is /etc/acond.toml when it exists. The kernel
  // does pass init the words after `--` on its command line, but UEFI loaders (OVMF's among
  // them) append `initrd=...` after whatever the command line holds, which would reach acond as
  // a stray argument; a fixed path in the initramfs needs nothing from the loader.
  if (is_pid1 && s.config_path.empty() && std::filesystem::exists(kPid1ConfigPath)) {
    s.config_path = kPid1ConfigPath;
  }
  if (!s.config_path.empty()) {
    ACON_TRY(std::string text, tools::read_input(s.config_path));
    ACON_TRY(ConfigFile file, parse_config(text, s.config_path));
    // A value from the file applies where the command line left the flag out.
    auto take = [&](const char* flag, auto& target, const auto& value) {
      if (value && app.get_option(flag)->count() == 0) target = *value;
    };
    take("--backend", s.backend.name, file.backend);
    take("--sim-state", s.backend.sim_state, file.sim_state);
    take("--tcti", s.backend.tcti, file.tcti);
    take("--tpm-event-log", s.backend.tpm_event_log, file.tpm_event_log);
    take("--runtime-pcr", s.runtime_pcr, file.runtime_pcr);
    take("--state-dir", s.state_dir, file.state_dir);
    take("--kernel-cmdline", s.kernel_cmdline, file.kernel_cmdline);
    take("--tcp-port", s.tcp_port, file.tcp_port);
    take("--tcp-address", s.tcp_address, file.tcp_address);
    take("--no-tcp", s.no_tcp, file.no_tcp);
    take("--unix", s.unix_path, file.unix_path);
    take("--ipc-socket", s.ipc_socket, file.ipc_socket);
    take("--tls-cert", s.tls_cert, file.tls_cert);
    take("--tls-key", s.tls_key, file.tls_key);
    take("--stop-grace", s.stop_grace, file.stop_grace);
    take("--idle-timeout", s.idle_timeout, file.idle_timeout);
    take("--vsock-port", s.vsock_port, file.vsock_port);
    take("--log-mode", s.log_mode, file.log_mode);
    take("--log-path", s.log_path, file.log_path);
    take("--policy-mode", s.policy_mode, file.policy_mode);
    take("--max-message", s.max_message, file.max_message);
    s.kbs = file.kbs;
    if (file.modules) s.kernel_modules = *file.modules;
    s.network = file.network;
    s.tcp_port_from_file = file.tcp_port.has_value();
    s.idle_timeout_from_file = file.idle_timeout.has_value();
  }
  if (!s.kbs_url.empty()) {
    // From the command line only https: a plaintext KBS needs insecure_http in the file.
    if (!s.kbs_url.starts_with("https://"))
      return make_error(Errc::invalid_argument, "--kbs-url: expected an https:// URL");
    if (!s.kbs) s.kbs.emplace();
    s.kbs->url = s.kbs_url;
    s.kbs->insecure_http = false;
  }
  if (!s.kbs_ca.empty()) {
    if (!s.kbs) return make_error(Errc::invalid_argument, "--kbs-ca needs a KBS URL");
    s.kbs->ca_file = s.kbs_ca;
  }
  return {};
}

Status apply_kernel_cmdline(const CLI::App& app, Settings& s, bool is_pid1) {
  if (s.state_dir.empty()) {
    return make_error(Errc::invalid_argument, "--state-dir (or state_dir in --config) is required");
  }
  if (is_pid1 && s.kernel_cmdline.empty()) s.kernel_cmdline = "/proc/cmdline";
  const bool port_set = app.get_option("--tcp-port")->count() > 0;
  const bool idle_timeout_set =
      app.get_option("--idle-timeout")->count() > 0 || s.idle_timeout_from_file;
  if (!s.kernel_cmdline.empty()) {
    ACON_TRY(std::string text, tools::read_input(s.kernel_cmdline));
    ACON_TRY(KernelConfig config, parse_kernel_cmdline(text));
    // ACON serves exactly one listener: vsock when acond.vsock_conn is given, else TCP.
    if (config.vsock_conn && s.vsock_port < 0) {
      s.vsock_port = config.vsock_port;
      if (!port_set) s.no_tcp = true;
    }
    if (!port_set && !s.tcp_port_from_file) s.tcp_port = config.tcp_port;
    // acond.timeout applies to PID 1 only: a test or a host run that reads a command line keeps
    // running until it is stopped, unless --idle-timeout says otherwise.
    if (is_pid1 && !idle_timeout_set) s.idle_timeout = config.timeout_seconds;
  }
  if (auto mode = parse_log_mode(s.log_mode); !mode) return mode.error();
  if (s.policy_mode != "acond" && s.policy_mode != "spec") {
    return make_error(Errc::invalid_argument,
                      "--policy-mode: expected acond or spec, got '" + s.policy_mode + "'");
  }
  if (s.no_tcp && s.unix_path.empty() && s.vsock_port < 0)
    return make_error(Errc::invalid_argument, "--no-tcp needs --unix or --vsock-port");
  if (s.tls_cert.empty() != s.tls_key.empty())
    return make_error(Errc::invalid_argument, "--tls-cert and --tls-key go together");
  return {};
}

Result<std::unique_ptr<guest::Backend>> make_backend(const BackendSettings& settings) {
  const std::string& name = settings.name;
  const std::string& sim_state = settings.sim_state;
  if (name == "sim") {
    if (sim_state.empty()) {
      return make_error(Errc::invalid_argument,
                        "--backend sim needs --sim-state (a state file from `acon-sim create`)");
    }
    // Fails early on a missing or unreadable state rather than at the first measurement.
    ACON_TRY(auto loaded, guest::sim::load_state(sim_state));
    (void)loaded;
    return std::unique_ptr<guest::Backend>(new guest::sim::SimBackend(sim_state));
  }
  // "tdx": the kernel's current interface (configfs-tsm); "tdx-tsm" names it explicitly.
  if (name == "tdx" || name == "tdx-tsm")
    return std::unique_ptr<guest::Backend>(new guest::TdxTsmBackend());
  if (name == "tdx-legacy") {
    ACON_TRY(auto backend, guest::TdxLegacyBackend::open());
    return std::unique_ptr<guest::Backend>(std::move(backend));
  }
  if (name == "vtpm") {
    guest::VtpmOptions options;
    options.tcti = settings.tcti;
    options.event_log_path = settings.tpm_event_log;
    ACON_TRY(auto backend, guest::VtpmBackend::open(options));
    return std::unique_ptr<guest::Backend>(std::move(backend));
  }
  return make_error(
      Errc::invalid_argument,
      "--backend: expected sim, tdx (tdx-tsm), tdx-legacy or vtpm, got '" + name + "'");
}

Result<StepHook> crash_hook_from_environment() {
  const char* spec = std::getenv("ACOND_CRASH_AT");
  if (spec == nullptr || *spec == 0) return StepHook{};
  std::string text(spec);
  size_t at = text.find('@');
  std::string step = text.substr(0, at);
  long count = at == std::string::npos ? 1 : std::strtol(text.c_str() + at + 1, nullptr, 10);
  bool known = false;
  for (auto name : kMeasureSteps) known = known || name == step;
  for (auto name : kRuntimeSteps) known = known || name == step;
  if (!known || count < 1) {
    return make_error(Errc::invalid_argument,
                      "ACOND_CRASH_AT: unknown step or count '" + text + "'");
  }
  auto remaining = std::make_shared<long>(count);
  return StepHook([step, remaining](std::string_view reached) {
    if (reached == step && --*remaining == 0) ::raise(SIGKILL);
  });
}

}  // namespace acon::acond
