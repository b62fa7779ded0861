// The stored swtpm quote (tests/data/tpm/make_swtpm_quote.sh) as appraisal evidence, with an event
// log rebuilt from the script's measurements: H(text) into PCRs 0, 4, 7 and 0 in both banks. The
// AK is pinned and the quote's nonce expected, as a relying party that provisioned the vTPM would.
#pragma once

#include <cstdint>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "acon/appraisal/checks.h"
#include "acon/eventlog/event_log.h"
#include "test_util.h"

namespace acon::test {

struct StoredVtpm {
  appraisal::Evidence evidence;
  appraisal::AppraisalOptions options;
};

// `with_separator` false leaves out the last PCR 0 measurement, so PCR 0 no longer replays.
inline StoredVtpm stored_vtpm(Time at, bool with_separator = true) {
  StoredVtpm out;
  appraisal::VtpmEvidence& vtpm = out.evidence.vtpm;
  out.evidence.platform = appraisal::Platform::vtpm;
  vtpm.quote = read_data_bytes("tpm/quote.bin");
  vtpm.ak_public = read_data_bytes("tpm/ak.tpm2b_public");
  for (auto [bank, file, size] : {std::tuple{"sha256", "tpm/pcrs_sha256.bin", 32},
                                  std::tuple{"sha384", "tpm/pcrs_sha384.bin", 48}}) {
    Bytes values = read_data_bytes(file);
    for (uint32_t index = 0; index < 24; ++index)
      vtpm.pcrs[bank][index] =
          Bytes(values.begin() + index * size, values.begin() + (index + 1) * size);
  }
  const HashAlg banks[] = {HashAlg::sha256, HashAlg::sha384};
  Bytes log = must(eventlog::spec_id_record(banks));
  std::vector<std::pair<uint32_t, std::string>> measurements = {
      {0, "firmware"}, {4, "bootloader"}, {7, "secure-boot-config"}};
  if (with_separator) measurements.push_back({0, "separator"});
  for (const auto& [index, text] : measurements)
    append(log,
           must(eventlog::measured_record(index, eventlog::ev::kAction, banks, as_bytes(text))));
  vtpm.event_log = std::move(log);
  out.options.at = at;
  out.options.ak_trust = tpm::AkTrust::pinned(must(tpm::parse_tpm2b_public(vtpm.ak_public)).key);
  out.options.tpm_extra_data = read_hex_data("tpm/nonce.hex");
  return out;
}

}  // namespace acon::test
