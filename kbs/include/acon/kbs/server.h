// The KBS's HTTP/1.1 server on Boost.Beast/Asio: a fixed pool of threads running one io_context,
// keep-alive connections, optional TLS through OpenSSL, request size and header limits, read
// timeouts. Each request is handed to Kbs::handle; the server adds nothing to the protocol.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "acon/common/result.h"
#include "acon/kbs/service.h"

namespace acon::kbs {

struct ServerOptions {
  std::vector<std::string> listen = {"127.0.0.1:8080"};  // host:port; port 0 picks a free one
  // TLS unless insecure_http; certificate is a PEM chain (leaf first), private_key its key.
  bool insecure_http = false;
  std::string certificate;
  std::string private_key;
  unsigned threads = 0;                         // 0: one per core
  size_t max_body_bytes = size_t{2} << 20;      // Trustee: payload_request_size 2 MiB
  size_t max_header_bytes = size_t{256} << 10;  // room for verbose EAR tokens as Bearer
  std::chrono::seconds read_timeout{30};        // per request, and keep-alive idle time
};

class Server {
 public:
  // Binds every listen address and starts the threads; requests go to `kbs`, which must outlive
  // the server.
  static Result<std::unique_ptr<Server>> start(Kbs& kbs, const ServerOptions& options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound ports, in the order of options.listen (useful with port 0).
  const std::vector<uint16_t>& ports() const;
  // Stops accepting, closes connections and joins the threads. Idempotent.
  void stop();

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace acon::kbs
