#include "acon/kbs/server.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <exception>
#include <thread>

#include "acon/kbs/protocol.h"

namespace acon::kbs {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

std::string_view header(const http::request<http::string_body>& req, http::field field) {
  auto it = req.find(field);
  if (it == req.end()) return {};
  return {it->value().data(), it->value().size()};
}

std::string_view header(const http::request<http::string_body>& req, std::string_view name) {
  auto it = req.find(beast::string_view(name.data(), name.size()));
  if (it == req.end()) return {};
  return {it->value().data(), it->value().size()};
}

http::response<http::string_body> to_beast(HttpResponse&& response, unsigned version,
                                           bool keep_alive) {
  http::response<http::string_body> res{static_cast<http::status>(response.status), version};
  res.set(http::field::server, "acon-kbs");
  if (!response.content_type.empty()) res.set(http::field::content_type, response.content_type);
  for (auto& [name, value] : response.headers) res.insert(name, value);
  res.body() = std::move(response.body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

HttpResponse parse_failure(const beast::error_code& ec) {
  if (ec == http::error::body_limit)
    return {413,
            "application/json",
            error_information(ErrorType::payload_too_large, "request body too large"),
            {}};
  if (ec == http::error::header_limit)
    return {431,
            "application/json",
            error_information(ErrorType::bad_request, "request header fields too large"),
            {}};
  return {
      400, "application/json", error_information(ErrorType::bad_request, "malformed request"), {}};
}

// One connection: read a request, answer it, repeat while the client keeps the connection.
template <class Stream>
class Connection : public std::enable_shared_from_this<Connection<Stream>> {
 public:
  Connection(Stream stream, Kbs& kbs, const ServerOptions& options, std::string peer)
      : stream_(std::move(stream)), kbs_(kbs), options_(options), peer_(std::move(peer)) {
    // Beast reads at most the buffer's free capacity (at least 512 bytes), and a string body
    // is moved out of the buffer as it arrives, so the buffer never grows: without this a 9 KB
    // /attest was 18 reads, each a recvmsg, an epoll wake-up and a timer update.
    buffer_.reserve(kReadChunk);
  }

  void start() {
    if constexpr (std::is_same_v<Stream, beast::ssl_stream<beast::tcp_stream>>) {
      beast::get_lowest_layer(stream_).expires_after(options_.read_timeout);
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (!ec) self->read();
                              });
    } else {
      read();
    }
  }

 private:
  void read() {
    parser_.emplace();
    parser_->body_limit(options_.max_body_bytes);
    parser_->header_limit(static_cast<uint32_t>(options_.max_header_bytes));
    beast::get_lowest_layer(stream_).expires_after(options_.read_timeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
        ec == asio::error::eof)
      return close();
    if (ec) {
      // A request we cannot read to the end: answer once, then read and drop what the client
      // still sends before closing, so that closing with unread data (a TCP reset) does not
      // destroy the answer before the client reads it.
      draining_ = true;
      write(to_beast(parse_failure(ec), 11, false), false);
      return;
    }
    const auto& req = parser_->get();
    const bool keep = req.keep_alive();
    const unsigned version = req.version();
    // The answer may come after on_read returned (its audit record commits with others'): the
    // connection reads nothing more until it is written, and stays alive in the callbacks.
    auto respond = [self = this->shared_from_this(), version, keep](HttpResponse response) {
      self->write(to_beast(std::move(response), version, keep), keep);
    };
    auto run_later = [executor = stream_.get_executor()](std::function<void()> work) {
      asio::post(executor, std::move(work));
    };
    HttpRequest request;
    request.method = {req.method_string().data(), req.method_string().size()};
    request.target = {req.target().data(), req.target().size()};
    request.body = req.body();
    request.cookie = header(req, http::field::cookie);
    request.authorization = header(req, http::field::authorization);
    request.forwarded_for = header(req, "X-Forwarded-For");
    request.peer = peer_;
    // Answers every request, its own exceptions included; one that escapes (out of memory)
    // reaches the worker's loop and drops this connection.
    kbs_.handle_async(request, Now::current(), std::move(run_later), std::move(respond));
  }

  void write(http::response<http::string_body> res, bool keep_alive) {
    response_ = std::move(res);
    beast::get_lowest_layer(stream_).expires_after(options_.read_timeout);
    http::async_write(stream_, response_,
                      [self = this->shared_from_this(), keep_alive](beast::error_code ec, size_t) {
                        if (!ec && self->draining_) return self->drain();
                        if (ec || !keep_alive) return self->close();
                        self->read();
                      });
  }

  // Discards input for at most kDrainTime or kDrainBytes, then closes.
  static constexpr auto kDrainTime = std::chrono::seconds(2);
  static constexpr size_t kDrainBytes = size_t{64} << 20;
  void drain() {
    if (drained_ == 0) beast::get_lowest_layer(stream_).expires_after(kDrainTime);
    buffer_.clear();  // what the request left unread is dropped too; bytes read are not committed
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                              self->drained_ += n;
                              if (ec || self->drained_ >= kDrainBytes) return self->close();
                              self->drain();
                            });
  }

  void close() {
    beast::error_code ignored;
    if constexpr (std::is_same_v<Stream, beast::ssl_stream<beast::tcp_stream>>) {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(2));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {
        beast::error_code ignore;
        beast::get_lowest_layer(self->stream_)
            .socket()
            .shutdown(tcp::socket::shutdown_both, ignore);
      });
    } else {
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    }
  }

  Stream stream_;
  Kbs& kbs_;
  const ServerOptions& options_;
  std::string peer_;
  static constexpr size_t kReadChunk = 16384;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool draining_ = false;
  size_t drained_ = 0;
  http::response<http::string_body> response_;
};

Result<tcp::endpoint> parse_endpoint(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return make_error(Errc::invalid_argument, "listen \"" + text + "\": expected host:port");
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  unsigned long port = 0;
  try {
    size_t used = 0;
    port = std::stoul(text.substr(colon + 1), &used);
    if (used != text.size() - colon - 1 || port > 65535) throw std::out_of_range("port");
  } catch (const std::exception&) {
    return make_error(Errc::invalid_argument, "listen \"" + text + "\": bad port");
  }
  beast::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec)
    return make_error(Errc::invalid_argument,
                      "listen \"" + text + "\": not an IP address (" + ec.message() + ")");
  return tcp::endpoint(address, static_cast<uint16_t>(port));
}

}  // namespace

struct Server::Impl {
  Kbs& kbs;
  ServerOptions options;
  asio::io_context io;
  std::optional<asio::ssl::context> tls;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::vector<uint16_t> ports;
  std::vector<std::thread> threads;
  bool stopped = false;

  Impl(Kbs& k, ServerOptions o) : kbs(k), options(std::move(o)) {}

  void accept(tcp::acceptor& acceptor) {
    acceptor.async_accept(
        asio::make_strand(io), [this, &acceptor](beast::error_code ec, tcp::socket socket) {
          if (ec == asio::error::operation_aborted) return;
          if (!ec) {
            beast::error_code peer_ec;
            auto remote = socket.remote_endpoint(peer_ec);
            std::string peer = peer_ec ? std::string() : remote.address().to_string();
            socket.set_option(tcp::no_delay(true), peer_ec);
            if (tls) {
              std::make_shared<Connection<beast::ssl_stream<beast::tcp_stream>>>(
                  beast::ssl_stream<beast::tcp_stream>(beast::tcp_stream(std::move(socket)), *tls),
                  kbs, options, std::move(peer))
                  ->start();
            } else {
              std::make_shared<Connection<beast::tcp_stream>>(beast::tcp_stream(std::move(socket)),
                                                              kbs, options, std::move(peer))
                  ->start();
            }
          }
          accept(acceptor);
        });
  }
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() { stop(); }

const std::vector<uint16_t>& Server::ports() const { return impl_->ports; }

Result<std::unique_ptr<Server>> Server::start(Kbs& kbs, const ServerOptions& options) {
  auto impl = std::make_unique<Impl>(kbs, options);
  try {
    if (!options.insecure_http) {
      if (options.certificate.empty() || options.private_key.empty())
        return make_error(Errc::invalid_argument,
                          "server: TLS needs certificate and private_key (or insecure_http)");
      impl->tls.emplace(asio::ssl::context::tls_server);
      auto& ctx = *impl->tls;
      ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                      asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                      asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
      beast::error_code ec;
      ctx.use_certificate_chain_file(options.certificate, ec);
      if (ec)
        return make_error(Errc::io,
                          "server: certificate " + options.certificate + ": " + ec.message());
      ctx.use_private_key_file(options.private_key, asio::ssl::context::pem, ec);
      if (ec)
        return make_error(Errc::io,
                          "server: private_key " + options.private_key + ": " + ec.message());
    }
    for (const std::string& listen : options.listen) {
      ACON_TRY(tcp::endpoint endpoint, parse_endpoint(listen));
      auto acceptor = std::make_unique<tcp::acceptor>(impl->io);
      beast::error_code ec;
      acceptor->open(endpoint.protocol(), ec);
      if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
      if (!ec) acceptor->bind(endpoint, ec);
      if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
      if (ec) return make_error(Errc::io, "server: listen " + listen + ": " + ec.message());
      impl->ports.push_back(acceptor->local_endpoint().port());
      impl->acceptors.push_back(std::move(acceptor));
    }
  } catch (const std::exception& e) {
    return make_error(Errc::io, std::string("server: ") + e.what());
  }
  for (auto& acceptor : impl->acceptors) impl->accept(*acceptor);
  unsigned threads =
      options.threads ? options.threads : std::max(1u, std::thread::hardware_concurrency());
  Impl* raw = impl.get();
  for (unsigned i = 0; i < threads; ++i)
    impl->threads.emplace_back([raw] {
      for (;;) {
        try {
          raw->io.run();
          return;
        } catch (...) {
          // A handler that threw: keep serving the others.
        }
      }
    });
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

void Server::stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  asio::post(impl_->io, [impl = impl_.get()] {
    for (auto& acceptor : impl->acceptors) {
      beast::error_code ignored;
      acceptor->close(ignored);
    }
  });
  impl_->io.stop();
  for (auto& thread : impl_->threads)
    if (thread.joinable()) thread.join();
  // Audit commits scheduled on the stopped workers will not run: commit what waits (its answers
  // go to connections that close with the io_context).
  impl_->kbs.flush_audit();
}

}  // namespace acon::kbs
