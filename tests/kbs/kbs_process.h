// The real acon-kbs as a child process: over TLS (client_test, tpm_flow_test) or plain HTTP
// (server_test, replica_test), and the acon-kbs tool's other commands.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

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

// acon-kbs --config FILE serving plain HTTP (the config says --insecure-http), restartable on the
// same configuration: a kill (-9 or not) and start() is a crash and restart of one replica.
class KbsProcess {
 public:
  KbsProcess(std::filesystem::path config) : config_(std::move(config)) { start(); }
  ~KbsProcess() { kill_now(SIGTERM); }

  void start() {
    int out[2];
    ASSERT_EQ(pipe(out), 0);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], 1);
      close(out[0]);
      execl(ACON_KBS_BINARY, ACON_KBS_BINARY, "--config", config_.c_str(), nullptr);
      _exit(127);
    }
    close(out[1]);
    // "acon-kbs: listening on http://127.0.0.1:PORT"
    std::string line;
    char c;
    while (read(out[0], &c, 1) == 1 && c != '\n') line += c;
    close(out[0]);
    auto colon = line.rfind(':');
    ASSERT_NE(colon, std::string::npos) << "acon-kbs printed: " << line;
    port_ = static_cast<uint16_t>(std::stoi(line.substr(colon + 1)));
  }
  void kill_now(int signal) {
    if (pid_ <= 0) return;
    ::kill(pid_, signal);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  uint16_t port() const { return port_; }

 private:
  std::filesystem::path config_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

inline int run_tool(const std::vector<std::string>& args, std::string* output = nullptr) {
  std::string command = ACON_KBS_BINARY;
  for (const auto& a : args) command += " '" + a + "'";
  command += " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) text.append(buf, n);
  int status = pclose(pipe);
  if (output) *output = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

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

// The audit log's entries (the whole export, through `admin`) that `keep` selects.
inline std::vector<Json> audit_entries(KbsClient& admin,
                                       const std::function<bool(const Json& entry)>& keep) {
  auto lines = admin.audit_export(1, 10000);
  EXPECT_TRUE(lines) << lines.error().to_string();
  std::vector<Json> entries;
  const std::string text = lines ? *lines : std::string();
  for (std::string_view line : split(text, '\n')) {
    if (line.empty()) continue;
    auto record = parse_json(line);
    EXPECT_TRUE(record);
    if (!record) continue;
    const Json& entry = record->contains("entry") ? (*record)["entry"] : *record;
    if (keep(entry)) entries.push_back(entry);
  }
  return entries;
}

}  // namespace acon::kbs::testing
