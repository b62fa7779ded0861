// Layer hashing throughput next to its crypto limit, measured in the same run.
//
// The fixture is a 64 MiB layer tarball built in memory (a few small files and one 60 MiB file of
// random bytes, so the tar framing is realistic and the data incompressible), plus the same tree
// on disk for layer creation.
//
//  BM_layer_raw_sha384      EVP SHA-384 over the tar bytes in 1 MiB updates: the limit.
//  BM_layer_digest_stream   digest_stream(): MemorySource -> MultiHasher (how a stored blob is
//                           checked against its reference).
//  BM_layer_scan_sha384     scan_layer() with SHA-384: libarchive walks every header and the
//                           data while the raw stream is hashed (how acond-side code vets a blob).
//  BM_layer_create_sha384   create_layer() from the on-disk tree into a hashing sink: tar
//                           writing plus SHA-384, files read from the page cache.
//
// Counters: bytes_per_second (tar bytes per CPU second), and "vs_raw_sha384" = this benchmark's
// throughput divided by the raw EVP SHA-384 throughput measured at start-up in the same process
// (goal: >= 0.90). Both use the thread's CPU time, so that other load on the machine does not
// skew the ratio.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <stdlib.h>

#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "acon/common/bytes.h"
#include "acon/image/layers/create.h"
#include "acon/image/layers/extract.h"
#include "acon/image/layers/stream.h"
#include "bench_util.h"

namespace {

using acon::bench::die;
using acon::bench::thread_cpu_seconds;

namespace fs = std::filesystem;
namespace lay = acon::image::layers;

constexpr size_t kBigFile = 60u << 20;
constexpr size_t kChunk = 1u << 20;

// Raw EVP SHA-384 over `data` in kChunk updates.
void raw_sha384(const acon::Bytes& data, uint8_t* out) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha384(), nullptr);
  for (size_t off = 0; off < data.size(); off += kChunk) {
    EVP_DigestUpdate(ctx, data.data() + off, std::min(kChunk, data.size() - off));
  }
  unsigned len = 0;
  EVP_DigestFinal_ex(ctx, out, &len);
  EVP_MD_CTX_free(ctx);
}

struct Fixture {
  fs::path dir;
  acon::Bytes tar;
  double raw_bytes_per_second = 0;

  Fixture() {
    std::string tmpl = (fs::temp_directory_path() / "acon-layer-bench-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) die("mkdtemp");
    dir = tmpl;
    fs::create_directories(dir / "rootfs/bin");
    fs::create_directories(dir / "rootfs/etc");
    auto random = acon::random_bytes(kBigFile);
    if (!random) die("random_bytes");
    std::ofstream(dir / "rootfs/bin/big", std::ios::binary)
        .write(reinterpret_cast<const char*>(random->data()),
               static_cast<std::streamsize>(random->size()));
    for (int i = 0; i < 64; ++i) {
      std::ofstream(dir / ("rootfs/etc/file" + std::to_string(i)))
          << std::string(static_cast<size_t>(1000 + 37 * i), 'x');
    }
    lay::MemorySink sink;
    lay::CreateOptions options;
    options.digest_mask = 0;
    if (!lay::create_layer(dir / "rootfs", sink, options)) die("create_layer");
    tar = sink.take();
    // Pad to exactly 64 MiB with zero blocks after the end marker (still one valid layer).
    if (tar.size() < (64u << 20)) tar.resize(64u << 20, 0);
    uint8_t out[48];
    double best = 0;
    for (int i = 0; i < 5; ++i) {
      const double t0 = thread_cpu_seconds();
      raw_sha384(tar, out);
      const double s = thread_cpu_seconds() - t0;
      best = std::max(best, static_cast<double>(tar.size()) / s);
    }
    raw_bytes_per_second = best;
  }
  ~Fixture() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

// CPU time of the benchmark loop, for the ratio against the raw rate.
class RatioClock {
 public:
  RatioClock() : start_(thread_cpu_seconds()) {}
  void report(benchmark::State& state, size_t bytes_per_iteration) const {
    const double s = thread_cpu_seconds() - start_;
    const double bytes =
        static_cast<double>(state.iterations()) * static_cast<double>(bytes_per_iteration);
    state.SetBytesProcessed(static_cast<int64_t>(bytes));
    state.counters["vs_raw_sha384"] = (bytes / s) / fixture().raw_bytes_per_second;
  }

 private:
  double start_;
};

void BM_layer_raw_sha384(benchmark::State& state) {
  const auto& f = fixture();
  uint8_t out[48];
  RatioClock clock;
  for (auto _ : state) {
    raw_sha384(f.tar, out);
    benchmark::DoNotOptimize(out);
  }
  clock.report(state, f.tar.size());
}

void BM_layer_digest_stream(benchmark::State& state) {
  const auto& f = fixture();
  RatioClock clock;
  for (auto _ : state) {
    lay::MemorySource source(f.tar);
    auto d = lay::digest_stream(source, lay::kDigestSha384);
    if (!d || d->size != f.tar.size()) {
      state.SkipWithError("digest_stream failed");
      break;
    }
    benchmark::DoNotOptimize(d->sha384.data());
  }
  clock.report(state, f.tar.size());
}

void BM_layer_scan_sha384(benchmark::State& state) {
  const auto& f = fixture();
  lay::ExtractOptions options;
  options.digest_mask = lay::kDigestSha384;
  RatioClock clock;
  for (auto _ : state) {
    lay::MemorySource source(f.tar);
    auto r = lay::scan_layer(source, options);
    if (!r || r->digests.size != f.tar.size()) {
      state.SkipWithError("scan_layer failed");
      break;
    }
    benchmark::DoNotOptimize(r->digests.sha384.data());
  }
  clock.report(state, f.tar.size());
}

// Discards the bytes: only the tar writing and hashing are measured.
class NullSink final : public lay::ByteSink {
 public:
  acon::Status write(acon::ByteView data) override {
    benchmark::DoNotOptimize(data.data());
    return {};
  }
};

void BM_layer_create_sha384(benchmark::State& state) {
  const auto& f = fixture();
  lay::CreateOptions options;
  options.digest_mask = lay::kDigestSha384;
  size_t bytes = 0;
  RatioClock clock;
  for (auto _ : state) {
    NullSink sink;
    auto d = lay::create_layer(f.dir / "rootfs", sink, options);
    if (!d) {
      state.SkipWithError("create_layer failed");
      break;
    }
    bytes = d->size;
  }
  clock.report(state, bytes);
}

BENCHMARK(BM_layer_raw_sha384)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_layer_digest_stream)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_layer_scan_sha384)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_layer_create_sha384)->Unit(benchmark::kMillisecond)->MinTime(2.0);

}  // namespace

BENCHMARK_MAIN();
