// The evidence loaders: KBS Attestation bodies, directory bundles and evidence JSON, with their
// bounds and the member / file names their errors must carry.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "acon/appraisal/evidence.h"
#include "test_util.h"

namespace acon::appraisal {
namespace {

namespace fs = std::filesystem;

using test::must;

template <class T>
std::string error_of(const Result<T>& result) {
  return result ? std::string("(ok)") : result.error().message;
}

const Bytes kQuote = test::read_data_bytes("quotes/phala-dcap-qvl/tdx_quote");
const Bytes kCcel = test::read_data_bytes("eventlog/trustee/CCEL_AAEL_alibabacloud");

Json kbs_body() {
  return {
      {"init-data", {{"format", "toml"}, {"body", "version = \"0.1.0\"\n"}}},
      {"runtime-data",
       {{"nonce", "bm9uY2U="},
        {"tee-pubkey",
         {{"kty", "EC"}, {"crv", "P-256"}, {"alg", "ECDH-ES+A256KW"}, {"x", "x"}, {"y", "y"}}}}},
      {"tee-evidence",
       {{"primary_evidence",
         {{"cc_eventlog", base64_encode(kCcel)}, {"quote", base64_encode(kQuote)}}},
        {"additional_evidence", "{\"nvgpu\":[]}"}}}};
}

TEST(KbsAttestation, TdxBodyGivesQuoteLogRuntimeAndInitData) {
  Evidence evidence = must(load_kbs_attestation(kbs_body().dump(), "tdx"));
  EXPECT_EQ(evidence.platform, Platform::tdx);
  EXPECT_EQ(evidence.tdx.quote, kQuote);
  ASSERT_TRUE(evidence.tdx.cc_eventlog);
  EXPECT_EQ(*evidence.tdx.cc_eventlog, kCcel);
  ASSERT_TRUE(evidence.runtime_data);
  EXPECT_EQ(evidence.runtime_data->nonce, "bm9uY2U=");
  EXPECT_EQ(evidence.runtime_data->additional_evidence, "{\"nvgpu\":[]}");
  ASSERT_TRUE(evidence.init_data);
  EXPECT_EQ(evidence.init_data->format, "toml");
}

TEST(KbsAttestation, NullLogNullInitDataAndAbsentAdditionalEvidenceAreAllowed) {
  Json body = kbs_body();
  body["init-data"] = nullptr;
  body["tee-evidence"]["primary_evidence"]["cc_eventlog"] = nullptr;
  body["tee-evidence"].erase("additional_evidence");
  Evidence evidence = must(load_kbs_attestation(body.dump(), "tdx"));
  EXPECT_FALSE(evidence.tdx.cc_eventlog);
  EXPECT_FALSE(evidence.init_data);
  EXPECT_EQ(evidence.runtime_data->additional_evidence, "");
  // Older attesters sent the primary evidence as a JSON string.
  body["tee-evidence"]["primary_evidence"] = body["tee-evidence"]["primary_evidence"].dump();
  EXPECT_EQ(must(load_kbs_attestation(body.dump(), "tdx")).tdx.quote, kQuote);
}

TEST(KbsAttestation, ErrorsNameTheMember) {
  Json body = kbs_body();
  body["tee-evidence"]["primary_evidence"]["quote"] = "!!";
  EXPECT_NE(error_of(load_kbs_attestation(body.dump(), "tdx"))
                .find("attestation.tee-evidence.primary_evidence.quote"),
            std::string::npos);
  body = kbs_body();
  body["runtime-data"].erase("nonce");
  EXPECT_NE(error_of(load_kbs_attestation(body.dump(), "tdx")).find("runtime-data.nonce"),
            std::string::npos);
  body = kbs_body();
  body["tee-evidence"]["primary_evidence"]["extra"] = 1;
  EXPECT_NE(error_of(load_kbs_attestation(body.dump(), "tdx")).find("extra: unknown member"),
            std::string::npos);
  EXPECT_NE(error_of(load_kbs_attestation(kbs_body().dump(), "snp")).find("snp"),
            std::string::npos);
  EXPECT_FALSE(load_kbs_attestation("{", "tdx").ok());
  EXPECT_FALSE(load_kbs_attestation(std::string(kMaxEvidenceBytes + 1, ' '), "tdx").ok());
}

// acon's extension member: acond's loaded images, read with the evidence JSON's image reader.
TEST(KbsAttestation, AconImagesAreReadIntoTheImages) {
  Json body = kbs_body();
  const std::vector<ProvidedImage> images = {
      {"sha384/aa/bb", to_bytes("{\"m\":1}"), to_bytes("sig"), to_bytes("cert")},
      {"second", to_bytes("{}"), {}, {}}};
  body["tee-evidence"]["primary_evidence"]["acon_images"] = images_to_json(images);
  Evidence evidence = must(load_kbs_attestation(body.dump(), "tdx"));
  ASSERT_EQ(evidence.images.size(), 2u);
  EXPECT_EQ(evidence.images[0].name, "sha384/aa/bb");
  EXPECT_EQ(evidence.images[0].manifest, to_bytes("{\"m\":1}"));
  EXPECT_EQ(evidence.images[0].signature, to_bytes("sig"));
  EXPECT_EQ(evidence.images[0].certificate_der, to_bytes("cert"));
  EXPECT_TRUE(evidence.images[1].signature.empty());
  // The same entries in the evidence JSON's "images" read back equal.
  Evidence via_json = must(parse_evidence_json(evidence_to_json(evidence).dump()));
  ASSERT_EQ(via_json.images.size(), 2u);
  EXPECT_EQ(via_json.images[0].manifest, evidence.images[0].manifest);
  // Only TDX primary evidence has the member.
  Json sgx = body;
  sgx["tee-evidence"]["primary_evidence"] = {{"quote", base64_encode(kQuote)},
                                             {"acon_images", images_to_json(images)}};
  EXPECT_NE(error_of(load_kbs_attestation(sgx.dump(), "sgx")).find("acon_images: unknown member"),
            std::string::npos);
}

TEST(KbsAttestation, AconImagesBoundsAndErrorsNameTheMember) {
  const std::string path = "attestation.tee-evidence.primary_evidence.acon_images";
  auto load_with = [](const Json& images) {
    Json body = kbs_body();
    body["tee-evidence"]["primary_evidence"]["acon_images"] = images;
    return load_kbs_attestation(body.dump(), "tdx");
  };
  const Json entry = {{"name", "a"}, {"manifest", base64_encode(to_bytes("{}"))}};
  EXPECT_EQ(must(load_with(Json::array({entry}))).images.size(), 1u);
  EXPECT_EQ(error_of(load_with(Json::array())), "(ok)");

  EXPECT_NE(error_of(load_with(Json(std::vector<Json>(kMaxEvidenceImages + 1, entry))))
                .find(path + ": more than 256 images"),
            std::string::npos);
  Json oversized = entry;
  oversized["manifest"] = std::string(kMaxEvidenceMemberBytes + 4, 'A');
  EXPECT_NE(
      error_of(load_with(Json::array({entry, oversized}))).find(path + "[1].manifest: larger than"),
      std::string::npos);
  EXPECT_NE(error_of(load_with(entry)).find(path + ": not an array"), std::string::npos);
  Json unknown = entry;
  unknown["layers"] = 1;
  EXPECT_NE(error_of(load_with(Json::array({unknown}))).find(path + "[0].layers: unknown member"),
            std::string::npos);
  Json no_manifest = entry;
  no_manifest.erase("manifest");
  EXPECT_NE(error_of(load_with(Json::array({no_manifest}))).find(path + "[0].manifest: missing"),
            std::string::npos);
  Json bad_signature = entry;
  bad_signature["signature"] = "!!";
  EXPECT_NE(error_of(load_with(Json::array({bad_signature}))).find(path + "[0].signature"),
            std::string::npos);
}

TEST(KbsAttestation, SgxBody) {
  Json body = kbs_body();
  body["tee-evidence"]["primary_evidence"] = {{"quote", base64_encode(kQuote)}};
  Evidence evidence = must(load_kbs_attestation(body.dump(), "sgx"));
  EXPECT_EQ(evidence.platform, Platform::sgx);
  EXPECT_EQ(evidence.sgx.quote, kQuote);
}

Evidence full_tdx_evidence() {
  Evidence evidence;
  evidence.tdx.quote = kQuote;
  evidence.tdx.ccel = kCcel;
  evidence.tdx.runtime_aael = Bytes{1, 2, 3};
  evidence.tdx.runtime_text_aael = "INIT sha384/00\n";
  evidence.tdx.ima_log = "10 aa ima-ng sha384:bb /x\n";
  evidence.runtime_data = RuntimeData{"n", Json{{"kty", "EC"}}, ""};
  evidence.attestation_data = to_bytes("{\"api_version\":\"1.0.0\"}");
  evidence.init_data = InitData{"toml", "version = \"0.1.0\"\n"};
  evidence.collateral = "{\"tcb_info\":\"x\"}";
  evidence.images.push_back({"0", to_bytes("{}"), Bytes{9}, {}});
  return evidence;
}

void expect_same(const Evidence& a, const Evidence& b) {
  EXPECT_EQ(evidence_to_json(a), evidence_to_json(b));
}

TEST(EvidenceJson, RoundTripsEveryMember) {
  Evidence evidence = full_tdx_evidence();
  Json json = evidence_to_json(evidence);
  Evidence back = must(parse_evidence_json(json.dump()));
  expect_same(evidence, back);
  EXPECT_EQ(back.tdx.ccel, kCcel);
  EXPECT_EQ(back.images.at(0).signature, Bytes{9});
  EXPECT_TRUE(back.images.at(0).certificate_der.empty());

  Evidence vtpm;
  vtpm.platform = Platform::vtpm;
  vtpm.vtpm.quote = {1};
  vtpm.vtpm.ak_public = {2};
  vtpm.vtpm.pcrs["sha256"][7] = Bytes(32, 7);
  vtpm.vtpm.event_log = Bytes{3};
  vtpm.vtpm.runtime_aael = Bytes{4, 5};
  Evidence vtpm_back = must(parse_evidence_json(evidence_to_json(vtpm).dump()));
  EXPECT_EQ(vtpm_back.vtpm.pcrs["sha256"][7], Bytes(32, 7));
  EXPECT_EQ(vtpm_back.vtpm.runtime_aael, (Bytes{4, 5}));
  expect_same(vtpm, vtpm_back);
  // CoCo's TPM attester sends a DER SubjectPublicKeyInfo instead of the TPM2B_PUBLIC.
  vtpm.vtpm.ak_encoding = AkEncoding::spki_der;
  Json spki_json = evidence_to_json(vtpm);
  EXPECT_TRUE(spki_json["vtpm"].contains("ak_spki"));
  EXPECT_FALSE(spki_json["vtpm"].contains("ak_public"));
  vtpm_back = must(parse_evidence_json(spki_json.dump()));
  EXPECT_EQ(vtpm_back.vtpm.ak_encoding, AkEncoding::spki_der);
  expect_same(vtpm, vtpm_back);
  spki_json["vtpm"]["ak_public"] = "AA==";
  EXPECT_NE(error_of(parse_evidence_json(spki_json.dump())).find("evidence.vtpm.ak_spki"),
            std::string::npos);
}

TEST(EvidenceJson, ErrorsNameTheMember) {
  Json json = evidence_to_json(full_tdx_evidence());
  auto error = [](const Json& document) { return error_of(parse_evidence_json(document.dump())); };
  Json bad = json;
  bad["tdx"]["ccel"] = "not base64!";
  EXPECT_NE(error(bad).find("evidence.tdx.ccel"), std::string::npos) << error(bad);
  bad = json;
  bad["platform"] = "snp";
  EXPECT_NE(error(bad).find("evidence.platform"), std::string::npos);
  bad = json;
  bad["sgx"] = {{"quote", ""}};
  EXPECT_NE(error(bad).find("evidence.sgx"), std::string::npos);
  bad = json;
  bad["images"][0].erase("manifest");
  EXPECT_NE(error(bad).find("evidence.images[0].manifest"), std::string::npos) << error(bad);
  bad = json;
  bad["tdx"]["quotes"] = "";
  EXPECT_NE(error(bad).find("evidence.tdx.quotes: unknown member"), std::string::npos);
  bad = json;
  bad.erase("tdx");
  EXPECT_NE(error(bad).find("evidence.tdx: missing"), std::string::npos);
  bad = evidence_to_json([] {
    Evidence vtpm;
    vtpm.platform = Platform::vtpm;
    return vtpm;
  }());
  bad["vtpm"]["pcrs"] = {{"sha256", {{"24", "00"}}}};
  EXPECT_NE(error(bad).find("evidence.vtpm.pcrs.sha256.24"), std::string::npos) << error(bad);
  EXPECT_FALSE(parse_evidence_json("[]").ok());
  EXPECT_FALSE(parse_evidence_json(std::string(kMaxEvidenceBytes + 1, ' ')).ok());
}

class BundleDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("acon-evidence-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const fs::path& relative, ByteView bytes) {
    fs::create_directories((dir_ / relative).parent_path());
    std::ofstream out(dir_ / relative, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
  }
  void write(const fs::path& relative, std::string_view text) { write(relative, as_bytes(text)); }
  fs::path dir_;
};

TEST_F(BundleDir, ReadsEveryNamedFile) {
  write("quote.bin", kQuote);
  write("ccel.bin", kCcel);
  write("runtime_aael.txt", "INIT sha384/00\n");
  write("ima.txt", "10 aa ima-ng sha384:bb /x\n");
  write("runtime_data.json", R"({"nonce":"n","tee-pubkey":{"kty":"EC"}})");
  write("attestation_data.json", "{}");
  write("init_data.toml", "version = \"0.1.0\"\n");
  write("collateral.json", "{}");
  write("images/b/manifest.json", "{\"b\":1}");
  write("images/a/manifest.json", "{\"a\":1}");
  write("images/a/signature", "sig");
  write("images/a/certificate.der", "der");
  Evidence evidence = must(load_evidence_directory(dir_));
  EXPECT_EQ(evidence.platform, Platform::tdx);
  EXPECT_EQ(evidence.tdx.quote, kQuote);
  EXPECT_EQ(evidence.tdx.ccel, kCcel);
  EXPECT_EQ(evidence.tdx.runtime_text_aael, "INIT sha384/00\n");
  EXPECT_EQ(evidence.runtime_data->nonce, "n");
  EXPECT_EQ(evidence.init_data->format, "toml");
  ASSERT_EQ(evidence.images.size(), 2u);
  EXPECT_EQ(evidence.images[0].name, "a");
  EXPECT_EQ(evidence.images[0].certificate_der, to_bytes("der"));
  EXPECT_TRUE(evidence.images[1].signature.empty());
}

TEST_F(BundleDir, SgxAndVtpmBundles) {
  write("quote.bin", test::read_data_bytes("quotes/phala-dcap-qvl/sgx_quote"));
  EXPECT_EQ(must(load_evidence_directory(dir_)).platform, Platform::sgx);
  write("ccel.bin", kCcel);
  EXPECT_NE(error_of(load_evidence_directory(dir_)).find("ccel.bin"), std::string::npos);
  fs::remove_all(dir_);
  fs::create_directories(dir_);
  write("tpm_quote.bin", test::read_data_bytes("tpm/quote.bin"));
  write("ak.tpm2b_public", test::read_data_bytes("tpm/ak.tpm2b_public"));
  write("pcrs.json", R"({"sha256":{"0":"00"}})");
  Evidence evidence = must(load_evidence_directory(dir_));
  EXPECT_EQ(evidence.platform, Platform::vtpm);
  EXPECT_EQ(evidence.vtpm.pcrs["sha256"][0], Bytes{0});
  EXPECT_FALSE(evidence.vtpm.runtime_aael);
  // acond's runtime records belong in a vTPM bundle too; TDX's other logs do not.
  write("runtime_aael.bin", "\x01\x02");
  EXPECT_EQ(must(load_evidence_directory(dir_)).vtpm.runtime_aael, (Bytes{1, 2}));
  write("runtime_aael.txt", "INIT sha384/00\n");
  EXPECT_NE(error_of(load_evidence_directory(dir_)).find("runtime_aael.txt: TDX log in a vtpm"),
            std::string::npos);
  // ... and not in an SGX bundle.
  fs::remove_all(dir_);
  fs::create_directories(dir_);
  write("quote.bin", test::read_data_bytes("quotes/phala-dcap-qvl/sgx_quote"));
  write("runtime_aael.bin", "\x01");
  EXPECT_NE(error_of(load_evidence_directory(dir_)).find("runtime_aael.bin: runtime log in an sgx"),
            std::string::npos);
}

// The writer and the reader agree: every field a bundle can hold survives write → load, per
// platform, and images keep their order past ten (names are zero-padded).
TEST_F(BundleDir, WriteThenLoadGivesTheSameEvidence) {
  Evidence tdx;
  tdx.tdx.quote = kQuote;
  tdx.tdx.ccel = kCcel;
  tdx.tdx.runtime_aael = Bytes{1, 2, 3};
  tdx.tdx.runtime_text_aael = "INIT sha384/00\n";
  tdx.tdx.ima_log = "10 aa ima-ng sha384:bb /x\n";
  tdx.runtime_data = RuntimeData{};
  tdx.runtime_data->nonce = "n";
  tdx.runtime_data->tee_pubkey = {{"kty", "EC"}};
  tdx.attestation_data = to_bytes("{\"api_version\":\"1.0.0\"}");
  tdx.init_data = InitData{"toml", "version = \"0.1.0\"\n"};
  tdx.collateral = "{}";
  for (int i = 0; i < 12; ++i) {
    tdx.images.push_back({"", to_bytes("{\"i\":" + std::to_string(i) + "}"), to_bytes("sig"),
                          i % 2 ? Bytes{} : to_bytes("der")});
  }
  Evidence vtpm;
  vtpm.platform = Platform::vtpm;
  vtpm.vtpm.quote = test::read_data_bytes("tpm/quote.bin");
  vtpm.vtpm.ak_public = test::read_data_bytes("tpm/ak.tpm2b_public");
  vtpm.vtpm.pcrs["sha256"][0] = Bytes(32, 7);
  vtpm.vtpm.event_log = Bytes{9};
  vtpm.vtpm.runtime_aael = Bytes{8, 7};
  Evidence vtpm_spki = vtpm;
  vtpm_spki.vtpm.ak_encoding = AkEncoding::spki_der;
  for (const Evidence* evidence : {&tdx, &vtpm, &vtpm_spki}) {
    fs::remove_all(dir_);
    auto written = write_evidence_directory(*evidence, dir_);
    ASSERT_TRUE(written.ok()) << written.error().to_string();
    Evidence back = must(load_evidence_directory(dir_));
    Json expected = evidence_to_json(*evidence);
    Json got = evidence_to_json(back);
    if (got.contains("images")) {
      for (Json& image : got["images"]) image["name"] = "";
    }
    EXPECT_EQ(got, expected);
  }
  EXPECT_FALSE(write_evidence_directory(tdx, dir_).ok());  // exists: never mixed with old files
  fs::remove_all(dir_);
  tdx.init_data->format = "json";
  EXPECT_EQ(write_evidence_directory(tdx, dir_).error().code, Errc::unsupported);
}

TEST_F(BundleDir, ErrorsNameTheFile) {
  EXPECT_NE(error_of(load_evidence_directory(dir_)).find("quote.bin"), std::string::npos);
  write("quote.bin", kQuote);
  write("qoute.bin", kQuote);
  EXPECT_NE(error_of(load_evidence_directory(dir_)).find("qoute.bin: unknown bundle file"),
            std::string::npos);
  fs::remove(dir_ / "qoute.bin");
  write("runtime_data.json", "{\"nonce\":1}");
  EXPECT_NE(error_of(load_evidence_directory(dir_)).find("runtime_data.json"), std::string::npos);
  fs::remove(dir_ / "runtime_data.json");
  write("images/x/manifest.json", "{}");
  write("images/x/extra", "");
  EXPECT_NE(error_of(load_evidence_directory(dir_)).find("extra: unknown image file"),
            std::string::npos);
  fs::remove(dir_ / "images/x/extra");
  fs::remove(dir_ / "images/x/manifest.json");
  EXPECT_NE(error_of(load_evidence_directory(dir_)).find("manifest.json: missing"),
            std::string::npos);
  fs::remove_all(dir_ / "images");
  write("quote.bin", Bytes{4, 0, 0, 0, 0x99, 0, 0, 0});
  EXPECT_NE(error_of(load_evidence_directory(dir_)).find("tee_type at offset 4"),
            std::string::npos);
  EXPECT_FALSE(load_evidence_directory(dir_ / "absent").ok());
}

}  // namespace
}  // namespace acon::appraisal
