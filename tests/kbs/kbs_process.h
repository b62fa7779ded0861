// The real acon-kbs as a child process, for the tests that drive it over TLS (client_test,
// tpm_flow_test).
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace acon::kbs::testing {

inline std::string slurp_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// acon-kbs --config FILE as a child process; its first line names the port it listens on.
class KbsServerProcess {
 public:
  explicit KbsServerProcess(const std::filesystem::path& config) {
    int out[2];
    if (pipe(out) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], 1);
      close(out[0]);
      execl(ACON_KBS_BINARY, ACON_KBS_BINARY, "--config", config.c_str(), nullptr);
      _exit(127);
    }
    close(out[1]);
    std::string line;  // "acon-kbs: listening on https://127.0.0.1:PORT"
    char c;
    while (read(out[0], &c, 1) == 1 && c != '\n') line += c;
    close(out[0]);
    const size_t colon = line.rfind(':');
    if (line.find("listening on https://") != std::string::npos && colon != std::string::npos)
      url_ = "https://localhost" + line.substr(colon);
  }
  ~KbsServerProcess() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  const std::string& url() const { return url_; }  // empty when it did not start

 private:
  pid_t pid_ = -1;
  std::string url_;
};

}  // namespace acon::kbs::testing
