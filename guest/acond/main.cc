// acond: serves ACON's AconService (and acon.evidence.EvidenceService) over gRPC on TCP and/or
// a Unix socket, measuring admitted images through a guest backend. docs/acond.md.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>

#include "acon/acond/container.h"
#include "acon/acond/grpc_service.h"
#include "acon/acond/kernel_cmdline.h"
#include "acon/acond/runtime.h"
#include "acon/guest/sim/state.h"
#include "acon/guest/tdx.h"
#include "tool_util.h"

namespace {

using namespace acon;

std::mutex log_mutex;
void log_line(const std::string& line) {
  std::lock_guard lock(log_mutex);
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

Result<std::unique_ptr<guest::Backend>> make_backend(const std::string& name,
                                                     const std::string& sim_state) {
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
  if (name == "tdx-tsm") return std::unique_ptr<guest::Backend>(new guest::TdxTsmBackend());
  if (name == "tdx-legacy") {
    ACON_TRY(auto backend, guest::TdxLegacyBackend::open());
    return std::unique_ptr<guest::Backend>(std::move(backend));
  }
  return make_error(Errc::invalid_argument,
                    "--backend: expected sim, tdx-tsm or tdx-legacy, got '" + name + "'");
}

int run(int argc, char** argv) {
  CLI::App app{"acond: ACON's AconService over gRPC, measuring images into RTMR3"};
  std::string backend_name = "sim", sim_state, state_dir, unix_path, log_mode = "coco",
              policy_mode = "acond", log_path, tcp_address = "0.0.0.0";
  int tcp_port = 1025;
  bool no_tcp = false;
  uint64_t max_message = uint64_t{1} << 30;
  app.add_option("--backend", backend_name, "sim, tdx-tsm or tdx-legacy")->capture_default_str();
  app.add_option("--sim-state", sim_state,
                 "State file of the simulated platform (acon-sim create)");
  app.add_option("--state-dir", state_dir, "Directory for contents, images and logs")->required();
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
  app.add_option("--log-mode", log_mode, "Runtime log format: coco (TCG2 AAEL) or acon (text)")
      ->capture_default_str();
  app.add_option("--log-path", log_path, "Runtime log file (default: in --state-dir)");
  app.add_option("--policy-mode", policy_mode, "Launch policy: acond (ACON's) or spec (graph)")
      ->capture_default_str();
  app.add_option("--max-message", max_message, "Largest request in bytes (an AddBlob layer)")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1} << 20, uint64_t{2147483647}));
  unsigned stop_grace = 5;
  app.add_option("--stop-grace", stop_grace,
                 "Seconds between SIGTERM and SIGKILL for containers when acond stops")
      ->capture_default_str()
      ->check(CLI::Range(0, 3600));
  if (auto code = tools::parse_command_line(app, argc, argv)) return *code;

  if (!kernel_cmdline.empty()) {
    auto text = tools::read_input(kernel_cmdline);
    if (!text) return tools::fail(text.error());
    auto config = acond::parse_kernel_cmdline(*text);
    if (!config) return tools::fail(config.error());
    if (config->vsock_conn) {
      return tools::fail(make_error(Errc::unsupported,
                                    "acond.vsock_conn: vsock is not supported in this version"));
    }
    if (tcp_port_option->count() == 0) tcp_port = config->tcp_port;
  }
  auto mode = acond::parse_log_mode(log_mode);
  if (!mode) return tools::fail(mode.error());
  if (policy_mode != "acond" && policy_mode != "spec") {
    return tools::fail(
        make_error(Errc::invalid_argument,
                   "--policy-mode: expected acond or spec, got '" + policy_mode + "'"));
  }
  if (no_tcp && unix_path.empty()) {
    return tools::fail(make_error(Errc::invalid_argument, "--no-tcp needs --unix"));
  }
  auto backend = make_backend(backend_name, sim_state);
  if (!backend) return tools::fail(backend.error());

  acond::RuntimeOptions options;
  options.state_dir = state_dir;
  options.log_mode = *mode;
  if (!log_path.empty()) options.log_path = log_path;
  options.policy_mode =
      policy_mode == "spec" ? image::PolicyMode::spec_graph : image::PolicyMode::acond_greedy;
  auto runtime = acond::Runtime::open(**backend, options);
  if (!runtime) return tools::fail(runtime.error());

  // SIGTERM and SIGINT are taken by sigwait() below, in this thread only: blocked before gRPC
  // starts its threads, which inherit the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  acond::AconServiceImpl acon_service(**runtime, log_line);
  acond::EvidenceServiceImpl evidence_service(**runtime, log_line);
  ::grpc::ServerBuilder builder;
  builder.SetMaxReceiveMessageSize(static_cast<int>(max_message));
  builder.SetMaxSendMessageSize(static_cast<int>(max_message));
  int selected_port = 0;
  if (!no_tcp) {
    builder.AddListeningPort(tcp_address + ":" + std::to_string(tcp_port),
                             ::grpc::InsecureServerCredentials(), &selected_port);
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
  log_line("acond event=listening backend=" + std::string((*backend)->name()) +
           " log_mode=" + log_mode + " policy_mode=" + policy_mode +
           " tcp_port=" + (no_tcp ? std::string("none") : std::to_string(selected_port)) +
           " unix=" + (unix_path.empty() ? std::string("none") : unix_path) +
           " state_dir=" + state_dir + " log_path=" + (*runtime)->options().log_path->string());

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  log_line("acond event=stopping signal=" + std::to_string(signal_number));
  // Calls in progress get a grace period (an AddBlob may be unpacking a large layer); after it,
  // gRPC cancels what is left and idle client connections are dropped.
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server->Wait();
  // Containers get SIGTERM and a grace period, then SIGKILL; their roots are unmounted when the
  // runtime closes.
  (*runtime)->containers().stop_all(std::chrono::seconds(stop_grace));
  log_line("acond event=stopped");
  return tools::kExitOk;
}

}  // namespace

int main(int argc, char** argv) { return acon::tools::guarded_main(argc, argv, run); }
