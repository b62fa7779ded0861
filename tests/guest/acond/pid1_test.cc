// acond's PID-1 duties (pid1.h, docs/acond.md "PID 1"): the idle power-off rules, which RPCs
// disarm the timer, the early mounts on a directory in a private mount namespace, and a real acond
// as PID 1 of a new PID namespace: the idle power-off (the namespace's init killed by SIGINT, as
// reboot(2) describes for RB_POWER_OFF there), re-arming by a container's exit, and orphans reaped
// without taking container statuses.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "acon/acond/config.h"
#include "acon/acond/grpc_service.h"
#include "acon/acond/pid1.h"
#include "acon/acond/runtime.h"
#include "acond_process.h"
#include "container_fixtures.h"

namespace acon::acond {
namespace {

using namespace test_fixtures;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = IdleTimer::Clock;

// ---- the rules ----

TEST(IdleTimer, ArmedAtBootAndExpiresAfterTheTimeout) {
  Clock::time_point boot{};
  IdleTimer timer(180s, boot);
  EXPECT_TRUE(timer.armed());
  ASSERT_TRUE(timer.deadline());
  EXPECT_EQ(*timer.deadline(), boot + 180s);
  EXPECT_FALSE(timer.expired(boot + 179s));
  EXPECT_TRUE(timer.expired(boot + 180s));
}

TEST(IdleTimer, SuccessfulRpcDisarmsUntilTheNextArmingEvent) {
  Clock::time_point boot{};
  IdleTimer timer(10s, boot);
  timer.rpc_succeeded();
  EXPECT_FALSE(timer.armed());
  EXPECT_FALSE(timer.deadline());
  EXPECT_FALSE(timer.expired(boot + 1000s));
  // A child reaped while a container still runs is no arming event.
  timer.child_reaped(true, boot + 20s);
  EXPECT_FALSE(timer.expired(boot + 1000s));
  // The last container's exit arms it, counting from then.
  timer.child_reaped(false, boot + 30s);
  EXPECT_TRUE(timer.armed());
  EXPECT_FALSE(timer.expired(boot + 39s));
  EXPECT_TRUE(timer.expired(boot + 40s));
}

TEST(IdleTimer, EachArmingEventRestartsTheCountdown) {
  Clock::time_point boot{};
  IdleTimer timer(10s, boot);
  timer.child_reaped(false, boot + 8s);  // armed already: starts again
  EXPECT_FALSE(timer.expired(boot + 17s));
  EXPECT_TRUE(timer.expired(boot + 18s));
  // A reap with a container left running leaves the countdown as it was.
  timer.child_reaped(true, boot + 12s);
  EXPECT_TRUE(timer.expired(boot + 18s));
}

TEST(IdleTimer, ZeroNeverExpires) {
  Clock::time_point boot{};
  IdleTimer timer(0s, boot);
  EXPECT_FALSE(timer.deadline());
  EXPECT_FALSE(timer.expired(boot + 1000000s));
  timer.child_reaped(false, boot + 5s);
  EXPECT_FALSE(timer.expired(boot + 1000000s));
}

TEST(IdleWatchdog, CallsBackOnceWhenItExpires) {
  std::promise<void> fired;
  auto done = fired.get_future();
  IdleWatchdog watchdog(50ms, [&fired] { fired.set_value(); });
  EXPECT_EQ(done.wait_for(20s), std::future_status::ready);
}

TEST(IdleTimeoutKey, ParsedWithItsRange) {
  EXPECT_EQ(must(parse_config("idle_timeout = 0\n")).idle_timeout, 0u);
  EXPECT_EQ(must(parse_config("idle_timeout = 4294967295\n")).idle_timeout, 4294967295u);
  auto wide = parse_config("idle_timeout = 4294967296\n", "acond.toml");
  ASSERT_FALSE(wide.ok());
  EXPECT_EQ(wide.error().message,
            "acond.toml: line 1: idle_timeout: expected an integer in 0..4294967295");
}

// Which calls of the gRPC service are disarming events: the handlers over a real Runtime on the
// simulated TD, called directly.
struct Td {
  TempDir dir;
  std::string state = (dir.path() / "sim.json").string();
  guest::sim::Simulator sim = create_sim_state(state);
  guest::sim::SimBackend backend{state};
};

TEST(IdleRpc, SuccessDisarmsRefusalAndRepeatedAddManifestDoNot) {
  Td td;
  RuntimeOptions options;
  options.state_dir = td.dir.path() / "acond";
  auto runtime = must(Runtime::open(td.backend, options));
  AconServiceImpl service(*runtime, nullptr);
  int disarmed = 0;
  service.set_activity_hook([&disarmed] { ++disarmed; });

  Signer p384 = load_signer("p384");
  auto image = sign(p384, app_manifest({}, {}, false));
  acon::grpc::AddManifestRequest add;
  add.set_manifest(image.manifest);
  add.set_signature(image.signature.data(), image.signature.size());
  add.set_certificate(image.certificate.data(), image.certificate.size());
  acon::grpc::AddManifestResponse added;
  ASSERT_TRUE(service.AddManifest(nullptr, &add, &added).ok());
  EXPECT_EQ(disarmed, 1);
  // The same image again: OK, nothing done, the timer left as it was (ACON returns early too).
  ASSERT_TRUE(service.AddManifest(nullptr, &add, &added).ok());
  EXPECT_EQ(disarmed, 1);
  // Refused: an unknown container, a bad signature.
  acon::grpc::InspectRequest inspect;
  inspect.set_container_id(77);
  acon::grpc::InspectResponse info;
  EXPECT_FALSE(service.Inspect(nullptr, &inspect, &info).ok());
  auto bad = add;
  bad.set_signature(std::string(bad.signature().size(), '\0'));
  EXPECT_FALSE(service.AddManifest(nullptr, &bad, &added).ok());
  EXPECT_EQ(disarmed, 1);
  // Any other success counts: Inspect of every container, Report.
  inspect.set_container_id(0);
  EXPECT_TRUE(service.Inspect(nullptr, &inspect, &info).ok());
  EXPECT_EQ(disarmed, 2);
  acon::grpc::ReportRequest report;
  report.set_request_type(kRequestQuote);
  acon::grpc::ReportResponse reply;
  EXPECT_TRUE(service.Report(nullptr, &report, &reply).ok());
  EXPECT_EQ(disarmed, 3);
  // The Evidence call (ours, a Report with the logs) counts as Report does; a refused one not.
  EvidenceServiceImpl evidence_service(*runtime, nullptr);
  evidence_service.set_activity_hook([&disarmed] { ++disarmed; });
  acon::evidence::EvidenceResponse evidence;
  EXPECT_TRUE(evidence_service.Evidence(nullptr, &report, &evidence).ok());
  EXPECT_EQ(disarmed, 4);
  report.set_request_type(7);
  EXPECT_FALSE(evidence_service.Evidence(nullptr, &report, &evidence).ok());
  EXPECT_EQ(disarmed, 4);
}

// ---- the orphan reaper ----

// In a forked, single-threaded process with SIGCHLD blocked (as acond blocks it): a foreign child
// and then an "owned" one exit; the reaper must reap the foreign one with its status and leave the
// owned zombie, whose status its owner then still gets. Exit codes: 0 passed, 10 + step failed.
int reaper_scenario() {
  sigset_t child_signal;
  sigemptyset(&child_signal);
  sigaddset(&child_signal, SIGCHLD);
  if (::sigprocmask(SIG_BLOCK, &child_signal, nullptr) != 0) return 10;
  pid_t foreign = ::fork();
  if (foreign == 0) ::_exit(3);
  pid_t owned = ::fork();
  if (owned == 0) ::_exit(4);
  std::mutex mutex;
  std::condition_variable reaped_cv;
  std::vector<std::pair<pid_t, int>> reaped;
  auto reaper = OrphanReaper::start([owned](pid_t pid) { return pid == owned; },
                                    [&](pid_t pid, int status) {
                                      std::lock_guard lock(mutex);
                                      reaped.emplace_back(pid, status);
                                      reaped_cv.notify_all();
                                    });
  if (!reaper) return 11;
  {
    std::unique_lock lock(mutex);
    if (!reaped_cv.wait_for(lock, 20s, [&] { return !reaped.empty(); })) return 12;
    if (reaped.size() != 1 || reaped[0] != std::pair<pid_t, int>(foreign, 3)) return 13;
  }
  // The owned child is still there for its owner (the reaper keeps looking meanwhile). A
  // blocking wait: a loaded machine may not have run the child's _exit yet, and a child the
  // reaper took would fail it with ECHILD.
  std::this_thread::sleep_for(300ms);
  siginfo_t info{};
  if (::waitid(P_PID, static_cast<id_t>(owned), &info, WEXITED) != 0) return 14;
  if (info.si_pid != owned || info.si_status != 4) return 15;
  reaper->reset();
  std::lock_guard lock(mutex);
  return reaped.size() == 1 ? 0 : 16;
}

TEST(OrphanReaper, ReapsForeignChildrenAndLeavesOwnedOnes) {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(reaper_scenario());
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// ---- early mounts ----

struct MountRun {
  bool ok = false;
  bool no_namespace = false;  // unshare(CLONE_NEWNS) refused
  std::string mountinfo;
  std::string log;
};

// mount_early_filesystems(root) in a child in a private mount namespace (the mounts vanish with
// it); what /proc/self/mountinfo then shows and what was logged.
MountRun mount_in_private_namespace(const fs::path& root) {
  int fds[2];
  EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    if (::unshare(CLONE_NEWNS) != 0 ||
        ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr)) {
      ::_exit(3);
    }
    std::string log;
    auto mounted =
        mount_early_filesystems(root, [&log](const std::string& line) { log += line + "\n"; });
    std::string out = log + "----\n" + read_text("/proc/self/mountinfo");
    size_t done = 0;
    while (done < out.size()) {
      ssize_t n = ::write(fds[1], out.data() + done, out.size() - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    ::_exit(mounted ? 0 : 1);
  }
  ::close(fds[1]);
  std::string text;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buffer, sizeof buffer)) > 0)
    text.append(buffer, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  MountRun run;
  run.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  run.no_namespace = WIFEXITED(status) && WEXITSTATUS(status) == 3;
  size_t split = text.find("----\n");
  if (split != std::string::npos) {
    run.log = text.substr(0, split);
    run.mountinfo = text.substr(split + 5);
  }
  return run;
}

// The file system type mounted at `target` according to mountinfo, or "".
std::string fstype_at(const std::string& mountinfo, const fs::path& target) {
  std::istringstream lines(mountinfo);
  std::string line, found;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string id, parent, device, root, mount_point, field;
    fields >> id >> parent >> device >> root >> mount_point;
    if (mount_point != target.string()) continue;
    while (fields >> field && field != "-") {
    }
    fields >> found;  // the last mount at the point is the one seen
  }
  return found;
}

TEST(EarlyMounts, MountsAconsFileSystemsUnderTheRoot) {
  if (::geteuid() != 0) GTEST_SKIP() << "not root: mount needs CAP_SYS_ADMIN";
  TempDir dir;
  fs::path root = fs::canonical(dir.path());
  MountRun run = mount_in_private_namespace(root);
  // A container without CAP_SYS_ADMIN in its user namespace (EPERM) cannot mount these at all.
  if (run.no_namespace || run.log.find(" errno=1 (") != std::string::npos) {
    std::printf("SKIP: the kernel refuses these mounts here\n%s", run.log.c_str());
    GTEST_SKIP() << "the kernel refuses these mounts here";
  }
  ASSERT_TRUE(run.ok) << run.log;
  EXPECT_EQ(fstype_at(run.mountinfo, root / "dev"), "devtmpfs") << run.log;
  EXPECT_EQ(fstype_at(run.mountinfo, root / "dev/pts"), "devpts") << run.log;
  EXPECT_EQ(fstype_at(run.mountinfo, root / "proc"), "proc") << run.log;
  EXPECT_EQ(fstype_at(run.mountinfo, root / "sys"), "sysfs") << run.log;
  EXPECT_EQ(fstype_at(run.mountinfo, root / "shared"), "tmpfs") << run.log;
  EXPECT_EQ(fstype_at(run.mountinfo, root / "run"), "tmpfs") << run.log;
  // Where the kernel has securityfs, its directory is in sysfs, and it is mounted (a vTPM guest's
  // event log).
  if (fs::is_directory("/sys/kernel/security")) {
    EXPECT_EQ(fstype_at(run.mountinfo, root / "sys/kernel/security"), "securityfs") << run.log;
  }
  EXPECT_NE(run.log.find("event=mounted target=" + (root / "proc").string() + " fstype=proc"),
            std::string::npos)
      << run.log;
  // Nothing is left mounted here: the namespace went with the child.
  EXPECT_EQ(read_text("/proc/self/mountinfo").find(root.string()), std::string::npos);
}

TEST(EarlyMounts, NothingMountedWhenProcIsThereButTheLinksAre) {
  if (::geteuid() != 0) GTEST_SKIP() << "not root: mount needs CAP_SYS_ADMIN";
  TempDir dir;
  fs::path root = fs::canonical(dir.path());
  fs::create_directories(root / "proc");
  fs::create_directories(root / "dev");
  std::ofstream(root / "proc" / "mounts") << "";
  MountRun run = mount_in_private_namespace(root);
  if (run.no_namespace) {
    std::printf("SKIP: unshare(CLONE_NEWNS) refused\n");
    GTEST_SKIP() << "unshare(CLONE_NEWNS) refused";
  }
  ASSERT_TRUE(run.ok) << run.log;
  EXPECT_EQ(run.mountinfo.find(root.string()), std::string::npos) << run.mountinfo;
  EXPECT_EQ(fs::read_symlink(root / "dev/fd"), "/proc/self/fd");
  EXPECT_EQ(fs::read_symlink(root / "dev/stdin"), "/proc/self/fd/0");
  EXPECT_EQ(fs::read_symlink(root / "dev/stdout"), "/proc/self/fd/1");
  EXPECT_EQ(fs::read_symlink(root / "dev/stderr"), "/proc/self/fd/2");
  // A second start keeps the links.
  MountRun again = mount_in_private_namespace(root);
  EXPECT_TRUE(again.ok);
  EXPECT_EQ(again.log, "");
}

// ---- acond as PID 1 ----

// The built acond as PID 1 of a new PID and mount namespace, on the simulator in `dir`, with its
// own /proc (as unshare --pid --fork --mount-proc does). A helper process outside the namespace
// creates it and reports how its init ended. The idle timeout is given as a flag.
class Pid1Acond {
 public:
  static constexpr int kNoNamespace = 125;

  Pid1Acond(const fs::path& dir, std::vector<std::string> extra) : dir_(dir) {
    std::vector<std::string> args = {ACOND_BINARY, "--backend",   "sim", "--sim-state",
                                     "sim.json",   "--state-dir", "st",  "--tcp-address",
                                     "127.0.0.1",  "--tcp-port",  "0"};
    args.insert(args.end(), extra.begin(), extra.end());
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    helper_ = ::fork();
    if (helper_ == 0) {
      ::close(fds[0]);
      if (::unshare(CLONE_NEWPID | CLONE_NEWNS) != 0) ::_exit(kNoNamespace);
      pid_t init = ::fork();
      if (init == 0) {
        // PID 1 of the new namespace: its own /proc, never propagated back.
        if (::getpid() != 1 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
            ::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0 ||
            ::chdir(dir.c_str()) != 0) {
          ::_exit(126);
        }
        std::FILE* log = std::fopen("acond.log", "a");
        if (log == nullptr) ::_exit(127);
        ::dup2(::fileno(log), 2);
        std::vector<char*> argv;
        for (auto& arg : args) argv.push_back(arg.data());
        argv.push_back(nullptr);
        ::execv(argv[0], argv.data());
        ::_exit(127);
      }
      ssize_t written = ::write(fds[1], &init, sizeof init);
      (void)written;
      int status = 0;
      while (::waitpid(init, &status, 0) < 0 && errno == EINTR) {
      }
      ::_exit(WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status));
    }
    ::close(fds[1]);
    if (::read(fds[0], &init_, sizeof init_) != sizeof init_) init_ = -1;
    ::close(fds[0]);
    port_ = wait_for_tcp_port([this] { return log(); },
                              [this] { return init_ > 0 && ::kill(init_, 0) == 0; });
  }
  ~Pid1Acond() {
    if (init_ > 0) ::kill(init_, SIGKILL);
    wait();
  }
  Pid1Acond(const Pid1Acond&) = delete;
  Pid1Acond& operator=(const Pid1Acond&) = delete;

  // acond's pid outside its namespace; -1 when the helper could not create it.
  pid_t init_pid() const { return init_; }
  int port() const { return port_; }
  std::string target() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string log() const { return read_text(dir_ / "acond.log"); }
  bool running() const { return init_ > 0 && ::kill(init_, 0) == 0 && state(init_) != 'Z'; }
  // How the init ended: its exit code, or 128 + the signal; kNoNamespace without the namespace.
  int wait() {
    if (helper_ > 0) {
      ::waitpid(helper_, &status_, 0);
      helper_ = -1;
      init_ = -1;
    }
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
  }

  // The state letter of /proc/<pid>/stat, or 0 once the process is gone.
  static char state(pid_t pid) {
    std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
    auto close = stat.rfind(')');
    return close == std::string::npos || close + 2 >= stat.size() ? 0 : stat[close + 2];
  }

 private:
  fs::path dir_;
  pid_t helper_ = -1, init_ = -1;
  int status_ = 0;
  int port_ = 0;
};

#define ACON_REQUIRE_PID_NAMESPACE(acond)                                        \
  do {                                                                           \
    if ((acond).init_pid() <= 0) {                                               \
      int code = (acond).wait();                                                 \
      ASSERT_EQ(code, Pid1Acond::kNoNamespace) << "the namespace helper failed"; \
      std::printf("SKIP: unshare(CLONE_NEWPID|CLONE_NEWNS) refused\n");          \
      GTEST_SKIP() << "unshare(CLONE_NEWPID|CLONE_NEWNS) refused";               \
    }                                                                            \
  } while (0)

TEST(Pid1, IdleTimeoutPowersOffTheNamespace) {
  if (::geteuid() != 0) GTEST_SKIP() << "not root: a PID namespace needs CAP_SYS_ADMIN";
  TempDir dir;
  create_sim_state((dir.path() / "sim.json").string());
  // 3 s: acond arms the timer before it listens, and a sanitizer build on a loaded machine can
  // take over a second to get there.
  Pid1Acond acond(dir.path(), {"--idle-timeout", "3"});
  ACON_REQUIRE_PID_NAMESPACE(acond);
  ASSERT_NE(acond.port(), 0) << acond.log();
  // No RPC, no container: reboot(RB_POWER_OFF) ends the namespace, and its init's parent sees it
  // killed by SIGINT.
  EXPECT_EQ(acond.wait(), 128 + SIGINT) << acond.log();
  std::string log = acond.log();
  EXPECT_NE(log.find("event=stopping signal=15 reason=idle-timeout"), std::string::npos) << log;
  EXPECT_NE(log.find("event=stopped action=power-off"), std::string::npos) << log;
}

TEST(Pid1, NotPid1TheIdleTimeoutExitsCleanly) {
  TempDir dir;
  create_sim_state((dir.path() / "sim.json").string());
  AcondChild acond(dir.path(),
                   {"--backend", "sim", "--sim-state", "sim.json", "--state-dir", "st",
                    "--tcp-address", "127.0.0.1", "--tcp-port", "0", "--idle-timeout", "3"});
  ASSERT_NE(acond.port(), 0) << acond.log();
  EXPECT_EQ(acond.wait(), 0) << acond.log();
  EXPECT_NE(acond.log().find("event=stopped reason=idle-timeout action=exit"), std::string::npos)
      << acond.log();
}

// A process of this machine whose parent is `parent` and whose name is `name`, or -1.
pid_t child_named(pid_t parent, const std::string& name) {
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::string stat = read_text(entry.path() / "stat");
    auto open = stat.find('('), close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    if (stat.substr(open + 1, close - open - 1) != name) continue;
    std::istringstream rest(stat.substr(close + 2));
    char state;
    pid_t ppid;
    rest >> state >> ppid;
    if (ppid == parent) return static_cast<pid_t>(std::stoi(stat.substr(0, open)));
  }
  return -1;
}

// An RPC disarms the timer; orphans re-parented to acond are reaped while container statuses stay
// with Inspect; the last container's exit arms it again and acond powers off.
TEST(Pid1, RpcDisarmsOrphansAreReapedLastExitRearms) {
  ACON_REQUIRE_CONTAINERS();
  ASSERT_EQ(::access("/usr/bin/nsenter", X_OK), 0) << "util-linux's nsenter is not installed";
  TempDir dir;
  create_sim_state((dir.path() / "sim.json").string());
  // Prepared before acond starts: its first RPC must come within the timeout.
  Signer p384 = load_signer("p384");
  Layer layer = busybox_layer(dir.path());
  auto waiting = busybox_manifest(
      layer, {"/bin/sh", "-c", "trap 'sleep 2; exit 5' TERM; echo ready; sleep 1000 & wait"});
  waiting.signals = {SIGTERM};
  auto quick = busybox_manifest(layer, {"/bin/sh", "-c", "exit 7"});
  std::vector<SignedImage> images = {sign(p384, waiting), sign(p384, quick)};

  // The timeout leaves room for acond's start and the first RPC on a loaded CI machine (3 s was
  // too short under the sanitizers with another test group running).
  Pid1Acond acond(dir.path(), {"--idle-timeout", "8", "--stop-grace", "1"});
  ACON_REQUIRE_PID_NAMESPACE(acond);
  ASSERT_NE(acond.port(), 0) << acond.log();
  AcondClient client(acond.target());

  // The first RPC disarms: acond outlives the timeout.
  std::vector<std::string> image_ids;
  for (const auto& image : images) {
    acon::grpc::AddManifestResponse added;
    ASSERT_TRUE(client.add_manifest(image, &added).ok()) << acond.log();
    if (added.missing_layers_size() > 0) {
      ASSERT_TRUE(client.add_blob(2, layer.tar).ok());
    }
    image_ids.push_back(image.image_id);
  }
  std::this_thread::sleep_for(9s);
  ASSERT_TRUE(acond.running()) << acond.log();

  auto start = [&](const std::string& image_id) {
    acon::grpc::StartRequest request;
    request.set_image_id(image_id);
    acon::grpc::StartResponse reply;
    ::grpc::ClientContext context;
    AcondClient::deadline(context);
    EXPECT_TRUE(client.acon->Start(&context, request, &reply).ok()) << acond.log();
    return reply.container_id();
  };
  auto inspect = [&](uint32_t id) {
    acon::grpc::InspectRequest request;
    request.set_container_id(id);
    acon::grpc::InspectResponse reply;
    ::grpc::ClientContext context;
    AcondClient::deadline(context);
    EXPECT_TRUE(client.acon->Inspect(&context, request, &reply).ok()) << acond.log();
    return reply.info_size() == 1 ? reply.info(0) : acon::grpc::ContainerInfo();
  };
  uint32_t long_running = start(image_ids[0]);
  uint32_t short_lived = start(image_ids[1]);

  // An orphan: started in acond's namespace by a shell that exits at once, so re-parented to
  // acond; killed, it must not stay a zombie.
  std::string acond_pid = std::to_string(acond.init_pid());
  ASSERT_EQ(std::system(("nsenter --target " + acond_pid +
                         " --pid -- /bin/sh -c 'sleep 4243 </dev/null >/dev/null 2>&1 &'")
                            .c_str()),
            0);
  pid_t orphan = -1;
  for (int i = 0; i < 200 && orphan < 0; ++i) {
    orphan = child_named(acond.init_pid(), "sleep");
    if (orphan < 0) std::this_thread::sleep_for(25ms);
  }
  ASSERT_GT(orphan, 0) << "no sleep re-parented to acond";
  ASSERT_EQ(::kill(orphan, SIGKILL), 0);
  char state = 'Z';
  for (int i = 0; i < 400 && (state = Pid1Acond::state(orphan)) != 0 && state != 'X'; ++i) {
    std::this_thread::sleep_for(25ms);
  }
  EXPECT_EQ(state, 0) << "the orphan " << orphan << " was not reaped\n" << acond.log();
  // acond logs the reaping after waitpid() has removed the orphan from /proc, so the line may
  // come a moment after the orphan is gone.
  EXPECT_TRUE(wait_for_text(dir.path() / "acond.log", "event=orphan-reaped")) << acond.log();

  // The containers' statuses are still acond's: the short-lived one's exit code, the other
  // running.
  for (int i = 0; i < 400 && inspect(short_lived).state() != 0; ++i) {
    std::this_thread::sleep_for(25ms);
  }
  EXPECT_EQ(inspect(short_lived).state(), 0u);
  EXPECT_EQ(inspect(short_lived).wstatus(), 7);
  EXPECT_NE(inspect(long_running).state(), 0u);

  // The last running container ends (Kill is a disarming RPC; its exit then arms the timer):
  // acond powers off by itself. The shell is its PID namespace's init, so a SIGTERM before its
  // trap is set would be dropped: it says "ready" once the trap is in place. It exits 2 s after
  // the signal: under ACON's rules a successful RPC that completes after the exit disarms the
  // timer again (and the VM stays up), so the exit must come after Kill has returned.
  ASSERT_TRUE(wait_for_text(
      dir.path() / "st/containers" / std::to_string(long_running) / "console.log", "ready\n"))
      << acond.log();
  acon::grpc::KillRequest kill;
  kill.set_container_id(long_running);
  kill.set_signal_num(SIGTERM);
  google::protobuf::Empty none;
  ::grpc::ClientContext context;
  AcondClient::deadline(context);
  ASSERT_TRUE(client.acon->Kill(&context, kill, &none).ok()) << acond.log();
  EXPECT_EQ(acond.wait(), 128 + SIGINT) << acond.log();
  EXPECT_NE(acond.log().find("reason=idle-timeout"), std::string::npos) << acond.log();
}

// ---- a VM's set-up: modules and network ----

TEST(KernelModules, NothingToLoadIsFine) {
  std::vector<std::string> lines;
  EXPECT_TRUE(load_kernel_modules({}, [&](const std::string& line) { lines.push_back(line); }));
  EXPECT_TRUE(lines.empty());
}

// Only failures are exercised here: a test must not load a module into the host's kernel.
TEST(KernelModules, FailuresNameTheModule) {
  TempDir dir;
  const std::string missing = (dir.path() / "absent.ko").string();
  std::vector<std::string> one = {missing};
  auto error = load_kernel_modules(one, {});
  ASSERT_FALSE(error);
  EXPECT_EQ(error.error().message, "module " + missing + ": open: 2 (No such file or directory)");

  // Not an ELF module: the kernel refuses it (ENOEXEC, or EPERM without CAP_SYS_MODULE), and
  // the modules after it are not tried.
  const std::string garbage = (dir.path() / "garbage.ko").string();
  std::ofstream(garbage) << "not a kernel module";
  std::vector<std::string> two = {garbage, missing};
  std::vector<std::string> lines;
  error = load_kernel_modules(two, [&](const std::string& line) { lines.push_back(line); });
  ASSERT_FALSE(error);
  EXPECT_TRUE(error.error().message.starts_with("module " + garbage + ": finit_module: "))
      << error.error().message;
  EXPECT_TRUE(lines.empty());
}

// In a network namespace of its own (a thread's, so the test process keeps the host's): lo
// starts down there, as in a VM before init brings it up.
template <class Body>
void in_new_network_namespace(Body body) {
  bool entered = false;
  std::thread thread([&] {
    if (::unshare(CLONE_NEWNET) != 0) return;
    entered = true;
    body();
  });
  thread.join();
  if (!entered) {
    std::printf("SKIP: unshare(CLONE_NEWNET) refused\n");
    GTEST_SKIP() << "unshare(CLONE_NEWNET) refused";
  }
}

short interface_flags(const char* name) {
  UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ifreq request{};
  std::strncpy(request.ifr_name, name, sizeof request.ifr_name - 1);
  if (::ioctl(fd.get(), SIOCGIFFLAGS, &request) != 0) return -1;
  return request.ifr_flags;
}

TEST(Network, LoopbackUpAndAnAddressWithADefaultRoute) {
  if (::geteuid() != 0) GTEST_SKIP() << "not root: a network namespace needs CAP_SYS_ADMIN";
  in_new_network_namespace([] {
    EXPECT_EQ(interface_flags("lo") & IFF_UP, 0);
    ASSERT_TRUE(bring_up_interface("lo"));
    EXPECT_NE(interface_flags("lo") & IFF_UP, 0);

    NetworkConfig network;
    network.interface = "lo";
    network.address = htonl(0x7f000009);  // 127.0.0.9/8
    network.prefix_length = 8;
    network.gateway = htonl(0x7f000001);
    std::vector<std::string> lines;
    ASSERT_TRUE(configure_ipv4(network, [&](const std::string& l) { lines.push_back(l); }));
    EXPECT_EQ(lines, std::vector<std::string>{"acond event=network-configured interface=lo "
                                              "address=127.0.0.9/8 gateway=127.0.0.1"});
    UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ifreq request{};
    std::strncpy(request.ifr_name, "lo", sizeof request.ifr_name - 1);
    ASSERT_EQ(::ioctl(fd.get(), SIOCGIFADDR, &request), 0);
    sockaddr_in address{};
    std::memcpy(&address, &request.ifr_addr, sizeof address);
    EXPECT_EQ(address.sin_addr.s_addr, htonl(0x7f000009));
    ASSERT_EQ(::ioctl(fd.get(), SIOCGIFNETMASK, &request), 0);
    std::memcpy(&address, &request.ifr_netmask, sizeof address);
    EXPECT_EQ(address.sin_addr.s_addr, htonl(0xff000000));
    // The default route: destination 0, gateway 127.0.0.1 (hexadecimal, host order as stored).
    std::string routes = read_text("/proc/thread-self/net/route");
    EXPECT_NE(routes.find("lo\t00000000\t0100007F"), std::string::npos) << routes;
    // Configuring again keeps the existing default route (EEXIST is not an error).
    EXPECT_TRUE(configure_ipv4(network, {}));
  });
}

TEST(Network, ErrorsNameTheInterfaceAndStep) {
  if (::geteuid() != 0) GTEST_SKIP() << "not root: a network namespace needs CAP_SYS_ADMIN";
  in_new_network_namespace([] {
    auto down = bring_up_interface("acon-absent0");
    ASSERT_FALSE(down);
    EXPECT_EQ(down.error().message,
              "network interface acon-absent0: SIOCGIFFLAGS: 19 (No such device)");
    NetworkConfig network;
    network.interface = "acon-absent0";
    network.address = htonl(0x0a00020f);
    network.prefix_length = 24;
    auto configured = configure_ipv4(network, {});
    ASSERT_FALSE(configured);
    EXPECT_EQ(configured.error().message,
              "network interface acon-absent0: SIOCSIFADDR: 19 (No such device)");
    network.interface = std::string(16, 'x');
    EXPECT_FALSE(configure_ipv4(network, {}));
  });
}

}  // namespace
}  // namespace acon::acond
