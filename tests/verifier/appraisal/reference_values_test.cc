// RVPS messages (Trustee's sample extractor format) and the reference value store with enforced
// expiry.
#include <gtest/gtest.h>

#include "acon/appraisal/reference_values.h"
#include "acon/common/bytes.h"

namespace acon::appraisal {
namespace {

using namespace std::chrono_literals;

const Time kNow = Time(1767225600s);  // 2026-01-01T00:00:00Z

std::string message(std::string_view payload_json, std::string_view type = "sample",
                    std::string_view version = "0.1.0") {
  Json m = {{"version", version},
            {"type", type},
            {"payload", base64_encode(as_bytes(payload_json), Base64::standard)}};
  return m.dump();
}

TEST(RvpsMessage, SampleWithListsAndScalars) {
  auto values =
      parse_rvps_message(message(R"({"mr_td":["aa","bb"],"tdvfkernel":"cc","svn":3})"), kNow);
  ASSERT_TRUE(values.ok()) << values.error().to_string();
  ASSERT_EQ(values->size(), 3u);
  std::map<std::string, ReferenceValue> by_name;
  for (auto& v : *values) by_name[v.name] = v;
  EXPECT_EQ(by_name["mr_td"].values, (std::vector<Json>{"aa", "bb"}));
  // A scalar is one accepted value.
  EXPECT_EQ(by_name["tdvfkernel"].values, (std::vector<Json>{"cc"}));
  EXPECT_EQ(by_name["svn"].values, (std::vector<Json>{3}));
  EXPECT_EQ(by_name["mr_td"].version, "0.1.0");
  // Twelve months after registration, as Trustee's ReferenceValue::new().
  EXPECT_EQ(format_rfc3339(by_name["mr_td"].expiration), "2027-01-01T00:00:00Z");
}

TEST(RvpsMessage, MissingVersionDefaultsTo010) {
  Json m = {{"type", "sample"}, {"payload", base64_encode(as_bytes(std::string_view("{}")))}};
  auto values = parse_rvps_message(m.dump(), kNow);
  ASSERT_TRUE(values.ok()) << values.error().to_string();
  EXPECT_TRUE(values->empty());
}

TEST(RvpsMessage, WrongVersionRefused) {
  auto values = parse_rvps_message(message(R"({"a":["b"]})", "sample", "0.2.0"), kNow);
  ASSERT_FALSE(values.ok());
  EXPECT_EQ(values.error().code, Errc::unsupported);
  EXPECT_NE(values.error().message.find("\"0.2.0\""), std::string::npos) << values.error().message;
}

TEST(RvpsMessage, BadBase64Refused) {
  // URL-safe alphabet where Trustee decodes STANDARD.
  Json m = {{"version", "0.1.0"}, {"type", "sample"}, {"payload", "eyJhIjpbIn-_In1d"}};
  auto values = parse_rvps_message(m.dump(), kNow);
  ASSERT_FALSE(values.ok());
  EXPECT_EQ(values.error().code, Errc::parse);
  EXPECT_NE(values.error().message.find("rvps: payload"), std::string::npos)
      << values.error().message;
}

TEST(RvpsMessage, PayloadMustBeAnObject) {
  auto values = parse_rvps_message(message(R"(["mr_td"])"), kNow);
  ASSERT_FALSE(values.ok());
  EXPECT_EQ(values.error().code, Errc::parse);
  auto not_json = parse_rvps_message(message("mr_td=aa"), kNow);
  ASSERT_FALSE(not_json.ok());
  EXPECT_EQ(not_json.error().code, Errc::parse);
}

TEST(RvpsMessage, SwidAndCorimUnsupported) {
  for (std::string_view type : {"swid", "corim"}) {
    auto values = parse_rvps_message(message("{}", type), kNow);
    ASSERT_FALSE(values.ok()) << type;
    EXPECT_EQ(values.error().code, Errc::unsupported);
    EXPECT_NE(values.error().message.find("not supported"), std::string::npos)
        << values.error().message;
  }
  auto other = parse_rvps_message(message("{}", "spdx"), kNow);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, Errc::unsupported);
}

TEST(RvpsMessage, MalformedMessages) {
  for (std::string_view bad :
       {R"({"version":"0.1.0","type":"sample"})", R"({"version":"0.1.0","payload":"e30="})",
        R"({"version":1,"type":"sample","payload":"e30="})",
        R"({"version":"0.1.0","type":"sample","payload":"e30=","x":1})", R"([])", "not json"}) {
    auto values = parse_rvps_message(bad, kNow);
    EXPECT_FALSE(values.ok()) << bad;
    if (!values.ok()) {
      EXPECT_EQ(values.error().code, Errc::parse) << bad;
    }
  }
  std::string huge(kMaxRvpsMessageBytes + 1, ' ');
  EXPECT_FALSE(parse_rvps_message(huge, kNow).ok());
}

TEST(ReferenceValueExpiry, LeapDayClampsToMonthEnd) {
  auto leap = parse_rfc3339("2028-02-29T10:20:30Z");
  ASSERT_TRUE(leap.ok());
  EXPECT_EQ(format_rfc3339(default_expiration(*leap)), "2029-02-28T10:20:30Z");
}

TEST(ReferenceValueStore, ExpiryEnforcedAtTheBoundary) {
  ReferenceValueStore store;
  auto names = store.register_message(message(R"({"mr_td":["aa"]})"), kNow);
  ASSERT_TRUE(names.ok()) << names.error().to_string();
  EXPECT_EQ(*names, std::vector<std::string>{"mr_td"});
  Time expiry = default_expiration(kNow);
  // Valid through its expiration second (Trustee's expired() is now > expiration) ...
  auto at = store.get("mr_td", expiry);
  ASSERT_TRUE(at.ok());
  EXPECT_TRUE((*at)->contains(Json("aa")));
  // ... and refused one second later, with the time in the message.
  auto after = store.get("mr_td", expiry + 1s);
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.error().code, Errc::expired);
  EXPECT_EQ(after.error().message, "reference value 'mr_td' expired at 2027-01-01T00:00:00Z");
  // Expired values stay listed, so an operator can see and renew them.
  EXPECT_EQ(store.list().size(), 1u);
}

TEST(ReferenceValueStore, UnknownNameAndReplacement) {
  ReferenceValueStore store;
  auto missing = store.get("mr_td", kNow);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::not_found);
  ASSERT_TRUE(store.register_message(message(R"({"mr_td":["aa"]})"), kNow).ok());
  // A later registration replaces the values and restarts the twelve months.
  ASSERT_TRUE(store.register_message(message(R"({"mr_td":["bb"]})"), kNow + 24h).ok());
  auto value = store.get("mr_td", kNow);
  ASSERT_TRUE(value.ok());
  EXPECT_FALSE((*value)->contains(Json("aa")));
  EXPECT_TRUE((*value)->contains(Json("bb")));
  EXPECT_EQ((*value)->expiration, default_expiration(kNow + 24h));
}

TEST(ReferenceValueStore, JsonRoundTrip) {
  ReferenceValueStore store;
  ASSERT_TRUE(store.register_message(message(R"({"mr_td":["aa","bb"],"xfam":"e7"})"), kNow).ok());
  Json records = store.to_json();
  ASSERT_TRUE(records.is_array());
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0]["name"], "mr_td");
  EXPECT_EQ(records[0]["expiration"], "2027-01-01T00:00:00Z");
  EXPECT_EQ(records[1]["value"], Json::array({"e7"}));
  auto back = ReferenceValueStore::from_json(records);
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_EQ(back->to_json(), records);
  ASSERT_EQ(back->list().size(), 2u);
  EXPECT_EQ(*back->list()[0], *store.list()[0]);

  Json bad = records;
  bad[0]["expiration"] = "next year";
  EXPECT_FALSE(ReferenceValueStore::from_json(bad).ok());
  bad = records;
  bad[1]["name"] = "mr_td";
  EXPECT_FALSE(ReferenceValueStore::from_json(bad).ok());
  bad = records;
  bad[0]["extra"] = true;
  EXPECT_FALSE(ReferenceValueStore::from_json(bad).ok());
  EXPECT_FALSE(ReferenceValueStore::from_json(Json::object()).ok());
}

}  // namespace
}  // namespace acon::appraisal
