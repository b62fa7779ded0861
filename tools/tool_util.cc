#include "tool_util.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

namespace acon::tools {

int fail(const Error& error) {
  std::cerr << program_invocation_short_name << ": " << error.to_string() << "\n";
  return error.code == Errc::verify_failed ? kExitRejected : kExitBadInput;
}

void skip_openssl_cleanup_at_exit() {
#if defined(__SANITIZE_ADDRESS__)
  constexpr bool kLeakChecked = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  constexpr bool kLeakChecked = true;
#else
  constexpr bool kLeakChecked = false;
#endif
#else
  constexpr bool kLeakChecked = false;
#endif
  if (!kLeakChecked) OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, nullptr);
}

Result<std::string> read_input(const std::string& path) {
  std::ostringstream ss;
  if (path == "-") {
    ss << std::cin.rdbuf();
    return ss.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(Errc::io, path + ": " + std::strerror(errno));
  ss << in.rdbuf();
  if (in.bad()) return make_error(Errc::io, path + ": read failed");
  return ss.str();
}

Status write_private_file(const std::string& path, ByteView data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(Errc::io, path + ": " + std::strerror(errno));
  // An existing file keeps its mode through O_TRUNC; tighten it before writing the secret.
  // Only regular files: a device such as /dev/stdout must keep its mode.
  struct stat st {};
  bool ok = ::fstat(fd, &st) == 0 && (!S_ISREG(st.st_mode) || ::fchmod(fd, 0600) == 0);
  size_t done = 0;
  while (ok && done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<size_t>(n);
  }
  int saved = errno;
  ok = (::close(fd) == 0) && ok;
  if (!ok) return make_error(Errc::io, path + ": " + std::strerror(saved));
  return {};
}

}  // namespace acon::tools
