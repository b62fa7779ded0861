// TCB evaluation (docs/dcap-verification.md §7 steps 3 and 6, §8, §9, §12 rows 1-3): hand-built
// TcbInfo / EnclaveIdentity / SgxExtension cases for each rule, then the real quotes and
// collateral of tests/data/quotes checked against tests/data/quotes/vectors.json.
#include "acon/dcap/tcb.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "acon/common/json.h"
#include "test_util.h"

namespace acon::dcap {
namespace {

Time date(const std::string& text) {
  auto t = parse_rfc3339(text);
  EXPECT_TRUE(t.ok()) << text;
  return t.ok() ? *t : Time{};
}

std::array<TcbComponent, kTcbComponentCount> comps(std::vector<uint16_t> head, uint16_t rest = 0) {
  std::array<TcbComponent, kTcbComponentCount> out{};
  for (size_t i = 0; i < kTcbComponentCount; ++i) out[i].svn = i < head.size() ? head[i] : rest;
  return out;
}

TcbLevel level(uint16_t sgx, uint16_t pcesvn, std::optional<std::vector<uint16_t>> tdx,
               TcbStatus status, const std::string& when = "2024-03-13T00:00:00Z",
               std::vector<std::string> ids = {}) {
  TcbLevel l;
  l.sgx_components = comps({}, sgx);
  l.pcesvn = pcesvn;
  if (tdx) l.tdx_components = comps(*tdx);
  l.status = status;
  l.tcb_date = date(when);
  l.advisory_ids = std::move(ids);
  return l;
}

IsvTcbLevel isv_level(uint16_t isvsvn, TcbStatus status,
                      const std::string& when = "2024-03-13T00:00:00Z",
                      std::vector<std::string> ids = {}) {
  return {isvsvn, date(when), status, std::move(ids)};
}

constexpr std::array<uint8_t, 6> kFmspc{0x90, 0xc0, 0x6f, 0, 0, 0};

// TDX TCB info: L0 (sgx 5, pce 13, tdx 5,1,3) UpToDate; L1 (tdx 3,0,3) OutOfDate; L2 (sgx 2,
// tdx 0) OutOfDate. Module TDX_01: isvsvn 3 UpToDate, isvsvn 1 OutOfDate.
TcbInfo tdx_info() {
  TcbInfo info;
  info.id = "TDX";
  info.version = 3;
  info.fmspc = kFmspc;
  info.tdx_module = TdxModule{};
  TdxModuleIdentity m;
  m.id = "TDX_01";
  m.module.mrsigner.fill(0x11);
  m.tcb_levels = {isv_level(3, TcbStatus::up_to_date),
                  isv_level(1, TcbStatus::out_of_date, "2023-08-09T00:00:00Z", {"INTEL-SA-M1"})};
  info.tdx_module_identities = {m};
  info.tcb_levels = {
      level(5, 13, std::vector<uint16_t>{5, 1, 3}, TcbStatus::up_to_date),
      level(5, 13, std::vector<uint16_t>{3, 0, 3}, TcbStatus::out_of_date, "2023-08-09T00:00:00Z",
            {"INTEL-SA-L1"}),
      level(2, 13, std::vector<uint16_t>{}, TcbStatus::out_of_date, "2018-01-04T00:00:00Z",
            {"INTEL-SA-L2a", "INTEL-SA-L2b"}),
  };
  return info;
}

EnclaveIdentity qe(std::string id = "TD_QE") {
  EnclaveIdentity e;
  e.id = std::move(id);
  e.version = 2;
  e.miscselect_mask = 0xFFFFFFFF;
  e.attributes = {0x11};
  e.attributes_mask = {0xFB, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
  e.mrsigner.fill(0xDC);
  e.isvprodid = 2;
  e.tcb_levels = {isv_level(4, TcbStatus::up_to_date),
                  isv_level(2, TcbStatus::out_of_date, "2023-02-15T00:00:00Z", {"INTEL-SA-Q1"}),
                  isv_level(0, TcbStatus::revoked, "2018-01-01T00:00:00Z")};
  return e;
}

SgxExtension pck(uint8_t sgx = 5, uint16_t pcesvn = 13) {
  SgxExtension p;
  p.tcb_comp_svn.fill(sgx);
  p.pcesvn = pcesvn;
  p.fmspc = kFmspc;
  return p;
}

Bytes svn(std::vector<uint8_t> head) {
  Bytes out(16, 0);
  std::copy(head.begin(), head.end(), out.begin());
  return out;
}

void expect_qvl_error(const Error& error, QvlStatus status) {
  EXPECT_EQ(error.code, Errc::verify_failed) << error.to_string();
  EXPECT_EQ(qvl_status_of(error), status) << error.to_string();
}

template <class T>
void expect_qvl_error(const Result<T>& result, QvlStatus status) {
  ASSERT_FALSE(result.ok());
  expect_qvl_error(result.error(), status);
}

TEST(TcbStatusCodes, NamesCodesAndQvResults) {
  EXPECT_EQ(qvl_status_code(QvlStatus::ok), 0u);
  EXPECT_EQ(qvl_status_code(QvlStatus::tcb_out_of_date), 45u);
  EXPECT_EQ(qvl_status_code(QvlStatus::tcb_not_supported), 49u);
  EXPECT_EQ(qvl_status_code(QvlStatus::tcb_configuration_and_sw_hardening_needed), 83u);
  EXPECT_EQ(qvl_status_code(QvlStatus::tdx_module_mismatch), 85u);
  EXPECT_EQ(qvl_status_label(QvlStatus::tcb_not_supported), "STATUS_TCB_NOT_SUPPORTED(49)");
  EXPECT_EQ(qvl_status_from_name("STATUS_QE_IDENTITY_MISMATCH"), QvlStatus::qe_identity_mismatch);
  EXPECT_EQ(qvl_status_from_name("STATUS_INVALID_QUOTE_SIGNATURE"), std::nullopt);
  EXPECT_EQ(qv_result(QvlStatus::ok), 0u);
  EXPECT_EQ(qv_result(QvlStatus::tcb_configuration_needed), 0xA001u);
  EXPECT_EQ(qv_result(QvlStatus::tcb_out_of_date), 0xA002u);
  EXPECT_EQ(qv_result(QvlStatus::tcb_out_of_date_configuration_needed), 0xA003u);
  EXPECT_EQ(qv_result(QvlStatus::tcb_revoked), 0xA005u);
  EXPECT_EQ(qv_result(QvlStatus::tcb_sw_hardening_needed), 0xA007u);
  EXPECT_EQ(qv_result(QvlStatus::tcb_configuration_and_sw_hardening_needed), 0xA008u);
  EXPECT_EQ(qv_result(QvlStatus::tcb_td_relaunch_advised), 0xA009u);
  EXPECT_EQ(qv_result(QvlStatus::tcb_td_relaunch_advised_configuration_needed), 0xA00Au);
  EXPECT_EQ(qv_result(QvlStatus::tcb_not_supported), kQvResultUnspecified);
  EXPECT_EQ(qv_result_name(0xA008), "SGX_QL_QV_RESULT_CONFIG_AND_SW_HARDENING_NEEDED");
  for (TcbStatus s :
       {TcbStatus::up_to_date, TcbStatus::sw_hardening_needed, TcbStatus::configuration_needed,
        TcbStatus::configuration_and_sw_hardening_needed, TcbStatus::out_of_date,
        TcbStatus::out_of_date_configuration_needed, TcbStatus::revoked}) {
    EXPECT_NE(qv_result(qvl_status_for(s)), kQvResultUnspecified) << tcb_status_name(s);
  }
}

TEST(TcbTdx, FirstMatchingLevelWins) {
  // TEE_TCB_SVN[1] = 0: all 16 TDX components compared; 5,0,3 reaches L0 except index 1.
  auto ev = evaluate_tdx_tcb(tdx_info(), qe(), pck(), svn({5, 0, 3}), std::nullopt, 4);
  ASSERT_TRUE(ev.ok()) << ev.error().to_string();
  EXPECT_EQ(ev->platform_level_index, 1u);
  EXPECT_EQ(ev->status, QvlStatus::tcb_out_of_date);
  EXPECT_FALSE(ev->module_status);
  EXPECT_EQ(ev->advisory_ids, std::vector<std::string>{"INTEL-SA-L1"});
  // Lower PCK SGX SVNs skip L0 and L1 even though L2 comes last.
  ev = evaluate_tdx_tcb(tdx_info(), qe(), pck(4), svn({5, 0, 3}), std::nullopt, 4);
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev->platform_level_index, 2u);
  // PCESVN below every level: not supported.
  expect_qvl_error(evaluate_tdx_tcb(tdx_info(), qe(), pck(5, 12), svn({5, 0, 3}), std::nullopt, 4),
                   QvlStatus::tcb_not_supported);
  // SGX SVNs below every level: not supported.
  expect_qvl_error(evaluate_tdx_tcb(tdx_info(), qe(), pck(1), svn({5, 0, 3}), std::nullopt, 4),
                   QvlStatus::tcb_not_supported);
}

TEST(TcbTdx, ModuleSvnSkipsIndicesZeroAndOne) {
  // TEE_TCB_SVN[1] = 1 and [0] = 3 < L0's 5: QVL ignores indices 0,1 (L0) and judges the
  // module through TDX_01 (isvsvn 3 UpToDate).
  auto ev = evaluate_tdx_tcb(tdx_info(), qe(), pck(), svn({3, 1, 3}), std::nullopt, 4);
  ASSERT_TRUE(ev.ok()) << ev.error().to_string();
  EXPECT_EQ(ev->platform_level_index, 0u);
  EXPECT_EQ(ev->module_identity, "TDX_01");
  EXPECT_EQ(ev->module_status, TcbStatus::up_to_date);
  EXPECT_EQ(ev->status, QvlStatus::ok);
  // Module SVN 2: the TDX_01 level with isvsvn 1 (OutOfDate) converges the platform UpToDate.
  ev = evaluate_tdx_tcb(tdx_info(), qe(), pck(), svn({2, 1, 3}), std::nullopt, 4);
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev->platform_status, TcbStatus::up_to_date);
  EXPECT_EQ(ev->module_status, TcbStatus::out_of_date);
  EXPECT_EQ(ev->tcb_status, TcbStatus::out_of_date);
  EXPECT_EQ(ev->status, QvlStatus::tcb_out_of_date);
  // Module SVN 0: no TDX_01 level with isvsvn <= 0.
  expect_qvl_error(evaluate_tdx_tcb(tdx_info(), qe(), pck(), svn({0, 1, 3}), std::nullopt, 4),
                   QvlStatus::tcb_not_supported);
  // TEE_TCB_SVN[1] = 2: no TDX_02 identity.
  expect_qvl_error(evaluate_tdx_tcb(tdx_info(), qe(), pck(), svn({3, 2, 3}), std::nullopt, 4),
                   QvlStatus::tcb_not_supported);
  // Index 2 still counts: 3,1,2 misses L0 and L1 (tdx[2] = 3) and falls to L2.
  ev = evaluate_tdx_tcb(tdx_info(), qe(), pck(), svn({3, 1, 2}), std::nullopt, 4);
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev->platform_level_index, 2u);
}

TEST(TcbTdx, ModuleIdentityIdComparedUpperCase) {
  TcbInfo info = tdx_info();
  info.tdx_module_identities[0].id = "tdx_01";
  auto ev = evaluate_tdx_tcb(info, qe(), pck(), svn({3, 1, 3}), std::nullopt, 4);
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev->module_identity, "TDX_01");
  info.tdx_module_identities[0].id = "TDX_0A";
  info.tdx_module_identities.push_back(info.tdx_module_identities[0]);
  info.tdx_module_identities[1].id = "TDX_0a";
  ev = evaluate_tdx_tcb(info, qe(), pck(), svn({3, 0x0A, 3}), std::nullopt, 4);
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev->module_identity, "TDX_0A");
}

TEST(TcbTdx, ModuleStatusOutsideValidSetIsUnrecognized) {
  TcbInfo info = tdx_info();
  info.tdx_module_identities[0].tcb_levels[0].status = TcbStatus::sw_hardening_needed;
  expect_qvl_error(evaluate_tdx_tcb(info, qe(), pck(), svn({3, 1, 3}), std::nullopt, 4),
                   QvlStatus::tcb_unrecognized_status);
}

TEST(TcbTdx, QeLevel) {
  auto ev = evaluate_tdx_tcb(tdx_info(), qe(), pck(), svn({3, 1, 3}), std::nullopt, 3);
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev->qe_level_index, 1u);
  EXPECT_EQ(ev->qe_status, TcbStatus::out_of_date);
  EXPECT_EQ(ev->status, QvlStatus::tcb_out_of_date);
  EnclaveIdentity id = qe();
  id.tcb_levels.pop_back();  // lowest is now isvsvn 2
  expect_qvl_error(evaluate_tdx_tcb(tdx_info(), id, pck(), svn({3, 1, 3}), std::nullopt, 1),
                   QvlStatus::tcb_not_supported);
  id.tcb_levels[0].status = TcbStatus::sw_hardening_needed;  // not valid for QE levels
  expect_qvl_error(evaluate_tdx_tcb(tdx_info(), id, pck(), svn({3, 1, 3}), std::nullopt, 4),
                   QvlStatus::tcb_unrecognized_status);
  expect_qvl_error(evaluate_tdx_tcb(tdx_info(), qe("QE"), pck(), svn({3, 1, 3}), std::nullopt, 4),
                   QvlStatus::qe_identity_mismatch);
}

TEST(TcbTdx, TcbInfoMismatch) {
  TcbInfo info = tdx_info();
  info.id = "SGX";
  expect_qvl_error(evaluate_tdx_tcb(info, qe(), pck(), svn({3, 1, 3}), std::nullopt, 4),
                   QvlStatus::tcb_info_mismatch);
  SgxExtension p = pck();
  p.fmspc[5] = 1;
  expect_qvl_error(evaluate_tdx_tcb(tdx_info(), qe(), p, svn({3, 1, 3}), std::nullopt, 4),
                   QvlStatus::tcb_info_mismatch);
  p = pck();
  p.pce_id[1] = 1;
  expect_qvl_error(evaluate_tdx_tcb(tdx_info(), qe(), p, svn({3, 1, 3}), std::nullopt, 4),
                   QvlStatus::tcb_info_mismatch);
  EXPECT_EQ(evaluate_tdx_tcb(tdx_info(), qe(), pck(), Bytes(15), std::nullopt, 4).error().code,
            Errc::invalid_argument);
}

struct ConvergeRow {
  TcbStatus platform;
  TcbStatus component;
  bool component_is_module;  // else the QE level
  TcbStatus expected;
};

class TcbConverge : public ::testing::TestWithParam<ConvergeRow> {};

TEST_P(TcbConverge, Row) {
  const ConvergeRow& row = GetParam();
  TcbInfo info = tdx_info();
  info.tcb_levels.resize(1);
  info.tcb_levels[0].status = row.platform;
  EnclaveIdentity id = qe();
  id.tcb_levels.resize(1);
  if (row.component_is_module) {
    info.tdx_module_identities[0].tcb_levels[0].status = row.component;
  } else {
    id.tcb_levels[0].status = row.component;
  }
  auto ev = evaluate_tdx_tcb(info, id, pck(), svn({3, 1, 3}), std::nullopt, 4);
  ASSERT_TRUE(ev.ok()) << ev.error().to_string();
  EXPECT_EQ(ev->platform_status, row.platform);
  EXPECT_EQ(ev->tcb_status, row.expected)
      << tcb_status_name(row.platform) << " + " << tcb_status_name(row.component);
  EXPECT_EQ(ev->status, qvl_status_for(row.expected));
}

using S = TcbStatus;
INSTANTIATE_TEST_SUITE_P(
    TcbRows, TcbConverge,
    ::testing::Values(
        ConvergeRow{S::up_to_date, S::up_to_date, false, S::up_to_date},
        ConvergeRow{S::up_to_date, S::out_of_date, false, S::out_of_date},
        ConvergeRow{S::sw_hardening_needed, S::out_of_date, false, S::out_of_date},
        ConvergeRow{S::configuration_needed, S::out_of_date, false,
                    S::out_of_date_configuration_needed},
        ConvergeRow{S::configuration_and_sw_hardening_needed, S::out_of_date, false,
                    S::out_of_date_configuration_needed},
        ConvergeRow{S::out_of_date, S::out_of_date, false, S::out_of_date},
        ConvergeRow{S::out_of_date_configuration_needed, S::out_of_date, false,
                    S::out_of_date_configuration_needed},
        ConvergeRow{S::revoked, S::out_of_date, false, S::revoked},
        ConvergeRow{S::up_to_date, S::revoked, false, S::revoked},
        ConvergeRow{S::sw_hardening_needed, S::revoked, false, S::revoked},
        ConvergeRow{S::configuration_needed, S::revoked, false, S::revoked},
        ConvergeRow{S::configuration_and_sw_hardening_needed, S::revoked, false, S::revoked},
        ConvergeRow{S::out_of_date, S::revoked, false, S::revoked},
        ConvergeRow{S::sw_hardening_needed, S::up_to_date, false, S::sw_hardening_needed},
        ConvergeRow{S::configuration_needed, S::up_to_date, false, S::configuration_needed},
        ConvergeRow{S::configuration_and_sw_hardening_needed, S::up_to_date, false,
                    S::configuration_and_sw_hardening_needed},
        // A QE level that needs configuration does not change the platform status.
        ConvergeRow{S::sw_hardening_needed, S::configuration_needed, false, S::sw_hardening_needed},
        // The module level converges the same way.
        ConvergeRow{S::up_to_date, S::out_of_date, true, S::out_of_date},
        ConvergeRow{S::sw_hardening_needed, S::out_of_date, true, S::out_of_date},
        ConvergeRow{S::configuration_needed, S::out_of_date, true,
                    S::out_of_date_configuration_needed},
        ConvergeRow{S::configuration_and_sw_hardening_needed, S::out_of_date, true,
                    S::out_of_date_configuration_needed},
        ConvergeRow{S::up_to_date, S::revoked, true, S::revoked},
        ConvergeRow{S::configuration_needed, S::revoked, true, S::revoked},
        ConvergeRow{S::configuration_and_sw_hardening_needed, S::up_to_date, true,
                    S::configuration_and_sw_hardening_needed}));

TEST(TcbTdx, AdvisoryIdsPlatformThenQeThenModuleAndEarliestDate) {
  TcbInfo info = tdx_info();
  info.tcb_levels[0].advisory_ids = {"INTEL-SA-P1", "INTEL-SA-P2"};
  info.tcb_levels[0].tcb_date = date("2024-03-13T00:00:00Z");
  EnclaveIdentity id = qe();
  id.tcb_levels[1].tcb_date = date("2023-10-01T00:00:00Z");
  // Module level isvsvn 1 (2023-08-09, INTEL-SA-M1), QE level isvsvn 2 (INTEL-SA-Q1).
  auto ev = evaluate_tdx_tcb(info, id, pck(), svn({2, 1, 3}), std::nullopt, 3);
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev->advisory_ids,
            (std::vector<std::string>{"INTEL-SA-P1", "INTEL-SA-P2", "INTEL-SA-Q1", "INTEL-SA-M1"}));
  EXPECT_EQ(ev->tcb_date, date("2023-08-09T00:00:00Z"));  // the module's
  // QE earliest.
  ev = evaluate_tdx_tcb(tdx_info(), qe(), pck(), svn({3, 1, 3}), std::nullopt, 3);
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev->tcb_date, date("2023-02-15T00:00:00Z"));
  EXPECT_EQ(ev->advisory_ids, std::vector<std::string>{"INTEL-SA-Q1"});
  // Platform earliest.
  ev = evaluate_tdx_tcb(tdx_info(), qe(), pck(), svn({3, 1, 2}), std::nullopt, 4);
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev->tcb_date, date("2018-01-04T00:00:00Z"));
  EXPECT_EQ(ev->advisory_ids, (std::vector<std::string>{"INTEL-SA-L2a", "INTEL-SA-L2b"}));
}

TEST(TcbTd15, RelaunchAdvised) {
  // Launched on module SVN 2 (TDX_01 OutOfDate), now running SVN 3 (UpToDate).
  const Bytes launch = svn({2, 1, 3});
  const Bytes current = svn({3, 1, 3});
  auto ev = evaluate_tdx_tcb(tdx_info(), qe(), pck(), launch, ByteView(current), 4);
  ASSERT_TRUE(ev.ok()) << ev.error().to_string();
  EXPECT_EQ(ev->tcb_status, TcbStatus::out_of_date);
  EXPECT_EQ(ev->current_tcb_status, TcbStatus::up_to_date);
  EXPECT_EQ(ev->relaunch, QvlStatus::tcb_td_relaunch_advised);
  EXPECT_EQ(ev->status, QvlStatus::tcb_td_relaunch_advised);
  EXPECT_EQ(qv_result(ev->status), 0xA009u);
  // Advisories and date stay the launch evaluation's.
  EXPECT_EQ(ev->advisory_ids, std::vector<std::string>{"INTEL-SA-M1"});
  EXPECT_EQ(ev->tcb_date, date("2023-08-09T00:00:00Z"));
}

TEST(TcbTd15, RelaunchAdvisedConfigurationNeeded) {
  TcbInfo info = tdx_info();
  info.tcb_levels[0].status = TcbStatus::configuration_needed;
  const Bytes launch = svn({2, 1, 3});
  const Bytes current = svn({3, 1, 3});
  auto ev = evaluate_tdx_tcb(info, qe(), pck(), launch, ByteView(current), 4);
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev->tcb_status, TcbStatus::out_of_date_configuration_needed);
  EXPECT_EQ(ev->current_tcb_status, TcbStatus::configuration_needed);
  EXPECT_EQ(ev->status, QvlStatus::tcb_td_relaunch_advised_configuration_needed);
  EXPECT_EQ(qv_result(ev->status), 0xA00Au);
  // Launch OutOfDate (no configuration) but current needs configuration: also the config form.
  info = tdx_info();
  info.tcb_levels.insert(info.tcb_levels.begin(),
                         level(5, 13, std::vector<uint16_t>{5, 1, 4}, S::configuration_needed));
  const Bytes current4 = svn({3, 1, 4});
  ev = evaluate_tdx_tcb(info, qe(), pck(), launch, ByteView(current4), 4);
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev->tcb_status, TcbStatus::out_of_date);
  EXPECT_EQ(ev->status, QvlStatus::tcb_td_relaunch_advised_configuration_needed);
}

TEST(TcbTd15, NoRelaunch) {
  const Bytes launch = svn({2, 1, 3});
  // Same SVN now: still OutOfDate, no advice.
  auto ev = evaluate_tdx_tcb(tdx_info(), qe(), pck(), launch, ByteView(launch), 4);
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev->current_tcb_status, TcbStatus::out_of_date);
  EXPECT_FALSE(ev->relaunch);
  EXPECT_EQ(ev->status, QvlStatus::tcb_out_of_date);
  // Launch UpToDate: nothing to advise.
  const Bytes up = svn({3, 1, 3});
  ev = evaluate_tdx_tcb(tdx_info(), qe(), pck(), up, ByteView(up), 4);
  ASSERT_TRUE(ev.ok());
  EXPECT_FALSE(ev->relaunch);
  EXPECT_EQ(ev->status, QvlStatus::ok);
  // Current Revoked (QE level Revoked): no advice. At launch the OutOfDate module component
  // converges first (docs/dcap-verification.md §8 order: OutOfDate rule before Revoked rule), so
  // launch is OutOfDate.
  ev = evaluate_tdx_tcb(tdx_info(), qe(), pck(), launch, ByteView(up), 0);
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev->tcb_status, TcbStatus::out_of_date);
  EXPECT_EQ(ev->current_tcb_status, TcbStatus::revoked);
  EXPECT_FALSE(ev->relaunch);
  EXPECT_EQ(ev->status, QvlStatus::tcb_out_of_date);
}

// QVL checkTcbLevel (TcbLevelCheck.cpp): when the current TCB (TEE_TCB_SVN2) cannot be evaluated,
// that failure is the result; the launch status (OutOfDate or UpToDate here) does not stand in
// for it (issue 17, finding 1).
TEST(TcbTd15, FailedCurrentTcbEvaluationIsTheVerdict) {
  const Bytes launch = svn({2, 1, 3});
  const Bytes up = svn({3, 1, 3});
  struct Case {
    const char* what;
    Bytes current;
  };
  const Case cases[] = {
      // Module major version 2: the TCB info has no TDX_02 identity (a TD-preserving update
      // to a module the TCB info does not list yet).
      {"no TDX_02 module identity", svn({3, 2, 3})},
      // Module minor version 0: below every TDX_01 level (isvsvn 3 and 1).
      {"module minor below every TDX_01 level", svn({0, 1, 3})},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    for (const Bytes& launched : {launch, up}) {
      auto ev = evaluate_tdx_tcb(tdx_info(), qe(), pck(), launched, ByteView(c.current), 4);
      ASSERT_FALSE(ev.ok());
      EXPECT_EQ(qvl_status_of(ev.error()), QvlStatus::tcb_not_supported) << ev.error().to_string();
    }
  }
}

TcbInfo sgx_info() {
  TcbInfo info;
  info.id = "SGX";
  info.version = 3;
  info.fmspc = kFmspc;
  info.tcb_levels = {
      level(7, 13, std::nullopt, S::sw_hardening_needed, "2024-03-13T00:00:00Z", {"INTEL-SA-A"}),
      level(5, 13, std::nullopt, S::configuration_and_sw_hardening_needed, "2023-08-09T00:00:00Z",
            {"INTEL-SA-B", "INTEL-SA-C"}),
      level(5, 11, std::nullopt, S::out_of_date, "2022-01-01T00:00:00Z"),
  };
  return info;
}

TEST(TcbSgx, Evaluation) {
  auto ev = evaluate_sgx_tcb(sgx_info(), qe("QE"), pck(), 4);
  ASSERT_TRUE(ev.ok()) << ev.error().to_string();
  EXPECT_EQ(ev->platform_level_index, 1u);
  EXPECT_EQ(ev->status, QvlStatus::tcb_configuration_and_sw_hardening_needed);
  EXPECT_EQ(ev->advisory_ids, (std::vector<std::string>{"INTEL-SA-B", "INTEL-SA-C"}));
  EXPECT_FALSE(ev->module_status);
  EXPECT_FALSE(ev->relaunch);
  // PCESVN 12 skips level 1 (pcesvn 13) for level 2.
  ev = evaluate_sgx_tcb(sgx_info(), qe("QE"), pck(5, 12), 4);
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev->platform_level_index, 2u);
  EXPECT_EQ(ev->status, QvlStatus::tcb_out_of_date);
  // One SGX component lower than every level.
  SgxExtension p = pck(9);
  p.tcb_comp_svn[7] = 4;
  expect_qvl_error(evaluate_sgx_tcb(sgx_info(), qe("QE"), p, 4), QvlStatus::tcb_not_supported);
  // QE OutOfDate converges ConfigurationAndSWHardeningNeeded; advisories platform ++ QE.
  ev = evaluate_sgx_tcb(sgx_info(), qe("QE"), pck(), 2);
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev->status, QvlStatus::tcb_out_of_date_configuration_needed);
  EXPECT_EQ(ev->advisory_ids,
            (std::vector<std::string>{"INTEL-SA-B", "INTEL-SA-C", "INTEL-SA-Q1"}));
  EXPECT_EQ(ev->tcb_date, date("2023-02-15T00:00:00Z"));
  // Wrong collateral kinds.
  expect_qvl_error(evaluate_sgx_tcb(tdx_info(), qe("QE"), pck(), 4), QvlStatus::tcb_info_mismatch);
  expect_qvl_error(evaluate_sgx_tcb(sgx_info(), qe("TD_QE"), pck(), 4),
                   QvlStatus::qe_identity_mismatch);
}

TEST(TcbModuleIdentity, Check) {
  const TcbInfo info = tdx_info();
  const Bytes zero48(48, 0), ones48(48, 0x11), zero8(8, 0);
  // TEE_TCB_SVN[1] = 0: tdxModule (mrsigner zero, attributes zero).
  EXPECT_TRUE(check_tdx_module_identity(info, svn({3, 0}), zero48, zero8).ok());
  expect_qvl_error(check_tdx_module_identity(info, svn({3, 0}), ones48, zero8),
                   QvlStatus::tdx_module_mismatch);
  // TEE_TCB_SVN[1] = 1: TDX_01 (mrsigner 11..11).
  EXPECT_TRUE(check_tdx_module_identity(info, svn({3, 1}), ones48, zero8).ok());
  expect_qvl_error(check_tdx_module_identity(info, svn({3, 1}), zero48, zero8),
                   QvlStatus::tdx_module_mismatch);
  // No TDX_02.
  expect_qvl_error(check_tdx_module_identity(info, svn({3, 2}), ones48, zero8),
                   QvlStatus::tdx_module_mismatch);
  // SEAMATTRIBUTES must be zero even when the expected attributes say otherwise.
  Bytes attrs(8, 0);
  attrs[0] = 1;
  TcbInfo set = info;
  set.tdx_module->attributes[0] = 1;
  expect_qvl_error(check_tdx_module_identity(set, svn({3, 0}), zero48, attrs),
                   QvlStatus::tdx_module_mismatch);
  expect_qvl_error(check_tdx_module_identity(set, svn({3, 0}), zero48, zero8),
                   QvlStatus::tdx_module_mismatch);
  // No tdxModule at all.
  set.tdx_module.reset();
  expect_qvl_error(check_tdx_module_identity(set, svn({3, 0}), zero48, zero8),
                   QvlStatus::tdx_module_mismatch);
}

TEST(TcbQeIdentity, Check) {
  const EnclaveIdentity id = qe();
  Bytes attributes(16, 0), mrsigner(32, 0xDC);
  attributes[0] = 0x15;  // bit 2 is outside the mask (FB)
  tdx::EnclaveReport report;
  report.attributes = attributes;
  report.mr_signer = mrsigner;
  report.isv_prod_id = 2;
  EXPECT_TRUE(check_qe_identity(id, report).ok());
  tdx::EnclaveReport bad = report;
  bad.misc_select = 1;
  expect_qvl_error(check_qe_identity(id, bad), QvlStatus::qe_identity_mismatch);
  Bytes attributes2 = attributes;
  attributes2[1] = 0x01;
  bad = report;
  bad.attributes = attributes2;
  expect_qvl_error(check_qe_identity(id, bad), QvlStatus::qe_identity_mismatch);
  Bytes mrsigner2 = mrsigner;
  mrsigner2[31] ^= 1;
  bad = report;
  bad.mr_signer = mrsigner2;
  expect_qvl_error(check_qe_identity(id, bad), QvlStatus::qe_identity_mismatch);
  bad = report;
  bad.isv_prod_id = 1;
  expect_qvl_error(check_qe_identity(id, bad), QvlStatus::qe_identity_mismatch);
  // A masked-out MISCSELECT bit is ignored.
  EnclaveIdentity masked = id;
  masked.miscselect_mask = 0xFFFFFFFE;
  bad = report;
  bad.misc_select = 1;
  EXPECT_TRUE(check_qe_identity(masked, bad).ok());
}

// ---- Real quotes and collateral (tests/data/quotes/vectors.json) ----
//
// Covered: every vector whose expected qvl_status is a TCB-evaluation outcome, i.e. not a
// signature / chain / time failure: phala-tdx-v4-uptodate, phala-tdx-v4-uptodate-window-end,
// phala-near-tdx-v4-uptodate, phala-sgx-v3, phala-tdx-v5-not-supported,
// phala-tdx-hex-not-supported, phala-tappd-not-supported, gotdx-spr-e4-not-supported, expired,
// edge-crl-expired, edge-before-issue ("STATUS_OK(0) for the quote step": the TCB outcome).
// Not covered (crypto/chain failures, not ours): negative-v4-* (55, 56, 57, 15).

Bytes load_quote(const std::string& relative, const std::string& encoding) {
  return encoding == "hex" ? test::read_hex_data(relative) : test::read_data_bytes(relative);
}

TEST(TcbVectors, RealQuotesMatchVectorsJson) {
  auto doc = parse_json(test::read_data("quotes/vectors.json"));
  ASSERT_TRUE(doc.ok()) << doc.error().to_string();
  std::vector<std::string> covered;
  for (const Json& v : doc->at("vectors")) {
    const std::string vid = v.at("id").get<std::string>();
    SCOPED_TRACE(vid);
    const Json& expected = v.at("expected");
    const std::string qvl = expected.at("qvl_status").get<std::string>();
    const std::string label = qvl.substr(0, qvl.find(')') + 1);
    const auto want = qvl_status_from_name(label.substr(0, label.find('(')));
    if (!want) continue;  // signature / chain / time failure: not TCB evaluation
    ASSERT_EQ(qvl_status_label(*want), label);
    covered.push_back(vid);

    const Bytes bytes = load_quote("quotes/" + v.at("quote").get<std::string>(),
                                   v.at("quote_encoding").get<std::string>());
    auto quote = tdx::parse_quote(bytes);
    ASSERT_TRUE(quote.ok()) << quote.error().to_string();
    auto pem = quote->pck_chain_pem();
    ASSERT_TRUE(pem.ok()) << pem.error().to_string();
    auto chain = Certificate::all_from_pem(*pem);
    ASSERT_TRUE(chain.ok() && !chain->empty());
    auto ext = sgx_extension_of(chain->front());
    ASSERT_TRUE(ext.ok()) << ext.error().to_string();
    auto collateral =
        parse_collateral_bundle(test::read_data("quotes/" + v.at("collateral").get<std::string>()));
    ASSERT_TRUE(collateral.ok()) << collateral.error().to_string();
    const TcbInfo& info = collateral->tcb_info.value;
    const EnclaveIdentity& identity = collateral->qe_identity.value;
    const tdx::EnclaveReport& qe_report = quote->signature.qe_report;

    EXPECT_TRUE(check_qe_identity(identity, qe_report).ok());
    Result<TcbEvaluation> ev = make_error(Errc::invalid_argument, "unset");
    if (const tdx::TdReport10* td = quote->td_report()) {
      EXPECT_TRUE(
          check_tdx_module_identity(info, td->tee_tcb_svn, td->mr_signer_seam, td->seam_attributes)
              .ok());
      std::optional<ByteView> svn2;
      if (const tdx::TdReport15* td15 = quote->td_report15()) svn2 = td15->tee_tcb_svn2;
      ev = evaluate_tdx_tcb(info, identity, *ext, td->tee_tcb_svn, svn2, qe_report.isv_svn);
    } else {
      ev = evaluate_sgx_tcb(info, identity, *ext, qe_report.isv_svn);
    }

    if (!expected.at("accepted").get<bool>()) {
      ASSERT_FALSE(ev.ok()) << "got " << qvl_status_label(ev->status);
      EXPECT_EQ(qvl_status_of(ev.error()), *want) << ev.error().to_string();
      continue;
    }
    ASSERT_TRUE(ev.ok()) << ev.error().to_string();
    EXPECT_EQ(ev->status, *want);
    EXPECT_EQ(tcb_status_name(ev->tcb_status), expected.at("tcb_status").get<std::string>());
    EXPECT_EQ(qv_result_name(qv_result(ev->status)), expected.at("qv_result").get<std::string>());
    EXPECT_EQ(ev->advisory_ids, expected.at("advisory_ids").get<std::vector<std::string>>());
    if (v.contains("details")) {
      const Json& details = v.at("details");
      if (details.contains("tcb_date")) {
        EXPECT_EQ(format_rfc3339(ev->tcb_date), details.at("tcb_date").get<std::string>());
      }
      if (details.contains("module_identity")) {
        EXPECT_EQ(ev->module_identity, details.at("module_identity").get<std::string>());
      }
      if (details.contains("qe_tcb_status")) {
        EXPECT_EQ(tcb_status_name(ev->qe_status), details.at("qe_tcb_status").get<std::string>());
      }
    }
  }
  EXPECT_EQ(covered,
            (std::vector<std::string>{"phala-tdx-v4-uptodate", "phala-tdx-v4-uptodate-window-end",
                                      "phala-near-tdx-v4-uptodate", "phala-sgx-v3",
                                      "phala-tdx-v5-not-supported", "phala-tdx-hex-not-supported",
                                      "phala-tappd-not-supported", "gotdx-spr-e4-not-supported",
                                      "expired", "edge-crl-expired", "edge-before-issue"}));
}

}  // namespace
}  // namespace acon::dcap
