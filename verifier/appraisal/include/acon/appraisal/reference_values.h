// Reference values as Trustee's RVPS receives and stores them: the provisioning message
// {"version":"0.1.0","type":"sample","payload":"<base64 of {name: [values] | value}>"} and, per
// name, a ReferenceValue with an expiry. Unlike Trustee's RVPS, the expiry is enforced: get()
// refuses an expired value, so a policy that names it matches nothing. docs/appraisal-policy.md.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "acon/common/json.h"
#include "acon/common/result.h"
#include "acon/common/x509.h"

namespace acon::appraisal {

// The only message and record version Trustee's RVPS knows.
inline constexpr std::string_view kRvpsVersion = "0.1.0";
// A message larger than this is refused before it is parsed.
inline constexpr size_t kMaxRvpsMessageBytes = 4 << 20;
// Trustee's default lifetime of a registered value (MONTHS_BEFORE_EXPIRATION).
inline constexpr int kReferenceValueMonths = 12;

struct ReferenceValue {
  std::string version = std::string(kRvpsVersion);
  std::string name;
  // Valid up to and including this second (as Trustee's expired(): now > expiration).
  Time expiration{};
  // The accepted values: the elements of an array in the message, or the one value given
  // otherwise.
  std::vector<Json> values;

  bool expired_at(Time now) const { return now > expiration; }
  // True when `value` equals one of the values (JSON equality: 1 and 1.0 are equal, "1" is not).
  bool contains(const Json& value) const;
  bool operator==(const ReferenceValue&) const = default;
};

// `now` plus 12 calendar months; the 29th of February becomes the 28th (as chrono's
// checked_add_months, which Trustee uses, clamps to the month's end).
Time default_expiration(Time now);

// Parses an RVPS message. Errors: parse (not JSON, missing or mistyped member, bad base64, payload
// not a JSON object, an empty name), unsupported (version
// other than 0.1.0; type "swid" or "corim", which Trustee extracts but we do not; any other type).
// Every value expires at default_expiration(now).
Result<std::vector<ReferenceValue>> parse_rvps_message(std::string_view message, Time now);

// In-memory store keyed by name; a registration replaces the values registered under the same
// name (Trustee's storage writes with overwrite = true).
class ReferenceValueStore {
 public:
  // Registers every value of an RVPS message; returns the names registered, in order.
  Result<std::vector<std::string>> register_message(std::string_view message, Time now);
  // Adds or replaces one value as it is (expiration included).
  void put(ReferenceValue value);
  // not_found when no value has the name; expired (the message gives the expiry in RFC 3339)
  // when now is after its expiration.
  Result<const ReferenceValue*> get(std::string_view name, Time now) const;
  // Every value, expired ones included, ordered by name.
  std::vector<const ReferenceValue*> list() const;
  size_t size() const { return values_.size(); }

  // [{"version","name","expiration":"<RFC 3339>","value":[...]}], ordered by name: the record
  // Trustee stores per name, so that a KBS can persist the store.
  Json to_json() const;
  static Result<ReferenceValueStore> from_json(const Json& records);

 private:
  std::map<std::string, ReferenceValue, std::less<>> values_;
};

}  // namespace acon::appraisal
