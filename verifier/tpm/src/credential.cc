// EK certificate checks, the TCG default EK template, and TPM2_MakeCredential in software.
#include "acon/tpm/credential.h"

#include <openssl/x509v3.h>
#include <tss2/tss2_mu.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <string>

#include "acon/common/cipher.h"
#include "acon/common/hash.h"
#include "acon/eventlog/event_log.h"

namespace acon::tpm {
namespace {

// PolicySecret(TPM_RH_ENDORSEMENT) with an empty policyRef, the authPolicy of the default EK
// templates (the TCG EK Credential Profile 2.0's default templates; tests/verifier/tpm recomputes
// it).
constexpr std::array<uint8_t, 32> kEkAuthPolicySha256 = {
    0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xB3, 0xF8, 0x1A, 0x90, 0xCC, 0x8D, 0x46, 0xA5, 0xD7, 0x24,
    0xFD, 0x52, 0xD7, 0x6E, 0x06, 0x52, 0x0B, 0x64, 0xF2, 0xA1, 0xDA, 0x1B, 0x33, 0x14, 0x69, 0xAA};

constexpr size_t kRsa2048Bytes = 256;
constexpr size_t kP256Bytes = 32;

// Offsets in a marshalled TPM2B_PUBLIC of the fields that must equal the template's, to name the
// first one that differs; each runs to the next offset. Unnamed entries (the key) are not compared.
struct TemplateField {
  size_t offset;
  const char* name;
};
constexpr TemplateField kRsaTemplateFields[] = {
    {2, "tpmt_public.type"},
    {4, "tpmt_public.name_alg"},
    {6, "tpmt_public.object_attributes"},
    {10, "tpmt_public.auth_policy"},
    {44, "tpmt_public.parameters.rsa_detail.symmetric"},
    {50, "tpmt_public.parameters.rsa_detail.scheme"},
    {52, "tpmt_public.parameters.rsa_detail.key_bits"},
    {54, "tpmt_public.parameters.rsa_detail.exponent"},
    {58, "tpmt_public.unique.rsa.size"},
    {60, nullptr},  // the modulus
};
constexpr TemplateField kEccTemplateFields[] = {
    {2, "tpmt_public.type"},
    {4, "tpmt_public.name_alg"},
    {6, "tpmt_public.object_attributes"},
    {10, "tpmt_public.auth_policy"},
    {44, "tpmt_public.parameters.ecc_detail.symmetric"},
    {50, "tpmt_public.parameters.ecc_detail.scheme"},
    {52, "tpmt_public.parameters.ecc_detail.curve_id"},
    {54, "tpmt_public.parameters.ecc_detail.kdf"},
    {56, "tpmt_public.unique.ecc.x.size"},
    {58, nullptr},  // x
    {58 + kP256Bytes, "tpmt_public.unique.ecc.y.size"},
    {60 + kP256Bytes, nullptr},  // y
};

void append_u16be(Bytes& out, size_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

}  // namespace

uint32_t ek_certificate_nv_index(EkType type) {
  return type == EkType::rsa2048 ? kEkCertNvIndexRsa2048 : kEkCertNvIndexEccP256;
}

Bytes ek_template(EkType type) {
  TPM2B_PUBLIC t{};
  TPMT_PUBLIC& p = t.publicArea;
  p.nameAlg = TPM2_ALG_SHA256;
  // Templates L-1 and L-2: a restricted decryption key that never leaves the TPM, usable only
  // through its policy (adminWithPolicy, no userWithAuth).
  p.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                       TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_ADMINWITHPOLICY |
                       TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
  p.authPolicy.size = kEkAuthPolicySha256.size();
  std::memcpy(p.authPolicy.buffer, kEkAuthPolicySha256.data(), kEkAuthPolicySha256.size());
  TPMT_SYM_DEF_OBJECT symmetric{};
  symmetric.algorithm = TPM2_ALG_AES;
  symmetric.keyBits.aes = 128;
  symmetric.mode.aes = TPM2_ALG_CFB;
  if (type == EkType::rsa2048) {
    p.type = TPM2_ALG_RSA;
    TPMS_RSA_PARMS& rsa = p.parameters.rsaDetail;
    rsa.symmetric = symmetric;
    rsa.scheme.scheme = TPM2_ALG_NULL;
    rsa.keyBits = 2048;
    rsa.exponent = 0;
    p.unique.rsa.size = kRsa2048Bytes;  // zeros, as the profile specifies
  } else {
    p.type = TPM2_ALG_ECC;
    TPMS_ECC_PARMS& ecc = p.parameters.eccDetail;
    ecc.symmetric = symmetric;
    ecc.scheme.scheme = TPM2_ALG_NULL;
    ecc.curveID = TPM2_ECC_NIST_P256;
    ecc.kdf.scheme = TPM2_ALG_NULL;
    p.unique.ecc.x.size = kP256Bytes;
    p.unique.ecc.y.size = kP256Bytes;
  }
  Bytes out(sizeof(TPM2B_PUBLIC));
  size_t size = 0;
  // Cannot fail: every field holds a value tss2-mu accepts and the buffer fits the structure.
  (void)Tss2_MU_TPM2B_PUBLIC_Marshal(&t, out.data(), out.size(), &size);
  out.resize(size);
  return out;
}

Result<TpmPublic> parse_ek_public(ByteView tpm2b_public) {
  ACON_TRY(TpmPublic ek, parse_tpm2b_public(tpm2b_public));
  const bool rsa = ek.type == TPM2_ALG_RSA;
  const Bytes expected = ek_template(rsa ? EkType::rsa2048 : EkType::ecc_nist_p256);
  const std::span<const TemplateField> fields =
      rsa ? std::span<const TemplateField>(kRsaTemplateFields)
          : std::span<const TemplateField>(kEccTemplateFields);
  // parse_tpm2b_public consumed the whole input, and the type is RSA or ECC; a field that moves
  // (a shorter unique) is caught at its size, after which the lengths must agree.
  for (size_t i = 0; i + 1 < fields.size(); ++i) {
    if (fields[i].name == nullptr) continue;
    const size_t begin = fields[i].offset;
    const size_t end = fields[i + 1].offset;
    if (tpm2b_public.size() < end ||
        !std::equal(tpm2b_public.begin() + static_cast<ptrdiff_t>(begin),
                    tpm2b_public.begin() + static_cast<ptrdiff_t>(end),
                    expected.begin() + static_cast<ptrdiff_t>(begin)))
      return make_error(Errc::verify_failed, std::string("ek_public: ") + fields[i].name +
                                                 " at offset " + std::to_string(begin) +
                                                 " differs from the TCG default EK template " +
                                                 (rsa ? "L-1" : "L-2"));
  }
  if (tpm2b_public.size() != expected.size())
    return make_error(Errc::verify_failed, "ek_public: " + std::to_string(tpm2b_public.size()) +
                                               " bytes, the template's EK has " +
                                               std::to_string(expected.size()));
  return ek;
}

Result<Certificate> parse_ek_certificate(ByteView nv) {
  // A DER SEQUENCE header: 0x30, then a short or long-form length of up to 3 octets.
  if (nv.size() < 2)
    return make_error(Errc::parse, "ek_certificate at offset 0: needs a DER header, only " +
                                       std::to_string(nv.size()) + " bytes");
  if (nv[0] != 0x30)
    return make_error(Errc::parse, "ek_certificate.tag at offset 0: " + hex_literal(nv[0], 2) +
                                       " is not a DER SEQUENCE (0x30)");
  size_t header = 2;
  size_t length = nv[1];
  if (nv[1] & 0x80) {
    const size_t octets = nv[1] & 0x7F;
    if (octets == 0 || octets > 3)
      return make_error(Errc::parse,
                        "ek_certificate.length at offset 1: " + std::to_string(octets) +
                            "-octet long form (1 to 3 expected)");
    if (nv.size() < 2 + octets)
      return make_error(Errc::parse, "ek_certificate.length at offset 2: needs " +
                                         std::to_string(octets) + " bytes, only " +
                                         std::to_string(nv.size() - 2) + " left");
    length = 0;
    for (size_t i = 0; i < octets; ++i) length = (length << 8) | nv[2 + i];
    header += octets;
  }
  if (nv.size() - header < length)
    return make_error(Errc::parse, "ek_certificate.contents at offset " + std::to_string(header) +
                                       ": needs " + std::to_string(length) + " bytes, only " +
                                       std::to_string(nv.size() - header) + " left");
  const size_t end = header + length;
  ByteView padding = nv.subspan(end);
  if (!padding.empty()) {
    const uint8_t fill = padding[0];
    if ((fill != 0x00 && fill != 0xFF) ||
        !std::all_of(padding.begin(), padding.end(), [fill](uint8_t b) { return b == fill; }))
      return make_error(Errc::parse, "ek_certificate.padding at offset " + std::to_string(end) +
                                         ": " + std::to_string(padding.size()) +
                                         " bytes after the certificate are not all 0x00 or 0xFF");
  }
  auto cert = Certificate::from_der(nv.first(end));
  if (!cert) return cert.error().wrap("ek_certificate");
  return std::move(*cert);
}

Result<PublicKey> verify_ek_certificate(const Certificate& ek_cert,
                                        std::span<const Certificate> intermediates,
                                        std::span<const Certificate> roots, Time at) {
  auto path = verify_chain(ek_cert, intermediates, roots, {}, at, CrlCheck::none);
  if (!path) return path.error().wrap("ek certificate");
  using EkuPtr = std::unique_ptr<EXTENDED_KEY_USAGE, ossl::Deleter<EXTENDED_KEY_USAGE_free>>;
  int critical = 0;
  EkuPtr eku(static_cast<EXTENDED_KEY_USAGE*>(
      X509_get_ext_d2i(ek_cert.get(), NID_ext_key_usage, &critical, nullptr)));
  if (eku) {
    bool has_ek_purpose = false;
    for (int i = 0; i < sk_ASN1_OBJECT_num(eku.get()); ++i) {
      char oid[80];
      if (OBJ_obj2txt(oid, sizeof oid, sk_ASN1_OBJECT_value(eku.get(), i), 1) > 0 &&
          std::string_view(oid) == kEkCertificateKeyPurpose)
        has_ek_purpose = true;
    }
    if (!has_ek_purpose)
      return make_error(Errc::verify_failed,
                        "ek certificate: extendedKeyUsage lacks tcg-kp-EKCertificate (" +
                            std::string(kEkCertificateKeyPurpose) + ")");
  } else if (critical != -1) {
    // -1: absent; anything else without a decoded value is a malformed extension.
    return make_error(Errc::parse, "ek certificate: extendedKeyUsage does not decode");
  }
  ACON_TRY(PublicKey key, ek_cert.public_key());
  const uint32_t usage = X509_get_key_usage(ek_cert.get());
  // The profile's key usage: keyEncipherment for an RSA EK, keyAgreement for an ECC one.
  if (usage != UINT32_MAX && key.type() == KeyType::rsa && !(usage & KU_KEY_ENCIPHERMENT))
    return make_error(Errc::verify_failed, "ek certificate: keyUsage lacks keyEncipherment");
  if (usage != UINT32_MAX && key.type() == KeyType::ec && !(usage & KU_KEY_AGREEMENT))
    return make_error(Errc::verify_failed, "ek certificate: keyUsage lacks keyAgreement");
  return key;
}

Result<SecretBytes> kdfa(HashAlg alg, ByteView key, std::string_view label, ByteView context_u,
                         ByteView context_v, uint32_t bits) {
  if (bits == 0 || bits % 8 != 0)
    return make_error(Errc::invalid_argument,
                      "kdfa: bits " + std::to_string(bits) + " is not a positive multiple of 8");
  const size_t want = bits / 8;
  SecretBytes out;
  for (uint32_t counter = 1; out.size() < want; ++counter) {
    Bytes input;
    append_u32be(input, counter);
    append(input, as_bytes(label));
    input.push_back(0x00);
    append(input, context_u);
    append(input, context_v);
    append_u32be(input, bits);
    ACON_TRY(Bytes block, hmac(alg, key, input));
    out.insert(out.end(), block.begin(), block.end());
    secure_zero(block.data(), block.size());
  }
  out.resize(want);
  return out;
}

Result<SecretBytes> kdfe(HashAlg alg, ByteView z, std::string_view label, ByteView party_u,
                         ByteView party_v, uint32_t bits) {
  if (bits == 0 || bits % 8 != 0)
    return make_error(Errc::invalid_argument,
                      "kdfe: bits " + std::to_string(bits) + " is not a positive multiple of 8");
  const size_t want = bits / 8;
  ACON_TRY(Hasher hasher, Hasher::create(alg));
  SecretBytes out;
  for (uint32_t counter = 1; out.size() < want; ++counter) {
    Bytes prefix;
    append_u32be(prefix, counter);
    hasher.update(prefix);
    hasher.update(z);
    Bytes rest(label.begin(), label.end());
    rest.push_back(0x00);
    append(rest, party_u);
    append(rest, party_v);
    hasher.update(rest);
    Bytes block = hasher.finish();
    out.insert(out.end(), block.begin(), block.end());
    secure_zero(block.data(), block.size());
  }
  out.resize(want);
  return out;
}

namespace {

// The checks both key types share, and the TPM2B_ID_OBJECT for `seed` (Part 1 §24).
Status check_credential_inputs(const TpmPublic& ek, ByteView object_name, ByteView secret) {
  constexpr uint32_t kDecryptionKey = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
  if ((ek.attributes & kDecryptionKey) != kDecryptionKey ||
      (ek.attributes & TPMA_OBJECT_SIGN_ENCRYPT) != 0)
    return make_error(Errc::invalid_argument,
                      "ek.object_attributes: " + hex_literal(ek.attributes, 8) +
                          " is not a restricted decryption key");
  // RsaPadding::oaep_sha256 and the P-256 KDFe use the EK's nameAlg, SHA-256 in both templates.
  if (ek.name_alg != TPM2_ALG_SHA256)
    return make_error(Errc::unsupported, "ek.name_alg: " + hex_literal(ek.name_alg, 4) +
                                             ": only SHA-256 endorsement keys are supported");
  if (ek.symmetric.algorithm != TPM2_ALG_AES || ek.symmetric.mode != TPM2_ALG_CFB ||
      (ek.symmetric.key_bits != 128 && ek.symmetric.key_bits != 192 &&
       ek.symmetric.key_bits != 256))
    return make_error(Errc::unsupported, "ek.symmetric: " + hex_literal(ek.symmetric.algorithm, 4) +
                                             "/" + std::to_string(ek.symmetric.key_bits) + "/" +
                                             hex_literal(ek.symmetric.mode, 4) +
                                             " is not AES-128/192/256-CFB");
  // The Name the TPM compares with the activated object's: nameAlg ‖ H_nameAlg(public area).
  if (object_name.size() < 2)
    return make_error(Errc::invalid_argument, "object_name: " + std::to_string(object_name.size()) +
                                                  " bytes, no name algorithm");
  const uint16_t object_alg = static_cast<uint16_t>(object_name[0] << 8 | object_name[1]);
  auto object_hash = eventlog::hash_for_tpm_alg(object_alg);
  if (!object_hash || object_name.size() != 2 + hash_size(*object_hash))
    return make_error(Errc::invalid_argument, "object_name: " + std::to_string(object_name.size()) +
                                                  " bytes with name algorithm " +
                                                  hex_literal(object_alg, 4) + " is no TPM Name");
  const size_t digest_size = hash_size(HashAlg::sha256);
  if (secret.empty() || secret.size() > digest_size)
    return make_error(Errc::invalid_argument, "secret: " + std::to_string(secret.size()) +
                                                  " bytes; the TPM takes 1 to " +
                                                  std::to_string(digest_size));
  return {};
}

// TPM2B_ID_OBJECT and TPM2B_ENCRYPTED_SECRET from the seed and what carries it to the TPM.
Result<Credential> wrap_credential(const TpmPublic& ek, ByteView object_name, ByteView secret,
                                   ByteView seed, ByteView encrypted_seed) {
  const HashAlg name_hash = HashAlg::sha256;
  const size_t digest_size = hash_size(name_hash);
  // encIdentity = CFB_symKey(TPM2B_DIGEST credential) with a zero IV; symKey is bound to the
  // object's Name, so the TPM derives a different key for any other object.
  ACON_TRY(SecretBytes sym_key,
           kdfa(name_hash, seed, "STORAGE", object_name, {}, ek.symmetric.key_bits));
  SecretBytes plain;
  plain.push_back(static_cast<uint8_t>(secret.size() >> 8));
  plain.push_back(static_cast<uint8_t>(secret.size()));
  plain.insert(plain.end(), secret.begin(), secret.end());
  const std::array<uint8_t, 16> zero_iv{};
  ACON_TRY(Bytes enc_identity, aes_cfb_encrypt(view(sym_key), zero_iv, view(plain)));

  // integrityHMAC = HMAC_HMACkey(encIdentity ‖ Name).
  ACON_TRY(SecretBytes hmac_key,
           kdfa(name_hash, seed, "INTEGRITY", {}, {}, static_cast<uint32_t>(digest_size * 8)));
  Bytes mac_input = enc_identity;
  append(mac_input, object_name);
  ACON_TRY(Bytes integrity, hmac(name_hash, view(hmac_key), mac_input));

  Credential out;
  Bytes id_object;
  append_u16be(id_object, integrity.size());
  append(id_object, integrity);
  append(id_object, enc_identity);
  append_u16be(out.id_object, id_object.size());
  append(out.id_object, id_object);
  append_u16be(out.encrypted_secret, encrypted_seed.size());
  append(out.encrypted_secret, encrypted_seed);
  return out;
}

// The seed as an ECC EK's holder recovers it: KDFe(SHA-256, Z, "IDENTITY", Qe.x, Qs.x), Z the x
// coordinate of the ephemeral key's ECDH with the EK; the TPM receives Qe as a TPMS_ECC_POINT.
Result<Credential> make_ecc_credential(const TpmPublic& ek, ByteView object_name, ByteView secret) {
  if (ek.key.curve() != Curve::p256)
    return make_error(Errc::unsupported, "ek: only NIST P-256 ECC endorsement keys are supported");
  ACON_TRY(PrivateKey ephemeral, PrivateKey::generate_ec(Curve::p256));
  ACON_TRY(SecretBytes z, ecdh(ephemeral, ek.key));
  const Bytes qe = ephemeral.public_key().ec_xy();
  const Bytes qs = ek.key.ec_xy();
  const ByteView qe_x = ByteView(qe).first(kP256Bytes);
  const ByteView qe_y = ByteView(qe).subspan(kP256Bytes);
  ACON_TRY(SecretBytes seed,
           kdfe(HashAlg::sha256, view(z), "IDENTITY", qe_x, ByteView(qs).first(kP256Bytes), 256));
  Bytes point;
  append_u16be(point, qe_x.size());
  append(point, qe_x);
  append_u16be(point, qe_y.size());
  append(point, qe_y);
  return wrap_credential(ek, object_name, secret, view(seed), point);
}

}  // namespace

Result<Credential> make_credential(const TpmPublic& ek, ByteView object_name, ByteView secret) {
  if (ek.type != TPM2_ALG_RSA && ek.type != TPM2_ALG_ECC)
    return make_error(Errc::unsupported, "ek.type: " + hex_literal(ek.type, 4) +
                                             " is neither TPM_ALG_RSA nor TPM_ALG_ECC");
  ACON_CHECK(check_credential_inputs(ek, object_name, secret));
  if (ek.type == TPM2_ALG_ECC) return make_ecc_credential(ek, object_name, secret);
  ACON_TRY(Bytes seed_bytes, random_bytes(hash_size(HashAlg::sha256)));
  SecretBytes seed = to_secret(seed_bytes);
  secure_zero(seed_bytes.data(), seed_bytes.size());
  return make_credential_with_seed(ek, object_name, secret, view(seed));
}

Result<Credential> make_credential_with_seed(const TpmPublic& ek, ByteView object_name,
                                             ByteView secret, ByteView seed) {
  if (ek.type != TPM2_ALG_RSA)
    return make_error(Errc::unsupported, "ek.type: " + hex_literal(ek.type, 4) +
                                             ": a chosen seed needs an RSA endorsement key");
  ACON_CHECK(check_credential_inputs(ek, object_name, secret));
  if (seed.size() != hash_size(HashAlg::sha256))
    return make_error(Errc::invalid_argument, "seed: " + std::to_string(seed.size()) +
                                                  " bytes, expected " +
                                                  std::to_string(hash_size(HashAlg::sha256)));
  // The seed travels encrypted to the EK; the label binds it to this use (Part 1, the use labels of
  // secret sharing).
  static constexpr uint8_t kIdentityLabel[] = {'I', 'D', 'E', 'N', 'T', 'I', 'T', 'Y', 0};
  ACON_TRY(Bytes encrypted_seed,
           rsa_encrypt(ek.key, RsaPadding::oaep_sha256, seed, ByteView(kIdentityLabel)));
  return wrap_credential(ek, object_name, secret, seed, encrypted_seed);
}

Result<EnrolledAk> enrol_attestation_key(EnrolmentTpm& tpm, const EkTrust& trust, Time at,
                                         EkType type) {
  ACON_TRY(Bytes nv, tpm.ek_certificate(type));
  ACON_TRY(Certificate ek_cert, parse_ek_certificate(nv));
  ACON_TRY(PublicKey certified,
           verify_ek_certificate(ek_cert, trust.intermediates, trust.roots, at));

  ACON_TRY(Bytes ek_bytes, tpm.ek_public(type));
  auto ek = parse_ek_public(ek_bytes);
  if (!ek) return ek.error().wrap("enrolment: the TPM's EK");
  if ((ek->type == TPM2_ALG_RSA) != (type == EkType::rsa2048))
    return make_error(Errc::verify_failed, "enrolment: the TPM's EK is not of the type asked for");
  if (!(ek->key == certified))
    return make_error(Errc::verify_failed,
                      "enrolment: the TPM's EK is not the key its EK certificate certifies");

  ACON_TRY(Bytes ak_bytes, tpm.ak_public());
  auto ak = parse_tpm2b_public(ak_bytes);
  if (!ak) return ak.error().wrap("enrolment: the AK");
  if (!ak->is_attestation_key())
    return make_error(Errc::verify_failed,
                      "enrolment: the AK's attributes " + hex_literal(ak->attributes, 8) +
                          " are not those of a restricted signing key made in the TPM");

  ACON_TRY(Bytes nonce, random_bytes(hash_size(HashAlg::sha256)));
  const SecretBytes secret = to_secret(nonce);
  secure_zero(nonce.data(), nonce.size());
  ACON_TRY(Credential credential, make_credential(*ek, ak->name, view(secret)));
  auto recovered = tpm.activate_credential(type, credential.id_object, credential.encrypted_secret);
  if (!recovered)
    return make_error(Errc::verify_failed,
                      "enrolment: TPM2_ActivateCredential failed, so the AK and the certified EK "
                      "are not in one TPM: " +
                          recovered.error().to_string());
  if (!ct_equal(view(*recovered), view(secret)))
    return make_error(Errc::verify_failed,
                      "enrolment: TPM2_ActivateCredential returned another secret");
  return EnrolledAk{std::move(*ak), std::move(ek_cert), std::move(certified)};
}

}  // namespace acon::tpm
