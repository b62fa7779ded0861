// DCAP collateral loaders on the real collateral in tests/data/quotes (Phala flat bundles, raw
// go-tdx-guest PCS responses, Intel's synthetic QVL sample), checked against an independent
// nlohmann read of the same JSON; signatures over the exact signed bytes; hostile JSON.
// Expectations: docs/dcap-verification.md §3, §5, §8; sources of the data in
// tests/data/SOURCES.md.
#include "acon/dcap/collateral.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "acon/common/json.h"
#include "test_util.h"

namespace acon::dcap {
namespace {

using namespace std::chrono;

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return text;
}

Time expect_time(const std::string& text) {
  auto t = parse_rfc3339(text);
  EXPECT_TRUE(t.ok()) << text;
  return t.ok() ? *t : Time{};
}

// Compares a TcbInfo model with an independent nlohmann read of the JSON it came from. PCS
// serves levels sorted, so the model's order (sorted by the parser) equals the JSON's.
void expect_tcb_info_matches(const TcbInfo& info, const Json& json) {
  EXPECT_EQ(info.id, json.value("id", std::string("SGX")));
  EXPECT_EQ(info.version, json.at("version").get<uint32_t>());
  EXPECT_EQ(info.issue_date, expect_time(json.at("issueDate").get<std::string>()));
  EXPECT_EQ(info.next_update, expect_time(json.at("nextUpdate").get<std::string>()));
  EXPECT_EQ(hex_encode(info.fmspc), lower(json.at("fmspc").get<std::string>()));
  EXPECT_EQ(hex_encode(info.pce_id), lower(json.at("pceId").get<std::string>()));
  EXPECT_EQ(info.tcb_type, json.at("tcbType").get<uint32_t>());
  EXPECT_EQ(info.tcb_evaluation_data_number, json.at("tcbEvaluationDataNumber").get<uint32_t>());
  const Json& levels = json.at("tcbLevels");
  ASSERT_EQ(info.tcb_levels.size(), levels.size());
  for (size_t i = 0; i < levels.size(); ++i) {
    SCOPED_TRACE("tcbLevels[" + std::to_string(i) + "]");
    const TcbLevel& level = info.tcb_levels[i];
    const Json& tcb = levels[i].at("tcb");
    EXPECT_EQ(tcb_status_name(level.status), levels[i].at("tcbStatus").get<std::string>());
    EXPECT_EQ(level.tcb_date, expect_time(levels[i].at("tcbDate").get<std::string>()));
    EXPECT_EQ(level.advisory_ids, levels[i].value("advisoryIDs", std::vector<std::string>{}));
    EXPECT_EQ(level.pcesvn, tcb.at("pcesvn").get<uint16_t>());
    for (size_t c = 0; c < kTcbComponentCount; ++c) {
      EXPECT_EQ(level.sgx_components[c].svn,
                tcb.at("sgxtcbcomponents")[c].at("svn").get<uint16_t>());
      EXPECT_EQ(level.sgx_components[c].category,
                tcb.at("sgxtcbcomponents")[c].value("category", std::string()));
    }
    ASSERT_EQ(level.tdx_components.has_value(), info.is_tdx());
    if (info.is_tdx()) {
      for (size_t c = 0; c < kTcbComponentCount; ++c)
        EXPECT_EQ((*level.tdx_components)[c].svn,
                  tcb.at("tdxtcbcomponents")[c].at("svn").get<uint16_t>());
    }
  }
  ASSERT_EQ(info.tdx_module.has_value(), info.is_tdx());
  if (info.is_tdx()) {
    const Json& module = json.at("tdxModule");
    EXPECT_EQ(hex_encode(info.tdx_module->mrsigner),
              lower(module.at("mrsigner").get<std::string>()));
    EXPECT_EQ(hex_encode(info.tdx_module->attributes_mask),
              lower(module.at("attributesMask").get<std::string>()));
  }
  const Json identities = json.value("tdxModuleIdentities", Json::array());
  ASSERT_EQ(info.tdx_module_identities.size(), identities.size());
  for (size_t i = 0; i < identities.size(); ++i) {
    const TdxModuleIdentity& identity = info.tdx_module_identities[i];
    EXPECT_EQ(identity.id, identities[i].at("id").get<std::string>());
    EXPECT_EQ(hex_encode(identity.module.mrsigner),
              lower(identities[i].at("mrsigner").get<std::string>()));
    const Json& levels_json = identities[i].at("tcbLevels");
    ASSERT_EQ(identity.tcb_levels.size(), levels_json.size());
    for (size_t l = 0; l < levels_json.size(); ++l) {
      EXPECT_EQ(identity.tcb_levels[l].isvsvn,
                levels_json[l].at("tcb").at("isvsvn").get<uint16_t>());
      EXPECT_EQ(tcb_status_name(identity.tcb_levels[l].status),
                levels_json[l].at("tcbStatus").get<std::string>());
    }
  }
}

void expect_identity_matches(const EnclaveIdentity& identity, const Json& json) {
  EXPECT_EQ(identity.id, json.at("id").get<std::string>());
  EXPECT_EQ(identity.version, json.at("version").get<uint32_t>());
  EXPECT_EQ(identity.issue_date, expect_time(json.at("issueDate").get<std::string>()));
  EXPECT_EQ(identity.next_update, expect_time(json.at("nextUpdate").get<std::string>()));
  EXPECT_EQ(identity.tcb_evaluation_data_number,
            json.at("tcbEvaluationDataNumber").get<uint32_t>());
  EXPECT_EQ(identity.miscselect, std::stoul(json.at("miscselect").get<std::string>(), nullptr, 16));
  EXPECT_EQ(identity.miscselect_mask,
            std::stoul(json.at("miscselectMask").get<std::string>(), nullptr, 16));
  EXPECT_EQ(hex_encode(identity.attributes), lower(json.at("attributes").get<std::string>()));
  EXPECT_EQ(hex_encode(identity.attributes_mask),
            lower(json.at("attributesMask").get<std::string>()));
  EXPECT_EQ(hex_encode(identity.mrsigner), lower(json.at("mrsigner").get<std::string>()));
  EXPECT_EQ(identity.isvprodid, json.at("isvprodid").get<uint16_t>());
  const Json& levels = json.at("tcbLevels");
  ASSERT_EQ(identity.tcb_levels.size(), levels.size());
  for (size_t i = 0; i < levels.size(); ++i) {
    EXPECT_EQ(identity.tcb_levels[i].isvsvn, levels[i].at("tcb").at("isvsvn").get<uint16_t>());
    EXPECT_EQ(tcb_status_name(identity.tcb_levels[i].status),
              levels[i].at("tcbStatus").get<std::string>());
    EXPECT_EQ(identity.tcb_levels[i].advisory_ids,
              levels[i].value("advisoryIDs", std::vector<std::string>{}));
  }
}

struct BundleCase {
  const char* path;
  const char* fmspc;  // lower-case hex
  const char* tcb_id;
  const char* qe_id;
  size_t tcb_levels;
  std::vector<std::string> module_ids;
};

const std::vector<BundleCase>& bundle_cases() {
  static const std::vector<BundleCase> cases = {
      {"quotes/phala-dcap-qvl/tdx_quote_collateral.json",
       "b0c06f000000",
       "TDX",
       "TD_QE",
       2,
       {"TDX_03", "TDX_01"}},
      {"quotes/phala-dcap-qvl/tdx_quote_outdated_collateral.json",
       "90c06f000000",
       "TDX",
       "TD_QE",
       3,
       {"TDX_03", "TDX_01"}},
      {"quotes/phala-dcap-qvl/near_quote_collateral.json",
       "20a06f000000",
       "TDX",
       "TD_QE",
       2,
       {"TDX_03", "TDX_01"}},
      {"quotes/phala-dcap-qvl/sgx_quote_collateral.json", "00a067110000", "SGX", "QE", 11, {}},
      {"quotes/go-tdx-guest/collateral_v4_phala_format.json",
       "50806f000000",
       "TDX",
       "TD_QE",
       2,
       {}},
      {"quotes/intel-qvl-sample/collateral_phala_format.json",
       "ed742af8adf5",
       "TDX",
       "TD_QE",
       1,
       {}},
  };
  return cases;
}

Collateral load_bundle(const std::string& path) {
  auto collateral = parse_collateral_bundle(test::read_data(path));
  EXPECT_TRUE(collateral.ok()) << path << ": " << collateral.error().to_string();
  return std::move(collateral).value();
}

TEST(CollateralBundle, EveryRealBundleMatchesAnIndependentRead) {
  for (const BundleCase& c : bundle_cases()) {
    SCOPED_TRACE(c.path);
    const std::string text = test::read_data(c.path);
    auto collateral = parse_collateral_bundle(text);
    ASSERT_TRUE(collateral.ok()) << collateral.error().to_string();
    const Json bundle = Json::parse(text);
    const Json tcb_json = Json::parse(bundle.at("tcb_info").get<std::string>());
    const Json qe_json = Json::parse(bundle.at("qe_identity").get<std::string>());

    const TcbInfo& tcb = collateral->tcb_info.value;
    EXPECT_EQ(tcb.id, c.tcb_id);
    EXPECT_EQ(tcb.version, 3u);
    if (*c.fmspc) {
      EXPECT_EQ(hex_encode(tcb.fmspc), c.fmspc);
    }
    EXPECT_EQ(tcb.tcb_levels.size(), c.tcb_levels);
    std::vector<std::string> module_ids;
    for (const auto& identity : tcb.tdx_module_identities) module_ids.push_back(identity.id);
    EXPECT_EQ(module_ids, c.module_ids);
    expect_tcb_info_matches(tcb, tcb_json);
    EXPECT_EQ(collateral->qe_identity.value.id, c.qe_id);
    expect_identity_matches(collateral->qe_identity.value, qe_json);

    // The signed bytes are the bundle's strings, unchanged.
    EXPECT_EQ(collateral->tcb_info.signed_json, bundle.at("tcb_info").get<std::string>());
    EXPECT_EQ(collateral->qe_identity.signed_json, bundle.at("qe_identity").get<std::string>());
    EXPECT_EQ(hex_encode(collateral->tcb_info.signature),
              lower(bundle.at("tcb_info_signature").get<std::string>()));

    EXPECT_EQ(collateral->tcb_info_issuer_chain.size(), 2u);
    EXPECT_EQ(collateral->qe_identity_issuer_chain.size(), 2u);
    EXPECT_EQ(collateral->pck_crl_issuer_chain.size(), 2u);
    EXPECT_NE(collateral->tcb_info_issuer_chain[0].subject().find("SGX TCB Signing"),
              std::string::npos);
    EXPECT_NE(collateral->tcb_info_issuer_chain[1].subject().find("SGX Root CA"),
              std::string::npos);
    EXPECT_EQ(collateral->root_ca_crl.issuer(), collateral->tcb_info_issuer_chain[1].subject());
    EXPECT_EQ(collateral->pck_crl.issuer(), collateral->pck_crl_issuer_chain[0].subject());
    EXPECT_TRUE(collateral->pck_certificate_chain.empty());
  }
}

TEST(CollateralBundle, SignaturesVerifyWithTheTcbSigningCertificate) {
  for (const BundleCase& c : bundle_cases()) {
    SCOPED_TRACE(c.path);
    const Collateral collateral = load_bundle(c.path);
    ASSERT_FALSE(collateral.tcb_info_issuer_chain.empty());
    auto tcb_ok = verify_signed_json(collateral.tcb_info, collateral.tcb_info_issuer_chain[0]);
    EXPECT_TRUE(tcb_ok.ok()) << tcb_ok.error().to_string();
    auto qe_ok = verify_signed_json(collateral.qe_identity, collateral.qe_identity_issuer_chain[0]);
    EXPECT_TRUE(qe_ok.ok()) << qe_ok.error().to_string();
    // The root is not the signer.
    EXPECT_FALSE(verify_signed_json(collateral.tcb_info, collateral.tcb_info_issuer_chain[1]).ok());
  }
}

TEST(CollateralBundle, OutdatedTdxCollateralFieldValues) {
  const Collateral collateral =
      load_bundle("quotes/phala-dcap-qvl/tdx_quote_outdated_collateral.json");
  const TcbInfo& tcb = collateral.tcb_info.value;
  EXPECT_EQ(tcb.tcb_evaluation_data_number, 18u);
  EXPECT_EQ(tcb.issue_date, sys_days{2026y / 2 / 18} + 10h + 58min + 51s);
  EXPECT_EQ(tcb.next_update, sys_days{2026y / 3 / 20} + 10h + 58min + 51s);
  EXPECT_EQ(hex_encode(tcb.pce_id), "0000");
  ASSERT_TRUE(tcb.tdx_module.has_value());
  EXPECT_EQ(hex_encode(tcb.tdx_module->attributes_mask), "ffffffffffffffff");
  EXPECT_EQ(tcb.tcb_levels[0].status, TcbStatus::up_to_date);
  EXPECT_EQ(tcb.tcb_levels.back().status, TcbStatus::out_of_date);
  const EnclaveIdentity& qe = collateral.qe_identity.value;
  EXPECT_EQ(qe.id, "TD_QE");
  EXPECT_EQ(qe.isvprodid, 2);
  EXPECT_EQ(qe.miscselect, 0u);
  EXPECT_EQ(qe.miscselect_mask, 0xFFFFFFFFu);
  EXPECT_EQ(hex_encode(qe.attributes_mask), "fbffffffffffffff0000000000000000");
  EXPECT_EQ(hex_encode(qe.mrsigner),
            "dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5");
  ASSERT_EQ(qe.tcb_levels.size(), 1u);
  EXPECT_EQ(qe.tcb_levels[0].isvsvn, 4);
}

TEST(CollateralBundle, SgxCollateralCarriesTheExpectedAdvisories) {
  const Collateral collateral = load_bundle("quotes/phala-dcap-qvl/sgx_quote_collateral.json");
  const TcbInfo& tcb = collateral.tcb_info.value;
  EXPECT_FALSE(tcb.is_tdx());
  EXPECT_FALSE(tcb.tdx_module.has_value());
  // vectors.json: the SGX quote evaluates to ConfigurationAndSWHardeningNeeded with these two.
  const std::vector<std::string> expected = {"INTEL-SA-00289", "INTEL-SA-00615"};
  const bool found = std::any_of(tcb.tcb_levels.begin(), tcb.tcb_levels.end(), [&](const auto& l) {
    return l.status == TcbStatus::configuration_and_sw_hardening_needed &&
           l.advisory_ids == expected;
  });
  EXPECT_TRUE(found);
  for (size_t i = 1; i < tcb.tcb_levels.size(); ++i) {
    const auto& higher = tcb.tcb_levels[i - 1];
    const auto& lower_level = tcb.tcb_levels[i];
    std::vector<uint16_t> a, b;
    for (size_t c = 0; c < kTcbComponentCount; ++c) {
      a.push_back(higher.sgx_components[c].svn);
      b.push_back(lower_level.sgx_components[c].svn);
    }
    a.push_back(higher.pcesvn);
    b.push_back(lower_level.pcesvn);
    EXPECT_GE(a, b) << "levels " << i - 1 << " and " << i;
  }
}

// ---- raw PCS responses and header chains (go-tdx-guest) ----

TEST(TcbInfoResponse, GoTdxGuestResponseParsesAndVerifies) {
  const std::string text = test::read_data("quotes/go-tdx-guest/sample_tcbInfo_response");
  auto signed_info = parse_tcb_info_response(text);
  ASSERT_TRUE(signed_info.ok()) << signed_info.error().to_string();
  const Json json = Json::parse(text);
  expect_tcb_info_matches(signed_info->value, json.at("tcbInfo"));
  EXPECT_EQ(hex_encode(signed_info->value.fmspc), "50806f000000");
  EXPECT_EQ(signed_info->value.tcb_evaluation_data_number, 15u);
  ASSERT_EQ(signed_info->value.tcb_levels.size(), 2u);
  EXPECT_EQ(signed_info->value.tcb_levels[1].advisory_ids.size(), 13u);
  EXPECT_EQ(signed_info->value.tcb_levels[1].advisory_ids.front(), "INTEL-SA-00106");
  EXPECT_EQ(hex_encode(signed_info->signature), json.at("signature").get<std::string>());
  // The signed bytes are the exact substring of the response.
  EXPECT_NE(text.find("{\"tcbInfo\":" + signed_info->signed_json + ",\"signature\""),
            std::string::npos);

  auto chain = parse_issuer_chain(test::read_data("quotes/go-tdx-guest/tcbInfoIssuerChain.urlenc"));
  ASSERT_TRUE(chain.ok()) << chain.error().to_string();
  ASSERT_EQ(chain->size(), 2u);
  auto ok = verify_signed_json(*signed_info, (*chain)[0]);
  EXPECT_TRUE(ok.ok()) << ok.error().to_string();
}

TEST(QeIdentityResponse, GoTdxGuestResponseParsesAndVerifies) {
  const std::string text = test::read_data("quotes/go-tdx-guest/sample_qeIdentity_response");
  auto signed_identity = parse_qe_identity_response(text);
  ASSERT_TRUE(signed_identity.ok()) << signed_identity.error().to_string();
  expect_identity_matches(signed_identity->value, Json::parse(text).at("enclaveIdentity"));
  EXPECT_EQ(signed_identity->value.issue_date, sys_days{2023y / 6 / 8} + 7h + 24min + 59s);
  auto chain =
      parse_issuer_chain(test::read_data("quotes/go-tdx-guest/qeIdentityIssuerChain.urlenc"));
  ASSERT_TRUE(chain.ok()) << chain.error().to_string();
  ASSERT_EQ(chain->size(), 2u);
  auto ok = verify_signed_json(*signed_identity, (*chain)[0]);
  EXPECT_TRUE(ok.ok()) << ok.error().to_string();
}

TEST(TcbInfoResponse, IntelSampleWithUnusualMemberOrderVerifies) {
  // Intel's synthetic sample writes "version" after "tdxModule"; only the raw substring (not a
  // re-serialisation in any canonical order) reproduces the signed bytes.
  const std::string text = test::read_data("quotes/intel-qvl-sample/tcbInfo.json");
  auto signed_info = parse_tcb_info_response(text);
  ASSERT_TRUE(signed_info.ok()) << signed_info.error().to_string();
  expect_tcb_info_matches(signed_info->value, Json::parse(text).at("tcbInfo"));
  EXPECT_EQ(signed_info->value.tcb_levels[0].sgx_components[1].svn, 65473);
  // This file lists the root first (unlike PCS headers and the bundle, leaf first), so the
  // signer is picked by subject.
  auto chain = parse_issuer_chain(test::read_data("quotes/intel-qvl-sample/tcbSignChain.pem"));
  ASSERT_TRUE(chain.ok()) << chain.error().to_string();
  ASSERT_EQ(chain->size(), 2u);
  EXPECT_NE((*chain)[0].subject().find("SGX Root CA"), std::string::npos);
  const Certificate& signer = (*chain)[1];
  EXPECT_NE(signer.subject().find("SGX TCB Signing"), std::string::npos);
  EXPECT_TRUE(verify_signed_json(*signed_info, signer).ok());
  EXPECT_FALSE(verify_signed_json(*signed_info, (*chain)[0]).ok());

  auto identity =
      parse_qe_identity_response(test::read_data("quotes/intel-qvl-sample/qeIdentity.json"));
  ASSERT_TRUE(identity.ok()) << identity.error().to_string();
  EXPECT_EQ(identity->value.miscselect, 0x13373B09u);
  EXPECT_EQ(identity->value.isvprodid, 29854);
  EXPECT_TRUE(verify_signed_json(*identity, signer).ok());
}

// Replaces the first occurrence of `from` after `after` in `text`.
std::string replace_once(std::string text, const std::string& from, const std::string& to,
                         size_t after = 0) {
  const size_t at = text.find(from, after);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST(TcbInfoResponse, SignatureCoversTheExactBytes) {
  const std::string text = test::read_data("quotes/go-tdx-guest/sample_tcbInfo_response");
  auto chain = parse_issuer_chain(test::read_data("quotes/go-tdx-guest/tcbInfoIssuerChain.urlenc"));
  ASSERT_TRUE(chain.ok());
  const Certificate& signer = (*chain)[0];
  auto verifies = [&](const std::string& response) {
    auto parsed = parse_tcb_info_response(response);
    EXPECT_TRUE(parsed.ok()) << parsed.error().to_string();
    return parsed.ok() && verify_signed_json(*parsed, signer).ok();
  };
  ASSERT_TRUE(verifies(text));
  // One digit of tcbEvaluationDataNumber (15 → 16).
  EXPECT_FALSE(verifies(
      replace_once(text, "\"tcbEvaluationDataNumber\":15", "\"tcbEvaluationDataNumber\":16")));
  // A space inside the inner object: same JSON value, different bytes.
  EXPECT_FALSE(verifies(replace_once(text, "\"version\":3", "\"version\": 3")));
  EXPECT_FALSE(verifies(replace_once(text, "{\"tcbInfo\":{", "{\"tcbInfo\":{ ")));
  // Whitespace outside the inner object is not signed, and must not change the cut.
  EXPECT_TRUE(verifies(replace_once(text, "{\"tcbInfo\":{", "{ \"tcbInfo\" :\n{")));
  EXPECT_TRUE(verifies(replace_once(text, "},\"signature\"", "} , \"signature\"")));
  // Members in the other order, and an escaped member name, locate the same object.
  const Json json = Json::parse(text);
  const std::string signed_json = parse_tcb_info_response(text)->signed_json;
  EXPECT_TRUE(verifies("{\"signature\":\"" + json.at("signature").get<std::string>() +
                       "\",\"tcbInfo\":" + signed_json + "}"));
  EXPECT_TRUE(verifies(replace_once(text, "{\"tcbInfo\"", "{\"tcb\\u0049nfo\"")));
}

TEST(QeIdentityResponse, SignatureCoversTheExactBytes) {
  Collateral collateral = load_bundle("quotes/phala-dcap-qvl/tdx_quote_collateral.json");
  const Certificate signer = collateral.qe_identity_issuer_chain[0];
  ASSERT_TRUE(verify_signed_json(collateral.qe_identity, signer).ok());
  SignedEnclaveIdentity digit = collateral.qe_identity;
  const size_t at = digit.signed_json.find("\"tcbEvaluationDataNumber\":") + 26;
  ASSERT_TRUE(std::isdigit(static_cast<unsigned char>(digit.signed_json[at])));
  digit.signed_json[at] = digit.signed_json[at] == '9' ? '8' : digit.signed_json[at] + 1;
  auto result = verify_signed_json(digit, signer);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, Errc::verify_failed);
  SignedEnclaveIdentity spaced = collateral.qe_identity;
  spaced.signed_json.insert(1, " ");
  EXPECT_FALSE(verify_signed_json(spaced, signer).ok());
  SignedTcbInfo tcb_spaced = collateral.tcb_info;
  tcb_spaced.signed_json.push_back(' ');
  EXPECT_FALSE(verify_signed_json(tcb_spaced, collateral.tcb_info_issuer_chain[0]).ok());
}

TEST(CollateralIssuerChain, UrlEncodedAndPlainPemAgree) {
  auto urlencoded =
      parse_issuer_chain(test::read_data("quotes/go-tdx-guest/tcbInfoIssuerChain.urlenc"));
  ASSERT_TRUE(urlencoded.ok());
  const Collateral collateral = load_bundle("quotes/go-tdx-guest/collateral_v4_phala_format.json");
  ASSERT_EQ(urlencoded->size(), collateral.tcb_info_issuer_chain.size());
  for (size_t i = 0; i < urlencoded->size(); ++i)
    EXPECT_EQ((*urlencoded)[i].der(), collateral.tcb_info_issuer_chain[i].der());
  auto pck_crl_chain =
      parse_issuer_chain(test::read_data("quotes/go-tdx-guest/pckCrlIssuerChain.urlenc"));
  ASSERT_TRUE(pck_crl_chain.ok());
  ASSERT_EQ(pck_crl_chain->size(), 2u);
  EXPECT_NE((*pck_crl_chain)[0].subject().find("PCK Platform CA"), std::string::npos);
}

TEST(CollateralIssuerChain, PercentDecodingIsStrict) {
  EXPECT_EQ(*percent_decode("a%20b%2Bc+d%0a"), "a b+c+d\n");
  for (const char* bad : {"%", "%4", "%G0", "abc%2", "%%20", "%-1"}) {
    auto decoded = percent_decode(bad);
    ASSERT_FALSE(decoded.ok()) << bad;
    EXPECT_EQ(decoded.error().code, Errc::parse);
  }
  const std::string chain = test::read_data("quotes/go-tdx-guest/tcbInfoIssuerChain.urlenc");
  EXPECT_FALSE(parse_issuer_chain(chain + "%2").ok());
  EXPECT_FALSE(parse_issuer_chain("%0A").ok());
  EXPECT_FALSE(parse_issuer_chain("").ok());
}

TEST(CollateralCrl, DerPemAndHexForms) {
  const Bytes pck_der = test::read_data_bytes("quotes/go-tdx-guest/pckcrl");
  const Bytes root_der = test::read_data_bytes("quotes/go-tdx-guest/rootcrl.der");
  auto pck = parse_crl(pck_der);
  ASSERT_TRUE(pck.ok()) << pck.error().to_string();
  EXPECT_NE(pck->issuer().find("PCK Platform CA"), std::string::npos);
  auto root = parse_crl(root_der);
  ASSERT_TRUE(root.ok()) << root.error().to_string();
  EXPECT_NE(root->issuer().find("SGX Root CA"), std::string::npos);

  const std::string hex = hex_encode(root_der);
  auto from_hex = parse_crl(as_bytes(hex));
  ASSERT_TRUE(from_hex.ok()) << from_hex.error().to_string();
  EXPECT_EQ(from_hex->this_update(), root->this_update());
  std::string upper_hex = hex;
  for (char& ch : upper_hex) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  EXPECT_TRUE(parse_crl(as_bytes(upper_hex)).ok());

  std::string pem = "-----BEGIN X509 CRL-----\n";
  const std::string b64 = base64_encode(root_der);
  for (size_t i = 0; i < b64.size(); i += 64) pem += b64.substr(i, 64) + "\n";
  pem += "-----END X509 CRL-----\n";
  auto from_pem = parse_crl(as_bytes(pem));
  ASSERT_TRUE(from_pem.ok()) << from_pem.error().to_string();
  EXPECT_EQ(from_pem->this_update(), root->this_update());

  EXPECT_FALSE(parse_crl(as_bytes(hex.substr(1))).ok());                  // odd length
  EXPECT_FALSE(parse_crl(as_bytes(hex.substr(0, hex.size() - 2))).ok());  // truncated DER
  EXPECT_FALSE(parse_crl(ByteView{}).ok());
}

// ---- hostile JSON ----

// The inner tcbInfo of the go-tdx-guest response (TDX v3, two levels), to be mutated.
Json base_tcb_info() {
  return Json::parse(test::read_data("quotes/go-tdx-guest/sample_tcbInfo_response")).at("tcbInfo");
}
Json base_module_tcb_info() {
  const Json bundle =
      Json::parse(test::read_data("quotes/phala-dcap-qvl/tdx_quote_collateral.json"));
  return Json::parse(bundle.at("tcb_info").get<std::string>());
}
Json base_identity() {
  return Json::parse(test::read_data("quotes/go-tdx-guest/sample_qeIdentity_response"))
      .at("enclaveIdentity");
}

void expect_error(const Error& error, Errc code, const std::string& fragment) {
  EXPECT_EQ(error.code, code) << error.to_string();
  EXPECT_NE(error.message.find(fragment), std::string::npos)
      << "expected '" << fragment << "' in: " << error.message;
}

struct Mutation {
  const char* expected_message;
  std::function<void(Json&)> mutate;
};

TEST(TcbInfoHostile, MalformedMembersNameTheirPath) {
  const std::vector<Mutation> mutations = {
      {"tcbInfo.version: expected an unsigned integer", [](Json& j) { j["version"] = "3"; }},
      {"tcbInfo.fmspc: missing", [](Json& j) { j.erase("fmspc"); }},
      {"tcbInfo.fmspc: expected a string", [](Json& j) { j["fmspc"] = 5; }},
      {"tcbInfo.fmspc: expected 6 bytes", [](Json& j) { j["fmspc"] = "50806f0000"; }},
      {"tcbInfo.fmspc: hex", [](Json& j) { j["fmspc"] = "50806f00000g"; }},
      {"tcbInfo.pceId: expected 2 bytes", [](Json& j) { j["pceId"] = "000"; }},
      {"tcbInfo.issueDate: time", [](Json& j) { j["issueDate"] = "2023-06-18 08:42"; }},
      {"tcbInfo.nextUpdate: time", [](Json& j) { j["nextUpdate"] = "2023-13-18T08:42:58Z"; }},
      {"tcbInfo.tcbEvaluationDataNumber: expected an unsigned integer",
       [](Json& j) { j["tcbEvaluationDataNumber"] = -1; }},
      {"tcbInfo.tcbType: expected an unsigned integer", [](Json& j) { j["tcbType"] = 0.5; }},
      {"tcbInfo.tdxModule: missing", [](Json& j) { j.erase("tdxModule"); }},
      {"tcbInfo.tdxModule.mrsigner: expected 48 bytes",
       [](Json& j) { j["tdxModule"]["mrsigner"] = "00"; }},
      {"tcbInfo.tdxModule.attributesMask: missing",
       [](Json& j) { j["tdxModule"].erase("attributesMask"); }},
      {"tcbInfo.tcbLevels: expected an array", [](Json& j) { j["tcbLevels"] = Json::object(); }},
      {"tcbInfo.tcbLevels: expected a non-empty array",
       [](Json& j) { j["tcbLevels"] = Json::array(); }},
      {"tcbInfo.tcbLevels[1].tcb: missing", [](Json& j) { j["tcbLevels"][1].erase("tcb"); }},
      {"tcbInfo.tcbLevels[1].tcb.sgxtcbcomponents: expected 16 components, got 15",
       [](Json& j) { j["tcbLevels"][1]["tcb"]["sgxtcbcomponents"].erase(15); }},
      {"tcbInfo.tcbLevels[0].tcb.tdxtcbcomponents: expected 16 components, got 17",
       [](Json& j) {
         j["tcbLevels"][0]["tcb"]["tdxtcbcomponents"].push_back({{"svn", 0}});
       }},
      {"tcbInfo.tcbLevels[0].tcb.tdxtcbcomponents: missing",
       [](Json& j) { j["tcbLevels"][0]["tcb"].erase("tdxtcbcomponents"); }},
      {"tcbInfo.tcbLevels[0].tcb.sgxtcbcomponents[3]: expected an object with 'svn'",
       [](Json& j) { j["tcbLevels"][0]["tcb"]["sgxtcbcomponents"][3] = 2; }},
      {"tcbInfo.tcbLevels[0].tcb.sgxtcbcomponents[3].svn: value 65536 exceeds 65535",
       [](Json& j) { j["tcbLevels"][0]["tcb"]["sgxtcbcomponents"][3]["svn"] = 65536; }},
      {"tcbInfo.tcbLevels[0].tcb.sgxtcbcomponents[0].category: expected a string",
       [](Json& j) { j["tcbLevels"][0]["tcb"]["sgxtcbcomponents"][0]["category"] = 1; }},
      {"tcbInfo.tcbLevels[0].tcb.pcesvn: expected an unsigned integer",
       [](Json& j) { j["tcbLevels"][0]["tcb"]["pcesvn"] = nullptr; }},
      {"tcbInfo.tcbLevels[0].tcbDate: time", [](Json& j) { j["tcbLevels"][0]["tcbDate"] = "x"; }},
      {"tcbInfo.tcbLevels[0].tcbStatus: unrecognized status 'upToDate'",
       [](Json& j) { j["tcbLevels"][0]["tcbStatus"] = "upToDate"; }},
      {"tcbInfo.tcbLevels[0].tcbStatus: unrecognized status 'TDRelaunchAdvised'",
       [](Json& j) { j["tcbLevels"][0]["tcbStatus"] = "TDRelaunchAdvised"; }},
      {"tcbInfo.tcbLevels[1].advisoryIDs[2]: expected a string",
       [](Json& j) { j["tcbLevels"][1]["advisoryIDs"][2] = 7; }},
      {"tcbInfo.tcbLevels[1].advisoryIDs: expected an array",
       [](Json& j) { j["tcbLevels"][1]["advisoryIDs"] = "INTEL-SA-00106"; }},
      {"tcbInfo.id: expected a string", [](Json& j) { j["id"] = Json::array(); }},
  };
  for (const Mutation& m : mutations) {
    Json json = base_tcb_info();
    m.mutate(json);
    auto result = parse_tcb_info_json(json.dump());
    ASSERT_FALSE(result.ok()) << m.expected_message;
    expect_error(result.error(), Errc::parse, m.expected_message);
  }
}

TEST(TcbInfoHostile, ModuleIdentityErrorsNameTheirPath) {
  const std::vector<Mutation> mutations = {
      {"tcbInfo.tdxModuleIdentities: expected an array",
       [](Json& j) { j["tdxModuleIdentities"] = 1; }},
      {"tcbInfo.tdxModuleIdentities[1].id: missing",
       [](Json& j) { j["tdxModuleIdentities"][1].erase("id"); }},
      {"tcbInfo.tdxModuleIdentities[0].attributes: expected 8 bytes",
       [](Json& j) { j["tdxModuleIdentities"][0]["attributes"] = "00"; }},
      {"tcbInfo.tdxModuleIdentities[0].tcbLevels[0].tcb.isvsvn: expected an unsigned integer",
       [](Json& j) { j["tdxModuleIdentities"][0]["tcbLevels"][0]["tcb"]["isvsvn"] = "1"; }},
      {"tcbInfo.tdxModuleIdentities[0].tcbLevels[0].tcbStatus: unrecognized status 'Fine'",
       [](Json& j) { j["tdxModuleIdentities"][0]["tcbLevels"][0]["tcbStatus"] = "Fine"; }},
  };
  for (const Mutation& m : mutations) {
    Json json = base_module_tcb_info();
    m.mutate(json);
    auto result = parse_tcb_info_json(json.dump());
    ASSERT_FALSE(result.ok()) << m.expected_message;
    expect_error(result.error(), Errc::parse, m.expected_message);
  }
}

TEST(TcbInfoHostile, TextLevelProblems) {
  const std::string inner = base_tcb_info().dump();
  // Duplicate member names are refused, wherever they are.
  expect_error(
      parse_tcb_info_json(replace_once(inner, "\"version\":3", "\"version\":3,\"version\":4"))
          .error(),
      Errc::parse, "tcbInfo: ");
  EXPECT_FALSE(
      parse_tcb_info_json(replace_once(inner, "\"pcesvn\":11", "\"pcesvn\":11,\"pcesvn\":1")).ok());
  expect_error(parse_tcb_info_json("[1,2]").error(), Errc::parse, "tcbInfo: expected an object");
  EXPECT_FALSE(parse_tcb_info_json("").ok());
  EXPECT_FALSE(parse_tcb_info_json(inner.substr(0, inner.size() - 1)).ok());
  Json v4 = base_tcb_info();
  v4["version"] = 4;
  expect_error(parse_tcb_info_json(v4.dump()).error(), Errc::unsupported, "tcbInfo.version");
  Json other_id = base_tcb_info();
  other_id["id"] = "SEV";
  expect_error(parse_tcb_info_json(other_id.dump()).error(), Errc::unsupported, "tcbInfo.id");

  // Response envelopes.
  const std::string response = test::read_data("quotes/go-tdx-guest/sample_tcbInfo_response");
  expect_error(parse_tcb_info_response("{\"signature\":\"00\"}").error(), Errc::parse, "'tcbInfo'");
  expect_error(
      parse_tcb_info_response(replace_once(response, "\"signature\":\"f6", "\"signature\":\""))
          .error(),
      Errc::parse, "signature: expected 64 bytes");
  expect_error(parse_tcb_info_response(replace_once(response, "\"signature\"", "\"sig\"")).error(),
               Errc::parse, "signature: ");
  expect_error(parse_tcb_info_response(
                   replace_once(response, "\"tcbType\":0", "\"tcbType\":0,\"tcbType\":0"))
                   .error(),
               Errc::parse, "duplicate");
  expect_error(parse_tcb_info_response("{\"tcbInfo\":[],\"signature\":\"\"}").error(), Errc::parse,
               "tcbInfo: expected an object");
}

TEST(TcbInfoHostile, LevelsAreSortedHighestFirst) {
  Json reversed = base_tcb_info();
  std::reverse(reversed["tcbLevels"].begin(), reversed["tcbLevels"].end());
  auto sorted = parse_tcb_info_json(reversed.dump());
  ASSERT_TRUE(sorted.ok()) << sorted.error().to_string();
  ASSERT_EQ(sorted->tcb_levels.size(), 2u);
  EXPECT_EQ(sorted->tcb_levels[0].pcesvn, 11);  // the UpToDate level, served first
  EXPECT_EQ(sorted->tcb_levels[1].pcesvn, 5);

  Json module_levels = base_module_tcb_info();
  Json& levels = module_levels["tdxModuleIdentities"][0]["tcbLevels"];
  levels.push_back(levels[0]);
  levels.back()["tcb"]["isvsvn"] = 99;
  auto with_module = parse_tcb_info_json(module_levels.dump());
  ASSERT_TRUE(with_module.ok()) << with_module.error().to_string();
  EXPECT_EQ(with_module->tdx_module_identities[0].tcb_levels.front().isvsvn, 99);
}

TEST(QeIdentityHostile, MalformedMembersNameTheirPath) {
  const std::vector<Mutation> mutations = {
      {"enclaveIdentity.id: missing", [](Json& j) { j.erase("id"); }},
      {"enclaveIdentity.miscselect: expected 4 bytes", [](Json& j) { j["miscselect"] = "0"; }},
      {"enclaveIdentity.miscselectMask: hex", [](Json& j) { j["miscselectMask"] = "FFFFFFFX"; }},
      {"enclaveIdentity.attributes: expected 16 bytes",
       [](Json& j) { j["attributes"] = "1100000000000000"; }},
      {"enclaveIdentity.mrsigner: expected a string", [](Json& j) { j["mrsigner"] = true; }},
      {"enclaveIdentity.isvprodid: value 70000 exceeds 65535",
       [](Json& j) { j["isvprodid"] = 70000; }},
      {"enclaveIdentity.issueDate: missing", [](Json& j) { j.erase("issueDate"); }},
      {"enclaveIdentity.nextUpdate: time",
       [](Json& j) { j["nextUpdate"] = "2023-07-08T07:24:59"; }},
      {"enclaveIdentity.tcbLevels: missing", [](Json& j) { j.erase("tcbLevels"); }},
      {"enclaveIdentity.tcbLevels[0].tcb.isvsvn: missing",
       [](Json& j) { j["tcbLevels"][0]["tcb"] = Json::object(); }},
      {"enclaveIdentity.tcbLevels[0].tcbStatus: unrecognized status 'SWHardeningNeeded'",
       [](Json& j) { j["tcbLevels"][0]["tcbStatus"] = "SWHardeningNeeded"; }},
      {"enclaveIdentity.tcbLevels[0].tcbStatus: expected a string",
       [](Json& j) { j["tcbLevels"][0]["tcbStatus"] = 0; }},
  };
  for (const Mutation& m : mutations) {
    Json json = base_identity();
    m.mutate(json);
    auto result = parse_enclave_identity_json(json.dump());
    ASSERT_FALSE(result.ok()) << m.expected_message;
    expect_error(result.error(), Errc::parse, m.expected_message);
  }
  Json v3 = base_identity();
  v3["version"] = 3;
  expect_error(parse_enclave_identity_json(v3.dump()).error(), Errc::unsupported,
               "enclaveIdentity.version");
}

TEST(CollateralBundleHostile, ErrorsNameTheMember) {
  const std::string text = test::read_data("quotes/phala-dcap-qvl/tdx_quote_collateral.json");
  const Json bundle = Json::parse(text);
  auto with = [&](const std::function<void(Json&)>& mutate) {
    Json copy = bundle;
    mutate(copy);
    return parse_collateral_bundle(copy.dump());
  };
  expect_error(with([](Json& j) { j.erase("tcb_info"); }).error(), Errc::parse,
               "tcb_info: missing member");
  expect_error(with([](Json& j) { j["qe_identity"] = Json::object(); }).error(), Errc::parse,
               "qe_identity: member 'qe_identity' is not a string");
  expect_error(with([](Json& j) { j["tcb_info_signature"] = "abcd"; }).error(), Errc::parse,
               "tcb_info_signature: expected 64 bytes");
  expect_error(with([](Json& j) { j["qe_identity_signature"] = std::string(128, 'z'); }).error(),
               Errc::parse, "qe_identity_signature: ");
  expect_error(with([](Json& j) { j["root_ca_crl"] = "3082"; }).error(), Errc::parse,
               "root_ca_crl: ");
  expect_error(with([](Json& j) { j["pck_crl"] = "not a crl"; }).error(), Errc::parse, "pck_crl: ");
  expect_error(
      with([](Json& j) { j["pck_crl_issuer_chain"] = "-----BEGIN CERTIFICATE-----\n"; }).error(),
      Errc::parse, "pck_crl_issuer_chain: ");
  expect_error(with([](Json& j) {
                 Json inner = Json::parse(j["tcb_info"].get<std::string>());
                 inner["tcbLevels"][1]["tcb"]["sgxtcbcomponents"].erase(0);
                 j["tcb_info"] = inner.dump();
               }).error(),
               Errc::parse, "tcb_info.tcbLevels[1].tcb.sgxtcbcomponents: expected 16 components");
  expect_error(with([](Json& j) {
                 Json inner = Json::parse(j["qe_identity"].get<std::string>());
                 inner["tcbLevels"][0]["tcbStatus"] = "Unknown";
                 j["qe_identity"] = inner.dump();
               }).error(),
               Errc::parse, "qe_identity.tcbLevels[0].tcbStatus: unrecognized status");
  expect_error(parse_collateral_bundle("[]").error(), Errc::parse, "expected a JSON object");
  expect_error(parse_collateral_bundle(replace_once(text, "{", "{\"pck_crl\":\"\",")).error(),
               Errc::parse, "duplicate");
  // The optional PCK chain is read when present.
  auto with_pck = with([](Json& j) { j["pck_certificate_chain"] = j["pck_crl_issuer_chain"]; });
  ASSERT_TRUE(with_pck.ok()) << with_pck.error().to_string();
  EXPECT_EQ(with_pck->pck_certificate_chain.size(), 2u);
}

TEST(TcbInfoSgxV2, FlatComponentMembersParse) {
  // SGX TCB info v2 (no "id"; components as sgxtcbcomp01svn..16svn), built from the v3 SGX
  // collateral so that the two readings can be compared.
  const Json bundle =
      Json::parse(test::read_data("quotes/phala-dcap-qvl/sgx_quote_collateral.json"));
  const Json v3 = Json::parse(bundle.at("tcb_info").get<std::string>());
  Json v2 = v3;
  v2.erase("id");
  v2["version"] = 2;
  for (Json& level : v2["tcbLevels"]) {
    Json& tcb = level["tcb"];
    for (size_t c = 0; c < kTcbComponentCount; ++c) {
      char key[24];
      std::snprintf(key, sizeof key, "sgxtcbcomp%02zusvn", c + 1);
      tcb[key] = tcb["sgxtcbcomponents"][c]["svn"];
    }
    tcb.erase("sgxtcbcomponents");
  }
  auto from_v2 = parse_tcb_info_json(v2.dump());
  ASSERT_TRUE(from_v2.ok()) << from_v2.error().to_string();
  auto from_v3 = parse_tcb_info_json(v3.dump());
  ASSERT_TRUE(from_v3.ok());
  EXPECT_EQ(from_v2->id, "SGX");
  EXPECT_EQ(from_v2->version, 2u);
  ASSERT_EQ(from_v2->tcb_levels.size(), from_v3->tcb_levels.size());
  for (size_t i = 0; i < from_v2->tcb_levels.size(); ++i) {
    EXPECT_EQ(from_v2->tcb_levels[i].pcesvn, from_v3->tcb_levels[i].pcesvn);
    EXPECT_EQ(from_v2->tcb_levels[i].status, from_v3->tcb_levels[i].status);
    for (size_t c = 0; c < kTcbComponentCount; ++c)
      EXPECT_EQ(from_v2->tcb_levels[i].sgx_components[c].svn,
                from_v3->tcb_levels[i].sgx_components[c].svn);
  }
  v2["tcbLevels"][2]["tcb"].erase("sgxtcbcomp16svn");
  expect_error(parse_tcb_info_json(v2.dump()).error(), Errc::parse,
               "tcbInfo.tcbLevels[2].tcb.sgxtcbcomp16svn: missing");
  Json tdx_v2 = base_tcb_info();
  tdx_v2["version"] = 2;
  expect_error(parse_tcb_info_json(tdx_v2.dump()).error(), Errc::parse, "tcbInfo.version");
}

TEST(TcbInfoStatus, NamesRoundTrip) {
  for (const char* name :
       {"UpToDate", "SWHardeningNeeded", "ConfigurationNeeded", "ConfigurationAndSWHardeningNeeded",
        "OutOfDate", "OutOfDateConfigurationNeeded", "Revoked"}) {
    auto status = tcb_status_from_name(name);
    ASSERT_TRUE(status.has_value()) << name;
    EXPECT_EQ(tcb_status_name(*status), name);
  }
  EXPECT_FALSE(tcb_status_from_name("uptodate").has_value());
  EXPECT_FALSE(tcb_status_from_name("").has_value());
}

}  // namespace
}  // namespace acon::dcap
