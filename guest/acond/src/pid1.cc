#include "acon/acond/pid1.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace acon::acond {
namespace fs = std::filesystem;
namespace {

struct EarlyMount {
  const char* target;  // relative to the root
  const char* fstype;
  const char* options;   // nullptr: none
  bool only_if_present;  // ours, beyond ACON's list: mounted where the directory already exists
};

// ACON's ROOTFS_MOUNTS (mount.rs), in its order, then what a vTPM guest also reads.
constexpr EarlyMount kEarlyMounts[] = {
    {"dev", "devtmpfs", nullptr, false},
    {"dev/pts", "devpts", nullptr, false},
    {"proc", "proc", nullptr, false},
    {"sys", "sysfs", nullptr, false},
    {"shared", "tmpfs", "size=1m", false},
    {"run", "tmpfs", "size=50%,mode=0755", false},
    {"sys/kernel/security", "securityfs", nullptr, true},
    {"sys/fs/cgroup", "cgroup2", nullptr, true},
};

// ACON's SOFT_LINKS: link -> target.
constexpr std::pair<const char*, const char*> kDevLinks[] = {
    {"dev/fd", "/proc/self/fd"},
    {"dev/stdin", "/proc/self/fd/0"},
    {"dev/stdout", "/proc/self/fd/1"},
    {"dev/stderr", "/proc/self/fd/2"},
};

std::string errno_text(int err) { return std::to_string(err) + " (" + std::strerror(err) + ")"; }

}  // namespace

Status mount_early_filesystems(const fs::path& root, const LineSink& log) {
  auto report = [&](const std::string& line) {
    if (log) log(line);
  };
  Status result;
  std::error_code ec;
  if (!fs::exists(root / "proc" / "mounts", ec)) {
    for (const EarlyMount& entry : kEarlyMounts) {
      fs::path target = root / entry.target;
      if (entry.only_if_present && !fs::is_directory(target, ec)) continue;
      if (::mkdir(target.c_str(), 0755) != 0 && errno != EEXIST) {
        report("acond event=mount-failed target=" + target.string() + " fstype=" + entry.fstype +
               " step=mkdir errno=" + errno_text(errno));
        continue;
      }
      if (::mount(entry.fstype, target.c_str(), entry.fstype, 0, entry.options) != 0) {
        int err = errno;
        report("acond event=mount-failed target=" + target.string() + " fstype=" + entry.fstype +
               " errno=" + errno_text(err));
        if (std::string_view(entry.target) == "proc") {
          result =
              make_error(Errc::io, "mount proc on " + target.string() + ": " + errno_text(err));
        }
        continue;
      }
      report("acond event=mounted target=" + target.string() + " fstype=" + entry.fstype);
    }
  }
  for (const auto& [link, target] : kDevLinks) {
    fs::path path = root / link;
    if (::symlink(target, path.c_str()) != 0 && errno != EEXIST) {
      report("acond event=symlink-failed link=" + path.string() + " errno=" + errno_text(errno));
    }
  }
  return result;
}

// ---- idle power-off ----

IdleTimer::IdleTimer(std::chrono::milliseconds timeout, Clock::time_point now)
    : timeout_(timeout), deadline_(now + timeout) {}

void IdleTimer::rpc_succeeded() { deadline_.reset(); }

void IdleTimer::child_reaped(bool containers_running, Clock::time_point now) {
  if (!containers_running) deadline_ = now + timeout_;
}

std::optional<IdleTimer::Clock::time_point> IdleTimer::deadline() const {
  if (timeout_.count() == 0) return std::nullopt;
  return deadline_;
}

bool IdleTimer::expired(Clock::time_point now) const {
  auto when = deadline();
  return when && now >= *when;
}

IdleWatchdog::IdleWatchdog(std::chrono::milliseconds timeout, std::function<void()> on_expired)
    : timer_(timeout, IdleTimer::Clock::now()), on_expired_(std::move(on_expired)) {
  thread_ = std::thread([this] { run(); });
}

IdleWatchdog::~IdleWatchdog() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void IdleWatchdog::rpc_succeeded() {
  std::lock_guard lock(mutex_);
  timer_.rpc_succeeded();
  changed_.notify_all();
}

void IdleWatchdog::child_reaped(bool containers_running) {
  std::lock_guard lock(mutex_);
  timer_.child_reaped(containers_running, IdleTimer::Clock::now());
  changed_.notify_all();
}

void IdleWatchdog::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    auto now = IdleTimer::Clock::now();
    if (timer_.expired(now)) {
      lock.unlock();
      on_expired_();
      return;
    }
    if (auto deadline = timer_.deadline()) {
      changed_.wait_until(lock, *deadline);
    } else {
      changed_.wait(lock);
    }
  }
}

// ---- orphans ----

Result<std::unique_ptr<OrphanReaper>> OrphanReaper::start(
    std::function<bool(pid_t pid)> owned, std::function<void(pid_t pid, int status)> on_reaped) {
  sigset_t child;
  sigemptyset(&child);
  sigaddset(&child, SIGCHLD);
  UniqueFd signal_fd(::signalfd(-1, &child, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!signal_fd.valid()) {
    return make_error(Errc::io, "signalfd(SIGCHLD): " + errno_text(errno));
  }
  UniqueFd stop_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop_fd.valid()) return make_error(Errc::io, "eventfd: " + errno_text(errno));
  return std::unique_ptr<OrphanReaper>(new OrphanReaper(std::move(owned), std::move(on_reaped),
                                                        std::move(signal_fd), std::move(stop_fd)));
}

OrphanReaper::OrphanReaper(std::function<bool(pid_t)> owned,
                           std::function<void(pid_t, int)> on_reaped, UniqueFd signal_fd,
                           UniqueFd stop_fd)
    : owned_(std::move(owned)),
      on_reaped_(std::move(on_reaped)),
      signal_fd_(std::move(signal_fd)),
      stop_fd_(std::move(stop_fd)) {
  thread_ = std::thread([this] { run(); });
}

OrphanReaper::~OrphanReaper() {
  uint64_t one = 1;
  ssize_t written = ::write(stop_fd_.get(), &one, sizeof one);
  (void)written;
  thread_.join();
}

void OrphanReaper::run() {
  // Zombies from before the signalfd existed have raised their SIGCHLD already: look once first.
  bool shadowed = reap_foreign();
  for (;;) {
    pollfd fds[2] = {{signal_fd_.get(), POLLIN, 0}, {stop_fd_.get(), POLLIN, 0}};
    int ready = ::poll(fds, 2, shadowed ? 100 : -1);
    if (ready < 0 && errno != EINTR) return;
    if (fds[1].revents) return;
    if (fds[0].revents) {
      // SIGCHLD does not queue: one read stands for any number of exits, so reap until none.
      signalfd_siginfo info;
      while (::read(signal_fd_.get(), &info, sizeof info) == sizeof info) {
      }
    }
    shadowed = reap_foreign();
  }
}

bool OrphanReaper::reap_foreign() {
  for (;;) {
    siginfo_t peeked{};
    if (::waitid(P_ALL, 0, &peeked, WEXITED | WNOHANG | WNOWAIT) != 0) return false;  // ECHILD
    if (peeked.si_pid == 0) return false;  // children, none exited
    pid_t pid = peeked.si_pid;
    if (owned_(pid)) return true;
    siginfo_t reaped{};
    if (::waitid(P_PID, static_cast<id_t>(pid), &reaped, WEXITED | WNOHANG) != 0 ||
        reaped.si_pid != pid) {
      return true;  // not reapable after all: look again shortly rather than spin
    }
    if (on_reaped_) on_reaped_(pid, reaped.si_status);
  }
}

Status power_off() {
  ::sync();
  if (::reboot(RB_POWER_OFF) != 0) {
    return make_error(Errc::io, "reboot(RB_POWER_OFF): " + errno_text(errno));
  }
  return {};
}

}  // namespace acon::acond
