// The evidence JSON loader (and the KBS Attestation loader, tdx with acon_images and tpm with
// acon's extension members) never crash on arbitrary input; a document that loads must write back
// to a document that loads to the same evidence; TDX evidence that loads goes through the replay
// checks, which must not crash either; and the firmware-log cache changes nothing an appraisal
// of it decides or claims.
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "acon/appraisal/checks.h"
#include "acon/appraisal/evidence.h"
#include "fuzz_support.h"

namespace {

// TDX evidence appraised without a firmware-log cache and twice with one kept across inputs (a
// miss, or a hit on an earlier input's identical firmware part; then a hit): the same checks and
// the same claims each time.
void same_with_firmware_log_cache(const acon::appraisal::Evidence& evidence) {
  using namespace acon::appraisal;
  static const auto cache =
      std::make_shared<FirmwareLogCache>(FirmwareLogCache::Limits{8, size_t{8} << 20});
  const EvidenceAppraisal plain = appraise_evidence(evidence, AppraisalOptions{});
  AppraisalOptions with;
  with.firmware_log_cache = cache;
  for (int round = 0; round < 2; ++round) {
    const EvidenceAppraisal cached = appraise_evidence(evidence, with);
    if (checks_to_json(cached.checks) != checks_to_json(plain.checks) ||
        *cached.claims != *plain.claims)
      std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace acon;
  using namespace acon::appraisal;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  // TDX, with acon's acon_images: the images read write back to the same entries.
  auto tdx = load_kbs_attestation(text, "tdx");
  if (tdx.ok()) same_with_firmware_log_cache(*tdx);
  if (tdx.ok() && !tdx->images.empty()) {
    auto back = images_from_json(images_to_json(tdx->images), "acon_images");
    if (!back.ok() || back->size() != tdx->images.size()) std::abort();
    for (size_t i = 0; i < back->size(); ++i)
      if ((*back)[i].name != tdx->images[i].name ||
          (*back)[i].manifest != tdx->images[i].manifest ||
          (*back)[i].signature != tdx->images[i].signature ||
          (*back)[i].certificate_der != tdx->images[i].certificate_der)
        std::abort();
  }
  // CoCo's tpm form with acon's extension members (logs, other banks, images): what loads writes
  // back to the same parts, and its checks (the replay of the logs included) never crash.
  if (auto tpm = load_kbs_attestation(text, "tpm"); tpm.ok()) {
    if (auto written = tpm_evidence_to_trustee(tpm->vtpm, tpm->images); written.ok()) {
      std::vector<ProvidedImage> images;
      auto back = tpm_evidence_from_trustee(*written, &images);
      if (!back.ok() || back->quote != tpm->vtpm.quote || back->pcrs != tpm->vtpm.pcrs ||
          back->ak_public != tpm->vtpm.ak_public || back->event_log != tpm->vtpm.event_log ||
          back->runtime_aael != tpm->vtpm.runtime_aael || images.size() != tpm->images.size())
        std::abort();
    }
    (void)appraise_evidence(*tpm, AppraisalOptions{});
  }
  auto evidence = parse_evidence_json(text);
  if (!evidence.ok()) return 0;
  const Json written = evidence_to_json(*evidence);
  auto again = parse_evidence_json(written.dump());
  if (!again.ok() || evidence_to_json(*again) != written) std::abort();
  if (evidence->platform == Platform::tdx) {
    (void)check_tdx_replay(evidence->tdx);
    same_with_firmware_log_cache(*evidence);
  }
  if (evidence->platform == Platform::vtpm) (void)check_vtpm_replay(evidence->vtpm);
  return 0;
}
