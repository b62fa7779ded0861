// Shared plumbing of the acon command-line tools: the guarded main, bounded input, options every
// tool has, output and exit codes.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "acon/common/bytes.h"
#include "acon/common/x509.h"

namespace CLI {
class App;
}

namespace acon::tools {

// Exit codes shared by every tool (docs/architecture.md, conventions).
inline constexpr int kExitOk = 0;
inline constexpr int kExitRejected = 1;
inline constexpr int kExitBadInput = 2;

// Whole-file inputs (quotes, event logs, manifests, certificates, collateral, keys) are read up
// to this many bytes; a larger input is refused before it is held in memory. Layer tarballs are
// streamed and not bound by it. --max-input changes it for one run.
inline constexpr uint64_t kDefaultMaxInputBytes = uint64_t{64} << 20;

// Adds --max-input BYTES to `app` (every tool calls this once on its top-level app).
void add_input_limit_option(CLI::App& app);
uint64_t max_input_bytes();

// Runs `body` and turns anything that escapes it into "<program>: <what>" on stderr and exit 2,
// so that no input or option can end a tool with a signal. CLI11's parse errors keep CLI11's
// own exit codes and messages (--help exits 0).
//
// `openssl` says how the tool uses OpenSSL; guarded_main initialises it accordingly before
// anything else runs (only OpenSSL's first initialisation call decides these options).
enum class OpenSslUse {
  // Keys, signatures, certificates, TLS: the system's openssl.cnf applies (providers, default
  // properties, a FIPS policy), and OpenSSL's error strings are available for messages.
  full,
  // Message digests of public data only (acon-eventlog): openssl.cnf, the error strings and the
  // legacy cipher/digest name tables are not loaded. A digest is the same bytes from any
  // provider, so the configuration cannot change a result, and providers' own names ("SHA384",
  // "SM3") still fetch. Of a `dump` of a 3-bank log these were 1.7 M + 0.9 M + 2.3 M of 8.2 M
  // instructions. Signature and certificate code needs the legacy tables (X509_verify fails
  // without them), so no other tool may use this.
  digests_only,
};
int guarded_main(int argc, char** argv, const std::function<int(int, char**)>& body,
                 OpenSslUse openssl = OpenSslUse::full);

// Parses the command line into `app` (after add_input_limit_option). nullopt: go on and run the
// command; otherwise the exit code, CLI11's message already printed: 0 for --help, 2 for a
// usage error.
std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv);

// Prints "<program>: <message>" to stderr; returns 1 for a verification failure, else 2.
int fail(const Error& error);

// Whole file, or standard input for "-", at most max_input_bytes(): a larger input is
// "PATH: larger than N bytes (--max-input)"; a directory or unreadable path is Errc::io.
Result<std::string> read_input(const std::string& path);

// A --time style option: Unix seconds or RFC 3339 within what X.509 can express; the error
// names the option.
Result<Time> parse_time_option(std::string_view option, std::string_view text);

// Writes secret material to a new or truncated file readable by the owner only.
Status write_private_file(const std::string& path, ByteView data);

// Public output (quotes, reports, logs, certificates, collateral): standard output for "" or
// "-" (as hex and a newline when `hex_on_stdout`, else the bytes), otherwise a new or truncated
// file with the default mode; a device such as /dev/null is written as it is.
Status write_output(const std::string& path, ByteView data, bool hex_on_stdout);

// Option values checked in full, the error naming the option: exactly `size` bytes as hex, and
// an unsigned 64-bit number in decimal or 0x hex (no sign, no spaces).
Result<Bytes> parse_hex_option(std::string_view option, std::string_view text, size_t size);
Result<uint64_t> parse_u64_option(std::string_view option, std::string_view text);

}  // namespace acon::tools
