// tee "tpm" end to end: a real swtpm, the real acon-kbs process (configured by `acon-kbs init
// --ak` with the AK that `acon-kbs-client tpm-ak` prints) and the real acon-kbs-client with
// --evidence vtpm:TCTI: RCAR with init-data in PCR 8, the resource's JWE decrypted to the stored
// secret; and the refusals: an AK the KBS does not pin, a tampered quote, a quote for another
// nonce, each a 401 whose cause is in the detail and in the audit log, nothing released.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <functional>

#include "acon/appraisal/evidence.h"
#include "acon/common/hash.h"
#include "acon/common/kbs_binding.h"
#include "acon/guest/vtpm.h"
#include "acon/kbs/client.h"
#include "guest/vtpm/swtpm_process.h"
#include "kbs_fixture.h"
#include "kbs_process.h"

namespace acon::kbs {
namespace {

using testing::KbsServerProcess;
using testing::slurp_file;

constexpr std::string_view kInitData = "version = \"0.1.0\"\nalgorithm = \"sha256\"\n[data]\n";

// TPM evidence is affirming when the quote verifies with a pinned AK, is bound to the session
// and its init-data is the one in PCR 8; released to affirming tokens (tests/data/kbs).
const std::string kTpmAttestationPolicy = slurp_file(ACON_TEST_DATA "/kbs/tpm-attestation.toml");
const std::string kAffirmingPolicy = slurp_file(ACON_TEST_DATA "/kbs/affirming-resource.toml");

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

CommandResult run(const std::filesystem::path& dir, const std::string& command) {
  const auto out = dir / "cmd.out", err = dir / "cmd.err";
  const std::string full = command + " > '" + out.string() + "' 2> '" + err.string() + "'";
  const int status = std::system(full.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp_file(out);
  r.err = slurp_file(err);
  return r;
}

class TpmFlow : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    swtpm_ = new test::SwtpmProcess();
    const std::string why = swtpm_->start();
    ASSERT_TRUE(why.empty()) << why;
    {
      // The guest's boot: CoCo's attester extends the init-data digest into SHA-256 PCR 8.
      auto vtpm = guest::VtpmBackend::open(guest::coco_tpm_options(swtpm_->tcti()));
      ASSERT_TRUE(vtpm) << vtpm.error().to_string();
      ASSERT_TRUE((*vtpm)->extend(8, HashAlg::sha256, sha256(as_bytes(kInitData))).ok());
    }
    std::ofstream(dir_->path() / "init-data.toml") << kInitData;

    // The operator pins the AK the client tool reports.
    CommandResult ak = run(dir_->path(), std::string(ACON_KBS_CLIENT_BINARY) +
                                             " tpm-ak --evidence 'vtpm:" + swtpm_->tcti() + "'");
    ASSERT_EQ(ak.exit_code, 0) << ak.err;
    ASSERT_NE(ak.out.find("BEGIN PUBLIC KEY"), std::string::npos) << ak.out;
    std::ofstream(dir_->path() / "ak.pem") << ak.out;

    kbs_dir_ = dir_->path() / "kbs";
    CommandResult init = run(dir_->path(), std::string(ACON_KBS_BINARY) + " init '" +
                                               kbs_dir_.string() + "' --listen 127.0.0.1:0 --ak '" +
                                               (dir_->path() / "ak.pem").string() + "'");
    ASSERT_EQ(init.exit_code, 0) << init.err;
    ASSERT_NE(slurp_file(kbs_dir_ / "config.toml").find("tpm_ak_keys = [\"keys/tpm-ak-0.pem\"]"),
              std::string::npos);
    server_ = new KbsServerProcess(kbs_dir_ / "config.toml");
    ASSERT_FALSE(server_->url().empty()) << "acon-kbs did not start";

    auto admin = admin_client();
    ASSERT_TRUE(admin) << admin.error().to_string();
    ASSERT_TRUE(admin->set_attestation_policy(kTpmAttestationPolicy));
    ASSERT_TRUE(admin->set_resource_policy(kAffirmingPolicy));
    ASSERT_TRUE(admin->set_resource("default/key/tpm", as_bytes(std::string_view("tpm-secret"))));
  }
  static void TearDownTestSuite() {
    delete server_;
    delete swtpm_;
    delete dir_;
  }

  static ClientConfig config() { return testing::client_config(*server_, kbs_dir_); }
  static Result<KbsClient> admin_client() { return testing::admin_client(*server_, kbs_dir_); }

  static std::string client_command(const std::string& tcti) {
    return std::string(ACON_KBS_CLIENT_BINARY) + " --url " + server_->url() + " --ca '" +
           (kbs_dir_ / "keys" / "tls-ca.pem").string() + "' get-resource default/key/tpm" +
           " --evidence 'vtpm:" + tcti + "' --init-data '" +
           (dir_->path() / "init-data.toml").string() + "'";
  }

  // Attestation refusals the KBS audited whose detail contains `cause`.
  static size_t audited_refusals(std::string_view cause) {
    auto admin = admin_client();
    EXPECT_TRUE(admin);
    auto lines = admin->audit_export(1, 10000);
    EXPECT_TRUE(lines) << lines.error().to_string();
    size_t count = 0;
    for (std::string_view line : split(*lines, '\n')) {
      if (line.empty()) continue;
      auto record = parse_json(line);
      EXPECT_TRUE(record);
      const Json& entry = record->contains("entry") ? (*record)["entry"] : *record;
      if (entry.value("action", "") == "attest" && entry.value("outcome", "") == "deny" &&
          entry.value("tee", "") == "tpm" &&
          entry.value("detail", "").find(cause) != std::string::npos)
        ++count;
    }
    return count;
  }

  // RCAR through the client library with CoCo-form evidence from the swtpm: the quote is made over
  // the report data the client binds, after `replace_report_data`; `alter` then edits the
  // primary evidence.
  static Result<std::string> attest_altered(
      const std::function<void(Bytes& report_data)>& replace_report_data,
      const std::function<void(Json& primary)>& alter) {
    ACON_TRY(auto vtpm, guest::VtpmBackend::open(guest::coco_tpm_options(swtpm_->tcti())));
    std::shared_ptr<guest::VtpmBackend> backend(std::move(vtpm));
    EvidenceProvider provider = [&, backend](ByteView report_data) -> Result<Json> {
      Bytes quoted(report_data.begin(), report_data.end());
      replace_report_data(quoted);
      guest::ReportData data{};
      std::copy(quoted.begin(), quoted.end(), data.begin());
      ACON_TRY(guest::Attestation attestation, backend->attest(data));
      appraisal::VtpmEvidence evidence;
      evidence.quote = attestation.quote;
      evidence.ak_public = backend->ak_public_key().to_der();
      evidence.ak_encoding = appraisal::AkEncoding::spki_der;
      evidence.pcrs["sha256"] = attestation.pcrs.at(HashAlg::sha256);
      ACON_TRY(Json primary, appraisal::tpm_evidence_to_trustee(evidence));
      alter(primary);
      return primary;
    };
    ACON_TRY(TeeKey key, TeeKey::generate());
    ACON_TRY(KbsClient client, KbsClient::create(config(), std::move(key)));
    return client.attest("tpm", provider, std::string(kInitData));
  }

  static testing::TempDir* dir_;
  static test::SwtpmProcess* swtpm_;
  static std::filesystem::path kbs_dir_;
  static KbsServerProcess* server_;
};

testing::TempDir* TpmFlow::dir_ = nullptr;
test::SwtpmProcess* TpmFlow::swtpm_ = nullptr;
std::filesystem::path TpmFlow::kbs_dir_;
KbsServerProcess* TpmFlow::server_ = nullptr;

TEST_F(TpmFlow, ClientToolAttestsWithTheSwtpmAndDecryptsTheSecret) {
  const auto out = dir_->path() / "secret.out";
  CommandResult r =
      run(dir_->path(), client_command(swtpm_->tcti()) + " -o '" + out.string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(slurp_file(out), "tpm-secret");
}

TEST_F(TpmFlow, AnAkTheKbsDoesNotPinIsRefusedAndAudited) {
  test::SwtpmProcess stranger;  // another TPM: another endorsement seed, another AK
  ASSERT_EQ(stranger.start(), "");
  {
    auto vtpm = guest::VtpmBackend::open(guest::coco_tpm_options(stranger.tcti()));
    ASSERT_TRUE(vtpm);
    ASSERT_TRUE((*vtpm)->extend(8, HashAlg::sha256, sha256(as_bytes(kInitData))).ok());
  }
  const size_t before = audited_refusals("not the pinned AK");
  const auto out = dir_->path() / "stranger.out";
  CommandResult r =
      run(dir_->path(), client_command(stranger.tcti()) + " -o '" + out.string() + "'");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("401"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not the pinned AK"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(out));
  EXPECT_GT(audited_refusals("not the pinned AK"), before);
}

TEST_F(TpmFlow, TamperedQuoteIsRefusedAndAudited) {
  const size_t before = audited_refusals("quote.signature");
  auto token = attest_altered([](Bytes&) {},
                              [](Json& primary) {
                                auto& quote = primary["tpm_quote"];
                                Bytes message = *base64_decode(quote["message"].get<std::string>());
                                message[message.size() - 1] ^= 1;
                                quote["message"] = base64_encode(message);
                              });
  ASSERT_FALSE(token);
  EXPECT_NE(token.error().message.find("401"), std::string::npos) << token.error().message;
  EXPECT_NE(token.error().message.find("quote.signature"), std::string::npos)
      << token.error().message;
  EXPECT_GT(audited_refusals("quote.signature"), before);
}

TEST_F(TpmFlow, QuoteForAnotherNonceIsRefusedAndAudited) {
  const size_t before = audited_refusals("extra_data");
  auto token = attest_altered(
      [](Bytes& report_data) {
        report_data = sha384(as_bytes(std::string_view("another session's runtime data")));
        report_data.resize(64, 0);
      },
      [](Json&) {});
  ASSERT_FALSE(token);
  EXPECT_NE(token.error().message.find("401"), std::string::npos) << token.error().message;
  EXPECT_GT(audited_refusals("extra_data"), before);
}

// In process: a KBS configured without any TPM AK refuses every tpm evidence, however genuine.
TEST(TpmWithoutAkTrust, GenuineBoundEvidenceIsRefusedAndAudited) {
  test::SwtpmProcess swtpm;
  ASSERT_EQ(swtpm.start(), "");
  auto vtpm = guest::VtpmBackend::open(guest::coco_tpm_options(swtpm.tcti()));
  ASSERT_TRUE(vtpm) << vtpm.error().to_string();
  testing::KbsFixture f;  // options.evidence.ak_trust unset, as in a configuration without keys
  auto [cookie, nonce] = f.auth("tpm");
  Bytes report_data = testing::must(kbs_report_data(nonce, f.attester.tee_jwk, ""));
  guest::ReportData data{};
  std::copy(report_data.begin(), report_data.end(), data.begin());
  guest::Attestation attestation = testing::must((*vtpm)->attest(data));
  appraisal::VtpmEvidence evidence;
  evidence.quote = attestation.quote;
  evidence.ak_public = (*vtpm)->ak_public_key().to_der();
  evidence.ak_encoding = appraisal::AkEncoding::spki_der;
  evidence.pcrs["sha256"] = attestation.pcrs.at(HashAlg::sha256);
  Json body = {{"runtime-data", {{"nonce", nonce}, {"tee-pubkey", f.attester.tee_jwk}}},
               {"tee-evidence",
                {{"primary_evidence", testing::must(appraisal::tpm_evidence_to_trustee(evidence))},
                 {"additional_evidence", ""}}}};
  HttpResponse r = f.call("POST", "/kbs/v0/attest", body.dump(), cookie);
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_NE(r.body.find("no AK trust"), std::string::npos) << r.body;
  size_t refusals = 0;
  for (const AuditRecord& record : f.audit())
    refusals += record.entry.action == "attest" && record.entry.outcome == "deny" &&
                record.entry.detail.find("no AK trust") != std::string::npos;
  EXPECT_EQ(refusals, 1u);
  vtpm->reset();  // flushes the AK while the swtpm still runs
}

}  // namespace
}  // namespace acon::kbs
