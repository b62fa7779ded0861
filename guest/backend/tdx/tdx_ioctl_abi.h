// Byte-exact copies of the /dev/tdx_guest ABI and of the QGS message framing the legacy
// GET_QUOTE carries. Sources (facts only, see docs/tdx-backends.md):
//  - include/uapi/linux/tdx-guest.h (upstream): struct tdx_report_req, TDX_CMD_GET_REPORT0;
//  - the out-of-tree tdx-guest driver of intel/tdx (guest branches) and intel/ACON
//    acond/src/report.rs: struct tdx_extend_rtmr_req, tdx_quote_hdr, tdx_quote_req and the
//    _IOR('T', 3 / 4) codes; the 4-byte big-endian message length after tdx_quote_hdr;
//  - Intel DCAP qgs_msg_lib: qgs_msg_header_t, GET_QUOTE_REQ / GET_QUOTE_RESP (v1.0).
// These are driver and QGS message layouts, not quote or TDREPORT layouts: the numbers below
// (1024, 48, 64, ...) size the drivers' buffers; what is inside a TDREPORT or a quote is
// acon::tdx's (verifier/tdx), which the backends parse with.
#pragma once

#include <sys/ioctl.h>

#include <cstddef>
#include <cstdint>

namespace acon::guest::tdx_abi {

inline constexpr size_t kReportDataLen = 64;
inline constexpr size_t kReportLen = 1024;  // == tdx::kTdReportSize, the driver's copy
inline constexpr size_t kExtendDataLen = 48;

struct TdxReportReq {
  uint8_t reportdata[kReportDataLen];
  uint8_t tdreport[kReportLen];
};
static_assert(sizeof(TdxReportReq) == 1088);
static_assert(offsetof(TdxReportReq, tdreport) == 64);

struct TdxExtendRtmrReq {
  uint8_t data[kExtendDataLen];
  uint8_t index;
};
static_assert(sizeof(TdxExtendRtmrReq) == 49);
static_assert(offsetof(TdxExtendRtmrReq, index) == 48);

struct TdxQuoteReq {
  uint64_t buf;  // user address of the shared buffer (tdx_quote_hdr + payload)
  uint64_t len;  // its length
};
static_assert(sizeof(TdxQuoteReq) == 16);
static_assert(offsetof(TdxQuoteReq, len) == 8);

// Head of the GetQuote buffer (GHCI 1.0 "TDG.VP.VMCALL<GetQuote>"); `data[]` follows.
struct TdxQuoteHdr {
  uint64_t version;  // 1, filled by the TD
  uint64_t status;   // filled by the VMM
  uint32_t in_len;   // bytes of payload the TD put after the header
  uint32_t out_len;  // bytes of payload the VMM put after the header
};
static_assert(sizeof(TdxQuoteHdr) == 24);
static_assert(offsetof(TdxQuoteHdr, status) == 8);
static_assert(offsetof(TdxQuoteHdr, in_len) == 16);
static_assert(offsetof(TdxQuoteHdr, out_len) == 20);

inline constexpr uint64_t kQuoteHdrVersion = 1;
inline constexpr uint64_t kGetQuoteSuccess = 0;
inline constexpr uint64_t kGetQuoteInFlight = 0xffffffffffffffffull;
inline constexpr uint64_t kGetQuoteError = 0x8000000000000000ull;
inline constexpr uint64_t kGetQuoteServiceUnavailable = 0x8000000000000001ull;

// The payload is a big-endian u32 message length followed by the QGS message.
inline constexpr size_t kPayloadLengthSize = 4;
// 16 KiB, as acond and libtdx_attest allocate: room for ~5 KiB quotes with certificate chains.
inline constexpr size_t kQuoteBufferSize = 0x4000;

// QGS message library v1.0 (little-endian, as x86 lays out the C structs).
struct QgsMsgHeader {
  uint16_t major_version;  // 1
  uint16_t minor_version;  // 0
  uint32_t type;           // GET_QUOTE_REQ 0, GET_QUOTE_RESP 1
  uint32_t size;           // whole message, header included
  uint32_t error_code;     // responses only
};
static_assert(sizeof(QgsMsgHeader) == 16);

struct QgsGetQuoteReqHead {
  QgsMsgHeader header;
  uint32_t report_size;   // 1024
  uint32_t id_list_size;  // 0: let the QGS pick the attestation key
};                        // followed by the report, then the id list
static_assert(sizeof(QgsGetQuoteReqHead) == 24);
static_assert(offsetof(QgsGetQuoteReqHead, report_size) == 16);

struct QgsGetQuoteRespHead {
  QgsMsgHeader header;
  uint32_t selected_id_size;
  uint32_t quote_size;
};  // followed by the selected id, then the quote
static_assert(sizeof(QgsGetQuoteRespHead) == 24);

inline constexpr uint16_t kQgsMajorVersion = 1;
inline constexpr uint16_t kQgsMinorVersion = 0;
inline constexpr uint32_t kQgsGetQuoteReq = 0;
inline constexpr uint32_t kQgsGetQuoteResp = 1;
inline constexpr uint32_t kQgsSuccess = 0;
inline constexpr uint32_t kQgsErrorMax = 0x00012008;  // codes 0x00012001..7 are defined

inline constexpr unsigned long kGetReport0 = _IOWR('T', 1, TdxReportReq);
inline constexpr unsigned long kExtendRtmr = _IOR('T', 3, TdxExtendRtmrReq);
inline constexpr unsigned long kGetQuote = _IOR('T', 4, TdxQuoteReq);

}  // namespace acon::guest::tdx_abi
