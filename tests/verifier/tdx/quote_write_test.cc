// The quote writer (acon/tdx/quote.h write_quote): real quotes written back byte for byte, and
// field-wise round trips parse(write(fields)) == fields for every version and body type.
#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "acon/tdx/quote.h"
#include "test_util.h"

namespace acon::tdx {
namespace {

Bytes load_quote(const std::string& relative) {
  const bool is_hex_text = relative.ends_with(".hex") || relative.ends_with(".txt");
  return is_hex_text ? test::read_hex_data(relative) : test::read_data_bytes(relative);
}

TEST(QuoteWrite, RealQuotesAreWrittenBackByteForByte) {
  for (const char* path : {
           "quotes/phala-dcap-qvl/tdx_quote",
           "quotes/phala-dcap-qvl/tdx_quote_outdated",
           "quotes/phala-dcap-qvl/sgx_quote",
           "quotes/go-tdx-guest/tdx_prod_quote_SPR_E4.dat",
           "quotes/intel-qvl-sample/quote.dat",
           "eventlog/cc-trusted-api/quote.bin",
       }) {
    SCOPED_TRACE(path);
    const Bytes bytes = load_quote(path);
    auto q = parse_quote(bytes);
    ASSERT_TRUE(q.ok()) << q.error().to_string();
    auto written = write_quote(quote_fields(*q));
    ASSERT_TRUE(written.ok()) << written.error().to_string();
    EXPECT_EQ(hex_encode(*written), hex_encode(bytes));
    auto signed_region = write_quote_signed_region(quote_fields(*q));
    ASSERT_TRUE(signed_region.ok());
    EXPECT_EQ(hex_encode(*signed_region), hex_encode(q->signed_region()));
    auto qe_report = write_enclave_report(q->signature.qe_report);
    ASSERT_TRUE(qe_report.ok());
    EXPECT_EQ(hex_encode(*qe_report), hex_encode(q->signature.qe_report.raw));
  }
}

// Distinct bytes for every field: field k of size n holds k, k+1, ... (mod 256).
class Filler {
 public:
  ByteView next(size_t n) {
    auto& b = store_.emplace_back();
    for (size_t i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(counter_ + i));
    counter_ = static_cast<uint8_t>(counter_ + 37);
    return store_.back();
  }

 private:
  std::deque<Bytes> store_;
  uint8_t counter_ = 1;
};

EnclaveReport filled_enclave_report(Filler& f) {
  EnclaveReport r;
  r.cpu_svn = f.next(16);
  r.misc_select = 0x01020304;
  r.reserved1 = f.next(28);
  r.attributes = f.next(16);
  r.mr_enclave = f.next(32);
  r.reserved2 = f.next(32);
  r.mr_signer = f.next(32);
  r.reserved3 = f.next(96);
  r.isv_prod_id = 0x0506;
  r.isv_svn = 0x0708;
  r.reserved4 = f.next(60);
  r.report_data = f.next(64);
  return r;
}

void fill_td10(Filler& f, TdReport10& r) {
  r.tee_tcb_svn = f.next(16);
  r.mr_seam = f.next(48);
  r.mr_signer_seam = f.next(48);
  r.seam_attributes = f.next(8);
  r.td_attributes = f.next(8);
  r.xfam = f.next(8);
  r.mr_td = f.next(48);
  r.mr_config_id = f.next(48);
  r.mr_owner = f.next(48);
  r.mr_owner_config = f.next(48);
  for (auto& rtmr : r.rtmr) rtmr = f.next(48);
  r.report_data = f.next(64);
}

void fill_td15(Filler& f, TdReport15& r) {
  fill_td10(f, r);
  r.tee_tcb_svn2 = f.next(16);
  r.mr_service_td = f.next(48);
}

TdReport15Ex filled_td15_ex(Filler& f) {
  TdReport15Ex r;
  fill_td15(f, r);
  r.vm_id = f.next(1);
  r.td_id = f.next(32);
  r.dev_info = f.next(48);
  r.init_servtd_hash = f.next(48);
  r.init_servtd_attributes = f.next(8);
  r.init_cpu_svn = f.next(16);
  r.init_tee_tcb_svn = f.next(16);
  r.init_tee_fmspc = f.next(12);
  r.cur_servtd_hash = f.next(48);
  r.cur_servtd_attributes = f.next(8);
  return r;
}

QuoteFields filled_fields(Filler& f, uint16_t version, QuoteBody body) {
  QuoteFields q;
  q.header.version = version;
  q.header.attestation_key_type = kAttestationKeyEcdsaP256;
  q.header.tee_type = std::holds_alternative<EnclaveReport>(body) ? kTeeTypeSgx : kTeeTypeTdx;
  q.header.qe_svn = 0x1122;
  q.header.pce_svn = 0x3344;
  q.header.qe_vendor_id = kIntelQeVendorId;
  q.header.user_data = f.next(20);
  q.body = std::move(body);
  q.quote_signature = f.next(64);
  q.attestation_key = f.next(64);
  q.qe_report = filled_enclave_report(f);
  q.qe_report_signature = f.next(64);
  q.qe_auth_data = f.next(32);
  q.pck_certification = {cert_data::kPckCertChain, f.next(300)};
  q.unused_tail = f.next(5);
  q.padding = f.next(7);
  return q;
}

// Every view of the model, by name, for comparing two quotes field by field.
std::vector<std::pair<std::string, ByteView>> views(const EnclaveReport& r, const std::string& at) {
  return {{at + ".cpu_svn", r.cpu_svn},        {at + ".reserved1", r.reserved1},
          {at + ".attributes", r.attributes},  {at + ".mr_enclave", r.mr_enclave},
          {at + ".reserved2", r.reserved2},    {at + ".mr_signer", r.mr_signer},
          {at + ".reserved3", r.reserved3},    {at + ".reserved4", r.reserved4},
          {at + ".report_data", r.report_data}};
}

std::vector<std::pair<std::string, ByteView>> views(const QuoteFields& q) {
  std::vector<std::pair<std::string, ByteView>> out = {
      {"qe_vendor_id", q.header.qe_vendor_id},
      {"user_data", q.header.user_data},
      {"quote_signature", q.quote_signature},
      {"attestation_key", q.attestation_key},
      {"qe_report_signature", q.qe_report_signature},
      {"qe_auth_data", q.qe_auth_data},
      {"pck_certification.data", q.pck_certification.data},
      {"unused_tail", q.unused_tail},
      {"padding", q.padding},
  };
  auto add = [&out](std::vector<std::pair<std::string, ByteView>> more) {
    out.insert(out.end(), more.begin(), more.end());
  };
  add(views(q.qe_report, "qe_report"));
  if (const auto* sgx = std::get_if<EnclaveReport>(&q.body)) add(views(*sgx, "body"));
  const TdReport10* td = nullptr;
  std::visit(
      [&td](const auto& r) {
        if constexpr (!std::is_same_v<std::decay_t<decltype(r)>, EnclaveReport>) td = &r;
      },
      q.body);
  if (td != nullptr) {
    add({{"tee_tcb_svn", td->tee_tcb_svn},
         {"mr_seam", td->mr_seam},
         {"mr_signer_seam", td->mr_signer_seam},
         {"seam_attributes", td->seam_attributes},
         {"td_attributes", td->td_attributes},
         {"xfam", td->xfam},
         {"mr_td", td->mr_td},
         {"mr_config_id", td->mr_config_id},
         {"mr_owner", td->mr_owner},
         {"mr_owner_config", td->mr_owner_config},
         {"rtmr0", td->rtmr[0]},
         {"rtmr1", td->rtmr[1]},
         {"rtmr2", td->rtmr[2]},
         {"rtmr3", td->rtmr[3]},
         {"report_data", td->report_data}});
  }
  if (const auto* r15 = std::get_if<TdReport15>(&q.body)) {
    add({{"tee_tcb_svn2", r15->tee_tcb_svn2}, {"mr_service_td", r15->mr_service_td}});
  }
  if (const auto* ex = std::get_if<TdReport15Ex>(&q.body)) {
    add({{"tee_tcb_svn2", ex->tee_tcb_svn2},
         {"mr_service_td", ex->mr_service_td},
         {"vm_id", ex->vm_id},
         {"td_id", ex->td_id},
         {"dev_info", ex->dev_info},
         {"init_servtd_hash", ex->init_servtd_hash},
         {"init_servtd_attributes", ex->init_servtd_attributes},
         {"init_cpu_svn", ex->init_cpu_svn},
         {"init_tee_tcb_svn", ex->init_tee_tcb_svn},
         {"init_tee_fmspc", ex->init_tee_fmspc},
         {"cur_servtd_hash", ex->cur_servtd_hash},
         {"cur_servtd_attributes", ex->cur_servtd_attributes}});
  }
  return out;
}

void expect_round_trip(const QuoteFields& want, BodyType body_type) {
  auto bytes = write_quote(want);
  ASSERT_TRUE(bytes.ok()) << bytes.error().to_string();
  auto parsed = parse_quote(*bytes);
  ASSERT_TRUE(parsed.ok()) << parsed.error().to_string();
  EXPECT_EQ(parsed->body_type, body_type);
  EXPECT_EQ(parsed->signature.qe_report_certification.has_value(), want.header.version != 3);
  const QuoteFields got = quote_fields(*parsed);
  EXPECT_EQ(got.header.version, want.header.version);
  EXPECT_EQ(got.header.attestation_key_type, want.header.attestation_key_type);
  EXPECT_EQ(got.header.tee_type, want.header.tee_type);
  EXPECT_EQ(got.header.qe_svn, want.header.qe_svn);
  EXPECT_EQ(got.header.pce_svn, want.header.pce_svn);
  EXPECT_EQ(got.body.index(), want.body.index());
  EXPECT_EQ(got.qe_report.misc_select, want.qe_report.misc_select);
  EXPECT_EQ(got.qe_report.isv_prod_id, want.qe_report.isv_prod_id);
  EXPECT_EQ(got.qe_report.isv_svn, want.qe_report.isv_svn);
  EXPECT_EQ(got.pck_certification.type, want.pck_certification.type);
  if (const auto* sgx = std::get_if<EnclaveReport>(&want.body)) {
    const auto& g = std::get<EnclaveReport>(got.body);
    EXPECT_EQ(g.misc_select, sgx->misc_select);
    EXPECT_EQ(g.isv_prod_id, sgx->isv_prod_id);
    EXPECT_EQ(g.isv_svn, sgx->isv_svn);
  }
  const auto want_views = views(want);
  const auto got_views = views(got);
  ASSERT_EQ(got_views.size(), want_views.size());
  for (size_t i = 0; i < want_views.size(); ++i) {
    EXPECT_EQ(got_views[i].first, want_views[i].first);
    EXPECT_EQ(hex_encode(got_views[i].second), hex_encode(want_views[i].second))
        << want_views[i].first;
  }
  // And the bytes written from the parsed fields are the same bytes.
  auto again = write_quote(got);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *bytes);
}

TEST(QuoteWrite, V4TdReport10RoundTripsEveryField) {
  Filler f;
  TdReport10 body;
  fill_td10(f, body);
  expect_round_trip(filled_fields(f, 4, body), BodyType::td_report10);
}

TEST(QuoteWrite, V5TdReport15RoundTripsEveryField) {
  Filler f;
  TdReport15 body;
  fill_td15(f, body);
  expect_round_trip(filled_fields(f, 5, body), BodyType::td_report15);
}

TEST(QuoteWrite, V5TdReport10And15ExAndSgxRoundTripEveryField) {
  Filler f;
  TdReport10 td10;
  fill_td10(f, td10);
  expect_round_trip(filled_fields(f, 5, td10), BodyType::td_report10);
  expect_round_trip(filled_fields(f, 5, filled_td15_ex(f)), BodyType::td_report15_ex);
  expect_round_trip(filled_fields(f, 5, filled_enclave_report(f)), BodyType::sgx_enclave_report);
}

TEST(QuoteWrite, V3SgxRoundTripsEveryField) {
  Filler f;
  expect_round_trip(filled_fields(f, 3, filled_enclave_report(f)), BodyType::sgx_enclave_report);
}

TEST(QuoteWrite, V4OffsetsMatchTheSpecTable) {
  Filler f;
  TdReport10 body;
  fill_td10(f, body);
  QuoteFields fields = filled_fields(f, 4, body);
  fields.unused_tail = {};
  fields.padding = {};
  auto bytes = write_quote(fields);
  ASSERT_TRUE(bytes.ok());
  auto q = parse_quote(*bytes);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->offset_of(q->td_report()->report_data), 568u);
  EXPECT_EQ(q->offset_of(q->signature.quote_signature), 636u);
  EXPECT_EQ(q->offset_of(q->signature.qe_report.raw), 770u);
  EXPECT_EQ(q->signed_region().size(), 632u);
}

TEST(QuoteWrite, EmptyFixedFieldsAreZeros) {
  QuoteFields q;
  q.header.version = 4;
  q.header.attestation_key_type = kAttestationKeyEcdsaP256;
  q.header.tee_type = kTeeTypeTdx;
  q.body = TdReport10{};
  q.pck_certification.type = cert_data::kPckCertChain;
  auto bytes = write_quote(q);
  ASSERT_TRUE(bytes.ok()) << bytes.error().to_string();
  // 48 header + 584 body + 4 + 64 + 64 + 6 (type 6 block head) + 384 + 64 + 2 + 6.
  EXPECT_EQ(bytes->size(), 48u + 584 + 4 + 128 + 6 + 384 + 64 + 2 + 6);
  auto parsed = parse_quote(*bytes);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(hex_encode(parsed->td_report()->mr_td), std::string(96, '0'));
}

TEST(QuoteWrite, InconsistentFieldsAreInvalidArguments) {
  Filler f;
  TdReport15 td15;
  fill_td15(f, td15);
  // A TD 1.5 body needs a v5 descriptor.
  auto v4_td15 = write_quote(filled_fields(f, 4, td15));
  ASSERT_FALSE(v4_td15.ok());
  EXPECT_EQ(v4_td15.error().code, Errc::invalid_argument);
  EXPECT_NE(v4_td15.error().message.find("TD1.5 body in a version 4 quote"), std::string::npos)
      << v4_td15.error().message;
  // A wrongly sized view names its field.
  QuoteFields short_key = filled_fields(f, 5, td15);
  const Bytes key(63, 1);
  short_key.attestation_key = key;
  auto bad = write_quote(short_key);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "quote.signature_data.attestation_key: 63 bytes, expected 64");
  QuoteFields short_mr = filled_fields(f, 5, td15);
  std::get<TdReport15>(short_mr.body).mr_td = ByteView(key).first(47);
  bad = write_quote(short_mr);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "quote.body.mr_td: 47 bytes, expected 48");
  // Values only the parser checks: the result must parse.
  QuoteFields p384 = filled_fields(f, 5, td15);
  p384.header.attestation_key_type = kAttestationKeyEcdsaP384;
  bad = write_quote(p384);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::invalid_argument);
  EXPECT_NE(bad.error().message.find("quote.header.attestation_key_type at offset 2"),
            std::string::npos);
  QuoteFields cert7 = filled_fields(f, 4, static_cast<const TdReport10&>(td15));
  cert7.pck_certification.type = 7;
  EXPECT_FALSE(write_quote(cert7).ok());
}

TEST(QuoteConstants, IntelQeVendorId) {
  EXPECT_EQ(hex_encode(kIntelQeVendorId), "939a7233f79c4ca9940a0db3957f0607");
}

}  // namespace
}  // namespace acon::tdx
