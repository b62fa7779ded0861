// Flat collateral bundle parsing never crashes or throws, fails only with parse/unsupported
// errors, and an accepted bundle has non-empty chains and signed texts that parse on their own.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "acon/dcap/collateral.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace acon::dcap;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto collateral = parse_collateral_bundle(input);
  if (!collateral.ok()) {
    const acon::Errc code = collateral.error().code;
    if (code != acon::Errc::parse && code != acon::Errc::unsupported) abort();
    if (collateral.error().message.empty()) abort();
    return 0;
  }
  if (collateral->tcb_info_issuer_chain.empty() || collateral->qe_identity_issuer_chain.empty() ||
      collateral->pck_crl_issuer_chain.empty())
    abort();
  if (!parse_tcb_info_json(collateral->tcb_info.signed_json).ok()) abort();
  if (!parse_enclave_identity_json(collateral->qe_identity.signed_json).ok()) abort();
  // Exercises the signature path on arbitrary keys; the outcome is irrelevant, only safety.
  (void)verify_signed_json(collateral->tcb_info, collateral->tcb_info_issuer_chain.front());
  (void)verify_signed_json(collateral->qe_identity, collateral->qe_identity_issuer_chain.front());
  return 0;
}
