// The SGX extension of an Intel PCK certificate (OID 1.2.840.113741.1.13.1): PPID, the TCB the
// certificate was issued for (16 SGX TCB component SVNs, PCESVN, CPUSVN), PCE-ID, FMSPC, SGX type
// and, in certificates issued by the PCK Platform CA, the platform instance ID and configuration.
// Reference: docs/dcap-verification.md §6 (Intel QVL AttestationParsers ParserUtils.cpp,
// Phala dcap-qvl oids.rs).
//
// The parser is a small, bounds-checked, non-recursive DER reader: definite minimal lengths of at
// most 4 bytes, minimal non-negative INTEGER/ENUMERATED, BOOLEAN 0x00/0xFF, exact OCTET STRING
// sizes. Elements with unknown OIDs are skipped (only their framing and leading OID are read).
// Every required element must appear exactly once; a known element appearing twice is an error.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "acon/common/bytes.h"
#include "acon/common/result.h"
#include "acon/common/x509.h"

namespace acon::dcap {

inline constexpr std::string_view kSgxExtensionOid = "1.2.840.113741.1.13.1";

// `.5` SGX type (ENUMERATED).
enum class SgxType : uint8_t {
  standard = 0,
  scalable = 1,
  scalable_with_integrity = 2,
};

std::string_view sgx_type_name(SgxType type);  // "Standard", "Scalable", "ScalableWithIntegrity"

// `.7` Configuration; each flag is absent when the certificate does not carry it.
struct SgxConfiguration {
  std::optional<bool> dynamic_platform;  // .7.1
  std::optional<bool> cached_keys;       // .7.2
  std::optional<bool> smt_enabled;       // .7.3
};

struct SgxExtension {
  std::array<uint8_t, 16> ppid{};  // .1, encrypted PPID as issued
  // .2.1-.2.16: SGX TCB comp01..comp16 SVNs; with `pcesvn` what TCB-level matching compares.
  std::array<uint8_t, 16> tcb_comp_svn{};
  uint16_t pcesvn = 0;                   // .2.17
  std::array<uint8_t, 16> cpusvn{};      // .2.18, raw CPUSVN (not used for matching)
  std::array<uint8_t, 2> pce_id{};       // .3, e.g. 00 00
  std::array<uint8_t, 6> fmspc{};        // .4, e.g. 90 c0 6f 00 00 00
  SgxType sgx_type = SgxType::standard;  // .5
  std::optional<std::array<uint8_t, 16>> platform_instance_id;  // .6, Platform CA PCKs only
  std::optional<SgxConfiguration> configuration;                // .7, Platform CA PCKs only
};

// Parses the extnValue contents of the SGX extension (the DER SEQUENCE, not the OCTET STRING
// around it). Malformed input → Errc::parse naming the element and its offset in
// `extn_value_der`, e.g. "sgx_extension.tcb.comp07 at offset 57: INTEGER 300 exceeds 255".
Result<SgxExtension> parse_sgx_extension(ByteView extn_value_der);

// The SGX extension of a PCK leaf certificate; Errc::not_found when the certificate has none
// (e.g. a PCK Platform/Processor CA certificate), otherwise as parse_sgx_extension().
Result<SgxExtension> sgx_extension_of(const Certificate& pck);

}  // namespace acon::dcap
