// acond's runtime measurement log: every record is extended into RTMR3 through the Backend and
// appended to a log file that replays to that register. Two formats, fixed per deployment,
// because the two chains give different RTMR3 values for the same events (docs/acond.md):
//  - coco (default): TCG2 EV_EVENT_TAG "AAEL" records (CC MR index 4 = RTMR3, SHA-384), the
//    register extended with SHA-384 of the tagged event; no INIT record. Trustee and CCEL tools
//    replay it after the firmware CCEL.
//  - acon: ACON's text chain: "INIT sha384/0{96}" before the first event, then one line per
//    event, the register extended with SHA-384 of the line; what aconcli and ACON's samples replay.
//
// Write-ahead: before each extend, the record and the register value it will produce are written
// to "<log>.wal" and synced; then the register is extended, the record appended and synced, and
// the write-ahead file removed. A process that dies anywhere in between leaves the write-ahead
// file, and open() completes the step (extending only when the register does not already hold
// the expected value), so the log always replays to the register.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "acon/common/bytes.h"
#include "acon/common/result.h"
#include "acon/eventlog/runtime.h"
#include "acon/guest/backend.h"

namespace acon::acond {

enum class LogMode { coco, acon };
std::string_view log_mode_name(LogMode mode);  // "coco", "acon"
Result<LogMode> parse_log_mode(std::string_view name);

// RTMR3, as the backend numbers it (TDX RTMR index 3) and as CCEL records name it (CC MR index 4).
inline constexpr uint32_t kRuntimeRtmr = 3;
inline constexpr uint32_t kRuntimeCcMrIndex = 4;

// The write-ahead file of a log: "<log path>.wal".
std::filesystem::path write_ahead_path(const std::filesystem::path& log_path);

// The write-ahead record: u64 big-endian log offset at which the record goes, the 48-byte register
// value after the extend, the 48-byte extend digest, then the record bytes. Errors name the field
// and offset.
struct WriteAheadRecord {
  uint64_t log_offset = 0;
  Bytes expected_register;  // 48 bytes
  Bytes extend_digest;      // 48 bytes
  Bytes record;             // appended to the log as is
};
Bytes encode_write_ahead(const WriteAheadRecord& record);
Result<WriteAheadRecord> parse_write_ahead(ByteView bytes);

class MeasurementLog {
 public:
  // Opens (creating if absent) the log at `path` for `backend` (which must number its registers
  // as RTMRs), completes a pending write-ahead record, and reads the events already logged.
  static Result<MeasurementLog> open(guest::Backend& backend, LogMode mode,
                                     std::filesystem::path path);

  // Measures one event: write-ahead, extend, append. In acon mode the INIT line goes first when
  // the log is empty. Nothing is logged when the extend fails.
  Status measure(const eventlog::AaelEvent& event);

  LogMode mode() const { return mode_; }
  const std::filesystem::path& path() const { return path_; }
  // Report's mrlog[3]: coco: the event texts; acon: the log lines, INIT included.
  const std::vector<std::string>& entries() const { return entries_; }
  // The log file's bytes (coco: headerless TCG2 records; acon: the text).
  Result<Bytes> contents() const;

 private:
  MeasurementLog(guest::Backend& backend, LogMode mode, std::filesystem::path path)
      : backend_(&backend), mode_(mode), path_(std::move(path)) {}
  Status load_entries();
  Status recover();
  // One record: its bytes, the extend digest and the mrlog entry.
  Status commit(ByteView record, ByteView digest, std::string entry);

  guest::Backend* backend_;
  LogMode mode_;
  std::filesystem::path path_;
  std::vector<std::string> entries_;
};

}  // namespace acon::acond
