// A real PostgreSQL server for the tests: Debian's initdb and postgres binaries, a data
// directory and Unix socket in a temporary directory, no TCP listener. As root (CI), initdb and
// the server run as the unprivileged user "nobody" (both refuse to run as root). The server is
// a child of the test process with PR_SET_PDEATHSIG, so a test binary that crashes takes it
// along; a normal end stops it with SIGQUIT (pg_ctl's "immediate" mode).
#pragma once

#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace acon::kbs::testing {

class PostgresServer {
 public:
  // The newest /usr/lib/postgresql/<version>/bin holding initdb and postgres, or empty.
  static std::filesystem::path binaries() {
    std::filesystem::path best;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
      const auto bin = entry.path() / "bin";
      if (std::filesystem::exists(bin / "initdb", ec) &&
          std::filesystem::exists(bin / "postgres", ec) && (best.empty() || bin > best))
        best = bin;
    }
    return best;
  }

  // Initialises a cluster and starts it; ok() tells whether it runs (error() says why not).
  PostgresServer() {
    bin_ = binaries();
    if (bin_.empty()) {
      error_ = "no PostgreSQL server binaries under /usr/lib/postgresql";
      return;
    }
    std::string pattern = (std::filesystem::temp_directory_path() / "acon-pg-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      error_ = "mkdtemp failed";
      return;
    }
    dir_ = pattern;
    if (::geteuid() == 0) {
      const passwd* nobody = ::getpwnam("nobody");
      if (nobody == nullptr) {
        error_ = "running as root and there is no user \"nobody\" to run PostgreSQL as";
        return;
      }
      uid_ = nobody->pw_uid;
      gid_ = nobody->pw_gid;
      if (::chown(dir_.c_str(), *uid_, *gid_) != 0) {
        error_ = "chown of the temporary directory failed";
        return;
      }
    }
    const std::string data = (dir_ / "data").string();
    int rc = run_and_wait({(bin_ / "initdb").string(), "-D", data, "-U", "acon", "--auth=trust",
                           "-E", "UTF8", "--locale=C", "--no-sync"},
                          dir_ / "initdb.log");
    if (rc != 0) {
      error_ = "initdb failed (" + (dir_ / "initdb.log").string() + ")";
      return;
    }
    start();
  }

  ~PostgresServer() {
    stop();
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  bool ok() const { return error_.empty() && pid_ > 0; }
  const std::string& error() const { return error_; }

  // Starts the server on the existing data directory and waits until it accepts connections.
  // fsync is off (only an operating system crash would lose data, not a server stop), but
  // synchronous_commit stays on: an immediate shutdown must keep every acknowledged commit.
  void start() {
    if (pid_ > 0) return;
    const std::string data = (dir_ / "data").string();
    pid_ = spawn({(bin_ / "postgres").string(), "-D", data, "-k", dir_.string(), "-c",
                  "listen_addresses=", "-c", "fsync=off", "-c", "full_page_writes=off", "-c",
                  "max_connections=200"},
                 dir_ / "postgres.log");
    if (pid_ <= 0) {
      error_ = "starting postgres failed";
      return;
    }
    // Startup takes well under a second; the bound is only against a server that never comes.
    const std::string info = conninfo("postgres");
    for (int i = 0; i < 600; ++i) {
      if (PQping(info.c_str()) == PQPING_OK) {
        error_.clear();
        return;
      }
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        error_ = "postgres exited at startup (" + (dir_ / "postgres.log").string() + ")";
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    error_ = "postgres did not accept connections within 30 s";
  }

  // Immediate shutdown, as `pg_ctl stop -m immediate`: clients see their connections drop.
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGQUIT);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  std::string conninfo(const std::string& dbname) const {
    return "host=" + dir_.string() + " user=acon dbname=" + dbname;
  }

  // A new, empty database; its connection string.
  std::string create_database() {
    const std::string name = "acon_test_" + std::to_string(++databases_);
    // Constant SQL with a name this fixture made up (CREATE DATABASE takes no parameters).
    if (!exec(conninfo("postgres"), "CREATE DATABASE " + name)) return {};
    return conninfo(name);
  }

  // Runs test-written SQL on one database; true on success.
  static bool exec(const std::string& conninfo, const std::string& sql) {
    std::unique_ptr<PGconn, void (*)(PGconn*)> conn(PQconnectdb(conninfo.c_str()), PQfinish);
    if (!conn || PQstatus(conn.get()) != CONNECTION_OK) return false;
    std::unique_ptr<PGresult, void (*)(PGresult*)> result(PQexec(conn.get(), sql.c_str()), PQclear);
    const auto status = PQresultStatus(result.get());
    return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
  }

 private:
  // fork + exec with stdout and stderr to `log`, as `nobody` when root. In the child, only
  // async-signal-safe calls (the process may have threads).
  pid_t spawn(const std::vector<std::string>& args, const std::filesystem::path& log) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const std::string log_path = log.string();
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid != 0) return pid;
    const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
    }
    if (uid_) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(*gid_) != 0 || ::setuid(*uid_) != 0)
        ::_exit(126);
    }
    // After setuid, which clears it: the server dies with the test process.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(125);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }

  int run_and_wait(const std::vector<std::string>& args, const std::filesystem::path& log) {
    const pid_t pid = spawn(args, log);
    if (pid < 0) return -1;
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  std::filesystem::path bin_;
  std::filesystem::path dir_;
  std::optional<uid_t> uid_;
  std::optional<gid_t> gid_;
  pid_t pid_ = -1;
  std::string error_;
  int databases_ = 0;
};

// One server for every test of the binary that only needs a fresh database: started on first
// use, stopped when the binary exits.
inline PostgresServer& shared_postgres() {
  static PostgresServer server;
  return server;
}

}  // namespace acon::kbs::testing
