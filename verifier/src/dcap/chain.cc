// DCAP certificate-chain, CRL and signature checks in Intel QVL order. See chain.h.
#include "acon/verifier/chain.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <set>
#include <utility>

#include "acon/common/hash.h"
#include "acon/common/signature.h"

namespace acon::verifier {

// SignatureMemoScope's memo: (signed object DER, issuer key bit string) pairs that verified.
struct SignatureMemo {
  std::vector<std::pair<Bytes, Bytes>> verified;
};

namespace {

// Intel SGX Root CA (spec §2.1); DER SHA-256 kIntelSgxRootCaSha256.
constexpr std::string_view kIntelSgxRootCaPem = R"(-----BEGIN CERTIFICATE-----
MIICjzCCAjSgAwIBAgIUImUM1lqdNInzg7SVUr9QGzknBqwwCgYIKoZIzj0EAwIw
aDEaMBgGA1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENv
cnBvcmF0aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJ
BgNVBAYTAlVTMB4XDTE4MDUyMTEwNDUxMFoXDTQ5MTIzMTIzNTk1OVowaDEaMBgG
A1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENvcnBvcmF0
aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJBgNVBAYT
AlVTMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEC6nEwMDIYZOj/iPWsCzaEKi7
1OiOSLRFhWGjbnBVJfVnkY4u3IjkDYYL0MxO4mqsyYjlBalTVYxFP2sJBK5zlKOB
uzCBuDAfBgNVHSMEGDAWgBQiZQzWWp00ifODtJVSv1AbOScGrDBSBgNVHR8ESzBJ
MEegRaBDhkFodHRwczovL2NlcnRpZmljYXRlcy50cnVzdGVkc2VydmljZXMuaW50
ZWwuY29tL0ludGVsU0dYUm9vdENBLmRlcjAdBgNVHQ4EFgQUImUM1lqdNInzg7SV
Ur9QGzknBqwwDgYDVR0PAQH/BAQDAgEGMBIGA1UdEwEB/wQIMAYBAf8CAQEwCgYI
KoZIzj0EAwIDSQAwRgIhAOW/5QkR+S9CiSDcNoowLuPRLsWGf/Yi7GSX94BgwTwg
AiEA4J0lrHoMs+Xo5o/sX6O9QWxHRAvZUGOdRQ7cvqRXaqI=
-----END CERTIFICATE-----
)";

constexpr std::string_view kPckLeafCn = "SGX PCK Certificate";
constexpr std::string_view kIntermediateCn = "CA";
constexpr std::string_view kRootCn = "SGX Root CA";
constexpr std::string_view kTcbSigningCn = "SGX TCB Signing";

Error fail(std::string_view status, std::string_view message) {
  return make_error(Errc::verify_failed, std::string(status) + ": " + std::string(message));
}

struct OsslStringFree {
  void operator()(unsigned char* p) const { OPENSSL_free(p); }
};

// The (first) commonName of a certificate's subject, UTF-8; empty when absent.
std::string common_name(const Certificate& cert) {
  const X509_NAME* name = X509_get_subject_name(cert.get());
  int index = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (index < 0) return {};
  const X509_NAME_ENTRY* entry = X509_NAME_get_entry(name, index);
  unsigned char* raw = nullptr;
  int len = ASN1_STRING_to_UTF8(&raw, X509_NAME_ENTRY_get_data(entry));
  if (len < 0) {
    ERR_clear_error();
    return {};
  }
  std::unique_ptr<unsigned char, OsslStringFree> owned(raw);
  return std::string(reinterpret_cast<const char*>(owned.get()), static_cast<size_t>(len));
}

bool cn_contains(const Certificate& cert, std::string_view phrase) {
  return common_name(cert).find(phrase) != std::string::npos;
}

bool same_name(const X509_NAME* a, const X509_NAME* b) { return X509_NAME_cmp(a, b) == 0; }

bool issued_by(const Certificate& cert, const Certificate& issuer) {
  return same_name(X509_get_issuer_name(cert.get()), X509_get_subject_name(issuer.get()));
}

thread_local SignatureMemo* t_memo = nullptr;

Bytes key_bits(const Certificate& issuer) {
  const ASN1_BIT_STRING* key = X509_get0_pubkey_bitstr(issuer.get());
  if (key == nullptr) return {};
  const unsigned char* p = ASN1_STRING_get0_data(key);
  return Bytes(p, p + ASN1_STRING_length(key));
}

Bytes crl_der(const Crl& crl) {
  unsigned char* der = nullptr;
  int len = i2d_X509_CRL(crl.get(), &der);
  Bytes out;
  if (len > 0) out.assign(der, der + len);
  OPENSSL_free(der);
  return out;
}

// Runs `check` unless the memo of the current scope (if any) already holds (signed_der, issuer).
template <typename Check>
bool memoized(const Bytes& signed_der, const Certificate& issuer, Check check) {
  if (t_memo == nullptr || signed_der.empty()) return check();
  Bytes key = key_bits(issuer);
  if (key.empty()) return check();
  for (const auto& [der, bits] : t_memo->verified)
    if (der == signed_der && bits == key) return true;
  if (!check()) return false;
  t_memo->verified.emplace_back(signed_der, std::move(key));
  return true;
}

bool signed_by_uncached(const Certificate& cert, const Certificate& issuer) {
  auto key = issuer.public_key();
  return key.ok() && cert.verify_signed_by(*key).ok();
}

bool signed_by(const Certificate& cert, const Certificate& issuer) {
  if (t_memo == nullptr) return signed_by_uncached(cert, issuer);
  return memoized(cert.der(), issuer, [&] { return signed_by_uncached(cert, issuer); });
}

bool self_signed(const Certificate& cert) { return issued_by(cert, cert) && signed_by(cert, cert); }

// A trust anchor's self-signature depends only on the configured anchor, so it is checked once
// per process per distinct anchor (bounded; anchors are few).
bool anchor_self_signed(const Certificate& anchor) {
  static std::mutex mutex;
  static std::set<std::string> verified;
  Bytes raw = anchor.der();
  std::string der(raw.begin(), raw.end());
  {
    std::lock_guard lock(mutex);
    if (verified.count(der) != 0) return true;
  }
  if (!self_signed(anchor)) return false;
  std::lock_guard lock(mutex);
  if (verified.size() >= 64) verified.clear();
  verified.insert(std::move(der));
  return true;
}

// self_signed(root), answered from anchor_self_signed when the root is byte-identical to an
// anchor (same bytes, same verdict).
bool root_self_signed(const Certificate& root, const TrustAnchors& anchors) {
  Bytes der = root.der();
  for (const Certificate& anchor : anchors.roots)
    if (anchor.der() == der) return anchor_self_signed(anchor);
  return self_signed(root);
}

ByteView signature_bytes(const Certificate& cert) {
  const ASN1_BIT_STRING* sig = nullptr;
  X509_get0_signature(&sig, nullptr, cert.get());
  if (sig == nullptr) return {};
  return ByteView(ASN1_STRING_get0_data(sig), static_cast<size_t>(ASN1_STRING_length(sig)));
}

// QVL rule: the chain's root has the same signature bytes as a configured, self-signed root.
bool trusted_root(const Certificate& root, const TrustAnchors& anchors) {
  ByteView sig = signature_bytes(root);
  if (sig.empty()) return false;
  return std::any_of(anchors.roots.begin(), anchors.roots.end(), [&](const Certificate& anchor) {
    ByteView anchor_sig = signature_bytes(anchor);
    return anchor_sig.size() == sig.size() &&
           std::equal(sig.begin(), sig.end(), anchor_sig.begin()) && anchor_self_signed(anchor);
  });
}

bool crl_signed_by_uncached(const Crl& crl, const Certificate& issuer) {
  EVP_PKEY* key = X509_get0_pubkey(issuer.get());
  if (key == nullptr || X509_CRL_verify(crl.get(), key) != 1) {
    ERR_clear_error();
    return false;
  }
  return true;
}

bool crl_signed_by(const Crl& crl, const Certificate& issuer) {
  if (t_memo == nullptr) return crl_signed_by_uncached(crl, issuer);
  return memoized(crl_der(crl), issuer, [&] { return crl_signed_by_uncached(crl, issuer); });
}

bool crl_issued_by(const Crl& crl, const Certificate& issuer) {
  return same_name(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(issuer.get()));
}

// Listed by serial number (X509_CRL_get0_by_serial; 2 = removeFromCRL, not revoked).
bool revoked(const Crl& crl, const Certificate& cert) {
  X509_REVOKED* entry = nullptr;
  return X509_CRL_get0_by_serial(crl.get(), &entry, X509_get0_serialNumber(cert.get())) == 1;
}

// Root checks common to the PCK chain and the collateral issuer chains.
Status check_root(const Certificate& root, const TrustAnchors& anchors, std::string_view chain) {
  if (!cn_contains(root, kRootCn))
    return fail("STATUS_SGX_ROOT_CA_INVALID", std::string(chain) + ": root CN \"" +
                                                  common_name(root) + "\" lacks \"SGX Root CA\"");
  if (!root_self_signed(root, anchors))
    return fail("STATUS_SGX_ROOT_CA_INVALID_ISSUER",
                std::string(chain) + ": root is not self-signed");
  if (!trusted_root(root, anchors))
    return fail("STATUS_SGX_ROOT_CA_UNTRUSTED",
                std::string(chain) + ": root does not match a configured trust anchor");
  return {};
}

Status check_root_crl(const Crl& root_ca_crl, const Certificate& root) {
  if (!crl_issued_by(root_ca_crl, root))
    return fail("STATUS_SGX_CRL_UNKNOWN_ISSUER",
                "root CA CRL issuer " + root_ca_crl.issuer() + " is not the root");
  if (!crl_signed_by(root_ca_crl, root))
    return fail("STATUS_SGX_CRL_INVALID_SIGNATURE", "root CA CRL signature does not verify");
  if (!root_ca_crl.next_update())
    return fail("STATUS_SGX_CRL_INVALID", "root CA CRL has no nextUpdate");
  return {};
}

Validity cert_validity(std::string what, const Certificate& cert) {
  return {std::move(what), cert.not_before(), cert.not_after()};
}

Validity crl_validity(std::string what, const Crl& crl) {
  return {std::move(what), crl.this_update(), crl.next_update().value_or(crl.this_update())};
}

// An issuer chain of the TCB info or QE identity: signer and root picked by subject.
Status verify_signing_chain(const std::vector<Certificate>& chain, const Crl& root_ca_crl,
                            const TrustAnchors& anchors, std::string_view what,
                            const Certificate** signer_out) {
  const Certificate* signer = nullptr;
  const Certificate* root = nullptr;
  for (const Certificate& cert : chain) {
    if (signer == nullptr && cn_contains(cert, kTcbSigningCn)) signer = &cert;
    if (root == nullptr && cn_contains(cert, kRootCn) && issued_by(cert, cert)) root = &cert;
  }
  if (root == nullptr)
    return fail("STATUS_SGX_ROOT_CA_MISSING", std::string(what) + ": no root in the issuer chain");
  if (signer == nullptr)
    return fail("STATUS_SGX_TCB_SIGNING_CERT_MISSING",
                std::string(what) + ": no \"SGX TCB Signing\" certificate in the issuer chain");
  ACON_CHECK(check_root(*root, anchors, what));
  if (!issued_by(*signer, *root) || !signed_by(*signer, *root))
    return fail("STATUS_SGX_TCB_SIGNING_CERT_INVALID_ISSUER",
                std::string(what) + ": TCB signing certificate is not signed by the root");
  ACON_CHECK(check_root_crl(root_ca_crl, *root));
  if (revoked(root_ca_crl, *signer))
    return fail("STATUS_SGX_TCB_SIGNING_CERT_REVOKED",
                std::string(what) + ": TCB signing certificate serial " + signer->serial_hex() +
                    " is listed in the root CA CRL");
  *signer_out = signer;
  return {};
}

struct TimeFold {
  bool any = false;
  CollateralTimes t;
  void add(Time lower, Time upper) {
    if (!any) {
      t = {lower, lower, upper};
      any = true;
      return;
    }
    t.earliest_issue = std::min(t.earliest_issue, lower);
    t.latest_issue = std::max(t.latest_issue, lower);
    t.earliest_expiration = std::min(t.earliest_expiration, upper);
  }
  void add(const Certificate& cert) { add(cert.not_before(), cert.not_after()); }
};

}  // namespace

const Certificate& intel_sgx_root_ca() {
  static const Certificate root = [] {
    auto cert = Certificate::from_pem(kIntelSgxRootCaPem);
    if (!cert.ok() || hex_encode(sha256(cert->der())) != kIntelSgxRootCaSha256) {
      std::fputs("acon: embedded Intel SGX Root CA is corrupt\n", stderr);
      std::abort();
    }
    return *std::move(cert);
  }();
  return root;
}

TrustAnchors default_trust_anchors() { return TrustAnchors{{intel_sgx_root_ca()}}; }

Result<std::vector<Certificate>> pck_chain_from_quote(const Quote& quote) {
  auto pem = quote.pck_chain_pem();
  if (!pem.ok())
    return fail("STATUS_UNSUPPORTED_CERT_FORMAT",
                "PCK certification data: " + pem.error().to_string());
  auto chain = Certificate::all_from_pem(*pem);
  if (!chain.ok())
    return fail("STATUS_UNSUPPORTED_CERT_FORMAT", "PCK chain: " + chain.error().to_string());
  return chain;
}

Result<PckChain> verify_pck_chain(const std::vector<Certificate>& chain_from_quote,
                                  const Crl& root_ca_crl, const Crl& pck_crl,
                                  const TrustAnchors& anchors) {
  if (chain_from_quote.size() != 3)
    return fail("STATUS_UNSUPPORTED_CERT_FORMAT",
                "PCK chain has " + std::to_string(chain_from_quote.size()) +
                    " certificates, expected leaf, intermediate, root");
  const Certificate& leaf = chain_from_quote[0];
  const Certificate& intermediate = chain_from_quote[1];
  const Certificate& root = chain_from_quote[2];

  // Subjects and issuers (QVL PckCertVerifier order).
  if (!cn_contains(root, kRootCn))
    return fail("STATUS_SGX_ROOT_CA_INVALID",
                "PCK chain root CN \"" + common_name(root) + "\" lacks \"SGX Root CA\"");
  if (!cn_contains(intermediate, kIntermediateCn))
    return fail("STATUS_SGX_INTERMEDIATE_CA_INVALID",
                "PCK intermediate CN \"" + common_name(intermediate) + "\" lacks \"CA\"");
  if (!cn_contains(leaf, kPckLeafCn))
    return fail("STATUS_SGX_PCK_INVALID",
                "PCK leaf CN \"" + common_name(leaf) + "\" lacks \"SGX PCK Certificate\"");
  if (!issued_by(leaf, intermediate))
    return fail("STATUS_SGX_PCK_INVALID_ISSUER", "PCK leaf issuer is not the intermediate");
  if (!issued_by(intermediate, root))
    return fail("STATUS_SGX_INTERMEDIATE_CA_INVALID_ISSUER",
                "PCK intermediate issuer is not the root");

  // Signatures, then the trust anchor.
  if (!root_self_signed(root, anchors))
    return fail("STATUS_SGX_ROOT_CA_INVALID_ISSUER", "PCK chain root is not self-signed");
  if (!signed_by(intermediate, root))
    return fail("STATUS_SGX_INTERMEDIATE_CA_INVALID_ISSUER",
                "PCK intermediate signature does not verify under the root");
  if (!signed_by(leaf, intermediate))
    return fail("STATUS_SGX_PCK_INVALID_ISSUER",
                "PCK leaf signature does not verify under the intermediate");
  ACON_CHECK(check_root(root, anchors, "PCK chain"));

  // CRLs.
  ACON_CHECK(check_root_crl(root_ca_crl, root));
  if (revoked(root_ca_crl, intermediate))
    return fail(
        "STATUS_SGX_INTERMEDIATE_CA_REVOKED",
        "PCK intermediate serial " + intermediate.serial_hex() + " is listed in the root CA CRL");
  if (!same_name(X509_CRL_get_issuer(pck_crl.get()), X509_get_issuer_name(leaf.get())))
    return fail("STATUS_INVALID_PCK_CRL", "PCK CRL issuer " + pck_crl.issuer() +
                                              " differs from PCK leaf issuer " + leaf.issuer());
  if (!crl_signed_by(pck_crl, intermediate))
    return fail("STATUS_INVALID_PCK_CRL",
                "PCK CRL signature does not verify under the intermediate");
  if (!pck_crl.next_update()) return fail("STATUS_INVALID_PCK_CRL", "PCK CRL has no nextUpdate");
  if (revoked(pck_crl, leaf))
    return fail("STATUS_SGX_PCK_REVOKED",
                "PCK leaf serial " + leaf.serial_hex() + " is listed in the PCK CRL");

  return PckChain{leaf,
                  intermediate,
                  root,
                  {cert_validity("PCK leaf", leaf), cert_validity("PCK intermediate", intermediate),
                   cert_validity("root", root), crl_validity("root CA CRL", root_ca_crl),
                   crl_validity("PCK CRL", pck_crl)}};
}

Status verify_collateral_signatures(const Collateral& collateral, const Crl& root_ca_crl,
                                    const TrustAnchors& anchors) {
  const Certificate* signer = nullptr;
  ACON_CHECK(verify_signing_chain(collateral.tcb_info_issuer_chain, root_ca_crl, anchors,
                                  "TCB info issuer chain", &signer));
  if (auto st = verify_signed_json(collateral.tcb_info, *signer); !st.ok())
    return fail("STATUS_TCB_INFO_INVALID_SIGNATURE", st.error().to_string());

  ACON_CHECK(verify_signing_chain(collateral.qe_identity_issuer_chain, root_ca_crl, anchors,
                                  "QE identity issuer chain", &signer));
  if (auto st = verify_signed_json(collateral.qe_identity, *signer); !st.ok())
    return fail("STATUS_SGX_ENCLAVE_IDENTITY_INVALID_SIGNATURE", st.error().to_string());
  return {};
}

Status verify_qe_report(const Quote& quote, const Certificate& pck_leaf) {
  const QuoteSignatureData& sig = quote.signature;
  auto key = pck_leaf.public_key();
  if (!key.ok() || key->curve() != Curve::p256)
    return fail("STATUS_INVALID_QE_REPORT_SIGNATURE", "PCK leaf key is not an EC P-256 key");
  if (auto st = verify(*key, {SigKind::ecdsa, HashAlg::sha256}, sig.qe_report.raw,
                       sig.qe_report_signature, EcdsaEncoding::raw);
      !st.ok())
    return fail("STATUS_INVALID_QE_REPORT_SIGNATURE",
                "QE report signature does not verify with the PCK leaf key");

  Bytes hashed(sig.attestation_key.begin(), sig.attestation_key.end());
  hashed.insert(hashed.end(), sig.qe_auth_data.begin(), sig.qe_auth_data.end());
  Bytes expected = sha256(hashed);
  ByteView report_data = sig.qe_report.report_data;
  if (report_data.size() < expected.size() ||
      !std::equal(expected.begin(), expected.end(), report_data.begin()))
    return fail("STATUS_INVALID_QE_REPORT_DATA",
                "QE report_data[0..32] != SHA256(attestation_key || qe_auth_data)");
  return {};
}

Status verify_quote_signature(const Quote& quote) {
  auto key = PublicKey::from_ec_xy(Curve::p256, quote.signature.attestation_key);
  if (!key.ok())
    return fail("STATUS_INVALID_QUOTE_SIGNATURE",
                "attestation key is not a P-256 point: " + key.error().to_string());
  if (auto st = verify(*key, {SigKind::ecdsa, HashAlg::sha256}, quote.signed_region(),
                       quote.signature.quote_signature, EcdsaEncoding::raw);
      !st.ok())
    return fail("STATUS_INVALID_QUOTE_SIGNATURE",
                "quote signature does not verify with the attestation key");
  return {};
}

CollateralTimes collateral_times(const PckChain& pck_chain, const Collateral& collateral) {
  TimeFold fold;
  for (const Validity& v : pck_chain.validity) fold.add(v.not_before, v.not_after);
  for (const auto* chain : {&collateral.pck_crl_issuer_chain, &collateral.tcb_info_issuer_chain,
                            &collateral.qe_identity_issuer_chain})
    for (const Certificate& cert : *chain) fold.add(cert);
  const TcbInfo& tcb = collateral.tcb_info.value;
  fold.add(tcb.issue_date, tcb.next_update);
  const EnclaveIdentity& qe = collateral.qe_identity.value;
  fold.add(qe.issue_date, qe.next_update);
  return fold.t;
}

bool collateral_expired(const CollateralTimes& times, Time at) {
  return times.earliest_expiration <= at;
}

SignatureMemoScope::SignatureMemoScope()
    : previous_(t_memo), memo_(std::make_unique<SignatureMemo>()) {
  t_memo = memo_.get();
}

SignatureMemoScope::~SignatureMemoScope() { t_memo = previous_; }

}  // namespace acon::verifier
