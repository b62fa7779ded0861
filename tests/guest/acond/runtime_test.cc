// acon::acond's pod semantics on the simulated TD: AddManifest's order of checks and ACON's
// status codes, Finalize, AddBlob, Report, and both measurement log modes against ACON's and
// CoCo's replay (vectors from aconcli's attest_get_rtmr_test.go at ACON 3430805, and the coco
// value of the same events).
#include <gtest/gtest.h>

#include <filesystem>

#include "acon/acond/measurement_log.h"
#include "acon/acond/runtime.h"
#include "acon/eventlog/runtime.h"
#include "acon/image/attestation_data.h"
#include "acond_fixtures.h"

namespace acon::acond {

// Test names and messages show the mode's name.
void PrintTo(LogMode mode, std::ostream* out) { *out << log_mode_name(mode); }

namespace {

using namespace test_fixtures;
namespace fs = std::filesystem;

// aconcli testdata set2 image (RSA-3072 signer) as ACON's RTMR3 test extends it.
constexpr std::string_view kSet2ImageId =
    "sha384/7ec795c3fe89687d4514a1e4f95b2421012fd0b877eba9d5d5f33a1314fe7e10a5b38b0890d890df59b716f"
    "55f41e2ff/1be479a625d00cc800da463a19baf111a5f69fa1858d78d124813236bc5b198bd551648273a0f65824b"
    "13490263362ef";
// INIT, AddManifest <set2>, Finalize in ACON's text chain.
constexpr std::string_view kAconFinalizeRtmr3 =
    "bc960aff6bc369d35fa94b8471bf7607436440f23dc54200d2115c38a1181732fee24a16a7d5b5dd50d7217f64ffb5"
    "73";
// AddManifest <set2>, "Finalize 1" as TCG2 AAEL records.
constexpr std::string_view kCocoFinalizeRtmr3 =
    "31b8dfd572164963c828647d8063cab0c239ff9effaf3e66de32e003f7c72cee826c0dba04a16f7c433682841516"
    "43df";

struct Td {
  TempDir dir;
  std::string state = (dir.path() / "sim.json").string();
  guest::sim::Simulator sim = create_sim_state(state);
  guest::sim::SimBackend backend{state};

  std::unique_ptr<Runtime> open(LogMode mode,
                                image::PolicyMode policy = image::PolicyMode::acond_greedy) {
    RuntimeOptions options;
    options.state_dir = dir.path() / "acond";
    options.log_mode = mode;
    options.policy_mode = policy;
    return must(Runtime::open(backend, options));
  }
  std::string rtmr3() { return hex_encode(must(backend.read(3, HashAlg::sha384))); }
};

class LogModes : public ::testing::TestWithParam<LogMode> {};
INSTANTIATE_TEST_SUITE_P(Acond, LogModes, ::testing::Values(LogMode::coco, LogMode::acon),
                         [](const auto& mode) { return std::string(log_mode_name(mode.param)); });

TEST_P(LogModes, Set2ImageAndFinalizeGiveTheVectorRtmr3) {
  Td td;
  auto log = must(MeasurementLog::open(td.backend, GetParam(), td.dir.path() / "log"));
  ASSERT_TRUE(
      log.measure({"github.com/intel/ACON", "AddManifest", std::string(kSet2ImageId)}).ok());
  bool coco = GetParam() == LogMode::coco;
  ASSERT_TRUE(log.measure({"github.com/intel/ACON", "Finalize", coco ? "1" : ""}).ok());
  EXPECT_EQ(td.rtmr3(), coco ? kCocoFinalizeRtmr3 : kAconFinalizeRtmr3);
  if (coco) {
    EXPECT_EQ(log.entries(), (std::vector<std::string>{
                                 "github.com/intel/ACON AddManifest " + std::string(kSet2ImageId),
                                 "github.com/intel/ACON Finalize 1"}));
  } else {
    ASSERT_EQ(log.entries().size(), 3u);
    EXPECT_EQ(log.entries()[0], "INIT sha384/" + std::string(96, '0'));
    EXPECT_EQ(log.entries()[2], "github.com/intel/ACON Finalize");
  }
  // A reopened log reads the same entries back from the file.
  auto reopened = must(MeasurementLog::open(td.backend, GetParam(), td.dir.path() / "log"));
  EXPECT_EQ(reopened.entries(), log.entries());
}

TEST_P(LogModes, WriteAheadCompletesAnExtendWhoseRecordWasNotAppended) {
  Td td;
  fs::path path = td.dir.path() / "log";
  auto log = must(MeasurementLog::open(td.backend, GetParam(), path));
  ASSERT_TRUE(log.measure({"d", "op", "first"}).ok());
  auto before = must(log.contents());
  // A process that died after the extend: write-ahead record on disk, register extended, no
  // record in the log.
  eventlog::AaelEvent event{"d", "op", "second"};
  Bytes record, digest;
  if (GetParam() == LogMode::coco) {
    record = must(eventlog::aael_record(kRuntimeCcMrIndex, HashAlg::sha384, event));
    digest = sha384(must(eventlog::aael_tagged_event(event)));
  } else {
    record = to_bytes(must(eventlog::text_aael_event_line(event)));
    digest = sha384(as_bytes(as_chars(record).substr(0, record.size() - 1)));
  }
  Bytes input = must(td.backend.read(3, HashAlg::sha384));
  append(input, digest);
  WriteAheadRecord wal{before.size(), sha384(input), digest, record};
  {
    std::ofstream out(write_ahead_path(path), std::ios::binary);
    Bytes bytes = encode_write_ahead(wal);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
  }
  ASSERT_TRUE(td.backend.extend(3, HashAlg::sha384, digest).ok());

  auto recovered = must(MeasurementLog::open(td.backend, GetParam(), path));
  EXPECT_FALSE(fs::exists(write_ahead_path(path)));
  EXPECT_EQ(recovered.entries().back(), "d op second");
  Bytes expected = before;
  append(expected, record);
  EXPECT_EQ(must(recovered.contents()), expected);
}

TEST_P(LogModes, WriteAheadWithoutItsExtendIsDropped) {
  Td td;
  fs::path path = td.dir.path() / "log";
  auto log = must(MeasurementLog::open(td.backend, GetParam(), path));
  ASSERT_TRUE(log.measure({"d", "op", "first"}).ok());
  auto before = must(log.contents());
  std::string rtmr3 = td.rtmr3();
  // Died after the write-ahead record, before the extend (and a torn append, for good measure).
  WriteAheadRecord wal{before.size(), Bytes(48, 0xAA), Bytes(48, 0xBB), to_bytes("x")};
  {
    std::ofstream out(write_ahead_path(path), std::ios::binary);
    Bytes bytes = encode_write_ahead(wal);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    std::ofstream torn(path, std::ios::binary | std::ios::app);
    torn << "partial";
  }
  auto recovered = must(MeasurementLog::open(td.backend, GetParam(), path));
  EXPECT_FALSE(fs::exists(write_ahead_path(path)));
  EXPECT_EQ(must(recovered.contents()), before);
  EXPECT_EQ(td.rtmr3(), rtmr3);
}

TEST(WriteAhead, ParserNamesTheShortField) {
  auto short_record = parse_write_ahead(Bytes(10, 0));
  ASSERT_FALSE(short_record.ok());
  EXPECT_NE(short_record.error().message.find("offset 0"), std::string::npos);
  auto empty_record = parse_write_ahead(Bytes(104, 0));
  ASSERT_FALSE(empty_record.ok());
  EXPECT_NE(empty_record.error().message.find("record at offset 104"), std::string::npos);
  WriteAheadRecord wal{0x0102030405060708, Bytes(48, 1), Bytes(48, 2), to_bytes("rec")};
  auto parsed = must(parse_write_ahead(encode_write_ahead(wal)));
  EXPECT_EQ(parsed.log_offset, wal.log_offset);
  EXPECT_EQ(parsed.record, wal.record);
}

TEST(AttestationData, JsonAndReportDataAsAcondWritesThem) {
  Bytes acond_nonce(16, 7);
  std::string json =
      image::write_attestation_data(image::requestor_nonce(0x1122334455667788, 0x99aabbccddeeff00),
                                    acond_nonce, {{"sha384/b/2", {10, 9, 2}}, {"sha384/a/1", {}}});
  EXPECT_EQ(json,
            R"({"api_version":"1.0.0","requestor_nonce":[136,119,102,85,68,51,34,17,0,255,238,)"
            R"(221,204,187,170,153],"acond_nonce":[7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7],)"
            R"("attestation_data":{"sha384/a/1":{},"sha384/b/2":{"2":{},"9":{},"10":{}}}})");
  // A container's attached data, escaped as serde_json escapes (written out here by hand).
  std::string attached = image::write_attestation_data(
      image::requestor_nonce(0, 0), acond_nonce, {{"sha384/b/2", {2, 9}}},
      {{9, {2, "q\"b\\s/\n\t\x01\x1f\u00e9"}}, {3, {1, "unused"}}});
  EXPECT_NE(
      attached.find(R"("sha384/b/2":{"2":{},"9":{"type":2,"data":"q\"b\\s/\n\t\u0001\u001fé"}})"),
      std::string::npos)
      << attached;
  auto report_data = image::attestation_report_data(as_bytes(json));
  Bytes digest = sha384(as_bytes(json));
  EXPECT_TRUE(std::equal(digest.begin(), digest.end(), report_data.begin()));
  EXPECT_TRUE(
      std::all_of(report_data.begin() + 48, report_data.end(), [](uint8_t b) { return b == 0; }));
}

TEST(Runtime, TwoCompatibleImagesThenAnIncompatibleOne) {
  Td td;
  auto runtime = td.open(LogMode::coco);
  Signer p384 = load_signer("p384");
  Signer p521 = load_signer("p521");
  // A rejects everything it does not accept and accepts any image of its own signer.
  auto a = sign(p384, app_manifest({}, {p384.rule_prefix + "*"}, true));
  auto b = sign(p384, app_manifest({}, {}, false));
  auto c = sign(p521, app_manifest({}, {}, false));
  auto added_a = runtime->add_manifest(a.manifest, a.signature, a.certificate);
  ASSERT_TRUE(added_a.ok()) << added_a.error().message;
  EXPECT_EQ(added_a->image_id, a.image_id);
  ASSERT_TRUE(runtime->add_manifest(b.manifest, b.signature, b.certificate).ok());
  std::string rtmr3 = td.rtmr3();
  auto added_c = runtime->add_manifest(c.manifest, c.signature, c.certificate);
  ASSERT_FALSE(added_c.ok());
  EXPECT_EQ(added_c.error().code, RpcCode::permission_denied);
  EXPECT_EQ(added_c.error().message, "Incompatible polices");
  EXPECT_EQ(td.rtmr3(), rtmr3);  // a refused image is not measured
  EXPECT_EQ(runtime->image_count(), 2u);
}

TEST(Runtime, SpecPolicyModeIsSelectable) {
  Td td;
  auto runtime = td.open(LogMode::coco, image::PolicyMode::spec_graph);
  Signer p384 = load_signer("p384");
  auto a = sign(p384, app_manifest({}, {}, true));
  ASSERT_TRUE(runtime->add_manifest(a.manifest, a.signature, a.certificate).ok());
  auto b = sign(p384, app_manifest({"sha384/" + std::string(96, 'a')}, {}, false));
  auto added = runtime->add_manifest(b.manifest, b.signature, b.certificate);
  ASSERT_FALSE(added.ok());  // A does not accept B: unreachable from A
  EXPECT_EQ(added.error().code, RpcCode::permission_denied);
}

TEST(Runtime, ReAddIsIdempotentAndReportsDanglingLayers) {
  Td td;
  auto runtime = td.open(LogMode::coco);
  Signer p384 = load_signer("p384");
  Layer layer = make_layer(td.dir.path(), "one");
  Layer other = make_layer(td.dir.path(), "two");
  auto image = sign(p384, app_manifest({layer.ref, other.ref}, {}, false));
  auto first = runtime->add_manifest(image.manifest, image.signature, image.certificate);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->missing_layers, (std::vector<std::string>{layer.ref, other.ref}));
  std::string rtmr3 = td.rtmr3();

  ASSERT_TRUE(runtime->add_blob(2, layer.tar).ok());
  auto again = runtime->add_manifest(image.manifest, image.signature, image.certificate);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->image_id, image.image_id);
  EXPECT_EQ(again->missing_layers, (std::vector<std::string>{other.ref}));
  EXPECT_EQ(td.rtmr3(), rtmr3);  // nothing measured for a loaded image
  EXPECT_EQ(runtime->image_count(), 1u);
  fs::path unpacked = runtime->options().state_dir / "contents" / layer.ref / "etc" / "hello";
  EXPECT_TRUE(fs::exists(unpacked));

  ASSERT_TRUE(runtime->add_blob(1 | 2, other.tar).ok());
  EXPECT_TRUE(runtime->add_manifest(image.manifest, image.signature, image.certificate)
                  ->missing_layers.empty());
  // alg bit 1 links the sha256 name to the sha384 directory.
  std::string sha256_hex = hex_encode(sha256(other.tar));
  EXPECT_TRUE(fs::exists(runtime->options().state_dir / "contents" / "sha256" / sha256_hex / "etc" /
                         "hello"));
}

TEST(Runtime, AddBlobRefusesWhatNoManifestReferences) {
  Td td;
  auto runtime = td.open(LogMode::coco);
  Layer layer = make_layer(td.dir.path(), "layer");
  auto none = runtime->add_blob(2, layer.tar);  // no image loaded
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, RpcCode::permission_denied);
  EXPECT_EQ(none.error().message, "No referencing manifest");

  Signer p384 = load_signer("p384");
  auto image = sign(p384, app_manifest({layer.ref}, {}, false));
  ASSERT_TRUE(runtime->add_manifest(image.manifest, image.signature, image.certificate).ok());
  for (auto [alg, data] :
       {std::pair{2u, Bytes{}}, std::pair{0u, layer.tar}, std::pair{1u, layer.tar},
        std::pair{2u, make_layer(td.dir.path(), "x").tar}}) {
    auto refused = runtime->add_blob(alg, data);
    ASSERT_FALSE(refused.ok()) << alg;
    EXPECT_EQ(refused.error().message, "No referencing manifest");
  }
  EXPECT_TRUE(runtime->add_blob(2, layer.tar).ok());
  EXPECT_TRUE(runtime->add_blob(2, layer.tar).ok());  // once per digest, again is fine
  ASSERT_TRUE(runtime->finalize().ok());
  EXPECT_TRUE(runtime->add_blob(2 | 4, layer.tar).ok());  // allowed after Finalize
}

TEST(Runtime, HostileLayerIsRefusedAndLeavesNoContent) {
  Td td;
  auto runtime = td.open(LogMode::coco);
  // A tar entry named "../escape": hand-made header, checksum filled in.
  Bytes tar(1536, 0);
  std::string name = "../escape";
  std::copy(name.begin(), name.end(), tar.begin());
  std::string fields[] = {"0000644", "0000000", "0000000", "00000000000", "00000000000"};
  size_t offsets[] = {100, 108, 116, 124, 136};
  for (int i = 0; i < 5; ++i)
    std::copy(fields[i].begin(), fields[i].end(), tar.begin() + offsets[i]);
  tar[156] = '0';
  std::copy_n("ustar", 5, tar.begin() + 257);
  std::copy_n("00", 2, tar.begin() + 263);
  std::fill(tar.begin() + 148, tar.begin() + 156, ' ');
  unsigned sum = 0;
  for (size_t i = 0; i < 512; ++i) sum += tar[i];
  std::snprintf(reinterpret_cast<char*>(tar.data()) + 148, 8, "%06o", sum);
  std::string ref = "sha384/" + hex_encode(sha384(tar));
  Signer p384 = load_signer("p384");
  auto image = sign(p384, app_manifest({ref}, {}, false));
  ASSERT_TRUE(runtime->add_manifest(image.manifest, image.signature, image.certificate).ok());
  auto added = runtime->add_blob(2, tar);
  ASSERT_FALSE(added.ok());
  EXPECT_EQ(added.error().code, RpcCode::unknown);
  EXPECT_FALSE(fs::exists(runtime->options().state_dir / "contents" / ref));
  EXPECT_FALSE(fs::exists(runtime->options().state_dir / "contents" / "escape"));
}

TEST(Runtime, FinalizeOnceThenNoMoreManifests) {
  Td td;
  auto runtime = td.open(LogMode::coco);
  Signer p384 = load_signer("p384");
  auto image = sign(p384, app_manifest({}, {}, false));
  ASSERT_TRUE(runtime->add_manifest(image.manifest, image.signature, image.certificate).ok());
  ASSERT_TRUE(runtime->finalize().ok());
  std::string rtmr3 = td.rtmr3();
  auto twice = runtime->finalize();
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().code, RpcCode::permission_denied);
  EXPECT_EQ(twice.error().message, "Manifests finalized");
  // Finalize is checked before anything else, even for a loaded image or a bad signature.
  auto readd = runtime->add_manifest(image.manifest, image.signature, image.certificate);
  ASSERT_FALSE(readd.ok());
  EXPECT_EQ(readd.error().message, "Manifests finalized");
  auto bad = runtime->add_manifest(image.manifest, Bytes{1, 2, 3}, image.certificate);
  EXPECT_EQ(bad.error().message, "Manifests finalized");
  EXPECT_EQ(td.rtmr3(), rtmr3);
}

TEST(Runtime, BadSignatureCertificateAndManifest) {
  Td td;
  auto runtime = td.open(LogMode::coco);
  Signer p384 = load_signer("p384");
  auto image = sign(p384, app_manifest({}, {}, false));
  Bytes tampered = image.signature;
  tampered[tampered.size() / 2] ^= 1;
  auto bad_signature = runtime->add_manifest(image.manifest, tampered, image.certificate);
  ASSERT_FALSE(bad_signature.ok());
  EXPECT_EQ(bad_signature.error().code, RpcCode::invalid_argument);
  EXPECT_EQ(bad_signature.error().message, "Invalid digital signature");

  auto bad_cert = runtime->add_manifest(image.manifest, image.signature, Bytes{0x30, 0x00});
  ASSERT_FALSE(bad_cert.ok());
  EXPECT_EQ(bad_cert.error().code, RpcCode::unknown);
  EXPECT_EQ(bad_cert.error().message, "Invalid certificate");

  std::string not_a_manifest = R"({"layers":[]})";  // signed, but required keys are missing
  auto sig = must(image::sign_manifest(not_a_manifest, p384.key, p384.cert));
  auto bad_manifest = runtime->add_manifest(not_a_manifest, sig, image.certificate);
  ASSERT_FALSE(bad_manifest.ok());
  EXPECT_EQ(bad_manifest.error().code, RpcCode::unknown);
  EXPECT_EQ(runtime->image_count(), 0u);
  EXPECT_EQ(td.rtmr3(), std::string(96, '0'));
}

TEST(Runtime, GetManifestReturnsTheExactBytes) {
  Td td;
  auto runtime = td.open(LogMode::coco);
  Signer p384 = load_signer("p384");
  auto image = sign(p384, app_manifest({}, {}, false));
  ASSERT_TRUE(runtime->add_manifest(image.manifest, image.signature, image.certificate).ok());
  auto got = runtime->get_manifest(image.image_id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->manifest, image.manifest);
  EXPECT_EQ(got->certificate_der, image.certificate);
  auto missing = runtime->get_manifest("sha384/x/y");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, RpcCode::invalid_argument);
  EXPECT_EQ(missing.error().message, "Invalid Image ID");
}

TEST(Runtime, ReportNeedsAnImageAndAKnownType) {
  Td td;
  auto runtime = td.open(LogMode::coco);
  auto empty = runtime->report(1, 2, 1);
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code, RpcCode::unknown);
  EXPECT_EQ(empty.error().message, "No images in current TD");
  Signer p384 = load_signer("p384");
  auto image = sign(p384, app_manifest({}, {}, false));
  ASSERT_TRUE(runtime->add_manifest(image.manifest, image.signature, image.certificate).ok());
  auto bad_type = runtime->report(1, 2, 7);
  ASSERT_FALSE(bad_type.ok());
  EXPECT_EQ(bad_type.error().code, RpcCode::invalid_argument);
  EXPECT_EQ(bad_type.error().message, "Invalid request type");
  auto tdreport = runtime->report(1, 2, 0);
  ASSERT_TRUE(tdreport.ok());
  EXPECT_EQ(tdreport->data.size(), 1024u);
  EXPECT_TRUE(td.sim.verify_td_report(tdreport->data).ok());
  auto report_data = image::attestation_report_data(as_bytes(tdreport->attestation_data));
  // TDREPORT: REPORTMACSTRUCT's REPORTDATA at offset 128.
  EXPECT_TRUE(std::equal(report_data.begin(), report_data.end(), tdreport->data.begin() + 128));
}

TEST_P(LogModes, QuoteVerifiesAndLogsReplayToEveryRtmr) {
  Td td;
  auto runtime = td.open(GetParam());
  Signer p384 = load_signer("p384");
  auto a = sign(p384, app_manifest({}, {}, false));
  auto b = sign(p384, app_manifest({"sha384/" + std::string(96, 'b')}, {}, false));
  ASSERT_TRUE(runtime->add_manifest(a.manifest, a.signature, a.certificate).ok());
  ASSERT_TRUE(runtime->add_manifest(b.manifest, b.signature, b.certificate).ok());
  ASSERT_TRUE(runtime->finalize().ok());
  auto evidence = runtime->evidence(0x1122334455667788, 0x99aabbccddeeff00, kRequestQuote);
  ASSERT_TRUE(evidence.ok()) << evidence.error().message;
  const auto& mrlog3 = evidence->report.mrlog.at(3);
  bool coco = GetParam() == LogMode::coco;
  ASSERT_EQ(mrlog3.size(), coco ? 3u : 4u);
  EXPECT_EQ(mrlog3.back(),
            coco ? "github.com/intel/ACON Finalize 2" : "github.com/intel/ACON Finalize");
  EXPECT_EQ(evidence->report.mrlog.at(0).size(), 0u);
  EXPECT_NE(evidence->report.attestation_data.find(a.image_id), std::string::npos);
  expect_evidence_verifies(td.sim, evidence->report.data, evidence->report.attestation_data,
                           evidence->firmware_event_log, coco, evidence->runtime_log,
                           0x1122334455667788, 0x99aabbccddeeff00);
}

}  // namespace
}  // namespace acon::acond
