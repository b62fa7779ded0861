// Helpers shared by the simulator's sources: key derivation, the report MAC, a minimal DER
// writer for Intel's SGX extension, and the byte writers of TDREPORT and quote structures.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>

#include "acon/common/bytes.h"
#include "acon/common/keys.h"
#include "acon/common/result.h"
#include "acon/guest/sim/sim.h"

namespace acon::guest::sim {

struct Simulator::Material {
  PrivateKey root_key;
  PrivateKey pck_ca_key;
  PrivateKey pck_key;
  PrivateKey tcb_signing_key;
  PrivateKey attestation_key;  // the simulated TD-QE's ECDSA attestation key
  SecretBytes report_mac_key;  // 32 bytes: the simulated CPU's TDREPORT MAC key
  Certificate root;
  Certificate pck_ca;
  Certificate pck;
  Certificate tcb_signing;
  // PCK leaf, platform CA and root as PEM: the certification data of every quote, written once
  // (the certificates never change for a Material).
  std::string pck_chain_pem;
  // The QE report and its PCK signature, made once: on a real platform the PCE certifies the
  // attestation key once, and every quote carries the same QE report and signature (verifiers
  // cache their check of it on those bytes). Remade only when the report's body changes (the
  // platform's CPUSVN, the QE's identity). Shared by copies of the simulator; thread-safe.
  struct QeCertification {
    std::mutex mutex;
    Bytes report_body;
    Bytes signature;
  };
  std::shared_ptr<QeCertification> qe_certification = std::make_shared<QeCertification>();
};

}  // namespace acon::guest::sim

namespace acon::guest::sim::detail {

// HKDF-SHA-384 (RFC 5869) with salt "acon-sim/v1", input `seed`, info `label`: n bytes.
Result<SecretBytes> derive(ByteView seed, std::string_view label, size_t n);
// A P-256 key whose scalar is 1 + (48 derived bytes mod (n - 1)): bias below 2^-128.
Result<PrivateKey> derive_p256_key(ByteView seed, std::string_view label);
// A certificate serial: 20 derived bytes with the top bit cleared (a positive 20-octet INTEGER).
Result<Bytes> derive_serial(ByteView seed, std::string_view label);

// DER: a TLV with a definite minimal length; an OBJECT IDENTIFIER from dotted text (valid
// input only: the callers pass constants).
Bytes der_tlv(uint8_t tag, ByteView content);
Bytes der_oid(std::string_view dotted);
Bytes der_small_integer(uint32_t value);  // minimal non-negative INTEGER
Bytes der_sequence(std::initializer_list<ByteView> items);

// The SGX extension's extnValue (docs/dcap-verification.md §6) for a Platform CA PCK
// certificate: PPID, TCB (16 comp SVNs, PCESVN, CPUSVN), PCE-ID, FMSPC, SGX type, platform
// instance ID, configuration (dynamic platform, cached keys, SMT enabled).
Bytes sgx_extension_der(const PlatformTcb& platform);

// The simulated TDVF's CCEL (ccel.cc): Spec ID header, then EFI-style events into RTMR0..2.
// The same for every simulator, so policies may pin the launch RTMR0..2.
Result<Bytes> firmware_ccel();

// Little-endian appenders that take fixed arrays.
template <size_t N>
void put(Bytes& out, const std::array<uint8_t, N>& value) {
  out.insert(out.end(), value.begin(), value.end());
}
inline void put_zeros(Bytes& out, size_t n) { out.insert(out.end(), n, 0); }

}  // namespace acon::guest::sim::detail
