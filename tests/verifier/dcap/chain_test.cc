// DCAP crypto checks (PCK chain + CRLs, collateral issuer chains and signatures, QE report, quote
// signature) on the real quotes and collateral in tests/data/quotes, the one-byte negative quotes,
// foreign roots and Intel's synthetic sample; and the collateral time summary at the pinned
// times of tests/data/quotes/vectors.json.
// Expectations: docs/dcap-verification.md §2, §4, §5, §7, §10.
#include "acon/dcap/chain.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "acon/common/hash.h"
#include "acon/common/json.h"
#include "test_util.h"

namespace acon::dcap {
namespace {

struct Case {
  std::string name;
  std::string quote;  // relative to tests/data/quotes
  bool hex;
  std::string collateral;
};

const std::vector<Case>& real_cases() {
  static const std::vector<Case> cases = {
      {"tdx_quote", "phala-dcap-qvl/tdx_quote", false, "phala-dcap-qvl/tdx_quote_collateral.json"},
      {"tdx_quote_outdated", "phala-dcap-qvl/tdx_quote_outdated", false,
       "phala-dcap-qvl/tdx_quote_outdated_collateral.json"},
      {"sgx_quote", "phala-dcap-qvl/sgx_quote", false, "phala-dcap-qvl/sgx_quote_collateral.json"},
      {"near", "phala-dcap-qvl/near_quote_hex.txt", true,
       "phala-dcap-qvl/near_quote_collateral.json"},
      {"go-tdx-guest", "go-tdx-guest/tdx_prod_quote_SPR_E4.dat", false,
       "go-tdx-guest/collateral_v4_phala_format.json"},
  };
  return cases;
}

Bytes load_quote_bytes(const std::string& relative, bool hex) {
  return hex ? test::read_hex_data("quotes/" + relative)
             : test::read_data_bytes("quotes/" + relative);
}

Collateral load_collateral(const std::string& relative) {
  auto c = parse_collateral_bundle(test::read_data("quotes/" + relative));
  EXPECT_TRUE(c.ok()) << relative << ": " << c.error().to_string();
  return *std::move(c);
}

Time at_unix(int64_t seconds) { return Time(std::chrono::seconds(seconds)); }

Time rfc3339(const std::string& text) {
  auto t = parse_rfc3339(text);
  EXPECT_TRUE(t.ok()) << text;
  return t.ok() ? *t : Time{};
}

void expect_status(const Status& st, std::string_view status_name) {
  ASSERT_FALSE(st.ok()) << "expected " << status_name;
  EXPECT_EQ(st.error().code, Errc::verify_failed) << st.error().to_string();
  EXPECT_EQ(st.error().message.rfind(std::string(status_name) + ":", 0), 0u)
      << st.error().to_string();
}

template <class T>
Status as_status(const Result<T>& r) {
  if (r.ok()) return {};
  return r.error();
}

// All four checks in QVL order; the first failure, tagged with the check that raised it.
struct Outcome {
  std::string check;  // "", "pck_chain", "collateral", "qe_report", "quote_signature"
  Status status;
};

Outcome run_checks(const tdx::Quote& quote, const Collateral& collateral,
                   const TrustAnchors& anchors, std::optional<PckChain>* chain_out = nullptr) {
  auto chain = pck_chain_from_quote(quote);
  if (!chain.ok()) return {"pck_chain", chain.error()};
  auto pck = verify_pck_chain(*chain, collateral.root_ca_crl, collateral.pck_crl, anchors);
  if (!pck.ok()) return {"pck_chain", pck.error()};
  if (auto st = verify_collateral_signatures(collateral, collateral.root_ca_crl, anchors); !st.ok())
    return {"collateral", st};
  if (auto st = verify_qe_report(quote, pck->leaf); !st.ok()) return {"qe_report", st};
  if (auto st = verify_quote_signature(quote); !st.ok()) return {"quote_signature", st};
  if (chain_out != nullptr) *chain_out = *pck;
  return {"", Status{}};
}

TEST(ChainTest, EmbeddedRootIsThePinnedIntelRoot) {
  const Certificate& root = intel_sgx_root_ca();
  EXPECT_EQ(hex_encode(sha256(root.der())), kIntelSgxRootCaSha256);
  EXPECT_EQ(root.der(), test::read_data_bytes("x509/intel_sgx_root_ca.der"));
  EXPECT_EQ(root.subject(), "C=US,ST=CA,L=Santa Clara,O=Intel Corporation,CN=Intel SGX Root CA");
  TrustAnchors anchors = default_trust_anchors();
  ASSERT_EQ(anchors.roots.size(), 1u);
  EXPECT_EQ(anchors.roots[0].der(), root.der());
}

TEST(ChainTest, RealQuotesPassEveryCheck) {
  for (const Case& c : real_cases()) {
    SCOPED_TRACE(c.name);
    Bytes bytes = load_quote_bytes(c.quote, c.hex);
    auto quote = tdx::parse_quote(bytes);
    ASSERT_TRUE(quote.ok()) << quote.error().to_string();
    Collateral collateral = load_collateral(c.collateral);
    std::optional<PckChain> chain;
    Outcome out = run_checks(*quote, collateral, default_trust_anchors(), &chain);
    EXPECT_TRUE(out.status.ok()) << out.check << ": " << out.status.error().to_string();
    ASSERT_TRUE(chain.has_value());
    EXPECT_EQ(chain->validity.size(), 5u);
    EXPECT_EQ(chain->root.der(), intel_sgx_root_ca().der());
    for (const Validity& v : chain->validity) EXPECT_LE(v.not_before, v.not_after) << v.what;
  }
}

TEST(ChainTest, NegativeQuotesFailAtTheRightCheck) {
  const std::map<std::string, std::pair<std::string, std::string>> expected = {
      {"header_user_data", {"quote_signature", "STATUS_INVALID_QUOTE_SIGNATURE"}},
      {"report_data", {"quote_signature", "STATUS_INVALID_QUOTE_SIGNATURE"}},
      {"mrtd", {"quote_signature", "STATUS_INVALID_QUOTE_SIGNATURE"}},
      {"quote_sig", {"quote_signature", "STATUS_INVALID_QUOTE_SIGNATURE"}},
      {"att_key", {"qe_report", "STATUS_INVALID_QE_REPORT_DATA"}},
      {"qe_auth_data", {"qe_report", "STATUS_INVALID_QE_REPORT_DATA"}},
      {"qe_report_isvsvn", {"qe_report", "STATUS_INVALID_QE_REPORT_SIGNATURE"}},
      {"qe_report_sig", {"qe_report", "STATUS_INVALID_QE_REPORT_SIGNATURE"}},
      {"pck_leaf_pem_body", {"pck_chain", "STATUS_SGX_PCK_INVALID_ISSUER"}},
  };
  auto list = parse_json(test::read_data("quotes/negative/negatives.json"));
  ASSERT_TRUE(list.ok()) << list.error().to_string();
  ASSERT_EQ(list->size(), expected.size());
  Collateral collateral = load_collateral("phala-dcap-qvl/tdx_quote_collateral.json");
  for (const Json& entry : *list) {
    const std::string file = entry.at("file").get<std::string>();
    const std::string mutation = entry.at("mutation").get<std::string>();
    SCOPED_TRACE(file);
    ASSERT_EQ(entry.at("source").get<std::string>(), "phala-dcap-qvl/tdx_quote");
    auto want = expected.find(mutation);
    ASSERT_NE(want, expected.end()) << "unknown mutation " << mutation;
    Bytes bytes = test::read_data_bytes("quotes/negative/" + file);
    Bytes original = test::read_data_bytes("quotes/phala-dcap-qvl/tdx_quote");
    ASSERT_EQ(bytes.size(), original.size());
    size_t offset = entry.at("offset").get<size_t>();
    ASSERT_LT(offset, bytes.size());
    EXPECT_NE(bytes[offset], original[offset]);
    auto quote = tdx::parse_quote(bytes);
    ASSERT_TRUE(quote.ok()) << quote.error().to_string();
    Outcome out = run_checks(*quote, collateral, default_trust_anchors());
    EXPECT_EQ(out.check, want->second.first);
    expect_status(out.status, want->second.second);
  }
}

TEST(ChainTest, ForeignRootIsUntrusted) {
  Bytes bytes = test::read_data_bytes("quotes/phala-dcap-qvl/tdx_quote");
  auto quote = tdx::parse_quote(bytes);
  ASSERT_TRUE(quote.ok());
  Collateral collateral = load_collateral("phala-dcap-qvl/tdx_quote_collateral.json");
  auto chain = pck_chain_from_quote(*quote);
  ASSERT_TRUE(chain.ok()) << chain.error().to_string();

  auto other = Certificate::from_pem(test::read_data("x509/root.pem"));
  ASSERT_TRUE(other.ok());
  auto sample_root =
      Certificate::from_der(test::read_data_bytes("quotes/intel-qvl-sample/trustedRootCaCert.der"));
  ASSERT_TRUE(sample_root.ok());
  for (const TrustAnchors& anchors :
       {TrustAnchors{}, TrustAnchors{{*other}}, TrustAnchors{{*sample_root}}}) {
    expect_status(
        as_status(verify_pck_chain(*chain, collateral.root_ca_crl, collateral.pck_crl, anchors)),
        "STATUS_SGX_ROOT_CA_UNTRUSTED");
    expect_status(verify_collateral_signatures(collateral, collateral.root_ca_crl, anchors),
                  "STATUS_SGX_ROOT_CA_UNTRUSTED");
  }
  // Trusting an extra root besides Intel's changes nothing for Intel-rooted chains.
  TrustAnchors both{{*other, intel_sgx_root_ca()}};
  EXPECT_TRUE(verify_pck_chain(*chain, collateral.root_ca_crl, collateral.pck_crl, both).ok());
}

TEST(ChainTest, MalformedChainsAndCrls) {
  Bytes bytes = test::read_data_bytes("quotes/phala-dcap-qvl/tdx_quote");
  auto quote = tdx::parse_quote(bytes);
  ASSERT_TRUE(quote.ok());
  Collateral collateral = load_collateral("phala-dcap-qvl/tdx_quote_collateral.json");
  auto chain = pck_chain_from_quote(*quote);
  ASSERT_TRUE(chain.ok());
  const TrustAnchors anchors = default_trust_anchors();
  const Crl& root_crl = collateral.root_ca_crl;
  const Crl& pck_crl = collateral.pck_crl;

  std::vector<Certificate> short_chain((*chain).begin(), (*chain).begin() + 2);
  expect_status(as_status(verify_pck_chain(short_chain, root_crl, pck_crl, anchors)),
                "STATUS_UNSUPPORTED_CERT_FORMAT");
  std::vector<Certificate> reversed{(*chain)[2], (*chain)[1], (*chain)[0]};
  EXPECT_FALSE(verify_pck_chain(reversed, root_crl, pck_crl, anchors).ok());
  // Leaf in the intermediate's place.
  std::vector<Certificate> swapped{(*chain)[1], (*chain)[0], (*chain)[2]};
  EXPECT_FALSE(verify_pck_chain(swapped, root_crl, pck_crl, anchors).ok());

  // The PCK CRL and the root CA CRL swapped: each is refused for its issuer.
  expect_status(as_status(verify_pck_chain(*chain, pck_crl, pck_crl, anchors)),
                "STATUS_SGX_CRL_UNKNOWN_ISSUER");
  expect_status(as_status(verify_pck_chain(*chain, root_crl, root_crl, anchors)),
                "STATUS_INVALID_PCK_CRL");
  expect_status(verify_collateral_signatures(collateral, pck_crl, anchors),
                "STATUS_SGX_CRL_UNKNOWN_ISSUER");

  // A PCK CRL of another platform CA (the SGX quote's chain may use the other CA type) or with a
  // signature by the wrong key is refused as an invalid PCK CRL.
  Collateral sgx = load_collateral("phala-dcap-qvl/sgx_quote_collateral.json");
  if (sgx.pck_crl.issuer() != pck_crl.issuer())
    expect_status(as_status(verify_pck_chain(*chain, root_crl, sgx.pck_crl, anchors)),
                  "STATUS_INVALID_PCK_CRL");

  // Tampered collateral signatures.
  Collateral bad_tcb = collateral;
  bad_tcb.tcb_info.signature[5] ^= 1;
  expect_status(verify_collateral_signatures(bad_tcb, root_crl, anchors),
                "STATUS_TCB_INFO_INVALID_SIGNATURE");
  Collateral bad_qe = collateral;
  bad_qe.qe_identity.signed_json[10] ^= 1;
  expect_status(verify_collateral_signatures(bad_qe, root_crl, anchors),
                "STATUS_SGX_ENCLAVE_IDENTITY_INVALID_SIGNATURE");
  // Signer picked by subject: the chain given root first still verifies; without the signer it
  // does not.
  Collateral reordered = collateral;
  std::reverse(reordered.tcb_info_issuer_chain.begin(), reordered.tcb_info_issuer_chain.end());
  EXPECT_TRUE(verify_collateral_signatures(reordered, root_crl, anchors).ok());
  Collateral no_signer = collateral;
  no_signer.qe_identity_issuer_chain = {intel_sgx_root_ca()};
  expect_status(verify_collateral_signatures(no_signer, root_crl, anchors),
                "STATUS_SGX_TCB_SIGNING_CERT_MISSING");

  // QE report checked with a key that is not the PCK leaf's.
  expect_status(verify_qe_report(*quote, (*chain)[1]), "STATUS_INVALID_QE_REPORT_SIGNATURE");
}

// The synthetic SGX-named chain of tests/data/x509 (see its README): leaf 3002 is listed in the
// platform CA's CRL. Times are never checked here (both CRLs passed nextUpdate in 2025).
TEST(ChainTest, RevokedLeafOnSyntheticChain) {
  auto root = Certificate::from_pem(test::read_data("x509/root.pem"));
  auto ca = Certificate::from_pem(test::read_data("x509/platform_ca.pem"));
  auto good = Certificate::from_pem(test::read_data("x509/leaf_good.pem"));
  auto bad = Certificate::from_pem(test::read_data("x509/leaf_revoked.pem"));
  auto root_crl = Crl::parse(test::read_data_bytes("x509/root_crl.der"));
  auto pck_crl = Crl::parse(test::read_data_bytes("x509/platform_crl.der"));
  ASSERT_TRUE(root.ok() && ca.ok() && good.ok() && bad.ok() && root_crl.ok() && pck_crl.ok());
  const TrustAnchors anchors{{*root}};

  auto pck = verify_pck_chain({*good, *ca, *root}, *root_crl, *pck_crl, anchors);
  ASSERT_TRUE(pck.ok()) << pck.error().to_string();
  ASSERT_EQ(pck->validity.size(), 5u);
  EXPECT_EQ(pck->validity[4].what, "PCK CRL");
  EXPECT_EQ(format_rfc3339(pck->validity[4].not_before), "2024-06-01T00:00:00Z");
  EXPECT_EQ(format_rfc3339(pck->validity[4].not_after), "2025-06-01T00:00:00Z");

  expect_status(as_status(verify_pck_chain({*bad, *ca, *root}, *root_crl, *pck_crl, anchors)),
                "STATUS_SGX_PCK_REVOKED");
  expect_status(as_status(verify_pck_chain({*good, *ca, *root}, *root_crl, *pck_crl,
                                           default_trust_anchors())),
                "STATUS_SGX_ROOT_CA_UNTRUSTED");
  // The PCK CRL must come from the leaf's issuer and be signed by the intermediate.
  expect_status(as_status(verify_pck_chain({*good, *ca, *root}, *root_crl, *root_crl, anchors)),
                "STATUS_INVALID_PCK_CRL");
}

TEST(ChainTest, IntelSampleVerifiesOnlyUnderItsOwnRoot) {
  Bytes bytes = test::read_data_bytes("quotes/intel-qvl-sample/quote.dat");
  auto quote = tdx::parse_quote(bytes);
  ASSERT_TRUE(quote.ok()) << quote.error().to_string();
  // Its type-5 block holds DER certificates, not PEM.
  expect_status(as_status(pck_chain_from_quote(*quote)), "STATUS_UNSUPPORTED_CERT_FORMAT");

  Collateral collateral = load_collateral("intel-qvl-sample/collateral_phala_format.json");
  auto leaf = Certificate::from_pem(test::read_data("quotes/intel-qvl-sample/pckCert.pem"));
  ASSERT_TRUE(leaf.ok());
  // The bundle's PCK CRL issuer chain is the intermediate and the root (in either order).
  std::vector<Certificate> chain{*leaf};
  for (const Certificate& cert : collateral.pck_crl_issuer_chain)
    if (cert.subject() != cert.issuer()) chain.push_back(cert);
  for (const Certificate& cert : collateral.pck_crl_issuer_chain)
    if (cert.subject() == cert.issuer()) chain.push_back(cert);
  ASSERT_EQ(chain.size(), 3u);

  auto sample_root =
      Certificate::from_der(test::read_data_bytes("quotes/intel-qvl-sample/trustedRootCaCert.der"));
  ASSERT_TRUE(sample_root.ok());
  EXPECT_EQ(hex_encode(sha256(sample_root->der())),
            "bf85a53fc08f84cb1f73a4f75f48af566e30ac040699ba0ec1b8d593c05b56fc");

  // Rejected by default.
  const TrustAnchors intel = default_trust_anchors();
  expect_status(
      as_status(verify_pck_chain(chain, collateral.root_ca_crl, collateral.pck_crl, intel)),
      "STATUS_SGX_ROOT_CA_UNTRUSTED");
  expect_status(verify_collateral_signatures(collateral, collateral.root_ca_crl, intel),
                "STATUS_SGX_ROOT_CA_UNTRUSTED");

  // Accepted with the sample root configured.
  const TrustAnchors sample{{*sample_root}};
  auto pck = verify_pck_chain(chain, collateral.root_ca_crl, collateral.pck_crl, sample);
  ASSERT_TRUE(pck.ok()) << pck.error().to_string();
  auto st = verify_collateral_signatures(collateral, collateral.root_ca_crl, sample);
  EXPECT_TRUE(st.ok()) << st.error().to_string();
  st = verify_qe_report(*quote, pck->leaf);
  EXPECT_TRUE(st.ok()) << st.error().to_string();
  st = verify_quote_signature(*quote);
  EXPECT_TRUE(st.ok()) << st.error().to_string();
}

// vectors.json: collateral_window = [latest issue, earliest expiration]; expired iff
// earliest_expiration <= now (upper bounds only).
TEST(DcapTimesTest, CollateralTimesAtPinnedVectorTimes) {
  struct Window {
    std::string case_name;
    std::string latest_issue;
    std::string earliest_expiration;
  };
  const std::vector<Window> windows = {
      {"tdx_quote", "2025-06-19T10:32:27Z", "2025-07-19T10:00:35Z"},
      {"near", "2025-09-02T07:41:59Z", "2025-10-02T07:03:51Z"},
      {"sgx_quote", "2025-06-19T10:56:11Z", "2025-07-19T10:01:18Z"},
      {"tdx_quote_outdated", "2026-02-18T10:58:51Z", "2026-03-20T10:41:15Z"},
      {"go-tdx-guest", "2023-06-18T08:42:58Z", "2023-07-08T07:24:59Z"},
  };
  std::map<std::string, CollateralTimes> times;
  for (const Case& c : real_cases()) {
    SCOPED_TRACE(c.name);
    Bytes bytes = load_quote_bytes(c.quote, c.hex);
    auto quote = tdx::parse_quote(bytes);
    ASSERT_TRUE(quote.ok());
    Collateral collateral = load_collateral(c.collateral);
    std::optional<PckChain> chain;
    ASSERT_TRUE(run_checks(*quote, collateral, default_trust_anchors(), &chain).status.ok());
    times[c.name] = collateral_times(*chain, collateral);
  }
  for (const Window& w : windows) {
    SCOPED_TRACE(w.case_name);
    const CollateralTimes& t = times.at(w.case_name);
    EXPECT_EQ(format_rfc3339(t.latest_issue), w.latest_issue);
    EXPECT_EQ(format_rfc3339(t.earliest_expiration), w.earliest_expiration);
    EXPECT_LE(t.earliest_issue, t.latest_issue);
    // Intel's root (2018-05-21) is the oldest thing in every bundle.
    EXPECT_EQ(t.earliest_issue, intel_sgx_root_ca().not_before());
  }

  const CollateralTimes& tdx = times.at("tdx_quote");
  struct Pinned {
    std::string id;
    int64_t now_unix;
    bool expired;
  };
  for (const Pinned& p : std::vector<Pinned>{
           {"phala-tdx-v4-uptodate", 1751624191, false},
           {"phala-tdx-v4-uptodate-window-end", 1752919234, false},
           {"edge-crl-expired", 1752920160, true},
           {"expired", 1800000000, true},
           {"edge-before-issue", 1750328400, false},  // before latest issue: not checked
       }) {
    SCOPED_TRACE(p.id);
    EXPECT_EQ(collateral_expired(tdx, at_unix(p.now_unix)), p.expired);
  }
  // The boundary itself counts as expired (QvE: earliest_expiration <= date).
  EXPECT_TRUE(collateral_expired(tdx, rfc3339("2025-07-19T10:00:35Z")));
  EXPECT_FALSE(collateral_expired(times.at("near"), at_unix(1758093775)));
  EXPECT_FALSE(collateral_expired(times.at("sgx_quote"), at_unix(1751624924)));
  EXPECT_FALSE(collateral_expired(times.at("tdx_quote_outdated"), at_unix(1772707803)));
  EXPECT_FALSE(collateral_expired(times.at("go-tdx-guest"), at_unix(1688173200)));
}

}  // namespace
}  // namespace acon::dcap
