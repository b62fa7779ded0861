// Quote parsing never crashes, fails only with parse/unsupported errors, and every view of an
// accepted quote lies inside the input in layout order: header, body, signature data, padding;
// and writing an accepted quote's fields (write_quote) gives back the input byte for byte.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "acon/tdx/quote.h"
#include "fuzz_support.h"

namespace {

using acon::ByteView;

// `field` is a sub-range of `whole`.
bool inside(ByteView whole, ByteView field) {
  return field.data() >= whole.data() && field.data() + field.size() <= whole.data() + whole.size();
}

void check_accepted(const acon::tdx::Quote& q, ByteView input) {
  using namespace acon::tdx;
  const size_t signature_start = q.offset_of(q.signature_data);
  if (q.signed_region().size() + 4 != signature_start) abort();
  if (signature_start + q.signature_data.size() + q.padding_size() != input.size()) abort();
  if (q.signed_region().size() != q.body_offset() + q.body_size) abort();
  const QuoteSignatureData& s = q.signature;
  for (ByteView field :
       {s.quote_signature, s.attestation_key, s.qe_report.raw, s.qe_report_signature,
        s.qe_auth_data, s.pck_certification.data, s.unused_tail}) {
    if (!inside(q.signature_data, field)) abort();
  }
  if (s.qe_report.raw.size() != kEnclaveReportSize) abort();
  if (s.pck_certification.type < 1 || s.pck_certification.type > 5) abort();
  if (q.header.version != kQuoteVersionSgx) {
    if (!s.qe_report_certification || s.qe_report_certification->type != 6) abort();
    if (!inside(s.qe_report_certification->data, s.pck_certification.data)) abort();
  }
  if (const TdReport10* td = q.td_report()) {
    if (!q.is_tdx() || td->raw.size() != q.body_size) abort();
    if (!inside(q.signed_region(), td->report_data)) abort();
    if (td->attributes().debug != (td->td_attributes[0] & 1)) abort();
  } else if (const EnclaveReport* report = q.enclave_report()) {
    if (q.is_tdx() || report->raw.size() != kEnclaveReportSize) abort();
  } else {
    abort();
  }
  auto written = write_quote(quote_fields(q));
  if (!written.ok() || written->size() != input.size() ||
      !std::equal(written->begin(), written->end(), input.begin()))
    abort();
  auto pem = q.pck_chain_pem();
  if (pem.ok() && (s.pck_certification.type != 5 || pem->size() > s.pck_certification.data.size()))
    abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteView input(data, size);
  auto quote = acon::tdx::parse_quote(input);
  if (!quote.ok()) {
    const acon::Errc code = quote.error().code;
    if (code != acon::Errc::parse && code != acon::Errc::unsupported) abort();
    if (quote.error().message.find(" offset ") == std::string::npos) abort();
    return 0;
  }
  check_accepted(*quote, input);
  return 0;
}
