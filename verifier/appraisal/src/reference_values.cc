// RVPS messages (Trustee rvps/src/lib.rs Message, extractors/sample) and the reference value
// store with enforced expiry.
#include "acon/appraisal/reference_values.h"

#include <algorithm>
#include <chrono>

#include "acon/common/bytes.h"

namespace acon::appraisal {
namespace {

Error rvps_error(Errc code, std::string message) {
  return make_error(code, "rvps: " + std::move(message));
}

std::vector<Json> values_of(const Json& value) {
  if (value.is_array()) return {value.begin(), value.end()};
  return {value};
}

Result<std::string> string_member(const Json& object, std::string_view key, std::string_view what) {
  auto it = object.find(key);
  if (it == object.end()) {
    return rvps_error(Errc::parse,
                      std::string(what) + ": member \"" + std::string(key) + "\" is missing");
  }
  if (!it->is_string()) {
    return rvps_error(Errc::parse,
                      std::string(what) + ": member \"" + std::string(key) + "\" is not a string");
  }
  return it->get<std::string>();
}

}  // namespace

bool ReferenceValue::contains(const Json& value) const {
  return std::find(values.begin(), values.end(), value) != values.end();
}

Time default_expiration(Time now) {
  using namespace std::chrono;
  auto day = floor<days>(now);
  year_month_day ymd{day};
  year_month_day later = ymd + months{kReferenceValueMonths};
  if (!later.ok()) later = year_month_day{later.year() / later.month() / last};
  return sys_days{later} + (now - day);
}

Result<std::vector<ReferenceValue>> parse_rvps_message(std::string_view message, Time now) {
  if (message.size() > kMaxRvpsMessageBytes) {
    return rvps_error(Errc::parse, "message of " + std::to_string(message.size()) +
                                       " bytes exceeds the limit of " +
                                       std::to_string(kMaxRvpsMessageBytes));
  }
  auto parsed = parse_json(message);
  if (!parsed) return parsed.error().wrap("rvps: message");
  const Json& object = *parsed;
  if (!object.is_object()) return rvps_error(Errc::parse, "message is not a JSON object");
  // Trustee's Message defaults a missing version to 0.1.0.
  std::string version(kRvpsVersion);
  if (object.contains("version")) {
    ACON_TRY(version, string_member(object, "version", "message"));
  }
  if (version != kRvpsVersion) {
    return rvps_error(Errc::unsupported, "message version \"" + version + "\", need \"" +
                                             std::string(kRvpsVersion) + "\"");
  }
  ACON_TRY(std::string type, string_member(object, "type", "message"));
  ACON_TRY(std::string payload, string_member(object, "payload", "message"));
  for (const auto& [key, value] : object.items()) {
    if (key != "version" && key != "type" && key != "payload") {
      return rvps_error(Errc::parse, "message: unknown member \"" + key + "\"");
    }
  }
  if (type == "swid" || type == "corim") {
    return rvps_error(Errc::unsupported,
                      "provenance type \"" + type + "\" is not supported (only \"sample\")");
  }
  if (type != "sample") {
    return rvps_error(Errc::unsupported, "unknown provenance type \"" + type + "\"");
  }
  auto decoded = base64_decode(payload, Base64::standard);
  if (!decoded) return decoded.error().wrap("rvps: payload");
  auto provenance = parse_json(as_chars(*decoded));
  if (!provenance) return provenance.error().wrap("rvps: payload");
  if (!provenance->is_object()) {
    return rvps_error(Errc::parse, "payload is not a JSON object of name: values");
  }
  std::vector<ReferenceValue> out;
  Time expiration = default_expiration(now);
  for (const auto& [name, value] : provenance->items()) {
    if (name.empty()) return rvps_error(Errc::parse, "payload: empty reference value name");
    out.push_back(ReferenceValue{std::string(kRvpsVersion), name, expiration, values_of(value)});
  }
  return out;
}

Result<std::vector<std::string>> ReferenceValueStore::register_message(std::string_view message,
                                                                       Time now) {
  ACON_TRY(auto values, parse_rvps_message(message, now));
  std::vector<std::string> names;
  for (auto& value : values) {
    names.push_back(value.name);
    put(std::move(value));
  }
  return names;
}

void ReferenceValueStore::put(ReferenceValue value) {
  std::string name = value.name;
  values_.insert_or_assign(std::move(name), std::move(value));
}

Result<const ReferenceValue*> ReferenceValueStore::get(std::string_view name, Time now) const {
  auto it = values_.find(name);
  if (it == values_.end()) {
    return make_error(Errc::not_found,
                      "reference value '" + std::string(name) + "' is not registered");
  }
  if (it->second.expired_at(now)) {
    return make_error(Errc::expired, "reference value '" + std::string(name) + "' expired at " +
                                         format_rfc3339(it->second.expiration));
  }
  return &it->second;
}

std::vector<const ReferenceValue*> ReferenceValueStore::list() const {
  std::vector<const ReferenceValue*> out;
  out.reserve(values_.size());
  for (const auto& [name, value] : values_) out.push_back(&value);
  return out;
}

Json ReferenceValueStore::to_json() const {
  Json records = Json::array();
  for (const auto& [name, value] : values_) {
    records.push_back({{"version", value.version},
                       {"name", value.name},
                       {"expiration", format_rfc3339(value.expiration)},
                       {"value", Json(value.values)}});
  }
  return records;
}

Result<ReferenceValueStore> ReferenceValueStore::from_json(const Json& records) {
  if (!records.is_array()) return rvps_error(Errc::parse, "store: not a JSON array");
  ReferenceValueStore store;
  for (size_t i = 0; i < records.size(); ++i) {
    const Json& record = records[i];
    std::string where = "store[" + std::to_string(i) + "]";
    if (!record.is_object()) return rvps_error(Errc::parse, where + ": not a JSON object");
    for (const auto& [key, value] : record.items()) {
      if (key != "version" && key != "name" && key != "expiration" && key != "value") {
        return rvps_error(Errc::parse, where + ": unknown member \"" + key + "\"");
      }
    }
    ReferenceValue value;
    ACON_TRY(value.version, string_member(record, "version", where));
    if (value.version != kRvpsVersion) {
      return rvps_error(Errc::unsupported, where + ": version \"" + value.version + "\"");
    }
    ACON_TRY(value.name, string_member(record, "name", where));
    if (value.name.empty()) return rvps_error(Errc::parse, where + ": empty name");
    ACON_TRY(std::string expiration, string_member(record, "expiration", where));
    auto time = parse_rfc3339(expiration);
    if (!time) return time.error().wrap("rvps: " + where + ".expiration");
    value.expiration = *time;
    auto values = record.find("value");
    if (values == record.end() || !values->is_array()) {
      return rvps_error(Errc::parse, where + ": member \"value\" is missing or not an array");
    }
    value.values = values_of(*values);
    if (store.values_.count(value.name) != 0) {
      return rvps_error(Errc::parse, where + ": name \"" + value.name + "\" appears twice");
    }
    store.put(std::move(value));
  }
  return store;
}

}  // namespace acon::appraisal
