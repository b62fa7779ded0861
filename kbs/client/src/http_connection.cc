// The KBS client's HTTP/1.1 transport on Boost.Beast (http_connection.h). Every network step is
// synchronous on a non-blocking socket: a read or write that would block waits in poll() for at
// most the time left before the request's deadline, so the calling thread never waits without a
// bound. A GET is then one send, one poll and one receive; through Asio's io_context each step
// was a run of its scheduler, with an epoll_wait after every completed step and a receive that
// found nothing before the wait (six system calls, ~1 us each on this VM).
#include "http_connection.h"

#include <curl/curl.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

namespace acon::kbs {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

struct CurlUrlDeleter {
  void operator()(CURLU* url) const { curl_url_cleanup(url); }
};
struct CurlStringDeleter {
  void operator()(char* text) const { curl_free(text); }
};

// One part of a parsed URL; nullopt when the URL has none.
std::optional<std::string> url_part(CURLU* url, CURLUPart part, unsigned flags = 0) {
  char* raw = nullptr;
  const CURLUcode code = curl_url_get(url, part, &raw, flags);
  const std::unique_ptr<char, CurlStringDeleter> owned(raw);
  if (code != CURLUE_OK || raw == nullptr) return std::nullopt;
  return std::string(raw);
}

// The endpoints of `host`: an IP literal as it is; a name through getaddrinfo, which cannot be
// cancelled, so it runs on a thread of its own that is abandoned at the deadline (it ends when
// the system resolver gives up).
Result<std::vector<tcp::endpoint>> resolve(const std::string& host, uint16_t port,
                                           Clock::time_point deadline) {
  beast::error_code ec;
  const net::ip::address literal = net::ip::make_address(host, ec);
  if (!ec) return std::vector<tcp::endpoint>{tcp::endpoint(literal, port)};

  struct Lookup {
    std::mutex mutex;
    std::condition_variable done_signal;
    bool done = false;
    beast::error_code ec;
    std::vector<tcp::endpoint> endpoints;
  };
  auto lookup = std::make_shared<Lookup>();
  try {
    std::thread([lookup, host, port] {
      net::io_context resolver_io;
      tcp::resolver resolver(resolver_io);
      beast::error_code resolved_ec;
      const auto results = resolver.resolve(host, std::to_string(port), resolved_ec);
      std::vector<tcp::endpoint> endpoints;
      for (const auto& entry : results) endpoints.push_back(entry.endpoint());
      const std::lock_guard lock(lookup->mutex);
      lookup->ec = resolved_ec;
      lookup->endpoints = std::move(endpoints);
      lookup->done = true;
      lookup->done_signal.notify_all();
    }).detach();
  } catch (const std::exception& e) {
    return make_error(Errc::io, "resolve " + host + ": " + e.what());
  }
  std::unique_lock lock(lookup->mutex);
  if (!lookup->done_signal.wait_until(lock, deadline, [&] { return lookup->done; }))
    return make_error(Errc::io, "resolve " + host + ": timed out");
  if (lookup->ec) return make_error(Errc::io, "resolve " + host + ": " + lookup->ec.message());
  if (lookup->endpoints.empty()) return make_error(Errc::io, "resolve " + host + ": no address");
  return std::move(lookup->endpoints);
}

// CR, LF or NUL in a header value would end the header early (request splitting). It runs over
// the ~100 KB Bearer token of every GET: three passes of glibc's vectorised memchr took a quarter
// of the CPU of one byte loop testing all three (GCC 12 leaves that loop scalar) in the load
// benchmark's profile.
bool header_value_ok(std::string_view value) {
  for (const char stop : {'\r', '\n', '\0'})
    if (std::memchr(value.data(), stop, value.size()) != nullptr) return false;
  return true;
}

}  // namespace

Result<HttpOrigin> parse_base_url(std::string_view url) {
  const std::unique_ptr<CURLU, CurlUrlDeleter> parsed(curl_url());
  if (!parsed) return make_error(Errc::io, "url: curl_url failed");
  const std::string text(url);
  const CURLUcode code = curl_url_set(parsed.get(), CURLUPART_URL, text.c_str(), 0);
  if (code != CURLUE_OK)
    return make_error(Errc::invalid_argument, "url " + text + ": " + curl_url_strerror(code));
  HttpOrigin origin;
  const std::optional<std::string> scheme = url_part(parsed.get(), CURLUPART_SCHEME);
  if (scheme != "https" && scheme != "http")
    return make_error(Errc::invalid_argument, "url " + text + ": the scheme must be http(s)");
  origin.https = scheme == "https";
  for (auto [part, name] :
       {std::pair{CURLUPART_QUERY, "a query"}, std::pair{CURLUPART_FRAGMENT, "a fragment"},
        std::pair{CURLUPART_USER, "a user name"}, std::pair{CURLUPART_ZONEID, "an IPv6 zone id"}}) {
    if (url_part(parsed.get(), part))
      return make_error(Errc::invalid_argument, "url " + text + ": has " + name);
  }
  std::optional<std::string> host = url_part(parsed.get(), CURLUPART_HOST);
  if (!host || host->empty())
    return make_error(Errc::invalid_argument, "url " + text + ": no host");
  // Host names are case-insensitive (RFC 9110 section 4.2.3): one spelling for the Host header
  // and the certificate check.
  host = ascii_lower(*host);
  const std::optional<std::string> port =
      url_part(parsed.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
  unsigned long port_number = 0;
  if (port) port_number = std::strtoul(port->c_str(), nullptr, 10);
  if (port_number == 0 || port_number > 65535)
    return make_error(Errc::invalid_argument, "url " + text + ": bad port");
  origin.port = static_cast<uint16_t>(port_number);
  // The Host header names the port only when it is not the scheme's default, as libcurl did.
  origin.host_header = *host;
  if (port_number != (origin.https ? 443u : 80u)) origin.host_header += ":" + *port;
  // IPv6 literals come bracketed; the resolver and certificate check want the address alone.
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']')
    host = host->substr(1, host->size() - 2);
  origin.host = std::move(*host);
  origin.path_prefix = url_part(parsed.get(), CURLUPART_PATH).value_or("");
  while (origin.path_prefix.ends_with('/')) origin.path_prefix.pop_back();
  return origin;
}

// A connected TCP socket in non-blocking mode, read and written synchronously with each call
// bounded by the deadline of the request under way: a step that would block waits in poll() for
// what is left of it, then fails with beast::error::timeout. Beast's synchronous HTTP functions
// and Asio's TLS stream run on it; it never reports would_block, so a TLS record is never left
// half written.
class DeadlineSocket {
 public:
  using executor_type = tcp::socket::executor_type;
  using lowest_layer_type = tcp::socket;

  explicit DeadlineSocket(net::io_context& io) : socket_(io) {}

  lowest_layer_type& lowest_layer() { return socket_; }
  executor_type get_executor() { return socket_.get_executor(); }
  void set_deadline(Clock::time_point deadline) { deadline_ = deadline; }

  // Connects to the first endpoint that accepts, as asio::connect would, within the deadline.
  void connect(const std::vector<tcp::endpoint>& endpoints, beast::error_code& ec) {
    ec = net::error::host_not_found;
    for (const tcp::endpoint& endpoint : endpoints) {
      beast::error_code ignored;
      socket_.close(ignored);
      if (socket_.open(endpoint.protocol(), ec); ec) continue;
      if (socket_.non_blocking(true, ec); ec) continue;
      if (::connect(socket_.native_handle(), endpoint.data(),
                    static_cast<socklen_t>(endpoint.size())) == 0) {
        ec = {};
        return;
      }
      if (errno != EINPROGRESS) {
        ec = beast::error_code(errno, boost::system::system_category());
        continue;
      }
      if (!wait(POLLOUT, ec)) {
        if (ec == beast::error::timeout) return;
        continue;
      }
      int error = 0;
      socklen_t length = sizeof error;
      if (::getsockopt(socket_.native_handle(), SOL_SOCKET, SO_ERROR, &error, &length) != 0)
        error = errno;
      if (error == 0) {
        ec = {};
        return;
      }
      ec = beast::error_code(error, boost::system::system_category());
    }
    beast::error_code ignored;
    socket_.close(ignored);
  }

  // Beast's synchronous stream concepts want each operation with and without an error_code.
  template <class MutableBuffers>
  size_t read_some(const MutableBuffers& buffers, beast::error_code& ec) {
    return until_done(POLLIN, ec, [&] { return socket_.read_some(buffers, ec); });
  }
  template <class MutableBuffers>
  size_t read_some(const MutableBuffers& buffers) {
    return or_throw([&](beast::error_code& ec) { return read_some(buffers, ec); });
  }
  template <class ConstBuffers>
  size_t write_some(const ConstBuffers& buffers, beast::error_code& ec) {
    return until_done(POLLOUT, ec, [&] { return socket_.write_some(buffers, ec); });
  }
  template <class ConstBuffers>
  size_t write_some(const ConstBuffers& buffers) {
    return or_throw([&](beast::error_code& ec) { return write_some(buffers, ec); });
  }

  // Waits until the socket is readable: the answer to a request just written, which a read
  // would not find yet.
  bool wait_readable(beast::error_code& ec) { return wait(POLLIN, ec); }

 private:
  // Repeats a non-blocking step (which sets ec) until it did not find the socket busy, waiting
  // for `events` in between.
  template <class Step>
  size_t until_done(short events, beast::error_code& ec, Step step) {
    for (;;) {
      const size_t n = step();
      if (ec != net::error::would_block && ec != net::error::try_again) return n;
      if (!wait(events, ec)) return 0;
    }
  }
  template <class Step>
  static size_t or_throw(Step step) {
    beast::error_code ec;
    const size_t n = step(ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

  // Waits for `events` until the deadline; false with ec set when it passed or poll failed.
  // Readiness includes errors and hang-ups, which the next read or write then reports.
  bool wait(short events, beast::error_code& ec) {
    for (;;) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline_ - Clock::now());
      if (left.count() <= 0) {
        ec = beast::error::timeout;
        return false;
      }
      pollfd watched{socket_.native_handle(), events, 0};
      const int ready =
          ::poll(&watched, 1, static_cast<int>(std::min<int64_t>(left.count(), INT_MAX)));
      if (ready > 0) return true;
      if (ready < 0 && errno != EINTR) {
        ec = beast::error_code(errno, boost::system::system_category());
        return false;
      }
    }
  }

  tcp::socket socket_;
  Clock::time_point deadline_ = Clock::now();
};

struct HttpConnection::Impl {
  using RequestMessage = http::request<http::span_body<const char>>;
  using TlsStream = ssl::stream<DeadlineSocket>;

  HttpOrigin origin;
  HttpConnectionOptions options;
  // Declared before the streams, which refer to them, so that it outlives them. Nothing runs
  // on it: the sockets need it to exist.
  net::io_context io{1};
  std::optional<ssl::context> tls_context;  // made on the first https connection
  std::optional<DeadlineSocket> plain;
  std::optional<TlsStream> tls;
  static constexpr size_t kReadChunk = 16384;
  beast::flat_buffer buffer;

  Impl(HttpOrigin o, HttpConnectionOptions opts) : origin(std::move(o)), options(std::move(opts)) {}

  bool connected() const { return plain.has_value() || tls.has_value(); }
  DeadlineSocket& socket() { return tls ? tls->next_layer() : *plain; }

  void close() {
    if (connected()) {
      beast::error_code ignored;
      // No TLS close_notify: the server does not need one to end the session, and it would be
      // one more round trip under the caller's deadline.
      socket().lowest_layer().close(ignored);
    }
    tls.reset();
    plain.reset();
    buffer.clear();
  }

  std::string url_of(std::string_view path) const {
    return std::string(origin.https ? "https://" : "http://") + origin.host_header +
           origin.path_prefix + std::string(path);
  }

  // What failed, with the certificate check's reason when the TLS handshake refused the peer.
  std::string describe(beast::error_code ec, std::chrono::milliseconds timeout) {
    if (ec == beast::error::timeout)
      return "timed out after " + std::to_string(timeout.count()) + " ms";
    std::string text = ec.message();
    if (tls) {
      const long verify = SSL_get_verify_result(tls->native_handle());
      if (verify != X509_V_OK)
        text += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
    }
    return text;
  }

  Status make_tls_context() {
    if (tls_context) return {};
    ssl::context context(ssl::context::tls_client);
    if (SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_2_VERSION) != 1)
      return make_error(Errc::io, "tls: cannot require TLS 1.2");
    context.set_verify_mode(ssl::verify_peer);
    beast::error_code ec;
    if (options.ca_file)
      context.load_verify_file(*options.ca_file, ec);
    else
      context.set_default_verify_paths(ec);
    if (ec)
      return make_error(Errc::io, "ca_file " + options.ca_file.value_or("(system default)") + ": " +
                                      ec.message());
    tls_context.emplace(std::move(context));
    return {};
  }

  // A new connection: resolve, connect, TLS handshake with the peer's certificate checked
  // against the URL's host. Errors are the detail after "METHOD URL: ".
  Status open(Clock::time_point request_deadline) {
    close();
    const Clock::time_point deadline =
        std::min(Clock::now() + options.connect_timeout, request_deadline);
    const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::min(options.connect_timeout, options.total_timeout));
    ACON_TRY(std::vector<tcp::endpoint> endpoints, resolve(origin.host, origin.port, deadline));
    if (origin.https) {
      ACON_CHECK(make_tls_context());
      tls.emplace(io, *tls_context);
      SSL* session = tls->native_handle();
      X509_VERIFY_PARAM* checks = SSL_get0_param(session);
      beast::error_code not_ip;
      net::ip::make_address(origin.host, not_ip);
      if (!not_ip) {
        if (X509_VERIFY_PARAM_set1_ip_asc(checks, origin.host.c_str()) != 1)
          return make_error(Errc::io, "tls: cannot check for address " + origin.host);
      } else {
        // SNI carries names only (RFC 6066 section 3).
        X509_VERIFY_PARAM_set_hostflags(checks, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (SSL_set1_host(session, origin.host.c_str()) != 1 ||
            SSL_set_tlsext_host_name(session, origin.host.c_str()) != 1)
          return make_error(Errc::io, "tls: cannot check for host name " + origin.host);
      }
    } else {
      plain.emplace(io);
    }
    // Beast reads at most the buffer's free capacity (at least 512 bytes), and a string body
    // is moved out of the buffer as it arrives, so the buffer never grows on its own: without
    // this an 11 KB token was 22 reads.
    buffer.reserve(kReadChunk);
    socket().set_deadline(deadline);
    beast::error_code ec;
    socket().connect(endpoints, ec);
    if (ec) {
      std::string detail = "connect: " + describe(ec, timeout);
      close();
      return make_error(Errc::io, std::move(detail));
    }
    // Requests are written in two pieces (head, body) and answered at once: no Nagle delay.
    socket().lowest_layer().set_option(tcp::no_delay(true), ec);
    if (tls) {
      tls->handshake(ssl::stream_base::client, ec);
      if (ec) {
        std::string detail = "tls handshake: " + describe(ec, timeout);
        close();
        return make_error(Errc::io, std::move(detail));
      }
    }
    return {};
  }

  struct Exchange {
    beast::error_code ec;
    bool answer_started = false;  // a byte of the response arrived
    HttpResponse response;
    bool keep_alive = false;
  };

  template <class Stream>
  Exchange exchange(Stream& stream, const RequestMessage& message, Clock::time_point deadline) {
    Exchange out;
    socket().set_deadline(deadline);
    http::write(stream, message, out.ec);
    if (out.ec) return out;
    // The answer cannot have come yet: wait for it rather than first find nothing to read. (A
    // TLS stream holds nothing either: the server sends nothing between answers.)
    if (buffer.size() == 0 && !socket().wait_readable(out.ec)) return out;
    for (;;) {
      http::response_parser<http::string_body> parser;
      parser.header_limit(static_cast<uint32_t>(options.max_header_bytes));
      parser.body_limit(static_cast<uint64_t>(options.max_response_bytes));
      // The head first: Beast 1.74's eager parse (read) lets a Content-Length beyond body_limit
      // through when body bytes arrive with the head (a response parser; a request parser
      // refuses it), so that one is checked here.
      http::read_header(stream, buffer, parser, out.ec);
      out.answer_started = out.answer_started || parser.got_some() || buffer.size() > 0;
      if (out.ec) return out;
      if (parser.content_length() && *parser.content_length() > options.max_response_bytes) {
        out.ec = http::error::body_limit;
        return out;
      }
      http::read(stream, buffer, parser, out.ec);
      if (out.ec) return out;
      const unsigned status = parser.get().result_int();
      // 100 Continue, 103 Early Hints: the final answer follows on the same connection.
      if (status >= 100 && status < 200 && status != 101) continue;
      out.keep_alive = parser.keep_alive();
      http::response<http::string_body> answer = parser.release();
      out.response.status = static_cast<long>(status);
      for (const auto& field : answer)
        out.response.headers.emplace_back(
            ascii_lower(std::string_view(field.name_string().data(), field.name_string().size())),
            std::string(field.value().data(), field.value().size()));
      out.response.body = std::move(answer.body());
      return out;
    }
  }

  Result<HttpResponse> perform(const HttpRequestView& request) {
    const Clock::time_point deadline = Clock::now() + options.total_timeout;
    const std::string what = std::string(request.method) + " " + std::string(request.path);
    auto failed = [&](const std::string& detail) {
      return make_error(Errc::io,
                        std::string(request.method) + " " + url_of(request.path) + ": " + detail);
    };

    RequestMessage message;
    message.version(11);
    message.method_string(beast::string_view(request.method.data(), request.method.size()));
    const std::string target = origin.path_prefix + std::string(request.path);
    message.target(target);
    message.set(http::field::host, origin.host_header);
    message.set(http::field::user_agent, "acon-kbs-client");
    message.set(http::field::accept, "application/json");
    if (request.body) {
      if (!header_value_ok(request.content_type))
        return make_error(Errc::invalid_argument, what + ": Content-Type: CR, LF or NUL");
      message.set(http::field::content_type,
                  beast::string_view(request.content_type.data(), request.content_type.size()));
      message.body() = beast::span<const char>(request.body->data(), request.body->size());
      message.content_length(request.body->size());
    }
    if (!request.bearer.empty()) {
      if (!header_value_ok(request.bearer))
        return make_error(Errc::invalid_argument, what + ": Bearer token: CR, LF or NUL");
      std::string authorization;
      authorization.reserve(7 + request.bearer.size());
      authorization.append("Bearer ").append(request.bearer);
      message.set(http::field::authorization, authorization);
    }
    if (!request.cookie.empty()) {
      if (!header_value_ok(request.cookie))
        return make_error(Errc::invalid_argument, what + ": Cookie: CR, LF or NUL");
      message.set(http::field::cookie,
                  beast::string_view(request.cookie.data(), request.cookie.size()));
    }

    try {
      for (int attempt = 1;; ++attempt) {
        const bool reused = connected();
        if (!reused) {
          auto opened = open(deadline);
          if (!opened) return failed(opened.error().message);
        }
        Exchange result =
            tls ? exchange(*tls, message, deadline) : exchange(*plain, message, deadline);
        if (!result.ec) {
          if (!result.keep_alive) close();
          return std::move(result.response);
        }
        const std::string detail = describe(result.ec, options.total_timeout);
        close();
        if (result.ec == http::error::body_limit)
          return make_error(Errc::io, what + ": response larger than " +
                                          std::to_string(options.max_response_bytes) + " bytes");
        if (result.ec == http::error::header_limit)
          return make_error(Errc::io, what + ": headers too large");
        // The server may close an idle keep-alive connection at any time: a request that met
        // that (nothing answered yet) is sent once more on a new connection, as libcurl does.
        const bool peer_closed_idle =
            reused && !result.answer_started && result.ec != beast::error::timeout;
        if (attempt == 1 && peer_closed_idle && Clock::now() < deadline) continue;
        return failed(detail);
      }
    } catch (const std::exception& e) {
      // Asio throws only on resource exhaustion (allocation, thread or descriptor limits).
      close();
      return failed(e.what());
    }
  }
};

HttpConnection::HttpConnection(HttpOrigin origin, HttpConnectionOptions options)
    : impl_(std::make_unique<Impl>(std::move(origin), std::move(options))) {}
HttpConnection::HttpConnection(HttpConnection&&) noexcept = default;
HttpConnection& HttpConnection::operator=(HttpConnection&&) noexcept = default;
HttpConnection::~HttpConnection() = default;

Result<HttpResponse> HttpConnection::perform(const HttpRequestView& request) {
  return impl_->perform(request);
}

}  // namespace acon::kbs
