// Container start latency: acond's Start next to Debian's crun starting the same busybox rootfs
// with the same isolation and the same entrypoint, measured in the same run (wall time: this is
// latency, and most of the work happens in child processes).
//
// The image is one busybox-static layer (bin/busybox, its applet links, and the mount points
// dev, proc, tmp, run, shared), admitted into an acond runtime on the simulated TD whose state
// directory is in a tmpfs (/dev/shm when present). Its entrypoint is `/bin/busybox tee
// /shared/ready` with stdin /dev/null: it opens a FIFO, before reading anything, that the
// benchmark created in <state_dir>/shared (on /shared in every container). The benchmark holds the
// FIFO's read end open without blocking and polls it; poll() reports POLLHUP once a writer has
// opened and closed it, which ends the measured interval on both sides.
//
//  BM_acond_start  Runtime::start() of the image, as the Start RPC calls it: image lookup and env
//                  rules, container directory, a read-only overlay of the unpacked layer over
//                  acond's base directory, clone into new user, mount, PID and IPC namespaces, uid
//                  and gid map (0 -> the container's ID), bind /dev and /shared, mount proc and
//                  tmpfs /tmp and /run, chroot, execve; then until the entrypoint opened the FIFO.
//  BM_crun_start   `crun --cgroup-manager=disabled run --bundle DIR ID`, spawned with posix_spawn
//                  as an engine calls it, on an OCI bundle whose rootfs is the same unpacked layer
//                  (acond's content store directory, read-only) with the same namespaces, uid/gid
//                  map 0 -> 100000, the same mounts (rbind /dev, bind /shared, proc, tmpfs /tmp
//                  and /run) and the same entrypoint: crun's own start-up, config.json parsing,
//                  namespaces, mounts, pivot_root, capabilities, execve; then until the
//                  entrypoint opened the FIFO. Cgroups are disabled because acond creates none.
//
// Not timed, on both sides: waiting for the container to exit. acond keeps each exited container
// listed (and its overlay mounted, for Restart); the runtime is reopened every kPerRuntime starts
// so that the mount table stays small. crun removes its container when `run` returns.
//
// Counter: BM_acond_start's "x_crun" = its mean wall time over that of kFloorStarts crun starts
// measured just before it (each repetition), in the same process (< 1: acond starts faster).
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <sched.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "acon/acond/container.h"
#include "acon/acond/runtime.h"
#include "acon/common/hash.h"
#include "acon/common/unique_fd.h"
#include "acon/guest/sim/sim.h"
#include "acon/guest/sim/state.h"
#include "acon/image/layers/create.h"
#include "acon/image/layers/stream.h"
#include "bench_util.h"
#include "image/signed_images.h"

extern char** environ;

namespace {

using acon::bench::die;
using acon::bench::need;

namespace fs = std::filesystem;
using namespace acon;
using Clock = std::chrono::steady_clock;

constexpr const char* kBusybox = "/bin/busybox";
constexpr const char* kCrun = "/usr/bin/crun";
constexpr int kPerRuntime = 50;   // acond starts before the runtime is reopened
constexpr int kFloorStarts = 30;  // crun starts measured at start-up for the ratio
constexpr uint32_t kCrunHostUid = 100000;
const std::vector<std::string> kEntrypoint = {"/bin/busybox", "tee", "/shared/ready"};

// Why this machine cannot run the benchmark, or "" when it can.
std::string unavailable() {
  if (std::string why = acond::containers_unavailable(); !why.empty()) return why;
  if (::access(kBusybox, X_OK) != 0) return "busybox-static is missing (scripts/install-deps.sh)";
  if (::access(kCrun, X_OK) != 0) return "crun is missing (scripts/install-deps.sh)";
  return "";
}

fs::path make_temp_dir() {
  fs::path base = fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
  std::string pattern = (base / "acon-container-bench-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) die("mkdtemp under " + base.string());
  fs::permissions(pattern, fs::perms(0755));
  return pattern;
}

std::string json_strings(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ",\"" : "\"") + items[i] + "\"";
  return out + "]";
}

// The OCI runtime configuration of the crun side: what acond's launch() does, in OCI terms.
std::string bundle_config(const fs::path& rootfs, const fs::path& shared) {
  const std::string id_map =
      "[{\"containerID\":0,\"hostID\":" + std::to_string(kCrunHostUid) + ",\"size\":1}]";
  return R"({"ociVersion":"1.0.2",)"
         R"("process":{"terminal":false,"user":{"uid":0,"gid":0},"args":)" +
         json_strings(kEntrypoint) + R"(,"env":["PATH=/bin"],"cwd":"/"},)" + R"("root":{"path":")" +
         rootfs.string() + R"(","readonly":true},)" +
         R"("mounts":[)"
         R"({"destination":"/dev","type":"bind","source":"/dev","options":["rbind","rw"]},)"
         R"({"destination":"/shared","type":"bind","source":")" +
         shared.string() + R"(","options":["bind","rw"]},)" +
         R"({"destination":"/proc","type":"proc","source":"proc",)"
         R"("options":["nosuid","noexec","nodev"]},)"
         R"({"destination":"/tmp","type":"tmpfs","source":"tmpfs",)"
         R"("options":["nosuid","nodev","mode=1777"]},)"
         R"({"destination":"/run","type":"tmpfs","source":"tmpfs",)"
         R"("options":["nosuid","nodev","mode=755"]}],)"
         R"("linux":{"namespaces":[{"type":"user"},{"type":"mount"},{"type":"pid"},)"
         R"({"type":"ipc"}],"uidMappings":)" +
         id_map + R"(,"gidMappings":)" + id_map + "}}";
}

// crun 1.8.1 refuses a hybrid cgroup layout (v1 controllers with /sys/fs/cgroup/unified), even
// with cgroups disabled; Debian 12's default is the unified v2 layout. So this process moves to a
// private mount namespace (before any thread starts) and, when /sys/fs/cgroup is not cgroup2
// already, mounts the v2 hierarchy there: crun inherits that view, the host keeps its own, and
// acond's side is unaffected (it reads no cgroup).
void private_cgroup_v2() {
  struct statfs fs_info {};
  if (::statfs("/sys/fs/cgroup", &fs_info) == 0 && fs_info.f_type == CGROUP2_SUPER_MAGIC) return;
  if (::unshare(CLONE_NEWNS) != 0 ||
      ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
      ::mount("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) !=
          0) {
    die(std::string("private cgroup v2 view for crun: ") + std::strerror(errno));
  }
}

struct Fixture {
  fs::path dir = make_temp_dir();
  std::string sim_state = (dir / "sim.json").string();
  fs::path state_dir = dir / "acond";
  fs::path fifo = state_dir / "shared" / "ready";
  fs::path bundle = dir / "bundle";
  std::unique_ptr<guest::sim::SimBackend> backend;
  std::unique_ptr<acond::Runtime> runtime;
  test::SignedImage image;
  Bytes layer_tar;
  fs::path layer_dir;  // the unpacked layer in acond's content store
  int starts_on_runtime = 0;
  uint64_t crun_serial = 0;

  Fixture() {
    private_cgroup_v2();
    guest::sim::CreateOptions options;
    options.seed = sha256(as_bytes(std::string_view("acond_container_bench")));
    options.dates = guest::sim::default_dates(test::at("2025-06-01T00:00:00Z"));
    auto sim = need(guest::sim::Simulator::create(options), "simulator");
    if (!guest::sim::save_state(sim_state, sim)) die("save_state");
    backend = std::make_unique<guest::sim::SimBackend>(sim_state);

    fs::path root = dir / "busybox-rootfs";
    fs::create_directories(root / "bin");
    fs::copy_file(kBusybox, root / "bin" / "busybox");
    for (const char* applet : {"sh", "tee", "true"})
      fs::create_symlink("busybox", root / "bin" / applet);
    for (const char* point : {"dev", "proc", "tmp", "run", "shared"})
      fs::create_directory(root / point);
    image::layers::MemorySink sink;
    auto digests = need(image::layers::create_layer(root, sink), "create_layer");
    layer_tar = sink.data();
    fs::remove_all(root);
    const std::string layer_ref = digests.ref(HashAlg::sha384);
    layer_dir = state_dir / "contents" / layer_ref;

    auto manifest = test::app_manifest({layer_ref}, {}, false);
    manifest.entrypoint = kEntrypoint;
    image = test::sign_image(test::load_image_signer("p384"), manifest, image::CanonicalStyle::go,
                             image::CertProfile::acond);
    open_runtime();

    fs::create_directories(bundle);
    std::ofstream(bundle / "config.json") << bundle_config(layer_dir, state_dir / "shared");
  }
  ~Fixture() {
    runtime.reset();  // unmounts the containers' roots
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  // A runtime with the image admitted and its layer unpacked, and the FIFO in its shared
  // directory. Reopening rebuilds the pod from the log (the image stays admitted, its layer
  // unpacked) with an empty container table.
  void open_runtime() {
    runtime.reset();  // unmounts the containers' roots
    std::error_code ec;
    fs::remove_all(state_dir / "containers", ec);
    acond::RuntimeOptions options;
    options.state_dir = state_dir;
    options.log_mode = acond::LogMode::coco;
    runtime = need(acond::Runtime::open(*backend, options), "Runtime::open");
    if (runtime->image_count() == 0) {
      auto added = runtime->add_manifest(image.manifest, image.signature, image.certificate);
      if (!added) die("AddManifest: " + added.error().message);
      if (!added->missing_layers.empty()) {
        if (!runtime->add_blob(image::layers::kDigestSha384, layer_tar)) die("AddBlob");
      }
    }
    fs::create_directories(fifo.parent_path());
    fs::permissions(fifo.parent_path(), fs::perms(0755));
    if (!fs::exists(fifo) && ::mkfifo(fifo.c_str(), 0666) != 0) die("mkfifo " + fifo.string());
    ::chmod(fifo.c_str(), 0666);  // whatever the umask: written by the containers' root
    starts_on_runtime = 0;
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

// The FIFO's read end, opened without waiting for a writer; poll() on it reports POLLHUP only
// once a writer has opened and closed it after this open.
UniqueFd open_signal() {
  UniqueFd fd(::open(fixture().fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) die("open " + fixture().fifo.string());
  return fd;
}

bool wait_signal(const UniqueFd& fd) {
  pollfd p{fd.get(), POLLIN, 0};
  int n;
  do {
    n = ::poll(&p, 1, 10000);
  } while (n < 0 && errno == EINTR);
  return n == 1 && (p.revents & (POLLHUP | POLLIN)) != 0;
}

// One acond start, its wall time in seconds; waits (untimed) for the container to exit.
double acond_start_once(std::string& error) {
  Fixture& f = fixture();
  if (f.starts_on_runtime == kPerRuntime) f.open_runtime();
  UniqueFd signal = open_signal();
  const auto start = Clock::now();
  auto cid = f.runtime->start(f.image.image_id, {});
  if (!cid) {
    error = "Start: " + cid.error().message;
    return 0;
  }
  if (!wait_signal(signal)) {
    error = "the acond container's entrypoint did not open /shared/ready within 10 s";
    return 0;
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  ++f.starts_on_runtime;
  for (int i = 0; i < 10000; ++i) {
    auto infos = f.runtime->inspect(*cid);
    if (infos && infos->size() == 1 && infos->front().state == 0) {
      if (infos->front().wstatus != 0) error = "the acond container exited with a failure";
      return seconds;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  error = "the acond container did not exit";
  return seconds;
}

// One `crun run`, its wall time in seconds; waits (untimed) for crun to return.
double crun_start_once(std::string& error) {
  Fixture& f = fixture();
  const std::string id =
      "acon-bench-" + std::to_string(::getpid()) + "-" + std::to_string(f.crun_serial++);
  const std::string bundle = f.bundle.string();
  const std::string console = (f.bundle / "console.log").string();
  std::vector<std::string> args = {kCrun, "--cgroup-manager=disabled", "run", "--bundle", bundle,
                                   id};
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, console.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0640);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);

  UniqueFd signal = open_signal();
  const auto start = Clock::now();
  pid_t pid = -1;
  int spawned = ::posix_spawn(&pid, kCrun, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    error = std::string("posix_spawn crun: ") + std::strerror(spawned);
    return 0;
  }
  const bool signalled = wait_signal(signal);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (!signalled) {
    ::kill(pid, SIGKILL);
    error = "the crun container's entrypoint did not open /shared/ready within 10 s (see " +
            console + ")";
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (error.empty() && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
    error = "crun run failed (see " + console + ")";
  }
  return seconds;
}

// Mean wall seconds of kFloorStarts crun starts, measured now (after two warm-up starts).
double crun_seconds() {
  std::string error;
  for (int i = 0; i < 2 && error.empty(); ++i) crun_start_once(error);
  double total = 0;
  for (int i = 0; i < kFloorStarts && error.empty(); ++i) total += crun_start_once(error);
  if (!error.empty()) die(error);
  return total / kFloorStarts;
}

void BM_acond_start(benchmark::State& state) {
  if (std::string why = unavailable(); !why.empty()) {
    state.SkipWithError(why.c_str());
    return;
  }
  const double crun_floor = crun_seconds();  // again per repetition: the load may change
  double busy = 0;
  for (auto _ : state) {
    std::string error;
    const double seconds = acond_start_once(error);
    if (!error.empty()) {
      state.SkipWithError(error.c_str());
      break;
    }
    state.SetIterationTime(seconds);
    busy += seconds;
  }
  const double mean = busy / static_cast<double>(std::max<int64_t>(state.iterations(), 1));
  state.counters["x_crun"] = mean / crun_floor;
  state.counters["crun_us"] = crun_floor * 1e6;
}
BENCHMARK(BM_acond_start)->UseManualTime()->Unit(benchmark::kMicrosecond)->Iterations(200);

void BM_crun_start(benchmark::State& state) {
  if (std::string why = unavailable(); !why.empty()) {
    state.SkipWithError(why.c_str());
    return;
  }
  for (auto _ : state) {
    std::string error;
    const double seconds = crun_start_once(error);
    if (!error.empty()) {
      state.SkipWithError(error.c_str());
      break;
    }
    state.SetIterationTime(seconds);
  }
}
BENCHMARK(BM_crun_start)->UseManualTime()->Unit(benchmark::kMicrosecond)->Iterations(200);

}  // namespace

BENCHMARK_MAIN();
