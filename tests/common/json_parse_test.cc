// parse_json's fast path (RapidJSON's reader building nlohmann's tree, common/src/json.cc): for the
// documents it takes it builds the tree nlohmann's parser builds, value for value and type for
// type; everything else is left to nlohmann's parser, so what is refused and how the error reads
// are as before.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "acon/common/json.h"
#include "test_util.h"

namespace acon {
namespace {

void expect_nlohmanns_tree(const std::string& text) {
  auto ours = parse_json(text);
  ASSERT_TRUE(ours.ok()) << text.substr(0, 200) << ": " << ours.error().to_string();
  const Json theirs = Json::parse(text);
  EXPECT_TRUE(same_json_tree(*ours, theirs)) << text.substr(0, 200);
}

TEST(ParseJson, PlainDocumentsGiveNlohmannsTreeTypeForType) {
  for (const char* text :
       {"0", "-0", "7", "-7", "123456789012345678", "-123456789012345678", "true", "false", "null",
        R"("")", R"("plain ASCII ~ with / and 'quotes'")", "[]", "{}", " \t\r\n[ 1 , -2 ,\n 3 ] ",
        R"({"b":1,"a":[true,false,null,{"":""}],"c":{"d":"e"}})",
        R"({"nonce":"bm9uY2U=","tee-pubkey":{"kty":"EC","crv":"P-256","x":"eA","y":"eQ"}})"})
    expect_nlohmanns_tree(text);
}

// Outside the plain subset: the same trees (escapes, UTF-8, DEL, floats, long integers) and the
// same refusals, in the same words.
TEST(ParseJson, EverythingElseIsNlohmannsDecision) {
  for (const char* text :
       {R"("a\"b")", R"("tab\there")", R"("\u00e9\ud83d\ude00")", "\"caf\xc3\xa9\"", "\"\x7f\"",
        "1.5", "-2.5e3", "1E2", "1234567890123456789", "18446744073709551615",
        "-9223372036854775808", "99999999999999999999", "[1.0,2]"})
    expect_nlohmanns_tree(text);

  struct Refused {
    const char* text;
    const char* message;
  };
  for (const Refused& r :
       {Refused{"[1,]", "syntax error at offset 3"},
        Refused{R"({"a":1,})", "syntax error at offset 7"},
        Refused{R"({"a":1,"a":2})", "duplicate member 'a'"}, Refused{"01", "syntax error"},
        Refused{"[tru]", "syntax error"}, Refused{"\"\x01\"", "syntax error"},
        Refused{"\"\xff\"", "syntax error"}, Refused{"", "syntax error"},
        Refused{"1 2", "syntax error"}, Refused{"\"open", "syntax error"},
        Refused{"[1e999]", "json: "},
        // RapidJSON decodes a lone low surrogate; nlohmann refuses it.
        Refused{R"(["\udc00"])", "syntax error"}, Refused{R"({"\udfff":1})", "syntax error"}}) {
    auto parsed = parse_json(r.text);
    ASSERT_FALSE(parsed.ok()) << r.text;
    EXPECT_NE(parsed.error().message.find(r.message), std::string::npos)
        << r.text << ": " << parsed.error().message;
  }
  // A NUL byte would end RapidJSON's input and nlohmann's alike: refused wherever it is.
  for (const std::string& text : {std::string("{\"a\":1}\0{}", 10), std::string("[\"a\0\"]", 6)}) {
    auto refused = parse_json(text);
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.error().message.find("NUL byte at offset"), std::string::npos);
  }
  const std::string deep =
      std::string(kMaxJsonDepth + 1, '[') + std::string(kMaxJsonDepth + 1, ']');
  auto parsed = parse_json(deep);
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error().message.find("nesting deeper than"), std::string::npos);
  const std::string at_limit = std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  expect_nlohmanns_tree(at_limit);
}

// The project's own JSON documents (KBS requests, evidence, collateral, vectors): the same trees.
TEST(ParseJson, TestDataDocumentsGiveNlohmannsTrees) {
  size_t documents = 0;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(std::string(ACON_TEST_DATA))) {
    if (!entry.is_regular_file() || entry.path().extension() != ".json") continue;
    if (entry.file_size() > (size_t{4} << 20)) continue;
    const std::string text = test::read_data(
        std::filesystem::relative(entry.path(), std::string(ACON_TEST_DATA)).string());
    const Json theirs = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    auto ours = parse_json(text);
    if (theirs.is_discarded()) {
      EXPECT_FALSE(ours.ok()) << entry.path();
      continue;
    }
    if (!ours.ok()) continue;  // a duplicate member or a deeper nesting: refused on purpose
    EXPECT_TRUE(same_json_tree(*ours, theirs)) << entry.path();
    ++documents;
  }
  EXPECT_GT(documents, 20u);
}

}  // namespace
}  // namespace acon
