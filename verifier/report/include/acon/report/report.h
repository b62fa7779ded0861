// The auditor's report of one appraisal (docs/acon-verify.md): a versioned JSON result model
// built once from the appraisal library's result, and the views of it: the terminal report here,
// the HTML page in html.h. Every view reads the model only, so the terminal, the JSON and the page
// can never disagree, and changes to the appraisal library's internal types stay behind
// report_model().
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "acon/appraisal/appraise.h"
#include "acon/appraisal/evidence.h"
#include "acon/appraisal/policy.h"
#include "acon/common/json.h"
#include "acon/common/result.h"

namespace acon::report {

// The "version" member of the model; raised when a member changes meaning or disappears.
inline constexpr int64_t kReportVersion = 1;

// acon-verify evidence's built-in policy when none is given: every claim it judges needs the
// check that proves it (quote signature and TCB, a report-data binding, every replayed register,
// the images and acond's launch policy), debug TDs and simulated platforms are refused. It needs
// no reference values, so it says only that the evidence is internally consistent and genuine;
// what values are acceptable is the relying party's policy. docs/acon-verify.md shows it.
std::string_view builtin_policy_toml();
// builtin_policy_toml() parsed; `allow_simulated` lifts its refusal of the simulated platform.
Result<appraisal::Policy> builtin_policy(bool allow_simulated);

struct ReportContext {
  std::string source;             // what was appraised: a path, "acond HOST:PORT"
  std::string policy_source;      // a path, or "built-in"
  std::string verification_time;  // RFC 3339
};

// The launch-policy graph of the images in the evidence (docs/acon-verify.md "Launch-policy
// graph"): one node per image the runtime log proves loaded (log order), then one per provided
// image the log does not name; an edge A -> B per ordered pair whose compatibility A's policy
// decides: "accepts" (a rule of A's policy.accepts matches B), "refuses" (none matches and A has
// rejectUnaccepted) or "error" (acond would fail on a malformed rule). Nodes carry a
// deterministic layered position: layer = breadth-first depth along "accepts" edges.
//   {"nodes": [{"id": "n0", "image_id", "name", "signer", "logged", "policy_known",
//               "reject_unaccepted", "verdict": {"acond", "spec"} | null, "layer", "row"}],
//    "edges": [{"from": "n0", "to": "n1", "kind", "rule": "<text>" | null}]}
Json launch_policy_graph(const appraisal::Evidence& evidence, const Json& acon_images);

// At most this many rows per register in the timeline; the rest are counted in "more".
inline constexpr size_t kMaxTimelineRows = 2000;

// The event timeline (docs/acon-verify.md "Event timeline"): every event of every register,
// read and decoded (eventlog::decode_event) from the evidence's own logs, so it is there whatever
// the quote's verdict; each row's status is what the register's replay check proves of it.
//   {"registers": [{"register": "rtmr0", "check": "replay.rtmr0", "outcome", "reason", "events",
//                   "proven", "more", "divergent": <row> | null,
//                   "rows": [{"number", "source": "firmware" | "aael" | "text_aael" | "ima",
//                             "where", "type", "digest", "meaning",
//                             "status": "proven" | "diverges" | "not_covered" | "unknown",
//                             ["digest_check": "match" | "mismatch" | "n/a"], ["note"]}]}],
//    "notes": ["<a log that does not parse, ...>"]}
// vTPM evidence: one register per PCR its log names ("pcr0", ...), judged by its replay.pcr<N>
// checks; SGX: no registers and a note.
Json event_timeline(const appraisal::Evidence& evidence, const appraisal::CheckResults& checks);

// The whole result model:
//   {"version": 1, "source", "policy": {"id", "source"}, "verification_time", "platform",
//    "simulated", "verdict": "accepted" | "rejected", "status": "<ear.status>",
//    "decided_by": {"claim", "value", "rule", "check": "<check name>" | null, "reason",
//                   "failed_checks": ["<name>", ...]} | null,
//    "result": <appraisal::attestation_result_json: status, explanations, checks, ear>,
//    "claims": <the claims document>, "launch_policy_graph": <launch_policy_graph>,
//    "timeline": <event_timeline>}
// "accepted" exactly when ear.status is affirming.
Result<Json> report_model(const appraisal::Evidence& evidence,
                          const appraisal::AttestationResult& result, const ReportContext& context);

// What evidence from acon's simulated TDX platform proves and what it does not; every view of a
// simulated result shows it.
std::string_view simulated_statement();

// The terminal report of a model: sections for the platform and quote, bindings, replay per
// register, images, launch policy, the EAR and the verdict, each check with ✓/✗ and its reason.
// ANSI colours only when `color`.
std::string terminal_report(const Json& model, bool color);

}  // namespace acon::report
