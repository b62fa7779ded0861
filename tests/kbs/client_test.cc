// The KBS client library: the report-data binding, the wire bodies, Set-Cookie parsing, the TEE
// key's JWE decryption and admin tokens; its HTTP transport against a scripted server (exact
// request head, reconnect after the server closed a kept-alive connection, no resend once an
// answer began, body and header bounds, a server that never answers, IPv6); then its flows
// against the real acon-kbs process over TLS, attesting a simulated TD: RCAR and GET by cookie
// and by Bearer, 404 without retry, re-attestation after a 401, the admin calls, and a TLS peer
// whose certificate does not name the URL's host.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <thread>

#include "acon/common/hash.h"
#include "acon/common/jose.h"
#include "acon/common/kbs_binding.h"
#include "acon/guest/sim/sim.h"
#include "acon/kbs/client.h"
#include "http_connection.h"
#include "kbs_fixture.h"
#include "kbs_process.h"

namespace acon::kbs {
namespace {

using testing::KbsServerProcess;
using testing::slurp_file;

// RFC 7517 appendix A.1's example P-256 public key, as a tee-pubkey.
const Json kExampleEcJwk = {{"kty", "EC"},
                            {"crv", "P-256"},
                            {"alg", "ECDH-ES+A256KW"},
                            {"x", "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"},
                            {"y", "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}};
constexpr std::string_view kExampleNonce = "VGhpcyBpcyBhIHRlc3Qgbm9uY2UgZm9yIGticzAxMjM0NQ==";

TEST(KbsBinding, TrusteeJcsVector) {
  // Trustee's attestation-service test vector for JCS + SHA-384.
  auto jcs = jcs_canonicalize(Json::parse(R"({"c":{"d":"e"},"b":1,"a":"test"})"));
  ASSERT_TRUE(jcs) << jcs.error().to_string();
  EXPECT_EQ(*jcs, R"({"a":"test","b":1,"c":{"d":"e"}})");
  EXPECT_EQ(hex_encode(sha384(as_bytes(*jcs))),
            "e71ce8e70d814ba6639c3612ebee0ff1f76f650f8dbb5e47157e0f3f525cd22c4597480a186427c813ca"
            "941da78870c3");
}

TEST(KbsBinding, EcKeyExample) {
  auto jcs = kbs_runtime_data_jcs(kExampleNonce, kExampleEcJwk, "");
  ASSERT_TRUE(jcs) << jcs.error().to_string();
  EXPECT_EQ(
      *jcs,
      R"({"additional-evidence":"","nonce":"VGhpcyBpcyBhIHRlc3Qgbm9uY2UgZm9yIGticzAxMjM0NQ==",)"
      R"("tee-pubkey":{"alg":"ECDH-ES+A256KW","crv":"P-256","kty":"EC",)"
      R"("x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",)"
      R"("y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}})");
  auto report_data = kbs_report_data(kExampleNonce, kExampleEcJwk, "");
  ASSERT_TRUE(report_data) << report_data.error().to_string();
  ASSERT_EQ(report_data->size(), 64u);
  // SHA-384 of the text above (computed independently with Python's hashlib), then 16 zeros.
  EXPECT_EQ(hex_encode(*report_data),
            "fc15156de30acbfadd2d158fadf1dac12b071eb85a5525d8e3e29d3e15f5c04944d5f735579579d59a1e"
            "3676c2738a6a" +
                std::string(32, '0'));
}

TEST(KbsBinding, ExtraJwkMembersAreDroppedAndMissingOnesNamed) {
  Json with_extra = kExampleEcJwk;
  with_extra["kid"] = "1";
  with_extra["use"] = "enc";
  EXPECT_EQ(*kbs_report_data(kExampleNonce, with_extra, ""),
            *kbs_report_data(kExampleNonce, kExampleEcJwk, ""));
  // Additional evidence changes the digest.
  EXPECT_NE(*kbs_report_data(kExampleNonce, kExampleEcJwk, "{}"),
            *kbs_report_data(kExampleNonce, kExampleEcJwk, ""));
  Json without_alg = kExampleEcJwk;
  without_alg.erase("alg");
  auto missing = kbs_runtime_data_jcs(kExampleNonce, without_alg, "");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("tee-pubkey"), std::string::npos);
  EXPECT_NE(missing.error().message.find("alg"), std::string::npos);
  auto okp = kbs_runtime_data_jcs(kExampleNonce, Json{{"kty", "OKP"}}, "");
  ASSERT_FALSE(okp);
  EXPECT_EQ(okp.error().code, Errc::unsupported);
  EXPECT_FALSE(kbs_report_data(kExampleNonce, kExampleEcJwk, "", 32));
  EXPECT_EQ(kbs_report_data(kExampleNonce, kExampleEcJwk, "", 48)->size(), 48u);
}

TEST(KbsWire, AuthRequestAndChallenge) {
  Json request = auth_request_json("tdx");
  EXPECT_EQ(request["version"], "0.4.0");
  EXPECT_EQ(request["tee"], "tdx");
  EXPECT_TRUE(request["extra-params"].is_object());

  auto nonce = challenge_nonce(R"({"nonce":"abc=","extra-params":""})");
  ASSERT_TRUE(nonce) << nonce.error().to_string();
  EXPECT_EQ(*nonce, "abc=");
  EXPECT_FALSE(challenge_nonce(R"({"extra-params":""})"));
  EXPECT_FALSE(challenge_nonce("not json"));
  auto sha512 =
      challenge_nonce(R"({"nonce":"a","extra-params":{"selected-hash-algorithm":"sha512"}})");
  ASSERT_FALSE(sha512);
  EXPECT_EQ(sha512.error().code, Errc::unsupported);
}

TEST(KbsWire, AttestationShape) {
  const Json evidence = {{"cc_eventlog", nullptr}, {"quote", "AAEC"}};
  Json body = attestation_json("n0", kExampleEcJwk, evidence, "", std::nullopt);
  ASSERT_TRUE(body.is_object());
  EXPECT_EQ(body.size(), 3u);
  EXPECT_TRUE(body["init-data"].is_null());
  EXPECT_EQ(body["runtime-data"], (Json{{"nonce", "n0"}, {"tee-pubkey", kExampleEcJwk}}));
  EXPECT_EQ(body["tee-evidence"],
            (Json{{"primary_evidence", evidence}, {"additional_evidence", ""}}));

  Json with_init = attestation_json("n0", kExampleEcJwk, evidence, "", "version = \"0.1.0\"\n");
  EXPECT_EQ(with_init["init-data"], (Json{{"format", "toml"}, {"body", "version = \"0.1.0\"\n"}}));
}

TEST(KbsWire, SetCookie) {
  EXPECT_EQ(set_cookie_value("kbs-session-id=0123abcd; Expires=Wed, 02 Dec 2026 17:00:00 GMT",
                             "kbs-session-id"),
            "0123abcd");
  EXPECT_EQ(set_cookie_value(" kbs-session-id = v ", "kbs-session-id"), "v");
  EXPECT_EQ(set_cookie_value("kbs-session-id=\"quoted\"; Path=/", "kbs-session-id"), "quoted");
  EXPECT_EQ(set_cookie_value("kbs-session-id=", "kbs-session-id"), "");
  EXPECT_FALSE(set_cookie_value("other=1; kbs-session-id=2", "kbs-session-id"));
  EXPECT_FALSE(set_cookie_value("kbs-session-idx=1", "kbs-session-id"));
  EXPECT_FALSE(set_cookie_value("no-equals-sign", "kbs-session-id"));
}

struct KeyCase {
  TeeKeyType type;
  jose::JweAlg alg;
  const char* kty;
};

class TeeKeyTest : public ::testing::TestWithParam<KeyCase> {};

TEST_P(TeeKeyTest, PublicJwkAndJweRoundTrip) {
  const KeyCase& c = GetParam();
  auto key = TeeKey::generate(c.type);
  ASSERT_TRUE(key) << key.error().to_string();
  EXPECT_EQ(key->alg(), c.alg);
  const Json& jwk = key->public_jwk();
  EXPECT_EQ(jwk["kty"], c.kty);
  EXPECT_EQ(jwk["alg"], jose::jwe_alg_name(c.alg));
  EXPECT_FALSE(jwk.contains("d"));
  // What the KBS re-serialises is exactly what the client sends: nothing dropped.
  auto object = kbs_runtime_data_object("n", jwk, "");
  ASSERT_TRUE(object);
  EXPECT_EQ((*object)["tee-pubkey"], jwk);

  auto recipient = PublicKey::from_jwk(jwk);
  ASSERT_TRUE(recipient);
  const std::string secret = "the resource \x00\x01 bytes";
  auto jwe = jose::jwe_encrypt(*recipient, c.alg, jose::JweEnc::A256GCM, as_bytes(secret));
  ASSERT_TRUE(jwe) << jwe.error().to_string();
  auto plain = key->decrypt(*jwe);
  ASSERT_TRUE(plain) << plain.error().to_string();
  EXPECT_EQ(std::string(plain->begin(), plain->end()), secret);

  // Another key of the same type cannot open it.
  auto other = TeeKey::generate(c.type);
  ASSERT_TRUE(other);
  auto refused = other->decrypt(*jwe);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::verify_failed);

  // A flipped tag byte is refused.
  Json tampered = *jwe;
  auto tag = b64url_decode(tampered["tag"].get<std::string>());
  ASSERT_TRUE(tag);
  (*tag)[0] ^= 1;
  tampered["tag"] = b64url(*tag);
  EXPECT_FALSE(key->decrypt(tampered));
}

INSTANTIATE_TEST_SUITE_P(
    Types, TeeKeyTest,
    ::testing::Values(KeyCase{TeeKeyType::ec_p256, jose::JweAlg::ECDH_ES_A256KW, "EC"},
                      KeyCase{TeeKeyType::ec_p521, jose::JweAlg::ECDH_ES_A256KW, "EC"},
                      KeyCase{TeeKeyType::rsa_oaep_256, jose::JweAlg::RSA_OAEP_256, "RSA"},
                      KeyCase{TeeKeyType::rsa1_5, jose::JweAlg::RSA1_5, "RSA"}));

TEST(TeeKey, DefaultIsP256AndAlgMismatchIsRefused) {
  auto key = TeeKey::generate();
  ASSERT_TRUE(key);
  EXPECT_EQ(key->public_jwk()["crv"], "P-256");
  EXPECT_EQ(key->public_jwk()["alg"], "ECDH-ES+A256KW");
  // A JWE whose header names another algorithm than the key's is refused before any unwrap.
  auto rsa = TeeKey::generate(TeeKeyType::rsa_oaep_256);
  ASSERT_TRUE(rsa);
  auto recipient = PublicKey::from_jwk(rsa->public_jwk());
  ASSERT_TRUE(recipient);
  auto jwe = jose::jwe_encrypt(*recipient, jose::JweAlg::RSA1_5, jose::JweEnc::A256GCM,
                               as_bytes(std::string_view("x")));
  ASSERT_TRUE(jwe);
  auto refused = rsa->decrypt(*jwe);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("RSA1_5"), std::string::npos);

  // Keys that do not fit the algorithm.
  auto p384 = PrivateKey::generate_ec(Curve::p384);
  ASSERT_TRUE(p384);
  EXPECT_FALSE(TeeKey::from_private_key(*p384, jose::JweAlg::ECDH_ES_A256KW));
  auto p256 = PrivateKey::generate_ec(Curve::p256);
  ASSERT_TRUE(p256);
  EXPECT_FALSE(TeeKey::from_private_key(*p256, jose::JweAlg::RSA_OAEP_256));
  EXPECT_TRUE(TeeKey::from_private_key(*p256, jose::JweAlg::ECDH_ES_A256KW));

  EXPECT_EQ(tee_key_type_from_name("ec-p521"), TeeKeyType::ec_p521);
  EXPECT_FALSE(tee_key_type_from_name("ec-p384"));
}

TEST(AdminToken, VerifiesWithTheAdminKey) {
  for (bool ed25519 : {true, false}) {
    auto key = ed25519 ? PrivateKey::generate_ed25519() : PrivateKey::generate_ec(Curve::p256);
    ASSERT_TRUE(key);
    AdminTokenClaims claims;
    claims.role = "operator";
    claims.subject = "alice";
    claims.validity = std::chrono::seconds(600);
    claims.audience = "kbs-1";
    auto token = make_admin_token(*key, claims, 1'800'000'000);
    ASSERT_TRUE(token) << token.error().to_string();
    auto verified = jose::jws_verify(*token, key->public_key());
    ASSERT_TRUE(verified) << verified.error().to_string();
    EXPECT_EQ(verified->alg, ed25519 ? jose::JwsAlg::EdDSA : jose::JwsAlg::ES256);
    EXPECT_EQ(verified->header["typ"], "JWT");
    auto payload = parse_json(as_chars(verified->payload));
    ASSERT_TRUE(payload);
    EXPECT_EQ(*payload, (Json{{"sub", "alice"},
                              {"role", "operator"},
                              {"iat", 1'800'000'000},
                              {"exp", 1'800'000'600},
                              {"aud", "kbs-1"}}));
    auto other = PrivateKey::generate_ed25519();
    ASSERT_TRUE(other);
    EXPECT_FALSE(jose::jws_verify(*token, other->public_key()));
  }
  auto rsa = PrivateKey::generate_rsa(2048);
  ASSERT_TRUE(rsa);
  EXPECT_FALSE(make_admin_token(*rsa, AdminTokenClaims{}, 0));
}

TEST(KbsClientConfig, SchemeAndInsecureHttp) {
  auto key = TeeKey::generate();
  ASSERT_TRUE(key);
  auto make = [&](std::string url, bool insecure) {
    ClientConfig config;
    config.url = std::move(url);
    config.insecure_http = insecure;
    return KbsClient::create(std::move(config), *key).ok();
  };
  EXPECT_TRUE(make("https://kbs.example:8080", false));
  EXPECT_FALSE(make("https://kbs.example:8080", true));
  EXPECT_FALSE(make("http://127.0.0.1:8080", false));
  EXPECT_TRUE(make("http://127.0.0.1:8080", true));
  EXPECT_FALSE(make("ftp://kbs.example", false));
  EXPECT_FALSE(make("kbs.example", false));
}

TEST(KbsClientConfig, RefusesBadPathsBeforeConnecting) {
  auto key = TeeKey::generate();
  ASSERT_TRUE(key);
  ClientConfig config;
  config.url = "http://127.0.0.1:9";  // nothing is sent: the path is checked first
  config.insecure_http = true;
  auto client = KbsClient::create(std::move(config), *key);
  ASSERT_TRUE(client);
  for (std::string_view path : {"a/b", "a/b/c/d", "a/../c", "a/b/c?x=1", "a/b/c d", ""}) {
    auto got = client->get_resource_with_token(path, "t");
    ASSERT_FALSE(got) << path;
    EXPECT_EQ(got.error().code, Errc::invalid_argument) << path;
  }
  // No admin token set: refused without a request.
  auto set = client->set_resource("a/b/c", as_bytes(std::string_view("x")));
  ASSERT_FALSE(set);
  EXPECT_EQ(set.error().code, Errc::invalid_argument);
  // Nothing listens on port 9: a transport error, not a refusal.
  auto get = client->get_resource_with_token("a/b/c", "t");
  ASSERT_FALSE(get);
  EXPECT_EQ(get.error().code, Errc::io);
  EXPECT_FALSE(client->last_failure());
}

// ---- the transport, against a scripted server ----

// An HTTP/1.1 server on one thread, for what acon-kbs never does: it answers the n-th request
// with script[n] (raw bytes), closes the connection after a reply when told to, or never
// answers. Plain, or TLS with the given certificate chain and key. It records every request
// head and counts connections; it stops after the last reply or when destroyed.
class ScriptedServer {
 public:
  struct Reply {
    std::string bytes;
    bool close_after = false;
    bool never_answer = false;  // hold the connection open without a byte until destroyed
  };
  struct Tls {
    std::string chain_file;
    std::string key_file;
  };

  ScriptedServer(std::vector<Reply> script, std::string address = "127.0.0.1",
                 std::optional<Tls> tls = std::nullopt)
      : script_(std::move(script)), acceptor_(io_) {
    namespace net = boost::asio;
    boost::system::error_code ec;
    const net::ip::tcp::endpoint endpoint(net::ip::make_address(address), 0);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) return;  // port() stays 0
    port_ = acceptor_.local_endpoint().port();
    if (tls) {
      tls_.emplace(net::ssl::context::tls_server);
      tls_->use_certificate_chain_file(tls->chain_file);
      tls_->use_private_key_file(tls->key_file, net::ssl::context::pem);
    }
    thread_ = std::thread([this] { serve(); });
  }
  ~ScriptedServer() {
    {
      const std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    released_.notify_all();
    // Wakes a blocking accept() or read() on this thread (Linux: shutdown ends both).
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    if (const int fd = connection_fd_.load(); fd >= 0) ::shutdown(fd, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
  }

  uint16_t port() const { return port_; }
  int connections() const { return connections_; }
  std::vector<std::string> requests() const {
    const std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void serve() {
    namespace net = boost::asio;
    size_t next = 0;
    while (next < script_.size()) {
      net::ip::tcp::socket socket(io_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec || stopped()) return;
      ++connections_;
      connection_fd_ = socket.native_handle();
      if (tls_) {
        net::ssl::stream<net::ip::tcp::socket&> stream(socket, *tls_);
        stream.handshake(net::ssl::stream_base::server, ec);
        if (!ec) next = converse(stream, next);
      } else {
        next = converse(socket, next);
      }
      connection_fd_ = -1;
      if (stopped()) return;
    }
  }

  // Serves requests on one connection; returns the index of the next reply.
  template <class Stream>
  size_t converse(Stream& stream, size_t next) {
    namespace net = boost::asio;
    net::streambuf input;
    while (next < script_.size()) {
      boost::system::error_code ec;
      // The client's requests here have no body: the head is the request.
      const size_t head = net::read_until(stream, input, "\r\n\r\n", ec);
      if (ec) return next;  // the client closed this connection
      {
        const std::lock_guard lock(mutex_);
        requests_.emplace_back(net::buffers_begin(input.data()),
                               net::buffers_begin(input.data()) + static_cast<ptrdiff_t>(head));
      }
      input.consume(head);
      const Reply& reply = script_[next++];
      if (reply.never_answer) {
        std::unique_lock lock(mutex_);
        released_.wait(lock, [&] { return stopping_; });
        return next;
      }
      net::write(stream, net::buffer(reply.bytes), ec);
      if (ec || reply.close_after) return next;
    }
    return next;
  }

  bool stopped() const {
    const std::lock_guard lock(mutex_);
    return stopping_;
  }

  std::vector<Reply> script_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::optional<boost::asio::ssl::context> tls_;
  uint16_t port_ = 0;
  std::atomic<int> connections_{0};
  std::atomic<int> connection_fd_{-1};
  mutable std::mutex mutex_;
  std::condition_variable released_;
  bool stopping_ = false;
  std::vector<std::string> requests_;
  std::thread thread_;
};

// A complete answer: status and ErrorInformation body, kept alive unless the server says.
std::string http_reply(int status, std::string_view body, std::string_view extra_headers = "") {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: application/json\r\n" +
         std::string(extra_headers) + "Content-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + std::string(body);
}

const std::string kNotFoundBody =
    R"({"type":"https://github.com/confidential-containers/kbs/errors/ResourceNotFound",)"
    R"("detail":"none"})";

KbsClient plain_client(const std::string& url, ClientConfig config = {}) {
  config.url = url;
  config.insecure_http = true;
  auto client = KbsClient::create(std::move(config), *TeeKey::generate());
  EXPECT_TRUE(client) << client.error().to_string();
  return std::move(*client);
}

TEST(KbsTransport, BaseUrls) {
  auto ipv6 = parse_base_url("https://[::1]:8443/pre/fix/");
  ASSERT_TRUE(ipv6) << ipv6.error().to_string();
  EXPECT_TRUE(ipv6->https);
  EXPECT_EQ(ipv6->host, "::1");
  EXPECT_EQ(ipv6->host_header, "[::1]:8443");
  EXPECT_EQ(ipv6->port, 8443);
  EXPECT_EQ(ipv6->path_prefix, "/pre/fix");
  auto defaults = parse_base_url("HTTPS://KBS.example");
  ASSERT_TRUE(defaults) << defaults.error().to_string();
  EXPECT_EQ(defaults->port, 443);
  EXPECT_EQ(defaults->host_header, "kbs.example");  // the default port is not named
  EXPECT_EQ(defaults->path_prefix, "");
  auto plain = parse_base_url("http://127.0.0.1:80/");
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->https);
  EXPECT_EQ(plain->host_header, "127.0.0.1");
  for (std::string_view bad :
       {"https://kbs.example/?x=1", "https://kbs.example/#f", "https://user@kbs.example",
        "https://kbs.example:99999", "https://", "ftp://kbs.example", "kbs.example"}) {
    auto refused = parse_base_url(bad);
    EXPECT_FALSE(refused) << bad;
    if (!refused) {
      EXPECT_EQ(refused.error().code, Errc::invalid_argument) << bad;
    }
  }
}

TEST(KbsTransport, SendsExactlyTheHeadersOfARequest) {
  ScriptedServer server({{http_reply(404, kNotFoundBody)}});
  ASSERT_NE(server.port(), 0);
  const std::string authority = "127.0.0.1:" + std::to_string(server.port());
  KbsClient client = plain_client("http://" + authority + "/prefix/");
  auto got = client.get_resource_with_token("default/key/1", "a.b.c");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, Errc::not_found) << got.error().to_string();
  ASSERT_TRUE(client.last_failure());
  EXPECT_EQ(client.last_failure()->type, "ResourceNotFound");
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0],
            "GET /prefix/kbs/v0/resource/default/key/1 HTTP/1.1\r\n"
            "Host: " +
                authority +
                "\r\n"
                "User-Agent: acon-kbs-client\r\n"
                "Accept: application/json\r\n"
                "Authorization: Bearer a.b.c\r\n\r\n");
}

TEST(KbsTransport, ReconnectsWhenTheServerClosedTheKeptConnection) {
  // The server closes after each answer without saying so (no "Connection: close"): the next
  // request meets a closed connection, and is sent again on a new one, once.
  ScriptedServer server({{http_reply(404, kNotFoundBody), true},
                         {http_reply(404, kNotFoundBody), true},
                         {http_reply(404, kNotFoundBody), true}});
  ASSERT_NE(server.port(), 0);
  KbsClient client = plain_client("http://127.0.0.1:" + std::to_string(server.port()));
  for (int i = 0; i < 3; ++i) {
    auto got = client.get_resource_with_token("default/key/1", "t");
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().code, Errc::not_found) << i << ": " << got.error().to_string();
  }
  EXPECT_EQ(server.requests().size(), 3u);
  EXPECT_EQ(server.connections(), 3);
}

TEST(KbsTransport, KeepsOneConnectionAndNeverResendsAfterAnAnswerBegan) {
  // Answer one, then half an answer and a close: the second request fails, it is not resent.
  ScriptedServer server({{http_reply(404, kNotFoundBody)},
                         {"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"partial\":", true},
                         {http_reply(404, kNotFoundBody)}});
  ASSERT_NE(server.port(), 0);
  KbsClient client = plain_client("http://127.0.0.1:" + std::to_string(server.port()));
  auto first = client.get_resource_with_token("default/key/1", "t");
  ASSERT_FALSE(first);
  EXPECT_EQ(first.error().code, Errc::not_found) << first.error().to_string();
  auto second = client.get_resource_with_token("default/key/1", "t");
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, Errc::io) << second.error().to_string();
  EXPECT_FALSE(client.last_failure());
  EXPECT_EQ(server.requests().size(), 2u);
  EXPECT_EQ(server.connections(), 1);
  // The next request opens a new connection and gets the third answer.
  auto third = client.get_resource_with_token("default/key/1", "t");
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error().code, Errc::not_found) << third.error().to_string();
  EXPECT_EQ(server.connections(), 2);
}

TEST(KbsTransport, BodyAndHeadersAreBounded) {
  ClientConfig small;
  small.max_response_bytes = 1000;
  {
    ScriptedServer server({{http_reply(404, std::string(1001, 'x'))}});
    ASSERT_NE(server.port(), 0);
    KbsClient client = plain_client("http://127.0.0.1:" + std::to_string(server.port()), small);
    auto got = client.get_resource_with_token("default/key/1", "t");
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().code, Errc::io);
    EXPECT_NE(got.error().message.find("response larger than 1000 bytes"), std::string::npos)
        << got.error().message;
  }
  {
    // Chunked: no length to refuse up front, the parser counts.
    std::string chunked = "HTTP/1.1 404 X\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 3; ++i) chunked += "1f4\r\n" + std::string(500, 'x') + "\r\n";
    chunked += "0\r\n\r\n";
    ScriptedServer server({{chunked}});
    ASSERT_NE(server.port(), 0);
    KbsClient client = plain_client("http://127.0.0.1:" + std::to_string(server.port()), small);
    auto got = client.get_resource_with_token("default/key/1", "t");
    ASSERT_FALSE(got);
    EXPECT_NE(got.error().message.find("response larger than 1000 bytes"), std::string::npos)
        << got.error().message;
  }
  {
    const std::string big_header = "X-Padding: " + std::string(70 * 1024, 'p') + "\r\n";
    ScriptedServer server({{http_reply(404, kNotFoundBody, big_header)}});
    ASSERT_NE(server.port(), 0);
    KbsClient client = plain_client("http://127.0.0.1:" + std::to_string(server.port()));
    auto got = client.get_resource_with_token("default/key/1", "t");
    ASSERT_FALSE(got);
    EXPECT_NE(got.error().message.find("headers too large"), std::string::npos)
        << got.error().message;
  }
}

TEST(KbsTransport, AServerThatNeverAnswersFailsTheRequest) {
  ScriptedServer server({{"", false, true}});
  ASSERT_NE(server.port(), 0);
  ClientConfig quick;
  quick.total_timeout = std::chrono::milliseconds(300);
  KbsClient client = plain_client("http://127.0.0.1:" + std::to_string(server.port()), quick);
  auto got = client.get_resource_with_token("default/key/1", "t");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, Errc::io);
  EXPECT_NE(got.error().message.find("timed out"), std::string::npos) << got.error().message;
  // A timeout is not resent. The server thread records the request once it has read it, which
  // a loaded machine may delay past the client's 300 ms.
  for (int i = 0; i < 250 && server.requests().empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(KbsTransport, Ipv6LiteralAndHeaderInjection) {
  ScriptedServer server({{http_reply(404, kNotFoundBody)}}, "::1");
  if (server.port() == 0) GTEST_SKIP() << "no IPv6 loopback here";
  const std::string authority = "[::1]:" + std::to_string(server.port());
  KbsClient client = plain_client("http://" + authority);
  // A token that would end the header is refused before anything is sent.
  auto injected = client.get_resource_with_token("default/key/1", "t\r\nX-Evil: 1");
  ASSERT_FALSE(injected);
  EXPECT_EQ(injected.error().code, Errc::invalid_argument);
  auto got = client.get_resource_with_token("default/key/1", "t");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, Errc::not_found) << got.error().to_string();
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_NE(requests[0].find("\r\nHost: " + authority + "\r\n"), std::string::npos) << requests[0];
}

// ---- against the real acon-kbs ----

// A simulated TD (collateral issued yesterday: the process reads the real clock), a KBS
// directory from `acon-kbs init` that trusts its root, and the server process over TLS.
// Tokens live 10 s without leeway, so that a test can outlive one. Shorter, the other tests'
// GETs (new TLS connections, audit exports) could outlive theirs under the sanitizers on a
// loaded machine and re-attest where they count quotes.
class KbsClientFlow : public ::testing::Test {
 protected:
  static constexpr int kTokenSeconds = 10;

  static void SetUpTestSuite() {
    dir_ = new kbs::testing::TempDir();
    guest::sim::CreateOptions create;
    create.seed = sha256(as_bytes(std::string_view("kbs_client_flow")));
    create.dates = guest::sim::default_dates(
        std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()) -
        std::chrono::hours(24));
    sim_ = new guest::sim::Simulator(*guest::sim::Simulator::create(create));
    const std::filesystem::path root = dir_->path() / "sim-root.pem";
    const std::filesystem::path collateral = dir_->path() / "collateral.json";
    std::ofstream(root) << sim_->root_ca().to_pem();
    std::ofstream(collateral) << sim_->collateral_bundle();
    kbs_dir_ = dir_->path() / "kbs";
    const std::string init = std::string(ACON_KBS_BINARY) + " init '" + kbs_dir_.string() +
                             "' --listen 127.0.0.1:0 --simulated-root '" + root.string() +
                             "' --collateral '" + collateral.string() + "' > /dev/null";
    ASSERT_EQ(std::system(init.c_str()), 0);
    const std::filesystem::path config = kbs_dir_ / "config.toml";
    std::string text = slurp_file(config);
    const std::string validity = "token_validity_seconds = 300\n";
    const size_t at = text.find(validity);
    ASSERT_NE(at, std::string::npos) << text;
    text.replace(at, validity.size(),
                 "token_validity_seconds = " + std::to_string(kTokenSeconds) +
                     "\ntoken_leeway_seconds = 0\n");
    std::ofstream(config) << text;
    server_ = new KbsServerProcess(config);
    ASSERT_FALSE(server_->url().empty()) << "acon-kbs did not start";

    auto admin = admin_client();
    ASSERT_TRUE(admin);
    ASSERT_TRUE(admin->set_attestation_policy(kbs::testing::kTestAttestationPolicy));
    ASSERT_TRUE(admin->set_resource_policy(kDenyOneAllowRest));
    ASSERT_TRUE(admin->set_resource("default/key/1", as_bytes(std::string_view("secret-1"))));
    ASSERT_TRUE(admin->set_resource("default/denied/x", as_bytes(std::string_view("never"))));
  }
  static void TearDownTestSuite() {
    delete server_;
    delete sim_;
    delete dir_;
  }

  // Releases everything to affirming (simulated) tokens except default/denied/*.
  static constexpr std::string_view kDenyOneAllowRest = R"(version = 1
id = "default"
[[rules]]
resources = "default/denied/*"
effect = "deny"
[[rules]]
resources = "*/*/*"
effect = "allow"
status = "affirming"
allow_simulated = true
)";

  static ClientConfig config() { return testing::client_config(*server_, kbs_dir_); }
  static Result<KbsClient> admin_client() { return testing::admin_client(*server_, kbs_dir_); }

  // The simulated TD's primary evidence, counting how often it is asked for.
  EvidenceProvider provider() {
    return [this](ByteView report_data) -> Result<Json> {
      ++quotes_;
      guest::ReportData data{};
      if (report_data.size() != data.size())
        return make_error(Errc::invalid_argument, "report data: not 64 bytes");
      std::copy(report_data.begin(), report_data.end(), data.begin());
      ACON_TRY(Bytes quote, sim_->quote(data));
      return Json{{"cc_eventlog", base64_encode(sim_->ccel())}, {"quote", base64_encode(quote)}};
    };
  }

  // GET decisions the KBS audited for `resource`.
  static size_t audited_gets(std::string_view resource) {
    auto admin = admin_client();
    EXPECT_TRUE(admin);
    auto lines = admin->audit_export(1, 10000);
    EXPECT_TRUE(lines) << lines.error().to_string();
    size_t count = 0;
    for (std::string_view line : split(*lines, '\n')) {
      if (line.empty()) continue;
      auto record = parse_json(line);
      EXPECT_TRUE(record);
      const Json& entry = record->contains("entry") ? (*record)["entry"] : *record;
      if (entry.value("resource", "") == resource && entry.value("action", "") != "admin") ++count;
    }
    return count;
  }

  int quotes_ = 0;
  static kbs::testing::TempDir* dir_;
  static guest::sim::Simulator* sim_;
  static std::filesystem::path kbs_dir_;
  static KbsServerProcess* server_;
};

kbs::testing::TempDir* KbsClientFlow::dir_ = nullptr;
guest::sim::Simulator* KbsClientFlow::sim_ = nullptr;
std::filesystem::path KbsClientFlow::kbs_dir_;
KbsServerProcess* KbsClientFlow::server_ = nullptr;

TEST_F(KbsClientFlow, RcarThenResourceByCookieAndByBearer) {
  for (TeeKeyType type : {TeeKeyType::ec_p256, TeeKeyType::ec_p521, TeeKeyType::rsa_oaep_256}) {
    SCOPED_TRACE(std::string(tee_key_type_name(type)));
    auto key = TeeKey::generate(type);
    ASSERT_TRUE(key);
    auto client = KbsClient::create(config(), std::move(*key));
    ASSERT_TRUE(client) << client.error().to_string();
    auto token = client->attest("tdx", provider());
    ASSERT_TRUE(token) << token.error().to_string();
    EXPECT_EQ(client->token(), *token);
    // The EAR verifies with the KBS's token key.
    auto ear_key = PublicKey::from_pem(slurp_file(kbs_dir_ / "keys" / "token-signing.pub.pem"));
    ASSERT_TRUE(ear_key);
    EXPECT_TRUE(jose::jws_verify(*token, *ear_key));

    for (ResourceAuth auth : {ResourceAuth::cookie, ResourceAuth::bearer}) {
      auto secret = client->get_resource("default/key/1", auth);
      ASSERT_TRUE(secret) << secret.error().to_string();
      EXPECT_EQ(std::string(secret->begin(), secret->end()), "secret-1");
    }
    // The token alone, in a client holding the same TEE key.
    auto same_key =
        TeeKey::from_private_key(client->tee_key().private_key(), client->tee_key().alg());
    ASSERT_TRUE(same_key);
    auto other = KbsClient::create(config(), std::move(*same_key));
    ASSERT_TRUE(other);
    auto secret = other->get_resource_with_token("default/key/1", *token);
    ASSERT_TRUE(secret) << secret.error().to_string();
    EXPECT_EQ(std::string(secret->begin(), secret->end()), "secret-1");
  }
  EXPECT_EQ(quotes_, 3);
}

TEST_F(KbsClientFlow, MissingResourceIs404WithoutRetry) {
  auto key = TeeKey::generate();
  ASSERT_TRUE(key);
  auto client = KbsClient::create(config(), std::move(*key));
  ASSERT_TRUE(client);
  auto token = client->attest("tdx", provider());
  ASSERT_TRUE(token) << token.error().to_string();
  const size_t before = audited_gets("default/key/absent");
  auto missing = client->get_resource("default/key/absent", ResourceAuth::bearer);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::not_found);
  ASSERT_TRUE(client->last_failure());
  EXPECT_EQ(client->last_failure()->status, 404);
  EXPECT_EQ(client->last_failure()->type, "ResourceNotFound");
  EXPECT_EQ(quotes_, 1);  // no re-attestation
  EXPECT_EQ(client->token(), *token);
  EXPECT_EQ(audited_gets("default/key/absent"), before + 1);
}

TEST_F(KbsClientFlow, DenialIsRetriedWithFreshAttestationsUpToThreeGets) {
  auto key = TeeKey::generate();
  ASSERT_TRUE(key);
  auto client = KbsClient::create(config(), std::move(*key));
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->attest("tdx", provider()));
  const size_t before = audited_gets("default/denied/x");
  auto denied = client->get_resource("default/denied/x");
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().code, Errc::verify_failed);
  ASSERT_TRUE(client->last_failure());
  EXPECT_EQ(client->last_failure()->status, 401);
  EXPECT_EQ(client->last_failure()->type, "PolicyDeny");
  EXPECT_EQ(quotes_, 3);  // the first RCAR and one before each retry
  EXPECT_EQ(audited_gets("default/denied/x"), before + 3);

  // Without re-attestation: one GET.
  ClientConfig once = config();
  once.reattest_on_unauthorized = false;
  auto key2 = TeeKey::generate();
  ASSERT_TRUE(key2);
  auto single = KbsClient::create(once, std::move(*key2));
  ASSERT_TRUE(single);
  ASSERT_TRUE(single->attest("tdx", provider()));
  EXPECT_FALSE(single->get_resource("default/denied/x"));
  EXPECT_EQ(quotes_, 4);
  EXPECT_EQ(audited_gets("default/denied/x"), before + 4);
}

TEST_F(KbsClientFlow, ExpiredTokenIsRenewedByOneFreshRcar) {
  auto key = TeeKey::generate();
  ASSERT_TRUE(key);
  auto client = KbsClient::create(config(), std::move(*key));
  ASSERT_TRUE(client);
  auto first = client->attest("tdx", provider());
  ASSERT_TRUE(first);
  // Outlive the token (no leeway), so that the GET is refused with 401 and retried.
  std::this_thread::sleep_for(std::chrono::seconds(kTokenSeconds + 1));
  for (ResourceAuth auth : {ResourceAuth::bearer, ResourceAuth::cookie}) {
    auto secret = client->get_resource("default/key/1", auth);
    ASSERT_TRUE(secret) << secret.error().to_string();
    EXPECT_EQ(std::string(secret->begin(), secret->end()), "secret-1");
    if (auth == ResourceAuth::bearer) {
      EXPECT_EQ(quotes_, 2);
      EXPECT_NE(client->token(), *first);
    }
  }
  // The fresh token was still valid for the cookie GET: no third RCAR.
  EXPECT_EQ(quotes_, 2);
}

TEST_F(KbsClientFlow, AdminCalls) {
  auto admin = admin_client();
  ASSERT_TRUE(admin);
  auto ids = admin->list_resource_policies();
  ASSERT_TRUE(ids) << ids.error().to_string();
  EXPECT_NE(std::find(ids->begin(), ids->end(), Json("default")), ids->end()) << ids->dump();
  ASSERT_TRUE(admin->set_resource("default/key/temp", as_bytes(std::string_view("t"))));
  ASSERT_TRUE(admin->delete_resource("default/key/temp"));
  auto again = admin->delete_resource("default/key/temp");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::not_found);
  auto absent = admin->get_reference_value("no_such_value");
  ASSERT_FALSE(absent);
  EXPECT_EQ(admin->last_failure()->type, "RvpsError");
  auto audit = admin->audit_export(1, 5);
  ASSERT_TRUE(audit) << audit.error().to_string();
  EXPECT_FALSE(audit->empty());

  // A token minted with another key, or for a role the ACL does not know, is refused.
  auto stranger = PrivateKey::generate_ed25519();
  ASSERT_TRUE(stranger);
  auto key = TeeKey::generate();
  ASSERT_TRUE(key);
  auto client = KbsClient::create(config(), std::move(*key));
  ASSERT_TRUE(client);
  client->set_admin_token(
      *make_admin_token(*stranger, AdminTokenClaims{},
                        std::chrono::system_clock::to_time_t(std::chrono::system_clock::now())));
  auto refused = client->set_resource("default/key/x", as_bytes(std::string_view("x")));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::verify_failed);
  EXPECT_EQ(client->last_failure()->status, 401);
}

TEST_F(KbsClientFlow, TlsPeerMustBeNamedByItsCertificate) {
  // The KBS's own certificate (localhost, 127.0.0.1) on a scripted server: accepted at
  // 127.0.0.1 and as localhost; refused at 127.0.0.2, which it does not name.
  const ScriptedServer::Tls tls{(kbs_dir_ / "keys" / "tls.pem").string(),
                                (kbs_dir_ / "keys" / "tls.key").string()};
  for (std::string_view host : {"127.0.0.1", "localhost"}) {
    ScriptedServer server({{http_reply(404, kNotFoundBody)}}, "127.0.0.1", tls);
    ASSERT_NE(server.port(), 0);
    ClientConfig named = config();
    named.url = "https://" + std::string(host) + ":" + std::to_string(server.port());
    auto client = KbsClient::create(named, *TeeKey::generate());
    ASSERT_TRUE(client);
    auto got = client->get_resource_with_token("default/key/1", "t");
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().code, Errc::not_found) << host << ": " << got.error().to_string();
  }
  ScriptedServer elsewhere({{http_reply(404, kNotFoundBody)}}, "127.0.0.2", tls);
  ASSERT_NE(elsewhere.port(), 0);
  ClientConfig wrong = config();
  wrong.url = "https://127.0.0.2:" + std::to_string(elsewhere.port());
  auto client = KbsClient::create(wrong, *TeeKey::generate());
  ASSERT_TRUE(client);
  auto refused = client->get_resource_with_token("default/key/1", "t");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::io);
  EXPECT_NE(refused.error().message.find("certificate"), std::string::npos)
      << refused.error().message;
  EXPECT_TRUE(elsewhere.requests().empty());
  // Without the KBS's CA the system store does not know the issuer.
  ScriptedServer unknown_ca({{http_reply(404, kNotFoundBody)}}, "127.0.0.1", tls);
  ClientConfig system_store = config();
  system_store.url = "https://127.0.0.1:" + std::to_string(unknown_ca.port());
  system_store.ca_file.reset();
  auto stranger = KbsClient::create(system_store, *TeeKey::generate());
  ASSERT_TRUE(stranger);
  auto untrusted = stranger->get_resource_with_token("default/key/1", "t");
  ASSERT_FALSE(untrusted);
  EXPECT_NE(untrusted.error().message.find("certificate"), std::string::npos)
      << untrusted.error().message;
  EXPECT_TRUE(unknown_ca.requests().empty());
}
}  // namespace
}  // namespace acon::kbs
