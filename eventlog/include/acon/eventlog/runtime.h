// Runtime logs that extend RTMRs after boot: text AAEL (ACON, CoCo 2024-25), TCG2 AAEL
// (CoCo EV_EVENT_TAG records), and the IMA ASCII log. Readers and byte-exact writers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "acon/eventlog/event_log.h"
#include "acon/eventlog/replay.h"

namespace acon::eventlog {

// ---- AAEL events: "<domain> <operation> <content>" ----
struct AaelEvent {
  std::string domain;
  std::string operation;
  std::string content;  // may contain spaces; never a newline
};

// Splits on the first two spaces. ACON's two-field "github.com/intel/ACON Finalize" is accepted
// with empty content when `allow_two_fields` is set.
Result<AaelEvent> parse_aael_line(std::string_view line, bool allow_two_fields = false);
// Validates and joins: domain and operation non-empty without whitespace, no newline anywhere.
// Empty content gives ACON's two-field line.
Result<std::string> format_aael_line(const AaelEvent& event);

// ---- text AAEL ----
struct TextAaelLine {
  size_t line_number;  // 1-based
  std::string text;    // the line without its newline
  AaelEvent event;
  bool two_fields;  // ACON's "... Finalize"
};

struct TextAael {
  HashAlg alg;
  Bytes init_value;
  std::string init_line;  // "INIT sha384/<hex>"
  std::vector<TextAaelLine> lines;
};

// "INIT <alg>/<hex>" first, then one event per line; the last line may lack its newline.
Result<TextAael> parse_text_aael(std::string_view text);
// state = init; state = H(state || H(init_line)); state = H(state || H(line)) for each line.
Bytes replay_text_aael(const TextAael& log);
// Applies the same replay to register `index` of a Replayer (RTMR3 = CC MR index 4).
Status replay_text_aael(const TextAael& log, uint32_t index, Replayer& replayer);

// Writers, byte-identical to ACON's rtmr3.log and CoCo's legacy log (each line ends in '\n').
std::string text_aael_init_line(HashAlg alg, ByteView value);
Result<std::string> text_aael_event_line(const AaelEvent& event);

// ---- TCG2 AAEL (EV_EVENT_TAG, tag "AAEL") ----
inline constexpr uint32_t kAaelEventTag = 0x4141454C;

// TCG_PCClientTaggedEvent {u32 0x4141454C, u32 size, "<domain> <operation> <content>"}.
Result<Bytes> aael_tagged_event(const AaelEvent& event);
// A whole TCG_PCR_EVENT2 record: index, EV_EVENT_TAG, one digest H(tagged event), the event.
Result<Bytes> aael_record(uint32_t mr_index, HashAlg alg, const AaelEvent& event);
// The AAEL event inside an EV_EVENT_TAG record's data, if it is one.
Result<AaelEvent> parse_aael_tagged_event(ByteView event_data);

// ---- IMA ASCII log (ima-ng template) ----
struct ImaEntry {
  size_t line_number;
  uint32_t pcr;         // first field as written (cc-trusted-api kernels write the RTMR number)
  Bytes template_hash;  // what the kernel extended
  std::string template_name;
  std::string file_hash_alg;
  Bytes file_hash;
  std::string path;
};
Result<std::vector<ImaEntry>> parse_ima_log(std::string_view text);
// Extends register `index` of a Replayer with each entry's template hash, in the bank of its
// length (SHA-384 on TDX kernels; 20 SHA-1, 32 SHA-256, 64 SHA-512), after whatever the
// Replayer holds (the CCEL). Errc::parse "line N: ..." for a length that fits no bank.
Status replay_ima_log(const std::vector<ImaEntry>& log, uint32_t index, Replayer& replayer);

// Appends one record to a log file and flushes it to storage (O_APPEND, fsync).
Status append_to_file(const std::string& path, ByteView record);

}  // namespace acon::eventlog
