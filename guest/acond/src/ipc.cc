#include "acon/acond/ipc.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "acon/common/reader.h"
#include "acon/common/utf8.h"

namespace acon::acond::ipc {
namespace {

Error structure_error(size_t offset, std::string_view what) {
  return make_error(Errc::parse,
                    "ipc message at offset " + std::to_string(offset) + ": " + std::string(what));
}

void put_i32le(Bytes& out, int32_t v) { put_u32le(out, static_cast<uint32_t>(v)); }

// The data field runs to the first NUL or the end of the message (ACON's reading); it must be
// UTF-8 because it ends up in a JSON string and a proto3 string.
Result<AttestationData> read_attestation(int32_t type, ByteView rest, size_t type_offset,
                                         size_t data_offset) {
  if (type < 0 || type > 2) {
    return structure_error(type_offset, "attestation data type " + std::to_string(type) +
                                            " is not 0 (none), 1 (binary) or 2 (string)");
  }
  size_t length = 0;
  while (length < rest.size() && rest[length] != 0) ++length;
  std::string data(reinterpret_cast<const char*>(rest.data()), length);
  if (!is_valid_utf8(data)) return structure_error(data_offset, "data is not valid UTF-8");
  return AttestationData{type, std::move(data)};
}

bool path_character(uint8_t c, bool first) {
  const bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  return alnum || c == '_' || c == '-' || (!first && c == '.');
}

// "repo/type/tag" as the KBS accepts it (ipc.h); `base` is the path's offset in the message.
Result<std::string> read_resource_path(ByteView bytes, size_t base) {
  if (bytes.empty()) return structure_error(base, "resource path is empty");
  if (bytes.size() > kMaxResourcePath) {
    return structure_error(base, "resource path of " + std::to_string(bytes.size()) +
                                     " bytes exceeds " + std::to_string(kMaxResourcePath));
  }
  size_t components = 1, component_start = 0;
  for (size_t i = 0; i <= bytes.size(); ++i) {
    if (i == bytes.size() || bytes[i] == '/') {
      if (i == component_start) {
        return structure_error(
            base + i, "resource path component " + std::to_string(components) + " is empty");
      }
      if (i - component_start > kMaxPathComponent) {
        return structure_error(base + component_start,
                               "resource path component " + std::to_string(components) +
                                   " is longer than " + std::to_string(kMaxPathComponent) +
                                   " bytes");
      }
      if (i < bytes.size() && ++components > 3) {
        return structure_error(base + i, "resource path has more than 3 components");
      }
      component_start = i + 1;
      continue;
    }
    if (!path_character(bytes[i], i == component_start)) {
      return structure_error(base + i, "resource path: byte " + std::to_string(bytes[i]) +
                                           " is not allowed (A-Z a-z 0-9 _ - and . after the "
                                           "first character of a component)");
    }
  }
  if (components != 3) {
    return structure_error(base, "resource path has " + std::to_string(components) +
                                     " components, expected repo/type/tag");
  }
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// Header, size field and bounds common to requests and replies.
Result<int32_t> read_header(ByteView message, ByteReader& reader) {
  if (message.size() < kHeaderSize) {
    return structure_error(
        0, "a message needs its 8-byte header, got " + std::to_string(message.size()) + " bytes");
  }
  if (message.size() > kMaxMessageSize) {
    return structure_error(4, "message of " + std::to_string(message.size()) +
                                  " bytes exceeds the limit of " + std::to_string(kMaxMessageSize));
  }
  ACON_TRY(uint32_t command, reader.u32("command"));
  ACON_TRY(uint32_t size, reader.u32("size"));
  if (size != message.size()) {
    return structure_error(4, "size field says " + std::to_string(size) +
                                  " bytes, the message has " + std::to_string(message.size()));
  }
  return static_cast<int32_t>(command);
}

Bytes header(int32_t command, size_t size) {
  Bytes out;
  out.reserve(size);
  put_i32le(out, command);
  put_u32le(out, static_cast<uint32_t>(size));
  return out;
}

std::string errno_text(std::string_view what) {
  return std::string(what) + ": " + std::strerror(errno);
}

sockaddr_un unix_address(const std::filesystem::path& path, bool& fits) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string& text = path.native();
  fits = text.size() < sizeof(address.sun_path);
  if (fits) std::memcpy(address.sun_path, text.c_str(), text.size() + 1);
  return address;
}

}  // namespace

std::optional<int32_t> command_of(ByteView message) {
  ByteReader reader(message);
  auto command = reader.u32("command");
  if (!command) return std::nullopt;
  return static_cast<int32_t>(*command);
}

Result<Request> parse_request(ByteView message) {
  ByteReader reader(message);
  ACON_TRY(int32_t command, read_header(message, reader));
  if (command == kGetReport) {
    if (message.size() < kGetReportFixedSize) {
      return structure_error(message.size(), "GetReport needs at least 40 bytes");
    }
    GetReportRequest request;
    ACON_TRY(request.request_type, reader.u32("request_type"));
    ACON_CHECK(reader.skip(4, "padding"));
    ACON_TRY(request.nonce[0], reader.u64("nonce[0]"));
    ACON_TRY(request.nonce[1], reader.u64("nonce[1]"));
    ACON_TRY(uint32_t type, reader.u32("attest_data_type"));
    ACON_CHECK(reader.skip(4, "padding"));
    ACON_TRY(request.attestation,
             read_attestation(static_cast<int32_t>(type), reader.rest(), 32, reader.offset()));
    return Request(std::move(request));
  }
  if (command == kSetAttestationData) {
    if (message.size() < kSetAttestationDataFixedSize) {
      return structure_error(message.size(), "SetAttestationData needs at least 12 bytes");
    }
    ACON_TRY(uint32_t type, reader.u32("attest_data_type"));
    SetAttestationDataRequest request;
    ACON_TRY(request.attestation,
             read_attestation(static_cast<int32_t>(type), reader.rest(), 8, reader.offset()));
    return Request(std::move(request));
  }
  if (command == kGetSecret) {
    ACON_TRY(std::string path, read_resource_path(reader.rest(), reader.offset()));
    return Request(GetSecretRequest{std::move(path)});
  }
  return make_error(Errc::unsupported, "ipc command " + std::to_string(command) + " at offset 0");
}

Bytes encode_get_report_request(const GetReportRequest& request) {
  Bytes out = header(kGetReport, kGetReportFixedSize + request.attestation.data.size());
  put_u32le(out, request.request_type);
  put_u32le(out, 0);
  put_u64le(out, request.nonce[0]);
  put_u64le(out, request.nonce[1]);
  put_i32le(out, request.attestation.type);
  put_u32le(out, 0);
  append(out, as_bytes(request.attestation.data));
  return out;
}

Bytes encode_set_attestation_data_request(const SetAttestationDataRequest& request) {
  Bytes out =
      header(kSetAttestationData, kSetAttestationDataFixedSize + request.attestation.data.size());
  put_i32le(out, request.attestation.type);
  append(out, as_bytes(request.attestation.data));
  return out;
}

Bytes encode_get_secret_request(const GetSecretRequest& request) {
  Bytes out = header(kGetSecret, kHeaderSize + request.resource_path.size());
  append(out, as_bytes(request.resource_path));
  return out;
}

SecretBytes encode_get_secret_reply(ByteView secret) {
  SecretBytes out;
  out.reserve(kHeaderSize + secret.size());
  Bytes head = header(kGetSecretReply, kHeaderSize + secret.size());
  out.insert(out.end(), head.begin(), head.end());
  out.insert(out.end(), secret.begin(), secret.end());
  return out;
}

Bytes encode_get_report_reply(const GetReportReply& reply) {
  // ACON writes the RTMR logs from offset 20 as NUL-terminated entries: three empty ones (RTMR0..2
  // carry no runtime entries), then RTMR3's.
  constexpr size_t kLogOffset = 20;
  size_t log_size = 3;
  for (const auto& entry : reply.rtmr3_log) log_size += entry.size() + 1;
  const size_t json_offset = kLogOffset + log_size;
  const size_t data_offset = json_offset + reply.attestation_json.size();
  Bytes out = header(kGetReportReply, data_offset + reply.data.size());
  put_i32le(out, static_cast<int32_t>(kLogOffset));
  put_i32le(out, static_cast<int32_t>(json_offset));
  put_i32le(out, static_cast<int32_t>(data_offset));
  out.insert(out.end(), 3, 0);
  for (const auto& entry : reply.rtmr3_log) {
    append(out, as_bytes(entry));
    out.push_back(0);
  }
  append(out, as_bytes(reply.attestation_json));
  append(out, reply.data);
  return out;
}

Bytes encode_set_attestation_data_reply() { return header(kSetAttestationDataReply, kHeaderSize); }

Bytes encode_error_reply(int32_t request_command, std::string_view message) {
  Bytes out = header(kErrorReply, 12 + message.size());
  put_i32le(out, request_command);
  append(out, as_bytes(message));
  return out;
}

Result<Reply> parse_reply(ByteView message) {
  ByteReader reader(message);
  ACON_TRY(int32_t command, read_header(message, reader));
  if (command == kSetAttestationDataReply) {
    if (message.size() != kHeaderSize) return structure_error(8, "unexpected bytes after header");
    return Reply(std::monostate{});
  }
  if (command == kGetSecretReply) return Reply(GetSecretReply{to_secret(reader.rest())});
  if (command == kErrorReply) {
    ACON_TRY(uint32_t request_command, reader.u32("request command"));
    ByteView rest = reader.rest();
    return Reply(ErrorReply{static_cast<int32_t>(request_command),
                            std::string(reinterpret_cast<const char*>(rest.data()), rest.size())});
  }
  if (command != kGetReportReply) {
    return make_error(Errc::unsupported, "ipc reply command " + std::to_string(command));
  }
  ACON_TRY(uint32_t log_offset, reader.u32("rtmr_log_offset"));
  ACON_TRY(uint32_t json_offset, reader.u32("attestation_json_offset"));
  ACON_TRY(uint32_t data_offset, reader.u32("data_offset"));
  if (log_offset != 20 || json_offset < log_offset + 3 || data_offset < json_offset ||
      data_offset > message.size()) {
    return structure_error(8, "offsets " + std::to_string(log_offset) + ", " +
                                  std::to_string(json_offset) + ", " + std::to_string(data_offset) +
                                  " are out of order or beyond the message");
  }
  ByteView logs = message.subspan(log_offset, json_offset - log_offset);
  if (logs.back() != 0) return structure_error(json_offset - 1, "log entries must end with NUL");
  // RTMR0..2 are empty in ACON's replies; the entries after the third NUL are RTMR3's.
  std::string current;
  GetReportReply reply;
  size_t empties = 0;
  for (size_t i = 0; i < logs.size(); ++i) {
    if (logs[i] != 0) {
      current.push_back(static_cast<char>(logs[i]));
      continue;
    }
    if (empties < 3) {
      if (!current.empty()) {
        return structure_error(log_offset + i, "RTMR0..2 logs are expected empty");
      }
      ++empties;
      continue;
    }
    reply.rtmr3_log.push_back(std::move(current));
    current.clear();
  }
  reply.attestation_json.assign(reinterpret_cast<const char*>(message.data()) + json_offset,
                                data_offset - json_offset);
  reply.data.assign(message.begin() + data_offset, message.end());
  return Reply(std::move(reply));
}

namespace {

// read_message into a buffer of the caller's kind: Bytes, or SecretBytes for a reply that may
// carry a secret (the growth from header to whole message goes through its allocator, so no
// copy of the plaintext is left unwiped).
template <typename Buffer>
Result<Buffer> read_message_into(int fd, int timeout_ms) {
  Buffer message;
  auto read_exactly = [&](size_t total) -> Status {
    while (message.size() < total) {
      pollfd waiting{fd, POLLIN, 0};
      int ready = ::poll(&waiting, 1, timeout_ms);
      if (ready < 0 && errno == EINTR) continue;
      if (ready < 0) return make_error(Errc::io, errno_text("poll"));
      if (ready == 0) {
        return make_error(Errc::io, "timed out after " + std::to_string(message.size()) + " of " +
                                        std::to_string(total) + " bytes");
      }
      const size_t had = message.size();
      message.resize(total);
      ssize_t got = ::recv(fd, message.data() + had, total - had, 0);
      if (got < 0 && errno == EINTR) got = 0;
      if (got < 0) return make_error(Errc::io, errno_text("recv"));
      message.resize(had + static_cast<size_t>(got));
      if (got == 0 && message.size() < total) {
        return make_error(Errc::parse, "connection closed after " + std::to_string(message.size()) +
                                           " of " + std::to_string(total) + " bytes");
      }
    }
    return {};
  };
  ACON_CHECK(read_exactly(kHeaderSize));
  ByteReader reader(message);
  (void)reader.u32("command");
  ACON_TRY(uint32_t size, reader.u32("size"));
  if (size < kHeaderSize || size > kMaxMessageSize) {
    return structure_error(4, "size " + std::to_string(size) + " is outside [8, " +
                                  std::to_string(kMaxMessageSize) + "]");
  }
  ACON_CHECK(read_exactly(size));
  return message;
}

}  // namespace

Result<Bytes> read_message(int fd, int timeout_ms) {
  return read_message_into<Bytes>(fd, timeout_ms);
}

Status write_all(int fd, ByteView bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t sent = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // A non-blocking connection whose reader is slow: wait for room, boundedly.
      pollfd waiting{fd, POLLOUT, 0};
      if (::poll(&waiting, 1, 10000) > 0) continue;
      return make_error(Errc::io, "send: the reader took no data for 10 s");
    }
    if (sent < 0) return make_error(Errc::io, errno_text("send"));
    done += static_cast<size_t>(sent);
  }
  return {};
}

Result<std::unique_ptr<Server>> Server::start(const std::filesystem::path& socket_path,
                                              Handler handler, ServerLog log, int read_timeout_ms) {
  bool fits = false;
  sockaddr_un address = unix_address(socket_path, fits);
  if (!fits)
    return make_error(Errc::invalid_argument, "ipc socket path too long: " + socket_path.string());
  UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listener.valid()) return make_error(Errc::io, errno_text("ipc socket"));
  ::unlink(socket_path.c_str());
  if (::bind(listener.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    return make_error(Errc::io, errno_text("bind " + socket_path.string()));
  }
  // Every container uid may connect; who is calling is decided by SO_PEERCRED, not by access.
  if (::chmod(socket_path.c_str(), 0666) != 0 || ::listen(listener.get(), 64) != 0) {
    return make_error(Errc::io, errno_text("listen " + socket_path.string()));
  }
  std::unique_ptr<Server> server(
      new Server(socket_path, std::move(handler), std::move(log), read_timeout_ms));
  ACON_TRY(server->loop_,
           AcceptLoop::start(std::move(listener), [raw = server.get()](UniqueFd connection) {
             raw->answer(std::move(connection));
           }));
  return server;
}

Server::Server(std::filesystem::path path, Handler handler, ServerLog log, int read_timeout_ms)
    : path_(std::move(path)),
      handler_(std::move(handler)),
      log_(std::move(log)),
      read_timeout_ms_(read_timeout_ms) {}

Server::~Server() {
  loop_.reset();
  // No new workers after the accept loop stopped; each one ends within the KBS client's timeouts.
  std::lock_guard lock(workers_mutex_);
  for (Worker& worker : workers_) worker.thread.join();
  workers_.clear();
  ::unlink(path_.c_str());
}

void Server::reap_workers_locked() {
  std::erase_if(workers_, [](Worker& worker) {
    if (!worker.done->load()) return false;
    worker.thread.join();
    return true;
  });
}

void Server::answer(UniqueFd connection) {
  ucred peer{};
  socklen_t peer_size = sizeof peer;
  if (::getsockopt(connection.get(), SOL_SOCKET, SO_PEERCRED, &peer, &peer_size) != 0) {
    log_("acond event=ipc_refused reason=no_peer_credentials");
    return;
  }
  auto message = read_message(connection.get(), read_timeout_ms_);
  if (!message) {
    log_("acond event=ipc_refused uid=" + std::to_string(peer.uid) +
         " reason=" + message.error().to_string());
    (void)write_all(connection.get(), encode_error_reply(kErrorReply, kInvalidStructure));
    return;
  }
  const int32_t command = command_of(*message).value_or(kErrorReply);
  auto request = parse_request(*message);
  if (!request) {
    log_("acond event=ipc_refused uid=" + std::to_string(peer.uid) +
         " command=" + std::to_string(command) + " reason=" + request.error().to_string());
    const bool unsupported = request.error().code == Errc::unsupported;
    (void)write_all(connection.get(),
                    encode_error_reply(command, unsupported ? kNotSupported : kInvalidStructure));
    return;
  }
  if (!std::holds_alternative<GetSecretRequest>(*request)) {
    respond(connection.get(), peer.uid, command, *request);
    return;
  }
  std::lock_guard lock(workers_mutex_);
  reap_workers_locked();
  if (workers_.size() >= kMaxSecretWorkers) {
    log_("acond event=ipc_refused uid=" + std::to_string(peer.uid) +
         " command=" + std::to_string(command) + " reason=busy");
    (void)write_all(connection.get(), encode_error_reply(command, kSecretBusy));
    return;
  }
  auto done = std::make_shared<std::atomic<bool>>(false);
  std::thread thread([this, done, uid = peer.uid, command, connection = std::move(connection),
                      request = std::move(*request)]() {
    respond(connection.get(), uid, command, request);
    done->store(true);
  });
  workers_.push_back({std::move(thread), std::move(done)});
}

void Server::respond(int connection, uid_t peer_uid, int32_t command, const Request& request) {
  HandlerResult result = [&]() -> HandlerResult {
    try {
      return handler_(peer_uid, request);
    } catch (const std::exception&) {
      return HandlerError{"Unexpected error"};
    }
  }();
  if (auto* error = std::get_if<HandlerError>(&result)) {
    log_("acond event=ipc_refused uid=" + std::to_string(peer_uid) +
         " command=" + std::to_string(command) + " reason=\"" + error->message + "\"");
    (void)write_all(connection, encode_error_reply(command, error->message));
    return;
  }
  log_("acond event=ipc uid=" + std::to_string(peer_uid) + " command=" + std::to_string(command));
  if (auto* secret = std::get_if<SecretBytes>(&result)) {
    (void)write_all(connection, view(*secret));  // the SecretBytes wipe it when `result` goes
    return;
  }
  (void)write_all(connection, std::get<Bytes>(result));
}

Result<Reply> call(const std::filesystem::path& socket_path, ByteView request, int timeout_ms) {
  bool fits = false;
  sockaddr_un address = unix_address(socket_path, fits);
  if (!fits)
    return make_error(Errc::invalid_argument, "ipc socket path too long: " + socket_path.string());
  UniqueFd socket(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!socket.valid()) return make_error(Errc::io, errno_text("socket"));
  if (::connect(socket.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    return make_error(Errc::io, errno_text("connect " + socket_path.string()));
  }
  ACON_CHECK(write_all(socket.get(), request));
  // Any reply may be GetSecret's: read it into wiped memory so the plaintext leaves no copy.
  ACON_TRY(SecretBytes reply, read_message_into<SecretBytes>(socket.get(), timeout_ms));
  return parse_reply(view(reply));
}

}  // namespace acon::acond::ipc
