// The report's views: HTML escaping against hostile evidence strings, the SVG graph, and the
// terminal's handling of control characters.
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

#include "acon/report/html.h"
#include "acon/report/report.h"

namespace acon::report {
namespace {

const char* const kHostile[] = {
    "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(1)>",
    "' onmouseover='alert(1)",
    "<a href=\"https://evil.example/\">x</a>",
    "</code></td></tr></table><iframe src=\"//evil.example\">",
    "<svg><foreignObject><body onload=alert(1)>",
    "]]><!-- --><![CDATA[",
    "&lt;already escaped&gt;",
};

TEST(HtmlEscape, LeavesNoMarkupCharacter) {
  for (const char* hostile : kHostile) {
    const std::string out = html_escape(hostile);
    EXPECT_EQ(out.find_first_of("<>\"'"), std::string::npos) << out;
    // Every '&' starts one of the five entities.
    for (size_t at = out.find('&'); at != std::string::npos; at = out.find('&', at + 1)) {
      const std::string rest = out.substr(at);
      EXPECT_TRUE(rest.starts_with("&amp;") || rest.starts_with("&lt;") ||
                  rest.starts_with("&gt;") || rest.starts_with("&quot;") ||
                  rest.starts_with("&#39;"))
          << out;
    }
  }
  EXPECT_EQ(html_escape("a<b & c>'d\""), "a&lt;b &amp; c&gt;&#39;d&quot;");
  EXPECT_EQ(html_escape("&lt;"), "&amp;lt;");
}

TEST(HtmlEscape, ReplacesControlsAndInvalidUtf8) {
  const std::string replacement = "\xEF\xBF\xBD";
  EXPECT_EQ(html_escape(std::string("a\x1b[31mb", 7)), "a" + replacement + "[31mb");
  EXPECT_EQ(html_escape(std::string("\0", 1)), replacement);
  EXPECT_EQ(html_escape("\xC2\x85"), replacement);                // U+0085, a C1 control
  EXPECT_EQ(html_escape("\xFF\xFE"), replacement + replacement);  // not UTF-8
  EXPECT_EQ(html_escape("\xC0\xBC"), replacement + replacement);  // overlong '<'
  EXPECT_EQ(html_escape("tab\tnl\ncr\r"), "tab\tnl\ncr\r");
  EXPECT_EQ(html_escape("Grüße ✓ 𝄞"), "Grüße ✓ 𝄞");
}

// The tags of a page that carry an attribute which could load or run something. Escaped evidence
// is text between tags, so it can contain "href=" without being one.
std::vector<std::string> loading_tags(const std::string& page) {
  static const std::regex tag("<[^>]*>");
  static const std::regex loading(R"((^|\s)(src|href|xlink:href|action|on[a-z]+)\s*=)",
                                  std::regex::icase);
  std::vector<std::string> found;
  for (auto it = std::sregex_iterator(page.begin(), page.end(), tag); it != std::sregex_iterator();
       ++it)
    if (std::regex_search(it->str(), loading)) found.push_back(it->str());
  return found;
}

Json hostile_graph() {
  return {{"nodes",
           {{{"id", "n0"},
             {"image_id", kHostile[0]},
             {"name", kHostile[1]},
             {"signer", kHostile[2]},
             {"logged", true},
             {"policy_known", true},
             {"reject_unaccepted", true},
             {"verdict", {{"acond", kHostile[3]}, {"spec", "accepted"}}},
             {"layer", 0},
             {"row", 0}},
            {{"id", "n1"},
             {"image_id", "sha384/aa/bb"},
             {"name", "Side:1"},
             {"signer", "CN=x"},
             {"logged", false},
             {"policy_known", false},
             {"reject_unaccepted", false},
             {"verdict", nullptr},
             {"layer", 1},
             {"row", 0}}}},
          {"edges",
           {{{"from", "n0"}, {"to", "n1"}, {"kind", "accepts"}, {"rule", kHostile[4]}},
            {{"from", "n1"}, {"to", "n0"}, {"kind", "refuses"}, {"rule", nullptr}},
            {{"from", "n0"}, {"to", "n9"}, {"kind", "accepts"}, {"rule", nullptr}}}}};
}

TEST(LaunchGraphSvg, EscapesAndIsDeterministic) {
  const std::string svg = launch_graph_svg(hostile_graph());
  EXPECT_EQ(svg, launch_graph_svg(hostile_graph()));
  EXPECT_TRUE(svg.starts_with("<svg "));
  EXPECT_EQ(svg.find("<script"), std::string::npos);
  EXPECT_EQ(svg.find("<img"), std::string::npos);
  EXPECT_EQ(svg.find("<iframe"), std::string::npos);
  EXPECT_EQ(svg.find("<foreignObject"), std::string::npos);
  EXPECT_EQ(loading_tags(svg), std::vector<std::string>{});
  // Two nodes, two drawable edges (the one to a missing node is left out), one arrowhead each.
  auto count = [&](const std::string& what) {
    size_t n = 0;
    for (size_t at = svg.find(what); at != std::string::npos; at = svg.find(what, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("<rect "), 2u);
  EXPECT_EQ(count("<g class=\"edge accepts\">"), 1u);
  EXPECT_EQ(count("<g class=\"edge refuses\">"), 1u);
  EXPECT_EQ(count("<polygon "), 2u);
  EXPECT_NE(svg.find("stroke-dasharray=\"6 4\""), std::string::npos);  // refuses: dashed
}

TEST(LaunchGraphSvg, EmptyAndMalformedGraphs) {
  EXPECT_TRUE(launch_graph_svg(Json::object()).starts_with("<svg "));
  EXPECT_TRUE(launch_graph_svg(nullptr).ends_with("</svg>"));
  Json odd = {{"nodes", {{{"id", 5}, {"layer", "x"}}}}, {"edges", "nope"}};
  EXPECT_TRUE(launch_graph_svg(odd).ends_with("</svg>"));
}

Json hostile_model() {
  Json check = {{"name", "replay.rtmr3"}, {"outcome", "fail"}, {"reason", kHostile[0]}};
  Json esc = {{"name", "binding.acon"}, {"outcome", "pass"}, {"reason", "ok \x1b[2J cleared"}};
  return {{"version", 1},
          {"source", kHostile[4]},
          {"policy", {{"id", kHostile[1]}, {"source", "built-in"}}},
          {"verification_time", "2026-01-01T00:00:00Z"},
          {"platform", "tdx"},
          {"simulated", true},
          {"verdict", "rejected"},
          {"status", "contraindicated"},
          {"decided_by",
           {{"claim", "executables"},
            {"value", 96},
            {"rule", "hard rule: replay.rtmr3"},
            {"check", "replay.rtmr3"},
            {"reason", kHostile[2]}}},
          {"result",
           {{"status", "contraindicated"},
            {"explanations", {kHostile[3]}},
            {"checks", {check, esc}},
            {"ear", {{"iss", kHostile[5]}, {"submods", {{kHostile[6], {{"ear.status", "x"}}}}}}}}},
          {"claims",
           {{"acon",
             {{"images",
               {{{"image_id", kHostile[0]},
                 {"signer", kHostile[1]},
                 {"aliases", {{kHostile[2], kHostile[3]}}},
                 {"verdict", {{"acond", "rejected"}, {"spec", kHostile[4]}}},
                 {"provided", true}}}},
              {"runtime_events",
               {{{"register", "rtmr3"},
                 {"proven", false},
                 {"source", kHostile[5]},
                 {"domain", "github.com/intel/ACON"},
                 {"operation", kHostile[0]},
                 {"content", kHostile[1]}}}}}}}},
          {"launch_policy_graph", hostile_graph()},
          {"timeline",
           {{"registers",
             {{{"register", "rtmr3"},
               {"check", "replay.rtmr3"},
               {"outcome", "fail"},
               {"reason", kHostile[6]},
               {"events", 1},
               {"proven", 0},
               {"more", 0},
               {"divergent", nullptr},
               {"rows",
                {{{"number", 1},
                  {"source", kHostile[5]},
                  {"where", kHostile[7]},
                  {"type", kHostile[2]},
                  {"digest", kHostile[1]},
                  {"meaning", kHostile[0]},
                  {"status", "diverges"},
                  {"note", "ok \x1b[2J cleared"}}}}}}},
            {"notes", {kHostile[3]}}}}};
}

TEST(HtmlReport, HostileModelStaysText) {
  const std::string page = html_report(hostile_model());
  EXPECT_TRUE(page.starts_with("<!DOCTYPE html>"));
  for (const char* tag : {"<script", "<img", "<iframe", "<foreignObject", "<a ", "<link"})
    EXPECT_EQ(page.find(tag), std::string::npos) << tag;
  EXPECT_EQ(page.find("\x1b"), std::string::npos);
  // No attribute anywhere loads anything.
  EXPECT_EQ(loading_tags(page), std::vector<std::string>{});
  EXPECT_NE(page.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(page.find("replay diverges here"), std::string::npos);
  EXPECT_NE(page.find("id=\"simulated\""), std::string::npos);
}

TEST(TerminalReport, ColoursOnlyWhenAskedAndNoEscapesFromEvidence) {
  const Json model = hostile_model();
  const std::string plain = terminal_report(model, false);
  EXPECT_EQ(plain.find('\x1b'), std::string::npos);
  EXPECT_NE(plain.find("✗ replay.rtmr3"), std::string::npos);
  EXPECT_NE(plain.find("REJECTED"), std::string::npos);
  EXPECT_NE(plain.find("decided by: check replay.rtmr3"), std::string::npos);
  const std::string coloured = terminal_report(model, true);
  EXPECT_NE(coloured.find("\x1b[31m"), std::string::npos);
  // The only escapes are the report's own colour codes: the evidence's "\x1b[2J" is gone.
  EXPECT_EQ(coloured.find("\x1b[2J"), std::string::npos);
  EXPECT_EQ(terminal_report(Json::object(), false).find('\x1b'), std::string::npos);
}

TEST(BuiltinPolicy, ParsesAndRefusesSimulatedUnlessAllowed) {
  auto strict = builtin_policy(false);
  ASSERT_TRUE(strict) << strict.error().message;
  EXPECT_EQ(strict->id, "acon-verify-strict");
  EXPECT_FALSE(strict->allow_simulated);
  EXPECT_FALSE(strict->allow_debug);
  auto lenient = builtin_policy(true);
  ASSERT_TRUE(lenient);
  EXPECT_TRUE(lenient->allow_simulated);
}

}  // namespace
}  // namespace acon::report
