// The firmware-log cache and the facts it holds (firmware_log_cache.h, firmware_log.h).
#include "firmware_log.h"

#include <algorithm>
#include <cstring>

#include "acon/eventlog/replay.h"
#include "acon/eventlog/trustee.h"

namespace acon::appraisal {
namespace {

using eventlog::Event;

// A 64-bit hash of the key to pick the candidate entry: four independent multiply-xor lanes so
// that hashing a firmware log of tens of KB costs a few microseconds. Its quality only spreads
// the entries; a hit is decided by comparing the whole key, so a collision (even a crafted one)
// is a miss, never a wrong fact.
uint64_t hash_key(uint8_t form, ByteView bytes) {
  constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
  uint64_t lanes[4] = {form + 1ull, 0x243F6A8885A308D3ull, 0x13198A2E03707344ull,
                       0xA4093822299F31D0ull};
  size_t i = 0;
  for (; i + 32 <= bytes.size(); i += 32) {
    for (int lane = 0; lane < 4; ++lane) {
      uint64_t word;
      std::memcpy(&word, bytes.data() + i + 8 * lane, 8);
      lanes[lane] = (lanes[lane] ^ word) * kMul;
      lanes[lane] ^= lanes[lane] >> 29;
    }
  }
  uint64_t h = bytes.size() * kMul;
  for (; i < bytes.size(); ++i) h = (h ^ bytes[i]) * kMul;
  for (uint64_t lane : lanes) h = (h ^ lane) * kMul ^ (h >> 31);
  return h;
}

// Where the firmware part ends: the first event at or after the CCEL's end (ccel and
// runtime_aael given apart) or the first EV_EVENT_TAG record (the runtime AAEL records that
// follow the firmware's in cc_eventlog). Returns the number of events before it.
size_t firmware_event_count(const TdxLogs& logs) {
  const std::vector<Event>& events = logs.log->events;
  size_t count = events.empty() ? 0 : 1;  // the Spec ID header
  while (count < events.size() && events[count].offset < logs.firmware_end &&
         events[count].type != eventlog::ev::kEventTag)
    ++count;
  return count;
}

// The facts of events [0, count) of the log, derived as the replay and Trustee's entries derive
// them: the same selection of events as collect_tcg2() in checks_replay.cc (every record but the
// header and EV_NO_ACTION, in RTMR0..3, with a SHA-384 digest) and the same Replayer.
std::shared_ptr<FirmwareLogFacts> derive(const TdxLogs& logs, size_t count, uint8_t form,
                                         ByteView bytes) {
  auto facts = std::make_shared<FirmwareLogFacts>();
  facts->form = form;
  facts->bytes.assign(bytes.begin(), bytes.end());
  facts->events = count;
  if (auto entries =
          eventlog::append_trustee_event_entries(*logs.log, 1, count, facts->trustee_entries);
      !entries) {
    facts->trustee_error = entries.error();
    facts->trustee_entries.clear();
  } else if (!facts->trustee_entries.empty()) {
    auto text = std::make_shared<PrewrittenEntries>();
    text->count = facts->trustee_entries.size();
    for (size_t i = 0; i < text->count; ++i) {
      if (i > 0) text->text.push_back(',');
      text->exact &= append_compact_json(text->text, facts->trustee_entries[i]);
    }
    facts->trustee_entries_text = std::move(text);
  }
  facts->register_after.resize(count);
  eventlog::Replayer replayer;
  bool failed[5] = {};  // by CC MR index: an extend failed, the replay stops there
  for (size_t i = 1; i < count; ++i) {
    const Event& event = logs.log->events[i];
    if (event.type == eventlog::ev::kNoAction || event.index < 1 || event.index > 4 ||
        failed[event.index])
      continue;
    auto digest = event.digest(eventlog::tpm_alg::kSha384);
    if (!digest) continue;
    if (!replayer.extend(event.index, HashAlg::sha384, *digest)) {
      failed[event.index] = true;
      continue;
    }
    facts->register_after[i] = replayer.value(event.index, HashAlg::sha384);
  }
  // The bytes, their base64 in the entries and the entries' other text (hex digests, details)
  // are about three times the log; each entry's JSON nodes (a map node, a key and a value per
  // member, the digests array, the details object) are about 1.5 KB, charged as 2 KB; and the
  // entries' JSON text.
  facts->charge = 3 * facts->bytes.size() + 2048 * count +
                  (facts->trustee_entries_text ? facts->trustee_entries_text->text.size() : 0);
  return facts;
}

}  // namespace

FirmwareLogCache::Stats FirmwareLogCache::stats() const {
  std::lock_guard lock(mutex_);
  return {hits_, misses_, slots_.size(), bytes_};
}

std::shared_ptr<const FirmwareLogFacts> FirmwareLogCache::find(uint8_t form,
                                                               ByteView firmware_bytes) const {
  const uint64_t hash = hash_key(form, firmware_bytes);
  std::lock_guard lock(mutex_);
  for (Slot& slot : slots_) {
    const FirmwareLogFacts& facts = *slot.facts;
    if (slot.hash == hash && facts.form == form &&
        std::ranges::equal(facts.bytes, firmware_bytes)) {
      slot.last_used = ++clock_;
      ++hits_;
      return slot.facts;
    }
  }
  ++misses_;
  return nullptr;
}

void FirmwareLogCache::insert(std::shared_ptr<const FirmwareLogFacts> facts) {
  if (!facts || facts->charge > limits_.max_bytes || limits_.max_entries == 0) return;
  const uint64_t hash = hash_key(facts->form, facts->bytes);
  std::lock_guard lock(mutex_);
  for (const Slot& slot : slots_)
    if (slot.hash == hash && slot.facts->form == facts->form && slot.facts->bytes == facts->bytes)
      return;  // another appraisal added the same log meanwhile
  while (!slots_.empty() &&
         (slots_.size() >= limits_.max_entries || bytes_ + facts->charge > limits_.max_bytes)) {
    auto oldest = std::ranges::min_element(slots_, {}, &Slot::last_used);
    bytes_ -= oldest->charge;
    slots_.erase(oldest);
  }
  bytes_ += facts->charge;
  slots_.push_back(Slot{hash, facts->charge, ++clock_, std::move(facts)});
}

Json::array_t FirmwareLogFacts::take_entries() const {
  {
    std::lock_guard lock(spare_entries->mutex);
    if (!spare_entries->spares.empty()) {
      Json::array_t entries = std::move(spare_entries->spares.back());
      spare_entries->spares.pop_back();
      return entries;
    }
  }
  return trustee_entries;
}

namespace {

// Spares kept per firmware log: about one per appraisal in flight, more only hold memory.
constexpr size_t kMaxSpareEntries = 16;

// The deleter of a claims document made by claims_with_entries_from.
struct ReturnEntries {
  std::shared_ptr<const FirmwareLogFacts> firmware;

  void operator()(const Json* document) const noexcept {
    std::unique_ptr<Json> owned(const_cast<Json*>(document));  // made mutable by new Json below
    try {
      give_back(*owned);
    } catch (...) {  // bad_alloc or a lock failure: the entries are freed with the document
    }
  }

  void give_back(Json& document) const {
    const Json::array_t& cached = firmware->trustee_entries;
    auto tdx = document.find("tdx");
    if (tdx == document.end() || !tdx->is_object()) return;
    auto logs = tdx->find("uefi_event_logs");
    if (logs == tdx->end() || !logs->is_array()) return;
    Json::array_t& entries = logs->get_ref<Json::array_t&>();
    // Nothing modifies a shared document, but a spare must be exactly the cached entries, so it
    // is compared (a walk without allocations, a fraction of a copy) before it is reused.
    if (entries.size() < cached.size() ||
        !std::equal(cached.begin(), cached.end(), entries.begin()))
      return;
    entries.resize(cached.size());  // the runtime records' entries are freed
    std::lock_guard lock(firmware->spare_entries->mutex);
    if (firmware->spare_entries->spares.size() < kMaxSpareEntries)
      firmware->spare_entries->spares.push_back(std::move(entries));
  }
};

}  // namespace

std::shared_ptr<const Json> claims_with_entries_from(
    Json claims, std::shared_ptr<const FirmwareLogFacts> firmware) {
  if (!firmware || firmware->trustee_entries.empty())
    return std::make_shared<const Json>(std::move(claims));
  return std::shared_ptr<const Json>(new Json(std::move(claims)),
                                     ReturnEntries{std::move(firmware)});
}

std::shared_ptr<const FirmwareLogFacts> firmware_log_facts(const TdxLogs& logs,
                                                           FirmwareLogCache& cache) {
  const size_t count = firmware_event_count(logs);
  const size_t end =
      count < logs.log->events.size() ? logs.log->events[count].offset : logs.log->end_offset;
  const uint8_t form = logs.parsed_with.allow_zero_signature ? 1 : 0;
  const ByteView bytes(logs.buffer.data(), std::min(end, logs.buffer.size()));
  // Equal bytes parse to the same events; the count is compared all the same.
  if (auto found = cache.find(form, bytes); found && found->events == count) return found;
  std::shared_ptr<const FirmwareLogFacts> facts = derive(logs, count, form, bytes);
  cache.insert(facts);
  return facts;
}

}  // namespace acon::appraisal
