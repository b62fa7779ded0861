// Shared plumbing of the acon command-line tools: input, output, exit codes.
#pragma once

#include <string>

#include "acon/common/bytes.h"

namespace acon::tools {

// Exit codes shared by every tool (ARCHITECTURE.md conventions).
inline constexpr int kExitOk = 0;
inline constexpr int kExitRejected = 1;
inline constexpr int kExitBadInput = 2;

// Prints "<program>: <message>" to stderr; returns 1 for a verification failure, else 2.
int fail(const Error& error);

// Call first thing in main(), before any other OpenSSL call: OpenSSL then registers no atexit
// handler freeing the tables its first fetch built (0.7 M instructions, 7% of an
// `acon-eventlog dump`); the process exit returns that memory anyway. Configuration loading,
// providers and everything else stay as they were. Sanitizer builds keep the cleanup, so that
// leak checkers see OpenSSL's memory released as before.
void skip_openssl_cleanup_at_exit();

// Whole file, or standard input for "-".
Result<std::string> read_input(const std::string& path);

// Writes secret material to a new or truncated file readable by the owner only.
Status write_private_file(const std::string& path, ByteView data);

}  // namespace acon::tools
