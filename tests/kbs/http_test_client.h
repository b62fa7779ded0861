// A minimal synchronous HTTP/1.1 client for tests of the KBS server (Boost.Beast), plain or TLS:
// it can also send what a proper client never would (oversized bodies and heads, garbage).
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace acon::kbs::testing {

struct Reply {
  int status = 0;  // 0: no response (connection closed or failed)
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string header(std::string_view name) const {
    for (auto& [n, v] : headers)
      if (boost::beast::iequals(n, boost::beast::string_view(name.data(), name.size()))) return v;
    return {};
  }
};

class HttpTestClient {
 public:
  // TLS when `ca_file` is given (the server certificate must chain to it and name 127.0.0.1).
  HttpTestClient(uint16_t port, std::string ca_file = {})
      : port_(port), ca_file_(std::move(ca_file)) {}

  Reply request(std::string_view method, std::string_view target, std::string_view body = "",
                std::vector<std::pair<std::string, std::string>> headers = {}) {
    namespace http = boost::beast::http;
    try {
      connect();
      http::request<http::string_body> req{
          http::string_to_verb(boost::beast::string_view(method.data(), method.size())),
          boost::beast::string_view(target.data(), target.size()), 11};
      req.set(http::field::host, "127.0.0.1");
      for (auto& [n, v] : headers) req.set(boost::beast::string_view(n.data(), n.size()), v);
      req.body() = std::string(body);
      req.prepare_payload();
      req.keep_alive(true);
      write(req);
      return read();
    } catch (const std::exception&) {
      reset();
      return {};
    }
  }

  // Sends bytes as they are on a fresh connection and reads one response.
  Reply raw(std::string_view bytes) {
    try {
      reset();
      connect();
      if (tls_)
        boost::asio::write(*tls_, boost::asio::buffer(bytes));
      else
        boost::asio::write(plain_->socket(), boost::asio::buffer(bytes));
      return read();
    } catch (const std::exception&) {
      reset();
      return {};
    }
  }

  int connections_opened() const { return connections_; }
  void reset() {
    tls_.reset();
    plain_.reset();
    buffer_.clear();
  }

 private:
  void connect() {
    if (tls_ || plain_) return;
    boost::asio::ip::tcp::endpoint endpoint(boost::asio::ip::make_address("127.0.0.1"), port_);
    ++connections_;
    if (ca_file_.empty()) {
      plain_.emplace(io_);
      plain_->connect(endpoint);
      return;
    }
    ssl_.emplace(boost::asio::ssl::context::tls_client);
    ssl_->load_verify_file(ca_file_);
    ssl_->set_verify_mode(boost::asio::ssl::verify_peer);
    tls_.emplace(io_, *ssl_);
    tls_->set_verify_callback(boost::asio::ssl::host_name_verification("127.0.0.1"));
    boost::beast::get_lowest_layer(*tls_).connect(endpoint);
    tls_->handshake(boost::asio::ssl::stream_base::client);
  }
  template <class Req>
  void write(Req& req) {
    if (tls_)
      boost::beast::http::write(*tls_, req);
    else
      boost::beast::http::write(*plain_, req);
  }
  Reply read() {
    namespace http = boost::beast::http;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    if (tls_)
      http::read(*tls_, buffer_, parser);
    else
      http::read(*plain_, buffer_, parser);
    auto res = parser.release();
    Reply reply;
    reply.status = static_cast<int>(res.result_int());
    reply.body = res.body();
    for (auto& field : res)
      reply.headers.emplace_back(
          std::string(field.name_string().data(), field.name_string().size()),
          std::string(field.value().data(), field.value().size()));
    if (!res.keep_alive()) reset();
    return reply;
  }

  uint16_t port_;
  std::string ca_file_;
  boost::asio::io_context io_;
  std::optional<boost::asio::ssl::context> ssl_;
  std::optional<boost::beast::ssl_stream<boost::beast::tcp_stream>> tls_;
  std::optional<boost::beast::tcp_stream> plain_;
  boost::beast::flat_buffer buffer_;
  int connections_ = 0;
};

}  // namespace acon::kbs::testing
