// acond's duties as PID 1 of a TD, as ACON's acond performs them (commit 3430805,
// acond/src/main.rs, mount.rs, server.rs) with the differences docs/acond.md "PID 1" lists:
//  - early mounts: the file systems a bare initramfs lacks (mount_early_filesystems);
//  - reaping orphans: every process whose parent dies is re-parented to PID 1 (OrphanReaper);
//  - a VM's own set-up, beyond ACON (whose TD kernel has what it needs built in): kernel modules
//    (load_kernel_modules) and the network (bring_up_loopback, configure_ipv4);
//  - idle power-off: no container running and no RPC for acond.timeout seconds (IdleTimer, the
//    rules; IdleWatchdog, the thread that acts on them).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>

#include "acon/acond/config.h"
#include "acon/common/result.h"
#include "acon/common/unique_fd.h"

namespace acon::acond {

// One log line ("acond event=... key=value").
using LineSink = std::function<void(const std::string& line)>;

// When <root>/proc/mounts does not exist (nothing has mounted /proc yet), mounts under `root`, as
// ACON does: devtmpfs on dev, devpts on dev/pts, proc on proc, sysfs on sys, tmpfs on shared
// (size=1m) and tmpfs on run (size=50%, mode 0755); then, where the directories exist, securityfs
// on sys/kernel/security (a vTPM guest reads the firmware's event log there) and cgroup2 on
// sys/fs/cgroup. Missing mount points are created. Always (mounted here or not) creates the
// dev/fd, dev/stdin, dev/stdout and dev/stderr links to /proc/self/fd[/0,1,2], an existing one
// being kept. Each failure is logged with the mount point and errno; only a failure to mount proc
// is returned, since acond reads /proc/<pid> for every container. `root` is "/" in a TD; tests
// pass a directory in a private mount namespace.
Status mount_early_filesystems(const std::filesystem::path& root, const LineSink& log);

// The configuration file a PID-1 acond reads when no --config is given (docs/acond.md "PID 1").
inline constexpr const char* kPid1ConfigPath = "/etc/acond.toml";

// Loads each kernel module file with finit_module(2), in order (a module's dependencies first: no
// modprobe resolves them here). A module already loaded (EEXIST) counts as loaded; any other
// failure stops the loading and is returned with the module's path and errno. Names ending in
// .xz, .zst or .gz are passed with MODULE_INIT_COMPRESSED_FILE (the kernel must then have been
// built with MODULE_DECOMPRESS). Each module is logged (`acond event=module-loaded path=...`).
Status load_kernel_modules(std::span<const std::string> paths, const LineSink& log);

// Sets IFF_UP on `interface` (SIOCSIFFLAGS), as a bare kernel leaves even `lo` down.
Status bring_up_interface(const std::string& interface);

// Gives `network.interface` its address and netmask (SIOCSIFADDR, SIOCSIFNETMASK), brings it up
// and, with a gateway, adds the default route through it (SIOCADDRT). An existing default route
// (EEXIST) is kept. Errors name the interface and the step.
Status configure_ipv4(const NetworkConfig& network, const LineSink& log);

// The idle power-off rules (ACON's start_timer and its callers), with time passed in. The timer
// is armed at construction (boot). An arming event (a reaped child that leaves no container
// running) starts the countdown again; a disarming event (a successful RPC other than re-adding a
// loaded manifest) stops it until the next arming event. A timeout of 0 never expires. A VM that
// gets an RPC and never starts a container therefore never powers off, as with ACON.
class IdleTimer {
 public:
  using Clock = std::chrono::steady_clock;
  IdleTimer(std::chrono::milliseconds timeout, Clock::time_point now);

  void rpc_succeeded();
  void child_reaped(bool containers_running, Clock::time_point now);

  bool armed() const { return deadline_.has_value(); }
  // When it expires if nothing happens before; none while disarmed or with a timeout of 0.
  std::optional<Clock::time_point> deadline() const;
  bool expired(Clock::time_point now) const;

 private:
  std::chrono::milliseconds timeout_;
  std::optional<Clock::time_point> deadline_;
};

// IdleTimer on the steady clock, with a thread that calls `on_expired` once when it expires (then
// stops watching). Safe to call from any thread (RPC handlers, the reapers).
class IdleWatchdog {
 public:
  IdleWatchdog(std::chrono::milliseconds timeout, std::function<void()> on_expired);
  ~IdleWatchdog();
  IdleWatchdog(const IdleWatchdog&) = delete;
  IdleWatchdog& operator=(const IdleWatchdog&) = delete;

  void rpc_succeeded();
  void child_reaped(bool containers_running);

 private:
  void run();

  std::mutex mutex_;
  std::condition_variable changed_;
  IdleTimer timer_;
  bool stopping_ = false;
  std::function<void()> on_expired_;
  std::thread thread_;
};

// Reaps the children of acond that ContainerManager does not own: as PID 1, every orphan of the TD.
// ContainerManager reaps its own children (container inits, Exec helpers) through pidfds with
// waitid(P_PID), and reports their statuses to Inspect, Restart and Exec. A second waiter on
// P_ALL would race it for those statuses, so this one only peeks (waitid(P_ALL, WNOWAIT)) and
// reaps a zombie only when ContainerManager::owns_child() says it is not one of its own. A zombie
// keeps its pid until it is reaped, so a pid seen here cannot become ContainerManager's between
// the peek and the reap; and while ContainerManager is between a fork and registering the child,
// owns_child() claims every pid, so a child that dies at once is not taken for an orphan. When the
// peek finds one of ContainerManager's zombies first (it shadows the others until its owner reaps
// it), this looks again shortly rather than waiting for the next SIGCHLD.
//
// SIGCHLD must be blocked in every thread (main() blocks it before any thread starts): this
// thread takes it through a signalfd.
class OrphanReaper {
 public:
  // `owned(pid)`: whether another waiter reaps pid (in acond, ContainerManager::owns_child).
  // `on_reaped(pid, status)` is called from the reaper's thread after each reap.
  static Result<std::unique_ptr<OrphanReaper>> start(
      std::function<bool(pid_t pid)> owned, std::function<void(pid_t pid, int status)> on_reaped);
  ~OrphanReaper();
  OrphanReaper(const OrphanReaper&) = delete;
  OrphanReaper& operator=(const OrphanReaper&) = delete;

 private:
  OrphanReaper(std::function<bool(pid_t)> owned, std::function<void(pid_t, int)> on_reaped,
               UniqueFd signal_fd, UniqueFd stop_fd);
  void run();
  // Reaps every foreign zombie there is; true when an owned one is left in the way.
  bool reap_foreign();

  std::function<bool(pid_t)> owned_;
  std::function<void(pid_t, int)> on_reaped_;
  UniqueFd signal_fd_, stop_fd_;
  std::thread thread_;
};

// Powers the TD off after acond has stopped: sync(), then reboot(RB_POWER_OFF). Returns only if
// the kernel refuses (the error, with errno). In a PID namespace other than the initial one the
// kernel ends the namespace instead; its init's parent sees it killed by SIGINT (reboot(2)).
Status power_off();

}  // namespace acon::acond
