// The evidence an appraisal starts from, per platform, and its three loaders: a KBS Attestation
// body (Trustee's RCAR protocol), a directory bundle of named files, and one JSON evidence
// document. Everything is held as bytes or text exactly as received: parsing the quote, the logs
// and the manifests is the checks' work (checks.h), so that a malformed part becomes a named
// failed check rather than a load error. docs/evidence.md describes the forms and file names.
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "acon/common/bytes.h"
#include "acon/common/json.h"
#include "acon/common/result.h"

namespace acon::appraisal {

// Bounds on what a loader accepts: the whole document or bundle, and any one member or file.
inline constexpr size_t kMaxEvidenceBytes = size_t{64} << 20;
inline constexpr size_t kMaxEvidenceMemberBytes = size_t{16} << 20;
inline constexpr size_t kMaxEvidenceImages = 256;

enum class Platform { tdx, sgx, vtpm };
std::string_view platform_name(Platform platform);  // "tdx", "sgx", "vtpm"
// Trustee's `tee` values for the platforms acon appraises: "tdx", "sgx", "tpm"; and "vtpm".
std::optional<Platform> platform_from_tee(std::string_view tee);

// TDX: the quote and whichever event-log form the attester sent. The simulated TDX platform
// gives the same evidence; only the quote verification tells them apart (by the PCK chain).
struct TdxEvidence {
  Bytes quote;
  // CoCo's attester packing: the firmware CCEL, then the runtime TCG2 AAEL records, then fill.
  std::optional<Bytes> cc_eventlog;
  // Or the parts separately: the firmware CCEL and the runtime TCG2 AAEL records (EV_EVENT_TAG
  // records without a header, as appended after the CCEL) ...
  std::optional<Bytes> ccel;
  std::optional<Bytes> runtime_aael;
  // ... and the text runtime logs: ACON's / CoCo's legacy text AAEL (RTMR3), the IMA ASCII log.
  std::optional<std::string> runtime_text_aael;
  std::optional<std::string> ima_log;
};

struct SgxEvidence {
  Bytes quote;  // DCAP v3 quote
};

// How VtpmEvidence::ak_public encodes the AK. acon's vTPM backend sends the TPM2B_PUBLIC (which
// also shows the key's attributes); CoCo's TPM attester (Trustee tee "tpm") sends only the DER
// SubjectPublicKeyInfo.
enum class AkEncoding { tpm2b_public, spki_der };

// vTPM: TPM2_Quote output (TPM2B_ATTEST ‖ TPMT_SIGNATURE), the AK's public key, the quoted PCR
// values by bank ("sha256" → index → value) and the TCG2 event log that should explain them.
struct VtpmEvidence {
  Bytes quote;
  Bytes ak_public;
  AkEncoding ak_encoding = AkEncoding::tpm2b_public;
  std::map<std::string, std::map<uint32_t, Bytes>> pcrs;
  std::optional<Bytes> event_log;
  // acond's runtime TCG2 AAEL records (coco log mode), headerless and with a SHA-384 digest only,
  // extended into the runtime PCR's sha384 bank after the firmware's events. Kept apart from
  // event_log because a TCG2 log needs every record to carry every bank its Spec ID lists.
  std::optional<Bytes> runtime_aael;
};

// KBS runtime data, as the client sent it: the challenge nonce, its TEE public key (a JWK) and
// the additional-evidence string ("" when none).
struct RuntimeData {
  std::string nonce;
  Json tee_pubkey;
  std::string additional_evidence;
};

// Init-data as the KBS Attestation carries it: {"format":"toml","body":"<TOML text>"}.
struct InitData {
  std::string format;
  std::string body;
};

// An ACON image as the relying party received it (from the deployer, aconcli's repository, or
// an evidence bundle): exact bytes, nothing parsed yet; the images checks (images.h) parse it.
// An empty signature or certificate is one that was not provided.
struct ProvidedImage {
  std::string name;  // where it came from, for messages ("images/0"); may be empty
  Bytes manifest;    // the manifest bytes as signed
  Bytes signature;
  Bytes certificate_der;
};

struct Evidence {
  Platform platform = Platform::tdx;
  TdxEvidence tdx;
  SgxEvidence sgx;
  VtpmEvidence vtpm;
  std::optional<RuntimeData> runtime_data;
  std::optional<Bytes> attestation_data;  // ACON acond's attestation_data JSON bytes
  std::optional<InitData> init_data;
  std::vector<ProvidedImage> images;
  std::optional<std::string> collateral;  // flat DCAP collateral bundle JSON text
};

// (a) A KBS Attestation body (kbs-types `Attestation`: "init-data", "runtime-data",
// "tee-evidence" {"primary_evidence", "additional_evidence"}) for the session's `tee`. TDX primary
// evidence is {"cc_eventlog": base64|null, "quote": base64} plus acon's optional extension
// member kAconImagesMember (acond's loaded images, read into Evidence::images); SGX
// {"quote": base64}; TPM ("tpm") is CoCo's TPM attester form, read by
// tpm_evidence_from_trustee(). The additional_evidence string becomes
// runtime_data.additional_evidence, as the KBS binds it.
Result<Evidence> load_kbs_attestation(std::string_view body, std::string_view tee);

// acon's extension member of TDX primary evidence: the images acond has loaded, so that a KBS
// can run the images checks against the runtime log the quote proves. Trustee's TdxEvidence
// (serde, no deny_unknown_fields) ignores it. Not bound by the report data and need not be: each
// image must match the Image ID a proven AddManifest event names.
inline constexpr std::string_view kAconImagesMember = "acon_images";

// Image entries, the one form both the evidence JSON's "images" and kAconImagesMember use:
//   [{"name": string, "manifest": base64, "signature": base64?, "certificate": base64?}, ...]
// At most kMaxEvidenceImages entries, each member bounded as any evidence member. Errors name
// the entry and member (`<path>[2].manifest: ...`).
Result<std::vector<ProvidedImage>> images_from_json(const Json& images, std::string_view path);
Json images_to_json(const std::vector<ProvidedImage>& images);

// acon's extension members of CoCo's TPM evidence (docs/evidence.md §2.2), sent by acond's
// GetSecret on the vTPM backend so that the KBS can replay its logs and run the images checks;
// Trustee's TpmEvidence (serde, no deny_unknown_fields) ignores them, and evidence without them
// (CoCo's attester) reads as before:
//   kAconEventLogMember    base64 of the firmware's TCG2 event log  -> VtpmEvidence::event_log
//   kAconRuntimeLogMember  base64 of acond's runtime TCG2 records   -> VtpmEvidence::runtime_aael
//   kAconPcrsMember        the quoted PCRs of banks other than SHA-256, {"sha384": {"15": hex}},
//                          which the quote's pcrDigest covers too   -> VtpmEvidence::pcrs
//   kAconImagesMember      acond's loaded images, as for TDX        -> Evidence::images
// None is bound by the report data, and none needs to be: every log record counts only when a
// quoted PCR proves it, every image only when a proven AddManifest event names its Image ID.
inline constexpr std::string_view kAconEventLogMember = "acon_event_log";
inline constexpr std::string_view kAconRuntimeLogMember = "acon_runtime_aael";
inline constexpr std::string_view kAconPcrsMember = "acon_pcrs";

// CoCo's TPM evidence (Trustee tee "tpm", docs/kbs.md "TPM evidence"):
//   {"ak_public": base64 DER SubjectPublicKeyInfo,
//    "tpm_quote": {"signature": base64 TPMT_SIGNATURE, "message": base64 TPMS_ATTEST,
//                  "pcrs": [hex SHA-256 PCR 0, ..., PCR 23]}}
// plus acon's extension members above, read into VtpmEvidence (quote = TPM2B_ATTEST ‖
// TPMT_SIGNATURE, ak_encoding spki_der, the PCRs as bank "sha256" and the banks of acon_pcrs,
// the logs) and `images` (when given), and written from them. These two are the only places that
// know the form. Errors name the member.
Result<VtpmEvidence> tpm_evidence_from_trustee(const Json& primary_evidence,
                                               std::vector<ProvidedImage>* images = nullptr);
// Needs ak_encoding spki_der and the sha256 PCRs 0..n-1 without gaps (CoCo's attester sends all
// 24); Errc::invalid_argument otherwise, or when the quote does not split into its two parts.
// The extension members are written only for what the evidence has (no logs, no other bank, no
// images: exactly CoCo's form).
Result<Json> tpm_evidence_to_trustee(const VtpmEvidence& evidence,
                                     const std::vector<ProvidedImage>& images = {});

// (b) A directory bundle (docs/evidence.md "Bundle layout"). Unknown file names are errors, so a
// misspelt file is never silently ignored.
Result<Evidence> load_evidence_directory(const std::filesystem::path& dir);

// Writes `evidence` as a directory bundle that load_evidence_directory reads back to equal
// evidence (images as images/000, images/001, ... in their order). `dir` is created and must not
// exist yet, so an old bundle's files never mix with new ones. Init-data in a format other than
// TOML has no bundle file: Errc::unsupported.
Status write_evidence_directory(const Evidence& evidence, const std::filesystem::path& dir);

// (c) One JSON evidence document (docs/evidence.md "Evidence JSON"); bytes as base64 STANDARD.
Result<Evidence> parse_evidence_json(std::string_view text);
// The document parse_evidence_json reads back to equal evidence.
Json evidence_to_json(const Evidence& evidence);

}  // namespace acon::appraisal
