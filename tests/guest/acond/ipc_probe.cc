// A program that runs inside a container and talks to acond's in-container IPC socket, written
// from ACON's byte layout alone (not from acon's ipc library), so that the tests check acond
// against a second reading of the format. Linked statically: it runs in a busybox image.
//   acon-ipc-probe set TYPE DATA
//   acon-ipc-probe get REQUEST_TYPE NONCE0 NONCE1 TYPE DATA
//   acon-ipc-probe secret PATH        (acon's GetSecret, command 4: "repo/type/tag")
//   acon-ipc-probe raw HEX            (any bytes, for malformed requests)
// Prints "OK", or "LOG <entry>" lines then "JSON <json>" and "DATA <size>", or "SECRET <bytes>",
// or "ERROR <command> <message>"; exit 1 when the socket or the reply is unusable.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

void put32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put64(std::vector<uint8_t>& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
uint32_t get32(const std::vector<uint8_t>& in, size_t at) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{in[at + i]} << (8 * i);
  return v;
}

int usage() {
  std::fprintf(
      stderr,
      "usage: acon-ipc-probe set TYPE DATA | get RT N0 N1 TYPE DATA | secret PATH | raw HEX\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  const std::string mode = argv[1];
  std::vector<uint8_t> message;
  if (mode == "set" && argc == 4) {
    put32(message, 2);
    put32(message, 0);  // size, below
    put32(message, static_cast<uint32_t>(std::atoi(argv[2])));
    message.insert(message.end(), argv[3], argv[3] + std::strlen(argv[3]));
  } else if (mode == "get" && argc == 7) {
    put32(message, 0);
    put32(message, 0);
    put32(message, static_cast<uint32_t>(std::atoi(argv[2])));
    put32(message, 0);
    put64(message, std::strtoull(argv[3], nullptr, 0));
    put64(message, std::strtoull(argv[4], nullptr, 0));
    put32(message, static_cast<uint32_t>(std::atoi(argv[5])));
    put32(message, 0);
    message.insert(message.end(), argv[6], argv[6] + std::strlen(argv[6]));
  } else if (mode == "secret" && argc == 3) {
    put32(message, 4);
    put32(message, 0);
    message.insert(message.end(), argv[2], argv[2] + std::strlen(argv[2]));
  } else if (mode == "raw" && argc == 3) {
    for (const char* p = argv[2]; p[0] && p[1]; p += 2) {
      char byte[3] = {p[0], p[1], 0};
      message.push_back(static_cast<uint8_t>(std::strtoul(byte, nullptr, 16)));
    }
  } else {
    return usage();
  }
  if (mode != "raw") {
    const uint32_t size = static_cast<uint32_t>(message.size());
    for (int i = 0; i < 4; ++i) message[4 + i] = static_cast<uint8_t>(size >> (8 * i));
  }

  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strcpy(address.sun_path, "/shared/acon.sock");
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    std::perror("connect /shared/acon.sock");
    return 1;
  }
  if (::write(fd, message.data(), message.size()) != static_cast<ssize_t>(message.size())) {
    std::perror("write");
    return 1;
  }
  ::shutdown(fd, SHUT_WR);
  std::vector<uint8_t> reply;
  uint8_t buffer[65536];
  for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;)
    reply.insert(reply.end(), buffer, buffer + n);
  if (reply.size() < 8 || get32(reply, 4) != reply.size()) {
    std::printf("BAD reply of %zu bytes\n", reply.size());
    return 1;
  }
  const int32_t command = static_cast<int32_t>(get32(reply, 0));
  if (command == -1 && reply.size() >= 12) {
    std::printf("ERROR %d %.*s\n", static_cast<int32_t>(get32(reply, 8)),
                static_cast<int>(reply.size() - 12), reinterpret_cast<char*>(reply.data() + 12));
    return 0;
  }
  if (command == 3 && reply.size() == 8) {
    std::printf("OK\n");
    return 0;
  }
  if (command == 5) {
    std::printf("SECRET %.*s\n", static_cast<int>(reply.size() - 8),
                reinterpret_cast<char*>(reply.data() + 8));
    return 0;
  }
  if (command != 1 || reply.size() < 23) {
    std::printf("BAD reply command %d\n", command);
    return 1;
  }
  const uint32_t log_at = get32(reply, 8), json_at = get32(reply, 12), data_at = get32(reply, 16);
  if (log_at != 20 || json_at < 23 || data_at < json_at || data_at > reply.size()) {
    std::printf("BAD offsets\n");
    return 1;
  }
  // Three empty logs (RTMR0..2), then RTMR3's entries, each ending in NUL.
  std::string entry;
  int nuls = 0;
  for (size_t i = log_at; i < json_at; ++i) {
    if (reply[i] != 0) {
      entry.push_back(static_cast<char>(reply[i]));
    } else if (++nuls > 3) {
      std::printf("LOG %s\n", entry.c_str());
      entry.clear();
    }
  }
  std::printf("JSON %.*s\nDATA %zu\n", static_cast<int>(data_at - json_at),
              reinterpret_cast<char*>(reply.data() + json_at), reply.size() - data_at);
  return 0;
}
