// X.509 certificates and CRLs, and chain verification to pinned roots at a caller-given time.
#pragma once

#include <chrono>
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

class Certificate {
 public:
  static Result<Certificate> from_der(ByteView der);
  // The first certificate in a PEM text.
  static Result<Certificate> from_pem(std::string_view pem);
  // Every certificate of a PEM bundle, in order; fails if there is none.
  static Result<std::vector<Certificate>> all_from_pem(std::string_view pem);

  Bytes der() const;
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
  explicit Certificate(std::shared_ptr<X509> cert) : cert_(std::move(cert)) {}
  std::shared_ptr<X509> cert_;  // immutable after parsing, so copies share it
};

class Crl {
 public:
  static Result<Crl> from_der(ByteView der);
  static Result<Crl> from_pem(std::string_view pem);
  // DER or PEM, detected from the content.
  static Result<Crl> parse(ByteView data);

  std::string issuer() const;
  Time this_update() const;
  std::optional<Time> next_update() const;
  bool lists(const Certificate& cert) const;

  X509_CRL* get() const { return crl_.get(); }

 private:
  explicit Crl(std::shared_ptr<X509_CRL> crl) : crl_(std::move(crl)) {}
  std::shared_ptr<X509_CRL> crl_;
};

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
