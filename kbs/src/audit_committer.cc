#include "audit_committer.h"

#include <condition_variable>
#include <exception>
#include <optional>

namespace acon::kbs {

void AuditCommitter::submit(AuditEntry entry, Done done) {
  // Checked here so that one bad entry cannot fail the commit of others.
  if (Status valid = validate_audit_entry(entry); !valid) return done(valid);
  {
    std::lock_guard lock(mutex_);
    queue_.push_back({std::move(entry), std::move(done)});
    if (committing_) return;  // the running committer takes it in its next commit
    committing_ = true;
  }
  std::vector<Pending> batch;
  std::vector<AuditEntry> entries;
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (queue_.empty()) {
        committing_ = false;
        return;
      }
      const size_t n = std::min(queue_.size(), kMaxRecordsPerCommit);
      batch.assign(std::make_move_iterator(queue_.begin()),
                   std::make_move_iterator(queue_.begin() + static_cast<ptrdiff_t>(n)));
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
    batch.clear();
  }
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
