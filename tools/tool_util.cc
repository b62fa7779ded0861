#include "tool_util.h"
#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <exception>
#include <iostream>

#include "acon/common/unique_fd.h"

namespace acon::tools {
namespace {

uint64_t g_max_input_bytes = kDefaultMaxInputBytes;

Error io_error(const std::string& path, int err) {
  return Error{Errc::io, path + ": " + std::strerror(err)};
}

Status write_all(int fd, const std::string& path, ByteView data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return io_error(path, n < 0 ? errno : EIO);
    done += static_cast<size_t>(n);
  }
  return {};
}

}  // namespace

void add_input_limit_option(CLI::App& app) {
  app.add_option("--max-input", g_max_input_bytes,
                 "Largest whole-file input read, in bytes (quotes, logs, manifests, collateral)")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40));
}

uint64_t max_input_bytes() { return g_max_input_bytes; }

namespace {

// OpenSSL registers no atexit handler freeing the tables its first fetch built (0.7 M
// instructions, 7% of an `acon-eventlog dump`): the process exit returns that memory anyway.
// Sanitizer builds keep the cleanup, so that leak checkers see OpenSSL's memory released.
void init_openssl(OpenSslUse use) {
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
  uint64_t options = kLeakChecked ? 0 : OPENSSL_INIT_NO_ATEXIT;
  if (use == OpenSslUse::digests_only)
    options |= OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS |
               OPENSSL_INIT_NO_ADD_ALL_CIPHERS | OPENSSL_INIT_NO_ADD_ALL_DIGESTS;
  if (options != 0) OPENSSL_init_crypto(options, nullptr);
}

}  // namespace

int guarded_main(int argc, char** argv, const std::function<int(int, char**)>& body,
                 OpenSslUse openssl) {
  init_openssl(openssl);
  try {
    return body(argc, argv);
  } catch (const std::bad_alloc&) {
    std::cerr << program_invocation_short_name << ": out of memory\n";
  } catch (const std::exception& e) {
    std::cerr << program_invocation_short_name << ": " << e.what() << "\n";
  } catch (...) {
    std::cerr << program_invocation_short_name << ": unexpected failure\n";
  }
  return kExitBadInput;
}

std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitBadInput;
  }
  return std::nullopt;
}

int fail(const Error& error) {
  std::cerr << program_invocation_short_name << ": " << error.to_string() << "\n";
  return error.code == Errc::verify_failed ? kExitRejected : kExitBadInput;
}

Result<std::string> read_input(const std::string& path) {
  UniqueFd owned;
  int fd = STDIN_FILENO;
  if (path != "-") {
    owned = UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!owned.valid()) return io_error(path, errno);
    fd = owned.get();
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) return io_error(path, errno);
  if (S_ISDIR(st.st_mode)) return io_error(path, EISDIR);
  const uint64_t limit = g_max_input_bytes;
  auto too_large = [&] {
    return Error{Errc::parse,
                 path + ": larger than " + std::to_string(limit) + " bytes (--max-input)"};
  };
  if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) > limit) return too_large();
  // Read straight into the result: sized from fstat for a regular file (one allocation, no
  // copy), grown by doubling for a stream. Reading up to one byte past the limit tells "exactly
  // the limit" from "larger".
  std::string out;
  size_t used = 0;
  out.resize(S_ISREG(st.st_mode) ? static_cast<size_t>(st.st_size) + 1 : 65536);
  for (;;) {
    if (used == out.size()) {
      if (used > limit) return too_large();
      out.resize(std::min<uint64_t>(2 * used, limit + 1));
    }
    const ssize_t n = ::read(fd, out.data() + used, out.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error(path, errno);
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  if (used > limit) return too_large();
  out.resize(used);
  return out;
}

Result<Time> parse_time_option(std::string_view option, std::string_view text) {
  auto t = parse_time_text(text);
  if (!t) return Error{Errc::invalid_argument, std::string(option) + ": " + t.error().message};
  return t;
}

Status write_private_file(const std::string& path, ByteView data) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd.valid()) return io_error(path, errno);
  // An existing file keeps its mode through O_TRUNC; tighten it before writing the secret.
  // Only regular files: a device such as /dev/stdout must keep its mode.
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || (S_ISREG(st.st_mode) && ::fchmod(fd.get(), 0600) != 0))
    return io_error(path, errno);
  ACON_CHECK(write_all(fd.get(), path, data));
  const int raw = fd.release();
  if (::close(raw) != 0) return io_error(path, errno);
  return {};
}

Status write_output(const std::string& path, ByteView data, bool hex_on_stdout) {
  if (path.empty() || path == "-") {
    if (hex_on_stdout)
      std::cout << hex_encode(data) << "\n";
    else
      std::cout << as_chars(data);
    std::cout.flush();
    if (!std::cout) return Error{Errc::io, "standard output: write failed"};
    return {};
  }
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666));
  if (!fd.valid()) return io_error(path, errno);
  ACON_CHECK(write_all(fd.get(), path, data));
  const int raw = fd.release();
  if (::close(raw) != 0) return io_error(path, errno);
  return {};
}

Result<Bytes> parse_hex_option(std::string_view option, std::string_view text, size_t size) {
  auto bytes = hex_decode(text);
  if (!bytes || bytes->size() != size)
    return Error{Errc::invalid_argument, std::string(option) + ": expected " +
                                             std::to_string(size) + " bytes as " +
                                             std::to_string(2 * size) + " hex digits"};
  return bytes;
}

Result<uint64_t> parse_u64_option(std::string_view option, std::string_view text) {
  int base = 10;
  if (text.starts_with("0x") || text.starts_with("0X")) {
    text.remove_prefix(2);
    base = 16;
  }
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size())
    return Error{Errc::invalid_argument,
                 std::string(option) + ": expected a number from 0 to 2^64-1 (decimal or 0x hex)"};
  return value;
}

}  // namespace acon::tools
