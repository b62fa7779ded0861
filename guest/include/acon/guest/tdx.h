// Linux TDX guest backends (docs/tdx-backends.md):
//  - "tdx-tsm": quotes through configfs-tsm (/sys/kernel/config/tsm/report), RTMRs through the
//    TSM measurement files (/sys/class/misc/tdx_guest/measurements, Linux >= 6.16), the TDREPORT
//    through TDX_CMD_GET_REPORT0 on /dev/tdx_guest (the only upstream ioctl);
//  - "tdx-legacy": the /dev/tdx_guest ioctls of the out-of-tree driver ACON used (GET_REPORT0,
//    EXTEND_RTMR, GET_QUOTE with QGS v1.0 GET_QUOTE_REQ framing); RTMRs are read from a TDREPORT.
// Every path is taken relative to a root directory ("/" in production) so that tests can point
// the backends at a file tree that stands in for the kernel's.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "acon/common/bytes.h"
#include "acon/common/result.h"
#include "acon/guest/backend.h"
#include "acon/tdx/tdreport.h"

namespace acon::guest {

// The TDREPORT layout (parse_tdreport, TdReport, kTdReportSize, kRtmrCount, ...) is acon::tdx's
// (verifier/tdx/include/acon/tdx/tdreport.h); this header is the backends' API only.

// The registers a TD exposes besides its RTMRs (the TSM sysfs files of the same names).
enum class TdMeasurement { mr_td, mr_config_id, mr_owner, mr_owner_config };

// ---- /dev/tdx_guest ----

// The one system call the legacy interface needs, injectable because no build or test machine
// has TDX. Implementations: open_ioctl_device() below, and the tests' driver emulation.
class IoctlDevice {
 public:
  virtual ~IoctlDevice() = default;
  // Issues `request` with `arg` (a pointer to the request's struct); returns 0 on success, else
  // the errno value of the failed call (never -1).
  virtual int ioctl(unsigned long request, void* arg) = 0;
};

// open(path, O_RDWR | O_CLOEXEC), closed when the device is destroyed. A missing node is
// Errc::not_found, any other failure Errc::io; the message names the path and errno text.
Result<std::unique_ptr<IoctlDevice>> open_ioctl_device(const std::filesystem::path& path);

// Request codes as the drivers define them (shown in hex in docs/tdx-backends.md):
//   GET_REPORT0  _IOWR('T', 1, {u8 reportdata[64]; u8 tdreport[1024]})    upstream + legacy
//   EXTEND_RTMR  _IOR ('T', 3, {u8 data[48]; u8 index})                    legacy only
//   GET_QUOTE    _IOR ('T', 4, {u64 buf; u64 len})                         legacy only
extern const unsigned long kTdxCmdGetReport0;
extern const unsigned long kTdxCmdExtendRtmr;
extern const unsigned long kTdxCmdGetQuote;

// Opens a device on demand (tdx-tsm asks for one only inside report()).
using DeviceOpener = std::function<Result<std::unique_ptr<IoctlDevice>>()>;

// ---- "tdx-tsm" ----

struct TdxTsmOptions {
  std::filesystem::path root = "/";
  // Source of the TDREPORT for report(); unset = open <root>/dev/tdx_guest. When no device can
  // be opened, report() is Errc::unsupported (configfs-tsm yields quotes, never TDREPORTs).
  DeviceOpener open_device;
  // The kernel updates `generation` inside the inblob write; like Intel's libtdx_attest, the
  // backend still re-reads it until it moves, for at most this long.
  std::chrono::milliseconds generation_wait{2000};
  // Prefix of the per-request report directory (<prefix>-<pid>-<16 random hex digits>).
  std::string report_name_prefix = "acon";
};

class TdxTsmBackend final : public Backend {
 public:
  explicit TdxTsmBackend(TdxTsmOptions options = {});

  std::string_view name() const override { return "tdx-tsm"; }
  RegisterKind register_kind() const override { return RegisterKind::rtmr; }
  // Writes the 48-byte digest to measurements/rtmr<index>:sha384 in one write().
  Status extend(uint32_t index, HashAlg alg, ByteView digest) override;
  // Reads the 48 bytes of measurements/rtmr<index>:sha384.
  Result<Bytes> read(uint32_t index, HashAlg alg) override;
  // TDX_CMD_GET_REPORT0 through options.open_device.
  Result<Bytes> report(const ReportData& data) override;
  // One configfs-tsm report item per call: mkdir, check provider == tdx_guest, write inblob,
  // check generation moved by exactly one, read outblob, check generation unchanged, rmdir.
  // The quote must be a TDX v4/v5 quote whose REPORTDATA equals `data`.
  Result<Bytes> quote(const ReportData& data) override;
  // <root>/sys/firmware/acpi/tables/data/CCEL.
  Result<Bytes> firmware_event_log() override;

  // measurements/mrtd:sha384, mrconfigid, mrowner, mrownerconfig (48 bytes each).
  Result<Bytes> read_measurement(TdMeasurement which);

  // <root>/sys/kernel/config/tsm/report and <root>/sys/class/misc/tdx_guest/measurements.
  std::filesystem::path report_dir() const;
  std::filesystem::path measurements_dir() const;

 private:
  TdxTsmOptions options_;
};

// ---- "tdx-legacy" ----

class TdxLegacyBackend final : public Backend {
 public:
  // `root` locates the CCEL (<root>/sys/firmware/acpi/tables/data/CCEL).
  explicit TdxLegacyBackend(std::unique_ptr<IoctlDevice> device, std::filesystem::path root = "/");
  // Opens <root>/dev/tdx_guest.
  static Result<std::unique_ptr<TdxLegacyBackend>> open(const std::filesystem::path& root = "/");

  std::string_view name() const override { return "tdx-legacy"; }
  RegisterKind register_kind() const override { return RegisterKind::rtmr; }
  // TDX_CMD_EXTEND_RTMR; the out-of-tree driver refuses RTMR0 and RTMR1 (EPERM).
  Status extend(uint32_t index, HashAlg alg, ByteView digest) override;
  // RTMR<index> of a fresh TDREPORT (REPORTDATA all zero).
  Result<Bytes> read(uint32_t index, HashAlg alg) override;
  Result<Bytes> report(const ReportData& data) override;
  // GET_REPORT0, then GET_QUOTE with the TDREPORT in a QGS v1.0 GET_QUOTE_REQ message.
  Result<Bytes> quote(const ReportData& data) override;
  Result<Bytes> firmware_event_log() override;

  // The field of a fresh TDREPORT.
  Result<Bytes> read_measurement(TdMeasurement which);

 private:
  std::unique_ptr<IoctlDevice> device_;
  std::filesystem::path root_;
};

}  // namespace acon::guest
