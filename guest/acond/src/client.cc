#include "acon/acond/client.h"

#include <grpcpp/create_channel_posix.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>

#include "acon.grpc.pb.h"
#include "acon/acond/listener.h"
#include "acon_evidence.grpc.pb.h"

namespace acon::acond {

struct Client::Connection {
  std::shared_ptr<::grpc::Channel> channel;
  std::unique_ptr<acon::grpc::AconService::Stub> acon;
  std::unique_ptr<acon::evidence::EvidenceService::Stub> evidence;
};

namespace {

// Transport failures are the client's side (io); anything acond answered is a refusal.
Error from_status(std::string_view rpc, const ::grpc::Status& status) {
  switch (status.error_code()) {
    case ::grpc::StatusCode::UNAVAILABLE:
    case ::grpc::StatusCode::CANCELLED:
    case ::grpc::StatusCode::RESOURCE_EXHAUSTED:
    case ::grpc::StatusCode::UNIMPLEMENTED:
      return make_error(Errc::io, std::string(rpc) + ": " +
                                      (status.error_message().empty()
                                           ? "gRPC status " + std::to_string(status.error_code())
                                           : status.error_message()));
    case ::grpc::StatusCode::DEADLINE_EXCEEDED:
      // acond answers DeadlineExceeded for a Restart that timed out; gRPC for a call that did.
      if (status.error_message() != "Deadline Exceeded") break;
      return make_error(Errc::io, std::string(rpc) + ": no answer before the deadline");
    default:
      break;
  }
  const int number = static_cast<int>(status.error_code());
  std::string code = "code " + std::to_string(number);
  for (RpcCode known : {RpcCode::unknown, RpcCode::invalid_argument, RpcCode::deadline_exceeded,
                        RpcCode::permission_denied, RpcCode::failed_precondition}) {
    if (static_cast<int>(known) == number) code = rpc_code_name(known);
  }
  return make_error(Errc::verify_failed,
                    std::string(rpc) + ": " + code + " \"" + status.error_message() + "\"");
}

template <class Request, class Response, class Method>
Status call(std::string_view rpc, std::chrono::seconds deadline, Method method,
            const Request& request, Response& response) {
  ::grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + deadline);
  // aconcli's :authority, so acond's logs look the same whichever client called.
  context.set_authority("acond");
  ::grpc::Status status = method(&context, request, &response);
  if (!status.ok()) return from_status(rpc, status);
  return {};
}

ReportReply from_proto(const acon::grpc::ReportResponse& response) {
  ReportReply reply;
  reply.data = to_bytes(response.data());
  for (const auto& [index, log] : response.mrlog()) {
    reply.mrlog[index] = std::vector<std::string>(log.logs().begin(), log.logs().end());
  }
  reply.attestation_data = response.attestation_data();
  return reply;
}

}  // namespace

Result<std::pair<uint32_t, uint32_t>> vsock_target(std::string_view target) {
  auto error = make_error(Errc::invalid_argument,
                          "target '" + std::string(target) + "': expected vsock://CID:PORT");
  if (!target.starts_with("vsock://")) return error;
  target.remove_prefix(8);
  const size_t colon = target.find(':');
  if (colon == std::string_view::npos) return error;
  auto number = [](std::string_view text) -> std::optional<uint32_t> {
    if (text.empty() || text.size() > 10) return std::nullopt;
    uint64_t value = 0;
    for (char c : text) {
      if (c < '0' || c > '9') return std::nullopt;
      value = value * 10 + static_cast<uint64_t>(c - '0');
    }
    if (value > UINT32_MAX) return std::nullopt;
    return static_cast<uint32_t>(value);
  };
  auto cid = number(target.substr(0, colon));
  auto port = number(target.substr(colon + 1));
  if (!cid || !port) return error;
  return std::make_pair(*cid, *port);
}

Result<std::string> grpc_target(std::string_view target) {
  if (target.starts_with("unix://")) return std::string(target);
  if (target.starts_with("tcp://")) target.remove_prefix(6);
  if (target.empty() || target.find("://") != std::string_view::npos ||
      target.find(':') == std::string_view::npos) {
    return make_error(
        Errc::invalid_argument,
        "target '" + std::string(target) +
            "': expected tcp://HOST:PORT, HOST:PORT, unix:///PATH or vsock://CID:PORT");
  }
  // aconcli accepts ":PORT" for the local host.
  if (target.front() == ':') return "127.0.0.1" + std::string(target);
  return std::string(target);
}

Result<Client> Client::connect(const ClientOptions& options) {
  ::grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(static_cast<int>(options.max_message));
  arguments.SetMaxSendMessageSize(static_cast<int>(options.max_message));
  auto connection = std::make_unique<Connection>();
  if (options.target.starts_with("vsock://")) {
    // gRPC 1.51 cannot dial vsock: connect here and give gRPC the connected socket.
    ACON_TRY(auto address, vsock_target(options.target));
    const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(options.deadline);
    ACON_TRY(UniqueFd socket,
             vsock_connect(address.first, address.second, static_cast<int>(timeout.count())));
    connection->channel =
        ::grpc::CreateCustomInsecureChannelFromFd("acond", socket.release(), arguments);
  } else {
    ACON_TRY(std::string target, grpc_target(options.target));
    std::shared_ptr<::grpc::ChannelCredentials> credentials = ::grpc::InsecureChannelCredentials();
    if (!options.tls_ca_pem.empty()) {
      if (target.starts_with("unix:")) {
        return make_error(Errc::invalid_argument, "TLS is for TCP targets, not " + target);
      }
      ::grpc::SslCredentialsOptions tls;
      tls.pem_root_certs = options.tls_ca_pem;
      credentials = ::grpc::SslCredentials(tls);
      if (!options.tls_server_name.empty()) {
        arguments.SetSslTargetNameOverride(options.tls_server_name);
      }
    }
    connection->channel = ::grpc::CreateCustomChannel(target, credentials, arguments);
  }
  connection->acon = acon::grpc::AconService::NewStub(connection->channel);
  connection->evidence = acon::evidence::EvidenceService::NewStub(connection->channel);
  return Client(std::move(connection), options);
}

Client::Client(std::unique_ptr<Connection> connection, ClientOptions options)
    : connection_(std::move(connection)), options_(std::move(options)) {}
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;
Client::~Client() = default;

#define ACON_RPC(name) \
  [&](auto* c, const auto& q, auto* r) { return connection_->acon->name(c, q, r); }

Result<AddManifestReply> Client::add_manifest(std::string_view manifest, ByteView signature,
                                              ByteView certificate_der) {
  acon::grpc::AddManifestRequest request;
  request.set_manifest(std::string(manifest));
  request.set_signature(signature.data(), signature.size());
  request.set_certificate(certificate_der.data(), certificate_der.size());
  acon::grpc::AddManifestResponse response;
  ACON_CHECK(call("AddManifest", options_.deadline, ACON_RPC(AddManifest), request, response));
  return AddManifestReply{response.image_id(),
                          {response.missing_layers().begin(), response.missing_layers().end()}};
}

Status Client::finalize() {
  google::protobuf::Empty request, response;
  return call("Finalize", options_.deadline, ACON_RPC(Finalize), request, response);
}

Status Client::add_blob(uint32_t alg, ByteView data) {
  acon::grpc::AddBlobRequest request;
  request.set_alg(alg);
  request.set_data(data.data(), data.size());
  google::protobuf::Empty response;
  return call("AddBlob", options_.blob_deadline, ACON_RPC(AddBlob), request, response);
}

Result<uint32_t> Client::start(std::string_view image_id, const std::vector<std::string>& envs) {
  acon::grpc::StartRequest request;
  request.set_image_id(std::string(image_id));
  for (const auto& env : envs) request.add_envs(env);
  acon::grpc::StartResponse response;
  ACON_CHECK(call("Start", options_.deadline, ACON_RPC(Start), request, response));
  return response.container_id();
}

Status Client::restart(uint32_t container_id, uint64_t timeout_seconds) {
  acon::grpc::RestartRequest request;
  request.set_container_id(container_id);
  request.set_timeout(timeout_seconds);
  google::protobuf::Empty response;
  // As aconcli: the RPC deadline covers acond's wait for the container to stop.
  const auto deadline = options_.deadline + std::chrono::seconds(timeout_seconds);
  return call("Restart", deadline, ACON_RPC(Restart), request, response);
}

Result<ExecOutput> Client::exec(const ExecCommand& in) {
  acon::grpc::ExecRequest request;
  request.set_container_id(in.container_id);
  request.set_command(in.command);
  request.set_timeout(in.timeout_seconds);
  for (const auto& argument : in.arguments) request.add_arguments(argument);
  for (const auto& env : in.envs) request.add_envs(env);
  request.set_stdin(in.stdin_bytes.data(), in.stdin_bytes.size());
  request.set_capture_size(in.capture_size);
  acon::grpc::ExecResponse response;
  const auto deadline = options_.deadline + std::chrono::seconds(in.timeout_seconds);
  ACON_CHECK(call("Exec", deadline, ACON_RPC(Exec), request, response));
  return ExecOutput{to_bytes(response.stdout()), to_bytes(response.stderr())};
}

Status Client::kill(uint32_t container_id, int32_t signal_number) {
  acon::grpc::KillRequest request;
  request.set_container_id(container_id);
  request.set_signal_num(signal_number);
  google::protobuf::Empty response;
  return call("Kill", options_.deadline, ACON_RPC(Kill), request, response);
}

Result<std::vector<ContainerStatus>> Client::inspect(uint32_t container_id) {
  acon::grpc::InspectRequest request;
  request.set_container_id(container_id);
  acon::grpc::InspectResponse response;
  ACON_CHECK(call("Inspect", options_.deadline, ACON_RPC(Inspect), request, response));
  std::vector<ContainerStatus> out;
  for (const auto& info : response.info()) {
    out.push_back(
        {info.container_id(), info.state(), info.wstatus(), info.image_id(), info.exe_path()});
  }
  return out;
}

Result<ReportReply> Client::report(uint64_t nonce_lo, uint64_t nonce_hi, uint32_t request_type) {
  acon::grpc::ReportRequest request;
  request.set_nonce_lo(nonce_lo);
  request.set_nonce_hi(nonce_hi);
  request.set_request_type(request_type);
  acon::grpc::ReportResponse response;
  ACON_CHECK(call("Report", options_.deadline, ACON_RPC(Report), request, response));
  return from_proto(response);
}

Result<ManifestReply> Client::get_manifest(std::string_view image_id) {
  acon::grpc::GetManifestRequest request;
  request.set_image_id(std::string(image_id));
  acon::grpc::GetManifestResponse response;
  ACON_CHECK(call("GetManifest", options_.deadline, ACON_RPC(GetManifest), request, response));
  return ManifestReply{response.manifest(), to_bytes(response.certificate())};
}

#undef ACON_RPC

Result<appraisal::Evidence> Client::evidence(uint64_t nonce_lo, uint64_t nonce_hi) {
  acon::grpc::ReportRequest request;
  request.set_nonce_lo(nonce_lo);
  request.set_nonce_hi(nonce_hi);
  request.set_request_type(kRequestQuote);
  acon::evidence::EvidenceResponse response;
  ACON_CHECK(call(
      "Evidence", options_.deadline,
      [&](auto* c, const auto& q, auto* r) { return connection_->evidence->Evidence(c, q, r); },
      request, response));
  appraisal::Evidence evidence;
  if (response.backend() == "vtpm") {
    if (response.log_mode() != "coco") {
      // The text log names no register and starts from a stated value; the vTPM replay has no
      // place for it (docs/acond.md "vTPM backend").
      return make_error(Errc::unsupported,
                        "Evidence: acond on a vTPM in the \"" + response.log_mode() +
                            "\" log mode: only the coco log mode's TCG2 records replay into a PCR");
    }
    if (response.ak_public().empty())
      return make_error(Errc::parse, "Evidence: ak_public: empty for a vtpm backend");
    evidence.platform = appraisal::Platform::vtpm;
    evidence.vtpm.quote = to_bytes(response.report().data());
    evidence.vtpm.ak_public = to_bytes(response.ak_public());
    for (int i = 0; i < response.pcrs_size(); ++i) {
      const auto& pcr = response.pcrs(i);
      auto& bank = evidence.vtpm.pcrs[pcr.bank()];
      if (!bank.emplace(pcr.index(), to_bytes(pcr.value())).second)
        return make_error(Errc::parse, "Evidence: pcrs[" + std::to_string(i) + "]: " + pcr.bank() +
                                           ":" + std::to_string(pcr.index()) + " repeated");
    }
    evidence.vtpm.event_log = to_bytes(response.firmware_event_log());
    evidence.vtpm.runtime_aael = to_bytes(response.runtime_aael());
  } else {
    evidence.platform = appraisal::Platform::tdx;
    evidence.tdx.quote = to_bytes(response.report().data());
    evidence.tdx.ccel = to_bytes(response.firmware_event_log());
    if (response.log_mode() == "coco") {
      evidence.tdx.runtime_aael = to_bytes(response.runtime_aael());
    } else {
      evidence.tdx.runtime_text_aael = response.runtime_text_aael();
    }
  }
  evidence.attestation_data = to_bytes(response.report().attestation_data());
  for (const auto& loaded : response.images()) {
    evidence.images.push_back({loaded.image_id(), to_bytes(loaded.manifest()),
                               to_bytes(loaded.signature()), to_bytes(loaded.certificate())});
  }
  return evidence;
}

Result<std::vector<LoadedImage>> Client::load(const image::Repository& repository,
                                              const std::vector<image::Bundle>& bundles,
                                              bool finalize) {
  std::vector<LoadedImage> loaded;
  for (const image::Bundle& bundle : bundles) {
    ACON_TRY(AddManifestReply reply,
             add_manifest(bundle.manifest, bundle.signature, bundle.certificate));
    // A new image's missing_layers is its layer list verbatim (ACON computes it before linking
    // the image's layers), so a `signer/...` alias layer a loaded vendor image already provides
    // is listed too. Adding the same manifest again changes and measures nothing and lists only
    // the layers that are really missing (aconcli gets there by retrying the whole load).
    auto is_digest = [](const std::string& layer) { return layer.starts_with("sha384/"); };
    if (!std::ranges::all_of(reply.missing_layers, is_digest)) {
      ACON_TRY(reply, add_manifest(bundle.manifest, bundle.signature, bundle.certificate));
    }
    LoadedImage image{reply.image_id, {}};
    for (const std::string& layer : reply.missing_layers) {
      // As aconcli: only content digests can be sent; an alias layer must come from its own
      // image, loaded first.
      if (!is_digest(layer)) {
        return make_error(Errc::invalid_argument,
                          bundle.label + ": acond misses layer '" + layer +
                              "', which is not a SHA-384 content digest (load the image that "
                              "provides it first)");
      }
      ACON_TRY(auto path, repository.blobs().find(layer));
      ACON_TRY(std::string data, image::read_bounded_file(path, options_.max_message));
      ACON_CHECK(add_blob(2, as_bytes(data)));
      image.sent_layers.push_back(layer);
    }
    loaded.push_back(std::move(image));
  }
  if (finalize) ACON_CHECK(this->finalize());
  return loaded;
}

}  // namespace acon::acond
