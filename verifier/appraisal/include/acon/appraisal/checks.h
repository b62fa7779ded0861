// The evidence checks of an appraisal (docs/evidence.md "Checks"): quote signature and TCB,
// report-data bindings (KBS, ACON), init-data, register replay with the first divergent event
// named, unexplained runtime-log records, the images the runtime log names; and the claims
// document built from them. Each check yields a CheckResult with a stable name; nothing here
// reads a clock (AppraisalOptions::at).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "acon/appraisal/check.h"
#include "acon/appraisal/ear.h"
#include "acon/appraisal/evidence.h"
#include "acon/appraisal/firmware_log_cache.h"
#include "acon/appraisal/images.h"
#include "acon/common/hash.h"
#include "acon/dcap/fetch.h"
#include "acon/dcap/verify.h"
#include "acon/tpm/quote.h"

namespace acon::appraisal {

struct AppraisalOptions {
  Time at{};  // verification time for collateral, certificates and CRLs
  // Trust anchors for the DCAP PCK chain. The simulated platform's root verifies only when it is
  // configured here; its evidence is then labelled simulated in every check and claim.
  dcap::TrustAnchors anchors = dcap::default_trust_anchors();
  bool strict_expiry = false;
  // Verify a quote without a PCK chain with the collateral's (QvE refuses such quotes).
  bool allow_collateral_pck_chain = false;
  // Collateral when the evidence carries none; else the fetcher (PCS/PCCS/cache) is asked.
  std::optional<dcap::Collateral> collateral;
  dcap::CollateralFetcher* fetcher = nullptr;  // not owned
  dcap::VerificationCache* cache = nullptr;    // not owned
  // Opt-in: what TDX firmware event logs give on their own, kept across appraisals for logs
  // with identical bytes (firmware_log_cache.h). Shared: the KBS's appraisal threads use one.
  std::shared_ptr<FirmwareLogCache> firmware_log_cache;
  // The challenge nonce the KBS issued for this session: binding.kbs fails when the runtime data
  // carries another (a correctly bound but replayed quote). Unset: the caller compares it.
  std::optional<std::string> expected_nonce;
  // The nonce an auditor sent in acond's Report request (image::requestor_nonce()): binding.acon
  // fails when attestation_data carries another. Unset: not compared.
  std::optional<Bytes> expected_requestor_nonce;
  // vTPM: how the AK is trusted, and the extraData (nonce) the quote must carry. Empty
  // tpm_extra_data with KBS runtime data in the evidence: kbs_tpm_extra_data() of it; else with
  // acond's attestation_data: image::attestation_report_data() of it, as acond quotes.
  std::optional<tpm::AkTrust> ak_trust;
  Bytes tpm_extra_data;
  // Which image certificates count (acond's rule by default).
  ImageCheckOptions images;
};

// ---- quote ----
struct QuoteChecks {
  CheckResult signature;                      // "quote.signature"
  CheckResult tcb;                            // "quote.tcb"
  std::optional<dcap::QuoteVerdict> verdict;  // DCAP quotes that reached a verdict
  bool simulated = false;
};
QuoteChecks check_quote(const Evidence& evidence, const AppraisalOptions& options);

// ---- report-data bindings ----
// Trustee's KBS binding (kbs-protocol §1.5): JCS of {"additional-evidence","nonce","tee-pubkey"}
// with the tee-pubkey re-serialised to its typed members. Errors name the missing JWK member.
Result<std::string> kbs_runtime_data_jcs(const RuntimeData& runtime_data);
// The typed {"tee-pubkey","nonce","additional-evidence"} object (the runtime_data_claims).
Result<Json> kbs_runtime_data_object(const RuntimeData& runtime_data);
// "binding.kbs": REPORTDATA == SHA-384(JCS(...)) zero-padded to 64 bytes.
CheckResult check_binding_kbs(ByteView report_data, const std::optional<RuntimeData>& runtime,
                              const std::optional<std::string>& expected_nonce = std::nullopt);
// CoCo's TPM attester quotes with qualifyingData = the KBS report data cut to 32 bytes (it and
// Trustee's verifier resize the value to 32: the first 32 bytes of SHA-384(JCS(...))).
inline constexpr size_t kTpmReportDataSize = 32;
Result<Bytes> kbs_tpm_extra_data(const RuntimeData& runtime_data);
// "binding.kbs" for a TPM quote: extraData == kbs_tpm_extra_data(runtime data).
CheckResult check_binding_kbs_tpm(ByteView extra_data, const std::optional<RuntimeData>& runtime,
                                  const std::optional<std::string>& expected_nonce = std::nullopt);
// "binding.acon": REPORTDATA == SHA-384(attestation_data bytes) ‖ 16 zero bytes, as acond builds
// its report; and, when `requestor_nonce` is given, the JSON's "requestor_nonce" (16 integers) is
// those bytes: the nonce the caller sent in its Report request, LE8(nonce_lo) ‖ LE8(nonce_hi).
CheckResult check_binding_acon(ByteView report_data, const std::optional<Bytes>& attestation_data,
                               const std::optional<Bytes>& requestor_nonce = std::nullopt);

// ---- init-data ----
struct ParsedInitData {
  HashAlg algorithm;
  Bytes digest;                        // algorithm(body bytes)
  Json claims;                         // Trustee's init_data_claims
  bool policy_data_extracted = false;  // policy.rego replaced by agent_policy_claims
};
// Trustee's Initdata TOML: version (string), algorithm (sha256|sha384|sha512|sm3), data (string →
// string). Errors name the key.
Result<ParsedInitData> parse_init_data(const InitData& init_data);
// "init_data": pad48(digest) (truncated when longer, as Trustee's regularize_data) == MRCONFIGID.
// `claims` receives init_data_claims when the init-data parses.
CheckResult check_init_data(ByteView mr_config_id, const std::optional<InitData>& init_data,
                            Json* claims = nullptr);

// "init_data" for a TPM quote, as Trustee's TPM verifier: CoCo's attester extends the init-data
// digest into SHA-256 PCR 8 once, so PCR 8 == SHA-256(32 zero bytes ‖ digest); only a sha256
// init-data digest fits the bank. `pcr8` is the quoted SHA-256 PCR 8 (null: not quoted).
inline constexpr uint32_t kTpmInitDataPcr = 8;
CheckResult check_init_data_tpm(const Bytes* pcr8, const std::optional<InitData>& init_data,
                                Json* claims = nullptr);

// The AK public key of vTPM evidence, from either encoding (AkEncoding). Errors name the form.
Result<PublicKey> vtpm_ak_key(const VtpmEvidence& evidence);

// ---- replay and runtime logs ----
struct ReplayChecks {
  CheckResults registers;   // "replay.rtmr0".."replay.rtmr3" (TDX), "replay.pcr<N>" (vTPM)
  CheckResult unexplained;  // "runtime_log.unexplained"
  Json runtime_events = Json::array();  // acon.runtime_events
  // The AAEL events of the runtime logs in log order (TCG2 records, then text AAEL lines), each
  // proven when the quoted register's value covers it: what appraise_images() re-checks.
  std::vector<RuntimeLogEvent> aael_events;
};
// Replays the TDX logs against the quote's RTMRs: CCEL (or cc_eventlog), then runtime TCG2 AAEL
// records, text AAEL (RTMR3), IMA (RTMR2). `quote_bytes` must parse as a TD quote.
ReplayChecks check_tdx_replay(const TdxEvidence& evidence);
ReplayChecks check_vtpm_replay(const VtpmEvidence& evidence);

// ---- all of it ----
// Every check of the evidence and the whole claims document, before any policy:
//   checks, in this order: quote.signature, quote.tcb, binding.kbs, binding.acon, init_data,
//     replay.* (rtmr0..3, or the vTPM's PCRs), runtime_log.unexplained, claims.uefi_event_logs
//     (TDX), then the images checks of appraise_images() (images.h);
//   claims: {"tdx": Trustee's TDX claims (claims.h), or "vtpm": Trustee's TPM claims (init_data =
//     SHA-256 PCR 8, report_data, ak_public, pcr00..pcr23), "report_data", "init_data",
//     "init_data_claims", "runtime_data_claims" (Trustee's spelling and encodings),
//     "acon": {"simulated", "runtime_events", "images"}}.
// A part that cannot be checked is a check with outcome error, never a missing one.
// The claims document is immutable once built and shared: appraise() gives the same tree to the
// EAR as its annotated evidence (Submod::annotated_evidence) rather than a copy.
struct EvidenceAppraisal {
  CheckResults checks;
  std::shared_ptr<const Json> claims = std::make_shared<const Json>(Json::object());
  // ClaimsDocument::prewritten_event_log of the TDX claims, for the EAR.
  std::shared_ptr<const PrewrittenEntries> prewritten_event_log;
  std::optional<dcap::QuoteVerdict> verdict;
  bool simulated = false;
};
EvidenceAppraisal appraise_evidence(const Evidence& evidence, const AppraisalOptions& options);

}  // namespace acon::appraisal
