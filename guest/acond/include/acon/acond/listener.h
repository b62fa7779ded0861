// Sockets acond accepts connections on itself: the in-container IPC socket, and AF_VSOCK for
// gRPC (Debian 12's gRPC 1.51 has no vsock addresses, so acond accepts each vsock connection and
// hands the connected socket to the gRPC server; the client does the same on its side).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <thread>

#include "acon/common/result.h"
#include "acon/common/unique_fd.h"

namespace acon::acond {

// Accepts connections on a listening socket on its own thread and passes each to
// `on_connection`, one after another. Destruction stops the thread (a pipe wakes it) and closes
// the listener.
class AcceptLoop {
 public:
  using OnConnection = std::function<void(UniqueFd connection)>;
  // Connections are accepted non-blocking (what gRPC's endpoints expect; the IPC server polls
  // before every read).
  static Result<std::unique_ptr<AcceptLoop>> start(UniqueFd listener, OnConnection on_connection);
  ~AcceptLoop();
  AcceptLoop(const AcceptLoop&) = delete;
  AcceptLoop& operator=(const AcceptLoop&) = delete;

 private:
  AcceptLoop(UniqueFd listener, UniqueFd wake_read, UniqueFd wake_write,
             OnConnection on_connection);
  void run();

  UniqueFd listener_;
  UniqueFd wake_read_, wake_write_;
  OnConnection on_connection_;
  std::thread thread_;
};

// ACON's vsock defaults: the port acond listens on (acond.vsock_port), any local CID.
inline constexpr uint32_t kDefaultVsockPort = 1024;
// The loopback CID (VMADDR_CID_LOCAL): this machine's own vsock, where the kernel offers it.
inline constexpr uint32_t kVsockLoopbackCid = 1;

// A listening AF_VSOCK stream socket on VMADDR_CID_ANY:`port`.
Result<UniqueFd> vsock_listen(uint32_t port);
// A connected AF_VSOCK stream socket; Errc::io naming cid:port when the connection fails or
// takes longer than `timeout_ms`.
Result<UniqueFd> vsock_connect(uint32_t cid, uint32_t port, int timeout_ms);

}  // namespace acon::acond
