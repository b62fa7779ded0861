// TDREPORT parsing never crashes, fails only with parse errors naming an offset, and an accepted
// report's fields lie inside the input at fixed places; writing the parsed fields back gives a
// report that parses to the same fields (reserved bytes become zeros) and to the same bytes
// when written again.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <string>

#include "acon/tdx/tdreport.h"
#include "fuzz_support.h"

namespace {

using acon::ByteView;

bool same(ByteView a, ByteView b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

void check_accepted(const acon::tdx::TdReport& r, ByteView input) {
  using namespace acon::tdx;
  if (input.size() != kTdReportSize || r.raw.data() != input.data()) abort();
  if (r.report_type[0] != kTdReportTypeTdx) abort();
  if (r.report_data.data() != input.data() + kTdReportDataOffset) abort();
  if (r.rtmr[0].data() != input.data() + kTdReportRtmrOffset) abort();
  if (r.td_info.size() != kTdInfoSize || r.tee_tcb_info.size() != kTeeTcbInfoSize) abort();
  auto written = write_tdreport(r);
  if (!written.ok() || written->size() != kTdReportSize) abort();
  auto again = parse_tdreport(*written);
  if (!again.ok()) abort();
  const ByteView before[] = {r.report_type,
                             r.cpu_svn,
                             r.tee_tcb_info_hash,
                             r.tee_info_hash,
                             r.report_data,
                             r.mac,
                             r.tee_tcb_info_valid,
                             r.tee_tcb_svn,
                             r.mr_seam,
                             r.mr_signer_seam,
                             r.seam_attributes,
                             r.tee_tcb_svn2,
                             r.td_attributes,
                             r.xfam,
                             r.mr_td,
                             r.mr_config_id,
                             r.mr_owner,
                             r.mr_owner_config,
                             r.rtmr[0],
                             r.rtmr[1],
                             r.rtmr[2],
                             r.rtmr[3],
                             r.servtd_hash};
  const TdReport& a = *again;
  const ByteView after[] = {a.report_type,
                            a.cpu_svn,
                            a.tee_tcb_info_hash,
                            a.tee_info_hash,
                            a.report_data,
                            a.mac,
                            a.tee_tcb_info_valid,
                            a.tee_tcb_svn,
                            a.mr_seam,
                            a.mr_signer_seam,
                            a.seam_attributes,
                            a.tee_tcb_svn2,
                            a.td_attributes,
                            a.xfam,
                            a.mr_td,
                            a.mr_config_id,
                            a.mr_owner,
                            a.mr_owner_config,
                            a.rtmr[0],
                            a.rtmr[1],
                            a.rtmr[2],
                            a.rtmr[3],
                            a.servtd_hash};
  for (size_t i = 0; i < std::size(before); ++i) {
    if (!same(before[i], after[i])) abort();
  }
  auto rewritten = write_tdreport(a);
  if (!rewritten.ok() || *rewritten != *written) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteView input(data, size);
  auto report = acon::tdx::parse_tdreport(input);
  if (!report.ok()) {
    if (report.error().code != acon::Errc::parse) abort();
    // A wrong size names the size; a wrong type names its offset.
    if (size == acon::tdx::kTdReportSize &&
        report.error().message.find(" offset ") == std::string::npos)
      abort();
    return 0;
  }
  check_accepted(*report, input);
  return 0;
}
