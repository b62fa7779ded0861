// X.509 certificates and CRLs, and chain verification to pinned roots at a caller-given time.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "acon/common/keys.h"
#include "acon/common/signature.h"

namespace acon {

// Seconds since the epoch, UTC. Verification APIs take it; only CLIs and servers read a clock.
using Time = std::chrono::sys_seconds;

// "2024-05-01T12:00:00Z" (also with fractional seconds or a numeric offset).
Result<Time> parse_rfc3339(std::string_view text);
std::string format_rfc3339(Time t);
// A time given by a person or a script: Unix seconds (decimal digits only) or RFC 3339. Only
// times X.509 can express are accepted (0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z); anything
// else is Errc::parse, never an exception or a wrapped value.
Result<Time> parse_time_text(std::string_view text);

class Certificate {
 public:
  // DER only: BER forms OpenSSL would take (indefinite or non-minimal lengths, constructed
  // strings, anything whose DER re-encoding differs from the input) are Errc::parse, as are
  // bytes after the certificate. So der() is both the input and the one encoding.
  static Result<Certificate> from_der(ByteView der);
  // The first certificate in a PEM text.
  static Result<Certificate> from_pem(std::string_view pem);
  // Every certificate of a PEM bundle, in order; fails if there is none.
  static Result<std::vector<Certificate>> all_from_pem(std::string_view pem);

  // The bytes the certificate was parsed from (hashes of a certificate are taken over these).
  Bytes der() const;
  // One "CERTIFICATE" PEM block, 64-column base64, ending in a newline.
  std::string to_pem() const;
  // RFC 2253 text as OpenSSL prints it for Intel's root:
  // "C=US,ST=CA,L=Santa Clara,O=Intel Corporation,CN=Intel SGX Root CA".
  std::string subject() const;
  std::string issuer() const;
  std::string serial_hex() const;
  Time not_before() const;
  Time not_after() const;
  bool is_ca() const;
  Result<PublicKey> public_key() const;
  // The contents of extnValue for the extension with this dotted OID, if present.
  std::optional<Bytes> extension(std::string_view oid) const;
  // The scheme named by signatureAlgorithm (e.g. ecdsa-with-SHA384 → {ecdsa, sha384}).
  Result<SigScheme> signature_scheme() const;
  // Checks this certificate's signature with the issuer's key (no chain or time logic).
  Status verify_signed_by(const PublicKey& issuer_key) const;

  X509* get() const { return cert_.get(); }

 private:
  Certificate(std::shared_ptr<X509> cert, std::shared_ptr<const Bytes> der)
      : cert_(std::move(cert)), der_(std::move(der)) {}
  std::shared_ptr<X509> cert_;        // immutable after parsing, so copies share it
  std::shared_ptr<const Bytes> der_;  // the input bytes
};

class Crl {
 public:
  static Result<Crl> from_der(ByteView der);
  static Result<Crl> from_pem(std::string_view pem);
  // DER or PEM, detected from the content.
  static Result<Crl> parse(ByteView data);

  Bytes der() const;
  // One "X509 CRL" PEM block, ending in a newline.
  std::string to_pem() const;
  std::string issuer() const;
  Time this_update() const;
  std::optional<Time> next_update() const;
  bool lists(const Certificate& cert) const;

  X509_CRL* get() const { return crl_.get(); }

 private:
  explicit Crl(std::shared_ptr<X509_CRL> crl) : crl_(std::move(crl)) {}
  std::shared_ptr<X509_CRL> crl_;
};

// ---- issuing (test PKIs, the simulated TDX platform, acon-image keygen) ----

// One attribute of a distinguished name. `type` is an OpenSSL short name ("CN", "O", "OU", "L",
// "ST", "C", "emailAddress", ...) or a dotted OID; values are UTF8String (C: PrintableString).
struct NameEntry {
  std::string type;
  std::string value;
};

// X.509 keyUsage bits (RFC 5280 §4.2.1.3), combinable with |.
enum KeyUsage : uint32_t {
  kKeyUsageDigitalSignature = 1u << 0,
  kKeyUsageNonRepudiation = 1u << 1,
  kKeyUsageKeyEncipherment = 1u << 2,
  kKeyUsageDataEncipherment = 1u << 3,
  kKeyUsageKeyAgreement = 1u << 4,
  kKeyUsageKeyCertSign = 1u << 5,
  kKeyUsageCrlSign = 1u << 6,
};

// An extension given as its DER extnValue contents (what goes inside the OCTET STRING), e.g.
// Intel's SGX extension 1.2.840.113741.1.13.1.
struct RawExtension {
  std::string oid;  // dotted
  Bytes der_value;
  bool critical = false;
};

struct CertificateRequest {
  std::vector<NameEntry> subject;  // in order, one RDN each (Intel: CN, O, L, ST, C)
  Bytes serial;                    // big-endian unsigned, 1..20 bytes, not all zero
  Time not_before{};
  Time not_after{};
  // basicConstraints (critical): CA:TRUE with an optional pathLenConstraint, or CA:FALSE.
  bool is_ca = false;
  std::optional<uint32_t> path_length;
  uint32_t key_usage = 0;  // KeyUsage bits; 0 = no keyUsage extension; critical otherwise
  HashAlg signature_hash = HashAlg::sha256;  // ECDSA / RSA PKCS#1 v1.5 digest
  // Subject key identifier; empty = SHA-1 of the subject public key bits (RFC 5280 method 1).
  Bytes subject_key_id;
  // The authority key identifier is the issuer's subject key identifier (for a self-signed
  // certificate, its own); omitted when the issuer has none.
  bool authority_key_id = true;
  // CRL distribution point URIs (one fullName each); none = no extension.
  std::vector<std::string> crl_distribution_points;
  std::vector<RawExtension> extensions;  // appended after the standard ones, in order
};

// Issues an X.509 v3 certificate for `subject_key` signed by `issuer_key`. `issuer` supplies the
// issuer name and key identifier; nullptr = self-signed (issuer name = subject, and
// `issuer_key` must be the private half of `subject_key`). invalid_argument for an empty
// subject, a bad serial, not_after before not_before, an unknown name type or OID, an issuer key
// that does not belong to `issuer`, or an issuer that is not a CA.
Result<Certificate> issue_certificate(const CertificateRequest& request,
                                      const PublicKey& subject_key, const PrivateKey& issuer_key,
                                      const Certificate* issuer);

// RFC 5280 CRL reason codes that may appear on an entry.
enum class CrlReason : int {
  unspecified = 0,
  key_compromise = 1,
  ca_compromise = 2,
  affiliation_changed = 3,
  superseded = 4,
  cessation_of_operation = 5,
};

struct RevokedEntry {
  Bytes serial;  // big-endian unsigned
  Time revocation_date{};
  std::optional<CrlReason> reason;  // crlReason entry extension when set
};

struct CrlRequest {
  Time this_update{};
  std::optional<Time> next_update;
  std::vector<RevokedEntry> revoked;
  uint64_t crl_number = 1;  // cRLNumber extension
  HashAlg signature_hash = HashAlg::sha256;
  bool authority_key_id = true;  // from the issuer's subject key identifier, when it has one
};

// Issues a v2 CRL signed by `issuer_key` under `issuer`'s name. invalid_argument when the key
// does not belong to `issuer`, next_update precedes this_update, or a serial is malformed.
Result<Crl> issue_crl(const CrlRequest& request, const PrivateKey& issuer_key,
                      const Certificate& issuer);

enum class CrlCheck {
  none,  // revocation not checked
  leaf,  // a CRL from the leaf's issuer is required
  all,   // a CRL from each issuer on the path is required (for the root: its own CRL)
};

// Verifies leaf → intermediates → one of `roots` at time `at`. Only `roots` are trusted (no
// system store). Returns the path, leaf first, root last. Errors: expired (a certificate or CRL
// outside its validity at `at`), verify_failed (bad signature, untrusted, revoked), not_found
// (a required CRL missing).
Result<std::vector<Certificate>> verify_chain(const Certificate& leaf,
                                              std::span<const Certificate> intermediates,
                                              std::span<const Certificate> roots,
                                              std::span<const Crl> crls, Time at,
                                              CrlCheck crl_check = CrlCheck::all);

}  // namespace acon
