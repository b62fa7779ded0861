#include "acon/acond/container.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace acon::acond {
namespace fs = std::filesystem;
namespace {

// A child's close-on-exec error pipe: closed by a successful execve, or carrying the errno with
// which the child failed before or at it.
std::optional<int> exec_failure(int read_end) {
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(read_end, &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  if (n == sizeof child_errno) return child_errno;
  return std::nullopt;
}

constexpr uint64_t kDefaultCaptureSize = 0x20000;
constexpr std::string_view kEntrypointDir = "/lib/acon/entrypoint.d/";
// Mount points every container gets, created in acond's bottom layer (base/) so that they exist
// even in a read-only root.
constexpr const char* kMountPoints[] = {"dev", "proc", "tmp", "run", "shared"};

RpcError rpc_error(RpcCode code, std::string_view message) { return {code, std::string(message)}; }
RpcError system_error(int err) {
  return {RpcCode::unknown, "System error, errno: " + std::to_string(err)};
}

// argv / envp for execve, built before fork: the child only reads them.
class CStringArray {
 public:
  explicit CStringArray(std::vector<std::string> values) : values_(std::move(values)) {
    for (auto& value : values_) pointers_.push_back(value.data());
    pointers_.push_back(nullptr);
  }
  CStringArray(const CStringArray&) = delete;
  CStringArray& operator=(const CStringArray&) = delete;
  char* const* get() const { return pointers_.data(); }

 private:
  std::vector<std::string> values_;
  std::vector<char*> pointers_;
};

struct Pipe {
  UniqueFd read_end, write_end;
};

Result<Pipe> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return make_error(Errc::io, std::string("pipe: ") + std::strerror(errno));
  }
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// In a child between fork and exec (async-signal-safe calls only): report errno and exit.
[[noreturn]] void child_fail(int error_fd, int err) {
  ssize_t written = ::write(error_fd, &err, sizeof err);
  (void)written;
  ::_exit(127);
}

// In a child before exec: acond's blocked signals (SIGTERM and SIGINT wait for sigwait) and
// ignored ones (SIGPIPE under gRPC) would otherwise carry over into the container.
void reset_signals() {
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (int signal = 1; signal < NSIG; ++signal) ::sigaction(signal, &default_action, nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

// In a child after stdio is in place: the error pipe moves to fd 3 (close-on-exec, so that a
// successful exec closes it) and every other descriptor acond holds is closed, so that neither
// the command nor a lingering Exec helper keeps acond's sockets or other pipes open.
int keep_only_stdio(int error_fd) {
  if (error_fd != 3 && ::dup2(error_fd, 3) < 0) child_fail(error_fd, errno);
  if (::fcntl(3, F_SETFD, FD_CLOEXEC) != 0) child_fail(3, errno);
  if (::syscall(SYS_close_range, 4u, ~0u, 0u) != 0) child_fail(3, errno);
  return 3;
}

// Root of the current user namespace (the container's ID outside), with no supplementary
// groups. Raw system calls: glibc's wrappers would try to change every thread of the parent,
// which a child made by a raw clone() still believes it has, and wait for them forever.
bool become_namespace_root() {
  return ::syscall(SYS_setgroups, 0, nullptr) == 0 && ::syscall(SYS_setresgid, 0, 0, 0) == 0 &&
         ::syscall(SYS_setresuid, 0, 0, 0) == 0;
}

Status write_text(const fs::path& path, const std::string& text) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid() || ::write(fd.get(), text.data(), text.size()) != ssize_t(text.size())) {
    return make_error(Errc::io, path.string() + ": " + std::strerror(errno));
  }
  return {};
}

std::string read_small_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

// Keeps the last `limit` bytes of what is appended.
void append_tail(std::string& buffer, const char* data, size_t size, size_t limit) {
  if (size >= limit) {
    buffer.assign(data + size - limit, limit);
    return;
  }
  buffer.append(data, size);
  if (buffer.size() > limit) buffer.erase(0, buffer.size() - limit);
}

}  // namespace

bool is_entrypoint_name(std::string_view command) {
  if (command.empty() || command.front() < 'A' || command.front() > 'Z') return false;
  return command.find('/') == std::string_view::npos &&
         command.find('\0') == std::string_view::npos;
}

std::string containers_unavailable() {
  if (::geteuid() != 0) return "not root: containers need overlay mounts and uid maps";
  pid_t pid = ::fork();
  if (pid < 0) return std::string("fork: ") + std::strerror(errno);
  if (pid == 0) {
    ::_exit(::unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC) == 0 ? 0 : 1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return "unshare(USER|NS|PID|IPC) fails: no user namespaces here";
  }
  return "";
}

ContainerManager::ContainerManager(fs::path state_dir) : state_dir_(std::move(state_dir)) {
  wake_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  std::string overflow = read_small_file("/proc/sys/kernel/overflowuid");
  if (!overflow.empty())
    overflow_uid_ = static_cast<uint32_t>(std::strtoul(overflow.c_str(), nullptr, 10));
}

ContainerManager::~ContainerManager() {
  stop_all(std::chrono::milliseconds(0));
  {
    std::lock_guard lock(watch_mutex_);
    stopping_ = true;
  }
  wake_reaper();
  if (reaper_.joinable()) reaper_.join();
  std::lock_guard lock(mutex_);
  for (auto& [id, container] : containers_) unmount_rootfs(container);
}

fs::path ContainerManager::container_dir(uint32_t container_id) const {
  return state_dir_ / "containers" / std::to_string(container_id);
}

fs::path ContainerManager::console_log(uint32_t container_id) const {
  return container_dir(container_id) / "console.log";
}

uint32_t ContainerManager::next_id() {
  if (counter_ == overflow_uid_) ++counter_;
  return counter_++;
}

Status ContainerManager::mount_rootfs(Container& container) {
  fs::path dir = container_dir(container.id);
  std::error_code ec;
  std::vector<fs::path> dirs = {dir / "rootfs", state_dir_ / "shared"};
  for (const char* point : kMountPoints) dirs.push_back(dir / "base" / point);
  if (container.spec.writable_fs) {
    dirs.push_back(dir / "upper");
    dirs.push_back(dir / "work");
  }
  for (const auto& path : dirs) {
    fs::create_directories(path, ec);
    if (ec) return make_error(Errc::io, path.string() + ": " + ec.message());
  }
  // overlayfs lists the top layer first; the manifest lists the bottom layer first. acond's base/
  // is below every image layer.
  std::string lower;
  for (auto layer = container.spec.layers.rbegin(); layer != container.spec.layers.rend();
       ++layer) {
    fs::path resolved = fs::canonical(*layer, ec);
    if (ec) return make_error(Errc::io, layer->string() + ": " + ec.message());
    // overlayfs splits its options at ',' and lowerdir at ':'.
    if (resolved.string().find_first_of(",:\\") != std::string::npos) {
      return make_error(Errc::io, resolved.string() + ": ',', ':' or '\\' in a layer path");
    }
    lower += resolved.string() + ":";
  }
  lower += (dir / "base").string();
  std::string options = "lowerdir=" + lower;
  if (container.spec.writable_fs) {
    options += ",upperdir=" + (dir / "upper").string() + ",workdir=" + (dir / "work").string();
  }
  if (::mount("overlay", (dir / "rootfs").c_str(), "overlay", 0, options.c_str()) != 0) {
    return make_error(
        Errc::io, "mount overlay on " + (dir / "rootfs").string() + ": " + std::strerror(errno));
  }
  container.mounted = true;
  if (container.spec.writable_fs) {
    // As ACON: the whole tree belongs to the container's root (this copies every file up).
    uid_t owner = container.id;
    if (::lchown((dir / "rootfs").c_str(), owner, owner) != 0) {
      return make_error(Errc::io, "chown rootfs: " + std::string(std::strerror(errno)));
    }
    for (auto it = fs::recursive_directory_iterator(dir / "rootfs", ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (::lchown(it->path().c_str(), owner, owner) != 0) {
        return make_error(Errc::io, "chown " + it->path().string() + ": " + std::strerror(errno));
      }
    }
    if (ec) return make_error(Errc::io, "chown rootfs: " + ec.message());
  }
  return {};
}

void ContainerManager::unmount_rootfs(Container& container) {
  if (!container.mounted) return;
  ::umount2((container_dir(container.id) / "rootfs").c_str(), MNT_DETACH);
  container.mounted = false;
}

RpcStatus ContainerManager::launch(Container& container) {
  container.pid = -1;
  if (!container.mounted) {
    if (auto mounted = mount_rootfs(container); !mounted) {
      return rpc_error(RpcCode::unknown, mounted.error().message);
    }
  }
  const ContainerSpec& spec = container.spec;
  const std::string rootfs = (container_dir(container.id) / "rootfs").string();
  const std::string dev = rootfs + "/dev", proc = rootfs + "/proc", tmp = rootfs + "/tmp",
                    run = rootfs + "/run", shared = rootfs + "/shared",
                    shared_source = (state_dir_ / "shared").string();
  std::vector<uint32_t> inner_uids = {0};
  inner_uids.insert(inner_uids.end(), spec.uids.begin(), spec.uids.end());
  std::vector<std::string> run_user_dirs;
  for (uint32_t uid : inner_uids) run_user_dirs.push_back("/run/user/" + std::to_string(uid));
  // execvp's search, done here so that the child only calls execve: PATH from the container's
  // environment, else glibc's default.
  std::vector<std::string> candidates;
  const std::string& program = spec.entrypoint.front();
  if (program.find('/') != std::string::npos) {
    candidates.push_back(program);
  } else {
    std::string path = "/bin:/usr/bin";
    for (const auto& entry : spec.env)
      if (entry.starts_with("PATH=")) path = entry.substr(5);
    size_t start = 0;
    while (start <= path.size()) {
      size_t end = std::min(path.find(':', start), path.size());
      std::string dir = path.substr(start, end - start);
      candidates.push_back((dir.empty() ? "." : dir) + "/" + program);
      start = end + 1;
    }
  }
  CStringArray argv(spec.entrypoint), envp(spec.env);
  const std::string working_dir = spec.working_dir;

  UniqueFd console(
      ::open(console_log(container.id).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
  UniqueFd null_input(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!console.valid() || !null_input.valid()) return system_error(errno);
  auto go = make_pipe();
  auto failure = make_pipe();
  if (!go || !failure) return rpc_error(RpcCode::unknown, "pipe failed");

  // The child is PID 1 of new PID, user, mount and IPC namespaces at once; it waits on `go` until
  // its uid and gid maps are written.
  begin_spawn();
  long cloned =
      ::syscall(SYS_clone, CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | SIGCHLD,
                nullptr, nullptr, nullptr, nullptr);
  if (cloned < 0) {
    int clone_errno = errno;
    end_spawn(-1);
    return system_error(clone_errno);
  }
  if (cloned == 0) {
    int error_fd = failure->write_end.get();
    reset_signals();
    char byte;
    if (::read(go->read_end.get(), &byte, 1) != 1) ::_exit(127);
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        ::mount("/dev", dev.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0 ||
        ::mount(shared_source.c_str(), shared.c_str(), nullptr, MS_BIND, nullptr) != 0 ||
        ::mount("proc", proc.c_str(), "proc", MS_NOSUID | MS_NOEXEC | MS_NODEV, nullptr) != 0 ||
        ::mount("tmpfs", tmp.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,uid=0,gid=0") !=
            0 ||
        ::mount("tmpfs", run.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,uid=0,gid=0") != 0) {
      child_fail(error_fd, errno);
    }
    // Its own session and process group, so that a negative Kill signal reaches all of it.
    ::setsid();
    if (::dup2(null_input.get(), 0) < 0 || ::dup2(console.get(), 1) < 0 ||
        ::dup2(console.get(), 2) < 0) {
      child_fail(error_fd, errno);
    }
    error_fd = keep_only_stdio(error_fd);
    // Mounts and chroot still as acond's uid (0 outside, unmapped inside), which owns the state
    // directory: its path need not be open to the container's uid. Then root of the new user
    // namespace = the container's ID outside, with no supplementary groups.
    if (::chroot(rootfs.c_str()) != 0) child_fail(error_fd, errno);
    if (!become_namespace_root()) child_fail(error_fd, errno);
    // Created now that acond's uid is mapped: a new inode needs an owner the namespace knows.
    if (::mkdir("/run/user", 0755) != 0) child_fail(error_fd, errno);
    for (size_t i = 0; i < run_user_dirs.size(); ++i) {
      if (::mkdir(run_user_dirs[i].c_str(), 0700) != 0 ||
          ::chown(run_user_dirs[i].c_str(), inner_uids[i], inner_uids[i]) != 0) {
        child_fail(error_fd, errno);
      }
    }
    if (::chdir(working_dir.c_str()) != 0 && ::chdir("/") != 0) child_fail(error_fd, errno);
    int exec_errno = ENOENT;
    for (const auto& candidate : candidates) {
      ::execve(candidate.c_str(), argv.get(), envp.get());
      if (errno != ENOENT) exec_errno = errno;
    }
    child_fail(error_fd, exec_errno);
  }

  pid_t pid = static_cast<pid_t>(cloned);
  end_spawn(pid);
  go->read_end.reset();
  failure->write_end.reset();
  std::string uid_map;
  for (size_t i = 0; i < inner_uids.size(); ++i) {
    uid_map +=
        std::to_string(inner_uids[i]) + " " + std::to_string(container.outer_ids[i]) + " 1\n";
  }
  fs::path proc_dir = fs::path("/proc") / std::to_string(pid);
  Status mapped = write_text(proc_dir / "uid_map", uid_map);
  if (mapped) mapped = write_text(proc_dir / "gid_map", uid_map);
  if (!mapped) {
    ::kill(pid, SIGKILL);
    return rpc_error(RpcCode::unknown, mapped.error().message);
  }
  if (::write(go->write_end.get(), "1", 1) != 1) {
    ::kill(pid, SIGKILL);
    return system_error(errno);
  }
  go->write_end.reset();
  if (auto child_errno = exec_failure(failure->read_end.get())) return system_error(*child_errno);
  container.pid = pid;
  container.running = true;
  container.wstatus = 0;
  container.exe_path = spec.entrypoint.front();
  return Done{};
}

RpcResult<uint32_t> ContainerManager::start(ContainerSpec spec) {
  if (spec.entrypoint.empty()) {
    return rpc_error(RpcCode::invalid_argument, messages::kInvalidEntrypoint);
  }
  std::lock_guard lock(mutex_);
  if (spec.max_instances != 0) {
    uint64_t running = 0;
    for (const auto& [id, container] : containers_) {
      running += container.running && container.spec.image_id == spec.image_id;
    }
    if (running >= spec.max_instances) {
      return rpc_error(RpcCode::permission_denied, messages::kMaxInstances);
    }
  }
  Container container;
  container.id = next_id();
  container.outer_ids.push_back(container.id);
  for (size_t i = 0; i < spec.uids.size(); ++i) container.outer_ids.push_back(next_id());
  container.spec = std::move(spec);
  auto launched = launch(container);
  if (!launched) {
    unmount_rootfs(container);
    return launched.error();
  }
  uint32_t id = container.id;
  containers_.emplace(id, std::move(container));
  return id;
}

RpcStatus ContainerManager::kill(uint32_t container_id, int32_t signal_num) {
  std::lock_guard lock(mutex_);
  auto it = containers_.find(container_id);
  if (it == containers_.end()) {
    return rpc_error(RpcCode::invalid_argument, messages::kInvalidContainerId);
  }
  Container& container = it->second;
  if (!container.running) return rpc_error(RpcCode::unknown, messages::kContainerTerminated);
  const auto& allowed = container.spec.signals;
  if (std::find(allowed.begin(), allowed.end(), signal_num) == allowed.end()) {
    return rpc_error(RpcCode::permission_denied, messages::kSignalNotAllowed);
  }
  // Negative: the container's process group (its entrypoint leads one).
  pid_t target = signal_num < 0 ? -container.pid : container.pid;
  int64_t signal = signal_num < 0 ? -int64_t{signal_num} : int64_t{signal_num};
  if (signal >= NSIG) return system_error(EINVAL);
  if (::kill(target, static_cast<int>(signal)) != 0) return system_error(errno);
  return Done{};
}

bool ContainerManager::wait_exited(std::unique_lock<std::mutex>& lock, uint32_t id,
                                   std::chrono::steady_clock::time_point deadline) {
  return exited_.wait_until(lock, deadline, [&] {
    auto it = containers_.find(id);
    return it == containers_.end() || !it->second.running;
  });
}

RpcStatus ContainerManager::restart(uint32_t container_id, uint64_t timeout_seconds) {
  std::unique_lock lock(mutex_);
  auto it = containers_.find(container_id);
  if (it == containers_.end()) {
    return rpc_error(RpcCode::invalid_argument, messages::kInvalidContainerId);
  }
  Container& container = it->second;
  if (container.spec.no_restart || container.restarting) {
    return rpc_error(RpcCode::permission_denied, messages::kRestartNotAllowed);
  }
  if (container.running) {
    const auto& signals = container.spec.signals;
    int32_t first = signals.empty() ? 0 : signals.front();
    if (first != SIGTERM && first != -SIGTERM && first != SIGKILL && first != -SIGKILL) {
      return rpc_error(RpcCode::permission_denied, messages::kRestartNotAllowed);
    }
    if (timeout_seconds == 0)
      return rpc_error(RpcCode::deadline_exceeded, messages::kRestartTimeout);
    pid_t target = first < 0 ? -container.pid : container.pid;
    if (::kill(target, first < 0 ? -first : first) != 0) return system_error(errno);
    // Waited for without the lock (Inspect, Kill and Exec go on); `restarting` keeps a second
    // Restart of the same container out meanwhile.
    container.restarting = true;
    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::seconds(std::min<uint64_t>(timeout_seconds, 1u << 30));
    bool exited = wait_exited(lock, container_id, deadline);
    container.restarting = false;
    if (!exited) return rpc_error(RpcCode::deadline_exceeded, messages::kRestartTimeout);
  }
  return launch(container);
}

RpcResult<ExecReply> ContainerManager::exec(const ExecRequest& request) {
  const uint64_t capture = request.capture_size == 0 ? kDefaultCaptureSize : request.capture_size;
  if (request.stdin_data.size() > capture) {
    return rpc_error(RpcCode::invalid_argument, messages::kStdinTooLarge);
  }
  if (!is_entrypoint_name(request.command)) {
    return rpc_error(RpcCode::invalid_argument, messages::kPrivateEntryPoint);
  }
  std::unique_lock lock(mutex_);
  auto it = containers_.find(request.container_id);
  if (it == containers_.end()) {
    return rpc_error(RpcCode::invalid_argument, messages::kInvalidContainerId);
  }
  Container& container = it->second;
  if (!container.running) return rpc_error(RpcCode::unknown, messages::kContainerTerminated);
  if (request.timeout == 0) return rpc_error(RpcCode::unknown, messages::kInvalidTimeout);

  fs::path ns_dir = fs::path("/proc") / std::to_string(container.pid) / "ns";
  UniqueFd user_ns(::open((ns_dir / "user").c_str(), O_RDONLY | O_CLOEXEC));
  UniqueFd mnt_ns(::open((ns_dir / "mnt").c_str(), O_RDONLY | O_CLOEXEC));
  UniqueFd pid_ns(::open((ns_dir / "pid").c_str(), O_RDONLY | O_CLOEXEC));
  UniqueFd ipc_ns(::open((ns_dir / "ipc").c_str(), O_RDONLY | O_CLOEXEC));
  if (!user_ns.valid() || !mnt_ns.valid() || !pid_ns.valid() || !ipc_ns.valid()) {
    return system_error(errno);
  }
  const std::string rootfs = (container_dir(container.id) / "rootfs").string();
  const std::string program = std::string(kEntrypointDir) + request.command;
  std::vector<std::string> args = {program};
  args.insert(args.end(), request.arguments.begin(), request.arguments.end());
  std::vector<std::string> envs;
  for (const auto& entry : request.envs)
    if (entry.find('=') != std::string::npos) envs.push_back(entry);
  CStringArray argv(std::move(args)), envp(std::move(envs));

  // stdin is a pipe, not a socket: busybox cat sendfile()s a socket into its stdout pipe, which
  // holds that pipe's lock while it waits for input, so acond's read of stdout would block
  // before it had written stdin.
  auto stdin_pipe = make_pipe();
  if (!stdin_pipe) return rpc_error(RpcCode::unknown, "pipe failed");
  UniqueFd stdin_ours = std::move(stdin_pipe->write_end);
  UniqueFd stdin_theirs = std::move(stdin_pipe->read_end);
  auto out = make_pipe();
  auto err = make_pipe();
  auto failure = make_pipe();
  if (!out || !err || !failure) return rpc_error(RpcCode::unknown, "pipe failed");

  // A helper joins the container's namespaces (setns to a PID namespace applies to children), then
  // forks the command, waits for it and exits with its status.
  begin_spawn();
  pid_t helper = ::fork();
  if (helper < 0) {
    int fork_errno = errno;
    end_spawn(-1);
    return system_error(fork_errno);
  }
  if (helper == 0) {
    int error_fd = failure->write_end.get();
    if (::setns(user_ns.get(), CLONE_NEWUSER) != 0 || ::setns(mnt_ns.get(), CLONE_NEWNS) != 0 ||
        ::setns(pid_ns.get(), CLONE_NEWPID) != 0 || ::setns(ipc_ns.get(), CLONE_NEWIPC) != 0) {
      child_fail(error_fd, errno);
    }
    // chroot before taking the container's uid, as for the entrypoint.
    if (::chroot(rootfs.c_str()) != 0 || ::chdir("/") != 0) child_fail(error_fd, errno);
    if (!become_namespace_root()) child_fail(error_fd, errno);
    if (::dup2(stdin_theirs.get(), 0) < 0 || ::dup2(out->write_end.get(), 1) < 0 ||
        ::dup2(err->write_end.get(), 2) < 0) {
      child_fail(error_fd, errno);
    }
    error_fd = keep_only_stdio(error_fd);
    pid_t command = ::fork();
    if (command < 0) child_fail(error_fd, errno);
    if (command == 0) {
      reset_signals();
      ::execve(program.c_str(), argv.get(), envp.get());
      child_fail(error_fd, errno);
    }
    ::close(0);
    ::close(1);
    ::close(2);
    ::close(error_fd);
    int status = 0;
    while (::waitpid(command, &status, 0) < 0 && errno == EINTR) {
    }
    ::_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  }
  end_spawn(helper);
  lock.unlock();

  stdin_theirs.reset();
  out->write_end.reset();
  err->write_end.reset();
  failure->write_end.reset();
  if (auto child_errno = exec_failure(failure->read_end.get())) return system_error(*child_errno);

  // Our ends never block: a read or write that cannot proceed waits in poll(), which keeps the
  // deadline.
  for (int fd : {out->read_end.get(), err->read_end.get(), stdin_ours.get()}) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
  // stdin is written (then closed: EOF for the command), stdout and stderr read, until both
  // close or `timeout` seconds pass; the wait starts again after each stream's end.
  ExecReply reply;
  const auto timeout = std::chrono::seconds(std::min<uint64_t>(request.timeout, 1u << 30));
  auto deadline = std::chrono::steady_clock::now() + timeout;
  size_t stdin_done = 0;
  if (request.stdin_data.empty()) stdin_ours.reset();
  // Writing to a command that has exited raises SIGPIPE for this thread: blocked here, so the
  // write fails with EPIPE instead, and consumed below.
  sigset_t sigpipe, previous_mask;
  sigemptyset(&sigpipe);
  sigaddset(&sigpipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &sigpipe, &previous_mask);
  UniqueFd* streams[2] = {&out->read_end, &err->read_end};
  std::string* captured[2] = {&reply.stdout_data, &reply.stderr_data};
  char buffer[65536];
  while (streams[0]->valid() || streams[1]->valid()) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) break;
    pollfd fds[3];
    nfds_t count = 0;
    int index_of[3] = {-1, -1, -1};
    for (int i = 0; i < 2; ++i) {
      if (!streams[i]->valid()) continue;
      index_of[count] = i;
      fds[count++] = {streams[i]->get(), POLLIN, 0};
    }
    if (stdin_ours.valid()) {
      index_of[count] = 2;
      fds[count++] = {stdin_ours.get(), POLLOUT, 0};
    }
    int wait_ms = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1);
    int ready = ::poll(fds, count, wait_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) break;
    for (nfds_t k = 0; k < count; ++k) {
      if (fds[k].revents == 0) continue;
      if (index_of[k] == 2) {
        ssize_t sent = ::write(stdin_ours.get(), request.stdin_data.data() + stdin_done,
                               request.stdin_data.size() - stdin_done);
        if (sent > 0) stdin_done += static_cast<size_t>(sent);
        if ((sent < 0 && errno != EAGAIN && errno != EINTR) ||
            stdin_done == request.stdin_data.size()) {
          stdin_ours.reset();
        }
        continue;
      }
      int i = index_of[k];
      ssize_t got = ::read(streams[i]->get(), buffer, sizeof buffer);
      if (got > 0) {
        append_tail(*captured[i], buffer, static_cast<size_t>(got), capture);
      } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
        streams[i]->reset();
        deadline = std::chrono::steady_clock::now() + timeout;
      }
    }
  }
  stdin_ours.reset();
  const timespec no_wait{};
  while (::sigtimedwait(&sigpipe, nullptr, &no_wait) > 0) {
  }
  pthread_sigmask(SIG_SETMASK, &previous_mask, nullptr);
  // Timed out: the command keeps running; whatever it still writes is read and dropped.
  {
    std::lock_guard watch_lock(watch_mutex_);
    for (UniqueFd* stream : streams) {
      if (stream->valid()) draining_.push_back(std::move(*stream));
    }
  }
  wake_reaper();
  return reply;
}

RpcResult<std::vector<ContainerInfo>> ContainerManager::inspect(uint32_t container_id) {
  std::lock_guard lock(mutex_);
  if (container_id != 0 && !containers_.count(container_id)) {
    return rpc_error(RpcCode::invalid_argument, messages::kInvalidContainerId);
  }
  std::vector<ContainerInfo> out;
  for (auto& [id, container] : containers_) {
    if (container_id != 0 && id != container_id) continue;
    ContainerInfo info;
    info.container_id = id;
    info.image_id = container.spec.image_id;
    info.wstatus = container.running ? 0 : container.wstatus;
    if (container.running) {
      // Name and State from /proc/<pid>/status, the executable relative to the root. A process
      // that has just exited (a zombie not yet reaped) keeps its last exe_path.
      fs::path proc_dir = fs::path("/proc") / std::to_string(container.pid);
      std::istringstream status(read_small_file(proc_dir / "status"));
      std::string line, name;
      while (std::getline(status, line)) {
        std::istringstream fields(line);
        std::string key, value;
        fields >> key >> value;
        if (key == "Name:") name = value;
        if (key == "State:" && !value.empty()) info.state = static_cast<unsigned char>(value[0]);
      }
      std::error_code ec;
      fs::path exe = fs::read_symlink(proc_dir / "exe", ec);
      fs::path rootfs = container_dir(id) / "rootfs";
      if (!ec && !name.empty()) {
        std::string exe_text = exe.string(), prefix = rootfs.string();
        if (exe_text.starts_with(prefix + "/")) exe_text.erase(0, prefix.size());
        container.exe_path = name + "[" + exe_text + "]";
      }
      if (info.state == 0) info.state = 'Z';
    }
    info.exe_path = container.exe_path;
    out.push_back(std::move(info));
  }
  return out;
}

std::map<std::string, std::vector<uint32_t>> ContainerManager::containers_by_image() const {
  std::lock_guard lock(mutex_);
  std::map<std::string, std::vector<uint32_t>> out;
  for (const auto& [id, container] : containers_) out[container.spec.image_id].push_back(id);
  return out;
}

void ContainerManager::stop_all(std::chrono::milliseconds grace) {
  std::unique_lock lock(mutex_);
  auto all_exited = [&] {
    return std::none_of(containers_.begin(), containers_.end(),
                        [](const auto& entry) { return entry.second.running; });
  };
  if (grace.count() > 0) {
    for (auto& [id, container] : containers_)
      if (container.running) ::kill(container.pid, SIGTERM);
    exited_.wait_for(lock, grace, all_exited);
  }
  for (auto& [id, container] : containers_)
    if (container.running) ::kill(container.pid, SIGKILL);
  exited_.wait_for(lock, std::chrono::seconds(1), all_exited);
}

void ContainerManager::begin_spawn() {
  std::lock_guard lock(watch_mutex_);
  ++spawning_;
}

void ContainerManager::end_spawn(pid_t pid) {
  if (pid > 0) watch(pid);
  std::lock_guard lock(watch_mutex_);
  --spawning_;
}

bool ContainerManager::owns_child(pid_t pid) {
  std::lock_guard lock(watch_mutex_);
  return spawning_ > 0 || watched_.count(pid) > 0;
}

bool ContainerManager::any_running() const {
  std::lock_guard lock(mutex_);
  return std::any_of(containers_.begin(), containers_.end(),
                     [](const auto& entry) { return entry.second.running; });
}

void ContainerManager::set_reap_hook(std::function<void(bool containers_running)> hook) {
  std::lock_guard lock(watch_mutex_);
  reap_hook_ = std::move(hook);
}

void ContainerManager::watch(pid_t pid) {
  // A pidfd (Linux 5.3) becomes readable when the child exits; the child stays a zombie until the
  // reaper collects it, so opening it after fork is not racy.
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd.valid()) return;
  std::lock_guard lock(watch_mutex_);
  watched_[pid] = std::move(pidfd);
  if (!reaper_.joinable()) reaper_ = std::thread([this] { reaper_loop(); });
  wake_reaper();
}

void ContainerManager::wake_reaper() {
  uint64_t one = 1;
  ssize_t written = ::write(wake_fd_.get(), &one, sizeof one);
  (void)written;
}

void ContainerManager::reaper_loop() {
  using namespace std::chrono_literals;
  char buffer[65536];
  std::optional<std::chrono::steady_clock::time_point> stop_deadline;
  for (;;) {
    std::vector<pollfd> fds;
    std::vector<pid_t> pids;  // per fds entry: the child, or 0 for a stream to drain
    {
      std::lock_guard lock(watch_mutex_);
      if (stopping_ && watched_.empty() && draining_.empty()) return;
      if (stopping_) {
        // Shutting down: drop the streams; children still get reaped below.
        draining_.clear();
      }
      fds.push_back({wake_fd_.get(), POLLIN, 0});
      pids.push_back(0);
      for (const auto& [pid, fd] : watched_) {
        if (!fd.valid()) continue;
        fds.push_back({fd.get(), POLLIN, 0});
        pids.push_back(pid);
      }
      for (const auto& fd : draining_) {
        fds.push_back({fd.get(), POLLIN, 0});
        pids.push_back(0);
      }
    }
    bool stopping = false;
    {
      std::lock_guard lock(watch_mutex_);
      stopping = stopping_;
    }
    // Shutting down with children left (Exec helpers whose command outlives its container's
    // SIGKILL should not exist, but a stuck one must not hang acond's exit): at most 5 s more.
    if (stopping && !stop_deadline) stop_deadline = std::chrono::steady_clock::now() + 5s;
    if (stopping && std::chrono::steady_clock::now() > *stop_deadline) return;
    int ready = ::poll(fds.data(), fds.size(), stopping ? 100 : -1);
    if (ready < 0 && errno != EINTR) return;
    if (fds[0].revents) {
      uint64_t count;
      ssize_t got = ::read(wake_fd_.get(), &count, sizeof count);
      (void)got;
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      if (pids[i] == 0) {
        ssize_t got = ::read(fds[i].fd, buffer, sizeof buffer);
        if (got <= 0 && !(got < 0 && (errno == EAGAIN || errno == EINTR))) {
          std::lock_guard lock(watch_mutex_);
          std::erase_if(draining_, [&](const UniqueFd& fd) { return fd.get() == fds[i].fd; });
        }
        continue;
      }
      siginfo_t info{};
      int waited = ::waitid(P_PID, static_cast<id_t>(pids[i]), &info, WEXITED | WNOHANG);
      if (waited != 0 || info.si_pid != pids[i]) {
        if (waited != 0 && errno == ECHILD) {
          std::lock_guard lock(watch_mutex_);
          watched_.erase(pids[i]);
        }
        continue;
      }
      {
        std::lock_guard lock(watch_mutex_);
        watched_.erase(pids[i]);
      }
      bool containers_running = false;
      {
        std::lock_guard lock(mutex_);
        for (auto& [id, container] : containers_) {
          if (container.running && container.pid == pids[i]) {
            container.running = false;
            container.wstatus = info.si_status;  // exit code, or the terminating signal
          }
          containers_running = containers_running || container.running;
        }
        exited_.notify_all();
      }
      std::function<void(bool)> hook;
      {
        std::lock_guard lock(watch_mutex_);
        hook = reap_hook_;
      }
      if (hook) hook(containers_running);
    }
  }
}

}  // namespace acon::acond
