// The gRPC face of acond: ACON's acon.grpc.AconService (all ten RPCs) and this project's
// acon.evidence.EvidenceService.
// Each handler maps a Runtime call to the reply, RpcError to a gRPC status, and catches whatever
// escapes (Unknown "Unexpected error", as ACON answers relay failures).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "acon.grpc.pb.h"
#include "acon/acond/runtime.h"
#include "acon_evidence.grpc.pb.h"

namespace acon::acond {

// One structured log line per event: "acond event=<name> key=value ...". Never given secrets:
// the handlers pass RPC names, codes, sizes and Image IDs only.
using LogSink = std::function<void(const std::string& line)>;

class AconServiceImpl final : public acon::grpc::AconService::Service {
 public:
  AconServiceImpl(Runtime& runtime, LogSink log) : runtime_(runtime), log_(std::move(log)) {}
  // Called after each successful call except an AddManifest of an image already loaded: the idle
  // power-off's disarming event (pid1.h). Set before the server starts.
  void set_activity_hook(std::function<void()> hook) { activity_ = std::move(hook); }

  ::grpc::Status AddManifest(::grpc::ServerContext* context,
                             const acon::grpc::AddManifestRequest* request,
                             acon::grpc::AddManifestResponse* response) override;
  ::grpc::Status Finalize(::grpc::ServerContext* context, const google::protobuf::Empty* request,
                          google::protobuf::Empty* response) override;
  ::grpc::Status AddBlob(::grpc::ServerContext* context, const acon::grpc::AddBlobRequest* request,
                         google::protobuf::Empty* response) override;
  ::grpc::Status Start(::grpc::ServerContext* context, const acon::grpc::StartRequest* request,
                       acon::grpc::StartResponse* response) override;
  ::grpc::Status Restart(::grpc::ServerContext* context, const acon::grpc::RestartRequest* request,
                         google::protobuf::Empty* response) override;
  ::grpc::Status Exec(::grpc::ServerContext* context, const acon::grpc::ExecRequest* request,
                      acon::grpc::ExecResponse* response) override;
  ::grpc::Status Kill(::grpc::ServerContext* context, const acon::grpc::KillRequest* request,
                      google::protobuf::Empty* response) override;
  ::grpc::Status Inspect(::grpc::ServerContext* context, const acon::grpc::InspectRequest* request,
                         acon::grpc::InspectResponse* response) override;
  ::grpc::Status Report(::grpc::ServerContext* context, const acon::grpc::ReportRequest* request,
                        acon::grpc::ReportResponse* response) override;
  ::grpc::Status GetManifest(::grpc::ServerContext* context,
                             const acon::grpc::GetManifestRequest* request,
                             acon::grpc::GetManifestResponse* response) override;

 private:
  // The file's guarded() plus the activity hook. Named alike so that it takes the place of the
  // free one in every handler of this class; a body taking (details, bool& counts) can clear
  // `counts` to leave the hook out on success.
  template <class Body>
  ::grpc::Status guarded(const LogSink& log, std::string_view rpc, std::string details,
                         Body&& body);

  Runtime& runtime_;
  LogSink log_;
  std::function<void()> activity_;
};

class EvidenceServiceImpl final : public acon::evidence::EvidenceService::Service {
 public:
  EvidenceServiceImpl(Runtime& runtime, LogSink log) : runtime_(runtime), log_(std::move(log)) {}
  // Called after each successful call: a Report with the logs, and it disarms the idle power-off
  // as AconService's Report does.
  void set_activity_hook(std::function<void()> hook) { activity_ = std::move(hook); }

  ::grpc::Status Evidence(::grpc::ServerContext* context, const acon::grpc::ReportRequest* request,
                          acon::evidence::EvidenceResponse* response) override;

 private:
  Runtime& runtime_;
  LogSink log_;
  std::function<void()> activity_;
};

// ReportReply into ACON's ReportResponse (mrlog 0..3 as ACON fills it).
void to_proto(const ReportReply& reply, acon::grpc::ReportResponse* response);

}  // namespace acon::acond
