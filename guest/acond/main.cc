// acond: serves ACON's AconService (and acon.evidence.EvidenceService) over gRPC on TCP and/or
// a Unix socket, measuring admitted images through a guest backend. docs/acond.md.
#include <grpcpp/grpcpp.h>
#include <grpcpp/server_posix.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>

#include "acon/acond/config.h"
#include "acon/acond/container.h"
#include "acon/acond/grpc_service.h"
#include "acon/acond/kernel_cmdline.h"
#include "acon/acond/listener.h"
#include "acon/acond/pid1.h"
#include "acon/acond/runtime.h"
#include "acon/guest/sim/state.h"
#include "acon/guest/tdx.h"
#include "acon/guest/vtpm.h"
#include "tool_util.h"

namespace {

using namespace acon;

std::mutex log_mutex;
void log_line(const std::string& line) {
  std::lock_guard lock(log_mutex);
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

// Set by the idle watchdog before it raises SIGTERM: the stop that follows is an idle power-off.
std::atomic<bool> idle_expired{false};

struct BackendSettings {
  std::string name = "sim";
  std::string sim_state;
  std::string tcti = "device:/dev/tpmrm0";
  std::string tpm_event_log = "/sys/kernel/security/tpm0/binary_bios_measurements";
};

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

static_assert(acond::kMinMaxMessage == uint64_t{1} << 20 && acond::kMaxMaxMessage == 2147483647,
              "--max-message and the file's max_message accept the same range");

// Crash tests (tests/guest/acond/crash_test.cc, docs/acond.md "Crash safety"):
// ACOND_CRASH_AT=<step>[@<n>] kills this process with SIGKILL the n-th time (default: the first)
// a measurement or an unpack reaches <step>. It can only stop the process, never skip a check or
// a write; unset, no hook is installed.
Result<acond::StepHook> crash_hook_from_environment() {
  const char* spec = std::getenv("ACOND_CRASH_AT");
  if (spec == nullptr || *spec == 0) return acond::StepHook{};
  std::string text(spec);
  size_t at = text.find('@');
  std::string step = text.substr(0, at);
  long count = at == std::string::npos ? 1 : std::strtol(text.c_str() + at + 1, nullptr, 10);
  bool known = false;
  for (auto name : acond::kMeasureSteps) known = known || name == step;
  for (auto name : acond::kRuntimeSteps) known = known || name == step;
  if (!known || count < 1) {
    return make_error(Errc::invalid_argument,
                      "ACOND_CRASH_AT: unknown step or count '" + text + "'");
  }
  auto remaining = std::make_shared<long>(count);
  return acond::StepHook([step, remaining](std::string_view reached) {
    if (reached == step && --*remaining == 0) ::raise(SIGKILL);
  });
}

int run(int argc, char** argv) {
  CLI::App app{"acond: ACON's AconService over gRPC, measuring images into RTMR3 (or a PCR)"};
  BackendSettings backend_settings;
  std::string state_dir, unix_path, log_mode = "coco", policy_mode = "acond", log_path,
                                    tcp_address = "0.0.0.0";
  int tcp_port = 1025;
  bool no_tcp = false;
  uint64_t max_message = uint64_t{1} << 30;
  uint32_t runtime_pcr = acond::kDefaultRuntimePcr;
  app.add_option("--backend", backend_settings.name,
                 "sim, tdx (configfs-tsm; also tdx-tsm), tdx-legacy or vtpm")
      ->capture_default_str();
  app.add_option("--sim-state", backend_settings.sim_state,
                 "State file of the simulated platform (acon-sim create)");
  app.add_option("--tcti", backend_settings.tcti, "vtpm: tpm2-tss TCTI (e.g. swtpm:port=2321)")
      ->capture_default_str();
  app.add_option("--tpm-event-log", backend_settings.tpm_event_log,
                 "vtpm: the firmware's TCG2 event log")
      ->capture_default_str();
  app.add_option("--runtime-pcr", runtime_pcr, "vtpm: the PCR runtime events are measured into")
      ->capture_default_str()
      ->check(CLI::Range(uint32_t{0}, acond::kMaxPcr));
  std::string config_path;
  app.add_option("--config", config_path,
                 "TOML configuration file, one key per flag (guest/acond/acond.toml); flags win");
  app.add_option("--state-dir", state_dir, "Directory for contents, images and logs (required)");
  std::string kernel_cmdline;
  app.add_option("--kernel-cmdline", kernel_cmdline,
                 "Read ACON's acond.* keys from this file (e.g. /proc/cmdline); flags win");
  auto* tcp_port_option =
      app.add_option("--tcp-port", tcp_port, "TCP port (0: any free port, printed at start)")
          ->capture_default_str()
          ->check(CLI::Range(0, 65535));
  app.add_option("--tcp-address", tcp_address, "Address to listen on")->capture_default_str();
  app.add_flag("--no-tcp", no_tcp, "Do not listen on TCP (only --unix)");
  app.add_option("--unix", unix_path, "Also listen on this Unix socket");
  int64_t vsock_port = -1;
  app.add_option("--vsock-port", vsock_port, "Also listen on AF_VSOCK, any CID, this port")
      ->check(CLI::Range(int64_t{0}, int64_t{4294967294}));
  app.add_option("--log-mode", log_mode, "Runtime log format: coco (TCG2 AAEL) or acon (text)")
      ->capture_default_str();
  app.add_option("--log-path", log_path, "Runtime log file (default: in --state-dir)");
  app.add_option("--policy-mode", policy_mode, "Launch policy: acond (ACON's) or spec (graph)")
      ->capture_default_str();
  app.add_option("--max-message", max_message, "Largest request in bytes (an AddBlob layer)")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1} << 20, uint64_t{2147483647}));
  std::string tls_cert, tls_key;
  app.add_option("--tls-cert", tls_cert,
                 "Serve TCP with TLS: this certificate chain (PEM); aconcli speaks plaintext only");
  app.add_option("--tls-key", tls_key, "The TLS private key (PEM)");
  std::string ipc_socket;
  app.add_option("--ipc-socket", ipc_socket,
                 "In-container IPC socket (default: <state-dir>/shared/acon.sock, the containers' "
                 "/shared/acon.sock)");
  std::string kbs_url, kbs_ca;
  app.add_option("--kbs-url", kbs_url,
                 "The KBS the in-container GetSecret command attests to (https://; [kbs] in "
                 "--config for the other settings)");
  app.add_option("--kbs-ca", kbs_ca, "PEM trust anchors for the KBS's TLS certificate");
  unsigned stop_grace = 5;
  app.add_option("--stop-grace", stop_grace,
                 "Seconds between SIGTERM and SIGKILL for containers when acond stops")
      ->capture_default_str()
      ->check(CLI::Range(0, 3600));
  uint64_t idle_timeout = 0;
  app.add_option("--idle-timeout", idle_timeout,
                 "Seconds with no container running and no RPC after which acond powers the TD "
                 "off (as PID 1) or exits (0: never; as PID 1 the default is acond.timeout)")
      ->check(CLI::Range(uint64_t{0}, uint64_t{4294967295}));
  bool print_ak = false;
  app.add_flag("--print-ak", print_ak,
               "vtpm: print the attestation key's public key (PEM) and exit; the AK is a primary "
               "derived from the TPM's seed, so this is the key later quotes are signed with");
  if (auto code = tools::parse_command_line(app, argc, argv)) return *code;

  // As PID 1 of a TD (docs/acond.md "PID 1"): the file systems first, since everything after
  // reads /proc; SIGCHLD blocked before any thread starts, for the orphan reaper's signalfd; the
  // kernel command line read by default, as ACON does.
  const bool is_pid1 = ::getpid() == 1;
  if (is_pid1) {
    sigset_t child_signal;
    sigemptyset(&child_signal);
    sigaddset(&child_signal, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &child_signal, nullptr);
    auto mounted = acond::mount_early_filesystems("/", log_line);
    if (!mounted) return tools::fail(mounted.error());
  }

  // As PID 1 with no --config, the configuration is /etc/acond.toml when it exists. The kernel
  // does pass init the words after `--` on its command line, but UEFI loaders (OVMF's among
  // them) append `initrd=...` after whatever the command line holds, which would reach acond as
  // a stray argument; a fixed path in the initramfs needs nothing from the loader.
  if (is_pid1 && config_path.empty() && std::filesystem::exists(acond::kPid1ConfigPath)) {
    config_path = acond::kPid1ConfigPath;
  }
  bool port_from_file = false, idle_timeout_from_file = false;
  std::optional<acond::KbsConfig> kbs_config;
  std::vector<std::string> kernel_modules;
  std::optional<acond::NetworkConfig> network;
  if (!config_path.empty()) {
    auto text = tools::read_input(config_path);
    if (!text) return tools::fail(text.error());
    auto file = acond::parse_config(*text, config_path);
    if (!file) return tools::fail(file.error());
    // A value from the file applies where the command line left the flag out.
    auto take = [&](const char* flag, auto& target, const auto& value) {
      if (value && app.get_option(flag)->count() == 0) target = *value;
    };
    take("--backend", backend_settings.name, file->backend);
    take("--sim-state", backend_settings.sim_state, file->sim_state);
    take("--tcti", backend_settings.tcti, file->tcti);
    take("--tpm-event-log", backend_settings.tpm_event_log, file->tpm_event_log);
    take("--runtime-pcr", runtime_pcr, file->runtime_pcr);
    take("--state-dir", state_dir, file->state_dir);
    take("--kernel-cmdline", kernel_cmdline, file->kernel_cmdline);
    take("--tcp-port", tcp_port, file->tcp_port);
    take("--tcp-address", tcp_address, file->tcp_address);
    take("--no-tcp", no_tcp, file->no_tcp);
    take("--unix", unix_path, file->unix_path);
    take("--ipc-socket", ipc_socket, file->ipc_socket);
    take("--tls-cert", tls_cert, file->tls_cert);
    take("--tls-key", tls_key, file->tls_key);
    take("--stop-grace", stop_grace, file->stop_grace);
    take("--idle-timeout", idle_timeout, file->idle_timeout);
    if (file->vsock_port && app.get_option("--vsock-port")->count() == 0)
      vsock_port = *file->vsock_port;
    take("--log-mode", log_mode, file->log_mode);
    take("--log-path", log_path, file->log_path);
    take("--policy-mode", policy_mode, file->policy_mode);
    take("--max-message", max_message, file->max_message);
    kbs_config = file->kbs;
    if (file->modules) kernel_modules = *file->modules;
    network = file->network;
    port_from_file = file->tcp_port.has_value();
    idle_timeout_from_file = file->idle_timeout.has_value();
  }
  if (!kbs_url.empty()) {
    // From the command line only https: a plaintext KBS needs insecure_http in the file.
    if (!kbs_url.starts_with("https://")) {
      return tools::fail(make_error(Errc::invalid_argument, "--kbs-url: expected an https:// URL"));
    }
    if (!kbs_config) kbs_config.emplace();
    kbs_config->url = kbs_url;
    kbs_config->insecure_http = false;
  }
  if (!kbs_ca.empty()) {
    if (!kbs_config) {
      return tools::fail(make_error(Errc::invalid_argument, "--kbs-ca needs a KBS URL"));
    }
    kbs_config->ca_file = kbs_ca;
  }
  if (print_ak) {
    // The backend acond itself would open, so the key is made from the same template.
    auto opened = make_backend(backend_settings);
    if (!opened) return tools::fail(opened.error());
    const auto* tpm = dynamic_cast<const guest::VtpmBackend*>(opened->get());
    if (tpm == nullptr) {
      return tools::fail(make_error(Errc::invalid_argument, "--print-ak needs --backend vtpm"));
    }
    std::fputs(tpm->ak_public_pem().c_str(), stdout);
    return tools::kExitOk;
  }
  // A VM's kernel modules and network (docs/acond.md "PID 1"), before the backend (whose device
  // may come from a module) and the listeners. Only init may change the machine this way.
  if (is_pid1) {
    auto loaded = acond::load_kernel_modules(kernel_modules, log_line);
    if (!loaded) return tools::fail(loaded.error());
    auto loopback = acond::bring_up_interface("lo");
    if (!loopback) return tools::fail(loopback.error());
    if (network) {
      auto configured = acond::configure_ipv4(*network, log_line);
      if (!configured) return tools::fail(configured.error());
    }
  } else if (!kernel_modules.empty() || network) {
    log_line("acond event=vm-setup-skipped reason=not-pid1 modules=" +
             std::to_string(kernel_modules.size()) + " network=" + (network ? "1" : "0"));
  }
  if (state_dir.empty()) {
    return tools::fail(
        make_error(Errc::invalid_argument, "--state-dir (or state_dir in --config) is required"));
  }

  if (is_pid1 && kernel_cmdline.empty()) kernel_cmdline = "/proc/cmdline";
  bool idle_timeout_set = app.get_option("--idle-timeout")->count() > 0 || idle_timeout_from_file;
  if (!kernel_cmdline.empty()) {
    auto text = tools::read_input(kernel_cmdline);
    if (!text) return tools::fail(text.error());
    auto config = acond::parse_kernel_cmdline(*text);
    if (!config) return tools::fail(config.error());
    // ACON serves exactly one listener: vsock when acond.vsock_conn is given, else TCP.
    if (config->vsock_conn && vsock_port < 0) {
      vsock_port = config->vsock_port;
      if (tcp_port_option->count() == 0) no_tcp = true;
    }
    if (tcp_port_option->count() == 0 && !port_from_file) tcp_port = config->tcp_port;
    // acond.timeout applies to PID 1 only: a test or a host run that reads a command line keeps
    // running until it is stopped, unless --idle-timeout says otherwise.
    if (is_pid1 && !idle_timeout_set) idle_timeout = config->timeout_seconds;
  }
  auto mode = acond::parse_log_mode(log_mode);
  if (!mode) return tools::fail(mode.error());
  if (policy_mode != "acond" && policy_mode != "spec") {
    return tools::fail(
        make_error(Errc::invalid_argument,
                   "--policy-mode: expected acond or spec, got '" + policy_mode + "'"));
  }
  if (no_tcp && unix_path.empty() && vsock_port < 0) {
    return tools::fail(make_error(Errc::invalid_argument, "--no-tcp needs --unix or --vsock-port"));
  }
  auto backend = make_backend(backend_settings);
  if (!backend) return tools::fail(backend.error());

  auto crash_hook = crash_hook_from_environment();
  if (!crash_hook) return tools::fail(crash_hook.error());

  acond::RuntimeOptions options;
  options.step_hook = std::move(*crash_hook);
  options.runtime_pcr = runtime_pcr;
  options.state_dir = state_dir;
  options.log_mode = *mode;
  if (!log_path.empty()) options.log_path = log_path;
  options.policy_mode =
      policy_mode == "spec" ? image::PolicyMode::spec_graph : image::PolicyMode::acond_greedy;
  auto runtime = acond::Runtime::open(**backend, options);
  if (!runtime) return tools::fail(runtime.error());
  if (kbs_config) {
    acond::Runtime* pod = runtime->get();
    (*runtime)->set_secret_broker(std::make_shared<acond::SecretBroker>(
        acond::kbs_client_config(*kbs_config), pod->kbs_tee(),
        [pod](ByteView report_data) { return pod->kbs_evidence(report_data); },
        [pod] { return pod->runtime_event_count(); }));
  }

  // SIGTERM and SIGINT are taken by sigwait() below, in this thread only: blocked before gRPC
  // starts its threads, which inherit the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  // The in-container IPC socket: containers see <state_dir>/shared as /shared, so this is their
  // /shared/acon.sock.
  if (ipc_socket.empty())
    ipc_socket = (std::filesystem::path(state_dir) / "shared" / "acon.sock").string();
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(ipc_socket).parent_path(), ec);
  auto ipc = acond::ipc::Server::start(
      ipc_socket,
      [&runtime](uid_t uid, const acond::ipc::Request& request) {
        return (*runtime)->answer_ipc(uid, request);
      },
      log_line);
  if (!ipc) return tools::fail(ipc.error());

  acond::AconServiceImpl acon_service(**runtime, log_line);
  acond::EvidenceServiceImpl evidence_service(**runtime, log_line);

  // Idle power-off (pid1.h): armed from now; a successful RPC disarms it, a reaped child that
  // leaves no container running arms it again. On expiry this thread stops acond as on SIGTERM.
  acond::ContainerManager& containers = (*runtime)->containers();
  std::shared_ptr<acond::IdleWatchdog> watchdog;
  if (idle_timeout > 0) {
    watchdog = std::make_shared<acond::IdleWatchdog>(std::chrono::seconds(idle_timeout), [] {
      idle_expired = true;
      ::kill(::getpid(), SIGTERM);
    });
    acon_service.set_activity_hook([watchdog] { watchdog->rpc_succeeded(); });
    evidence_service.set_activity_hook([watchdog] { watchdog->rpc_succeeded(); });
    containers.set_reap_hook([watchdog](bool running) { watchdog->child_reaped(running); });
  }
  // As PID 1, the orphans of the TD are acond's children too.
  std::unique_ptr<acond::OrphanReaper> orphans;
  if (is_pid1) {
    auto reaper = acond::OrphanReaper::start(
        [&containers](pid_t pid) { return containers.owns_child(pid); },
        [&containers, watchdog](pid_t pid, int status) {
          log_line("acond event=orphan-reaped pid=" + std::to_string(pid) +
                   " status=" + std::to_string(status));
          if (watchdog) watchdog->child_reaped(containers.any_running());
        });
    if (!reaper) return tools::fail(reaper.error());
    orphans = std::move(*reaper);
  }
  ::grpc::ServerBuilder builder;
  builder.SetMaxReceiveMessageSize(static_cast<int>(max_message));
  builder.SetMaxSendMessageSize(static_cast<int>(max_message));
  // TLS on TCP when asked for (a client on another machine); the Unix socket and vsock stay
  // local and plaintext. The key is read once and never logged.
  std::shared_ptr<::grpc::ServerCredentials> tcp_credentials = ::grpc::InsecureServerCredentials();
  if (tls_cert.empty() != tls_key.empty()) {
    return tools::fail(make_error(Errc::invalid_argument, "--tls-cert and --tls-key go together"));
  }
  if (!tls_cert.empty()) {
    auto chain = tools::read_input(tls_cert);
    if (!chain) return tools::fail(chain.error());
    auto key = tools::read_input(tls_key);
    if (!key) return tools::fail(key.error());
    ::grpc::SslServerCredentialsOptions tls;
    tls.pem_key_cert_pairs.push_back({*key, *chain});
    tcp_credentials = ::grpc::SslServerCredentials(tls);
    OPENSSL_cleanse(key->data(), key->size());
  }
  int selected_port = 0;
  if (!no_tcp) {
    builder.AddListeningPort(tcp_address + ":" + std::to_string(tcp_port), tcp_credentials,
                             &selected_port);
  }
  if (!unix_path.empty()) {
    ::unlink(unix_path.c_str());
    builder.AddListeningPort("unix:" + unix_path, ::grpc::InsecureServerCredentials());
  }
  builder.RegisterService(&acon_service);
  builder.RegisterService(&evidence_service);
  std::unique_ptr<::grpc::Server> server = builder.BuildAndStart();
  if (!server || (!no_tcp && selected_port == 0)) {
    return tools::fail(make_error(Errc::io, "cannot listen on " + tcp_address + ":" +
                                                std::to_string(tcp_port) +
                                                (unix_path.empty() ? "" : " / " + unix_path)));
  }
  // gRPC 1.51 has no vsock addresses: acond accepts vsock connections and hands each to the
  // server as a connected socket.
  std::unique_ptr<acond::AcceptLoop> vsock;
  if (vsock_port >= 0) {
    auto listener = acond::vsock_listen(static_cast<uint32_t>(vsock_port));
    auto loop = listener ? acond::AcceptLoop::start(std::move(*listener),
                                                    [&server](UniqueFd connection) {
                                                      ::grpc::AddInsecureChannelFromFd(
                                                          server.get(), connection.release());
                                                    })
                         : listener.error();
    if (!loop) return tools::fail(loop.error());
    vsock = std::move(*loop);
  }
  std::string measured_into = (*backend)->register_kind() == guest::RegisterKind::pcr
                                  ? " runtime_pcr=" + std::to_string(runtime_pcr)
                                  : std::string(" runtime_register=rtmr3");
  log_line("acond event=listening backend=" + std::string((*backend)->name()) + measured_into +
           " log_mode=" + log_mode + " policy_mode=" + policy_mode +
           " tcp_port=" + (no_tcp ? std::string("none") : std::to_string(selected_port)) +
           " unix=" + (unix_path.empty() ? std::string("none") : unix_path) +
           " tls=" + (tls_cert.empty() ? "off" : "on") + " ipc=" + ipc_socket +
           " vsock_port=" + (vsock_port < 0 ? std::string("none") : std::to_string(vsock_port)) +
           " kbs=" + (kbs_config ? kbs_config->url : std::string("none")) +
           " state_dir=" + state_dir + " log_path=" + (*runtime)->options().log_path->string());

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  const bool idle = idle_expired;
  log_line("acond event=stopping signal=" + std::to_string(signal_number) +
           (idle ? " reason=idle-timeout" : ""));
  vsock.reset();
  ipc->reset();
  // Calls in progress get a grace period (an AddBlob may be unpacking a large layer); after it,
  // gRPC cancels what is left and idle client connections are dropped.
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server->Wait();
  // Containers get SIGTERM and a grace period, then SIGKILL; their roots are unmounted when the
  // runtime closes.
  containers.stop_all(std::chrono::seconds(stop_grace));
  orphans.reset();
  containers.set_reap_hook({});
  watchdog.reset();
  if (is_pid1) {
    // init must not return (the kernel panics when it exits): ACON powers off here too, whatever
    // stopped it. Container roots are unmounted first.
    runtime->reset();
    log_line("acond event=stopped action=power-off");
    auto off = acond::power_off();
    return off ? tools::kExitOk : tools::fail(off.error());
  }
  log_line(idle ? "acond event=stopped reason=idle-timeout action=exit (not PID 1: no power-off)"
                : "acond event=stopped");
  return tools::kExitOk;
}

}  // namespace

int main(int argc, char** argv) { return acon::tools::guarded_main(argc, argv, run); }
