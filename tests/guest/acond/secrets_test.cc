// Secrets for containers (acon's GetSecret IPC command): a container asks acond's in-container
// IPC for a KBS resource; acond attests the simulated TD to a real acon-kbs process with its
// runtime log as part of cc_eventlog, and hands the plaintext to that container. The probe in the
// container is written from the byte layout alone (ipc_probe.cc). The KBS's resource policy
// decides on the images the runtime log shows; refusals reach the container as error replies and
// the KBS audits them; an unreachable or untrusted KBS leaves acond serving.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "acon/acond/client.h"
#include "acon/acond/config.h"
#include "acon/acond/container.h"
#include "acon/acond/ipc.h"
#include "acon/acond/runtime.h"
#include "acon/acond/secrets.h"
#include "acond_process.h"
#include "container_fixtures.h"
#include "kbs/kbs_process.h"

namespace acon::acond {
namespace {

using namespace test_fixtures;
using kbs::testing::KbsServerProcess;
using kbs::testing::slurp_file;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr std::string_view kPassword = "correct horse battery staple";

// The KBS process reads the real clock: the simulated platform's collateral is issued a day ago.
Time issue_time() {
  static const Time issue =
      std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()) - 24h;
  return issue;
}

guest::sim::Simulator make_sim(const std::string& state_path) {
  guest::sim::CreateOptions options;
  options.seed = sha256(as_bytes(std::string_view("acond_secrets_test")));
  options.dates = guest::sim::default_dates(issue_time());
  auto sim = must(guest::sim::Simulator::create(options));
  sim.td().rtmr[3] = {};
  EXPECT_TRUE(guest::sim::save_state(state_path, sim).ok());
  return sim;
}

// The signer digest of an Image ID "sha384/<signer>/<manifest>".
std::string signer_of(const std::string& image_id) {
  auto parts = split(image_id, '/');
  return parts.size() == 3 ? std::string(parts[1]) : std::string();
}

// The KBS's resource policy for this TD, at the default status "affirming": acond sends its
// loaded images with the evidence (acon_images, docs/acond.md "Secrets"), so the KBS's images
// checks run against the runtime log and a TD whose images are all signed and compatible is
// affirmed. The rules release on the images themselves: `pinned/*/*` needs an Image ID,
// everything else the loaded image's signer for every image loaded.
std::string resource_policy(const std::string& signer, const std::string& pinned_image_id) {
  return R"(version = 1
id = "default"
[[rules]]
resources = "pinned/*/*"
effect = "allow"
allow_simulated = true
image_ids = [")" +
         pinned_image_id + R"("]
[[rules]]
resources = "*/*/*"
effect = "allow"
allow_simulated = true
image_signers = [")" +
         signer + R"("]
)";
}

// A simulated TD's state file, the probe image signed, and a real acon-kbs (`acon-kbs init`,
// the simulated root trusted) holding the secret under resource_policy().
struct KbsForTd {
  TempDir dir;
  std::string state = (dir.path() / "sim.json").string();
  guest::sim::Simulator sim = make_sim(state);
  Layer layer = probe_layer(dir.path());
  SignedImage image = sign(load_signer("p384"), busybox_manifest(layer, {"/bin/sleep", "1000"}));
  std::string image_id = image.image_id;
  // An image by another signer that this TD never loads.
  std::string absent_image_id =
      sign(load_signer("p521"), busybox_manifest(layer, {"/bin/sh"})).image_id;
  fs::path kbs_dir = dir.path() / "kbs";
  std::unique_ptr<KbsServerProcess> kbs_server;

  KbsForTd() { start_kbs(); }

  void start_kbs() {
    const fs::path root = dir.path() / "sim-root.pem";
    const fs::path collateral = dir.path() / "collateral.json";
    std::ofstream(root) << sim.root_ca().to_pem();
    std::ofstream(collateral) << sim.collateral_bundle();
    const std::string init = std::string(ACON_KBS_BINARY) + " init '" + kbs_dir.string() +
                             "' --listen 127.0.0.1:0 --simulated-root '" + root.string() +
                             "' --collateral '" + collateral.string() + "' > /dev/null";
    ASSERT_EQ(std::system(init.c_str()), 0);
    kbs_server = std::make_unique<KbsServerProcess>(kbs_dir / "config.toml");
    ASSERT_FALSE(kbs_server->url().empty()) << "acon-kbs did not start";
    auto admin = admin_client();
    ASSERT_TRUE(
        admin.set_attestation_policy(slurp_file(ACON_TEST_DATA "/kbs/sim-attestation.toml")));
    ASSERT_TRUE(admin.set_resource_policy(resource_policy(signer_of(image_id), absent_image_id)));
    ASSERT_TRUE(admin.set_resource("default/db/password", as_bytes(kPassword)));
    ASSERT_TRUE(admin.set_resource("pinned/db/password", as_bytes(std::string_view("by image"))));
  }

  kbs::KbsClient admin_client() const {
    return must(kbs::testing::admin_client(*kbs_server, kbs_dir));
  }

  // acond's [kbs] pointing at the KBS process, trusting the CA `acon-kbs init` wrote.
  KbsConfig kbs_config() const {
    KbsConfig config;
    config.url = kbs_server->url();
    config.ca_file = (kbs_dir / "keys" / "tls-ca.pem").string();
    return config;
  }

  // The KBS's audit records for `resource` (GET decisions, not admin calls).
  std::vector<Json> audited(std::string_view resource) const {
    auto admin = admin_client();
    return kbs::testing::audit_entries(admin, [&](const Json& entry) {
      return entry.value("resource", "") == resource &&
             !entry.value("action", "").starts_with("admin");
    });
  }
};

// The same TD running acond's runtime and IPC server in this process, the image loaded;
// containers on it call the IPC socket with the probe.
struct SecretTd : KbsForTd {
  guest::sim::SimBackend backend{state};
  std::unique_ptr<Runtime> runtime;
  std::unique_ptr<ipc::Server> server;
  std::shared_ptr<SecretBroker> broker;

  SecretTd() {
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
    EXPECT_TRUE(runtime->add_manifest(image.manifest, image.signature, image.certificate).ok());
    EXPECT_TRUE(runtime->add_blob(2, layer.tar).ok());
  }
  ~SecretTd() {
    server.reset();
    runtime->containers().stop_all(0ms);
  }

  void configure(const KbsConfig& config) {
    Runtime* pod = runtime.get();
    broker = std::make_shared<SecretBroker>(
        kbs_client_config(config), pod->kbs_tee(),
        [pod](ByteView report_data) { return pod->kbs_evidence(report_data); },
        [pod] { return pod->runtime_event_count(); });
    runtime->set_secret_broker(broker);
  }

  std::string probe(uint32_t cid, std::vector<std::string> arguments) {
    return run_probe(*runtime, cid, std::move(arguments));
  }
};

TEST(AcondSecrets, ContainerObtainsTheSecretAndTheTokenIsReused) {
  ACON_REQUIRE_CONTAINERS();
  SecretTd td;
  td.configure(td.kbs_config());
  auto cid = td.runtime->start(td.image_id, {});
  ASSERT_TRUE(cid.ok()) << cid.error().message;

  EXPECT_EQ(td.probe(*cid, {"secret", "default/db/password"}),
            "SECRET " + std::string(kPassword) + "\n");
  // The KBS saw the runtime log: its release record names the image acond loaded. With the
  // manifests acond sent (acon_images) the TD is affirmed, as the default rule status requires.
  auto records = td.audited("default/db/password");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].value("outcome", ""), "release");
  EXPECT_EQ(records[0].value("ear_status", ""), "affirming") << records[0].dump();
  EXPECT_NE(records[0]["image_ids"].dump().find(td.image_id), std::string::npos)
      << records[0].dump();

  // A second container asks too: the token of the first RCAR serves it.
  auto second = td.runtime->start(td.image_id, {});
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(td.probe(*second, {"secret", "default/db/password"}),
            "SECRET " + std::string(kPassword) + "\n");
  EXPECT_EQ(td.broker->attestations(), 1u);

  // An image by a signer the policy does not list joins the runtime log: the next request
  // attests again, with the longer log, and the KBS refuses this TD from now on.
  auto other = sign(load_signer("p256"), busybox_manifest(td.layer, {"/bin/sleep", "1000"}));
  ASSERT_TRUE(td.runtime->add_manifest(other.manifest, other.signature, other.certificate).ok());
  const std::string refused = td.probe(*cid, {"secret", "default/db/password"});
  EXPECT_TRUE(refused.starts_with("ERROR 4 KBS: ")) << refused;
  EXPECT_NE(refused.find("PolicyDeny"), std::string::npos) << refused;
  EXPECT_EQ(refused.find(kPassword), std::string::npos);
  EXPECT_EQ(td.broker->attestations(), 2u);
  records = td.audited("default/db/password");
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[2].value("outcome", ""), "deny") << records[2].dump();
  EXPECT_NE(records[2]["image_ids"].dump().find(other.image_id), std::string::npos)
      << records[2].dump();
}

TEST(AcondSecrets, PolicyOnImagesTheRuntimeLogShows) {
  ACON_REQUIRE_CONTAINERS();
  SecretTd td;
  ASSERT_TRUE(td.admin_client().set_resource("signed/db/password",
                                             as_bytes(std::string_view("by signer"))));
  td.configure(td.kbs_config());
  auto cid = td.runtime->start(td.image_id, {});
  ASSERT_TRUE(cid.ok()) << cid.error().message;

  // The signer of the loaded image is required and shown: released.
  EXPECT_EQ(td.probe(*cid, {"secret", "signed/db/password"}), "SECRET by signer\n");
  // An Image ID the log does not show is required: refused, to the container and in the audit.
  const std::string refused = td.probe(*cid, {"secret", "pinned/db/password"});
  EXPECT_TRUE(refused.starts_with("ERROR 4 KBS: ")) << refused;
  EXPECT_NE(refused.find("PolicyDeny"), std::string::npos) << refused;
  EXPECT_EQ(refused.find("by image"), std::string::npos);
  auto records = td.audited("pinned/db/password");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].value("outcome", ""), "deny") << records[0].dump();
  EXPECT_EQ(records[0].value("policy_rule", ""), "rules[1]") << records[0].dump();
  // A missing resource is the KBS's 404, told as such.
  const std::string missing = td.probe(*cid, {"secret", "default/db/nothing"});
  EXPECT_TRUE(missing.starts_with("ERROR 4 KBS: ")) << missing;
  EXPECT_NE(missing.find("404"), std::string::npos) << missing;
  // One RCAR for all three: a policy refusal does not re-attest.
  EXPECT_EQ(td.broker->attestations(), 1u);
}

TEST(AcondSecrets, UnreachableOrUntrustedKbsIsAnErrorReplyAndAcondKeepsServing) {
  ACON_REQUIRE_CONTAINERS();
  SecretTd td;
  auto cid = td.runtime->start(td.image_id, {});
  ASSERT_TRUE(cid.ok()) << cid.error().message;

  EXPECT_EQ(td.probe(*cid, {"secret", "default/db/password"}), "ERROR 4 KBS not configured\n");

  // Untrusted: the KBS's certificate does not chain to the configured anchor (the simulated
  // platform's root, a real CA that did not issue it).
  KbsConfig untrusted = td.kbs_config();
  untrusted.ca_file = (td.dir.path() / "sim-root.pem").string();
  td.configure(untrusted);
  std::string out = td.probe(*cid, {"secret", "default/db/password"});
  EXPECT_TRUE(out.starts_with("ERROR 4 KBS: ")) << out;
  EXPECT_EQ(out.find(kPassword), std::string::npos);

  // Unreachable: the KBS process is gone.
  KbsConfig gone = td.kbs_config();
  td.kbs_server.reset();
  td.configure(gone);
  out = td.probe(*cid, {"secret", "default/db/password"});
  EXPECT_TRUE(out.starts_with("ERROR 4 KBS: ")) << out;

  // acond still answers: a report, and a malformed secret request.
  EXPECT_EQ(td.probe(*cid, {"set", "2", "still here"}), "OK\n");
  EXPECT_EQ(td.probe(*cid, {"secret", "a/../b"}), "ERROR 4 Invalid structure format\n");
  EXPECT_EQ(td.probe(*cid, {"secret", "only/two"}), "ERROR 4 Invalid structure format\n");
  EXPECT_EQ(td.probe(*cid, {"raw", "0400000008000000"}), "ERROR 4 Invalid structure format\n");
}

TEST(AcondSecrets, OnlyContainersMayAsk) {
  SecretTd td;
  td.configure(td.kbs_config());
  // This test process is no container: refused before any KBS exchange.
  auto reply =
      ipc::call(td.server->path(), ipc::encode_get_secret_request({"default/db/password"}));
  ASSERT_TRUE(reply.ok()) << reply.error().to_string();
  const auto* error = std::get_if<ipc::ErrorReply>(&*reply);
  ASSERT_NE(error, nullptr);
  EXPECT_EQ(error->request_command, ipc::kGetSecret);
  EXPECT_EQ(error->message, ipc::kInvalidContainerId);
  EXPECT_EQ(td.broker->attestations(), 0u);
}

// Without containers (no root or user namespaces), the broker against the real KBS still runs:
// the evidence acond builds (quote + CCEL + runtime records) is appraised affirming and the
// resource released.
TEST(AcondSecrets, BrokerReleasesWithTheRuntimeLogAsEvidence) {
  SecretTd td;
  td.configure(td.kbs_config());
  auto secret = td.broker->fetch("default/db/password");
  ASSERT_TRUE(secret) << secret.error().to_string();
  EXPECT_EQ(std::string(secret->begin(), secret->end()), kPassword);
  auto again = td.broker->fetch("default/db/password");
  ASSERT_TRUE(again) << again.error().to_string();
  EXPECT_EQ(td.broker->attestations(), 1u);
  auto records = td.audited("default/db/password");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_NE(records[0]["image_ids"].dump().find(td.image_id), std::string::npos)
      << records[0].dump();
}

// cc_eventlog carries TCG2 records: acond's text log (log_mode acon) cannot go to a KBS, and
// acond says so rather than send evidence the KBS cannot replay.
TEST(AcondSecrets, EvidenceNeedsTheCocoLog) {
  TempDir dir;
  const std::string state = (dir.path() / "sim.json").string();
  auto sim = make_sim(state);
  guest::sim::SimBackend backend{state};
  RuntimeOptions options;
  options.state_dir = dir.path() / "acond";
  options.log_mode = LogMode::acon;
  auto runtime = must(Runtime::open(backend, options));
  auto evidence = runtime->kbs_evidence(Bytes(64, 0));
  ASSERT_FALSE(evidence);
  EXPECT_EQ(evidence.error().code, Errc::unsupported);
  EXPECT_NE(evidence.error().message.find("log_mode coco"), std::string::npos)
      << evidence.error().message;
}

// The acond executable as an operator runs it: [kbs] in its configuration file, the image
// loaded and the container started over gRPC; the container obtains the secret, and acond's log
// records the request but not the plaintext.
TEST(AcondSecrets, RealAcondWithKbsInItsConfiguration) {
  ACON_REQUIRE_CONTAINERS();
  KbsForTd td;
  const KbsConfig kbs = td.kbs_config();
  std::ofstream(td.dir.path() / "acond.toml")
      << "[kbs]\nurl = \"" << kbs.url << "\"\nca_file = \"" << *kbs.ca_file << "\"\n";
  AcondChild acond(td.dir.path(), {"--backend", "sim", "--sim-state", "sim.json", "--state-dir",
                                   "st", "--tcp-address", "127.0.0.1", "--tcp-port", "0",
                                   "--stop-grace", "0", "--config", "acond.toml"});
  ASSERT_NE(acond.port(), 0) << acond.log();
  EXPECT_NE(acond.log().find(" kbs=" + kbs.url + " "), std::string::npos) << acond.log();
  ClientOptions options;
  options.target = acond.target();
  auto client = must(Client::connect(options));
  ASSERT_TRUE(client.add_manifest(td.image.manifest, td.image.signature, td.image.certificate));
  ASSERT_TRUE(client.add_blob(2, td.layer.tar));
  const uint32_t cid = must(client.start(td.image_id, {}));
  ExecCommand exec;
  exec.container_id = cid;
  exec.command = "Probe";
  exec.arguments = {"secret", "default/db/password"};
  exec.timeout_seconds = 60;
  auto output = must(client.exec(exec));
  EXPECT_EQ(to_string(output.stdout_bytes), "SECRET " + std::string(kPassword) + "\n")
      << to_string(output.stderr_bytes) << acond.log();
  EXPECT_EQ(acond.stop(), 0);
  const std::string log = acond.log();
  EXPECT_NE(log.find("acond event=ipc uid=" + std::to_string(cid) + " command=4"),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find(kPassword), std::string::npos) << log;
  // Nothing under acond's state directory holds the plaintext either.
  for (const auto& entry : fs::recursive_directory_iterator(td.dir.path() / "st")) {
    if (!entry.is_regular_file() || entry.is_symlink()) continue;
    EXPECT_EQ(read_text(entry.path()).find(kPassword), std::string::npos) << entry.path();
  }
  ASSERT_EQ(td.audited("default/db/password").size(), 1u);
}

}  // namespace
}  // namespace acon::acond
