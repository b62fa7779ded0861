// The guard in front of toml++ (verifier/appraisal/src/toml_guard.h) through the two readers of
// TOML from outside, policies and init-data: non-ASCII text in strings and comments reaches
// toml++ and comes back unchanged; a code point toml++ 3.x mis-handles is refused, with its line,
// wherever toml++'s lexer would ask about it (outside strings and comments, and after a
// backslash in a multi-line basic string), including the inputs the fuzzers found.
#include <gtest/gtest.h>

#include <string>

#include "acon/appraisal/checks.h"
#include "acon/appraisal/policy.h"
#include "test_util.h"

namespace acon::appraisal {
namespace {

using test::read_data;

// Code points from each range toml++ mis-handles, and some it handles.
constexpr const char* kLatinE = "\xc3\xa9";              // U+00E9 é
constexpr const char* kCyrillicZhe = "\xd0\x96";         // U+0416 Ж
constexpr const char* kLongS = "\xc5\xbf";               // U+017F ſ
constexpr const char* kHiraganaA = "\xe3\x81\x82";       // U+3042 あ
constexpr const char* kArabicLigature = "\xef\xbb\xbb";  // U+FEFB ﻻ
constexpr const char* kEuro = "\xe2\x82\xac";            // U+20AC €, handled

const std::string kInitDataHead = "version = \"0.1.0\"\nalgorithm = \"sha256\"\n";

std::string policy_id(const std::string& toml) {
  auto policy = parse_policy(toml, "guard.toml");
  EXPECT_TRUE(policy.ok()) << policy.error().to_string();
  return policy.ok() ? policy->id : std::string("<refused>");
}

Json init_data_claims(const std::string& body) {
  auto parsed = parse_init_data({"toml", body});
  EXPECT_TRUE(parsed.ok()) << parsed.error().to_string();
  return parsed.ok() ? parsed->claims : Json();
}

std::string policy_refusal(const std::string& toml) {
  auto policy = parse_policy(toml, "guard.toml");
  return policy.ok() ? std::string("<accepted>") : policy.error().message;
}

std::string init_data_refusal(const std::string& body) {
  auto parsed = parse_init_data({"toml", body});
  return parsed.ok() ? std::string("<accepted>") : parsed.error().message;
}

TEST(TomlGuard, NonAsciiInPolicyStringsAndCommentsIsAccepted) {
  const std::string text =
      std::string(kLatinE) + kCyrillicZhe + kLongS + " " + kHiraganaA + kArabicLigature + kEuro;
  const std::string comment = std::string("# ") + text + " " + kLatinE + "\n";
  EXPECT_EQ(policy_id(comment + "version = 1 " + comment + "id = \"" + text + "\" " + comment),
            text);
  EXPECT_EQ(policy_id("version = 1\nid = '" + text + "'\n"), text);
  EXPECT_EQ(policy_id("version = 1\nid = \"\"\"\n" + text + "\n" + text + "\"\"\"\n"),
            text + "\n" + text);
  EXPECT_EQ(policy_id("version = 1\nid = '''" + text + "\n'" + text + "'''\n"),
            text + "\n'" + text);
  // Escapes and quotes inside strings do not end them early.
  EXPECT_EQ(policy_id("version = 1\nid = \"\\\"" + text + "\\\\\" # " + text + "\n"),
            "\"" + text + "\\");
  EXPECT_EQ(policy_id("version = 1\nid = \"\"\"" + text + "\"\"" + text + "\"\"\"\"\n"),
            text + "\"\"" + text + "\"");
  // Line-ending backslash: only the first character after the skipped whitespace is asked
  // about; the rest of the line is copied.
  EXPECT_EQ(policy_id("version = 1\nid = \"\"\"a \\\n   b" + text + "\\\n\n c\"\"\"\n"),
            "a b" + text + "c");
}

TEST(TomlGuard, NonAsciiInInitDataKeysValuesAndCommentsIsAccepted) {
  const std::string text = std::string(kCyrillicZhe) + kLatinE + " " + kArabicLigature;
  Json claims =
      init_data_claims(kInitDataHead + "# " + text + "\n[data]\n\"" + text + "\" = \"" + text +
                       "\" # " + text + "\n'" + kLongS + "' = '''\n" + text + "'''\n");
  EXPECT_EQ(claims[text], text);
  EXPECT_EQ(claims[kLongS], text);
  // A quoted segment of a dotted key, and an inline table with quoted keys.
  claims = init_data_claims(kInitDataHead + "data.\"" + text + "\" = \"x\"\n");
  EXPECT_EQ(claims[text], "x");
  claims = init_data_claims(kInitDataHead + "data = { \"" + std::string(kHiraganaA) + "\" = \"" +
                            text + "\", b = '" + text + "' }\n");
  EXPECT_EQ(claims[kHiraganaA], text);
  EXPECT_EQ(claims["b"], text);
  // Empty strings followed by comments.
  claims = init_data_claims(kInitDataHead + "[data]\nx = \"\" # " + text + "\ny = '' #" + text);
  EXPECT_EQ(claims["x"], "");
  EXPECT_EQ(claims["y"], "");
  // A date-time with a space before its time part, then a string with such text, in an array
  // that is not a string (so Trustee's parser refuses it, after toml++ read it safely).
  EXPECT_EQ(
      init_data_refusal(kInitDataHead + "[data]\nx = [1979-05-27 07:32:00Z, \"" + text + "\"]\n")
          .find("character"),
      std::string::npos);
}

// The fuzzers' seeds with non-ASCII comments, keys and strings of every kind.
TEST(TomlGuard, NonAsciiSeedsAreAccepted) {
  auto policy = parse_policy(read_data("fuzz/policy/non_ascii_text.toml"), "seed.toml");
  ASSERT_TRUE(policy.ok()) << policy.error().to_string();
  EXPECT_EQ(policy->id, "richtlinie-\xc5\xbf\xc3\xa9");
  Json claims = init_data_claims(read_data("fuzz/init_data/non_ascii_text.toml"));
  EXPECT_EQ(claims["Schl\xc3\xbcssel"], "Wert \xc5\xbf");
  EXPECT_EQ(claims["cdh.toml"]["note"], "Zeile eins \xc5\xbf");
  EXPECT_EQ(claims["\xef\xbb\xbb"], "\xe3\x81\x82");
}

TEST(TomlGuard, CrashInputsFoundByTheFuzzersAreRefusedWithTheirLine) {
  EXPECT_NE(policy_refusal(read_data("fuzz/policy/tomlpp_unreachable_u017f.toml"))
                .find("guard.toml: line 1: character U+017F"),
            std::string::npos);
  EXPECT_NE(init_data_refusal(read_data("fuzz/init_data/tomlpp_unreachable_ufefb.toml"))
                .find("init_data.body: line 2: character U+FEFB"),
            std::string::npos);
}

TEST(TomlGuard, MishandledCodePointsWhereTheLexerAsksAboutThemAreRefused) {
  const std::string e = kLatinE, zhe = kCyrillicZhe, s = kLongS, a = kHiraganaA,
                    lig = kArabicLigature;
  struct Case {
    std::string toml;  // the second line of a policy (after "version = 1")
    std::string expected;
  };
  const Case cases[] = {
      {e + "x = 1", "line 2: character U+00E9"},            // a bare key
      {"a." + zhe + " = 1", "line 2: character U+0416"},    // a dotted bare key
      {"id" + s + " = \"p\"", "line 2: character U+017F"},  // after a key
      {"id =" + a + "\"p\"", "line 2: character U+3042"},   // between tokens
      {"id = \"p\"" + lig, "line 2: character U+FEFB"},     // after a value
      {"x = 1" + e, "line 2: character U+00E9"},            // inside a bare value
      {"x = 1\"" + e + "\"", "line 2: character U+00E9"},   // a quote inside a value
      {"x = +\"" + e + "\"", "line 2: character U+00E9"},
      {"x = 1=\"" + e + "\"", "line 2: character U+00E9"},
      {"x = 1[\"" + e + "\"]", "line 2: character U+00E9"},
      {"x = 1979-05-27 0\"" + zhe + "\"", "line 2: character U+0416"},  // a date and a space
      {"x = true" + s, "line 2: character U+017F"},
      {"x = { a = 1, " + s + " = 2 }", "line 2: character U+017F"},  // inside an inline table
      {"x = { a = 1 " + s + "}", "line 2: character U+017F"},
      {"x = [1, " + a + "]", "line 2: character U+3042"},  // inside an array
      {"x = [\n  1,\n  2" + a + "\n]", "line 4: character U+3042"},
      {"[" + lig + "]", "line 2: character U+FEFB"},  // a table header
      {"[a.\"b\"." + e + "]", "line 2: character U+00E9"},
      {"[[a]]" + e, "line 2: character U+00E9"},
      {"\t" + e + "x = 1", "line 2: character U+00E9"},  // leading whitespace
      // Multi-line basic strings: right after a backslash, after the spaces that follow a
      // line-ending backslash, and first on a line after one (also past blank lines).
      {"x = \"\"\"a\\" + e + "\"\"\"", "line 2: character U+00E9"},
      {"x = \"\"\"a\\  " + e + "\n\"\"\"", "line 2: character U+00E9"},
      {"x = \"\"\"a\\\n   " + zhe + "b\"\"\"", "line 3: character U+0416"},
      {"x = \"\"\"a\\\r\n\n\t \n " + s + "\"\"\"", "line 5: character U+017F"},
      {"x = \"\"\"a \"\" \\\n" + lig + "\"\"\"", "line 3: character U+FEFB"},
      // After strings and comments end.
      {"x = 'a'" + e, "line 2: character U+00E9"},
      {"x = ''" + e, "line 2: character U+00E9"},
      {"x = \"\"\"a\"\"\"\"\"" + e, "line 2: character U+00E9"},
      {"x = 1 # " + e + "\n" + e + " = 2", "line 3: character U+00E9"},
  };
  for (const Case& c : cases) {
    const std::string doc = "version = 1\n" + c.toml + "\n";
    EXPECT_NE(policy_refusal(doc).find("guard.toml: " + c.expected), std::string::npos)
        << c.toml << " -> " << policy_refusal(doc);
    const std::string body = "version = \"0.1.0\"\n" + c.toml + "\nalgorithm = \"sha256\"\n";
    EXPECT_NE(init_data_refusal(body).find("init_data.body: " + c.expected), std::string::npos)
        << c.toml << " -> " << init_data_refusal(body);
  }
}

// TOML inside init-data (cdh.toml, aa.toml) goes through the same guard: a value it refuses is
// kept as text, one it accepts is parsed.
TEST(TomlGuard, InnerTomlOfInitData) {
  Json claims =
      init_data_claims(kInitDataHead + "[data]\n\"cdh.toml\" = '''\nx = \"" + std::string(kLatinE) +
                       "\"\n'''\n\"aa.toml\" = '''\n" + kLatinE + " = 1\n'''\n");
  EXPECT_EQ(claims["cdh.toml"]["x"], kLatinE);
  EXPECT_EQ(claims["aa.toml"], std::string(kLatinE) + " = 1\n");
}

}  // namespace
}  // namespace acon::appraisal
