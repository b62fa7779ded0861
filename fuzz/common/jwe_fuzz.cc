// JWE decryption (JSON and compact forms) never crashes on arbitrary input, with EC and RSA keys.
#include <cstdint>

#include "acon/common/jose.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const acon::PrivateKey ec = *acon::PrivateKey::generate_ec(acon::Curve::p256);
  static const acon::PrivateKey rsa = *acon::PrivateKey::generate_rsa(2048);
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)acon::jose::jwe_decrypt(text, ec);
  (void)acon::jose::jwe_decrypt(text, rsa);
  return 0;
}
