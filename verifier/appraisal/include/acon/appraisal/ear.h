// EAR (EAT Attestation Result, draft-ietf-rats-ear) as Trustee issues it: the model, its JSON and
// CBOR encodings, ES256 JWT and COSE_Sign1 CWT signing, and verification. docs/ear.md gives the
// layouts and the sources they follow.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "acon/common/bytes.h"
#include "acon/common/json.h"
#include "acon/common/keys.h"
#include "acon/common/result.h"
#include "acon/common/signature.h"
#include "acon/common/x509.h"

namespace acon::appraisal {

// ---- AR4SI trustworthiness vector (draft-ietf-rats-ar4si; rust-ear src/trust/claim.rs) ----

// The eight claims, in the order of their CBOR keys 0..7.
enum class TrustClaim : uint8_t {
  instance_identity = 0,
  configuration = 1,
  executables = 2,
  file_system = 3,
  hardware = 4,
  runtime_opaque = 5,
  storage_opaque = 6,
  sourced_data = 7,
};
inline constexpr size_t kTrustClaimCount = 8;

// "instance-identity", "configuration", ..., as in the JSON form.
std::string_view trust_claim_name(TrustClaim claim);
std::optional<TrustClaim> trust_claim_from_name(std::string_view name);

// AR4SI values. The first four are shared by every claim; the rest are per claim.
namespace ar4si {
inline constexpr int8_t kVerifierMalfunction = -1;
inline constexpr int8_t kNoClaim = 0;
inline constexpr int8_t kUnexpectedEvidence = 1;
inline constexpr int8_t kCryptoValidationFailed = 99;
// instance-identity
inline constexpr int8_t kTrustworthyInstance = 2;
inline constexpr int8_t kUntrustworthyInstance = 96;
inline constexpr int8_t kUnrecognizedInstance = 97;
// configuration
inline constexpr int8_t kApprovedConfig = 2;
inline constexpr int8_t kNoConfigVulns = 3;
inline constexpr int8_t kUnsafeConfig = 32;
inline constexpr int8_t kUnavailableConfigElems = 36;
inline constexpr int8_t kUnsupportableConfig = 96;
// executables
inline constexpr int8_t kApprovedRuntime = 2;
inline constexpr int8_t kApprovedBoot = 3;
inline constexpr int8_t kUnsafeRuntime = 32;
inline constexpr int8_t kUnrecognizedRuntime = 33;
inline constexpr int8_t kContraindicatedRuntime = 96;
// file-system
inline constexpr int8_t kApprovedFiles = 2;
inline constexpr int8_t kUnrecognizedFiles = 32;
inline constexpr int8_t kContraindicatedFiles = 96;
// hardware
inline constexpr int8_t kGenuineHardware = 2;
inline constexpr int8_t kUnsafeHardware = 32;
inline constexpr int8_t kContraindicatedHardware = 96;
inline constexpr int8_t kUnrecognizedHardware = 97;
// runtime-opaque
inline constexpr int8_t kEncryptedMemoryRuntime = 2;
inline constexpr int8_t kIsolatedMemoryRuntime = 32;
inline constexpr int8_t kVisibleMemoryRuntime = 96;
// storage-opaque
inline constexpr int8_t kHwKeysEncryptedSecrets = 2;
inline constexpr int8_t kSwKeysEncryptedSecrets = 32;
inline constexpr int8_t kUnencryptedSecrets = 96;
// sourced-data
inline constexpr int8_t kTrustedSources = 2;
inline constexpr int8_t kUntrustedSources = 32;
inline constexpr int8_t kContraindicatedSources = 96;
}  // namespace ar4si

// Trust tiers, ordered from least to most severe; the values are the CBOR encoding of ear.status.
enum class Tier : int8_t { none = 0, affirming = 2, warning = 32, contraindicated = 96 };
std::string_view tier_name(Tier tier);  // "none", "affirming", "warning", "contraindicated"
std::optional<Tier> tier_from_name(std::string_view name);
std::optional<Tier> tier_from_value(int64_t value);  // 0, 2, 32, 96
// |v| <= 1 none; |v| < 32 affirming; |v| < 96 warning; otherwise contraindicated.
Tier tier_of(int8_t value);

struct TrustVector {
  // Unset claims are omitted from both encodings; a claim set to 0 is present with value 0.
  std::array<std::optional<int8_t>, kTrustClaimCount> claims{};

  void set(TrustClaim claim, int8_t value) { claims[static_cast<size_t>(claim)] = value; }
  std::optional<int8_t> get(TrustClaim claim) const { return claims[static_cast<size_t>(claim)]; }
  bool any_set() const;
  // The worst tier across the set claims (none when nothing is set).
  Tier tier() const;
  bool operator==(const TrustVector&) const = default;
};

// ---- the EAR ----

// Trustee's profile (attestation-service/src/ear_token/broker.rs).
inline constexpr std::string_view kTrusteeEarProfile =
    "tag:github.com,2024:confidential-containers/Trustee";

struct VerifierId {
  std::string developer;
  std::string build;
  bool operator==(const VerifierId&) const = default;
};

// The first entries of a TDX annotated evidence's tdx.uefi_event_logs, already written as compact
// JSON text: those of the firmware's events, which are the same for every TD booted from the
// same firmware, kernel and command line (FirmwareLogCache). The claims writers copy the text
// instead of writing the entries again, and sign_ear_jwt keeps the hash state of a token up to
// their end (docs/ear.md, "Signing").
struct PrewrittenEntries {
  std::string text;  // entries [0, count) as append_compact_json writes them, comma-separated
  size_t count = 0;
  bool exact = true;  // append_compact_json wrote every entry exactly
};

// One appraisal ("submod"), e.g. Trustee's "cpu0".
struct Submod {
  Tier status = Tier::none;                        // ear.status
  TrustVector trust_vector;                        // ear.trustworthiness-vector
  std::optional<std::string> appraisal_policy_id;  // ear.appraisal-policy-id
  // ear.veraison.annotated-evidence: a JSON object; absent when the pointer is null (or points
  // to a JSON null). Shared and never modified: appraise() hands the EAR the same tree as the
  // claims document of its EvidenceAppraisal instead of a copy (for real TDX evidence that tree
  // is ~900 nodes, and copying and freeing it was a sixth of an appraisal).
  std::shared_ptr<const Json> annotated_evidence;
  // Optional, set by appraise(): the text of the first entries of the annotated evidence's
  // tdx.uefi_event_logs. It must be exactly those entries as written; it changes how fast the
  // claims are written, never what is written, and is not part of the submod's value.
  std::shared_ptr<const PrewrittenEntries> prewritten_event_log;
  // Members beyond the above, by name (e.g. "ear.trustee.identifiers"); in CBOR they keep their
  // text names as keys, since the EAR draft registers no integer for them.
  std::map<std::string, Json> extra;

  // The annotated evidence, or nullptr when absent.
  const Json* annotated() const {
    return annotated_evidence && !annotated_evidence->is_null() ? annotated_evidence.get()
                                                                : nullptr;
  }

  // A submod whose ear.status is the worst tier of `vector`, as Trustee and rust-ear derive it.
  static Submod from_vector(TrustVector vector, std::optional<std::string> policy_id,
                            std::shared_ptr<const Json> annotated_evidence = nullptr);
  // The same with the annotated evidence given by value (null: absent).
  static Submod from_vector(TrustVector vector, std::optional<std::string> policy_id,
                            Json annotated_evidence);
  // Compares the annotated evidence by value, not by pointer.
  bool operator==(const Submod& other) const;
};

struct Ear {
  std::string profile = std::string(kTrusteeEarProfile);  // eat_profile
  Time iat{};
  std::optional<Time> exp;  // Trustee: iat + 5 min
  std::optional<Time> nbf;
  std::optional<std::string> iss;  // Trustee: "CoCo-Attestation-Service"
  // aud: empty = absent; one member is written as a string, more as an array (RFC 7519 §4.1.3).
  std::vector<std::string> aud;
  VerifierId verifier_id;  // ear.verifier-id
  std::map<std::string, Submod> submods;
  bool operator==(const Ear&) const = default;
};

// What an issuer checks before signing (as rust-ear's validate() and Trustee's broker): a
// profile, at least one submod, every submod with at least one trust claim set, and exp (when
// present) after iat.
Status validate_for_issue(const Ear& ear);

// JSON claims set with the names of the EAR draft's JSON form; times are integer seconds. The
// text is compact. Members are in byte order of their names, except that the bulk of the claims
// comes first, so that every token of one TD image starts with the same bytes: "submods" first
// in the claims set, "ear.veraison.annotated-evidence" first in a submod, "tdx" first in the
// annotated evidence and "uefi_event_logs" first in it (JSON gives member order no meaning). The
// tree is that text parsed.
std::string ear_to_json_text(const Ear& ear);
Result<Json> ear_to_json(const Ear& ear);
Result<Ear> ear_from_json(const Json& claims);

// CBOR claims set with the EAR draft's integer keys (docs/ear.md lists them), via libcbor.
Result<Bytes> ear_to_cbor(const Ear& ear);
// `base_offset` is added to byte offsets in error messages (the payload's place in a COSE
// message).
Result<Ear> ear_from_cbor(ByteView cbor, size_t base_offset = 0);

// ---- signing ----

// An ES256 signing key with the certificate chain for it (leaf first, may be empty). Only P-256
// keys are accepted, as Trustee's broker; the leaf must certify exactly this key.
struct JwtPrefixCache;  // internal (ear_internal.h)

class EarSigner {
 public:
  static Result<EarSigner> create(PrivateKey key, std::vector<Certificate> chain = {});
  const PrivateKey& key() const { return key_; }
  const std::vector<Certificate>& chain() const { return chain_; }
  // base64url of the JWT header, fixed per key and chain, so it is built once.
  const std::string& jwt_header_b64() const { return jwt_header_b64_; }
  // ES256 with the signing operation set up once.
  const PreparedSigner& es256() const { return es256_; }
  // For sign_ear_jwt: the tokens' common beginnings it has hashed (shared by copies).
  JwtPrefixCache& jwt_prefixes() const { return *jwt_prefixes_; }

 private:
  EarSigner(PrivateKey key, std::vector<Certificate> chain, std::string jwt_header_b64,
            PreparedSigner es256, std::shared_ptr<JwtPrefixCache> jwt_prefixes)
      : key_(std::move(key)),
        chain_(std::move(chain)),
        jwt_header_b64_(std::move(jwt_header_b64)),
        es256_(std::move(es256)),
        jwt_prefixes_(std::move(jwt_prefixes)) {}
  PrivateKey key_;
  std::vector<Certificate> chain_;
  std::string jwt_header_b64_;
  PreparedSigner es256_;
  std::shared_ptr<JwtPrefixCache> jwt_prefixes_;
};

// Compact JWS with Trustee's header {"typ":"JWT","alg":"ES256","jwk":{"kty","crv","alg","x","y",
// "x5c"?}} and the JSON claims set. Refuses an EAR that fails validate_for_issue.
// `json_form_exact`, when given, is set to whether the token's claims hold the EAR's own values:
// false when a string or name is not UTF-8 (the text replaces it), a number is not finite
// (written as null) or a value is binary. A relying party that keeps the EAR rather than the
// token's claims (the KBS's sessions) decides on what the token says only when it is true;
// otherwise it takes ear_from_json(ear_to_json(ear)).
Result<std::string> sign_ear_jwt(const Ear& ear, const EarSigner& signer,
                                 bool* json_form_exact = nullptr);
// COSE_Sign1 (RFC 9052), tag 18, protected header {1: -7 (ES256), 33: x5chain}, payload the
// CBOR claims set, signature raw r||s.
Result<Bytes> sign_ear_cwt(const Ear& ear, const EarSigner& signer);

// ---- verification ----

inline constexpr size_t kMaxEarTokenBytes = 1 << 20;
inline constexpr size_t kMaxCborDepth = 64;

struct EarVerifyOptions {
  Time now{};  // the verification time; the library never reads a clock
  // Clock skew allowed on exp, nbf and iat (jsonwebtoken's default validation leeway).
  std::chrono::seconds leeway{60};
  // When set, the token's aud must contain it; otherwise aud is not checked (as Trustee's KBS).
  std::optional<std::string> audience;
  // Trust: either a pinned key (the header's key material is then ignored) or roots to which
  // the header's x5c / x5chain must chain, its leaf certifying the header key.
  std::optional<PublicKey> trusted_key;
  std::vector<Certificate> roots;
  size_t max_token_bytes = kMaxEarTokenBytes;
};

// Errors: parse (malformed, naming the field; CBOR with byte offsets), unsupported (alg other
// than ES256), verify_failed (signature, chain, key mismatch, audience), expired (exp, nbf, iat),
// invalid_argument (no trust configured).
Result<Ear> verify_ear_jwt(std::string_view token, const EarVerifyOptions& options);
Result<Ear> verify_ear_cwt(ByteView token, const EarVerifyOptions& options);

}  // namespace acon::appraisal
