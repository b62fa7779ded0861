// Tests for json.h: strict parsing, member access, and RFC 8785 canonicalisation (JCS).
//
// Expected values come from RFC 8785 where it gives them. Where it does not, they were computed
// independently with node v20, whose JSON.stringify (strings, literals) and
// Number.prototype.toString (numbers) are exactly what RFC 8785 §3.2.2 prescribes, and whose
// Array.prototype.sort() orders keys by UTF-16 code units as §3.2.3 requires:
//   jcs = v => v === null || typeof v !== 'object' ? JSON.stringify(v)
//            : Array.isArray(v) ? '[' + v.map(jcs).join(',') + ']'
//            : '{' + Object.keys(v).sort().map(k => JSON.stringify(k) + ':' + jcs(v[k])) + '}'
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>

#include "acon/common/hash.h"
#include "acon/common/json.h"
#include "test_util.h"

namespace acon {
namespace {

using test::unhex;
using ::testing::HasSubstr;

std::string Canon(const Json& value) {
  auto r = jcs_canonicalize(value);
  return r ? *r : "error: " + r.error().to_string();
}

std::string CanonText(std::string_view text) {
  auto r = jcs_canonicalize_text(text);
  return r ? *r : "error: " + r.error().to_string();
}

// ---- RFC 8785 examples ----

// RFC 8785 §3.2.2 input; the output is §3.2.3, whose UTF-8 bytes §3.2.4 lists in hex.
constexpr char kRfcInput[] = R"json({
  "numbers": [333333333.33333329, 1E30, 4.50,
              2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
})json";
constexpr char kRfcOutputHex[] =
    "7b226c69746572616c73223a5b6e756c6c2c747275652c66616c73655d2c226e756d62657273223a5b3333"
    "333333333333332e333333333333332c31652b33302c342e352c302e3030322c31652d32375d2c22737472"
    "696e67223a22e282ac245c75303030665c6e4127425c225c5c5c5c5c222f227d";

TEST(JcsTest, Rfc8785Section322Example) {
  const std::string expected =
      R"({"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],)"
      "\"string\":\"\xe2\x82\xac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}";
  EXPECT_EQ(to_bytes(expected), unhex(kRfcOutputHex));
  EXPECT_EQ(CanonText(kRfcInput), expected);
  auto parsed = parse_json(kRfcInput);
  ASSERT_TRUE(parsed.ok()) << parsed.error().to_string();
  EXPECT_EQ(Canon(*parsed), expected);
}

TEST(JcsTest, CanonicalOutputIsAFixedPoint) {
  const std::string once = CanonText(kRfcInput);
  EXPECT_EQ(CanonText(once), once);
}

TEST(JcsTest, Rfc8785Section323KeysSortedByUtf16CodeUnits) {
  // U+1F600 (surrogates d83d de00) sorts before U+FB33 in UTF-16, after it in code points/UTF-8.
  const char* input = R"({
    "\u20ac": "Euro Sign",
    "\r": "Carriage Return",
    "\ufb33": "Hebrew Letter Dalet With Dagesh",
    "1": "One",
    "\ud83d\ude00": "Emoji: Grinning Face",
    "\u0080": "Control",
    "\u00f6": "Latin Small Letter O With Diaeresis"
  })";
  // RFC order: "\r", "1", U+0080, U+00F6, U+20AC, U+1F600, U+FB33 (bytes from node, see top).
  const char* expected_hex =
      "7b225c72223a2243617272696167652052657475726e222c2231223a224f6e65222c22c280223a22436f6e"
      "74726f6c222c22c3b6223a224c6174696e20536d616c6c204c6574746572204f2057697468204469616572"
      "65736973222c22e282ac223a224575726f205369676e222c22f09f9880223a22456d6f6a693a204772696e"
      "6e696e672046616365222c22efacb3223a22486562726577204c65747465722044616c6574205769746820"
      "446167657368227d";
  EXPECT_EQ(hex_encode(as_bytes(CanonText(input))), expected_hex);
}

TEST(JcsTest, KbsVectorSha384) {
  // CoCo KBS computes SHA-384 over the JCS form of the runtime data.
  Json value = {{"c", {{"d", "e"}}}, {"b", 1}, {"a", "test"}};
  auto canonical = jcs_canonicalize(value);
  ASSERT_TRUE(canonical.ok());
  EXPECT_EQ(*canonical, R"({"a":"test","b":1,"c":{"d":"e"}})");
  EXPECT_EQ(hex_encode(sha384(as_bytes(*canonical))),
            "e71ce8e70d814ba6639c3612ebee0ff1f76f650f8dbb5e47157e0f3f525cd22c4597480a186427c8"
            "13ca941da78870c3");
}

// ---- numbers ----

struct NumberRow {
  uint64_t ieee;
  const char* expected;
};

// RFC 8785 Appendix B, every finite row.
constexpr NumberRow kAppendixB[] = {
    {0x0000000000000000, "0"},
    {0x8000000000000000, "0"},
    {0x0000000000000001, "5e-324"},
    {0x8000000000000001, "-5e-324"},
    {0x7fefffffffffffff, "1.7976931348623157e+308"},
    {0xffefffffffffffff, "-1.7976931348623157e+308"},
    {0x4340000000000000, "9007199254740992"},
    {0xc340000000000000, "-9007199254740992"},
    {0x4430000000000000, "295147905179352830000"},
    {0x44b52d02c7e14af5, "9.999999999999997e+22"},
    {0x44b52d02c7e14af6, "1e+23"},
    {0x44b52d02c7e14af7, "1.0000000000000001e+23"},
    {0x444b1ae4d6e2ef4e, "999999999999999700000"},
    {0x444b1ae4d6e2ef4f, "999999999999999900000"},
    {0x444b1ae4d6e2ef50, "1e+21"},
    {0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"},
    {0x3eb0c6f7a0b5ed8d, "0.000001"},
    {0x41b3de4355555553, "333333333.3333332"},
    {0x41b3de4355555554, "333333333.33333325"},
    {0x41b3de4355555555, "333333333.3333333"},
    {0x41b3de4355555556, "333333333.3333334"},
    {0x41b3de4355555557, "333333333.33333343"},
    {0xbecbf647612f3696, "-0.0000033333333333333333"},
    {0x43143ff3c1cb0959, "1424953923781206.2"},
};

TEST(JcsTest, Rfc8785AppendixBNumbers) {
  for (const auto& row : kAppendixB) {
    const double d = std::bit_cast<double>(row.ieee);
    auto text = es6_number(d);
    ASSERT_TRUE(text.ok()) << std::hex << row.ieee;
    EXPECT_EQ(*text, row.expected) << std::hex << row.ieee;
    EXPECT_EQ(Canon(Json(d)), row.expected) << std::hex << row.ieee;
  }
}

// Further bit patterns: a reproducible xorshift sample over all exponents, and hand-picked
// values around the format boundaries (1e-7, 1e21, 2^53); strings from node's String(d).
constexpr NumberRow kNodeNumbers[] = {
    {0xc16b77ae0bf34dad, "-14400880.373450125"},
    {0x7b07ce91e5906136, "4.4251604027143375e+284"},
    {0x46cf050c368dcc74, "1.2583092365950208e+33"},
    {0x97101dce4e7bfb79, "-1.3475090132806154e-197"},
    {0xc6a2e144d6e8f2cf, "-1.9146550711115042e+32"},
    {0xddaa4e85b0d6e28b, "-1.603964615428183e+143"},
    {0xc35ea9d349428d8e, "-34523896934446650"},
    {0x2ead854756d71f03, "7.597954524892738e-84"},
    {0x40ec79f8ada711fd, "58319.771197829374"},
    {0xb92199e83f5a101f, "-1.694933913128696e-33"},
    {0xc6865079fc5d43ff, "-5.65736271321759e+31"},
    {0xa32edabf5585bd75, "-3.238696681491661e-139"},
    {0xc09639b16b714b4f, "-1422.4232614233222"},
    {0x544b0ec76d00616d, "1.15589923121874e+98"},
    {0xc1ab9b7e9a319aef, "-231587661.09688517"},
    {0x80ae2120826571de, "-2.1452846540129615e-305"},
    {0x444ecd02ed7c0cbd, "1.1363499061121213e+21"},
    {0xdc86b3d3cdbdf613, "-5.2803264785067434e+137"},
    {0x45d844c269e7693f, "3.0043061136507237e+28"},
    {0x5b928e2c987d857d, "1.3170664051174186e+133"},
    {0x41516e1e6ced8137, "4569209.701996139"},
    {0x9f07b27a78869b5a, "-3.3710794864173703e-159"},
    {0xc2da91e47f6200ec, "-116855624534019.69"},
    {0x35f305b0c0fc9252, "8.134710481112139e-49"},
    {0x3fd3333333333334, "0.30000000000000004"},
    {0x3fd5555555555555, "0.3333333333333333"},
    {0xbfe5555555555555, "-0.6666666666666666"},
    {0x3e8421f5f40d8376, "1.5e-7"},
    {0x3ea0c6f7a0b5ed8d, "5e-7"},
    {0x3ee4f8b588e368f1, "0.00001"},
    {0x441ac53a7e04bcda, "123456789012345680000"},
    {0x4415af1d78b58c40, "100000000000000000000"},
    {0x445043561a882930, "1.2e+21"},
    {0x4340000000000001, "9007199254740994"},
    {0x43f0000000000000, "18446744073709552000"},
    {0x3ff0000000000000, "1"},
    {0xbff0000000000000, "-1"},
    {0x3fe0000000000000, "0.5"},
    {0x4059100000000000, "100.25"},
    {0x2b2bff2ee48e0530, "1e-100"},
    {0x40efffffffffffff, "65535.99999999999"},
};

TEST(JcsTest, Es6NumberMatchesNode) {
  for (const auto& row : kNodeNumbers) {
    auto text = es6_number(std::bit_cast<double>(row.ieee));
    ASSERT_TRUE(text.ok()) << std::hex << row.ieee;
    EXPECT_EQ(*text, row.expected) << std::hex << row.ieee;
  }
}

TEST(JcsTest, Es6NumberRoundTripsRandomDoubles) {
  std::mt19937_64 rng(8785);
  int checked = 0;
  while (checked < 20000) {
    const double d = std::bit_cast<double>(rng());
    if (!std::isfinite(d)) continue;
    ++checked;
    auto text = es6_number(d);
    ASSERT_TRUE(text.ok());
    EXPECT_EQ(std::strtod(text->c_str(), nullptr), d) << *text;
    // Canonical text never has a '+' mantissa sign, leading zeros or a trailing '.'.
    EXPECT_NE(text->front(), '+') << *text;
    EXPECT_NE(text->back(), '.') << *text;
  }
}

TEST(JcsTest, NegativeZeroIsZero) {
  auto text = es6_number(-0.0);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "0");
  EXPECT_EQ(Canon(Json(-0.0)), "0");
  EXPECT_EQ(CanonText("[-0, -0.0, 0e5, -0E-3]"), "[0,0,0,0]");
}

TEST(JcsTest, NanAndInfinityRejected) {
  for (double d :
       {std::numeric_limits<double>::quiet_NaN(), std::bit_cast<double>(0x7fffffffffffffffULL),
        std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
        std::bit_cast<double>(0x7ff0000000000000ULL)}) {
    auto text = es6_number(d);
    ASSERT_FALSE(text.ok()) << d;
    EXPECT_EQ(text.error().code, Errc::parse);
    auto canon = jcs_canonicalize(Json::array({1, d}));
    ASSERT_FALSE(canon.ok()) << d;
    EXPECT_EQ(canon.error().code, Errc::parse);
  }
}

TEST(JcsTest, NumbersFromTextUseDoubleSemantics) {
  // Expected strings from node: jcs(JSON.parse(text)).
  EXPECT_EQ(CanonText("1.0"), "1");
  EXPECT_EQ(CanonText("1e2"), "100");
  EXPECT_EQ(CanonText("0.1e1"), "1");
  EXPECT_EQ(CanonText("1e21"), "1e+21");
  EXPECT_EQ(CanonText("1e-7"), "1e-7");
  EXPECT_EQ(CanonText("123e-20"), "1.23e-18");
  EXPECT_EQ(CanonText("0.000001234"), "0.000001234");
  EXPECT_EQ(CanonText("4.35"), "4.35");
  EXPECT_EQ(CanonText("2e-323"), "2e-323");
  EXPECT_EQ(CanonText("1e308"), "1e+308");
  // Integers beyond 2^53 round to the nearest double, as in JavaScript.
  EXPECT_EQ(CanonText("12345678901234567890"), "12345678901234567000");
  EXPECT_EQ(CanonText("-9007199254740993"), "-9007199254740992");
  EXPECT_EQ(Canon(Json(std::numeric_limits<uint64_t>::max())), "18446744073709552000");
  EXPECT_EQ(Canon(Json(int64_t{-9007199254740993})), "-9007199254740992");
  EXPECT_EQ(Canon(Json(int64_t{42})), "42");
}

TEST(JcsTest, NumberOverflowIsRejected) {
  EXPECT_FALSE(jcs_canonicalize_text("[1e400]").ok());
  EXPECT_FALSE(jcs_canonicalize_text("-1e309").ok());
}

// ---- strings ----

TEST(JcsTest, StringEscaping) {
  std::string s;
  for (int c = 0; c < 0x20; ++c) s.push_back(static_cast<char>(c));
  // '"', '\\', '/', DEL, U+2028, U+2029, U+00E9, U+20AC, U+1F600.
  s += "\"\\/\x7f\xe2\x80\xa8\xe2\x80\xa9\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
  const std::string expected =
      "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r\\u000e"
      "\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a"
      "\\u001b\\u001c\\u001d\\u001e\\u001f\\\"\\\\/"
      "\x7f\xe2\x80\xa8\xe2\x80\xa9\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"";
  EXPECT_EQ(Canon(Json(s)), expected);
  // The same through the parser, with every character escaped in the input.
  EXPECT_EQ(CanonText(R"("\u001F\u000B\/\u2028\u00E9\uD83D\uDE00")"),
            "\"\\u001f\\u000b/\xe2\x80\xa8\xc3\xa9\xf0\x9f\x98\x80\"");
}

TEST(JcsTest, KeysAreEscapedLikeStrings) {
  Json value = {{"a\nb", 1}, {"\x01", 2}, {"/", 3}};
  EXPECT_EQ(Canon(value), R"({"\u0001":2,"/":3,"a\nb":1})");
}

TEST(JcsTest, InvalidUtf8IsRejected) {
  const char* bad[] = {
      "\xff",              // never valid
      "\x80",              // lone continuation byte
      "\xc0\xaf",          // overlong '/'
      "\xe0\x80\xaf",      // overlong, 3 bytes
      "\xe2\x82",          // truncated
      "\xed\xa0\x80",      // UTF-16 surrogate D800 encoded directly
      "\xf4\x90\x80\x80",  // above U+10FFFF
      "\xf8\x88\x80\x80\x80",
      "a\xc3",  // truncated at the end
  };
  for (const char* s : bad) {
    auto value = jcs_canonicalize(Json(std::string(s)));
    ASSERT_FALSE(value.ok()) << hex_encode(as_bytes(s));
    EXPECT_EQ(value.error().code, Errc::parse);
    Json object = Json::object();
    object[s] = 1;
    auto key = jcs_canonicalize(object);
    ASSERT_FALSE(key.ok()) << hex_encode(as_bytes(s));
    EXPECT_EQ(key.error().code, Errc::parse);
  }
  // Boundary code points that are valid.
  EXPECT_EQ(Canon(Json("\x7f\xc2\x80\xef\xbf\xbf\xf4\x8f\xbf\xbf")),
            "\"\x7f\xc2\x80\xef\xbf\xbf\xf4\x8f\xbf\xbf\"");
}

// ---- structure ----

TEST(JcsTest, NestedArraysAndObjects) {
  const char* input = R"({"b":[1,{"z":null,"a":[true,false,{}],"m":[[],[[]]]}],)"
                      R"( "a":{"c":[],"b":"x","aa":{"y":-1.5e-7,"x":1E2}},"":0})";
  EXPECT_EQ(CanonText(input), R"({"":0,"a":{"aa":{"x":100,"y":-1.5e-7},"b":"x","c":[]},)"
                              R"("b":[1,{"a":[true,false,{}],"m":[[],[[]]],"z":null}]})");
}

TEST(JcsTest, ScalarsAndEmptyContainers) {
  EXPECT_EQ(Canon(Json(nullptr)), "null");
  EXPECT_EQ(Canon(Json(true)), "true");
  EXPECT_EQ(Canon(Json(false)), "false");
  EXPECT_EQ(Canon(Json::array()), "[]");
  EXPECT_EQ(Canon(Json::object()), "{}");
  EXPECT_EQ(Canon(Json("")), "\"\"");
  EXPECT_EQ(CanonText(" \t\r\n[ 1 , \"a\" ]\n"), R"([1,"a"])");
}

TEST(JcsTest, BinaryValuesAreRejected) {
  EXPECT_FALSE(jcs_canonicalize(Json::binary({1, 2, 3})).ok());
}

Json NestedArrays(size_t depth) {
  Json root = Json::array();
  Json* cur = &root;
  for (size_t i = 1; i < depth; ++i) {
    cur->push_back(Json::array());
    cur = &cur->back();
  }
  return root;
}

TEST(JcsTest, MaximumParsableDepthCanonicalises) {
  const std::string text = std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  EXPECT_EQ(CanonText(text), text);
}

TEST(JcsTest, DeepValueIsAnErrorNotACrash) {
  auto r = jcs_canonicalize(NestedArrays(100000));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::parse);
  EXPECT_THAT(r.error().message, HasSubstr("nesting"));
}

TEST(JcsTest, TextInputIsParsedStrictly) {
  EXPECT_FALSE(jcs_canonicalize_text(R"({"a":1,"a":2})").ok());
  EXPECT_FALSE(jcs_canonicalize_text("[1,]").ok());
  EXPECT_FALSE(jcs_canonicalize_text("").ok());
  EXPECT_FALSE(jcs_canonicalize_text("[\"\xff\"]").ok());
}

// ---- parse_json ----

void ExpectParseError(std::string_view text, std::string_view message_part) {
  auto r = parse_json(text);
  ASSERT_FALSE(r.ok()) << "accepted: " << text;
  EXPECT_EQ(r.error().code, Errc::parse) << text;
  EXPECT_THAT(r.error().message, HasSubstr(message_part)) << text;
}

TEST(JsonParseTest, AcceptsValidDocuments) {
  auto r = parse_json(R"( {"a": [1, 2.5, "x", null, true, false, {"b": {}}], "c": "\u00e9"} )");
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ((*r)["a"][1].get<double>(), 2.5);
  EXPECT_EQ((*r)["c"].get<std::string>(), "\xc3\xa9");
  for (const char* scalar : {"1", "-0", "\"x\"", "null", "true", "1e5"}) {
    EXPECT_TRUE(parse_json(scalar).ok()) << scalar;
  }
}

TEST(JsonParseTest, RejectsDuplicateMemberNames) {
  ExpectParseError(R"({"a":1,"a":2})", "duplicate member 'a'");
  ExpectParseError(R"({"x":{"b":1,"c":2,"b":3}})", "duplicate member 'b'");
  ExpectParseError(R"([{"k":1},{"k":1,"k":1}])", "duplicate member 'k'");
  // The escape decodes to the same name.
  ExpectParseError(R"({"a":1,"\u0061":2})", "duplicate member 'a'");
  // The same name in different objects is fine.
  EXPECT_TRUE(parse_json(R"([{"a":1},{"a":2}])").ok());
  EXPECT_TRUE(parse_json(R"({"a":{"a":{"a":1}},"b":{"a":2}})").ok());
}

TEST(JsonParseTest, RejectsComments) {
  ExpectParseError("{/* c */}", "offset 1");
  ExpectParseError("// c\n{}", "offset 0");
  ExpectParseError("[1 /* c */]", "offset 3");
  ExpectParseError("[1] // trailing", "offset 4");
}

TEST(JsonParseTest, RejectsTrailingCommas) {
  ExpectParseError("[1,]", "syntax error at offset 3");
  ExpectParseError(R"({"a":1,})", "syntax error at offset 7");
  ExpectParseError("[1,2,,]", "offset 5");
}

TEST(JsonParseTest, RejectsInvalidUtf8) {
  ExpectParseError("\"\xff\"", "offset 1");
  ExpectParseError("[\"ab\xc0\xaf\"]", "offset 4");
  ExpectParseError("\"\xed\xa0\x80\"", "offset");
  ExpectParseError("\"\xe2\x82\"", "offset");
  ExpectParseError("\"\xf4\x90\x80\x80\"", "offset");
  // Escaped lone surrogates are not Unicode text either.
  ExpectParseError(R"("\ud800")", "offset");
  ExpectParseError(R"("\udc00x")", "offset");
}

TEST(JsonParseTest, RejectsOtherNonStandardSyntax) {
  ExpectParseError("", "offset 0");
  ExpectParseError("[1] x", "offset 4");
  ExpectParseError("[NaN]", "offset 1");
  ExpectParseError("[Infinity]", "offset 1");
  ExpectParseError("['a']", "offset 1");
  ExpectParseError("01", "offset");
  ExpectParseError("0x10", "offset");
  ExpectParseError("{a:1}", "offset 1");
  ExpectParseError("[\"a\x01\"]", "offset 3");  // raw control character in a string
  ExpectParseError("[1e400]", "overflow");
}

TEST(JsonParseTest, NestingLimit) {
  const std::string ok = std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  EXPECT_TRUE(parse_json(ok).ok());
  const std::string deep = "[" + ok + "]";
  ExpectParseError(deep, "nesting deeper than 128 at offset 128");
  const std::string objects = std::string(200, '{');
  ExpectParseError(objects, "nesting deeper than 128 at offset 128");
  // Mixed arrays and objects count together.
  std::string mixed;
  for (size_t i = 0; i < kMaxJsonDepth; ++i) mixed += "{\"a\":[";
  ExpectParseError(mixed, "nesting deeper than 128 at offset 384");  // 65th "{"
  // A caller-chosen limit.
  EXPECT_TRUE(parse_json("[[1]]", 2).ok());
  auto limited = parse_json("[[1]]", 1);
  ASSERT_FALSE(limited.ok());
  EXPECT_THAT(limited.error().message, HasSubstr("nesting deeper than 1 at offset 1"));
}

TEST(JsonParseTest, MillionDeepInputIsAnErrorNotACrash) {
  const std::string deep(1000000, '[');
  ExpectParseError(deep, "nesting deeper than 128 at offset 128");
  std::string balanced = deep + std::string(1000000, ']');
  ExpectParseError(balanced, "nesting deeper");
  EXPECT_FALSE(jcs_canonicalize_text(balanced).ok());
}

TEST(JsonParseTest, BracketsInsideStringsDoNotCountAsNesting) {
  const std::string in_string = "[\"" + std::string(1000, '[') + "\"]";
  EXPECT_TRUE(parse_json(in_string).ok());
  // An escaped quote does not end the string.
  const std::string escaped = "[\"\\\"" + std::string(1000, '{') + "\"]";
  auto r = parse_json(escaped);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ((*r)[0].get<std::string>().size(), 1001u);
}

// ---- member access ----

TEST(JsonGetTest, GetStringReturnsValue) {
  Json object = {{"name", "acon"}, {"n", 1}};
  auto name = json_get_string(object, "name");
  ASSERT_TRUE(name.ok());
  EXPECT_EQ(*name, "acon");
}

TEST(JsonGetTest, GetStringErrorsNameTheMember) {
  Json object = {{"name", "acon"}, {"n", 1}, {"list", Json::array()}};
  auto missing = json_get_string(object, "nonce");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::parse);
  EXPECT_THAT(missing.error().message, HasSubstr("'nonce'"));
  auto number = json_get_string(object, "n");
  ASSERT_FALSE(number.ok());
  EXPECT_THAT(number.error().message, HasSubstr("'n'"));
  EXPECT_THAT(number.error().message, HasSubstr("not a string"));
  auto list = json_get_string(object, "list");
  ASSERT_FALSE(list.ok());
  EXPECT_THAT(list.error().message, HasSubstr("'list'"));
  auto not_object = json_get_string(Json::array({"name"}), "name");
  ASSERT_FALSE(not_object.ok());
  EXPECT_EQ(not_object.error().code, Errc::parse);
}

TEST(JsonGetTest, GetReturnsPointerIntoObject) {
  Json object = {{"a", {{"b", 2}}}};
  auto a = json_get(object, "a");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, &object["a"]);
  EXPECT_EQ((**a)["b"].get<int>(), 2);
  auto missing = json_get(object, "b");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error().message, HasSubstr("'b'"));
  EXPECT_FALSE(json_get(Json(1), "a").ok());
}

// ---- dump_compact ----

TEST(JsonDumpTest, CompactSortsKeysByBytes) {
  // Byte order puts U+FB33 (ef ac b3) before U+1F600 (f0 9f 98 80); JCS does the opposite.
  auto parsed = parse_json(R"({"\ud83d\ude00":1,"\ufb33":2,"b":[1, 2],"a":null})");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(dump_compact(*parsed),
            "{\"a\":null,\"b\":[1,2],\"\xef\xac\xb3\":2,\"\xf0\x9f\x98\x80\":1}");
  EXPECT_EQ(Canon(*parsed), "{\"a\":null,\"b\":[1,2],\"\xf0\x9f\x98\x80\":1,\"\xef\xac\xb3\":2}");
}

TEST(JsonDumpTest, CompactReplacesInvalidUtf8) {
  EXPECT_EQ(dump_compact(Json(std::string("a\xff"))), "\"a\xef\xbf\xbd\"");
}

// dump_compact writes its own text for speed; it must stay byte-identical to nlohmann's compact
// dump, which it replaced, for every kind of value.
TEST(JsonDumpTest, CompactEqualsNlohmannDump) {
  Json doc = {
      {"empty_object", Json::object()},
      {"empty_array", Json::array()},
      {"controls", std::string("q\"b\\s/\b\f\n\r\t\x01\x1f\x7f end")},
      {"unicode", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"},
      {"invalid", std::string("ok\xff\xc3(\xed\xa0\x80 tail")},
      {"numbers", {0, -1, 1, INT64_MIN, INT64_MAX, UINT64_MAX, 1.5, -0.0, 1e300, 3.0}},
      {"literals", {true, false, nullptr}},
      {"nested", {{"a", {{"b", {{"c", Json::array({Json::object()})}}}}}}},
      {std::string("key\n\"\xff"), 1},
      {"binary", Json::binary({1, 2, 3})},
  };
  EXPECT_EQ(dump_compact(doc), doc.dump(-1, ' ', false, Json::error_handler_t::replace));
  for (const auto& [key, value] : doc.items())
    EXPECT_EQ(dump_compact(value), value.dump(-1, ' ', false, Json::error_handler_t::replace))
        << key;
}

// Plain strings are recognised 16 and 8 bytes at a time: every byte that needs an escape or is
// not ASCII must be found at every position of a word and of the tail, in keys and in values.
TEST(JsonDumpTest, CompactEscapesAtEveryPositionOfALongString) {
  for (char special : {'"', '\\', '\x01', '\x1f', '\x7f', '\x80', '\xc3', '\xff'}) {
    for (size_t length : {1, 7, 8, 9, 15, 16, 17, 31, 33, 40}) {
      for (size_t at = 0; at < length; ++at) {
        std::string text(length, 'a');
        text[at] = special;
        Json doc = {{text, text}, {"array", {text}}};
        EXPECT_EQ(dump_compact(doc), doc.dump(-1, ' ', false, Json::error_handler_t::replace))
            << "byte " << int(static_cast<uint8_t>(special)) << " at " << at << " of " << length;
      }
    }
  }
  // The bytes next to the ranges: space and '~' are plain, and so are '!' and '#' around '"'.
  std::string edges(40, ' ');
  for (size_t i = 0; i < edges.size(); ++i) edges[i] = " ~!#[]"[i % 6];
  EXPECT_EQ(dump_compact(Json(edges)), "\"" + edges + "\"");
}

// JsonObjectBuilder gives the object the initializer-list constructor gives, whatever order the
// members come in (in key order each goes to the end without a search; out of order it is
// placed where it belongs); a repeated key keeps its first value, as emplace does.
TEST(JsonObjectBuilderTest, SameObjectAsTheInitializerList) {
  const Json expected = {{"a", 1}, {"b", "two"}, {"c", Json::array({1, 2})}, {"d", nullptr}};
  EXPECT_EQ(JsonObjectBuilder()
                .add("a", 1)
                .add("b", "two")
                .add("c", Json::array({1, 2}))
                .add("d", nullptr)
                .build(),
            expected);
  EXPECT_EQ(JsonObjectBuilder()
                .add("d", nullptr)
                .add("b", "two")
                .add("c", Json::array({1, 2}))
                .add("a", 1)
                .build(),
            expected);
  const Json built = JsonObjectBuilder().add("k", 1).add("k", 2).build();
  EXPECT_EQ(dump_compact(built), "{\"k\":1}");
  EXPECT_TRUE(JsonObjectBuilder().build().is_object());
  EXPECT_EQ(dump_compact(JsonObjectBuilder().add("z", 1).add("a", 2).build()), "{\"a\":2,\"z\":1}");
}

}  // namespace
}  // namespace acon
