// Init-data as Trustee's attestation service reads it (attestation-service/src/lib.rs
// parse_init_data at trustee 78962cd): the TOML, its digest, and the init_data_claims.
#define TOML_EXCEPTIONS 0
#include <toml++/toml.h>

#include <cmath>
#include <sstream>

#include "acon/appraisal/checks.h"
#include "toml_guard.h"

namespace acon::appraisal {
namespace {

inline constexpr size_t kMrConfigIdSize = 48;

std::string toml_error_text(const toml::parse_error& error) {
  std::ostringstream out;
  out << error.description() << " at line " << error.source().begin.line << ", column "
      << error.source().begin.column;
  return out.str();
}

// toml::Value → serde_json::Value as serde does it: datetimes become Trustee's private
// {"$__toml_private_datetime": "<text>"} wrapper, non-finite floats null.
Json toml_to_json(const toml::node& node) {
  if (const auto* table = node.as_table()) {
    Json out = Json::object();
    for (const auto& [key, value] : *table) out[std::string(key.str())] = toml_to_json(value);
    return out;
  }
  if (const auto* array = node.as_array()) {
    Json out = Json::array();
    for (const auto& value : *array) out.push_back(toml_to_json(value));
    return out;
  }
  if (const auto* text = node.as_string()) return text->get();
  if (const auto* integer = node.as_integer()) return integer->get();
  if (const auto* floating = node.as_floating_point()) {
    const double value = floating->get();
    return std::isfinite(value) ? Json(value) : Json(nullptr);
  }
  if (const auto* boolean = node.as_boolean()) return boolean->get();
  std::ostringstream text;
  if (const auto* date = node.as_date()) text << date->get();
  if (const auto* time = node.as_time()) text << time->get();
  if (const auto* date_time = node.as_date_time()) text << date_time->get();
  return Json{{"$__toml_private_datetime", text.str()}};
}

// Trustee's extract_policy_data: the JSON value that starts at the "{" of the first
// "policy_data := {" and runs to the end of the Rego text (nothing but whitespace after it).
std::optional<Json> extract_policy_data(std::string_view rego) {
  constexpr std::string_view kStart = "policy_data := {";
  const size_t start = rego.find(kStart);
  if (start == std::string_view::npos) return std::nullopt;
  auto json = parse_json(rego.substr(start + kStart.size() - 1));
  if (!json) return std::nullopt;
  return *std::move(json);
}

}  // namespace

Result<ParsedInitData> parse_init_data(const InitData& init_data) {
  if (init_data.format != "toml")
    return make_error(Errc::unsupported, "init_data.format: \"" + init_data.format +
                                             "\": only \"toml\" is accepted (as Trustee)");
  if (init_data.body.size() > kMaxEvidenceMemberBytes)
    return make_error(Errc::parse, "init_data.body: larger than " +
                                       std::to_string(kMaxEvidenceMemberBytes) + " bytes");
  ACON_CHECK(refuse_tomlpp_mishandled(init_data.body, "init_data.body"));
  toml::parse_result parsed = toml::parse(std::string_view(init_data.body));
  if (!parsed) return make_error(Errc::parse, "init_data.body: " + toml_error_text(parsed.error()));
  const toml::table& root = parsed.table();

  const toml::node* version = root.get("version");
  if (!version) return make_error(Errc::parse, "init_data.body: version: missing");
  if (!version->is_string())
    return make_error(Errc::parse, "init_data.body: version: not a string");

  const toml::node* algorithm_node = root.get("algorithm");
  if (!algorithm_node) return make_error(Errc::parse, "init_data.body: algorithm: missing");
  const auto* algorithm_text = algorithm_node->as_string();
  if (!algorithm_text) return make_error(Errc::parse, "init_data.body: algorithm: not a string");
  ParsedInitData out;
  const std::string& name = algorithm_text->get();
  // kbs-types HashAlgorithm, serde lowercase: exactly these four spellings.
  if (name == "sha256")
    out.algorithm = HashAlg::sha256;
  else if (name == "sha384")
    out.algorithm = HashAlg::sha384;
  else if (name == "sha512")
    out.algorithm = HashAlg::sha512;
  else if (name == "sm3")
    out.algorithm = HashAlg::sm3;
  else
    return make_error(Errc::parse, "init_data.body: algorithm: \"" + name +
                                       "\" is not sha256, sha384, sha512 or sm3");

  const toml::node* data = root.get("data");
  if (!data) return make_error(Errc::parse, "init_data.body: data: missing");
  const auto* table = data->as_table();
  if (!table) return make_error(Errc::parse, "init_data.body: data: not a table");
  Json claims = Json::object();
  for (const auto& [key, value] : *table) {
    const auto* text = value.as_string();
    if (!text)
      return make_error(Errc::parse, "init_data.body: data.\"" + std::string(key.str()) +
                                         "\": not a string (Trustee accepts only strings)");
    claims[std::string(key.str())] = text->get();
  }

  if (!hash_available(out.algorithm))
    return make_error(Errc::unsupported,
                      "init_data.body: algorithm: sm3 is not available in this OpenSSL build");
  ACON_TRY(out.digest, digest(out.algorithm, std::string_view(init_data.body)));

  for (const char* key : {"cdh.toml", "aa.toml"}) {
    if (!claims.contains(key)) continue;
    const auto& text = claims[key].get_ref<const std::string&>();
    if (!refuse_tomlpp_mishandled(text, key)) continue;  // kept as text, as any unparsable value
    toml::parse_result inner = toml::parse(text);
    if (inner) claims[key] = toml_to_json(inner.table());
  }
  if (claims.contains("policy.rego")) {
    if (auto policy = extract_policy_data(claims["policy.rego"].get_ref<const std::string&>())) {
      claims.erase("policy.rego");
      claims["agent_policy_claims"] = std::move(*policy);
      out.policy_data_extracted = true;
    }
  }
  out.claims = std::move(claims);
  return out;
}

namespace {

// What both init-data checks start with: the check named, skipped without init-data (`compared`
// names what would have been compared), an error when it cannot be parsed, and its claims
// handed out. nullopt when `check` is already decided.
std::optional<ParsedInitData> start_init_data_check(CheckResult& check,
                                                    const std::optional<InitData>& init_data,
                                                    std::string_view compared, Json* claims) {
  check.name = "init_data";
  if (!init_data) {
    check.outcome = Outcome::skipped;
    check.reason = "no init-data was supplied, so " + std::string(compared) + " is not compared";
    return std::nullopt;
  }
  auto parsed = parse_init_data(*init_data);
  if (!parsed) {
    check.outcome = Outcome::error;
    check.reason = "the init-data cannot be used: " + parsed.error().message;
    return std::nullopt;
  }
  if (claims) *claims = parsed->claims;
  return std::move(*parsed);
}

}  // namespace

CheckResult check_init_data(ByteView mr_config_id, const std::optional<InitData>& init_data,
                            Json* claims) {
  CheckResult check;
  auto parsed = start_init_data_check(check, init_data, "MRCONFIGID", claims);
  if (!parsed) return check;
  Bytes expected = parsed->digest;
  expected.resize(kMrConfigIdSize, 0);
  check.detail = {{"algorithm", hash_name(parsed->algorithm)},
                  {"digest", hex_encode(parsed->digest)},
                  {"expected_mr_config_id", hex_encode(expected)},
                  {"mr_config_id", hex_encode(mr_config_id)}};
  if (ct_equal(expected, mr_config_id)) {
    check.outcome = Outcome::pass;
    check.reason = "MRCONFIGID equals the " + std::string(hash_name(parsed->algorithm)) +
                   " digest of the init-data body, zero-padded to 48 bytes";
  } else {
    check.outcome = Outcome::fail;
    check.reason = "MRCONFIGID " + hex_encode(mr_config_id) + " differs from the " +
                   std::string(hash_name(parsed->algorithm)) +
                   " digest of the init-data body padded to 48 bytes, " + hex_encode(expected);
  }
  return check;
}

CheckResult check_init_data_tpm(const Bytes* pcr8, const std::optional<InitData>& init_data,
                                Json* claims) {
  CheckResult check;
  auto parsed = start_init_data_check(check, init_data, "PCR 8", claims);
  if (!parsed) return check;
  if (!pcr8) {
    check.outcome = Outcome::fail;
    check.reason = "init-data was supplied but the quote does not cover SHA-256 PCR 8";
    return check;
  }
  if (parsed->digest.size() != hash_size(HashAlg::sha256)) {
    check.outcome = Outcome::fail;
    check.reason = "the init-data digest is " + std::string(hash_name(parsed->algorithm)) +
                   ", but a TPM attester extends only a 32-byte (sha256) digest into PCR 8";
    return check;
  }
  // PCR 8 after TPM2_Startup(CLEAR) and one extend: SHA-256(32 zero bytes ‖ digest).
  Bytes extended(hash_size(HashAlg::sha256), 0);
  append(extended, parsed->digest);
  const Bytes expected = sha256(extended);
  check.detail = {{"algorithm", hash_name(parsed->algorithm)},
                  {"digest", hex_encode(parsed->digest)},
                  {"expected_pcr8", hex_encode(expected)},
                  {"pcr8", hex_encode(*pcr8)}};
  if (ct_equal(expected, *pcr8)) {
    check.outcome = Outcome::pass;
    check.reason = "SHA-256 PCR 8 holds the init-data digest extended once into a reset PCR";
  } else {
    check.outcome = Outcome::fail;
    check.reason = "SHA-256 PCR 8 " + hex_encode(*pcr8) +
                   " is not the init-data digest extended once into a reset PCR, " +
                   hex_encode(expected);
  }
  return check;
}

}  // namespace acon::appraisal
