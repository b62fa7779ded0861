// ACON image hot paths: launch-policy admission into a pod of 1,000 loaded images (acond's greedy
// algorithm and the spec's graph rule), and AddManifest's manifest work (parse + Image ID +
// signature verification), next to the raw signature verification that bounds it.
//
// Pods (built once, outside the timing; every image is admitted through Pod::admit, so the pod
// is what acond would hold):
//  - "vendors": 1,000 images signed by 10 vendors, every image accepting all 10 vendors ("*"),
//    a NAME:SVN rule and one digest rule; every other image has rejectUnaccepted. The candidate
//    is a new rejecting image of vendor 3 (acond walks: some loaded image accepts it, it accepts
//    some rejecting loaded image; the graph rule: same plus a search to a rejecting image).
//  - "chain": 1,000 non-rejecting images, image i accepting image i+1's digest; the candidate
//    rejects unaccepted and accepts image 0 and every image directly (acond: it must accept all
//    1,000 directly) or only image 0 (graph rule: it must reach all 1,000 through the chain).
// Admission = Pod::check (the decision); "admit" also inserts into a copy made outside timing.
//
// BM_manifest_parse_verify / BM_raw_ecdsa_p384_verify is the overhead of AddManifest's checks
// over the signature verification itself.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "acon/common/hash.h"
#include "acon/common/signature.h"
#include "acon/common/x509.h"
#include "acon/image/manifest.h"
#include "acon/image/policy.h"
#include "acon/image/signature.h"
#include "bench_util.h"

namespace {

using acon::bench::die;
using acon::bench::thread_cpu_seconds;

using namespace acon;
using namespace acon::image;

std::string read_file(const std::string& relative) {
  std::string path = std::string(ACON_TEST_DATA) + "/" + relative;
  std::ifstream in(path, std::ios::binary);
  if (!in) die("cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string h384(const std::string& seed) { return hex_encode(sha384(as_bytes(seed))); }

PolicyImage make(const std::string& signer, const std::string& digest,
                 std::vector<std::string> accepts, bool reject, std::vector<std::string> aliases) {
  PolicyImage p;
  p.identity = {HashAlg::sha384, signer, digest};
  p.accepts = std::move(accepts);
  p.reject_unaccepted = reject;
  p.self_aliases = std::move(aliases);
  return p;
}

constexpr int kPodSize = 1000;

struct VendorPod {
  std::vector<std::string> vendors;
  PolicyImage candidate;
  Pod pod;

  explicit VendorPod(PolicyMode mode) : pod(mode) {
    for (int v = 0; v < 10; ++v) vendors.push_back(h384("vendor" + std::to_string(v)));
    std::vector<std::string> all;
    for (const auto& v : vendors) all.push_back("sha384/" + v + "/*");
    for (int i = 0; i < kPodSize; ++i) {
      auto rules = all;
      rules.push_back("sha384/" + vendors[(i + 1) % 10] + "/Product:" + std::to_string(i % 7));
      rules.push_back("sha384/*/" + h384("image" + std::to_string(i + 1)));
      PolicyImage p = make(vendors[i % 10], h384("image" + std::to_string(i)), rules, i % 2 == 0,
                           {"Product:" + std::to_string(i % 5)});
      if (!pod.admit(p).admitted()) die("vendors pod: image " + std::to_string(i) + " refused");
    }
    candidate = make(vendors[3], h384("candidate"), all, true, {"Product:9"});
    if (!pod.check(candidate).admitted()) die("vendors pod: candidate refused");
  }
};

struct ChainPod {
  Pod pod;
  PolicyImage candidate;

  explicit ChainPod(PolicyMode mode) : pod(mode) {
    std::vector<std::string> every;
    for (int i = 0; i < kPodSize; ++i) {
      std::string signer = h384("chain signer " + std::to_string(i % 50));
      std::string next = "sha384/*/" + h384("chain" + std::to_string(i + 1));
      PolicyImage p = make(signer, h384("chain" + std::to_string(i)), {next}, false, {});
      every.push_back("sha384/*/" + p.identity.manifest_digest);
      if (!pod.admit(p).admitted()) die("chain pod: image refused");
    }
    // acond needs a direct rule per loaded image; the graph rule only the head of the chain.
    candidate =
        make(h384("owner"), h384("chain candidate"),
             mode == PolicyMode::acond_greedy ? every : std::vector<std::string>{every.front()},
             true, {});
    if (!pod.check(candidate).admitted()) die("chain pod: candidate refused");
  }
};

// Built once per process and mode, reused by every repetition.
template <class Fixture>
const Fixture& fixture(PolicyMode mode) {
  if (mode == PolicyMode::acond_greedy) {
    static const Fixture greedy(PolicyMode::acond_greedy);
    return greedy;
  }
  static const Fixture graph(PolicyMode::spec_graph);
  return graph;
}

template <class Fixture>
void BM_check(benchmark::State& state, PolicyMode mode) {
  const Fixture& f = fixture<Fixture>(mode);
  for (auto _ : state) {
    Admission a = f.pod.check(f.candidate);
    benchmark::DoNotOptimize(a);
    if (!a.admitted()) state.SkipWithError("candidate refused");
  }
  state.counters["pod_images"] = static_cast<double>(f.pod.size());
  state.counters["admissions"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

template <class Fixture>
void BM_admit(benchmark::State& state, PolicyMode mode) {
  const Fixture& f = fixture<Fixture>(mode);
  for (auto _ : state) {
    state.PauseTiming();
    Pod copy = f.pod;
    state.ResumeTiming();
    Admission a = copy.admit(f.candidate);
    benchmark::DoNotOptimize(a);
    if (a.verdict != Verdict::accepted) state.SkipWithError("candidate refused");
    state.PauseTiming();
    { Pod discard = std::move(copy); }
    state.ResumeTiming();
  }
}

// Builds the whole 1,000-image pod: the average admission (check + insert) in a growing pod.
void BM_vendors_build(benchmark::State& state, PolicyMode mode) {
  for (auto _ : state) {
    VendorPod f(mode);
    benchmark::DoNotOptimize(f);
  }
  state.counters["admissions"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * kPodSize, benchmark::Counter::kIsRate);
}
BENCHMARK_CAPTURE(BM_vendors_build, greedy, PolicyMode::acond_greedy)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_vendors_build, graph, PolicyMode::spec_graph)->Unit(benchmark::kMillisecond);

void BM_vendors_check(benchmark::State& state, PolicyMode mode) {
  BM_check<VendorPod>(state, mode);
}
void BM_chain_check(benchmark::State& state, PolicyMode mode) { BM_check<ChainPod>(state, mode); }
void BM_vendors_admit(benchmark::State& state, PolicyMode mode) {
  BM_admit<VendorPod>(state, mode);
}

BENCHMARK_CAPTURE(BM_vendors_check, greedy, PolicyMode::acond_greedy);
BENCHMARK_CAPTURE(BM_vendors_check, graph, PolicyMode::spec_graph);
BENCHMARK_CAPTURE(BM_chain_check, greedy, PolicyMode::acond_greedy);
BENCHMARK_CAPTURE(BM_chain_check, graph, PolicyMode::spec_graph);
BENCHMARK_CAPTURE(BM_vendors_admit, greedy, PolicyMode::acond_greedy)->Iterations(200);
BENCHMARK_CAPTURE(BM_vendors_admit, graph, PolicyMode::spec_graph)->Iterations(200);

// ---- Manifest parse + verify -----------------------------------------------------------------

struct SignedFixture {
  std::string manifest = read_file("acon/doc-example/manifest.canonical.json");
  Bytes cert_der = to_bytes(read_file("acon/certs/p384.cert.der"));
  Bytes signature;
  PublicKey key = [&] {
    auto c = Certificate::from_der(cert_der);
    if (!c) die(c.error().message);
    auto k = c->public_key();
    if (!k) die(k.error().message);
    return *k;
  }();

  SignedFixture() {
    auto key_pem = read_file("acon/certs/p384.key.pem");
    auto priv = PrivateKey::from_pem(key_pem);
    auto cert = Certificate::from_der(cert_der);
    if (!priv || !cert) die("p384 test key or certificate");
    auto sig = sign_manifest(manifest, *priv, *cert);
    if (!sig) die(sig.error().message);
    signature = *sig;
  }
};

const SignedFixture& signed_fixture() {
  static const SignedFixture f;
  return f;
}

void BM_manifest_parse_verify(benchmark::State& state) {
  const SignedFixture& f = signed_fixture();
  for (auto _ : state) {
    auto sm = verify_signed_manifest(f.manifest, f.signature, f.cert_der);
    if (!sm) state.SkipWithError(sm.error().message.c_str());
    benchmark::DoNotOptimize(sm);
  }
  state.counters["manifests"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_manifest_parse_verify);

void BM_raw_ecdsa_p384_verify(benchmark::State& state) {
  const SignedFixture& f = signed_fixture();
  for (auto _ : state) {
    auto st = verify(f.key, SigScheme{SigKind::ecdsa, HashAlg::sha384}, as_bytes(f.manifest),
                     f.signature);
    if (!st) state.SkipWithError("verify failed");
    benchmark::DoNotOptimize(st);
  }
  state.counters["verifies"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_raw_ecdsa_p384_verify);

void BM_manifest_parse_only(benchmark::State& state) {
  const SignedFixture& f = signed_fixture();
  for (auto _ : state) {
    auto m = parse_manifest(f.manifest);
    benchmark::DoNotOptimize(m);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * f.manifest.size()));
}
BENCHMARK(BM_manifest_parse_only);

void BM_manifest_canonicalize(benchmark::State& state) {
  std::string pretty = read_file("acon/doc-example/manifest.pretty.json");
  for (auto _ : state) {
    auto c = canonicalize_json(pretty);
    benchmark::DoNotOptimize(c);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * pretty.size()));
}
BENCHMARK(BM_manifest_canonicalize);

}  // namespace

BENCHMARK_MAIN();
