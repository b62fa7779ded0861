// PCK SGX extension parsing never crashes, fails only with Errc::parse naming an element and an
// offset inside the input, and an accepted extension is a whole DER SEQUENCE (so no proper
// prefix of it is accepted) with an in-range SGX type.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "acon/dcap/sgx_extension.h"
#include "fuzz_support.h"

namespace {

void check_error(const acon::Error& error, size_t input_size) {
  if (error.code != acon::Errc::parse) abort();
  if (!error.message.starts_with("sgx_extension")) abort();
  const size_t at = error.message.find(" at offset ");
  if (at == std::string::npos) abort();
  const unsigned long offset = std::strtoul(error.message.c_str() + at + 11, nullptr, 10);
  if (offset > input_size) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const acon::ByteView input(data, size);
  auto ext = acon::dcap::parse_sgx_extension(input);
  if (!ext.ok()) {
    check_error(ext.error(), size);
    return 0;
  }
  if (size < 2 || data[0] != 0x30) abort();
  if (static_cast<uint8_t>(ext->sgx_type) > 2) abort();
  auto prefix = acon::dcap::parse_sgx_extension(input.first(size - 1));
  if (prefix.ok()) abort();
  check_error(prefix.error(), size - 1);
  // Deterministic: a second parse gives the same values.
  auto again = acon::dcap::parse_sgx_extension(input);
  if (!again.ok() || again->tcb_comp_svn != ext->tcb_comp_svn || again->pcesvn != ext->pcesvn ||
      again->fmspc != ext->fmspc || again->ppid != ext->ppid)
    abort();
  return 0;
}
