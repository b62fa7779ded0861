// Quote writing: the inverse of parse_quote() (quote.cc), field for field in the same order.
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <variant>

#include "acon/common/reader.h"
#include "acon/tdx/quote.h"

namespace acon::tdx {
namespace {

// Appends fields to a buffer; the first wrongly sized view becomes the error.
class Writer {
 public:
  explicit Writer(std::string_view prefix) : prefix_(prefix) {}

  // `size` bytes: the view, or zeros when it is empty.
  void fixed(ByteView value, size_t size, std::string_view name) {
    if (value.empty()) {
      out_.insert(out_.end(), size, 0);
      return;
    }
    if (value.size() != size && !error_) {
      error_ = make_error(Errc::invalid_argument, prefix_ + "." + std::string(name) + ": " +
                                                      std::to_string(value.size()) +
                                                      " bytes, expected " + std::to_string(size));
    }
    append(out_, value);
  }
  void u16(uint16_t v) { put_u16le(out_, v); }
  void u32(uint32_t v) { put_u32le(out_, v); }
  void raw(ByteView value) { append(out_, value); }
  // A little-endian length of `Size` bytes, then the data.
  template <class Size>
  void sized(ByteView data, std::string_view name) {
    if (data.size() > std::numeric_limits<Size>::max() && !error_) {
      error_ = make_error(Errc::invalid_argument, prefix_ + "." + std::string(name) + ": " +
                                                      std::to_string(data.size()) +
                                                      " bytes do not fit its length field");
    }
    if constexpr (sizeof(Size) == 2) {
      u16(static_cast<uint16_t>(data.size()));
    } else {
      u32(static_cast<uint32_t>(data.size()));
    }
    append(out_, data);
  }
  // Takes over another writer's bytes and first error.
  void nested(Writer&& inner) {
    if (!error_ && inner.error_) error_ = std::move(inner.error_);
    append(out_, inner.out_);
  }

  Result<Bytes> finish() && {
    if (error_) return *std::move(error_);
    return std::move(out_);
  }
  const Bytes& bytes() const { return out_; }

 private:
  std::string prefix_;
  Bytes out_;
  std::optional<Error> error_;
};

void put_enclave_report(Writer& w, const EnclaveReport& r) {
  w.fixed(r.cpu_svn, 16, "cpu_svn");
  w.u32(r.misc_select);
  w.fixed(r.reserved1, 28, "reserved1");
  w.fixed(r.attributes, 16, "attributes");
  w.fixed(r.mr_enclave, 32, "mr_enclave");
  w.fixed(r.reserved2, 32, "reserved2");
  w.fixed(r.mr_signer, 32, "mr_signer");
  w.fixed(r.reserved3, 96, "reserved3");
  w.u16(r.isv_prod_id);
  w.u16(r.isv_svn);
  w.fixed(r.reserved4, 60, "reserved4");
  w.fixed(r.report_data, 64, "report_data");
}

void put_td_report10(Writer& w, const TdReport10& r) {
  w.fixed(r.tee_tcb_svn, 16, "tee_tcb_svn");
  w.fixed(r.mr_seam, 48, "mr_seam");
  w.fixed(r.mr_signer_seam, 48, "mr_signer_seam");
  w.fixed(r.seam_attributes, 8, "seam_attributes");
  w.fixed(r.td_attributes, 8, "td_attributes");
  w.fixed(r.xfam, 8, "xfam");
  w.fixed(r.mr_td, 48, "mr_td");
  w.fixed(r.mr_config_id, 48, "mr_config_id");
  w.fixed(r.mr_owner, 48, "mr_owner");
  w.fixed(r.mr_owner_config, 48, "mr_owner_config");
  static constexpr std::string_view kRtmrNames[4] = {"rtmr0", "rtmr1", "rtmr2", "rtmr3"};
  for (size_t i = 0; i < 4; ++i) w.fixed(r.rtmr[i], 48, kRtmrNames[i]);
  w.fixed(r.report_data, 64, "report_data");
}

void put_td_report15(Writer& w, const TdReport15& r) {
  put_td_report10(w, r);
  w.fixed(r.tee_tcb_svn2, 16, "tee_tcb_svn2");
  w.fixed(r.mr_service_td, 48, "mr_service_td");
}

void put_td_report15_ex(Writer& w, const TdReport15Ex& r) {
  put_td_report15(w, r);
  w.fixed(r.vm_id, 1, "vm_id");
  w.fixed(r.td_id, 32, "td_id");
  w.fixed(r.dev_info, 48, "dev_info");
  w.fixed(r.init_servtd_hash, 48, "init_servtd_hash");
  w.fixed(r.init_servtd_attributes, 8, "init_servtd_attributes");
  w.fixed(r.init_cpu_svn, 16, "init_cpu_svn");
  w.fixed(r.init_tee_tcb_svn, 16, "init_tee_tcb_svn");
  w.fixed(r.init_tee_fmspc, 12, "init_tee_fmspc");
  w.fixed(r.cur_servtd_hash, 48, "cur_servtd_hash");
  w.fixed(r.cur_servtd_attributes, 8, "cur_servtd_attributes");
}

BodyType body_type_of(const QuoteBody& body) {
  return static_cast<BodyType>(body.index() + 1);  // the variant lists the types in order
}

// The QE report, its signature, QE auth data and the PCK certification data (quote.cc's
// parse_qe_part).
Writer qe_part(const QuoteFields& f) {
  Writer w("quote.signature_data");
  {
    Writer report("quote.signature_data.qe_report");
    put_enclave_report(report, f.qe_report);
    w.nested(std::move(report));
  }
  w.fixed(f.qe_report_signature, kEcdsaP256SignatureSize, "qe_report_signature");
  w.sized<uint16_t>(f.qe_auth_data, "qe_auth_data");
  w.u16(f.pck_certification.type);
  w.sized<uint32_t>(f.pck_certification.data, "pck_certification_data.data");
  return w;
}

}  // namespace

std::array<ByteView, kCcelRegisterCount> ccel_registers(const TdReport10& report) {
  std::array<ByteView, kCcelRegisterCount> out;
  out[kCcelMrIndexMrtd] = report.mr_td;
  for (uint32_t i = 0; i < report.rtmr.size(); ++i) out[ccel_mr_index_of_rtmr(i)] = report.rtmr[i];
  return out;
}

Result<Bytes> write_enclave_report(const EnclaveReport& report) {
  Writer w("enclave_report");
  put_enclave_report(w, report);
  return std::move(w).finish();
}

Result<Bytes> write_quote_signed_region(const QuoteFields& f) {
  const QuoteHeader& h = f.header;
  Writer w("quote.header");
  w.u16(h.version);
  w.u16(h.attestation_key_type);
  w.u32(h.tee_type);
  w.u16(h.qe_svn);
  w.u16(h.pce_svn);
  w.fixed(h.qe_vendor_id, 16, "qe_vendor_id");
  w.fixed(h.user_data, 20, "user_data");
  const BodyType type = body_type_of(f.body);
  if (h.version == kQuoteVersionWithBodyDescriptor) {
    static constexpr size_t kSizes[] = {kEnclaveReportSize, kTdReport10Size, kTdReport15Size,
                                        kTdReport15ExSize};
    w.u16(static_cast<uint16_t>(type));
    w.u32(static_cast<uint32_t>(kSizes[f.body.index()]));
  } else if ((h.version == kQuoteVersionSgx && type != BodyType::sgx_enclave_report) ||
             (h.version == kQuoteVersionTdx && type != BodyType::td_report10)) {
    return make_error(Errc::invalid_argument, "quote.body: a " + std::string(body_type_name(type)) +
                                                  " body in a version " +
                                                  std::to_string(h.version) +
                                                  " quote (version 3 is SGX, version 4 TD 1.0)");
  }
  Writer body("quote.body");
  std::visit(
      [&body](const auto& r) {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, EnclaveReport>) {
          put_enclave_report(body, r);
        } else if constexpr (std::is_same_v<T, TdReport10>) {
          put_td_report10(body, r);
        } else if constexpr (std::is_same_v<T, TdReport15>) {
          put_td_report15(body, r);
        } else {
          put_td_report15_ex(body, r);
        }
      },
      f.body);
  w.nested(std::move(body));
  return std::move(w).finish();
}

Result<Bytes> write_quote(const QuoteFields& f) {
  ACON_TRY(Bytes signed_region, write_quote_signed_region(f));
  Writer sig("quote.signature_data");
  sig.fixed(f.quote_signature, kEcdsaP256SignatureSize, "quote_signature");
  sig.fixed(f.attestation_key, kEcdsaP256PublicKeySize, "attestation_key");
  if (f.header.version == kQuoteVersionSgx) {
    sig.nested(qe_part(f));
  } else {
    Writer qe = qe_part(f);
    ACON_TRY(Bytes qe_bytes, std::move(qe).finish());
    sig.u16(cert_data::kQeReportCertData);
    sig.sized<uint32_t>(qe_bytes, "certification_data.data");
  }
  sig.raw(f.unused_tail);
  Writer quote("quote");
  quote.raw(signed_region);
  ACON_TRY(Bytes signature_data, std::move(sig).finish());
  quote.sized<uint32_t>(signature_data, "signature_data.data");
  quote.raw(f.padding);
  ACON_TRY(Bytes out, std::move(quote).finish());
  // Values the layout cannot check on its own (a key type, a TEE type, a certification data
  // type) are checked by the parser, so that nothing written here fails to parse.
  if (auto parsed = parse_quote(out); !parsed) {
    return make_error(
        Errc::invalid_argument,
        "write_quote: the fields do not make a valid quote: " + parsed.error().message);
  }
  return out;
}

QuoteFields quote_fields(const Quote& q) {
  QuoteFields f;
  f.header = q.header;
  f.body = q.body;
  const QuoteSignatureData& s = q.signature;
  f.quote_signature = s.quote_signature;
  f.attestation_key = s.attestation_key;
  f.qe_report = s.qe_report;
  f.qe_report_signature = s.qe_report_signature;
  f.qe_auth_data = s.qe_auth_data;
  f.pck_certification = s.pck_certification;
  f.unused_tail = s.unused_tail;
  f.padding = q.padding;
  return f;
}

}  // namespace acon::tdx
