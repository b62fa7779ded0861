// Shared set-up for fuzz targets.
#pragma once

#include <sanitizer/lsan_interface.h>

#include "acon/common/jose.h"

namespace acon::fuzz {

// OpenSSL creates its DRBGs, provider caches and thread-local state lazily and frees them only in
// its atexit handler, which libFuzzer's final leak check precedes. Creating that state once here,
// with LeakSanitizer looking away, keeps it out of reports; every later allocation is checked.
inline void warm_up_openssl() {
  __lsan::ScopedDisabler process_lifetime_state;
  auto key = PrivateKey::generate_ec(Curve::p256);
  if (!key) return;
  auto jwe = jose::jwe_encrypt(key->public_key(), jose::JweAlg::ECDH_ES_A256KW,
                               jose::JweEnc::A256GCM, as_bytes("warm-up"));
  if (jwe) (void)jose::jwe_decrypt_json(*jwe, *key);
  (void)jose::jws_sign(*key, jose::JwsAlg::ES256, as_bytes("warm-up"));
}

}  // namespace acon::fuzz

// libFuzzer calls this once before the first input.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  acon::fuzz::warm_up_openssl();
  return 0;
}
