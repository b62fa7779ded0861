// Enrolment parsers on hostile input: the EK certificate NV contents (DER length, padding, then
// the certificate) and the EK's TPM2B_PUBLIC against the default templates (RSA L-1, ECC L-2). The
// first byte picks the parser. Neither may crash; an accepted certificate is a prefix of the input
// followed only by uniform 0x00 or 0xFF padding, and an accepted EK has exactly the template's
// fields.
#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "acon/tpm/credential.h"
#include "fuzz_support.h"

namespace {

using acon::ByteView;
namespace vt = acon::tpm;

// tss2-mu logs every rejected structure to stderr; at fuzzing speed that is noise only.
const bool tss2_log_quiet = setenv("TSS2_LOG", "all+NONE", 0) == 0;

void check_certificate(ByteView nv) {
  auto cert = vt::parse_ek_certificate(nv);
  if (!cert) {
    if (cert.error().code != acon::Errc::parse) abort();
    return;
  }
  const acon::Bytes der = cert->der();
  if (der.size() > nv.size() || !std::equal(der.begin(), der.end(), nv.begin())) abort();
  ByteView padding = nv.subspan(der.size());
  if (!padding.empty() && padding[0] != 0x00 && padding[0] != 0xFF) abort();
  if (!std::all_of(padding.begin(), padding.end(), [&](uint8_t b) { return b == padding[0]; }))
    abort();
}

void check_ek_public(ByteView in) {
  auto ek = vt::parse_ek_public(in);
  if (!ek) {
    const acon::Errc code = ek.error().code;
    if (code != acon::Errc::parse && code != acon::Errc::unsupported &&
        code != acon::Errc::verify_failed && code != acon::Errc::invalid_argument &&
        code != acon::Errc::crypto)
      abort();
    return;
  }
  const bool rsa = ek->type == 0x0001;
  const acon::Bytes expected =
      vt::ek_template(rsa ? vt::EkType::rsa2048 : vt::EkType::ecc_nist_p256);
  // Everything up to the key itself (the modulus, or the point's x) is the template's.
  const size_t fixed = rsa ? 60 : 58;
  if (in.size() != expected.size() || !std::equal(in.begin(), in.begin() + fixed, expected.begin()))
    abort();
  if (ek->symmetric.algorithm != 0x0006 || ek->symmetric.key_bits != 128 ||
      ek->symmetric.mode != 0x0043)
    abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)tss2_log_quiet;
  if (size == 0) return 0;
  ByteView in(data + 1, size - 1);
  if (data[0] % 2 == 0)
    check_certificate(in);
  else
    check_ek_public(in);
  return 0;
}
