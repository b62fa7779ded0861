// "tdx-tsm": the upstream Linux interfaces of a TDX guest.
//  - Quotes: configfs-tsm (Documentation/ABI/testing/configfs-tsm). One report item per request,
//    so concurrent callers never share inblob/outblob; `generation` still guards against another
//    process writing into the same item.
//  - RTMRs: the TSM measurement files of the tdx_guest misc device
//    (Documentation/ABI/testing/sysfs-devices-virtual-misc-tdx_guest, Linux 6.16): a 48-byte
//    write at offset 0 extends, a read returns the current value.
//  - TDREPORT: TDX_CMD_GET_REPORT0, the one ioctl upstream keeps.
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <string>
#include <thread>
#include <utility>

#include "acon/guest/tdx.h"
#include "tdx_internal.h"

namespace acon::guest {

using namespace tdx_detail;

namespace {

constexpr std::string_view kBackend = "tdx-tsm";
constexpr std::string_view kProviderTdx = "tdx_guest";
constexpr size_t kMaxOutblobSize = 1u << 20;  // quotes are ~5 KiB; the kernel caps them at 8 KiB
constexpr size_t kMaxAttributeSize = 4096;    // a sysfs/configfs text attribute is one page

std::string_view trim_newline(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\0')) s.remove_suffix(1);
  return s;
}

Result<uint64_t> read_generation(const std::filesystem::path& item) {
  const auto path = item / "generation";
  ACON_TRY(Bytes raw, read_whole_file(path, kMaxAttributeSize));
  std::string_view text = trim_newline(as_chars(raw));
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return make_error(Errc::parse, path.string() + ": \"" + std::string(text) +
                                       "\" is not a decimal generation counter");
  }
  return value;
}

// configfs removes a report item (and its attributes) with rmdir. A failure leaves the item
// behind without failing the quote: it holds only the caller's REPORTDATA and a quote meant to
// be sent out anyway.
class ReportItem {
 public:
  explicit ReportItem(std::filesystem::path path) : path_(std::move(path)) {}
  ~ReportItem() { ::rmdir(path_.c_str()); }
  ReportItem(const ReportItem&) = delete;
  ReportItem& operator=(const ReportItem&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::string rtmr_file(uint32_t index) { return "rtmr" + std::to_string(index) + ":sha384"; }

std::string_view measurement_file(TdMeasurement which) {
  switch (which) {
    case TdMeasurement::mr_td:
      return "mrtd:sha384";
    case TdMeasurement::mr_config_id:
      return "mrconfigid";
    case TdMeasurement::mr_owner:
      return "mrowner";
    case TdMeasurement::mr_owner_config:
      break;
  }
  return "mrownerconfig";
}

Result<Bytes> read_register_file(const std::filesystem::path& path) {
  auto value = read_whole_file(path, kMaxAttributeSize);
  if (!value) return value.error().wrap(std::string(kBackend));
  if (value->size() != tdx::kRtmrSize) {
    return make_error(Errc::parse, std::string(kBackend) + ": " + path.string() + ": " +
                                       std::to_string(value->size()) +
                                       " bytes, a TDX measurement register has 48");
  }
  return value;
}

}  // namespace

TdxTsmBackend::TdxTsmBackend(TdxTsmOptions options) : options_(std::move(options)) {}

std::filesystem::path TdxTsmBackend::report_dir() const {
  return under_root(options_.root, "sys/kernel/config/tsm/report");
}

std::filesystem::path TdxTsmBackend::measurements_dir() const {
  return under_root(options_.root, "sys/class/misc/tdx_guest/measurements");
}

Status TdxTsmBackend::extend(uint32_t index, HashAlg alg, ByteView digest) {
  ACON_CHECK(check_rtmr_extend(kBackend, index, alg, digest));
  auto written = write_attribute(measurements_dir() / rtmr_file(index), digest);
  if (!written) return written.error().wrap("tdx-tsm: extend RTMR" + std::to_string(index));
  return {};
}

Result<Bytes> TdxTsmBackend::read(uint32_t index, HashAlg alg) {
  ACON_CHECK(check_rtmr_index(kBackend, index, alg));
  return read_register_file(measurements_dir() / rtmr_file(index));
}

Result<Bytes> TdxTsmBackend::read_measurement(TdMeasurement which) {
  return read_register_file(measurements_dir() / measurement_file(which));
}

Result<Bytes> TdxTsmBackend::report(const ReportData& data) {
  auto device = options_.open_device ? options_.open_device()
                                     : open_ioctl_device(under_root(options_.root, kDevicePath));
  if (!device) {
    if (device.error().code == Errc::not_found) {
      return make_error(Errc::unsupported,
                        "tdx-tsm: a TDREPORT needs TDX_CMD_GET_REPORT0 on /dev/tdx_guest and " +
                            device.error().message +
                            "; configfs-tsm produces only quotes (use quote())");
    }
    return device.error().wrap("tdx-tsm: TDREPORT device");
  }
  return get_tdreport(kBackend, **device, data);
}

Result<Bytes> TdxTsmBackend::quote(const ReportData& data) {
  const auto dir = report_dir();
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return make_error(Errc::unsupported,
                      "tdx-tsm: configfs-tsm report directory " + dir.string() +
                          " is missing (kernel without CONFIG_TSM_REPORTS, or configfs not "
                          "mounted at /sys/kernel/config)");
  }
  ACON_TRY(Bytes nonce, random_bytes(8));
  const std::string name =
      options_.report_name_prefix + "-" + std::to_string(::getpid()) + "-" + hex_encode(nonce);
  const auto item_path = dir / name;
  if (::mkdir(item_path.c_str(), 0700) != 0) {
    return errno_error("tdx-tsm: create report item " + item_path.string(), errno);
  }
  ReportItem item(item_path);

  auto provider = read_whole_file(item.path() / "provider", kMaxAttributeSize);
  if (!provider) return provider.error().wrap("tdx-tsm: report item provider");
  const std::string_view provider_name = trim_newline(as_chars(*provider));
  if (provider_name != kProviderTdx) {
    return make_error(Errc::unsupported, "tdx-tsm: configfs-tsm provider is \"" +
                                             std::string(provider_name) +
                                             "\", this backend needs \"tdx_guest\"");
  }

  ACON_TRY(uint64_t before, read_generation(item.path()));
  auto written = write_attribute(item.path() / "inblob", ByteView(data.data(), data.size()));
  if (!written) return written.error().wrap("tdx-tsm: inblob");

  // The kernel increments generation inside the write; re-reading until it moves (as
  // libtdx_attest does) costs nothing then and bounds the wait when it lags.
  const auto deadline = std::chrono::steady_clock::now() + options_.generation_wait;
  uint64_t after = before;
  for (;;) {
    ACON_TRY(after, read_generation(item.path()));
    if (after != before) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      return make_error(Errc::io, "tdx-tsm: generation of " + item.path().string() + " stayed at " +
                                      std::to_string(before) + " after the inblob write");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (after != before + 1) {
    return make_error(Errc::io, "tdx-tsm: generation of " + item.path().string() + " went from " +
                                    std::to_string(before) + " to " + std::to_string(after) +
                                    " across one inblob write: another writer uses the item");
  }

  auto outblob = read_whole_file(item.path() / "outblob", kMaxOutblobSize);
  if (!outblob) return outblob.error().wrap("tdx-tsm: outblob");
  ACON_TRY(uint64_t last, read_generation(item.path()));
  if (last != after) {
    return make_error(Errc::io, "tdx-tsm: generation of " + item.path().string() + " moved from " +
                                    std::to_string(after) + " to " + std::to_string(last) +
                                    " while outblob was read: another writer uses the item");
  }
  ACON_CHECK(check_quote_binds(*outblob, data, "tdx-tsm: outblob"));
  return outblob;
}

Result<Bytes> TdxTsmBackend::firmware_event_log() { return read_ccel(kBackend, options_.root); }

}  // namespace acon::guest
