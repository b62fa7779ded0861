// Replay checks: the quote's registers against the event logs, with the first event no quoted
// value explains named (docs/evidence.md "replay.<register>"), and runtime-log records nothing in
// the evidence explains. The register arithmetic is eventlog's Replayer; this file only decides
// which record goes into which register, in which order, and reads the prefixes.
#include <map>
#include <set>

#include "acon/appraisal/checks.h"
#include "acon/appraisal/images.h"
#include "acon/common/hash.h"
#include "acon/eventlog/event_log.h"
#include "acon/eventlog/replay.h"
#include "acon/eventlog/runtime.h"
#include "acon/tdx/quote.h"
#include "firmware_log.h"
#include "tdx_logs.h"

namespace acon::appraisal {
namespace {

using eventlog::Event;
using eventlog::EventLog;
using eventlog::Replayer;

constexpr uint32_t kRtmr2 = 3;  // CC MR indexes
constexpr uint32_t kRtmr3 = 4;

std::string describe(const Event& event, bool runtime) {
  return std::string(runtime ? "runtime AAEL record" : "CCEL event") + " #" +
         std::to_string(event.number) + " (" + eventlog::event_type_name(event.type) + ", index " +
         std::to_string(event.index) + ") at offset " + std::to_string(event.offset);
}

// One record that changes a register: an extend, or the text AAEL's INIT start value.
struct Step {
  Step(uint32_t index_, std::string where_, Bytes digest_, bool runtime_, bool sets_start_ = false)
      : index(index_),
        where_text(std::move(where_)),
        digest(std::move(digest_)),
        runtime(runtime_),
        sets_start(sets_start_) {}
  // A TCG2 event: its description is written only when a message names it.
  Step(const Event& event_, Bytes digest_, bool runtime_)
      : index(event_.index), tcg2(&event_), digest(std::move(digest_)), runtime(runtime_) {}
  // "CCEL event #12 (EV_IPL, index 1) at offset 4242"
  std::string where() const { return tcg2 != nullptr ? describe(*tcg2, runtime) : where_text; }
  uint32_t index;
  std::string where_text;       // for records of the text logs
  const Event* tcg2 = nullptr;  // for TCG2 events, in the parsed log that outlives the step
  Bytes digest;
  bool runtime = false;
  bool sets_start = false;  // text AAEL INIT: the register's value is stated, not extended
  // A firmware event's extend as the firmware-log cache holds it: the register's value after it.
  const Bytes* register_after = nullptr;
  Json event = nullptr;                 // acon.runtime_events entry (runtime records only)
  std::optional<RuntimeLogEvent> aael;  // the AAEL event it records, for the images checks
};

CheckResult named(std::string name, Outcome outcome, std::string reason, Json detail = nullptr) {
  return CheckResult{std::move(name), outcome, std::move(reason), std::move(detail)};
}

std::string register_name(uint32_t index) {
  return "rtmr" + std::to_string(index - 1);  // CC MR index 1..4
}

// The AAEL event's members of an acon.runtime_events entry. Members are assigned one by one:
// nlohmann's initializer lists copy every value once more on the way in.
void add_aael_members(Json& entry, const eventlog::AaelEvent& event) {
  entry["domain"] = event.domain;
  entry["operation"] = event.operation;
  entry["content"] = event.content;
}

struct Collected {
  std::vector<Step> steps;
  std::vector<std::string> unexplained;  // records outside every quoted register
  std::vector<std::string> errors;       // runtime logs that do not parse
  bool any_log = false;
  bool any_runtime_log = false;
};

void collect_tcg2(const TdxLogs& logs, const FirmwareLogFacts* firmware, Collected& out) {
  if (!logs.log) return;
  out.any_log = true;
  const std::set<uint32_t> quoted = {1, 2, 3, 4};
  std::set<size_t> uncovered;
  for (const Event* event : eventlog::uncovered_events(*logs.log, quoted)) {
    uncovered.insert(event->number);
  }
  // The AAEL events as the images checks read them; a tagged record that does not parse makes
  // the whole log unusable, as Trustee refuses it.
  std::map<size_t, RuntimeLogEvent> aael_events;
  if (auto events = runtime_log_events(*logs.log, {}); !events) {
    out.errors.push_back("TCG2 runtime records: " + events.error().message);
  } else {
    for (RuntimeLogEvent& event : *events) aael_events.emplace(event.index, std::move(event));
  }
  // A Step is large (its runtime_events entry, its AAEL event): grown one by one, the vector
  // would move every step already collected at each reallocation.
  out.steps.reserve(out.steps.size() + logs.log->events.size());
  for (size_t position = 0; position < logs.log->events.size(); ++position) {
    const Event& event = logs.log->events[position];
    if (event.number == 0 || event.type == eventlog::ev::kNoAction) continue;
    std::optional<eventlog::AaelEvent> aael;
    if (event.type == eventlog::ev::kEventTag)
      if (auto parsed = eventlog::parse_aael_tagged_event(event.data)) aael = *parsed;
    const bool runtime = event.offset >= logs.firmware_end || aael.has_value();
    if (runtime) out.any_runtime_log = true;
    if (uncovered.contains(event.number)) {
      out.unexplained.push_back(describe(event, runtime) +
                                ": the quote has no register for index " +
                                std::to_string(event.index));
      continue;
    }
    auto digest = event.digest(eventlog::tpm_alg::kSha384);
    if (!digest) {
      out.unexplained.push_back(describe(event, runtime) +
                                ": no SHA-384 digest, so it cannot be replayed");
      continue;
    }
    // A firmware event whose extend the cache holds needs no copy of its digest.
    const Bytes* register_after = firmware != nullptr && position < firmware->events &&
                                          !firmware->register_after[position].empty()
                                      ? &firmware->register_after[position]
                                      : nullptr;
    Step step{event, register_after ? Bytes{} : Bytes(digest->begin(), digest->end()), runtime};
    step.register_after = register_after;
    if (runtime) {
      Json& entry = step.event = Json::object();
      entry["source"] = "aael";
      entry["register"] = register_name(event.index);
      entry["index"] = event.index;
      entry["digest"] = hex_encode(*digest);
      entry["type"] = eventlog::event_type_name(event.type);
      if (aael) add_aael_members(entry, *aael);
      if (auto found = aael_events.find(event.number); found != aael_events.end())
        step.aael = std::move(found->second);
    }
    out.steps.push_back(std::move(step));
  }
}

void collect_text_aael(const std::string& text, Collected& out) {
  out.any_runtime_log = true;
  auto log = eventlog::parse_text_aael(text);
  if (!log) {
    out.errors.push_back("runtime text AAEL: " + log.error().message);
    return;
  }
  if (log->alg != HashAlg::sha384) {
    out.errors.push_back("runtime text AAEL: a " + std::string(hash_name(log->alg)) +
                         " log cannot replay into RTMR3, a SHA-384 register");
    return;
  }
  // The INIT line states RTMR3's value when the log started, then is itself extended.
  Step init{kRtmr3, "text AAEL INIT line", log->init_value, true, true};
  init.event = {{"source", "text_aael"},
                {"register", "rtmr3"},
                {"index", kRtmr3},
                {"line", 1},
                {"event", log->init_line}};
  out.steps.push_back(std::move(init));
  auto line_digest = [&log](std::string_view line) { return *digest(log->alg, line); };
  // The steps below must be eventlog's text AAEL replay, record by record.
  Replayer check;
  check.set(kRtmr3, log->alg, log->init_value);
  Status chained = check.extend(kRtmr3, log->alg, line_digest(log->init_line));
  for (const auto& line : log->lines)
    if (chained) chained = check.extend(kRtmr3, log->alg, line_digest(line.text));
  if (!chained || check.value(kRtmr3, log->alg) != eventlog::replay_text_aael(*log)) {
    out.errors.push_back("runtime text AAEL: its record-by-record replay disagrees with eventlog");
    return;
  }
  out.steps.push_back(Step{kRtmr3, "text AAEL line 1 (INIT)", line_digest(log->init_line), true});
  std::vector<RuntimeLogEvent> events = runtime_log_events(*log, /*proven=*/false);
  for (size_t i = 0; i < log->lines.size(); ++i) {
    const auto& line = log->lines[i];
    Step step{kRtmr3, "text AAEL line " + std::to_string(line.line_number),
              std::move(events[i].digest), true};
    step.event = {{"source", "text_aael"},
                  {"register", "rtmr3"},
                  {"index", kRtmr3},
                  {"line", line.line_number},
                  {"digest", hex_encode(step.digest)},
                  {"event", line.text}};
    add_aael_members(step.event, line.event);
    events[i].digest = step.digest;
    step.aael = std::move(events[i]);
    out.steps.push_back(std::move(step));
  }
}

void collect_ima(const std::string& text, Collected& out) {
  out.any_runtime_log = true;
  auto log = eventlog::parse_ima_log(text);
  if (!log) {
    out.errors.push_back("IMA log: " + log.error().message);
    return;
  }
  for (const eventlog::ImaEntry& entry : *log) {
    const std::string where =
        "IMA line " + std::to_string(entry.line_number) + " (" + entry.path + ")";
    // Linux on TDX maps PCR 10 to RTMR2; cc-trusted-api kernels write the RTMR number, 2.
    if (entry.pcr != 10 && entry.pcr != 2) {
      out.unexplained.push_back(where + ": PCR " + std::to_string(entry.pcr) + " maps to no RTMR");
      continue;
    }
    if (entry.template_hash.size() != 48) {
      out.unexplained.push_back(where + ": template hash of " +
                                std::to_string(entry.template_hash.size()) +
                                " bytes is not the SHA-384 an RTMR takes");
      continue;
    }
    Step step{kRtmr2, where, entry.template_hash, true};
    step.event = {{"source", "ima"},
                  {"register", "rtmr2"},
                  {"index", kRtmr2},
                  {"line", entry.line_number},
                  {"digest", hex_encode(entry.template_hash)},
                  {"template", entry.template_name},
                  {"file_hash", entry.file_hash_alg + ":" + hex_encode(entry.file_hash)},
                  {"path", entry.path}};
    out.steps.push_back(std::move(step));
  }
}

struct RegisterOutcome {
  CheckResult check;
  std::vector<std::string> unexplained_runtime;  // runtime records past the quoted value
  bool match = false;
  // The steps the quoted value proves: all of them on a match, else those of the prefix that
  // reproduces it (the rest were logged after the quote, or never extended), else none.
  size_t proven_steps = 0;
};

// Replays the steps of one register prefix by prefix. The quote pins the final value only, so:
// - the whole sequence gives the quoted value: pass;
// - a proper prefix gives it: the records after that prefix are not in the quote (logged after
//   the quote was taken, or logged without an extend): the first of them is named;
// - no prefix gives it: some record was altered, reordered or dropped, or an extend has no log
//   entry. The quote cannot say which record, and the reason says so instead of guessing.
RegisterOutcome replay_register(uint32_t index, const std::vector<const Step*>& steps,
                                ByteView quoted) {
  RegisterOutcome out;
  const std::string name = "replay." + register_name(index);
  const std::string upper = "RTMR" + std::to_string(index - 1);
  Replayer replayer;
  // The register's value while it is one the firmware-log cache holds (the result of this
  // extend, derived from the same firmware bytes by the same Replayer before): compared where it
  // is, and given to the replayer only when a step extends from it.
  const Bytes* cached = nullptr;
  std::optional<size_t> matching_prefix;
  if (ct_equal(replayer.value(index, HashAlg::sha384), quoted)) matching_prefix = 0;
  size_t runtime_count = 0;
  for (size_t i = 0; i < steps.size(); ++i) {
    const Step& step = *steps[i];
    if (step.runtime) ++runtime_count;
    if (step.register_after != nullptr) {
      cached = step.register_after;
      if (!matching_prefix && ct_equal(*cached, quoted)) matching_prefix = i + 1;
      continue;
    }
    if (cached != nullptr) {
      replayer.set(index, HashAlg::sha384, *cached);
      cached = nullptr;
    }
    if (step.sets_start) {
      replayer.set(index, HashAlg::sha384, step.digest);
    } else if (auto extended = replayer.extend(index, HashAlg::sha384, step.digest); !extended) {
      out.check = named(name, Outcome::error, step.where() + ": " + extended.error().message);
      return out;
    }
    // A stated start value is not an extend the quote could have stopped after.
    if (!matching_prefix && !step.sets_start &&
        ct_equal(replayer.value(index, HashAlg::sha384), quoted))
      matching_prefix = i + 1;
  }
  if (cached != nullptr) replayer.set(index, HashAlg::sha384, *cached);
  const Bytes replayed = replayer.value(index, HashAlg::sha384);
  Json detail = {{"register", upper},
                 {"quoted", hex_encode(quoted)},
                 {"replayed", hex_encode(replayed)},
                 {"events", steps.size()},
                 {"runtime_events", runtime_count}};
  if (ct_equal(replayed, quoted)) {
    out.match = true;
    out.proven_steps = steps.size();
    out.check = named(name, Outcome::pass,
                      upper + " replays to the quoted value from " + std::to_string(steps.size()) +
                          " events (" + std::to_string(runtime_count) + " runtime)",
                      std::move(detail));
    return out;
  }
  if (matching_prefix && *matching_prefix < steps.size()) {
    const size_t first = *matching_prefix;
    out.proven_steps = first;
    detail["matching_prefix"] = first;
    detail["first_unexplained_event"] = steps[first]->where();
    for (size_t i = first; i < steps.size(); ++i)
      if (steps[i]->runtime && !steps[i]->sets_start)
        out.unexplained_runtime.push_back(steps[i]->where());
    out.check = named(
        name, Outcome::fail,
        upper + ": the first " + std::to_string(first) + " of " + std::to_string(steps.size()) +
            " events reproduce the quoted value; " + steps[first]->where() + " and the " +
            std::to_string(steps.size() - first - 1) +
            " after it are not in the quote (logged after the quote was taken, or never extended)",
        std::move(detail));
    return out;
  }
  if (steps.empty()) {
    out.check = named(name, Outcome::fail,
                      upper + " is " + hex_encode(quoted) +
                          " but the log has no event for it: an extend without a log entry",
                      std::move(detail));
    return out;
  }
  out.check = named(name, Outcome::fail,
                    upper + ": the quote holds " + hex_encode(quoted) + ", the replay of " +
                        std::to_string(steps.size()) + " events gives " + hex_encode(replayed) +
                        ", and no prefix of the events reproduces the quoted value: an event was "
                        "altered, reordered or removed, or an extend has no log entry (the quote "
                        "cannot tell which event)",
                    std::move(detail));
  return out;
}

}  // namespace

Result<TdxLogs> parse_tdx_logs(const TdxEvidence& evidence) {
  TdxLogs out;
  if (evidence.cc_eventlog && (evidence.ccel || evidence.runtime_aael))
    return make_error(Errc::parse,
                      "cc_eventlog and ccel/runtime_aael are both given: send one form");
  if (evidence.runtime_aael && !evidence.ccel)
    return make_error(Errc::parse, "runtime_aael: the TCG2 AAEL records need the CCEL they follow");
  eventlog::ParseOptions options;
  if (evidence.cc_eventlog) {
    // guest-components writes a zero-signature header when the firmware left no CCEL.
    options.allow_zero_signature = true;
    out.buffer = *evidence.cc_eventlog;
  } else if (evidence.ccel) {
    auto firmware = eventlog::parse_event_log(*evidence.ccel);
    if (!firmware) return firmware.error().wrap("ccel");
    out.firmware_end = firmware->end_offset;
    out.buffer.assign(evidence.ccel->begin(), evidence.ccel->begin() + firmware->end_offset);
    if (evidence.runtime_aael) append(out.buffer, *evidence.runtime_aael);
  } else {
    return out;
  }
  out.parsed_with = options;
  auto log = eventlog::parse_event_log(out.buffer, options);
  if (!log) return log.error().wrap(evidence.cc_eventlog ? "cc_eventlog" : "ccel+runtime_aael");
  out.log = std::move(*log);
  return out;
}

ReplayChecks check_tdx_replay(const TdxEvidence& evidence) {
  auto quote = tdx::parse_quote(evidence.quote);
  if (!quote || !quote->td_report()) {
    ReplayChecks out;
    const std::string why = "the quote does not parse as a TD quote";
    for (uint32_t index = 1; index <= 4; ++index)
      out.registers.push_back(named("replay." + register_name(index), Outcome::error, why));
    out.unexplained = named("runtime_log.unexplained", Outcome::error, why);
    return out;
  }
  return check_tdx_replay(evidence, *quote->td_report(), parse_tdx_logs(evidence));
}

ReplayChecks check_tdx_replay(const TdxEvidence& evidence, const tdx::TdReport10& report,
                              const Result<TdxLogs>& logs, const FirmwareLogFacts* firmware) {
  ReplayChecks out;
  Collected collected;
  if (!logs) {
    for (uint32_t index = 1; index <= 4; ++index)
      out.registers.push_back(named("replay." + register_name(index), Outcome::error,
                                    "the event log does not parse: " + logs.error().message));
    out.unexplained = named("runtime_log.unexplained", Outcome::error,
                            "the event log does not parse: " + logs.error().message);
    return out;
  }
  collect_tcg2(*logs, firmware, collected);
  if (evidence.runtime_text_aael) collect_text_aael(*evidence.runtime_text_aael, collected);
  if (evidence.ima_log) collect_ima(*evidence.ima_log, collected);
  collected.any_log = collected.any_log || collected.any_runtime_log;

  std::vector<std::string> unexplained = collected.unexplained;
  std::set<const Step*> proven;
  for (uint32_t index = 1; index <= 4; ++index) {
    std::vector<const Step*> steps;
    bool has_runtime = false;
    for (const Step& step : collected.steps)
      if (step.index == index) {
        steps.push_back(&step);
        has_runtime = has_runtime || step.runtime;
      }
    if (!collected.any_log) {
      out.registers.push_back(named("replay." + register_name(index), Outcome::skipped,
                                    "no event log in the evidence"));
      continue;
    }
    if (index == kRtmr3 && !collected.errors.empty() && evidence.runtime_text_aael) {
      out.registers.push_back(named("replay.rtmr3", Outcome::error,
                                    "a runtime log does not parse: " + collected.errors.front()));
      continue;
    }
    RegisterOutcome outcome = replay_register(index, steps, report.rtmr[index - 1]);
    proven.insert(steps.begin(), steps.begin() + static_cast<ptrdiff_t>(outcome.proven_steps));
    for (std::string& where : outcome.unexplained_runtime)
      unexplained.push_back(where + ": logged but not in the quoted " + std::string("RTMR") +
                            std::to_string(index - 1));
    if (!outcome.match && has_runtime && outcome.unexplained_runtime.empty() &&
        outcome.check.outcome == Outcome::fail)
      unexplained.push_back("the runtime records of RTMR" + std::to_string(index - 1) +
                            " do not replay to its quoted value");
    out.registers.push_back(std::move(outcome.check));
  }

  for (Step& step : collected.steps) {
    const bool is_proven = proven.contains(&step);
    if (step.aael) {
      out.aael_events.push_back(std::move(*step.aael));
      out.aael_events.back().proven = is_proven;
    }
    if (!step.runtime || step.event.is_null()) continue;
    Json event = std::move(step.event);
    event["proven"] = is_proven;
    out.runtime_events.push_back(std::move(event));
  }

  if (!collected.errors.empty()) {
    out.unexplained = named("runtime_log.unexplained", Outcome::error,
                            "a runtime log does not parse: " + collected.errors.front(),
                            Json{{"errors", collected.errors}});
  } else if (!unexplained.empty()) {
    out.unexplained =
        named("runtime_log.unexplained", Outcome::fail,
              std::to_string(unexplained.size()) +
                  " log record(s) nothing in the quote explains; first: " + unexplained.front(),
              Json{{"records", unexplained}});
  } else if (!collected.any_runtime_log) {
    out.unexplained =
        named("runtime_log.unexplained", Outcome::skipped, "no runtime log in the evidence");
  } else {
    out.unexplained = named("runtime_log.unexplained", Outcome::pass,
                            "every runtime log record is explained by a quoted register");
  }
  return out;
}

namespace {

std::string describe_vtpm_runtime(const Event& event) {
  return "runtime AAEL record #" + std::to_string(event.number) + " (PCR " +
         std::to_string(event.index) + ") at offset " + std::to_string(event.offset) +
         " of runtime_aael";
}

std::string describe_vtpm_event(const Event& event, size_t firmware_events) {
  if (event.number >= firmware_events) return describe_vtpm_runtime(event);
  return "event-log event #" + std::to_string(event.number) + " (" +
         eventlog::event_type_name(event.type) + ", PCR " + std::to_string(event.index) +
         ") at offset " + std::to_string(event.offset);
}

// The event a PCR's replay departs from the quoted value at, as far as the evidence can tell: a
// runtime record whose digest is not that of its data; else the first event after the prefix of
// the PCR's events that reproduces the quoted value (those after it are not in the quote); else
// the quote cannot say which event, since any changed digest changes every later value.
std::string first_divergent_event(const EventLog& log, size_t firmware_events,
                                  const tpm::PcrReplay& pcr, const std::set<size_t>& altered) {
  std::vector<const Event*> steps;
  for (const Event& event : log.events) {
    if (event.number == 0 || event.index != pcr.index || event.type == eventlog::ev::kNoAction)
      continue;
    if (!event.digest(eventlog::tpm_alg_for_hash(pcr.bank))) continue;
    if (altered.contains(event.number))
      return describe_vtpm_runtime(event) + ", whose SHA-384 digest is not that of its data";
    steps.push_back(&event);
  }
  // Prefixes are replayed from zero: PCR 0 may start from the StartupLocality value and PCRs
  // 17..22 reset to all ones, where they would mislead.
  if (pcr.index != 0 && (pcr.index < 17 || pcr.index > 22)) {
    Replayer replayer;
    for (size_t i = 0; i < steps.size(); ++i) {
      if (ct_equal(replayer.value(pcr.index, pcr.bank), pcr.quoted))
        return describe_vtpm_event(*steps[i], firmware_events) + ": the " + std::to_string(i) +
               " events before it reproduce the quoted value, it and the " +
               std::to_string(steps.size() - i - 1) + " after it are not in the quote";
      auto d = steps[i]->digest(eventlog::tpm_alg_for_hash(pcr.bank));
      if (!replayer.extend(pcr.index, pcr.bank, *d)) break;
    }
  }
  if (steps.empty())
    return "none: the log has no event for this PCR (an extend without a log entry)";
  return "not determinable: no prefix of the PCR's " + std::to_string(steps.size()) +
         " events reproduces the quoted value (an event was altered, reordered or removed, or an "
         "extend has no log entry)";
}

}  // namespace

ReplayChecks check_vtpm_replay(const VtpmEvidence& evidence) {
  ReplayChecks out;
  if (!evidence.event_log) {
    out.unexplained =
        named("runtime_log.unexplained", Outcome::skipped, "no event log in the evidence");
    return out;
  }
  auto log = eventlog::parse_event_log(*evidence.event_log);
  if (!log) {
    out.unexplained = named("runtime_log.unexplained", Outcome::error,
                            "the vTPM event log does not parse: " + log.error().message);
    return out;
  }
  // acond's runtime records follow the firmware's events: parsed behind a SHA-384 Spec ID header
  // (their own bank set), then replayed as further events of the same log. `framed` owns the
  // bytes the appended events view.
  Bytes framed;
  const size_t firmware_events = log->events.size();
  std::set<size_t> altered;  // event numbers of runtime records whose digest is not H(data)
  std::optional<std::string> first_altered;
  if (evidence.runtime_aael) {
    const HashAlg bank[] = {HashAlg::sha384};
    auto header = eventlog::spec_id_record(bank);
    if (!header) {
      out.unexplained = named("runtime_log.unexplained", Outcome::error, header.error().message);
      return out;
    }
    framed = std::move(*header);
    const size_t header_size = framed.size();
    append(framed, *evidence.runtime_aael);
    auto runtime = eventlog::parse_event_log(framed);
    if (!runtime) {
      out.unexplained =
          named("runtime_log.unexplained", Outcome::error,
                "the runtime AAEL records do not parse (offsets include a " +
                    std::to_string(header_size) + "-byte header): " + runtime.error().message);
      return out;
    }
    for (size_t i = 1; i < runtime->events.size(); ++i) {
      eventlog::Event event = runtime->events[i];
      event.number = log->events.size();
      event.offset -= header_size;  // within runtime_aael
      // A runtime record's digest is SHA-384 of its own data (H(tagged event)): a record whose
      // data or digest was altered is named here, not guessed at from the PCR value.
      if (auto recorded = event.digest(eventlog::tpm_alg::kSha384)) {
        auto computed = digest(HashAlg::sha384, event.data);
        if (computed && !ct_equal(*computed, *recorded)) {
          altered.insert(event.number);
          if (!first_altered) first_altered = describe_vtpm_runtime(event);
        }
      }
      log->events.push_back(event);
    }
  }
  tpm::PcrValues quoted;
  for (const auto& [bank, values] : evidence.pcrs) {
    auto alg = hash_from_name(bank);
    if (!alg) {
      out.unexplained = named("runtime_log.unexplained", Outcome::error,
                              "PCR bank \"" + bank + "\" is not a hash algorithm");
      return out;
    }
    quoted[*alg] = values;
  }
  auto replays = tpm::replay_event_log(*log, quoted);
  if (!replays) {
    out.unexplained = named("runtime_log.unexplained", Outcome::error,
                            "the vTPM event log cannot be replayed: " + replays.error().message);
    return out;
  }
  const bool several_banks = quoted.size() > 1;
  for (const tpm::PcrReplay& pcr : *replays) {
    std::string name = "replay.pcr" + std::to_string(pcr.index);
    if (several_banks) name += "." + std::string(hash_name(pcr.bank));
    Json detail = {{"bank", hash_name(pcr.bank)},
                   {"quoted", hex_encode(pcr.quoted)},
                   {"replayed", hex_encode(pcr.replayed)},
                   {"in_log", pcr.in_log}};
    const std::string label =
        "PCR" + std::to_string(pcr.index) + " (" + std::string(hash_name(pcr.bank)) + ")";
    if (pcr.match) {
      out.registers.push_back(
          named(name, Outcome::pass, label + " replays to the quoted value", std::move(detail)));
      continue;
    }
    std::string divergent = first_divergent_event(*log, firmware_events, pcr, altered);
    detail["first_divergent_event"] = divergent;
    out.registers.push_back(named(name, Outcome::fail,
                                  label + ": the quote holds " + hex_encode(pcr.quoted) +
                                      ", the event log replays to " + hex_encode(pcr.replayed) +
                                      "; first divergent event: " + divergent,
                                  std::move(detail)));
  }
  auto covered = tpm::check_event_log(*log, quoted);
  if (first_altered) {
    out.unexplained = named("runtime_log.unexplained", Outcome::fail,
                            *first_altered +
                                ": its SHA-384 digest is not the digest of its "
                                "event data (the record was altered)");
  } else {
    out.unexplained =
        covered ? named("runtime_log.unexplained", Outcome::pass,
                        "every event-log record is explained by a quoted PCR")
                : named("runtime_log.unexplained", Outcome::fail, covered.error().message);
  }
  // A record is proven when the quote selects its PCR in a bank it has a digest for, and every
  // such bank replayed to its quoted value.
  std::map<std::pair<uint32_t, HashAlg>, bool> matched;
  for (const tpm::PcrReplay& pcr : *replays) matched[{pcr.index, pcr.bank}] = pcr.match;
  std::vector<const eventlog::Event*> proven;
  for (const eventlog::Event& event : log->events) {
    bool any = false;
    bool all = true;
    for (const eventlog::Digest& d : event.digests) {
      auto bank = eventlog::hash_for_tpm_alg(d.alg);
      if (!bank) continue;
      auto found = matched.find({event.index, *bank});
      if (found == matched.end()) continue;
      any = true;
      all = all && found->second;
    }
    if (any && all && !altered.contains(event.number)) proven.push_back(&event);
  }
  auto events = runtime_log_events(*log, proven);
  if (!events) {
    out.unexplained = named("runtime_log.unexplained", Outcome::error,
                            "runtime AAEL records: " + events.error().message);
    return out;
  }
  out.aael_events = std::move(*events);
  return out;
}

}  // namespace acon::appraisal
