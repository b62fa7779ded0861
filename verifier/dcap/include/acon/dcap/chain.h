// DCAP cryptographic checks in Intel QVL order: the PCK certificate chain and CRLs (trust anchor
// by signature bytes), the TCB-info / QE-identity issuer chains and signatures, the QE report
// signature and report data, and the quote signature. Plus the QvE collateral time summary.
// Reference (every § in this file): docs/dcap-verification.md §2, §4, §5, §7 (steps 1, 4, 5,
// 7), §10, §13.
//
// No function here looks at a clock or compares times: validity dates are returned (PckChain,
// CollateralTimes) and the caller applies §10 (upper bounds only; expiry is a flag, not a
// failure, unless the caller runs in strict mode). Every check failure is Errc::verify_failed
// whose message starts with the Intel QVL status name, e.g.
// "STATUS_SGX_PCK_REVOKED: PCK leaf serial 1a2b... is listed in the PCK CRL".
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "acon/common/result.h"
#include "acon/common/x509.h"
#include "acon/dcap/collateral.h"
#include "acon/tdx/quote.h"

namespace acon::dcap {

// DER SHA-256 of the Intel SGX Root CA (docs/dcap-verification.md §2), lower-case hex.
inline constexpr std::string_view kIntelSgxRootCaSha256 =
    "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3";

// The embedded Intel SGX Root CA; its DER hash is checked against kIntelSgxRootCaSha256 on
// first use (a mismatch aborts: the binary itself is corrupt).
const Certificate& intel_sgx_root_ca();

// Roots a chain may end in. A chain's root is accepted only when its signature bytes equal those
// of a configured root and that configured root is self-signed (QVL PckCertVerifier rule).
struct TrustAnchors {
  std::vector<Certificate> roots;
};
// Just the Intel SGX Root CA.
TrustAnchors default_trust_anchors();

// A certificate's or CRL's validity window (notBefore/notAfter, thisUpdate/nextUpdate).
struct Validity {
  std::string what;  // "PCK leaf", "PCK CRL", ...
  Time not_before{};
  Time not_after{};
};

struct PckChain {
  Certificate leaf;
  Certificate intermediate;  // Intel SGX PCK Platform CA or Processor CA
  Certificate root;
  // PCK leaf, PCK intermediate, root, root CA CRL, PCK CRL - in that order. Not checked here.
  std::vector<Validity> validity;
};

// The (first) commonName of a certificate's subject as UTF-8; empty when it has none.
std::string subject_common_name(const Certificate& cert);

// The type-5 PEM chain of a quote (leaf, intermediate, root), read as QVL and QvE read it
// (docs/dcap-verification.md §4): only certification data type 5 (inside the type-6 wrapper of
// v4/v5 quotes), else STATUS_UNSUPPORTED_QE_CERTIFICATION_DATA_TYPE; the text ends at the first
// NUL; it is cut into pieces at "-----END CERTIFICATE-----" lines, bytes outside the pieces are
// ignored; each piece's certificate must be a plain "CERTIFICATE" block (no "X509 CERTIFICATE"
// label, no Proc-Type / DEK-Info headers). Errors → verify_failed with
// STATUS_UNSUPPORTED_CERT_FORMAT. A certificate whose DER equals one of `reusable` (say the trust
// anchors and the collateral's PCK CRL issuer chain) is that certificate rather than a new parse
// of the same bytes: OpenSSL 3.0 spends about 100 us decoding each certificate's public key.
Result<std::vector<Certificate>> pck_chain_from_quote(
    const tdx::Quote& quote, std::span<const Certificate* const> reusable = {});
// The same from the certification data's text itself.
Result<std::vector<Certificate>> pck_chain_from_pem(
    std::string_view pem, std::span<const Certificate* const> reusable = {});
// Certificate::all_from_pem (same blocks, same Errc::parse messages), taking a certificate from
// `reusable` instead of parsing it again when the DER is equal.
Result<std::vector<Certificate>> certificates_from_pem(
    std::string_view pem, std::span<const Certificate* const> reusable);

// The same certificate / CRL: one parsed object, or equal DER (compared only when the signature
// bytes are equal). Parsed certificates and CRLs are immutable, so the object test is exact.
bool same_certificate(const Certificate& a, const Certificate& b);
bool same_crl(const Crl& a, const Crl& b);

// §4 / §7 step 1: `chain_from_quote` is leaf, intermediate, root. Checks subject CNs and
// issuers, every signature, the root against `anchors`, both CRL signatures (root CA CRL by the
// root, PCK CRL by the intermediate), PCK CRL issuer == leaf issuer, intermediate not revoked by
// the root CA CRL, leaf not revoked by the PCK CRL. No time checks.
Result<PckChain> verify_pck_chain(const std::vector<Certificate>& chain_from_quote,
                                  const Crl& root_ca_crl, const Crl& pck_crl,
                                  const TrustAnchors& anchors);

// §5: the TCB-info and QE-identity issuer chains ("Intel SGX TCB Signing" + root, each found
// by subject, not position) against `anchors` and the root CA CRL, then verify_signed_json for
// both. No time checks.
Status verify_collateral_signatures(const Collateral& collateral, const Crl& root_ca_crl,
                                    const TrustAnchors& anchors);

// §7 steps 4 and 5: the QE report signature (P-256/SHA-256, raw r||s) over the 384 raw report
// bytes with the PCK leaf key; then SHA256(attestation_key || qe_auth_data) must equal
// qe_report.report_data[0..32] (bytes 32..63 are not checked, as in QVL).
Status verify_qe_report(const tdx::Quote& quote, const Certificate& pck_leaf);
// The second half of verify_qe_report alone: the report-data binding of the attestation key and
// QE authentication data (for a QE report whose signature is known to verify).
Status verify_qe_report_data(const tdx::Quote& quote);

class VerificationCache;

// §7 step 7: the quote signature, made with the raw x||y P-256 attestation key over
// signed_region(). With a cache, the key is decoded through it (VerificationCache::
// attestation_key); the signature is verified every time.
Status verify_quote_signature(const tdx::Quote& quote, VerificationCache* cache = nullptr);

// §10 (QvE): over the PCK chain and both CRLs, the PCK-CRL issuer chain, the TCB-info and
// QE-identity issuer chains and the TCB-info / QE-identity issueDate..nextUpdate:
// earliest / latest lower bound and earliest upper bound.
struct CollateralTimes {
  Time earliest_issue{};
  Time latest_issue{};
  Time earliest_expiration{};
};
CollateralTimes collateral_times(const PckChain& pck_chain, const Collateral& collateral);

// QvE collateral_expiration_status: earliest_expiration <= at. Only the upper bound counts.
bool collateral_expired(const CollateralTimes& times, Time at);

// While one is alive on a thread, a certificate or CRL signature that verified under an issuer
// key is remembered (the signed object, matched as same_certificate / same_crl do, and the
// issuer's public key with its algorithm) and not verified again, so the root CA CRL and TCB
// signing certificate shared by the PCK chain and both collateral issuer chains cost one ECDSA
// verify each per call. verify_quote opens one per call; nothing outlives it. Not copyable;
// scopes nest (the inner one starts empty).
struct SignatureMemo;
class SignatureMemoScope {
 public:
  SignatureMemoScope();
  ~SignatureMemoScope();
  SignatureMemoScope(const SignatureMemoScope&) = delete;
  SignatureMemoScope& operator=(const SignatureMemoScope&) = delete;

 private:
  SignatureMemo* previous_;  // the enclosing scope's memo, restored on exit
  std::unique_ptr<SignatureMemo> memo_;
};

}  // namespace acon::dcap
