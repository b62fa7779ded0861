// Evidence loaders: KBS Attestation body, directory bundle, evidence JSON (evidence.h).
#include "acon/appraisal/evidence.h"

#include <algorithm>
#include <fstream>
#include <set>

#include "acon/common/hash.h"
#include "acon/image/repository.h"

namespace acon::appraisal {
namespace {

namespace fs = std::filesystem;

std::string too_large(size_t limit) { return "larger than " + std::to_string(limit) + " bytes"; }

// ---- JSON members ----

Result<const Json*> member(const Json& object, std::string_view key, std::string_view path) {
  auto it = object.find(std::string(key));
  if (it == object.end() || it->is_null())
    return make_error(Errc::not_found, std::string(path) + "." + std::string(key) + ": missing");
  return &*it;
}

bool has(const Json& object, std::string_view key) {
  auto it = object.find(std::string(key));
  return it != object.end() && !it->is_null();
}

Result<std::string> string_member(const Json& object, std::string_view key, std::string_view path) {
  ACON_TRY(const Json* value, member(object, key, path));
  const std::string where = std::string(path) + "." + std::string(key);
  if (!value->is_string()) return make_error(Errc::parse, where + ": not a string");
  const auto& text = value->get_ref<const std::string&>();
  if (text.size() > kMaxEvidenceMemberBytes)
    return make_error(Errc::parse, where + ": " + too_large(kMaxEvidenceMemberBytes));
  return text;
}

Result<Bytes> base64_member(const Json& object, std::string_view key, std::string_view path) {
  ACON_TRY(std::string text, string_member(object, key, path));
  auto bytes = base64_decode(text);
  if (!bytes) return bytes.error().wrap(std::string(path) + "." + std::string(key));
  return bytes;
}

Result<std::optional<Bytes>> optional_base64(const Json& object, std::string_view key,
                                             std::string_view path) {
  if (!has(object, key)) return std::optional<Bytes>();
  ACON_TRY(Bytes bytes, base64_member(object, key, path));
  return std::optional<Bytes>(std::move(bytes));
}

Result<std::optional<std::string>> optional_string(const Json& object, std::string_view key,
                                                   std::string_view path) {
  if (!has(object, key)) return std::optional<std::string>();
  ACON_TRY(std::string text, string_member(object, key, path));
  return std::optional<std::string>(std::move(text));
}

Status only_members(const Json& object, std::string_view path,
                    std::initializer_list<std::string_view> allowed) {
  if (!object.is_object()) return make_error(Errc::parse, std::string(path) + ": not an object");
  for (const auto& [key, value] : object.items()) {
    bool known = false;
    for (std::string_view name : allowed) known = known || key == name;
    if (!known) return make_error(Errc::parse, std::string(path) + "." + key + ": unknown member");
  }
  return {};
}

Result<Json> parse_bounded_json(std::string_view text, std::string_view what) {
  if (text.size() > kMaxEvidenceBytes)
    return make_error(Errc::parse, std::string(what) + ": " + too_large(kMaxEvidenceBytes));
  auto json = parse_json(text);
  if (!json) return json.error().wrap(what);
  return json;
}

// ---- shared pieces ----

// kbs-types RuntimeData: {"nonce": string, "tee-pubkey": JWK object}.
Result<RuntimeData> runtime_data_from_json(const Json& json, std::string_view path) {
  ACON_CHECK(only_members(json, path, {"nonce", "tee-pubkey", "additional-evidence"}));
  RuntimeData data;
  ACON_TRY(data.nonce, string_member(json, "nonce", path));
  ACON_TRY(const Json* key, member(json, "tee-pubkey", path));
  if (!key->is_object())
    return make_error(Errc::parse, std::string(path) + ".tee-pubkey: not a JWK object");
  data.tee_pubkey = *key;
  ACON_TRY(auto additional, optional_string(json, "additional-evidence", path));
  data.additional_evidence = additional.value_or("");
  return data;
}

Result<InitData> init_data_from_json(const Json& json, std::string_view path) {
  ACON_CHECK(only_members(json, path, {"format", "body"}));
  InitData data;
  ACON_TRY(data.format, string_member(json, "format", path));
  ACON_TRY(data.body, string_member(json, "body", path));
  return data;
}

Json init_data_to_json(const InitData& data) {
  return Json{{"format", data.format}, {"body", data.body}};
}

Json runtime_data_to_json(const RuntimeData& data) {
  return Json{{"nonce", data.nonce},
              {"tee-pubkey", data.tee_pubkey},
              {"additional-evidence", data.additional_evidence}};
}

// Quoted PCR values: {"sha256": {"0": "<hex>", ...}, ...}.
Result<std::map<std::string, std::map<uint32_t, Bytes>>> pcrs_from_json(const Json& json,
                                                                        std::string_view path) {
  if (!json.is_object()) return make_error(Errc::parse, std::string(path) + ": not an object");
  std::map<std::string, std::map<uint32_t, Bytes>> pcrs;
  for (const auto& [bank, values] : json.items()) {
    const std::string bank_path = std::string(path) + "." + bank;
    if (!hash_from_name(bank)) return make_error(Errc::parse, bank_path + ": unknown bank");
    if (!values.is_object()) return make_error(Errc::parse, bank_path + ": not an object");
    for (const auto& [index_text, value] : values.items()) {
      const std::string where = bank_path + "." + index_text;
      uint32_t index = 0;
      if (index_text.empty() || index_text.size() > 2 ||
          index_text.find_first_not_of("0123456789") != std::string::npos ||
          (index = static_cast<uint32_t>(std::stoul(index_text))) > 23)
        return make_error(Errc::parse, where + ": not a PCR index 0..23");
      if (!value.is_string()) return make_error(Errc::parse, where + ": not a hex string");
      auto bytes = hex_decode(value.get<std::string>());
      if (!bytes) return bytes.error().wrap(where);
      pcrs[bank][index] = std::move(*bytes);
    }
  }
  return pcrs;
}

Json pcrs_to_json(const std::map<std::string, std::map<uint32_t, Bytes>>& pcrs) {
  Json out = Json::object();
  for (const auto& [bank, values] : pcrs)
    for (const auto& [index, value] : values) out[bank][std::to_string(index)] = hex_encode(value);
  return out;
}

// The TEE type field of a DCAP quote header (offset 4, little-endian): 0x81 TDX, 0 SGX.
Result<Platform> dcap_quote_platform(ByteView quote, std::string_view what) {
  if (quote.size() < 8)
    return make_error(Errc::parse, std::string(what) + ": tee_type at offset 4: quote of " +
                                       std::to_string(quote.size()) + " bytes is too short");
  const uint32_t tee_type = uint32_t{quote[4]} | uint32_t{quote[5]} << 8 |
                            uint32_t{quote[6]} << 16 | uint32_t{quote[7]} << 24;
  if (tee_type == 0x81) return Platform::tdx;
  if (tee_type == 0) return Platform::sgx;
  return make_error(Errc::parse, std::string(what) + ": tee_type at offset 4: " +
                                     hex_literal(tee_type, 8) + " is neither TDX nor SGX");
}

// ---- directory bundle ----

Result<std::optional<Bytes>> read_bundle_file(const fs::path& path, size_t& total) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::optional<Bytes>();
  if (!fs::is_regular_file(path, ec))
    return make_error(Errc::io, path.string() + ": not a regular file");
  const auto size = fs::file_size(path, ec);
  if (ec) return make_error(Errc::io, path.string() + ": " + ec.message());
  if (size > kMaxEvidenceMemberBytes)
    return make_error(Errc::parse, path.string() + ": " + too_large(kMaxEvidenceMemberBytes));
  total += size;
  if (total > kMaxEvidenceBytes)
    return make_error(Errc::parse,
                      path.string() + ": the bundle is " + too_large(kMaxEvidenceBytes));
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(Errc::io, path.string() + ": cannot open");
  Bytes bytes(size);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  if (in.gcount() != static_cast<std::streamsize>(size))
    return make_error(Errc::io, path.string() + ": short read");
  return std::optional<Bytes>(std::move(bytes));
}

Result<std::optional<std::string>> read_bundle_text(const fs::path& path, size_t& total) {
  ACON_TRY(auto bytes, read_bundle_file(path, total));
  if (!bytes) return std::optional<std::string>();
  return std::optional<std::string>(to_string(*bytes));
}

// The bundle's top-level names; docs/evidence.md "Bundle layout".
const std::set<std::string>& bundle_names() {
  static const std::set<std::string> names = {"quote.bin",
                                              "cc_eventlog.bin",
                                              "ccel.bin",
                                              "runtime_aael.bin",
                                              "runtime_aael.txt",
                                              "ima.txt",
                                              "tpm_quote.bin",
                                              "ak.tpm2b_public",
                                              "ak.spki.der",
                                              "pcrs.json",
                                              "tpm_eventlog.bin",
                                              "runtime_data.json",
                                              "attestation_data.json",
                                              "init_data.toml",
                                              "collateral.json",
                                              "images"};
  return names;
}

// acon's images member (kAconImagesMember) of TDX or TPM primary evidence at `path`, when
// present.
Status read_acon_images(const Json& primary, const std::string& path,
                        std::vector<ProvidedImage>& images) {
  if (!has(primary, kAconImagesMember)) return {};
  ACON_TRY(images, images_from_json(primary[std::string(kAconImagesMember)],
                                    path + "." + std::string(kAconImagesMember)));
  return {};
}

// Trustee's TPM evidence at `path` (tpm_evidence_from_trustee), with acon's extension members.
Result<VtpmEvidence> trustee_tpm_evidence(const Json& primary, const std::string& path,
                                          std::vector<ProvidedImage>* images) {
  // Trustee's verifier (serde, no deny_unknown_fields) ignores other members; so do we, so that an
  // attester may add some. The members it reads must be exactly as it reads them.
  if (!primary.is_object()) return make_error(Errc::parse, path + ": not an object");
  VtpmEvidence out;
  out.ak_encoding = AkEncoding::spki_der;
  ACON_TRY(out.ak_public, base64_member(primary, "ak_public", path));
  ACON_TRY(const Json* quote, member(primary, "tpm_quote", path));
  if (!quote->is_object()) return make_error(Errc::parse, path + ".tpm_quote: not an object");
  const std::string quote_path = path + ".tpm_quote";
  ACON_TRY(Bytes message, base64_member(*quote, "message", quote_path));
  ACON_TRY(Bytes signature, base64_member(*quote, "signature", quote_path));
  // TPM2B_ATTEST: a 16-bit big-endian size, then the TPMS_ATTEST the AK signed.
  if (message.size() > 0xFFFF)
    return make_error(Errc::parse, quote_path + ".message: " + too_large(0xFFFF) +
                                       " (a TPMS_ATTEST fits a TPM2B)");
  out.quote.reserve(2 + message.size() + signature.size());
  out.quote.push_back(static_cast<uint8_t>(message.size() >> 8));
  out.quote.push_back(static_cast<uint8_t>(message.size() & 0xFF));
  append(out.quote, message);
  append(out.quote, signature);
  ACON_TRY(const Json* pcrs, member(*quote, "pcrs", quote_path));
  if (!pcrs->is_array()) return make_error(Errc::parse, quote_path + ".pcrs: not an array");
  if (pcrs->size() > 24)
    return make_error(Errc::parse, quote_path + ".pcrs: " + std::to_string(pcrs->size()) +
                                       " values, a TPM has PCRs 0..23");
  auto& bank = out.pcrs["sha256"];
  for (size_t i = 0; i < pcrs->size(); ++i) {
    const std::string where = quote_path + ".pcrs[" + std::to_string(i) + "]";
    const Json& value = (*pcrs)[i];
    if (!value.is_string() || value.get_ref<const std::string&>().size() != 64)
      return make_error(Errc::parse, where + ": not 64 hex digits (a SHA-256 PCR value)");
    auto bytes = hex_decode(value.get_ref<const std::string&>());
    if (!bytes) return bytes.error().wrap(where);
    bank[static_cast<uint32_t>(i)] = std::move(*bytes);
  }
  // acon's extension members (evidence.h).
  ACON_TRY(out.event_log, optional_base64(primary, kAconEventLogMember, path));
  ACON_TRY(out.runtime_aael, optional_base64(primary, kAconRuntimeLogMember, path));
  if (has(primary, kAconPcrsMember)) {
    const std::string pcrs_path = path + "." + std::string(kAconPcrsMember);
    ACON_TRY(auto other, pcrs_from_json(primary[std::string(kAconPcrsMember)], pcrs_path));
    if (other.contains("sha256"))
      return make_error(Errc::parse,
                        pcrs_path + ".sha256: the SHA-256 PCRs are tpm_quote.pcrs, not here");
    for (auto& [name, values] : other) out.pcrs[name] = std::move(values);
  }
  if (images) ACON_CHECK(read_acon_images(primary, path, *images));
  return out;
}

}  // namespace

std::string_view platform_name(Platform platform) {
  switch (platform) {
    case Platform::tdx:
      return "tdx";
    case Platform::sgx:
      return "sgx";
    case Platform::vtpm:
      return "vtpm";
  }
  return "unknown";
}

std::optional<Platform> platform_from_tee(std::string_view tee) {
  if (tee == "tdx") return Platform::tdx;
  if (tee == "sgx") return Platform::sgx;
  if (tee == "tpm" || tee == "vtpm") return Platform::vtpm;
  return std::nullopt;
}

Result<std::vector<ProvidedImage>> images_from_json(const Json& images, std::string_view path) {
  const std::string where(path);
  if (!images.is_array()) return make_error(Errc::parse, where + ": not an array");
  if (images.size() > kMaxEvidenceImages)
    return make_error(Errc::parse,
                      where + ": more than " + std::to_string(kMaxEvidenceImages) + " images");
  std::vector<ProvidedImage> out;
  out.reserve(images.size());
  for (size_t i = 0; i < images.size(); ++i) {
    const std::string image_path = where + "[" + std::to_string(i) + "]";
    ACON_CHECK(
        only_members(images[i], image_path, {"name", "manifest", "signature", "certificate"}));
    ProvidedImage image;
    ACON_TRY(image.name, string_member(images[i], "name", image_path));
    ACON_TRY(image.manifest, base64_member(images[i], "manifest", image_path));
    ACON_TRY(auto signature, optional_base64(images[i], "signature", image_path));
    ACON_TRY(auto certificate, optional_base64(images[i], "certificate", image_path));
    image.signature = signature.value_or(Bytes{});
    image.certificate_der = certificate.value_or(Bytes{});
    out.push_back(std::move(image));
  }
  return out;
}

Json images_to_json(const std::vector<ProvidedImage>& images) {
  Json out = Json::array();
  for (const ProvidedImage& image : images) {
    Json entry = {{"name", image.name}, {"manifest", base64_encode(image.manifest)}};
    if (!image.signature.empty()) entry["signature"] = base64_encode(image.signature);
    if (!image.certificate_der.empty()) entry["certificate"] = base64_encode(image.certificate_der);
    out.push_back(std::move(entry));
  }
  return out;
}

Result<Evidence> load_kbs_attestation(std::string_view body, std::string_view tee) {
  auto platform = platform_from_tee(tee);
  // "vtpm" is acon's own platform name, not a kbs-types tee: the KBS reads CoCo's "tpm" form.
  if (!platform || tee == "vtpm")
    return make_error(Errc::unsupported, "tee: \"" + std::string(tee) +
                                             "\": only tdx, sgx and tpm KBS evidence is read");
  ACON_TRY(Json json, parse_bounded_json(body, "attestation"));
  ACON_CHECK(only_members(json, "attestation", {"init-data", "runtime-data", "tee-evidence"}));
  Evidence evidence;
  evidence.platform = *platform;

  if (has(json, "init-data")) {
    ACON_TRY(evidence.init_data, init_data_from_json(json["init-data"], "attestation.init-data"));
  }
  ACON_TRY(const Json* runtime, member(json, "runtime-data", "attestation"));
  ACON_TRY(RuntimeData runtime_data, runtime_data_from_json(*runtime, "attestation.runtime-data"));

  ACON_TRY(const Json* tee_evidence, member(json, "tee-evidence", "attestation"));
  ACON_CHECK(only_members(*tee_evidence, "attestation.tee-evidence",
                          {"primary_evidence", "additional_evidence"}));
  ACON_TRY(auto additional,
           optional_string(*tee_evidence, "additional_evidence", "attestation.tee-evidence"));
  runtime_data.additional_evidence = additional.value_or("");
  evidence.runtime_data = std::move(runtime_data);

  ACON_TRY(const Json* primary_member,
           member(*tee_evidence, "primary_evidence", "attestation.tee-evidence"));
  Json primary = *primary_member;
  // Older attesters sent the TEE evidence as a JSON string.
  if (primary.is_string()) {
    ACON_TRY(primary, parse_bounded_json(primary.get<std::string>(),
                                         "attestation.tee-evidence.primary_evidence"));
  }
  const std::string path = "attestation.tee-evidence.primary_evidence";
  if (*platform == Platform::tdx) {
    ACON_CHECK(only_members(primary, path, {"cc_eventlog", "quote", kAconImagesMember}));
    ACON_TRY(evidence.tdx.quote, base64_member(primary, "quote", path));
    ACON_TRY(evidence.tdx.cc_eventlog, optional_base64(primary, "cc_eventlog", path));
    ACON_CHECK(read_acon_images(primary, path, evidence.images));
  } else if (*platform == Platform::sgx) {
    ACON_CHECK(only_members(primary, path, {"quote"}));
    ACON_TRY(evidence.sgx.quote, base64_member(primary, "quote", path));
  } else {
    ACON_TRY(evidence.vtpm, trustee_tpm_evidence(primary, path, &evidence.images));
  }
  return evidence;
}

Result<VtpmEvidence> tpm_evidence_from_trustee(const Json& primary_evidence,
                                               std::vector<ProvidedImage>* images) {
  return trustee_tpm_evidence(primary_evidence, "primary_evidence", images);
}

Result<Json> tpm_evidence_to_trustee(const VtpmEvidence& evidence,
                                     const std::vector<ProvidedImage>& images) {
  if (evidence.ak_encoding != AkEncoding::spki_der)
    return make_error(Errc::invalid_argument,
                      "tpm evidence: ak_public is not a DER SubjectPublicKeyInfo");
  const Bytes& quote = evidence.quote;
  const size_t message_size = quote.size() < 2 ? 0 : size_t{quote[0]} << 8 | quote[1];
  if (quote.size() < 2 || quote.size() - 2 <= message_size)
    return make_error(Errc::invalid_argument,
                      "tpm evidence: quote is not a TPM2B_ATTEST followed by a TPMT_SIGNATURE");
  const ByteView message(quote.data() + 2, message_size);
  const ByteView signature(quote.data() + 2 + message_size, quote.size() - 2 - message_size);
  Json pcrs = Json::array();
  std::map<std::string, std::map<uint32_t, Bytes>> other_banks;
  for (const auto& [name, values] : evidence.pcrs) {
    if (name != "sha256") {
      if (!values.empty()) other_banks[name] = values;
      continue;
    }
    for (const auto& [index, value] : values) {
      if (index != pcrs.size())
        return make_error(Errc::invalid_argument,
                          "tpm evidence: sha256 PCR " + std::to_string(pcrs.size()) + " missing");
      pcrs.push_back(hex_encode(value));
    }
  }
  if (images.size() > kMaxEvidenceImages)
    return make_error(Errc::invalid_argument,
                      "tpm evidence: more than " + std::to_string(kMaxEvidenceImages) + " images");
  Json out{{"ak_public", base64_encode(evidence.ak_public)},
           {"tpm_quote",
            {{"signature", base64_encode(signature)},
             {"message", base64_encode(message)},
             {"pcrs", std::move(pcrs)}}}};
  if (evidence.event_log)
    out[std::string(kAconEventLogMember)] = base64_encode(*evidence.event_log);
  if (evidence.runtime_aael)
    out[std::string(kAconRuntimeLogMember)] = base64_encode(*evidence.runtime_aael);
  if (!other_banks.empty()) out[std::string(kAconPcrsMember)] = pcrs_to_json(other_banks);
  if (!images.empty()) out[std::string(kAconImagesMember)] = images_to_json(images);
  return out;
}

Result<Evidence> parse_evidence_json(std::string_view text) {
  ACON_TRY(Json json, parse_bounded_json(text, "evidence"));
  ACON_CHECK(only_members(json, "evidence",
                          {"platform", "tdx", "sgx", "vtpm", "runtime_data", "attestation_data",
                           "init_data", "images", "collateral"}));
  Evidence evidence;
  ACON_TRY(std::string platform_text, string_member(json, "platform", "evidence"));
  auto platform = platform_from_tee(platform_text);
  if (!platform)
    return make_error(Errc::parse,
                      "evidence.platform: \"" + platform_text + "\" is not tdx, sgx or vtpm");
  evidence.platform = *platform;
  const char* platform_key = platform_name(*platform).data();
  for (const char* other : {"tdx", "sgx", "vtpm"})
    if (std::string_view(other) != platform_key && has(json, other))
      return make_error(Errc::parse, std::string("evidence.") + other + ": present for platform " +
                                         platform_text);

  ACON_TRY(const Json* part, member(json, platform_key, "evidence"));
  const std::string path = std::string("evidence.") + platform_key;
  switch (*platform) {
    case Platform::tdx: {
      ACON_CHECK(only_members(
          *part, path,
          {"quote", "cc_eventlog", "ccel", "runtime_aael", "runtime_text_aael", "ima_log"}));
      ACON_TRY(evidence.tdx.quote, base64_member(*part, "quote", path));
      ACON_TRY(evidence.tdx.cc_eventlog, optional_base64(*part, "cc_eventlog", path));
      ACON_TRY(evidence.tdx.ccel, optional_base64(*part, "ccel", path));
      ACON_TRY(evidence.tdx.runtime_aael, optional_base64(*part, "runtime_aael", path));
      ACON_TRY(evidence.tdx.runtime_text_aael, optional_string(*part, "runtime_text_aael", path));
      ACON_TRY(evidence.tdx.ima_log, optional_string(*part, "ima_log", path));
      break;
    }
    case Platform::sgx: {
      ACON_CHECK(only_members(*part, path, {"quote"}));
      ACON_TRY(evidence.sgx.quote, base64_member(*part, "quote", path));
      break;
    }
    case Platform::vtpm: {
      ACON_CHECK(only_members(
          *part, path, {"quote", "ak_public", "ak_spki", "pcrs", "event_log", "runtime_aael"}));
      ACON_TRY(evidence.vtpm.quote, base64_member(*part, "quote", path));
      if (has(*part, "ak_spki")) {
        if (has(*part, "ak_public"))
          return make_error(Errc::parse, path + ".ak_spki: present with ak_public (one AK only)");
        evidence.vtpm.ak_encoding = AkEncoding::spki_der;
        ACON_TRY(evidence.vtpm.ak_public, base64_member(*part, "ak_spki", path));
      } else {
        ACON_TRY(evidence.vtpm.ak_public, base64_member(*part, "ak_public", path));
      }
      ACON_TRY(const Json* pcrs, member(*part, "pcrs", path));
      ACON_TRY(evidence.vtpm.pcrs, pcrs_from_json(*pcrs, path + ".pcrs"));
      ACON_TRY(evidence.vtpm.event_log, optional_base64(*part, "event_log", path));
      ACON_TRY(evidence.vtpm.runtime_aael, optional_base64(*part, "runtime_aael", path));
      break;
    }
  }

  if (has(json, "runtime_data")) {
    ACON_TRY(evidence.runtime_data,
             runtime_data_from_json(json["runtime_data"], "evidence.runtime_data"));
  }
  ACON_TRY(evidence.attestation_data, optional_base64(json, "attestation_data", "evidence"));
  if (has(json, "init_data")) {
    ACON_TRY(evidence.init_data, init_data_from_json(json["init_data"], "evidence.init_data"));
  }
  if (has(json, "collateral")) {
    const Json& collateral = json["collateral"];
    if (collateral.is_object()) {
      evidence.collateral = dump_compact(collateral);
    } else {
      ACON_TRY(evidence.collateral, string_member(json, "collateral", "evidence"));
    }
  }
  if (has(json, "images")) {
    ACON_TRY(evidence.images, images_from_json(json["images"], "evidence.images"));
  }
  return evidence;
}

Status write_evidence_directory(const Evidence& evidence, const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec)) return make_error(Errc::invalid_argument, dir.string() + ": exists");
  if (evidence.init_data && evidence.init_data->format != "toml")
    return make_error(Errc::unsupported, "init-data in format '" + evidence.init_data->format +
                                             "' has no bundle file (init_data.toml only)");
  if (evidence.images.size() > kMaxEvidenceImages)
    return make_error(Errc::invalid_argument,
                      "more than " + std::to_string(kMaxEvidenceImages) + " images");
  fs::create_directories(dir, ec);
  if (ec) return make_error(Errc::io, dir.string() + ": " + ec.message());
  auto put = [&](const fs::path& path, std::string_view data) {
    return image::write_file_atomic(path, data);
  };
  auto put_optional = [&](const char* name, const std::optional<Bytes>& bytes) -> Status {
    return bytes ? put(dir / name, as_chars(*bytes)) : Status{};
  };
  auto put_text = [&](const char* name, const std::optional<std::string>& text) -> Status {
    return text ? put(dir / name, *text) : Status{};
  };
  switch (evidence.platform) {
    case Platform::tdx:
      ACON_CHECK(put(dir / "quote.bin", as_chars(evidence.tdx.quote)));
      ACON_CHECK(put_optional("cc_eventlog.bin", evidence.tdx.cc_eventlog));
      ACON_CHECK(put_optional("ccel.bin", evidence.tdx.ccel));
      ACON_CHECK(put_optional("runtime_aael.bin", evidence.tdx.runtime_aael));
      ACON_CHECK(put_text("runtime_aael.txt", evidence.tdx.runtime_text_aael));
      ACON_CHECK(put_text("ima.txt", evidence.tdx.ima_log));
      break;
    case Platform::sgx:
      ACON_CHECK(put(dir / "quote.bin", as_chars(evidence.sgx.quote)));
      break;
    case Platform::vtpm:
      ACON_CHECK(put(dir / "tpm_quote.bin", as_chars(evidence.vtpm.quote)));
      ACON_CHECK(put(dir / (evidence.vtpm.ak_encoding == AkEncoding::spki_der ? "ak.spki.der"
                                                                              : "ak.tpm2b_public"),
                     as_chars(evidence.vtpm.ak_public)));
      ACON_CHECK(put(dir / "pcrs.json", pcrs_to_json(evidence.vtpm.pcrs).dump()));
      ACON_CHECK(put_optional("tpm_eventlog.bin", evidence.vtpm.event_log));
      ACON_CHECK(put_optional("runtime_aael.bin", evidence.vtpm.runtime_aael));
      break;
  }
  if (evidence.runtime_data)
    ACON_CHECK(put(dir / "runtime_data.json", runtime_data_to_json(*evidence.runtime_data).dump()));
  ACON_CHECK(put_optional("attestation_data.json", evidence.attestation_data));
  if (evidence.init_data) ACON_CHECK(put(dir / "init_data.toml", evidence.init_data->body));
  ACON_CHECK(put_text("collateral.json", evidence.collateral));
  for (size_t i = 0; i < evidence.images.size(); ++i) {
    const ProvidedImage& image = evidence.images[i];
    std::string name = std::to_string(i);
    const fs::path image_dir = dir / "images" / (std::string(3 - name.size(), '0') + name);
    fs::create_directories(image_dir, ec);
    if (ec) return make_error(Errc::io, image_dir.string() + ": " + ec.message());
    ACON_CHECK(put(image_dir / "manifest.json", as_chars(image.manifest)));
    if (!image.signature.empty())
      ACON_CHECK(put(image_dir / "signature", as_chars(image.signature)));
    if (!image.certificate_der.empty())
      ACON_CHECK(put(image_dir / "certificate.der", as_chars(image.certificate_der)));
  }
  return {};
}

Json evidence_to_json(const Evidence& evidence) {
  Json out = Json::object();
  out["platform"] = platform_name(evidence.platform);
  auto put = [](Json& object, const char* key, const std::optional<Bytes>& bytes) {
    if (bytes) object[key] = base64_encode(*bytes);
  };
  switch (evidence.platform) {
    case Platform::tdx: {
      Json tdx = {{"quote", base64_encode(evidence.tdx.quote)}};
      put(tdx, "cc_eventlog", evidence.tdx.cc_eventlog);
      put(tdx, "ccel", evidence.tdx.ccel);
      put(tdx, "runtime_aael", evidence.tdx.runtime_aael);
      if (evidence.tdx.runtime_text_aael)
        tdx["runtime_text_aael"] = *evidence.tdx.runtime_text_aael;
      if (evidence.tdx.ima_log) tdx["ima_log"] = *evidence.tdx.ima_log;
      out["tdx"] = std::move(tdx);
      break;
    }
    case Platform::sgx:
      out["sgx"] = {{"quote", base64_encode(evidence.sgx.quote)}};
      break;
    case Platform::vtpm: {
      const bool spki = evidence.vtpm.ak_encoding == AkEncoding::spki_der;
      Json vtpm = {{"quote", base64_encode(evidence.vtpm.quote)},
                   {spki ? "ak_spki" : "ak_public", base64_encode(evidence.vtpm.ak_public)},
                   {"pcrs", pcrs_to_json(evidence.vtpm.pcrs)}};
      put(vtpm, "event_log", evidence.vtpm.event_log);
      put(vtpm, "runtime_aael", evidence.vtpm.runtime_aael);
      out["vtpm"] = std::move(vtpm);
      break;
    }
  }
  if (evidence.runtime_data) out["runtime_data"] = runtime_data_to_json(*evidence.runtime_data);
  put(out, "attestation_data", evidence.attestation_data);
  if (evidence.init_data) out["init_data"] = init_data_to_json(*evidence.init_data);
  if (evidence.collateral) out["collateral"] = *evidence.collateral;
  if (!evidence.images.empty()) out["images"] = images_to_json(evidence.images);
  return out;
}

Result<Evidence> load_evidence_directory(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return make_error(Errc::not_found, dir.string() + ": not a directory");
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!bundle_names().contains(name))
      return make_error(Errc::parse,
                        (dir / name).string() + ": unknown bundle file (docs/evidence.md)");
  }
  if (ec) return make_error(Errc::io, dir.string() + ": " + ec.message());

  size_t total = 0;
  Evidence evidence;
  ACON_TRY(auto quote, read_bundle_file(dir / "quote.bin", total));
  ACON_TRY(auto tpm_quote, read_bundle_file(dir / "tpm_quote.bin", total));
  if (quote.has_value() == tpm_quote.has_value())
    return make_error(Errc::parse,
                      dir.string() + ": exactly one of quote.bin and tpm_quote.bin is needed");
  if (quote) {
    ACON_TRY(evidence.platform, dcap_quote_platform(*quote, (dir / "quote.bin").string()));
    if (evidence.platform == Platform::tdx) {
      evidence.tdx.quote = std::move(*quote);
      ACON_TRY(evidence.tdx.cc_eventlog, read_bundle_file(dir / "cc_eventlog.bin", total));
      ACON_TRY(evidence.tdx.ccel, read_bundle_file(dir / "ccel.bin", total));
      ACON_TRY(evidence.tdx.runtime_aael, read_bundle_file(dir / "runtime_aael.bin", total));
      ACON_TRY(evidence.tdx.runtime_text_aael, read_bundle_text(dir / "runtime_aael.txt", total));
      ACON_TRY(evidence.tdx.ima_log, read_bundle_text(dir / "ima.txt", total));
    } else {
      evidence.sgx.quote = std::move(*quote);
    }
  } else {
    evidence.platform = Platform::vtpm;
    evidence.vtpm.quote = std::move(*tpm_quote);
    ACON_TRY(auto ak, read_bundle_file(dir / "ak.tpm2b_public", total));
    ACON_TRY(auto ak_spki, read_bundle_file(dir / "ak.spki.der", total));
    if (ak && ak_spki)
      return make_error(Errc::parse,
                        dir.string() + ": both ak.tpm2b_public and ak.spki.der (one AK only)");
    if (!ak && !ak_spki)
      return make_error(Errc::not_found, (dir / "ak.tpm2b_public").string() + ": missing");
    if (ak_spki) evidence.vtpm.ak_encoding = AkEncoding::spki_der;
    evidence.vtpm.ak_public = ak ? std::move(*ak) : std::move(*ak_spki);
    ACON_TRY(auto pcrs_text, read_bundle_text(dir / "pcrs.json", total));
    if (!pcrs_text) return make_error(Errc::not_found, (dir / "pcrs.json").string() + ": missing");
    ACON_TRY(Json pcrs, parse_bounded_json(*pcrs_text, (dir / "pcrs.json").string()));
    ACON_TRY(evidence.vtpm.pcrs, pcrs_from_json(pcrs, (dir / "pcrs.json").string()));
    ACON_TRY(evidence.vtpm.event_log, read_bundle_file(dir / "tpm_eventlog.bin", total));
    ACON_TRY(evidence.vtpm.runtime_aael, read_bundle_file(dir / "runtime_aael.bin", total));
  }
  // A file of the other platform is a mistake worth reporting, not ignoring.
  // runtime_aael.bin is acond's runtime records on either platform.
  for (const char* name : {"cc_eventlog.bin", "ccel.bin", "runtime_aael.txt", "ima.txt"})
    if (evidence.platform != Platform::tdx && fs::exists(dir / name, ec))
      return make_error(Errc::parse, (dir / name).string() + ": TDX log in a " +
                                         std::string(platform_name(evidence.platform)) + " bundle");
  if (evidence.platform == Platform::sgx && fs::exists(dir / "runtime_aael.bin", ec))
    return make_error(Errc::parse,
                      (dir / "runtime_aael.bin").string() + ": runtime log in an sgx bundle");
  for (const char* name : {"ak.tpm2b_public", "ak.spki.der", "pcrs.json", "tpm_eventlog.bin"})
    if (evidence.platform != Platform::vtpm && fs::exists(dir / name, ec))
      return make_error(Errc::parse, (dir / name).string() + ": vTPM file in a " +
                                         std::string(platform_name(evidence.platform)) + " bundle");

  ACON_TRY(auto runtime_text, read_bundle_text(dir / "runtime_data.json", total));
  if (runtime_text) {
    const std::string where = (dir / "runtime_data.json").string();
    ACON_TRY(Json runtime, parse_bounded_json(*runtime_text, where));
    ACON_TRY(evidence.runtime_data, runtime_data_from_json(runtime, where));
  }
  ACON_TRY(evidence.attestation_data, read_bundle_file(dir / "attestation_data.json", total));
  ACON_TRY(auto init_body, read_bundle_text(dir / "init_data.toml", total));
  if (init_body) evidence.init_data = InitData{"toml", std::move(*init_body)};
  ACON_TRY(evidence.collateral, read_bundle_text(dir / "collateral.json", total));

  const fs::path images = dir / "images";
  if (fs::exists(images, ec)) {
    if (!fs::is_directory(images, ec))
      return make_error(Errc::parse, images.string() + ": not a directory");
    std::vector<fs::path> entries;
    for (const auto& entry : fs::directory_iterator(images, ec)) entries.push_back(entry.path());
    if (ec) return make_error(Errc::io, images.string() + ": " + ec.message());
    if (entries.size() > kMaxEvidenceImages)
      return make_error(Errc::parse, images.string() + ": more than " +
                                         std::to_string(kMaxEvidenceImages) + " images");
    std::sort(entries.begin(), entries.end());
    for (const fs::path& image_dir : entries) {
      if (!fs::is_directory(image_dir, ec))
        return make_error(Errc::parse, image_dir.string() + ": not an image directory");
      for (const auto& entry : fs::directory_iterator(image_dir, ec)) {
        const std::string name = entry.path().filename().string();
        if (name != "manifest.json" && name != "signature" && name != "certificate.der")
          return make_error(Errc::parse, entry.path().string() + ": unknown image file");
      }
      ProvidedImage image;
      image.name = image_dir.filename().string();
      ACON_TRY(auto manifest, read_bundle_file(image_dir / "manifest.json", total));
      if (!manifest)
        return make_error(Errc::not_found, (image_dir / "manifest.json").string() + ": missing");
      image.manifest = std::move(*manifest);
      ACON_TRY(auto signature, read_bundle_file(image_dir / "signature", total));
      ACON_TRY(auto certificate, read_bundle_file(image_dir / "certificate.der", total));
      image.signature = signature.value_or(Bytes{});
      image.certificate_der = certificate.value_or(Bytes{});
      evidence.images.push_back(std::move(image));
    }
  }
  return evidence;
}

}  // namespace acon::appraisal
