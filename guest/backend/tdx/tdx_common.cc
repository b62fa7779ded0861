#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

#include "acon/common/reader.h"
#include "acon/common/unique_fd.h"
#include "acon/guest/tdx.h"
#include "tdx_internal.h"
#include "tdx_ioctl_abi.h"

namespace acon::guest {

const unsigned long kTdxCmdGetReport0 = tdx_abi::kGetReport0;
const unsigned long kTdxCmdExtendRtmr = tdx_abi::kExtendRtmr;
const unsigned long kTdxCmdGetQuote = tdx_abi::kGetQuote;

namespace {

// The reader's field-at-offset messages, for fixed-layout slices.
Result<ByteView> field(ByteReader& r, size_t offset, size_t size, std::string_view name) {
  if (offset < r.pos()) {
    return make_error(Errc::parse,
                      std::string(name) + ": layout error at offset " + std::to_string(offset));
  }
  ACON_CHECK(r.skip(offset - r.pos(), name));
  return r.bytes(size, name);
}

// Owns the descriptor of an opened /dev/tdx_guest.
class FdIoctlDevice final : public IoctlDevice {
 public:
  explicit FdIoctlDevice(int fd) : fd_(fd) {}

  int ioctl(unsigned long request, void* arg) override {
    int rc;
    do {
      rc = ::ioctl(fd_.get(), request, arg);
    } while (rc == -1 && errno == EINTR);
    return rc == -1 ? errno : 0;
  }

 private:
  UniqueFd fd_;
};

}  // namespace

Result<TdReport> parse_tdreport(ByteView bytes) {
  if (bytes.size() != kTdReportSize) {
    return make_error(Errc::parse, "tdreport: " + std::to_string(bytes.size()) +
                                       " bytes, a TDREPORT has exactly 1024");
  }
  ByteReader r(bytes);
  TdReport out;
  out.raw = bytes;
  ACON_TRY(out.report_type, field(r, 0, 4, "tdreport.report_type"));
  if (out.report_type[0] != kTdReportTypeTdx) {
    return make_error(Errc::parse, "tdreport.report_type.type at offset 0: " +
                                       hex_literal(out.report_type[0], 2) +
                                       ", expected 0x81 (TDX)");
  }
  ACON_TRY(out.cpu_svn, field(r, 16, 16, "tdreport.cpu_svn"));
  ACON_TRY(out.tee_tcb_info_hash, field(r, 32, 48, "tdreport.tee_tcb_info_hash"));
  ACON_TRY(out.tee_info_hash, field(r, 80, 48, "tdreport.tee_info_hash"));
  ACON_TRY(out.report_data, field(r, kTdReportDataOffset, 64, "tdreport.report_data"));
  ACON_TRY(out.mac, field(r, 224, 32, "tdreport.mac"));
  out.tee_tcb_info = bytes.subspan(kTeeTcbInfoOffset, 239);
  ACON_TRY(out.tee_tcb_svn, field(r, 264, 16, "tdreport.tee_tcb_svn"));
  ACON_TRY(out.mr_seam, field(r, 280, 48, "tdreport.mr_seam"));
  ACON_TRY(out.mr_signer_seam, field(r, 328, 48, "tdreport.mr_signer_seam"));
  ACON_TRY(out.seam_attributes, field(r, 376, 8, "tdreport.seam_attributes"));
  ACON_TRY(out.td_attributes, field(r, kTdInfoOffset, 8, "tdreport.td_attributes"));
  ACON_TRY(out.xfam, field(r, 520, 8, "tdreport.xfam"));
  ACON_TRY(out.mr_td, field(r, 528, 48, "tdreport.mr_td"));
  ACON_TRY(out.mr_config_id, field(r, 576, 48, "tdreport.mr_config_id"));
  ACON_TRY(out.mr_owner, field(r, 624, 48, "tdreport.mr_owner"));
  ACON_TRY(out.mr_owner_config, field(r, 672, 48, "tdreport.mr_owner_config"));
  for (size_t i = 0; i < kRtmrCount; ++i) {
    ACON_TRY(out.rtmr[i], field(r, kTdReportRtmrOffset + i * kRtmrSize, kRtmrSize,
                                "tdreport.rtmr[" + std::to_string(i) + "]"));
  }
  ACON_TRY(out.servtd_hash, field(r, 912, 48, "tdreport.servtd_hash"));
  return out;
}

Result<std::unique_ptr<IoctlDevice>> open_ioctl_device(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return tdx_detail::errno_error("open " + path.string(), errno);
  return std::unique_ptr<IoctlDevice>(std::make_unique<FdIoctlDevice>(fd));
}

namespace tdx_detail {

Error errno_error(std::string_view what, int err) {
  Errc code = Errc::io;
  if (err == ENOENT) code = Errc::not_found;
  if (err == ENOTTY) code = Errc::unsupported;
  return make_error(
      code, std::string(what) + ": " + std::strerror(err) + " (errno " + std::to_string(err) + ")");
}

Status check_rtmr_index(std::string_view backend, uint32_t index, HashAlg alg) {
  if (alg != HashAlg::sha384) {
    return make_error(Errc::unsupported, std::string(backend) + ": TDX RTMRs have only a sha384 " +
                                             "bank, not " + std::string(hash_name(alg)));
  }
  if (index >= kRtmrCount) {
    return make_error(Errc::invalid_argument, std::string(backend) + ": RTMR index " +
                                                  std::to_string(index) + " (TDX has RTMR0..3)");
  }
  return {};
}

Status check_rtmr_extend(std::string_view backend, uint32_t index, HashAlg alg, ByteView digest) {
  ACON_CHECK(check_rtmr_index(backend, index, alg));
  if (digest.size() != kRtmrSize) {
    return make_error(Errc::invalid_argument,
                      std::string(backend) + ": extend digest for RTMR" + std::to_string(index) +
                          " is " + std::to_string(digest.size()) + " bytes, sha384 needs 48");
  }
  return {};
}

Result<Bytes> read_whole_file(const std::filesystem::path& path, size_t max_size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_error("open " + path.string(), errno);
  UniqueFd guard(fd);
  Bytes out;
  uint8_t chunk[4096];
  for (;;) {
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("read " + path.string(), errno);
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_size) {
      return make_error(Errc::parse,
                        path.string() + ": longer than " + std::to_string(max_size) + " bytes");
    }
    out.insert(out.end(), chunk, chunk + n);
  }
  return out;
}

Status write_attribute(const std::filesystem::path& path, ByteView data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno_error("open " + path.string() + " for writing", errno);
  UniqueFd guard(fd);
  ssize_t n;
  do {
    n = ::write(fd, data.data(), data.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno_error("write " + path.string(), errno);
  if (static_cast<size_t>(n) != data.size()) {
    return make_error(Errc::io, "write " + path.string() + ": " + std::to_string(n) + " of " +
                                    std::to_string(data.size()) + " bytes accepted");
  }
  // configfs commits binary attributes when the file is released, so close() is checked too.
  if (::close(guard.release()) != 0) return errno_error("close " + path.string(), errno);
  return {};
}

std::filesystem::path under_root(const std::filesystem::path& root, std::string_view relative) {
  return root / std::filesystem::path(relative).relative_path();
}

Result<Bytes> read_ccel(std::string_view backend, const std::filesystem::path& root) {
  auto log = read_whole_file(under_root(root, kCcelPath), kMaxCcelSize);
  if (!log) return log.error().wrap(std::string(backend) + ": firmware event log (ACPI CCEL)");
  if (log->empty()) {
    return make_error(Errc::parse, std::string(backend) + ": firmware event log " +
                                       under_root(root, kCcelPath).string() + " is empty");
  }
  return log;
}

Result<Bytes> get_tdreport(std::string_view backend, IoctlDevice& device, const ReportData& data) {
  tdx_abi::TdxReportReq req{};
  std::memcpy(req.reportdata, data.data(), data.size());
  int err = device.ioctl(tdx_abi::kGetReport0, &req);
  if (err != 0) return errno_error(std::string(backend) + ": TDX_CMD_GET_REPORT0", err);
  Bytes report(req.tdreport, req.tdreport + sizeof req.tdreport);
  auto parsed = parse_tdreport(report);
  if (!parsed) return parsed.error().wrap(std::string(backend) + ": TDX_CMD_GET_REPORT0");
  if (!std::equal(parsed->report_data.begin(), parsed->report_data.end(), data.begin())) {
    return make_error(Errc::verify_failed,
                      std::string(backend) +
                          ": TDX_CMD_GET_REPORT0: tdreport.report_data at offset 128 differs "
                          "from the requested REPORTDATA");
  }
  return report;
}

Status check_quote_binds(ByteView quote, const ReportData& data, std::string_view source) {
  const std::string where(source);
  ByteReader r(quote);
  ACON_TRY(uint16_t version, r.u16(where + ": quote.version"));
  size_t body_offset = 48;
  if (version == 5) {
    ACON_CHECK(r.skip(46, where + ": quote header"));
    ACON_TRY(uint16_t body_type, r.u16(where + ": quote.body_type"));
    if (body_type < 2 || body_type > 4) {
      return make_error(Errc::parse, where + ": quote.body_type at offset 48: " +
                                         std::to_string(body_type) + ", not a TD report body");
    }
    body_offset = 54;
  } else if (version != 4) {
    return make_error(Errc::parse, where + ": quote.version at offset 0: " +
                                       std::to_string(version) + ", a TDX quote is v4 or v5");
  }
  const size_t report_data_offset = body_offset + 520;
  const size_t minimum = body_offset + 584;  // header and a TD 1.0 body
  if (quote.size() < minimum) {
    return make_error(Errc::parse, where + ": quote of " + std::to_string(quote.size()) +
                                       " bytes, shorter than its header and TD report (" +
                                       std::to_string(minimum) + ")");
  }
  if (!std::equal(data.begin(), data.end(), quote.begin() + report_data_offset)) {
    return make_error(Errc::verify_failed,
                      where + ": quote.report_data at offset " +
                          std::to_string(report_data_offset) +
                          " differs from the requested REPORTDATA (answer to another request?)");
  }
  return {};
}

ByteView tdreport_measurement(const TdReport& report, TdMeasurement which) {
  switch (which) {
    case TdMeasurement::mr_td:
      return report.mr_td;
    case TdMeasurement::mr_config_id:
      return report.mr_config_id;
    case TdMeasurement::mr_owner:
      return report.mr_owner;
    case TdMeasurement::mr_owner_config:
      break;
  }
  return report.mr_owner_config;
}

}  // namespace tdx_detail

}  // namespace acon::guest
