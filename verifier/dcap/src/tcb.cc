// TCB evaluation (docs/dcap-verification.md §7 steps 3 and 6, §8, §9): QVL EvaluateTcb.cpp,
// TcbLevelCheck.cpp, TdxModuleCheck.cpp, TDRelaunchCheck.cpp, EnclaveReportVerifier.cpp semantics.
#include "acon/dcap/tcb.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <initializer_list>
#include <utility>

namespace acon::dcap {
namespace {

struct StatusEntry {
  QvlStatus status;
  std::string_view name;
};

constexpr std::array<StatusEntry, 14> kStatusNames{{
    {QvlStatus::ok, "STATUS_OK"},
    {QvlStatus::tcb_info_mismatch, "STATUS_TCB_INFO_MISMATCH"},
    {QvlStatus::tcb_out_of_date, "STATUS_TCB_OUT_OF_DATE"},
    {QvlStatus::tcb_revoked, "STATUS_TCB_REVOKED"},
    {QvlStatus::tcb_configuration_needed, "STATUS_TCB_CONFIGURATION_NEEDED"},
    {QvlStatus::tcb_out_of_date_configuration_needed,
     "STATUS_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED"},
    {QvlStatus::tcb_not_supported, "STATUS_TCB_NOT_SUPPORTED"},
    {QvlStatus::tcb_unrecognized_status, "STATUS_TCB_UNRECOGNIZED_STATUS"},
    {QvlStatus::qe_identity_mismatch, "STATUS_QE_IDENTITY_MISMATCH"},
    {QvlStatus::tcb_sw_hardening_needed, "STATUS_TCB_SW_HARDENING_NEEDED"},
    {QvlStatus::tcb_configuration_and_sw_hardening_needed,
     "STATUS_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED"},
    {QvlStatus::tdx_module_mismatch, "STATUS_TDX_MODULE_MISMATCH"},
    {QvlStatus::tcb_td_relaunch_advised, "STATUS_TCB_TD_RELAUNCH_ADVISED"},
    {QvlStatus::tcb_td_relaunch_advised_configuration_needed,
     "STATUS_TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED"},
}};

Error fail(QvlStatus status, const std::string& message) {
  return make_error(Errc::verify_failed, qvl_status_label(status) + ": " + message);
}

bool is_one_of(TcbStatus status, std::initializer_list<TcbStatus> set) {
  return std::find(set.begin(), set.end(), status) != set.end();
}

bool needs_configuration(TcbStatus status) {
  return is_one_of(
      status, {TcbStatus::configuration_needed, TcbStatus::configuration_and_sw_hardening_needed,
               TcbStatus::out_of_date_configuration_needed});
}

std::string hex2(uint8_t value) {
  char buf[3];
  std::snprintf(buf, sizeof buf, "%02X", value);
  return buf;
}

std::string upper(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
  return text;
}

// convergeTcbStatuses: an OutOfDate component downgrades the platform status, a Revoked one
// revokes it, otherwise the platform status stands.
TcbStatus converge(TcbStatus platform, const std::vector<TcbStatus>& components) {
  for (TcbStatus c : components) {
    if (c != TcbStatus::out_of_date) continue;
    if (is_one_of(platform, {TcbStatus::up_to_date, TcbStatus::sw_hardening_needed})) {
      return TcbStatus::out_of_date;
    }
    if (is_one_of(platform, {TcbStatus::configuration_needed,
                             TcbStatus::configuration_and_sw_hardening_needed})) {
      return TcbStatus::out_of_date_configuration_needed;
    }
  }
  for (TcbStatus c : components) {
    if (c == TcbStatus::revoked) return TcbStatus::revoked;
  }
  return platform;
}

bool sgx_part_matches(const TcbLevel& level, const SgxExtension& pck) {
  for (size_t i = 0; i < kTcbComponentCount; ++i) {
    if (pck.tcb_comp_svn[i] < level.sgx_components[i].svn) return false;
  }
  return pck.pcesvn >= level.pcesvn;
}

// First level (sorted, highest first) the platform reaches; nullopt when none.
std::optional<size_t> match_platform(const TcbInfo& info, const SgxExtension& pck,
                                     std::optional<ByteView> tee_tcb_svn) {
  for (size_t l = 0; l < info.tcb_levels.size(); ++l) {
    const TcbLevel& level = info.tcb_levels[l];
    if (!sgx_part_matches(level, pck)) continue;
    if (tee_tcb_svn) {
      if (!level.tdx_components) continue;
      const ByteView svn = *tee_tcb_svn;
      const size_t start = svn[1] > 0 ? 2 : 0;
      bool ok = true;
      for (size_t i = start; i < kTcbComponentCount && ok; ++i) {
        ok = svn[i] >= (*level.tdx_components)[i].svn;
      }
      if (!ok) continue;
    }
    return l;
  }
  return std::nullopt;
}

// QE TCB level: first with isvsvn <= the QE report's.
Result<size_t> match_qe(const EnclaveIdentity& identity, uint16_t qe_isvsvn) {
  for (size_t l = 0; l < identity.tcb_levels.size(); ++l) {
    if (identity.tcb_levels[l].isvsvn > qe_isvsvn) continue;
    const TcbStatus status = identity.tcb_levels[l].status;
    if (!is_one_of(status,
                   {TcbStatus::up_to_date, TcbStatus::out_of_date, TcbStatus::configuration_needed,
                    TcbStatus::revoked, TcbStatus::out_of_date_configuration_needed})) {
      return fail(QvlStatus::tcb_unrecognized_status, "QE identity tcbLevels[" + std::to_string(l) +
                                                          "] has status " +
                                                          std::string(tcb_status_name(status)));
    }
    return l;
  }
  return fail(QvlStatus::tcb_not_supported,
              "no QE identity TCB level with isvsvn <= " + std::to_string(qe_isvsvn));
}

const TdxModuleIdentity* find_module_identity(const TcbInfo& info, const std::string& id) {
  for (const TdxModuleIdentity& m : info.tdx_module_identities) {
    if (upper(m.id) == id) return &m;
  }
  return nullptr;
}

void append_ids(std::vector<std::string>& out, const std::vector<std::string>& ids) {
  out.insert(out.end(), ids.begin(), ids.end());
}

// One TDX or SGX evaluation for one TEE_TCB_SVN (nullopt for SGX).
Result<TcbEvaluation> evaluate_once(const TcbInfo& info, const EnclaveIdentity& qe_identity,
                                    const SgxExtension& pck, std::optional<ByteView> tee_tcb_svn,
                                    uint16_t qe_isvsvn) {
  TcbEvaluation ev;
  const auto platform = match_platform(info, pck, tee_tcb_svn);
  if (!platform) {
    return fail(QvlStatus::tcb_not_supported,
                tee_tcb_svn ? "no TCB level matches the PCK SVNs and TEE_TCB_SVN " +
                                  hex_encode(*tee_tcb_svn)
                            : std::string("no TCB level matches the PCK SVNs"));
  }
  const TcbLevel& level = info.tcb_levels[*platform];
  ev.platform_level_index = *platform;
  ev.platform_status = level.status;
  ev.tcb_date = level.tcb_date;

  const IsvTcbLevel* module_level = nullptr;
  if (tee_tcb_svn && (*tee_tcb_svn)[1] > 0) {
    const ByteView svn = *tee_tcb_svn;
    const std::string id = "TDX_" + hex2(svn[1]);
    const TdxModuleIdentity* module = find_module_identity(info, id);
    if (module == nullptr) {
      return fail(QvlStatus::tcb_not_supported, "no TDX module identity " + id);
    }
    for (const IsvTcbLevel& m : module->tcb_levels) {
      if (svn[0] >= m.isvsvn) {
        module_level = &m;
        break;
      }
    }
    if (module_level == nullptr) {
      return fail(QvlStatus::tcb_not_supported,
                  id + ": no TCB level with isvsvn <= " + std::to_string(svn[0]));
    }
    if (!is_one_of(module_level->status,
                   {TcbStatus::up_to_date, TcbStatus::out_of_date, TcbStatus::revoked})) {
      return fail(QvlStatus::tcb_unrecognized_status,
                  id + " level has status " + std::string(tcb_status_name(module_level->status)));
    }
    ev.module_identity = id;
    ev.module_status = module_level->status;
  }

  ACON_TRY(const size_t qe_index, match_qe(qe_identity, qe_isvsvn));
  const IsvTcbLevel& qe_level = qe_identity.tcb_levels[qe_index];
  ev.qe_level_index = qe_index;
  ev.qe_status = qe_level.status;

  std::vector<TcbStatus> components;
  if (ev.module_status) components.push_back(*ev.module_status);
  components.push_back(ev.qe_status);
  ev.tcb_status = converge(ev.platform_status, components);
  ev.status = qvl_status_for(ev.tcb_status);

  ev.tcb_date = std::min(ev.tcb_date, qe_level.tcb_date);
  if (module_level != nullptr) ev.tcb_date = std::min(ev.tcb_date, module_level->tcb_date);
  append_ids(ev.advisory_ids, level.advisory_ids);
  append_ids(ev.advisory_ids, qe_level.advisory_ids);
  if (module_level != nullptr) append_ids(ev.advisory_ids, module_level->advisory_ids);
  return ev;
}

Status check_pck_fits(const TcbInfo& info, const SgxExtension& pck) {
  if (info.fmspc != pck.fmspc) {
    return fail(QvlStatus::tcb_info_mismatch, "TCB info fmspc " + hex_encode(info.fmspc) +
                                                  " != PCK fmspc " + hex_encode(pck.fmspc));
  }
  if (info.pce_id != pck.pce_id) {
    return fail(QvlStatus::tcb_info_mismatch, "TCB info pceId " + hex_encode(info.pce_id) +
                                                  " != PCK pceId " + hex_encode(pck.pce_id));
  }
  return {};
}

}  // namespace

std::string_view qvl_status_name(QvlStatus status) {
  for (const StatusEntry& e : kStatusNames) {
    if (e.status == status) return e.name;
  }
  return "STATUS_UNKNOWN";
}

std::optional<QvlStatus> qvl_status_from_name(std::string_view name) {
  for (const StatusEntry& e : kStatusNames) {
    if (e.name == name) return e.status;
  }
  return std::nullopt;
}

std::string qvl_status_label(QvlStatus status) {
  return std::string(qvl_status_name(status)) + "(" + std::to_string(qvl_status_code(status)) + ")";
}

std::optional<QvlStatus> qvl_status_of(const Error& error) {
  const size_t paren = error.message.find('(');
  if (paren == std::string::npos) return std::nullopt;
  auto status = qvl_status_from_name(std::string_view(error.message).substr(0, paren));
  if (!status || !error.message.starts_with(qvl_status_label(*status))) return std::nullopt;
  return status;
}

QvlStatus qvl_status_for(TcbStatus status) {
  switch (status) {
    case TcbStatus::up_to_date:
      return QvlStatus::ok;
    case TcbStatus::sw_hardening_needed:
      return QvlStatus::tcb_sw_hardening_needed;
    case TcbStatus::configuration_needed:
      return QvlStatus::tcb_configuration_needed;
    case TcbStatus::configuration_and_sw_hardening_needed:
      return QvlStatus::tcb_configuration_and_sw_hardening_needed;
    case TcbStatus::out_of_date:
      return QvlStatus::tcb_out_of_date;
    case TcbStatus::out_of_date_configuration_needed:
      return QvlStatus::tcb_out_of_date_configuration_needed;
    case TcbStatus::revoked:
      return QvlStatus::tcb_revoked;
  }
  return QvlStatus::tcb_unrecognized_status;
}

uint32_t qv_result(QvlStatus status) {
  switch (status) {
    case QvlStatus::ok:
      return 0;
    case QvlStatus::tcb_configuration_needed:
      return 0xA001;
    case QvlStatus::tcb_out_of_date:
      return 0xA002;
    case QvlStatus::tcb_out_of_date_configuration_needed:
      return 0xA003;
    case QvlStatus::tcb_revoked:
      return 0xA005;
    case QvlStatus::tcb_sw_hardening_needed:
      return 0xA007;
    case QvlStatus::tcb_configuration_and_sw_hardening_needed:
      return 0xA008;
    case QvlStatus::tcb_td_relaunch_advised:
      return 0xA009;
    case QvlStatus::tcb_td_relaunch_advised_configuration_needed:
      return 0xA00A;
    default:
      return kQvResultUnspecified;
  }
}

std::string_view qv_result_name(uint32_t result) {
  switch (result) {
    case 0:
      return "SGX_QL_QV_RESULT_OK";
    case 0xA001:
      return "SGX_QL_QV_RESULT_CONFIG_NEEDED";
    case 0xA002:
      return "SGX_QL_QV_RESULT_OUT_OF_DATE";
    case 0xA003:
      return "SGX_QL_QV_RESULT_OUT_OF_DATE_CONFIG_NEEDED";
    case 0xA004:
      return "SGX_QL_QV_RESULT_INVALID_SIGNATURE";
    case 0xA005:
      return "SGX_QL_QV_RESULT_REVOKED";
    case 0xA006:
      return "SGX_QL_QV_RESULT_UNSPECIFIED";
    case 0xA007:
      return "SGX_QL_QV_RESULT_SW_HARDENING_NEEDED";
    case 0xA008:
      return "SGX_QL_QV_RESULT_CONFIG_AND_SW_HARDENING_NEEDED";
    case 0xA009:
      return "SGX_QL_QV_RESULT_TD_RELAUNCH_ADVISED";
    case 0xA00A:
      return "SGX_QL_QV_RESULT_TD_RELAUNCH_ADVISED_CONFIG_NEEDED";
    default:
      return "SGX_QL_QV_RESULT_UNKNOWN";
  }
}

Result<TcbEvaluation> evaluate_tdx_tcb(const TcbInfo& tcb_info, const EnclaveIdentity& qe_identity,
                                       const SgxExtension& pck, ByteView tee_tcb_svn,
                                       std::optional<ByteView> tee_tcb_svn2, uint16_t qe_isvsvn) {
  if (tee_tcb_svn.size() != 16 || (tee_tcb_svn2 && tee_tcb_svn2->size() != 16)) {
    return make_error(Errc::invalid_argument, "tcb: TEE_TCB_SVN must be 16 bytes");
  }
  if (!tcb_info.is_tdx() || tcb_info.version < 3) {
    return fail(QvlStatus::tcb_info_mismatch,
                "TDX quote needs TCB info id \"TDX\" version >= 3, got \"" + tcb_info.id +
                    "\" version " + std::to_string(tcb_info.version));
  }
  ACON_CHECK(check_pck_fits(tcb_info, pck));
  if (qe_identity.id != "TD_QE") {
    return fail(QvlStatus::qe_identity_mismatch,
                "TDX quote needs QE identity id \"TD_QE\", got \"" + qe_identity.id + "\"");
  }
  ACON_TRY(TcbEvaluation ev, evaluate_once(tcb_info, qe_identity, pck, tee_tcb_svn, qe_isvsvn));
  if (!tee_tcb_svn2) return ev;

  // TD 1.5 (QVL TcbLevelCheck.cpp checkTcbLevel): the current TCB (TEE_TCB_SVN2) is evaluated
  // like the launch TCB, and its failure is the verdict - no level for SVN2, no TDX_%02X
  // identity for its module major version, or no module level for its minor version rejects
  // the quote, whatever the launch TCB was. Then (TDRelaunchCheck.cpp) a TD launched on an
  // out-of-date module that now runs on an up-to-date one is advised to relaunch.
  ACON_TRY(const TcbEvaluation current,
           evaluate_once(tcb_info, qe_identity, pck, *tee_tcb_svn2, qe_isvsvn));
  ev.current_tcb_status = current.tcb_status;
  const bool launch_out_of_date = is_one_of(
      ev.tcb_status, {TcbStatus::out_of_date, TcbStatus::out_of_date_configuration_needed});
  const bool current_fine =
      is_one_of(current.tcb_status, {TcbStatus::up_to_date, TcbStatus::sw_hardening_needed,
                                     TcbStatus::configuration_needed,
                                     TcbStatus::configuration_and_sw_hardening_needed});
  if (launch_out_of_date && current_fine) {
    ev.relaunch = needs_configuration(ev.tcb_status) || needs_configuration(current.tcb_status)
                      ? QvlStatus::tcb_td_relaunch_advised_configuration_needed
                      : QvlStatus::tcb_td_relaunch_advised;
    ev.status = *ev.relaunch;
  }
  return ev;
}

Result<TcbEvaluation> evaluate_sgx_tcb(const TcbInfo& tcb_info, const EnclaveIdentity& qe_identity,
                                       const SgxExtension& pck, uint16_t qe_isvsvn) {
  if (tcb_info.id != "SGX") {
    return fail(QvlStatus::tcb_info_mismatch,
                "SGX quote needs TCB info id \"SGX\", got \"" + tcb_info.id + "\"");
  }
  ACON_CHECK(check_pck_fits(tcb_info, pck));
  if (qe_identity.id != "QE") {
    return fail(QvlStatus::qe_identity_mismatch,
                "SGX quote needs QE identity id \"QE\", got \"" + qe_identity.id + "\"");
  }
  return evaluate_once(tcb_info, qe_identity, pck, std::nullopt, qe_isvsvn);
}

Status check_tdx_module_identity(const TcbInfo& tcb_info, ByteView tee_tcb_svn,
                                 ByteView mr_signer_seam, ByteView seam_attributes) {
  if (tee_tcb_svn.size() != 16 || mr_signer_seam.size() != 48 || seam_attributes.size() != 8) {
    return make_error(Errc::invalid_argument,
                      "tcb: TEE_TCB_SVN, MRSIGNERSEAM, SEAMATTRIBUTES must be 16, 48, 8 bytes");
  }
  const TdxModule* expected = tcb_info.tdx_module ? &*tcb_info.tdx_module : nullptr;
  std::string which = "tdxModule";
  if (tee_tcb_svn[1] > 0) {
    which = "TDX_" + hex2(tee_tcb_svn[1]);
    const TdxModuleIdentity* identity = find_module_identity(tcb_info, which);
    expected = identity != nullptr ? &identity->module : nullptr;
  }
  if (expected == nullptr) {
    return fail(QvlStatus::tdx_module_mismatch, "TCB info has no " + which);
  }
  if (!std::equal(mr_signer_seam.begin(), mr_signer_seam.end(), expected->mrsigner.begin())) {
    return fail(QvlStatus::tdx_module_mismatch, "MRSIGNERSEAM " + hex_encode(mr_signer_seam) +
                                                    " != " + which + " mrsigner " +
                                                    hex_encode(expected->mrsigner));
  }
  const bool zero =
      std::all_of(seam_attributes.begin(), seam_attributes.end(), [](uint8_t b) { return b == 0; });
  if (!zero ||
      !std::equal(seam_attributes.begin(), seam_attributes.end(), expected->attributes.begin())) {
    return fail(QvlStatus::tdx_module_mismatch, "SEAMATTRIBUTES " + hex_encode(seam_attributes) +
                                                    " not zero / != " + which + " attributes " +
                                                    hex_encode(expected->attributes));
  }
  return {};
}

Status check_qe_identity(const EnclaveIdentity& qe_identity, const tdx::EnclaveReport& qe_report) {
  if (qe_report.attributes.size() != 16 || qe_report.mr_signer.size() != 32) {
    return make_error(Errc::invalid_argument, "tcb: QE report attributes/mrsigner size");
  }
  if ((qe_report.misc_select & qe_identity.miscselect_mask) != qe_identity.miscselect) {
    return fail(QvlStatus::qe_identity_mismatch, "QE report MISCSELECT mismatch");
  }
  for (size_t i = 0; i < 16; ++i) {
    if ((qe_report.attributes[i] & qe_identity.attributes_mask[i]) != qe_identity.attributes[i]) {
      return fail(QvlStatus::qe_identity_mismatch,
                  "QE report ATTRIBUTES " + hex_encode(qe_report.attributes) + " mismatch");
    }
  }
  if (!std::equal(qe_report.mr_signer.begin(), qe_report.mr_signer.end(),
                  qe_identity.mrsigner.begin())) {
    return fail(QvlStatus::qe_identity_mismatch,
                "QE report MRSIGNER " + hex_encode(qe_report.mr_signer) + " mismatch");
  }
  if (qe_report.isv_prod_id != qe_identity.isvprodid) {
    return fail(QvlStatus::qe_identity_mismatch,
                "QE report ISVPRODID " + std::to_string(qe_report.isv_prod_id) +
                    " != " + std::to_string(qe_identity.isvprodid));
  }
  return {};
}

}  // namespace acon::dcap
