// The EAR model, tier rules and the JSON claims set (the EAR draft's JSON form, Trustee's names).
#include <cstdlib>
#include <map>

#include "acon/appraisal/ear.h"
#include "ear_internal.h"

namespace acon::appraisal {
namespace {

constexpr std::array<std::string_view, kTrustClaimCount> kClaimNames = {
    "instance-identity", "configuration",  "executables",    "file-system",
    "hardware",          "runtime-opaque", "storage-opaque", "sourced-data",
};

Error claim_error(std::string_view field, std::string message) {
  return make_error(Errc::parse, std::string(field) + ": " + std::move(message));
}

Result<Time> json_time(const Json& value, std::string_view field) {
  if (!value.is_number_integer()) return claim_error(field, "must be an integer (seconds)");
  int64_t seconds = 0;
  if (value.is_number_unsigned()) {
    if (value.get<uint64_t>() > static_cast<uint64_t>(kMaxEarTimeSeconds))
      return claim_error(field, "out of range");
    seconds = static_cast<int64_t>(value.get<uint64_t>());
  } else {
    seconds = value.get<int64_t>();
  }
  return time_from_seconds(seconds, field);
}

Result<std::string> json_text(const Json& value, std::string_view field) {
  if (!value.is_string()) return claim_error(field, "must be a string");
  return value.get<std::string>();
}

int64_t seconds_of(Time t) { return t.time_since_epoch().count(); }

Result<TrustVector> vector_from_json(const Json& value, std::string_view field) {
  if (!value.is_object()) return claim_error(field, "must be an object");
  TrustVector vector;
  for (const auto& [name, claim] : value.items()) {
    auto which = trust_claim_from_name(name);
    std::string path = std::string(field) + "." + name;
    if (!which) return claim_error(path, "unknown trustworthiness claim");
    if (!claim.is_number_integer()) return claim_error(path, "must be an integer");
    if (claim.is_number_unsigned() ? claim.get<uint64_t>() > 127
                                   : (claim.get<int64_t>() < -128 || claim.get<int64_t>() > 127))
      return claim_error(path, "outside -128..127");
    vector.set(*which, static_cast<int8_t>(claim.get<int64_t>()));
  }
  return vector;
}

Result<Submod> submod_from_json(const Json& value, const std::string& field) {
  if (!value.is_object()) return claim_error(field, "must be an object");
  Submod submod;
  bool have_status = false;
  for (const auto& [name, member] : value.items()) {
    std::string path = field + "." + name;
    if (name == "ear.status") {
      ACON_TRY(std::string text, json_text(member, path));
      auto tier = tier_from_name(text);
      if (!tier) return claim_error(path, "unknown tier \"" + text + "\"");
      submod.status = *tier;
      have_status = true;
    } else if (name == "ear.trustworthiness-vector") {
      ACON_TRY(submod.trust_vector, vector_from_json(member, path));
    } else if (name == "ear.appraisal-policy-id") {
      ACON_TRY(submod.appraisal_policy_id, json_text(member, path));
    } else if (name == "ear.veraison.annotated-evidence") {
      if (!member.is_object()) return claim_error(path, "must be an object");
      submod.annotated_evidence = member;
    } else {
      submod.extra.emplace(name, member);
    }
  }
  if (!have_status) return claim_error(field + ".ear.status", "missing");
  return submod;
}

}  // namespace

Result<Time> time_from_seconds(int64_t seconds, std::string_view field) {
  if (seconds < 0 || seconds > kMaxEarTimeSeconds)
    return claim_error(field, "outside 0..253402300799 (1970..9999)");
  return Time(std::chrono::seconds(seconds));
}

std::string_view trust_claim_name(TrustClaim claim) {
  return kClaimNames[static_cast<size_t>(claim)];
}

std::optional<TrustClaim> trust_claim_from_name(std::string_view name) {
  for (size_t i = 0; i < kClaimNames.size(); ++i)
    if (kClaimNames[i] == name) return static_cast<TrustClaim>(i);
  return std::nullopt;
}

std::string_view tier_name(Tier tier) {
  switch (tier) {
    case Tier::none:
      return "none";
    case Tier::affirming:
      return "affirming";
    case Tier::warning:
      return "warning";
    case Tier::contraindicated:
      return "contraindicated";
  }
  return "none";
}

std::optional<Tier> tier_from_name(std::string_view name) {
  for (Tier t : {Tier::none, Tier::affirming, Tier::warning, Tier::contraindicated})
    if (tier_name(t) == name) return t;
  return std::nullopt;
}

std::optional<Tier> tier_from_value(int64_t value) {
  for (Tier t : {Tier::none, Tier::affirming, Tier::warning, Tier::contraindicated})
    if (static_cast<int64_t>(t) == value) return t;
  return std::nullopt;
}

Tier tier_of(int8_t value) {
  int magnitude = std::abs(static_cast<int>(value));
  if (magnitude <= 1) return Tier::none;
  if (magnitude < 32) return Tier::affirming;
  if (magnitude < 96) return Tier::warning;
  return Tier::contraindicated;
}

bool TrustVector::any_set() const {
  for (const auto& claim : claims)
    if (claim) return true;
  return false;
}

Tier TrustVector::tier() const {
  Tier worst = Tier::none;
  for (const auto& claim : claims)
    if (claim && tier_of(*claim) > worst) worst = tier_of(*claim);
  return worst;
}

Submod Submod::from_vector(TrustVector vector, std::optional<std::string> policy_id,
                           Json annotated_evidence) {
  Submod submod;
  submod.status = vector.tier();
  submod.trust_vector = vector;
  submod.appraisal_policy_id = std::move(policy_id);
  submod.annotated_evidence = std::move(annotated_evidence);
  return submod;
}

Status validate_for_issue(const Ear& ear) {
  if (ear.profile.empty()) return make_error(Errc::invalid_argument, "eat_profile: empty");
  if (ear.submods.empty()) return make_error(Errc::invalid_argument, "submods: empty");
  for (const auto& [name, submod] : ear.submods) {
    // Trustee's broker refuses a token whose policy set no claim: it would say nothing.
    if (!submod.trust_vector.any_set())
      return make_error(Errc::invalid_argument,
                        "submods." + name + ".ear.trustworthiness-vector: no claim is set");
    if (!submod.annotated_evidence.is_null() && !submod.annotated_evidence.is_object())
      return make_error(Errc::invalid_argument,
                        "submods." + name + ".ear.veraison.annotated-evidence: not an object");
  }
  for (auto [field, t] :
       {std::pair{"iat", std::optional<Time>(ear.iat)}, {"exp", ear.exp}, {"nbf", ear.nbf}}) {
    if (t && (seconds_of(*t) < 0 || seconds_of(*t) > kMaxEarTimeSeconds))
      return make_error(Errc::invalid_argument, std::string(field) + ": outside 1970..9999");
  }
  if (ear.exp && *ear.exp <= ear.iat)
    return make_error(Errc::invalid_argument, "exp: not after iat");
  return {};
}

namespace {

// One JSON object's members as name -> compact value text. std::map orders the names by their
// bytes, as nlohmann's object and serde_json's BTreeMap do, so the object written from it is
// the text dump_compact gives for the equivalent tree.
using MemberTexts = std::map<std::string, std::string, std::less<>>;

std::string json_text_of(std::string_view s) {
  std::string out;
  append_compact_json(out, Json(s));
  return out;
}

void append_object(std::string& out, const MemberTexts& members) {
  out.push_back('{');
  bool first = true;
  for (const auto& [name, value] : members) {
    if (!first) out.push_back(',');
    first = false;
    append_compact_json(out, Json(name));
    out.push_back(':');
    out += value;
  }
  out.push_back('}');
}

void append_submod(std::string& out, const Submod& submod) {
  MemberTexts members;
  for (const auto& [name, value] : submod.extra) {
    std::string text;
    append_compact_json(text, value);
    members[name] = std::move(text);
  }
  members["ear.status"] = json_text_of(tier_name(submod.status));
  MemberTexts vector;
  for (size_t i = 0; i < kTrustClaimCount; ++i)
    if (submod.trust_vector.claims[i])
      vector[std::string(kClaimNames[i])] = std::to_string(*submod.trust_vector.claims[i]);
  std::string vector_text;
  append_object(vector_text, vector);
  members["ear.trustworthiness-vector"] = std::move(vector_text);
  if (submod.appraisal_policy_id)
    members["ear.appraisal-policy-id"] = json_text_of(*submod.appraisal_policy_id);
  if (!submod.annotated_evidence.is_null()) {
    std::string evidence;
    append_compact_json(evidence, submod.annotated_evidence);
    members["ear.veraison.annotated-evidence"] = std::move(evidence);
  }
  append_object(out, members);
}

}  // namespace

// Written as text rather than through a Json tree: issuing a token would otherwise copy the
// annotated evidence (the bulk of the claims) into a new tree for every token.
std::string ear_to_json_text(const Ear& ear) {
  MemberTexts members;
  members["eat_profile"] = json_text_of(ear.profile);
  members["iat"] = std::to_string(seconds_of(ear.iat));
  if (ear.exp) members["exp"] = std::to_string(seconds_of(*ear.exp));
  if (ear.nbf) members["nbf"] = std::to_string(seconds_of(*ear.nbf));
  if (ear.iss) members["iss"] = json_text_of(*ear.iss);
  if (ear.aud.size() == 1) members["aud"] = json_text_of(ear.aud.front());
  if (ear.aud.size() > 1) {
    std::string aud;
    append_compact_json(aud, Json(ear.aud));
    members["aud"] = std::move(aud);
  }
  std::string verifier_id;
  append_object(verifier_id, {{"build", json_text_of(ear.verifier_id.build)},
                              {"developer", json_text_of(ear.verifier_id.developer)}});
  members["ear.verifier-id"] = std::move(verifier_id);
  std::string submods = "{";
  bool first = true;
  for (const auto& [name, submod] : ear.submods) {
    if (!first) submods.push_back(',');
    first = false;
    append_compact_json(submods, Json(name));
    submods.push_back(':');
    append_submod(submods, submod);
  }
  submods.push_back('}');
  members["submods"] = std::move(submods);
  std::string out;
  out.reserve(4096);
  append_object(out, members);
  return out;
}

Result<Json> ear_to_json(const Ear& ear) { return parse_json(ear_to_json_text(ear), SIZE_MAX); }

Result<Ear> ear_from_json(const Json& claims) {
  if (!claims.is_object()) return claim_error("claims", "must be a JSON object");
  Ear ear;
  ACON_TRY(const Json* profile, json_get(claims, "eat_profile"));
  ACON_TRY(ear.profile, json_text(*profile, "eat_profile"));
  ACON_TRY(const Json* iat, json_get(claims, "iat"));
  ACON_TRY(ear.iat, json_time(*iat, "iat"));
  if (auto it = claims.find("exp"); it != claims.end()) {
    ACON_TRY(ear.exp, json_time(*it, "exp"));
  }
  if (auto it = claims.find("nbf"); it != claims.end()) {
    ACON_TRY(ear.nbf, json_time(*it, "nbf"));
  }
  if (auto it = claims.find("iss"); it != claims.end()) {
    ACON_TRY(ear.iss, json_text(*it, "iss"));
  }
  if (auto it = claims.find("aud"); it != claims.end()) {
    if (it->is_string()) {
      ear.aud.push_back(it->get<std::string>());
    } else if (it->is_array() && !it->empty()) {
      for (size_t i = 0; i < it->size(); ++i) {
        ACON_TRY(std::string a, json_text((*it)[i], "aud[" + std::to_string(i) + "]"));
        ear.aud.push_back(std::move(a));
      }
    } else {
      return claim_error("aud", "must be a string or a non-empty array of strings");
    }
  }
  ACON_TRY(const Json* vid, json_get(claims, "ear.verifier-id"));
  if (!vid->is_object()) return claim_error("ear.verifier-id", "must be an object");
  ACON_TRY(const Json* developer, json_get(*vid, "developer"));
  ACON_TRY(ear.verifier_id.developer, json_text(*developer, "ear.verifier-id.developer"));
  ACON_TRY(const Json* build, json_get(*vid, "build"));
  ACON_TRY(ear.verifier_id.build, json_text(*build, "ear.verifier-id.build"));
  ACON_TRY(const Json* submods, json_get(claims, "submods"));
  if (!submods->is_object() || submods->empty())
    return claim_error("submods", "must be a non-empty object");
  for (const auto& [name, value] : submods->items()) {
    ACON_TRY(Submod submod, submod_from_json(value, "submods." + name));
    ear.submods.emplace(name, std::move(submod));
  }
  return ear;
}

}  // namespace acon::appraisal
