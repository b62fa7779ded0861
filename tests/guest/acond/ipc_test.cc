// The in-container IPC messages against ACON's byte layout (written out by hand here from the
// layout of acond/src/ipc.rs at ACON 3430805), and the server over a real Unix socket.
#include "acon/acond/ipc.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "acon/common/bytes.h"
#include "acond_fixtures.h"

namespace acon::acond::ipc {
namespace {

using test_fixtures::TempDir;

Bytes hex(std::string_view text) { return *hex_decode(text); }

// The quote sample's GetReport: quote, nonce {1, 2}, string data "hi", no NUL, size 40 + 2.
constexpr std::string_view kSampleGetReport =
    "00000000"          // command 0
    "2a000000"          // size 42
    "01000000"          // request_type 1 (quote)
    "00000000"          // padding
    "0100000000000000"  // nonce[0]
    "0200000000000000"  // nonce[1]
    "02000000"          // attest_data_type 2 (string)
    "00000000"          // padding
    "6869";             // "hi"

TEST(IpcMessages, ParsesAconsGetReportLayout) {
  auto request = parse_request(hex(kSampleGetReport));
  ASSERT_TRUE(request) << request.error().to_string();
  const auto& get = std::get<GetReportRequest>(*request);
  EXPECT_EQ(get.request_type, 1u);
  EXPECT_EQ(get.nonce[0], 1u);
  EXPECT_EQ(get.nonce[1], 2u);
  // nonce[0] is the high half, the reverse of the gRPC request.
  EXPECT_EQ(get.nonce_hi(), 1u);
  EXPECT_EQ(get.nonce_lo(), 2u);
  EXPECT_EQ(get.attestation, (AttestationData{2, "hi"}));
  EXPECT_EQ(encode_get_report_request(get), hex(kSampleGetReport));
}

TEST(IpcMessages, DataEndsAtTheFirstNul) {
  Bytes message = hex(kSampleGetReport);
  message.insert(message.end(), {0, 'x', 'y'});
  message[4] = static_cast<uint8_t>(message.size());
  auto request = parse_request(message);
  ASSERT_TRUE(request) << request.error().to_string();
  EXPECT_EQ(std::get<GetReportRequest>(*request).attestation.data, "hi");
}

TEST(IpcMessages, ParsesSetAttestationData) {
  Bytes message =
      hex("02000000"
          "0f000000"
          "01000000"
          "616263");
  auto request = parse_request(message);
  ASSERT_TRUE(request) << request.error().to_string();
  EXPECT_EQ(std::get<SetAttestationDataRequest>(*request).attestation, (AttestationData{1, "abc"}));
  EXPECT_EQ(encode_set_attestation_data_request(std::get<SetAttestationDataRequest>(*request)),
            message);
}

TEST(IpcMessages, RefusesWhatAconCrashesOn) {
  struct Case {
    std::string name;
    Bytes message;
    Errc code;
    std::string needle;
  };
  Bytes short_get =
      hex("00000000"
          "10000000"
          "0000000000000000");
  Bytes wrong_size = hex(kSampleGetReport);
  wrong_size[4] = 41;
  Bytes bad_type = hex(kSampleGetReport);
  bad_type[32] = 7;
  Bytes not_utf8 = hex(kSampleGetReport);
  not_utf8[40] = 0xff;
  std::vector<Case> cases = {
      {"empty", {}, Errc::parse, "8-byte header"},
      {"half header", hex("000000"), Errc::parse, "8-byte header"},
      {"GetReport shorter than 40", short_get, Errc::parse, "at least 40"},
      {"SetAttestationData shorter than 12",
       hex("02000000"
           "0a000000"
           "0100"),
       Errc::parse, "at least 12"},
      {"size field disagrees", wrong_size, Errc::parse, "offset 4"},
      {"unknown data type", bad_type, Errc::parse, "offset 32"},
      {"data not UTF-8", not_utf8, Errc::parse, "UTF-8"},
      {"unknown command",
       hex("05000000"
           "08000000"),
       Errc::unsupported, "command 5"},
      {"a reply sent as a request", encode_set_attestation_data_reply(), Errc::unsupported, ""},
  };
  for (const auto& c : cases) {
    auto request = parse_request(c.message);
    ASSERT_FALSE(request) << c.name;
    EXPECT_EQ(request.error().code, c.code) << c.name;
    EXPECT_NE(request.error().message.find(c.needle), std::string::npos)
        << c.name << ": " << request.error().message;
  }
  Bytes too_large(kMaxMessageSize + 1, 0);
  too_large[1] = 0;
  EXPECT_FALSE(parse_request(too_large));
}

TEST(IpcMessages, GetReportReplyLayout) {
  GetReportReply reply{{"a", "bc"}, "{}", {0xde, 0xad}};
  // Offsets 20 / 20+3+2+3 = 28 / 30; three empty RTMR0..2 logs, then "a\0bc\0", "{}", the data.
  EXPECT_EQ(encode_get_report_reply(reply), hex("01000000"
                                                "20000000"
                                                "14000000"
                                                "1c000000"
                                                "1e000000"
                                                "000000"
                                                "6100"
                                                "626300"
                                                "7b7d"
                                                "dead"));
  auto parsed = parse_reply(encode_get_report_reply(reply));
  ASSERT_TRUE(parsed) << parsed.error().to_string();
  const auto& back = std::get<GetReportReply>(*parsed);
  EXPECT_EQ(back.rtmr3_log, reply.rtmr3_log);
  EXPECT_EQ(back.attestation_json, reply.attestation_json);
  EXPECT_EQ(back.data, reply.data);
}

TEST(IpcMessages, ErrorAndEmptyReplies) {
  Bytes expected =
      hex("ffffffff"
          "20000000"
          "02000000");
  append(expected, as_bytes("Invalid Container ID"));
  EXPECT_EQ(encode_error_reply(2, "Invalid Container ID"), expected);
  EXPECT_EQ(encode_set_attestation_data_reply(), hex("03000000"
                                                     "08000000"));
  auto error = parse_reply(encode_error_reply(0, kInvalidStructure));
  ASSERT_TRUE(error);
  EXPECT_EQ(std::get<ErrorReply>(*error).message, kInvalidStructure);
}

// acon's GetSecret (command 4): the path is the rest of the message; the reply (5) the plaintext.
TEST(IpcMessages, GetSecretLayout) {
  const Bytes message =
      hex("04000000"
          "11000000"
          "612f622f632d312e30");  // 8 + 9 bytes: "a/b/c-1.0"
  auto request = parse_request(message);
  ASSERT_TRUE(request) << request.error().to_string();
  EXPECT_EQ(std::get<GetSecretRequest>(*request).resource_path, "a/b/c-1.0");
  EXPECT_EQ(encode_get_secret_request({"a/b/c-1.0"}), message);

  const Bytes secret = {0x00, 0xff, 's', 0x00};  // any bytes, NULs included
  SecretBytes reply = encode_get_secret_reply(secret);
  EXPECT_EQ(Bytes(reply.begin(), reply.end()), hex("05000000"
                                                   "0c000000"
                                                   "00ff7300"));
  auto parsed = parse_reply(Bytes(reply.begin(), reply.end()));
  ASSERT_TRUE(parsed) << parsed.error().to_string();
  const auto& back = std::get<GetSecretReply>(*parsed).secret;
  EXPECT_EQ(Bytes(back.begin(), back.end()), secret);
}

TEST(IpcMessages, GetSecretRefusesBadPathsNamingTheOffset) {
  auto request_for = [](std::string_view path) {
    Bytes message =
        hex("04000000"
            "00000000");
    append(message, as_bytes(path));
    message[4] = static_cast<uint8_t>(message.size());
    message[5] = static_cast<uint8_t>(message.size() >> 8);
    return message;
  };
  struct Case {
    std::string path;
    std::string needle;
  };
  const std::string long_component(kMaxPathComponent + 1, 'x');
  const std::vector<Case> cases = {
      {"", "offset 8: resource path is empty"},
      {"a/b", "offset 8: resource path has 2 components"},
      {"a//c", "offset 10: resource path component 2 is empty"},
      {"a/b/", "offset 12: resource path component 3 is empty"},
      {"a/b/c/d", "offset 13: resource path has more than 3 components"},
      {"../b/c", "offset 8: resource path: byte 46"},
      {"a/.b/c", "offset 10: resource path: byte 46"},
      {"a/b/c d", "offset 13: resource path: byte 32"},
      {std::string("a/b/c\0", 6), "offset 13: resource path: byte 0"},
      {"a/b/%2e", "offset 12: resource path: byte 37"},
      {"a/" + long_component + "/c", "offset 10: resource path component 2 is longer than 128"},
      {long_component + "/" + long_component + "/" + long_component,
       "offset 8: resource path of 389 bytes exceeds 386"},
  };
  for (const auto& c : cases) {
    auto request = parse_request(request_for(c.path));
    ASSERT_FALSE(request) << c.path;
    EXPECT_EQ(request.error().code, Errc::parse) << c.path;
    EXPECT_NE(request.error().message.find(c.needle), std::string::npos)
        << c.path << ": " << request.error().message;
  }
  // The limits themselves pass.
  const std::string longest(kMaxPathComponent, 'x');
  EXPECT_TRUE(parse_request(request_for(longest + "/" + longest + "/" + longest)));
  EXPECT_TRUE(parse_request(request_for("_/-/x.y")));
}

// The server: peer credentials reach the handler; malformed requests get error replies and never
// reach it; the server keeps answering afterwards.
TEST(IpcServer, AnswersOneRequestPerConnection) {
  TempDir dir;
  std::atomic<int> handled{0};
  std::atomic<uid_t> seen_uid{static_cast<uid_t>(-1)};
  std::vector<std::string> log;
  std::mutex log_mutex;
  auto server = Server::start(
      dir.path() / "acon.sock",
      [&](uid_t uid, const Request& request) -> HandlerResult {
        ++handled;
        seen_uid = uid;
        if (std::holds_alternative<SetAttestationDataRequest>(request)) {
          return encode_set_attestation_data_reply();
        }
        return HandlerError{std::string(kInvalidContainerId)};
      },
      [&](const std::string& line) {
        std::lock_guard lock(log_mutex);
        log.push_back(line);
      },
      500);
  ASSERT_TRUE(server) << server.error().to_string();
  const auto path = (*server)->path();

  auto set = call(path, encode_set_attestation_data_request({{2, "secret-free"}}));
  ASSERT_TRUE(set) << set.error().to_string();
  EXPECT_TRUE(std::holds_alternative<std::monostate>(*set));
  EXPECT_EQ(seen_uid.load(), ::getuid());

  auto refused = call(path, hex(kSampleGetReport));
  ASSERT_TRUE(refused) << refused.error().to_string();
  EXPECT_EQ(std::get<ErrorReply>(*refused).message, kInvalidContainerId);
  EXPECT_EQ(std::get<ErrorReply>(*refused).request_command, kGetReport);
  EXPECT_EQ(handled.load(), 2);

  auto unknown = call(path, hex("05000000"
                                "08000000"));
  ASSERT_TRUE(unknown);
  EXPECT_EQ(std::get<ErrorReply>(*unknown).message, kNotSupported);
  EXPECT_EQ(std::get<ErrorReply>(*unknown).request_command, 5);

  auto short_get = call(path, hex("00000000"
                                  "10000000"
                                  "0000000000000000"));
  ASSERT_TRUE(short_get);
  EXPECT_EQ(std::get<ErrorReply>(*short_get).message, kInvalidStructure);

  // A size beyond the bound is refused from the header, before the body is awaited.
  auto huge = call(path, hex("00000000"
                             "ffffffff"));
  ASSERT_TRUE(huge);
  EXPECT_EQ(std::get<ErrorReply>(*huge).message, kInvalidStructure);
  EXPECT_EQ(handled.load(), 2);

  // A caller that connects and stalls is dropped after the read timeout; the next is answered.
  {
    UniqueFd stalled(::socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    ASSERT_EQ(::connect(stalled.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    ASSERT_EQ(::send(stalled.get(), "\0\0", 2, 0), 2);
    auto next = call(path, encode_set_attestation_data_request({{0, ""}}));
    ASSERT_TRUE(next) << next.error().to_string();
    EXPECT_TRUE(std::holds_alternative<std::monostate>(*next));
  }
  EXPECT_EQ(handled.load(), 3);
  server->reset();
  EXPECT_FALSE(std::filesystem::exists(path));
  std::lock_guard lock(log_mutex);
  for (const auto& line : log) EXPECT_EQ(line.find("secret-free"), std::string::npos) << line;
}

// GetSecret waits on a KBS: its handler runs on a worker, so other requests are answered
// meanwhile; at most kMaxSecretWorkers wait at once, the next caller is told so at once.
TEST(IpcServer, SecretRequestsDoNotHoldUpOthers) {
  TempDir dir;
  std::mutex mutex;
  std::condition_variable changed;
  size_t waiting = 0;
  bool release = false;
  std::vector<std::string> log;
  auto server = Server::start(
      dir.path() / "acon.sock",
      [&](uid_t, const Request& request) -> HandlerResult {
        if (std::holds_alternative<SetAttestationDataRequest>(request)) {
          return encode_set_attestation_data_reply();
        }
        std::unique_lock lock(mutex);
        ++waiting;
        changed.notify_all();
        changed.wait(lock, [&] { return release; });
        const auto& path = std::get<GetSecretRequest>(request).resource_path;
        return encode_get_secret_reply(as_bytes("plaintext of " + path));
      },
      [&](const std::string& line) {
        std::lock_guard lock(mutex);
        log.push_back(line);
      },
      500);
  ASSERT_TRUE(server) << server.error().to_string();
  const auto path = (*server)->path();

  std::vector<std::thread> callers;
  std::vector<Result<Reply>> replies(kMaxSecretWorkers, make_error(Errc::io, "not called"));
  for (size_t i = 0; i < kMaxSecretWorkers; ++i) {
    callers.emplace_back([&, i] {
      replies[i] = call(path, encode_get_secret_request({"r/t/" + std::to_string(i)}));
    });
  }
  {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return waiting == kMaxSecretWorkers; });
  }
  // Every worker is waiting on its "KBS": other requests are still answered ...
  auto set = call(path, encode_set_attestation_data_request({{2, "x"}}));
  ASSERT_TRUE(set) << set.error().to_string();
  EXPECT_TRUE(std::holds_alternative<std::monostate>(*set));
  // ... and one secret request more is refused at once.
  auto busy = call(path, encode_get_secret_request({"r/t/busy"}));
  ASSERT_TRUE(busy) << busy.error().to_string();
  EXPECT_EQ(std::get<ErrorReply>(*busy).message, kSecretBusy);
  EXPECT_EQ(std::get<ErrorReply>(*busy).request_command, kGetSecret);

  {
    std::lock_guard lock(mutex);
    release = true;
  }
  changed.notify_all();
  for (auto& caller : callers) caller.join();
  for (size_t i = 0; i < kMaxSecretWorkers; ++i) {
    ASSERT_TRUE(replies[i]) << replies[i].error().to_string();
    const auto& secret = std::get<GetSecretReply>(*replies[i]).secret;
    EXPECT_EQ(std::string(secret.begin(), secret.end()), "plaintext of r/t/" + std::to_string(i));
  }
  server->reset();
  for (const auto& line : log) EXPECT_EQ(line.find("plaintext"), std::string::npos) << line;
}

}  // namespace
}  // namespace acon::acond::ipc
