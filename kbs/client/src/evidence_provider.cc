// Evidence providers over acon's guest backends. See evidence_provider.h.
#include "acon/kbs/evidence_provider.h"

#include <algorithm>

#include "acon/appraisal/evidence.h"
#include "acon/common/bytes.h"
#include "acon/guest/sim/state.h"
#include "acon/guest/tdx.h"

namespace acon::kbs {
namespace {

bool is_vtpm(const std::string& spec) { return spec == "vtpm" || spec.starts_with("vtpm:"); }

Result<guest::ReportData> report_data_of(ByteView report_data) {
  guest::ReportData data{};
  if (report_data.size() != data.size())
    return make_error(Errc::invalid_argument, "report data: not 64 bytes");
  std::copy(report_data.begin(), report_data.end(), data.begin());
  return data;
}

}  // namespace

EvidenceProvider tdx_evidence_provider(std::shared_ptr<guest::Backend> backend,
                                       std::vector<appraisal::ProvidedImage> images) {
  return [backend, images = std::move(images)](ByteView report_data) -> Result<Json> {
    ACON_TRY(guest::ReportData data, report_data_of(report_data));
    ACON_TRY(Bytes quote, backend->quote(data));
    Json cc_eventlog = nullptr;
    if (auto ccel = backend->firmware_event_log()) cc_eventlog = base64_encode(*ccel);
    Json primary{{"cc_eventlog", std::move(cc_eventlog)}, {"quote", base64_encode(quote)}};
    if (!images.empty())
      primary[std::string(appraisal::kAconImagesMember)] = appraisal::images_to_json(images);
    return primary;
  };
}

EvidenceProvider tpm_evidence_provider(std::shared_ptr<guest::VtpmBackend> vtpm,
                                       TpmEvidenceExtras extras) {
  return [vtpm, extras = std::move(extras)](ByteView report_data) -> Result<Json> {
    ACON_TRY(guest::ReportData data, report_data_of(report_data));
    // CoCo's binding whatever the backend's own options (acond's quote its whole ReportData for
    // the Report RPC): the KBS compares extraData with the first 32 bytes.
    ACON_TRY(guest::Attestation attestation,
             vtpm->attest_prefix(data, guest::kCocoQualifyingDataBytes));
    if (!attestation.pcrs.contains(HashAlg::sha256))
      return make_error(Errc::unsupported, "vtpm: the TPM has no SHA-256 PCR bank");
    appraisal::VtpmEvidence evidence;
    evidence.quote = std::move(attestation.quote);
    evidence.ak_public = vtpm->ak_public_key().to_der();
    evidence.ak_encoding = appraisal::AkEncoding::spki_der;
    // Every bank the quote covers: SHA-256 in CoCo's list, any other in acon_pcrs.
    for (auto& [bank, values] : attestation.pcrs)
      evidence.pcrs[std::string(hash_name(bank))] = std::move(values);
    evidence.event_log = extras.firmware_event_log;
    evidence.runtime_aael = extras.runtime_aael;
    return appraisal::tpm_evidence_to_trustee(evidence, extras.images);
  };
}

Result<std::shared_ptr<guest::VtpmBackend>> open_vtpm_evidence(const std::string& spec, VtpmAk ak) {
  if (!is_vtpm(spec))
    return make_error(Errc::invalid_argument, "--evidence: \"" + spec + "\" is not vtpm[:TCTI]");
  const std::string tcti = spec.size() > 5 ? spec.substr(5) : guest::VtpmOptions{}.tcti;
  guest::VtpmOptions options = guest::coco_tpm_options(tcti);
  if (ak == VtpmAk::acond) {
    options = guest::VtpmOptions{};
    options.tcti = tcti;
  }
  ACON_TRY(auto backend, guest::VtpmBackend::open(options));
  return std::shared_ptr<guest::VtpmBackend>(std::move(backend));
}

Result<EvidenceProvider> evidence_provider(const std::string& spec) {
  if (spec.starts_with("sim:") && spec.size() > 4)
    return tdx_evidence_provider(std::make_shared<guest::sim::SimBackend>(spec.substr(4)));
  if (spec == "tdx") return tdx_evidence_provider(std::make_shared<guest::TdxTsmBackend>());
  if (is_vtpm(spec)) {
    ACON_TRY(auto vtpm, open_vtpm_evidence(spec));
    return tpm_evidence_provider(std::move(vtpm));
  }
  return make_error(Errc::invalid_argument,
                    "--evidence: \"" + spec + "\" is not sim:STATEFILE, tdx or vtpm[:TCTI]");
}

std::string tee_for_evidence(const std::string& spec) { return is_vtpm(spec) ? "tpm" : "tdx"; }

}  // namespace acon::kbs
