// The firmware part of a TDX event log and the facts derived from its bytes alone, looked up in
// or added to a FirmwareLogCache (internal; firmware_log_cache.h says why this is sound).
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "acon/appraisal/claims.h"
#include "acon/appraisal/ear.h"
#include "acon/appraisal/firmware_log_cache.h"
#include "acon/common/bytes.h"
#include "acon/common/json.h"
#include "acon/common/result.h"
#include "tdx_logs.h"

namespace acon::appraisal {

struct FirmwareLogFacts {
  // The key: how the log was parsed (1: as cc_eventlog, allowing a zero Spec ID signature; 0: as
  // ccel) and the firmware part's bytes, the log from its start to its first runtime record (or
  // its last record). Everything below is a function of these two.
  uint8_t form = 0;
  Bytes bytes;
  // The leading events of the log the facts cover; events[0] is the Spec ID header.
  size_t events = 0;
  // Trustee's uefi_event_logs entries of events 1..events-1; or, when Trustee's parser refuses
  // one of them, its error (the whole log's: the entries are made in log order, the firmware
  // events first).
  Json::array_t trustee_entries;
  std::optional<Error> trustee_error;
  // The same entries as JSON text, for the EAR writers (Submod::prewritten_event_log); null with
  // no entries.
  std::shared_ptr<const PrewrittenEntries> trustee_entries_text;
  // Per event in [0, events): the SHA-384 value of its register after the event's extend, as the
  // replay (checks_replay.cc) extends it from zero; empty for an event the replay does not extend
  // and for every event of a register after one whose extend failed.
  std::vector<Bytes> register_after;
  size_t charge = 0;  // FirmwareLogCache's size estimate

  // Copies of trustee_entries for the claims documents of appraisals (claims_with_entries_from):
  // one is taken for each document and, when the document is freed and its leading entries are
  // still equal to trustee_entries, given back instead of freed. Copying ~900 JSON nodes into each
  // document and freeing them after was a fifth of a warm appraisal.
  Json::array_t take_entries() const;
  struct SpareEntries {
    std::mutex mutex;
    std::vector<Json::array_t> spares;
  };
  std::shared_ptr<SpareEntries> spare_entries = std::make_shared<SpareEntries>();
};

// The claims document, shared and immutable, whose tdx.uefi_event_logs starts with entries
// taken from `firmware` (null: an ordinary shared document). When it is freed, those entries go
// back to `firmware`'s spares if they are still equal to its trustee_entries.
std::shared_ptr<const Json> claims_with_entries_from(
    Json claims, std::shared_ptr<const FirmwareLogFacts> firmware);

// The facts for the firmware part of `logs` (which must hold a parsed log): from `cache` when it
// holds them for exactly these bytes, else derived now and added to it.
std::shared_ptr<const FirmwareLogFacts> firmware_log_facts(const TdxLogs& logs,
                                                           FirmwareLogCache& cache);

// tdx_claims() (claims.h) with the entries of the log's firmware events taken from `firmware`
// (derived from the same log; null: every entry is made now).
ClaimsDocument tdx_claims(const tdx::Quote& quote, const dcap::QuoteVerdict& verdict,
                          const eventlog::EventLog* ccel, const FirmwareLogFacts* firmware);

}  // namespace acon::appraisal
