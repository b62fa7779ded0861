// acond's containers on the simulated TD, as root: busybox-static images started in their own
// namespaces, with ACON's Start, Kill, Restart, Exec and Inspect rules and status messages.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "acon/acond/container.h"
#include "acon/acond/runtime.h"
#include "container_fixtures.h"

namespace acon::acond {
namespace {

using namespace test_fixtures;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

template <class T>
std::string error_of(const RpcResult<T>& result) {
  if (result.ok()) return "ok";
  return std::string(rpc_code_name(result.error().code)) + " " + result.error().message;
}

struct ContainerTd {
  TempDir dir;
  std::string state = (dir.path() / "sim.json").string();
  guest::sim::Simulator sim = create_sim_state(state);
  guest::sim::SimBackend backend{state};
  std::unique_ptr<Runtime> runtime;
  Layer busybox = busybox_layer(dir.path());
  Signer signer = load_signer("p384");

  ContainerTd() {
    RuntimeOptions options;
    options.state_dir = dir.path() / "acond";
    runtime = must(Runtime::open(backend, options));
  }
  // Adds the image and its layer; its Image ID.
  std::string load(const image::Manifest& manifest) {
    auto image = sign(signer, manifest);
    auto added = runtime->add_manifest(image.manifest, image.signature, image.certificate);
    EXPECT_TRUE(added.ok()) << error_of(added);
    if (added.ok() && !added->missing_layers.empty()) {
      auto blob = runtime->add_blob(2, busybox.tar);
      EXPECT_TRUE(blob.ok()) << error_of(blob);
    }
    return image.image_id;
  }
  ContainerInfo inspect(uint32_t id) {
    auto infos = runtime->inspect(id);
    EXPECT_TRUE(infos.ok()) << error_of(infos);
    if (!infos.ok() || infos->size() != 1) return {};
    return infos->front();
  }
  // Inspect until the container has exited (state 0), at most 10 s.
  ContainerInfo wait_exit(uint32_t id) {
    ContainerInfo info;
    for (int i = 0; i < 200; ++i) {
      info = inspect(id);
      if (info.state == 0) break;
      std::this_thread::sleep_for(50ms);
    }
    return info;
  }
  // Inspect until the entrypoint sleeps (state 'S'), at most 10 s.
  ContainerInfo wait_sleeping(uint32_t id) {
    ContainerInfo info;
    for (int i = 0; i < 200; ++i) {
      info = inspect(id);
      if (info.state == 'S') break;
      std::this_thread::sleep_for(50ms);
    }
    return info;
  }
  fs::path container_dir(uint32_t id) const {
    return dir.path() / "acond" / "containers" / std::to_string(id);
  }
  std::string console(uint32_t id) const { return read_text(container_dir(id) / "console.log"); }
};

ExecRequest exec_request(uint32_t id, std::string command, std::vector<std::string> args = {}) {
  ExecRequest request;
  request.container_id = id;
  request.command = std::move(command);
  request.arguments = std::move(args);
  request.timeout = 10;
  return request;
}

TEST(Containers, WritesAFileInItsUpperDirAndExits) {
  ACON_REQUIRE_CONTAINERS();
  ContainerTd td;
  auto m = busybox_manifest(td.busybox,
                            {"/bin/sh", "-c", "id -u > /out.txt; pwd; echo to-console; exit 7"});
  m.writable_fs = true;
  m.working_dir = "/bin";
  std::string image_id = td.load(m);
  auto cid = td.runtime->start(image_id, {});
  ASSERT_TRUE(cid.ok()) << error_of(cid);
  EXPECT_EQ(*cid, 2u);  // ACON's counter starts at 2
  ContainerInfo info = td.wait_exit(*cid);
  EXPECT_EQ(info.state, 0u);
  EXPECT_EQ(info.wstatus, 7);  // the exit code, not a wait(2) status word
  EXPECT_EQ(info.image_id, image_id);
  // Root inside; the file belongs to the container's ID outside, in its upper dir.
  fs::path written = td.container_dir(*cid) / "upper" / "out.txt";
  EXPECT_EQ(read_text(written), "0\n");
  struct stat st {};
  ASSERT_EQ(::stat(written.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, *cid);
  EXPECT_EQ(st.st_gid, *cid);
  EXPECT_EQ(td.console(*cid), "/bin\nto-console\n");
  // Exited containers stay listed, in Inspect and in attestation_data.
  auto all = td.runtime->inspect(0);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 1u);
  auto report = td.runtime->report(1, 2, kRequestTdReport);
  ASSERT_TRUE(report.ok()) << error_of(report);
  EXPECT_NE(report->attestation_data.find("{\"" + image_id + "\":{\"2\":{}}}"), std::string::npos)
      << report->attestation_data;
}

TEST(Containers, ReadOnlyRootAndItsNamespaces) {
  ACON_REQUIRE_CONTAINERS();
  ContainerTd td;
  // PID 1 of its namespace, its own /proc, writable /tmp, /run/user/<uid> for each uid; the
  // root itself is read-only without writableFS.
  auto m = busybox_manifest(
      td.busybox, {"/bin/sh", "-c",
                   "echo pid=$$; cat /proc/1/comm; touch /tmp/t && echo tmp-ok; "
                   "ls /run/user; touch /x 2>/dev/null || echo root-ro; test -c /dev/null && "
                   "echo dev-ok"});
  m.uids = std::vector<uint32_t>{1000};
  std::string image_id = td.load(m);
  auto cid = td.runtime->start(image_id, {});
  ASSERT_TRUE(cid.ok()) << error_of(cid);
  EXPECT_EQ(td.wait_exit(*cid).wstatus, 0);
  EXPECT_EQ(td.console(*cid), "pid=1\nsh\ntmp-ok\n0\n1000\nroot-ro\ndev-ok\n");
  // The extra uid took the next ID, so the next container is 4.
  auto next = td.runtime->start(image_id, {});
  ASSERT_TRUE(next.ok()) << error_of(next);
  EXPECT_EQ(*next, 4u);
}

TEST(Containers, EnvRulesDecideTheEnvironment) {
  ACON_REQUIRE_CONTAINERS();
  ContainerTd td;
  auto m = busybox_manifest(
      td.busybox, {"/bin/sh", "-c", "echo \"[$GREETING] [${FREE-unset}] [${EMPTY-unset}]\""});
  m.env = std::vector<std::string>{"GREETING=hello", "GREETING=bye", "FREE", "EMPTY="};
  std::string image_id = td.load(m);
  auto defaults = td.runtime->start(image_id, {});
  ASSERT_TRUE(defaults.ok()) << error_of(defaults);
  td.wait_exit(*defaults);
  EXPECT_EQ(td.console(*defaults), "[hello] [unset] []\n");  // EMPTY is set, to ""
  auto chosen = td.runtime->start(image_id, {"GREETING=bye", "FREE=any value"});
  ASSERT_TRUE(chosen.ok()) << error_of(chosen);
  td.wait_exit(*chosen);
  EXPECT_EQ(td.console(*chosen), "[bye] [any value] []\n");

  EXPECT_EQ(error_of(td.runtime->start(image_id, {"GREETING=no"})),
            "Unknown GREETING=no is not in environment array.");
  EXPECT_EQ(error_of(td.runtime->start(image_id, {"PATH=/bin"})),
            "Unknown PATH=/bin is not in environment array.");
  EXPECT_EQ(error_of(td.runtime->start(image_id, {"FREE"})),
            "Unknown Format error of environment array in commandline.");
}

TEST(Containers, StartRefusals) {
  ACON_REQUIRE_CONTAINERS();
  ContainerTd td;
  EXPECT_EQ(error_of(td.runtime->start("sha384/00/11", {})), "InvalidArgument Invalid Image ID");
  auto empty = busybox_manifest(td.busybox, {});
  std::string empty_id = td.load(empty);
  EXPECT_EQ(error_of(td.runtime->start(empty_id, {})), "InvalidArgument Invalid entrypoint");
  auto missing = busybox_manifest(td.busybox, {"/bin/no-such-program"});
  std::string missing_id = td.load(missing);
  EXPECT_EQ(error_of(td.runtime->start(missing_id, {})), "Unknown System error, errno: 2");
  // Refusals before the launch allocate no ID; a failed exec used one.
  auto good = busybox_manifest(td.busybox, {"true"});  // found through PATH's default
  auto cid = td.runtime->start(td.load(good), {});
  ASSERT_TRUE(cid.ok()) << error_of(cid);
  EXPECT_EQ(*cid, 3u);
  EXPECT_EQ(td.wait_exit(*cid).wstatus, 0);
}

TEST(Containers, MaxInstancesCountsRunningContainers) {
  ACON_REQUIRE_CONTAINERS();
  ContainerTd td;
  auto m = busybox_manifest(td.busybox, {"/bin/sleep", "1000"});
  m.max_instances = 1;
  m.signals = {9};
  std::string image_id = td.load(m);
  auto first = td.runtime->start(image_id, {});
  ASSERT_TRUE(first.ok()) << error_of(first);
  EXPECT_EQ(error_of(td.runtime->start(image_id, {})), "PermissionDenied Max instances reached");
  ASSERT_TRUE(td.runtime->kill(*first, 9).ok());
  td.wait_exit(*first);
  auto second = td.runtime->start(image_id, {});
  EXPECT_TRUE(second.ok()) << error_of(second);
}

TEST(Containers, KillOnlyWithAListedSignal) {
  ACON_REQUIRE_CONTAINERS();
  ContainerTd td;
  auto m = busybox_manifest(td.busybox, {"/bin/sleep", "1000"});
  m.signals = {9, -15};
  auto cid = td.runtime->start(td.load(m), {});
  ASSERT_TRUE(cid.ok()) << error_of(cid);
  ContainerInfo running = td.wait_sleeping(*cid);
  EXPECT_EQ(running.state, uint32_t('S'));
  EXPECT_EQ(running.wstatus, 0);
  EXPECT_EQ(running.exe_path, "sleep[/bin/busybox]");
  EXPECT_EQ(error_of(td.runtime->kill(*cid, 15)), "PermissionDenied Signal not allowed");
  EXPECT_EQ(error_of(td.runtime->kill(*cid, -9)), "PermissionDenied Signal not allowed");
  EXPECT_EQ(error_of(td.runtime->kill(99, 9)), "InvalidArgument Invalid Container ID");
  EXPECT_EQ(td.inspect(*cid).state, uint32_t('S'));
  ASSERT_TRUE(td.runtime->kill(*cid, 9).ok());
  ContainerInfo killed = td.wait_exit(*cid);
  EXPECT_EQ(killed.state, 0u);
  EXPECT_EQ(killed.wstatus, 9);  // the signal number
  EXPECT_EQ(error_of(td.runtime->kill(*cid, 9)), "Unknown Container terminated");
  EXPECT_EQ(error_of(td.runtime->inspect(99)), "InvalidArgument Invalid Container ID");
}

TEST(Containers, NegativeSignalsReachTheProcessGroup) {
  ACON_REQUIRE_CONTAINERS();
  ContainerTd td;
  // PID 1 (the shell) ignores SIGTERM without a trap; its child sleep in the same process group
  // dies, and the shell goes on.
  auto m = busybox_manifest(td.busybox, {"/bin/sh", "-c", "sleep 1000; echo after; exit 4"});
  m.signals = {-15};
  auto cid = td.runtime->start(td.load(m), {});
  ASSERT_TRUE(cid.ok()) << error_of(cid);
  td.wait_sleeping(*cid);
  std::this_thread::sleep_for(100ms);  // the shell has started sleep
  ASSERT_TRUE(td.runtime->kill(*cid, -15).ok());
  EXPECT_EQ(td.wait_exit(*cid).wstatus, 4);
  EXPECT_EQ(td.console(*cid), "Terminated\nafter\n");  // the shell reports its killed child
}

TEST(Containers, RestartRunningAndExitedWithTheSameId) {
  ACON_REQUIRE_CONTAINERS();
  ContainerTd td;
  auto m = busybox_manifest(td.busybox,
                            {"/bin/sh", "-c", "echo started $MODE >> /restarts; exec sleep 1000"});
  m.writable_fs = true;
  m.signals = {-9};
  m.env = std::vector<std::string>{"MODE=a", "MODE=b"};
  auto cid = td.runtime->start(td.load(m), {"MODE=b"});
  ASSERT_TRUE(cid.ok()) << error_of(cid);
  fs::path restarts = td.container_dir(*cid) / "upper" / "restarts";
  EXPECT_TRUE(wait_for_text(restarts, "started b\n"));
  EXPECT_EQ(error_of(td.runtime->restart(*cid, 0)),
            "DeadlineExceeded Timeout restarting container");
  ASSERT_TRUE(td.runtime->restart(*cid, 5).ok());
  EXPECT_EQ(td.wait_sleeping(*cid).state, uint32_t('S'));
  EXPECT_EQ(td.inspect(*cid).container_id, *cid);
  // The same environment each time.
  wait_for_text(restarts, "started b\nstarted b\n");
  EXPECT_EQ(read_text(restarts), "started b\nstarted b\n");
  // Exited: re-created at once.
  ASSERT_TRUE(td.runtime->kill(*cid, -9).ok());
  EXPECT_EQ(td.wait_exit(*cid).wstatus, 9);
  ASSERT_TRUE(td.runtime->restart(*cid, 1).ok());
  EXPECT_EQ(td.inspect(*cid).wstatus, 0);
  EXPECT_NE(td.inspect(*cid).state, 0u);
  wait_for_text(restarts, "started b\nstarted b\nstarted b\n");
  EXPECT_EQ(read_text(restarts), "started b\nstarted b\nstarted b\n");
  auto exec = td.runtime->exec(exec_request(*cid, "Hello"));
  EXPECT_TRUE(exec.ok()) << error_of(exec);
  EXPECT_EQ(td.runtime->inspect(0)->size(), 1u);
  EXPECT_EQ(error_of(td.runtime->restart(77, 1)), "InvalidArgument Invalid Container ID");
}

TEST(Containers, RestartRefusals) {
  ACON_REQUIRE_CONTAINERS();
  ContainerTd td;
  auto no_restart = busybox_manifest(td.busybox, {"/bin/sleep", "1000"});
  no_restart.no_restart = true;
  no_restart.signals = {9};
  auto a = td.runtime->start(td.load(no_restart), {});
  ASSERT_TRUE(a.ok()) << error_of(a);
  EXPECT_EQ(error_of(td.runtime->restart(*a, 5)),
            "PermissionDenied Restarting container not allowed");
  auto interrupt = busybox_manifest(td.busybox, {"/bin/sleep", "999"});
  interrupt.signals = {2, 9};  // signals[0] must be SIGTERM or SIGKILL
  auto b = td.runtime->start(td.load(interrupt), {});
  ASSERT_TRUE(b.ok()) << error_of(b);
  EXPECT_EQ(error_of(td.runtime->restart(*b, 5)),
            "PermissionDenied Restarting container not allowed");
  // SIGTERM that PID 1 does not handle is not delivered: the wait times out.
  auto term = busybox_manifest(td.busybox, {"/bin/sleep", "998"});
  term.signals = {15};
  auto c = td.runtime->start(td.load(term), {});
  ASSERT_TRUE(c.ok()) << error_of(c);
  EXPECT_EQ(error_of(td.runtime->restart(*c, 1)), "DeadlineExceeded Timeout restarting container");
  EXPECT_NE(td.inspect(*c).state, 0u);
}

TEST(Containers, ExecRunsAnEntrypointWithStdinArgumentsAndEnvironment) {
  ACON_REQUIRE_CONTAINERS();
  ContainerTd td;
  auto m = busybox_manifest(td.busybox, {"/bin/sleep", "1000"});
  m.writable_fs = true;
  auto cid = td.runtime->start(td.load(m), {});
  ASSERT_TRUE(cid.ok()) << error_of(cid);
  ExecRequest request = exec_request(*cid, "Hello", {"world"});
  request.envs = {"NAME=me", "DROPPED", "B=2"};
  request.stdin_data = "from stdin\n";
  auto started = std::chrono::steady_clock::now();
  auto reply = td.runtime->exec(request);
  // Hello copies stdin to EOF: stdin is closed once written (ACON keeps it open to the timeout of
  // 10 s; 9 s leaves a slow sanitizer run room and still tells the two apart).
  EXPECT_LT(std::chrono::steady_clock::now() - started, 9s);
  ASSERT_TRUE(reply.ok()) << error_of(reply);
  EXPECT_EQ(reply->stdout_data, "hello world me\nfrom stdin\n");
  // Exactly the caller's entries with '=' (busybox sh adds PATH, PWD and SHLVL).
  EXPECT_EQ(reply->stderr_data,
            "err\nB=2 NAME=me PATH=/sbin:/usr/sbin:/bin:/usr/bin PWD=/ SHLVL=1 ");
  // The last capture_size bytes of each stream.
  ExecRequest big = exec_request(*cid, "Big");
  big.capture_size = 6;
  auto tail = td.runtime->exec(big);
  ASSERT_TRUE(tail.ok()) << error_of(tail);
  EXPECT_EQ(tail->stdout_data, "89END\n");
  big.capture_size = 0;  // 0x20000
  auto whole = td.runtime->exec(big);
  ASSERT_TRUE(whole.ok()) << error_of(whole);
  EXPECT_EQ(whole->stdout_data.size(), 10004u);

  ExecRequest oversized = exec_request(*cid, "Hello");
  oversized.capture_size = 4;
  oversized.stdin_data = "12345";
  EXPECT_EQ(error_of(td.runtime->exec(oversized)),
            "InvalidArgument Stdin buffer size exceeds capture size");
  ExecRequest no_timeout = exec_request(*cid, "Hello");
  no_timeout.timeout = 0;
  EXPECT_EQ(error_of(td.runtime->exec(no_timeout)), "Unknown Invalid timeout");
  EXPECT_EQ(error_of(td.runtime->exec(exec_request(*cid, "Missing"))),
            "Unknown System error, errno: 2");
  EXPECT_EQ(error_of(td.runtime->exec(exec_request(42, "Hello"))),
            "InvalidArgument Invalid Container ID");
  // The Exec helpers (children of this process) have been reaped: no zombie is left. A helper
  // exits just after its command, so it may still be running when exec returned: wait until no
  // helper (a fork of this process: its name is ours) is left, running or not, then look for
  // zombies. A helper the reaper missed stays a zombie and fails the wait.
  const std::string own_name = "Name:\t" + read_text("/proc/self/comm");  // comm ends in \n
  auto children = [&](bool helpers_only) {
    int count = 0;
    for (const auto& entry : fs::directory_iterator("/proc")) {
      std::string status = read_text(entry.path() / "status");
      if (status.find("\nPPid:\t" + std::to_string(::getpid()) + "\n") == std::string::npos)
        continue;
      const bool helper = status.starts_with(own_name);
      const bool zombie = status.find("\nState:\tZ") != std::string::npos;
      if (helpers_only ? helper : zombie) ++count;
    }
    return count;
  };
  for (int i = 0; i < 250 && children(true) > 0; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(children(true), 0);
  EXPECT_EQ(children(false), 0);
}

TEST(Containers, ExecTimeoutReturnsWhatWasCapturedAndLeavesTheCommandRunning) {
  ACON_REQUIRE_CONTAINERS();
  ContainerTd td;
  auto m = busybox_manifest(td.busybox, {"/bin/sleep", "1000"});
  m.writable_fs = true;
  auto cid = td.runtime->start(td.load(m), {});
  ASSERT_TRUE(cid.ok()) << error_of(cid);
  ExecRequest request = exec_request(*cid, "Slow");
  request.timeout = 3;
  auto started = std::chrono::steady_clock::now();
  auto reply = td.runtime->exec(request);
  ASSERT_TRUE(reply.ok()) << error_of(reply);
  EXPECT_GE(std::chrono::steady_clock::now() - started, 3s);
  EXPECT_EQ(reply->stdout_data, "begin\n");
  // The command is still running in the container (its PID namespace: PID 1 sleeps, the Slow
  // one is another sleep once its shell has reached `exec sleep`).
  std::string sleeping;
  for (int i = 0; i < 50 && sleeping != "2\n"; ++i) {
    if (i > 0) std::this_thread::sleep_for(100ms);
    auto count = td.runtime->exec(exec_request(*cid, "Count"));
    ASSERT_TRUE(count.ok()) << error_of(count);
    sleeping = count->stdout_data;
  }
  EXPECT_EQ(sleeping, "2\n");
}

TEST(Containers, ExecIsConfinedToEntrypointD) {
  ACON_REQUIRE_CONTAINERS();
  ContainerTd td;
  auto m = busybox_manifest(td.busybox, {"/bin/sleep", "1000"});
  m.writable_fs = true;
  auto cid = td.runtime->start(td.load(m), {});
  ASSERT_TRUE(cid.ok()) << error_of(cid);
  // ACON runs any of these (Sub/ is a directory in entrypoint.d); none may run here.
  const std::vector<std::string> refused = {"Sub/../../../../bin/sh",
                                            "../../../bin/sh",
                                            "Sub/..",
                                            "hello",
                                            "sh",
                                            "",
                                            "/bin/sh",
                                            std::string("Hello\0/../../../bin/sh", 22),
                                            ".Hello",
                                            "1Hello"};
  for (const std::string& command : refused) {
    ExecRequest request = exec_request(*cid, command, {"-c", "touch /escaped"});
    EXPECT_EQ(error_of(td.runtime->exec(request)), "InvalidArgument Private entry point")
        << command;
  }
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(fs::exists(td.container_dir(*cid) / "upper" / "escaped"));
  EXPECT_TRUE(is_entrypoint_name("Hello"));
  EXPECT_TRUE(is_entrypoint_name("Stop.v2"));
  EXPECT_FALSE(is_entrypoint_name("Sub/x"));
}

TEST(Containers, ExitedContainersRefuseExecAndStopAllEndsTheRest) {
  ACON_REQUIRE_CONTAINERS();
  ContainerTd td;
  auto quick = busybox_manifest(td.busybox, {"true"});
  auto done = td.runtime->start(td.load(quick), {});
  ASSERT_TRUE(done.ok()) << error_of(done);
  td.wait_exit(*done);
  EXPECT_EQ(error_of(td.runtime->exec(exec_request(*done, "Hello"))),
            "Unknown Container terminated");
  // A PID 1 that handles SIGTERM exits at the first signal; one that does not is killed.
  auto polite = busybox_manifest(
      td.busybox, {"/bin/sh", "-c", "trap 'exit 3' TERM; echo ready; sleep 1000 & wait"});
  auto a = td.runtime->start(td.load(polite), {});
  auto stubborn = busybox_manifest(td.busybox, {"/bin/sleep", "1000"});
  auto b = td.runtime->start(td.load(stubborn), {});
  ASSERT_TRUE(a.ok() && b.ok());
  // As its PID namespace's init, the shell would drop a SIGTERM that came before its trap.
  ASSERT_TRUE(wait_for_text(td.container_dir(*a) / "console.log", "ready\n"));
  td.runtime->containers().stop_all(500ms);
  EXPECT_EQ(td.wait_exit(*a).wstatus, 3);
  EXPECT_EQ(td.wait_exit(*b).wstatus, SIGKILL);
}

}  // namespace
}  // namespace acon::acond
