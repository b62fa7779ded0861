// Group commit of audit records: the records of requests handled at the same time go into one
// storage commit, whose last record alone is signed (audit.h). Modelled on LevelDB's queue of
// writers (db/db_impl.cc, DBImpl::Write): the first caller to find no commit running becomes the
// committer, commits everything queued, and goes on while more arrives; no thread of its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

#include "acon/kbs/storage.h"

namespace acon::kbs {

class AuditCommitter {
 public:
  // Gets the outcome of the commit that held the record. Runs on the committing thread, after
  // the commit and outside every lock of this class; it must not submit again.
  using Done = std::function<void(const Status& appended)>;

  static constexpr size_t kMaxRecordsPerCommit = 64;

  explicit AuditCommitter(Storage& storage) : storage_(storage) {}
  AuditCommitter(const AuditCommitter&) = delete;
  AuditCommitter& operator=(const AuditCommitter&) = delete;

  // Queues the record; `done` runs once it committed or failed, possibly on this thread before
  // submit returns. An entry that fails validate_audit_entry fails alone, at once.
  void submit(AuditEntry entry, Done done);
  // submit, then waits for the outcome.
  Status append(AuditEntry entry);

  uint64_t commits() const;
  uint64_t records() const;

 private:
  struct Pending {
    AuditEntry entry;
    Done done;
  };
  Storage& storage_;
  mutable std::mutex mutex_;
  std::vector<Pending> queue_;
  bool committing_ = false;
  uint64_t commits_ = 0;
  uint64_t records_ = 0;
};

}  // namespace acon::kbs
