// DCAP collateral: Intel PCS v4 TCB info (TDX v3, SGX v2/v3) and enclave identity (TD_QE / QE
// v2) as typed models, the issuer chains and CRLs that come with them, and loaders for the raw
// PCS responses and for the flat "Phala" collateral bundle (QuoteCollateralV3).
// Reference: docs/dcap-verification.md §3 (PCS v4 and the flat bundle), §5, §8, §10.
//
// Parsing only, plus the one signature check that needs the exact signed bytes
// (verify_signed_json). Chain, CRL, time and TCB-level evaluation belong to later dcap/ stages.
// Every malformed input gives Errc::parse with the JSON path of the offending member, e.g.
// "tcbInfo.tcbLevels[3].tcb.sgxtcbcomponents: expected 16 components".
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "acon/common/bytes.h"
#include "acon/common/result.h"
#include "acon/common/x509.h"

namespace acon::dcap {

inline constexpr size_t kTcbComponentCount = 16;

// TCB level statuses with Intel QVL's spellings (TcbLevel.h / EnclaveIdentity status strings).
// Strings outside this set are refused at parse time ("unrecognized status"), which is where QVL
// raises STATUS_TCB_UNRECOGNIZED_STATUS.
enum class TcbStatus {
  up_to_date,                             // "UpToDate"
  sw_hardening_needed,                    // "SWHardeningNeeded"
  configuration_needed,                   // "ConfigurationNeeded"
  configuration_and_sw_hardening_needed,  // "ConfigurationAndSWHardeningNeeded"
  out_of_date,                            // "OutOfDate"
  out_of_date_configuration_needed,       // "OutOfDateConfigurationNeeded"
  revoked,                                // "Revoked"
};
std::string_view tcb_status_name(TcbStatus status);  // the JSON spelling
std::optional<TcbStatus> tcb_status_from_name(std::string_view name);

// One component of sgxtcbcomponents / tdxtcbcomponents. The SVN is an 8-bit value on real
// platforms, but Intel's own synthetic sample uses values up to 65535, so it is kept as u16 (a
// level whose SVN exceeds 255 then simply never matches).
struct TcbComponent {
  uint16_t svn = 0;
  std::string category;  // optional in the JSON; empty when absent
  std::string type;      // optional in the JSON; empty when absent
};

struct TcbLevel {
  std::array<TcbComponent, kTcbComponentCount> sgx_components;
  uint16_t pcesvn = 0;
  // TDX TCB info only (v3, id "TDX"); nullopt for SGX.
  std::optional<std::array<TcbComponent, kTcbComponentCount>> tdx_components;
  Time tcb_date{};
  TcbStatus status = TcbStatus::up_to_date;
  std::vector<std::string> advisory_ids;  // in JSON order; empty when absent
};

// A level with a single ISV SVN: QE identity levels and TDX module identity levels.
struct IsvTcbLevel {
  uint16_t isvsvn = 0;
  Time tcb_date{};
  TcbStatus status = TcbStatus::up_to_date;
  std::vector<std::string> advisory_ids;
};

struct TdxModule {
  std::array<uint8_t, 48> mrsigner{};
  std::array<uint8_t, 8> attributes{};
  std::array<uint8_t, 8> attributes_mask{};
};

struct TdxModuleIdentity {
  std::string id;  // "TDX_01", "TDX_03", ... as served (QVL compares it upper-cased)
  TdxModule module;
  std::vector<IsvTcbLevel> tcb_levels;  // sorted by isvsvn, highest first; no two equal
};

struct TcbInfo {
  std::string id;  // "TDX" or "SGX"; version 2 has no id member and reads as "SGX"
  uint32_t version = 0;
  Time issue_date{};
  Time next_update{};
  std::array<uint8_t, 6> fmspc{};
  std::array<uint8_t, 2> pce_id{};  // the two bytes as written ("0000"), as in the PCK cert
  uint32_t tcb_type = 0;
  uint32_t tcb_evaluation_data_number = 0;
  std::optional<TdxModule> tdx_module;                   // TDX only
  std::vector<TdxModuleIdentity> tdx_module_identities;  // TDX only, may be empty
  // Sorted descending by (sgx components lexicographically, pcesvn, tdx components) as QVL's
  // TcbLevel::operator> and Phala's canonicalize_tcb_levels order them. Two levels with equal
  // keys are refused at parse time, as QVL refuses "duplicated TCB levels". PCS already serves
  // this order, so sorting changes nothing for real data.
  std::vector<TcbLevel> tcb_levels;

  bool is_tdx() const { return id == "TDX"; }
};

struct EnclaveIdentity {
  std::string id;  // "TD_QE" or "QE" (also "QVE" for QvE identity)
  uint32_t version = 0;
  Time issue_date{};
  Time next_update{};
  uint32_t tcb_evaluation_data_number = 0;
  // The 8 hex digits read as a number ("13373B09" → 0x13373B09), as QVL does; the report's
  // MISCSELECT field is a little-endian u32, so compare numbers, not bytes.
  uint32_t miscselect = 0;
  uint32_t miscselect_mask = 0;
  std::array<uint8_t, 16> attributes{};       // bytes in report order
  std::array<uint8_t, 16> attributes_mask{};  // bytes in report order
  std::array<uint8_t, 32> mrsigner{};
  uint16_t isvprodid = 0;
  // Sorted by isvsvn, then tcbDate, newest first (QVL IdentityTcbLevel::operator>); two levels
  // with the same isvsvn and tcbDate are refused at parse time.
  std::vector<IsvTcbLevel> tcb_levels;
};

// A parsed model together with what the signature covers: the exact bytes of the inner JSON
// object as served (never a re-serialisation) and the raw ECDSA P-256 r||s signature.
template <class Model>
struct Signed {
  Model value;
  std::string signed_json;
  std::array<uint8_t, 64> signature{};
};
using SignedTcbInfo = Signed<TcbInfo>;
using SignedEnclaveIdentity = Signed<EnclaveIdentity>;

struct Collateral {
  SignedTcbInfo tcb_info;
  SignedEnclaveIdentity qe_identity;
  std::vector<Certificate> tcb_info_issuer_chain;     // TCB signing cert, then root
  std::vector<Certificate> qe_identity_issuer_chain;  // TCB signing cert, then root
  std::vector<Certificate> pck_crl_issuer_chain;      // PCK platform/processor CA, then root
  Crl root_ca_crl;
  Crl pck_crl;
  // The optional "pck_certificate_chain" of the bundle, for quotes that carry no chain; empty
  // when absent.
  std::vector<Certificate> pck_certificate_chain;
};

// Models from the inner JSON object alone (the text of "tcbInfo" / "enclaveIdentity");
// `path_root` begins the JSON paths in error messages.
Result<TcbInfo> parse_tcb_info_json(std::string_view inner_json,
                                    std::string_view path_root = "tcbInfo");
Result<EnclaveIdentity> parse_enclave_identity_json(std::string_view inner_json,
                                                    std::string_view path_root = "enclaveIdentity");

// PCS response bodies: {"tcbInfo":{...},"signature":"<128 hex>"} and
// {"enclaveIdentity":{...},"signature":"..."}. The signed bytes are cut out of `json` by position.
Result<SignedTcbInfo> parse_tcb_info_response(std::string_view json);
Result<SignedEnclaveIdentity> parse_qe_identity_response(std::string_view json);

// A PEM certificate chain, either plain or as the URL-encoded value of a PCS issuer-chain header
// (leaf first). Only %XX escapes are decoded ('+' stays '+'); a stray or malformed '%' fails.
Result<std::vector<Certificate>> parse_issuer_chain(std::string_view urlencoded_or_plain_pem);
// Percent-decoding as used by parse_issuer_chain.
Result<std::string> percent_decode(std::string_view text);

// A CRL given as DER, PEM, or hex text of the DER (PCCS and the bundle's format).
Result<Crl> parse_crl(ByteView der_pem_or_hex);

// The flat collateral bundle (docs/dcap-verification.md §3): string members
// pck_crl_issuer_chain, root_ca_crl, pck_crl, tcb_info_issuer_chain, tcb_info,
// tcb_info_signature, qe_identity_issuer_chain, qe_identity, qe_identity_signature, and an
// optional pck_certificate_chain; other members are ignored.
Result<Collateral> parse_collateral_bundle(std::string_view json);

// ECDSA P-256 / SHA-256 over signed_json with the signer's public key (normally the leaf of the
// issuer chain, "Intel SGX TCB Signing"). verify_failed when the signature does not match.
Status verify_signed_json(const SignedTcbInfo& signed_tcb_info, const Certificate& signer);
Status verify_signed_json(const SignedEnclaveIdentity& signed_identity, const Certificate& signer);

}  // namespace acon::dcap
