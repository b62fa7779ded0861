// Renderings of a parsed log for people and programs: one stable JSON document (see
// docs/eventlog-json.md) and a compact text table. The tpm2_eventlog-shaped YAML is in yaml.h.
#pragma once

#include <string>

#include "acon/common/json.h"
#include "acon/eventlog/event_log.h"
#include "acon/eventlog/replay.h"

namespace acon::eventlog {

enum class RegisterNaming {
  cc_mr,  // index field is a CC MR index: 0 MRTD, 1..4 RTMR0..3 (CCEL)
  pcr,    // index field is a TPM PCR (vTPM TCG2 logs)
};

struct FormatOptions {
  RegisterNaming naming = RegisterNaming::cc_mr;
  bool include_event_data = true;  // hex of every event's data in JSON
};

// Name of a register for this naming: "RTMR2", or "PCR10".
std::string register_name(uint32_t index, RegisterNaming naming);

// {"version":1,"spec_id":{...},"log_end_offset":…,"fill":…,"events":[…],"replay":{bank:{index:hex}}}
Json to_json(const EventLog& log, const Replayer& replay, const FormatOptions& options = {});

// One line per event (number, offset, register, type, first digest, digest check, summary),
// then the replayed registers.
std::string to_text(const EventLog& log, const Replayer& replay, const FormatOptions& options = {});

}  // namespace acon::eventlog
