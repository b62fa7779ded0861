// A client of acond's gRPC services: ACON's AconService (what aconcli's runtime commands send)
// and acon.evidence.EvidenceService, with the operations an operator composes from them: load
// images with their missing layers from an image repository, and take a report as an evidence
// bundle the appraisal library reads. acon-client (tools/) is a thin CLI over this.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "acon/acond/runtime.h"
#include "acon/appraisal/evidence.h"
#include "acon/common/bytes.h"
#include "acon/common/result.h"
#include "acon/image/repository.h"

namespace acon::acond {

struct ClientOptions {
  // tcp://HOST:PORT, HOST:PORT, unix:///PATH or vsock://CID:PORT (aconcli's forms).
  std::string target;
  std::chrono::seconds deadline{10};  // each RPC; aconcli uses 10 s
  // AddBlob carries a whole layer and unpacks it before answering: its own, longer deadline.
  std::chrono::seconds blob_deadline{600};
  uint64_t max_message = uint64_t{1} << 30;
  // TLS to a TCP target (acond --tls-cert): the CA certificates (PEM) that must have issued
  // acond's certificate, and the name to check in it when the target's host is not that name.
  std::string tls_ca_pem;
  std::string tls_server_name;
};

// The gRPC channel target for a tcp or unix ClientOptions::target; Errc::invalid_argument for
// other forms.
Result<std::string> grpc_target(std::string_view target);
// CID and port of a vsock://CID:PORT target.
Result<std::pair<uint32_t, uint32_t>> vsock_target(std::string_view target);

// The client's own names (ContainerStatus, ExecCommand): acond's container.h has its server-side
// ContainerInfo and ExecRequest in this namespace, and a program may link both libraries.
struct ContainerStatus {
  uint32_t container_id = 0;
  uint32_t state = 0;   // ASCII of the /proc State letter while running; 0 once exited
  int32_t wstatus = 0;  // exit code, or the signal that ended it (ACON's si_status)
  std::string image_id;
  std::string exe_path;
};

struct ExecCommand {
  uint32_t container_id = 0;
  std::string command;  // a file name in the container's /lib/acon/entrypoint.d
  std::vector<std::string> arguments;
  std::vector<std::string> envs;
  Bytes stdin_bytes;
  uint64_t timeout_seconds = 30;  // aconcli's default
  uint64_t capture_size = 0x20000;
};

struct ExecOutput {
  Bytes stdout_bytes;
  Bytes stderr_bytes;
};

struct LoadedImage {
  std::string image_id;
  std::vector<std::string> sent_layers;  // the missing layers this load sent
};

// acond's answers keep their status: a refusal is Errc::verify_failed with "<RPC>: <Code>
// \"<message>\"" (the message as acond sent it); a transport failure (unreachable, deadline) is
// Errc::io.
class Client {
 public:
  static Result<Client> connect(const ClientOptions& options);
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  ~Client();

  Result<AddManifestReply> add_manifest(std::string_view manifest, ByteView signature,
                                        ByteView certificate_der);
  Status finalize();
  Status add_blob(uint32_t alg, ByteView data);
  Result<uint32_t> start(std::string_view image_id, const std::vector<std::string>& envs);
  Status restart(uint32_t container_id, uint64_t timeout_seconds);
  Result<ExecOutput> exec(const ExecCommand& request);
  Status kill(uint32_t container_id, int32_t signal_number);
  Result<std::vector<ContainerStatus>> inspect(uint32_t container_id);  // 0: all
  Result<ReportReply> report(uint64_t nonce_lo, uint64_t nonce_hi, uint32_t request_type);
  Result<ManifestReply> get_manifest(std::string_view image_id);

  // A quote with everything a verifier needs beside it (EvidenceService): the firmware log, the
  // runtime log in acond's log mode, attestation_data, and every loaded image with its
  // signature and certificate, as appraisal::Evidence.
  Result<appraisal::Evidence> evidence(uint64_t nonce_lo, uint64_t nonce_hi);

  // AddManifest for each bundle in order, AddBlob (SHA-384) for each layer acond reports missing,
  // read from the repository's blob store; then Finalize when `finalize`. A refusal ends the load
  // there (earlier images stay loaded, as in acond).
  Result<std::vector<LoadedImage>> load(const image::Repository& repository,
                                        const std::vector<image::Bundle>& bundles, bool finalize);

 private:
  struct Connection;
  explicit Client(std::unique_ptr<Connection> connection, ClientOptions options);
  std::unique_ptr<Connection> connection_;
  ClientOptions options_;
};

}  // namespace acon::acond
