// vTPM quote parsing (TPM2B_ATTEST ‖ TPMT_SIGNATURE through tss2-mu) and TPM2B_PUBLIC parsing
// never crash, fail only with parse/unsupported errors that name an offset, and every accepted
// quote is internally consistent: the signed bytes are the input's, the TPMS_ATTEST re-parses to
// the same fields, selections are ascending PCR indices, and verification with an unrelated key
// fails cleanly.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "acon/common/keys.h"
#include "acon/tpm/quote.h"
#include "fuzz_support.h"

namespace {

using acon::ByteView;
namespace vt = acon::tpm;

// tss2-mu logs every rejected structure to stderr; at fuzzing speed that is noise only.
const bool tss2_log_quiet = setenv("TSS2_LOG", "all+NONE", 0) == 0;

void check_error(const acon::Error& e) {
  if (e.code != acon::Errc::parse && e.code != acon::Errc::unsupported) abort();
  if (e.message.find(" offset ") == std::string::npos) abort();
}

void check_accepted(const vt::Quote& q, ByteView input) {
  if (q.attest.magic != vt::kTpmGeneratedValue || q.attest.type != vt::kStAttestQuote) abort();
  if (q.signature_offset != q.signed_bytes.size() + 2 || q.signature_offset > input.size()) abort();
  if (!std::equal(q.signed_bytes.begin(), q.signed_bytes.end(), input.begin() + 2)) abort();
  auto again = vt::parse_attest(q.signed_bytes, 2);
  if (!again.ok() || again->extra_data != q.attest.extra_data ||
      again->pcr_digest != q.attest.pcr_digest ||
      again->pcr_selection.size() != q.attest.pcr_selection.size())
    abort();
  if (q.attest.pcr_selection.size() > 16 || q.attest.extra_data.size() > 66) abort();
  for (const vt::PcrSelection& s : q.attest.pcr_selection) {
    for (size_t i = 0; i < s.pcrs.size(); ++i) {
      if (s.pcrs[i] >= 32 || (i > 0 && s.pcrs[i] <= s.pcrs[i - 1])) abort();
    }
  }
  const uint16_t alg = q.signature.sig_alg;
  if (alg != 0x0018 && alg != 0x0014 && alg != 0x0016) abort();
  if (alg == 0x0018 && !q.signature.rsa_signature.empty()) abort();
  if (alg != 0x0018 && (!q.signature.ecdsa_r.empty() || !q.signature.ecdsa_s.empty())) abort();

  // No PCR values: a non-empty selection must report the first missing one, not crash.
  auto digest = vt::pcr_digest(q.attest.pcr_selection, {}, acon::HashAlg::sha256);
  if (digest.ok()) {
    for (const vt::PcrSelection& s : q.attest.pcr_selection)
      if (!s.pcrs.empty()) abort();
  }
  static const auto stranger = acon::PrivateKey::generate_ec(acon::Curve::p256);
  if (stranger.ok() && vt::verify_signature(q, stranger->public_key()).ok()) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)tss2_log_quiet;
  const ByteView input(data, size);
  auto quote = vt::parse_quote(input);
  if (quote.ok()) {
    check_accepted(*quote, input);
  } else {
    check_error(quote.error());
  }
  // The same bytes as an AK's TPM2B_PUBLIC.
  auto pub = vt::parse_tpm2b_public(input);
  if (pub.ok()) {
    if (pub->name.size() < 2 + 20 || pub->name.size() > 2 + 64) abort();
    if (pub->key.type() == acon::KeyType::ed25519) abort();
  }
  return 0;
}
