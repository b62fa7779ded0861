// TCG2 event log replay against quoted PCRs.
#include <cstring>
#include <set>
#include <string>

#include "acon/eventlog/replay.h"
#include "acon/tpm/quote.h"

namespace acon::tpm {
namespace {

// PC Client PFP §10.4.5.3: an EV_NO_ACTION event on PCR0 whose data is "StartupLocality\0" and
// one locality byte says TPM2_Startup ran at that locality, which leaves PCR0 = 0…0 ‖ locality.
constexpr char kStartupLocality[] = "StartupLocality";  // with its NUL: 16 bytes

void apply_startup_locality(const eventlog::EventLog& log, eventlog::Replayer& replayer) {
  for (const eventlog::Event& e : log.events) {
    if (e.type != eventlog::ev::kNoAction || e.index != 0 || e.number == 0) continue;
    if (e.data.size() != sizeof kStartupLocality + 1 ||
        std::memcmp(e.data.data(), kStartupLocality, sizeof kStartupLocality) != 0)
      continue;
    const uint8_t locality = e.data[sizeof kStartupLocality];
    for (const eventlog::SpecIdAlgorithm& a : log.spec_id.algorithms) {
      auto alg = eventlog::hash_for_tpm_alg(a.id);
      if (!alg || !hash_available(*alg)) continue;
      Bytes start(hash_size(*alg), 0);
      start.back() = locality;
      replayer.set(0, *alg, std::move(start));
    }
    return;
  }
}

}  // namespace

Bytes pcr_reset_value(uint32_t index, HashAlg alg) {
  const bool drtm = index >= 17 && index <= 22;
  return Bytes(hash_size(alg), drtm ? 0xFF : 0x00);
}

Result<std::vector<PcrReplay>> replay_event_log(const eventlog::EventLog& log,
                                                const PcrValues& quoted) {
  eventlog::Replayer replayer;
  apply_startup_locality(log, replayer);
  ACON_CHECK(eventlog::replay(log, replayer));
  std::vector<PcrReplay> out;
  for (const auto& [bank, values] : quoted) {
    for (const auto& [index, value] : values) {
      const bool in_log = replayer.registers().contains({index, bank});
      Bytes replayed = in_log ? replayer.value(index, bank) : pcr_reset_value(index, bank);
      const bool match = replayed == value;
      out.push_back({bank, index, value, std::move(replayed), in_log, match});
    }
  }
  return out;
}

Status check_event_log(const eventlog::EventLog& log, const PcrValues& quoted) {
  // An event in a PCR the quote does not select is proven by nothing (docs/eventlog-formats.md
  // "Replay rules").
  std::set<uint32_t> selected;
  for (const auto& [bank, values] : quoted)
    for (const auto& [index, value] : values) selected.insert(index);
  ACON_CHECK(eventlog::check_events_covered(log, selected));
  ACON_TRY(std::vector<PcrReplay> replays, replay_event_log(log, quoted));
  for (const PcrReplay& r : replays) {
    if (r.match) continue;
    std::string where = std::string(hash_name(r.bank)) + ":" + std::to_string(r.index);
    return make_error(Errc::verify_failed,
                      "PCR " + where + ": quoted " + hex_encode(r.quoted) + ", the event log " +
                          (r.in_log ? "replays to " : "never extends it, so it should hold ") +
                          hex_encode(r.replayed));
  }
  return {};
}

}  // namespace acon::tpm
