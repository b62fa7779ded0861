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
#include "acon/tdx/quote.h"
#include "acon/tdx/tdreport.h"
#include "tdx_internal.h"
#include "tdx_ioctl_abi.h"

namespace acon::guest {

const unsigned long kTdxCmdGetReport0 = tdx_abi::kGetReport0;
const unsigned long kTdxCmdExtendRtmr = tdx_abi::kExtendRtmr;
const unsigned long kTdxCmdGetQuote = tdx_abi::kGetQuote;

namespace {

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
  if (index >= tdx::kRtmrCount) {
    return make_error(Errc::invalid_argument, std::string(backend) + ": RTMR index " +
                                                  std::to_string(index) + " (TDX has RTMR0..3)");
  }
  return {};
}

Status check_rtmr_extend(std::string_view backend, uint32_t index, HashAlg alg, ByteView digest) {
  ACON_CHECK(check_rtmr_index(backend, index, alg));
  if (digest.size() != tdx::kRtmrSize) {
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
  auto parsed = tdx::parse_tdreport(report);
  if (!parsed) return parsed.error().wrap(std::string(backend) + ": TDX_CMD_GET_REPORT0");
  if (!std::equal(parsed->report_data.begin(), parsed->report_data.end(), data.begin())) {
    return make_error(Errc::verify_failed,
                      std::string(backend) +
                          ": TDX_CMD_GET_REPORT0: tdreport.report_data at offset " +
                          std::to_string(parsed->report_data.data() - report.data()) +
                          " differs from the requested REPORTDATA");
  }
  return report;
}

Status check_quote_binds(ByteView quote, const ReportData& data, std::string_view source) {
  const std::string where(source);
  auto parsed = tdx::parse_quote(quote);
  if (!parsed) return parsed.error().wrap(where);
  const tdx::TdReport10* td = parsed->td_report();
  if (td == nullptr) {
    return make_error(Errc::parse, where + ": quote body type " +
                                       std::to_string(static_cast<int>(parsed->body_type)) + " (" +
                                       std::string(tdx::body_type_name(parsed->body_type)) +
                                       ") is not a TD report");
  }
  if (!std::equal(data.begin(), data.end(), td->report_data.begin(), td->report_data.end())) {
    return make_error(Errc::verify_failed,
                      where + ": quote.report_data at offset " +
                          std::to_string(parsed->offset_of(td->report_data)) +
                          " differs from the requested REPORTDATA (answer to another request?)");
  }
  return {};
}

ByteView tdreport_measurement(const tdx::TdReport& report, TdMeasurement which) {
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
