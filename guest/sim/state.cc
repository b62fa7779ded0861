// The shared state file and the "sim" Backend. See state.h.
#include "acon/guest/sim/state.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "acon/common/unique_fd.h"
#include "internal.h"

namespace acon::guest::sim {
namespace {

Error io_error(const std::string& path, std::string_view what) {
  return make_error(Errc::io, path + ": " + std::string(what) + ": " + std::strerror(errno));
}

// flock on "<path>.lock": a separate file, because the state file itself is replaced by rename
// and a lock on a replaced inode would no longer exclude anyone.
class StateLock {
 public:
  static Result<StateLock> acquire(const std::string& path, bool exclusive) {
    std::string lock_path = path + ".lock";
    int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return io_error(lock_path, "open");
    StateLock lock(fd);
    int rc;
    do {
      rc = ::flock(fd, exclusive ? LOCK_EX : LOCK_SH);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) return io_error(lock_path, "flock");
    return lock;
  }
  StateLock(StateLock&& other) noexcept = default;
  StateLock& operator=(StateLock&&) = delete;

 private:
  explicit StateLock(int fd) : fd_(fd) {}
  UniqueFd fd_;  // closing it releases the flock
};

// A state document is a few KiB of keys, certificates and collateral; refuse a device or a
// stray large file before holding it in memory.
constexpr size_t kMaxStateBytes = size_t{4} << 20;

Result<SecretBytes> read_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return io_error(path, "open");
  SecretBytes out;
  uint8_t buffer[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error(path, "read");
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > kMaxStateBytes) {
      secure_zero(buffer, sizeof buffer);
      return make_error(Errc::parse,
                        path + ": larger than " + std::to_string(kMaxStateBytes) + " bytes");
    }
    out.insert(out.end(), buffer, buffer + n);
  }
  secure_zero(buffer, sizeof buffer);
  return out;
}

Status write_all(int fd, ByteView data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return io_error(path, "write");
    done += static_cast<size_t>(n);
  }
  return {};
}

// Temporary file beside the target, fsync, rename over it, fsync the directory.
Status replace_file(const std::string& path, ByteView data) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd.valid()) return io_error(tmp, "open");
    Status written = write_all(fd.get(), data, tmp);
    if (written.ok() && ::fsync(fd.get()) != 0) written = io_error(tmp, "fsync");
    if (!written.ok()) {
      ::unlink(tmp.c_str());
      return written;
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Error error = io_error(path, "rename");
    ::unlink(tmp.c_str());
    return error;
  }
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.valid()) ::fsync(dir_fd.get());  // best effort: the rename itself has happened
  return {};
}

Result<Simulator> load_unlocked(const std::string& path) {
  ACON_TRY(SecretBytes text, read_file(path));
  auto sim = Simulator::from_state_json(as_chars(view(text)));
  if (!sim) return std::move(sim).error().wrap(path);
  return sim;
}

Status save_unlocked(const std::string& path, const Simulator& simulator) {
  SecretBytes text = simulator.to_state_json();
  return replace_file(path, view(text));
}

}  // namespace

Result<Simulator> load_state(const std::string& path) {
  ACON_TRY(StateLock lock, StateLock::acquire(path, false));
  return load_unlocked(path);
}

Status save_state(const std::string& path, const Simulator& simulator) {
  ACON_TRY(StateLock lock, StateLock::acquire(path, true));
  return save_unlocked(path, simulator);
}

Status update_state(const std::string& path, const std::function<Status(Simulator&)>& change) {
  ACON_TRY(StateLock lock, StateLock::acquire(path, true));
  ACON_TRY(Simulator sim, load_unlocked(path));
  ACON_CHECK(change(sim));
  return save_unlocked(path, sim);
}

// ---- SimBackend ----

namespace {
Status check_bank(uint32_t index, HashAlg alg) {
  if (alg != HashAlg::sha384)
    return make_error(Errc::unsupported,
                      "sim: RTMRs have only the sha384 bank, not " + std::string(hash_name(alg)));
  if (index >= kRtmrCount)
    return make_error(Errc::invalid_argument,
                      "sim: RTMR index " + std::to_string(index) + " out of range 0..3");
  return {};
}
}  // namespace

Status SimBackend::extend(uint32_t index, HashAlg alg, ByteView digest) {
  ACON_CHECK(check_bank(index, alg));
  return update_state(path_, [&](Simulator& sim) { return sim.extend(index, digest); });
}

Result<Bytes> SimBackend::read(uint32_t index, HashAlg alg) {
  ACON_CHECK(check_bank(index, alg));
  ACON_TRY(Simulator sim, load_state(path_));
  const Measurement& rtmr = sim.td().rtmr[index];
  return Bytes(rtmr.begin(), rtmr.end());
}

Result<Bytes> SimBackend::report(const ReportData& data) {
  ACON_TRY(Simulator sim, load_state(path_));
  return sim.td_report(data);
}

Result<Bytes> SimBackend::quote(const ReportData& data) {
  ACON_TRY(Simulator sim, load_state(path_));
  return sim.quote(data);
}

Result<Bytes> SimBackend::firmware_event_log() {
  ACON_TRY(Simulator sim, load_state(path_));
  return sim.ccel();
}

}  // namespace acon::guest::sim
