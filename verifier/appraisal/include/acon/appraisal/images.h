// Re-checking the ACON images a runtime log names. acond measures one event per image it admits
// ("github.com/intel/ACON AddManifest <Image ID>") and one when the image set is closed
// ("github.com/intel/ACON Finalize[ <N>]"). Given those events and the manifests, signatures and
// certificates the relying party was handed, appraise_images() recomputes every Image ID,
// verifies every signature, re-runs acond's launch-policy algorithm and the spec's graph rule in
// log order, resolves vendor-layer aliases, and reports every event acond would never have
// written. docs/acon-manifest.md "Re-checking images from the runtime log" describes the checks.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "acon/appraisal/check.h"
#include "acon/appraisal/evidence.h"
#include "acon/common/bytes.h"
#include "acon/common/json.h"
#include "acon/common/result.h"
#include "acon/eventlog/event_log.h"
#include "acon/eventlog/runtime.h"
#include "acon/image/signature.h"

namespace acon::appraisal {

// The AAEL domain acond measures its events under.
inline constexpr std::string_view kAconEventDomain = "github.com/intel/ACON";

// One decoded runtime-log event, whatever log form it came from (ACON / CoCo text AAEL, CoCo
// TCG2 AAEL records).
struct RuntimeLogEvent {
  size_t index = 0;  // where it is in its log: text line number, TCG2 record number
  Bytes digest;      // the value extended for it
  std::string text;  // "<domain> <operation>[ <content>]", no newline
  // True when a replay that matched a quoted register covers this event. appraise_images()
  // uses proven events only: an unproven event is listed in runtime_log.acon_events' detail and
  // otherwise ignored (the replay checks report why it is unproven).
  bool proven = false;
};

// The events of a text AAEL (ACON's rtmr3.log, CoCo's legacy log), one per line after INIT,
// with digest = H(line) in the log's hash. A text log is proven as a whole: `proven` is whether
// its replay (INIT included) matched the quoted register.
std::vector<RuntimeLogEvent> runtime_log_events(const eventlog::TextAael& log, bool proven);

// The AAEL events of a TCG2 log (EV_EVENT_TAG records with the "AAEL" tag; other records, such
// as the firmware events of a cc_eventlog, are skipped). `proven` is what
// eventlog::proven_events() returned for this log. digest = the record's SHA-384 digest, or its
// first digest when it has none. A tagged AAEL record whose text does not parse is Errc::parse
// naming the record, as Trustee refuses such a log.
Result<std::vector<RuntimeLogEvent>> runtime_log_events(
    const eventlog::EventLog& log, std::span<const eventlog::Event* const> proven);

struct ImageCheckOptions {
  // Which certificates count: acond's rule by default (what the logged acond accepted).
  image::CertProfile profile = image::CertProfile::acond;
};

struct ImageAppraisal {
  // In this order:
  //   runtime_log.acon_events     the ACON events are a sequence acond writes
  //   runtime_log.acon_finalized  a proven Finalize closes the image set
  //   image.<id>.manifest / .id / .signature, per distinct logged Image ID in log order
  //   image.unlogged              provided images no proven AddManifest names (informational)
  //   launch_policy.acond / launch_policy.spec
  CheckResults checks;
  // The claims document's acon.images array, one entry per proven AddManifest event:
  // {"image_id","log_index","hash_algorithm","signer_digest","manifest_digest","provided",
  //  "signer","aliases","alias_resolution","verdict":{"acond","spec"}[,"refusal"]}.
  Json images = Json::array();
};

// Re-checks the images named by the proven ACON events of `events` (log order) against
// `provided`. A provided image belongs to a logged Image ID when the ID recomputed from its
// certificate and manifest bytes equals it; otherwise, when it is the only unmatched provided
// image under the logged ID's signer, it is taken as that image's (mismatching) manifest, so
// that a tampered manifest fails image.<id>.id instead of looking absent. The launch policy is
// evaluated over the images whose recomputed ID matches their event (their policy is the one
// acond measured), whether or not the provided signature verifies. Never fails: every problem
// is a CheckResult.
ImageAppraisal appraise_images(std::span<const RuntimeLogEvent> events,
                               std::span<const ProvidedImage> provided,
                               const ImageCheckOptions& options = {});

}  // namespace acon::appraisal
