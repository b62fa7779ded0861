// The vTPM backend: PCR extend/read, an attestation key and TPM2_Quote through tpm2-tss ESAPI,
// over any TCTI ("device:/dev/tpmrm0", "swtpm:host=127.0.0.1,port=2321", "mssim:…").
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "acon/common/bytes.h"
#include "acon/common/hash.h"
#include "acon/common/keys.h"
#include "acon/guest/backend.h"
#include "acon/tpm/credential.h"

namespace acon::guest {

struct PcrBankSelection {
  HashAlg bank;
  std::vector<uint32_t> pcrs;
};

// The attestation key: a restricted signing primary, derived from the hierarchy's seed, so the
// same TPM yields the same AK every time (which lets a verifier pin it).
enum class AkAlgorithm {
  ecdsa_p256_sha256,  // the default
  ecdsa_p384_sha384,
  rsa2048_rsassa_sha256,
  rsa2048_rsapss_sha256,
};
enum class AkHierarchy { endorsement, owner };

struct VtpmOptions {
  // tpm2-tss TCTI name and configuration, as Tss2_TctiLdr_Initialize takes it.
  std::string tcti = "device:/dev/tpmrm0";
  AkHierarchy ak_hierarchy = AkHierarchy::endorsement;
  SecretBytes hierarchy_auth;  // authValue of that hierarchy; empty on a fresh TPM
  AkAlgorithm ak_algorithm = AkAlgorithm::ecdsa_p256_sha256;
  // PCRs that quote() covers, in this order. Empty: PCRs 0..23 of the sha384 and sha256 banks,
  // whichever of the two the TPM has allocated. A bank named here must be allocated.
  std::vector<PcrBankSelection> quote_selection;
  // Unset: the 64 bytes of ReportData are the quote's qualifyingData as they are. A TPM whose
  // largest digest is shorter (no SHA-512) rejects 64 bytes; set a hash to quote H(ReportData).
  std::optional<HashAlg> qualifying_data_hash;
  // Set: quote only the first N (<= 64) bytes of ReportData, as CoCo's TPM attester quotes the
  // first 32. Exclusive with qualifying_data_hash.
  std::optional<size_t> qualifying_data_prefix;
  std::string event_log_path = "/sys/kernel/security/tpm0/binary_bios_measurements";
};

// CoCo's TPM binding: its attester quotes with qualifyingData = the first 32 bytes of the report
// data (the KBS's SHA-384 binding hash cut to 32 bytes), and Trustee's verifier expects that.
inline constexpr size_t kCocoQualifyingDataBytes = 32;

// The options with which quotes look like CoCo's TPM attester's (guest-components
// attestation-agent/attester/src/tpm): an RSA-2048 RSASSA-SHA256 AK, SHA-256 PCRs 0..23, and
// qualifyingData = the first 32 bytes of the report data.
VtpmOptions coco_tpm_options(std::string tcti);

// Attestation (backend.h): quote = marshalled TPM2B_ATTEST ‖ marshalled TPMT_SIGNATURE,
// ak_public = ak_tpm2b_public(), pcrs = every PCR of quote_selection().
using VtpmAttestation = Attestation;

class VtpmBackend final : public Backend {
 public:
  // Connects through the TCTI, learns the allocated PCR banks and creates the AK. The TPM must
  // already be started (the kernel does it for /dev/tpm*; swtpm with --flags startup-clear).
  static Result<std::unique_ptr<VtpmBackend>> open(const VtpmOptions& options);
  ~VtpmBackend() override;
  VtpmBackend(const VtpmBackend&) = delete;
  VtpmBackend& operator=(const VtpmBackend&) = delete;

  std::string_view name() const override { return "vtpm"; }
  RegisterKind register_kind() const override { return RegisterKind::pcr; }
  // TPM2_PCR_Extend of one bank; an unallocated bank is an error (the TPM would ignore it).
  Status extend(uint32_t index, HashAlg alg, ByteView digest) override;
  Result<Bytes> read(uint32_t index, HashAlg alg) override;
  // A TPM has no local report apart from a quote: report() returns the same as quote().
  Result<Bytes> report(const ReportData& data) override;
  // TPM2_Quote with the AK over quote_selection; qualifyingData = data (or its hash).
  Result<Bytes> quote(const ReportData& data) override;
  // The TCG2 log read whole from event_log_path.
  Result<Bytes> firmware_event_log() override;

  // The quote plus the AK and the PCR values it covers, read before and after it with an
  // unchanged pcrUpdateCounter (retried a few times if another process extends meanwhile).
  Result<Attestation> attest(const ReportData& data) override;
  // attest() with qualifyingData = the first `prefix` (1..64) bytes of `data`, whatever the
  // options say: acond quotes for its Report RPC with its options and for a KBS with CoCo's
  // binding (kCocoQualifyingDataBytes), with the same AK and PCR selection.
  Result<Attestation> attest_prefix(const ReportData& data, size_t prefix);
  Result<PcrValues> read_pcrs(std::span<const PcrBankSelection> selection);

  const PublicKey& ak_public_key() const;
  std::string ak_public_pem() const { return ak_public_key().to_pem(); }
  // The AK's marshalled TPM2B_PUBLIC, as TPM2_CreatePrimary returned it.
  const Bytes& ak_tpm2b_public() const;
  // The AK's TPM Name (nameAlg ‖ H(TPMT_PUBLIC)).
  const Bytes& ak_name() const;
  // ---- enrolment (docs/vtpm.md §4): proving to a verifier that the AK sits beside the EK ----
  // The EK certificate from NV index 0x01c00002 (RSA 2048) or 0x01c0000a (ECC P-256), as stored
  // (a TPM may pad it). not_found when the TPM has no such index.
  Result<Bytes> read_ek_certificate(tpm::EkType type = tpm::EkType::rsa2048);
  // The EK created in the endorsement hierarchy from the TCG default template L-1 or L-2 (the
  // same key every time, the one the EK certificate certifies), as a marshalled TPM2B_PUBLIC.
  // Created on first use and kept loaded.
  Result<Bytes> ek_tpm2b_public(tpm::EkType type = tpm::EkType::rsa2048);
  // TPM2_ActivateCredential of the AK with that EK: the credential TPM2_MakeCredential wrapped in
  // `id_object` (marshalled TPM2B_ID_OBJECT) and `encrypted_secret` (TPM2B_ENCRYPTED_SECRET) for
  // this AK's Name. The EK's policy, PolicySecret(TPM_RH_ENDORSEMENT), is satisfied with the
  // endorsement hierarchy's authValue: hierarchy_auth when ak_hierarchy is endorsement, else
  // empty. Errors: parse for malformed inputs (naming the field), io when the TPM refuses (a
  // credential made for another EK or another object's Name).
  Result<SecretBytes> activate_credential(ByteView id_object, ByteView encrypted_secret,
                                          tpm::EkType type = tpm::EkType::rsa2048);

  // Allocated banks among those acon computes, and the selection quote() uses.
  const std::vector<HashAlg>& allocated_banks() const;
  const std::vector<PcrBankSelection>& quote_selection() const;

 private:
  class Impl;
  struct OpenKey {};  // only open() can construct a backend

 public:
  VtpmBackend(OpenKey, std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

// A backend's TPM as the TPM side of tpm::enrol_attestation_key: the AK enrolled is the one
// the backend quotes with.
class VtpmEnrolment final : public tpm::EnrolmentTpm {
 public:
  explicit VtpmEnrolment(VtpmBackend& backend) : backend_(backend) {}
  Result<Bytes> ek_certificate(tpm::EkType type) override {
    return backend_.read_ek_certificate(type);
  }
  Result<Bytes> ek_public(tpm::EkType type) override { return backend_.ek_tpm2b_public(type); }
  Result<Bytes> ak_public() override { return backend_.ak_tpm2b_public(); }
  Result<SecretBytes> activate_credential(tpm::EkType type, ByteView id_object,
                                          ByteView encrypted_secret) override {
    return backend_.activate_credential(id_object, encrypted_secret, type);
  }

 private:
  VtpmBackend& backend_;
};

}  // namespace acon::guest
