// vTPM evidence: TPM2_Quote output (TPM2B_ATTEST ‖ TPMT_SIGNATURE, unmarshalled with tss2-mu),
// the attestation key (AK) it is signed with, the PCR digest it commits to, and the TCG2 event
// log replay that explains the quoted PCRs.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "acon/common/bytes.h"
#include "acon/common/hash.h"
#include "acon/common/keys.h"
#include "acon/common/result.h"
#include "acon/common/x509.h"
#include "acon/eventlog/event_log.h"

namespace acon::tpm {

inline constexpr uint32_t kTpmGeneratedValue = 0xFF544347;  // TPM_GENERATED_VALUE ("\xffTCG")
inline constexpr uint16_t kStAttestQuote = 0x8018;          // TPM_ST_ATTEST_QUOTE

// PCR values by bank, then by PCR index.
using PcrValues = std::map<HashAlg, std::map<uint32_t, Bytes>>;

// One TPMS_PCR_SELECTION: a bank and the PCRs its bitmap selects, in ascending order (the order
// in which TPM2_Quote concatenates them).
struct PcrSelection {
  uint16_t alg;  // TPM_ALG_ID of the bank
  std::vector<uint32_t> pcrs;
};

struct ClockInfo {
  uint64_t clock;
  uint32_t reset_count;
  uint32_t restart_count;
  bool safe;
};

// TPMS_ATTEST of a quote (type TPM_ST_ATTEST_QUOTE, magic TPM_GENERATED_VALUE).
struct Attest {
  uint32_t magic;
  uint16_t type;
  Bytes qualified_signer;  // TPM2B_NAME contents
  Bytes extra_data;        // the quote's qualifyingData: the caller's nonce
  ClockInfo clock_info;
  uint64_t firmware_version;
  std::vector<PcrSelection> pcr_selection;  // TPMS_QUOTE_INFO.pcrSelect
  Bytes pcr_digest;                         // TPMS_QUOTE_INFO.pcrDigest
};

// TPMT_SIGNATURE for the schemes an AK can use.
struct Signature {
  uint16_t sig_alg;   // TPM_ALG_ECDSA (0x0018), TPM_ALG_RSASSA (0x0014), TPM_ALG_RSAPSS (0x0016)
  uint16_t hash_alg;  // TPM_ALG_ID of the signing digest
  Bytes ecdsa_r;      // ECDSA only, as the TPM wrote them (big-endian, possibly short)
  Bytes ecdsa_s;
  Bytes rsa_signature;  // RSASSA / RSAPSS only
};

struct Quote {
  Bytes signed_bytes;  // TPM2B_ATTEST.attestationData: exactly what the AK signed
  Attest attest;
  Signature signature;
  size_t signature_offset;  // where the TPMT_SIGNATURE starts in the input
};

// `quote` is a marshalled TPM2B_ATTEST followed by a marshalled TPMT_SIGNATURE and nothing else
// (what acon's vTPM backend returns). Errors name the structure, field and byte offset; a magic
// other than TPM_GENERATED_VALUE is a parse error, another attestation type is unsupported.
Result<Quote> parse_quote(ByteView quote);
// The parts on their own; `base` is the absolute offset of the input, used in messages.
Result<Attest> parse_attest(ByteView tpms_attest, size_t base = 0);
Result<Signature> parse_signature(ByteView tpmt_signature, size_t base = 0);

// A marshalled TPM2B_PUBLIC of an ECC (P-256/P-384/P-521) or RSA key.
struct TpmPublic {
  PublicKey key;
  uint16_t type;        // TPM_ALG_ECC or TPM_ALG_RSA
  uint16_t name_alg;    // TPM_ALG_ID
  uint32_t attributes;  // TPMA_OBJECT
  Bytes name;           // nameAlg ‖ H_nameAlg(TPMT_PUBLIC): the TPM's Name of the object
  // parameters.symmetric: the scheme a restricted decryption key (a storage key or an EK)
  // protects its children and credentials with; algorithm TPM_ALG_NULL (0x0010) for signing keys.
  struct Symmetric {
    uint16_t algorithm = 0x0010;
    uint16_t key_bits = 0;
    uint16_t mode = 0;
  } symmetric;
  // restricted, sign, fixedTPM and sensitiveDataOrigin: a key the TPM made and never releases
  // that signs only TPM-generated structures.
  bool is_attestation_key() const;
};
Result<TpmPublic> parse_tpm2b_public(ByteView tpm2b_public);

// Checks the quote's signature over signed_bytes with `ak`: ECDSA (P-256/384/521) and RSASSA /
// RSAPSS (any salt length) with SHA-256/384/512. SHA-1 signatures are unsupported.
Status verify_signature(const Quote& quote, const PublicKey& ak);

// H_alg(PCR[first selected] ‖ … ‖ PCR[last selected]) in selection order, the value TPM2_Quote
// puts in pcrDigest. not_found names the first selected PCR missing from `pcrs`.
Result<Bytes> pcr_digest(std::span<const PcrSelection> selection, const PcrValues& pcrs,
                         HashAlg alg);

// What the attester presents for its AK.
struct AkEvidence {
  std::optional<PublicKey> key;    // e.g. from the AK's TPM2B_PUBLIC
  std::vector<Certificate> chain;  // the AK certificate first, then intermediates
};

// How the verifier decides an AK is trustworthy: a pinned public key (e.g. recorded when the
// machine was enrolled), or a certificate chain to configured roots at a given time.
class AkTrust {
 public:
  static AkTrust pinned(PublicKey key);
  static AkTrust certified_by(std::vector<Certificate> roots, std::vector<Crl> crls = {},
                              CrlCheck crl_check = CrlCheck::none);
  // Several pinned keys and/or roots (a relying party that enrolled several machines): the
  // presented key (or AK certificate's key) must be one of `pinned`, or else the chain must
  // verify to one of `roots`. With one pinned key and no roots this is pinned(key).
  static AkTrust any_of(std::vector<PublicKey> pinned, std::vector<Certificate> roots = {},
                        std::vector<Crl> crls = {}, CrlCheck crl_check = CrlCheck::none);

  // The key to verify the quote with. Pinned: a presented key or AK certificate must carry
  // the pinned key. Certified: the chain must verify to a root at `at`, and a presented key must
  // equal the certificate's. verify_failed when the AK is not trusted.
  Result<PublicKey> resolve(const AkEvidence& ak, Time at) const;

 private:
  AkTrust() = default;
  std::vector<PublicKey> pinned_;
  std::vector<Certificate> roots_;
  std::vector<Crl> crls_;
  CrlCheck crl_check_ = CrlCheck::none;
};

struct VerifyOptions {
  // The value extraData must hold: the 64-byte nonce bound into the quote (or its digest when
  // the backend was configured to hash it). Compared in constant time.
  ByteView expected_extra_data;
  Time at{};  // validity time for AK certificates; ignored for a pinned key
};

struct VerifiedQuote {
  Quote quote;
  PublicKey ak;
  HashAlg digest_alg;  // the signing hash, which TPM2_Quote also uses for pcrDigest
  PcrValues pcrs;      // exactly the quoted PCRs: supplied values outside the selection are dropped
};

// Parses `quote`, resolves the AK through `trust`, checks the signature, extraData and the PCR
// digest of the supplied `pcrs` over the quoted selection. verify_failed names what differs.
Result<VerifiedQuote> verify_quote(ByteView quote, const PcrValues& pcrs, const AkEvidence& ak,
                                   const AkTrust& trust, const VerifyOptions& options);

// ---- event log replay ----

// A PC Client TPM's PCR after TPM2_Startup(CLEAR): all ones for PCRs 17..22 (DRTM), else zeros.
Bytes pcr_reset_value(uint32_t index, HashAlg alg);

struct PcrReplay {
  HashAlg bank;
  uint32_t index;
  Bytes quoted;
  Bytes replayed;  // the reset value when the log never touches the PCR
  bool in_log;     // the log extends (or, via StartupLocality, initialises) this PCR in this bank
  bool match;
};

// Replays a TCG2 log (honouring the StartupLocality EV_NO_ACTION event for PCR0) and compares
// every quoted PCR with it, in bank and index order. A PCR the log does not touch must still
// hold its reset value.
Result<std::vector<PcrReplay>> replay_event_log(const eventlog::EventLog& log,
                                                const PcrValues& quoted);
// verify_failed naming the events in PCRs the quote does not select (nothing proves them), or
// else the first PCR (bank and index) whose quoted value the log does not explain.
Status check_event_log(const eventlog::EventLog& log, const PcrValues& quoted);

}  // namespace acon::tpm
