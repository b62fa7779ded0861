// EAR decoding never crashes on arbitrary input: COSE_Sign1 + CBOR claims (verify_ear_cwt,
// ear_from_cbor) and the JWT path (verify_ear_jwt, ear_from_json). A CBOR claims set that
// decodes must survive re-encoding unchanged.
#include <cstdint>
#include <cstdlib>

#include "acon/appraisal/ear.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace acon;
  using namespace acon::appraisal;
  static const PrivateKey key = *PrivateKey::generate_ec(Curve::p256);
  EarVerifyOptions options;
  options.now = Time(std::chrono::seconds(1767225600));
  options.trusted_key = key.public_key();
  ByteView bytes(data, size);
  (void)verify_ear_cwt(bytes, options);
  (void)verify_ear_jwt(as_chars(bytes), options);

  auto ear = ear_from_cbor(bytes);
  if (ear.ok()) {
    auto again = ear_to_cbor(*ear);
    if (!again.ok()) std::abort();
    auto back = ear_from_cbor(*again);
    if (!back.ok() || !(*back == *ear)) std::abort();
  }
  auto json = parse_json(as_chars(bytes));
  if (json.ok()) (void)ear_from_json(*json);
  return 0;
}
