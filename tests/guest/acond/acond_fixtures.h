// Shared by the acond tests: a simulated TD in a temporary directory, signed images from the test
// keys of tests/data/acon/certs, layer tarballs, and the checks a verifier makes on a report.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "acon/appraisal/checks.h"
#include "acon/common/hash.h"
#include "acon/guest/sim/sim.h"
#include "acon/guest/sim/state.h"
#include "acon/image/attestation_data.h"
#include "acon/image/layers/create.h"
#include "acon/image/manifest.h"
#include "acon/image/signature.h"
#include "acon/tdx/quote.h"
#include "image/signed_images.h"
#include "test_util.h"

namespace acon::acond::test_fixtures {

using acon::test::at;
using acon::test::must;

inline const Time kIssue = at("2025-06-01T00:00:00Z");
inline const Time kCheck = at("2025-06-02T00:00:00Z");

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

// Polls until the file holds `text`: what a container or acond writes comes when that process
// gets the CPU, which a loaded CI machine (sanitizers, another test group) can delay by seconds.
inline bool wait_for_text(const std::filesystem::path& path, std::string_view text,
                          std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (read_text(path).find(text) == std::string::npos) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// A fresh directory under TMPDIR, removed with the object.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "acond-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Writes a simulated platform's state to `path` (RTMR3 as the TDX module starts it: zero).
inline guest::sim::Simulator create_sim_state(const std::string& path) {
  guest::sim::CreateOptions options;
  options.seed = sha256(as_bytes(std::string_view("acond_test")));
  options.dates = guest::sim::default_dates(kIssue);
  auto sim = must(guest::sim::Simulator::create(options));
  sim.td().rtmr[3] = {};
  EXPECT_TRUE(guest::sim::save_state(path, sim).ok());
  return sim;
}

using acon::test::app_manifest;
using acon::test::SignedImage;
using Signer = acon::test::ImageSigner;

inline Signer load_signer(const std::string& name) { return acon::test::load_image_signer(name); }

// Signed as aconcli signs (Go's canonical JSON), with the Image ID acond computes.
inline SignedImage sign(const Signer& signer, const image::Manifest& manifest) {
  return acon::test::sign_image(signer, manifest, image::CanonicalStyle::go,
                                image::CertProfile::acond);
}

// A layer tarball with one file, and its manifest reference "sha384/<hex>".
struct Layer {
  Bytes tar;
  std::string ref;
};

inline Layer make_layer(const std::filesystem::path& scratch, const std::string& content) {
  std::filesystem::path root = scratch / ("rootfs-" + hex_encode(sha256(as_bytes(content))));
  std::filesystem::create_directories(root / "etc");
  {
    std::ofstream out(root / "etc" / "hello");
    out << content;
  }
  image::layers::MemorySink sink;
  auto digests = must(image::layers::create_layer(root, sink));
  return {sink.data(), digests.ref(HashAlg::sha384)};
}

// What a relying party checks: the quote under the simulated root, the binding of
// attestation_data, and the replay of the firmware CCEL plus the runtime log to RTMR0..3.
inline void expect_evidence_verifies(const guest::sim::Simulator& sim, ByteView quote,
                                     const std::string& attestation_data, ByteView ccel,
                                     bool coco_log, ByteView runtime_log, uint64_t nonce_lo,
                                     uint64_t nonce_hi) {
  appraisal::Evidence evidence;
  evidence.platform = appraisal::Platform::tdx;
  evidence.tdx.quote.assign(quote.begin(), quote.end());
  evidence.tdx.ccel = Bytes(ccel.begin(), ccel.end());
  if (coco_log) {
    evidence.tdx.runtime_aael = Bytes(runtime_log.begin(), runtime_log.end());
  } else {
    evidence.tdx.runtime_text_aael = std::string(as_chars(runtime_log));
  }
  appraisal::AppraisalOptions options;
  options.at = kCheck;
  options.anchors.roots = {sim.root_ca()};
  options.collateral = must(sim.collateral());
  auto quote_checks = appraisal::check_quote(evidence, options);
  EXPECT_TRUE(quote_checks.signature.passed()) << quote_checks.signature.reason;
  EXPECT_TRUE(quote_checks.simulated);

  auto parsed = must(tdx::parse_quote(quote));
  auto binding =
      appraisal::check_binding_acon(parsed.td_report()->report_data, to_bytes(attestation_data),
                                    image::requestor_nonce(nonce_lo, nonce_hi));
  EXPECT_TRUE(binding.passed()) << binding.reason;

  auto replay = appraisal::check_tdx_replay(evidence.tdx);
  ASSERT_EQ(replay.registers.size(), 4u);
  for (const auto& check : replay.registers)
    EXPECT_TRUE(check.passed()) << check.name << ": " << check.reason;
  EXPECT_TRUE(replay.unexplained.passed()) << replay.unexplained.reason;
}

}  // namespace acon::acond::test_fixtures
