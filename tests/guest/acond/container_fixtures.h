// Containers for the acond tests: a busybox-static layer (bin/busybox with its applet links and
// entrypoint.d scripts for Exec), and whether this machine can run containers at all (root, user
// namespaces).
#pragma once

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "acon/acond/container.h"
#include "acon/acond/runtime.h"
#include "acond_fixtures.h"

namespace acon::acond::test_fixtures {

inline constexpr const char* kBusybox = "/bin/busybox";

#define ACON_REQUIRE_CONTAINERS()                                        \
  do {                                                                   \
    std::string why = ::acon::acond::containers_unavailable();           \
    if (!why.empty()) {                                                  \
      std::printf("SKIP: %s\n", why.c_str());                            \
      GTEST_SKIP() << why;                                               \
    }                                                                    \
    ASSERT_EQ(::access(::acon::acond::test_fixtures::kBusybox, X_OK), 0) \
        << "busybox-static is not installed (scripts/install-deps.sh)";  \
  } while (0)

inline void write_script(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << text;
  std::filesystem::permissions(path, std::filesystem::perms(0755));
}

// A layer with busybox and its applets under bin/, and the Exec entry points:
//   Hello: prints "hello <arg1> <$NAME>", copies stdin to stdout, writes "err" to stderr, and
//          lists which environment variables it got on stderr after that;
//   Big:   prints "0123456789" 1000 times (10000 bytes) then "END";
//   Slow:  prints "begin" then sleeps for 1000 s;
//   Count: prints how many sleep processes the container's /proc shows;
//   Stop:  SIGTERM to the container's PID 1 (what `aconcli stop` calls; PID 1 of a namespace
//          only gets the signals it handles);
//   Sub/:  a directory, for the path-escape attempts.
inline Layer busybox_layer(const std::filesystem::path& scratch) {
  namespace fs = std::filesystem;
  fs::path root = scratch / "busybox-rootfs";
  fs::create_directories(root / "bin");
  fs::copy_file(kBusybox, root / "bin" / "busybox", fs::copy_options::overwrite_existing);
  for (const char* applet : {"sh", "echo", "cat", "sleep", "id", "env", "touch", "kill", "seq",
                             "printf", "ls", "true", "tr", "grep", "wc", "sort", "pwd", "test"}) {
    fs::create_symlink("busybox", root / "bin" / applet);
  }
  fs::path entry = root / "lib" / "acon" / "entrypoint.d";
  write_script(entry / "Hello",
               "#!/bin/sh\necho \"hello $1 $NAME\"\ncat\necho err >&2\nenv | "
               "sort | tr '\\n' ' ' >&2\n");
  write_script(entry / "Big",
               "#!/bin/sh\nfor i in $(seq 1000); do printf 0123456789; done\n"
               "echo END\n");
  write_script(entry / "Slow", "#!/bin/sh\necho begin\nexec sleep 1000\n");
  write_script(entry / "Count", "#!/bin/sh\ngrep -l '^Name:.*sleep' /proc/[0-9]*/status | wc -l\n");
  write_script(entry / "Stop", "#!/bin/sh\nkill -TERM 1\n");
  fs::create_directories(entry / "Sub");
  image::layers::MemorySink sink;
  auto digests = must(image::layers::create_layer(root, sink));
  return {sink.data(), digests.ref(HashAlg::sha384)};
}

// An image on the busybox layer; the rest as the test sets it.
inline image::Manifest busybox_manifest(const Layer& layer, std::vector<std::string> entrypoint) {
  image::Manifest m = app_manifest({layer.ref}, {}, false);
  m.entrypoint = std::move(entrypoint);
  return m;
}

#ifdef ACOND_IPC_PROBE
// busybox's sh and sleep, the probe as /bin/acon-ipc-probe, and Exec's entry point Probe.
inline Layer probe_layer(const std::filesystem::path& scratch) {
  std::filesystem::path root = scratch / "probe-rootfs";
  std::filesystem::create_directories(root / "bin");
  std::filesystem::copy_file(kBusybox, root / "bin" / "busybox");
  for (const char* applet : {"sh", "sleep"})
    std::filesystem::create_symlink("busybox", root / "bin" / applet);
  std::filesystem::copy_file(ACOND_IPC_PROBE, root / "bin" / "acon-ipc-probe");
  write_script(root / "lib" / "acon" / "entrypoint.d" / "Probe",
               "#!/bin/sh\nexec /bin/acon-ipc-probe \"$@\"\n");
  image::layers::MemorySink sink;
  auto digests = must(image::layers::create_layer(root, sink));
  return {sink.data(), digests.ref(HashAlg::sha384)};
}

// The probe's output, run in container `cid` of `runtime` through Exec's entry point Probe.
inline std::string run_probe(Runtime& runtime, uint32_t cid, std::vector<std::string> arguments,
                             uint64_t timeout_seconds = 60) {
  ExecRequest request;
  request.container_id = cid;
  request.command = "Probe";
  request.arguments = std::move(arguments);
  request.timeout = timeout_seconds;
  auto reply = runtime.exec(request);
  EXPECT_TRUE(reply.ok()) << (reply.ok() ? "" : reply.error().message);
  return reply.ok() ? reply->stdout_data + reply->stderr_data : "";
}
#endif

}  // namespace acon::acond::test_fixtures
