// ACON's acond settings on the kernel command line, as ACON (commit 3430805) reads them when it
// runs as PID 1: parameters split on whitespace, KEY=VALUE, unknown parameters ignored.
//   acond.vsock_conn        any parameter starting with this listens on vsock instead of TCP
//   acond.vsock_port=N      vsock port (default 1024)
//   acond.tcp_port=N        TCP port (default 1025)
//   acond.timeout=N         idle power-off in seconds (default 180)
// Numbers are parsed as Rust's from_str does (optional '+', decimal digits, no overflow). ACON
// aborts start-up on a malformed value; here it is an error naming the parameter and its offset.
#pragma once

#include <cstdint>
#include <string_view>

#include "acon/common/result.h"

namespace acon::acond {

struct KernelConfig {
  bool vsock_conn = false;
  uint32_t vsock_port = 1024;
  uint16_t tcp_port = 1025;
  uint64_t timeout_seconds = 180;
};

// A later parameter overrides an earlier one of the same key.
//   ACON_TRY(auto config, parse_kernel_cmdline(read("/proc/cmdline")));
Result<KernelConfig> parse_kernel_cmdline(std::string_view cmdline);

}  // namespace acon::acond
