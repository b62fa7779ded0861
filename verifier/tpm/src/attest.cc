// TPM2B_ATTEST / TPMS_ATTEST / TPMT_SIGNATURE / TPM2B_PUBLIC unmarshalling with tss2-mu.
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tpm2_types.h>

#include <cstring>
#include <memory>
#include <string>

#include "acon/tpm/quote.h"
#include "mu_cursor.h"

namespace acon::tpm {
namespace {

using detail::MuCursor;

// The bitmap of one TPMS_PCR_SELECTION as a list of PCR indices in ascending order.
PcrSelection to_selection(const TPMS_PCR_SELECTION& s) {
  PcrSelection out{s.hash, {}};
  for (uint32_t byte = 0; byte < s.sizeofSelect; ++byte) {
    for (uint32_t bit = 0; bit < 8; ++bit) {
      if (s.pcrSelect[byte] & (1u << bit)) out.pcrs.push_back(byte * 8 + bit);
    }
  }
  return out;
}

Bytes copy_bytes(const uint8_t* data, size_t size) { return Bytes(data, data + size); }

std::string attest_type_name(uint16_t type) {
  switch (type) {
    case TPM2_ST_ATTEST_CERTIFY:
      return "TPM_ST_ATTEST_CERTIFY";
    case TPM2_ST_ATTEST_QUOTE:
      return "TPM_ST_ATTEST_QUOTE";
    case TPM2_ST_ATTEST_SESSION_AUDIT:
      return "TPM_ST_ATTEST_SESSION_AUDIT";
    case TPM2_ST_ATTEST_COMMAND_AUDIT:
      return "TPM_ST_ATTEST_COMMAND_AUDIT";
    case TPM2_ST_ATTEST_TIME:
      return "TPM_ST_ATTEST_TIME";
    case TPM2_ST_ATTEST_CREATION:
      return "TPM_ST_ATTEST_CREATION";
    case TPM2_ST_ATTEST_NV:
      return "TPM_ST_ATTEST_NV";
    case 0x801C:  // TPM_ST_ATTEST_NV_DIGEST (TPM 2.0 rev 1.59; absent from tss2 3.2 headers)
      return "TPM_ST_ATTEST_NV_DIGEST";
    default:
      return "not an attestation type";
  }
}

// Re-walks a TPMS_ATTEST of a quote field by field to say which field tss2-mu rejected.
Error diagnose_attest(ByteView in, size_t base, TSS2_RC whole_rc) {
  MuCursor c(in, base);
  uint32_t magic = 0;
  uint16_t type = 0;
  TPM2B_NAME name{};
  TPM2B_DATA data{};
  TPMS_CLOCK_INFO clock{};
  uint64_t firmware = 0;
  uint32_t count = 0;
  TPMS_PCR_SELECTION selection{};
  TPM2B_DIGEST digest{};
  Status s = c.read(Tss2_MU_UINT32_Unmarshal, &magic, "tpms_attest.magic");
  if (s) s = c.read(Tss2_MU_UINT16_Unmarshal, &type, "tpms_attest.type");
  if (s) s = c.read(Tss2_MU_TPM2B_NAME_Unmarshal, &name, "tpms_attest.qualified_signer");
  if (s) s = c.read(Tss2_MU_TPM2B_DATA_Unmarshal, &data, "tpms_attest.extra_data");
  if (s) s = c.read(Tss2_MU_TPMS_CLOCK_INFO_Unmarshal, &clock, "tpms_attest.clock_info");
  if (s) s = c.read(Tss2_MU_UINT64_Unmarshal, &firmware, "tpms_attest.firmware_version");
  const size_t count_at = c.pos();
  if (s) s = c.read(Tss2_MU_UINT32_Unmarshal, &count, "tpms_quote_info.pcr_select.count");
  if (s && count > TPM2_NUM_PCR_BANKS)
    return c.fail("tpms_quote_info.pcr_select.count", count_at,
                  std::to_string(count) + " selections, at most " +
                      std::to_string(TPM2_NUM_PCR_BANKS) + " allowed");
  for (uint32_t i = 0; s && i < count; ++i) {
    s = c.read(Tss2_MU_TPMS_PCR_SELECTION_Unmarshal, &selection,
               "tpms_quote_info.pcr_select[" + std::to_string(i) + "]");
  }
  if (s) s = c.read(Tss2_MU_TPM2B_DIGEST_Unmarshal, &digest, "tpms_quote_info.pcr_digest");
  if (!s) return std::move(s).error();
  return make_error(Errc::parse, "tpms_attest at offset " + std::to_string(base) + ": " +
                                     detail::describe_mu(whole_rc));
}

// The same for a TPMT_SIGNATURE.
Error diagnose_signature(ByteView in, size_t base, TSS2_RC whole_rc) {
  MuCursor c(in, base);
  uint16_t sig_alg = 0;
  uint16_t hash = 0;
  TPM2B_ECC_PARAMETER ecc{};
  TPM2B_PUBLIC_KEY_RSA rsa{};
  Status s = c.read(Tss2_MU_UINT16_Unmarshal, &sig_alg, "tpmt_signature.sig_alg");
  if (s) {
    switch (sig_alg) {
      case TPM2_ALG_ECDSA:
      case TPM2_ALG_ECDAA:
      case TPM2_ALG_SM2:
      case TPM2_ALG_ECSCHNORR:
        s = c.read(Tss2_MU_UINT16_Unmarshal, &hash, "tpmt_signature.signature.hash");
        if (s)
          s = c.read(Tss2_MU_TPM2B_ECC_PARAMETER_Unmarshal, &ecc, "tpmt_signature.signature_r");
        if (s)
          s = c.read(Tss2_MU_TPM2B_ECC_PARAMETER_Unmarshal, &ecc, "tpmt_signature.signature_s");
        break;
      case TPM2_ALG_RSASSA:
      case TPM2_ALG_RSAPSS:
        s = c.read(Tss2_MU_UINT16_Unmarshal, &hash, "tpmt_signature.signature.hash");
        if (s) s = c.read(Tss2_MU_TPM2B_PUBLIC_KEY_RSA_Unmarshal, &rsa, "tpmt_signature.sig");
        break;
      case TPM2_ALG_HMAC:
      case TPM2_ALG_NULL:
        break;
      default:
        return c.fail("tpmt_signature.sig_alg", 0,
                      hex_literal(sig_alg, 4) + " is no signature scheme");
    }
  }
  if (!s) return std::move(s).error();
  return make_error(Errc::parse, "tpmt_signature at offset " + std::to_string(base) + ": " +
                                     detail::describe_mu(whole_rc));
}

Error trailing(std::string_view structure, size_t at, size_t count) {
  return make_error(Errc::parse, std::string(structure) + " at offset " + std::to_string(at) +
                                     ": " + std::to_string(count) + " bytes follow the structure");
}

// Big-endian 16-bit size prefix of a TPM2B at `at`, if the input has it.
std::optional<uint16_t> tpm2b_size(ByteView in, size_t at) {
  if (in.size() < at + 2) return std::nullopt;
  return static_cast<uint16_t>((in[at] << 8) | in[at + 1]);
}

Result<Bytes> left_pad(ByteView value, size_t size, std::string_view field) {
  if (value.size() > size)
    return make_error(Errc::parse, std::string(field) + ": " + std::to_string(value.size()) +
                                       " bytes for a " + std::to_string(size) + "-byte coordinate");
  Bytes out(size - value.size(), 0);
  append(out, value);
  return out;
}

}  // namespace

Result<Attest> parse_attest(ByteView in, size_t base) {
  // Magic and type first: input that is not a quote gets a precise message before tss2-mu
  // unmarshals a union chosen by an arbitrary selector.
  MuCursor head(in, base);
  uint32_t magic = 0;
  uint16_t type = 0;
  ACON_CHECK(head.read(Tss2_MU_UINT32_Unmarshal, &magic, "tpms_attest.magic"));
  if (magic != kTpmGeneratedValue)
    return head.fail("tpms_attest.magic", 0,
                     hex_literal(magic, 8) +
                         " is not TPM_GENERATED_VALUE (0xff544347): the TPM did not "
                         "produce this structure");
  ACON_CHECK(head.read(Tss2_MU_UINT16_Unmarshal, &type, "tpms_attest.type"));
  if (type != kStAttestQuote)
    return make_error(Errc::unsupported, "tpms_attest.type at offset " + std::to_string(base + 4) +
                                             ": " + hex_literal(type, 4) + " (" +
                                             attest_type_name(type) +
                                             ") is not TPM_ST_ATTEST_QUOTE");

  auto parsed = std::make_unique<TPMS_ATTEST>();
  size_t end = 0;
  TSS2_RC rc = Tss2_MU_TPMS_ATTEST_Unmarshal(head.buffer(), in.size(), &end, parsed.get());
  if (rc != TSS2_RC_SUCCESS) return diagnose_attest(in, base, rc);
  if (end != in.size()) return trailing("tpms_attest", base + end, in.size() - end);

  const TPMS_ATTEST& a = *parsed;
  const TPMS_QUOTE_INFO& q = a.attested.quote;
  Attest out{};
  out.magic = a.magic;
  out.type = a.type;
  out.qualified_signer = copy_bytes(a.qualifiedSigner.name, a.qualifiedSigner.size);
  out.extra_data = copy_bytes(a.extraData.buffer, a.extraData.size);
  out.clock_info = {a.clockInfo.clock, a.clockInfo.resetCount, a.clockInfo.restartCount,
                    a.clockInfo.safe != 0};
  out.firmware_version = a.firmwareVersion;
  for (uint32_t i = 0; i < q.pcrSelect.count; ++i)
    out.pcr_selection.push_back(to_selection(q.pcrSelect.pcrSelections[i]));
  out.pcr_digest = copy_bytes(q.pcrDigest.buffer, q.pcrDigest.size);
  return out;
}

Result<Signature> parse_signature(ByteView in, size_t base) {
  MuCursor c(in, base);
  TPMT_SIGNATURE s{};
  size_t end = 0;
  TSS2_RC rc = Tss2_MU_TPMT_SIGNATURE_Unmarshal(c.buffer(), in.size(), &end, &s);
  if (rc != TSS2_RC_SUCCESS) return diagnose_signature(in, base, rc);
  if (end != in.size()) return trailing("tpmt_signature", base + end, in.size() - end);

  Signature out{};
  out.sig_alg = s.sigAlg;
  switch (s.sigAlg) {
    case TPM2_ALG_ECDSA:
      out.hash_alg = s.signature.ecdsa.hash;
      out.ecdsa_r =
          copy_bytes(s.signature.ecdsa.signatureR.buffer, s.signature.ecdsa.signatureR.size);
      out.ecdsa_s =
          copy_bytes(s.signature.ecdsa.signatureS.buffer, s.signature.ecdsa.signatureS.size);
      return out;
    case TPM2_ALG_RSASSA:
    case TPM2_ALG_RSAPSS:
      // rsassa and rsapss share one layout (TPMS_SIGNATURE_RSA).
      out.hash_alg = s.signature.rsassa.hash;
      out.rsa_signature = copy_bytes(s.signature.rsassa.sig.buffer, s.signature.rsassa.sig.size);
      return out;
    default:
      return make_error(Errc::unsupported,
                        "tpmt_signature.sig_alg at offset " + std::to_string(base) + ": " +
                            hex_literal(s.sigAlg, 4) + " is not ECDSA, RSASSA or RSAPSS");
  }
}

Result<Quote> parse_quote(ByteView in) {
  // TPM2B_ATTEST: a 16-bit size, then that many bytes of TPMS_ATTEST.
  auto tpm2b = std::make_unique<TPM2B_ATTEST>();
  MuCursor c(in, 0);
  size_t end = 0;
  TSS2_RC rc = Tss2_MU_TPM2B_ATTEST_Unmarshal(c.buffer(), in.size(), &end, tpm2b.get());
  if (rc != TSS2_RC_SUCCESS) {
    auto size = tpm2b_size(in, 0);
    if (!size)
      return c.fail("tpm2b_attest.size", 0,
                    "needs 2 bytes, only " + std::to_string(in.size()) + " left");
    if (*size > sizeof(tpm2b->attestationData))
      return c.fail("tpm2b_attest.size", 0,
                    std::to_string(*size) + " exceeds sizeof(TPMS_ATTEST) (" +
                        std::to_string(sizeof(tpm2b->attestationData)) + ")");
    return c.fail("tpm2b_attest.attestation_data", 2,
                  "needs " + std::to_string(*size) + " bytes, only " +
                      std::to_string(in.size() - 2) + " left");
  }
  ByteView attest_bytes(tpm2b->attestationData, tpm2b->size);
  ACON_TRY(Attest attest, parse_attest(attest_bytes, 2));
  ACON_TRY(Signature signature, parse_signature(in.subspan(end), end));
  return Quote{Bytes(attest_bytes.begin(), attest_bytes.end()), std::move(attest),
               std::move(signature), end};
}

bool TpmPublic::is_attestation_key() const {
  constexpr uint32_t required = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT |
                                TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                TPMA_OBJECT_SENSITIVEDATAORIGIN;
  return (attributes & required) == required && (attributes & TPMA_OBJECT_DECRYPT) == 0;
}

Result<TpmPublic> parse_tpm2b_public(ByteView in) {
  // The outer size is read here (not by Tss2_MU_TPM2B_PUBLIC_Unmarshal) so that the TPMT_PUBLIC
  // must fill it exactly, and its bytes can be hashed into the Name.
  auto size = tpm2b_size(in, 0);
  if (!size)
    return make_error(Errc::parse, "tpm2b_public.size at offset 0: needs 2 bytes, only " +
                                       std::to_string(in.size()) + " left");
  if (in.size() - 2 < *size)
    return make_error(Errc::parse, "tpm2b_public.public_area at offset 2: needs " +
                                       std::to_string(*size) + " bytes, only " +
                                       std::to_string(in.size() - 2) + " left");
  if (in.size() - 2 > *size) return trailing("tpm2b_public", 2 + *size, in.size() - 2 - *size);
  ByteView area = in.subspan(2, *size);

  MuCursor c(area, 2);
  TPMT_PUBLIC p{};
  ACON_CHECK(c.read(Tss2_MU_UINT16_Unmarshal, &p.type, "tpmt_public.type"));
  ACON_CHECK(c.read(Tss2_MU_UINT16_Unmarshal, &p.nameAlg, "tpmt_public.name_alg"));
  ACON_CHECK(
      c.read(Tss2_MU_TPMA_OBJECT_Unmarshal, &p.objectAttributes, "tpmt_public.object_attributes"));
  ACON_CHECK(c.read(Tss2_MU_TPM2B_DIGEST_Unmarshal, &p.authPolicy, "tpmt_public.auth_policy"));
  if (p.type != TPM2_ALG_ECC && p.type != TPM2_ALG_RSA)
    return make_error(Errc::unsupported, "tpmt_public.type at offset 2: " + hex_literal(p.type, 4) +
                                             " is neither TPM_ALG_ECC nor TPM_ALG_RSA");
  ACON_CHECK(c.read_union(Tss2_MU_TPMU_PUBLIC_PARMS_Unmarshal, p.type, &p.parameters,
                          "tpmt_public.parameters"));
  ACON_CHECK(
      c.read_union(Tss2_MU_TPMU_PUBLIC_ID_Unmarshal, p.type, &p.unique, "tpmt_public.unique"));
  if (c.remaining() != 0) return trailing("tpmt_public", c.offset(), c.remaining());

  auto name_hash = eventlog::hash_for_tpm_alg(p.nameAlg);
  if (!name_hash || !hash_available(*name_hash))
    return make_error(Errc::unsupported,
                      "tpmt_public.name_alg at offset 4: " + hex_literal(p.nameAlg, 4) +
                          " is no hash acon computes");
  ACON_TRY(Bytes name_digest, digest(*name_hash, area));
  Bytes name{static_cast<uint8_t>(p.nameAlg >> 8), static_cast<uint8_t>(p.nameAlg)};
  append(name, name_digest);

  if (p.type == TPM2_ALG_ECC) {
    Curve curve;
    switch (p.parameters.eccDetail.curveID) {
      case TPM2_ECC_NIST_P256:
        curve = Curve::p256;
        break;
      case TPM2_ECC_NIST_P384:
        curve = Curve::p384;
        break;
      case TPM2_ECC_NIST_P521:
        curve = Curve::p521;
        break;
      default:
        return make_error(Errc::unsupported, "tpmt_public.parameters.ecc_detail.curve_id: " +
                                                 hex_literal(p.parameters.eccDetail.curveID, 4) +
                                                 " is not a NIST P curve");
    }
    const size_t field = curve_field_size(curve);
    const TPMS_ECC_POINT& point = p.unique.ecc;
    ACON_TRY(Bytes xy, left_pad({point.x.buffer, point.x.size}, field, "tpmt_public.unique.x"));
    ACON_TRY(Bytes y, left_pad({point.y.buffer, point.y.size}, field, "tpmt_public.unique.y"));
    append(xy, y);
    auto key = PublicKey::from_ec_xy(curve, xy);
    if (!key) return key.error().wrap("tpmt_public.unique");
    const TPMT_SYM_DEF_OBJECT& sym = p.parameters.eccDetail.symmetric;
    TpmPublic::Symmetric symmetric{sym.algorithm, sym.keyBits.sym, sym.mode.sym};
    return TpmPublic{std::move(*key),    p.type,          p.nameAlg,
                     p.objectAttributes, std::move(name), symmetric};
  }
  const TPMS_RSA_PARMS& rsa = p.parameters.rsaDetail;
  const uint32_t exponent = rsa.exponent == 0 ? 65537u : rsa.exponent;
  Bytes e;
  append_u32be(e, exponent);
  auto key = PublicKey::from_rsa({p.unique.rsa.buffer, p.unique.rsa.size}, e);
  if (!key) return key.error().wrap("tpmt_public.unique.rsa");
  TpmPublic::Symmetric symmetric{rsa.symmetric.algorithm, rsa.symmetric.keyBits.sym,
                                 rsa.symmetric.mode.sym};
  return TpmPublic{std::move(*key),    p.type,          p.nameAlg,
                   p.objectAttributes, std::move(name), symmetric};
}

}  // namespace acon::tpm
