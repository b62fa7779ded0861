// The manifest's env rules as acond applies them to a Start request (ACON 3430805 semantics).
#include "acon/image/env_rules.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace acon::image {
namespace {

using acon::test::must;
using Strings = std::vector<std::string>;

std::string parse_error(const Strings& env) {
  auto rules = EnvRules::parse(env);
  return rules ? "" : rules.error().message;
}

std::string refusal(const Strings& env, const Strings& requested) {
  auto resolved = must(EnvRules::parse(env)).resolve(requested);
  return resolved ? "" : resolved.error().message;
}

TEST(EnvRules, ParsesBareAndAllowListRules) {
  auto rules = must(EnvRules::parse({"A", "B=1", "B=2", "C=", "D=x=y"}));
  ASSERT_EQ(rules.rules().size(), 4u);
  EXPECT_FALSE(rules.rules().at("A").has_value());
  EXPECT_EQ(*rules.rules().at("B"), (Strings{"1", "2"}));
  EXPECT_EQ(*rules.rules().at("C"), (Strings{""}));
  EXPECT_EQ(*rules.rules().at("D"), (Strings{"x=y"}));  // the first '=' splits
}

TEST(EnvRules, RefusesMixedRepeatedAndNamelessEntriesByIndex) {
  EXPECT_EQ(parse_error({"A", "A=1"}),
            "manifest.env[1]: 'A=1' mixes an allowed value with the bare rule 'A'");
  EXPECT_EQ(parse_error({"X", "A=1", "A"}),
            "manifest.env[2]: bare 'A' repeats or mixes with an earlier rule for A");
  EXPECT_EQ(parse_error({"A", "A"}),
            "manifest.env[1]: bare 'A' repeats or mixes with an earlier rule for A");
  EXPECT_EQ(parse_error({"A=1", "A=2", "A=1"}),
            "manifest.env[2]: 'A=1' repeats an allowed value of A");
  EXPECT_EQ(parse_error({"=x"}), "manifest.env[0]: '=x' has an empty variable name");
  auto problems = env_rule_problems({"A", "A", "=", "B=1", "B=1"});
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_EQ(problems[0].index, 1u);
  EXPECT_EQ(problems[1].index, 2u);
  EXPECT_EQ(problems[2].index, 4u);
}

TEST(EnvRules, DefaultsAreTheFirstAllowedValues) {
  auto rules = must(EnvRules::parse({"Z=last", "A", "B=1", "B=2", "C="}));
  // A bare rule has no default; an empty default sets the variable to "".
  EXPECT_EQ(must(rules.resolve({})), (Strings{"B=1", "C=", "Z=last"}));
}

TEST(EnvRules, RequestsSetDeclaredVariablesToAllowedValues) {
  auto rules = must(EnvRules::parse({"A", "B=1", "B=2"}));
  EXPECT_EQ(must(rules.resolve({"A=anything at all", "B=2"})),
            (Strings{"A=anything at all", "B=2"}));
  EXPECT_EQ(must(rules.resolve({"A="})), (Strings{"A=", "B=1"}));
}

TEST(EnvRules, RefusesUndeclaredDisallowedAndBareRequestEntries) {
  Strings env = {"A", "B=1", "B=2"};
  EXPECT_EQ(refusal(env, {"B=3"}), "B=3 is not in environment array.");
  EXPECT_EQ(refusal(env, {"A=1", "C=1"}), "C=1 is not in environment array.");
  EXPECT_EQ(refusal(env, {"A"}), "Format error of environment array in commandline.");
  EXPECT_EQ(refusal(env, {"A=1", "A=2"}), "Format error of environment array in commandline.");
  EXPECT_EQ(refusal(env, {"=1"}), "=1 is not in environment array.");
  EXPECT_EQ(refusal({}, {"PATH=/bin"}), "PATH=/bin is not in environment array.");
  auto resolved = must(EnvRules::parse(env)).resolve({"B=3"});
  ASSERT_FALSE(resolved.ok());
  EXPECT_EQ(resolved.error().code, Errc::invalid_argument);
}

}  // namespace
}  // namespace acon::image
