// The simulated TDX platform: an Intel-shaped PKI (root CA, PCK Platform CA, PCK leaf certificate
// with the SGX extension, TCB signing certificate, root CA CRL and PCK CRL), TDX TCB info (v3) and
// TD_QE identity (v2) signed the way Intel signs them, and a simulated TD whose TDREPORTs and DCAP
// quotes (v4, and v5 with a TD 1.5 body) verify with the real DCAP verifier - when, and only when,
// the simulator's root CA is configured as trust anchor. Also a firmware CCEL whose replay gives
// the TD's RTMR0..2. Layouts: acon::tdx (verifier/tdx); details: docs/simulator.md.
//
// Everything derives from a seed (HKDF-SHA-384, EC keys reduced mod n), or from a fresh random
// one; ECDSA signatures use random nonces, so certificates and signed JSON differ between two
// creations from one seed while keys, serials and identities do not. A Simulator serialises to a
// state document holding its private keys (see state.h for sharing it between processes).
//
// Simulated evidence is marked (verifier/claims.h): PCK FMSPC kSimulatedFmspc and CA / signer
// names beginning "ACON Simulated ". Library code here never reads a clock: times are inputs.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "acon/common/bytes.h"
#include "acon/common/keys.h"
#include "acon/common/result.h"
#include "acon/common/x509.h"
#include "acon/dcap/collateral.h"
#include "acon/dcap/sgx_extension.h"
#include "acon/guest/backend.h"
#include "acon/tdx/tdreport.h"

namespace acon::guest::sim {

using Measurement = std::array<uint8_t, 48>;  // SHA-384 sized: MRTD, RTMRs, MRSEAM, ...

using tdx::kRtmrCount;     // 4
using tdx::kTdReportSize;  // 1024

// What the PCK certificate certifies about the (simulated) platform.
struct PlatformTcb {
  std::array<uint8_t, 16> ppid{};
  std::array<uint8_t, 16> sgx_comp_svn{};  // SGX TCB comp01..16 SVNs
  uint16_t pcesvn = 0;
  std::array<uint8_t, 16> cpusvn{};
  std::array<uint8_t, 2> pce_id{};
  std::array<uint8_t, 6> fmspc{};  // always dcap::kSimulatedFmspc
  dcap::SgxType sgx_type = dcap::SgxType::scalable;
  std::array<uint8_t, 16> platform_instance_id{};
  // TEE_TCB_SVN of the platform's current TDX module: the TCB info ladder is built around it.
  std::array<uint8_t, 16> tdx_tcb_svn{};
};

// The simulated TD's measurements and attributes, as the TDX module would report them.
struct TdState {
  std::array<uint8_t, 16> tee_tcb_svn{};   // the TD's launch TCB
  std::array<uint8_t, 16> tee_tcb_svn2{};  // TD 1.5: the currently loaded module's TCB
  Measurement mr_seam{};
  Measurement mr_signer_seam{};  // zero: Intel-signed module
  uint64_t seam_attributes = 0;
  uint64_t td_attributes = 0;  // little-endian u64 as in the report (bit 28 SEPT_VE_DISABLE)
  uint64_t xfam = 0;
  Measurement mr_td{};
  Measurement mr_config_id{};
  Measurement mr_owner{};
  Measurement mr_owner_config{};
  Measurement mr_service_td{};  // TD 1.5
  std::array<Measurement, kRtmrCount> rtmr{};
};

// The simulated TD quoting enclave; its identity matches the simulated TD_QE identity.
struct QeState {
  std::array<uint8_t, 32> mr_enclave{};
  std::array<uint8_t, 32> mr_signer{};
  uint16_t isv_prod_id = 2;
  uint16_t isv_svn = 4;
  uint32_t misc_select = 0;
  std::array<uint8_t, 16> attributes{};
};

// How the signed TCB info judges the platform, and what the CRLs list.
struct TcbPolicy {
  // Status of the TCB level that the platform (PCK SVNs + tdx_tcb_svn) matches. Anything other
  // than UpToDate also gets an UpToDate level above it, as real TCB info has.
  dcap::TcbStatus platform_status = dcap::TcbStatus::up_to_date;
  // Advisory IDs of that level when it is not UpToDate; empty = {"ACON-SIM-SA-00002"}.
  std::vector<std::string> advisory_ids;
  bool revoke_pck = false;  // list the PCK leaf in the PCK CRL (STATUS_SGX_PCK_REVOKED)
};

// Dates of the signed collateral. Certificates get fixed windows around issue_date
// (docs/simulator.md), long enough that only these dates make collateral expire.
struct CollateralDates {
  Time issue_date{};   // tcbInfo / enclaveIdentity issueDate, both CRLs' thisUpdate
  Time next_update{};  // their nextUpdate and the PCK CRL's
  Time root_crl_next_update{};
};
// issue_date, next_update = issue + 30 days, root CRL next update = issue + 365 days.
CollateralDates default_dates(Time issue_date);

struct CreateOptions {
  std::optional<Bytes> seed;  // any length >= 16; nullopt = 32 fresh random bytes
  CollateralDates dates;      // required: this library reads no clock
  TcbPolicy tcb;
  uint16_t quote_version = 4;  // 4 (TD 1.0 body) or 5 (body type 3, TD 1.5)
};

class Simulator {
 public:
  static Result<Simulator> create(const CreateOptions& options);
  // The state document written by to_state_json().
  static Result<Simulator> from_state_json(std::string_view json);
  // JSON with every private key (PKCS#8 PEM) and the report MAC key: write it owner-only.
  SecretBytes to_state_json() const;

  TdState& td() { return td_; }
  const TdState& td() const { return td_; }
  QeState& qe() { return qe_; }
  const QeState& qe() const { return qe_; }
  const PlatformTcb& platform() const { return platform_; }
  const TcbPolicy& tcb_policy() const { return policy_; }
  uint16_t quote_version() const { return quote_version_; }
  Status set_quote_version(uint16_t version);  // 4 or 5

  // RTMR[index] = SHA-384(RTMR[index] || digest); digest is 48 bytes.
  Status extend(uint32_t index, ByteView digest);
  // Launch the TD one TDX-module TCB level below the platform's current one (TEE_TCB_SVN[2] - 1)
  // while TEE_TCB_SVN2 stays current: a TD 1.5 quote then gets TD relaunch advice.
  Status launch_below_current_tcb();

  // The 1024-byte TDREPORT_STRUCT: REPORTMACSTRUCT (256, with REPORTDATA and a MAC), TEE_TCB_INFO
  // (239), 17 reserved, TDINFO (512). The MAC is HMAC-SHA-256 with the simulator's report key.
  Result<Bytes> td_report(const ReportData& data) const;
  // Checks a TDREPORT's MAC and its TEE_TCB_INFO / TDINFO hashes (as EVERIFYREPORT2 would).
  Status verify_td_report(ByteView report) const;
  // The DCAP quote of quote_version(): a TDREPORT turned into a quote by the simulated TD-QE.
  Result<Bytes> quote(const ReportData& data) const;
  // The same from a given TDREPORT (checked with verify_td_report first).
  Result<Bytes> quote_from_report(ByteView td_report) const;

  // The firmware's CCEL (TCG2 log, SHA-384): replaying it gives the launch RTMR0..2.
  const Bytes& ccel() const { return ccel_; }

  // PKI and collateral.
  const Certificate& root_ca() const;
  const Certificate& pck_platform_ca() const;
  const Certificate& pck_certificate() const;
  const Certificate& tcb_signing_certificate() const;
  // Leaf, Platform CA, root: the type-5 certification data of every quote.
  std::string pck_chain_pem() const;
  // The flat collateral bundle (tests/data/quotes MANIFEST "Collateral format") that
  // dcap::parse_collateral_bundle loads.
  const std::string& collateral_bundle() const { return collateral_bundle_; }
  Result<dcap::Collateral> collateral() const;
  // PCS-style response bodies: {"tcbInfo":{...},"signature":"..."} and the QE identity's.
  Result<std::string> tcb_info_response() const;
  Result<std::string> qe_identity_response() const;
  // Signs new TCB info, QE identity and CRLs with the same keys (e.g. expired ones for tests).
  Status reissue_collateral(const CollateralDates& dates, const TcbPolicy& policy);

  // Private keys and certificates (opaque here): immutable once created, so copies share them.
  struct Material;

 private:
  Simulator() = default;

  std::shared_ptr<const Material> material_;
  PlatformTcb platform_;
  TdState td_;
  QeState qe_;
  TcbPolicy policy_;
  CollateralDates dates_;
  uint16_t quote_version_ = 4;
  std::string collateral_bundle_;
  Bytes ccel_;
};

}  // namespace acon::guest::sim
