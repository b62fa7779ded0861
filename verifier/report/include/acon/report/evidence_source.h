// Where an auditor's evidence comes from (docs/acon-verify.md §1): one bundle (a directory, a
// .tar / .tar.gz archive or an evidence JSON), a KBS attestation request captured from the wire
// plus the image directories its runtime log names, the bundle files one by one, or acond live.
// Each form ends in the appraisal library's one bundle loader, so the layout is read in one place.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "acon/appraisal/evidence.h"
#include "acon/common/bytes.h"
#include "acon/common/result.h"

namespace acon::report {

// Exactly one of bundle, kbs_request, files (with image_dirs) or acond is used, in that order of
// precedence after acond.
struct EvidenceSource {
  std::string bundle;       // a directory, a tar / tar.gz archive, or an evidence JSON
  std::string kbs_request;  // a KBS attestation request body (kbs-types Attestation)
  std::string tee = "tdx";  // ... made in a session of this TEE
  // Bundle files by their bundle names ("quote.bin", docs/evidence.md "Bundle layout"): name, path.
  std::vector<std::pair<std::string, std::string>> files;
  // Each: a directory with manifest.json (required), signature, certificate.der. With the files or
  // the KBS request, which carries no images.
  std::vector<std::string> image_dirs;
  std::string acond;  // HOST:PORT (acon-client's -c forms): a fresh Report from acond
  // The acon-client that asks acond (acon-verify does not link gRPC); empty: the one beside the
  // running program.
  std::string acon_client;
  // acond's Report nonce (its low 64 bits); unset: 128 random bits.
  std::optional<uint64_t> acond_nonce;
  // Reads each named file whole, bounded (a tool passes its --max-input reader); unset:
  // image::read_bounded_file with appraisal::kMaxEvidenceBytes.
  std::function<Result<std::string>(const std::string& path)> read_file;
};

struct LoadedEvidence {
  appraisal::Evidence evidence;
  std::string description;  // what was appraised, for the report: a path, "acond HOST:PORT"
  // From acond: the requestor nonce the Report was asked with, which attestation_data must carry.
  std::optional<Bytes> requestor_nonce;
};

// Loads the evidence of `source`. Errors name the file by the path the user gave (never a
// temporary directory) or the acond address; Errc::invalid_argument when no source was given.
Result<LoadedEvidence> load_evidence(const EvidenceSource& source);

}  // namespace acon::report
