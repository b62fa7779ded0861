// acond's in-container IPC from inside a real container: a statically linked probe, written from
// ACON's byte layout alone, calls /shared/acon.sock through Exec; acond knows the caller by its
// uid, keeps SetAttestationData for later reports, substitutes GetReport's data for that report
// only, and binds the JSON it returns into the quote's REPORTDATA.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <thread>

#include "acon/acond/container.h"
#include "acon/acond/ipc.h"
#include "acon/acond/runtime.h"
#include "acon/tdx/quote.h"
#include "container_fixtures.h"

namespace acon::acond {
namespace {

using namespace test_fixtures;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct IpcTd {
  TempDir dir;
  std::string state = (dir.path() / "sim.json").string();
  guest::sim::Simulator sim = create_sim_state(state);
  guest::sim::SimBackend backend{state};
  std::unique_ptr<Runtime> runtime;
  std::unique_ptr<ipc::Server> server;
  Layer layer = probe_layer(dir.path());
  std::string image_id;

  IpcTd() {
    RuntimeOptions options;
    options.state_dir = dir.path() / "acond";
    runtime = must(Runtime::open(backend, options));
    fs::create_directories(dir.path() / "acond" / "shared");
    server = must(ipc::Server::start(
        dir.path() / "acond" / "shared" / "acon.sock",
        [this](uid_t uid, const ipc::Request& request) {
          return runtime->answer_ipc(uid, request);
        },
        [](const std::string&) {}));
    auto image = sign(load_signer("p384"), busybox_manifest(layer, {"/bin/sleep", "1000"}));
    image_id = image.image_id;
    EXPECT_TRUE(runtime->add_manifest(image.manifest, image.signature, image.certificate).ok());
    EXPECT_TRUE(runtime->add_blob(2, layer.tar).ok());
  }
  ~IpcTd() {
    server.reset();
    runtime->containers().stop_all(0ms);
  }
  std::string probe(uint32_t cid, std::vector<std::string> arguments) {
    return run_probe(*runtime, cid, std::move(arguments), 20);
  }
};

std::string line_after(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key, 0) == 0) return line.substr(key.size());
  }
  return "";
}

TEST(InContainerIpc, ContainersAttachDataToReportsBoundIntoTheQuote) {
  ACON_REQUIRE_CONTAINERS();
  IpcTd td;
  auto cid = td.runtime->start(td.image_id, {});
  ASSERT_TRUE(cid.ok()) << cid.error().message;

  EXPECT_EQ(td.probe(*cid, {"set", "2", "db ready"}), "OK\n");

  // GetReport with its own data: that data in this report, the stored one untouched.
  std::string out =
      td.probe(*cid, {"get", "1", "0x99aabbccddeeff00", "0x1122334455667788", "1", "pubkey:abc"});
  const std::string key = "\"" + std::to_string(*cid) + "\":";
  std::string json = line_after(out, "JSON ");
  ASSERT_FALSE(json.empty()) << out;
  EXPECT_NE(json.find(key + R"({"type":1,"data":"pubkey:abc"})"), std::string::npos) << json;
  // nonce[0] is the high half, nonce[1] the low half (ACON's IPC; the reverse of gRPC).
  EXPECT_NE(
      json.find(R"("requestor_nonce":[136,119,102,85,68,51,34,17,0,255,238,221,204,187,170,153])"),
      std::string::npos)
      << json;
  EXPECT_EQ(line_after(out, "LOG "), "github.com/intel/ACON AddManifest " + td.image_id);
  const std::string data_size = line_after(out, "DATA ");
  ASSERT_FALSE(data_size.empty()) << out;

  // The quote binds exactly that JSON. The probe printed only the quote's size, so take the
  // report again through the library's reply parser, from outside, as the same container.
  auto raw = td.runtime->answer_ipc(
      *cid, ipc::GetReportRequest{1, {0x99aabbccddeeff00, 0x1122334455667788}, {1, "pubkey:abc"}});
  ASSERT_TRUE(std::holds_alternative<Bytes>(raw));
  auto reply = must(ipc::parse_reply(std::get<Bytes>(raw)));
  const auto& report = std::get<ipc::GetReportReply>(reply);
  EXPECT_EQ(std::to_string(report.data.size()), data_size);
  auto quote = must(tdx::parse_quote(report.data));
  const Bytes bound = image::attestation_report_data(as_bytes(report.attestation_json));
  EXPECT_TRUE(std::equal(bound.begin(), bound.end(), quote.td_report()->report_data.begin()));

  // A gRPC Report shows what SetAttestationData stored.
  auto grpc = td.runtime->report(1, 2, kRequestTdReport);
  ASSERT_TRUE(grpc.ok());
  EXPECT_NE(grpc->attestation_data.find(key + R"({"type":2,"data":"db ready"})"), std::string::npos)
      << grpc->attestation_data;

  // Type 0 reports {"type":0,"data":""} whatever followed it.
  out = td.probe(*cid, {"get", "0", "1", "2", "0", "ignored"});
  EXPECT_NE(line_after(out, "JSON ").find(key + R"({"type":0,"data":""})"), std::string::npos)
      << out;
}

TEST(InContainerIpc, MalformedRequestsAndStrangersGetErrorReplies) {
  ACON_REQUIRE_CONTAINERS();
  IpcTd td;
  auto cid = td.runtime->start(td.image_id, {});
  ASSERT_TRUE(cid.ok()) << cid.error().message;
  // ACON@3430805 indexes past these or underflows; acond answers and keeps serving.
  EXPECT_EQ(td.probe(*cid, {"raw",
                            "0000000010000000"
                            "0000000000000000"}),
            "ERROR 0 Invalid structure format\n");
  EXPECT_EQ(td.probe(*cid, {"raw",
                            "0200000009000000"
                            "01"}),
            "ERROR 2 Invalid structure format\n");
  EXPECT_EQ(td.probe(*cid, {"raw", "0700000008000000"}), "ERROR 7 Request not supported\n");
  EXPECT_EQ(td.probe(*cid, {"raw", "0000000004000000"}), "ERROR -1 Invalid structure format\n");
  EXPECT_EQ(td.probe(*cid, {"set", "9", "x"}), "ERROR 2 Invalid structure format\n");
  EXPECT_EQ(td.probe(*cid, {"set", "2", "fine"}), "OK\n");

  // A process that is not a container (this test, uid 0) is refused, and changes nothing.
  auto reply =
      ipc::call(td.server->path(), ipc::encode_set_attestation_data_request({{2, "spoofed"}}));
  ASSERT_TRUE(reply.ok()) << reply.error().to_string();
  EXPECT_EQ(std::get<ipc::ErrorReply>(*reply).message, ipc::kInvalidContainerId);
  auto report = td.runtime->report(1, 2, kRequestTdReport);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->attestation_data.find("spoofed"), std::string::npos);
  EXPECT_NE(report->attestation_data.find("fine"), std::string::npos);
}

}  // namespace
}  // namespace acon::acond
