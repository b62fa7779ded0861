// Quote layout parsing on the real quotes in tests/data/quotes (expectations from
// docs/tdx-quote.md §6 and tests/data/quotes/vectors.json) and in
// tests/data/eventlog (registers from expected.json), plus malformed and synthetic quotes.
#include "acon/tdx/quote.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "acon/common/json.h"
#include "test_util.h"

namespace acon::tdx {
namespace {

// Reads a quote file; the phala-dcap-qvl .hex/.txt files are ASCII hex (optionally "0x").
Bytes load_quote(const std::string& relative) {
  const bool is_hex_text = relative.ends_with(".hex") || relative.ends_with(".txt");
  return is_hex_text ? test::read_hex_data(relative) : test::read_data_bytes(relative);
}

void put_u16(Bytes& b, size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v);
  b[at + 1] = static_cast<uint8_t>(v >> 8);
}
void put_u32(Bytes& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t get_u32(const Bytes& b, size_t at) {
  return b[at] | b[at + 1] << 8 | b[at + 2] << 16 | static_cast<uint32_t>(b[at + 3]) << 24;
}

size_t count(std::string_view text, std::string_view needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string_view::npos; at = text.find(needle, at + 1))
    ++n;
  return n;
}

std::string hex(ByteView b) { return hex_encode(b); }

// Expects a parse failure whose message starts with `prefix` (field name and offset).
void expect_parse_error(const Bytes& bytes, std::string_view prefix, Errc code = Errc::parse) {
  auto q = parse_quote(bytes);
  ASSERT_FALSE(q.ok()) << "expected an error starting with " << prefix;
  EXPECT_EQ(q.error().code, code) << q.error().to_string();
  EXPECT_TRUE(q.error().message.starts_with(prefix))
      << "got: " << q.error().message << "\nwant prefix: " << prefix;
}

// ---------------------------------------------------------------------------------------------
// Real quotes.

struct RealQuote {
  std::string path;
  uint16_t version;
  BodyType body_type;
  size_t signed_size;
  uint32_t signature_data_size;
  size_t padding;
  uint32_t pck_certification_size;
  size_t qe_auth_data_size;
  bool pem_chain;  // false: the Intel sample's type-5 block holds DER certificates
};

void PrintTo(const RealQuote& q, std::ostream* os) { *os << q.path; }

// Sizes: docs/tdx-quote.md §6 and vectors.json; the rest computed once from the files with a hex
// viewer.
const RealQuote kRealQuotes[] = {
    {"quotes/phala-dcap-qvl/tdx_quote", 4, BodyType::td_report10, 632, 4300, 70, 3678, 32, true},
    {"quotes/phala-dcap-qvl/tdx_quote_outdated", 5, BodyType::td_report15, 702, 4300, 0, 3678, 32,
     true},
    {"quotes/phala-dcap-qvl/near_quote_hex.txt", 4, BodyType::td_report10, 632, 4300, 70, 3678, 32,
     true},
    {"quotes/phala-dcap-qvl/tdx-quote.hex", 4, BodyType::td_report10, 632, 4300, 70, 3678, 32,
     true},
    {"quotes/phala-dcap-qvl/quote-from-tappd.hex", 4, BodyType::td_report10, 632, 4300, 70, 3678,
     32, true},
    {"quotes/phala-dcap-qvl/sgx_quote", 3, BodyType::sgx_enclave_report, 432, 4164, 0, 3548, 32,
     true},
    {"quotes/go-tdx-guest/tdx_prod_quote_SPR_E4.dat", 4, BodyType::td_report10, 632, 4299, 39, 3677,
     32, true},
    {"quotes/intel-qvl-sample/quote.dat", 4, BodyType::td_report10, 632, 3060, 0, 2470, 0, false},
    {"eventlog/cc-trusted-api/quote.bin", 4, BodyType::td_report10, 632, 4320, 70, 3698, 32, true},
    {"eventlog/trustee_aael_legacy/AAEL_quote_tdx", 4, BodyType::td_report10, 632, 4300, 70, 3678,
     32, true},
};

class RealQuoteTest : public ::testing::TestWithParam<RealQuote> {};

TEST_P(RealQuoteTest, ParsesWithTheExpectedShape) {
  const RealQuote& want = GetParam();
  const Bytes bytes = load_quote(want.path);
  ASSERT_FALSE(bytes.empty()) << want.path;
  auto q = parse_quote(bytes);
  ASSERT_TRUE(q.ok()) << q.error().to_string();

  EXPECT_EQ(q->header.version, want.version);
  EXPECT_EQ(q->header.attestation_key_type, kAttestationKeyEcdsaP256);
  EXPECT_EQ(q->header.tee_type, want.version == 3 ? kTeeTypeSgx : kTeeTypeTdx);
  EXPECT_EQ(hex(q->header.qe_vendor_id), "939a7233f79c4ca9940a0db3957f0607");
  EXPECT_EQ(q->body_type, want.body_type);
  EXPECT_EQ(q->signed_region().size(), want.signed_size);
  EXPECT_EQ(q->signed_region().data(), bytes.data());
  EXPECT_EQ(q->signature_data.size(), want.signature_data_size);
  EXPECT_EQ(q->padding_size(), want.padding);
  EXPECT_EQ(want.signed_size + 4 + want.signature_data_size + want.padding, bytes.size());
  EXPECT_EQ(q->signature.qe_auth_data.size(), want.qe_auth_data_size);
  EXPECT_EQ(q->signature.pck_certification.type, cert_data::kPckCertChain);
  EXPECT_EQ(q->signature.pck_certification.data.size(), want.pck_certification_size);
  EXPECT_TRUE(q->signature.unused_tail.empty());
  EXPECT_EQ(q->signature.qe_report.raw.size(), kEnclaveReportSize);
  EXPECT_EQ(q->signature.qe_report_certification.has_value(), want.version != 3);
  if (want.version == 3) {
    ASSERT_NE(q->enclave_report(), nullptr);
    EXPECT_EQ(q->td_report(), nullptr);
  } else {
    ASSERT_NE(q->td_report(), nullptr);
    EXPECT_EQ(q->enclave_report(), nullptr);
    EXPECT_EQ(q->td_report()->raw.size(), q->body_size);
  }

  auto pem = q->pck_chain_pem();
  if (want.pem_chain) {
    ASSERT_TRUE(pem.ok()) << pem.error().to_string();
    EXPECT_EQ(count(*pem, "-----BEGIN CERTIFICATE-----"), 3u);
    EXPECT_EQ(count(*pem, "-----END CERTIFICATE-----"), 3u);
    ASSERT_FALSE(pem->empty());
    EXPECT_NE(pem->back(), '\0');
  } else {
    ASSERT_FALSE(pem.ok());
    EXPECT_EQ(pem.error().code, Errc::parse);
    EXPECT_NE(pem.error().message.find("is not PEM text"), std::string::npos);
  }
}

INSTANTIATE_TEST_SUITE_P(Files, RealQuoteTest, ::testing::ValuesIn(kRealQuotes));

size_t offset_in(const Bytes& bytes, ByteView field) {
  return static_cast<size_t>(field.data() - bytes.data());
}

// docs/tdx-quote.md §6 "Absolute offsets in real quotes", v4 column (phala tdx_quote).
TEST(QuoteOffsets, V4MatchTheSpecTable) {
  const Bytes bytes = load_quote("quotes/phala-dcap-qvl/tdx_quote");
  auto q = parse_quote(bytes);
  ASSERT_TRUE(q.ok()) << q.error().to_string();
  const TdReport10& td = *q->td_report();
  EXPECT_EQ(q->body_offset(), 48u);
  EXPECT_EQ(offset_in(bytes, td.raw), 48u);
  EXPECT_EQ(offset_in(bytes, td.mr_td), 48u + 136);
  EXPECT_EQ(offset_in(bytes, td.rtmr[3]), 48u + 472);
  EXPECT_EQ(offset_in(bytes, td.report_data), 568u);
  EXPECT_EQ(offset_in(bytes, q->signature_data) - 4, 632u);  // sig_data_len
  const QuoteSignatureData& s = q->signature;
  EXPECT_EQ(offset_in(bytes, s.quote_signature), 636u);
  EXPECT_EQ(offset_in(bytes, s.attestation_key), 700u);
  ASSERT_TRUE(s.qe_report_certification.has_value());
  EXPECT_EQ(offset_in(bytes, s.qe_report_certification->data) - 6, 764u);  // type
  EXPECT_EQ(offset_in(bytes, s.qe_report_certification->data) - 4, 766u);  // size
  EXPECT_EQ(s.qe_report_certification->data.size(), 4166u);
  EXPECT_EQ(offset_in(bytes, s.qe_report.raw), 770u);
  EXPECT_EQ(offset_in(bytes, s.qe_report_signature), 1154u);
  EXPECT_EQ(offset_in(bytes, s.qe_auth_data) - 2, 1218u);
  EXPECT_EQ(offset_in(bytes, s.qe_auth_data), 1220u);
  EXPECT_EQ(offset_in(bytes, s.pck_certification.data) - 6, 1252u);
  EXPECT_EQ(offset_in(bytes, s.pck_certification.data) - 4, 1254u);
  EXPECT_EQ(offset_in(bytes, s.pck_certification.data), 1258u);
  EXPECT_EQ(q->offset_of(s.pck_certification.data), 1258u);
  EXPECT_EQ(offset_in(bytes, q->padding), 4936u);
  // QE report fields (docs/tdx-quote.md §5) relative to the QE report.
  EXPECT_EQ(offset_in(bytes, s.qe_report.mr_signer), 770u + 128);
  EXPECT_EQ(offset_in(bytes, s.qe_report.report_data), 770u + 320);
  // vectors.json phala-tdx-v4-uptodate details.
  EXPECT_EQ(hex(td.tee_tcb_svn), "06010300000000000000000000000000");
}

// docs/tdx-quote.md §6, v5 TD1.5 column (phala tdx_quote_outdated).
TEST(QuoteOffsets, V5Td15MatchTheSpecTable) {
  const Bytes bytes = load_quote("quotes/phala-dcap-qvl/tdx_quote_outdated");
  auto q = parse_quote(bytes);
  ASSERT_TRUE(q.ok()) << q.error().to_string();
  EXPECT_EQ(q->body_offset(), 54u);
  EXPECT_EQ(q->body_size, kTdReport15Size);
  const TdReport15* td = q->td_report15();
  ASSERT_NE(td, nullptr);
  EXPECT_EQ(offset_in(bytes, td->raw), 54u);
  EXPECT_EQ(offset_in(bytes, td->report_data), 574u);
  EXPECT_EQ(offset_in(bytes, td->tee_tcb_svn2), 638u);
  EXPECT_EQ(offset_in(bytes, td->mr_service_td), 654u);
  EXPECT_EQ(offset_in(bytes, q->signature_data) - 4, 702u);
  const QuoteSignatureData& s = q->signature;
  EXPECT_EQ(offset_in(bytes, s.quote_signature), 706u);
  EXPECT_EQ(offset_in(bytes, s.attestation_key), 770u);
  EXPECT_EQ(offset_in(bytes, s.qe_report_certification->data) - 6, 834u);
  EXPECT_EQ(offset_in(bytes, s.qe_report_certification->data) - 4, 836u);
  EXPECT_EQ(s.qe_report_certification->data.size(), 4166u);
  EXPECT_EQ(offset_in(bytes, s.qe_report.raw), 840u);
  EXPECT_EQ(offset_in(bytes, s.qe_report_signature), 1224u);
  EXPECT_EQ(offset_in(bytes, s.qe_auth_data), 1290u);
  EXPECT_EQ(offset_in(bytes, s.pck_certification.data) - 6, 1322u);
  EXPECT_EQ(offset_in(bytes, s.pck_certification.data) - 4, 1324u);
  EXPECT_EQ(offset_in(bytes, s.pck_certification.data), 1328u);
  EXPECT_EQ(hex(td->tee_tcb_svn), "07010300000000000000000000000000");
  EXPECT_EQ(hex(td->tee_tcb_svn2), "0d010300000000000000000000000000");
  EXPECT_EQ(hex(td->mr_service_td), std::string(96, '0'));
}

// v3: QE report right after the attestation key (docs/tdx-quote.md §6, v3 paragraph).
TEST(QuoteOffsets, V3SgxHasNoType6Wrapper) {
  const Bytes bytes = load_quote("quotes/phala-dcap-qvl/sgx_quote");
  auto q = parse_quote(bytes);
  ASSERT_TRUE(q.ok()) << q.error().to_string();
  const EnclaveReport* body = q->enclave_report();
  ASSERT_NE(body, nullptr);
  EXPECT_EQ(offset_in(bytes, body->report_data), 48u + 320);
  EXPECT_EQ(offset_in(bytes, q->signature.quote_signature), 436u);
  EXPECT_EQ(offset_in(bytes, q->signature.qe_report.raw), 436u + 128);
  EXPECT_EQ(offset_in(bytes, q->signature.pck_certification.data), 1052u);
  // Header bytes 8..11 are the QE and PCE SVNs in v3 (QVL names).
  EXPECT_EQ(q->header.qe_svn, 10);
  EXPECT_EQ(q->header.pce_svn, 15);
}

// MRTD, RTMRs, MRCONFIGID and REPORTDATA of the quotes paired with event logs
// (tests/data/eventlog/expected.json, "quotes").
TEST(QuoteRegisters, EventLogQuotesMatchExpectedJson) {
  auto expected = parse_json(test::read_data("eventlog/expected.json"));
  ASSERT_TRUE(expected.ok()) << expected.error().to_string();
  const Json& quotes = (*expected)["quotes"];
  ASSERT_EQ(quotes.size(), 2u);
  for (auto it = quotes.begin(); it != quotes.end(); ++it) {
    SCOPED_TRACE(it.key());
    const Json& want = it.value();
    const Bytes bytes = load_quote("eventlog/" + it.key());
    ASSERT_EQ(bytes.size(), want["size"].get<size_t>());
    auto q = parse_quote(bytes);
    ASSERT_TRUE(q.ok()) << q.error().to_string();
    EXPECT_EQ(q->header.version, want["version"].get<int>());
    const TdReport10* td = q->td_report();
    ASSERT_NE(td, nullptr);
    EXPECT_EQ(hex(td->mr_td), want["mrtd"].get<std::string>());
    EXPECT_EQ(hex(td->mr_config_id), want["mrconfigid"].get<std::string>());
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(hex(td->rtmr[i]), want["rtmr" + std::to_string(i)].get<std::string>()) << i;
    }
    EXPECT_EQ(hex(td->report_data), want["report_data"].get<std::string>());
  }
}

TEST(QuoteAttributes, DecodesRealTdAttributes) {
  // phala tdx_quote: TDATTRIBUTES 0000001000000000 = SEPT_VE_DISABLE only.
  const Bytes phala = load_quote("quotes/phala-dcap-qvl/tdx_quote");
  auto q = parse_quote(phala);
  ASSERT_TRUE(q.ok());
  TdAttributes a = q->td_report()->attributes();
  EXPECT_EQ(a.raw, 0x10000000u);
  EXPECT_TRUE(a.septve_disable);
  EXPECT_FALSE(a.debug || a.protection_keys || a.key_locker || a.perfmon);
  // go-tdx-guest SPR E4: 0000004000000000 = PKS, and SEPT_VE_DISABLE clear
  // (docs/dcap-verification.md §11 mentions real quotes like this).
  const Bytes spr = load_quote("quotes/go-tdx-guest/tdx_prod_quote_SPR_E4.dat");
  auto q2 = parse_quote(spr);
  ASSERT_TRUE(q2.ok());
  a = q2->td_report()->attributes();
  EXPECT_EQ(a.raw, 0x40000000u);
  EXPECT_TRUE(a.protection_keys);
  EXPECT_FALSE(a.septve_disable || a.debug || a.key_locker || a.perfmon);
}

TEST(QuoteAttributes, EachBitDecodesToItsFlag) {
  EXPECT_TRUE(decode_td_attributes(uint64_t{1}).debug);
  EXPECT_TRUE(decode_td_attributes(uint64_t{1} << 28).septve_disable);
  EXPECT_TRUE(decode_td_attributes(uint64_t{1} << 30).protection_keys);
  EXPECT_TRUE(decode_td_attributes(uint64_t{1} << 31).key_locker);
  EXPECT_TRUE(decode_td_attributes(uint64_t{1} << 63).perfmon);
  const TdAttributes other =
      decode_td_attributes(~((uint64_t{1} << 0) | (uint64_t{1} << 28) | (uint64_t{1} << 30) |
                             (uint64_t{1} << 31) | (uint64_t{1} << 63)));
  EXPECT_FALSE(other.debug || other.septve_disable || other.protection_keys || other.key_locker ||
               other.perfmon);
}

// Intel's synthetic sample (vectors.json "intel-qvl-sample-parse").
TEST(QuoteIntelSample, ParsesWithEmptyAuthDataAndDerChain) {
  const Bytes bytes = load_quote("quotes/intel-qvl-sample/quote.dat");
  auto q = parse_quote(bytes);
  ASSERT_TRUE(q.ok()) << q.error().to_string();
  EXPECT_EQ(q->signature.qe_report_certification->data.size(), 2926u);
  EXPECT_TRUE(q->signature.qe_auth_data.empty());
  EXPECT_EQ(hex(q->td_report()->tee_tcb_svn), "52c1a38cf7edf30a524b4ebb049f59c7");
  // The type-5 block starts with a DER SEQUENCE (0x30 0x82), not "-----BEGIN".
  auto pem = q->pck_chain_pem();
  ASSERT_FALSE(pem.ok());
  EXPECT_EQ(pem.error().message,
            "quote.signature_data.pck_certification_data.data at offset 1227: byte 0x82 is not "
            "PEM text");
}

// ---------------------------------------------------------------------------------------------
// Padding and slack.

TEST(QuotePadding, NonZeroTrailingBytesAreRecordedNotParsed) {
  const Bytes bytes = load_quote("quotes/go-tdx-guest/tdx_prod_quote_SPR_E4.dat");
  auto q = parse_quote(bytes);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(as_chars(q->padding), "\nextra bytes(only for testing purpose)\n");
  // Its PEM ends with a newline rather than a NUL; the chain keeps it.
  EXPECT_TRUE(q->pck_chain_pem()->ends_with("-----END CERTIFICATE-----\n"));
}

TEST(QuotePadding, EightThousandByteBufferIsAccepted) {
  Bytes bytes = load_quote("quotes/phala-dcap-qvl/tdx_quote_outdated");
  const size_t quote_size = bytes.size();
  bytes.resize(8000, 0);
  auto q = parse_quote(bytes);
  ASSERT_TRUE(q.ok()) << q.error().to_string();
  EXPECT_EQ(q->padding_size(), 8000 - quote_size);
  // The NUL terminator of the PEM is dropped by pck_chain_pem, and only that.
  const ByteView raw = q->signature.pck_certification.data;
  EXPECT_EQ(raw.back(), 0);
  EXPECT_EQ(q->pck_chain_pem()->size(), raw.size() - 1);
}

TEST(QuotePadding, SignatureDataLongerThanItsContentsKeepsTheTail) {
  // As QVL does, bytes inside sig_data_len after the certification data are tolerated.
  Bytes bytes = load_quote("quotes/phala-dcap-qvl/tdx_quote");
  put_u32(bytes, 632, 4300 + 10);
  auto q = parse_quote(bytes);
  ASSERT_TRUE(q.ok()) << q.error().to_string();
  EXPECT_EQ(q->signature.unused_tail.size(), 10u);
  EXPECT_EQ(offset_in(bytes, q->signature.unused_tail), 4936u);
  EXPECT_EQ(q->padding_size(), 60u);
}

// ---------------------------------------------------------------------------------------------
// Tampered real quotes (tests/data/quotes/negative): one byte changed in a field that only
// the cryptographic checks cover, so the layout still parses and the change shows in that field.

struct Tampered {
  std::string file;
  size_t offset;
  ByteView (*field)(const Quote&);
};

const Tampered kTampered[] = {
    {"v4_header_user_data.bin", 28, [](const Quote& q) { return q.header.user_data; }},
    {"v4_report_data.bin", 631, [](const Quote& q) { return q.td_report()->report_data; }},
    {"v4_mrtd.bin", 184, [](const Quote& q) { return q.td_report()->mr_td; }},
    {"v4_quote_sig.bin", 641, [](const Quote& q) { return q.signature.quote_signature; }},
    {"v4_att_key.bin", 710, [](const Quote& q) { return q.signature.attestation_key; }},
    // QE report ISVSVN: offset 770 + 258.
    {"v4_qe_report_isvsvn.bin", 1028,
     [](const Quote& q) { return q.signature.qe_report.raw.subspan(258, 2); }},
    {"v4_qe_report_sig.bin", 1161, [](const Quote& q) { return q.signature.qe_report_signature; }},
    {"v4_qe_auth_data.bin", 1220, [](const Quote& q) { return q.signature.qe_auth_data; }},
    {"v4_pck_leaf_pem_body.bin", 1458,
     [](const Quote& q) { return q.signature.pck_certification.data; }},
};

TEST(QuoteTampered, ParseAndTheChangeLiesInTheNamedField) {
  const Bytes original = load_quote("quotes/phala-dcap-qvl/tdx_quote");
  auto base = parse_quote(original);
  ASSERT_TRUE(base.ok());
  for (const Tampered& t : kTampered) {
    SCOPED_TRACE(t.file);
    const Bytes bytes = load_quote("quotes/negative/" + t.file);
    ASSERT_EQ(bytes.size(), original.size());
    size_t differing = 0;
    for (size_t i = 0; i < bytes.size(); ++i) differing += bytes[i] != original[i];
    EXPECT_EQ(differing, 1u);
    ASSERT_NE(bytes[t.offset], original[t.offset]);
    auto q = parse_quote(bytes);
    ASSERT_TRUE(q.ok()) << q.error().to_string();
    const ByteView field = t.field(*q);
    const size_t start = offset_in(bytes, field);
    EXPECT_LE(start, t.offset);
    EXPECT_LT(t.offset, start + field.size());
    EXPECT_NE(hex(field), hex(t.field(*base)));
    // The PCK PEM still decodes as text with three certificates (only its base64 changed).
    EXPECT_EQ(count(*q->pck_chain_pem(), "-----BEGIN CERTIFICATE-----"), 3u);
  }
}

// ---------------------------------------------------------------------------------------------
// Truncation and size fields.

// Every field parse_quote reads has one of these names.
bool names_a_field(const std::string& message) {
  return (message.starts_with("quote.header.") || message.starts_with("quote.body_descriptor.") ||
          message.starts_with("quote.body.") || message.starts_with("quote.signature_data.")) &&
         message.find(" at offset ") != std::string::npos;
}

class QuoteTruncation : public ::testing::TestWithParam<std::string> {};

TEST_P(QuoteTruncation, EveryPrefixShorterThanTheSignatureDataFailsNamingAField) {
  const Bytes bytes = load_quote(GetParam());
  auto full = parse_quote(bytes);
  ASSERT_TRUE(full.ok());
  const size_t end = full->offset_of(full->signature_data) + full->signature_data.size();
  for (size_t size = 0; size < end; ++size) {
    auto q = parse_quote(ByteView(bytes).first(size));
    ASSERT_FALSE(q.ok()) << size;
    ASSERT_EQ(q.error().code, Errc::parse) << size;
    ASSERT_TRUE(names_a_field(q.error().message)) << size << ": " << q.error().message;
  }
  // From the end of the signature data on, the rest is padding.
  for (size_t size = end; size <= bytes.size(); ++size) {
    auto q = parse_quote(ByteView(bytes).first(size));
    ASSERT_TRUE(q.ok()) << size << ": " << q.error().to_string();
    ASSERT_EQ(q->padding_size(), size - end);
  }
}

// Shrinks the signature data to `kept` bytes, keeping the lengths consistent around it (the
// sig_data_len and, for v4/v5, the type-6 block size), so that the cut lands inside the deeper
// fields rather than being caught by the outermost length.
Bytes cut_signature_data(const Bytes& bytes, const Quote& q, size_t kept) {
  const size_t start = q.offset_of(q.signature_data);
  Bytes out(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(start + kept));
  put_u32(out, start - 4, static_cast<uint32_t>(kept));
  if (q.header.version != kQuoteVersionSgx && kept >= 134) {
    put_u32(out, start + 130, static_cast<uint32_t>(kept - 134));
  }
  return out;
}

TEST_P(QuoteTruncation, EveryCutInsideTheSignatureDataFailsNamingItsField) {
  const Bytes bytes = load_quote(GetParam());
  auto full = parse_quote(bytes);
  ASSERT_TRUE(full.ok());
  std::set<std::string> fields;
  for (size_t kept = 0; kept < full->signature_data.size(); ++kept) {
    auto q = parse_quote(cut_signature_data(bytes, *full, kept));
    ASSERT_FALSE(q.ok()) << kept;
    ASSERT_EQ(q.error().code, Errc::parse) << kept;
    const std::string& message = q.error().message;
    ASSERT_TRUE(message.starts_with("quote.signature_data.")) << kept << ": " << message;
    fields.insert(message.substr(0, message.find_first_of(": ")));
  }
  // The cuts reach the QE report fields, the QE auth data and the PCK certification data.
  EXPECT_TRUE(fields.count("quote.signature_data.qe_report.cpu_svn")) << fields.size();
  EXPECT_TRUE(fields.count("quote.signature_data.qe_report.report_data"));
  EXPECT_TRUE(fields.count("quote.signature_data.qe_auth_data.size"));
  EXPECT_TRUE(fields.count("quote.signature_data.pck_certification_data.size"));
  auto whole = parse_quote(cut_signature_data(bytes, *full, full->signature_data.size()));
  EXPECT_TRUE(whole.ok());
}

INSTANTIATE_TEST_SUITE_P(Files, QuoteTruncation,
                         ::testing::Values("quotes/phala-dcap-qvl/tdx_quote",
                                           "quotes/phala-dcap-qvl/tdx_quote_outdated",
                                           "quotes/phala-dcap-qvl/sgx_quote"));

struct SizeField {
  std::string path;
  size_t offset;
  size_t width;  // 2 or 4
  std::string name;
  size_t remaining;  // bytes left in the enclosing region after the field
};

// Offsets from docs/tdx-quote.md §6 (v4: phala tdx_quote; v5: tdx_quote_outdated; v3: sgx_quote).
const SizeField kSizeFields[] = {
    {"quotes/phala-dcap-qvl/tdx_quote", 632, 4, "quote.signature_data.size", 5006 - 636},
    {"quotes/phala-dcap-qvl/tdx_quote", 766, 4, "quote.signature_data.certification_data.size",
     4936 - 770},
    {"quotes/phala-dcap-qvl/tdx_quote", 1218, 2, "quote.signature_data.qe_auth_data.size",
     4936 - 1220},
    {"quotes/phala-dcap-qvl/tdx_quote", 1254, 4, "quote.signature_data.pck_certification_data.size",
     4936 - 1258},
    {"quotes/phala-dcap-qvl/tdx_quote_outdated", 702, 4, "quote.signature_data.size", 5006 - 706},
    {"quotes/phala-dcap-qvl/tdx_quote_outdated", 1288, 2, "quote.signature_data.qe_auth_data.size",
     5006 - 1290},
    {"quotes/phala-dcap-qvl/sgx_quote", 432, 4, "quote.signature_data.size", 4600 - 436},
    {"quotes/phala-dcap-qvl/sgx_quote", 1012, 2, "quote.signature_data.qe_auth_data.size",
     4600 - 1014},
    {"quotes/phala-dcap-qvl/sgx_quote", 1048, 4, "quote.signature_data.pck_certification_data.size",
     4600 - 1052},
};

TEST(QuoteSizeFields, HugeValuesFailNamingTheFieldAndOffset) {
  for (const SizeField& f : kSizeFields) {
    SCOPED_TRACE(f.name + " in " + f.path);
    const Bytes original = load_quote(f.path);
    const std::vector<uint32_t> huge =
        f.width == 2
            ? std::vector<uint32_t>{0xffff, static_cast<uint32_t>(f.remaining + 1)}
            : std::vector<uint32_t>{0xffffffff, 0x80000000, static_cast<uint32_t>(f.remaining + 1)};
    for (uint32_t value : huge) {
      Bytes bytes = original;
      if (f.width == 2) {
        put_u16(bytes, f.offset, static_cast<uint16_t>(value));
      } else {
        put_u32(bytes, f.offset, value);
      }
      expect_parse_error(bytes, f.name + " at offset " + std::to_string(f.offset) + ": " +
                                    std::to_string(value) + " exceeds remaining " +
                                    std::to_string(f.remaining));
    }
  }
}

TEST(QuoteSizeFields, Type6BlockMustBeFilledExactly) {
  const Bytes original = load_quote("quotes/phala-dcap-qvl/tdx_quote");
  // The PCK data one byte shorter leaves a byte of the type-6 block unexplained.
  Bytes shorter = original;
  put_u32(shorter, 1254, 3677);
  expect_parse_error(shorter,
                     "quote.signature_data.certification_data.size at offset 766: 4166 but its "
                     "contents end at offset 4935, 1 bytes early");
  // The block one byte shorter cuts the PCK data.
  Bytes block_short = original;
  put_u32(block_short, 766, 4165);
  expect_parse_error(block_short,
                     "quote.signature_data.pck_certification_data.size at offset 1254: 3678 "
                     "exceeds remaining 3677");
}

// ---------------------------------------------------------------------------------------------
// Header and descriptor rules (docs/tdx-quote.md §2, §3).

TEST(QuoteRules, VersionsOtherThan3To5AreRejected) {
  for (uint16_t version : {0, 1, 2, 6, 0xffff}) {
    Bytes bytes = load_quote("quotes/phala-dcap-qvl/tdx_quote");
    put_u16(bytes, 0, version);
    expect_parse_error(bytes, "quote.header.version at offset 0: " + std::to_string(version));
  }
}

TEST(QuoteRules, AttestationKeyType3IsUnsupportedOthersMalformed) {
  Bytes bytes = load_quote("quotes/phala-dcap-qvl/tdx_quote");
  put_u16(bytes, 2, 3);
  expect_parse_error(bytes, "quote.header.attestation_key_type at offset 2: 3 (ECDSA-384",
                     Errc::unsupported);
  put_u16(bytes, 2, 1);
  expect_parse_error(bytes, "quote.header.attestation_key_type at offset 2: 1 is not 2");
}

TEST(QuoteRules, TeeTypeMustFitTheVersion) {
  Bytes v4 = load_quote("quotes/phala-dcap-qvl/tdx_quote");
  put_u32(v4, 4, kTeeTypeSgx);
  expect_parse_error(v4, "quote.header.tee_type at offset 4: 0x00000000 but version 4");
  put_u32(v4, 4, 0x80);
  expect_parse_error(v4, "quote.header.tee_type at offset 4: 0x00000080 is neither SGX");
  Bytes v3 = load_quote("quotes/phala-dcap-qvl/sgx_quote");
  put_u32(v3, 4, kTeeTypeTdx);
  expect_parse_error(v3, "quote.header.tee_type at offset 4: 0x00000081 but version 3");
}

TEST(QuoteRules, V5SgxTeeWithTdBodyIsRejected) {
  Bytes bytes = load_quote("quotes/phala-dcap-qvl/tdx_quote_outdated");
  put_u32(bytes, 4, kTeeTypeSgx);
  expect_parse_error(bytes, "quote.body_descriptor.type at offset 48: 3 (TD1.5) is a TD body");
}

TEST(QuoteRules, V5TdxTeeWithSgxBodyIsRejected) {
  Bytes bytes = load_quote("quotes/phala-dcap-qvl/tdx_quote_outdated");
  put_u16(bytes, 48, 1);
  put_u32(bytes, 50, kEnclaveReportSize);
  expect_parse_error(bytes, "quote.body_descriptor.type at offset 48: 1 (SGX enclave report)");
}

TEST(QuoteRules, V5BodySizeMustMatchItsType) {
  for (uint32_t size : {0u, 584u, 647u, 649u, 885u, 0xffffffffu}) {
    Bytes bytes = load_quote("quotes/phala-dcap-qvl/tdx_quote_outdated");
    put_u32(bytes, 50, size);
    expect_parse_error(bytes, "quote.body_descriptor.size at offset 50: " + std::to_string(size) +
                                  " but body type 3 (TD1.5) is 648 bytes");
  }
  for (uint16_t type : {0, 5, 0xffff}) {
    Bytes bytes = load_quote("quotes/phala-dcap-qvl/tdx_quote_outdated");
    put_u16(bytes, 48, type);
    expect_parse_error(
        bytes, "quote.body_descriptor.type at offset 48: " + std::to_string(type) + " is not 1..4");
  }
}

TEST(QuoteRules, OuterCertificationDataMustBeType6) {
  for (uint16_t type : {0, 1, 5, 7}) {
    Bytes bytes = load_quote("quotes/phala-dcap-qvl/tdx_quote");
    put_u16(bytes, 764, type);
    expect_parse_error(bytes, "quote.signature_data.certification_data.type at offset 764: " +
                                  std::to_string(type) + " but versions 4 and 5 require 6");
  }
}

TEST(QuoteRules, InnerCertificationDataTypeIs1To5) {
  for (uint16_t type : {0, 6, 7, 0xffff}) {
    Bytes bytes = load_quote("quotes/phala-dcap-qvl/tdx_quote");
    put_u16(bytes, 1252, type);
    expect_parse_error(bytes, "quote.signature_data.pck_certification_data.type at offset 1252: " +
                                  std::to_string(type) + " is not 1..5");
    Bytes v3 = load_quote("quotes/phala-dcap-qvl/sgx_quote");
    put_u16(v3, 1046, type);
    expect_parse_error(v3, "quote.signature_data.pck_certification_data.type at offset 1046: " +
                               std::to_string(type) + " is not 1..5");
  }
  // Types 1..4 are recorded; only the PEM chain accessor refuses them.
  for (uint16_t type : {1, 2, 3, 4}) {
    Bytes bytes = load_quote("quotes/phala-dcap-qvl/tdx_quote");
    put_u16(bytes, 1252, type);
    auto q = parse_quote(bytes);
    ASSERT_TRUE(q.ok()) << q.error().to_string();
    EXPECT_EQ(q->signature.pck_certification.type, type);
    auto pem = q->pck_chain_pem();
    ASSERT_FALSE(pem.ok());
    EXPECT_EQ(pem.error().code, Errc::not_found);
    EXPECT_TRUE(pem.error().message.starts_with(
        "quote.signature_data.pck_certification_data.type at offset 1252: "));
  }
}

// ---------------------------------------------------------------------------------------------
// v5 bodies no real quote in the set has: built from real parts.

// A v5 quote: the header of `header_from` with version 5 and `tee_type`, a descriptor, `body`,
// and the signature data (length field included) of a real v4/v5 quote.
Bytes make_v5(ByteView header_from, uint32_t tee_type, uint16_t body_type, ByteView body,
              ByteView signature_part) {
  Bytes out(header_from.begin(), header_from.begin() + 48);
  put_u16(out, 0, 5);
  put_u32(out, 4, tee_type);
  out.resize(54);
  put_u16(out, 48, body_type);
  put_u32(out, 50, static_cast<uint32_t>(body.size()));
  append(out, body);
  append(out, signature_part);
  return out;
}

TEST(QuoteSynthetic, V5WithTdReport10) {
  const Bytes v4 = load_quote("quotes/phala-dcap-qvl/tdx_quote");
  const Bytes bytes = make_v5(v4, kTeeTypeTdx, 2, ByteView(v4).subspan(48, 584),
                              ByteView(v4).subspan(632, 4 + 4300));
  auto q = parse_quote(bytes);
  ASSERT_TRUE(q.ok()) << q.error().to_string();
  EXPECT_EQ(q->body_type, BodyType::td_report10);
  EXPECT_EQ(q->signed_region().size(), 638u);  // docs/tdx-quote.md §3
  EXPECT_EQ(q->td_report15(), nullptr);
  EXPECT_EQ(offset_in(bytes, q->td_report()->report_data), 574u);
  EXPECT_EQ(hex(q->td_report()->raw), hex(ByteView(v4).subspan(48, 584)));
}

TEST(QuoteSynthetic, V5WithTdReport15Ex) {
  const Bytes v5 = load_quote("quotes/phala-dcap-qvl/tdx_quote_outdated");
  Bytes body(v5.begin() + 54, v5.begin() + 54 + 648);
  for (size_t i = 0; i < kTdReport15ExSize - kTdReport15Size; ++i) {
    body.push_back(static_cast<uint8_t>(i));  // byte value = offset within the Ex tail
  }
  const Bytes bytes = make_v5(v5, kTeeTypeTdx, 4, body, ByteView(v5).subspan(702));
  auto q = parse_quote(bytes);
  ASSERT_TRUE(q.ok()) << q.error().to_string();
  const auto* ex = std::get_if<TdReport15Ex>(&q->body);
  ASSERT_NE(ex, nullptr);
  EXPECT_EQ(q->signed_region().size(), 54u + 885);
  EXPECT_EQ(q->td_report15(), ex);
  EXPECT_EQ(hex(ex->tee_tcb_svn2), "0d010300000000000000000000000000");
  // Ex fields in QVL TDReport15Ex order: vmid(1) td_id(32) dev_info(48) init_servtd_hash(48)
  // init_servtd_attributes(8) init_cpusvn(16) init_tee_tcb_svn(16) init_tee_fmspc(12)
  // cur_servtd_hash(48) cur_servtd_attributes(8).
  const std::pair<ByteView, size_t> fields[] = {{ex->vm_id, 0},
                                                {ex->td_id, 1},
                                                {ex->dev_info, 33},
                                                {ex->init_servtd_hash, 81},
                                                {ex->init_servtd_attributes, 129},
                                                {ex->init_cpu_svn, 137},
                                                {ex->init_tee_tcb_svn, 153},
                                                {ex->init_tee_fmspc, 169},
                                                {ex->cur_servtd_hash, 181},
                                                {ex->cur_servtd_attributes, 229}};
  for (const auto& [field, tail_offset] : fields) {
    EXPECT_EQ(offset_in(bytes, field), 54 + 648 + tail_offset);
    EXPECT_EQ(field[0], tail_offset);
  }
  EXPECT_EQ(ex->cur_servtd_attributes.size(), 8u);
  EXPECT_EQ(offset_in(bytes, q->signature.quote_signature), 54u + 885 + 4);
  // Cut inside the Ex tail: the error names the Ex field.
  expect_parse_error(Bytes(bytes.begin(), bytes.begin() + 54 + 648 + 100),
                     "quote.body.init_servtd_hash: needs 48 bytes at offset 783");
}

TEST(QuoteSynthetic, V5SgxBody) {
  const Bytes sgx = load_quote("quotes/phala-dcap-qvl/sgx_quote");
  const Bytes v4 = load_quote("quotes/phala-dcap-qvl/tdx_quote");
  const Bytes bytes = make_v5(sgx, kTeeTypeSgx, 1, ByteView(sgx).subspan(48, 384),
                              ByteView(v4).subspan(632, 4 + 4300));
  auto q = parse_quote(bytes);
  ASSERT_TRUE(q.ok()) << q.error().to_string();
  ASSERT_NE(q->enclave_report(), nullptr);
  EXPECT_FALSE(q->is_tdx());
  EXPECT_EQ(q->signed_region().size(), 54u + 384);
  EXPECT_EQ(hex(q->enclave_report()->mr_enclave), hex(ByteView(sgx).subspan(48 + 64, 32)));
  EXPECT_EQ(q->enclave_report()->isv_svn, get_u32(sgx, 48 + 258) & 0xffff);
}

TEST(QuoteFile, BinaryAndHexTextGiveTheSameBytes) {
  const Bytes binary = load_quote("quotes/phala-dcap-qvl/tdx_quote");
  const std::string text(binary.begin(), binary.end());
  auto as_is = decode_quote_file(text);
  ASSERT_TRUE(as_is.ok());
  EXPECT_EQ(*as_is, binary);
  for (const std::string& hex_text : {hex_encode(binary), "0x" + hex_encode(binary) + "\n",
                                      "  \t0X" + hex_encode(binary) + " \r\n"}) {
    auto decoded = decode_quote_file(hex_text);
    ASSERT_TRUE(decoded.ok()) << decoded.error().to_string();
    EXPECT_EQ(*decoded, binary);
  }
  // Not all hex: returned as it is (parse_quote judges it); odd-length hex: an error.
  EXPECT_EQ(*decode_quote_file("0x12 34"), to_bytes("0x12 34"));
  EXPECT_EQ(*decode_quote_file(""), Bytes());
  auto odd = decode_quote_file("abc");
  ASSERT_FALSE(odd.ok());
  EXPECT_NE(odd.error().message.find("hex quote"), std::string::npos) << odd.error().to_string();
}

}  // namespace
}  // namespace acon::tdx
