// Quote layout parsing (docs/tdx-quote.md §2-§6). Field names in errors are the
// model's names, prefixed with their place in the quote ("quote.signature_data.qe_auth_data.size");
// offsets are absolute in the caller's buffer.
#include "acon/tdx/quote.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <string>

#include "acon/common/reader.h"

namespace acon::tdx {
namespace {

// A ByteReader plus the name prefix of the structure being read. Full field names are built only
// on failure, so a successful parse allocates nothing for them.
class Cursor {
 public:
  Cursor(ByteReader& reader, std::string_view prefix) : reader_(reader), prefix_(prefix) {}

  size_t offset() const { return reader_.offset(); }
  size_t remaining() const { return reader_.remaining(); }

  Result<ByteView> bytes(size_t n, std::string_view leaf) {
    if (n > reader_.remaining()) return reader_.truncated(name(leaf), n);
    return *reader_.bytes(n, leaf);
  }
  Result<uint16_t> u16(std::string_view leaf) {
    if (reader_.remaining() < 2) return reader_.truncated(name(leaf), 2);
    return *reader_.u16(leaf);
  }
  Result<uint32_t> u32(std::string_view leaf) {
    if (reader_.remaining() < 4) return reader_.truncated(name(leaf), 4);
    return *reader_.u32(leaf);
  }

  // An error about the field that starts at absolute offset `at`.
  Error invalid(size_t at, std::string_view leaf, const std::string& why,
                Errc code = Errc::parse) const {
    return make_error(code, name(leaf) + " at offset " + std::to_string(at) + ": " + why);
  }

  // Reads a length field of `Size` bytes followed by that many bytes, which must fit in what
  // remains of the enclosing region.
  template <class Size>
  Result<ByteView> sized(std::string_view size_leaf, std::string_view data_leaf) {
    const size_t at = offset();
    Size size = 0;
    if constexpr (sizeof(Size) == 2) {
      ACON_TRY(size, u16(size_leaf));
    } else {
      ACON_TRY(size, u32(size_leaf));
    }
    if (size > remaining()) {
      return invalid(at, size_leaf,
                     std::to_string(size) + " exceeds remaining " + std::to_string(remaining()));
    }
    return bytes(size, data_leaf);
  }

 private:
  std::string name(std::string_view leaf) const {
    return std::string(prefix_) + "." + std::string(leaf);
  }

  ByteReader& reader_;
  std::string_view prefix_;
};

size_t expected_body_size(BodyType type) {
  switch (type) {
    case BodyType::sgx_enclave_report:
      return kEnclaveReportSize;
    case BodyType::td_report10:
      return kTdReport10Size;
    case BodyType::td_report15:
      return kTdReport15Size;
    case BodyType::td_report15_ex:
      return kTdReport15ExSize;
  }
  return 0;
}

Result<EnclaveReport> parse_enclave_report(ByteReader& reader, std::string_view prefix) {
  Cursor c(reader, prefix);
  EnclaveReport r;
  const ByteView start = reader.rest();
  ACON_TRY(r.cpu_svn, c.bytes(16, "cpu_svn"));
  ACON_TRY(r.misc_select, c.u32("misc_select"));
  ACON_TRY(r.reserved1, c.bytes(28, "reserved1"));
  ACON_TRY(r.attributes, c.bytes(16, "attributes"));
  ACON_TRY(r.mr_enclave, c.bytes(32, "mr_enclave"));
  ACON_TRY(r.reserved2, c.bytes(32, "reserved2"));
  ACON_TRY(r.mr_signer, c.bytes(32, "mr_signer"));
  ACON_TRY(r.reserved3, c.bytes(96, "reserved3"));
  ACON_TRY(r.isv_prod_id, c.u16("isv_prod_id"));
  ACON_TRY(r.isv_svn, c.u16("isv_svn"));
  ACON_TRY(r.reserved4, c.bytes(60, "reserved4"));
  ACON_TRY(r.report_data, c.bytes(64, "report_data"));
  r.raw = start.first(kEnclaveReportSize);
  return r;
}

Status parse_td_report10(Cursor& c, TdReport10& r) {
  ACON_TRY(r.tee_tcb_svn, c.bytes(16, "tee_tcb_svn"));
  ACON_TRY(r.mr_seam, c.bytes(48, "mr_seam"));
  ACON_TRY(r.mr_signer_seam, c.bytes(48, "mr_signer_seam"));
  ACON_TRY(r.seam_attributes, c.bytes(8, "seam_attributes"));
  ACON_TRY(r.td_attributes, c.bytes(8, "td_attributes"));
  ACON_TRY(r.xfam, c.bytes(8, "xfam"));
  ACON_TRY(r.mr_td, c.bytes(48, "mr_td"));
  ACON_TRY(r.mr_config_id, c.bytes(48, "mr_config_id"));
  ACON_TRY(r.mr_owner, c.bytes(48, "mr_owner"));
  ACON_TRY(r.mr_owner_config, c.bytes(48, "mr_owner_config"));
  static constexpr std::string_view kRtmrNames[4] = {"rtmr0", "rtmr1", "rtmr2", "rtmr3"};
  for (size_t i = 0; i < 4; ++i) {
    ACON_TRY(r.rtmr[i], c.bytes(48, kRtmrNames[i]));
  }
  ACON_TRY(r.report_data, c.bytes(64, "report_data"));
  return {};
}

Status parse_td_report15(Cursor& c, TdReport15& r) {
  ACON_CHECK(parse_td_report10(c, r));
  ACON_TRY(r.tee_tcb_svn2, c.bytes(16, "tee_tcb_svn2"));
  ACON_TRY(r.mr_service_td, c.bytes(48, "mr_service_td"));
  return {};
}

Status parse_td_report15_ex(Cursor& c, TdReport15Ex& r) {
  ACON_CHECK(parse_td_report15(c, r));
  ACON_TRY(r.vm_id, c.bytes(1, "vm_id"));
  ACON_TRY(r.td_id, c.bytes(32, "td_id"));
  ACON_TRY(r.dev_info, c.bytes(48, "dev_info"));
  ACON_TRY(r.init_servtd_hash, c.bytes(48, "init_servtd_hash"));
  ACON_TRY(r.init_servtd_attributes, c.bytes(8, "init_servtd_attributes"));
  ACON_TRY(r.init_cpu_svn, c.bytes(16, "init_cpu_svn"));
  ACON_TRY(r.init_tee_tcb_svn, c.bytes(16, "init_tee_tcb_svn"));
  ACON_TRY(r.init_tee_fmspc, c.bytes(12, "init_tee_fmspc"));
  ACON_TRY(r.cur_servtd_hash, c.bytes(48, "cur_servtd_hash"));
  ACON_TRY(r.cur_servtd_attributes, c.bytes(8, "cur_servtd_attributes"));
  return {};
}

Result<QuoteBody> parse_body(ByteReader& reader, BodyType type) {
  static constexpr std::string_view kPrefix = "quote.body";
  const ByteView raw = reader.rest().first(std::min(reader.remaining(), expected_body_size(type)));
  Cursor c(reader, kPrefix);
  switch (type) {
    case BodyType::sgx_enclave_report: {
      ACON_TRY(EnclaveReport r, parse_enclave_report(reader, kPrefix));
      return QuoteBody(r);
    }
    case BodyType::td_report10: {
      TdReport10 r;
      ACON_CHECK(parse_td_report10(c, r));
      r.raw = raw;
      return QuoteBody(r);
    }
    case BodyType::td_report15: {
      TdReport15 r;
      ACON_CHECK(parse_td_report15(c, r));
      r.raw = raw;
      return QuoteBody(r);
    }
    case BodyType::td_report15_ex: {
      TdReport15Ex r;
      ACON_CHECK(parse_td_report15_ex(c, r));
      r.raw = raw;
      return QuoteBody(r);
    }
  }
  return make_error(Errc::parse, "quote.body: unknown body type");  // unreachable: type checked
}

Status parse_header(ByteReader& reader, QuoteHeader& h) {
  Cursor c(reader, "quote.header");
  ACON_TRY(h.version, c.u16("version"));
  if (h.version != kQuoteVersionSgx && h.version != kQuoteVersionTdx &&
      h.version != kQuoteVersionWithBodyDescriptor) {
    return c.invalid(0, "version", std::to_string(h.version) + " is not 3, 4 or 5");
  }
  ACON_TRY(h.attestation_key_type, c.u16("attestation_key_type"));
  if (h.attestation_key_type == kAttestationKeyEcdsaP384) {
    return c.invalid(2, "attestation_key_type",
                     "3 (ECDSA-384-with-P-384) is defined but no verifier accepts it",
                     Errc::unsupported);
  }
  if (h.attestation_key_type != kAttestationKeyEcdsaP256) {
    return c.invalid(2, "attestation_key_type",
                     std::to_string(h.attestation_key_type) + " is not 2 (ECDSA-256-with-P-256)");
  }
  ACON_TRY(h.tee_type, c.u32("tee_type"));
  if (h.tee_type != kTeeTypeSgx && h.tee_type != kTeeTypeTdx) {
    return c.invalid(
        4, "tee_type",
        hex_literal(h.tee_type, 8) + " is neither SGX (0x00000000) nor TDX (0x00000081)");
  }
  // QVL parses a v4 quote with TEE type 0 as SGX; Phala's verifiers (and this project) accept
  // SGX only in v3 and v5, since v4 is defined as the TD 1.0 quote.
  if (h.version == kQuoteVersionSgx && h.tee_type != kTeeTypeSgx) {
    return c.invalid(4, "tee_type",
                     hex_literal(h.tee_type, 8) + " but version 3 quotes are SGX only");
  }
  if (h.version == kQuoteVersionTdx && h.tee_type != kTeeTypeTdx) {
    return c.invalid(4, "tee_type",
                     hex_literal(h.tee_type, 8) + " but version 4 quotes are TDX only");
  }
  ACON_TRY(h.reserved, c.bytes(4, "reserved"));
  h.qe_svn = static_cast<uint16_t>(h.reserved[0] | h.reserved[1] << 8);
  h.pce_svn = static_cast<uint16_t>(h.reserved[2] | h.reserved[3] << 8);
  ACON_TRY(h.qe_vendor_id, c.bytes(16, "qe_vendor_id"));
  ACON_TRY(h.user_data, c.bytes(20, "user_data"));
  return {};
}

// v5 descriptor: the body type decides the size, and both must agree with the TEE type.
Status parse_body_descriptor(ByteReader& reader, const QuoteHeader& h, Quote& q) {
  Cursor c(reader, "quote.body_descriptor");
  const size_t type_at = c.offset();
  ACON_TRY(uint16_t type, c.u16("type"));
  if (type < 1 || type > 4) {
    return c.invalid(type_at, "type", std::to_string(type) + " is not 1..4");
  }
  q.body_type = static_cast<BodyType>(type);
  if (h.tee_type == kTeeTypeSgx && q.body_type != BodyType::sgx_enclave_report) {
    return c.invalid(type_at, "type",
                     std::to_string(type) + " (" + std::string(body_type_name(q.body_type)) +
                         ") is a TD body but the header's TEE type is SGX");
  }
  if (h.tee_type == kTeeTypeTdx && q.body_type == BodyType::sgx_enclave_report) {
    return c.invalid(type_at, "type", "1 (SGX enclave report) but the header's TEE type is TDX");
  }
  const size_t size_at = c.offset();
  ACON_TRY(q.body_size, c.u32("size"));
  const size_t want = expected_body_size(q.body_type);
  if (q.body_size != want) {
    return c.invalid(size_at, "size",
                     std::to_string(q.body_size) + " but body type " + std::to_string(type) + " (" +
                         std::string(body_type_name(q.body_type)) + ") is " + std::to_string(want) +
                         " bytes");
  }
  return {};
}

// QE report, its signature, QE auth data and the PCK certification data: the contents of the
// type-6 block in v4/v5, and what follows the attestation key directly in v3.
Status parse_qe_part(ByteReader& reader, QuoteSignatureData& s) {
  static constexpr std::string_view kPrefix = "quote.signature_data";
  Cursor c(reader, kPrefix);
  ACON_TRY(s.qe_report, parse_enclave_report(reader, "quote.signature_data.qe_report"));
  ACON_TRY(s.qe_report_signature, c.bytes(kEcdsaP256SignatureSize, "qe_report_signature"));
  ACON_TRY(s.qe_auth_data, c.sized<uint16_t>("qe_auth_data.size", "qe_auth_data"));
  const size_t type_at = c.offset();
  ACON_TRY(s.pck_certification.type, c.u16("pck_certification_data.type"));
  if (s.pck_certification.type < cert_data::kPpidCleartext ||
      s.pck_certification.type > cert_data::kPckCertChain) {
    return c.invalid(type_at, "pck_certification_data.type",
                     std::to_string(s.pck_certification.type) + " is not 1..5");
  }
  ACON_TRY(s.pck_certification.data,
           c.sized<uint32_t>("pck_certification_data.size", "pck_certification_data.data"));
  return {};
}

Status parse_signature_data(const Quote& q, QuoteSignatureData& s) {
  ByteReader reader(q.signature_data, q.offset_of(q.signature_data));
  Cursor c(reader, "quote.signature_data");
  ACON_TRY(s.quote_signature, c.bytes(kEcdsaP256SignatureSize, "quote_signature"));
  ACON_TRY(s.attestation_key, c.bytes(kEcdsaP256PublicKeySize, "attestation_key"));
  if (q.header.version == kQuoteVersionSgx) {
    ACON_CHECK(parse_qe_part(reader, s));
  } else {
    const size_t type_at = c.offset();
    CertificationData outer;
    ACON_TRY(outer.type, c.u16("certification_data.type"));
    if (outer.type != cert_data::kQeReportCertData) {
      return c.invalid(type_at, "certification_data.type",
                       std::to_string(outer.type) +
                           " but versions 4 and 5 require 6 (QE report certification data)");
    }
    const size_t size_at = c.offset();
    ACON_TRY(outer.data, c.sized<uint32_t>("certification_data.size", "certification_data.data"));
    ByteReader block(outer.data, q.offset_of(outer.data));
    ACON_CHECK(parse_qe_part(block, s));
    // QVL's QEReportCertificationData::insert: the parts must fill the block exactly.
    if (!block.empty()) {
      return c.invalid(size_at, "certification_data.size",
                       std::to_string(outer.data.size()) + " but its contents end at offset " +
                           std::to_string(block.offset()) + ", " +
                           std::to_string(block.remaining()) + " bytes early");
    }
    s.qe_report_certification = outer;
  }
  s.unused_tail = reader.rest();
  return {};
}

}  // namespace

std::string_view body_type_name(BodyType type) {
  switch (type) {
    case BodyType::sgx_enclave_report:
      return "SGX";
    case BodyType::td_report10:
      return "TD1.0";
    case BodyType::td_report15:
      return "TD1.5";
    case BodyType::td_report15_ex:
      return "TD1.5Ex";
  }
  return "unknown";
}

TdAttributes decode_td_attributes(uint64_t raw) {
  TdAttributes a;
  a.raw = raw;
  a.debug = (raw >> 0) & 1;
  a.septve_disable = (raw >> 28) & 1;
  a.protection_keys = (raw >> 30) & 1;
  a.key_locker = (raw >> 31) & 1;
  a.perfmon = (raw >> 63) & 1;
  return a;
}

TdAttributes TdReport10::attributes() const { return decode_td_attributes(load_le(td_attributes)); }

size_t Quote::body_offset() const {
  return kQuoteHeaderSize +
         (header.version == kQuoteVersionWithBodyDescriptor ? kBodyDescriptorSize : 0);
}

ByteView Quote::signed_region() const { return bytes.first(body_offset() + body_size); }

size_t Quote::offset_of(ByteView field) const {
  return static_cast<size_t>(field.data() - bytes.data());
}

const TdReport10* Quote::td_report() const {
  if (auto* r = std::get_if<TdReport10>(&body)) return r;
  if (auto* r = std::get_if<TdReport15>(&body)) return r;
  if (auto* r = std::get_if<TdReport15Ex>(&body)) return r;
  return nullptr;
}

const TdReport15* Quote::td_report15() const {
  if (auto* r = std::get_if<TdReport15>(&body)) return r;
  if (auto* r = std::get_if<TdReport15Ex>(&body)) return r;
  return nullptr;
}

const EnclaveReport* Quote::enclave_report() const { return std::get_if<EnclaveReport>(&body); }

Result<std::string_view> Quote::pck_chain_pem() const {
  const CertificationData& cert = signature.pck_certification;
  const size_t data_at = offset_of(cert.data);
  if (cert.type != cert_data::kPckCertChain) {
    return make_error(Errc::not_found,
                      "quote.signature_data.pck_certification_data.type at offset " +
                          std::to_string(data_at - 6) + ": " + std::to_string(cert.type) +
                          " is not 5 (PCK certificate chain)");
  }
  ByteView text = cert.data;
  // Quote generators hand over a C string: the PEM is often followed by its NUL terminator.
  while (!text.empty() && text.back() == 0) text = text.first(text.size() - 1);
  for (size_t i = 0; i < text.size(); ++i) {
    const uint8_t ch = text[i];
    if ((ch < 0x20 || ch > 0x7e) && ch != '\n' && ch != '\r' && ch != '\t') {
      return make_error(Errc::parse, "quote.signature_data.pck_certification_data.data at offset " +
                                         std::to_string(data_at + i) + ": byte " +
                                         hex_literal(ch, 2) + " is not PEM text");
    }
  }
  return as_chars(text);
}

Result<Quote> parse_quote(ByteView bytes) {
  Quote q;
  q.bytes = bytes;
  ByteReader reader(bytes);
  ACON_CHECK(parse_header(reader, q.header));
  switch (q.header.version) {
    case kQuoteVersionSgx:
      q.body_type = BodyType::sgx_enclave_report;
      q.body_size = kEnclaveReportSize;
      break;
    case kQuoteVersionTdx:
      q.body_type = BodyType::td_report10;
      q.body_size = kTdReport10Size;
      break;
    default:
      ACON_CHECK(parse_body_descriptor(reader, q.header, q));
      break;
  }
  ACON_TRY(q.body, parse_body(reader, q.body_type));

  Cursor c(reader, "quote.signature_data");
  ACON_TRY(q.signature_data, c.sized<uint32_t>("size", "data"));
  q.padding = reader.rest();
  ACON_CHECK(parse_signature_data(q, q.signature));
  return q;
}

Result<Bytes> decode_quote_file(std::string_view content) {
  const auto space = [](char ch) { return std::isspace(static_cast<unsigned char>(ch)) != 0; };
  std::string_view text = content;
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  if (text.starts_with("0x") || text.starts_with("0X")) text.remove_prefix(2);
  const bool hex = !text.empty() && std::all_of(text.begin(), text.end(), [](char ch) {
    return std::isxdigit(static_cast<unsigned char>(ch)) != 0;
  });
  if (!hex) return to_bytes(content);
  auto bytes = hex_decode(text);
  if (!bytes) return bytes.error().wrap("hex quote");
  return bytes;
}

}  // namespace acon::tdx
