// Enclave identity parsing never crashes or throws, fails only with parse/unsupported errors
// rooted at "enclaveIdentity", and an accepted response signs bytes cut from the input.
// Each input is tried both as a PCS response and as a bare inner enclaveIdentity object.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "acon/dcap/collateral.h"
#include "fuzz_support.h"

namespace {

using namespace acon::dcap;

void check_error(const acon::Error& error) {
  if (error.code != acon::Errc::parse && error.code != acon::Errc::unsupported) abort();
  if (error.message.empty()) abort();
}

void check_accepted(const EnclaveIdentity& identity) {
  if (identity.version != 2 || identity.tcb_levels.empty()) abort();
  for (size_t i = 0; i < identity.tcb_levels.size(); ++i) {
    const TcbStatus status = identity.tcb_levels[i].status;
    // QE levels never carry the SW-hardening statuses (docs/dcap-verification.md §8).
    if (status == TcbStatus::sw_hardening_needed ||
        status == TcbStatus::configuration_and_sw_hardening_needed)
      abort();
    if (i > 0 && identity.tcb_levels[i].isvsvn > identity.tcb_levels[i - 1].isvsvn) abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto response = parse_qe_identity_response(input);
  if (!response.ok()) {
    check_error(response.error());
  } else {
    check_accepted(response->value);
    if (input.find(response->signed_json) == std::string_view::npos) abort();
    auto reparsed = parse_enclave_identity_json(response->signed_json);
    if (!reparsed.ok() || reparsed->mrsigner != response->value.mrsigner) abort();
  }
  auto inner = parse_enclave_identity_json(input);
  if (!inner.ok()) {
    check_error(inner.error());
    if (inner.error().message.rfind("enclaveIdentity", 0) != 0) abort();
  } else {
    check_accepted(*inner);
  }
  return 0;
}
