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
//
// The register is RTMR3 by default; a vTPM deployment names a PCR instead (LogRegister).
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
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

// Where the log's events are measured: the backend's register index, the index TCG2 records carry
// (CC MR index for RTMRs, the PCR number itself for a TPM) and the bank. The text (acon) chain is
// SHA-384 only.
struct LogRegister {
  uint32_t backend_index = kRuntimeRtmr;
  uint32_t record_index = kRuntimeCcMrIndex;
  HashAlg alg = HashAlg::sha384;
};
// RTMR3 for RTMR backends, PCR `pcr` (SHA-384 bank) for a TPM.
LogRegister log_register_for(guest::RegisterKind kind, uint32_t pcr);
// The vTPM's default runtime PCR. CoCo names PCR 17, but PCRs 17..22 are extended only from
// localities 2..4 (a guest OS talks to its TPM at locality 0), and PCRs 16 and 23 can be reset
// from locality 0, which would let anyone restart the chain. PCR 15 is the last of the static
// OS's PCRs, extendable but not resettable at locality 0, and no firmware or boot loader writes it.
inline constexpr uint32_t kDefaultRuntimePcr = 15;

// Called with the name of each durable step of a measurement as it is reached (kMeasureSteps, in
// order). acond's executable installs one for its crash tests (ACOND_CRASH_AT, docs/acond.md); the
// library never needs one.
using StepHook = std::function<void(std::string_view step)>;
inline constexpr std::string_view kMeasureSteps[] = {
    "before-wal", "mid-wal-write", "after-wal-write",   "after-wal-sync",  "after-extend",
    "mid-append", "after-append",  "after-append-sync", "after-wal-remove"};

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
  // Opens (creating if absent) the log at `path` for `backend`, completes a pending write-ahead
  // record, and reads the events already logged. `reg` must suit the backend's register kind.
  static Result<MeasurementLog> open(guest::Backend& backend, LogMode mode,
                                     std::filesystem::path path, LogRegister reg = {});

  void set_step_hook(StepHook hook) { step_hook_ = std::move(hook); }

  // Measures one event: write-ahead, extend, append. In acon mode the INIT line goes first when
  // the log is empty. Nothing is logged when the extend fails.
  Status measure(const eventlog::AaelEvent& event);

  LogMode mode() const { return mode_; }
  const std::filesystem::path& path() const { return path_; }
  // Report's mrlog[3]: coco: the event texts; acon: the log lines, INIT included.
  const std::vector<std::string>& entries() const { return entries_; }
  // The events logged, in order (acon mode: without the INIT line).
  const std::vector<eventlog::AaelEvent>& events() const { return events_; }
  const LogRegister& log_register() const { return reg_; }
  // The log file's bytes (coco: headerless TCG2 records; acon: the text).
  Result<Bytes> contents() const;

 private:
  MeasurementLog(guest::Backend& backend, LogMode mode, std::filesystem::path path, LogRegister reg)
      : backend_(&backend), mode_(mode), path_(std::move(path)), reg_(reg) {}
  Status load_entries();
  Status recover();
  // One record: its bytes, the extend digest and the mrlog entry.
  Status commit(ByteView record, ByteView digest, std::string entry);
  // Appends `record` to the log and syncs it.
  Status append_synced(ByteView record);
  void step(std::string_view name) const {
    if (step_hook_) step_hook_(name);
  }

  guest::Backend* backend_;
  LogMode mode_;
  std::filesystem::path path_;
  LogRegister reg_;
  StepHook step_hook_;
  std::vector<std::string> entries_;
  std::vector<eventlog::AaelEvent> events_;
};

}  // namespace acon::acond
