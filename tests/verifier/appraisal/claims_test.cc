// The TDX claims document (claims.h) against Trustee's own expected output and against values
// read independently from the quotes, the collateral and tests/data/quotes/vectors.json.
#include "acon/appraisal/claims.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "acon/dcap/claims.h"
#include "acon/dcap/collateral.h"
#include "acon/eventlog/trustee.h"
#include "test_util.h"

namespace acon::appraisal {
namespace {

struct Loaded {
  Bytes bytes;
  tdx::Quote quote;
};

Loaded load_quote(const std::string& relative) {
  Loaded l;
  l.bytes = test::read_data_bytes(relative);
  auto parsed = tdx::parse_quote(l.bytes);
  EXPECT_TRUE(parsed.ok()) << relative;
  if (parsed.ok()) l.quote = *parsed;
  return l;
}

const Json& vector_named(const std::string& id) {
  static const Json doc = *parse_json(test::read_data("quotes/vectors.json"));
  for (const Json& v : doc["vectors"])
    if (v["id"] == id) return v;
  static const Json none;
  ADD_FAILURE() << "no vector " << id;
  return none;
}

dcap::QuoteVerdict verify_vector(const Json& v, const Bytes& quote) {
  auto collateral = dcap::parse_collateral_bundle(
      test::read_data("quotes/" + v["collateral"].get<std::string>()));
  EXPECT_TRUE(collateral.ok());
  dcap::VerifyOptions options;
  options.at = Time(std::chrono::seconds(v["now_unix"].get<int64_t>()));
  auto verdict = dcap::verify_quote(quote, *collateral, options);
  EXPECT_TRUE(verdict.ok());
  return *verdict;
}

// What Trustee's TDX verifier returns before its token broker lifts report_data and init_data.
Json verifier_view(const Json& document) {
  Json tdx = document["tdx"];
  tdx["report_data"] = document["report_data"];
  tdx["init_data"] = document["init_data"];
  return tdx;
}

// trustee @ 78962cd4 deps/verifier/src/tdx/claims.rs test parse_tdx_claims: tdx_quote_4.dat with
// CCEL_data must give exactly parse_tdx_claims_expected.json (the parsed claims without the QVL
// supplemental part, which that test does not produce).
TEST(TdxClaims, EqualsTrusteesExpectedClaimsForItsQuoteAndCcel) {
  Loaded q = load_quote("trustee/tdx_quote_4.dat");
  Bytes ccel_bytes = test::read_data_bytes("eventlog/trustee/CCEL_data");
  auto ccel = eventlog::parse_event_log(ccel_bytes);
  ASSERT_TRUE(ccel.ok());
  dcap::QuoteVerdict no_supplemental;  // supplemental_valid == false: no TCB claims
  ClaimsDocument doc = tdx_claims(q.quote, no_supplemental, &*ccel);
  auto expected = parse_json(test::read_data("trustee/parse_tdx_claims_expected.json"));
  ASSERT_TRUE(expected.ok());
  Json ours = verifier_view(doc.claims);
  for (auto it = expected->begin(); it != expected->end(); ++it)
    EXPECT_EQ(ours[it.key()], it.value()) << it.key();
  EXPECT_EQ(ours, *expected);
  // Top level as Trustee's broker leaves it.
  std::set<std::string> top;
  for (auto it = doc.claims.begin(); it != doc.claims.end(); ++it) top.insert(it.key());
  EXPECT_EQ(top, (std::set<std::string>{"init_data", "report_data", "tdx"}));
  EXPECT_EQ(doc.claims["tdx"]["platform_instance_id"], "82548d228d94d5e204a95b354dc61a02");
  EXPECT_EQ(doc.event_log.name, "claims.uefi_event_logs");
  EXPECT_EQ(doc.event_log.outcome, Outcome::pass) << doc.event_log.reason;
}

// Trustee's v5 TD 1.5 test quote: type/size beside header and body, tee_tcb_svn2/mr_servicetd in
// the body, values at the offsets of the v5 layout (48-byte header, 2-byte type, 4-byte size,
// then the TD 1.5 report body).
TEST(TdxClaims, TrusteeV5Td15QuoteHasTypeSizeAndTd15Fields) {
  Loaded q = load_quote("trustee/tdx_quote_5.dat");
  dcap::QuoteVerdict none;
  ClaimsDocument doc = tdx_claims(q.quote, none, nullptr);
  const Json& tdx = doc.claims["tdx"];
  ByteView b = q.bytes;
  constexpr size_t body = 48 + 6;
  EXPECT_EQ(tdx["quote"]["header"]["version"], "0500");
  EXPECT_EQ(tdx["quote"]["type"], "0300");
  EXPECT_EQ(tdx["quote"]["size"], hex_encode(b.subspan(50, 4)));
  EXPECT_EQ(tdx["quote"]["body"]["tcb_svn"], hex_encode(b.subspan(body, 16)));
  EXPECT_EQ(tdx["quote"]["body"]["mr_td"], hex_encode(b.subspan(body + 136, 48)));
  EXPECT_EQ(tdx["quote"]["body"]["report_data"], hex_encode(b.subspan(body + 520, 64)));
  EXPECT_EQ(tdx["quote"]["body"]["tee_tcb_svn2"], hex_encode(b.subspan(body + 584, 16)));
  EXPECT_EQ(tdx["quote"]["body"]["mr_servicetd"], hex_encode(b.subspan(body + 600, 48)));
  EXPECT_EQ(doc.claims["report_data"], tdx["quote"]["body"]["report_data"]);
  EXPECT_EQ(doc.claims["init_data"], hex_encode(b.subspan(body + 184, 48)));
  EXPECT_FALSE(tdx.contains("uefi_event_logs"));
  EXPECT_FALSE(tdx.contains("report_data"));
  EXPECT_FALSE(tdx.contains("tcb_status"));  // no verdict, no supplemental claims
  EXPECT_EQ(doc.event_log.outcome, Outcome::skipped);
}

// The QVL supplemental claims of a verified quote: exactly Trustee's key set for a scalable
// platform, and values from vectors.json (status, TCB date, advisories, collateral window).
TEST(TdxClaims, TcbClaimsOfAVerifiedQuoteUseTrusteesNamesAndFormats) {
  const Json& v = vector_named("phala-tdx-v4-uptodate");
  Loaded q = load_quote("quotes/phala-dcap-qvl/tdx_quote");
  dcap::QuoteVerdict verdict = verify_vector(v, q.bytes);
  ASSERT_TRUE(verdict.accepted);
  ClaimsDocument doc = tdx_claims(q.quote, verdict, nullptr);
  const Json& tdx = doc.claims["tdx"];
  std::set<std::string> keys;
  for (auto it = tdx.begin(); it != tdx.end(); ++it) keys.insert(it.key());
  // trustee intel_dcap/claims.rs parse_supplemental_data's expected keys, plus the parsed quote.
  const std::set<std::string> trustee_keys = {"advisory_ids",
                                              "collateral_expiration_status",
                                              "earliest_expiration_date",
                                              "earliest_issue_date",
                                              "is_cached_keys",
                                              "is_dynamic_platform",
                                              "is_smt_enabled",
                                              "latest_issue_date",
                                              "pck_crl_num",
                                              "platform_provider_id",
                                              "root_ca_crl_num",
                                              "root_key_id",
                                              "sgx_type",
                                              "tcb_date",
                                              "tcb_eval_num",
                                              "tcb_status",
                                              "quote",
                                              "td_attributes"};
  std::set<std::string> expected_keys = trustee_keys;
  if (tdx.contains("platform_instance_id")) expected_keys.insert("platform_instance_id");
  EXPECT_EQ(keys, expected_keys);
  EXPECT_EQ(tdx["tcb_status"], v["expected"]["tcb_status"]);
  EXPECT_EQ(tdx["tcb_date"], v["details"]["tcb_date"]);
  EXPECT_EQ(tdx["advisory_ids"], Json::array());
  EXPECT_EQ(tdx["collateral_expiration_status"], "0");
  EXPECT_EQ(tdx["latest_issue_date"], v["collateral_window"][0]);
  EXPECT_EQ(tdx["earliest_expiration_date"], v["collateral_window"][1]);
  EXPECT_LE(tdx["earliest_issue_date"].get<std::string>(),
            tdx["latest_issue_date"].get<std::string>());
  EXPECT_EQ(tdx["sgx_type"], "Scalable");
  EXPECT_TRUE(tdx["pck_crl_num"].is_number_unsigned());
  EXPECT_TRUE(tdx["tcb_eval_num"].is_number_unsigned());
  EXPECT_EQ(tdx["root_key_id"].get<std::string>().size(), 96u);
  EXPECT_EQ(tdx["platform_provider_id"].get<std::string>().size(), 32u);
}

TEST(TdxClaims, ExpiredCollateralAndRejectedVerdicts) {
  const Json& v = vector_named("expired");
  Loaded q = load_quote("quotes/phala-dcap-qvl/tdx_quote");
  dcap::QuoteVerdict verdict = verify_vector(v, q.bytes);
  ClaimsDocument doc = tdx_claims(q.quote, verdict, nullptr);
  EXPECT_EQ(doc.claims["tdx"]["collateral_expiration_status"], "1");

  const Json& bad = vector_named("negative-v4-quote-sig");
  Loaded neg = load_quote("quotes/negative/v4_quote_sig.bin");
  dcap::QuoteVerdict rejected = verify_vector(bad, neg.bytes);
  ASSERT_FALSE(rejected.accepted);
  // Trustee issues nothing for it; the claims still describe the quote, and the appraisal's
  // quote.signature check (checks_test) says why it is refused.
  ClaimsDocument rejected_doc = tdx_claims(neg.quote, rejected, nullptr);
  EXPECT_EQ(rejected_doc.claims["tdx"]["quote"]["body"]["mr_td"],
            hex_encode(neg.quote.td_report()->mr_td));
}

TEST(TdxClaims, TrusteeTcbStatusNames) {
  EXPECT_EQ(dcap::trustee_tcb_status(0), "UpToDate");
  EXPECT_EQ(dcap::trustee_tcb_status(0xA001), "ConfigurationNeeded");
  EXPECT_EQ(dcap::trustee_tcb_status(0xA002), "OutOfDate");
  EXPECT_EQ(dcap::trustee_tcb_status(0xA003), "OutOfDateConfigurationNeeded");
  EXPECT_EQ(dcap::trustee_tcb_status(0xA007), "SWHardeningNeeded");
  EXPECT_EQ(dcap::trustee_tcb_status(0xA008), "ConfigurationAndSWHardeningNeeded");
  EXPECT_EQ(dcap::trustee_tcb_status(0xA009), "TDRelaunchAdvised");
  EXPECT_EQ(dcap::trustee_tcb_status(0xA00A), "TDRelaunchAdvisedConfigurationNeeded");
  EXPECT_EQ(dcap::trustee_tcb_status(0xA005), "TerminalStatus");
}

}  // namespace
}  // namespace acon::appraisal
