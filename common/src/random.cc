// random_bytes, apart from bytes.cc: OpenSSL's DRBG is most of libcrypto, and a program linked
// statically against libcrypto.a that only needs the byte helpers (acon-secret, which runs in
// containers without a libc) should not carry it.
#include <openssl/rand.h>

#include <limits>

#include "acon/common/bytes.h"

namespace acon {

Result<Bytes> random_bytes(size_t n) {
  // Checked before allocating: a huge n must be an error value, not a 2 GiB+ allocation or a
  // std::length_error thrown from the vector constructor.
  if (n > static_cast<size_t>(std::numeric_limits<int>::max()))
    return make_error(Errc::invalid_argument, "random_bytes: request too large");
  Bytes out(n);
  if (n > 0 && RAND_bytes(out.data(), static_cast<int>(n)) != 1)
    return make_error(Errc::crypto, "random_bytes: DRBG failure");
  return out;
}

}  // namespace acon
