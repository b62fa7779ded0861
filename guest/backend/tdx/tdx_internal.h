// Shared by the two Linux TDX backends: argument checks, whole-file I/O on sysfs/configfs
// attributes, errno mapping, TDREPORT retrieval and the check that a quote binds REPORTDATA.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "acon/common/bytes.h"
#include "acon/common/hash.h"
#include "acon/common/result.h"
#include "acon/guest/backend.h"
#include "acon/guest/tdx.h"

namespace acon::guest::tdx_detail {

// ENOENT → not_found, ENOTTY → unsupported, anything else → io; "<what>: <strerror> (errno N)".
Error errno_error(std::string_view what, int err);

// index < 4 and alg == sha384; for extends also digest.size() == 48.
Status check_rtmr_index(std::string_view backend, uint32_t index, HashAlg alg);
Status check_rtmr_extend(std::string_view backend, uint32_t index, HashAlg alg, ByteView digest);

// Reads until EOF (sysfs and configfs report a nominal st_size, so it is not trusted); more than
// `max_size` bytes is Errc::parse.
Result<Bytes> read_whole_file(const std::filesystem::path& path, size_t max_size);
// One open + one write() of all bytes + close. Attribute files accept a value only in a single
// write starting at offset 0 (the RTMR files return EINVAL otherwise).
Status write_attribute(const std::filesystem::path& path, ByteView data);

// <root>/<relative>, with `relative` free of a leading '/'.
std::filesystem::path under_root(const std::filesystem::path& root, std::string_view relative);
inline constexpr std::string_view kCcelPath = "sys/firmware/acpi/tables/data/CCEL";
inline constexpr std::string_view kDevicePath = "dev/tdx_guest";
inline constexpr size_t kMaxCcelSize = 64u << 20;

Result<Bytes> read_ccel(std::string_view backend, const std::filesystem::path& root);

// TDX_CMD_GET_REPORT0 with `data`; the result is a checked 1024-byte TDREPORT whose REPORTDATA
// equals `data`.
Result<Bytes> get_tdreport(std::string_view backend, IoctlDevice& device, const ReportData& data);

// The quote must parse (tdx::parse_quote: layout only, no signature checks) with a TD body, and
// its REPORTDATA must equal `data`; `source` names where it came from in messages.
Status check_quote_binds(ByteView quote, const ReportData& data, std::string_view source);

// The TDREPORT field for a TdMeasurement.
ByteView tdreport_measurement(const tdx::TdReport& report, TdMeasurement which);

}  // namespace acon::guest::tdx_detail
