// TDREPORT_STRUCT, the 1024-byte report TDG.MR.REPORT returns to a TD (Intel TDX Module ABI
// specification, "TDREPORT_STRUCT"; the same offsets as Linux's drivers/virt/coco/tdx-guest):
//
//     0  REPORTMACSTRUCT (256)  REPORTTYPE 4, reserved 12, CPUSVN 16 @16, TEE_TCB_INFO_HASH 48
//                               @32, TEE_INFO_HASH 48 @80, REPORTDATA 64 @128, reserved 32,
//                               MAC 32 @224
//   256  TEE_TCB_INFO (239)     VALID 8, TEE_TCB_SVN 16 @+8, MRSEAM 48 @+24, MRSIGNERSEAM 48 @+72,
//                               ATTRIBUTES 8 @+120, TEE_TCB_SVN2 16 @+128 (TDX 1.5), reserved
//   495  reserved (17)
//   512  TDINFO_STRUCT (512)    ATTRIBUTES 8, XFAM 8 @+8, MRTD @+16, MRCONFIGID @+64, MROWNER
//                               @+112, MROWNERCONFIG @+160, RTMR0..3 @+208, SERVTD_HASH @+400
//                               (48 each), reserved
//
// Layout only: the MAC (keyed by the CPU) and the two SHA-384 hashes are fields here; whoever
// produces or checks a report computes them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "acon/common/bytes.h"
#include "acon/common/result.h"
#include "acon/tdx/quote.h"

namespace acon::tdx {

inline constexpr size_t kTdReportSize = 1024;
inline constexpr size_t kRtmrCount = 4;
inline constexpr size_t kRtmrSize = 48;  // SHA-384
inline constexpr uint8_t kTdReportTypeTdx = 0x81;

inline constexpr size_t kReportMacStructSize = 256;
inline constexpr size_t kTdReportDataOffset = 128;  // REPORTMACSTRUCT.REPORTDATA
inline constexpr size_t kTdReportMacOffset = 224;   // REPORTMACSTRUCT.MAC
inline constexpr size_t kTeeTcbInfoOffset = 256;
inline constexpr size_t kTeeTcbInfoSize = 239;
inline constexpr size_t kTdInfoOffset = 512;
inline constexpr size_t kTdInfoSize = 512;
inline constexpr size_t kTdReportRtmrOffset = kTdInfoOffset + 208;  // RTMR0 (720)

// The fields of a TDREPORT. For write_tdreport() every view is either empty (written as zeros;
// an empty report_type is TDX type 0x81, subtype 0, version 0) or exactly the field's size.
struct TdReportFields {
  // REPORTMACSTRUCT
  ByteView report_type;        // 4: type (0x81 = TDX), subtype, version, reserved
  ByteView cpu_svn;            // 16 at 16
  ByteView tee_tcb_info_hash;  // 48 at 32: SHA-384 of TEE_TCB_INFO
  ByteView tee_info_hash;      // 48 at 80: SHA-384 of TDINFO_STRUCT
  ByteView report_data;        // 64 at 128
  ByteView mac;                // 32 at 224, over bytes 0..223
  // TEE_TCB_INFO
  ByteView tee_tcb_info_valid;  // 8 at 256: which TEE_TCB_INFO fields are valid
  ByteView tee_tcb_svn;         // 16 at 264
  ByteView mr_seam;             // 48 at 280
  ByteView mr_signer_seam;      // 48 at 328
  ByteView seam_attributes;     // 8 at 376
  ByteView tee_tcb_svn2;        // 16 at 384 (TDX 1.5: SVNs of the currently loaded module)
  // TDINFO_STRUCT
  ByteView td_attributes;                 // 8 at 512
  ByteView xfam;                          // 8 at 520
  ByteView mr_td;                         // 48 at 528
  ByteView mr_config_id;                  // 48 at 576
  ByteView mr_owner;                      // 48 at 624
  ByteView mr_owner_config;               // 48 at 672
  std::array<ByteView, kRtmrCount> rtmr;  // 48 each at 720, 768, 816, 864
  ByteView servtd_hash;                   // 48 at 912 (TDX 1.5; MRSERVICETD in the quote)
};

// A parsed TDREPORT: views into the buffer given to parse_tdreport(), which must outlive it.
struct TdReport : TdReportFields {
  ByteView raw;                // all 1024 bytes
  ByteView report_mac_struct;  // 256 at 0
  ByteView mac_input;          // 224 at 0: what the MAC covers
  ByteView tee_tcb_info;       // 239 at 256: what tee_tcb_info_hash covers
  ByteView td_info;            // 512 at 512: what tee_info_hash covers
};

// Exactly 1024 bytes whose REPORTTYPE.type is 0x81; anything else → Errc::parse naming the
// field and offset.
Result<TdReport> parse_tdreport(ByteView bytes);

// The 1024 bytes of `fields`, reserved bytes zero. A view of another size, or a report type
// other than 0x81, is Errc::invalid_argument naming the field.
Result<Bytes> write_tdreport(const TdReportFields& fields);
// The two hashed sub-structures alone (239 and 512 bytes), for computing the hashes to put in
// tee_tcb_info_hash and tee_info_hash before writing the report.
Result<Bytes> write_tee_tcb_info(const TdReportFields& fields);
Result<Bytes> write_td_info(const TdReportFields& fields);

// The TD 1.5 quote body the quoting enclave builds from a TDREPORT (views into `report`):
// TEE_TCB_INFO's SVNs and SEAM fields, TDINFO's registers, REPORTDATA, and SERVTD_HASH as
// mr_service_td. Slice it to TdReport10 for a TD 1.0 body.
TdReport15 quote_body_from_tdreport(const TdReport& report);

}  // namespace acon::tdx
