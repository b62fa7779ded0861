// TCB info parsing never crashes or throws, fails only with parse/unsupported errors naming a
// JSON path, and an accepted response signs bytes cut from the input whose own parse agrees.
// Each input is tried both as a PCS response and as a bare inner tcbInfo object.
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

// Highest first by (sgx SVNs, pcesvn, tdx SVNs), as docs/dcap-verification.md §8 requires for
// first-match evaluation.
bool not_above(const TcbLevel& lower, const TcbLevel& higher) {
  for (size_t i = 0; i < kTcbComponentCount; ++i) {
    if (lower.sgx_components[i].svn != higher.sgx_components[i].svn)
      return lower.sgx_components[i].svn < higher.sgx_components[i].svn;
  }
  if (lower.pcesvn != higher.pcesvn) return lower.pcesvn < higher.pcesvn;
  if (!lower.tdx_components || !higher.tdx_components) return true;
  for (size_t i = 0; i < kTcbComponentCount; ++i) {
    if ((*lower.tdx_components)[i].svn != (*higher.tdx_components)[i].svn)
      return (*lower.tdx_components)[i].svn < (*higher.tdx_components)[i].svn;
  }
  return true;
}

void check_accepted(const TcbInfo& info) {
  if (info.id != "TDX" && info.id != "SGX") abort();
  if (info.version != 2 && info.version != 3) abort();
  if (info.tcb_levels.empty()) abort();
  if (info.tdx_module.has_value() != info.is_tdx()) abort();
  if (!info.is_tdx() && !info.tdx_module_identities.empty()) abort();
  for (size_t i = 0; i < info.tcb_levels.size(); ++i) {
    const TcbLevel& level = info.tcb_levels[i];
    if (level.tdx_components.has_value() != info.is_tdx()) abort();
    if (tcb_status_from_name(tcb_status_name(level.status)) != level.status) abort();
    if (i > 0 && !not_above(level, info.tcb_levels[i - 1])) abort();
  }
  for (const TdxModuleIdentity& identity : info.tdx_module_identities) {
    if (identity.tcb_levels.empty()) abort();
    for (size_t i = 1; i < identity.tcb_levels.size(); ++i) {
      if (identity.tcb_levels[i].isvsvn > identity.tcb_levels[i - 1].isvsvn) abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto response = parse_tcb_info_response(input);
  if (!response.ok()) {
    check_error(response.error());
  } else {
    check_accepted(response->value);
    if (input.find(response->signed_json) == std::string_view::npos) abort();
    auto reparsed = parse_tcb_info_json(response->signed_json);
    if (!reparsed.ok() || reparsed->tcb_levels.size() != response->value.tcb_levels.size() ||
        reparsed->fmspc != response->value.fmspc)
      abort();
  }
  auto inner = parse_tcb_info_json(input);
  if (!inner.ok()) {
    check_error(inner.error());
    // Paths are rooted at the default name, except for whole-document JSON syntax errors.
    if (inner.error().message.rfind("tcbInfo", 0) != 0) abort();
  } else {
    check_accepted(*inner);
  }
  return 0;
}
