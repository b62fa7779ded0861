// Manifest parsing (acond's serde semantics), validation, canonical forms (checked against files
// produced by the real jq 1.6 binary) and reference syntax.
#include "acon/image/manifest.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "acon/common/hash.h"
#include "test_util.h"

namespace acon::image {
namespace {

using test::read_data;

constexpr std::string_view kMinimal = R"({"aliases":{},"workingDir":"/","signals":[],"policy":{}})";

std::string with(std::string_view extra_members) {
  std::string s(kMinimal);
  s.pop_back();
  s += ",";
  s += extra_members;
  s += "}";
  return s;
}

std::string parse_error(std::string_view text) {
  auto m = parse_manifest(text);
  EXPECT_FALSE(m.ok()) << text;
  return m ? "" : m.error().message;
}

TEST(ManifestParse, DocExampleFieldsAndRawBytes) {
  std::string bytes = read_data("acon/doc-example/manifest.canonical.json");
  auto m = parse_manifest(bytes);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->raw, bytes);
  EXPECT_EQ(*m->acon_spec_version, (std::vector<uint32_t>{1, 0}));
  ASSERT_EQ(m->layers->size(), 3u);
  EXPECT_EQ(m->layers->at(1),
            "sha256/e67648e77428fe38272e3ebe300cf16607e2b0f7cba5e197f741d4a941e0c386");
  EXPECT_EQ(m->aliases.contents.size(), 3u);
  EXPECT_EQ(m->aliases.self.at("."), (std::vector<std::string>{"SomeProduct:1", "SomeProduct:0"}));
  EXPECT_EQ(m->entrypoint->front(), "/path/to/executable");
  EXPECT_EQ(m->env->size(), 6u);
  EXPECT_EQ(m->working_dir, "/work");
  EXPECT_EQ(*m->uids, (std::vector<uint32_t>{101, 201}));
  EXPECT_EQ(*m->log_fds, (std::vector<int32_t>{1, 2}));
  EXPECT_TRUE(m->writable_fs_or_default());
  EXPECT_FALSE(m->no_restart_or_default());
  EXPECT_EQ(m->signals, (std::vector<int32_t>{-15, -18, -19}));
  EXPECT_EQ(m->max_instances_or_default(), 1u);
  EXPECT_EQ(m->policy.accepts.size(), 4u);
  EXPECT_TRUE(m->policy.reject_unaccepted);
  EXPECT_TRUE(m->unknown.empty());
  EXPECT_EQ(hex_encode(sha384(as_bytes(m->raw))),
            "89d3a2a87a796719a49212950a2c8df31402e2a3435446490169166c5044b0ef6f9c6f9fd93ea84dbd0c9"
            "2ecf5730582");
}

TEST(ManifestParse, PrettyAndCanonicalDocExampleGiveTheSameModel) {
  auto pretty = parse_manifest(read_data("acon/doc-example/manifest.pretty.json"));
  auto canon = parse_manifest(read_data("acon/doc-example/manifest.canonical.json"));
  ASSERT_TRUE(pretty.ok() && canon.ok());
  EXPECT_EQ(manifest_to_json(*pretty), manifest_to_json(*canon));
  EXPECT_NE(pretty->raw, canon->raw);
}

TEST(ManifestParse, MinimalManifestHasAcondDefaults) {
  auto m = parse_manifest(kMinimal);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_FALSE(m->layers.has_value());
  EXPECT_TRUE(m->layers_or_default().empty());
  EXPECT_FALSE(m->writable_fs_or_default());
  EXPECT_FALSE(m->no_restart_or_default());
  EXPECT_EQ(m->max_instances_or_default(), 0u);  // acond's default, not the doc's 1
  EXPECT_FALSE(m->policy.reject_unaccepted);
  EXPECT_TRUE(m->policy.accepts.empty());
}

TEST(ManifestParse, RequiredFieldsAreNamed) {
  EXPECT_EQ(parse_error(R"({"workingDir":"/","signals":[],"policy":{}})"),
            "manifest.aliases: missing required field");
  EXPECT_EQ(parse_error(R"({"aliases":{},"signals":[],"policy":{}})"),
            "manifest.workingDir: missing required field");
  EXPECT_EQ(parse_error(R"({"aliases":{},"workingDir":"/","policy":{}})"),
            "manifest.signals: missing required field");
  EXPECT_EQ(parse_error(R"({"aliases":{},"workingDir":"/","signals":[]})"),
            "manifest.policy: missing required field");
}

TEST(ManifestParse, UnknownKeysAreIgnoredButKept) {
  auto m = parse_manifest(with(R"("extra":{"deep":[1,2,{"x":null}]},"Layers":"not the field")"));
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->unknown.size(), 2u);
  EXPECT_FALSE(m->layers.has_value());  // key names are case-sensitive
  // Unknown members inside aliases and policy are ignored too.
  EXPECT_TRUE(
      parse_manifest(R"({"aliases":{"x":1},"workingDir":"/","signals":[],"policy":{"y":2}})").ok());
}

TEST(ManifestParse, TypesAndRangesAreStrict) {
  EXPECT_EQ(parse_error(with(R"("uids":[-1])")),
            "manifest.uids[0]: expected u32, got -1 (out of range)");
  EXPECT_EQ(parse_error(with(R"("uids":[4294967296])")),
            "manifest.uids[0]: expected u32, got 4294967296 (out of range)");
  EXPECT_TRUE(parse_manifest(with(R"("uids":[4294967295])")).ok());
  EXPECT_EQ(parse_error(R"({"aliases":{},"workingDir":"/","signals":[2147483648],"policy":{}})"),
            "manifest.signals[0]: expected i32, got 2147483648 (out of range)");
  EXPECT_TRUE(
      parse_manifest(R"({"aliases":{},"workingDir":"/","signals":[-2147483648],"policy":{}})")
          .ok());
  EXPECT_EQ(parse_error(with(R"("logFDs":[1.0])")),
            "manifest.logFDs[0]: expected i32, got a floating-point number");
  EXPECT_EQ(parse_error(with(R"("maxInstances":1e2)")),
            "manifest.maxInstances: expected u64, got a floating-point number");
  EXPECT_EQ(parse_error(with(R"("maxInstances":18446744073709551616)")),
            "manifest.maxInstances: expected u64, got a floating-point number");
  EXPECT_TRUE(parse_manifest(with(R"("maxInstances":18446744073709551615)")).ok());
  // serde_json reads "-0" as a float.
  EXPECT_EQ(parse_error(with(R"("uids":[-0])")),
            "manifest.uids[0]: expected u32, got a floating-point number");
  EXPECT_EQ(parse_error(with(R"("writableFS":1)")),
            "manifest.writableFS: expected a boolean, got an integer");
  EXPECT_EQ(parse_error(with(R"("layers":null)")), "manifest.layers: expected an array, got null");
  EXPECT_EQ(parse_error(with(R"("env":["A",1])")),
            "manifest.env[1]: expected a string, got an integer");
  EXPECT_EQ(parse_error(
                R"({"aliases":{"contents":{"k":"v"}},"workingDir":"/","signals":[],"policy":{}})"),
            "manifest.aliases.contents[\"k\"]: expected an array, got a string");
  EXPECT_EQ(
      parse_error(
          R"({"aliases":{},"workingDir":"/","signals":[],"policy":{"rejectUnaccepted":"yes"}})"),
      "manifest.policy.rejectUnaccepted: expected a boolean, got a string");
  EXPECT_EQ(parse_error(R"({"aliases":"x","workingDir":"/","signals":[],"policy":{}})"),
            "manifest.aliases: expected an object, got a string");
  EXPECT_EQ(parse_error("7"), "manifest: expected an object, got an integer");
  // aconSpecVersion is a Vec<u32> in acond: any length parses (validation wants two).
  EXPECT_TRUE(parse_manifest(with(R"("aconSpecVersion":[1,0,7])")).ok());
}

TEST(ManifestParse, JsonSyntaxErrorsNameTheOffset) {
  EXPECT_EQ(parse_error(R"({"aliases":{},})"),
            "manifest: json at offset 14: expected a member name");
  EXPECT_EQ(parse_error(with(R"("x":1,"x":2)")),
            "manifest: json at offset 62: duplicate member name \"x\"");
  EXPECT_NE(parse_error(std::string(kMinimal) + " x").find("trailing characters"),
            std::string::npos);
  EXPECT_TRUE(parse_manifest(std::string(" \n") + std::string(kMinimal) + "\n\t").ok());
  EXPECT_NE(parse_error(with(R"("s":"\ud800")")).find("lone high surrogate"), std::string::npos);
  EXPECT_NE(parse_error(with("\"s\":\"\xff\"")).find("invalid UTF-8"), std::string::npos);
  EXPECT_NE(parse_error(with("\"s\":\"\xed\xa0\x80\"")).find("invalid UTF-8"), std::string::npos);
  EXPECT_NE(parse_error(with("\"s\":\"a\nb\"")).find("control character"), std::string::npos);
  EXPECT_NE(parse_error(with(R"("n":01)")).find("leading zero"), std::string::npos);
  std::string deep(127, '[');
  deep += std::string(127, ']');
  EXPECT_TRUE(parse_manifest(with("\"d\":" + deep.substr(1, 252))).ok());
}

// ---- Forms acond loads and acon refuses on purpose (docs/acon-manifest.md) ------------------

constexpr std::string_view kAcondWouldLoad = "acond would load this; acon refuses it because ";

// serde fills a struct from a JSON array in field order (missing trailing fields take their
// defaults): acond loads these manifests, acon refuses them and says so.
TEST(ManifestAcondForms, StructsAsArraysAreRefusedAsDeliberateStrictness) {
  const std::string array_reason =
      std::string(kAcondWouldLoad) + "it is a JSON array where the manifest format has an object";
  auto expect_array_refusal = [&](std::string_view text, std::string_view field) {
    std::string e = parse_error(text);
    EXPECT_EQ(e.rfind(std::string(field) + ": " + array_reason, 0), 0u) << text << "\n" << e;
  };
  expect_array_refusal(
      R"({"aliases":{},"workingDir":"/","signals":[],"policy":[["sha384/*/abc"],true]})",
      "manifest.policy");
  expect_array_refusal(R"({"aliases":{},"workingDir":"/","signals":[],"policy":[]})",
                       "manifest.policy");
  expect_array_refusal(R"({"aliases":[],"workingDir":"/","signals":[],"policy":{}})",
                       "manifest.aliases");
  expect_array_refusal(R"({"aliases":[{"sha384/ab":["A"]}],"workingDir":"/","signals":[],)"
                       R"("policy":{}})",
                       "manifest.aliases");
  // A whole manifest as a 13-element array, in acond's field order (aliases as an array too:
  // the first array met is named).
  expect_array_refusal(
      R"([[1,0],[],[],["/bin/app"],[],"/",[],[],false,false,[15],1,{"accepts":[]}])", "manifest");
  // An empty struct body gives the same model as an empty object, so acond loads it.
  expect_array_refusal(R"([[1,0],[],{},[],[],"/",[],[],false,false,[],0,[[],false]])", "manifest");

  // What acond refuses in array form is refused without the note: more elements than fields,
  // a missing required field, a wrong type by position.
  std::string e =
      parse_error(R"({"aliases":{},"workingDir":"/","signals":[],"policy":[[],true,1]})");
  EXPECT_EQ(e,
            "manifest.policy: expected an object, got an array of 3 elements, which acond "
            "refuses too (serde reads this struct from an array of at most 2)");
  EXPECT_EQ(parse_error(R"([[1,0],[],{},[],[],"/",[],[],false,false,[],0])"),
            "manifest.policy: missing required field");
  EXPECT_EQ(parse_error("[]"), "manifest.aliases: missing required field");
  EXPECT_EQ(parse_error(R"({"aliases":{},"workingDir":"/","signals":[],"policy":[true]})"),
            "manifest.policy.accepts: expected an array, got a boolean");
  EXPECT_EQ(parse_error(R"([[1,0],[],{},[],[],"/",[],[],false,false,[],-1,{}])"),
            "manifest.maxInstances: expected u64, got -1 (out of range)");
}

// serde_json skips a member acond does not know without a depth limit; acon keeps the limit.
TEST(ManifestAcondForms, DeepValuesUnderUnknownKeysAreRefusedAsDeliberateStrictness) {
  // 127 levels: the manifest object is level 1, so "d" may hold 126.
  EXPECT_TRUE(parse_manifest(with("\"d\":" + std::string(126, '[') + std::string(126, ']'))).ok());
  for (size_t levels : {127, 128, 5000, 200000}) {
    std::string deep = "\"d\":" + std::string(levels, '[') + std::string(levels, ']');
    std::string e = parse_error(with(deep));
    EXPECT_NE(e.find(std::string(kAcondWouldLoad) +
                     "a value under a key acond ignores is nested deeper than 127 levels"),
              std::string::npos)
        << levels << ": " << e;
    EXPECT_EQ(e.rfind("manifest: json at offset 186: ", 0), 0u) << e;  // the 127th '['
  }
  // Objects and scalars inside the deep value are checked as JSON all the same.
  std::string objects = "\"d\":";
  for (int i = 0; i < 200; ++i) objects += R"({"k":[1,"s",)";
  objects += "null";
  for (int i = 0; i < 200; ++i) objects += "]}";
  EXPECT_NE(parse_error(with(objects)).find(kAcondWouldLoad), std::string::npos);
  std::string broken = "\"d\":" + std::string(200, '[') + "1," + std::string(200, ']');
  EXPECT_EQ(parse_error(with(broken)).find(kAcondWouldLoad), std::string::npos);
  std::string unclosed =
      std::string(kMinimal.substr(0, kMinimal.size() - 1)) + ",\"d\":" + std::string(200, '[');
  EXPECT_NE(parse_error(unclosed).find("unexpected end of input"), std::string::npos);
  EXPECT_NE(
      parse_error(with("\"d\":" + std::string(200, '[') + "}")).find("unexpected character '}'"),
      std::string::npos);
  // Under a known key the nesting is a type error first, which acond refuses too.
  std::string known = "\"layers\":" + std::string(200, '[') + std::string(200, ']');
  EXPECT_EQ(parse_error(with(known)), "manifest.layers[0]: expected a string, got an array");
}

// ---- Validation ----------------------------------------------------------------------------

std::string first_problem(std::string_view text) {
  auto m = parse_manifest(text);
  EXPECT_TRUE(m.ok()) << (m ? "" : m.error().message);
  if (!m) return "";
  auto st = validate_manifest(*m);
  return st ? "" : st.error().message;
}

constexpr std::string_view kValid =
    R"({"aliases":{},"workingDir":"/app","entrypoint":["/bin/app"],"signals":[-15, 9],"policy":{}})";

// kValid with its top-level members replaced or added by those of `members` (a JSON object body).
std::string valid_with(std::string_view members) {
  Json m = Json::parse(kValid);
  Json extra = Json::parse("{" + std::string(members) + "}");
  for (auto it = extra.begin(); it != extra.end(); ++it) m[it.key()] = it.value();
  return m.dump();
}

TEST(ManifestValidate, ValidManifestPasses) { EXPECT_EQ(first_problem(kValid), ""); }

TEST(ManifestValidate, DocExampleIsReportedForSha224) {
  // The doc's example uses sha224, which acond cannot hash with; its env rules are valid.
  auto m = parse_manifest(read_data("acon/doc-example/manifest.pretty.json"));
  ASSERT_TRUE(m.ok());
  auto problems = manifest_problems(*m);
  std::vector<std::string> fields;
  for (const auto& p : problems) fields.push_back(p.field);
  EXPECT_EQ(fields,
            (std::vector<std::string>{
                "manifest.layers[0]",
                "manifest.aliases.contents[\"sha224/"
                "22dde86581f879abc2e77f1fff4a9da0654f846bc2744fe9ad361cb9\"]",
                "manifest.aliases.contents[\"signer/sha224/"
                "72a802570f2a1759d33e8297f7cebf9c8fb947db8930143ff313b142/SomeSharedLayer:2\"]",
                "manifest.policy.accepts[2]"}));
  EXPECT_EQ(
      problems[0].message(),
      "manifest.layers[0]: alias reference "
      "'signer/sha224/72a802570f2a1759d33e8297f7cebf9c8fb947db8930143ff313b142/SomeSharedLayer:2': "
      "hash must be sha256, sha384 or sha512");
}

// Each problem carries its kind; signing and verification decide severity from it alone.
TEST(ManifestValidate, ProblemKindsAndSeverities) {
  using Kind = ManifestProblemKind;
  auto m = parse_manifest(
      valid_with(R"("aconSpecVersion":[1],"layers":["sha384/00"],"aliases":{"self":{"x":["a:1"]}},)"
                 R"("entrypoint":[],"workingDir":"rel","env":["A","A"],"signals":[0],"uids":[0],)"
                 R"("policy":{"accepts":["bad"]})"));
  ASSERT_TRUE(m.ok()) << m.error().message;
  std::vector<Kind> kinds;
  for (const auto& p : manifest_problems(*m)) {
    EXPECT_EQ(p.message(), p.field + ": " + p.detail);
    kinds.push_back(p.kind);
  }
  EXPECT_EQ(kinds, (std::vector<Kind>{Kind::spec_version, Kind::layer, Kind::alias,
                                      Kind::entrypoint, Kind::working_dir, Kind::env, Kind::signal,
                                      Kind::uid, Kind::policy}));
  for (Kind k : kinds) {
    EXPECT_EQ(signing_severity(k) == ProblemSeverity::warning, k == Kind::entrypoint);
    EXPECT_EQ(verification_severity(k) == ProblemSeverity::fatal,
              k == Kind::layer || k == Kind::alias || k == Kind::policy);
  }
}

TEST(ManifestValidate, EnvRules) {
  EXPECT_EQ(first_problem(valid_with(R"("env":["A","B=1","B=2","C="])")), "");
  EXPECT_EQ(first_problem(valid_with(R"("env":["A","A=1"])")),
            "manifest.env[1]: 'A=1' mixes an allowed value with the bare rule 'A'");
  EXPECT_EQ(first_problem(valid_with(R"("env":["A=1","A"])")),
            "manifest.env[1]: bare 'A' repeats or mixes with an earlier rule for A");
  EXPECT_EQ(first_problem(valid_with(R"("env":["A","A"])")),
            "manifest.env[1]: bare 'A' repeats or mixes with an earlier rule for A");
  EXPECT_EQ(first_problem(valid_with(R"("env":["A=1","A=1"])")),
            "manifest.env[1]: 'A=1' repeats an allowed value of A");
  EXPECT_EQ(first_problem(valid_with(R"("env":["=x"])")),
            "manifest.env[0]: '=x' has an empty variable name");
  // "K=" and "K=a=b" are values "" and "a=b".
  EXPECT_EQ(first_problem(valid_with(R"("env":["K=","K=a=b","K=a"])")), "");
}

TEST(ManifestValidate, SignalsUidsLayersPolicy) {
  EXPECT_EQ(
      first_problem(
          R"({"aliases":{},"workingDir":"/","entrypoint":["/x"],"signals":[15,0],"policy":{}})"),
      "manifest.signals[1]: signal 0 is not a signal");
  EXPECT_EQ(first_problem(valid_with(R"("uids":[5,5])")), "manifest.uids[1]: 5 is listed twice");
  EXPECT_EQ(first_problem(valid_with(R"("uids":[0])")),
            "manifest.uids[0]: uid 0 would map root into the container");
  EXPECT_EQ(first_problem(valid_with(R"("layers":["sha384/ABC"])")),
            "manifest.layers[0]: digest reference 'sha384/ABC': digest must be 96 hex digits for "
            "sha384, got 3");
  std::string upper(64, 'A');
  EXPECT_EQ(
      first_problem(valid_with(R"("layers":["sha256/)" + upper + R"("])")),
      "manifest.layers[0]: digest reference 'sha256/" + upper + "': digest must be lower-case hex");
  std::string d(64, 'a');
  EXPECT_EQ(first_problem(valid_with(R"("layers":["sha256/)" + d + R"(","sha256/)" + d + R"("])")),
            "manifest.layers[1]: 'sha256/" + d + "' is listed twice");
  EXPECT_EQ(first_problem(valid_with(R"("layers":["signer/sha256/)" + d + R"(/../x"])")),
            "manifest.layers[0]: alias reference 'signer/sha256/" + d +
                "/../x': alias name '../x' contains '/'");
  EXPECT_EQ(first_problem(valid_with(R"("policy":{"accepts":["sha384/*"]})")),
            "manifest.policy.accepts[0]: launch policy rule 'sha384/*' has 2 '/'-separated "
            "fields, expected HASH/SIGNER/MANIFEST");
  EXPECT_EQ(first_problem(valid_with(R"("policy":{"accepts":["sha256/)" + d + R"(/App"]})")),
            "manifest.policy.accepts[0]: launch policy rule 'sha256/" + d +
                "/App': MANIFEST must be '*', NAME:SVN or 64 lower-case hex digits");
  EXPECT_EQ(first_problem(valid_with(R"("policy":{"accepts":["sha256/)" + d + R"(/App:x"]})")),
            "manifest.policy.accepts[0]: launch policy rule 'sha256/" + d +
                "/App:x': 'App:x' is not NAME:SVN: SVN is not an unsigned 64-bit decimal");
  EXPECT_EQ(first_problem(valid_with(R"("policy":{"accepts":["sha256/)" + d +
                                     R"(/App:3","sha256/*/)" + d + R"("]})")),
            "");
  EXPECT_EQ(first_problem(valid_with(R"("aliases":{"self":{".":["Prod"]}})")),
            "manifest.aliases.self[\".\"][0]: 'Prod' is not NAME:SVN: no ':'");
  EXPECT_EQ(first_problem(valid_with(R"("aliases":{"contents":{"sha256/)" + d + R"(":[]}})")),
            "manifest.aliases.contents[\"sha256/" + d + "\"]: lists no alias name");
  EXPECT_EQ(
      first_problem(
          R"({"aliases":{},"workingDir":"rel","entrypoint":["/x"],"signals":[],"policy":{}})"),
      "manifest.workingDir: 'rel' is not an absolute path");
  EXPECT_EQ(first_problem(R"({"aliases":{},"workingDir":"/","signals":[],"policy":{}})"),
            "manifest.entrypoint: is empty: acond cannot start the image");
}

// ---- Canonical forms -------------------------------------------------------------------------

TEST(Canonical, DocExampleMatchesJq) {
  auto c = canonicalize_json(read_data("acon/doc-example/manifest.pretty.json"));
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(*c, read_data("acon/doc-example/manifest.canonical.json"));
}

// Each canonical/<name>.jq is `jq -jcS . <name>.json` from jq 1.6 (tests/data/acon/canonical).
class JqFiles : public ::testing::TestWithParam<const char*> {};
TEST_P(JqFiles, SameBytesAsJq) {
  std::string name = GetParam();
  std::string input = read_data("acon/canonical/" + name + ".json");
  std::string expected = read_data("acon/canonical/" + name + ".jq");
  ASSERT_FALSE(input.empty());
  ASSERT_FALSE(expected.empty());
  auto c = canonicalize_json(input);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(*c, expected);
  // Canonical text is a fixed point.
  auto again = canonicalize_json(*c);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *c);
}
INSTANTIATE_TEST_SUITE_P(Files, JqFiles,
                         ::testing::Values("strings", "numbers", "nested", "manifest_unknown",
                                           "random_numbers"));

std::vector<std::string> split_items(std::string_view text, std::string_view sep) {
  std::vector<std::string> items;
  size_t start = 0;
  while (true) {
    size_t at = text.find(sep, start);
    items.emplace_back(text.substr(start, at == std::string_view::npos ? at : at - start));
    if (at == std::string_view::npos) return items;
    start = at + sep.size();
  }
}

TEST(Canonical, RandomNumbersOneByOne) {
  // Pinpoints a differing number if the whole-file comparison fails: the input has one number
  // per line, jq's output is one line.
  std::string in = read_data("acon/canonical/random_numbers.json");
  std::string expected = read_data("acon/canonical/random_numbers.jq");
  ASSERT_GE(in.size(), 3u);
  ASSERT_GE(expected.size(), 2u);
  auto inputs = split_items(std::string_view(in).substr(1, in.size() - 3), ",\n");
  auto want = split_items(std::string_view(expected).substr(1, expected.size() - 2), ",");
  ASSERT_EQ(inputs.size(), want.size());
  EXPECT_GT(inputs.size(), 700u);
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto c = canonicalize_json(inputs[i]);
    ASSERT_TRUE(c.ok()) << inputs[i];
    EXPECT_EQ(*c, want[i]) << "input " << inputs[i];
  }
}

TEST(Canonical, GoStyleEscapesHtmlAndFormatsNumbersLikeGo) {
  auto go = [](std::string_view text) {
    auto c = canonicalize_json(text, CanonicalStyle::go);
    return c ? *c : "ERROR: " + c.error().message;
  };
  EXPECT_EQ(go(R"({"b":"<a href='x'>&</a>","a":"\u2028\u2029\u007f\b\f\n\u0001"})"),
            R"({"a":"\u2028\u2029)"
            "\x7f"
            R"(\u0008\u000c\n\u0001","b":"\u003ca href='x'\u003e\u0026\u003c/a\u003e"})");
  EXPECT_EQ(go("[1.0,-0,1e-7,1e-6,0.000001,1e20,1e21,123456789012345678,1e300,5e-324,0.1]"),
            "[1,-0,1e-7,0.000001,0.000001,100000000000000000000,1e+21,123456789012345680,1e+300,"
            "5e-324,0.1]");
  EXPECT_EQ(go("[1e1000]").substr(0, 6), "ERROR:");
  // Where jq and Go agree: plain manifests without <, >, & and ordinary numbers.
  std::string doc = read_data("acon/doc-example/manifest.pretty.json");
  EXPECT_EQ(go(doc), read_data("acon/doc-example/manifest.canonical.json"));
}

TEST(Canonical, JqNumberFormat) {
  EXPECT_EQ(canonicalize_json("[1e1000,-1e1000,1e-400,-1e-400,1e-5,1e16,1e15]").value(),
            "[1.7976931348623157e+308,-1.7976931348623157e+308,0,-0,1e-05,1e+16,1000000000000000]");
}

// ---- Model serialisation -------------------------------------------------------------------

TEST(Serialize, BuiltManifestIsCanonicalAndParsesBack) {
  Manifest m;
  m.acon_spec_version = std::vector<uint32_t>{1, 0};
  m.layers = std::vector<std::string>{"sha384/" + std::string(96, 'b')};
  m.entrypoint = std::vector<std::string>{"/bin/app", "--flag=<x>&y"};
  m.env = std::vector<std::string>{"A=1", "A=2", "B"};
  m.working_dir = "/";
  m.uids = std::vector<uint32_t>{1000};
  m.log_fds = std::vector<int32_t>{1, 2};
  m.writable_fs = false;
  m.no_restart = true;
  m.signals = {-15};
  m.max_instances = 1;
  m.aliases.self["."] = {"App:3"};
  m.policy.reject_unaccepted = true;
  m.policy.accepts = {"sha384/*/" + std::string(96, 'c')};
  auto text = serialize_manifest(m);
  ASSERT_TRUE(text.ok()) << text.error().message;
  auto canon = canonicalize_json(*text);
  ASSERT_TRUE(canon.ok());
  EXPECT_EQ(*text, *canon);
  EXPECT_EQ(text->find('\n'), std::string::npos);
  EXPECT_NE(text->find(R"("entrypoint":["/bin/app","--flag=<x>&y"])"), std::string::npos);
  auto back = parse_manifest(*text);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(manifest_to_json(*back), manifest_to_json(m));
  EXPECT_TRUE(validate_manifest(*back).ok());
  auto go = serialize_manifest(m, CanonicalStyle::go);
  ASSERT_TRUE(go.ok());
  EXPECT_NE(go->find(R"(--flag=\u003cx\u003e\u0026y)"), std::string::npos);
}

TEST(Serialize, RefusesValuesCanonicalisationWouldChange) {
  Manifest m;
  m.working_dir = "/";
  m.max_instances = (uint64_t{1} << 53) + 1;
  auto text = serialize_manifest(m);
  ASSERT_FALSE(text.ok());
  EXPECT_NE(text.error().message.find("2^53"), std::string::npos);
  m.max_instances = uint64_t{1} << 53;
  EXPECT_TRUE(serialize_manifest(m).ok());
}

TEST(Serialize, KeepsUnknownMembers) {
  auto m = parse_manifest(with(R"("zz":{"k":[1,2]})"));
  ASSERT_TRUE(m.ok());
  auto text = serialize_manifest(*m);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(
      *text,
      R"({"aliases":{},"policy":{"rejectUnaccepted":false},"signals":[],"workingDir":"/","zz":{"k":[1,2]}})");
}

// ---- References ----------------------------------------------------------------------------

TEST(References, DigestAndAlias) {
  std::string h384(96, 'a');
  auto d = parse_digest_ref("sha384/" + h384);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->alg, HashAlg::sha384);
  EXPECT_EQ(d->to_string(), "sha384/" + h384);
  EXPECT_FALSE(parse_digest_ref("sha384/" + h384.substr(1)).ok());
  EXPECT_FALSE(parse_digest_ref("SHA384/" + h384).ok());
  EXPECT_FALSE(parse_digest_ref("sha224/" + std::string(56, 'a')).ok());
  EXPECT_FALSE(parse_digest_ref("sha384").ok());
  EXPECT_FALSE(parse_digest_ref("sha384/" + h384 + "/x").ok());
  auto a = parse_alias_ref("signer/sha384/" + h384 + "/Layer:1");
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->name, "Layer:1");
  EXPECT_EQ(a->to_string(), "signer/sha384/" + h384 + "/Layer:1");
  EXPECT_FALSE(parse_alias_ref("signer/sha384/" + h384 + "/").ok());
  EXPECT_FALSE(parse_alias_ref("signer/sha384/" + h384 + "/..").ok());
  EXPECT_FALSE(parse_alias_ref("signer/sha384/" + h384).ok());
  EXPECT_FALSE(parse_alias_ref("signer/sha256/" + h384 + "/x").ok());
  auto l = parse_layer_ref("signer/sha384/" + h384 + "/x");
  ASSERT_TRUE(l.ok());
  EXPECT_TRUE(l->alias.has_value());
  EXPECT_FALSE(l->digest.has_value());
  l = parse_layer_ref("sha512/" + std::string(128, '0'));
  ASSERT_TRUE(l.ok());
  EXPECT_TRUE(l->digest.has_value());
}

TEST(References, NameSvnFollowsRustU64) {
  auto n = parse_name_svn("SharedLayerA:1");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->name, "SharedLayerA");
  EXPECT_EQ(n->svn, 1u);
  EXPECT_EQ(parse_name_svn("P:+7")->svn, 7u);
  EXPECT_EQ(parse_name_svn("P:007")->svn, 7u);
  EXPECT_EQ(parse_name_svn("P:18446744073709551615")->svn, std::numeric_limits<uint64_t>::max());
  EXPECT_FALSE(parse_name_svn("P:18446744073709551616").ok());
  EXPECT_FALSE(parse_name_svn("P:-1").ok());
  EXPECT_FALSE(parse_name_svn("P:").ok());
  EXPECT_FALSE(parse_name_svn("P:+").ok());
  EXPECT_FALSE(parse_name_svn("P: 1").ok());
  EXPECT_FALSE(parse_name_svn("P:1:2").ok());
  EXPECT_FALSE(parse_name_svn("P").ok());
  EXPECT_TRUE(parse_name_svn(":3").ok());
  EXPECT_FALSE(parse_name_svn(":3", false).ok());
  EXPECT_TRUE(satisfies({"A", 3}, {"A", 2}));
  EXPECT_TRUE(satisfies({"A", 2}, {"A", 2}));
  EXPECT_FALSE(satisfies({"A", 1}, {"A", 2}));
  EXPECT_FALSE(satisfies({"B", 9}, {"A", 2}));
}

}  // namespace
}  // namespace acon::image
