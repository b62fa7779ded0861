// The KBS's storage hot path (one resource GET = one get_resource + one append_audit) next to
// the cryptography it cannot avoid, measured in the same run.
//
//  BM_floor_audit_sign     one Ed25519 signature over a 32-byte hash (AuditSigner, prepared)
//  BM_floor_aes_gcm_open   one AES-256-GCM decryption of a 64-byte value
//  BM_audit_append         append_audit of a typical release record: JCS + SHA-256 + Ed25519 +
//                          one SQLite write transaction (WAL, synchronous=NORMAL)
//  BM_part_make_record     the record alone (no database): validation, JCS, SHA-256, signature
//  BM_part_record_line     its export line (compact JSON), which is what the database stores
//  BM_get_resource         get_resource of a 64-byte value: one indexed SELECT + AES-GCM open
//  BM_release              both, as the server does per GET; ->Threads(2) for the 2-core target
//
// Each storage benchmark runs on SQLite (/sqlite) and on PostgreSQL (/postgres: a server started
// for the run by tests/kbs/postgres_fixture.h, Unix socket, fsync off, synchronous_commit on).
// For PostgreSQL the work is split between this process and the server, so its ratios divide
// wall time per call by the floor's wall time, both measured in this run; they are meaningful
// on an otherwise idle machine only.
//
// Counters: "x_sign" = BM_audit_append's thread CPU time per call over one signature's, and
// "x_open" = BM_get_resource's over one AES-GCM open, both floors measured at start-up in this
// process (thread CPU time, system time included: SQLite's WAL writes are kernel work, so other
// load on the machine does not skew the ratios). Target (issue 13): >= 8,000 releases/s on two
// cores, i.e. one append well under 100 us. Measured figures: docs/kbs-storage.md.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "acon/common/cipher.h"
#include "acon/common/hash.h"
#include "acon/kbs/storage.h"
#include "bench_util.h"
#include "kbs/postgres_fixture.h"

namespace {

using acon::bench::die;
using acon::bench::need;
using acon::bench::thread_cpu_seconds;

namespace fs = std::filesystem;
using namespace acon;
using namespace acon::kbs;
using namespace std::chrono_literals;

constexpr size_t kResources = 1000;
constexpr size_t kValueSize = 64;

fs::path make_temp_dir() {
  std::string pattern = (fs::temp_directory_path() / "acon-kbs-bench-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) die("mkdtemp");
  return pattern;
}

AuditEntry release_entry(size_t n) {
  AuditEntry e;
  e.time = Time(1767225600s) + std::chrono::seconds(n);
  e.action = "release";
  e.resource = "default/key/" + std::to_string(n % kResources);
  e.outcome = "allow";
  e.http_status = 200;
  e.policy_id = "default";
  e.policy_rule = "allow";
  e.ear_status = "affirming";
  e.tee = "tdx";
  e.image_signers = {std::string(64, 'a')};
  e.image_ids = {std::string(64, 'b')};
  e.token_digest = std::string(64, 'c');
  e.peer = "192.0.2.7:51000";
  return e;
}

enum class Backend { sqlite, postgres };

struct Fixture {
  fs::path dir = make_temp_dir();
  PrivateKey audit_key = need(PrivateKey::generate_ed25519(), "audit key");
  AuditSigner signer = need(AuditSigner::create(audit_key), "audit signer");
  SecretBytes master = to_secret(need(random_bytes(kMasterKeySize), "master key"));
  std::unique_ptr<kbs::testing::PostgresServer> postgres;
  std::unique_ptr<Storage> storage;

  explicit Fixture(Backend backend) {
    if (backend == Backend::sqlite) {
      storage = need(open_sqlite_storage(dir / "kbs.db", master, signer), "open storage");
    } else {
      postgres = std::make_unique<kbs::testing::PostgresServer>();
      if (!postgres->ok()) die("postgres: " + postgres->error());
      storage =
          need(open_postgres_storage(postgres->create_database(), master, signer), "open storage");
    }
    const Bytes value(kValueSize, 0x5a);
    for (size_t i = 0; i < kResources; ++i)
      if (!storage->put_resource("default/key/" + std::to_string(i), value)) die("put_resource");
  }
  ~Fixture() {
    storage.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

Fixture& fixture(Backend backend = Backend::sqlite) {
  if (backend == Backend::postgres) {
    static Fixture postgres(Backend::postgres);
    return postgres;
  }
  static Fixture sqlite(Backend::sqlite);
  return sqlite;
}

// Per-call time for the ratios: this thread's CPU time for SQLite (in-process), wall time for
// PostgreSQL (most of the work is in the server process).
double clock_seconds(Backend backend) {
  if (backend == Backend::sqlite) return thread_cpu_seconds();
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Seconds of one call of `op` on the backend's clock (clock_seconds), measured now over about
// `budget` seconds, so that a ratio divides like by like.
template <class Op>
double floor_seconds(Op op, Backend backend = Backend::sqlite, double budget = 0.3) {
  const double start = clock_seconds(backend);
  size_t rounds = 0;
  double elapsed = 0;
  do {
    op();
    ++rounds;
    elapsed = clock_seconds(backend) - start;
  } while (elapsed < budget);
  return elapsed / static_cast<double>(rounds);
}

void sign_once(const Fixture& f) {
  static const Bytes hash = sha256(as_bytes("audit record"));
  auto sig = f.signer.sign(hash);
  if (!sig) die("sign");
  benchmark::DoNotOptimize(sig);
}

struct Sealed {
  Bytes key = Bytes(32, 1), iv = Bytes(12, 2), aad = to_bytes("acon-kbs/resource/v1 default/key/1");
  GcmSealed gcm = need(aes_gcm_encrypt(key, iv, aad, Bytes(kValueSize, 0x5a)), "seal");
};

void open_once(const Sealed& s) {
  auto plain = aes_gcm_decrypt(s.key, s.iv, s.aad, s.gcm.ciphertext, s.gcm.tag);
  if (!plain) die("open");
  benchmark::DoNotOptimize(plain);
}

void rate(benchmark::State& state, const char* name) {
  state.counters[name] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_floor_audit_sign(benchmark::State& state) {
  Fixture& f = fixture();
  for (auto _ : state) sign_once(f);
  rate(state, "signs");
}
BENCHMARK(BM_floor_audit_sign);

void BM_floor_aes_gcm_open(benchmark::State& state) {
  const Sealed s;
  for (auto _ : state) open_once(s);
  rate(state, "opens");
}
BENCHMARK(BM_floor_aes_gcm_open);

// The record without the database: validation, JCS, SHA-256, signature; and its export line.
void BM_part_make_record(benchmark::State& state) {
  Fixture& f = fixture();
  size_t n = 0;
  for (auto _ : state) {
    auto record = make_audit_record(AuditHead{}, release_entry(n++), f.signer);
    if (!record) state.SkipWithError("make_audit_record");
    benchmark::DoNotOptimize(record);
  }
  rate(state, "records");
}
BENCHMARK(BM_part_make_record)->Unit(benchmark::kMicrosecond);

void BM_part_record_line(benchmark::State& state) {
  Fixture& f = fixture();
  const AuditRecord record =
      need(make_audit_record(AuditHead{}, release_entry(1), f.signer), "record");
  for (auto _ : state) {
    std::string line = audit_record_to_line(record);
    benchmark::DoNotOptimize(line);
  }
  rate(state, "lines");
}
BENCHMARK(BM_part_record_line)->Unit(benchmark::kMicrosecond);

void BM_audit_append(benchmark::State& state, Backend backend) {
  if (backend == Backend::postgres && kbs::testing::PostgresServer::binaries().empty())
    return state.SkipWithError("PostgreSQL server binaries are not installed");
  Fixture& f = fixture(backend);
  // Measured once per process and clock: Google Benchmark calls this function several times.
  static double floors[2] = {};
  double& floor = floors[static_cast<int>(backend)];
  if (floor == 0) floor = floor_seconds([&] { sign_once(f); }, backend);
  size_t n = 0;
  const double start = clock_seconds(backend);
  for (auto _ : state) {
    auto record = f.storage->append_audit(release_entry(n++));
    if (!record) state.SkipWithError(record.error().to_string().c_str());
    benchmark::DoNotOptimize(record);
  }
  const double per_call = (clock_seconds(backend) - start) /
                          static_cast<double>(std::max<int64_t>(state.iterations(), 1));
  state.counters["x_sign"] = per_call / floor;
  rate(state, "appends");
}
BENCHMARK_CAPTURE(BM_audit_append, sqlite, Backend::sqlite)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_audit_append, postgres, Backend::postgres)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

void BM_get_resource(benchmark::State& state, Backend backend) {
  if (backend == Backend::postgres && kbs::testing::PostgresServer::binaries().empty())
    return state.SkipWithError("PostgreSQL server binaries are not installed");
  Fixture& f = fixture(backend);
  static double floors[2] = {};
  double& floor = floors[static_cast<int>(backend)];
  if (floor == 0)
    floor = floor_seconds(
        [] {
          static const Sealed s;
          open_once(s);
        },
        backend);
  size_t n = 0;
  const double start = clock_seconds(backend);
  for (auto _ : state) {
    auto value = f.storage->get_resource("default/key/" + std::to_string(n++ % kResources));
    if (!value || !value->has_value()) state.SkipWithError("get_resource");
    benchmark::DoNotOptimize(value);
  }
  const double per_call = (clock_seconds(backend) - start) /
                          static_cast<double>(std::max<int64_t>(state.iterations(), 1));
  state.counters["x_open"] = per_call / floor;
  rate(state, "gets");
}
BENCHMARK_CAPTURE(BM_get_resource, sqlite, Backend::sqlite)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_get_resource, postgres, Backend::postgres)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

// What the server does per released resource; with two threads, the two-core throughput.
void BM_release(benchmark::State& state, Backend backend) {
  if (backend == Backend::postgres && kbs::testing::PostgresServer::binaries().empty())
    return state.SkipWithError("PostgreSQL server binaries are not installed");
  Fixture& f = fixture(backend);
  size_t n = static_cast<size_t>(state.thread_index()) << 32;
  for (auto _ : state) {
    auto value = f.storage->get_resource("default/key/" + std::to_string(n % kResources));
    auto record = f.storage->append_audit(release_entry(n++));
    if (!value || !record) state.SkipWithError("release");
    benchmark::DoNotOptimize(value);
    benchmark::DoNotOptimize(record);
  }
  rate(state, "releases");
}
BENCHMARK_CAPTURE(BM_release, sqlite, Backend::sqlite)
    ->Unit(benchmark::kMicrosecond)
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_release, postgres, Backend::postgres)
    ->Unit(benchmark::kMicrosecond)
    ->Threads(1)
    ->Threads(2)
    ->Threads(4)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
