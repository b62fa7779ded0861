// acond's settings (docs/acond.md "Configuration"): the command line, then the TOML file for what
// the command line left out, then ACON's acond.* keys on the kernel command line for what neither
// set. main.cc serves with the result; this is the only place the three sources meet.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "acon/acond/config.h"
#include "acon/acond/runtime.h"
#include "acon/common/result.h"
#include "acon/guest/backend.h"

namespace acon::acond {

struct BackendSettings {
  std::string name = "sim";
  std::string sim_state;
  std::string tcti = "device:/dev/tpmrm0";
  std::string tpm_event_log = "/sys/kernel/security/tpm0/binary_bios_measurements";
};

struct Settings {
  BackendSettings backend;
  std::string config_path;
  std::string state_dir;
  std::string kernel_cmdline;
  int tcp_port = 1025;
  std::string tcp_address = "0.0.0.0";
  bool no_tcp = false;
  std::string unix_path;
  int64_t vsock_port = -1;  // -1: no vsock listener
  std::string log_mode = "coco";
  std::string log_path;
  std::string policy_mode = "acond";
  uint64_t max_message = uint64_t{1} << 30;
  uint32_t runtime_pcr = kDefaultRuntimePcr;
  std::string tls_cert, tls_key;
  std::string ipc_socket;
  std::string kbs_url, kbs_ca;  // the flags; the result is `kbs`
  unsigned stop_grace = 5;
  uint64_t idle_timeout = 0;
  bool print_ak = false;
  // From the file (and the KBS flags):
  std::optional<KbsConfig> kbs;
  std::vector<std::string> kernel_modules;
  std::optional<NetworkConfig> network;
  bool tcp_port_from_file = false;
  bool idle_timeout_from_file = false;
};

// Adds every flag to `app`, bound to `settings`.
void add_options(CLI::App& app, Settings& settings);

// After parsing: the configuration file's values where `app` saw no flag, then the KBS flags
// (--kbs-url takes only https://; a plaintext KBS needs insecure_http in the file). As PID 1 with
// no --config, the file is kPid1ConfigPath when it exists.
Status apply_config_file(const CLI::App& app, Settings& settings, bool is_pid1);

// ACON's acond.* keys (from --kernel-cmdline, or /proc/cmdline as PID 1) where neither the flags
// nor the file set them; then the checks that need all three sources (state directory, log and
// policy modes, some listener).
Status apply_kernel_cmdline(const CLI::App& app, Settings& settings, bool is_pid1);

// The guest backend the settings name (sim, tdx / tdx-tsm, tdx-legacy, vtpm).
Result<std::unique_ptr<guest::Backend>> make_backend(const BackendSettings& settings);

// Crash tests (tests/guest/acond/crash_test.cc, docs/acond.md "Crash safety"):
// ACOND_CRASH_AT=<step>[@<n>] kills this process with SIGKILL the n-th time (default: the first)
// a measurement or an unpack reaches <step>. It can only stop the process, never skip a check or
// a write; unset, no hook is installed.
Result<StepHook> crash_hook_from_environment();

}  // namespace acon::acond
