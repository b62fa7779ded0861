// Enrolling a TPM's attestation key from its endorsement key (EK) certificate: the EK
// certificate check, the TCG default EK template, and TPM2_MakeCredential computed in software.
//
// The verifier checks the EK certificate chain to the manufacturer's CA, checks that the EK the
// TPM presents is the certified key under the default template, and wraps a random secret for
// (EK, AK Name) with make_credential(). Only a TPM that holds the EK's private key and has an
// object with exactly that Name loaded can unwrap it (TPM2_ActivateCredential); a TPM that
// returns the secret thus proves the AK lives beside the certified EK. docs/tpm.md.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "acon/common/bytes.h"
#include "acon/common/result.h"
#include "acon/common/x509.h"
#include "acon/tpm/quote.h"

namespace acon::tpm {

// The EKs of the TCG default templates acon enrols: L-1 (RSA 2048) and L-2 (ECC NIST P-256).
enum class EkType { rsa2048, ecc_nist_p256 };

// NV indices of their EK certificates (TCG EK Credential Profile 2.0, the low range).
inline constexpr uint32_t kEkCertNvIndexRsa2048 = 0x01c00002;
inline constexpr uint32_t kEkCertNvIndexEccP256 = 0x01c0000a;
uint32_t ek_certificate_nv_index(EkType type);
// tcg-kp-EKCertificate: the extended key usage an EK certificate may carry.
inline constexpr const char* kEkCertificateKeyPurpose = "2.23.133.8.1";

// The TCG default EK template L-1 (RSA 2048) or L-2 (ECC NIST P-256), both AES-128-CFB, SHA-256,
// authPolicy = PolicySecret(TPM_RH_ENDORSEMENT), as a marshalled TPM2B_PUBLIC with the zero bytes
// of unique that the profile specifies (256 for the modulus, 32 each for x and y): what
// TPM2_CreatePrimary takes in the endorsement hierarchy.
Bytes ek_template(EkType type);

// The EK as TPM2_CreatePrimary returned it, checked to be the default template L-1 or L-2 (by its
// type): everything but the contents of `unique` must equal ek_template(), so that the key is a
// restricted decryption key the TPM created and never releases, and the credential's symmetric
// scheme is AES-128-CFB. parse errors name the field and offset; verify_failed names the first
// field that differs.
Result<TpmPublic> parse_ek_public(ByteView tpm2b_public);

// The DER certificate at the start of an EK certificate NV index. Some TPMs size the index
// larger than the certificate and pad it; the DER length decides where the certificate ends,
// and the padding must be all 0x00 or all 0xFF. parse errors name the field and offset.
Result<Certificate> parse_ek_certificate(ByteView nv_contents);

// Verifies an EK certificate to `roots` through `intermediates` at time `at`, and that it
// certifies an EK: if it has an extended key usage, that includes tcg-kp-EKCertificate; if it
// has a key usage, keyEncipherment (RSA) or keyAgreement (ECC) is set. Returns the certified public
// key. verify_failed / expired as verify_chain reports them.
Result<PublicKey> verify_ek_certificate(const Certificate& ek_cert,
                                        std::span<const Certificate> intermediates,
                                        std::span<const Certificate> roots, Time at);

// TPM2_MakeCredential's output, each marshalled as the TPM takes it (with the size prefix).
struct Credential {
  Bytes id_object;         // TPM2B_ID_OBJECT: integrityHMAC ‖ encIdentity
  Bytes encrypted_secret;  // TPM2B_ENCRYPTED_SECRET: the seed, RSA-OAEP encrypted to the EK
};

// TPM2_MakeCredential (TPM 2.0 Library Part 1 §24 "Credential Protection", Part 3
// TPM2_MakeCredential) in software, for the EK `ek` (from parse_ek_public) and the object named
// `object_name` (nameAlg ‖ digest, e.g. TpmPublic::name of the AK). `secret` (the credential) is 1
// to hash_size(EK nameAlg) bytes. The seed is random (OpenSSL's DRBG) and RSA-OAEP encrypted to an
// RSA EK; for an ECC P-256 EK it is KDFe of an ephemeral ECDH with the EK (Part 1 Annex C, ECC
// secret sharing), and encrypted_secret carries the ephemeral public point.
Result<Credential> make_credential(const TpmPublic& ek, ByteView object_name, ByteView secret);
// The same for an RSA EK with a caller-chosen seed (hash_size(EK nameAlg) bytes), for tests and
// known-answer checks; the RSA-OAEP encryption of the seed is still randomised.
Result<Credential> make_credential_with_seed(const TpmPublic& ek, ByteView object_name,
                                             ByteView secret, ByteView seed);

// KDFa (Part 1, "Key Derivation Function") with SP 800-108 counter-mode HMAC: `bits` / 8 bytes of
// HMAC_alg(key, [i]32 ‖ label ‖ 0x00 ‖ context_u ‖ context_v ‖ [bits]32), i = 1, 2, ….
// `label` is given without its terminating zero. bits is a positive multiple of 8.
Result<SecretBytes> kdfa(HashAlg alg, ByteView key, std::string_view label, ByteView context_u,
                         ByteView context_v, uint32_t bits);
// KDFe (Part 1, "Key Derivation Function"), SP 800-56A's concatenation KDF: `bits` / 8 bytes of
// H_alg([i]32 ‖ z ‖ label ‖ 0x00 ‖ party_u ‖ party_v), i = 1, 2, ….
Result<SecretBytes> kdfe(HashAlg alg, ByteView z, std::string_view label, ByteView party_u,
                         ByteView party_v, uint32_t bits);

// ---- enrolment: the whole exchange between a verifier and one TPM ----

// The TPM's side of an enrolment (guest::VtpmEnrolment runs it on a real TPM through tpm2-tss).
class EnrolmentTpm {
 public:
  virtual ~EnrolmentTpm() = default;
  // Contents of the EK certificate NV index (ek_certificate_nv_index(type)).
  virtual Result<Bytes> ek_certificate(EkType type) = 0;
  // Marshalled TPM2B_PUBLIC of the EK created from the default template.
  virtual Result<Bytes> ek_public(EkType type) = 0;
  // Marshalled TPM2B_PUBLIC of the attestation key to enrol.
  virtual Result<Bytes> ak_public() = 0;
  // TPM2_ActivateCredential of the AK with that EK.
  virtual Result<SecretBytes> activate_credential(EkType type, ByteView id_object,
                                                  ByteView encrypted_secret) = 0;
};

struct EkTrust {
  std::vector<Certificate> roots;          // the TPM manufacturers' CAs
  std::vector<Certificate> intermediates;  // untrusted, to build the path through
};

struct EnrolledAk {
  TpmPublic ak;  // the AK's key, Name and attributes
  Certificate ek_certificate;
  PublicKey ek;  // the certified EK
};

// Enrols the TPM's AK with its EK of `type`: the EK certificate verifies to `trust` at `at`; the
// EK the TPM presents is that default-template EK with the certified key; the AK is a restricted
// signing key the TPM made (fixedTPM, sensitiveDataOrigin); and the TPM unwraps a fresh random
// credential made for the AK's Name under that EK. verify_failed / expired name the step that
// failed.
Result<EnrolledAk> enrol_attestation_key(EnrolmentTpm& tpm, const EkTrust& trust, Time at,
                                         EkType type = EkType::rsa2048);

}  // namespace acon::tpm
