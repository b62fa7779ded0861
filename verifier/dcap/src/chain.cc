// DCAP certificate-chain, CRL and signature checks in Intel QVL order. See chain.h.
#include "acon/dcap/chain.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include "acon/common/hash.h"
#include "acon/common/signature.h"
#include "acon/dcap/cache.h"

namespace acon::dcap {

// SignatureMemoScope's memo: the certificate and CRL signatures that verified in this scope,
// with their issuers. Entries hold the objects (shared handles), so an address met again within
// the scope is the same object, never a new one that reuses freed memory.
struct SignatureMemo {
  std::vector<std::pair<Certificate, Certificate>> certificates;  // (signed, issuer)
  std::vector<std::pair<Crl, Certificate>> crls;                  // (signed, issuer)
};

namespace {

// Intel SGX Root CA (docs/dcap-verification.md §2); DER SHA-256 kIntelSgxRootCaSha256.
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
  void operator()(void* p) const { OPENSSL_free(p); }
};

// Whether the (first) commonName of a certificate's subject contains `phrase`. Names in the
// ASCII-compatible string types are searched in place; others are converted to UTF-8 first.
bool cn_contains(const Certificate& cert, std::string_view phrase) {
  const X509_NAME* name = X509_get_subject_name(cert.get());
  int index = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (index < 0) return false;
  const ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  switch (ASN1_STRING_type(value)) {
    case V_ASN1_UTF8STRING:
    case V_ASN1_PRINTABLESTRING:
    case V_ASN1_IA5STRING: {
      // UTF-8 is a superset of these; an ASCII phrase matches the same bytes either way.
      std::string_view text(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                            static_cast<size_t>(ASN1_STRING_length(value)));
      return text.find(phrase) != std::string_view::npos;
    }
    default:
      return subject_common_name(cert).find(phrase) != std::string::npos;
  }
}

bool same_name(const X509_NAME* a, const X509_NAME* b) { return X509_NAME_cmp(a, b) == 0; }

bool issued_by(const Certificate& cert, const Certificate& issuer) {
  return same_name(X509_get_issuer_name(cert.get()), X509_get_subject_name(issuer.get()));
}

thread_local SignatureMemo* t_memo = nullptr;

ByteView bit_string_bytes(const ASN1_BIT_STRING* bits) {
  if (bits == nullptr) return {};
  return ByteView(ASN1_STRING_get0_data(bits), static_cast<size_t>(ASN1_STRING_length(bits)));
}

ByteView signature_bytes(const Certificate& cert) {
  const ASN1_BIT_STRING* sig = nullptr;
  X509_get0_signature(&sig, nullptr, cert.get());
  return bit_string_bytes(sig);
}

ByteView crl_signature_bytes(const Crl& crl) {
  const ASN1_BIT_STRING* sig = nullptr;
  X509_CRL_get0_signature(crl.get(), &sig, nullptr);
  return bit_string_bytes(sig);
}

bool equal_bytes(ByteView a, ByteView b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

Bytes crl_der(const Crl& crl) {
  unsigned char* der = nullptr;
  int len = i2d_X509_CRL(crl.get(), &der);
  Bytes out;
  if (len > 0) out.assign(der, der + len);
  OPENSSL_free(der);
  return out;
}

// The same subject public key: the key bits and the key algorithm with its parameters (curve).
bool same_public_key(const Certificate& a, const Certificate& b) {
  if (a.get() == b.get()) return true;
  ByteView bits_a = bit_string_bytes(X509_get0_pubkey_bitstr(a.get()));
  if (bits_a.empty() || !equal_bytes(bits_a, bit_string_bytes(X509_get0_pubkey_bitstr(b.get()))))
    return false;
  X509_ALGOR* alg_a = nullptr;
  X509_ALGOR* alg_b = nullptr;
  if (X509_PUBKEY_get0_param(nullptr, nullptr, nullptr, &alg_a, X509_get_X509_PUBKEY(a.get())) !=
          1 ||
      X509_PUBKEY_get0_param(nullptr, nullptr, nullptr, &alg_b, X509_get_X509_PUBKEY(b.get())) !=
          1 ||
      alg_a == nullptr || alg_b == nullptr)
    return false;
  return X509_ALGOR_cmp(alg_a, alg_b) == 0;
}

bool signed_by_uncached(const Certificate& cert, const Certificate& issuer) {
  auto key = issuer.public_key();
  return key.ok() && cert.verify_signed_by(*key).ok();
}

bool signed_by(const Certificate& cert, const Certificate& issuer) {
  if (t_memo == nullptr) return signed_by_uncached(cert, issuer);
  for (const auto& [signed_cert, signer] : t_memo->certificates)
    if (same_certificate(signed_cert, cert) && same_public_key(signer, issuer)) return true;
  if (!signed_by_uncached(cert, issuer)) return false;
  t_memo->certificates.emplace_back(cert, issuer);
  return true;
}

bool self_signed(const Certificate& cert) { return issued_by(cert, cert) && signed_by(cert, cert); }

// A trust anchor's self-signature depends only on the configured anchor, so it is checked once
// per process per distinct anchor (bounded; anchors are few). The list holds the anchors, so a
// matching address is the verified object itself; another object with the same DER also counts.
bool anchor_self_signed(const Certificate& anchor) {
  static std::mutex mutex;
  static std::vector<Certificate> verified;
  {
    std::lock_guard lock(mutex);
    for (const Certificate& known : verified)
      if (known.get() == anchor.get()) return true;
    for (const Certificate& known : verified)
      if (same_certificate(known, anchor)) {
        if (verified.size() < 64) verified.push_back(anchor);
        return true;
      }
  }
  if (!self_signed(anchor)) return false;
  std::lock_guard lock(mutex);
  if (verified.size() >= 64) verified.clear();
  verified.push_back(anchor);
  return true;
}

// self_signed(root), answered from anchor_self_signed when the root is byte-identical to an
// anchor (same bytes, same verdict).
bool root_self_signed(const Certificate& root, const TrustAnchors& anchors) {
  for (const Certificate& anchor : anchors.roots)
    if (same_certificate(anchor, root)) return anchor_self_signed(anchor);
  return self_signed(root);
}

// QVL rule: the chain's root has the same signature bytes as a configured, self-signed root.
bool trusted_root(const Certificate& root, const TrustAnchors& anchors) {
  ByteView sig = signature_bytes(root);
  if (sig.empty()) return false;
  return std::any_of(anchors.roots.begin(), anchors.roots.end(), [&](const Certificate& anchor) {
    return equal_bytes(signature_bytes(anchor), sig) && anchor_self_signed(anchor);
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
  for (const auto& [signed_crl, signer] : t_memo->crls)
    if (same_crl(signed_crl, crl) && same_public_key(signer, issuer)) return true;
  if (!crl_signed_by_uncached(crl, issuer)) return false;
  t_memo->crls.emplace_back(crl, issuer);
  return true;
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
                                                  subject_common_name(root) +
                                                  "\" lacks \"SGX Root CA\"");
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

std::string subject_common_name(const Certificate& cert) {
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

bool same_certificate(const Certificate& a, const Certificate& b) {
  if (a.get() == b.get()) return true;
  // The signature bytes end the DER, so unequal signatures settle it without re-encoding.
  ByteView sig_a = signature_bytes(a);
  if (sig_a.empty() || !equal_bytes(sig_a, signature_bytes(b))) return false;
  Bytes der_a = a.der();
  return !der_a.empty() && der_a == b.der();
}

bool same_crl(const Crl& a, const Crl& b) {
  if (a.get() == b.get()) return true;
  ByteView sig_a = crl_signature_bytes(a);
  if (sig_a.empty() || !equal_bytes(sig_a, crl_signature_bytes(b))) return false;
  Bytes der_a = crl_der(a);
  return !der_a.empty() && der_a == crl_der(b);
}

namespace {

// A certificate from its DER: one of `reusable` when the DER is equal (OpenSSL 3.0 spends about
// 100 us decoding each certificate's public key), else a new parse.
Result<Certificate> certificate_from_der(ByteView der,
                                         std::span<const Certificate* const> reusable) {
  for (const Certificate* candidate : reusable) {
    // The signature bytes end the DER: a cheap test before comparing all of it.
    ByteView sig = signature_bytes(*candidate);
    if (sig.empty() || sig.size() > der.size() ||
        !std::equal(sig.begin(), sig.end(), der.end() - static_cast<ptrdiff_t>(sig.size())))
      continue;
    if (equal_bytes(candidate->der(), der)) return *candidate;
  }
  return Certificate::from_der(der);
}

// One PEM block read by OpenSSL: its label, its header lines (Proc-Type, DEK-Info) and its DER.
struct PemBlock {
  std::unique_ptr<char, OsslStringFree> name;
  std::unique_ptr<char, OsslStringFree> header;
  std::unique_ptr<unsigned char, OsslStringFree> data;
  long length = 0;
};

// The first PEM block in `bio`; nullopt at the end of the text, an error for a broken block.
Result<std::optional<PemBlock>> next_pem_block(BIO* bio) {
  char* name = nullptr;
  char* header = nullptr;
  unsigned char* data = nullptr;
  long length = 0;
  if (PEM_read_bio(bio, &name, &header, &data, &length) != 1) {
    unsigned long err = ERR_peek_last_error();
    ERR_clear_error();
    if (err == 0 || ERR_GET_REASON(err) == PEM_R_NO_START_LINE) return std::optional<PemBlock>();
    return make_error(Errc::parse, "malformed PEM block");
  }
  PemBlock block;
  block.name.reset(name);
  block.header.reset(header);
  block.data.reset(data);
  block.length = length;
  return std::optional<PemBlock>(std::move(block));
}

constexpr std::string_view kBeginCertificate = "-----BEGIN CERTIFICATE-----";
constexpr std::string_view kEndCertificate = "-----END CERTIFICATE-----";

// The PEM text as QVL cuts a chain into certificates (docs/dcap-verification.md §4): the first
// piece starts at the first BEGIN CERTIFICATE line, every later one at the first '-' after the
// previous END CERTIFICATE line, and each ends with its END CERTIFICATE line; pieces without a
// BEGIN CERTIFICATE line are dropped, and so is everything outside the pieces. No BEGIN / END
// pair, or an END before the first BEGIN, gives no piece at all.
std::vector<std::string_view> split_pem_chain(std::string_view text) {
  const size_t first_begin = text.find(kBeginCertificate);
  size_t end = text.find(kEndCertificate);
  if (first_begin == std::string_view::npos || end == std::string_view::npos || first_begin >= end)
    return {};
  std::vector<std::string_view> pieces;
  size_t start = first_begin;
  while (end != std::string_view::npos) {
    while (start < end && text[start] != '-') ++start;
    const size_t piece_end = end + kEndCertificate.size();
    std::string_view piece = text.substr(start, piece_end - start);
    if (piece.find(kBeginCertificate) != std::string_view::npos) pieces.push_back(piece);
    start = piece_end;
    end = text.find(kEndCertificate, start);
  }
  return pieces;
}

}  // namespace

Result<std::vector<Certificate>> certificates_from_pem(
    std::string_view pem, std::span<const Certificate* const> reusable) {
  auto bad = [](std::string why) { return make_error(Errc::parse, "x509: " + std::move(why)); };
  if (pem.size() > INT_MAX) return bad("PEM too large");
  ossl::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return bad("PEM too large");
  std::vector<Certificate> out;
  // The blocks Certificate::all_from_pem reads, with its messages: CERTIFICATE and X509
  // CERTIFICATE, other types skipped, a broken block an error.
  for (;;) {
    auto block = next_pem_block(bio.get());
    if (!block.ok())
      return bad("malformed certificate #" + std::to_string(out.size() + 1) + " in PEM text");
    if (!block->has_value()) break;
    std::string_view type((*block)->name.get());
    if (type != PEM_STRING_X509 && type != PEM_STRING_X509_OLD) continue;
    auto cert = certificate_from_der(
        ByteView((*block)->data.get(), static_cast<size_t>((*block)->length)), reusable);
    if (!cert.ok())
      return bad("certificate #" + std::to_string(out.size() + 1) +
                 " in PEM text: " + cert.error().message);
    out.push_back(*std::move(cert));
  }
  if (out.empty()) return bad("no certificate in PEM text");
  return out;
}

Result<std::vector<Certificate>> pck_chain_from_pem(std::string_view pem,
                                                    std::span<const Certificate* const> reusable) {
  // QvE hands QVL the certification data as a C string: the text ends at the first NUL.
  pem = pem.substr(0, pem.find('\0'));
  const std::vector<std::string_view> pieces = split_pem_chain(pem);
  if (pieces.empty())
    return fail("STATUS_UNSUPPORTED_CERT_FORMAT",
                "PCK chain: no -----BEGIN CERTIFICATE----- ... -----END CERTIFICATE----- block");
  std::vector<Certificate> chain;
  for (std::string_view piece : pieces) {
    const std::string which = "PCK chain certificate #" + std::to_string(chain.size() + 1);
    ossl::BioPtr bio(BIO_new_mem_buf(piece.data(), static_cast<int>(piece.size())));
    if (!bio) return fail("STATUS_UNSUPPORTED_CERT_FORMAT", which + ": out of memory");
    // QVL reads each piece with PEM_read_bio_X509, which passes over blocks of other labels.
    Result<std::optional<PemBlock>> block = std::optional<PemBlock>();
    std::string_view label;
    do {
      block = next_pem_block(bio.get());
      if (!block.ok() || !block->has_value())
        return fail("STATUS_UNSUPPORTED_CERT_FORMAT", which + ": malformed PEM block");
      label = (*block)->name.get();
    } while (label != PEM_STRING_X509 && label != PEM_STRING_X509_OLD);
    // Only plain CERTIFICATE blocks count: QVL reads without a passphrase, so an encrypted block
    // (Proc-Type / DEK-Info headers) never parses, and an "X509 CERTIFICATE" block takes the
    // place of the piece's own certificate, which breaks the chain.
    if (label != PEM_STRING_X509)
      return fail("STATUS_UNSUPPORTED_CERT_FORMAT",
                  which + ": PEM block labelled '" + std::string(label) + "', not 'CERTIFICATE'");
    if ((*block)->header != nullptr && (*block)->header.get()[0] != '\0')
      return fail("STATUS_UNSUPPORTED_CERT_FORMAT",
                  which + ": PEM block has headers ('" + std::string((*block)->header.get()) +
                      "'): encrypted or annotated blocks are not certificates");
    auto cert = certificate_from_der(
        ByteView((*block)->data.get(), static_cast<size_t>((*block)->length)), reusable);
    if (!cert.ok())
      return fail("STATUS_UNSUPPORTED_CERT_FORMAT", which + ": " + cert.error().message);
    chain.push_back(*std::move(cert));
  }
  return chain;
}

Result<std::vector<Certificate>> pck_chain_from_quote(
    const tdx::Quote& quote, std::span<const Certificate* const> reusable) {
  const tdx::CertificationData& cert = quote.signature.pck_certification;
  if (cert.type != tdx::cert_data::kPckCertChain)
    return fail("STATUS_UNSUPPORTED_QE_CERTIFICATION_DATA_TYPE",
                "PCK certification data type " + std::to_string(cert.type) + " at offset " +
                    std::to_string(quote.offset_of(cert.data) - 6) +
                    " is not 5 (PCK certificate chain); QvE verifies type 5 only");
  return pck_chain_from_pem(as_chars(cert.data), reusable);
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
                "PCK chain root CN \"" + subject_common_name(root) + "\" lacks \"SGX Root CA\"");
  if (!cn_contains(intermediate, kIntermediateCn))
    return fail("STATUS_SGX_INTERMEDIATE_CA_INVALID",
                "PCK intermediate CN \"" + subject_common_name(intermediate) + "\" lacks \"CA\"");
  if (!cn_contains(leaf, kPckLeafCn))
    return fail("STATUS_SGX_PCK_INVALID",
                "PCK leaf CN \"" + subject_common_name(leaf) + "\" lacks \"SGX PCK Certificate\"");
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

Status verify_qe_report(const tdx::Quote& quote, const Certificate& pck_leaf) {
  const tdx::QuoteSignatureData& sig = quote.signature;
  auto key = pck_leaf.public_key();
  if (!key.ok() || key->curve() != Curve::p256)
    return fail("STATUS_INVALID_QE_REPORT_SIGNATURE", "PCK leaf key is not an EC P-256 key");
  if (auto st = verify(*key, {SigKind::ecdsa, HashAlg::sha256}, sig.qe_report.raw,
                       sig.qe_report_signature, EcdsaEncoding::raw);
      !st.ok())
    return fail("STATUS_INVALID_QE_REPORT_SIGNATURE",
                "QE report signature does not verify with the PCK leaf key");
  return verify_qe_report_data(quote);
}

Status verify_qe_report_data(const tdx::Quote& quote) {
  const tdx::QuoteSignatureData& sig = quote.signature;
  auto hasher = Hasher::create(HashAlg::sha256);
  if (!hasher.ok()) return hasher.error();
  hasher->update(sig.attestation_key);
  hasher->update(sig.qe_auth_data);
  std::array<uint8_t, 32> expected{};
  hasher->finish_into(expected);
  ByteView report_data = sig.qe_report.report_data;
  if (report_data.size() < expected.size() ||
      !std::equal(expected.begin(), expected.end(), report_data.begin()))
    return fail("STATUS_INVALID_QE_REPORT_DATA",
                "QE report_data[0..32] != SHA256(attestation_key || qe_auth_data)");
  return {};
}

Status verify_quote_signature(const tdx::Quote& quote, VerificationCache* cache) {
  auto key = cache != nullptr ? cache->attestation_key(quote.signature.attestation_key)
                              : PublicKey::from_ec_xy(Curve::p256, quote.signature.attestation_key);
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

}  // namespace acon::dcap
