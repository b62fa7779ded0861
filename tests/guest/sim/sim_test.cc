// The simulated TDX platform against the real DCAP verifier, the quote parser, the event-log
// replay, and itself across processes.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>

#include "acon/common/hash.h"
#include "acon/dcap/chain.h"
#include "acon/dcap/claims.h"
#include "acon/dcap/sgx_extension.h"
#include "acon/dcap/verify.h"
#include "acon/eventlog/decode.h"
#include "acon/eventlog/event_log.h"
#include "acon/eventlog/replay.h"
#include "acon/eventlog/runtime.h"
#include "acon/guest/sim/sim.h"
#include "acon/guest/sim/state.h"
#include "acon/tdx/quote.h"
#include "test_util.h"

namespace acon::guest::sim {
namespace {

using namespace std::chrono;
using dcap::QvlStatus;
using dcap::TcbStatus;

using test::at;

const Time kIssue = at("2025-06-01T00:00:00Z");
const Time kCheck = kIssue + hours(24);

Bytes seed_of(std::string_view text) { return sha256(as_bytes(text)); }

Simulator make(CreateOptions options = {}) {
  if (!options.seed) options.seed = seed_of("sim_test");
  if (options.dates.issue_date == Time{}) options.dates = default_dates(kIssue);
  auto sim = Simulator::create(options);
  if (!sim) throw std::runtime_error(sim.error().to_string());
  return *std::move(sim);
}

ReportData report_data(uint8_t fill) {
  ReportData data;
  data.fill(fill);
  return data;
}

dcap::VerifyOptions trusting(const Simulator& sim, Time when = kCheck) {
  dcap::VerifyOptions options;
  options.at = when;
  options.anchors.roots = {sim.root_ca()};
  return options;
}

dcap::QuoteVerdict verify(const Simulator& sim, const Bytes& quote,
                          const dcap::VerifyOptions& options) {
  auto collateral = sim.collateral();
  if (!collateral) throw std::runtime_error(collateral.error().to_string());
  auto verdict = dcap::verify_quote(quote, *collateral, options);
  if (!verdict) throw std::runtime_error(verdict.error().to_string());
  return *std::move(verdict);
}

dcap::QuoteVerdict verify_fresh_quote(const Simulator& sim, Time when = kCheck) {
  auto quote = sim.quote(report_data(0x5A));
  if (!quote) throw std::runtime_error(quote.error().to_string());
  return verify(sim, *quote, trusting(sim, when));
}

std::string status_text(const dcap::QuoteVerdict& verdict) {
  return std::string(dcap::qvl_status_text(verdict.status));
}

// A state file in a fresh temporary directory, removed afterwards.
class StateDir : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/acon-sim-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/state.json";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
  std::string path_;
};

// ---- layout ----

TEST(SimQuote, V4ParsesWithTheSpecOffsets) {
  Simulator sim = make();
  auto quote = sim.quote(report_data(0x11));
  ASSERT_TRUE(quote.ok()) << quote.error().to_string();
  auto parsed = tdx::parse_quote(*quote);
  ASSERT_TRUE(parsed.ok()) << parsed.error().to_string();
  EXPECT_EQ(parsed->header.version, 4);
  EXPECT_EQ(parsed->header.attestation_key_type, tdx::kAttestationKeyEcdsaP256);
  EXPECT_EQ(parsed->header.tee_type, tdx::kTeeTypeTdx);
  EXPECT_EQ(hex_encode(parsed->header.qe_vendor_id), "939a7233f79c4ca9940a0db3957f0607");
  EXPECT_EQ(parsed->body_type, tdx::BodyType::td_report10);
  const auto* td = parsed->td_report();
  ASSERT_NE(td, nullptr);
  // Offsets of docs/tdx-quote.md §6's "absolute offsets" table for v4 quotes.
  EXPECT_EQ(parsed->offset_of(td->report_data), 568u);
  EXPECT_EQ(parsed->offset_of(parsed->signature.quote_signature), 636u);
  EXPECT_EQ(parsed->offset_of(parsed->signature.attestation_key), 700u);
  EXPECT_EQ(parsed->offset_of(parsed->signature.qe_report.raw), 770u);
  EXPECT_EQ(parsed->offset_of(parsed->signature.qe_report_signature), 1154u);
  EXPECT_EQ(parsed->signature.qe_auth_data.size(), 32u);
  EXPECT_EQ(parsed->offset_of(parsed->signature.qe_auth_data), 1220u);
  ASSERT_TRUE(parsed->signature.qe_report_certification.has_value());
  EXPECT_EQ(parsed->signature.qe_report_certification->type, tdx::cert_data::kQeReportCertData);
  EXPECT_EQ(parsed->signature.pck_certification.type, tdx::cert_data::kPckCertChain);
  EXPECT_EQ(parsed->padding_size(), 0u);
  EXPECT_TRUE(parsed->signature.unused_tail.empty());
  // The TD's fields land where the verifier reads them.
  EXPECT_EQ(hex_encode(td->report_data), hex_encode(Bytes(64, 0x11)));
  EXPECT_EQ(hex_encode(td->mr_td), hex_encode(sim.td().mr_td));
  EXPECT_EQ(hex_encode(td->tee_tcb_svn), hex_encode(sim.td().tee_tcb_svn));
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(hex_encode(td->rtmr[i]), hex_encode(sim.td().rtmr[i]));
  EXPECT_TRUE(td->attributes().septve_disable);
  EXPECT_FALSE(td->attributes().debug);
  // The chain is leaf, Platform CA, root, NUL-terminated.
  auto pem = parsed->pck_chain_pem();
  ASSERT_TRUE(pem.ok());
  auto chain = Certificate::all_from_pem(*pem);
  ASSERT_TRUE(chain.ok());
  ASSERT_EQ(chain->size(), 3u);
  EXPECT_EQ(chain->at(2).der(), sim.root_ca().der());
  EXPECT_EQ(parsed->signature.pck_certification.data.back(), 0);
  // QE report data = SHA-256(attestation key || QE auth data) || 0^32.
  Bytes binding(parsed->signature.attestation_key.begin(), parsed->signature.attestation_key.end());
  append(binding, parsed->signature.qe_auth_data);
  EXPECT_EQ(hex_encode(parsed->signature.qe_report.report_data),
            hex_encode(sha256(binding)) + std::string(64, '0'));
  EXPECT_EQ(parsed->signature.qe_report.isv_prod_id, sim.qe().isv_prod_id);
  EXPECT_EQ(parsed->signature.qe_report.isv_svn, sim.qe().isv_svn);
}

TEST(SimQuote, V5CarriesATd15Body) {
  CreateOptions options;
  options.quote_version = 5;
  Simulator sim = make(options);
  auto quote = sim.quote(report_data(0x22));
  ASSERT_TRUE(quote.ok());
  auto parsed = tdx::parse_quote(*quote);
  ASSERT_TRUE(parsed.ok()) << parsed.error().to_string();
  EXPECT_EQ(parsed->header.version, 5);
  EXPECT_EQ(parsed->body_type, tdx::BodyType::td_report15);
  EXPECT_EQ(parsed->body_size, tdx::kTdReport15Size);
  const auto* td15 = parsed->td_report15();
  ASSERT_NE(td15, nullptr);
  EXPECT_EQ(parsed->offset_of(td15->report_data), 574u);
  EXPECT_EQ(parsed->offset_of(td15->tee_tcb_svn2), 638u);
  EXPECT_EQ(parsed->offset_of(td15->mr_service_td), 654u);
  EXPECT_EQ(parsed->offset_of(parsed->signature.quote_signature), 706u);
  EXPECT_EQ(parsed->offset_of(parsed->signature.qe_report.raw), 840u);
  EXPECT_EQ(parsed->signed_region().size(), 702u);
  EXPECT_EQ(hex_encode(td15->tee_tcb_svn2), hex_encode(sim.td().tee_tcb_svn2));
}

// ---- PKI and collateral ----

TEST(SimPki, IntelShapedAndMarkedSimulated) {
  Simulator sim = make();
  const Certificate& root = sim.root_ca();
  EXPECT_EQ(root.subject(),
            "C=US,ST=CA,L=Santa Clara,O=ACON Simulated TDX Platform,CN=ACON Simulated SGX Root CA");
  EXPECT_EQ(root.issuer(), root.subject());
  EXPECT_TRUE(root.is_ca());
  EXPECT_NE(root.der(), dcap::intel_sgx_root_ca().der());
  EXPECT_NE(sim.pck_platform_ca().subject().find("CN=ACON Simulated SGX PCK Platform CA"),
            std::string::npos);
  EXPECT_NE(sim.pck_certificate().subject().find("CN=ACON Simulated SGX PCK Certificate"),
            std::string::npos);
  EXPECT_NE(sim.tcb_signing_certificate().subject().find("CN=ACON Simulated SGX TCB Signing"),
            std::string::npos);
  EXPECT_FALSE(sim.pck_certificate().is_ca());
  // The SGX extension parses as the verifier reads it and says what the platform is.
  auto ext = dcap::sgx_extension_of(sim.pck_certificate());
  ASSERT_TRUE(ext.ok()) << ext.error().to_string();
  EXPECT_EQ(ext->fmspc, dcap::kSimulatedFmspc);
  EXPECT_EQ(ext->tcb_comp_svn, sim.platform().sgx_comp_svn);
  EXPECT_EQ(ext->pcesvn, sim.platform().pcesvn);
  EXPECT_EQ(ext->cpusvn, sim.platform().cpusvn);
  EXPECT_EQ(ext->ppid, sim.platform().ppid);
  EXPECT_EQ(ext->pce_id, sim.platform().pce_id);
  EXPECT_EQ(ext->sgx_type, dcap::SgxType::scalable);
  ASSERT_TRUE(ext->platform_instance_id.has_value());
  EXPECT_EQ(*ext->platform_instance_id, sim.platform().platform_instance_id);
  ASSERT_TRUE(ext->configuration.has_value());
  EXPECT_EQ(ext->configuration->smt_enabled, true);
  auto chain = Certificate::all_from_pem(sim.pck_chain_pem());
  ASSERT_TRUE(chain.ok());
  EXPECT_TRUE(dcap::is_simulated_pck_chain(*chain));
  // The chain and both CRLs verify with OpenSSL too, at the issue date.
  auto collateral = sim.collateral();
  ASSERT_TRUE(collateral.ok()) << collateral.error().to_string();
  std::vector<Certificate> intermediates{sim.pck_platform_ca()};
  std::vector<Certificate> roots{root};
  std::vector<Crl> crls{collateral->root_ca_crl, collateral->pck_crl};
  auto path = verify_chain(sim.pck_certificate(), intermediates, roots, crls, kIssue);
  EXPECT_TRUE(path.ok()) << path.error().to_string();
}

TEST(SimPki, SameSeedSameKeysOtherSeedOtherKeys) {
  Simulator a = make();
  Simulator b = make();
  CreateOptions other;
  other.seed = seed_of("another platform");
  Simulator c = make(other);
  EXPECT_EQ(a.root_ca().public_key()->ec_xy(), b.root_ca().public_key()->ec_xy());
  EXPECT_EQ(a.pck_certificate().serial_hex(), b.pck_certificate().serial_hex());
  EXPECT_EQ(a.platform().ppid, b.platform().ppid);
  EXPECT_NE(a.root_ca().public_key()->ec_xy(), c.root_ca().public_key()->ec_xy());
  EXPECT_NE(a.platform().ppid, c.platform().ppid);
  // Without a seed, fresh keys.
  CreateOptions fresh;
  fresh.dates = default_dates(kIssue);
  auto d = Simulator::create(fresh);
  ASSERT_TRUE(d.ok());
  EXPECT_NE(a.root_ca().public_key()->ec_xy(), d->root_ca().public_key()->ec_xy());
  CreateOptions short_seed;
  short_seed.seed = Bytes(8, 1);
  short_seed.dates = default_dates(kIssue);
  EXPECT_FALSE(Simulator::create(short_seed).ok());
  CreateOptions no_dates;
  no_dates.seed = seed_of("x");
  EXPECT_FALSE(Simulator::create(no_dates).ok());
  CreateOptions bad_version;
  bad_version.dates = default_dates(kIssue);
  bad_version.quote_version = 3;
  EXPECT_FALSE(Simulator::create(bad_version).ok());
}

TEST(SimCollateral, SignedLikeIntelAndLoadable) {
  Simulator sim = make();
  auto collateral = sim.collateral();
  ASSERT_TRUE(collateral.ok()) << collateral.error().to_string();
  EXPECT_TRUE(dcap::verify_signed_json(collateral->tcb_info, sim.tcb_signing_certificate()).ok());
  EXPECT_TRUE(
      dcap::verify_signed_json(collateral->qe_identity, sim.tcb_signing_certificate()).ok());
  const auto& tcb = collateral->tcb_info.value;
  EXPECT_EQ(tcb.id, "TDX");
  EXPECT_EQ(tcb.version, 3u);
  EXPECT_EQ(tcb.fmspc, dcap::kSimulatedFmspc);
  EXPECT_EQ(tcb.issue_date, kIssue);
  EXPECT_EQ(tcb.next_update, kIssue + days(30));
  ASSERT_EQ(tcb.tdx_module_identities.size(), 1u);
  EXPECT_EQ(tcb.tdx_module_identities[0].id, "TDX_01");
  EXPECT_EQ(tcb.tcb_levels.front().status, TcbStatus::up_to_date);
  EXPECT_EQ(tcb.tcb_levels.back().status, TcbStatus::out_of_date);
  EXPECT_EQ(collateral->qe_identity.value.id, "TD_QE");
  EXPECT_EQ(collateral->qe_identity.value.version, 2u);
  EXPECT_EQ(collateral->qe_identity.value.mrsigner, sim.qe().mr_signer);
  // The signed text keeps Intel's member order.
  EXPECT_EQ(
      collateral->tcb_info.signed_json.rfind("{\"id\":\"TDX\",\"version\":3,\"issueDate\":", 0),
      0u);
  // PCS-shaped responses carry the same signed bytes.
  auto response = sim.tcb_info_response();
  ASSERT_TRUE(response.ok());
  auto parsed = dcap::parse_tcb_info_response(*response);
  ASSERT_TRUE(parsed.ok()) << parsed.error().to_string();
  EXPECT_TRUE(dcap::verify_signed_json(*parsed, sim.tcb_signing_certificate()).ok());
  auto qe_response = sim.qe_identity_response();
  ASSERT_TRUE(qe_response.ok());
  auto qe_parsed = dcap::parse_qe_identity_response(*qe_response);
  ASSERT_TRUE(qe_parsed.ok());
  EXPECT_TRUE(dcap::verify_signed_json(*qe_parsed, sim.tcb_signing_certificate()).ok());
}

// ---- the real DCAP verifier ----

TEST(SimVerify, V4AndV5UpToDateWithTheSimRootOnly) {
  for (uint16_t version : {4, 5}) {
    SCOPED_TRACE("quote v" + std::to_string(version));
    CreateOptions options;
    options.quote_version = version;
    Simulator sim = make(options);
    auto quote = sim.quote(report_data(0x33));
    ASSERT_TRUE(quote.ok());
    auto verdict = verify(sim, *quote, trusting(sim));
    EXPECT_EQ(verdict.status, QvlStatus::ok) << verdict.failure;
    EXPECT_TRUE(verdict.accepted);
    ASSERT_TRUE(verdict.tcb.has_value());
    EXPECT_EQ(verdict.tcb->tcb_status, TcbStatus::up_to_date);
    EXPECT_EQ(verdict.tcb->module_identity, "TDX_01");
    EXPECT_TRUE(verdict.advisory_ids.empty());
    EXPECT_FALSE(verdict.collateral_expired);
    EXPECT_EQ(verdict.fmspc, Bytes(dcap::kSimulatedFmspc.begin(), dcap::kSimulatedFmspc.end()));
    auto parsed = tdx::parse_quote(*quote);
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(dcap::quote_claims(*parsed, verdict)["simulated"], true);
    EXPECT_TRUE(verdict.simulated);
    EXPECT_EQ(dcap::verdict_json(verdict)["simulated"], true);

    // The default anchors (Intel's root) never accept it.
    dcap::VerifyOptions defaults;
    defaults.at = kCheck;
    auto rejected = verify(sim, *quote, defaults);
    EXPECT_FALSE(rejected.accepted);
    EXPECT_NE(rejected.status, QvlStatus::ok);
    EXPECT_EQ(status_text(rejected), "STATUS_SGX_ROOT_CA_UNTRUSTED");
  }
}

// A quote whose PCK chain is not inside it (certification data type 3 instead of 5) is rejected
// as QvE rejects it; when the caller explicitly allows the collateral's chain it verifies with
// that chain, says so, and is still simulated, and the claims say so, because the decision is
// made from the chain that was verified, not from the quote's own bytes.
TEST(SimVerify, ChainFromCollateralStillReportsSimulated) {
  Simulator sim = make();
  auto quote = sim.quote(report_data(0x45));
  ASSERT_TRUE(quote.ok());
  Bytes without_chain = *quote;
  {
    auto parsed = tdx::parse_quote(without_chain);
    ASSERT_TRUE(parsed.ok());
    ASSERT_EQ(parsed->signature.pck_certification.type, tdx::cert_data::kPckCertChain);
    // The inner certification data header: type (u16 LE), size (u32 LE), then the data.
    const size_t type_offset = parsed->offset_of(parsed->signature.pck_certification.data) - 6;
    without_chain[type_offset] = 3;  // PCK certificate ID, encrypted PPID (RSA-3072)
  }
  auto parsed = tdx::parse_quote(without_chain);
  ASSERT_TRUE(parsed.ok());
  EXPECT_FALSE(parsed->pck_chain_pem().ok());

  auto collateral = sim.collateral();
  ASSERT_TRUE(collateral.ok());
  auto chain = dcap::pck_chain_from_pem(sim.pck_chain_pem());
  ASSERT_TRUE(chain.ok());
  collateral->pck_certificate_chain = *chain;
  auto by_default = dcap::verify_quote(*parsed, *collateral, trusting(sim));
  ASSERT_TRUE(by_default.ok()) << by_default.error().to_string();
  EXPECT_FALSE(by_default->accepted);
  EXPECT_EQ(status_text(*by_default), "STATUS_UNSUPPORTED_QE_CERTIFICATION_DATA_TYPE");
  auto allowing = trusting(sim);
  allowing.allow_collateral_pck_chain = true;
  auto verdict = dcap::verify_quote(*parsed, *collateral, allowing);
  ASSERT_TRUE(verdict.ok()) << verdict.error().to_string();
  EXPECT_TRUE(verdict->accepted) << verdict->failure;
  EXPECT_TRUE(verdict->pck_chain_from_collateral);
  EXPECT_EQ(dcap::verdict_json(*verdict)["pck_chain_source"], "collateral");
  EXPECT_TRUE(verdict->simulated);
  EXPECT_EQ(dcap::verdict_json(*verdict)["simulated"], true);
  EXPECT_EQ(dcap::quote_claims(*parsed, *verdict)["simulated"], true);
  // Without a verdict the claims make no decision about the platform.
  EXPECT_FALSE(dcap::quote_claims(*parsed).contains("simulated"));
}

TEST(SimVerify, TamperedQuoteIsRejected) {
  Simulator sim = make();
  auto quote = sim.quote(report_data(0x44));
  ASSERT_TRUE(quote.ok());
  Bytes bad = *quote;
  bad[48 + 136] ^= 1;  // MRTD
  auto verdict = verify(sim, bad, trusting(sim));
  EXPECT_FALSE(verdict.accepted);
  EXPECT_EQ(status_text(verdict), "STATUS_INVALID_QUOTE_SIGNATURE");
}

TEST(SimVerify, ConfiguredTcbStatusesAndAdvisories) {
  struct Case {
    TcbStatus status;
    std::vector<std::string> advisories;
    QvlStatus expected;
    bool accepted;
  };
  const Case cases[] = {
      {TcbStatus::out_of_date, {}, QvlStatus::tcb_out_of_date, true},
      {TcbStatus::out_of_date,
       {"INTEL-SA-00837", "ACON-SIM-SA-00009"},
       QvlStatus::tcb_out_of_date,
       true},
      {TcbStatus::configuration_needed, {}, QvlStatus::tcb_configuration_needed, true},
      {TcbStatus::sw_hardening_needed, {}, QvlStatus::tcb_sw_hardening_needed, true},
      {TcbStatus::revoked, {}, QvlStatus::tcb_revoked, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(dcap::tcb_status_name(c.status)));
    CreateOptions options;
    options.tcb.platform_status = c.status;
    options.tcb.advisory_ids = c.advisories;
    Simulator sim = make(options);
    auto verdict = verify_fresh_quote(sim);
    EXPECT_EQ(verdict.status, c.expected) << status_text(verdict) << " " << verdict.failure;
    EXPECT_EQ(verdict.accepted, c.accepted);
    std::vector<std::string> want =
        c.advisories.empty() ? std::vector<std::string>{"ACON-SIM-SA-00002"} : c.advisories;
    EXPECT_EQ(verdict.advisory_ids, want);
    EXPECT_EQ(verdict.supplemental.sa_list, want);
  }
}

TEST(SimVerify, LowerTeeTcbSvnAndQeSvnFallToOlderLevels) {
  Simulator sim = make();
  sim.td().tee_tcb_svn[2] = 2;  // one TDX module TCB level below the platform's
  auto verdict = verify_fresh_quote(sim);
  EXPECT_EQ(verdict.status, QvlStatus::tcb_out_of_date) << status_text(verdict);
  EXPECT_EQ(verdict.advisory_ids, std::vector<std::string>{"ACON-SIM-SA-00001"});

  Simulator qe_old = make();
  qe_old.qe().isv_svn = 3;  // below the QE identity's UpToDate level (4)
  auto qe_verdict = verify_fresh_quote(qe_old);
  EXPECT_EQ(qe_verdict.status, QvlStatus::tcb_out_of_date) << status_text(qe_verdict);
  ASSERT_TRUE(qe_verdict.tcb.has_value());
  EXPECT_EQ(qe_verdict.tcb->qe_status, TcbStatus::out_of_date);
  EXPECT_EQ(qe_verdict.advisory_ids, std::vector<std::string>{"ACON-SIM-SA-00004"});
}

// As on a real platform, the attestation key is certified once: every quote carries the same QE
// report and PCK signature (a verifier caches its check of them), while each quote's own
// signature is fresh. A change of the QE's identity gives a new QE report, signed anew.
TEST(SimQuote, QeReportIsCertifiedOnceAndRemadeWhenItChanges) {
  Simulator sim = make();
  auto qe_part = [](const Bytes& quote) {
    auto parsed = tdx::parse_quote(quote);
    EXPECT_TRUE(parsed.ok());
    if (!parsed.ok()) return std::pair<Bytes, Bytes>{};
    return std::pair{
        Bytes(parsed->signature.qe_report.raw.begin(), parsed->signature.qe_report.raw.end()),
        Bytes(parsed->signature.qe_report_signature.begin(),
              parsed->signature.qe_report_signature.end())};
  };
  auto first = sim.quote(report_data(0x01));
  auto second = sim.quote(report_data(0x02));
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(qe_part(*first), qe_part(*second));
  EXPECT_NE(*first, *second);
  for (const Bytes* quote : {&*first, &*second})
    EXPECT_EQ(verify(sim, *quote, trusting(sim)).status, QvlStatus::ok);

  Simulator copy = sim;  // copies share the keys and the certification
  auto from_copy = copy.quote(report_data(0x03));
  ASSERT_TRUE(from_copy.ok());
  EXPECT_EQ(qe_part(*from_copy), qe_part(*first));

  sim.qe().isv_svn = static_cast<uint16_t>(sim.qe().isv_svn + 1);
  auto changed = sim.quote(report_data(0x04));
  ASSERT_TRUE(changed.ok());
  EXPECT_NE(qe_part(*changed).first, qe_part(*first).first);
  EXPECT_NE(qe_part(*changed).second, qe_part(*first).second);
  auto verdict = verify(sim, *changed, trusting(sim));
  EXPECT_TRUE(verdict.accepted) << verdict.failure;
  EXPECT_EQ(verdict.status, QvlStatus::ok) << status_text(verdict);
}

TEST(SimVerify, RevokedPckCertificate) {
  CreateOptions options;
  options.tcb.revoke_pck = true;
  Simulator sim = make(options);
  auto verdict = verify_fresh_quote(sim);
  EXPECT_FALSE(verdict.accepted);
  EXPECT_EQ(status_text(verdict), "STATUS_SGX_PCK_REVOKED") << verdict.failure;
}

TEST(SimVerify, Td15RelaunchAdvice) {
  CreateOptions options;
  options.quote_version = 5;
  Simulator sim = make(options);
  ASSERT_TRUE(sim.launch_below_current_tcb().ok());
  auto verdict = verify_fresh_quote(sim);
  EXPECT_EQ(verdict.status, QvlStatus::tcb_td_relaunch_advised) << status_text(verdict);
  EXPECT_TRUE(verdict.accepted);
  ASSERT_TRUE(verdict.tcb.has_value());
  EXPECT_EQ(verdict.tcb->tcb_status, TcbStatus::out_of_date);
  EXPECT_EQ(verdict.tcb->current_tcb_status, TcbStatus::up_to_date);

  // The same TD in a v4 (TD 1.0) quote has no TEE_TCB_SVN2: plain OutOfDate.
  ASSERT_TRUE(sim.set_quote_version(4).ok());
  EXPECT_EQ(verify_fresh_quote(sim).status, QvlStatus::tcb_out_of_date);
  EXPECT_FALSE(sim.set_quote_version(3).ok());
}

TEST(SimVerify, ExpiredCollateralIsAFlagOrStrictFailure) {
  CreateOptions options;
  options.dates = default_dates(at("2024-01-01T00:00:00Z"));
  Simulator sim = make(options);
  const Time later = at("2024-03-01T00:00:00Z");
  auto quote = sim.quote(report_data(0x55));
  ASSERT_TRUE(quote.ok());
  auto fresh = verify(sim, *quote, trusting(sim, at("2024-01-02T00:00:00Z")));
  EXPECT_FALSE(fresh.collateral_expired);
  auto flagged = verify(sim, *quote, trusting(sim, later));
  EXPECT_TRUE(flagged.collateral_expired);
  EXPECT_TRUE(flagged.accepted);
  EXPECT_EQ(flagged.status, QvlStatus::ok);
  auto strict_options = trusting(sim, later);
  strict_options.strict_expiry = true;
  auto strict = verify(sim, *quote, strict_options);
  EXPECT_FALSE(strict.accepted);
  EXPECT_NE(status_text(strict).find("EXPIRED"), std::string::npos) << status_text(strict);

  // Reissued collateral with the same keys is current again.
  ASSERT_TRUE(sim.reissue_collateral(default_dates(at("2024-02-20T00:00:00Z")), {}).ok());
  auto renewed = verify(sim, *quote, strict_options);
  EXPECT_TRUE(renewed.accepted) << status_text(renewed);
  EXPECT_FALSE(renewed.collateral_expired);
}

// ---- TDREPORT ----

TEST(SimReport, TdReportLayoutAndMac) {
  Simulator sim = make();
  auto report = sim.td_report(report_data(0x66));
  ASSERT_TRUE(report.ok());
  ASSERT_EQ(report->size(), kTdReportSize);
  EXPECT_EQ((*report)[0], 0x81);  // REPORTTYPE.TYPE = TDX
  EXPECT_EQ(hex_encode(ByteView(*report).subspan(128, 64)), hex_encode(Bytes(64, 0x66)));
  EXPECT_EQ(hex_encode(ByteView(*report).subspan(16, 16)), hex_encode(sim.platform().cpusvn));
  // TEE_TCB_INFO at 256: TEE_TCB_SVN after the 8-byte VALID field.
  EXPECT_EQ(hex_encode(ByteView(*report).subspan(264, 16)), hex_encode(sim.td().tee_tcb_svn));
  // TDINFO at 512: ATTRIBUTES, XFAM, MRTD, ..., RTMR0..3 at +208.
  EXPECT_EQ(hex_encode(ByteView(*report).subspan(512 + 16, 48)), hex_encode(sim.td().mr_td));
  EXPECT_EQ(hex_encode(ByteView(*report).subspan(512 + 208, 48)), hex_encode(sim.td().rtmr[0]));
  EXPECT_EQ(hex_encode(ByteView(*report).subspan(32, 48)),
            hex_encode(sha384(ByteView(*report).subspan(256, 239))));
  EXPECT_TRUE(sim.verify_td_report(*report).ok());
  for (size_t offset : {size_t{130}, size_t{230}, size_t{300}, size_t{600}}) {
    Bytes bad = *report;
    bad[offset] ^= 1;
    EXPECT_FALSE(sim.verify_td_report(bad).ok()) << "offset " << offset;
    EXPECT_FALSE(sim.quote_from_report(bad).ok()) << "offset " << offset;
  }
  // Another simulator's key does not verify it.
  CreateOptions other;
  other.seed = seed_of("other");
  EXPECT_FALSE(make(other).verify_td_report(*report).ok());
  EXPECT_FALSE(sim.verify_td_report(ByteView(*report).first(1000)).ok());
}

// ---- CCEL and replay ----

TEST(SimCcel, FirmwareLogReplaysToTheLaunchRtmrs) {
  Simulator sim = make();
  auto log = eventlog::parse_event_log(sim.ccel());
  ASSERT_TRUE(log.ok()) << log.error().to_string();
  EXPECT_EQ(log->events.front().type, eventlog::ev::kNoAction);
  ASSERT_EQ(log->spec_id.algorithms.size(), 1u);
  EXPECT_EQ(log->spec_id.algorithms[0].id, eventlog::tpm_alg::kSha384);
  EXPECT_GE(log->events.size(), 10u);
  for (const auto& event : log->events)  // digests that can be recomputed from the data match
    EXPECT_NE(eventlog::decode_event(event).digest_check, eventlog::DigestCheck::mismatch)
        << "event " << event.number;
  eventlog::Replayer replayer;
  ASSERT_TRUE(eventlog::replay(*log, replayer).ok());
  std::map<uint32_t, Bytes> expected;
  for (uint32_t i = 0; i < 3; ++i)
    expected[i + 1] = Bytes(sim.td().rtmr[i].begin(), sim.td().rtmr[i].end());
  for (const auto& cmp : eventlog::compare(replayer, HashAlg::sha384, expected))
    EXPECT_TRUE(cmp.match) << eventlog::mr_name(cmp.index);
  EXPECT_EQ(sim.td().rtmr[3], Measurement{});  // nothing measured into RTMR3 at boot
  for (uint32_t i = 0; i < 3; ++i) EXPECT_NE(sim.td().rtmr[i], Measurement{});
}

// ---- the Backend over a state file ----

TEST_F(StateDir, BackendExtendReadQuoteRoundTrip) {
  Simulator created = make();
  ASSERT_TRUE(save_state(path_, created).ok());
  EXPECT_EQ(std::filesystem::status(path_).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  SimBackend backend(path_);
  EXPECT_EQ(backend.name(), "sim");
  EXPECT_EQ(backend.register_kind(), RegisterKind::rtmr);

  // Runtime events: AAEL records written to a runtime log and extended into RTMR3.
  Bytes runtime_log;
  auto header = eventlog::spec_id_record(std::array<HashAlg, 1>{HashAlg::sha384});
  ASSERT_TRUE(header.ok());
  append(runtime_log, *header);
  for (const char* content : {"sha384/aa11 image", "sha384/bb22 start"}) {
    eventlog::AaelEvent event{"github.com/intel/ACON", "AddManifest", content};
    auto record = eventlog::aael_record(4, HashAlg::sha384, event);
    ASSERT_TRUE(record.ok());
    auto tagged = eventlog::aael_tagged_event(event);
    ASSERT_TRUE(tagged.ok());
    ASSERT_TRUE(backend.extend(3, HashAlg::sha384, sha384(*tagged)).ok());
    append(runtime_log, *record);
  }
  // Replay of CCEL + runtime log equals what the backend reads back.
  auto ccel = backend.firmware_event_log();
  ASSERT_TRUE(ccel.ok());
  auto firmware = eventlog::parse_event_log(*ccel);
  auto runtime = eventlog::parse_event_log(runtime_log);
  ASSERT_TRUE(firmware.ok() && runtime.ok());
  eventlog::Replayer replayer;
  ASSERT_TRUE(eventlog::replay(*firmware, replayer).ok());
  ASSERT_TRUE(eventlog::replay(*runtime, replayer).ok());
  for (uint32_t i = 0; i < 4; ++i) {
    auto value = backend.read(i, HashAlg::sha384);
    ASSERT_TRUE(value.ok());
    EXPECT_EQ(*value, replayer.value(i + 1, HashAlg::sha384)) << "RTMR" << i;
  }

  auto quote = backend.quote(report_data(0x77));
  ASSERT_TRUE(quote.ok()) << quote.error().to_string();
  auto parsed = tdx::parse_quote(*quote);
  ASSERT_TRUE(parsed.ok());
  auto rtmr3 = backend.read(3, HashAlg::sha384);
  ASSERT_TRUE(rtmr3.ok());
  EXPECT_EQ(hex_encode(parsed->td_report()->rtmr[3]), hex_encode(*rtmr3));
  auto loaded = load_state(path_);
  ASSERT_TRUE(loaded.ok());
  EXPECT_TRUE(verify(*loaded, *quote, trusting(*loaded)).accepted);
  auto report = backend.report(report_data(0x77));
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(loaded->verify_td_report(*report).ok());

  // Wrong bank, index or digest size.
  EXPECT_FALSE(backend.extend(4, HashAlg::sha384, Bytes(48)).ok());
  EXPECT_FALSE(backend.extend(0, HashAlg::sha256, Bytes(32)).ok());
  EXPECT_FALSE(backend.extend(0, HashAlg::sha384, Bytes(32)).ok());
  EXPECT_FALSE(backend.read(0, HashAlg::sha256).ok());
  EXPECT_EQ(backend.read(3, HashAlg::sha384).value(), *rtmr3);  // failed extends changed nothing
}

TEST_F(StateDir, StateRoundTripKeepsEverything) {
  CreateOptions options;
  options.quote_version = 5;
  options.tcb.platform_status = TcbStatus::out_of_date;
  options.tcb.advisory_ids = {"ACON-SIM-SA-00042"};
  Simulator sim = make(options);
  sim.td().mr_config_id.fill(0xC0);
  ASSERT_TRUE(sim.extend(2, Bytes(48, 0x01)).ok());
  ASSERT_TRUE(save_state(path_, sim).ok());
  auto loaded = load_state(path_);
  ASSERT_TRUE(loaded.ok()) << loaded.error().to_string();
  EXPECT_EQ(loaded->quote_version(), 5);
  EXPECT_EQ(loaded->td().mr_config_id, sim.td().mr_config_id);
  EXPECT_EQ(loaded->td().rtmr, sim.td().rtmr);
  EXPECT_EQ(loaded->root_ca().der(), sim.root_ca().der());
  EXPECT_EQ(loaded->collateral_bundle(), sim.collateral_bundle());
  EXPECT_EQ(loaded->ccel(), sim.ccel());
  EXPECT_EQ(loaded->tcb_policy().advisory_ids, options.tcb.advisory_ids);
  EXPECT_EQ(Simulator::from_state_json(as_chars(view(loaded->to_state_json())))->to_state_json(),
            sim.to_state_json());
  // The loaded simulator's quotes still verify, and its TDREPORTs check against the old one.
  auto verdict = verify_fresh_quote(*loaded);
  EXPECT_EQ(verdict.status, QvlStatus::tcb_out_of_date);
  auto report = sim.td_report(report_data(1));
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(loaded->verify_td_report(*report).ok());

  // Broken documents are parse errors, not crashes.
  EXPECT_FALSE(Simulator::from_state_json("{}").ok());
  EXPECT_FALSE(Simulator::from_state_json("[1]").ok());
  EXPECT_FALSE(Simulator::from_state_json("{\"kind\":\"acon-sim-state\",\"version\":9}").ok());
  EXPECT_FALSE(load_state(dir_ + "/missing.json").ok());
}

// Two backends - in two processes - extending concurrently: every extend lands.
TEST_F(StateDir, ConcurrentExtendsFromTwoProcessesAllLand) {
  ASSERT_TRUE(save_state(path_, make()).ok());
  constexpr int kExtends = 12;
  const Bytes child_digest(48, 0xC1), parent_digest(48, 0xA7);
  std::fflush(nullptr);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    SimBackend backend(path_);
    for (int i = 0; i < kExtends; ++i)
      if (!backend.extend(2, HashAlg::sha384, child_digest).ok()) ::_exit(1);
    ::_exit(0);
  }
  SimBackend backend(path_);
  for (int i = 0; i < kExtends; ++i)
    ASSERT_TRUE(backend.extend(3, HashAlg::sha384, parent_digest).ok());
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  Simulator expected = make();
  for (int i = 0; i < kExtends; ++i) {
    ASSERT_TRUE(expected.extend(2, child_digest).ok());
    ASSERT_TRUE(expected.extend(3, parent_digest).ok());
  }
  SimBackend other(path_);  // a second instance sees both processes' extends
  EXPECT_EQ(other.read(2, HashAlg::sha384).value(),
            Bytes(expected.td().rtmr[2].begin(), expected.td().rtmr[2].end()));
  EXPECT_EQ(other.read(3, HashAlg::sha384).value(),
            Bytes(expected.td().rtmr[3].begin(), expected.td().rtmr[3].end()));
}

}  // namespace
}  // namespace acon::guest::sim
