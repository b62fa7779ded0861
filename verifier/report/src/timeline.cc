// The event timeline of the result model (report.h event_timeline()): every event of every TDX
// register, decoded, read from the evidence's own logs so that it exists whatever the quote's
// verdict (Trustee's claims, and with them uefi_event_logs, exist only for a verified quote).
//
// Which event a replay proves is the replay check's word: its detail says how many of the
// register's extends reproduce the quoted value ("matching_prefix") or that all do (pass). To
// read that count, the rows below number the extends exactly as the appraisal's replay orders
// them (docs/evidence.md "replay.<register>"): the TCG2 log's records in log order (firmware
// CCEL, then the runtime AAEL records), then the text AAEL (its INIT line sets the start value
// and is then extended), then the IMA log. When the count disagrees with the check's, the
// statuses are left unknown rather than guessed. vTPM evidence is listed per PCR (vtpm_timeline).
#include <map>
#include <optional>

#include "acon/appraisal/tdx_logs.h"
#include "acon/common/hash.h"
#include "acon/common/utf8.h"
#include "acon/eventlog/decode.h"
#include "acon/eventlog/event_log.h"
#include "acon/eventlog/runtime.h"
#include "acon/report/report.h"

namespace acon::report {
namespace {

constexpr uint32_t kFirstRtmr = 1;  // CC MR index of RTMR0; RTMR3 is 4
constexpr uint32_t kRegisters = 4;
constexpr uint32_t kRtmr2 = 3;
constexpr uint32_t kRtmr3 = 4;
constexpr size_t kMaxMeaning = 300;  // characters of a row's meaning, so one row stays one line

// `text` cut to at most `limit` bytes at a code-point boundary, with "…" when cut.
std::string bounded(std::string text, size_t limit = kMaxMeaning) {
  if (text.size() <= limit) return text;
  size_t end = 0;
  while (end < limit) {
    const size_t n = utf8_sequence(text, end);
    if (n == 0 || end + n > limit) break;
    end += n;
  }
  text.resize(end);
  return text + "…";
}

std::string aael_text(const std::string& domain, const std::string& operation,
                      const std::string& content) {
  return domain + " " + operation + (content.empty() ? "" : " " + content);
}

const Json* member(const Json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

std::string as_text(const Json* value) {
  if (value == nullptr || value->is_null()) return {};
  if (value->is_string()) return value->get<std::string>();
  return value->dump(-1, ' ', false, Json::error_handler_t::replace);
}

// One line of what eventlog::decode_event() found in a record (decode.h names the keys).
std::string decoded_meaning(const Json& details) {
  if (const Json* error = member(details, "error"))
    return "event data does not decode: " + as_text(error);
  if (const Json* operation = member(details, "operation"))
    return aael_text(as_text(member(details, "domain")), as_text(operation),
                     as_text(member(details, "content")));
  if (const Json* name = member(details, "unicode_name")) {
    std::string out = as_text(name);
    if (const Json* secure = member(details, "secure_boot"))
      out += *secure == true ? " = enabled" : " = disabled";
    if (const Json* order = member(details, "boot_order")) out += " = " + as_text(order);
    if (const Json* option = member(details, "load_option")) {
      const std::string description = as_text(member(*option, "description"));
      if (!description.empty()) out += " \"" + description + "\"";
      const std::string path = as_text(member(*option, "device_path"));
      if (!path.empty()) out += " " + path;
    }
    if (const Json* lists = member(details, "signature_lists"); lists && lists->is_array())
      out += " (" + std::to_string(lists->size()) + " signature lists)";
    if (const Json* guid = member(details, "variable_name")) out += " {" + as_text(guid) + "}";
    return out;
  }
  if (const Json* path = member(details, "device_path")) return as_text(path);
  if (const Json* partitions = member(details, "partitions"); partitions && partitions->is_array())
    return "GPT disk " + as_text(member(details, "disk_guid")) + ", " +
           std::to_string(partitions->size()) + " partitions";
  if (const Json* tables = member(details, "tables"); tables && tables->is_array())
    return std::to_string(tables->size()) + " configuration tables";
  for (const char* key : {"string", "description", "info_string", "tag_name", "kind"})
    if (const Json* value = member(details, key)) return as_text(value);
  if (const Json* value = member(details, "value")) return "value " + as_text(value);  // separators
  if (const Json* hex = member(details, "hex"))
    return "raw data " + bounded(as_text(hex), 64) + " (" +
           std::to_string(as_text(hex).size() / 2) + " bytes)";
  return {};
}

// One register's timeline, built as its rows arrive: each row's status is decided when it is
// added (the replay check is known beforehand), and only the first kMaxTimelineRows rows and the
// divergent one are kept, so a huge log costs its parse, not a row object per record.
class Register {
 public:
  // An RTMR (CC MR index 1..4) and its "replay.rtmr<N>" check.
  Register(uint32_t index, const appraisal::CheckResults& checks)
      : Register("rtmr" + std::to_string(index - kFirstRtmr),
                 appraisal::find_check(checks, "replay.rtmr" + std::to_string(index - kFirstRtmr)),
                 /*counts_extends=*/true) {
    if (check_ == nullptr) return;
    if (check_->outcome == appraisal::Outcome::pass) {
      mode_ = Mode::all;
    } else if (check_->outcome == appraisal::Outcome::fail) {
      const Json* prefix = member(check_->detail, "matching_prefix");
      if (prefix != nullptr && prefix->is_number_unsigned()) {
        mode_ = Mode::prefix;
        prefix_ = prefix->get<size_t>();
      } else {
        // No prefix reproduces the quoted value, so the quote cannot say which event broke
        // the replay; a record whose data no longer hashes to its digest is where the log was
        // altered.
        mode_ = Mode::altered;
      }
    }
  }

  // A vTPM PCR, replayed per bank ("replay.pcr<N>", or "replay.pcr<N>.<bank>" with several
  // banks). The TPM replay names no prefix: every row is proven when every bank replays, and
  // in a PCR that does not, a record whose data no longer hashes to its digest is where the log
  // was altered. The check is the first bank that did not replay, else the first bank.
  static Register pcr(uint32_t index, const appraisal::CheckResults& checks) {
    const std::string name = "pcr" + std::to_string(index);
    std::vector<const appraisal::CheckResult*> banks;
    for (const appraisal::CheckResult& check : checks)
      if (check.name == "replay." + name || check.name.starts_with("replay." + name + "."))
        banks.push_back(&check);
    const appraisal::CheckResult* shown = banks.empty() ? nullptr : banks.front();
    for (const appraisal::CheckResult* bank : banks)
      if (!bank->passed()) {
        shown = bank;
        break;
      }
    Register out(name, shown, /*counts_extends=*/false);
    if (shown != nullptr && shown->outcome == appraisal::Outcome::pass) out.mode_ = Mode::all;
    if (shown != nullptr && shown->outcome == appraisal::Outcome::fail) out.mode_ = Mode::altered;
    return out;
  }

  // A row standing for `extends` consecutive extends of the replay (0: it extends nothing).
  void add(Json row, size_t extends) {
    row["number"] = ++events_;
    std::string status = "not_covered";
    const size_t first = steps_, last = steps_ + extends;  // [first, last)
    steps_ += extends;
    if (extends > 0) {
      if (mode_ == Mode::all || (mode_ == Mode::prefix && last <= prefix_)) {
        status = "proven";
        ++proven_;
      } else if (mode_ == Mode::prefix && first <= prefix_ && prefix_ < last) {
        status = "diverges";
      } else if (mode_ == Mode::altered && divergent_.is_null() && row.contains("digest_check") &&
                 row["digest_check"] == "mismatch") {
        status = "diverges";
        row["note"] = "its event data does not hash to its digest: the log was altered here";
      }
    }
    row["status"] = status;
    if (status == "diverges") divergent_ = row;
    if (rows_.size() < kMaxTimelineRows) rows_.push_back(std::move(row));
  }

  // The register's JSON. When the replay check counts another number of extends than the rows
  // do, the statuses cannot be matched to the rows: they become "unknown", and a note says so.
  Json finish(std::vector<std::string>& notes) {
    if (counts_extends_ && mode_ != Mode::none) {
      const Json* counted = member(check_->detail, "events");
      if (counted == nullptr || !counted->is_number_unsigned() ||
          counted->get<size_t>() != steps_) {
        notes.push_back(name_ + ": the replay check counts " + as_text(counted) +
                        " extends, the timeline " + std::to_string(steps_) +
                        "; statuses are left unknown");
        for (Json& row : rows_) row["status"] = "unknown";
        proven_ = 0;
        divergent_ = nullptr;
      }
    }
    const size_t shown = rows_.size();
    return {{"register", name_},
            {"check", check_ != nullptr ? check_->name : "replay." + name_},
            {"outcome", check_ != nullptr ? appraisal::outcome_name(check_->outcome) : "skipped"},
            {"reason", check_ != nullptr ? check_->reason : "no replay check"},
            {"events", events_},
            {"proven", proven_},
            {"more", events_ - shown},
            {"divergent", std::move(divergent_)},
            {"rows", std::move(rows_)}};
  }

 private:
  Register(std::string name, const appraisal::CheckResult* check, bool counts_extends)
      : name_(std::move(name)), check_(check), counts_extends_(counts_extends) {}

  // What the check proves: every extend (pass), the first prefix_ (a proper prefix reproduces
  // the quoted value), none (fail without such a prefix; error; skipped).
  enum class Mode { none, all, prefix, altered };
  std::string name_;
  const appraisal::CheckResult* check_;
  bool counts_extends_;  // the check's detail counts the extends ("events"): RTMRs
  Mode mode_ = Mode::none;
  size_t prefix_ = 0;
  size_t steps_ = 0, events_ = 0, proven_ = 0;
  Json rows_ = Json::array();
  Json divergent_ = nullptr;
};

Json row_json(std::string source, std::string where, std::string type, std::string digest,
              std::string meaning) {
  return {{"source", std::move(source)},
          {"where", std::move(where)},
          {"type", std::move(type)},
          {"digest", std::move(digest)},
          {"meaning", bounded(std::move(meaning))}};
}

// The row of one TCG2 record; `runtime` names the runtime AAEL records, `log` the firmware's.
Json tcg2_row(const eventlog::Event& event, bool runtime, std::string_view log) {
  const eventlog::DecodedEvent decoded = eventlog::decode_event(event);
  std::string digest;
  if (auto sha384 = event.digest(eventlog::tpm_alg::kSha384))
    digest = hex_encode(*sha384);
  else if (!event.digests.empty())
    digest = hex_encode(event.digests.front().value);
  Json json = row_json(
      runtime ? "aael" : "firmware",
      std::string(runtime ? "runtime" : log) + " record #" + std::to_string(event.number) +
          " at offset " + std::to_string(event.offset),
      eventlog::event_type_name(event.type), std::move(digest), decoded_meaning(decoded.details));
  json["digest_check"] = decoded.digest_check == eventlog::DigestCheck::match      ? "match"
                         : decoded.digest_check == eventlog::DigestCheck::mismatch ? "mismatch"
                                                                                   : "n/a";
  return json;
}

void add_tcg2(const appraisal::TdxLogs& tcg2, std::vector<Register>& registers) {
  for (const eventlog::Event& event : tcg2.log->events) {
    // The Spec ID header and EV_NO_ACTION records extend nothing; MRTD (index 0) is no RTMR.
    if (event.number == 0 || event.type == eventlog::ev::kNoAction) continue;
    if (event.index < kFirstRtmr || event.index >= kFirstRtmr + kRegisters) continue;
    const bool aael = event.type == eventlog::ev::kEventTag &&
                      static_cast<bool>(eventlog::parse_aael_tagged_event(event.data));
    const bool runtime = event.offset >= tcg2.firmware_end || aael;
    Json json = tcg2_row(event, runtime, "CCEL");
    const bool sha384 = event.digest(eventlog::tpm_alg::kSha384).has_value();
    if (!sha384) json["note"] = "no SHA-384 digest, so the replay cannot extend it";
    registers[event.index - kFirstRtmr].add(std::move(json), sha384 ? 1 : 0);
  }
}

Status add_text_aael(const std::string& text, Register& rtmr3) {
  ACON_TRY(eventlog::TextAael log, eventlog::parse_text_aael(text));
  // The INIT line states the start value (one step) and is then extended (another).
  auto init_digest = digest(log.alg, log.init_line);
  rtmr3.add(row_json("text_aael", "line 1", "AAEL INIT",
                     init_digest ? hex_encode(*init_digest) : "", log.init_line),
            2);
  for (const eventlog::TextAaelLine& line : log.lines) {
    auto line_digest = digest(log.alg, line.text);
    rtmr3.add(row_json("text_aael", "line " + std::to_string(line.line_number), "AAEL",
                       line_digest ? hex_encode(*line_digest) : "",
                       aael_text(line.event.domain, line.event.operation, line.event.content)),
              1);
  }
  return {};
}

Status add_ima(const std::string& text, Register& rtmr2) {
  ACON_TRY(std::vector<eventlog::ImaEntry> entries, eventlog::parse_ima_log(text));
  for (const eventlog::ImaEntry& entry : entries) {
    Json json =
        row_json("ima", "line " + std::to_string(entry.line_number), "IMA " + entry.template_name,
                 hex_encode(entry.template_hash),
                 entry.path + " (" + entry.file_hash_alg + ":" + hex_encode(entry.file_hash) + ")");
    // As the replay: Linux on TDX maps PCR 10 to RTMR2, cc-trusted-api kernels write 2.
    const bool replayed = (entry.pcr == 10 || entry.pcr == 2) && entry.template_hash.size() == 48;
    if (!replayed)
      json["note"] = "PCR " + std::to_string(entry.pcr) + " with a " +
                     std::to_string(entry.template_hash.size()) +
                     "-byte template hash is not an RTMR2 extend";
    rtmr2.add(std::move(json), replayed ? 1 : 0);
  }
  return {};
}

// vTPM: the TCG2 log's records per PCR, then acond's runtime AAEL records (framed behind a
// SHA-384 Spec ID header, as the appraisal replays them), PCRs in ascending order.
void vtpm_timeline(const appraisal::VtpmEvidence& vtpm, const appraisal::CheckResults& checks,
                   Json& registers, std::vector<std::string>& notes) {
  if (!vtpm.event_log) return;
  auto log = eventlog::parse_event_log(*vtpm.event_log);
  if (!log) {
    notes.push_back("the vTPM event log does not parse: " + log.error().message);
    return;
  }
  Bytes framed;  // owns the bytes the runtime records view
  std::optional<eventlog::EventLog> runtime;
  size_t header_size = 0;
  if (vtpm.runtime_aael) {
    const HashAlg bank[] = {HashAlg::sha384};
    auto header = eventlog::spec_id_record(bank);
    if (header) {
      framed = std::move(*header);
      header_size = framed.size();
      append(framed, *vtpm.runtime_aael);
      auto parsed = eventlog::parse_event_log(framed);
      if (parsed)
        runtime = std::move(*parsed);
      else
        notes.push_back("the runtime AAEL records do not parse (offsets include a " +
                        std::to_string(header_size) + "-byte header): " + parsed.error().message);
    }
  }
  std::map<uint32_t, Register> pcrs;
  auto add = [&](const eventlog::Event& event, bool is_runtime) {
    if (event.number == 0 || event.type == eventlog::ev::kNoAction) return;
    auto found = pcrs.find(event.index);
    if (found == pcrs.end())
      found = pcrs.emplace(event.index, Register::pcr(event.index, checks)).first;
    Json json = tcg2_row(event, is_runtime, "log");
    if (is_runtime) {
      json["where"] = "runtime record #" + std::to_string(event.number) + " at offset " +
                      std::to_string(event.offset - header_size) + " of runtime_aael";
    }
    found->second.add(std::move(json), event.digests.empty() ? 0 : 1);
  };
  for (const eventlog::Event& event : log->events) add(event, false);
  if (runtime)
    for (const eventlog::Event& event : runtime->events) add(event, true);
  for (auto& [index, reg] : pcrs) registers.push_back(reg.finish(notes));
}

}  // namespace

Json event_timeline(const appraisal::Evidence& evidence, const appraisal::CheckResults& checks) {
  Json registers = Json::array();
  std::vector<std::string> notes;
  if (evidence.platform == appraisal::Platform::vtpm) {
    vtpm_timeline(evidence.vtpm, checks, registers, notes);
    return {{"registers", std::move(registers)}, {"notes", std::move(notes)}};
  }
  if (evidence.platform != appraisal::Platform::tdx) {
    notes.push_back("an SGX quote has no event log: there is no timeline");
    return {{"registers", std::move(registers)}, {"notes", std::move(notes)}};
  }
  const appraisal::TdxEvidence& tdx = evidence.tdx;
  std::vector<Register> regs;
  for (uint32_t i = 0; i < kRegisters; ++i) regs.emplace_back(kFirstRtmr + i, checks);
  auto tcg2 = appraisal::parse_tdx_logs(tdx);
  if (!tcg2)
    notes.push_back("the event log does not parse: " + tcg2.error().message);
  else if (tcg2->log)
    add_tcg2(*tcg2, regs);
  if (tdx.runtime_text_aael)
    if (Status added = add_text_aael(*tdx.runtime_text_aael, regs[kRtmr3 - kFirstRtmr]); !added)
      notes.push_back("runtime text AAEL: " + added.error().message);
  if (tdx.ima_log)
    if (Status added = add_ima(*tdx.ima_log, regs[kRtmr2 - kFirstRtmr]); !added)
      notes.push_back("IMA log: " + added.error().message);
  for (Register& reg : regs) registers.push_back(reg.finish(notes));
  return {{"registers", std::move(registers)}, {"notes", std::move(notes)}};
}

}  // namespace acon::report
