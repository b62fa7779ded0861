#include "acon/acond/measurement_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <system_error>

#include "acon/common/hash.h"
#include "acon/common/unique_fd.h"
#include "acon/eventlog/event_log.h"

namespace acon::acond {
namespace {

constexpr size_t kRegisterSize = 48;

Error io_error(const std::filesystem::path& path, std::string_view what, int err) {
  return make_error(Errc::io, path.string() + ": " + std::string(what) + ": " + std::strerror(err));
}

Result<Bytes> read_file(const std::filesystem::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return io_error(path, "open", errno);
  Bytes out;
  uint8_t buffer[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error(path, "read", errno);
    if (n == 0) break;
    out.insert(out.end(), buffer, buffer + n);
  }
  return out;
}

Status write_all(int fd, const std::filesystem::path& path, ByteView data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return io_error(path, "write", errno);
    done += static_cast<size_t>(n);
  }
  return {};
}

// The crash-test steps of one synced write: half written, all written, synced.
struct WriteSteps {
  std::string_view mid, written, synced;
};

// Writes `data` to the file `fd` opened and syncs it, in two halves so that a crash test can stop
// between them.
Status write_in_steps(int fd, const std::filesystem::path& path, ByteView data,
                      const WriteSteps& names, const StepHook& step) {
  auto reach = [&](std::string_view name) {
    if (step) step(name);
  };
  ACON_CHECK(write_all(fd, path, data.subspan(0, data.size() / 2)));
  reach(names.mid);
  ACON_CHECK(write_all(fd, path, data.subspan(data.size() / 2)));
  reach(names.written);
  if (::fsync(fd) != 0) return io_error(path, "fsync", errno);
  reach(names.synced);
  return {};
}

Status remove_synced(const std::filesystem::path& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return io_error(path, "unlink", errno);
  UniqueFd dir(::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.valid()) ::fsync(dir.get());
  return {};
}

uint64_t log_file_size(const std::filesystem::path& path) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  return ec ? 0 : size;
}

std::string init_line() {
  return eventlog::text_aael_init_line(HashAlg::sha384, Bytes(kRegisterSize, 0));
}

}  // namespace

std::string_view log_mode_name(LogMode mode) { return mode == LogMode::coco ? "coco" : "acon"; }

Result<LogMode> parse_log_mode(std::string_view name) {
  if (name == "coco") return LogMode::coco;
  if (name == "acon") return LogMode::acon;
  return make_error(Errc::invalid_argument,
                    "log mode: expected coco or acon, got '" + std::string(name) + "'");
}

LogRegister log_register_for(guest::RegisterKind kind, uint32_t pcr) {
  if (kind == guest::RegisterKind::rtmr) return {};
  return {pcr, pcr, HashAlg::sha384};
}

std::filesystem::path write_ahead_path(const std::filesystem::path& log_path) {
  return log_path.string() + ".wal";
}

Bytes encode_write_ahead(const WriteAheadRecord& record) {
  Bytes out;
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<uint8_t>(record.log_offset >> shift));
  }
  append(out, record.expected_register);
  append(out, record.extend_digest);
  append(out, record.record);
  return out;
}

Result<WriteAheadRecord> parse_write_ahead(ByteView bytes) {
  constexpr size_t kFixed = 8 + 2 * kRegisterSize;
  if (bytes.size() < kFixed) {
    return make_error(Errc::parse,
                      "write-ahead record at offset 0: " + std::to_string(bytes.size()) +
                          " bytes, need at least " + std::to_string(kFixed));
  }
  if (bytes.size() == kFixed) {
    return make_error(Errc::parse,
                      "write-ahead record.record at offset " + std::to_string(kFixed) + ": empty");
  }
  WriteAheadRecord out;
  for (size_t i = 0; i < 8; ++i) out.log_offset = (out.log_offset << 8) | bytes[i];
  out.expected_register.assign(bytes.begin() + 8, bytes.begin() + 8 + kRegisterSize);
  out.extend_digest.assign(bytes.begin() + 8 + kRegisterSize, bytes.begin() + kFixed);
  out.record.assign(bytes.begin() + kFixed, bytes.end());
  return out;
}

Result<MeasurementLog> MeasurementLog::open(guest::Backend& backend, LogMode mode,
                                            std::filesystem::path path, LogRegister reg) {
  if (reg.alg != HashAlg::sha384) {
    // The write-ahead record holds 48-byte register values, and the text chain is SHA-384.
    return make_error(Errc::unsupported, "measurement log: register bank " +
                                             std::string(hash_name(reg.alg)) +
                                             ": only sha384 is supported");
  }
  if (mode == LogMode::acon && backend.register_kind() == guest::RegisterKind::pcr &&
      reg.backend_index >= 17 && reg.backend_index <= 22) {
    // The text chain's INIT line starts from zero; these PCRs start from all ones.
    return make_error(Errc::invalid_argument,
                      "measurement log: PCR " + std::to_string(reg.backend_index) +
                          " does not start at zero, which the acon log mode needs");
  }
  MeasurementLog log(backend, mode, std::move(path), reg);
  ACON_CHECK(log.recover());
  ACON_CHECK(log.load_entries());
  return log;
}

Result<Bytes> MeasurementLog::contents() const {
  if (!std::filesystem::exists(path_)) return Bytes{};
  return read_file(path_);
}

Status MeasurementLog::recover() {
  auto wal_path = write_ahead_path(path_);
  if (!std::filesystem::exists(wal_path)) return {};
  ACON_TRY(Bytes wal_bytes, read_file(wal_path));
  auto wal = parse_write_ahead(wal_bytes);
  // The write-ahead file is synced before the extend: one that does not parse was torn while
  // being written, so its extend never happened and the log is already consistent.
  if (!wal) return remove_synced(wal_path);
  ACON_TRY(Bytes current, backend_->read(reg_.backend_index, reg_.alg));
  if (current == wal->expected_register) {
    // Extended, perhaps appended: put the record at its offset, whatever follows it there.
    if (log_file_size(path_) < wal->log_offset) {
      return make_error(Errc::io, path_.string() + ": shorter than the write-ahead offset " +
                                      std::to_string(wal->log_offset));
    }
    if (log_file_size(path_) > wal->log_offset &&
        ::truncate(path_.c_str(), static_cast<off_t>(wal->log_offset)) != 0) {
      return io_error(path_, "truncate", errno);
    }
    ACON_CHECK(append_synced(wal->record));
  } else if (log_file_size(path_) > wal->log_offset) {
    // Not extended: a record is never appended before its extend, so nothing should follow the
    // offset; drop whatever does.
    if (::truncate(path_.c_str(), static_cast<off_t>(wal->log_offset)) != 0) {
      return io_error(path_, "truncate", errno);
    }
  }
  return remove_synced(wal_path);
}

Status MeasurementLog::load_entries() {
  entries_.clear();
  events_.clear();
  ACON_TRY(Bytes bytes, contents());
  if (bytes.empty()) return {};
  if (mode_ == LogMode::acon) {
    ACON_TRY(auto text, eventlog::parse_text_aael(as_chars(bytes)));
    entries_.push_back(text.init_line);
    for (auto& line : text.lines) {
      entries_.push_back(line.text);
      events_.push_back(std::move(line.event));
    }
    return {};
  }
  // Headerless TCG2 records: parse them behind a Spec ID header for the SHA-384 bank, the way
  // they follow the CCEL in CoCo's cc_eventlog.
  const HashAlg banks[] = {reg_.alg};
  ACON_TRY(Bytes framed, eventlog::spec_id_record(banks));
  size_t header_size = framed.size();
  append(framed, bytes);
  auto parsed = eventlog::parse_event_log(framed);
  if (!parsed) {
    return make_error(Errc::parse, path_.string() + " (offsets include a " +
                                       std::to_string(header_size) +
                                       "-byte header): " + parsed.error().message);
  }
  for (size_t i = 1; i < parsed->events.size(); ++i) {
    const auto& event = parsed->events[i];
    if (event.index != reg_.record_index) {
      return make_error(Errc::parse, path_.string() + ": record " + std::to_string(i - 1) +
                                         " has index " + std::to_string(event.index) +
                                         ", expected " + std::to_string(reg_.record_index));
    }
    ACON_TRY(auto aael, eventlog::parse_aael_tagged_event(event.data));
    ACON_TRY(std::string text, eventlog::format_aael_line(aael));
    entries_.push_back(std::move(text));
    events_.push_back(std::move(aael));
  }
  return {};
}

Status MeasurementLog::append_synced(ByteView record) {
  UniqueFd fd(::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!fd.valid()) return io_error(path_, "open", errno);
  ACON_CHECK(write_in_steps(fd.get(), path_, record,
                            {"mid-append", "after-append", "after-append-sync"}, step_hook_));
  if (::close(fd.release()) != 0) return io_error(path_, "close", errno);
  return {};
}

Status MeasurementLog::commit(ByteView record, ByteView digest, std::string entry) {
  ACON_TRY(Bytes current, backend_->read(reg_.backend_index, reg_.alg));
  Bytes expected_input = current;
  append(expected_input, digest);
  WriteAheadRecord wal{log_file_size(path_), sha384(expected_input),
                       Bytes(digest.begin(), digest.end()), Bytes(record.begin(), record.end())};
  auto wal_path = write_ahead_path(path_);
  step("before-wal");
  {
    UniqueFd fd(::open(wal_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd.valid()) return io_error(wal_path, "open", errno);
    ACON_CHECK(write_in_steps(fd.get(), wal_path, encode_write_ahead(wal),
                              {"mid-wal-write", "after-wal-write", "after-wal-sync"}, step_hook_));
    if (::close(fd.release()) != 0) return io_error(wal_path, "close", errno);
  }
  if (auto extended = backend_->extend(reg_.backend_index, reg_.alg, digest); !extended) {
    // Nothing was measured: the write-ahead record describes an extend that never happened.
    (void)remove_synced(wal_path);
    return extended;
  }
  step("after-extend");
  ACON_CHECK(append_synced(record));
  ACON_CHECK(remove_synced(wal_path));
  step("after-wal-remove");
  entries_.push_back(std::move(entry));
  return {};
}

Status MeasurementLog::measure(const eventlog::AaelEvent& event) {
  if (mode_ == LogMode::coco) {
    ACON_TRY(Bytes tagged, eventlog::aael_tagged_event(event));
    ACON_TRY(Bytes record, eventlog::aael_record(reg_.record_index, reg_.alg, event));
    ACON_TRY(std::string text, eventlog::format_aael_line(event));
    ACON_CHECK(commit(record, sha384(tagged), std::move(text)));
    events_.push_back(event);
    return {};
  }
  if (entries_.empty()) {
    std::string init = init_line();  // ends in '\n'
    std::string_view line = std::string_view(init).substr(0, init.size() - 1);
    ACON_CHECK(commit(as_bytes(init), sha384(as_bytes(line)), std::string(line)));
  }
  ACON_TRY(std::string line, eventlog::text_aael_event_line(event));
  std::string_view text = std::string_view(line).substr(0, line.size() - 1);
  ACON_CHECK(commit(as_bytes(line), sha384(as_bytes(text)), std::string(text)));
  events_.push_back(event);
  return {};
}

}  // namespace acon::acond
