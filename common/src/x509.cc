#include "acon/common/x509.h"

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <ctime>

namespace acon {
namespace {

using Asn1ObjectPtr = std::unique_ptr<ASN1_OBJECT, ossl::Deleter<ASN1_OBJECT_free>>;
using Asn1TimePtr = std::unique_ptr<ASN1_TIME, ossl::Deleter<ASN1_TIME_free>>;

Error parse_error(std::string what) {
  ERR_clear_error();
  return make_error(Errc::parse, std::move(what));
}

Time from_asn1(const ASN1_TIME* t) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return Time{};
  return Time{std::chrono::seconds{timegm(&tm)}};
}

std::string name_string(const X509_NAME* name) {
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return {};
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

// sk_X509_free is a macro, so it needs a function to be a deleter.
void free_x509_stack(STACK_OF(X509) * s) { sk_X509_free(s); }
using X509StackPtr = std::unique_ptr<STACK_OF(X509), ossl::Deleter<free_x509_stack>>;

bool looks_like_pem(ByteView data) {
  static constexpr std::string_view kMarker = "-----BEGIN";
  return as_chars(data).find(kMarker) != std::string_view::npos;
}

ossl::BioPtr mem_bio(std::string_view text) {
  if (text.size() > INT_MAX) return nullptr;
  return ossl::BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

// Reads the next PEM block with one of `names` into `der`, skipping blocks of other types.
// 1: read; 0: end of text; -1: a broken block. Callers parse `der` with from_der, so that bytes
// after the object inside a block are rejected as they are in DER input.
int next_pem_block(BIO* bio, std::initializer_list<std::string_view> names, Bytes& der) {
  for (;;) {
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long len = 0;
    if (PEM_read_bio(bio, &name, &header, &data, &len) != 1) {
      // The end of the text shows as "no start line"; anything else is a broken block.
      unsigned long err = ERR_peek_last_error();
      ERR_clear_error();
      return err == 0 || ERR_GET_REASON(err) == PEM_R_NO_START_LINE ? 0 : -1;
    }
    bool match = std::find(names.begin(), names.end(), std::string_view(name)) != names.end();
    if (match) der.assign(data, data + len);
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    if (match) return 1;
  }
}

}  // namespace

Result<Time> parse_rfc3339(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)
  auto digits = [&](size_t pos, size_t n, int& out) {
    if (pos + n > text.size()) return false;
    out = 0;
    for (size_t i = pos; i < pos + n; ++i) {
      if (text[i] < '0' || text[i] > '9') return false;
      out = out * 10 + (text[i] - '0');
    }
    return true;
  };
  int y, mo, d, h, mi, s;
  auto bad = [&](std::string_view why) {
    return make_error(Errc::parse, "time '" + std::string(text) + "': " + std::string(why));
  };
  if (!digits(0, 4, y) || text.size() < 20 || text[4] != '-' || !digits(5, 2, mo) ||
      text[7] != '-' || !digits(8, 2, d) ||
      (text[10] != 'T' && text[10] != 't' && text[10] != ' ') || !digits(11, 2, h) ||
      text[13] != ':' || !digits(14, 2, mi) || text[16] != ':' || !digits(17, 2, s))
    return bad("expected YYYY-MM-DDTHH:MM:SSZ");
  size_t pos = 19;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    size_t start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
    if (pos == start) return bad("empty fraction");
  }
  int offset_minutes = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int oh, om;
    if (!digits(pos + 1, 2, oh) || pos + 3 >= text.size() || text[pos + 3] != ':' ||
        !digits(pos + 4, 2, om) || oh > 23 || om > 59)
      return bad("bad UTC offset");
    offset_minutes = (text[pos] == '+' ? 1 : -1) * (oh * 60 + om);
    pos += 6;
  } else {
    return bad("missing time zone");
  }
  if (pos != text.size()) return bad("trailing characters");
  using namespace std::chrono;
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || s > 60) return bad("field out of range");
  auto t = sys_days{ymd} + hours{h} + minutes{mi} + seconds{s} - minutes{offset_minutes};
  return Time{duration_cast<seconds>(t.time_since_epoch())};
}

std::string format_rfc3339(Time t) {
  using namespace std::chrono;
  auto days = floor<std::chrono::days>(t);
  year_month_day ymd{days};
  hh_mm_ss hms{t - days};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02ld:%02ld:%02lldZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<long>(hms.hours().count()), static_cast<long>(hms.minutes().count()),
                static_cast<long long>(hms.seconds().count()));
  return buf;
}

// ---- Certificate ----

Result<Certificate> Certificate::from_der(ByteView der) {
  if (der.size() > INT_MAX) return parse_error("x509: certificate too large");
  const unsigned char* p = der.data();
  X509* raw = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
  if (raw == nullptr) return parse_error("x509: malformed DER certificate");
  std::shared_ptr<X509> cert(raw, X509_free);
  if (p != der.data() + der.size())
    return parse_error("x509: trailing bytes after certificate at offset " +
                       std::to_string(p - der.data()));
  return Certificate(std::move(cert));
}

Result<Certificate> Certificate::from_pem(std::string_view pem) {
  ACON_TRY(auto all, all_from_pem(pem));
  return all.front();
}

Result<std::vector<Certificate>> Certificate::all_from_pem(std::string_view pem) {
  auto bio = mem_bio(pem);
  if (!bio) return parse_error("x509: PEM too large");
  std::vector<Certificate> out;
  Bytes der;
  int got;
  while ((got = next_pem_block(bio.get(), {PEM_STRING_X509, PEM_STRING_X509_OLD}, der)) == 1) {
    auto cert = from_der(der);
    if (!cert)
      return parse_error("x509: certificate #" + std::to_string(out.size() + 1) +
                         " in PEM text: " + cert.error().message);
    out.push_back(*std::move(cert));
  }
  if (got < 0)
    return parse_error("x509: malformed certificate #" + std::to_string(out.size() + 1) +
                       " in PEM text");
  if (out.empty()) return parse_error("x509: no certificate in PEM text");
  return out;
}

Bytes Certificate::der() const {
  int len = i2d_X509(cert_.get(), nullptr);
  if (len <= 0) return {};
  Bytes out(static_cast<size_t>(len));
  unsigned char* p = out.data();
  i2d_X509(cert_.get(), &p);
  return out;
}

std::string Certificate::subject() const { return name_string(X509_get_subject_name(cert_.get())); }
std::string Certificate::issuer() const { return name_string(X509_get_issuer_name(cert_.get())); }

std::string Certificate::serial_hex() const {
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert_.get());
  ossl::BnPtr bn(ASN1_INTEGER_to_BN(serial, nullptr));
  if (!bn) return {};
  Bytes raw(static_cast<size_t>(BN_num_bytes(bn.get())));
  BN_bn2bin(bn.get(), raw.data());
  return hex_encode(raw);
}

Time Certificate::not_before() const { return from_asn1(X509_get0_notBefore(cert_.get())); }
Time Certificate::not_after() const { return from_asn1(X509_get0_notAfter(cert_.get())); }

bool Certificate::is_ca() const { return X509_check_ca(cert_.get()) != 0; }

Result<PublicKey> Certificate::public_key() const {
  EVP_PKEY* key = X509_get_pubkey(cert_.get());  // returns a new reference
  if (key == nullptr) return parse_error("x509: unreadable subject public key");
  return PublicKey::adopt(ossl::PkeyPtr(key));
}

std::optional<Bytes> Certificate::extension(std::string_view oid) const {
  Asn1ObjectPtr obj(OBJ_txt2obj(std::string(oid).c_str(), 1));
  if (!obj) {
    ERR_clear_error();
    return std::nullopt;
  }
  int idx = X509_get_ext_by_OBJ(cert_.get(), obj.get(), -1);
  if (idx < 0) return std::nullopt;
  const ASN1_OCTET_STRING* data = X509_EXTENSION_get_data(X509_get_ext(cert_.get(), idx));
  const unsigned char* p = ASN1_STRING_get0_data(data);
  return Bytes(p, p + ASN1_STRING_length(data));
}

Result<SigScheme> Certificate::signature_scheme() const {
  int nid = X509_get_signature_nid(cert_.get());
  switch (nid) {
    case NID_ecdsa_with_SHA256:
      return SigScheme{SigKind::ecdsa, HashAlg::sha256};
    case NID_ecdsa_with_SHA384:
      return SigScheme{SigKind::ecdsa, HashAlg::sha384};
    case NID_ecdsa_with_SHA512:
      return SigScheme{SigKind::ecdsa, HashAlg::sha512};
    case NID_sha256WithRSAEncryption:
      return SigScheme{SigKind::rsa_pkcs1, HashAlg::sha256};
    case NID_sha384WithRSAEncryption:
      return SigScheme{SigKind::rsa_pkcs1, HashAlg::sha384};
    case NID_sha512WithRSAEncryption:
      return SigScheme{SigKind::rsa_pkcs1, HashAlg::sha512};
    case NID_ED25519:
      return SigScheme{SigKind::ed25519, HashAlg::sha512};
    case NID_rsassaPss: {
      // The PSS parameters carry the hash; OpenSSL exposes it through the signature info.
      int md_nid = 0;
      if (X509_get_signature_info(cert_.get(), &md_nid, nullptr, nullptr, nullptr) == 1) {
        if (md_nid == NID_sha256) return SigScheme{SigKind::rsa_pss, HashAlg::sha256};
        if (md_nid == NID_sha384) return SigScheme{SigKind::rsa_pss, HashAlg::sha384};
        if (md_nid == NID_sha512) return SigScheme{SigKind::rsa_pss, HashAlg::sha512};
      }
      ERR_clear_error();
      return make_error(Errc::unsupported, "x509: RSA-PSS with unsupported parameters");
    }
    default:
      return make_error(Errc::unsupported, std::string("x509: unsupported signature algorithm ") +
                                               (OBJ_nid2sn(nid) ? OBJ_nid2sn(nid) : "?"));
  }
}

Status Certificate::verify_signed_by(const PublicKey& issuer_key) const {
  if (X509_verify(cert_.get(), issuer_key.get()) != 1) {
    ERR_clear_error();
    return make_error(Errc::verify_failed, "x509: certificate signature does not verify");
  }
  return {};
}

// ---- Crl ----

Result<Crl> Crl::from_der(ByteView der) {
  if (der.size() > INT_MAX) return parse_error("crl: too large");
  const unsigned char* p = der.data();
  X509_CRL* raw = d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size()));
  if (raw == nullptr) return parse_error("crl: malformed DER CRL");
  std::shared_ptr<X509_CRL> crl(raw, X509_CRL_free);
  if (p != der.data() + der.size())
    return parse_error("crl: trailing bytes at offset " + std::to_string(p - der.data()));
  return Crl(std::move(crl));
}

Result<Crl> Crl::from_pem(std::string_view pem) {
  auto bio = mem_bio(pem);
  Bytes der;
  if (!bio || next_pem_block(bio.get(), {PEM_STRING_X509_CRL}, der) != 1)
    return parse_error("crl: no CRL in PEM text");
  return from_der(der);
}

Result<Crl> Crl::parse(ByteView data) {
  return looks_like_pem(data) ? from_pem(as_chars(data)) : from_der(data);
}

std::string Crl::issuer() const { return name_string(X509_CRL_get_issuer(crl_.get())); }
Time Crl::this_update() const { return from_asn1(X509_CRL_get0_lastUpdate(crl_.get())); }
std::optional<Time> Crl::next_update() const {
  const ASN1_TIME* t = X509_CRL_get0_nextUpdate(crl_.get());
  if (t == nullptr) return std::nullopt;
  return from_asn1(t);
}

bool Crl::lists(const Certificate& cert) const {
  X509_REVOKED* entry = nullptr;
  return X509_CRL_get0_by_cert(crl_.get(), &entry, cert.get()) == 1;
}

// ---- chain verification ----

Result<std::vector<Certificate>> verify_chain(const Certificate& leaf,
                                              std::span<const Certificate> intermediates,
                                              std::span<const Certificate> roots,
                                              std::span<const Crl> crls, Time at,
                                              CrlCheck crl_check) {
  if (roots.empty()) return make_error(Errc::invalid_argument, "x509: no trust anchor configured");
  ossl::X509StorePtr store(X509_STORE_new());
  X509StackPtr untrusted(sk_X509_new_null());
  if (!store || !untrusted) return make_error(Errc::crypto, "x509: out of memory");
  for (const auto& root : roots) {
    if (X509_STORE_add_cert(store.get(), root.get()) != 1)
      return make_error(Errc::crypto, "x509: adding root: " + ossl::drain_errors());
  }
  for (const auto& crl : crls) {
    if (X509_STORE_add_crl(store.get(), crl.get()) != 1)
      return make_error(Errc::crypto, "x509: adding CRL: " + ossl::drain_errors());
  }
  for (const auto& cert : intermediates) {
    if (sk_X509_push(untrusted.get(), cert.get()) <= 0)
      return make_error(Errc::crypto, "x509: out of memory");
  }
  ossl::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), untrusted.get()) != 1)
    return make_error(Errc::crypto, "x509: context: " + ossl::drain_errors());
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(at.time_since_epoch().count()));
  unsigned long flags = 0;
  if (crl_check == CrlCheck::leaf) flags |= X509_V_FLAG_CRL_CHECK;
  if (crl_check == CrlCheck::all) flags |= X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL;
  X509_VERIFY_PARAM_set_flags(param, flags);

  if (X509_verify_cert(ctx.get()) != 1) {
    int err = X509_STORE_CTX_get_error(ctx.get());
    int depth = X509_STORE_CTX_get_error_depth(ctx.get());
    std::string what = std::string("x509: chain: ") + X509_verify_cert_error_string(err) +
                       " (depth " + std::to_string(depth) + ")";
    ERR_clear_error();
    switch (err) {
      case X509_V_ERR_CERT_HAS_EXPIRED:
      case X509_V_ERR_CERT_NOT_YET_VALID:
      case X509_V_ERR_CRL_HAS_EXPIRED:
      case X509_V_ERR_CRL_NOT_YET_VALID:
        return make_error(Errc::expired, what);
      case X509_V_ERR_UNABLE_TO_GET_CRL:
        return make_error(Errc::not_found, what);
      default:
        return make_error(Errc::verify_failed, what);
    }
  }
  // Report the path as the caller's own Certificate objects (the chain holds the same certs).
  std::vector<Certificate> path;
  STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx.get());
  auto find_input = [&](X509* c) -> const Certificate* {
    if (X509_cmp(c, leaf.get()) == 0) return &leaf;
    for (const auto& set : {intermediates, roots}) {
      for (const auto& cert : set) {
        if (X509_cmp(c, cert.get()) == 0) return &cert;
      }
    }
    return nullptr;
  };
  for (int i = 0; i < sk_X509_num(chain); ++i) {
    const Certificate* cert = find_input(sk_X509_value(chain, i));
    if (cert == nullptr)
      return make_error(Errc::crypto, "x509: chain holds an unknown certificate");
    path.push_back(*cert);
  }
  return path;
}

}  // namespace acon
