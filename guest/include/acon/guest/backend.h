// One interface for measuring and quoting, whatever the platform underneath: Linux TDX
// (configfs-tsm + sysfs RTMRs, or the legacy /dev/tdx_guest ioctls), a vTPM through tpm2-tss,
// or the simulated TDX platform. acond and the tests take a Backend and never ask which it is.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string_view>

#include "acon/common/bytes.h"
#include "acon/common/hash.h"
#include "acon/common/result.h"

namespace acon::guest {

// 64 bytes bound into every report and quote (TDX REPORTDATA, TPM2_Quote qualifyingData).
using ReportData = std::array<uint8_t, 64>;

// What a register index means: RTMR0..3 of a TD, or PCR0..23 of a TPM.
enum class RegisterKind { rtmr, pcr };

// Register values by bank, then by index (the same type as acon::tpm::PcrValues).
using PcrValues = std::map<HashAlg, std::map<uint32_t, Bytes>>;

// A quote with what a verifier needs beside it when the quote does not carry it. A TDX quote
// holds its RTMRs and its signer's certificate chain, so both extras stay empty; a TPM2_Quote
// holds only a digest of the PCRs it covers and no key, so a vTPM fills both.
struct Attestation {
  Bytes quote;      // as quote() returns it
  Bytes ak_public;  // the signing key's marshalled TPM2B_PUBLIC
  PcrValues pcrs;   // the values the quote covers, every bank it selects
};

class Backend {
 public:
  virtual ~Backend() = default;

  // Short, stable name for logs and evidence labels: "tdx-tsm", "tdx-legacy", "vtpm", "sim".
  virtual std::string_view name() const = 0;
  virtual RegisterKind register_kind() const = 0;

  // register = SHA-x(register || digest); `digest` must be exactly hash_size(alg) bytes.
  // TDX has one bank (sha384); a vTPM extends the named PCR bank.
  virtual Status extend(uint32_t index, HashAlg alg, ByteView digest) = 0;
  virtual Result<Bytes> read(uint32_t index, HashAlg alg) = 0;

  // A locally verifiable report binding `data`: the 1024-byte TDREPORT for TDX.
  virtual Result<Bytes> report(const ReportData& data) = 0;
  // Remotely verifiable evidence binding `data`: a DCAP quote (v4 or v5) for TDX; for a vTPM the
  // marshalled TPM2B_ATTEST followed by the marshalled TPMT_SIGNATURE of TPM2_Quote.
  virtual Result<Bytes> quote(const ReportData& data) = 0;
  // quote() with the extras above, taken so that no extend falls between quote and values.
  virtual Result<Attestation> attest(const ReportData& data) {
    ACON_TRY(Bytes quoted, quote(data));
    return Attestation{std::move(quoted), {}, {}};
  }
  // The firmware's measurement log: the CCEL for TDX, the TCG2 log for a vTPM.
  virtual Result<Bytes> firmware_event_log() = 0;
};

}  // namespace acon::guest
