// Key derivation, report MAC and DER writing for the simulator. See internal.h.
#include "internal.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/kdf.h>

#include <string>
#include <vector>

#include "acon/common/ossl.h"

namespace acon::guest::sim::detail {
namespace {

using KdfPtr = std::unique_ptr<EVP_KDF, ossl::Deleter<EVP_KDF_free>>;
using KdfCtxPtr = std::unique_ptr<EVP_KDF_CTX, ossl::Deleter<EVP_KDF_CTX_free>>;
using BnCtxPtr = std::unique_ptr<BN_CTX, ossl::Deleter<BN_CTX_free>>;

constexpr std::string_view kSalt = "acon-sim/v1";

// The order n of the P-256 group (SEC 2).
constexpr uint8_t kP256Order[32] = {
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51};

Error crypto_error(std::string what) {
  return make_error(Errc::crypto, "sim: " + std::move(what) + ": " + ossl::drain_errors());
}

void put_length(Bytes& out, size_t length) {
  if (length < 0x80) {
    out.push_back(static_cast<uint8_t>(length));
    return;
  }
  Bytes digits;
  for (size_t n = length; n > 0; n >>= 8) digits.insert(digits.begin(), static_cast<uint8_t>(n));
  out.push_back(static_cast<uint8_t>(0x80 | digits.size()));
  append(out, digits);
}

void put_base128(Bytes& out, uint64_t value) {
  Bytes digits{static_cast<uint8_t>(value & 0x7F)};
  for (value >>= 7; value > 0; value >>= 7)
    digits.insert(digits.begin(), static_cast<uint8_t>(0x80 | (value & 0x7F)));
  append(out, digits);
}

}  // namespace

Result<SecretBytes> derive(ByteView seed, std::string_view label, size_t n) {
  KdfPtr kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  if (!kdf) return crypto_error("HKDF unavailable");
  KdfCtxPtr ctx(EVP_KDF_CTX_new(kdf.get()));
  if (!ctx) return crypto_error("HKDF context");
  std::string digest = "SHA2-384";
  std::string salt(kSalt);
  std::string info(label);
  SecretBytes key(seed.begin(), seed.end());
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest.data(), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, key.data(), key.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt.data(), salt.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.data(), info.size()),
      OSSL_PARAM_construct_end(),
  };
  SecretBytes out(n);
  if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1)
    return crypto_error("HKDF derive '" + info + "'");
  return out;
}

Result<PrivateKey> derive_p256_key(ByteView seed, std::string_view label) {
  ACON_TRY(SecretBytes wide, derive(seed, std::string("p256/") + std::string(label), 48));
  ossl::BnPtr x(BN_bin2bn(wide.data(), static_cast<int>(wide.size()), nullptr));
  ossl::BnPtr order_minus_one(BN_bin2bn(kP256Order, sizeof kP256Order, nullptr));
  ossl::BnPtr d(BN_secure_new());
  BnCtxPtr bn_ctx(BN_CTX_secure_new());
  if (!x || !order_minus_one || !d || !bn_ctx || !BN_sub_word(order_minus_one.get(), 1) ||
      !BN_nnmod(d.get(), x.get(), order_minus_one.get(), bn_ctx.get()) || !BN_add_word(d.get(), 1))
    return crypto_error("deriving a P-256 scalar");
  SecretBytes scalar(32);
  if (BN_bn2binpad(d.get(), scalar.data(), static_cast<int>(scalar.size())) != 32)
    return crypto_error("encoding a P-256 scalar");
  // SEC 1 ECPrivateKey {1, d, [0] prime256v1} without the public point, which OpenSSL derives.
  static constexpr uint8_t kPrefix[] = {0x30, 0x31, 0x02, 0x01, 0x01, 0x04, 0x20};
  static constexpr uint8_t kCurve[] = {0xA0, 0x0A, 0x06, 0x08, 0x2A, 0x86,
                                       0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07};
  SecretBytes der(std::begin(kPrefix), std::end(kPrefix));
  der.insert(der.end(), scalar.begin(), scalar.end());
  der.insert(der.end(), std::begin(kCurve), std::end(kCurve));
  return PrivateKey::from_der(view(der));
}

Result<Bytes> derive_serial(ByteView seed, std::string_view label) {
  ACON_TRY(SecretBytes raw, derive(seed, std::string("serial/") + std::string(label), 20));
  Bytes serial(raw.begin(), raw.end());
  serial[0] &= 0x7F;
  if (serial[0] == 0) serial[0] = 0x01;  // keep all 20 octets significant
  return serial;
}

Bytes der_tlv(uint8_t tag, ByteView content) {
  Bytes out{tag};
  put_length(out, content.size());
  append(out, content);
  return out;
}

Bytes der_oid(std::string_view dotted) {
  std::vector<uint64_t> arcs;
  uint64_t current = 0;
  for (char ch : dotted) {
    if (ch == '.') {
      arcs.push_back(current);
      current = 0;
    } else {
      current = current * 10 + static_cast<uint64_t>(ch - '0');
    }
  }
  arcs.push_back(current);
  Bytes content;
  put_base128(content, arcs[0] * 40 + (arcs.size() > 1 ? arcs[1] : 0));
  for (size_t i = 2; i < arcs.size(); ++i) put_base128(content, arcs[i]);
  return der_tlv(0x06, content);
}

Bytes der_small_integer(uint32_t value) {
  Bytes content;
  for (uint32_t n = value; n > 0; n >>= 8) content.insert(content.begin(), static_cast<uint8_t>(n));
  if (content.empty() || (content[0] & 0x80) != 0) content.insert(content.begin(), 0);
  return der_tlv(0x02, content);
}

Bytes der_sequence(std::initializer_list<ByteView> items) {
  Bytes content;
  for (ByteView item : items) append(content, item);
  return der_tlv(0x30, content);
}

Bytes sgx_extension_der(const PlatformTcb& platform) {
  const std::string base(dcap::kSgxExtensionOid);
  auto element = [&](const std::string& suffix, ByteView value) {
    return der_sequence({der_oid(base + suffix), value});
  };
  auto octets = [](ByteView bytes) { return der_tlv(0x04, bytes); };
  auto boolean = [](bool value) {
    return der_tlv(0x01, Bytes{value ? uint8_t{0xFF} : uint8_t{0}});
  };

  Bytes tcb_items;
  for (size_t i = 0; i < platform.sgx_comp_svn.size(); ++i)
    append(tcb_items,
           element(".2." + std::to_string(i + 1), der_small_integer(platform.sgx_comp_svn[i])));
  append(tcb_items, element(".2.17", der_small_integer(platform.pcesvn)));
  append(tcb_items, element(".2.18", octets(platform.cpusvn)));

  Bytes configuration;
  append(configuration, element(".7.1", boolean(false)));  // dynamic platform
  append(configuration, element(".7.2", boolean(true)));   // cached keys
  append(configuration, element(".7.3", boolean(true)));   // SMT enabled

  Bytes items;
  append(items, element(".1", octets(platform.ppid)));
  append(items, element(".2", der_tlv(0x30, tcb_items)));
  append(items, element(".3", octets(platform.pce_id)));
  append(items, element(".4", octets(platform.fmspc)));
  append(items, element(".5", der_tlv(0x0A, Bytes{static_cast<uint8_t>(platform.sgx_type)})));
  append(items, element(".6", octets(platform.platform_instance_id)));
  append(items, element(".7", der_tlv(0x30, configuration)));
  return der_tlv(0x30, items);
}

}  // namespace acon::guest::sim::detail
