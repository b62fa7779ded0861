// "tdx-legacy": the /dev/tdx_guest ioctls of the out-of-tree tdx-guest driver that ACON's acond
// used (acond/src/report.rs). GET_QUOTE hands the host a shared buffer:
//
//   offset 0   tdx_quote_hdr {u64 version = 1; u64 status; u32 in_len; u32 out_len}
//   offset 24  u32 message length, big-endian
//   offset 28  QGS v1.0 message: GET_QUOTE_REQ on input, GET_QUOTE_RESP on output
//
// in_len / out_len count the bytes after the header (length field + message).
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "acon/common/reader.h"
#include "acon/guest/tdx.h"
#include "tdx_internal.h"
#include "tdx_ioctl_abi.h"

namespace acon::guest {

using namespace tdx_detail;

namespace {

constexpr std::string_view kBackend = "tdx-legacy";
constexpr size_t kPayloadOffset = sizeof(tdx_abi::TdxQuoteHdr);
constexpr size_t kMessageOffset = kPayloadOffset + tdx_abi::kPayloadLengthSize;

// QGS v1.0 GET_QUOTE_REQ carrying the TDREPORT and no attestation key id list.
Bytes qgs_get_quote_request(ByteView tdreport) {
  Bytes msg;
  const auto size = static_cast<uint32_t>(sizeof(tdx_abi::QgsGetQuoteReqHead) + tdreport.size());
  put_u16le(msg, tdx_abi::kQgsMajorVersion);
  put_u16le(msg, tdx_abi::kQgsMinorVersion);
  put_u32le(msg, tdx_abi::kQgsGetQuoteReq);
  put_u32le(msg, size);
  put_u32le(msg, 0);  // error_code
  put_u32le(msg, static_cast<uint32_t>(tdreport.size()));
  put_u32le(msg, 0);  // id_list_size
  append(msg, tdreport);
  return msg;
}

// QGS v1.0 GET_QUOTE_RESP → the quote (Intel qgs_msg_lib order: selected id, then quote).
Result<Bytes> parse_qgs_get_quote_response(ByteView msg) {
  // Offsets in messages are relative to the shared buffer.
  ByteReader r(msg, kMessageOffset);
  ACON_TRY(uint16_t major, r.u16("qgs_get_quote_resp.major_version"));
  ACON_TRY(uint16_t minor, r.u16("qgs_get_quote_resp.minor_version"));
  (void)minor;  // minor versions are compatible by the library's rule
  if (major != tdx_abi::kQgsMajorVersion) {
    return make_error(Errc::unsupported, "qgs_get_quote_resp.major_version at offset " +
                                             std::to_string(kMessageOffset) + ": " +
                                             std::to_string(major) + ", expected 1");
  }
  ACON_TRY(uint32_t type, r.u32("qgs_get_quote_resp.type"));
  if (type != tdx_abi::kQgsGetQuoteResp) {
    return r.invalid("qgs_get_quote_resp.type",
                     std::to_string(type) + ", expected 1 (GET_QUOTE_RESP)");
  }
  ACON_TRY(uint32_t size, r.u32("qgs_get_quote_resp.size"));
  if (size != msg.size()) {
    return make_error(Errc::parse, "qgs_get_quote_resp.size at offset " +
                                       std::to_string(kMessageOffset + 8) + ": " +
                                       std::to_string(size) + ", the message has " +
                                       std::to_string(msg.size()) + " bytes");
  }
  ACON_TRY(uint32_t error_code, r.u32("qgs_get_quote_resp.error_code"));
  ACON_TRY(uint32_t selected_id_size, r.u32("qgs_get_quote_resp.selected_id_size"));
  ACON_TRY(uint32_t quote_size, r.u32("qgs_get_quote_resp.quote_size"));
  const uint64_t declared =
      uint64_t{sizeof(tdx_abi::QgsGetQuoteRespHead)} + selected_id_size + quote_size;
  if (declared != size) {
    return make_error(Errc::parse, "qgs_get_quote_resp: header (24) + selected_id_size (" +
                                       std::to_string(selected_id_size) + ") + quote_size (" +
                                       std::to_string(quote_size) + ") != size (" +
                                       std::to_string(size) + ")");
  }
  if (error_code != tdx_abi::kQgsSuccess) {
    return make_error(
        Errc::io, "qgs_get_quote_resp.error_code at offset " + std::to_string(kMessageOffset + 12) +
                      ": " + hex_literal(error_code, 8) +
                      (error_code < tdx_abi::kQgsErrorMax ? " (QGS error)" : " (undefined code)"));
  }
  if (quote_size == 0) return r.invalid("qgs_get_quote_resp.quote_size", "0 with success");
  ACON_CHECK(r.skip(selected_id_size, "qgs_get_quote_resp.selected_id"));
  ACON_TRY(ByteView quote, r.bytes(quote_size, "qgs_get_quote_resp.quote"));
  return Bytes(quote.begin(), quote.end());
}

Error status_error(uint64_t status) {
  if (status == tdx_abi::kGetQuoteInFlight) {
    return make_error(Errc::io, "tdx_quote_hdr.status at offset 8: " + hex_literal(status, 16) +
                                    " (GET_QUOTE_IN_FLIGHT: the host has not answered)");
  }
  if (status == tdx_abi::kGetQuoteServiceUnavailable) {
    return make_error(Errc::unsupported,
                      "tdx_quote_hdr.status at offset 8: " + hex_literal(status, 16) +
                          " (GET_QUOTE_SERVICE_UNAVAILABLE: the host has no quote service)");
  }
  if (status == tdx_abi::kGetQuoteError) {
    return make_error(Errc::io, "tdx_quote_hdr.status at offset 8: " + hex_literal(status, 16) +
                                    " (GET_QUOTE_ERROR)");
  }
  return make_error(Errc::io, "tdx_quote_hdr.status at offset 8: " + hex_literal(status, 16) +
                                  " (undefined status)");
}

// Sends the TDREPORT through TDX_CMD_GET_QUOTE and unpacks the host's answer.
Result<Bytes> get_quote(IoctlDevice& device, ByteView tdreport) {
  const Bytes request = qgs_get_quote_request(tdreport);
  // u64 elements keep the buffer 8-byte aligned, as tdx_quote_hdr's u64 fields need.
  std::vector<uint64_t> storage(tdx_abi::kQuoteBufferSize / sizeof(uint64_t), 0);
  auto* buf = reinterpret_cast<uint8_t*>(storage.data());

  tdx_abi::TdxQuoteHdr hdr{};
  hdr.version = tdx_abi::kQuoteHdrVersion;
  hdr.status = 0;
  hdr.in_len = static_cast<uint32_t>(tdx_abi::kPayloadLengthSize + request.size());
  hdr.out_len = 0;
  std::memcpy(buf, &hdr, sizeof hdr);
  const auto msg_len = static_cast<uint32_t>(request.size());
  for (int i = 0; i < 4; ++i)
    buf[kPayloadOffset + i] = static_cast<uint8_t>(msg_len >> (24 - 8 * i));
  std::memcpy(buf + kMessageOffset, request.data(), request.size());

  tdx_abi::TdxQuoteReq req{};
  req.buf = reinterpret_cast<uintptr_t>(buf);
  req.len = tdx_abi::kQuoteBufferSize;
  if (int err = device.ioctl(tdx_abi::kGetQuote, &req); err != 0) {
    Error e = errno_error("TDX_CMD_GET_QUOTE", err);
    if (err == ENOTTY) {
      e.message += " (this driver lacks GET_QUOTE; upstream kernels quote through tdx-tsm)";
    }
    return e;
  }

  std::memcpy(&hdr, buf, sizeof hdr);
  if (hdr.status != tdx_abi::kGetQuoteSuccess) return status_error(hdr.status);
  const size_t capacity = tdx_abi::kQuoteBufferSize - kPayloadOffset;
  if (hdr.out_len <= tdx_abi::kPayloadLengthSize || hdr.out_len > capacity) {
    return make_error(Errc::parse,
                      "tdx_quote_hdr.out_len at offset 20: " + std::to_string(hdr.out_len) +
                          ", must lie in (4, " + std::to_string(capacity) + "]");
  }
  uint32_t answered = 0;
  for (int i = 0; i < 4; ++i) answered = (answered << 8) | buf[kPayloadOffset + i];
  if (answered != hdr.out_len - tdx_abi::kPayloadLengthSize) {
    return make_error(Errc::parse, "message length at offset 24: " + std::to_string(answered) +
                                       ", tdx_quote_hdr.out_len says " +
                                       std::to_string(hdr.out_len - 4));
  }
  return parse_qgs_get_quote_response(ByteView(buf + kMessageOffset, answered));
}

}  // namespace

TdxLegacyBackend::TdxLegacyBackend(std::unique_ptr<IoctlDevice> device, std::filesystem::path root)
    : device_(std::move(device)), root_(std::move(root)) {}

Result<std::unique_ptr<TdxLegacyBackend>> TdxLegacyBackend::open(
    const std::filesystem::path& root) {
  auto device = open_ioctl_device(under_root(root, kDevicePath));
  if (!device) return device.error().wrap("tdx-legacy");
  return std::make_unique<TdxLegacyBackend>(std::move(*device), root);
}

Status TdxLegacyBackend::extend(uint32_t index, HashAlg alg, ByteView digest) {
  ACON_CHECK(check_rtmr_extend(kBackend, index, alg, digest));
  tdx_abi::TdxExtendRtmrReq req{};
  std::memcpy(req.data, digest.data(), sizeof req.data);
  req.index = static_cast<uint8_t>(index);
  if (int err = device_->ioctl(tdx_abi::kExtendRtmr, &req); err != 0) {
    Error e =
        errno_error("tdx-legacy: TDX_CMD_EXTEND_RTMR(RTMR" + std::to_string(index) + ")", err);
    if (err == EPERM) e.message += " (the driver reserves RTMR0 and RTMR1 for firmware and kernel)";
    if (err == ENOTTY)
      e.message += " (this driver lacks EXTEND_RTMR; upstream kernels extend through tdx-tsm)";
    return e;
  }
  return {};
}

Result<Bytes> TdxLegacyBackend::read(uint32_t index, HashAlg alg) {
  ACON_CHECK(check_rtmr_index(kBackend, index, alg));
  ACON_TRY(Bytes tdreport, get_tdreport(kBackend, *device_, ReportData{}));
  ACON_TRY(tdx::TdReport parsed, tdx::parse_tdreport(tdreport));
  return Bytes(parsed.rtmr[index].begin(), parsed.rtmr[index].end());
}

Result<Bytes> TdxLegacyBackend::read_measurement(TdMeasurement which) {
  ACON_TRY(Bytes tdreport, get_tdreport(kBackend, *device_, ReportData{}));
  ACON_TRY(tdx::TdReport parsed, tdx::parse_tdreport(tdreport));
  ByteView value = tdreport_measurement(parsed, which);
  return Bytes(value.begin(), value.end());
}

Result<Bytes> TdxLegacyBackend::report(const ReportData& data) {
  return get_tdreport(kBackend, *device_, data);
}

Result<Bytes> TdxLegacyBackend::quote(const ReportData& data) {
  ACON_TRY(Bytes tdreport, get_tdreport(kBackend, *device_, data));
  auto quote = get_quote(*device_, tdreport);
  if (!quote) return quote.error().wrap("tdx-legacy");
  ACON_CHECK(check_quote_binds(*quote, data, "tdx-legacy: GET_QUOTE"));
  return quote;
}

Result<Bytes> TdxLegacyBackend::firmware_event_log() { return read_ccel(kBackend, root_); }

}  // namespace acon::guest
