#include "audit_committer.h"

#include <condition_variable>
#include <exception>
#include <optional>

namespace acon::kbs {

void AuditCommitter::submit(AuditEntry entry, Done done, Schedule schedule) {
  // Checked here so that one bad entry cannot fail the commit of others.
  if (Status valid = validate_audit_entry(entry); !valid) return done(valid);
  Schedule run_later;
  {
    std::lock_guard lock(mutex_);
    const bool blocking = !schedule;
    queue_.push_back({std::move(entry), std::move(done), blocking});
    if (blocking) {
      ++blocking_;
      if (committing_) return;  // the running commit takes it before it stops
      committing_ = true;       // a scheduled start finds a commit running and leaves it
    } else {
      schedule_ = schedule;
      if (committing_ || scheduled_) return;  // that commit takes it or schedules the next
      scheduled_ = true;
      run_later = std::move(schedule);
    }
  }
  if (run_later) return run_later([this] { start_scheduled(); });
  commit_queued();
}

void AuditCommitter::start_scheduled() {
  {
    std::lock_guard lock(mutex_);
    scheduled_ = false;
    if (committing_) return;  // a blocking caller's commit runs; it takes the queue or schedules
    committing_ = true;
  }
  commit_queued();
}

void AuditCommitter::commit_queued() {
  std::vector<Pending> batch;
  std::vector<AuditEntry> entries;
  for (;;) {
    Schedule run_later;
    {
      std::lock_guard lock(mutex_);
      if (queue_.empty()) {
        committing_ = false;
        return;
      }
      const bool after_a_commit = !batch.empty();
      batch.clear();
      if (after_a_commit && blocking_ == 0 && schedule_) {
        // Only scheduled records wait: the next commit starts after the work already queued on
        // the workers (requests read, their records to come), so that it takes those too.
        committing_ = false;
        if (scheduled_) return;
        scheduled_ = true;
        run_later = schedule_;
      }
    }
    if (run_later) return run_later([this] { start_scheduled(); });
    {
      std::lock_guard lock(mutex_);  // only this thread takes from the queue
      const size_t n = std::min(queue_.size(), kMaxRecordsPerCommit);
      for (size_t i = 0; i < n; ++i) {
        blocking_ -= queue_[i].blocking;
        batch.push_back(std::move(queue_[i]));
      }
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(n));
    }
    entries.clear();
    for (Pending& pending : batch) entries.push_back(std::move(pending.entry));
    Status appended;
    try {
      auto records = storage_.append_audit_batch(std::move(entries));
      if (!records) appended = records.error();
    } catch (const std::exception& e) {
      appended = make_error(Errc::io, std::string("audit log: ") + e.what());
    }
    if (appended) {
      std::lock_guard lock(mutex_);
      ++commits_;
      records_ += batch.size();
    }
    for (Pending& pending : batch) {
      try {
        pending.done(appended);
      } catch (...) {
        // A callback that threw answers nothing more; the commit and the others stand.
      }
    }
  }
}

void AuditCommitter::flush() {
  {
    std::lock_guard lock(mutex_);
    scheduled_ = false;  // whatever was scheduled will not run
    // Nor may anything be handed to those workers again: their executor may outlive them.
    schedule_ = nullptr;
    for (Pending& pending : queue_) pending.blocking = true;
    blocking_ = queue_.size();
    if (committing_ || queue_.empty()) return;
    committing_ = true;
  }
  commit_queued();
}

Status AuditCommitter::append(AuditEntry entry) {
  std::mutex mutex;
  std::condition_variable ready;
  std::optional<Status> outcome;
  submit(std::move(entry), [&](const Status& appended) {
    std::lock_guard lock(mutex);
    outcome = appended;
    ready.notify_one();
  });
  std::unique_lock lock(mutex);
  ready.wait(lock, [&] { return outcome.has_value(); });
  return *outcome;
}

uint64_t AuditCommitter::commits() const {
  std::lock_guard lock(mutex_);
  return commits_;
}

uint64_t AuditCommitter::records() const {
  std::lock_guard lock(mutex_);
  return records_;
}

}  // namespace acon::kbs
