#include "acon/common/signature.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include <cstring>
#include <string>
#include <utility>

namespace acon {
namespace {

const char* md_name(HashAlg h) {
  switch (h) {
    case HashAlg::sha1:
      return "SHA1";
    case HashAlg::sha256:
      return "SHA2-256";
    case HashAlg::sha384:
      return "SHA2-384";
    case HashAlg::sha512:
      return "SHA2-512";
    case HashAlg::sm3:
      return "SM3";
  }
  return "";
}

Status check_fit(KeyType type, SigScheme scheme) {
  bool ok = (scheme.kind == SigKind::ecdsa && type == KeyType::ec) ||
            ((scheme.kind == SigKind::rsa_pkcs1 || scheme.kind == SigKind::rsa_pss) &&
             type == KeyType::rsa) ||
            (scheme.kind == SigKind::ed25519 && type == KeyType::ed25519);
  if (!ok) return make_error(Errc::invalid_argument, "signature: key type does not fit the scheme");
  if (scheme.kind != SigKind::ed25519 && scheme.hash == HashAlg::sha1)
    return make_error(Errc::unsupported, "signature: SHA-1 signatures are not accepted");
  return {};
}

// Sets up a DigestSign/DigestVerify context for the scheme.
Result<ossl::MdCtxPtr> init(EVP_PKEY* key, SigScheme scheme, bool signing) {
  ossl::MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return make_error(Errc::crypto, "signature: out of memory");
  const char* md = scheme.kind == SigKind::ed25519 ? nullptr : md_name(scheme.hash);
  EVP_PKEY_CTX* pctx = nullptr;
  int rc = signing ? EVP_DigestSignInit_ex(ctx.get(), &pctx, md, nullptr, nullptr, key, nullptr)
                   : EVP_DigestVerifyInit_ex(ctx.get(), &pctx, md, nullptr, nullptr, key, nullptr);
  if (rc != 1) return make_error(Errc::crypto, "signature init: " + ossl::drain_errors());
  if (scheme.kind == SigKind::rsa_pss &&
      (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
       EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1))
    return make_error(Errc::crypto, "signature: PSS setup: " + ossl::drain_errors());
  return ctx;
}

}  // namespace

// Ecdsa-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } in DER, read directly (no BIGNUMs): the
// sequence length in short form or 0x81 nn, each integer in short form, positive and minimal.
Result<Bytes> ecdsa_der_to_raw(ByteView der, size_t field_size) {
  auto malformed = [](const char* what, size_t offset) {
    return make_error(Errc::parse, std::string("ecdsa: malformed DER signature: ") + what +
                                       " at offset " + std::to_string(offset));
  };
  if (der.size() < 2 || der[0] != 0x30) return malformed("SEQUENCE expected", 0);
  size_t pos = 2;
  size_t length = der[1];
  if (length == 0x81) {
    if (der.size() < 3 || der[2] < 0x80) return malformed("sequence length", 1);
    length = der[2];
    pos = 3;
  } else if (length >= 0x80) {
    return malformed("sequence length", 1);
  }
  if (length != der.size() - pos) return malformed("sequence length does not end the input", 1);
  Bytes raw(2 * field_size);
  for (size_t half = 0; half < 2; ++half) {
    const char* name = half == 0 ? "r" : "s";
    if (der.size() - pos < 2 || der[pos] != 0x02) return malformed("INTEGER expected", pos);
    const size_t int_length = der[pos + 1];
    if (int_length == 0 || int_length >= 0x80 || int_length > der.size() - pos - 2)
      return malformed(name, pos + 1);
    ByteView value = der.subspan(pos + 2, int_length);
    if (value[0] & 0x80) return malformed("negative integer", pos + 2);
    if (value.size() > 1 && value[0] == 0) {
      if (!(value[1] & 0x80)) return malformed("integer not minimal", pos + 2);
      value = value.subspan(1);
    }
    if (value.size() > field_size)
      return make_error(Errc::parse, std::string("ecdsa: ") + name + " larger than the curve");
    std::memcpy(raw.data() + half * field_size + (field_size - value.size()), value.data(),
                value.size());
    pos += 2 + int_length;
  }
  if (pos != der.size()) return malformed("bytes after s", pos);
  return raw;
}

Result<Bytes> ecdsa_raw_to_der(ByteView raw) {
  if (raw.empty() || raw.size() % 2 != 0 || raw.size() > 2 * 66)
    return make_error(Errc::parse, "ecdsa: raw signature must be r||s of equal halves");
  // Ecdsa-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }, written directly (what
  // i2d_ECDSA_SIG gives, without two BIGNUMs and two encoding passes): each integer is its
  // minimal unsigned big-endian form, with a 0x00 in front when the top bit is set.
  const size_t half = raw.size() / 2;
  auto minimal = [](ByteView v) {
    size_t skip = 0;
    while (skip + 1 < v.size() && v[skip] == 0) ++skip;
    return v.subspan(skip);
  };
  const ByteView r = minimal(raw.first(half));
  const ByteView s = minimal(raw.subspan(half));
  const size_t r_len = r.size() + (r[0] & 0x80 ? 1 : 0);
  const size_t s_len = s.size() + (s[0] & 0x80 ? 1 : 0);
  const size_t content = 2 + r_len + 2 + s_len;  // each at most 67 bytes: short-form lengths
  Bytes der;
  der.reserve(3 + content);
  der.push_back(0x30);
  if (content >= 0x80) der.push_back(0x81);
  der.push_back(static_cast<uint8_t>(content));
  for (auto [value, len] : {std::pair{r, r_len}, std::pair{s, s_len}}) {
    der.push_back(0x02);
    der.push_back(static_cast<uint8_t>(len));
    if (len > value.size()) der.push_back(0x00);
    der.insert(der.end(), value.begin(), value.end());
  }
  return der;
}

namespace {

// One signature with a context set up for it (consumed). The buffer is sized once from the
// key's largest signature, and FINALISE lets EVP_DigestSignFinal use the context itself instead
// of duplicating it first (OpenSSL 3.0 copies it so that the caller could go on updating).
Result<Bytes> sign_with(EVP_MD_CTX* ctx, SigScheme scheme, ByteView message, EcdsaEncoding encoding,
                        size_t field_size) {
  const int max_size = EVP_PKEY_get_size(EVP_PKEY_CTX_get0_pkey(EVP_MD_CTX_get_pkey_ctx(ctx)));
  if (max_size <= 0) return make_error(Errc::crypto, "sign: key without a signature size");
  size_t len = static_cast<size_t>(max_size);
  Bytes sig(len);
  EVP_MD_CTX_set_flags(ctx, EVP_MD_CTX_FLAG_FINALISE);
  if (EVP_DigestSign(ctx, sig.data(), &len, message.data(), message.size()) != 1)
    return make_error(Errc::crypto, "sign: " + ossl::drain_errors());
  sig.resize(len);
  if (scheme.kind == SigKind::ecdsa && encoding == EcdsaEncoding::raw)
    return ecdsa_der_to_raw(sig, field_size);
  return sig;
}

size_t field_size_of(const PrivateKey& key) {
  return key.type() == KeyType::ec ? curve_field_size(*key.curve()) : 0;
}

}  // namespace

Result<Bytes> sign(const PrivateKey& key, SigScheme scheme, ByteView message,
                   EcdsaEncoding encoding) {
  ACON_CHECK(check_fit(key.type(), scheme));
  ACON_TRY(auto ctx, init(key.get(), scheme, true));
  return sign_with(ctx.get(), scheme, message, encoding, field_size_of(key));
}

Result<PreparedSigner> PreparedSigner::create(const PrivateKey& key, SigScheme scheme) {
  ACON_CHECK(check_fit(key.type(), scheme));
  ACON_TRY(auto ctx, init(key.get(), scheme, true));
  ossl::PkeyCtxPtr digest_ctx;
  if (scheme.kind == SigKind::ecdsa) {
    digest_ctx.reset(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
    if (!digest_ctx || EVP_PKEY_sign_init(digest_ctx.get()) != 1)
      return make_error(Errc::crypto, "sign: digest signing setup: " + ossl::drain_errors());
  }
  return PreparedSigner(std::move(ctx), std::move(digest_ctx), scheme, field_size_of(key));
}

Result<Bytes> PreparedSigner::sign_digest(ByteView digest, EcdsaEncoding encoding) const {
  if (!digest_ctx_)
    return make_error(Errc::unsupported, "sign: a precomputed digest is signed with ECDSA only");
  if (digest.size() != hash_size(scheme_.hash))
    return make_error(Errc::invalid_argument, "sign: digest of " + std::to_string(digest.size()) +
                                                  " bytes, " +
                                                  std::string(hash_name(scheme_.hash)) + " gives " +
                                                  std::to_string(hash_size(scheme_.hash)));
  ossl::PkeyCtxPtr ctx(EVP_PKEY_CTX_dup(digest_ctx_.get()));
  if (!ctx)
    return make_error(Errc::crypto, "sign: copying the prepared context: " + ossl::drain_errors());
  size_t len = static_cast<size_t>(EVP_PKEY_get_size(EVP_PKEY_CTX_get0_pkey(ctx.get())));
  Bytes sig(len);
  if (EVP_PKEY_sign(ctx.get(), sig.data(), &len, digest.data(), digest.size()) != 1)
    return make_error(Errc::crypto, "sign: " + ossl::drain_errors());
  sig.resize(len);
  if (encoding == EcdsaEncoding::raw) return ecdsa_der_to_raw(sig, field_size_);
  return sig;
}

Result<Bytes> PreparedSigner::sign(ByteView message, EcdsaEncoding encoding) const {
  ossl::MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_MD_CTX_copy_ex(ctx.get(), ctx_.get()) != 1)
    return make_error(Errc::crypto, "sign: copying the prepared context: " + ossl::drain_errors());
  return sign_with(ctx.get(), scheme_, message, encoding, field_size_);
}

Status verify(const PublicKey& key, SigScheme scheme, ByteView message, ByteView signature,
              EcdsaEncoding encoding) {
  ACON_CHECK(check_fit(key.type(), scheme));
  Bytes der;
  if (scheme.kind == SigKind::ecdsa && encoding == EcdsaEncoding::raw) {
    if (signature.size() != 2 * curve_field_size(*key.curve()))
      return make_error(Errc::verify_failed, "verify: raw ECDSA signature has wrong length " +
                                                 std::to_string(signature.size()));
    ACON_TRY(der, ecdsa_raw_to_der(signature));
    signature = der;
  }
  ACON_TRY(auto ctx, init(key.get(), scheme, false));
  if (EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(),
                       message.size()) != 1) {
    ERR_clear_error();
    return make_error(Errc::verify_failed, "signature does not verify");
  }
  return {};
}

}  // namespace acon
