#include "acon/common/kbs_binding.h"

#include <array>
#include <span>

#include "acon/common/hash.h"

namespace acon {

Result<Json> kbs_runtime_data_object(std::string_view nonce, const Json& tee_pubkey,
                                     std::string_view additional_evidence) {
  if (!tee_pubkey.is_object()) return make_error(Errc::parse, "tee-pubkey: not a JWK object");
  ACON_TRY(std::string kty, json_get_string(tee_pubkey, "kty"));
  // kbs-types TeePubKey is tagged by kty: only these members survive its re-serialisation.
  static constexpr std::array<const char*, 4> kEcMembers = {"crv", "alg", "x", "y"};
  static constexpr std::array<const char*, 3> kRsaMembers = {"alg", "n", "e"};
  static constexpr std::array<const char*, 2> kAkpMembers = {"alg", "pub"};
  std::span<const char* const> members;
  if (kty == "EC")
    members = kEcMembers;
  else if (kty == "RSA")
    members = kRsaMembers;
  else if (kty == "AKP")
    members = kAkpMembers;
  else
    return make_error(Errc::unsupported, "tee-pubkey.kty: \"" + kty + "\" is not EC, RSA or AKP");
  Json typed = {{"kty", kty}};
  for (const char* name : members) {
    auto value = json_get_string(tee_pubkey, name);
    if (!value) return value.error().wrap("tee-pubkey");
    typed[name] = *value;
  }
  return Json{{"tee-pubkey", std::move(typed)},
              {"nonce", std::string(nonce)},
              {"additional-evidence", std::string(additional_evidence)}};
}

Result<std::string> kbs_runtime_data_jcs(std::string_view nonce, const Json& tee_pubkey,
                                         std::string_view additional_evidence) {
  ACON_TRY(Json object, kbs_runtime_data_object(nonce, tee_pubkey, additional_evidence));
  return jcs_canonicalize(object);
}

Result<Bytes> kbs_report_data(std::string_view nonce, const Json& tee_pubkey,
                              std::string_view additional_evidence, size_t size) {
  if (size < hash_size(HashAlg::sha384))
    return make_error(Errc::invalid_argument, "kbs report data: " + std::to_string(size) +
                                                  " bytes cannot hold the 48-byte SHA-384 digest");
  ACON_TRY(std::string jcs, kbs_runtime_data_jcs(nonce, tee_pubkey, additional_evidence));
  Bytes report_data = sha384(as_bytes(jcs));
  report_data.resize(size, 0);
  return report_data;
}

}  // namespace acon
