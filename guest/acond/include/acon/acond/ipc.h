// acond's in-container IPC: the messages a container exchanges with acond over the Unix socket
// it sees as /shared/acon.sock, with ACON's byte layout (ACON 3430805, acond/src/ipc.rs and
// sdk/include/acon_client.h), and the server that answers them. One request per connection;
// integers little-endian; C struct layout (docs/acond.md, "In-container IPC").
//
//   header          0: i32 command  4: u32 size (whole message, header included)
//   GetReport (0)   8: u32 request_type  12: pad  16: u64 nonce[0]  24: u64 nonce[1]
//                   32: i32 attestation data type  36: pad  40: data (to the first NUL or the end)
//   reply (1)       8: i32 log offset (20)  12: i32 JSON offset  16: i32 data offset
//                   20: "\0\0\0", each RTMR3 log entry + "\0", the JSON, the TDREPORT or quote
//   SetAttestationData (2)  8: i32 type  12: data (to the first NUL or the end)
//   reply (3)       the header alone
//   error reply     0: i32 -1  4: u32 size  8: i32 the request's command  12: message (no NUL)
//   acon: GetSecret (4)  8: a KBS resource path "repo/type/tag" (the rest of the message, no NUL)
//   acon: reply (5)      8: the resource's plaintext (the rest of the message)
//
// Where ACON crashes or misreads (size < 8 or > 1 MiB, a request shorter than its fixed part,
// an unknown data type, data that is not UTF-8), this parser refuses by value and the server
// answers with an error reply.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

#include "acon/acond/listener.h"
#include "acon/common/bytes.h"
#include "acon/common/result.h"
#include "acon/common/unique_fd.h"

namespace acon::acond::ipc {

inline constexpr int32_t kGetReport = 0;
inline constexpr int32_t kGetReportReply = 1;
inline constexpr int32_t kSetAttestationData = 2;
inline constexpr int32_t kSetAttestationDataReply = 3;
// acon's extension (docs/acond.md, "GetSecret"): the next free command numbers.
inline constexpr int32_t kGetSecret = 4;
inline constexpr int32_t kGetSecretReply = 5;
inline constexpr int32_t kErrorReply = -1;

inline constexpr size_t kHeaderSize = 8;
inline constexpr size_t kGetReportFixedSize = 40;
inline constexpr size_t kSetAttestationDataFixedSize = 12;
// ACON@HEAD's bound (3430805 has none); every message, request or reply, fits in it.
inline constexpr size_t kMaxMessageSize = size_t{1} << 20;
// A resource path component's limit (the KBS's rule), and so the longest path: three of them.
inline constexpr size_t kMaxPathComponent = 128;
inline constexpr size_t kMaxResourcePath = 3 * kMaxPathComponent + 2;

// The error texts ACON answers with.
inline constexpr std::string_view kInvalidStructure = "Invalid structure format";
inline constexpr std::string_view kNotSupported = "Request not supported";
inline constexpr std::string_view kInvalidContainerId = "Invalid Container ID";
// GetSecret's own refusals (acon); a KBS refusal carries the KBS's error type and detail.
inline constexpr std::string_view kKbsNotConfigured = "KBS not configured";
inline constexpr std::string_view kSecretBusy = "Too many secret requests in progress";

// What a container attaches to reports: ACON's type (0 none, 1 binary, 2 string) and text.
struct AttestationData {
  int32_t type = 0;
  std::string data;
  friend bool operator==(const AttestationData&, const AttestationData&) = default;
};

struct GetReportRequest {
  uint32_t request_type = 0;  // 0 TDREPORT, 1 quote
  // As the message carries them. ACON uses nonce[0] as the high half and nonce[1] as the low
  // half, the reverse of the gRPC Report request (docs/acond.md).
  uint64_t nonce[2] = {0, 0};
  AttestationData attestation;  // for this report only
  uint64_t nonce_lo() const { return nonce[1]; }
  uint64_t nonce_hi() const { return nonce[0]; }
};

struct SetAttestationDataRequest {
  AttestationData attestation;  // kept for later reports
};

// acon: a KBS resource for the calling container. The path is three components of
// [A-Za-z0-9_-][A-Za-z0-9_.-]*, each at most 128 bytes: the KBS's resource path rule, checked
// here so that nothing else reaches the URL.
struct GetSecretRequest {
  std::string resource_path;
};

using Request = std::variant<GetReportRequest, SetAttestationDataRequest, GetSecretRequest>;

// A complete request (header included). Errc::unsupported for a command other than 0, 2 or 4 (the
// server answers "Request not supported"); Errc::parse, naming the field and offset, for
// anything else malformed ("Invalid structure format").
Result<Request> parse_request(ByteView message);
// The command field of a message, when it has one (for the error reply).
std::optional<int32_t> command_of(ByteView message);

Bytes encode_get_report_request(const GetReportRequest& request);
Bytes encode_set_attestation_data_request(const SetAttestationDataRequest& request);
Bytes encode_get_secret_request(const GetSecretRequest& request);

struct GetReportReply {
  std::vector<std::string> rtmr3_log;  // entries, as Report's mrlog[3]
  std::string attestation_json;
  Bytes data;  // TDREPORT (1024 bytes) or quote
};
Bytes encode_get_report_reply(const GetReportReply& reply);
Bytes encode_set_attestation_data_reply();
Bytes encode_error_reply(int32_t request_command, std::string_view message);
// The reply holds the plaintext: it is built in, and wiped with, zeroizing memory.
SecretBytes encode_get_secret_reply(ByteView secret);

// A reply as a client reads it: GetReportReply, SetAttestationData's empty reply, or an error
// reply's command and message.
struct ErrorReply {
  int32_t request_command = 0;
  std::string message;
};
struct GetSecretReply {
  SecretBytes secret;
};
using Reply = std::variant<GetReportReply, std::monostate, ErrorReply, GetSecretReply>;
Result<Reply> parse_reply(ByteView message);

// Reads one message from a stream socket: the header, then the rest of `size`, refusing a size
// outside [8, kMaxMessageSize] before reading on. `timeout_ms` bounds each wait for data.
Result<Bytes> read_message(int fd, int timeout_ms);
Status write_all(int fd, ByteView bytes);

// Answers one parsed request from a caller identified by its uid (SO_PEERCRED, as acond sees
// it). An error's message is what the caller receives in the error reply. A reply carrying a
// secret comes as SecretBytes, wiped once it is sent.
struct HandlerError {
  std::string message;
};
using HandlerResult = std::variant<Bytes, HandlerError, SecretBytes>;
using Handler = std::function<HandlerResult(uid_t peer_uid, const Request& request)>;
// Where the server reports what it refused (never the data a container sent).
using ServerLog = std::function<void(const std::string& line)>;

// Listens on a Unix stream socket (mode 0666, so every container uid can connect) and answers
// one request per connection on its own thread, connections one after another: each read is
// bounded by a timeout, so a stalled caller delays the others by at most that long. GetSecret,
// which waits on a KBS, is answered on a worker thread of its own (at most kMaxSecretWorkers at
// once; beyond that the caller gets kSecretBusy), so it holds up no other request.
inline constexpr size_t kMaxSecretWorkers = 4;
class Server {
 public:
  static Result<std::unique_ptr<Server>> start(const std::filesystem::path& socket_path,
                                               Handler handler, ServerLog log,
                                               int read_timeout_ms = 2000);
  ~Server();  // stops the thread and removes the socket file
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  Server(std::filesystem::path path, Handler handler, ServerLog log, int read_timeout_ms);
  void answer(UniqueFd connection);
  // Runs the handler and writes its reply or error reply.
  void respond(int connection, uid_t peer_uid, int32_t command, const Request& request);
  // Joins the workers that have finished; with workers_mutex_ held.
  void reap_workers_locked();

  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };

  std::filesystem::path path_;
  Handler handler_;
  ServerLog log_;
  int read_timeout_ms_;
  std::mutex workers_mutex_;
  std::vector<Worker> workers_;
  std::unique_ptr<AcceptLoop> loop_;  // last: stopped first
};

// Sends one request and reads the reply (for clients inside containers and for tests).
Result<Reply> call(const std::filesystem::path& socket_path, ByteView request,
                   int timeout_ms = 10000);

}  // namespace acon::acond::ipc
