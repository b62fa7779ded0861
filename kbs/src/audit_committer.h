// Group commit of audit records: the records of requests handled at the same time go into one
// storage commit, whose last record alone is signed (audit.h). Modelled on LevelDB's queue of
// writers (db/db_impl.cc, DBImpl::Write): records queue while a commit runs and the next commit
// takes them all; there is no thread of its own. A server hands in a way to run the commit later
// on its own workers (after the work already queued there), so that the requests it has already
// read add their records before the commit starts.
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

  // Runs the work it is given soon, on one of the caller's worker threads.
  using Schedule = std::function<void(std::function<void()>)>;

  // Queues the record; `done` runs once it committed or failed. Without `schedule` a commit runs
  // now, on this thread, unless one is running (done may run before submit returns); with it the
  // commit runs through `schedule`. An entry that fails validate_audit_entry fails alone, at
  // once.
  void submit(AuditEntry entry, Done done, Schedule schedule = nullptr);
  // submit without a schedule, then waits for the outcome.
  Status append(AuditEntry entry);
  // Commits what is queued now, on this thread, and forgets a scheduled commit and the schedule
  // itself: for a server whose workers have stopped (what it scheduled will not run, and its
  // executor must not outlive its io_context here). The callbacks still run.
  void flush();

  uint64_t commits() const;
  uint64_t records() const;

 private:
  struct Pending {
    AuditEntry entry;
    Done done;
    bool blocking = false;  // its caller gave no schedule (it may block on the outcome)
  };
  // Runs on the thread that set committing_: commits until the queue is empty, or until only
  // records with a schedule wait (then it schedules the next commit and returns).
  void commit_queued();
  void start_scheduled();  // what a schedule runs

  Storage& storage_;
  mutable std::mutex mutex_;
  std::vector<Pending> queue_;
  size_t blocking_ = 0;      // queued records with blocking set: never left to a schedule, since
                             // their caller may be the only worker that would run it
  bool committing_ = false;  // a thread is in commit_queued
  bool scheduled_ = false;   // start_scheduled has been handed to a schedule and not run yet
  Schedule schedule_;        // the latest caller's, for the next scheduled commit
  uint64_t commits_ = 0;
  uint64_t records_ = 0;
};

}  // namespace acon::kbs
