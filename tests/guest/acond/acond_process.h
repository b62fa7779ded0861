// A real acond child process and a gRPC client for it, for the tests that restart or kill acond
// (crash_test.cc, vtpm_acond_test.cc, config_test.cc).
#pragma once

#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "acon.grpc.pb.h"
#include "acon_evidence.grpc.pb.h"
#include "acond_fixtures.h"

namespace acon::acond::test_fixtures {

// The TCP port an acond logs once it listens ("tcp_port=N" on a complete line of `log()`), polled
// for up to 30 s (a sanitizer build on a loaded machine starts slowly); 0 if it never does. The
// log is read after `alive()`, so that an acond that listened and then already exited (a short
// idle timeout) still gives its port.
template <class Log, class Alive>
int wait_for_tcp_port(Log log, Alive alive) {
  using namespace std::chrono_literals;
  for (int i = 0; i < 1200; ++i) {
    const bool was_alive = alive();
    std::string text = log();
    auto at = text.find("tcp_port=");
    if (at != std::string::npos && text.find('\n', at) != std::string::npos)
      return std::atoi(text.c_str() + at + 9);
    if (!was_alive) return 0;
    std::this_thread::sleep_for(25ms);
  }
  return 0;
}

// acond started in `dir` with `args` after the executable and `env` added to the environment
// (e.g. "ACOND_CRASH_AT=after-extend"); its stderr appended to dir/acond.log. Waits until it
// listens (port() is then non-zero) or exits. SIGTERM at destruction if still running.
class AcondChild {
 public:
  // `program`: the path to execute instead of ACOND_BINARY (a link to it under another name).
  AcondChild(const std::filesystem::path& dir, std::vector<std::string> args,
             std::vector<std::string> env = {}, std::string program = "")
      : dir_(dir) {
    args.insert(args.begin(), program.empty() ? std::string(ACOND_BINARY) : program);
    size_t log_start = read_text(dir / "acond.log").size();
    pid_ = ::fork();
    if (pid_ == 0) {
      if (::chdir(dir.c_str()) != 0) ::_exit(127);
      std::FILE* log = std::fopen("acond.log", "a");
      if (log == nullptr) ::_exit(127);
      ::dup2(::fileno(log), 2);
      for (auto& entry : env) ::putenv(entry.data());
      std::vector<char*> argv;
      for (auto& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    port_ = wait_for_tcp_port([&] { return read_text(dir / "acond.log").substr(log_start); },
                              [this] { return running(); });
  }
  ~AcondChild() {
    if (pid_ > 0) stop();
  }
  AcondChild(const AcondChild&) = delete;
  AcondChild& operator=(const AcondChild&) = delete;

  int port() const { return port_; }
  std::string target() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string log() const { return read_text(dir_ / "acond.log"); }
  // False once the process has exited (its status is kept for wait()).
  bool running() {
    if (pid_ <= 0) return false;
    pid_t done = ::waitpid(pid_, &status_, WNOHANG);
    if (done == pid_) pid_ = -1;
    return pid_ > 0;
  }
  // Waits for the process to end by itself: its exit code, or 128 + the signal that ended it.
  int wait() {
    if (pid_ > 0) ::waitpid(pid_, &status_, 0);
    pid_ = -1;
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
  }
  // SIGTERM, then wait().
  int stop() {
    if (pid_ > 0) ::kill(pid_, SIGTERM);
    return wait();
  }

 private:
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  int status_ = 0;
  int port_ = 0;
};

struct AcondClient {
  explicit AcondClient(const std::string& target) {
    ::grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 << 20);
    args.SetMaxSendMessageSize(64 << 20);
    channel = ::grpc::CreateCustomChannel(target, ::grpc::InsecureChannelCredentials(), args);
    acon = acon::grpc::AconService::NewStub(channel);
    evidence = acon::evidence::EvidenceService::NewStub(channel);
  }
  static void deadline(::grpc::ClientContext& context) {
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  }

  ::grpc::Status add_manifest(const SignedImage& image,
                              acon::grpc::AddManifestResponse* out = nullptr) {
    acon::grpc::AddManifestRequest request;
    request.set_manifest(image.manifest);
    request.set_signature(image.signature.data(), image.signature.size());
    request.set_certificate(image.certificate.data(), image.certificate.size());
    acon::grpc::AddManifestResponse ignored;
    ::grpc::ClientContext context;
    deadline(context);
    return acon->AddManifest(&context, request, out ? out : &ignored);
  }
  ::grpc::Status add_blob(uint32_t alg, const Bytes& data) {
    acon::grpc::AddBlobRequest request;
    request.set_alg(alg);
    request.set_data(data.data(), data.size());
    google::protobuf::Empty reply;
    ::grpc::ClientContext context;
    deadline(context);
    return acon->AddBlob(&context, request, &reply);
  }
  ::grpc::Status finalize() {
    google::protobuf::Empty request, reply;
    ::grpc::ClientContext context;
    deadline(context);
    return acon->Finalize(&context, request, &reply);
  }
  ::grpc::Status get_manifest(const std::string& image_id, acon::grpc::GetManifestResponse* out) {
    acon::grpc::GetManifestRequest request;
    request.set_image_id(image_id);
    ::grpc::ClientContext context;
    deadline(context);
    return acon->GetManifest(&context, request, out);
  }
  ::grpc::Status report(uint32_t request_type, acon::grpc::ReportResponse* out) {
    acon::grpc::ReportRequest request;
    request.set_nonce_lo(1);
    request.set_nonce_hi(2);
    request.set_request_type(request_type);
    ::grpc::ClientContext context;
    deadline(context);
    return acon->Report(&context, request, out);
  }
  ::grpc::Status get_evidence(uint64_t nonce_lo, uint64_t nonce_hi,
                              acon::evidence::EvidenceResponse* out) {
    acon::grpc::ReportRequest request;
    request.set_nonce_lo(nonce_lo);
    request.set_nonce_hi(nonce_hi);
    request.set_request_type(1);
    ::grpc::ClientContext context;
    deadline(context);
    return evidence->Evidence(&context, request, out);
  }

  std::shared_ptr<::grpc::Channel> channel;
  std::unique_ptr<acon::grpc::AconService::Stub> acon;
  std::unique_ptr<acon::evidence::EvidenceService::Stub> evidence;
};

}  // namespace acon::acond::test_fixtures
