// Full DCAP verification (dcap.h) on every vector of tests/data/quotes/vectors.json at its pinned
// time: exactly Intel QVL's status, QvE result, advisory IDs, TCB status/date and expiry flag;
// the tampered quotes in negative/; the time edges in strict mode; trust anchors; the verdict JSON
// and the Trustee-named claims (claims.h).
// Expectations: docs/dcap-verification.md §2-§11 and §14 (claims; trustee @ 78962cd4
// deps/verifier/src/tdx/claims.rs); data sources in tests/data/SOURCES.md.
#include <gtest/gtest.h>

#include <cctype>
#include <string>
#include <vector>

#include "acon/common/json.h"
#include "acon/dcap/cache.h"
#include "acon/dcap/claims.h"
#include "acon/dcap/verify.h"
#include "test_util.h"

namespace acon::dcap {
namespace {

const Json& vectors() {
  static const Json doc = [] {
    auto parsed = parse_json(test::read_data("quotes/vectors.json"));
    return parsed.ok() ? *parsed : Json::object();
  }();
  return doc;
}

// vectors.json quote_encoding "hex": ASCII hex, optional 0x prefix, surrounding whitespace.
Bytes load_vector_quote(const Json& vector) {
  const std::string path = "quotes/" + vector["quote"].get<std::string>();
  return vector["quote_encoding"] == "hex" ? test::read_hex_data(path)
                                           : test::read_data_bytes(path);
}

Result<Collateral> load_vector_collateral(const std::string& relative) {
  return parse_collateral_bundle(test::read_data("quotes/" + relative));
}

VerifyOptions at_unix(int64_t seconds) {
  VerifyOptions options;
  options.at = Time(std::chrono::seconds(seconds));
  return options;
}

// "STATUS_OK(0) for the quote step; ..." → "STATUS_OK(0)".
std::string leading_label(const std::string& expected) {
  return expected.substr(0, expected.find(')') + 1);
}

const Json& vector_named(const std::string& id) {
  for (const Json& v : vectors()["vectors"])
    if (v["id"] == id) return v;
  static const Json none;
  ADD_FAILURE() << "no vector " << id;
  return none;
}

Result<QuoteVerdict> verify_vector(const Json& vector, VerifyOptions options) {
  Bytes quote = load_vector_quote(vector);
  ACON_TRY(Collateral collateral, load_vector_collateral(vector["collateral"]));
  return verify_quote(quote, collateral, options);
}

QuoteVerdict verdict_of(const std::string& id, bool strict = false) {
  const Json& v = vector_named(id);
  VerifyOptions options = at_unix(v["now_unix"].get<int64_t>());
  options.strict_expiry = strict;
  auto verdict = verify_vector(v, options);
  EXPECT_TRUE(verdict.ok()) << id << ": " << verdict.error().to_string();
  return verdict.ok() ? *std::move(verdict) : QuoteVerdict{};
}

TEST(VerifyQuote, EveryVectorGivesIntelQvlStatusAndAdvisories) {
  ASSERT_GE(vectors()["vectors"].size(), 20u);
  for (const Json& v : vectors()["vectors"]) {
    const std::string id = v["id"];
    SCOPED_TRACE(id);
    const Json& expected = v["expected"];
    auto verdict = verify_vector(v, at_unix(v["now_unix"].get<int64_t>()));
    ASSERT_TRUE(verdict.ok()) << verdict.error().to_string();
    EXPECT_EQ(qvl_status_text_label(verdict->status), leading_label(expected["qvl_status"]))
        << verdict->failure;
    EXPECT_EQ(verdict->accepted, expected["accepted"].get<bool>());
    if (!expected["qv_result"].is_null()) {
      EXPECT_EQ(qv_result_name(verdict->qv_result), expected["qv_result"].get<std::string>());
    }
    if (!expected["advisory_ids"].is_null()) {
      EXPECT_EQ(verdict->advisory_ids, expected["advisory_ids"].get<std::vector<std::string>>());
    }
    if (!expected["collateral_expired"].is_null()) {
      EXPECT_EQ(verdict->collateral_expired, expected["collateral_expired"].get<bool>());
    }
    if (expected["tcb_status"].is_string()) {
      ASSERT_TRUE(verdict->tcb.has_value());
      EXPECT_EQ(tcb_status_name(verdict->tcb->tcb_status), expected["tcb_status"]);
    } else {
      EXPECT_FALSE(verdict->failure.empty());
    }
    if (v.contains("details")) {
      const Json& details = v["details"];
      if (details.contains("tcb_date")) {
        EXPECT_EQ(format_rfc3339(verdict->tcb_date), details["tcb_date"]);
      }
      if (details.contains("fmspc")) {
        EXPECT_EQ(hex_encode(verdict->fmspc), details["fmspc"]);
      }
      if (details.contains("module_identity")) {
        ASSERT_TRUE(verdict->tcb && verdict->tcb->module_identity);
        EXPECT_EQ(*verdict->tcb->module_identity, details["module_identity"]);
      }
    }
  }
}

TEST(VerifyQuote, EveryTamperedQuoteFailsWithItsErrorClass) {
  size_t negatives = 0;
  for (const Json& v : vectors()["vectors"]) {
    const std::string id = v["id"];
    if (id.rfind("negative-", 0) != 0) continue;
    ++negatives;
    SCOPED_TRACE(id);
    auto verdict = verify_vector(v, at_unix(v["now_unix"].get<int64_t>()));
    ASSERT_TRUE(verdict.ok()) << verdict.error().to_string();
    EXPECT_FALSE(verdict->accepted);
    EXPECT_EQ(qvl_status_text_label(verdict->status), v["expected"]["qvl_status"]);
    // Signature failures are QvE's INVALID_SIGNATURE class.
    EXPECT_EQ(qv_result_name(verdict->qv_result), "SGX_QL_QV_RESULT_INVALID_SIGNATURE");
    EXPECT_FALSE(verdict->tcb.has_value());
  }
  auto negatives_json = parse_json(test::read_data("quotes/negative/negatives.json"));
  ASSERT_TRUE(negatives_json.ok());
  EXPECT_EQ(negatives, negatives_json->size());
}

TEST(VerifyQuote, TimeEdgesFlagExpiryAndIgnoreLowerBounds) {
  // PCK CRL expired 10:00:35Z, the rest still valid: a flag, not a failure.
  QuoteVerdict crl = verdict_of("edge-crl-expired");
  EXPECT_TRUE(crl.accepted);
  EXPECT_TRUE(crl.collateral_expired);
  EXPECT_EQ(crl.status, QvlStatus::ok);
  // Strict mode fails with the status of the PCK chain step.
  QuoteVerdict crl_strict = verdict_of("edge-crl-expired", true);
  EXPECT_FALSE(crl_strict.accepted);
  EXPECT_EQ(qvl_status_text_label(crl_strict.status), "STATUS_SGX_CRL_EXPIRED(79)");
  EXPECT_NE(crl_strict.failure.find("PCK CRL"), std::string::npos) << crl_strict.failure;

  // Everything expired: still OK plus the flag; strict fails with the CRL status.
  QuoteVerdict all = verdict_of("expired");
  EXPECT_TRUE(all.accepted);
  EXPECT_TRUE(all.collateral_expired);
  QuoteVerdict all_strict = verdict_of("expired", true);
  EXPECT_EQ(qvl_status_text_label(all_strict.status), "STATUS_SGX_CRL_EXPIRED(79)");

  // Before the QE identity issueDate: no lower-bound check, no flag, strict passes too.
  QuoteVerdict early = verdict_of("edge-before-issue", true);
  EXPECT_TRUE(early.accepted);
  EXPECT_FALSE(early.collateral_expired);

  // 1 s before the earliest expiry: not expired; at it: expired (earliest_expiration <= at).
  const Json& end = vector_named("phala-tdx-v4-uptodate-window-end");
  auto before = verify_vector(end, at_unix(end["now_unix"].get<int64_t>()));
  auto at_end = verify_vector(end, at_unix(end["now_unix"].get<int64_t>() + 1));
  ASSERT_TRUE(before.ok() && at_end.ok());
  EXPECT_FALSE(before->collateral_expired);
  EXPECT_TRUE(at_end->collateral_expired);
  EXPECT_EQ(format_rfc3339(before->supplemental.earliest_expiration_date), "2025-07-19T10:00:35Z");
}

TEST(VerifyQuote, TrustAnchorsAreConfigurable) {
  const Json& v = vector_named("phala-tdx-v4-uptodate");
  VerifyOptions options = at_unix(v["now_unix"].get<int64_t>());
  options.anchors.roots.clear();
  auto none = verify_vector(v, options);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->accepted);
  EXPECT_EQ(qvl_status_text(none->status), "STATUS_SGX_ROOT_CA_UNTRUSTED");

  // Intel's synthetic test root is a different self-signed root.
  auto test_root =
      Certificate::from_der(test::read_data_bytes("quotes/intel-qvl-sample/trustedRootCaCert.der"));
  ASSERT_TRUE(test_root.ok());
  options.anchors.roots = {*test_root};
  auto foreign = verify_vector(v, options);
  ASSERT_TRUE(foreign.ok());
  EXPECT_EQ(qvl_status_text(foreign->status), "STATUS_SGX_ROOT_CA_UNTRUSTED");

  // Several anchors: the chain's root need only match one of them.
  options.anchors.roots = {*test_root, intel_sgx_root_ca()};
  auto ok = verify_vector(v, options);
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->accepted);
}

TEST(VerifyQuote, UnusableInputIsAnErrorNotAVerdict) {
  auto loaded = load_vector_collateral("phala-dcap-qvl/tdx_quote_collateral.json");
  ASSERT_TRUE(loaded.ok());
  const Collateral& collateral = *loaded;
  Bytes truncated = test::read_data_bytes("quotes/phala-dcap-qvl/tdx_quote");
  truncated.resize(100);
  auto parsed = verify_quote(truncated, collateral, at_unix(1751624191));
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().code, Errc::parse);

  // Intel's sample holds DER certificates in its type-5 block: no PEM chain. QVL finds no
  // CERTIFICATE block in it and rejects the quote (STATUS_UNSUPPORTED_CERT_FORMAT); it is a
  // verdict, and the collateral's PCK chain never stands in for a type-5 block.
  Bytes sample = test::read_data_bytes("quotes/intel-qvl-sample/quote.dat");
  auto no_chain = verify_quote(sample, collateral, at_unix(1751624191));
  ASSERT_TRUE(no_chain.ok()) << no_chain.error().to_string();
  EXPECT_FALSE(no_chain->accepted);
  EXPECT_EQ(qvl_status_text(no_chain->status), "STATUS_UNSUPPORTED_CERT_FORMAT");
  EXPECT_FALSE(no_chain->pck_chain_from_collateral);
}

TEST(VerifyQuote, VerdictCarriesSupplementalData) {
  QuoteVerdict verdict = verdict_of("phala-tdx-v4-uptodate");
  ASSERT_TRUE(verdict.supplemental_valid);
  const SupplementalData& sup = verdict.supplemental;
  EXPECT_EQ(hex_encode(sup.fmspc), "b0c06f000000");
  EXPECT_EQ(hex_encode(sup.pce_id), "0000");
  EXPECT_EQ(format_rfc3339(sup.tcb_level_date_tag), "2024-03-13T00:00:00Z");
  EXPECT_LE(sup.earliest_issue_date, sup.latest_issue_date);
  EXPECT_LT(sup.latest_issue_date, sup.earliest_expiration_date);
  EXPECT_GT(sup.tcb_eval_ref_num, 0u);
  EXPECT_GT(sup.root_ca_crl_num + sup.pck_crl_num, 0u);
  // QvE root_key_id: SHA-384 over the Intel SGX Root CA public key point
  // (docs/dcap-verification.md §2, §10).
  EXPECT_EQ(hex_encode(sup.root_key_id),
            hex_encode(sha384(test::unhex(
                "040ba9c4c0c0c86193a3fe23d6b02cda10a8bbd4e88e48b4458561a36e705525f567918e2edc88e4"
                "0d860bd0cc4ee26aacc988e505a953558c453f6b0904ae7394"))));
  EXPECT_EQ(verdict.ecdsa_verifications, 13u);

  Json json = verdict_json(verdict);
  EXPECT_EQ(json["status"], "STATUS_OK");
  EXPECT_EQ(json["status_code"], 0);
  EXPECT_EQ(json["qv_result"], "SGX_QL_QV_RESULT_OK");
  EXPECT_EQ(json["tcb_status"], "UpToDate");
  EXPECT_EQ(json["tcb_date"], "2024-03-13T00:00:00Z");
  EXPECT_EQ(json["module_identity"], "TDX_01");
  EXPECT_EQ(json["supplemental"]["fmspc"], "b0c06f000000");
  EXPECT_FALSE(json.contains("failure"));
  EXPECT_FALSE(verdict.simulated);  // a real Intel platform
  EXPECT_EQ(json["simulated"], false);

  // The text report: status first, then whether the platform is simulated, then the rest.
  const Bytes quote_bytes = load_vector_quote(vector_named("phala-tdx-v4-uptodate"));
  const tdx::Quote quote = test::must(tdx::parse_quote(quote_bytes));
  const std::string text = verdict_text(verdict, quote_claims(quote, verdict));
  EXPECT_EQ(text.rfind("status: STATUS_OK(0) SGX_QL_QV_RESULT_OK ACCEPTED\nsimulated: no\n", 0), 0u)
      << text;
  for (const std::string line :
       {"tcb_status: UpToDate\n", "tcb_date: 2024-03-13T00:00:00Z\n", "advisories: none\n",
        "collateral_expired: no\n", "fmspc: b0c06f000000\n"})
    EXPECT_NE(text.find(line), std::string::npos) << line;
  EXPECT_NE(text.find("mr_td: " + hex_encode(quote.td_report()->mr_td) + "\n"), std::string::npos);
  EXPECT_NE(text.find("td_attributes_decoded: debug=0"), std::string::npos) << text;

  QuoteVerdict sgx = verdict_of("phala-sgx-v3");
  EXPECT_EQ(verdict_json(sgx)["tcb_status"], "ConfigurationAndSWHardeningNeeded");
  EXPECT_FALSE(sgx.supplemental.sa_list.empty());
}

// One cache shared by every vector, each verified twice (collateral parsed anew each time, so
// hits also come from equal bytes in other objects): always the uncached verdict.
TEST(VerifyQuote, SharedCacheGivesEveryVectorItsUncachedVerdict) {
  VerificationCache cache;
  for (int pass = 0; pass < 2; ++pass) {
    for (const Json& v : vectors()["vectors"]) {
      const std::string id = v["id"];
      SCOPED_TRACE(id + " pass " + std::to_string(pass));
      VerifyOptions options = at_unix(v["now_unix"].get<int64_t>());
      auto uncached = verify_vector(v, options);
      options.cache = &cache;
      auto cached = verify_vector(v, options);
      ASSERT_EQ(cached.ok(), uncached.ok());
      if (!uncached.ok()) continue;
      EXPECT_EQ(verdict_json(*cached), verdict_json(*uncached));
      EXPECT_EQ(cached->failure, uncached->failure);
      EXPECT_LE(cached->ecdsa_verifications, uncached->ecdsa_verifications);
    }
  }
  CacheStats stats = cache.stats();
  EXPECT_GT(stats.pck_chain_hits, 0u);
  EXPECT_GT(stats.collateral_hits, 0u);
  EXPECT_GT(stats.qe_report_hits, 0u);
}

// The quote's chain reuses the certificates the caller already holds when the DER is equal (the
// anchor, the collateral's PCK CA) and parses the others; the result is the same chain.
TEST(VerifyQuote, PckChainReusesCertificatesAlreadyParsed) {
  auto collateral = load_vector_collateral("phala-dcap-qvl/tdx_quote_collateral.json");
  ASSERT_TRUE(collateral.ok());
  Bytes bytes = test::read_data_bytes("quotes/phala-dcap-qvl/tdx_quote");
  auto quote = tdx::parse_quote(bytes);
  ASSERT_TRUE(quote.ok());
  auto plain = pck_chain_from_quote(*quote);
  ASSERT_TRUE(plain.ok());
  ASSERT_EQ(plain->size(), 3u);

  const Certificate& anchor = intel_sgx_root_ca();
  const Certificate* platform_ca = nullptr;
  for (const Certificate& cert : collateral->pck_crl_issuer_chain)
    if (cert.der() == (*plain)[1].der()) platform_ca = &cert;
  ASSERT_NE(platform_ca, nullptr);
  auto other = Certificate::from_pem(test::read_data("x509/root.pem"));
  ASSERT_TRUE(other.ok());
  const std::vector<const Certificate*> reusable = {&*other, &anchor, platform_ca};
  auto reused = pck_chain_from_quote(*quote, reusable);
  ASSERT_TRUE(reused.ok()) << reused.error().to_string();
  ASSERT_EQ(reused->size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ((*reused)[i].der(), (*plain)[i].der()) << i;
  EXPECT_NE((*reused)[0].get(), (*plain)[0].get());
  EXPECT_EQ((*reused)[1].get(), platform_ca->get());
  EXPECT_EQ((*reused)[2].get(), anchor.get());
  EXPECT_TRUE(same_certificate((*reused)[2], (*plain)[2]));
  EXPECT_FALSE(same_certificate((*reused)[1], (*plain)[2]));

  // A leaf that differs from every reusable certificate gets its own parse.
  Bytes sample = test::read_data_bytes("quotes/negative/v4_pck_leaf_pem_body.bin");
  auto changed = tdx::parse_quote(sample);
  ASSERT_TRUE(changed.ok());
  auto leaf_changed = pck_chain_from_quote(*changed, reusable);
  ASSERT_TRUE(leaf_changed.ok());
  EXPECT_NE((*leaf_changed)[0].der(), (*plain)[0].der());
  EXPECT_EQ((*leaf_changed)[2].get(), anchor.get());
}

TEST(VerifyQuote, StatusTableMatchesQvlCodes) {
  for (auto [name, code] : std::vector<std::pair<std::string, uint32_t>>{
           {"STATUS_OK", 0},
           {"STATUS_UNSUPPORTED_CERT_FORMAT", 1},
           {"STATUS_SGX_PCK_INVALID_ISSUER", 15},
           {"STATUS_TCB_INFO_MISMATCH", 44},
           {"STATUS_TCB_OUT_OF_DATE", 45},
           {"STATUS_TCB_NOT_SUPPORTED", 49},
           {"STATUS_INVALID_QE_REPORT_SIGNATURE", 55},
           {"STATUS_INVALID_QE_REPORT_DATA", 56},
           {"STATUS_INVALID_QUOTE_SIGNATURE", 57},
           {"STATUS_QE_IDENTITY_MISMATCH", 74},
           {"STATUS_SGX_CRL_EXPIRED", 79},
           {"STATUS_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED", 83},
           {"STATUS_TDX_MODULE_MISMATCH", 85},
           {"STATUS_TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED", 87},
       }) {
    auto status = qvl_status_from_text(name);
    ASSERT_TRUE(status.has_value()) << name;
    EXPECT_EQ(qvl_status_code(*status), code) << name;
    EXPECT_EQ(qvl_status_text(*status), name);
  }
  // The TCB statuses agree with tcb.h's own table.
  for (QvlStatus status : {QvlStatus::ok, QvlStatus::tcb_revoked, QvlStatus::tdx_module_mismatch,
                           QvlStatus::tcb_td_relaunch_advised})
    EXPECT_EQ(qvl_status_text(status), qvl_status_name(status));
  EXPECT_FALSE(is_acceptable(QvlStatus::tcb_revoked));
  EXPECT_TRUE(is_acceptable(QvlStatus::tcb_td_relaunch_advised));
  EXPECT_EQ(qve_result_of(QvlStatus::tcb_revoked), 0xA005u);
  EXPECT_EQ(qve_result_of(QvlStatus::tcb_not_supported), kQvResultUnspecified);
}

TEST(QuoteClaims, TdxV4UsesTrusteeNamesAndLowercaseHex) {
  Bytes bytes = test::read_data_bytes("quotes/phala-dcap-qvl/tdx_quote");
  auto quote = tdx::parse_quote(bytes);
  ASSERT_TRUE(quote.ok());
  Json claims = quote_claims(*quote);
  const Json& header = claims["quote"]["header"];
  EXPECT_EQ(header["version"], "0400");
  EXPECT_EQ(header["att_key_type"], "0200");
  EXPECT_EQ(header["tee_type"], "81000000");
  EXPECT_EQ(header["reserved"], "00000000");
  EXPECT_EQ(header["vendor_id"], "939a7233f79c4ca9940a0db3957f0607");
  EXPECT_EQ(header["user_data"].get<std::string>().size(), 40u);
  const Json& body = claims["quote"]["body"];
  EXPECT_EQ(body["tcb_svn"], "06010300000000000000000000000000");
  EXPECT_EQ(body["mr_td"], hex_encode(ByteView(bytes).subspan(48 + 136, 48)));
  EXPECT_EQ(body["rtmr_3"], hex_encode(ByteView(bytes).subspan(48 + 472, 48)));
  EXPECT_EQ(body["report_data"], hex_encode(ByteView(bytes).subspan(568, 64)));
  for (const char* name :
       {"mr_seam", "mrsigner_seam", "seam_attributes", "td_attributes", "xfam", "mr_config_id",
        "mr_owner", "mr_owner_config", "rtmr_0", "rtmr_1", "rtmr_2"})
    EXPECT_TRUE(body.contains(name)) << name;
  EXPECT_FALSE(body.contains("tee_tcb_svn2"));
  EXPECT_FALSE(claims["quote"].contains("type"));
  for (const char* name : {"debug", "septve_disable", "protection_keys", "key_locker", "perfmon"})
    EXPECT_TRUE(claims["td_attributes"][name].is_boolean()) << name;
  EXPECT_EQ(claims["td_attributes"]["debug"], quote->td_report()->attributes().debug);
}

TEST(QuoteClaims, TdxV5Td15AddsTypeSizeAndServiceTdFields) {
  Bytes bytes = test::read_data_bytes("quotes/phala-dcap-qvl/tdx_quote_outdated");
  auto quote = tdx::parse_quote(bytes);
  ASSERT_TRUE(quote.ok());
  Json claims = quote_claims(*quote);
  EXPECT_EQ(claims["quote"]["header"]["version"], "0500");
  EXPECT_EQ(claims["quote"]["type"], "0300");
  EXPECT_EQ(claims["quote"]["size"], "88020000");  // 648
  EXPECT_EQ(claims["quote"]["body"]["tee_tcb_svn2"].get<std::string>().size(), 32u);
  EXPECT_EQ(claims["quote"]["body"]["mr_servicetd"].get<std::string>().size(), 96u);
  EXPECT_EQ(claims["quote"]["body"]["report_data"], hex_encode(ByteView(bytes).subspan(574, 64)));
}

TEST(QuoteClaims, SgxQuoteHasHeaderOnly) {
  Bytes bytes = test::read_data_bytes("quotes/phala-dcap-qvl/sgx_quote");
  auto quote = tdx::parse_quote(bytes);
  ASSERT_TRUE(quote.ok());
  Json claims = quote_claims(*quote);
  EXPECT_EQ(claims["quote"]["header"]["version"], "0300");
  EXPECT_FALSE(claims["quote"].contains("body"));
  EXPECT_FALSE(claims.contains("td_attributes"));
}

}  // namespace
}  // namespace acon::dcap
