// acond's configuration file (TOML, `acond --config FILE`): one key per command-line flag, each
// optional; a flag given on the command line wins over the file. Unknown keys, wrong types and
// values out of range are errors naming the key (and its line). When acond also reads a kernel
// command line, its acond.tcp_port applies only if neither the flag nor the file sets the port.
// guest/acond/acond.toml is the shipped example with the defaults.
//   backend = "sim"              sim, tdx (= tdx-tsm), tdx-legacy or vtpm
//   sim_state = "sim.json"       --sim-state
//   tcti = "device:/dev/tpmrm0"  --tcti (vtpm backend)
//   tpm_event_log = "..."        --tpm-event-log (vtpm backend)
//   runtime_pcr = 15             --runtime-pcr (vtpm backend, 0..23)
//   state_dir = "/run/acond"     --state-dir
//   tcp_address = "127.0.0.1"    --tcp-address
//   tcp_port = 1025              --tcp-port (0..65535)
//   no_tcp = false               --no-tcp
//   unix = "/run/acond.sock"     --unix
//   vsock_port = 1024            --vsock-port (AF_VSOCK, any CID)
//   ipc_socket = "..."           --ipc-socket
//   tls_cert, tls_key = "..."    --tls-cert, --tls-key
//   stop_grace = 5               --stop-grace (0..3600 s)
//   idle_timeout = 180           --idle-timeout (0..4294967295 s, 0: never)
//   log_mode = "coco"            coco or acon
//   log_path = "..."             --log-path
//   policy_mode = "acond"        acond or spec
//   max_message = 1073741824     --max-message (1 MiB .. 2^31 - 1)
//   kernel_cmdline = "/proc/cmdline"
//   [kbs]                        the KBS GetSecret attests to (absent: GetSecret answers
//                                "KBS not configured"); docs/acond.md "Secrets"
//   url = "https://kbs:8080"     required in [kbs]; --kbs-url
//   ca_file = "kbs-ca.pem"       PEM trust anchors for the KBS's TLS certificate; --kbs-ca
//                                (absent: the system store)
//   insecure_http = false        required for, and only allowed with, an http:// URL
//   connect_timeout = 5          seconds (1..300)
//   timeout = 30                 seconds per KBS request (1..600)
//   modules = ["/lib/modules/overlay.ko"]   PID 1 only: kernel modules loaded in this order
//   [network]                    PID 1 only: one IPv4 interface acond configures (no DHCP)
//   interface = "eth0"           required in [network]
//   address = "10.0.2.15/24"     required: address and prefix length (CIDR)
//   gateway = "10.0.2.2"         optional: the default route
#pragma once

#include <vector>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "acon/common/result.h"

namespace acon::acond {

// The [kbs] table: what KbsClient needs to reach the KBS (kbs/client/include/acon/kbs/client.h).
struct KbsConfig {
  std::string url;
  std::optional<std::string> ca_file;
  bool insecure_http = false;
  uint32_t connect_timeout_seconds = 5;
  uint32_t timeout_seconds = 30;
};

// The [network] table: a static IPv4 address on one interface, and optionally a default route.
// Addresses are in network byte order (as in_addr.s_addr).
struct NetworkConfig {
  std::string interface;
  uint32_t address = 0;
  uint8_t prefix_length = 0;  // 0..32
  std::optional<uint32_t> gateway;
  bool operator==(const NetworkConfig&) const = default;
};

struct ConfigFile {
  std::optional<std::string> backend, sim_state, tcti, tpm_event_log, state_dir, tcp_address,
      unix_path, log_mode, log_path, policy_mode, kernel_cmdline, ipc_socket, tls_cert, tls_key;
  std::optional<uint32_t> runtime_pcr, vsock_port, stop_grace, idle_timeout;
  std::optional<uint16_t> tcp_port;
  std::optional<bool> no_tcp;
  std::optional<uint64_t> max_message;
  std::optional<KbsConfig> kbs;
  std::optional<std::vector<std::string>> modules;
  std::optional<NetworkConfig> network;
};

// The range --max-message and max_message accept.
inline constexpr uint64_t kMinMaxMessage = uint64_t{1} << 20;
inline constexpr uint64_t kMaxMaxMessage = 2147483647;
// A TPM's PCRs: 0..23.
inline constexpr uint32_t kMaxPcr = 23;

// An IPv4 address in dotted-quad form, network byte order; `key` names it in the error.
Result<uint32_t> parse_ipv4_address(std::string_view text, std::string_view key);
// "a.b.c.d/n" (n in 0..32); `key` names it in the error.
Result<std::pair<uint32_t, uint8_t>> parse_ipv4_cidr(std::string_view text, std::string_view key);

// Parses the text of a configuration file; `name` labels errors ("acond.toml: line 3: ...").
Result<ConfigFile> parse_config(std::string_view text, std::string_view name = "config");

}  // namespace acon::acond
