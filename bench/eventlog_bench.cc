// The event-log hot path on a real CCEL (cc-trusted-api ccel_data.bin: Ubuntu TDX guest, 64 KiB
// area, 98 events after the Spec ID header, SHA-384 only), next to the crypto limit of its replay.
// The file is read once at start-up; every benchmark parses the whole 64 KiB buffer, as
// `acon-eventlog` does (the parser stops at the 0xFF fill after the log).
//
// Counters (all kIsRate, per CPU second): "events" = records after the header, "extends" =
// register extensions; bytes_per_second counts the log bytes up to its end (not the fill).
// BM_eventlog_parse_replay / BM_eventlog_sha384_limit is how close replay comes to pure hashing;
// scripts/bench.sh prints that ratio.
#include <benchmark/benchmark.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "acon/eventlog/decode.h"
#include "acon/eventlog/event_log.h"
#include "acon/eventlog/replay.h"
#include "bench_util.h"

namespace {

using acon::bench::die;
using acon::bench::thread_cpu_seconds;

using acon::eventlog::EventLog;
using acon::eventlog::Replayer;

constexpr const char* kLogPath = ACON_TEST_DATA "/eventlog/cc-trusted-api/ccel_data.bin";
constexpr size_t kSha384Size = 48;

// One register extension as replay() performs it: MR[index] = SHA-384(MR[index] || digest).
struct Extend {
  uint32_t index;
  const uint8_t* digest;  // 48 bytes, inside Fixture::bytes
};

struct Fixture {
  std::vector<uint8_t> bytes;  // the whole CCEL area, fill included
  size_t log_bytes = 0;        // up to the end of the last record
  size_t events = 0;           // records after the Spec ID header
  std::vector<Extend> extends;
  std::map<uint32_t, std::array<uint8_t, kSha384Size>> expected;  // acon's replay, for checking

  Fixture() {
    std::ifstream in(kLogPath, std::ios::binary);
    if (!in) die(std::string("cannot read ") + kLogPath);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    auto log = acon::eventlog::parse_event_log(bytes);
    if (!log) die("parse_event_log: " + log.error().to_string());
    log_bytes = log->end_offset;
    events = log->events.size() - 1;
    Replayer replayer;
    if (auto st = acon::eventlog::replay(*log, replayer); !st)
      die("replay: " + st.error().to_string());
    for (const auto& e : log->events) {
      if (e.type == acon::eventlog::ev::kNoAction) continue;
      for (const auto& d : e.digests) {
        // The limit below models a SHA-384-only log; anything else would make it wrong.
        if (d.alg != acon::eventlog::tpm_alg::kSha384 || d.value.size() != kSha384Size)
          die("event " + std::to_string(e.number) + " has a digest other than SHA-384");
        extends.push_back({e.index, d.value.data()});
      }
    }
    for (const auto& [key, value] : replayer.registers()) {
      if (value.size() != kSha384Size) die("unexpected register size");
      std::memcpy(expected[key.first].data(), value.data(), kSha384Size);
    }
  }
};

const Fixture& fixture() {
  static const Fixture f;
  return f;
}

void set_counters(benchmark::State& state, const Fixture& f, bool with_extends) {
  const auto n = static_cast<double>(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(f.log_bytes));
  state.counters["events"] =
      benchmark::Counter(n * static_cast<double>(f.events), benchmark::Counter::kIsRate);
  if (with_extends)
    state.counters["extends"] =
        benchmark::Counter(n * static_cast<double>(f.extends.size()), benchmark::Counter::kIsRate);
}

// (a) Parsing only: record walk, Spec ID table, digest views.
void BM_eventlog_parse(benchmark::State& state) {
  const auto& f = fixture();
  for (auto _ : state) {
    auto log = acon::eventlog::parse_event_log(f.bytes);
    if (!log) {
      state.SkipWithError("parse_event_log failed");
      break;
    }
    benchmark::DoNotOptimize(log->events.data());
  }
  set_counters(state, f, false);
}

// (b) Parse + SHA-384 replay: what `acon-eventlog replay` computes.
void BM_eventlog_parse_replay(benchmark::State& state) {
  const auto& f = fixture();
  for (auto _ : state) {
    auto log = acon::eventlog::parse_event_log(f.bytes);
    Replayer replayer;
    if (!log || !acon::eventlog::replay(*log, replayer)) {
      state.SkipWithError("parse/replay failed");
      break;
    }
    benchmark::DoNotOptimize(replayer.registers().size());
  }
  set_counters(state, f, true);
}

// (c) Parse + replay + decode_event of every record: what `acon-eventlog dump` computes before
// rendering.
void BM_eventlog_parse_replay_decode(benchmark::State& state) {
  const auto& f = fixture();
  for (auto _ : state) {
    auto log = acon::eventlog::parse_event_log(f.bytes);
    Replayer replayer;
    if (!log || !acon::eventlog::replay(*log, replayer)) {
      state.SkipWithError("parse/replay failed");
      break;
    }
    for (const auto& e : log->events) {
      auto decoded = acon::eventlog::decode_event(e);
      benchmark::DoNotOptimize(decoded.digest_check);
    }
    benchmark::DoNotOptimize(replayer.registers().size());
  }
  set_counters(state, f, true);
}

// Diagnostic: replay alone on an already parsed log (parse cost = (b) minus this).
void BM_eventlog_replay_only(benchmark::State& state) {
  const auto& f = fixture();
  auto log = acon::eventlog::parse_event_log(f.bytes);
  if (!log) die("parse_event_log");
  for (auto _ : state) {
    Replayer replayer;
    if (!acon::eventlog::replay(*log, replayer)) {
      state.SkipWithError("replay failed");
      break;
    }
    benchmark::DoNotOptimize(replayer.registers().size());
  }
  set_counters(state, f, true);
}

// (d) The crypto limit of (b): exactly the SHA-384 computations replay needs, one EVP_Digest over
// MR || digest (96 bytes) per extension, on an EVP_MD fetched once. No acon code in the loop;
// the registers are checked against acon's replay after the loop.
void BM_eventlog_sha384_limit(benchmark::State& state) {
  const auto& f = fixture();
  EVP_MD* md = EVP_MD_fetch(nullptr, "SHA2-384", nullptr);
  if (md == nullptr) die("EVP_MD_fetch SHA2-384");
  constexpr size_t kRegisters = 32;  // CC MR indexes are 0..4; TPM PCRs 0..23
  for (const auto& x : f.extends) {
    if (x.index >= kRegisters) die("register index out of range");
  }
  std::array<std::array<uint8_t, kSha384Size>, kRegisters> mr{};
  std::array<uint8_t, 2 * kSha384Size> block{};
  for (auto _ : state) {
    mr = {};
    for (const auto& x : f.extends) {
      auto& reg = mr[x.index];
      std::memcpy(block.data(), reg.data(), kSha384Size);
      std::memcpy(block.data() + kSha384Size, x.digest, kSha384Size);
      unsigned int len = 0;
      if (EVP_Digest(block.data(), block.size(), reg.data(), &len, md, nullptr) != 1) {
        state.SkipWithError("EVP_Digest failed");
        break;
      }
    }
    benchmark::DoNotOptimize(mr.data());
  }
  for (const auto& [index, value] : f.expected) {
    if (mr[index] != value) state.SkipWithError("raw replay differs from acon's replay");
  }
  EVP_MD_free(md);
  set_counters(state, f, true);
}

BENCHMARK(BM_eventlog_parse);
BENCHMARK(BM_eventlog_parse_replay);
BENCHMARK(BM_eventlog_parse_replay_decode);
BENCHMARK(BM_eventlog_replay_only);
BENCHMARK(BM_eventlog_sha384_limit);

}  // namespace

BENCHMARK_MAIN();
