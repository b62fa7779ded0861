// Crash safety of a real acond process: ACOND_CRASH_AT kills it with SIGKILL at each durable step
// of AddManifest, Finalize and AddBlob, in both log modes; after a restart on the same state
// directory and simulated TD, the runtime log replays to RTMR3, the image is loaded or absent
// as a whole (the log says which), retries succeed and the evidence verifies.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "acon/acond/measurement_log.h"
#include "acon/acond/runtime.h"
#include "acon/eventlog/event_log.h"
#include "acon/eventlog/replay.h"
#include "acon/eventlog/runtime.h"
#include "acond_process.h"

namespace acon::acond {
namespace {

using namespace test_fixtures;
namespace fs = std::filesystem;

struct CrashCase {
  std::string mode;  // coco, acon
  std::string rpc;   // AddManifest, Finalize, AddBlob
  std::string step;  // ACOND_CRASH_AT
};

std::string case_name(const CrashCase& c) {
  std::string name = c.mode + "_" + c.rpc + "_" + c.step;
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

std::vector<CrashCase> crash_cases() {
  std::vector<CrashCase> out;
  for (std::string mode : {"coco", "acon"}) {
    for (auto step : kMeasureSteps) {
      out.push_back({mode, "AddManifest", std::string(step)});
      out.push_back({mode, "Finalize", std::string(step)});
      // acon mode: the first measurement writes the INIT line, the second the image's line.
      if (mode == "acon") out.push_back({mode, "AddManifest", std::string(step) + "@2"});
    }
    out.push_back({mode, "AddManifest", "after-measure"});
    out.push_back({mode, "AddBlob", "mid-unpack"});
  }
  return out;
}

struct Td {
  TempDir dir;
  guest::sim::Simulator sim = create_sim_state((dir.path() / "sim.json").string());
  fs::path state_dir = dir.path() / "st";

  std::vector<std::string> args(const std::string& mode) const {
    return {"--backend",  "sim", "--sim-state",   "sim.json",  "--state-dir", "st",
            "--log-mode", mode,  "--tcp-address", "127.0.0.1", "--tcp-port",  "0"};
  }
  fs::path log_path(const std::string& mode) const {
    return state_dir / (mode == "coco" ? "aael" : "rtmr3.log");
  }
  Bytes rtmr3() {
    guest::sim::SimBackend backend((dir.path() / "sim.json").string());
    return must(backend.read(kRuntimeRtmr, HashAlg::sha384));
  }
  // RTMR3 as the runtime log replays it (eventlog's readers and replay, from zero).
  Bytes replayed(const std::string& mode) {
    std::string text = read_text(log_path(mode));
    if (text.empty()) return Bytes(48, 0);
    if (mode == "acon") return eventlog::replay_text_aael(must(eventlog::parse_text_aael(text)));
    const HashAlg banks[] = {HashAlg::sha384};
    Bytes framed = must(eventlog::spec_id_record(banks));
    append(framed, as_bytes(text));
    auto log = must(eventlog::parse_event_log(framed));
    eventlog::Replayer replayer;
    EXPECT_TRUE(eventlog::replay(log, replayer).ok());
    return replayer.value(kRuntimeCcMrIndex, HashAlg::sha384);
  }
  bool logged(const std::string& mode, const std::string& text) {
    return read_text(log_path(mode)).find(text) != std::string::npos;
  }
  // No staged image or layer is left once acond has opened the state directory.
  void expect_no_staging() {
    for (auto it = fs::recursive_directory_iterator(state_dir);
         it != fs::recursive_directory_iterator(); ++it) {
      EXPECT_EQ(it->path().string().find(".staging"), std::string::npos) << it->path();
    }
  }
};

class Crash : public ::testing::TestWithParam<CrashCase> {};
INSTANTIATE_TEST_SUITE_P(Acond, Crash, ::testing::ValuesIn(crash_cases()),
                         [](const auto& test) { return case_name(test.param); });

TEST_P(Crash, RestartReplaysAndRetrySucceeds) {
  const CrashCase& c = GetParam();
  Td td;
  Signer p384 = load_signer("p384");
  Layer layer = make_layer(td.dir.path(), "crash");
  auto image = sign(p384, app_manifest({layer.ref}, {}, false));
  const std::string record = "AddManifest " + image.image_id;
  const std::string crash_env = "ACOND_CRASH_AT=" + c.step;

  if (c.rpc != "AddManifest") {  // the image is loaded by an acond that is then stopped cleanly
    AcondChild acond(td.dir.path(), td.args(c.mode));
    ASSERT_NE(acond.port(), 0) << acond.log();
    {
      AcondClient client(acond.target());
      ASSERT_TRUE(client.add_manifest(image).ok()) << acond.log();
    }
    ASSERT_EQ(acond.stop(), 0);
  }
  {
    AcondChild acond(td.dir.path(), td.args(c.mode), {crash_env});
    ASSERT_NE(acond.port(), 0) << acond.log();
    AcondClient client(acond.target());
    ::grpc::Status status = c.rpc == "AddManifest" ? client.add_manifest(image)
                            : c.rpc == "Finalize"  ? client.finalize()
                                                   : client.add_blob(2, layer.tar);
    EXPECT_FALSE(status.ok());
    EXPECT_EQ(acond.wait(), 128 + SIGKILL) << "the crash point was not reached\n" << acond.log();
  }

  AcondChild acond(td.dir.path(), td.args(c.mode));
  ASSERT_NE(acond.port(), 0) << "acond does not restart after the crash\n" << acond.log();
  auto client_channel = std::make_unique<AcondClient>(acond.target());
  AcondClient& client = *client_channel;
  EXPECT_EQ(td.replayed(c.mode), td.rtmr3());
  td.expect_no_staging();

  // Loaded as a whole exactly when the log holds its record.
  acon::grpc::GetManifestResponse stored;
  auto got = client.get_manifest(image.image_id, &stored);
  EXPECT_EQ(got.ok(), td.logged(c.mode, record)) << got.error_message();
  if (got.ok()) {
    EXPECT_EQ(stored.manifest(), image.manifest);
  }
  if (c.rpc != "AddManifest") {
    EXPECT_TRUE(got.ok()) << "the image loaded before the crash is lost";
  }
  acon::grpc::AddManifestResponse added;
  if (c.rpc != "Finalize") {  // a retry (nothing is added once finalized)
    ASSERT_TRUE(client.add_manifest(image, &added).ok()) << acond.log();
    EXPECT_TRUE(td.logged(c.mode, record));
  }

  if (c.rpc == "AddBlob") {
    // The interrupted unpack left nothing under the layer's digest: it is still missing, and a
    // second AddBlob unpacks it.
    ASSERT_EQ(added.missing_layers_size(), 1);
    EXPECT_FALSE(fs::exists(td.state_dir / "contents" / layer.ref));
    ASSERT_TRUE(client.add_blob(2, layer.tar).ok()) << acond.log();
    EXPECT_TRUE(fs::exists(td.state_dir / "contents" / layer.ref / "etc" / "hello"));
    ASSERT_TRUE(client.add_manifest(image, &added).ok());
    EXPECT_EQ(added.missing_layers_size(), 0);
  }
  if (c.rpc == "Finalize") {
    // Finalized exactly when the log says so; a retry finalizes otherwise.
    bool finalized = td.logged(c.mode, "Finalize");
    auto again = client.finalize();
    EXPECT_EQ(again.ok(), !finalized) << again.error_message();
    if (finalized) {
      EXPECT_EQ(again.error_message(), "Manifests finalized");
    }
    EXPECT_TRUE(td.logged(c.mode, "Finalize"));
  }
  EXPECT_EQ(td.replayed(c.mode), td.rtmr3());

  acon::grpc::ReportResponse report;
  ASSERT_TRUE(client.report(0, &report).ok()) << acond.log();
  EXPECT_EQ(report.data().size(), 1024u);
  acon::evidence::EvidenceResponse evidence;
  ASSERT_TRUE(client.get_evidence(7, 8, &evidence).ok()) << acond.log();
  bool coco = c.mode == "coco";
  expect_evidence_verifies(
      td.sim, as_bytes(evidence.report().data()), evidence.report().attestation_data(),
      as_bytes(evidence.firmware_event_log()), coco,
      as_bytes(coco ? evidence.runtime_aael() : evidence.runtime_text_aael()), 7, 8);
  EXPECT_EQ(acond.stop(), 0);
}

TEST(CrashHook, UnknownStepIsRefusedAtStart) {
  Td td;
  AcondChild acond(td.dir.path(), td.args("coco"), {"ACOND_CRASH_AT=after-lunch"});
  EXPECT_EQ(acond.wait(), 2);
  EXPECT_NE(acond.log().find("ACOND_CRASH_AT: unknown step"), std::string::npos) << acond.log();
}

}  // namespace
}  // namespace acon::acond
