// Launch policy: acond's greedy algorithm on its own test cases (pod.rs), the spec's graph rule,
// the cases where they differ, explanations, and randomised cross-checks of the incremental graph
// check against a brute-force reachability computation.
#include "acon/image/policy.h"

#include <gtest/gtest.h>

#include <random>

#include "acon/common/hash.h"
#include "acon/common/json.h"
#include "acond_reference.h"
#include "test_util.h"

namespace acon::image {
namespace {

std::string hex256(std::string_view seed) { return hex_encode(sha256(as_bytes(seed))); }

PolicyImage image(std::string signer, std::string digest, std::vector<std::string> accepts = {},
                  bool reject = false, std::vector<std::string> aliases = {}) {
  PolicyImage p;
  p.identity = {HashAlg::sha256, std::move(signer), std::move(digest)};
  p.accepts = std::move(accepts);
  p.reject_unaccepted = reject;
  p.self_aliases = std::move(aliases);
  return p;
}

// acond's pod.rs fixtures: build_image() and build_target_image().
const std::string kSigner = "b6191c33376247a10b0e93f04039e6dacb2493184cdf4baeaed1d2f633e00b8c";
const std::string kPodDigest = "6ab828a50a33f5a21c93e02ecc3d4085af1c0491cec40a80a8b95949871474bf";
const std::string kTargetDigest =
    "34ffdfcaa731a731d163006ce882eb996b166c221e21502d96ed3eb0566295be";
const std::vector<std::string> kFixtureAliases = {"SomeProduct:2", "SomeProduct:1",
                                                  "SomeProduct:0"};

PolicyImage build_image() { return image(kSigner, kPodDigest, {}, true, kFixtureAliases); }
PolicyImage build_target_image() {
  return image(kSigner, kTargetDigest, {}, true, kFixtureAliases);
}

// ---- policy_vectors.json (test_is_manifest_accepted_001..011) ------------------------------

struct VectorOutcome {
  const char* name;
  bool strict_expect;
  const char* why;  // the graph-rule reasoning for the strict expectation
};

// The spec's graph rule gives the same answers as acond on all eleven cases.
const VectorOutcome kStrict[] = {
    {"001", true, "no rejectUnaccepted image: any graph is valid"},
    {"002", true, "T alone reaches itself"},
    {"003", true, "no rejectUnaccepted image"},
    {"004", false, "P rejects unaccepted and has no edge to T"},
    {"005", false, "P rejects unaccepted and has no edge to T"},
    {"006", false, "T rejects unaccepted and cannot reach P"},
    {"007", false, "T->P, but rejecting P cannot reach T"},
    {"008", false, "P->T, but rejecting T cannot reach P"},
    {"009", true, "P->T and T does not reject"},
    {"010", true, "T->P and P does not reject"},
    {"011", true, "P<->T"},
};

TEST(PolicyVectors, AcondCasesInBothModes) {
  auto doc = parse_json(test::read_data("acon/policy_vectors.json"));
  ASSERT_TRUE(doc.ok()) << doc.error().message;
  const Json& cases = (*doc)["cases"];
  ASSERT_EQ(cases.size(), 11u);
  for (size_t n = 0; n < cases.size(); ++n) {
    const Json& c = cases[n];
    std::string name = c["name"].get<std::string>();
    ASSERT_EQ(name, kStrict[n].name);
    PolicyImage target = build_target_image();
    std::vector<PolicyImage> pod_images;
    for (size_t i = 0; i < c["pod"].size(); ++i) {
      PolicyImage p = build_image();
      // Distinct loaded images need distinct IDs (acond's case 003 loads one ID twice).
      if (i > 0) p.identity.manifest_digest = hex256("pod" + std::to_string(i));
      pod_images.push_back(p);
    }
    auto resolve = [&](const Json& accepts) {
      std::vector<std::string> out;
      for (const auto& a : accepts) {
        std::string s = a.get<std::string>();
        if (s == "target")
          out.push_back(target.image_id());
        else if (s == "pod[0]")
          out.push_back(pod_images.at(0).image_id());
        else
          out.push_back("sha256/" + hex256("unrelated signer") + "/" + hex256("unrelated image"));
      }
      return out;
    };
    for (size_t i = 0; i < pod_images.size(); ++i) {
      pod_images[i].reject_unaccepted = c["pod"][i]["rejectUnaccepted"].get<bool>();
      pod_images[i].accepts = resolve(c["pod"][i]["accepts"]);
    }
    target.reject_unaccepted = c["target"]["rejectUnaccepted"].get<bool>();
    target.accepts = resolve(c["target"]["accepts"]);

    for (PolicyMode mode : {PolicyMode::acond_greedy, PolicyMode::spec_graph}) {
      Pod pod(mode);
      for (const auto& p : pod_images) ASSERT_TRUE(pod.admit(p).admitted()) << name;
      Admission a = pod.check(target);
      bool expect =
          mode == PolicyMode::acond_greedy ? c["expect"].get<bool>() : kStrict[n].strict_expect;
      EXPECT_EQ(a.admitted(), expect)
          << "case " << name << " mode " << static_cast<int>(mode)
          << (mode == PolicyMode::spec_graph ? std::string(": ") + kStrict[n].why : "");
      if (!a.admitted()) {
        EXPECT_EQ(a.verdict, Verdict::rejected);
        ASSERT_TRUE(a.refusal.has_value());
        EXPECT_FALSE(a.refusal->reason.empty());
        EXPECT_NE(pod.find(a.refusal->image_id), nullptr) << "refusal names a loaded image";
      }
    }
  }
}

// ---- accept_image (test_accept_image_01..07) ------------------------------------------------

const std::string k6b = "6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b";

TEST(AcceptImage, Acond01TwoFieldsIsError) {
  auto r = match_rules(std::vector<std::string>{"sha256/" + k6b}, build_image());
  EXPECT_EQ(r.match, RuleMatch::error);
  EXPECT_NE(r.message.find("Invalid launch policy format"), std::string::npos);
}
TEST(AcceptImage, Acond02SignerMatchWithoutSvnIsError) {
  PolicyImage img = build_image();
  img.identity.signer_digest = k6b;
  EXPECT_EQ(match_rules(std::vector<std::string>{"sha256/" + k6b + "/Product"}, img).match,
            RuleMatch::error);
}
TEST(AcceptImage, Acond03MalformedImageAliasIsError) {
  PolicyImage img = build_image();
  img.identity.signer_digest = k6b;
  img.self_aliases = {"Product"};
  auto r = match_rules(std::vector<std::string>{"sha256/" + k6b + "/Product:1"}, img);
  EXPECT_EQ(r.match, RuleMatch::error);
  EXPECT_NE(r.message.find("Invalid manifest alias format"), std::string::npos);
}
TEST(AcceptImage, Acond04DigestPathIgnoresSigner) {
  PolicyImage img = build_image();
  img.identity.manifest_digest = k6b;
  EXPECT_EQ(match_rules(std::vector<std::string>{"sha256/*/" + k6b}, img).match, RuleMatch::yes);
}
TEST(AcceptImage, Acond05SignerStar) {
  PolicyImage img = build_image();
  img.identity.signer_digest = k6b;
  EXPECT_EQ(match_rules(std::vector<std::string>{"sha256/" + k6b + "/*"}, img).match,
            RuleMatch::yes);
}
TEST(AcceptImage, Acond06LowerSvnDoesNotMatch) {
  PolicyImage img = build_image();
  img.identity.signer_digest = k6b;
  img.self_aliases = {"Product:0"};
  EXPECT_EQ(match_rules(std::vector<std::string>{"sha256/" + k6b + "/Product:1"}, img).match,
            RuleMatch::no);
}
TEST(AcceptImage, Acond07AnyAliasWithHighEnoughSvn) {
  PolicyImage img = build_image();
  img.identity.signer_digest = k6b;
  img.self_aliases = {"Product:0", "Product:1"};
  auto r = match_rules(std::vector<std::string>{"sha256/" + k6b + "/Product:1"}, img);
  EXPECT_EQ(r.match, RuleMatch::yes);
  EXPECT_EQ(r.rule_index, 0u);
}

TEST(AcceptImage, MoreRuleSemantics) {
  PolicyImage img = image(kSigner, kPodDigest, {}, false, {"App:5"});
  auto m = [&](std::vector<std::string> rules) { return match_rules(rules, img).match; };
  // The hash field is ignored.
  EXPECT_EQ(m({"sha512/" + kSigner + "/*"}), RuleMatch::yes);
  EXPECT_EQ(m({"anything/" + kSigner + "/App:5"}), RuleMatch::yes);
  // Signer '*' matches only through the digest path.
  EXPECT_EQ(m({"sha256/*/*"}), RuleMatch::no);
  EXPECT_EQ(m({"sha256/*/App:1"}), RuleMatch::no);
  EXPECT_EQ(m({"sha256/*/" + kPodDigest}), RuleMatch::yes);
  // Another signer's rule with a digest of another image: no match, no error.
  EXPECT_EQ(m({"sha256/" + k6b + "/" + k6b}), RuleMatch::no);
  // Same signer, digest of another image: acond cannot split it as NAME:SVN -> error.
  EXPECT_EQ(m({"sha256/" + kSigner + "/" + k6b}), RuleMatch::error);
  // The first deciding rule wins: a match before a malformed rule, an error before a match.
  EXPECT_EQ(m({"sha256/" + kSigner + "/*", "bad"}), RuleMatch::yes);
  EXPECT_EQ(m({"bad", "sha256/" + kSigner + "/*"}), RuleMatch::error);
  // SVN comparison is >= on u64, Rust's parse (leading '+', no '-').
  EXPECT_EQ(m({"sha256/" + kSigner + "/App:+5"}), RuleMatch::yes);
  EXPECT_EQ(m({"sha256/" + kSigner + "/App:6"}), RuleMatch::no);
  EXPECT_EQ(m({"sha256/" + kSigner + "/App:-1"}), RuleMatch::error);
  EXPECT_EQ(m({"sha256/" + kSigner + "/Other:0"}), RuleMatch::no);
  EXPECT_EQ(m({}), RuleMatch::no);
  // Empty fields split into three.
  EXPECT_EQ(m({"//"}), RuleMatch::no);
}

TEST(PolicyRules, StrictSyntax) {
  std::string s(64, 'a');
  EXPECT_TRUE(check_policy_rule("sha256/" + s + "/*").ok());
  EXPECT_TRUE(check_policy_rule("sha256/" + s + "/App:0").ok());
  EXPECT_TRUE(check_policy_rule("sha256/*/" + s).ok());
  EXPECT_TRUE(check_policy_rule("sha256/" + s + "/" + s).ok());
  EXPECT_FALSE(check_policy_rule("sha256/*/*").ok());
  EXPECT_FALSE(check_policy_rule("sha256/*/App:1").ok());
  EXPECT_FALSE(check_policy_rule("sha384/" + s + "/*").ok());  // 64 digits is not sha384
  EXPECT_FALSE(check_policy_rule("sha256/" + s + "/:1").ok());
  EXPECT_FALSE(check_policy_rule("sha256/" + s + "/App").ok());
  EXPECT_FALSE(check_policy_rule("sha1/" + s + "/*").ok());
  EXPECT_FALSE(check_policy_rule("sha256/" + s + "/*/x").ok());
  auto r = split_policy_rule("a/b/c");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->hash, "a");
  EXPECT_EQ(r->signer, "b");
  EXPECT_EQ(r->manifest, "c");
}

// ---- Pod behaviour ---------------------------------------------------------------------------

TEST(Pod, AlreadyLoadedIsIdempotent) {
  for (PolicyMode mode : {PolicyMode::acond_greedy, PolicyMode::spec_graph}) {
    Pod pod(mode);
    PolicyImage r = image(kSigner, kPodDigest, {}, true);
    ASSERT_EQ(pod.admit(r).verdict, Verdict::accepted);
    // Another image is refused, but re-adding the loaded one is fine (no policy check).
    EXPECT_EQ(pod.admit(image(k6b, k6b)).verdict, Verdict::rejected);
    EXPECT_EQ(pod.admit(r).verdict, Verdict::already_loaded);
    EXPECT_EQ(pod.size(), 1u);
    EXPECT_EQ(pod.at(0).image_id(), r.image_id());
  }
}

TEST(Pod, GreedyErrorsNameTheRule) {
  Pod pod;
  PolicyImage p = image(hex256("s1"), hex256("p"), {"sha256/x", "sha256/*/*"});
  PolicyImage r = image(hex256("s1"), hex256("r"), {p.image_id()}, true);
  ASSERT_EQ(pod.admit(p).verdict, Verdict::accepted);  // no rejecting image: rules unused
  ASSERT_EQ(pod.admit(r).verdict, Verdict::accepted);  // r accepts p directly
  Admission a = pod.check(image(hex256("s2"), hex256("n")));
  ASSERT_EQ(a.verdict, Verdict::error);
  ASSERT_TRUE(a.refusal.has_value());
  EXPECT_EQ(a.refusal->image_id, p.image_id());
  EXPECT_EQ(a.refusal->rule_index, 0u);
  EXPECT_EQ(a.refusal->rule, "sha256/x");
  EXPECT_NE(a.refusal->reason.find("Invalid launch policy format"), std::string::npos);
  EXPECT_EQ(pod.size(), 2u);
}

TEST(Pod, GreedyLoadOrderDecidesBetweenErrorAndAccept) {
  // acond iterates a HashMap; we use load order. A loaded acceptor before the image with the
  // malformed rule admits the candidate; after it, the malformed rule is reached first: error.
  PolicyImage cand = image(hex256("s2"), hex256("n"));
  PolicyImage bad = image(hex256("s1"), hex256("bad"), {"malformed"});
  PolicyImage good = image(hex256("s1"), hex256("good"), {cand.image_id(), bad.image_id()}, true);
  Pod good_first;
  ASSERT_TRUE(good_first.admit(good).admitted());
  ASSERT_TRUE(good_first.admit(bad).admitted());
  EXPECT_EQ(good_first.check(cand).verdict, Verdict::accepted);
  Pod bad_first;
  ASSERT_TRUE(bad_first.admit(bad).admitted());
  ASSERT_TRUE(bad_first.admit(good).admitted());
  Admission a = bad_first.check(cand);
  EXPECT_EQ(a.verdict, Verdict::error);
  EXPECT_EQ(a.refusal->image_id, bad.image_id());
  EXPECT_EQ(a.refusal->rule, "malformed");
}

TEST(Pod, SameSignerOtherDigestRuleIsAnErrorInGreedyAndARejectionInStrict) {
  const std::string s = hex256("vendor");
  PolicyImage r = image(s, hex256("r"), {"sha256/" + s + "/" + hex256("d1")}, true);
  PolicyImage n = image(s, hex256("d2"));
  Pod greedy(PolicyMode::acond_greedy), strict(PolicyMode::spec_graph);
  ASSERT_TRUE(greedy.admit(r).admitted());
  ASSERT_TRUE(strict.admit(r).admitted());
  Admission g = greedy.check(n);
  EXPECT_EQ(g.verdict, Verdict::error);
  EXPECT_NE(g.refusal->reason.find("neither the image's digest"), std::string::npos)
      << g.refusal->reason;
  Admission st = strict.check(n);
  EXPECT_EQ(st.verdict, Verdict::rejected);
  EXPECT_EQ(st.refusal->image_id, r.image_id());
}

TEST(Pod, CandidateAliasErrors) {
  const std::string s = hex256("vendor");
  PolicyImage r = image(s, hex256("r"), {"sha256/" + s + "/App:1"}, true);
  PolicyImage n = image(s, hex256("n"), {}, false, {"App"});
  Pod greedy;
  ASSERT_TRUE(greedy.admit(r).admitted());
  Admission a = greedy.check(n);
  EXPECT_EQ(a.verdict, Verdict::error);
  EXPECT_EQ(a.refusal->image_id, r.image_id());
  EXPECT_NE(a.refusal->reason.find("Invalid manifest alias format"), std::string::npos);
  Pod strict(PolicyMode::spec_graph);
  ASSERT_TRUE(strict.admit(r).admitted());
  a = strict.check(n);
  EXPECT_EQ(a.verdict, Verdict::error);
  EXPECT_EQ(a.refusal->image_id, n.image_id());
  // Strict mode checks the candidate's own rules before anything else.
  PolicyImage sloppy = image(s, hex256("m"), {"sha256/" + s + "/App"}, false, {"App:2"});
  a = strict.check(sloppy);
  EXPECT_EQ(a.verdict, Verdict::error);
  EXPECT_EQ(a.refusal->rule_index, 0u);
  EXPECT_TRUE(Pod(PolicyMode::acond_greedy).check(sloppy).admitted());  // acond never reads it
}

TEST(Pod, SvnRulesAdmitNewerVersions) {
  const std::string vendor = hex256("vendor");
  PolicyImage r = image(hex256("owner"), hex256("r"), {"sha256/" + vendor + "/Lib:2"}, true);
  for (PolicyMode mode : {PolicyMode::acond_greedy, PolicyMode::spec_graph}) {
    Pod pod(mode);
    ASSERT_TRUE(pod.admit(r).admitted());
    EXPECT_FALSE(pod.check(image(vendor, hex256("v1"), {}, false, {"Lib:1"})).admitted());
    EXPECT_TRUE(pod.check(image(vendor, hex256("v3"), {}, false, {"Lib:3"})).admitted());
    EXPECT_FALSE(pod.check(image(hex256("other"), hex256("o3"), {}, false, {"Lib:3"})).admitted());
  }
}

// ---- Where the modes differ -----------------------------------------------------------------

TEST(PolicyModes, TransitiveReachToARejectingImage) {
  // R (rejecting) accepts A and T; A accepts R. T (rejecting) accepts only A.
  // acond wants T to accept a rejecting image directly; the graph rule is satisfied via T->A->R.
  PolicyImage t_probe = image(hex256("st"), hex256("t"));
  PolicyImage a = image(hex256("sa"), hex256("a"));
  PolicyImage r = image(hex256("sr"), hex256("r"), {a.image_id(), t_probe.image_id()}, true);
  a.accepts = {r.image_id()};
  PolicyImage t = image(hex256("st"), hex256("t"), {a.image_id()}, true);
  Pod greedy(PolicyMode::acond_greedy), strict(PolicyMode::spec_graph);
  for (Pod* pod : {&greedy, &strict}) {
    ASSERT_TRUE(pod->admit(r).admitted());
    ASSERT_TRUE(pod->admit(a).admitted());
  }
  Admission g = greedy.check(t);
  EXPECT_EQ(g.verdict, Verdict::rejected);
  EXPECT_EQ(g.refusal->image_id, r.image_id());
  EXPECT_NE(g.refusal->reason.find("direct match"), std::string::npos);
  EXPECT_EQ(strict.admit(t).verdict, Verdict::accepted);
  EXPECT_EQ(strict.check_graph().verdict, Verdict::accepted);
}

TEST(PolicyModes, RejectingNewcomerReachesEveryoneTransitively) {
  // No rejecting image loaded; T (rejecting) accepts A, A accepts B.
  PolicyImage b = image(hex256("sb"), hex256("b"));
  PolicyImage a = image(hex256("sa"), hex256("a"), {b.image_id()});
  PolicyImage t = image(hex256("st"), hex256("t"), {a.image_id()}, true);
  Pod greedy(PolicyMode::acond_greedy), strict(PolicyMode::spec_graph);
  for (Pod* pod : {&greedy, &strict}) {
    ASSERT_TRUE(pod->admit(a).admitted());
    ASSERT_TRUE(pod->admit(b).admitted());
  }
  Admission g = greedy.check(t);
  EXPECT_EQ(g.verdict, Verdict::rejected);
  EXPECT_EQ(g.refusal->image_id, b.image_id());  // the loaded image T does not accept
  EXPECT_TRUE(strict.check(t).admitted());
  // Without A's edge to B, the graph rule refuses too and names B.
  PolicyImage a2 = image(hex256("sa"), hex256("a2"));
  PolicyImage t2 = image(hex256("st"), hex256("t2"), {a2.image_id()}, true);
  Pod strict2(PolicyMode::spec_graph);
  ASSERT_TRUE(strict2.admit(a2).admitted());
  ASSERT_TRUE(strict2.admit(b).admitted());
  Admission s2 = strict2.check(t2);
  EXPECT_EQ(s2.verdict, Verdict::rejected);
  EXPECT_EQ(s2.refusal->image_id, b.image_id());
  EXPECT_NE(s2.refusal->reason.find("not reachable"), std::string::npos);
}

// ---- Randomised cross-checks ------------------------------------------------------------------

struct RandomWorld {
  std::mt19937_64 rng;
  std::vector<std::string> signers;
  std::vector<PolicyImage> made;

  explicit RandomWorld(uint64_t seed) : rng(seed) {
    for (int i = 0; i < 5; ++i) signers.push_back(hex256("signer" + std::to_string(i)));
  }
  size_t pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); }

  PolicyImage next() {
    PolicyImage p =
        image(signers[pick(signers.size())], hex256("img" + std::to_string(made.size())));
    p.reject_unaccepted = pick(3) == 0;
    p.self_aliases = {"P" + std::to_string(pick(3)) + ":" + std::to_string(pick(4))};
    size_t rules = pick(4);
    for (size_t k = 0; k < rules; ++k) {
      switch (pick(4)) {
        case 0:
          if (!made.empty()) {
            const auto& other = made[pick(made.size())];
            p.accepts.push_back("sha256/" +
                                (pick(2) ? std::string("*") : other.identity.signer_digest) + "/" +
                                other.identity.manifest_digest);
            break;
          }
          [[fallthrough]];
        case 1:
          p.accepts.push_back("sha256/" + signers[pick(signers.size())] + "/*");
          break;
        default:
          p.accepts.push_back("sha256/" + signers[pick(signers.size())] + "/P" +
                              std::to_string(pick(3)) + ":" + std::to_string(pick(4)));
      }
    }
    made.push_back(p);
    return p;
  }
};

TEST(PolicyRandom, StrictAdmissionEqualsBruteForceGraphCheck) {
  size_t admitted = 0, refused = 0;
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    RandomWorld w(seed);
    Pod strict(PolicyMode::spec_graph);
    std::vector<PolicyImage> loaded;
    for (int step = 0; step < 25; ++step) {
      PolicyImage cand = w.next();
      std::vector<PolicyImage> would = loaded;
      would.push_back(cand);
      bool expect = reference::graph_valid(would);
      Admission a = strict.admit(cand);
      ASSERT_NE(a.verdict, Verdict::error) << a.refusal->reason;
      ASSERT_EQ(a.admitted(), expect) << "seed " << seed << " step " << step;
      if (a.admitted()) loaded.push_back(cand);
      ++(a.admitted() ? admitted : refused);
      ASSERT_EQ(strict.check_graph().verdict, Verdict::accepted);
    }
  }
  EXPECT_GT(admitted, 100u);
  EXPECT_GT(refused, 100u);
}

TEST(PolicyRandom, GreedyAdmissionsNeverBreakTheGraphRule) {
  // acond's algorithm is sound for the spec's rule (never admits an image the graph rule
  // refuses), only incomplete: every greedy admission keeps the pod graph valid.
  size_t greedy_refused_strict_admits = 0;
  for (uint64_t seed = 100; seed < 160; ++seed) {
    RandomWorld w(seed);
    Pod greedy(PolicyMode::acond_greedy);
    std::vector<PolicyImage> loaded;
    for (int step = 0; step < 25; ++step) {
      PolicyImage cand = w.next();
      std::vector<PolicyImage> would = loaded;
      would.push_back(cand);
      bool strict_ok = reference::graph_valid(would);
      Admission a = greedy.admit(cand);
      if (a.admitted()) {
        ASSERT_TRUE(strict_ok) << "seed " << seed << " step " << step;
        loaded.push_back(cand);
      } else if (strict_ok) {
        ++greedy_refused_strict_admits;
      }
      ASSERT_EQ(greedy.check_graph().verdict, Verdict::accepted);
    }
  }
  EXPECT_GT(greedy_refused_strict_admits, 0u);  // the modes do differ on random pods
}

TEST(PolicyRandom, IndexedGreedyEqualsDirectTranscription) {
  // A line-by-line transcription of acond's is_manifest_accepted() over match_rules(), in load
  // order, compared with the indexed Pod on random pods that include malformed rules.
  using reference::acond_is_manifest_accepted;
  size_t errors = 0;
  for (uint64_t seed = 500; seed < 620; ++seed) {
    RandomWorld w(seed);
    Pod greedy;
    std::vector<PolicyImage> loaded;
    for (int step = 0; step < 20; ++step) {
      PolicyImage cand = w.next();
      switch (w.pick(8)) {  // sprinkle acond's error cases
        case 0:
          cand.accepts.insert(
              cand.accepts.begin() + static_cast<long>(w.pick(cand.accepts.size() + 1)), "bad");
          break;
        case 1:
          cand.accepts.push_back("sha256/" + w.signers[w.pick(w.signers.size())] + "/" +
                                 hex256("x"));
          break;
        case 2:
          cand.self_aliases.push_back("NoSvn");
          break;
        default:
          break;
      }
      Verdict want = acond_is_manifest_accepted(loaded, cand);
      errors += want == Verdict::error;
      Admission a = greedy.admit(cand);
      ASSERT_EQ(a.verdict, want) << "seed " << seed << " step " << step;
      if (a.admitted()) loaded.push_back(cand);
    }
  }
  EXPECT_GT(errors, 0u);
}

TEST(PolicyScale, ThousandImagePodsAdmitConsistently) {
  // 1,000 images of one vendor, each accepting the vendor's '*' and rejecting unaccepted, plus
  // unrelated accepts: every admission stays indexed; the last one is checked in both modes.
  const std::string vendor = hex256("vendor");
  for (PolicyMode mode : {PolicyMode::acond_greedy, PolicyMode::spec_graph}) {
    Pod pod(mode);
    for (int i = 0; i < 1000; ++i) {
      PolicyImage p = image(vendor, hex256("i" + std::to_string(i)),
                            {"sha256/" + vendor + "/*", "sha256/*/" + hex256("nothing")},
                            i % 2 == 0, {"App:" + std::to_string(i)});
      ASSERT_TRUE(pod.admit(p).admitted()) << i;
    }
    EXPECT_EQ(pod.size(), 1000u);
    EXPECT_TRUE(
        pod.check(image(vendor, hex256("new"), {"sha256/" + vendor + "/*"}, true)).admitted());
    EXPECT_FALSE(pod.check(image(hex256("stranger"), hex256("s"))).admitted());
    EXPECT_EQ(pod.check_graph().verdict, Verdict::accepted);
  }
}

}  // namespace
}  // namespace acon::image
