// What every benchmark binary needs besides Google Benchmark: per-thread CPU time (the ratios
// against a floor measured in the same run use it, so that other load on the machine does not
// skew them) and a setup failure that stops the run loudly.
#pragma once

#include <errno.h>
#include <openssl/err.h>
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "acon/common/result.h"

namespace acon::bench {

inline double thread_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Setup that cannot fail in a working build failed: say what (and OpenSSL's queued errors).
[[noreturn]] inline void die(const std::string& what) {
  std::fprintf(stderr, "%s: setup failed: %s\n", program_invocation_short_name, what.c_str());
  ERR_print_errors_fp(stderr);
  std::abort();
}

// The value of setup that cannot fail in a working build, or die() naming `what`.
template <class T>
T need(Result<T> result, const char* what) {
  if (!result) die(std::string(what) + ": " + result.error().message);
  return std::move(*result);
}

#ifdef ACON_TEST_DATA
// A file of tests/data (the benchmarks' inputs are the tests' data), or die() naming it.
inline std::string test_data(const std::string& relative) {
  std::ifstream in(std::string(ACON_TEST_DATA) + "/" + relative, std::ios::binary);
  if (!in) die("cannot read tests/data/" + relative);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
#endif

}  // namespace acon::bench
