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
#include <optional>
#include <vector>

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

// The first place where `der` (one complete TLV, already parsed by OpenSSL) breaks DER's length
// and string-form rules: an indefinite length, a long-form or zero-padded length where a shorter
// form exists, or a constructed encoding of a universal string type. OpenSSL's d2i takes all of
// these (BER) and re-encodes them as DER, so without this check one certificate could arrive as
// several byte strings, each with its own hash. Iterative, so hostile nesting cannot exhaust the
// stack.
std::optional<std::string> find_non_der(ByteView der) {
  constexpr size_t kMaxDepth = 64;  // X.509 nests about 10 levels
  std::vector<size_t> ends = {der.size()};
  size_t pos = 0;
  auto at = [](size_t offset, std::string what) {
    return what + " at offset " + std::to_string(offset);
  };
  for (;;) {
    while (ends.size() > 1 && pos == ends.back()) ends.pop_back();
    if (pos == ends.back()) return std::nullopt;
    const size_t end = ends.back();
    const size_t start = pos;
    const uint8_t tag = der[pos++];
    if ((tag & 0x1f) == 0x1f) {  // high tag number: base-128, no leading 0x80, value >= 31
      if (pos >= end || der[pos] == 0x80) return at(start, "non-minimal tag number");
      uint64_t number = 0;
      while (pos < end && (der[pos] & 0x80) != 0 && number < (uint64_t{1} << 56))
        number = (number << 7) | (der[pos++] & 0x7f);
      if (pos >= end) return at(start, "truncated tag");
      number = (number << 7) | der[pos++];
      if (number < 31) return at(start, "high-tag-number form for a tag below 31");
    }
    if (pos >= end) return at(start, "truncated length");
    const uint8_t first = der[pos++];
    size_t length = first;
    if (first == 0x80) return at(start, "indefinite length (BER)");
    if (first > 0x80) {
      const size_t n = first & 0x7f;
      if (n > sizeof(size_t) || n > end - pos) return at(start, "unusable length");
      if (der[pos] == 0) return at(start, "length with a leading zero octet (BER)");
      length = 0;
      for (size_t i = 0; i < n; ++i) length = (length << 8) | der[pos++];
      if (length < 0x80) return at(start, "long-form length below 128 (BER)");
    }
    if (length > end - pos) return at(start, "length past the end of its container");
    const bool constructed = (tag & 0x20) != 0;
    const bool universal = (tag & 0xc0) == 0;
    if (constructed && universal && (tag & 0x1f) != 0x10 && (tag & 0x1f) != 0x11)
      return at(start, "constructed string encoding (BER)");
    if (constructed) {
      if (ends.size() > kMaxDepth) return at(start, "nesting deeper than 64 levels");
      ends.push_back(pos + length);
    } else {
      pos += length;
    }
  }
}

// OpenSSL's DER encoding of the parsed `cert`, with the signed part (tbsCertificate) re-encoded
// from its fields rather than copied from the cached input. This marks the cached tbs encoding
// as rebuilt; the caller keeps `cert` only when the result equals the input, so the object then
// holds exactly the input bytes again (and no second d2i_X509 is needed).
Bytes reencode_certificate(X509* cert) {
  if (i2d_re_X509_tbs(cert, nullptr) <= 0) {
    ERR_clear_error();
    return {};
  }
  int len = i2d_X509(cert, nullptr);
  if (len <= 0) {
    ERR_clear_error();
    return {};
  }
  Bytes out(static_cast<size_t>(len));
  unsigned char* q = out.data();
  i2d_X509(cert, &q);
  return out;
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

Result<Time> parse_time_text(std::string_view text) {
  // 9999-12-31T23:59:59Z, the last second GeneralizedTime can carry.
  constexpr int64_t kLastX509Second = 253402300799;
  constexpr int64_t kFirstX509Second = -62135596800;  // 0001-01-01T00:00:00Z
  const bool digits_only = !text.empty() && std::all_of(text.begin(), text.end(), [](char ch) {
    return ch >= '0' && ch <= '9';
  });
  if (digits_only) {
    int64_t seconds = 0;
    for (char ch : text) {
      seconds = seconds * 10 + (ch - '0');
      if (seconds > kLastX509Second)
        return make_error(Errc::parse, "time '" + std::string(text) +
                                           "': after 9999-12-31T23:59:59Z, which X.509 "
                                           "cannot express");
    }
    return Time(std::chrono::seconds(seconds));
  }
  ACON_TRY(Time t, parse_rfc3339(text));
  const int64_t seconds = t.time_since_epoch().count();
  if (seconds < kFirstX509Second || seconds > kLastX509Second)
    return make_error(Errc::parse, "time '" + std::string(text) + "': outside the years 1..9999");
  return t;
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
  // Identities (Signer IDs, pinned roots) hash the bytes as given, so only the one encoding a
  // certificate has may be accepted: BER lengths re-encode to other bytes for the same
  // certificate.
  std::optional<std::string> fault = find_non_der(der);
  if (!fault) {
    Bytes again = reencode_certificate(cert.get());
    if (!std::equal(again.begin(), again.end(), der.begin(), der.end())) {
      auto diff = std::mismatch(again.begin(), again.end(), der.begin(), der.end());
      fault =
          "an encoding DER does not allow at offset " + std::to_string(diff.second - der.begin());
    }
  }
  if (fault)
    return parse_error("x509: certificate is not DER (" + *fault +
                       "): its DER re-encoding differs from the input, so the same certificate "
                       "would have two byte strings and two identities; re-encode it as DER");
  return Certificate(std::move(cert), std::make_shared<const Bytes>(der.begin(), der.end()));
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

Bytes Certificate::der() const { return *der_; }

std::string Certificate::to_pem() const {
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert_.get()) != 1) {
    ERR_clear_error();
    return {};
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
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

Bytes Crl::der() const {
  int len = i2d_X509_CRL(crl_.get(), nullptr);
  if (len <= 0) return {};
  Bytes out(static_cast<size_t>(len));
  unsigned char* p = out.data();
  i2d_X509_CRL(crl_.get(), &p);
  return out;
}

std::string Crl::to_pem() const {
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_CRL(bio.get(), crl_.get()) != 1) {
    ERR_clear_error();
    return {};
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
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

// ---- issuing ----

namespace {

using Asn1IntegerPtr = std::unique_ptr<ASN1_INTEGER, ossl::Deleter<ASN1_INTEGER_free>>;
using Asn1OctetPtr = std::unique_ptr<ASN1_OCTET_STRING, ossl::Deleter<ASN1_OCTET_STRING_free>>;
using Asn1BitStringPtr = std::unique_ptr<ASN1_BIT_STRING, ossl::Deleter<ASN1_BIT_STRING_free>>;
using Asn1EnumeratedPtr = std::unique_ptr<ASN1_ENUMERATED, ossl::Deleter<ASN1_ENUMERATED_free>>;
using BasicConstraintsPtr =
    std::unique_ptr<BASIC_CONSTRAINTS, ossl::Deleter<BASIC_CONSTRAINTS_free>>;
using AuthorityKeyIdPtr = std::unique_ptr<AUTHORITY_KEYID, ossl::Deleter<AUTHORITY_KEYID_free>>;
using CrlDistPointsPtr = std::unique_ptr<CRL_DIST_POINTS, ossl::Deleter<CRL_DIST_POINTS_free>>;
using DistPointPtr = std::unique_ptr<DIST_POINT, ossl::Deleter<DIST_POINT_free>>;
using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, ossl::Deleter<GENERAL_NAME_free>>;
using X509NamePtr = std::unique_ptr<X509_NAME, ossl::Deleter<X509_NAME_free>>;
using X509ExtensionPtr = std::unique_ptr<X509_EXTENSION, ossl::Deleter<X509_EXTENSION_free>>;
using X509RevokedPtr = std::unique_ptr<X509_REVOKED, ossl::Deleter<X509_REVOKED_free>>;

Error issue_error(std::string what) {
  return make_error(Errc::crypto, std::move(what) + ": " + ossl::drain_errors());
}

const EVP_MD* signing_md(const PrivateKey& key, HashAlg alg) {
  if (key.type() == KeyType::ed25519) return nullptr;  // pure EdDSA: no separate digest
  switch (alg) {
    case HashAlg::sha1:
      return ossl::md("SHA1");
    case HashAlg::sha256:
      return ossl::md("SHA2-256");
    case HashAlg::sha384:
      return ossl::md("SHA2-384");
    case HashAlg::sha512:
      return ossl::md("SHA2-512");
    case HashAlg::sm3:
      return ossl::md("SM3");
  }
  return nullptr;
}

Result<Asn1IntegerPtr> serial_integer(ByteView serial, std::string_view what) {
  if (serial.empty() || serial.size() > 20)
    return make_error(
        Errc::invalid_argument,
        std::string(what) + ": serial must be 1..20 bytes, got " + std::to_string(serial.size()));
  if (std::all_of(serial.begin(), serial.end(), [](uint8_t b) { return b == 0; }))
    return make_error(Errc::invalid_argument, std::string(what) + ": serial must not be zero");
  ossl::BnPtr bn(BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr));
  if (!bn) return issue_error(std::string(what) + ": serial");
  Asn1IntegerPtr out(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  if (!out) return issue_error(std::string(what) + ": serial");
  return out;
}

Result<Asn1TimePtr> asn1_time(Time t, std::string_view what) {
  // ASN1_TIME_set picks UTCTime before 2050 and GeneralizedTime after, as RFC 5280 requires.
  Asn1TimePtr out(ASN1_TIME_set(nullptr, static_cast<time_t>(t.time_since_epoch().count())));
  if (!out) return issue_error(std::string(what) + ": time out of range");
  return out;
}

Result<Asn1OctetPtr> octet_string(ByteView bytes) {
  Asn1OctetPtr out(ASN1_OCTET_STRING_new());
  if (!out || ASN1_OCTET_STRING_set(out.get(), bytes.data(), static_cast<int>(bytes.size())) != 1)
    return issue_error("x509: octet string");
  return out;
}

// The subject key identifier a certificate carries, if any.
std::optional<Bytes> subject_key_id_of(X509* cert) {
  const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(cert);
  ERR_clear_error();
  if (ski == nullptr) return std::nullopt;
  const unsigned char* p = ASN1_STRING_get0_data(ski);
  return Bytes(p, p + ASN1_STRING_length(ski));
}

Result<AuthorityKeyIdPtr> authority_key_id(ByteView key_id) {
  AuthorityKeyIdPtr akid(AUTHORITY_KEYID_new());
  if (!akid) return issue_error("x509: authority key identifier");
  ACON_TRY(auto os, octet_string(key_id));
  akid->keyid = os.release();
  return akid;
}

Status add_cert_ext(X509* cert, int nid, void* value, bool critical, std::string_view what) {
  if (X509_add1_ext_i2d(cert, nid, value, critical ? 1 : 0, X509V3_ADD_DEFAULT) != 1)
    return issue_error("x509: adding " + std::string(what));
  return {};
}

Result<CrlDistPointsPtr> distribution_points(const std::vector<std::string>& uris) {
  CrlDistPointsPtr points(sk_DIST_POINT_new_null());
  if (!points) return issue_error("x509: CRL distribution points");
  for (const auto& uri : uris) {
    DistPointPtr point(DIST_POINT_new());
    GeneralNamePtr name(GENERAL_NAME_new());
    ASN1_IA5STRING* text = ASN1_IA5STRING_new();
    if (!point || !name || text == nullptr ||
        ASN1_STRING_set(text, uri.data(), static_cast<int>(uri.size())) != 1) {
      ASN1_IA5STRING_free(text);
      return issue_error("x509: CRL distribution point");
    }
    GENERAL_NAME_set0_value(name.get(), GEN_URI, text);  // name owns text from here
    point->distpoint = DIST_POINT_NAME_new();
    if (point->distpoint == nullptr) return issue_error("x509: CRL distribution point");
    point->distpoint->type = 0;  // fullName
    point->distpoint->name.fullname = GENERAL_NAMES_new();
    if (point->distpoint->name.fullname == nullptr ||
        sk_GENERAL_NAME_push(point->distpoint->name.fullname, name.get()) <= 0)
      return issue_error("x509: CRL distribution point");
    name.release();
    if (sk_DIST_POINT_push(points.get(), point.get()) <= 0)
      return issue_error("x509: CRL distribution point");
    point.release();
  }
  return points;
}

}  // namespace

Result<Certificate> issue_certificate(const CertificateRequest& request,
                                      const PublicKey& subject_key, const PrivateKey& issuer_key,
                                      const Certificate* issuer) {
  auto invalid = [](std::string what) {
    return make_error(Errc::invalid_argument, "x509 issue: " + std::move(what));
  };
  if (request.subject.empty()) return invalid("empty subject name");
  if (request.not_after < request.not_before) return invalid("not_after precedes not_before");
  if (request.path_length && !request.is_ca) return invalid("path length on a non-CA");
  if (issuer == nullptr) {
    if (!(issuer_key.public_key() == subject_key))
      return invalid("self-signed: issuer key is not the subject key");
  } else {
    if (X509_check_private_key(issuer->get(), issuer_key.get()) != 1) {
      ERR_clear_error();
      return invalid("issuer key does not belong to the issuer certificate");
    }
    if (!issuer->is_ca()) return invalid("issuer certificate is not a CA");
  }

  ossl::X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1)
    return issue_error("x509 issue: new certificate");
  ACON_TRY(auto serial, serial_integer(request.serial, "x509 issue"));
  if (X509_set_serialNumber(cert.get(), serial.get()) != 1) return issue_error("x509 issue");
  ACON_TRY(auto not_before, asn1_time(request.not_before, "x509 issue: not_before"));
  ACON_TRY(auto not_after, asn1_time(request.not_after, "x509 issue: not_after"));
  if (X509_set1_notBefore(cert.get(), not_before.get()) != 1 ||
      X509_set1_notAfter(cert.get(), not_after.get()) != 1)
    return issue_error("x509 issue: validity");

  X509NamePtr name(X509_NAME_new());
  if (!name) return issue_error("x509 issue: name");
  for (size_t i = 0; i < request.subject.size(); ++i) {
    const auto& entry = request.subject[i];
    const auto* value = reinterpret_cast<const unsigned char*>(entry.value.data());
    if (X509_NAME_add_entry_by_txt(name.get(), entry.type.c_str(), MBSTRING_UTF8, value,
                                   static_cast<int>(entry.value.size()), -1, 0) != 1) {
      ERR_clear_error();
      return invalid("subject[" + std::to_string(i) + "]: cannot encode " + entry.type + "=" +
                     entry.value);
    }
  }
  if (X509_set_subject_name(cert.get(), name.get()) != 1 ||
      X509_set_issuer_name(cert.get(),
                           issuer ? X509_get_subject_name(issuer->get()) : name.get()) != 1 ||
      X509_set_pubkey(cert.get(), subject_key.get()) != 1)
    return issue_error("x509 issue: names or key");

  // Extensions in the order Intel's SGX certificates list them: AKI, CRL DP, SKI, key usage,
  // basic constraints, then the caller's own.
  Bytes ski = request.subject_key_id;
  if (ski.empty()) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (X509_pubkey_digest(cert.get(), ossl::md("SHA1"), md, &len) != 1)
      return issue_error("x509 issue: subject key identifier");
    ski.assign(md, md + len);
  }
  if (request.authority_key_id) {
    std::optional<Bytes> issuer_ski = issuer ? subject_key_id_of(issuer->get()) : ski;
    if (issuer_ski) {
      ACON_TRY(auto akid, authority_key_id(*issuer_ski));
      ACON_CHECK(add_cert_ext(cert.get(), NID_authority_key_identifier, akid.get(), false,
                              "authority key identifier"));
    }
  }
  if (!request.crl_distribution_points.empty()) {
    ACON_TRY(auto points, distribution_points(request.crl_distribution_points));
    ACON_CHECK(add_cert_ext(cert.get(), NID_crl_distribution_points, points.get(), false,
                            "CRL distribution points"));
  }
  {
    ACON_TRY(auto os, octet_string(ski));
    ACON_CHECK(
        add_cert_ext(cert.get(), NID_subject_key_identifier, os.get(), false, "subject key id"));
  }
  if (request.key_usage != 0) {
    Asn1BitStringPtr bits(ASN1_BIT_STRING_new());
    if (!bits) return issue_error("x509 issue: key usage");
    for (int bit = 0; bit < 9; ++bit) {
      if ((request.key_usage & (1u << bit)) != 0 &&
          ASN1_BIT_STRING_set_bit(bits.get(), bit, 1) != 1)
        return issue_error("x509 issue: key usage");
    }
    ACON_CHECK(add_cert_ext(cert.get(), NID_key_usage, bits.get(), true, "key usage"));
  }
  {
    BasicConstraintsPtr bc(BASIC_CONSTRAINTS_new());
    if (!bc) return issue_error("x509 issue: basic constraints");
    bc->ca = request.is_ca ? 0xFF : 0;
    if (request.path_length) {
      bc->pathlen = ASN1_INTEGER_new();
      if (bc->pathlen == nullptr || ASN1_INTEGER_set_uint64(bc->pathlen, *request.path_length) != 1)
        return issue_error("x509 issue: path length");
    }
    ACON_CHECK(
        add_cert_ext(cert.get(), NID_basic_constraints, bc.get(), true, "basic constraints"));
  }
  for (size_t i = 0; i < request.extensions.size(); ++i) {
    const auto& raw = request.extensions[i];
    Asn1ObjectPtr obj(OBJ_txt2obj(raw.oid.c_str(), 1));
    if (!obj) {
      ERR_clear_error();
      return invalid("extensions[" + std::to_string(i) + "]: bad OID '" + raw.oid + "'");
    }
    ACON_TRY(auto value, octet_string(raw.der_value));
    X509ExtensionPtr ext(
        X509_EXTENSION_create_by_OBJ(nullptr, obj.get(), raw.critical ? 1 : 0, value.get()));
    if (!ext || X509_add_ext(cert.get(), ext.get(), -1) != 1)
      return issue_error("x509 issue: extensions[" + std::to_string(i) + "]");
  }

  if (X509_sign(cert.get(), issuer_key.get(), signing_md(issuer_key, request.signature_hash)) <= 0)
    return issue_error("x509 issue: signing");
  // Round-trip through DER so the result is exactly what a parser of the encoding sees.
  int len = i2d_X509(cert.get(), nullptr);
  if (len <= 0) return issue_error("x509 issue: encoding");
  Bytes der(static_cast<size_t>(len));
  unsigned char* p = der.data();
  i2d_X509(cert.get(), &p);
  return Certificate::from_der(der);
}

Result<Crl> issue_crl(const CrlRequest& request, const PrivateKey& issuer_key,
                      const Certificate& issuer) {
  auto invalid = [](std::string what) {
    return make_error(Errc::invalid_argument, "crl issue: " + std::move(what));
  };
  if (X509_check_private_key(issuer.get(), issuer_key.get()) != 1) {
    ERR_clear_error();
    return invalid("issuer key does not belong to the issuer certificate");
  }
  if (request.next_update && *request.next_update < request.this_update)
    return invalid("next_update precedes this_update");

  ossl::X509CrlPtr crl(X509_CRL_new());
  if (!crl || X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) != 1 ||
      X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(issuer.get())) != 1)
    return issue_error("crl issue: new CRL");
  ACON_TRY(auto this_update, asn1_time(request.this_update, "crl issue: this_update"));
  if (X509_CRL_set1_lastUpdate(crl.get(), this_update.get()) != 1)
    return issue_error("crl issue: this_update");
  if (request.next_update) {
    ACON_TRY(auto next_update, asn1_time(*request.next_update, "crl issue: next_update"));
    if (X509_CRL_set1_nextUpdate(crl.get(), next_update.get()) != 1)
      return issue_error("crl issue: next_update");
  }
  for (size_t i = 0; i < request.revoked.size(); ++i) {
    const auto& entry = request.revoked[i];
    std::string what = "crl issue: revoked[" + std::to_string(i) + "]";
    X509RevokedPtr revoked(X509_REVOKED_new());
    if (!revoked) return issue_error(what);
    ACON_TRY(auto serial, serial_integer(entry.serial, what));
    ACON_TRY(auto date, asn1_time(entry.revocation_date, what));
    if (X509_REVOKED_set_serialNumber(revoked.get(), serial.get()) != 1 ||
        X509_REVOKED_set_revocationDate(revoked.get(), date.get()) != 1)
      return issue_error(what);
    if (entry.reason) {
      Asn1EnumeratedPtr reason(ASN1_ENUMERATED_new());
      if (!reason || ASN1_ENUMERATED_set(reason.get(), static_cast<long>(*entry.reason)) != 1 ||
          X509_REVOKED_add1_ext_i2d(revoked.get(), NID_crl_reason, reason.get(), 0, 0) != 1)
        return issue_error(what + ": reason");
    }
    if (X509_CRL_add0_revoked(crl.get(), revoked.get()) != 1) return issue_error(what);
    revoked.release();  // owned by the CRL now
  }
  {
    Asn1IntegerPtr number(ASN1_INTEGER_new());
    if (!number || ASN1_INTEGER_set_uint64(number.get(), request.crl_number) != 1 ||
        X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, number.get(), 0, 0) != 1)
      return issue_error("crl issue: CRL number");
  }
  if (request.authority_key_id) {
    if (auto ski = subject_key_id_of(issuer.get())) {
      ACON_TRY(auto akid, authority_key_id(*ski));
      if (X509_CRL_add1_ext_i2d(crl.get(), NID_authority_key_identifier, akid.get(), 0, 0) != 1)
        return issue_error("crl issue: authority key identifier");
    }
  }
  if (X509_CRL_sort(crl.get()) != 1) return issue_error("crl issue: sorting entries");
  if (X509_CRL_sign(crl.get(), issuer_key.get(), signing_md(issuer_key, request.signature_hash)) <=
      0)
    return issue_error("crl issue: signing");
  int len = i2d_X509_CRL(crl.get(), nullptr);
  if (len <= 0) return issue_error("crl issue: encoding");
  Bytes der(static_cast<size_t>(len));
  unsigned char* p = der.data();
  i2d_X509_CRL(crl.get(), &p);
  return Crl::from_der(der);
}

}  // namespace acon
