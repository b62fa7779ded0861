#include "acon/acond/listener.h"

#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace acon::acond {
namespace {

Error os_error(const std::string& what) {
  return make_error(Errc::io, what + ": " + std::strerror(errno));
}

sockaddr_vm vsock_address(uint32_t cid, uint32_t port) {
  sockaddr_vm address{};
  address.svm_family = AF_VSOCK;
  address.svm_cid = cid;
  address.svm_port = port;
  return address;
}

}  // namespace

Result<std::unique_ptr<AcceptLoop>> AcceptLoop::start(UniqueFd listener,
                                                      OnConnection on_connection) {
  int wake[2];
  if (::pipe2(wake, O_CLOEXEC) != 0) return os_error("pipe");
  std::unique_ptr<AcceptLoop> loop(new AcceptLoop(std::move(listener), UniqueFd(wake[0]),
                                                  UniqueFd(wake[1]), std::move(on_connection)));
  loop->thread_ = std::thread([raw = loop.get()] { raw->run(); });
  return loop;
}

AcceptLoop::AcceptLoop(UniqueFd listener, UniqueFd wake_read, UniqueFd wake_write,
                       OnConnection on_connection)
    : listener_(std::move(listener)),
      wake_read_(std::move(wake_read)),
      wake_write_(std::move(wake_write)),
      on_connection_(std::move(on_connection)) {}

AcceptLoop::~AcceptLoop() {
  // Closing the write end wakes poll() in run() with POLLHUP on the read end.
  wake_write_.reset();
  if (thread_.joinable()) thread_.join();
}

void AcceptLoop::run() {
  for (;;) {
    pollfd waiting[2] = {{listener_.get(), POLLIN, 0}, {wake_read_.get(), POLLIN, 0}};
    int ready = ::poll(waiting, 2, -1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0 || waiting[1].revents != 0) return;
    UniqueFd connection(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (connection.valid()) on_connection_(std::move(connection));
  }
}

Result<UniqueFd> vsock_listen(uint32_t port) {
  UniqueFd socket(::socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!socket.valid()) return os_error("vsock socket (AF_VSOCK)");
  sockaddr_vm address = vsock_address(VMADDR_CID_ANY, port);
  if (::bind(socket.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    return os_error("vsock bind to port " + std::to_string(port));
  }
  if (::listen(socket.get(), 64) != 0) return os_error("vsock listen");
  return socket;
}

Result<UniqueFd> vsock_connect(uint32_t cid, uint32_t port, int timeout_ms) {
  const std::string where = "vsock " + std::to_string(cid) + ":" + std::to_string(port);
  UniqueFd socket(::socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!socket.valid()) return os_error("vsock socket (AF_VSOCK)");
  sockaddr_vm address = vsock_address(cid, port);
  if (::connect(socket.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    if (errno != EINPROGRESS) return os_error(where);
    pollfd waiting{socket.get(), POLLOUT, 0};
    int ready = ::poll(&waiting, 1, timeout_ms);
    if (ready == 0)
      return make_error(Errc::io,
                        where + ": no connection within " + std::to_string(timeout_ms) + " ms");
    int error = 0;
    socklen_t size = sizeof error;
    if (ready < 0 || ::getsockopt(socket.get(), SOL_SOCKET, SO_ERROR, &error, &size) != 0) {
      return os_error(where);
    }
    if (error != 0) {
      errno = error;
      return os_error(where);
    }
  }
  // Left non-blocking: gRPC's posix endpoints expect that.
  return socket;
}

}  // namespace acon::acond
