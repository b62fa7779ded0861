// Pure TCB evaluation of DCAP quotes: TDX module identity (§7 step 3), QE identity (step 6),
// TCB level matching for TDX and SGX with status convergence, TCB date, advisory IDs and the
// TD 1.5 relaunch rule (§8), and Intel QVL / QvE status codes (§9). The project follows the
// newest Intel QVL (§12 rows 1-3). No signatures, chains or time checks here (other dcap/ stages).
// Reference (every § in this file): docs/dcap-verification.md §7, §8, §9, §12.
//
// Outcomes: a TCB status that QVL reports as a result (UpToDate ... Revoked, TD relaunch) comes
// back as a TcbEvaluation, Revoked included (QvE then fails the call; callers decide). Outcomes
// where QVL has no TCB status at all (TCB info / QE identity mismatch, TCB not supported, TDX
// module mismatch, unrecognized status) are errors, always Errc::verify_failed, whose message
// starts with the QVL status as "STATUS_TCB_NOT_SUPPORTED(49): ..."; qvl_status_of() reads it back.
// Unknown status strings are already refused by the collateral parser; here only a status outside
// the valid set of its kind (QE level, module level) gives STATUS_TCB_UNRECOGNIZED_STATUS.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "acon/common/bytes.h"
#include "acon/common/result.h"
#include "acon/common/x509.h"
#include "acon/dcap/collateral.h"
#include "acon/dcap/sgx_extension.h"
#include "acon/tdx/quote.h"

namespace acon::dcap {

// The TCB-related Intel QVL statuses (QuoteVerification.h `Status`), with QVL's numeric codes.
enum class QvlStatus : uint32_t {
  ok = 0,                                     // STATUS_OK
  tcb_info_mismatch = 44,                     // STATUS_TCB_INFO_MISMATCH
  tcb_out_of_date = 45,                       // STATUS_TCB_OUT_OF_DATE
  tcb_revoked = 46,                           // STATUS_TCB_REVOKED
  tcb_configuration_needed = 47,              // STATUS_TCB_CONFIGURATION_NEEDED
  tcb_out_of_date_configuration_needed = 48,  // STATUS_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED
  tcb_not_supported = 49,                     // STATUS_TCB_NOT_SUPPORTED
  tcb_unrecognized_status = 50,               // STATUS_TCB_UNRECOGNIZED_STATUS
  qe_identity_mismatch = 74,                  // STATUS_QE_IDENTITY_MISMATCH
  tcb_sw_hardening_needed = 82,               // STATUS_TCB_SW_HARDENING_NEEDED
  // STATUS_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED
  tcb_configuration_and_sw_hardening_needed = 83,
  tdx_module_mismatch = 85,  // STATUS_TDX_MODULE_MISMATCH
  // Newest QVL only, after STATUS_TDX_MODULE_MISMATCH in the enum (absent from older QVLs):
  tcb_td_relaunch_advised = 86,  // STATUS_TCB_TD_RELAUNCH_ADVISED
  // STATUS_TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED
  tcb_td_relaunch_advised_configuration_needed = 87,
};

std::string_view qvl_status_name(QvlStatus status);  // "STATUS_TCB_OUT_OF_DATE"
inline uint32_t qvl_status_code(QvlStatus status) { return static_cast<uint32_t>(status); }
std::optional<QvlStatus> qvl_status_from_name(std::string_view name);
// "STATUS_TCB_OUT_OF_DATE(45)", the spelling of vectors.json and of error messages.
std::string qvl_status_label(QvlStatus status);
// The QVL status at the start of an error message made by this header's functions.
std::optional<QvlStatus> qvl_status_of(const Error& error);

// The QVL status of a (converged) TCB level status.
QvlStatus qvl_status_for(TcbStatus status);

// QvE sgx_ql_qv_result_t (0xA000|x; OK → 0), qve.cpp::status_error_to_ql_qve_result. Statuses for
// which QvE returns no result (mismatch, not supported, unrecognized) map to
// SGX_QL_QV_RESULT_UNSPECIFIED 0xA006.
inline constexpr uint32_t kQvResultUnspecified = 0xA006;
uint32_t qv_result(QvlStatus status);
std::string_view qv_result_name(uint32_t qv_result);  // "SGX_QL_QV_RESULT_OK", ...

struct TcbEvaluation {
  // Final QVL status: qvl_status_for(tcb_status), or a TD relaunch status (TD 1.5 only).
  QvlStatus status = QvlStatus::ok;
  // Converged status for TEE_TCB_SVN (the TD's launch TCB; the platform TCB for SGX).
  TcbStatus tcb_status = TcbStatus::up_to_date;
  TcbStatus platform_status = TcbStatus::up_to_date;
  size_t platform_level_index = 0;             // into TcbInfo::tcb_levels
  std::optional<std::string> module_identity;  // "TDX_01" when TEE_TCB_SVN[1] > 0
  std::optional<TcbStatus> module_status;      // that identity's matched level
  TcbStatus qe_status = TcbStatus::up_to_date;
  size_t qe_level_index = 0;              // into EnclaveIdentity::tcb_levels
  std::vector<std::string> advisory_ids;  // platform ++ QE ++ module
  Time tcb_date{};                        // min(platform, QE, module tcbDate)
  // TD 1.5: the converged status for TEE_TCB_SVN2 (nullopt for TD 1.0 bodies) and the relaunch
  // advice (TDRelaunchCheck.cpp), which then also is `status`.
  std::optional<TcbStatus> current_tcb_status;
  std::optional<QvlStatus> relaunch;
};

// TDX (v4/v5 TD bodies). tee_tcb_svn: 16 bytes; tee_tcb_svn2: the TD 1.5 body's 16 bytes, or
// nullopt for TD 1.0; when given, its evaluation failing fails the whole evaluation, as QVL's
// checkTcbLevel does (the launch status does not stand in for it). Checks TCB info id "TDX"
// (version >= 3), FMSPC and PCE-ID against the PCK (STATUS_TCB_INFO_MISMATCH) and QE identity id
// "TD_QE" (STATUS_QE_IDENTITY_MISMATCH) first.
Result<TcbEvaluation> evaluate_tdx_tcb(const TcbInfo& tcb_info, const EnclaveIdentity& qe_identity,
                                       const SgxExtension& pck, ByteView tee_tcb_svn,
                                       std::optional<ByteView> tee_tcb_svn2, uint16_t qe_isvsvn);

// SGX (v3, or v5 with an SGX body): TCB info id "SGX", QE identity id "QE"; no module, no TDX
// components.
Result<TcbEvaluation> evaluate_sgx_tcb(const TcbInfo& tcb_info, const EnclaveIdentity& qe_identity,
                                       const SgxExtension& pck, uint16_t qe_isvsvn);

// §7 step 3: the expected module (tdxModule, or the TDX_%02X identity when TEE_TCB_SVN[1] > 0)
// must exist, MRSIGNERSEAM equal its mrsigner, and SEAMATTRIBUTES be all zero and equal its
// attributes (mask not applied, as QVL). Failures → STATUS_TDX_MODULE_MISMATCH.
Status check_tdx_module_identity(const TcbInfo& tcb_info, ByteView tee_tcb_svn,
                                 ByteView mr_signer_seam, ByteView seam_attributes);

// §7 step 6: (MISCSELECT & miscselectMask) == miscselect, (ATTRIBUTES & attributesMask) ==
// attributes bytewise, MRSIGNER and ISVPRODID equal. Failures → STATUS_QE_IDENTITY_MISMATCH.
Status check_qe_identity(const EnclaveIdentity& qe_identity, const tdx::EnclaveReport& qe_report);

}  // namespace acon::dcap
