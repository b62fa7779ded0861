#include "acon/acond/pid1.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/module.h>
#include <net/if.h>
#include <net/route.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

// Linux 5.17 added it; older uapi headers lack the name.
#ifndef MODULE_INIT_COMPRESSED_FILE
#define MODULE_INIT_COMPRESSED_FILE 4
#endif

bool compressed_module(std::string_view path) {
  return path.ends_with(".xz") || path.ends_with(".zst") || path.ends_with(".gz");
}

std::string ipv4_text(uint32_t address) {
  char text[INET_ADDRSTRLEN] = {};
  in_addr value{};
  value.s_addr = address;
  ::inet_ntop(AF_INET, &value, text, sizeof text);
  return text;
}

sockaddr ipv4_sockaddr(uint32_t address) {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_addr.s_addr = address;
  sockaddr out{};
  static_assert(sizeof in <= sizeof out);
  std::memcpy(&out, &in, sizeof in);
  return out;
}

// The ifreq for `interface`; its length was checked by the caller (config.cc) or is checked here.
Result<ifreq> interface_request(const std::string& interface) {
  ifreq request{};
  if (interface.empty() || interface.size() >= sizeof request.ifr_name) {
    return make_error(Errc::invalid_argument,
                      "network.interface: '" + interface + "' is not 1..15 characters");
  }
  std::memcpy(request.ifr_name, interface.data(), interface.size());
  return request;
}

Result<UniqueFd> ioctl_socket() {
  UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  const int err = errno;
  if (!fd.valid()) return make_error(Errc::io, "socket(AF_INET): " + errno_text(err));
  return fd;
}

Status interface_ioctl(int fd, unsigned long request, ifreq& data, const std::string& interface,
                       const char* step) {
  if (::ioctl(fd, request, &data) != 0) {
    const int err = errno;  // before any allocation below
    return make_error(Errc::io,
                      "network interface " + interface + ": " + step + ": " + errno_text(err));
  }
  return {};
}

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

// ---- a VM's set-up ----

Status load_kernel_modules(std::span<const std::string> paths, const LineSink& log) {
  for (const std::string& path : paths) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
      const int err = errno;
      return make_error(Errc::io, "module " + path + ": open: " + errno_text(err));
    }
    const unsigned flags = compressed_module(path) ? MODULE_INIT_COMPRESSED_FILE : 0;
    const bool loaded = ::syscall(SYS_finit_module, fd.get(), "", flags) == 0;
    const int err = loaded ? 0 : errno;
    if (!loaded && err != EEXIST) {
      return make_error(Errc::io, "module " + path + ": finit_module: " + errno_text(err));
    }
    if (log) {
      log("acond event=module-loaded path=" + path + (loaded ? "" : " already=1"));
    }
  }
  return {};
}

Status bring_up_interface(const std::string& interface) {
  ACON_TRY(UniqueFd fd, ioctl_socket());
  ACON_TRY(ifreq request, interface_request(interface));
  ACON_CHECK(interface_ioctl(fd.get(), SIOCGIFFLAGS, request, interface, "SIOCGIFFLAGS"));
  request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP);
  return interface_ioctl(fd.get(), SIOCSIFFLAGS, request, interface, "SIOCSIFFLAGS (up)");
}

Status configure_ipv4(const NetworkConfig& network, const LineSink& log) {
  const std::string& name = network.interface;
  if (network.prefix_length > 32) {
    return make_error(Errc::invalid_argument, "network.address: prefix length above 32");
  }
  ACON_TRY(UniqueFd fd, ioctl_socket());
  ACON_TRY(ifreq request, interface_request(name));
  request.ifr_addr = ipv4_sockaddr(network.address);
  ACON_CHECK(interface_ioctl(fd.get(), SIOCSIFADDR, request, name, "SIOCSIFADDR"));
  const uint32_t mask =
      network.prefix_length == 0 ? 0 : htonl(~uint32_t{0} << (32 - network.prefix_length));
  request.ifr_netmask = ipv4_sockaddr(mask);
  ACON_CHECK(interface_ioctl(fd.get(), SIOCSIFNETMASK, request, name, "SIOCSIFNETMASK"));
  ACON_CHECK(bring_up_interface(name));
  if (network.gateway) {
    rtentry route{};
    route.rt_dst = ipv4_sockaddr(0);
    route.rt_genmask = ipv4_sockaddr(0);
    route.rt_gateway = ipv4_sockaddr(*network.gateway);
    route.rt_flags = RTF_UP | RTF_GATEWAY;
    std::string device = name;  // rt_dev is a char*, not const
    route.rt_dev = device.data();
    const int err = ::ioctl(fd.get(), SIOCADDRT, &route) == 0 ? 0 : errno;
    if (err != 0 && err != EEXIST) {
      return make_error(Errc::io, "network interface " + name + ": default route via " +
                                      ipv4_text(*network.gateway) + ": " + errno_text(err));
    }
  }
  if (log) {
    log("acond event=network-configured interface=" + name +
        " address=" + ipv4_text(network.address) + "/" + std::to_string(network.prefix_length) +
        " gateway=" + (network.gateway ? ipv4_text(*network.gateway) : std::string("none")));
  }
  return {};
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
