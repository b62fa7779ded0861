// The simulator's TDREPORTs and quotes against ones it produced before it wrote them with
// acon::tdx (data/golden_*: a fixed state from seed SHA-256("quote_golden"), REPORTDATA bytes
// 0..63). TDREPORTs must be identical; quotes identical except the two ECDSA signatures, whose
// random nonces differ per signing (both must still verify with the DCAP verifier).
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>

#include "acon/common/x509.h"
#include "acon/dcap/verify.h"
#include "acon/guest/sim/sim.h"
#include "acon/tdx/quote.h"

namespace acon::guest::sim {
namespace {

std::string read_golden(const std::string& name) {
  std::ifstream in(std::string(ACON_SIM_GOLDEN_DIR) + "/" + name, std::ios::binary);
  if (!in) ADD_FAILURE() << "cannot read " << name;
  return std::string(std::istreambuf_iterator<char>(in), {});
}

ReportData counting_report_data() {
  ReportData data;
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i);
  return data;
}

// The quote with both signatures zeroed.
Bytes without_signatures(ByteView quote) {
  auto parsed = tdx::parse_quote(quote);
  if (!parsed) {
    ADD_FAILURE() << parsed.error().to_string();
    return {};
  }
  Bytes out(quote.begin(), quote.end());
  for (ByteView sig : {parsed->signature.quote_signature, parsed->signature.qe_report_signature}) {
    std::fill_n(out.begin() + static_cast<ptrdiff_t>(parsed->offset_of(sig)), sig.size(), 0);
  }
  return out;
}

TEST(SimGolden, ReportsAndQuotesAreUnchanged) {
  auto sim = Simulator::from_state_json(read_golden("golden_state.json"));
  ASSERT_TRUE(sim.ok()) << sim.error().to_string();
  auto collateral = sim->collateral();
  ASSERT_TRUE(collateral.ok()) << collateral.error().to_string();
  for (uint16_t version : {4, 5}) {
    SCOPED_TRACE("v" + std::to_string(version));
    ASSERT_TRUE(sim->set_quote_version(version).ok());
    const std::string suffix = "_v" + std::to_string(version) + ".bin";
    auto report = sim->td_report(counting_report_data());
    ASSERT_TRUE(report.ok()) << report.error().to_string();
    EXPECT_EQ(hex_encode(*report), hex_encode(as_bytes(read_golden("golden_tdreport" + suffix))));

    auto quote = sim->quote(counting_report_data());
    ASSERT_TRUE(quote.ok()) << quote.error().to_string();
    const std::string golden = read_golden("golden_quote" + suffix);
    ASSERT_EQ(quote->size(), golden.size());
    EXPECT_EQ(hex_encode(without_signatures(*quote)),
              hex_encode(without_signatures(as_bytes(golden))));

    dcap::VerifyOptions options;
    options.at = *parse_rfc3339("2025-06-02T00:00:00Z");
    options.anchors.roots = {sim->root_ca()};
    auto verdict = dcap::verify_quote(*quote, *collateral, options);
    ASSERT_TRUE(verdict.ok()) << verdict.error().to_string();
    EXPECT_EQ(verdict->status, dcap::QvlStatus::ok) << dcap::qvl_status_text(verdict->status);
  }
}

}  // namespace
}  // namespace acon::guest::sim
