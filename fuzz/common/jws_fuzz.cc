// JWS compact parsing and verification never crash on arbitrary input.
#include <cstdint>
#include <cstdlib>

#include "acon/common/jose.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const acon::PrivateKey key = *acon::PrivateKey::generate_ec(acon::Curve::p256);
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = acon::jose::jws_parse(text);
  auto verified = acon::jose::jws_verify(text, key.public_key());
  // Verification can only succeed where parsing did.
  if (verified.ok() && !parsed.ok()) std::abort();
  return 0;
}
