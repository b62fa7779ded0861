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

}  // namespace acon::eventlog
