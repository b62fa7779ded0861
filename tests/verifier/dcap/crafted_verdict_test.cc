// Crafted inputs where acon once disagreed with Intel QVL (issue 17): quotes, certification data
// and collateral made and re-signed with the simulator's PKI, so TCB-policy and chain cases need
// no Intel keys. Each test states the verdict the newest QVL gives and the rule behind it
// (docs/dcap-verification.md §4, §8, §12).
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "acon/common/hash.h"
#include "acon/common/json.h"
#include "acon/common/keys.h"
#include "acon/common/signature.h"
#include "acon/dcap/claims.h"
#include "acon/dcap/verify.h"
#include "acon/guest/sim/sim.h"
#include "acon/tdx/quote.h"
#include "test_util.h"

namespace acon::dcap {
namespace {

using guest::sim::CreateOptions;
using guest::sim::Simulator;

using test::at;

const Time kIssue = at("2025-06-01T00:00:00Z");
const Time kCheck = kIssue + std::chrono::hours(24);

Simulator make(uint16_t quote_version = 4) {
  CreateOptions options;
  options.seed = sha256(as_bytes(std::string_view("crafted_verdict_test")));
  options.dates = guest::sim::default_dates(kIssue);
  options.quote_version = quote_version;
  auto sim = Simulator::create(options);
  if (!sim) throw std::runtime_error(sim.error().to_string());
  return *std::move(sim);
}

VerifyOptions trusting(const Simulator& sim) {
  VerifyOptions options;
  options.at = kCheck;
  options.anchors.roots = {sim.root_ca()};
  return options;
}

Bytes fresh_quote(const Simulator& sim) {
  guest::ReportData data;
  data.fill(0x17);
  auto quote = sim.quote(data);
  if (!quote) throw std::runtime_error(quote.error().to_string());
  return *std::move(quote);
}

Collateral collateral_of(const Simulator& sim) {
  auto collateral = sim.collateral();
  if (!collateral) throw std::runtime_error(collateral.error().to_string());
  return *std::move(collateral);
}

QuoteVerdict verify(ByteView quote, const Collateral& collateral, const VerifyOptions& options) {
  auto verdict = verify_quote(quote, collateral, options);
  if (!verdict) throw std::runtime_error(verdict.error().to_string());
  return *std::move(verdict);
}

std::string status_text(const QuoteVerdict& verdict) {
  return std::string(qvl_status_text(verdict.status));
}

// The quote with its (inner) PCK certification data replaced; nothing signs those bytes.
Bytes with_certification(ByteView quote, uint16_t type, ByteView data) {
  auto parsed = tdx::parse_quote(quote);
  if (!parsed) throw std::runtime_error(parsed.error().to_string());
  tdx::QuoteFields fields = tdx::quote_fields(*parsed);
  fields.pck_certification.type = type;
  fields.pck_certification.data = data;
  auto written = tdx::write_quote(fields);
  if (!written) throw std::runtime_error(written.error().to_string());
  return *std::move(written);
}

Bytes text_bytes(std::string_view text) { return Bytes(text.begin(), text.end()); }

// The simulator's TCB signing key, from its state document (tests only).
PrivateKey tcb_signing_key(const Simulator& sim) {
  const SecretBytes state = sim.to_state_json();
  auto doc = parse_json(as_chars(view(state)));
  if (!doc) throw std::runtime_error(doc.error().to_string());
  auto key = PrivateKey::from_pem((*doc)["keys"]["tcb_signing"].get<std::string>());
  if (!key) throw std::runtime_error(key.error().to_string());
  return *std::move(key);
}

std::array<uint8_t, 64> sign_json(const PrivateKey& key, const std::string& text) {
  auto signature =
      sign(key, SigScheme{SigKind::ecdsa, HashAlg::sha256}, as_bytes(text), EcdsaEncoding::raw);
  if (!signature || signature->size() != 64) throw std::runtime_error("signing failed");
  std::array<uint8_t, 64> out{};
  std::copy(signature->begin(), signature->end(), out.begin());
  return out;
}

// Signed collateral text as the simulator wrote it, changed by `edit`, signed again.
template <class Edit>
std::string edited(const std::string& signed_json, Edit edit) {
  auto doc = parse_json(signed_json);
  if (!doc) throw std::runtime_error(doc.error().to_string());
  edit(*doc);
  return doc->dump();
}

template <class Edit>
Result<Collateral> with_tcb_info(const Simulator& sim, Edit edit) {
  Collateral collateral = collateral_of(sim);
  const std::string text = edited(collateral.tcb_info.signed_json, edit);
  ACON_TRY(collateral.tcb_info.value, parse_tcb_info_json(text));
  collateral.tcb_info.signed_json = text;
  collateral.tcb_info.signature = sign_json(tcb_signing_key(sim), text);
  return collateral;
}

template <class Edit>
Result<Collateral> with_qe_identity(const Simulator& sim, Edit edit) {
  Collateral collateral = collateral_of(sim);
  const std::string text = edited(collateral.qe_identity.signed_json, edit);
  ACON_TRY(collateral.qe_identity.value, parse_enclave_identity_json(text));
  collateral.qe_identity.signed_json = text;
  collateral.qe_identity.signature = sign_json(tcb_signing_key(sim), text);
  return collateral;
}

// ---- finding 1: TD 1.5, the current TCB (TEE_TCB_SVN2) fails ----
// QVL TcbLevelCheck.cpp checkTcbLevel: a failed evaluation of TEE_TCB_SVN2 is the verdict.

TEST(CraftedTd15, CurrentModuleWithoutIdentityIsTcbNotSupported) {
  for (bool launched_below : {false, true}) {
    SCOPED_TRACE(launched_below ? "launch TCB out of date" : "launch TCB up to date");
    Simulator sim = make(5);
    if (launched_below) {
      ASSERT_TRUE(sim.launch_below_current_tcb().ok());
    }
    // A TD-preserving update to module major version 2, which the TCB info does not list yet.
    sim.td().tee_tcb_svn2[1] = 2;
    const QuoteVerdict verdict = verify(fresh_quote(sim), collateral_of(sim), trusting(sim));
    EXPECT_FALSE(verdict.accepted);
    EXPECT_EQ(status_text(verdict), "STATUS_TCB_NOT_SUPPORTED") << verdict.failure;
    EXPECT_NE(verdict.failure.find("TDX_02"), std::string::npos) << verdict.failure;
  }
}

TEST(CraftedTd15, CurrentSvnBelowEveryLevelIsTcbNotSupported) {
  Simulator sim = make(5);
  // TCB info without its floor level (re-signed): TEE_TCB_SVN2[2] = 0 then matches no level.
  auto collateral = with_tcb_info(sim, [](Json& info) {
    Json& levels = info["tcbLevels"];
    levels.erase(levels.size() - 1);
  });
  ASSERT_TRUE(collateral.ok()) << collateral.error().to_string();
  EXPECT_TRUE(verify(fresh_quote(sim), *collateral, trusting(sim)).accepted);
  sim.td().tee_tcb_svn2[2] = 0;
  const QuoteVerdict verdict = verify(fresh_quote(sim), *collateral, trusting(sim));
  EXPECT_FALSE(verdict.accepted);
  EXPECT_EQ(status_text(verdict), "STATUS_TCB_NOT_SUPPORTED") << verdict.failure;
}

TEST(CraftedTd15, CurrentModuleMinorBelowEveryLevelIsTcbNotSupported) {
  Simulator sim = make(5);
  // TDX_01 with only its UpToDate level (isvsvn = the platform's module minor version).
  auto collateral = with_tcb_info(sim, [](Json& info) {
    Json& levels = info["tdxModuleIdentities"][0]["tcbLevels"];
    levels.erase(levels.size() - 1);
  });
  ASSERT_TRUE(collateral.ok()) << collateral.error().to_string();
  EXPECT_TRUE(verify(fresh_quote(sim), *collateral, trusting(sim)).accepted);
  sim.td().tee_tcb_svn2[0] = static_cast<uint8_t>(sim.td().tee_tcb_svn2[0] - 1);
  const QuoteVerdict verdict = verify(fresh_quote(sim), *collateral, trusting(sim));
  EXPECT_FALSE(verdict.accepted);
  EXPECT_EQ(status_text(verdict), "STATUS_TCB_NOT_SUPPORTED") << verdict.failure;
  // The relaunch rule stands: launched below, running current → relaunch advised.
  Simulator relaunch = make(5);
  ASSERT_TRUE(relaunch.launch_below_current_tcb().ok());
  EXPECT_EQ(verify(fresh_quote(relaunch), collateral_of(relaunch), trusting(relaunch)).status,
            QvlStatus::tcb_td_relaunch_advised);
}

// ---- findings 2, 3, 6: where the PCK chain comes from ----

TEST(CraftedChain, StrayControlByteAfterTheChainKeepsTheQuotesChain) {
  Simulator sim = make();
  const std::string pem = sim.pck_chain_pem();
  Collateral collateral = collateral_of(sim);
  collateral.pck_certificate_chain.clear();  // nothing to fall back on, and none needed
  for (const std::string& trailer :
       {std::string("\x01"), std::string("\x01\x7f junk"), std::string("printable junk\n")}) {
    SCOPED_TRACE(hex_encode(as_bytes(trailer)));
    const Bytes data = text_bytes(pem + trailer);
    const Bytes quote = with_certification(fresh_quote(sim), tdx::cert_data::kPckCertChain, data);
    const QuoteVerdict verdict = verify(quote, collateral, trusting(sim));
    EXPECT_TRUE(verdict.accepted) << verdict.failure;
    EXPECT_FALSE(verdict.pck_chain_from_collateral);
    EXPECT_TRUE(verdict.simulated);
    EXPECT_EQ(verdict_json(verdict)["simulated"], true);
  }
}

TEST(CraftedChain, NulAfterTheLeafEndsTheChainAndNeverFallsBack) {
  Simulator sim = make();
  const std::string pem = sim.pck_chain_pem();
  const size_t leaf_end = pem.find("-----END CERTIFICATE-----") + 25;
  std::string cut = pem;
  cut.insert(leaf_end + 1, 1, '\0');  // after the leaf's line break
  Collateral collateral = collateral_of(sim);
  auto chain = pck_chain_from_pem(pem);
  ASSERT_TRUE(chain.ok());
  collateral.pck_certificate_chain = *chain;  // a valid chain QVL would never look at
  for (bool allow : {false, true}) {
    VerifyOptions options = trusting(sim);
    options.allow_collateral_pck_chain = allow;
    const QuoteVerdict verdict =
        verify(with_certification(fresh_quote(sim), tdx::cert_data::kPckCertChain, text_bytes(cut)),
               collateral, options);
    EXPECT_FALSE(verdict.accepted);
    EXPECT_EQ(status_text(verdict), "STATUS_UNSUPPORTED_CERT_FORMAT") << verdict.failure;
    EXPECT_FALSE(verdict.pck_chain_from_collateral);
  }
}

TEST(CraftedChain, OtherCertificationDataTypesNeedTheExplicitOption) {
  Simulator sim = make();
  Collateral collateral = collateral_of(sim);
  auto chain = pck_chain_from_pem(sim.pck_chain_pem());
  ASSERT_TRUE(chain.ok());
  collateral.pck_certificate_chain = *chain;
  const Bytes ppid(16 + 16 + 2 + 2, 0x5A);  // PPID, CPUSVN, PCESVN, PCE-ID: no chain here
  for (uint16_t type = 1; type <= 4; ++type) {
    SCOPED_TRACE("type " + std::to_string(type));
    const Bytes quote = with_certification(fresh_quote(sim), type, ppid);
    const QuoteVerdict rejected = verify(quote, collateral, trusting(sim));
    EXPECT_FALSE(rejected.accepted);
    EXPECT_EQ(status_text(rejected), "STATUS_UNSUPPORTED_QE_CERTIFICATION_DATA_TYPE");
    EXPECT_EQ(qve_result_of(rejected.status), kQvResultUnspecified);

    VerifyOptions allowing = trusting(sim);
    allowing.allow_collateral_pck_chain = true;
    const QuoteVerdict allowed = verify(quote, collateral, allowing);
    EXPECT_TRUE(allowed.accepted) << allowed.failure;
    EXPECT_TRUE(allowed.pck_chain_from_collateral);
    EXPECT_EQ(verdict_json(allowed)["pck_chain_source"], "collateral");
    // Finding 2: decided once, from the chain actually verified, and reported identically.
    EXPECT_TRUE(allowed.simulated);
    EXPECT_EQ(verdict_json(allowed)["simulated"], true);
    auto parsed = tdx::parse_quote(quote);
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(quote_claims(*parsed, allowed)["simulated"], true);
  }
}

// ---- finding 4: PEM dialects QVL refuses ----

TEST(CraftedChain, OnlyPlainCertificateBlocks) {
  Simulator sim = make();
  const std::string pem = sim.pck_chain_pem();
  std::string x509_leaf = pem;
  x509_leaf.replace(x509_leaf.find("-----BEGIN CERTIFICATE-----"), 27,
                    "-----BEGIN X509 CERTIFICATE-----");
  x509_leaf.replace(x509_leaf.find("-----END CERTIFICATE-----"), 25,
                    "-----END X509 CERTIFICATE-----");
  std::string encrypted = pem;
  encrypted.insert(
      encrypted.find('\n') + 1,
      "Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\n");
  Collateral collateral = collateral_of(sim);
  for (const std::string& text : {x509_leaf, encrypted}) {
    const QuoteVerdict verdict = verify(
        with_certification(fresh_quote(sim), tdx::cert_data::kPckCertChain, text_bytes(text)),
        collateral, trusting(sim));
    EXPECT_FALSE(verdict.accepted);
    EXPECT_EQ(status_text(verdict), "STATUS_UNSUPPORTED_CERT_FORMAT") << verdict.failure;
  }
  // Bytes outside the blocks do not matter, as in QVL's split: text before the first block and
  // between blocks is skipped.
  std::string chatty = "issued by the simulator\n" + pem;
  chatty.insert(chatty.find("-----END CERTIFICATE-----") + 26, "between blocks\n");
  EXPECT_TRUE(verify(with_certification(fresh_quote(sim), tdx::cert_data::kPckCertChain,
                                        text_bytes(chatty)),
                     collateral, trusting(sim))
                  .accepted);
}

// ---- finding 5: duplicated TCB levels, QE identity order ----
// QVL TcbInfo.cpp / EnclaveIdentity.cpp / TdxModuleIdentity.cpp: "Detected duplicated TCB levels".

TEST(CraftedCollateral, DuplicatedTcbLevelsAreRefused) {
  Simulator sim = make();
  auto duplicate_first = [](Json& levels) { levels.push_back(levels[0]); };
  auto tcb = with_tcb_info(sim, [&](Json& info) { duplicate_first(info["tcbLevels"]); });
  ASSERT_FALSE(tcb.ok());
  EXPECT_NE(tcb.error().message.find("duplicated"), std::string::npos) << tcb.error().message;
  // Same SVNs, other status: still the same level.
  auto tcb_status = with_tcb_info(sim, [](Json& info) {
    Json copy = info["tcbLevels"][0];
    copy["tcbStatus"] = "Revoked";
    info["tcbLevels"].push_back(copy);
  });
  EXPECT_FALSE(tcb_status.ok());
  auto module = with_tcb_info(
      sim, [&](Json& info) { duplicate_first(info["tdxModuleIdentities"][0]["tcbLevels"]); });
  EXPECT_FALSE(module.ok());
  auto qe = with_qe_identity(sim, [&](Json& identity) { duplicate_first(identity["tcbLevels"]); });
  EXPECT_FALSE(qe.ok());

  // The flat bundle (acon-verify --collateral) is refused the same way.
  Collateral collateral = collateral_of(sim);
  const std::string text = edited(collateral.tcb_info.signed_json,
                                  [&](Json& info) { duplicate_first(info["tcbLevels"]); });
  auto bundle = parse_json(sim.collateral_bundle());
  ASSERT_TRUE(bundle.ok());
  (*bundle)["tcb_info"] = text;
  (*bundle)["tcb_info_signature"] = hex_encode(sign_json(tcb_signing_key(sim), text));
  auto loaded = parse_collateral_bundle(bundle->dump());
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.error().message.find("duplicated"), std::string::npos);
}

TEST(CraftedCollateral, QeLevelsWithEqualIsvSvnNewestFirst) {
  Simulator sim = make();
  // Two QE levels for the QE's isvsvn: an older UpToDate one listed first, a newer OutOfDate
  // one second. QVL (IdentityTcbLevel::operator>) takes the newest: OutOfDate.
  const uint16_t isvsvn = sim.qe().isv_svn;
  auto collateral = with_qe_identity(sim, [&](Json& identity) {
    Json older = identity["tcbLevels"][0];
    older["tcb"]["isvsvn"] = isvsvn;
    older["tcbDate"] = "2024-01-01T00:00:00Z";
    older["tcbStatus"] = "UpToDate";
    Json newer = older;
    newer["tcbDate"] = "2024-06-01T00:00:00Z";
    newer["tcbStatus"] = "OutOfDate";
    newer["advisoryIDs"] = Json::array({"ACON-SIM-SA-00017"});
    identity["tcbLevels"] = Json::array({older, newer});
  });
  ASSERT_TRUE(collateral.ok()) << collateral.error().to_string();
  ASSERT_EQ(collateral->qe_identity.value.tcb_levels.size(), 2u);
  EXPECT_EQ(collateral->qe_identity.value.tcb_levels[0].status, TcbStatus::out_of_date);
  const QuoteVerdict verdict = verify(fresh_quote(sim), *collateral, trusting(sim));
  EXPECT_EQ(status_text(verdict), "STATUS_TCB_OUT_OF_DATE") << verdict.failure;
  ASSERT_TRUE(verdict.tcb.has_value());
  EXPECT_EQ(verdict.tcb->qe_status, TcbStatus::out_of_date);
}

}  // namespace
}  // namespace acon::dcap
