// What the KBS client reads from a server it does not trust yet: the Challenge body, Set-Cookie
// values, and the JWE resource response, decrypted with a fixed TEE key (a valid JWE sealed to
// that key is in the seeds, so mutations reach the unwrap and the tag check).
// Input: byte 0 picks the parser, the rest is its input.
#include "acon/kbs/client.h"
#include "fuzz_support.h"

namespace {

const acon::kbs::TeeKey& tee_key() {
  // A fixed P-256 scalar, so that seeds made for it stay valid across runs.
  static const acon::kbs::TeeKey key = [] {
    auto pem = std::string_view(
        "-----BEGIN PRIVATE KEY-----\n"
        "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgr0J7IFos+wUPlG+P\n"
        "p0ynrVuwaZXF5unuRnd/EsBoFn+hRANCAASS5b6zDm9F55eNHnqcDIGBjCSpeFQf\n"
        "q2mybyqqKrcWOrMOEPn62WORXtoL102uaC9atcBH6gcJmbbkRFniCoA2\n"
        "-----END PRIVATE KEY-----\n");
    auto private_key = acon::PrivateKey::from_pem(pem);
    if (!private_key) abort();
    auto made =
        acon::kbs::TeeKey::from_private_key(*private_key, acon::jose::JweAlg::ECDH_ES_A256KW);
    if (!made) abort();
    return *made;
  }();
  return key;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 3) {
    case 0:
      (void)acon::kbs::challenge_nonce(input);
      break;
    case 1:
      (void)acon::kbs::set_cookie_value(input, "kbs-session-id");
      break;
    default:
      if (auto jwe = acon::parse_json(input)) (void)tee_key().decrypt(*jwe);
      break;
  }
  return 0;
}
