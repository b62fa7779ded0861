// A real acond process on the simulated TD, driven over gRPC: by our own C++ client (TCP and the
// Unix socket), and by Intel's aconcli (ACON 3430805) when ACON_ACONCLI names it.
#include <arpa/inet.h>
#include <grpcpp/create_channel_posix.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/server_posix.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "acon.grpc.pb.h"
#include "acon/acond/client.h"
#include "acon/acond/grpc_service.h"
#include "acon/acond/listener.h"
#include "acon/acond/runtime.h"
#include "acon/image/attestation_data.h"
#include "acon_evidence.grpc.pb.h"
#include "acond_fixtures.h"
#include "acond_process.h"
#include "container_fixtures.h"

namespace acon::acond {
namespace {

using namespace test_fixtures;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

// acond on the simulator in `dir` (relative --state-dir, as an operator would start it), on a
// free loopback TCP port unless `extra` names one; its stderr in dir/acond.log.
class AcondProcess : public AcondChild {
 public:
  AcondProcess(const fs::path& dir, std::vector<std::string> extra, std::string program = "",
               std::vector<std::string> env = {})
      : AcondChild(dir, simulator_args(std::move(extra)), std::move(env), std::move(program)) {}

 private:
  static std::vector<std::string> simulator_args(std::vector<std::string> extra) {
    std::vector<std::string> args = {"--backend",   "sim", "--sim-state",   "sim.json",
                                     "--state-dir", "st",  "--tcp-address", "127.0.0.1"};
    if (std::find(extra.begin(), extra.end(), "--tcp-port") == extra.end()) {
      args.insert(args.end(), {"--tcp-port", "0"});
    }
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
};

using Client = AcondClient;

struct Session {
  TempDir dir;
  guest::sim::Simulator sim = create_sim_state((dir.path() / "sim.json").string());
};

class ProcessLogModes : public ::testing::TestWithParam<std::string> {};
INSTANTIATE_TEST_SUITE_P(Acond, ProcessLogModes, ::testing::Values("coco", "acon"),
                         [](const auto& mode) { return mode.param; });

TEST_P(ProcessLogModes, LoadsMeasuresAndReportsOverTcp) {
  Session session;
  AcondProcess acond(session.dir.path(), {"--log-mode", GetParam()});
  ASSERT_NE(acond.port(), 0) << acond.log();
  Client client(acond.target());
  Signer p384 = load_signer("p384");
  Signer p521 = load_signer("p521");
  Layer layer = make_layer(session.dir.path(), "process");
  auto a = sign(p384, app_manifest({layer.ref}, {p384.rule_prefix + "*"}, true));
  auto b = sign(p384, app_manifest({}, {}, false));
  auto c = sign(p521, app_manifest({}, {}, false));

  acon::grpc::AddManifestResponse added;
  ASSERT_TRUE(client.add_manifest(a, &added).ok()) << acond.log();
  EXPECT_EQ(added.image_id(), a.image_id);
  ASSERT_EQ(added.missing_layers_size(), 1);
  EXPECT_EQ(added.missing_layers(0), layer.ref);
  ASSERT_TRUE(client.add_blob(2, layer.tar).ok()) << acond.log();
  auto unreferenced = client.add_blob(2, make_layer(session.dir.path(), "stray").tar);
  EXPECT_EQ(unreferenced.error_code(), ::grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(unreferenced.error_message(), "No referencing manifest");
  acon::grpc::AddManifestResponse again;
  ASSERT_TRUE(client.add_manifest(a, &again).ok());
  EXPECT_EQ(again.missing_layers_size(), 0);  // the layer link resolves now
  ASSERT_TRUE(client.add_manifest(b, &added).ok());
  auto refused = client.add_manifest(c, &added);
  EXPECT_EQ(refused.error_code(), ::grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(refused.error_message(), "Incompatible polices");
  ASSERT_TRUE(client.finalize().ok());
  auto twice = client.finalize();
  EXPECT_EQ(twice.error_code(), ::grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(twice.error_message(), "Manifests finalized");

  {  // Start checks the image first (containers themselves: container_test.cc, Aconcli below).
    acon::grpc::StartRequest request;
    request.set_image_id("sha384/00/11");
    acon::grpc::StartResponse reply;
    ::grpc::ClientContext context;
    auto status = client.acon->Start(&context, request, &reply);
    EXPECT_EQ(status.error_code(), ::grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(status.error_message(), "Invalid Image ID");
  }
  {  // ACON's Report: mrlog 0..3, attestation_data naming both images.
    acon::grpc::ReportRequest request;
    request.set_nonce_lo(5);
    request.set_nonce_hi(6);
    request.set_request_type(0);
    acon::grpc::ReportResponse reply;
    ::grpc::ClientContext context;
    ASSERT_TRUE(client.acon->Report(&context, request, &reply).ok());
    EXPECT_EQ(reply.data().size(), 1024u);
    EXPECT_EQ(reply.mrlog().size(), 4u);
    EXPECT_EQ(reply.mrlog().at(3).logs_size(), GetParam() == "coco" ? 3 : 4);
    EXPECT_NE(reply.attestation_data().find(b.image_id), std::string::npos);
  }
  // Our evidence: the quote verifies and the CCEL plus the runtime log replay to RTMR0..3.
  acon::grpc::ReportRequest request;
  request.set_nonce_lo(0xabc);
  request.set_nonce_hi(0xdef);
  request.set_request_type(1);
  acon::evidence::EvidenceResponse evidence;
  ::grpc::ClientContext context;
  ASSERT_TRUE(client.evidence->Evidence(&context, request, &evidence).ok()) << acond.log();
  EXPECT_EQ(evidence.backend(), "sim");
  EXPECT_EQ(evidence.log_mode(), GetParam());
  bool coco = GetParam() == "coco";
  const std::string& runtime_log = coco ? evidence.runtime_aael() : evidence.runtime_text_aael();
  expect_evidence_verifies(
      session.sim, as_bytes(evidence.report().data()), evidence.report().attestation_data(),
      as_bytes(evidence.firmware_event_log()), coco, as_bytes(runtime_log), 0xabc, 0xdef);

  EXPECT_EQ(acond.stop(), 0);
  std::string log = acond.log();
  EXPECT_NE(log.find("event=stopped"), std::string::npos) << log;
  EXPECT_NE(log.find("rpc=AddManifest code=7"), std::string::npos) << log;
}

TEST(AcondProcess, UnixSocketAndMessageLimit) {
  Session session;
  fs::path socket = session.dir.path() / "acond.sock";
  AcondProcess acond(session.dir.path(), {"--unix", socket.string(), "--max-message", "1048576"});
  ASSERT_NE(acond.port(), 0) << acond.log();
  Client client("unix:" + socket.string());
  Signer p384 = load_signer("p384");
  Bytes big(2 << 20, 'x');
  std::string ref = "sha384/" + hex_encode(sha384(big));
  auto image = sign(p384, app_manifest({ref}, {}, false));
  acon::grpc::AddManifestResponse added;
  ASSERT_TRUE(client.add_manifest(image, &added).ok()) << acond.log();
  EXPECT_EQ(added.image_id(), image.image_id);
  // Above --max-message: refused by gRPC before acond sees it.
  EXPECT_EQ(client.add_blob(2, big).error_code(), ::grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(acond.stop(), 0);
}

// AF_VSOCK: acond accepts vsock connections itself and hands each to gRPC; acon-client's library
// connects over vsock the same way. Runs where the kernel offers the loopback transport
// (vsock_loopback); elsewhere it says why it skipped.
TEST(AcondProcess, ServesOverVsockLoopback) {
  const uint32_t probe_port = 40000 + static_cast<uint32_t>(::getpid() % 10000);
  if (auto listener = vsock_listen(probe_port); !listener) {
    GTEST_SKIP() << "no AF_VSOCK here: " << listener.error().to_string();
  }
  // acond listens on vsock wherever AF_VSOCK exists, loopback transport or not.
  Session session;
  const uint32_t port = probe_port + 1;
  AcondProcess acond(session.dir.path(), {"--vsock-port", std::to_string(port)});
  ASSERT_NE(acond.port(), 0) << acond.log();
  EXPECT_NE(acond.log().find("vsock_port=" + std::to_string(port)), std::string::npos);
  {
    auto listener = vsock_listen(probe_port);
    ASSERT_TRUE(listener) << listener.error().to_string();
    auto probe = vsock_connect(kVsockLoopbackCid, probe_port, 2000);
    if (!probe) {
      GTEST_SKIP() << "the kernel offers no vsock loopback (vsock_loopback): "
                   << probe.error().to_string();
    }
  }
  ClientOptions options;
  options.target = "vsock://" + std::to_string(kVsockLoopbackCid) + ":" + std::to_string(port);
  auto client = acon::acond::Client::connect(options);
  ASSERT_TRUE(client) << client.error().to_string();
  Signer p384 = load_signer("p384");
  auto image = sign(p384, app_manifest({}, {}, false));
  auto added = client->add_manifest(image.manifest, image.signature, image.certificate);
  ASSERT_TRUE(added) << added.error().to_string() << acond.log();
  EXPECT_EQ(added->image_id, image.image_id);
  auto report = client->report(1, 2, kRequestTdReport);
  ASSERT_TRUE(report) << report.error().to_string();
  EXPECT_EQ(report->data.size(), 1024u);
  EXPECT_EQ(acond.stop(), 0);
}

// The hand-off itself, which the vsock listener relies on, over a socket pair (runs everywhere):
// a connected socket given to a gRPC server with no listening port serves AconService.
TEST(AcondTransport, ConnectedSocketHandedToGrpc) {
  Session session;
  guest::sim::SimBackend backend((session.dir.path() / "sim.json").string());
  RuntimeOptions options;
  options.state_dir = session.dir.path() / "st";
  auto runtime = Runtime::open(backend, options);
  ASSERT_TRUE(runtime) << runtime.error().to_string();
  AconServiceImpl service(**runtime, [](const std::string&) {});
  ::grpc::ServerBuilder builder;
  builder.RegisterService(&service);
  std::unique_ptr<::grpc::Server> server = builder.BuildAndStart();
  ASSERT_TRUE(server);
  int fds[2];
  // gRPC's posix endpoints expect non-blocking sockets, as the vsock listener hands them over.
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds), 0);
  ::grpc::AddInsecureChannelFromFd(server.get(), fds[0]);
  auto channel = ::grpc::CreateCustomInsecureChannelFromFd("acond", fds[1], {});
  auto stub = acon::grpc::AconService::NewStub(channel);
  acon::grpc::ReportRequest request;
  acon::grpc::ReportResponse reply;
  ::grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 10s);
  auto status = stub->Report(&context, request, &reply);
  EXPECT_EQ(status.error_code(), ::grpc::StatusCode::UNKNOWN);
  EXPECT_EQ(status.error_message(), "No images in current TD");
  server->Shutdown();
}

// SIGTERM: containers get SIGTERM, then SIGKILL after --stop-grace; acond exits 0 and leaves no
// container process or mount behind.
TEST(AcondProcess, SigtermStopsContainers) {
  ACON_REQUIRE_CONTAINERS();
  Session session;
  AcondProcess acond(session.dir.path(), {"--stop-grace", "1"});
  ASSERT_NE(acond.port(), 0) << acond.log();
  Client client(acond.target());
  Signer p384 = load_signer("p384");
  Layer layer = busybox_layer(session.dir.path());
  auto polite = busybox_manifest(
      layer, {"/bin/sh", "-c", "trap 'echo got TERM; exit 5' TERM; echo ready; sleep 4241 & wait"});
  auto stubborn = busybox_manifest(layer, {"/bin/sleep", "4242"});
  for (const auto& manifest : {polite, stubborn}) {
    auto image = sign(p384, manifest);
    acon::grpc::AddManifestResponse added;
    ASSERT_TRUE(client.add_manifest(image, &added).ok()) << acond.log();
    if (added.missing_layers_size() > 0) {
      ASSERT_TRUE(client.add_blob(2, layer.tar).ok());
    }
    acon::grpc::StartRequest request;
    request.set_image_id(image.image_id);
    acon::grpc::StartResponse reply;
    ::grpc::ClientContext context;
    ASSERT_TRUE(client.acon->Start(&context, request, &reply).ok()) << acond.log();
  }
  // The shell is its PID namespace's init: a SIGTERM before its trap is set would be dropped.
  const fs::path console = session.dir.path() / "st/containers/2/console.log";
  ASSERT_TRUE(wait_for_text(console, "ready\n")) << acond.log();
  EXPECT_EQ(acond.stop(), 0);
  EXPECT_NE(acond.log().find("event=stopped"), std::string::npos) << acond.log();
  EXPECT_EQ(read_text(console), "ready\ngot TERM\n");
  // No process of either container is left, and no mount under the state directory.
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::string cmdline = read_text(entry.path() / "cmdline");
    EXPECT_EQ(cmdline.find("sleep\0"
                           "424",
                           0, 9),
              std::string::npos)
        << entry.path();
  }
  EXPECT_EQ(read_text("/proc/self/mountinfo").find(session.dir.path().string()), std::string::npos);
}

// ---- Intel's aconcli ----

struct CommandResult {
  int status = -1;
  std::string output;
};

CommandResult run_command(const std::string& command) {
  CommandResult out;
  std::FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return out;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.output.append(buffer, n);
  int status = ::pclose(pipe);
  out.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

// A TCP port that is free now: aconcli's `status` needs the target in acond's environment, so
// the port is chosen before acond starts.
int free_tcp_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) == 0) {
    port = ntohs(address.sin_port);
  }
  ::close(fd);
  return port;
}

void write_bytes(const fs::path& path, const Bytes& data) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

std::string manifest_json(const std::string& layer, const std::string& entrypoint,
                          const std::string& rest) {
  return R"({"aconSpecVersion":[1,0],"layers":[")" + layer + R"("],"aliases":{},"entrypoint":)" +
         entrypoint + R"(,"workingDir":"/","uids":[],"logFDs":[],"noRestart":false,)" + rest +
         R"(,"policy":{"accepts":[],"rejectUnaccepted":false}})";
}

// One operator session with Intel's aconcli (ACON 3430805) against a real acond: two images
// (the first with --finalize=false), invoke, kill, restart, status, stop, report, shutdown.
TEST(Aconcli, DrivesContainersAgainstARealAcond) {
  const char* aconcli = std::getenv("ACON_ACONCLI");
  if (aconcli == nullptr) {
    std::printf("SKIP: ACON_ACONCLI is unset; set it to Intel's aconcli (ACON 3430805)\n");
    GTEST_SKIP() << "ACON_ACONCLI is unset; set it to Intel's aconcli (ACON 3430805)";
  }
  // Named but missing is a broken set-up, not a reason to skip: the run would look covered.
  ASSERT_EQ(::access(aconcli, X_OK), 0) << "ACON_ACONCLI=" << aconcli << " is not an executable";
  ACON_REQUIRE_CONTAINERS();
  Session session;
  // `aconcli status` looks for VMs: processes whose /proc/<pid>/comm starts with "aconvm-", with
  // the target in their environment as __ACONVM. acond runs under such a name here.
  fs::path program = session.dir.path() / "aconvm-acond";
  fs::create_symlink(ACOND_BINARY, program);
  int port = free_tcp_port();
  ASSERT_NE(port, 0);
  std::string target = "tcp://127.0.0.1:" + std::to_string(port);
  AcondProcess acond(session.dir.path(), {"--tcp-port", std::to_string(port)}, program.string(),
                     {"__ACONVM=" + target});
  ASSERT_EQ(acond.port(), port) << acond.log();
  fs::path repo = session.dir.path() / "repo";
  fs::create_directories(repo);
  std::string cli = "cd '" + repo.string() + "' && '" + std::string(aconcli) + "'";
  auto init = run_command(cli + " init .");
  ASSERT_EQ(init.status, 0) << init.output;
  fs::create_directories(repo / ".acon" / "blobs" / "sha384");

  // Two images on one busybox layer, signed with `aconcli sign`: "other" sleeps (SIGKILL only);
  // "app" is a shell that exits on SIGTERM, with an env allow-list and a writable root.
  Layer layer = busybox_layer(session.dir.path());
  write_bytes(repo / ".acon" / "blobs" / "sha384" / (layer.ref.substr(7) + ".tar"), layer.tar);
  std::ofstream(repo / "other.json")
      << manifest_json(layer.ref, R"(["/bin/sleep","1000"])",
                       R"("env":[],"writableFS":false,"signals":[9],"maxInstances":1)");
  std::ofstream(repo / "app.json") << manifest_json(
      layer.ref,
      R"(["/bin/sh","-c","trap 'exit 0' TERM; echo \"mode=$MODE\" >> /mode; sleep 1000 & wait"])",
      R"("env":["MODE=a","MODE=b"],"writableFS":true,"signals":[-15,9],"maxInstances":2)");
  fs::copy_file(fs::path(ACON_TEST_DATA) / "acon/certs/p384.cert.der", repo / "signer.cer");
  fs::copy_file(fs::path(ACON_TEST_DATA) / "acon/certs/p384.key.pem", repo / "signer.pem");
  for (const char* manifest : {"other.json", "app.json"}) {
    auto signed_run = run_command(cli + " sign -c signer.cer -k signer.pem " + manifest);
    ASSERT_EQ(signed_run.status, 0) << signed_run.output;
  }

  // `run --finalize=false`: AddManifest, AddBlob, Start; then `run` of the second image also
  // finalizes.
  auto first = run_command(cli + " run -c " + target + " --finalize=false other.json");
  ASSERT_EQ(first.status, 0) << first.output;
  EXPECT_NE(first.output.find("Added File System Layer: " + layer.ref), std::string::npos)
      << first.output;
  EXPECT_NE(first.output.find("Started ACON Instance, ID: 2"), std::string::npos) << first.output;
  auto second = run_command(cli + " run -c " + target + " --env MODE=b app.json");
  ASSERT_EQ(second.status, 0) << second.output;
  EXPECT_NE(second.output.find("Finalized to load images"), std::string::npos) << second.output;
  EXPECT_NE(second.output.find("Started ACON Instance, ID: 3"), std::string::npos) << second.output;
  fs::path upper = session.dir.path() / "st" / "containers" / "3" / "upper";
  // The shell appends its mode line once its SIGTERM trap is set (as its namespace's init, it
  // would drop a SIGTERM that came before).
  EXPECT_TRUE(wait_for_text(upper / "mode", "mode=b\n"));
  EXPECT_EQ(read_text(upper / "mode"), "mode=b\n");

  // invoke: Exec of an entrypoint.d command; an escaping path is refused.
  auto invoked = run_command(cli + " invoke -c " + target + " -e 3 Hello world");
  EXPECT_EQ(invoked.status, 0) << invoked.output;
  EXPECT_NE(invoked.output.find("hello world \n"), std::string::npos) << invoked.output;
  auto escape = run_command(cli + " invoke -c " + target + " -e 3 Sub/../../../bin/sh");
  EXPECT_NE(escape.status, 0);
  EXPECT_NE(escape.output.find("code = InvalidArgument desc = Private entry point"),
            std::string::npos)
      << escape.output;

  // kill: only a listed signal.
  auto refused = run_command(cli + " kill -c " + target + " -e 2 -- 15");
  EXPECT_NE(refused.status, 0);
  EXPECT_NE(refused.output.find("code = PermissionDenied desc = Signal not allowed"),
            std::string::npos)
      << refused.output;
  auto killed = run_command(cli + " kill -c " + target + " -e 2 -- 9");
  EXPECT_EQ(killed.status, 0) << killed.output;

  // restart: signals[0] = -15 to the process group, wait, start again with the same ID.
  auto restarted = run_command(cli + " restart -c " + target + " -e 3");
  EXPECT_EQ(restarted.status, 0) << restarted.output;
  // The same environment again, on the same writable root.
  EXPECT_TRUE(wait_for_text(upper / "mode", "mode=b\nmode=b\n")) << read_text(upper / "mode");

  // status: Inspect(0) through the process found by name.
  auto status = run_command(cli + " status");
  EXPECT_EQ(status.status, 0) << status.output;
  EXPECT_NE(status.output.find("Total 2 ACON container(s) in VM " + target), std::string::npos)
      << status.output;
  EXPECT_NE(status.output.find("Instance ID:\t\t2\n\tInstance state:\t\tTerminated\n"
                               "\tInstance wstatus:\t9\n"),
            std::string::npos)
      << status.output;
  EXPECT_NE(status.output.find("Instance ID:\t\t3\n\tInstance state:\t\t"), std::string::npos)
      << status.output;
  EXPECT_NE(status.output.find("Instance exe path:\tsh[/bin/busybox]"), std::string::npos)
      << status.output;

  // stop: Exec "Stop" (SIGTERM to PID 1, which the shell traps); the container exits with 0.
  auto stopped = run_command(cli + " stop " + target + " 3");
  EXPECT_EQ(stopped.status, 0) << stopped.output;
  bool exited = false;
  for (int i = 0; i < 400 && !exited; ++i) {
    auto again = run_command(cli + " status");
    exited = again.output.find(
                 "Instance ID:\t\t3\n\tInstance state:\t\tTerminated\n"
                 "\tInstance wstatus:\t0\n") != std::string::npos;
    if (!exited) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(exited);

  // report: the TDREPORT binds attestation_data, which lists both containers.
  fs::path report = session.dir.path() / "report.bin";
  auto reported =
      run_command(cli + " report -c " + target + " -f '" + report.string() + "' 0x10 0x20");
  ASSERT_EQ(reported.status, 0) << reported.output;
  EXPECT_NE(reported.output.find("github.com/intel/ACON AddManifest sha384/"), std::string::npos)
      << reported.output;
  EXPECT_NE(reported.output.find(R"("requestor_nonce":[16,0,0,0,0,0,0,0,32,0,0,0,0,0,0,0])"),
            std::string::npos)
      << reported.output;
  EXPECT_NE(reported.output.find(R"(":{"2":{}})"), std::string::npos) << reported.output;
  EXPECT_NE(reported.output.find(R"(":{"3":{}})"), std::string::npos) << reported.output;
  Bytes tdreport = to_bytes(read_text(report));
  ASSERT_EQ(tdreport.size(), 1024u);
  EXPECT_TRUE(session.sim.verify_td_report(tdreport).ok());
  auto json_at = reported.output.find(R"({"api_version")");
  ASSERT_NE(json_at, std::string::npos);
  std::string json = reported.output.substr(json_at, reported.output.find('\n', json_at) - json_at);
  auto report_data = image::attestation_report_data(as_bytes(json));
  EXPECT_TRUE(std::equal(report_data.begin(), report_data.end(), tdreport.begin() + 128));

  // The TD is finalized: a further image is refused as ACON refuses it.
  auto after = run_command(cli + " run -c " + target + " app.json");
  EXPECT_NE(after.status, 0);
  EXPECT_NE(after.output.find("code = PermissionDenied desc = Manifests finalized"),
            std::string::npos)
      << after.output;
  // shutdown: Inspect(0), then stop for each container, exited ones included (both are now).
  auto shutdown = run_command(cli + " shutdown " + target);
  EXPECT_NE(shutdown.output.find("cannot invoke 'Stop': rpc error: code = Unknown desc = "
                                 "Container terminated"),
            std::string::npos)
      << shutdown.output;
  std::string log = acond.log();
  EXPECT_NE(log.find("rpc=Exec code=0 us="), std::string::npos) << log;
  EXPECT_NE(log.find("rpc=Restart code=0 us="), std::string::npos) << log;
  EXPECT_EQ(acond.stop(), 0);
  EXPECT_NE(acond.log().find("event=stopped"), std::string::npos);
}

}  // namespace
}  // namespace acon::acond
