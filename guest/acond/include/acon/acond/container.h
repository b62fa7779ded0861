// acond's containers: each one an image's entrypoint started as PID 1 of new user, mount, PID and
// IPC namespaces on an overlay of the image's layers, as ACON's acond starts them (commit 3430805,
// acond/src/container.rs), with the differences docs/acond.md lists. Start, Kill, Restart, Exec
// and Inspect follow ACON's rules and answer with its status codes and messages.
//
// Per container, under <state_dir>/containers/<cid>/:
//   base/      the bottom overlay layer acond adds: the mount points (dev, proc, tmp, run, shared)
//   upper/ work/  the writable layer when the manifest sets writableFS
//   rootfs/    the overlay mount (kept mounted after exit, for Restart; unmounted at shutdown)
//   console.log   the entrypoint's stdout and stderr (stdin is /dev/null)
// and <state_dir>/shared/ is bind-mounted on /shared in every container.
//
// Locking: one mutex guards the container table. Start (mounting, cloning, waiting for the exec)
// holds it; Exec holds it only while it forks its helper, and Restart only while it checks and
// signals and later while it re-creates: waiting for Exec output or for a container to exit is
// done without it, so Inspect, Kill and other calls proceed meanwhile.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "acon/acond/runtime.h"
#include "acon/common/unique_fd.h"

namespace acon::acond {

namespace messages {
inline constexpr std::string_view kInvalidEntrypoint = "Invalid entrypoint";
inline constexpr std::string_view kInvalidContainerId = "Invalid Container ID";
inline constexpr std::string_view kContainerTerminated = "Container terminated";
inline constexpr std::string_view kSignalNotAllowed = "Signal not allowed";
inline constexpr std::string_view kRestartNotAllowed = "Restarting container not allowed";
inline constexpr std::string_view kRestartTimeout = "Timeout restarting container";
inline constexpr std::string_view kPrivateEntryPoint = "Private entry point";
inline constexpr std::string_view kStdinTooLarge = "Stdin buffer size exceeds capture size";
inline constexpr std::string_view kInvalidTimeout = "Invalid timeout";
// Ours (ACON does not enforce maxInstances).
inline constexpr std::string_view kMaxInstances = "Max instances reached";
}  // namespace messages

// What starting one image needs, taken from its manifest by the Runtime.
struct ContainerSpec {
  std::string image_id;
  std::vector<std::filesystem::path> layers;  // unpacked layer directories, bottom-first
  std::vector<std::string> entrypoint;        // non-empty
  std::vector<std::string> env;               // resolved "K=V" (image::EnvRules)
  std::string working_dir;
  std::vector<uint32_t> uids;  // the manifest's extra uids (inside the container)
  bool writable_fs = false;
  bool no_restart = false;
  std::vector<int32_t> signals;  // the Kill allow-list, sign included
  uint64_t max_instances = 0;    // 0: no limit
};

struct ContainerInfo {
  uint32_t container_id = 0;
  uint32_t state = 0;   // ASCII of /proc/<pid>/status State while running; 0 once exited
  int32_t wstatus = 0;  // exit code, or the signal that killed it; 0 while running
  std::string image_id;
  std::string exe_path;  // "Name[/path-inside-rootfs]"; entrypoint[0] until the first Inspect
};

struct ExecRequest {
  uint32_t container_id = 0;
  std::string command;   // a file name in /lib/acon/entrypoint.d
  uint64_t timeout = 0;  // seconds
  std::vector<std::string> arguments;
  std::vector<std::string> envs;
  std::string stdin_data;
  uint64_t capture_size = 0;  // 0: 0x20000
};

struct ExecReply {
  std::string stdout_data;  // the last capture_size bytes
  std::string stderr_data;
};

// Whether an Exec `command` names a file directly in /lib/acon/entrypoint.d: one path component
// starting with an upper-case ASCII letter, with no '/' and no NUL (so no "..", no escape).
bool is_entrypoint_name(std::string_view command);

// Why this machine cannot run containers, or "" when it can: launching one needs root (overlay
// mounts, uid maps) and new user, mount, PID and IPC namespaces, tried in a child process.
std::string containers_unavailable();

class ContainerManager {
 public:
  explicit ContainerManager(std::filesystem::path state_dir);
  // Stops every container (SIGKILL) and unmounts their roots.
  ~ContainerManager();
  ContainerManager(const ContainerManager&) = delete;
  ContainerManager& operator=(const ContainerManager&) = delete;

  RpcResult<uint32_t> start(ContainerSpec spec);
  RpcStatus kill(uint32_t container_id, int32_t signal_num);
  RpcStatus restart(uint32_t container_id, uint64_t timeout_seconds);
  RpcResult<ExecReply> exec(const ExecRequest& request);
  // 0: every container, in ID order.
  RpcResult<std::vector<ContainerInfo>> inspect(uint32_t container_id);

  // Image ID -> its containers' IDs (running or exited), for attestation_data.
  std::map<std::string, std::vector<uint32_t>> containers_by_image() const;
  // SIGTERM to every running container, SIGKILL to those still running after `grace`; returns
  // once all have exited (or after a further second). Containers stay listed.
  void stop_all(std::chrono::milliseconds grace);

  // Where a container's stdout and stderr go.
  std::filesystem::path console_log(uint32_t container_id) const;
  std::filesystem::path container_dir(uint32_t container_id) const;

  // PID 1 (pid1.h). The hook is called by the reaper after each exit it records (a container's
  // or an Exec helper's) with whether a container is still running: the idle power-off's arming
  // event. Set it before the first start().
  void set_reap_hook(std::function<void(bool containers_running)> hook);
  bool any_running() const;
  // Whether `pid` is a child this manager reaps, or may be one: while a child is being forked and
  // not yet watched, every pid is claimed. OrphanReaper leaves these alone.
  bool owns_child(pid_t pid);

 private:
  struct Container {
    uint32_t id = 0;
    ContainerSpec spec;
    std::vector<uint32_t> outer_ids;  // id, then one per extra uid
    pid_t pid = -1;                   // in acond's PID namespace
    bool running = false;
    bool restarting = false;
    int32_t wstatus = 0;
    std::string exe_path;
    bool mounted = false;
  };

  RpcStatus launch(Container& container);  // mounts (if needed), clones, waits for the exec
  Status mount_rootfs(Container& container);
  void unmount_rootfs(Container& container);
  uint32_t next_id();
  // Tracks a child of acond: the reaper records its exit (container or Exec helper).
  void watch(pid_t pid);
  // Around each fork/clone: begin_spawn() before it; end_spawn(pid) after (watches pid > 0).
  void begin_spawn();
  void end_spawn(pid_t pid);
  void reaper_loop();
  void wake_reaper();
  bool wait_exited(std::unique_lock<std::mutex>& lock, uint32_t id,
                   std::chrono::steady_clock::time_point deadline);

  std::filesystem::path state_dir_;
  mutable std::mutex mutex_;
  std::condition_variable exited_;  // notified when the reaper records an exit
  std::map<uint32_t, Container> containers_;
  uint32_t counter_ = 2;
  uint32_t overflow_uid_ = 65534;

  // Reaper: pidfds of watched children, output pipes left to drain after an Exec timeout.
  std::mutex watch_mutex_;
  std::map<pid_t, UniqueFd> watched_;
  std::vector<UniqueFd> draining_;
  UniqueFd wake_fd_;  // eventfd
  bool stopping_ = false;
  int spawning_ = 0;  // children forked, not yet watched
  std::function<void(bool containers_running)> reap_hook_;
  std::thread reaper_;
};

}  // namespace acon::acond
