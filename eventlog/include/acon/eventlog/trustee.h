// CCEL records as CoCo Trustee's TDX verifier puts them in its claims (`uefi_event_logs`,
// docs/claims.md §3; trustee @ 78962cd4 deps/eventlog): the JSON a policy written against
// Trustee reads. Trustee's own details and digest rule, not acon's decode.h: where the two read
// an event differently (device path text, GUID byte order, which bytes a digest covers) this
// writer follows Trustee, so documents compare equal key for key.
#pragma once

#include "acon/common/json.h"
#include "acon/common/result.h"
#include "acon/eventlog/event_log.h"

namespace acon::eventlog {

// {"details": {...}, "digest_matches_event": bool, "digests": [{"alg": "SHA-384", "digest":
// "<hex>"}], "event": "<base64 of the data>", "index": <CC MR index>, "type_name": "EV_..."}.
// Errors where Trustee refuses the whole log: an event type or digest algorithm it does not
// know, a digest algorithm it cannot recompute (SHA-1), data its parser for the type rejects
// (e.g. EV_EFI_ACTION that is not UTF-8, an EFI variable whose name runs past the data). The
// message names the event number and the field with its offset in the event data.
Result<Json> trustee_event_entry(const Event& event);

// The entries of every record after the Spec ID header, in log order.
Result<Json> trustee_uefi_event_logs(const EventLog& log);

// The entries of events [first, last) (the header, event 0, has none), appended to `entries` in
// log order: trustee_uefi_event_logs() is this over the whole log. An entry depends on its event
// alone, so the entries of a log are those of any split of it into consecutive ranges; the
// appraisal's firmware-log cache keeps those of a log's firmware part. On error `entries` holds
// those of the events before the refused one.
Status append_trustee_event_entries(const EventLog& log, size_t first, size_t last,
                                    Json::array_t& entries);

}  // namespace acon::eventlog
