// Secrets for containers (acon's GetSecret IPC command, docs/acond.md "Secrets"): acond attests
// the TD to a KBS with CoCo's RCAR protocol through the KBS client library, the runtime log it
// measured included in the evidence, then fetches a resource and hands the plaintext to the
// container that asked. The plaintext stays in zeroizing memory and is never logged or stored.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "acon/acond/config.h"
#include "acon/common/bytes.h"
#include "acon/common/json.h"
#include "acon/common/result.h"
#include "acon/kbs/client.h"

namespace acon::acond {

// The TD's primary evidence for one RCAR over `report_data`, and how many runtime events the
// log it carries holds: taken together under the pod lock, so that the quoted runtime register
// (RTMR3 or the runtime PCR) and the log agree.
struct TdEvidence {
  // tdx: {"cc_eventlog": base64(CCEL + runtime TCG2 records), "quote": base64, "acon_images"}
  // tpm: CoCo's TPM evidence with acon's extension members (appraisal/evidence.h)
  Json primary;
  size_t runtime_events = 0;
};
using TdEvidenceSource = std::function<Result<TdEvidence>(ByteView report_data)>;
// How many runtime events the log holds now.
using RuntimeEventCount = std::function<size_t()>;

// The client settings a [kbs] configuration means.
kbs::ClientConfig kbs_client_config(const KbsConfig& config);

// Runs RCAR when it holds no usable token and fetches resources with the token (Bearer). One
// token serves every container until it is about to expire or the runtime log grows (a newly
// loaded image must be in the evidence the KBS decides on); a cached token the KBS refuses with
// 401 is replaced by one fresh RCAR. One KBS exchange at a time; each is bounded by the client's
// timeouts.
class SecretBroker {
 public:
  // `tee`: what the evidence attests as in /auth ("tdx" or "tpm", Runtime::kbs_tee()).
  SecretBroker(kbs::ClientConfig config, std::string tee, TdEvidenceSource evidence,
               RuntimeEventCount events);
  SecretBroker(const SecretBroker&) = delete;
  SecretBroker& operator=(const SecretBroker&) = delete;

  // The resource's plaintext, or the KBS's refusal (Errc::not_found for a missing resource,
  // verify_failed with its error type and detail) or a transport error.
  Result<SecretBytes> fetch(std::string_view resource_path);

  // RCAR runs so far (the tests check that a token is reused).
  size_t attestations() const;

 private:
  Status attest_locked();
  bool token_usable_locked() const;

  kbs::ClientConfig config_;
  std::string tee_;
  TdEvidenceSource evidence_;
  RuntimeEventCount events_;
  mutable std::mutex mutex_;
  std::optional<kbs::KbsClient> client_;
  size_t attested_events_ = 0;
  std::optional<std::chrono::system_clock::time_point> token_expiry_;
  size_t attestations_ = 0;
};

// The text of a fetch failure for the container's error reply: the KBS's error type and detail
// (never secret: the KBS keeps secrets out of its details) or the transport error.
std::string secret_failure_message(const Error& error);

}  // namespace acon::acond
