// Byte layout of Intel DCAP quotes: v3 (SGX), v4 (TDX, TD report 1.0) and v5 (TDX or SGX with a
// body descriptor: SGX enclave report, TD report 1.0, 1.5 and 1.5 Ex), parsed into a typed model.
// Layout only: no signature, certificate or policy checks (those belong to verifier/dcap).
// Reference: docs/tdx-quote.md (intel/confidential-computing.tee.dcap.qvl @ d12717e3
// QuoteStructures.h, QuoteConstants.h, Quote.cpp).
//
// Zero-copy: every ByteView in the model points into the buffer given to parse_quote(), so that
// buffer must outlive the Quote (and must not be modified while the Quote is in use).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <variant>

#include "acon/common/bytes.h"
#include "acon/common/result.h"

namespace acon::tdx {

inline constexpr uint16_t kQuoteVersionSgx = 3;
inline constexpr uint16_t kQuoteVersionTdx = 4;
inline constexpr uint16_t kQuoteVersionWithBodyDescriptor = 5;

inline constexpr uint16_t kAttestationKeyEcdsaP256 = 2;
// Defined by Intel but not produced by any QE and rejected by every verifier (Errc::unsupported).
inline constexpr uint16_t kAttestationKeyEcdsaP384 = 3;

inline constexpr uint32_t kTeeTypeSgx = 0x00000000;
inline constexpr uint32_t kTeeTypeTdx = 0x00000081;

inline constexpr size_t kQuoteHeaderSize = 48;
inline constexpr size_t kBodyDescriptorSize = 6;  // v5: u16 body type, u32 body size
inline constexpr size_t kEnclaveReportSize = 384;
inline constexpr size_t kTdReport10Size = 584;
inline constexpr size_t kTdReport15Size = 648;
inline constexpr size_t kTdReport15ExSize = 885;
inline constexpr size_t kEcdsaP256SignatureSize = 64;  // raw big-endian r || s
inline constexpr size_t kEcdsaP256PublicKeySize = 64;  // raw x || y, no 0x04 prefix

// Intel's QE vendor ID (QVL QuoteConstants.h INTEL_QE_VENDOR_ID): every quote from Intel's QE
// carries it; dcap/ rejects any other.
inline constexpr std::array<uint8_t, 16> kIntelQeVendorId = {
    0x93, 0x9A, 0x72, 0x33, 0xF7, 0x9C, 0x4C, 0xA9, 0x94, 0x0A, 0x0D, 0xB3, 0x95, 0x7F, 0x06, 0x07};

// The body type of a v5 descriptor; v3 and v4 quotes get the type their fixed body has.
enum class BodyType : uint16_t {
  sgx_enclave_report = 1,
  td_report10 = 2,
  td_report15 = 3,
  td_report15_ex = 4,  // newest QVL only
};
std::string_view body_type_name(BodyType type);  // "SGX", "TD1.0", "TD1.5", "TD1.5Ex"

// Certification data types (Intel "Certification Data Type" table).
namespace cert_data {
inline constexpr uint16_t kPpidCleartext = 1;
inline constexpr uint16_t kPpidRsa2048Oaep = 2;
inline constexpr uint16_t kPpidRsa3072Oaep = 3;
inline constexpr uint16_t kPckLeafCert = 4;
inline constexpr uint16_t kPckCertChain = 5;      // PEM: leaf, intermediate, root
inline constexpr uint16_t kQeReportCertData = 6;  // the wrapper every v4/v5 quote uses
}  // namespace cert_data

struct QuoteHeader {
  uint16_t version = 0;
  uint16_t attestation_key_type = 0;
  uint32_t tee_type = 0;
  // Bytes 8..11: v3 QE SVN and PCE SVN (QVL's names and order; go-tdx-guest swaps them); TDX
  // quotes call them reserved (zero in every real quote), kept raw in `reserved`.
  uint16_t qe_svn = 0;
  uint16_t pce_svn = 0;
  ByteView reserved;      // 4 bytes: the same bytes 8..11
  ByteView qe_vendor_id;  // 16; Intel's QE: 939A7233F79C4CA9940A0DB3957F0607 (checked by dcap/)
  ByteView user_data;     // 20; not interpreted
};

// SGX REPORT body (384 bytes): the body of SGX quotes and the QE report of every quote.
struct EnclaveReport {
  ByteView raw;      // all 384 bytes, which the PCK key signs for the QE report
  ByteView cpu_svn;  // 16
  uint32_t misc_select = 0;
  ByteView reserved1;   // 28
  ByteView attributes;  // 16
  ByteView mr_enclave;  // 32
  ByteView reserved2;   // 32
  ByteView mr_signer;   // 32
  ByteView reserved3;   // 96
  uint16_t isv_prod_id = 0;
  uint16_t isv_svn = 0;
  ByteView reserved4;    // 60
  ByteView report_data;  // 64
};

// Decoded TDATTRIBUTES (docs/tdx-quote.md §4; bit numbers of the little-endian u64).
struct TdAttributes {
  uint64_t raw = 0;
  bool debug = false;            // bit 0 (TUD.DEBUG)
  bool septve_disable = false;   // bit 28
  bool protection_keys = false;  // bit 30 (PKS)
  bool key_locker = false;       // bit 31 (KL)
  bool perfmon = false;          // bit 63
};
TdAttributes decode_td_attributes(uint64_t raw);

// TD report 1.0 (584 bytes). The 1.5 and 1.5 Ex reports extend it, so a TdReport10 reference
// reaches the common fields of every TD body.
struct TdReport10 {
  ByteView raw;                  // the whole body (584, 648 or 885 bytes)
  ByteView tee_tcb_svn;          // 16
  ByteView mr_seam;              // 48
  ByteView mr_signer_seam;       // 48
  ByteView seam_attributes;      // 8
  ByteView td_attributes;        // 8
  ByteView xfam;                 // 8
  ByteView mr_td;                // 48
  ByteView mr_config_id;         // 48
  ByteView mr_owner;             // 48
  ByteView mr_owner_config;      // 48
  std::array<ByteView, 4> rtmr;  // 48 each
  ByteView report_data;          // 64

  TdAttributes attributes() const;  // decodes td_attributes
};

// CC measurement register (CCEL "MR index") of each TD register: 0 = MRTD, 1..4 = RTMR0..3.
// Source: the UEFI specification's EFI_CC_MEASUREMENT_PROTOCOL (MapPcrToMrIndex) and Intel's TDX
// Virtual Firmware Design Guide, "TD measurement": a TCG PCR maps to an MR index, MR index n >= 1
// is RTMR[n - 1], and MR index 0 is MRTD, which the TDX module measures and no event log extends.
inline constexpr size_t kCcelRegisterCount = 5;
inline constexpr uint32_t kCcelMrIndexMrtd = 0;
constexpr uint32_t ccel_mr_index_of_rtmr(uint32_t rtmr) { return rtmr + 1; }
// The report's registers indexed by CCEL MR index: {mr_td, rtmr[0], .., rtmr[3]}.
std::array<ByteView, kCcelRegisterCount> ccel_registers(const TdReport10& report);

struct TdReport15 : TdReport10 {
  ByteView tee_tcb_svn2;   // 16: SVNs of the currently loaded module (TD-preserving update)
  ByteView mr_service_td;  // 48
};

struct TdReport15Ex : TdReport15 {
  ByteView vm_id;                   // 1
  ByteView td_id;                   // 32
  ByteView dev_info;                // 48
  ByteView init_servtd_hash;        // 48
  ByteView init_servtd_attributes;  // 8
  ByteView init_cpu_svn;            // 16
  ByteView init_tee_tcb_svn;        // 16
  ByteView init_tee_fmspc;          // 12
  ByteView cur_servtd_hash;         // 48
  ByteView cur_servtd_attributes;   // 8
};

using QuoteBody = std::variant<EnclaveReport, TdReport10, TdReport15, TdReport15Ex>;

struct CertificationData {
  uint16_t type = 0;
  ByteView data;
};

struct QuoteSignatureData {
  ByteView quote_signature;  // 64: r || s over signed_region(), made with the attestation key
  ByteView attestation_key;  // 64: x || y
  // v4/v5: the outer certification data (type 6) whose bytes hold the QE report and the rest
  // below; absent in v3, where those fields follow the attestation key directly.
  std::optional<CertificationData> qe_report_certification;
  EnclaveReport qe_report;
  ByteView qe_report_signature;  // 64: r || s over qe_report.raw, made with the PCK leaf key
  ByteView qe_auth_data;
  // Types 1..5; only type 5 (PEM chain) lets dcap/ verify without fetching the PCK certificate.
  CertificationData pck_certification;
  // Bytes inside the declared signature data after the certification data; QVL ignores them.
  ByteView unused_tail;
};

struct Quote {
  ByteView bytes;  // the whole input, padding included
  QuoteHeader header;
  BodyType body_type = BodyType::td_report10;
  uint32_t body_size = 0;
  QuoteBody body;
  ByteView signature_data;  // the sig_data_len bytes after the length field
  QuoteSignatureData signature;
  // Bytes after the signature data: zeros of a fixed-size delivery buffer, or anything else;
  // covered by no signature and ignored (as QVL and go-tdx-guest's "extra bytes" do).
  ByteView padding;

  bool is_tdx() const { return header.tee_type == kTeeTypeTdx; }
  // 48, or 54 after a v5 body descriptor.
  size_t body_offset() const;
  // Bytes [0, body_offset() + body_size): what the quote signature covers.
  ByteView signed_region() const;
  size_t padding_size() const { return padding.size(); }
  // Absolute offset of a view into `bytes` (for messages and tests).
  size_t offset_of(ByteView field) const;

  // The common TD report fields of any TD body; nullptr for an SGX body.
  const TdReport10* td_report() const;
  // The TD 1.5 fields (body type 3 or 4); nullptr otherwise.
  const TdReport15* td_report15() const;
  // The SGX enclave report body; nullptr for TD bodies.
  const EnclaveReport* enclave_report() const;

  // Type-5 certification data as text, trailing NUL bytes removed. Errc::not_found for another
  // type, Errc::parse when the bytes are not printable ASCII text (e.g. DER certificates).
  Result<std::string_view> pck_chain_pem() const;
};

// Parses and checks the layout rules of docs/tdx-quote.md §2-§6: version 3/4/5; attestation key
// type 2 (3 is Errc::unsupported); TEE type consistent with the version and body type; v5 body
// sizes exact; outer certification data type 6 for v4/v5 filled exactly by the QE report
// certification data; inner type 1..5; every size within its enclosing region. Malformed input →
// Errc::parse with the field name and absolute offset.
Result<Quote> parse_quote(ByteView bytes);

// The bytes of a quote file, which tools receive in two forms: the binary quote, or ASCII hex of
// it (optionally 0x-prefixed, surrounded by whitespace). Hex only when every byte is a hex digit
// or that whitespace, which a binary quote (starting 03/04/05 00) never is; anything else is
// returned as it is for parse_quote to judge.
Result<Bytes> decode_quote_file(std::string_view content);

// ---- Writing ----

// Everything a quote holds besides what the writer derives (lengths, the v5 body descriptor, the
// type-6 wrapper). Every fixed-size view is either empty (written as zeros) or exactly its size;
// `raw` views and header.reserved are ignored (bytes 8..11 are qe_svn, pce_svn).
struct QuoteFields {
  QuoteHeader header;  // version 3, 4 or 5; the rest as parse_quote() requires
  // The alternative decides the v5 body type: EnclaveReport 1, TdReport10 2, TdReport15 3,
  // TdReport15Ex 4. Version 3 takes an EnclaveReport, version 4 a TdReport10.
  QuoteBody body;
  ByteView quote_signature;  // 64: r || s over write_quote_signed_region()
  ByteView attestation_key;  // 64: x || y
  EnclaveReport qe_report;
  ByteView qe_report_signature;  // 64: r || s over write_enclave_report(qe_report)
  ByteView qe_auth_data;
  CertificationData pck_certification;  // type 1..5 (5: PEM chain)
  ByteView unused_tail;                 // after the certification data, inside signature data
  ByteView padding;                     // after the signature data
};

// The quote bytes: header, v5 body descriptor, body, signature data (v4/v5: with the QE part
// inside a type-6 certification data block), padding. The result is checked with parse_quote();
// inconsistent fields (a wrong size, a v4 quote with an SGX body, ...) are Errc::invalid_argument.
// parse_quote(write_quote(f)) gives back every field of f, and write_quote of a parsed quote's
// fields gives back its bytes.
Result<Bytes> write_quote(const QuoteFields& fields);
// Header, descriptor and body: the bytes the attestation key signs (Quote::signed_region()).
Result<Bytes> write_quote_signed_region(const QuoteFields& fields);
// The 384-byte SGX report body: what the PCK key signs for the QE report.
Result<Bytes> write_enclave_report(const EnclaveReport& report);
// The fields of a parsed quote, as write_quote() takes them (views into quote.bytes).
QuoteFields quote_fields(const Quote& quote);

}  // namespace acon::tdx
