// The KBS client's HTTP/1.1 transport (private to acon_kbs_client): one persistent connection to
// one origin over Boost.Beast, plain or TLS. No Boost in this header, so that client.cc compiles
// without Asio's SSL layer (which still names OpenSSL 1.1 types).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "acon/common/curl.h"
#include "acon/common/result.h"

namespace acon::kbs {

// The parts of the base URL the transport needs.
struct HttpOrigin {
  bool https = false;
  std::string host;         // what is resolved and verified: "kbs.example", "::1"
  std::string host_header;  // the Host header: "kbs.example:8080", "[::1]:8080"
  uint16_t port = 0;
  std::string path_prefix;  // "" or "/prefix": the base URL's path without a trailing '/'
};

// Parses an http(s) base URL with libcurl's URL parser (IPv6 literals, default ports, a path
// prefix); a query, fragment or user name in it is refused.
Result<HttpOrigin> parse_base_url(std::string_view url);

struct HttpConnectionOptions {
  std::optional<std::string> ca_file;  // https: PEM trust anchors; else the system store
  std::chrono::milliseconds connect_timeout{10'000};  // resolve, connect and TLS handshake
  std::chrono::milliseconds total_timeout{60'000};    // one request, reconnects included
  size_t max_response_bytes = size_t{16} << 20;       // the body
  size_t max_header_bytes = 64 * 1024;                // the status line and headers
};

// What one request sends. The views must stay valid for the call only.
struct HttpRequestView {
  std::string_view method;  // "GET", "POST", "DELETE"
  std::string_view path;    // below the base URL: "/kbs/v0/auth"
  std::optional<std::string_view> body;
  std::string_view content_type;  // sent with a body
  std::string_view bearer;        // empty: no Authorization header
  std::string_view cookie;        // "name=value"; empty: no Cookie header
};

// One keep-alive connection, opened on the first request and again whenever the server closed
// it. Not thread-safe: one object per client, as KbsClient is.
class HttpConnection {
 public:
  HttpConnection(HttpOrigin origin, HttpConnectionOptions options);
  HttpConnection(HttpConnection&&) noexcept;
  HttpConnection& operator=(HttpConnection&&) noexcept;
  ~HttpConnection();

  // Sends the request and reads the final response (1xx answers skipped). A request that fails
  // on a reused connection before any byte of the answer arrived (the server closed the idle
  // connection) is sent once more on a new one; never after part of an answer was read.
  // Errors name the method and path: "GET /kbs/v0/...: response larger than N bytes".
  Result<HttpResponse> perform(const HttpRequestView& request);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace acon::kbs
