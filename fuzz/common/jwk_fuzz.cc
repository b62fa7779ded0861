// JWK import never crashes; an accepted key survives export and re-import unchanged.
#include <cstdint>
#include <cstdlib>

#include "acon/common/json.h"
#include "acon/common/keys.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto json = acon::parse_json(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!json) return 0;
  if (auto pub = acon::PublicKey::from_jwk(*json)) {
    auto again = acon::PublicKey::from_jwk(pub->to_jwk());
    if (!again || !(*again == *pub)) std::abort();
    (void)pub->thumbprint();
  }
  if (auto priv = acon::PrivateKey::from_jwk(*json)) {
    auto again = acon::PrivateKey::from_jwk(priv->to_jwk());
    if (!again || !(again->public_key() == priv->public_key())) std::abort();
  }
  return 0;
}
