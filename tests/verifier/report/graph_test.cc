// The launch-policy graph from provided images and the logged image list: nodes in log order then
// unlogged provided images, edges by acond's rule matcher, layers by breadth-first depth.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>

#include "acon/report/report.h"
#include "image/signed_images.h"

namespace acon::report {
namespace {

using test::app_manifest;
using test::layer_digest;

appraisal::ProvidedImage provided(const test::SignedImage& image, std::string name) {
  return {std::move(name), to_bytes(image.manifest), image.signature, image.certificate};
}

TEST(LaunchPolicyGraph, EdgesFollowTheRuleMatcher) {
  const test::ImageSigner signer = test::load_image_signer("p384");
  // B: a rule acond cannot parse. A: accepts exactly B. C: rejects what it does not accept
  // (nothing), never loaded.
  const test::SignedImage b =
      test::sign_image(signer, app_manifest({layer_digest("b")}, {"not-a-rule"}, false));
  const test::SignedImage a =
      test::sign_image(signer, app_manifest({layer_digest("a")}, {b.image_id}, false));
  const test::SignedImage c = test::sign_image(signer, app_manifest({layer_digest("c")}, {}, true));
  appraisal::Evidence evidence;
  evidence.images = {provided(c, "2"), provided(b, "1"), provided(a, "0")};
  // An image whose certificate is not one: no policy, no node of its own.
  evidence.images.push_back({"junk", to_bytes("{}"), {}, to_bytes("not DER")});
  const Json logged = Json::array(
      {{{"image_id", a.image_id}, {"signer", "CN=a"}, {"verdict", {{"acond", "accepted"}}}},
       {{"image_id", b.image_id}, {"signer", "CN=b"}, {"verdict", {{"acond", "accepted"}}}},
       {{"image_id", a.image_id}, {"signer", "CN=a"}}});  // logged twice: one node

  const Json graph = launch_policy_graph(evidence, logged);
  ASSERT_EQ(graph["nodes"].size(), 3u) << graph.dump(2);
  EXPECT_EQ(graph["nodes"][0]["image_id"], a.image_id);
  EXPECT_EQ(graph["nodes"][1]["image_id"], b.image_id);
  EXPECT_EQ(graph["nodes"][2]["image_id"], c.image_id);
  EXPECT_EQ(graph["nodes"][0]["logged"], true);
  EXPECT_EQ(graph["nodes"][2]["logged"], false);
  EXPECT_EQ(graph["nodes"][2]["reject_unaccepted"], true);

  std::map<std::pair<std::string, std::string>, Json> edges;
  for (const Json& edge : graph["edges"])
    edges[{edge["from"].get<std::string>(), edge["to"].get<std::string>()}] = edge;
  ASSERT_EQ(edges.size(), 6u) << graph.dump(2);
  auto edge = [&edges](const char* from, const char* to) { return edges[{from, to}]; };
  EXPECT_EQ(edge("n0", "n1")["kind"], "accepts");
  EXPECT_EQ(edge("n0", "n1")["rule"], b.image_id);
  EXPECT_EQ(edge("n1", "n0")["kind"], "error");
  EXPECT_EQ(edge("n1", "n0")["rule"], "not-a-rule");
  EXPECT_EQ(edge("n1", "n2")["kind"], "error");
  EXPECT_EQ(edge("n2", "n0")["kind"], "refuses");
  EXPECT_EQ(edge("n2", "n1")["kind"], "refuses");
  // A's rule names B's manifest digest; against C (same signer, another digest) acond reads the
  // digest as NAME:SVN and fails: the matcher reproduces that error.
  EXPECT_EQ(edge("n0", "n2")["kind"], "error");

  // Layers: A and C are accepted by nobody (columns 0, rows 0 and 1); B is accepted by A.
  EXPECT_EQ(graph["nodes"][0]["layer"], 0);
  EXPECT_EQ(graph["nodes"][1]["layer"], 1);
  EXPECT_EQ(graph["nodes"][2]["layer"], 0);
  EXPECT_EQ(graph["nodes"][2]["row"], 1);
  // Deterministic.
  EXPECT_EQ(launch_policy_graph(evidence, logged), graph);
}

TEST(LaunchPolicyGraph, LoggedImagesWithoutManifestsAreNodesWithoutEdges) {
  const Json logged = Json::array({{{"image_id", "sha384/aa/bb"}}, {{"image_id", "sha384/aa/cc"}}});
  const Json graph = launch_policy_graph(appraisal::Evidence{}, logged);
  ASSERT_EQ(graph["nodes"].size(), 2u);
  EXPECT_EQ(graph["nodes"][0]["policy_known"], false);
  EXPECT_TRUE(graph["edges"].empty());
  EXPECT_EQ(graph["nodes"][1]["layer"], 0);
  EXPECT_EQ(graph["nodes"][1]["row"], 1);
  EXPECT_TRUE(launch_policy_graph(appraisal::Evidence{}, nullptr)["nodes"].empty());
}

}  // namespace
}  // namespace acon::report
