#include "acon/acond/grpc_service.h"

#include <chrono>
#include <exception>
#include <string_view>
#include <type_traits>

#include "acon/acond/container.h"
#include "acon/common/json.h"

namespace acon::acond {
namespace {

::grpc::Status to_status(const RpcError& error) {
  return {static_cast<::grpc::StatusCode>(static_cast<int>(error.code)), error.message};
}

// Runs one handler: its result becomes the status, an escaping exception Unknown "Unexpected
// error"; one log line per call with the outcome and the duration.
template <class Body>
::grpc::Status guarded(const LogSink& log, std::string_view rpc, std::string details, Body&& body) {
  auto start = std::chrono::steady_clock::now();
  ::grpc::Status status;
  try {
    status = body(details);
  } catch (const std::exception& e) {
    status = {::grpc::StatusCode::UNKNOWN, "Unexpected error"};
    details += " exception=\"" + std::string(e.what()) + "\"";
  } catch (...) {
    status = {::grpc::StatusCode::UNKNOWN, "Unexpected error"};
  }
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                                  start)
                .count();
  if (log) {
    try {
      std::string line = "acond event=rpc rpc=" + std::string(rpc) +
                         " code=" + std::to_string(static_cast<int>(status.error_code())) +
                         " us=" + std::to_string(us) + details;
      if (!status.ok()) line += " message=" + Json(status.error_message()).dump();
      log(line);
    } catch (...) {
      // Logging must not turn a reply into a failure.
    }
  }
  return status;
}

}  // namespace

template <class Body>
::grpc::Status AconServiceImpl::guarded(const LogSink& log, std::string_view rpc,
                                        std::string details, Body&& body) {
  bool counts = true;
  auto status = acond::guarded(log, rpc, std::move(details), [&](std::string& outcome) {
    if constexpr (std::is_invocable_v<Body, std::string&, bool&>) {
      return body(outcome, counts);
    } else {
      return body(outcome);
    }
  });
  if (status.ok() && counts && activity_) activity_();
  return status;
}

void to_proto(const ReportReply& reply, acon::grpc::ReportResponse* response) {
  response->set_data(reply.data.data(), reply.data.size());
  response->set_attestation_data(reply.attestation_data);
  auto* mrlog = response->mutable_mrlog();
  for (const auto& [index, entries] : reply.mrlog) {
    auto& log = (*mrlog)[index];
    for (const auto& entry : entries) log.add_logs(entry);
  }
}

::grpc::Status AconServiceImpl::AddManifest(::grpc::ServerContext*,
                                            const acon::grpc::AddManifestRequest* request,
                                            acon::grpc::AddManifestResponse* response) {
  return guarded(log_, "AddManifest", "", [&](std::string& details, bool& counts) {
    const auto& sig = request->signature();
    const auto& cert = request->certificate();
    auto reply = runtime_.add_manifest(
        request->manifest(), ByteView(reinterpret_cast<const uint8_t*>(sig.data()), sig.size()),
        ByteView(reinterpret_cast<const uint8_t*>(cert.data()), cert.size()));
    if (!reply) return to_status(reply.error());
    details += " image_id=" + reply->image_id +
               " missing_layers=" + std::to_string(reply->missing_layers.size());
    counts = !reply->already_loaded;
    response->set_image_id(reply->image_id);
    for (const auto& layer : reply->missing_layers) response->add_missing_layers(layer);
    return ::grpc::Status::OK;
  });
}

::grpc::Status AconServiceImpl::Finalize(::grpc::ServerContext*, const google::protobuf::Empty*,
                                         google::protobuf::Empty*) {
  return guarded(log_, "Finalize", "", [&](std::string&) {
    auto done = runtime_.finalize();
    return done ? ::grpc::Status::OK : to_status(done.error());
  });
}

::grpc::Status AconServiceImpl::AddBlob(::grpc::ServerContext*,
                                        const acon::grpc::AddBlobRequest* request,
                                        google::protobuf::Empty*) {
  std::string details =
      " alg=" + std::to_string(request->alg()) + " bytes=" + std::to_string(request->data().size());
  return guarded(log_, "AddBlob", details, [&](std::string&) {
    const auto& data = request->data();
    auto done = runtime_.add_blob(
        request->alg(), ByteView(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
    return done ? ::grpc::Status::OK : to_status(done.error());
  });
}

::grpc::Status AconServiceImpl::Start(::grpc::ServerContext*,
                                      const acon::grpc::StartRequest* request,
                                      acon::grpc::StartResponse* response) {
  std::string details =
      " image_id=" + request->image_id() + " envs=" + std::to_string(request->envs_size());
  return guarded(log_, "Start", details, [&](std::string& outcome) {
    std::vector<std::string> envs(request->envs().begin(), request->envs().end());
    auto container_id = runtime_.start(request->image_id(), envs);
    if (!container_id) return to_status(container_id.error());
    outcome += " container_id=" + std::to_string(*container_id);
    response->set_container_id(*container_id);
    return ::grpc::Status::OK;
  });
}

::grpc::Status AconServiceImpl::Restart(::grpc::ServerContext*,
                                        const acon::grpc::RestartRequest* request,
                                        google::protobuf::Empty*) {
  std::string details = " container_id=" + std::to_string(request->container_id()) +
                        " timeout=" + std::to_string(request->timeout());
  return guarded(log_, "Restart", details, [&](std::string&) {
    auto done = runtime_.restart(request->container_id(), request->timeout());
    return done ? ::grpc::Status::OK : to_status(done.error());
  });
}

::grpc::Status AconServiceImpl::Exec(::grpc::ServerContext*, const acon::grpc::ExecRequest* request,
                                     acon::grpc::ExecResponse* response) {
  // The command name only: arguments, environment and stdin may carry secrets.
  std::string details = " container_id=" + std::to_string(request->container_id()) +
                        " command=" + Json(request->command()).dump() +
                        " timeout=" + std::to_string(request->timeout());
  return guarded(log_, "Exec", details, [&](std::string&) {
    ExecRequest exec;
    exec.container_id = request->container_id();
    exec.command = request->command();
    exec.timeout = request->timeout();
    exec.arguments.assign(request->arguments().begin(), request->arguments().end());
    exec.envs.assign(request->envs().begin(), request->envs().end());
    exec.stdin_data = request->stdin();
    exec.capture_size = request->capture_size();
    auto reply = runtime_.exec(exec);
    if (!reply) return to_status(reply.error());
    response->set_stdout(reply->stdout_data);
    response->set_stderr(reply->stderr_data);
    return ::grpc::Status::OK;
  });
}

::grpc::Status AconServiceImpl::Kill(::grpc::ServerContext*, const acon::grpc::KillRequest* request,
                                     google::protobuf::Empty*) {
  std::string details = " container_id=" + std::to_string(request->container_id()) +
                        " signal=" + std::to_string(request->signal_num());
  return guarded(log_, "Kill", details, [&](std::string&) {
    auto done = runtime_.kill(request->container_id(), request->signal_num());
    return done ? ::grpc::Status::OK : to_status(done.error());
  });
}

::grpc::Status AconServiceImpl::Inspect(::grpc::ServerContext*,
                                        const acon::grpc::InspectRequest* request,
                                        acon::grpc::InspectResponse* response) {
  std::string details = " container_id=" + std::to_string(request->container_id());
  return guarded(log_, "Inspect", details, [&](std::string&) {
    auto infos = runtime_.inspect(request->container_id());
    if (!infos) return to_status(infos.error());
    for (const auto& info : *infos) {
      auto* out = response->add_info();
      out->set_container_id(info.container_id);
      out->set_state(info.state);
      out->set_wstatus(info.wstatus);
      out->set_image_id(info.image_id);
      out->set_exe_path(info.exe_path);
    }
    return ::grpc::Status::OK;
  });
}

::grpc::Status AconServiceImpl::Report(::grpc::ServerContext*,
                                       const acon::grpc::ReportRequest* request,
                                       acon::grpc::ReportResponse* response) {
  std::string details = " request_type=" + std::to_string(request->request_type());
  return guarded(log_, "Report", details, [&](std::string&) {
    auto reply = runtime_.report(request->nonce_lo(), request->nonce_hi(), request->request_type());
    if (!reply) return to_status(reply.error());
    to_proto(*reply, response);
    return ::grpc::Status::OK;
  });
}

::grpc::Status AconServiceImpl::GetManifest(::grpc::ServerContext*,
                                            const acon::grpc::GetManifestRequest* request,
                                            acon::grpc::GetManifestResponse* response) {
  return guarded(log_, "GetManifest", "", [&](std::string&) {
    auto reply = runtime_.get_manifest(request->image_id());
    if (!reply) return to_status(reply.error());
    response->set_manifest(reply->manifest);
    response->set_certificate(reply->certificate_der.data(), reply->certificate_der.size());
    return ::grpc::Status::OK;
  });
}

::grpc::Status EvidenceServiceImpl::Evidence(::grpc::ServerContext*,
                                             const acon::grpc::ReportRequest* request,
                                             acon::evidence::EvidenceResponse* response) {
  std::string details = " request_type=" + std::to_string(request->request_type());
  auto status = guarded(log_, "Evidence", details, [&](std::string&) {
    auto reply =
        runtime_.evidence(request->nonce_lo(), request->nonce_hi(), request->request_type());
    if (!reply) return to_status(reply.error());
    to_proto(reply->report, response->mutable_report());
    response->set_backend(reply->backend);
    response->set_firmware_event_log(reply->firmware_event_log.data(),
                                     reply->firmware_event_log.size());
    response->set_log_mode(std::string(log_mode_name(reply->log_mode)));
    if (reply->log_mode == LogMode::coco) {
      response->set_runtime_aael(reply->runtime_log.data(), reply->runtime_log.size());
    } else {
      response->set_runtime_text_aael(std::string(as_chars(reply->runtime_log)));
    }
    response->set_ak_public(reply->report.ak_public.data(), reply->report.ak_public.size());
    for (const auto& [bank, values] : reply->report.pcrs) {
      for (const auto& [index, value] : values) {
        auto* pcr = response->add_pcrs();
        pcr->set_bank(std::string(hash_name(bank)));
        pcr->set_index(index);
        pcr->set_value(value.data(), value.size());
      }
    }
    for (const image::SignedManifest& loaded : reply->images) {
      auto* out = response->add_images();
      out->set_image_id(loaded.identity.image_id());
      out->set_manifest(loaded.manifest.raw);
      out->set_signature(loaded.signature.data(), loaded.signature.size());
      out->set_certificate(loaded.certificate_der.data(), loaded.certificate_der.size());
    }
    return ::grpc::Status::OK;
  });
  if (status.ok() && activity_) activity_();
  return status;
}

}  // namespace acon::acond
