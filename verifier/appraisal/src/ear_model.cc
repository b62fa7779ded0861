// The EAR model, tier rules and the JSON claims set (the EAR draft's JSON form, Trustee's names).
#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <utility>

#include "acon/appraisal/ear.h"
#include "acon/common/utf8.h"
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
      submod.annotated_evidence = std::make_shared<const Json>(member);
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
                           std::shared_ptr<const Json> annotated_evidence) {
  Submod submod;
  submod.status = vector.tier();
  submod.trust_vector = vector;
  submod.appraisal_policy_id = std::move(policy_id);
  submod.annotated_evidence = std::move(annotated_evidence);
  return submod;
}

Submod Submod::from_vector(TrustVector vector, std::optional<std::string> policy_id,
                           Json annotated_evidence) {
  return from_vector(vector, std::move(policy_id),
                     annotated_evidence.is_null()
                         ? nullptr
                         : std::make_shared<const Json>(std::move(annotated_evidence)));
}

bool Submod::operator==(const Submod& other) const {
  const Json* mine = annotated();
  const Json* theirs = other.annotated();
  const bool same_evidence = mine == theirs || (mine && theirs && *mine == *theirs);
  return same_evidence && status == other.status && trust_vector == other.trust_vector &&
         appraisal_policy_id == other.appraisal_policy_id && extra == other.extra;
}

Status validate_for_issue(const Ear& ear) {
  if (ear.profile.empty()) return make_error(Errc::invalid_argument, "eat_profile: empty");
  if (ear.submods.empty()) return make_error(Errc::invalid_argument, "submods: empty");
  for (const auto& [name, submod] : ear.submods) {
    // Trustee's broker refuses a token whose policy set no claim: it would say nothing.
    if (!submod.trust_vector.any_set())
      return make_error(Errc::invalid_argument,
                        "submods." + name + ".ear.trustworthiness-vector: no claim is set");
    if (submod.annotated() && !submod.annotated()->is_object())
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

// The claims set is written straight into one string, in the member order ear_to_json_text
// documents: the bulk first ("submods", "ear.veraison.annotated-evidence", "tdx",
// "uefi_event_logs"), everything else in the byte order of the names (the order of nlohmann's
// object and serde_json's BTreeMap). The fixed member names below are listed in that order; only
// a submod's extra members have names known at run time, and they are merged in.

// True when `s` can be written between quotes as it is: printable ASCII without '"' or '\\'.
// Written as comparisons rather than a table so that the compiler vectorizes it.
bool plain_ascii(std::string_view s) {
  bool plain = true;
  for (char c : s) {
    const auto u = static_cast<uint8_t>(c);
    plain &= (u >= 0x20) & (u < 0x80) & (u != '"') & (u != '\\');
  }
  return plain;
}

// False when the text is not `s` as it is (a string that is not UTF-8 is replaced).
bool append_string(std::string& out, std::string_view s) {
  if (plain_ascii(s)) {
    out.push_back('"');
    out += s;
    out.push_back('"');
    return true;
  }
  return append_compact_json(out, Json(s));  // escapes; invalid UTF-8 replaced as dump_compact does
}

void append_integer(std::string& out, int64_t value) {
  char buf[24];
  out.append(buf, std::to_chars(buf, buf + sizeof buf, value).ptr);
}

// The trust claims in the byte order of their names.
constexpr std::array<TrustClaim, kTrustClaimCount> kClaimsByName = [] {
  std::array<TrustClaim, kTrustClaimCount> order{};
  for (size_t i = 0; i < kTrustClaimCount; ++i) order[i] = static_cast<TrustClaim>(i);
  for (size_t i = 0; i < order.size(); ++i)
    for (size_t j = i + 1; j < order.size(); ++j)
      if (kClaimNames[static_cast<size_t>(order[j])] < kClaimNames[static_cast<size_t>(order[i])])
        std::swap(order[i], order[j]);
  return order;
}();

void append_vector(std::string& out, const TrustVector& vector) {
  out.push_back('{');
  bool first = true;
  for (TrustClaim claim : kClaimsByName) {
    const auto value = vector.get(claim);
    if (!value) continue;
    if (!first) out.push_back(',');
    first = false;
    out.push_back('"');
    out += kClaimNames[static_cast<size_t>(claim)];
    out += "\":";
    append_integer(out, *value);
  }
  out.push_back('}');
}

// The annotated evidence, with "tdx" first and "uefi_event_logs" first in it (the order
// ear_to_json_text documents). The first entries of uefi_event_logs come from `prewritten` when
// it is given and the array has them; with `splice` their text is left out and its place noted.
bool append_annotated(std::string& out, const Json& annotated,
                      const std::shared_ptr<const PrewrittenEntries>& prewritten,
                      ClaimsSplice* splice) {
  bool exact = true;
  auto append_member = [&](bool& first, const std::string& name, const Json& value) {
    if (!first) out.push_back(',');
    first = false;
    exact &= append_string(out, name);
    out.push_back(':');
    exact &= append_compact_json(out, value);
  };
  const auto tdx = annotated.find("tdx");
  const Json* logs = nullptr;
  if (tdx != annotated.end() && tdx->is_object())
    if (auto it = tdx->find("uefi_event_logs"); it != tdx->end() && it->is_array()) logs = &*it;
  out.push_back('{');
  bool first = true;
  if (tdx != annotated.end()) {
    first = false;
    out += "\"tdx\":";
    if (logs == nullptr) {
      exact &= append_compact_json(out, *tdx);
    } else {
      out += "{\"uefi_event_logs\":[";
      size_t next = 0;
      if (prewritten != nullptr && prewritten->count > 0 && prewritten->count <= logs->size()) {
        exact &= prewritten->exact;
        if (splice != nullptr && !splice->entries) {
          splice->offset = out.size();
          splice->entries = prewritten;
        } else {
          out += prewritten->text;
        }
        next = prewritten->count;
      }
      for (size_t i = next; i < logs->size(); ++i) {
        if (i > 0) out.push_back(',');
        exact &= append_compact_json(out, (*logs)[i]);
      }
      out.push_back(']');
      bool first_in_tdx = false;
      for (auto it = tdx->begin(); it != tdx->end(); ++it)
        if (it.key() != "uefi_event_logs") append_member(first_in_tdx, it.key(), it.value());
      out.push_back('}');
    }
  }
  for (auto it = annotated.begin(); it != annotated.end(); ++it)
    if (it.key() != "tdx") append_member(first, it.key(), it.value());
  out.push_back('}');
  return exact;
}

// A submod: its annotated evidence first, then its other members in name order; a member of
// `extra` with one of their names is replaced by it.
bool append_submod(std::string& out, const Submod& submod, ClaimsSplice* splice) {
  bool exact = true;
  constexpr std::string_view kAnnotated = "ear.veraison.annotated-evidence";
  out.push_back('{');
  bool first = true;
  auto separate = [&] {
    if (!first) out.push_back(',');
    first = false;
  };
  if (const Json* annotated = submod.annotated()) {
    separate();
    out.push_back('"');
    out += kAnnotated;
    out += "\":";
    exact &= append_annotated(out, *annotated, submod.prewritten_event_log, splice);
  }
  struct Fixed {
    std::string_view name;
    bool present;
  };
  const std::array<Fixed, 4> fixed = {{
      {"ear.appraisal-policy-id", submod.appraisal_policy_id.has_value()},
      {"ear.status", true},
      {"ear.trustworthiness-vector", true},
      {kAnnotated, submod.annotated() != nullptr},
  }};
  auto write_fixed = [&](size_t which) {
    if (which == 3) return;  // written first
    separate();
    out.push_back('"');
    out += fixed[which].name;
    out += "\":";
    switch (which) {
      case 0:
        exact &= append_string(out, *submod.appraisal_policy_id);
        break;
      case 1:
        exact &= append_string(out, tier_name(submod.status));
        break;
      default:
        append_vector(out, submod.trust_vector);
    }
  };
  size_t next = 0;  // the first fixed member not yet written
  for (const auto& [name, value] : submod.extra) {
    for (; next < fixed.size() && fixed[next].name <= name; ++next)
      if (fixed[next].present) write_fixed(next);
    if (next > 0 && fixed[next - 1].name == name && fixed[next - 1].present) continue;
    separate();
    exact &= append_string(out, name);
    out.push_back(':');
    exact &= append_compact_json(out, value);
  }
  for (; next < fixed.size(); ++next)
    if (fixed[next].present) write_fixed(next);
  out.push_back('}');
  return exact;
}

}  // namespace

bool append_ear_json_text(std::string& out, const Ear& ear, ClaimsSplice* splice) {
  bool exact = true;
  // "submods" first (ear_to_json_text), the other members in name order.
  out += "{\"submods\":{";
  bool first = true;
  for (const auto& [name, submod] : ear.submods) {
    if (!first) out.push_back(',');
    first = false;
    exact &= append_string(out, name);
    out.push_back(':');
    exact &= append_submod(out, submod, splice);
  }
  out += "}";
  if (ear.aud.size() == 1) {
    out += ",\"aud\":";
    exact &= append_string(out, ear.aud.front());
  } else if (ear.aud.size() > 1) {
    out += ",\"aud\":[";
    for (size_t i = 0; i < ear.aud.size(); ++i) {
      if (i > 0) out.push_back(',');
      exact &= append_string(out, ear.aud[i]);
    }
    out += "]";
  }
  out += ",\"ear.verifier-id\":{\"build\":";
  exact &= append_string(out, ear.verifier_id.build);
  out += ",\"developer\":";
  exact &= append_string(out, ear.verifier_id.developer);
  out += "},\"eat_profile\":";
  exact &= append_string(out, ear.profile);
  if (ear.exp) {
    out += ",\"exp\":";
    append_integer(out, seconds_of(*ear.exp));
  }
  out += ",\"iat\":";
  append_integer(out, seconds_of(ear.iat));
  if (ear.iss) {
    out += ",\"iss\":";
    exact &= append_string(out, *ear.iss);
  }
  if (ear.nbf) {
    out += ",\"nbf\":";
    append_integer(out, seconds_of(*ear.nbf));
  }
  out += "}";
  return exact;
}

bool append_ear_json_text(std::string& out, const Ear& ear) {
  return append_ear_json_text(out, ear, nullptr);
}

// Written as text rather than through a Json tree: issuing a token would otherwise copy the
// annotated evidence (the bulk of the claims) into a new tree for every token.
std::string ear_to_json_text(const Ear& ear) {
  std::string out;
  out.reserve(4096);
  (void)append_ear_json_text(out, ear);
  return out;
}

namespace {

// The claims set as a tree equal to parse_json(ear_to_json_text(ear)), built without the text:
// writing and re-parsing the annotated evidence cost the KBS more than the appraisal itself
// (~500 us for Trustee's TDX claims). A value the text would not give back as it is (a string or
// key that is not UTF-8, which the writer replaces; a non-finite double, written as null; a
// binary value) makes it give up, and ear_to_json falls back to the text. Numbers take the types
// the parser gives them: a non-negative integer is unsigned.
class ParsedFormBuilder {
 public:
  bool ok() const { return ok_; }

  Json integer(int64_t value) const {
    return value >= 0 ? Json(static_cast<uint64_t>(value)) : Json(value);
  }
  Json text(std::string_view s) {
    ok_ &= plain_ascii(s) || is_valid_utf8(s);
    return Json(s);
  }
  Json copy(const Json& in) {
    switch (in.type()) {
      case Json::value_t::object: {
        Json out = Json::object();
        auto& members = out.get_ref<Json::object_t&>();
        for (const auto& [key, value] : in.get_ref<const Json::object_t&>()) {
          ok_ &= plain_ascii(key) || is_valid_utf8(key);
          members.emplace_hint(members.end(), key, copy(value));
        }
        return out;
      }
      case Json::value_t::array: {
        Json out = Json::array();
        auto& elements = out.get_ref<Json::array_t&>();
        elements.reserve(in.size());
        for (const Json& element : in.get_ref<const Json::array_t&>())
          elements.push_back(copy(element));
        return out;
      }
      case Json::value_t::string:
        return text(in.get_ref<const std::string&>());
      case Json::value_t::number_integer:
        return integer(in.get<int64_t>());
      case Json::value_t::number_float:
        ok_ &= std::isfinite(in.get<double>());
        return in;
      case Json::value_t::number_unsigned:
      case Json::value_t::boolean:
      case Json::value_t::null:
        return in;
      default:  // binary, discarded
        ok_ = false;
        return nullptr;
    }
  }

 private:
  bool ok_ = true;
};

}  // namespace

Result<Json> ear_to_json(const Ear& ear) {
  ParsedFormBuilder b;
  Json out = Json::object();
  if (ear.aud.size() == 1) {
    out["aud"] = b.text(ear.aud.front());
  } else if (ear.aud.size() > 1) {
    Json aud = Json::array();
    for (const std::string& member : ear.aud) aud.push_back(b.text(member));
    out["aud"] = std::move(aud);
  }
  out["ear.verifier-id"] = {{"build", b.text(ear.verifier_id.build)},
                            {"developer", b.text(ear.verifier_id.developer)}};
  out["eat_profile"] = b.text(ear.profile);
  if (ear.exp) out["exp"] = b.integer(seconds_of(*ear.exp));
  out["iat"] = b.integer(seconds_of(ear.iat));
  if (ear.iss) out["iss"] = b.text(*ear.iss);
  if (ear.nbf) out["nbf"] = b.integer(seconds_of(*ear.nbf));
  Json submods = Json::object();
  for (const auto& [name, submod] : ear.submods) {
    // The extra members first: a fixed member of the same name replaces one, as in the text.
    Json members = Json::object();
    for (const auto& [extra_name, value] : submod.extra) {
      b.text(extra_name);  // only checked: a name that is not UTF-8 is replaced in the text
      members[extra_name] = b.copy(value);
    }
    if (submod.appraisal_policy_id)
      members["ear.appraisal-policy-id"] = b.text(*submod.appraisal_policy_id);
    members["ear.status"] = std::string(tier_name(submod.status));
    Json vector = Json::object();
    for (TrustClaim claim : kClaimsByName)
      if (const auto value = submod.trust_vector.get(claim))
        vector[std::string(kClaimNames[static_cast<size_t>(claim)])] = b.integer(*value);
    members["ear.trustworthiness-vector"] = std::move(vector);
    if (const Json* annotated = submod.annotated())
      members["ear.veraison.annotated-evidence"] = b.copy(*annotated);
    b.text(name);  // checked, as the extra names
    submods[name] = std::move(members);
  }
  out["submods"] = std::move(submods);
  if (!b.ok()) return parse_json(ear_to_json_text(ear), SIZE_MAX);
  return out;
}

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
