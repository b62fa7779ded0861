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

#include "acon/acond/container.h"
#include "acon/acond/grpc_service.h"
#include "acon/acond/listener.h"
#include "acon/acond/pid1.h"
#include "acon/acond/runtime.h"
#include "acon/guest/vtpm.h"
#include "settings.h"
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

int run(int argc, char** argv) {
  CLI::App app{"acond: ACON's AconService over gRPC, measuring images into RTMR3 (or a PCR)"};
  acond::Settings settings;
  acond::add_options(app, settings);
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

  if (auto applied = acond::apply_config_file(app, settings, is_pid1); !applied)
    return tools::fail(applied.error());
  if (settings.print_ak) {
    // The backend acond itself would open, so the key is made from the same template.
    auto opened = acond::make_backend(settings.backend);
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
    auto loaded = acond::load_kernel_modules(settings.kernel_modules, log_line);
    if (!loaded) return tools::fail(loaded.error());
    auto loopback = acond::bring_up_interface("lo");
    if (!loopback) return tools::fail(loopback.error());
    if (settings.network) {
      auto configured = acond::configure_ipv4(*settings.network, log_line);
      if (!configured) return tools::fail(configured.error());
    }
  } else if (!settings.kernel_modules.empty() || settings.network) {
    log_line("acond event=vm-setup-skipped reason=not-pid1 modules=" +
             std::to_string(settings.kernel_modules.size()) +
             " network=" + (settings.network ? "1" : "0"));
  }
  if (auto applied = acond::apply_kernel_cmdline(app, settings, is_pid1); !applied)
    return tools::fail(applied.error());
  auto backend = acond::make_backend(settings.backend);
  if (!backend) return tools::fail(backend.error());

  auto crash_hook = acond::crash_hook_from_environment();
  if (!crash_hook) return tools::fail(crash_hook.error());

  acond::RuntimeOptions options;
  options.step_hook = std::move(*crash_hook);
  options.runtime_pcr = settings.runtime_pcr;
  options.state_dir = settings.state_dir;
  options.log_mode = *acond::parse_log_mode(settings.log_mode);  // checked with the settings
  if (!settings.log_path.empty()) options.log_path = settings.log_path;
  options.policy_mode = settings.policy_mode == "spec" ? image::PolicyMode::spec_graph
                                                       : image::PolicyMode::acond_greedy;
  auto runtime = acond::Runtime::open(**backend, options);
  if (!runtime) return tools::fail(runtime.error());
  if (settings.kbs) {
    acond::Runtime* pod = runtime->get();
    (*runtime)->set_secret_broker(std::make_shared<acond::SecretBroker>(
        acond::kbs_client_config(*settings.kbs), pod->kbs_tee(),
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
  if (settings.ipc_socket.empty())
    settings.ipc_socket =
        (std::filesystem::path(settings.state_dir) / "shared" / "acon.sock").string();
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(settings.ipc_socket).parent_path(), ec);
  auto ipc = acond::ipc::Server::start(
      settings.ipc_socket,
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
  if (settings.idle_timeout > 0) {
    watchdog =
        std::make_shared<acond::IdleWatchdog>(std::chrono::seconds(settings.idle_timeout), [] {
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
  builder.SetMaxReceiveMessageSize(static_cast<int>(settings.max_message));
  builder.SetMaxSendMessageSize(static_cast<int>(settings.max_message));
  // TLS on TCP when asked for (a client on another machine); the Unix socket and vsock stay
  // local and plaintext. The key is read once and never logged.
  std::shared_ptr<::grpc::ServerCredentials> tcp_credentials = ::grpc::InsecureServerCredentials();
  if (!settings.tls_cert.empty()) {
    auto chain = tools::read_input(settings.tls_cert);
    if (!chain) return tools::fail(chain.error());
    auto key = tools::read_input(settings.tls_key);
    if (!key) return tools::fail(key.error());
    ::grpc::SslServerCredentialsOptions tls;
    tls.pem_key_cert_pairs.push_back({*key, *chain});
    tcp_credentials = ::grpc::SslServerCredentials(tls);
    OPENSSL_cleanse(key->data(), key->size());
  }
  int selected_port = 0;
  if (!settings.no_tcp) {
    builder.AddListeningPort(settings.tcp_address + ":" + std::to_string(settings.tcp_port),
                             tcp_credentials, &selected_port);
  }
  if (!settings.unix_path.empty()) {
    ::unlink(settings.unix_path.c_str());
    builder.AddListeningPort("unix:" + settings.unix_path, ::grpc::InsecureServerCredentials());
  }
  builder.RegisterService(&acon_service);
  builder.RegisterService(&evidence_service);
  std::unique_ptr<::grpc::Server> server = builder.BuildAndStart();
  if (!server || (!settings.no_tcp && selected_port == 0)) {
    return tools::fail(
        make_error(Errc::io, "cannot listen on " + settings.tcp_address + ":" +
                                 std::to_string(settings.tcp_port) +
                                 (settings.unix_path.empty() ? "" : " / " + settings.unix_path)));
  }
  // gRPC 1.51 has no vsock addresses: acond accepts vsock connections and hands each to the
  // server as a connected socket.
  std::unique_ptr<acond::AcceptLoop> vsock;
  if (settings.vsock_port >= 0) {
    auto listener = acond::vsock_listen(static_cast<uint32_t>(settings.vsock_port));
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
                                  ? " runtime_pcr=" + std::to_string(settings.runtime_pcr)
                                  : std::string(" runtime_register=rtmr3");
  log_line("acond event=listening backend=" + std::string((*backend)->name()) + measured_into +
           " log_mode=" + settings.log_mode + " policy_mode=" + settings.policy_mode +
           " tcp_port=" + (settings.no_tcp ? std::string("none") : std::to_string(selected_port)) +
           " unix=" + (settings.unix_path.empty() ? std::string("none") : settings.unix_path) +
           " tls=" + (settings.tls_cert.empty() ? "off" : "on") + " ipc=" + settings.ipc_socket +
           " vsock_port=" +
           (settings.vsock_port < 0 ? std::string("none") : std::to_string(settings.vsock_port)) +
           " kbs=" + (settings.kbs ? settings.kbs->url : std::string("none")) + " state_dir=" +
           settings.state_dir + " log_path=" + (*runtime)->options().log_path->string());

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
  containers.stop_all(std::chrono::seconds(settings.stop_grace));
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
