#include "acon/eventlog/replay.h"

namespace acon::eventlog {

void Replayer::set(uint32_t index, HashAlg alg, Bytes value) {
  registers_[{index, alg}] = std::move(value);
}

Bytes Replayer::value(uint32_t index, HashAlg alg) const {
  auto it = registers_.find({index, alg});
  return it != registers_.end() ? it->second : Bytes(hash_size(alg), 0);
}

Status Replayer::extend(uint32_t index, HashAlg alg, ByteView digest) {
  size_t size = hash_size(alg);
  if (digest.size() > size)
    return make_error(Errc::invalid_argument, "replay: " + std::to_string(digest.size()) +
                                                  "-byte digest for a " +
                                                  std::string(hash_name(alg)) + " register");
  auto h = hashers_.find(alg);
  if (h == hashers_.end()) {
    ACON_TRY(Hasher created, Hasher::create(alg));
    h = hashers_.emplace(alg, std::move(created)).first;
  }
  Bytes& reg = registers_.try_emplace({index, alg}, size, uint8_t{0}).first->second;
  static constexpr uint8_t kZeros[64] = {};
  h->second.update(reg);
  h->second.update(digest);
  h->second.update(ByteView(kZeros, size - digest.size()));
  h->second.finish_into(reg);
  return {};
}

Status replay(const EventLog& log, Replayer& replayer) {
  for (const auto& e : log.events) {
    if (e.type == ev::kNoAction) continue;
    for (const auto& d : e.digests) {
      auto alg = hash_for_tpm_alg(d.alg);
      if (!alg || !hash_available(*alg)) continue;
      ACON_CHECK(replayer.extend(e.index, *alg, d.value));
    }
  }
  return {};
}

std::vector<RegisterComparison> compare(const Replayer& replayer, HashAlg alg,
                                        const std::map<uint32_t, Bytes>& expected) {
  std::vector<RegisterComparison> out;
  for (const auto& [index, value] : expected) {
    Bytes replayed = replayer.value(index, alg);
    bool match = replayed == value;
    out.push_back({index, value, std::move(replayed), match});
  }
  return out;
}

namespace {

std::string describe(const Event& e) {
  return "event #" + std::to_string(e.number) + " (" + event_type_name(e.type) + ") at offset " +
         std::to_string(e.offset) + ", index " + std::to_string(e.index);
}

}  // namespace

Status check_ccel_indexes(const EventLog& log) {
  for (const Event& e : log.events) {
    if (e.type == ev::kNoAction || (e.index >= 1 && e.index <= 4)) continue;
    return make_error(
        Errc::parse,
        describe(e) + ": a CCEL event extends RTMR0..3 (CC MR index 1..4) only" +
            (e.index == 0 ? "; MRTD is measured by the TDX module, never logged" : ""));
  }
  return {};
}

std::vector<const Event*> uncovered_events(const EventLog& log, const std::set<uint32_t>& covered) {
  std::vector<const Event*> out;
  for (const Event& e : log.events) {
    if (e.type != ev::kNoAction && !covered.contains(e.index)) out.push_back(&e);
  }
  return out;
}

Status check_events_covered(const EventLog& log, const std::set<uint32_t>& covered) {
  const std::vector<const Event*> outside = uncovered_events(log, covered);
  if (outside.empty()) return {};
  std::string message = std::to_string(outside.size()) +
                        " event(s) in registers the comparison does not cover, so nothing "
                        "proves them: ";
  constexpr size_t kNamed = 16;  // enough to find them; a hostile log may hold millions
  for (size_t i = 0; i < outside.size() && i < kNamed; ++i) {
    if (i > 0) message += "; ";
    message += describe(*outside[i]);
  }
  if (outside.size() > kNamed)
    message += "; and " + std::to_string(outside.size() - kNamed) + " more";
  return make_error(Errc::verify_failed, message);
}

std::vector<const Event*> proven_events(const EventLog& log,
                                        const std::vector<RegisterComparison>& comparisons) {
  std::set<uint32_t> compared;
  std::set<uint32_t> matched;
  for (const RegisterComparison& c : comparisons) {
    compared.insert(c.index);
    if (c.match) matched.insert(c.index);
  }
  std::vector<const Event*> out;
  if (!uncovered_events(log, compared).empty()) return out;
  for (const Event& e : log.events) {
    if (e.type != ev::kNoAction && matched.contains(e.index)) out.push_back(&e);
  }
  return out;
}

}  // namespace acon::eventlog
