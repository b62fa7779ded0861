// GetSecret on the vTPM backend: acond's runtime on a real swtpm attests to a real acon-kbs
// process (the AK `acon-kbs-client tpm-ak --acond` prints, pinned with `acon-kbs init --ak`) with
// CoCo's TPM evidence (tee "tpm") plus acon's extension members: the firmware's TCG2 log, the
// runtime records measured into the runtime PCR and the loaded images. The KBS replays the logs
// against the quoted PCRs and runs the images checks, so a resource policy on image signers decides
// for `tpm` as for `tdx`. The refusals: a policy that requires another signer (PolicyDeny,
// audited), a runtime log with one byte changed and an AK the KBS does not pin (both 401 at
// /attest, audited, nothing released).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "acon/acond/container.h"
#include "acon/acond/ipc.h"
#include "acon/acond/runtime.h"
#include "acon/acond/secrets.h"
#include "acon/appraisal/evidence.h"
#include "acon/common/keys.h"
#include "acon/eventlog/runtime.h"
#include "acon/guest/vtpm.h"
#include "acon/tpm/quote.h"
#include "container_fixtures.h"
#include "guest/vtpm/swtpm_process.h"
#include "kbs/kbs_process.h"

namespace acon::acond {
namespace {

using namespace test_fixtures;
using kbs::testing::KbsServerProcess;
using kbs::testing::slurp_file;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr std::string_view kPassword = "vtpm secret";

// The signer digest of an Image ID "sha384/<signer>/<manifest>".
std::string signer_of(const std::string& image_id) {
  auto parts = split(image_id, '/');
  return parts.size() == 3 ? std::string(parts[1]) : std::string();
}

// TPM evidence is affirming when the quote verifies with a pinned AK and is bound to the
// session; the resources are released on the images the replayed runtime log shows.
const std::string kAttestationPolicy = slurp_file(ACON_TEST_DATA "/kbs/tpm-acond-attestation.toml");

std::string resource_policy(const std::string& signer, const std::string& other_signer) {
  return R"(version = 1
id = "default"
[[rules]]
resources = "other/*/*"
effect = "allow"
status = "affirming"
image_signers = [")" +
         other_signer + R"("]
[[rules]]
resources = "*/*/*"
effect = "allow"
status = "affirming"
image_signers = [")" +
         signer + R"("]
)";
}

// A swtpm with acond's runtime on it (the vTPM backend as `acond --backend vtpm` opens it, a
// firmware log with only its Spec ID header since no firmware runs in front of this swtpm), the
// probe image loaded, and a real acon-kbs that pins `pinned_ak` (the swtpm's own AK by default).
struct VtpmSecretPod {
  TempDir dir;
  test::SwtpmProcess swtpm;
  std::unique_ptr<guest::VtpmBackend> backend;
  std::string ak_pem;
  Layer layer = probe_layer(dir.path());
  SignedImage image = sign(load_signer("p384"), busybox_manifest(layer, {"/bin/sleep", "1000"}));
  std::string other_signer =
      signer_of(sign(load_signer("p521"), busybox_manifest(layer, {"/bin/sh"})).image_id);
  std::unique_ptr<Runtime> runtime;
  std::unique_ptr<ipc::Server> server;
  fs::path kbs_dir = dir.path() / "kbs";
  std::unique_ptr<KbsServerProcess> kbs_server;
  std::shared_ptr<SecretBroker> broker;

  // Empty on success, else why the pod could not start. `unpinned`: the KBS pins another key.
  std::string start(bool unpinned = false) {
    if (std::string why = swtpm.start(); !why.empty()) return why;
    const HashAlg banks[] = {HashAlg::sha256, HashAlg::sha384};
    const Bytes firmware_log = must(eventlog::spec_id_record(banks));
    std::ofstream(dir.path() / "firmware.log", std::ios::binary)
        .write(reinterpret_cast<const char*>(firmware_log.data()),
               static_cast<std::streamsize>(firmware_log.size()));
    // The operator enrols the AK acond quotes with, as `acon-kbs-client tpm-ak --acond` prints
    // it (or, for the refusal, some other key). Before acond's backend connects: swtpm serves
    // one connection at a time.
    const fs::path ak_file = dir.path() / "ak.pem";
    const std::string tpm_ak = std::string(ACON_KBS_CLIENT_BINARY) +
                               " tpm-ak --acond --evidence 'vtpm:" + swtpm.tcti() + "' > '" +
                               ak_file.string() + "'";
    if (std::system(tpm_ak.c_str()) != 0) return "acon-kbs-client tpm-ak failed";
    ak_pem = slurp_file(ak_file);
    if (unpinned) {
      ak_pem = must(PrivateKey::generate_ec(Curve::p256)).public_key().to_pem();
      std::ofstream(ak_file) << ak_pem;
    }
    guest::VtpmOptions options;
    options.tcti = swtpm.tcti();
    options.event_log_path = (dir.path() / "firmware.log").string();
    auto opened = guest::VtpmBackend::open(options);
    if (!opened) return opened.error().to_string();
    backend = std::move(*opened);
    if (!unpinned && backend->ak_public_pem() != ak_pem)
      return "tpm-ak --acond printed another AK than acond's backend has";

    RuntimeOptions runtime_options;
    runtime_options.state_dir = dir.path() / "acond";
    auto opened_runtime = Runtime::open(*backend, runtime_options);
    if (!opened_runtime) return opened_runtime.error().to_string();
    runtime = std::move(*opened_runtime);
    fs::create_directories(dir.path() / "acond" / "shared");
    auto started = ipc::Server::start(
        dir.path() / "acond" / "shared" / "acon.sock",
        [this](uid_t uid, const ipc::Request& request) {
          return runtime->answer_ipc(uid, request);
        },
        [](const std::string&) {});
    if (!started) return started.error().to_string();
    server = std::move(*started);
    if (auto added = runtime->add_manifest(image.manifest, image.signature, image.certificate);
        !added.ok())
      return added.error().message;
    if (auto added = runtime->add_blob(2, layer.tar); !added.ok()) return added.error().message;

    const std::string init = std::string(ACON_KBS_BINARY) + " init '" + kbs_dir.string() +
                             "' --listen 127.0.0.1:0 --ak '" + (dir.path() / "ak.pem").string() +
                             "' > /dev/null";
    if (std::system(init.c_str()) != 0) return "acon-kbs init failed";
    kbs_server = std::make_unique<KbsServerProcess>(kbs_dir / "config.toml");
    if (kbs_server->url().empty()) return "acon-kbs did not start";
    auto admin = admin_client();
    if (!admin.set_attestation_policy(kAttestationPolicy) ||
        !admin.set_resource_policy(resource_policy(signer_of(image.image_id), other_signer)) ||
        !admin.set_resource("default/db/password", as_bytes(kPassword)) ||
        !admin.set_resource("other/db/password", as_bytes(std::string_view("not for this pod"))))
      return "provisioning the KBS failed";
    return "";
  }

  ~VtpmSecretPod() {
    server.reset();
    if (runtime) runtime->containers().stop_all(0ms);
  }

  kbs::KbsClient admin_client() const {
    return must(kbs::testing::admin_client(*kbs_server, kbs_dir));
  }

  // The broker as acond's main() makes it, its evidence passed through `alter` first.
  void configure(std::function<void(Json& primary)> alter = {}) {
    KbsConfig config;
    config.url = kbs_server->url();
    config.ca_file = (kbs_dir / "keys" / "tls-ca.pem").string();
    Runtime* pod = runtime.get();
    broker = std::make_shared<SecretBroker>(
        kbs_client_config(config), pod->kbs_tee(),
        [pod, alter](ByteView report_data) -> Result<TdEvidence> {
          ACON_TRY(TdEvidence evidence, pod->kbs_evidence(report_data));
          if (alter) alter(evidence.primary);
          return evidence;
        },
        [pod] { return pod->runtime_event_count(); });
    runtime->set_secret_broker(broker);
  }

  // The KBS's audit records with `action` whose resource (for GETs) is `resource`.
  std::vector<Json> audited(std::string_view action, std::string_view resource = {}) const {
    auto admin = admin_client();
    return kbs::testing::audit_entries(admin, [&](const Json& entry) {
      return entry.value("action", "") == action &&
             (resource.empty() || entry.value("resource", "") == resource);
    });
  }

  std::string probe(uint32_t cid, std::vector<std::string> arguments) {
    return run_probe(*runtime, cid, std::move(arguments));
  }
};

// The evidence itself: CoCo's form, quoted with the AK the Report RPC uses and CoCo's 32-byte
// binding, carrying acon's extension members that the appraisal's reader takes back.
TEST(AcondSecretsVtpm, EvidenceIsCocoTpmFormWithTheLogsAndImages) {
  VtpmSecretPod pod;
  const std::string why = pod.start();
  ASSERT_TRUE(why.empty()) << why;
  EXPECT_EQ(pod.runtime->kbs_tee(), "tpm");
  Bytes report_data(64);
  for (size_t i = 0; i < report_data.size(); ++i) report_data[i] = static_cast<uint8_t>(i);
  TdEvidence evidence = must(pod.runtime->kbs_evidence(report_data));
  EXPECT_EQ(evidence.runtime_events, pod.runtime->runtime_event_count());
  std::vector<appraisal::ProvidedImage> images;
  appraisal::VtpmEvidence read =
      must(appraisal::tpm_evidence_from_trustee(evidence.primary, &images));
  EXPECT_EQ(read.ak_public, pod.backend->ak_public_key().to_der());
  ASSERT_TRUE(read.event_log);
  EXPECT_EQ(*read.event_log, must(pod.backend->firmware_event_log()));
  ASSERT_TRUE(read.runtime_aael);
  EXPECT_FALSE(read.runtime_aael->empty());
  // Both banks the backend quotes: SHA-256 in CoCo's list, SHA-384 (the runtime PCR's records)
  // in acon_pcrs.
  EXPECT_EQ(read.pcrs["sha256"].size(), 24u);
  EXPECT_EQ(read.pcrs["sha384"].size(), 24u);
  EXPECT_EQ(evidence.primary["tpm_quote"]["pcrs"].size(), 24u);
  ASSERT_EQ(images.size(), 1u);
  EXPECT_EQ(images[0].name, pod.image.image_id);
  // qualifyingData is the first 32 bytes of the report data, as CoCo's attester quotes.
  auto quote = must(tpm::parse_quote(read.quote));
  EXPECT_EQ(quote.attest.extra_data, Bytes(report_data.begin(), report_data.begin() + 32));
}

// The runtime records replay only after the firmware's events: without the firmware log acond
// sends nothing rather than evidence the KBS cannot replay.
TEST(AcondSecretsVtpm, NoEvidenceWithoutTheFirmwareLog) {
  VtpmSecretPod pod;
  const std::string why = pod.start();
  ASSERT_TRUE(why.empty()) << why;
  fs::remove(pod.dir.path() / "firmware.log");
  auto evidence = pod.runtime->kbs_evidence(Bytes(64, 0));
  ASSERT_FALSE(evidence);
  EXPECT_EQ(evidence.error().code, Errc::not_found);
  EXPECT_NE(evidence.error().message.find("firmware's TCG2 event log"), std::string::npos)
      << evidence.error().message;
}

// Without containers the broker still runs against the real KBS: released, and the KBS's
// release record names the image the replayed runtime log shows.
TEST(AcondSecretsVtpm, BrokerReleasesOnTheImagesTheReplayedLogShows) {
  VtpmSecretPod pod;
  const std::string why = pod.start();
  ASSERT_TRUE(why.empty()) << why;
  pod.configure();
  auto secret = pod.broker->fetch("default/db/password");
  ASSERT_TRUE(secret) << secret.error().to_string();
  EXPECT_EQ(std::string(secret->begin(), secret->end()), kPassword);
  auto records = pod.audited("release", "default/db/password");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].value("outcome", ""), "release") << records[0].dump();
  EXPECT_NE(records[0]["image_ids"].dump().find(pod.image.image_id), std::string::npos)
      << records[0].dump();
  auto attests = pod.audited("attest");
  ASSERT_EQ(attests.size(), 1u);
  EXPECT_EQ(attests[0].value("tee", ""), "tpm");
  EXPECT_EQ(attests[0].value("ear_status", ""), "affirming") << attests[0].dump();

  // A resource whose rule requires another signer: PolicyDeny, audited, nothing released.
  auto refused = pod.broker->fetch("other/db/password");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("PolicyDeny"), std::string::npos)
      << refused.error().message;
  records = pod.audited("release", "other/db/password");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].value("outcome", ""), "deny") << records[0].dump();
  EXPECT_EQ(pod.broker->attestations(), 1u);
}

// One byte of the runtime log changed on its way to the KBS: the log no longer proves itself,
// /attest refuses naming the altered record, the refusal is audited, nothing is released.
TEST(AcondSecretsVtpm, TamperedRuntimeLogIsRefused) {
  VtpmSecretPod pod;
  const std::string why = pod.start();
  ASSERT_TRUE(why.empty()) << why;
  pod.configure([](Json& primary) {
    const std::string member(appraisal::kAconRuntimeLogMember);
    Bytes log = must(base64_decode(primary[member].get<std::string>()));
    log.back() ^= 0x01;  // the last byte of the last record's event data
    primary[member] = base64_encode(log);
  });
  auto refused = pod.broker->fetch("default/db/password");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("runtime AAEL record #"), std::string::npos)
      << refused.error().message;
  EXPECT_EQ(refused.error().message.find(kPassword), std::string::npos);
  auto attests = pod.audited("attest");
  ASSERT_EQ(attests.size(), 1u);
  EXPECT_EQ(attests[0].value("outcome", ""), "deny") << attests[0].dump();
  EXPECT_NE(attests[0].value("detail", "").find("runtime_log.unexplained"), std::string::npos)
      << attests[0].dump();
  EXPECT_TRUE(pod.audited("release", "default/db/password").empty());
}

// A digest byte changed instead: the runtime PCR no longer replays, and the refusal names the
// record whose digest is not that of its data as the first divergent event.
TEST(AcondSecretsVtpm, TamperedRuntimeDigestNamesTheDivergentRecord) {
  VtpmSecretPod pod;
  const std::string why = pod.start();
  ASSERT_TRUE(why.empty()) << why;
  pod.configure([](Json& primary) {
    const std::string member(appraisal::kAconRuntimeLogMember);
    Bytes log = must(base64_decode(primary[member].get<std::string>()));
    // A headerless TCG_PCR_EVENT2: index (4), type (4), digest count (4), algorithm (2), then
    // the first record's SHA-384 digest.
    log[14] ^= 0x01;
    primary[member] = base64_encode(log);
  });
  auto refused = pod.broker->fetch("default/db/password");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("replay.pcr15"), std::string::npos)
      << refused.error().message;
  EXPECT_NE(refused.error().message.find("first divergent event: runtime AAEL record #1"),
            std::string::npos)
      << refused.error().message;
  EXPECT_TRUE(pod.audited("release", "default/db/password").empty());
}

// The KBS pins another AK: the quote acond signs is refused at /attest, audited.
TEST(AcondSecretsVtpm, UnpinnedAkIsRefused) {
  VtpmSecretPod pod;
  const std::string why = pod.start(/*unpinned=*/true);
  ASSERT_TRUE(why.empty()) << why;
  pod.configure();
  auto refused = pod.broker->fetch("default/db/password");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("not the pinned AK"), std::string::npos)
      << refused.error().message;
  auto attests = pod.audited("attest");
  ASSERT_EQ(attests.size(), 1u);
  EXPECT_EQ(attests[0].value("outcome", ""), "deny");
  EXPECT_EQ(attests[0].value("tee", ""), "tpm");
  EXPECT_TRUE(pod.audited("release", "default/db/password").empty());
}

// A container with the right image obtains the secret through the IPC socket.
TEST(AcondSecretsVtpm, ContainerObtainsTheSecret) {
  ACON_REQUIRE_CONTAINERS();
  VtpmSecretPod pod;
  const std::string why = pod.start();
  ASSERT_TRUE(why.empty()) << why;
  pod.configure();
  auto cid = pod.runtime->start(pod.image.image_id, {});
  ASSERT_TRUE(cid.ok()) << cid.error().message;
  EXPECT_EQ(pod.probe(*cid, {"secret", "default/db/password"}),
            "SECRET " + std::string(kPassword) + "\n");
  const std::string refused = pod.probe(*cid, {"secret", "other/db/password"});
  EXPECT_TRUE(refused.starts_with("ERROR 4 KBS: ")) << refused;
  EXPECT_NE(refused.find("PolicyDeny"), std::string::npos) << refused;
}

}  // namespace
}  // namespace acon::acond
