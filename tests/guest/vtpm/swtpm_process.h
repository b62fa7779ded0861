// A real swtpm (TPM 2.0 emulator) in a private state directory on free local ports, started for
// one test and killed after it. A missing swtpm is a test failure: CI installs swtpm.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

namespace acon::test {

// Forks, runs `in_child` in the child, then execs argv[0] searched on PATH. Returns the child's
// pid, or -1 with `error` set; `exec_errno` is 0 when the exec happened, else its errno (the
// child has then exited with 127 and still needs reaping).
template <class InChild>
pid_t fork_exec(std::vector<char*>& argv, InChild in_child, int& exec_errno, std::string& error) {
  exec_errno = 0;
  int exec_status[2];
  if (pipe2(exec_status, O_CLOEXEC) != 0) {
    error = std::string("pipe2: ") + std::strerror(errno);
    return -1;
  }
  const pid_t pid = fork();
  if (pid < 0) {
    error = std::string("fork: ") + std::strerror(errno);
    close(exec_status[0]);
    close(exec_status[1]);
    return -1;
  }
  if (pid == 0) {
    in_child();
    execvp(argv[0], argv.data());
    int err = errno;
    (void)!write(exec_status[1], &err, sizeof err);
    _exit(127);
  }
  close(exec_status[1]);
  int child_errno = 0;
  if (read(exec_status[0], &child_errno, sizeof child_errno) == sizeof child_errno)
    exec_errno = child_errno;
  close(exec_status[0]);
  return pid;
}

// Runs a program found on PATH with its output sent to `output`; its exit status, or -1 with
// `error` set when it could not run or was killed.
inline int run_program(const std::vector<std::string>& args, const std::filesystem::path& output,
                       std::string& error) {
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  int exec_errno = 0;
  const pid_t pid = fork_exec(
      argv,
      [&output] {
        int out = open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (out >= 0) {
          dup2(out, STDOUT_FILENO);
          dup2(out, STDERR_FILENO);
        }
      },
      exec_errno, error);
  if (pid < 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  if (exec_errno != 0) {
    error = "cannot run " + args[0] + ": " + std::strerror(exec_errno);
    return -1;
  }
  if (!WIFEXITED(status)) {
    error = args[0] + " did not exit normally";
    return -1;
  }
  return WEXITSTATUS(status);
}

class SwtpmProcess {
 public:
  SwtpmProcess() = default;
  SwtpmProcess(const SwtpmProcess&) = delete;
  SwtpmProcess& operator=(const SwtpmProcess&) = delete;
  ~SwtpmProcess() { stop(); }

  // Starts swtpm and waits until both its ports accept connections. Empty on success, else why not.
  // Tests run in parallel, and a port pair found free can be taken (by another swtpm, or as the
  // ephemeral source port of some connection) before swtpm binds it; swtpm then exits at once,
  // and the start is retried on another pair.
  std::string start() {
    char dir_template[] = "/tmp/acon-swtpm-XXXXXX";
    if (!mkdtemp(dir_template)) return std::string("mkdtemp: ") + std::strerror(errno);
    dir_ = dir_template;
    std::string why;
    if (!ek_ca_dir_.empty()) {
      why = manufacture();
      if (!why.empty()) return why;
    }
    for (int launch_attempt = 0; launch_attempt < 5; ++launch_attempt) {
      port_ = 0;
      for (int attempt = 0; attempt < 20 && port_ == 0; ++attempt) port_ = free_port_pair();
      if (port_ == 0) return "no free pair of TCP ports";
      bool exited_early = false;
      why = launch(exited_early);
      if (why.empty() || !exited_early) return why;
    }
    return why;
  }

  void stop() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
      int status = 0;
      while (waitpid(pid_, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
          kill(pid_, SIGKILL);
          waitpid(pid_, &status, 0);
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      pid_ = -1;
    }
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
      dir_.clear();
    }
  }

  // Before start(): have swtpm_setup manufacture the TPM (sha256 and sha384 PCR banks) with an
  // RSA-2048 and an ECC EK and their certificates in NV, issued by swtpm's local CA kept in
  // `ca_dir`, which creates its root and issuing CA there on first use (ek_root_pem(),
  // ek_issuer_pem()). TPMs manufactured with one ca_dir share the CA.
  void manufacture_with_ek_certificate(std::filesystem::path ca_dir) {
    ek_ca_dir_ = std::move(ca_dir);
  }
  static std::filesystem::path ek_root_pem(const std::filesystem::path& ca_dir) {
    return ca_dir / "swtpm-localca-rootca-cert.pem";
  }
  static std::filesystem::path ek_issuer_pem(const std::filesystem::path& ca_dir) {
    return ca_dir / "issuercert.pem";
  }

  // The tpm2-tss TCTI configuration that reaches this swtpm.
  std::string tcti() const { return "swtpm:host=127.0.0.1,port=" + std::to_string(port_); }
  const std::filesystem::path& dir() const { return dir_; }
  int port() const { return port_; }

 private:
  // Runs swtpm on port_ / port_ + 1 and waits for both to accept connections.
  std::string launch(bool& exited_early) {
    const std::string state = "dir=" + dir_.string();
    const std::string server = "type=tcp,port=" + std::to_string(port_) + ",bindaddr=127.0.0.1";
    const std::string ctrl = "type=tcp,port=" + std::to_string(port_ + 1) + ",bindaddr=127.0.0.1";
    const std::string log = "file=" + (dir_ / "swtpm.log").string();
    std::vector<std::string> args = {"swtpm",
                                     "socket",
                                     "--tpm2",
                                     "--tpmstate",
                                     state,
                                     "--server",
                                     server,
                                     "--ctrl",
                                     ctrl,
                                     "--log",
                                     log,
                                     "--flags",
                                     "not-need-init,startup-clear"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    const pid_t parent = getpid();
    int exec_errno = 0;
    std::string error;
    pid_ = fork_exec(
        argv,
        [parent] {
          // Dies with the test process even if that process crashes before TearDown.
          prctl(PR_SET_PDEATHSIG, SIGKILL);
          if (getppid() != parent) _exit(127);
          int null_fd = open("/dev/null", O_RDWR);
          if (null_fd >= 0) {
            dup2(null_fd, STDIN_FILENO);
            dup2(null_fd, STDOUT_FILENO);
          }
        },
        exec_errno, error);
    if (pid_ < 0) return error;
    if (exec_errno != 0) {
      reap();
      return "cannot run swtpm (" + std::string(std::strerror(exec_errno)) +
             "): install the swtpm and swtpm-tools packages";
    }

    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        exited_early = true;
        return "swtpm exited during start-up (status " + std::to_string(status) + ")";
      }
      if (accepts(port_) && accepts(port_ + 1)) return {};
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return "swtpm did not listen on ports " + std::to_string(port_) + "/" +
           std::to_string(port_ + 1) + " within 5 s";
  }

  // swtpm_setup with configuration files of its own (man swtpm_setup, swtpm-localca.conf), so
  // that nothing under /etc or /var/lib is read or written.
  std::string manufacture() {
    const std::filesystem::path localca_conf = dir_ / "swtpm-localca.conf";
    const std::filesystem::path setup_conf = dir_ / "swtpm_setup.conf";
    const std::filesystem::path options = dir_ / "swtpm-localca.options";
    {
      std::ofstream out(localca_conf);
      out << "statedir = " << ek_ca_dir_.string() << "\n"
          << "signingkey = " << (ek_ca_dir_ / "signkey.pem").string() << "\n"
          << "issuercert = " << ek_issuer_pem(ek_ca_dir_).string() << "\n"
          << "certserial = " << (ek_ca_dir_ / "certserial").string() << "\n";
      std::ofstream opts(options);
      opts << "--platform-manufacturer acon\n--platform-version 2.1\n--platform-model test\n";
      std::ofstream setup(setup_conf);
      setup << "create_certs_tool = swtpm_localca\n"
            << "create_certs_tool_config = " << localca_conf.string() << "\n"
            << "create_certs_tool_options = " << options.string() << "\n"
            << "active_pcr_banks = sha256,sha384\n";
      if (!out || !opts || !setup)
        return "cannot write swtpm_setup's configuration in " + dir_.string();
    }
    std::error_code ec;
    std::filesystem::create_directories(ek_ca_dir_, ec);
    std::string error;
    const int status =
        run_program({"swtpm_setup", "--tpm2", "--tpmstate", dir_.string(), "--create-ek-cert",
                     "--config", setup_conf.string(), "--overwrite"},
                    dir_ / "swtpm_setup.log", error);
    if (status != 0) {
      std::ifstream log(dir_ / "swtpm_setup.log");
      std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
      return "swtpm_setup failed (" + (error.empty() ? std::to_string(status) : error) +
             "): " + text;
    }
    return {};
  }

  void reap() {
    int status = 0;
    if (pid_ > 0) waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  // Whether bind() (or connect()) to 127.0.0.1:port succeeds on a fresh TCP socket, which is
  // closed again; port 0 binds to a kernel-chosen port, which *port_out then receives.
  template <class SocketCall>
  static bool loopback_call(int port, SocketCall call, int* port_out = nullptr) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    bool ok = call(fd, reinterpret_cast<sockaddr*>(&addr), socklen_t{sizeof addr}) == 0;
    if (ok && port_out != nullptr) {
      socklen_t len = sizeof addr;
      ok = getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
      *port_out = ok ? ntohs(addr.sin_port) : 0;
    }
    close(fd);
    return ok;
  }
  static bool bindable(int port) { return loopback_call(port, ::bind); }
  static bool accepts(int port) { return loopback_call(port, ::connect); }

  // A port P from the kernel's ephemeral range such that P and P+1 are both free right now.
  static int free_port_pair() {
    int port = 0;
    if (!loopback_call(0, ::bind, &port)) return 0;
    if (port == 0 || port >= 65535 || !bindable(port) || !bindable(port + 1)) return 0;
    return port;
  }

  std::filesystem::path dir_;
  std::filesystem::path ek_ca_dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace acon::test
