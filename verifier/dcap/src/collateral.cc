// Collateral loaders: PCS responses, issuer chains, CRLs and the flat bundle. The typed TCB-info
// and enclave-identity models are read in tcb_info.cc; this file handles the envelopes around
// them and the signature over their exact bytes.
#include <algorithm>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "acon/common/json.h"
#include "acon/common/signature.h"
#include "acon/dcap/chain.h"
#include "acon/dcap/collateral.h"

namespace acon::dcap {
namespace {

Error parse_error(std::string message) { return make_error(Errc::parse, std::move(message)); }

bool is_json_space(char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r'; }

// A forward scanner over JSON text that parse_json has already accepted; it only finds where
// values start and end, so that signed members can be cut out byte for byte. Bounds are still
// checked everywhere so that a logic slip cannot read past the text.
class RawScanner {
 public:
  explicit RawScanner(std::string_view text) : text_(text) {
    // nlohmann skips a UTF-8 byte order mark, so the scanner must too.
    if (text_.starts_with("\xEF\xBB\xBF")) pos_ = 3;
  }

  void skip_space() {
    while (pos_ < text_.size() && is_json_space(text_[pos_])) ++pos_;
  }
  bool consume(char ch) {
    skip_space();
    if (pos_ >= text_.size() || text_[pos_] != ch) return false;
    ++pos_;
    return true;
  }
  bool at(char ch) {
    skip_space();
    return pos_ < text_.size() && text_[pos_] == ch;
  }
  // The raw text of a string token including its quotes.
  std::optional<std::string_view> string_token() {
    skip_space();
    if (pos_ >= text_.size() || text_[pos_] != '"') return std::nullopt;
    const size_t start = pos_++;
    while (pos_ < text_.size()) {
      const char ch = text_[pos_++];
      if (ch == '\\') {
        ++pos_;  // the escaped character (\uXXXX continues as plain characters)
      } else if (ch == '"') {
        return text_.substr(start, pos_ - start);
      }
    }
    return std::nullopt;
  }
  // The raw text of any value.
  std::optional<std::string_view> value_token() {
    skip_space();
    if (pos_ >= text_.size()) return std::nullopt;
    const size_t start = pos_;
    const char first = text_[pos_];
    if (first == '"') return string_token();
    if (first == '{' || first == '[') {
      size_t depth = 0;
      while (pos_ < text_.size()) {
        const char ch = text_[pos_];
        if (ch == '"') {
          if (!string_token()) return std::nullopt;
          continue;
        }
        ++pos_;
        if (ch == '{' || ch == '[') {
          ++depth;
        } else if (ch == '}' || ch == ']') {
          if (--depth == 0) return text_.substr(start, pos_ - start);
        }
      }
      return std::nullopt;
    }
    while (pos_ < text_.size() && !is_json_space(text_[pos_]) && text_[pos_] != ',' &&
           text_[pos_] != '}' && text_[pos_] != ']')
      ++pos_;
    if (pos_ == start) return std::nullopt;
    return text_.substr(start, pos_ - start);
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

// The exact text of member `key` of the top-level object of `json` (already validated by
// parse_json, which also guarantees there is at most one such member).
Result<std::string_view> raw_member_text(std::string_view json, std::string_view key) {
  RawScanner scanner(json);
  auto broken = [&] {
    return parse_error("json: cannot locate member '" + std::string(key) + "'");
  };
  if (!scanner.consume('{')) return broken();
  if (scanner.consume('}')) return parse_error(std::string(key) + ": missing");
  for (;;) {
    auto key_token = scanner.string_token();
    if (!key_token || !scanner.consume(':')) return broken();
    auto value = scanner.value_token();
    if (!value) return broken();
    // Keys may be written with escapes; compare the decoded name.
    const Json decoded = Json::parse(*key_token, nullptr, /*allow_exceptions=*/false);
    if (decoded.is_string() && decoded.get_ref<const std::string&>() == key) return *value;
    if (scanner.consume(',')) continue;
    if (scanner.consume('}')) break;
    return broken();
  }
  return parse_error(std::string(key) + ": missing");
}

Result<std::array<uint8_t, 64>> signature_from_hex(std::string_view hex, std::string_view path) {
  auto bytes = hex_decode(hex);
  if (!bytes) return parse_error(std::string(path) + ": " + bytes.error().message);
  if (bytes->size() != 64)
    return parse_error(std::string(path) + ": expected 64 bytes (r||s), got " +
                       std::to_string(bytes->size()));
  std::array<uint8_t, 64> out{};
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return out;
}

// Shared by both PCS response kinds: {"<member>":{...},"signature":"<hex>"}.
template <class Model, class ParseInner>
Result<Signed<Model>> parse_signed_response(std::string_view json, std::string_view member,
                                            ParseInner parse_inner) {
  ACON_TRY(const Json document, parse_json(json));
  if (!document.is_object()) return parse_error("response: expected a JSON object");
  ACON_TRY(const Json* inner, json_get(document, member));
  if (!inner->is_object()) return parse_error(std::string(member) + ": expected an object");
  auto signature_hex = json_get_string(document, "signature");
  if (!signature_hex) return parse_error("signature: " + signature_hex.error().message);
  ACON_TRY(std::string_view signed_text, raw_member_text(json, member));
  ACON_TRY(Model model, parse_inner(signed_text, member));
  ACON_TRY(auto signature, signature_from_hex(*signature_hex, "signature"));
  return Signed<Model>{std::move(model), std::string(signed_text), signature};
}

bool is_hex_digit(uint8_t ch) {
  return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

Status verify_raw_p256(std::string_view signed_json, const std::array<uint8_t, 64>& signature,
                       const Certificate& signer) {
  ACON_TRY(PublicKey key, signer.public_key());
  return verify(key, SigScheme{SigKind::ecdsa, HashAlg::sha256}, as_bytes(signed_json), signature,
                EcdsaEncoding::raw);
}

}  // namespace

Result<SignedTcbInfo> parse_tcb_info_response(std::string_view json) {
  return parse_signed_response<TcbInfo>(
      json, "tcbInfo",
      [](std::string_view text, std::string_view root) { return parse_tcb_info_json(text, root); });
}

Result<SignedEnclaveIdentity> parse_qe_identity_response(std::string_view json) {
  return parse_signed_response<EnclaveIdentity>(json, "enclaveIdentity",
                                                [](std::string_view text, std::string_view root) {
                                                  return parse_enclave_identity_json(text, root);
                                                });
}

Result<std::string> percent_decode(std::string_view text) {
  auto nibble = [](char ch) -> int {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    const int high = i + 2 < text.size() ? nibble(text[i + 1]) : -1;
    const int low = i + 2 < text.size() ? nibble(text[i + 2]) : -1;
    if (high < 0 || low < 0)
      return parse_error("percent-encoding: malformed escape at offset " + std::to_string(i));
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return out;
}

namespace {

// parse_issuer_chain, taking certificates equal to one of `reusable` from there (see
// certificates_from_pem): the Intel root and the TCB signing certificate recur in every chain,
// and each fresh parse costs OpenSSL 3.0 about 100 us of public-key decoding.
Result<std::vector<Certificate>> parse_issuer_chain_reusing(
    std::string_view urlencoded_or_plain_pem, std::span<const Certificate* const> reusable) {
  // PEM never contains '%', and the header value always does (its line breaks are %0A).
  if (urlencoded_or_plain_pem.find('%') == std::string_view::npos)
    return certificates_from_pem(urlencoded_or_plain_pem, reusable);
  ACON_TRY(std::string pem, percent_decode(urlencoded_or_plain_pem));
  return certificates_from_pem(pem, reusable);
}

}  // namespace

Result<std::vector<Certificate>> parse_issuer_chain(std::string_view urlencoded_or_plain_pem) {
  const Certificate* const pinned_root[] = {&intel_sgx_root_ca()};
  return parse_issuer_chain_reusing(urlencoded_or_plain_pem, pinned_root);
}

Result<Crl> parse_crl(ByteView der_pem_or_hex) {
  // DER starts with 0x30 0x8x, and 0x8x is not a hex digit, so all-hex input is hex text.
  bool all_hex = !der_pem_or_hex.empty();
  for (uint8_t ch : der_pem_or_hex) all_hex = all_hex && is_hex_digit(ch);
  if (!all_hex) return Crl::parse(der_pem_or_hex);
  ACON_TRY(Bytes der, hex_decode(as_chars(der_pem_or_hex)));
  return Crl::from_der(der);
}

Result<Collateral> parse_collateral_bundle(std::string_view json) {
  ACON_TRY(const Json bundle, parse_json(json));
  if (!bundle.is_object()) return parse_error("collateral: expected a JSON object");
  auto member = [&](std::string_view key) -> Result<std::string> {
    auto value = json_get_string(bundle, key);
    if (!value) return parse_error(std::string(key) + ": " + value.error().message);
    return value;
  };
  // Certificates met so far (the pinned root first), so a repeated one is parsed once.
  std::vector<Certificate> seen{intel_sgx_root_ca()};
  auto chain = [&](std::string_view key) -> Result<std::vector<Certificate>> {
    ACON_TRY(std::string text, member(key));
    std::vector<const Certificate*> reusable;
    for (const Certificate& cert : seen) reusable.push_back(&cert);
    auto certs = parse_issuer_chain_reusing(text, reusable);
    if (!certs) return std::move(certs).error().wrap(key);
    for (const Certificate& cert : *certs)
      if (std::none_of(seen.begin(), seen.end(),
                       [&](const Certificate& known) { return known.get() == cert.get(); }))
        seen.push_back(cert);
    return certs;
  };
  auto crl = [&](std::string_view key) -> Result<Crl> {
    ACON_TRY(std::string text, member(key));
    auto parsed = parse_crl(as_bytes(text));
    if (!parsed) return std::move(parsed).error().wrap(key);
    return parsed;
  };

  ACON_TRY(std::string tcb_info_text, member("tcb_info"));
  ACON_TRY(TcbInfo tcb_info, parse_tcb_info_json(tcb_info_text, "tcb_info"));
  ACON_TRY(std::string tcb_info_signature_hex, member("tcb_info_signature"));
  ACON_TRY(auto tcb_info_signature,
           signature_from_hex(tcb_info_signature_hex, "tcb_info_signature"));
  ACON_TRY(std::string qe_identity_text, member("qe_identity"));
  ACON_TRY(EnclaveIdentity qe_identity,
           parse_enclave_identity_json(qe_identity_text, "qe_identity"));
  ACON_TRY(std::string qe_identity_signature_hex, member("qe_identity_signature"));
  ACON_TRY(auto qe_identity_signature,
           signature_from_hex(qe_identity_signature_hex, "qe_identity_signature"));
  ACON_TRY(auto tcb_info_issuer_chain, chain("tcb_info_issuer_chain"));
  ACON_TRY(auto qe_identity_issuer_chain, chain("qe_identity_issuer_chain"));
  ACON_TRY(auto pck_crl_issuer_chain, chain("pck_crl_issuer_chain"));
  ACON_TRY(Crl root_ca_crl, crl("root_ca_crl"));
  ACON_TRY(Crl pck_crl, crl("pck_crl"));
  std::vector<Certificate> pck_certificate_chain;
  if (bundle.contains("pck_certificate_chain")) {
    ACON_TRY(pck_certificate_chain, chain("pck_certificate_chain"));
  }
  return Collateral{
      .tcb_info = {std::move(tcb_info), std::move(tcb_info_text), tcb_info_signature},
      .qe_identity = {std::move(qe_identity), std::move(qe_identity_text), qe_identity_signature},
      .tcb_info_issuer_chain = std::move(tcb_info_issuer_chain),
      .qe_identity_issuer_chain = std::move(qe_identity_issuer_chain),
      .pck_crl_issuer_chain = std::move(pck_crl_issuer_chain),
      .root_ca_crl = std::move(root_ca_crl),
      .pck_crl = std::move(pck_crl),
      .pck_certificate_chain = std::move(pck_certificate_chain),
  };
}

Status verify_signed_json(const SignedTcbInfo& signed_tcb_info, const Certificate& signer) {
  auto status = verify_raw_p256(signed_tcb_info.signed_json, signed_tcb_info.signature, signer);
  if (!status) return std::move(status).error().wrap("tcbInfo signature");
  return {};
}

Status verify_signed_json(const SignedEnclaveIdentity& signed_identity, const Certificate& signer) {
  auto status = verify_raw_p256(signed_identity.signed_json, signed_identity.signature, signer);
  if (!status) return std::move(status).error().wrap("enclaveIdentity signature");
  return {};
}

}  // namespace acon::dcap
