// Evidence for the KBS client from acon's guest backends: the attester side of RCAR. The client
// library (client.h) takes any EvidenceProvider; these make CoCo's primary evidence from the
// simulated TD, Linux TDX (configfs-tsm) or a vTPM, in the form guest-components' attesters send
// (docs/kbs-client.md "Evidence providers"). A separate library from acon_kbs_client, which stays
// common + libcurl only.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "acon/appraisal/evidence.h"
#include "acon/common/result.h"
#include "acon/guest/backend.h"
#include "acon/guest/vtpm.h"
#include "acon/kbs/client.h"

namespace acon::kbs {

// TDX primary evidence {"cc_eventlog": base64 | null, "quote": base64}: the backend's quote over
// the report data and its firmware CCEL (null when it cannot be read, as guest-components sends).
// With `images` (acond's loaded images, as the bytes it verified), also acon's extension member
// appraisal::kAconImagesMember, which lets the KBS run the images checks; a Trustee KBS ignores it
// (docs/evidence.md §2.1).
EvidenceProvider tdx_evidence_provider(std::shared_ptr<guest::Backend> backend,
                                       std::vector<appraisal::ProvidedImage> images = {});

// What acond adds to CoCo's TPM evidence, as acon's extension members (appraisal/evidence.h,
// docs/evidence.md §2.2): the firmware's TCG2 event log, its runtime TCG2 records and its loaded
// images, so that the KBS replays the logs against the quoted PCRs and runs the images checks.
struct TpmEvidenceExtras {
  std::optional<Bytes> firmware_event_log;
  std::optional<Bytes> runtime_aael;
  std::vector<appraisal::ProvidedImage> images;
};

// CoCo's TPM evidence (tee "tpm") from the vTPM: the quote with CoCo's binding (qualifyingData =
// the first 32 bytes of the report data, whatever the backend's options), the AK as a DER
// SubjectPublicKeyInfo and the quoted PCRs (SHA-256 in CoCo's list, other banks the backend's
// selection covers in acon_pcrs), plus `extras`, written by appraisal::tpm_evidence_to_trustee.
EvidenceProvider tpm_evidence_provider(std::shared_ptr<guest::VtpmBackend> vtpm,
                                       TpmEvidenceExtras extras = {});

// An evidence spec as the tools take it: sim:STATEFILE (acon-sim's simulated TD), tdx, or
// vtpm[:TCTI] (default TCTI: the kernel's resource manager; quoting as CoCo's TPM attester does,
// guest::coco_tpm_options). invalid_argument for any other spec.
Result<EvidenceProvider> evidence_provider(const std::string& spec);

// Whose options open the vTPM: CoCo's attester's (guest::coco_tpm_options, an RSA AK), or
// acond's --backend vtpm (guest::VtpmOptions defaults, an ECDSA P-256 AK), so that tpm-ak prints
// the AK the KBS must pin for either.
enum class VtpmAk { coco, acond };

// The vTPM of a vtpm[:TCTI] spec (tpm-ak prints its AK); invalid_argument for another spec.
Result<std::shared_ptr<guest::VtpmBackend>> open_vtpm_evidence(const std::string& spec,
                                                               VtpmAk ak = VtpmAk::coco);

// The tee an evidence spec attests as in /auth: "tpm" for vtpm[:TCTI], else "tdx".
std::string tee_for_evidence(const std::string& spec);

}  // namespace acon::kbs
