// acon-secret: the container-side client of acond's GetSecret (acon IPC command 4,
// docs/acond.md "Secrets"). It runs inside a container, asks acond over /shared/acon.sock for a
// KBS resource and writes the plaintext to stdout or to a new 0600 file. acond attests the TD to
// the KBS; this program holds no key and speaks only the in-container IPC, through acond's own
// encoder and parser (include/acon/acond/ipc.h). Linked statically: busybox images have no libc.
//
//   acon-secret get REPO/TYPE/TAG [-o FILE] [--socket PATH] [--timeout S]
//
// Exit codes: 0 the secret was written; 1 acond answered with an error reply (a KBS refusal, no
// KBS configured, a malformed path), whose message is printed; 2 usage, an unreachable socket, an
// unusable reply or a file that could not be written.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <variant>

#include "acon/acond/ipc.h"
#include "acon/common/unique_fd.h"

namespace {

namespace ipc = acon::acond::ipc;

constexpr int kExitRefused = 1;
constexpr int kExitUnusable = 2;

int usage(std::FILE* out, int code) {
  std::fputs(
      "usage: acon-secret get REPO/TYPE/TAG [-o FILE] [--socket PATH] [--timeout S]\n"
      "  Asks acond (over the container's /shared/acon.sock) for a KBS resource and writes it\n"
      "  to stdout, or to FILE created with mode 0600 (an existing FILE is refused).\n"
      "  exit 0 written, 1 acond or the KBS refused (message printed), 2 unusable input\n",
      out);
  return code;
}

// Writes all of `data` to `fd`, retrying short writes.
bool write_fully(int fd, acon::ByteView data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// The secret goes to a file only this uid can read; O_EXCL so that a file (or a link) someone
// placed there beforehand is never written through.
int write_secret_file(const std::string& path, acon::ByteView secret) {
  acon::UniqueFd fd(
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) {
    std::fprintf(stderr, "acon-secret: %s: %s\n", path.c_str(), std::strerror(errno));
    return kExitUnusable;
  }
  if (!write_fully(fd.get(), secret) || ::fsync(fd.get()) != 0) {
    std::fprintf(stderr, "acon-secret: %s: %s\n", path.c_str(), std::strerror(errno));
    ::unlink(path.c_str());
    return kExitUnusable;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage(stderr, kExitUnusable);
  const std::string_view command = argv[1];
  if (command == "-h" || command == "--help") return usage(stdout, 0);
  if (command != "get") return usage(stderr, kExitUnusable);

  std::string resource_path, output, socket_path = "/shared/acon.sock";
  bool have_path = false;
  int timeout_s = 60;
  for (int i = 2; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const bool has_value = i + 1 < argc;
    if ((arg == "-o" || arg == "--output") && has_value) {
      output = argv[++i];
    } else if (arg == "--socket" && has_value) {
      socket_path = argv[++i];
    } else if (arg == "--timeout" && has_value) {
      const std::string_view value = argv[++i];
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), timeout_s);
      if (ec != std::errc() || end != value.data() + value.size() || timeout_s < 1 ||
          timeout_s > 600) {
        std::fprintf(stderr, "acon-secret: --timeout: seconds in 1..600\n");
        return kExitUnusable;
      }
    } else if (arg == "-h" || arg == "--help") {
      return usage(stdout, 0);
    } else if (!arg.starts_with("-") && !have_path) {
      resource_path = arg;
      have_path = true;
    } else {
      return usage(stderr, kExitUnusable);
    }
  }
  if (!have_path) return usage(stderr, kExitUnusable);

  // acond checks the path (three KBS path components) and answers a malformed one with an error
  // reply; only the IPC's own bound is checked here, so the rule lives in one place.
  if (resource_path.size() > ipc::kMaxResourcePath) {
    std::fprintf(stderr, "acon-secret: resource path: longer than %zu bytes\n",
                 ipc::kMaxResourcePath);
    return kExitUnusable;
  }
  const acon::Bytes request = ipc::encode_get_secret_request({resource_path});
  auto reply = ipc::call(socket_path, request, timeout_s * 1000);
  if (!reply) {
    std::fprintf(stderr, "acon-secret: %s\n", reply.error().message.c_str());
    return kExitUnusable;
  }
  if (const auto* error = std::get_if<ipc::ErrorReply>(&*reply)) {
    std::fprintf(stderr, "acon-secret: acond refused %s: %s\n", resource_path.c_str(),
                 error->message.c_str());
    return kExitRefused;
  }
  const auto* secret = std::get_if<ipc::GetSecretReply>(&*reply);
  if (secret == nullptr) {
    std::fprintf(stderr, "acon-secret: acond answered GetSecret with another reply\n");
    return kExitUnusable;
  }
  if (!output.empty() && output != "-")
    return write_secret_file(output, acon::view(secret->secret));
  if (!write_fully(STDOUT_FILENO, acon::view(secret->secret))) {
    std::fprintf(stderr, "acon-secret: stdout: %s\n", std::strerror(errno));
    return kExitUnusable;
  }
  return 0;
}
