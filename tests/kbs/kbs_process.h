// The real acon-kbs as a child process, for the tests that drive it over TLS (client_test,
// tpm_flow_test).
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "acon/common/signature.h"
#include "acon/kbs/client.h"

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

// A client of `server` trusting the TLS CA that `acon-kbs init` wrote into kbs_dir.
inline ClientConfig client_config(const KbsServerProcess& server,
                                  const std::filesystem::path& kbs_dir) {
  ClientConfig c;
  c.url = server.url();
  c.ca_file = (kbs_dir / "keys" / "tls-ca.pem").string();
  return c;
}

// The same, holding an admin token minted now from the admin key `acon-kbs init` wrote.
inline Result<KbsClient> admin_client(const KbsServerProcess& server,
                                      const std::filesystem::path& kbs_dir) {
  ACON_TRY(PrivateKey key, PrivateKey::from_pem(slurp_file(kbs_dir / "keys" / "admin.pem")));
  ACON_TRY(
      std::string token,
      make_admin_token(key, AdminTokenClaims{},
                       std::chrono::system_clock::to_time_t(std::chrono::system_clock::now())));
  ACON_TRY(TeeKey tee_key, TeeKey::generate());
  ACON_TRY(KbsClient client, KbsClient::create(client_config(server, kbs_dir), std::move(tee_key)));
  client.set_admin_token(std::move(token));
  return client;
}

}  // namespace acon::kbs::testing
