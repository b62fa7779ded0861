// acond's pod and the semantics of its RPCs, independent of gRPC: the gRPC service, the tests
// and any other transport call these and map RpcError to their own status. Behaviour follows
// ACON's acond at commit 3430805 (AconService over gRPC), with the deliberate differences
// docs/acond.md lists. Every call is serialised under one pod lock.
//
// State directory layout (all created by acond):
//   contents/sha384/<hex>/            an unpacked layer (sha384 of the tarball bytes)
//   contents/sha256|sha512/<hex>      symlinks to the sha384 directory
//   contents/signer/<H>/<S>/<NAME>    layer aliases a signer's manifest defines
//   images/<H>/<S>/<M>/               a loaded image: acon-manifest.json (the exact bytes),
//                                     certificate.der, l/<i> links to its layers
//   images/<H>/<S>/<NAME>             image aliases (-> <M>)
//   containers/<cid>/, shared/         containers (container.h)
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "acon/acond/ipc.h"
#include "acon/acond/measurement_log.h"
#include "acon/acond/secrets.h"
#include "acon/common/bytes.h"
#include "acon/guest/backend.h"
#include "acon/image/attestation_data.h"
#include "acon/image/policy.h"
#include "acon/image/signature.h"

namespace acon::acond {

class ContainerManager;
struct ContainerInfo;
struct ExecRequest;
struct ExecReply;

// The status codes acond answers with (gRPC numbering): ACON's four, and FailedPrecondition,
// which only our own refusals use.
enum class RpcCode : int {
  unknown = 2,
  invalid_argument = 3,
  deadline_exceeded = 4,
  permission_denied = 7,
  failed_precondition = 9,
};
std::string_view rpc_code_name(RpcCode code);

// ACON's message texts where aconcli or users depend on them.
namespace messages {
inline constexpr std::string_view kManifestsFinalized = "Manifests finalized";
inline constexpr std::string_view kInvalidSignature = "Invalid digital signature";
inline constexpr std::string_view kInvalidCertificate = "Invalid certificate";
inline constexpr std::string_view kIncompatiblePolicies =
    "Incompatible polices";  // ACON's spelling
inline constexpr std::string_view kNoReferencingManifest = "No referencing manifest";
inline constexpr std::string_view kNoImages = "No images in current TD";
inline constexpr std::string_view kInvalidRequestType = "Invalid request type";
inline constexpr std::string_view kInvalidImageId = "Invalid Image ID";
inline constexpr std::string_view kMissingLayers = "Missing layers";
}  // namespace messages

struct RpcError {
  RpcCode code = RpcCode::unknown;
  std::string message;  // what the client receives
};

// A value or an RpcError, like acon::Result but with the client-facing status.
template <class T>
class [[nodiscard]] RpcResult {
 public:
  RpcResult(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  RpcResult(RpcError error) : v_(std::move(error)) {}  // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const RpcError& error() const& { return std::get<1>(v_); }

 private:
  std::variant<T, RpcError> v_;
};
struct Done {};
using RpcStatus = RpcResult<Done>;

struct RuntimeOptions {
  std::filesystem::path state_dir;  // contents/ and images/ (created)
  LogMode log_mode = LogMode::coco;
  // Default: <state_dir>/aael (coco) or <state_dir>/rtmr3.log (acon).
  std::optional<std::filesystem::path> log_path;
  image::PolicyMode policy_mode = image::PolicyMode::acond_greedy;
  // The PCR a TPM backend measures into (RTMR backends always use RTMR3).
  uint32_t runtime_pcr = kDefaultRuntimePcr;
  // Crash tests only (measurement_log.h): called at each durable step of AddManifest, Finalize
  // and AddBlob: kMeasureSteps, then kRuntimeSteps.
  StepHook step_hook;
};
// "after-measure": an AddManifest measured, its image not yet published; "mid-unpack": a layer
// extracted into its staging directory, not yet renamed to its digest.
inline constexpr std::string_view kRuntimeSteps[] = {"after-measure", "mid-unpack"};

struct AddManifestReply {
  std::string image_id;
  std::vector<std::string> missing_layers;
  bool already_loaded = false;  // nothing done: the idle power-off stays armed (pid1.h)
};

struct ManifestReply {
  std::string manifest;  // the bytes as they were signed and added
  Bytes certificate_der;
};

struct ReportReply {
  Bytes data;                                          // TDREPORT (request type 0) or quote (1)
  std::map<uint32_t, std::vector<std::string>> mrlog;  // 0..3; only 3 carries entries
  std::string attestation_data;                        // the JSON REPORTDATA binds
  // A vTPM quote's AK (TPM2B_PUBLIC) and quoted PCR values (guest::Attestation); else empty.
  Bytes ak_public;
  guest::PcrValues pcrs;
};

// What a verifier needs beyond a report to replay RTMR0..3 (our addition, not ACON's).
struct EvidenceReply {
  ReportReply report;
  std::string backend;
  Bytes firmware_event_log;
  LogMode log_mode = LogMode::coco;
  Bytes runtime_log;  // coco: headerless TCG2 AAEL records; acon: the text log
  std::vector<image::SignedManifest> images;  // every loaded image, in load order
};

// ACON's report request types.
inline constexpr uint32_t kRequestTdReport = 0;
inline constexpr uint32_t kRequestQuote = 1;

class Runtime {
 public:
  // Opens the state directory and the measurement log (completing a pending write-ahead record),
  // then rebuilds the pod from the log: every AddManifest record's stored image is re-verified and
  // loaded in log order, and a Finalize record finalizes. The backend must outlive the Runtime.
  static Result<std::unique_ptr<Runtime>> open(guest::Backend& backend, RuntimeOptions options);
  // Stops the containers still running (SIGKILL) and unmounts their roots.
  ~Runtime();

  RpcResult<AddManifestReply> add_manifest(std::string_view manifest, ByteView signature,
                                           ByteView certificate_der);
  RpcStatus finalize();
  RpcStatus add_blob(uint32_t alg, ByteView data);
  RpcResult<ManifestReply> get_manifest(std::string_view image_id);
  RpcResult<ReportReply> report(uint64_t nonce_lo, uint64_t nonce_hi, uint32_t request_type);
  RpcResult<EvidenceReply> evidence(uint64_t nonce_lo, uint64_t nonce_hi, uint32_t request_type);

  // Containers (container.h): Start takes the image and its env rules under the pod lock; the
  // others act on the container table only, so a slow Exec or Restart does not block the pod.
  RpcResult<uint32_t> start(std::string_view image_id, const std::vector<std::string>& envs);
  RpcStatus kill(uint32_t container_id, int32_t signal_num);
  RpcStatus restart(uint32_t container_id, uint64_t timeout_seconds);
  RpcResult<ExecReply> exec(const ExecRequest& request);
  RpcResult<std::vector<ContainerInfo>> inspect(uint32_t container_id);
  ContainerManager& containers() { return *containers_; }

  // The in-container IPC (ipc.h): a caller is the container whose ID equals its uid as acond
  // sees it (a container's uid 0; ACON's rule), anyone else gets "Invalid Container ID".
  // SetAttestationData keeps {type, data} for the caller's later reports; GetReport makes a
  // report with the caller's {type, data} for that report only. GetSecret (acon) asks the secret
  // broker, outside the pod lock, and answers "KBS not configured" when there is none.
  ipc::HandlerResult answer_ipc(uid_t peer_uid, const ipc::Request& request);

  // GetSecret's KBS (secrets.h); null: not configured. Set before the IPC server starts.
  void set_secret_broker(std::shared_ptr<SecretBroker> broker);
  // The TD's evidence for a KBS (secrets.h), always with the loaded images (acon_images). On an
  // RTMR backend: the quote over `report_data` and, as CoCo's cc_eventlog, the firmware CCEL
  // followed by the runtime log's TCG2 records, so that the KBS replays RTMR3 and sees the images
  // loaded. On the vTPM: CoCo's TPM evidence (tee "tpm", the Report RPC's AK, CoCo's 32-byte
  // binding) with the firmware's TCG2 log and the runtime records as acon's extension members,
  // so that the KBS replays the PCRs. Needs log_mode coco.
  Result<TdEvidence> kbs_evidence(ByteView report_data);
  // The tee kbs_evidence() attests as: "tpm" on the vTPM, "tdx" otherwise.
  std::string kbs_tee() const;
  size_t runtime_event_count() const;

  bool finalized() const;
  size_t image_count() const;
  const RuntimeOptions& options() const { return options_; }
  LogMode log_mode() const { return options_.log_mode; }

 private:
  struct Image {
    image::SignedManifest signed_manifest;
    std::filesystem::path dir;
  };

  Runtime(guest::Backend& backend, RuntimeOptions options, MeasurementLog log);
  // `attached` overrides the stored container data for this report.
  RpcResult<ReportReply> report_locked(uint64_t nonce_lo, uint64_t nonce_hi, uint32_t request_type,
                                       const image::ContainerAttestations& attached = {});
  std::vector<std::string> missing_layers_of(const Image& image) const;
  RpcStatus check_alias_links(const image::SignedManifest& candidate) const;
  Status create_alias_links(const image::SignedManifest& candidate) const;
  // An image is staged in "<dir>.staging" before it is measured and renamed to `dir` after.
  Status stage_image(const image::SignedManifest& candidate,
                     const std::filesystem::path& staging) const;
  Status reload();
  void step(std::string_view name) const {
    if (options_.step_hook) options_.step_hook(name);
  }
  // A layer extracted into a fresh directory under contents/.staging, then filed under its
  // digest (or dropped when that digest is already unpacked) with its other digests' links.
  Result<std::filesystem::path> extract_blob(ByteView data) const;
  Status publish_blob(const std::filesystem::path& staging, const std::string& sha384_hex,
                      const std::vector<std::pair<std::string, std::string>>& other_refs) const;

  mutable std::mutex mutex_;
  guest::Backend* backend_;
  RuntimeOptions options_;
  MeasurementLog log_;
  image::Pod pod_;
  std::vector<Image> images_;  // load order
  bool finalized_ = false;
  std::unique_ptr<ContainerManager> containers_;
  image::ContainerAttestations container_attestations_;  // from SetAttestationData
  std::shared_ptr<SecretBroker> secrets_;
};

}  // namespace acon::acond
