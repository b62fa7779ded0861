#include "acon/image/policy.h"

#include <algorithm>
#include <deque>
#include <limits>
#include <unordered_map>
#include <unordered_set>

namespace acon::image {

namespace {

constexpr size_t kNone = std::numeric_limits<size_t>::max();

std::string in_quotes(std::string_view s) { return "'" + std::string(s) + "'"; }

// A rule pre-split the way accept_image() reads it.
struct ParsedRule {
  bool three_fields = false;
  std::string signer;
  std::string target;
  // Signer path with a target other than "*": NAME:SVN, or why it is not one.
  bool target_is_star = false;
  std::optional<NameSvn> want;
  std::string target_problem;
};

ParsedRule parse_rule(std::string_view rule) {
  ParsedRule out;
  auto fields = split(rule, '/');
  if (fields.size() != 3) return out;
  out.three_fields = true;
  out.signer = std::string(fields[1]);
  out.target = std::string(fields[2]);
  out.target_is_star = out.target == "*";
  if (!out.target_is_star) {
    auto parts = split(out.target, ':');
    if (parts.size() != 2) {
      out.target_problem =
          "MANIFEST " + in_quotes(out.target) + " is neither the image's digest, '*' nor NAME:SVN";
    } else if (auto svn = parse_rust_u64(parts[1])) {
      out.want = NameSvn{std::string(parts[0]), *svn};
    } else {
      out.target_problem = "SVN of " + in_quotes(out.target) + " is not an unsigned 64-bit integer";
    }
  }
  return out;
}

// One aliases.self value as accept_image() reads it.
struct ParsedAlias {
  std::optional<NameSvn> value;
  std::string text;
};

std::vector<ParsedAlias> parse_aliases(const std::vector<std::string>& aliases) {
  std::vector<ParsedAlias> out;
  out.reserve(aliases.size());
  for (const auto& a : aliases) {
    ParsedAlias p;
    p.text = a;
    auto parts = split(a, ':');
    if (parts.size() == 2)
      if (auto svn = parse_rust_u64(parts[1])) p.value = NameSvn{std::string(parts[0]), *svn};
    out.push_back(std::move(p));
  }
  return out;
}

// The image side of a match: what a rule is compared with.
struct Target {
  const std::string& signer;
  const std::string& digest;
  const std::vector<ParsedAlias>& aliases;
};

// accept_image()'s body for one rule: no (keep going), yes, or error (stop).
RuleMatch eval_rule(const ParsedRule& rule, const Target& t, std::string* message) {
  if (!rule.three_fields) {
    if (message)
      *message = "Invalid launch policy format: the rule does not have 3 '/'-separated fields";
    return RuleMatch::error;
  }
  if (rule.target == t.digest) return RuleMatch::yes;  // the signer is not compared on this path
  if (rule.signer != t.signer) return RuleMatch::no;
  if (rule.target_is_star) return RuleMatch::yes;
  if (!rule.want) {
    if (message) *message = "Invalid launch policy format: " + rule.target_problem;
    return RuleMatch::error;
  }
  for (const auto& a : t.aliases) {
    if (!a.value) {
      if (message)
        *message = "Invalid manifest alias format: aliases.self value " + in_quotes(a.text) +
                   " is not NAME:SVN";
      return RuleMatch::error;
    }
    if (satisfies(*a.value, *rule.want)) return RuleMatch::yes;
  }
  return RuleMatch::no;
}

// The spec-graph edge for one rule: does it select the image? Rules and aliases that acond would
// stop on simply select nothing here (spec_graph pods only hold validated rules and aliases).
bool rule_selects(const ParsedRule& rule, const Target& t) {
  if (!rule.three_fields) return false;
  if (rule.target == t.digest) return true;
  if (rule.signer != t.signer) return false;
  if (rule.target_is_star) return true;
  if (!rule.want) return false;
  for (const auto& a : t.aliases)
    if (a.value && satisfies(*a.value, *rule.want)) return true;
  return false;
}

RuleMatchResult eval_rules(const std::vector<ParsedRule>& rules, const Target& t) {
  RuleMatchResult out;
  for (size_t i = 0; i < rules.size(); ++i) {
    RuleMatch m = eval_rule(rules[i], t, &out.message);
    if (m != RuleMatch::no) {
      out.match = m;
      out.rule_index = i;
      return out;
    }
  }
  out.message.clear();
  return out;
}

std::string short_id(const std::string& id) {
  // "sha384/7be2e38d…/89d3a2a8…" keeps sentences readable; the full ID is in Refusal::image_id.
  auto parts = split(id, '/');
  if (parts.size() != 3) return id;
  auto cut = [](std::string_view s) {
    return s.size() > 12 ? std::string(s.substr(0, 12)) + "..." : std::string(s);
  };
  return std::string(parts[0]) + "/" + cut(parts[1]) + "/" + cut(parts[2]);
}

}  // namespace

// ---- Rules ---------------------------------------------------------------------------------

PolicyImage policy_image(const ImageIdentity& identity, const Manifest& manifest) {
  PolicyImage out;
  out.identity = identity;
  out.accepts = manifest.policy.accepts;
  out.reject_unaccepted = manifest.policy.reject_unaccepted;
  for (const auto& [object, names] : manifest.aliases.self)
    out.self_aliases.insert(out.self_aliases.end(), names.begin(), names.end());
  return out;
}

Result<PolicyRule> split_policy_rule(std::string_view rule) {
  auto fields = split(rule, '/');
  if (fields.size() != 3)
    return make_error(Errc::parse, "launch policy rule " + in_quotes(rule) + " has " +
                                       std::to_string(fields.size()) +
                                       " '/'-separated fields, expected HASH/SIGNER/MANIFEST");
  return PolicyRule{std::string(fields[0]), std::string(fields[1]), std::string(fields[2])};
}

Status check_policy_rule(std::string_view rule) {
  ACON_TRY(PolicyRule r, split_policy_rule(rule));
  auto fail = [&](const std::string& what) {
    return make_error(Errc::parse, "launch policy rule " + in_quotes(rule) + ": " + what);
  };
  auto alg = acon_hash_from_name(r.hash);
  if (!alg) return fail("HASH must be sha256, sha384 or sha512");
  auto hex_ok = [&](const std::string& s) { return parse_digest_ref(r.hash + "/" + s).ok(); };
  const std::string want_len = std::to_string(hash_size(*alg) * 2);
  if (r.signer != "*" && !hex_ok(r.signer))
    return fail("SIGNER must be '*' or " + want_len + " lower-case hex digits");
  if (r.manifest == "*") {
    if (r.signer == "*")
      return fail("'*/*' never matches: acond matches signer '*' only by digest");
    return {};
  }
  if (r.manifest.find(':') != std::string::npos) {
    auto ns = parse_name_svn(r.manifest, false);
    if (!ns) return fail(ns.error().message);
    if (r.signer == "*") return fail("NAME:SVN with signer '*' never matches in acond");
    return {};
  }
  if (!hex_ok(r.manifest))
    return fail("MANIFEST must be '*', NAME:SVN or " + want_len + " lower-case hex digits");
  return {};
}

RuleMatchResult match_rules(std::span<const std::string> rules, const PolicyImage& image) {
  std::vector<ParsedRule> parsed;
  parsed.reserve(rules.size());
  for (const auto& r : rules) parsed.push_back(parse_rule(r));
  auto aliases = parse_aliases(image.self_aliases);
  return eval_rules(parsed,
                    Target{image.identity.signer_digest, image.identity.manifest_digest, aliases});
}

std::string_view verdict_name(Verdict v) {
  switch (v) {
    case Verdict::accepted:
      return "accepted";
    case Verdict::already_loaded:
      return "already_loaded";
    case Verdict::rejected:
      return "rejected";
    case Verdict::error:
      return "error";
  }
  return "?";
}

// ---- Pod -----------------------------------------------------------------------------------

struct Pod::Index {
  struct Entry {
    PolicyImage image;
    std::string id;
    std::vector<ParsedRule> rules;
    std::vector<ParsedAlias> aliases;
    size_t first_malformed = kNone;  // first rule without 3 fields
    Target target() const {
      return Target{image.identity.signer_digest, image.identity.manifest_digest, aliases};
    }
  };
  using RuleRef = std::pair<size_t, size_t>;  // (image, rule)

  PolicyMode mode;
  std::deque<Entry> images;  // a deque: admitting never moves the loaded entries
  std::unordered_map<std::string, size_t> by_id;
  std::unordered_map<std::string, std::vector<size_t>> by_digest;
  std::unordered_map<std::string, std::vector<size_t>> by_signer;
  std::unordered_map<std::string, std::vector<RuleRef>> rules_by_target;
  std::unordered_map<std::string, std::vector<RuleRef>> rules_by_signer;
  std::vector<size_t> malformed;  // images with a malformed rule, load order
  std::vector<size_t> rejecting;  // load order

  // The candidate, pre-parsed once per check.
  struct Candidate {
    const PolicyImage& image;
    std::string id;
    std::vector<ParsedRule> rules;
    std::vector<ParsedAlias> aliases;
    // Its rules indexed the way loaded images are looked up against them.
    std::unordered_map<std::string, size_t> first_rule_by_target;
    std::unordered_map<std::string, std::vector<size_t>> rules_by_signer;
    size_t first_bad = kNone;  // first rule without 3 fields
    Target target() const {
      return Target{image.identity.signer_digest, image.identity.manifest_digest, aliases};
    }
  };

  template <class Map>
  static const typename Map::mapped_type* lookup(const Map& m, const std::string& key) {
    auto it = m.find(key);
    return it == m.end() ? nullptr : &it->second;
  }

  // First loaded image (load order) whose policy.accepts says yes or errs for the candidate,
  // as acond's accept_incoming_image() finds it; kNone if every loaded image says no.
  // With graph_edges, rules are read as spec-graph edges (rule_selects) and never err.
  std::pair<size_t, RuleMatchResult> first_acceptor(const Candidate& c,
                                                    bool graph_edges = false) const {
    // The three lists are each sorted by (image, rule); merging them lazily visits images in
    // load order and stops at the first deciding one, so a pod where every image names the
    // candidate's signer costs one evaluation, not one per image.
    static const std::vector<RuleRef> kEmpty;
    const std::vector<RuleRef>* by_target =
        lookup(rules_by_target, c.image.identity.manifest_digest);
    const std::vector<RuleRef>* by_signer_rules =
        lookup(rules_by_signer, c.image.identity.signer_digest);
    const std::vector<RuleRef>& a = by_target ? *by_target : kEmpty;
    const std::vector<RuleRef>& b = by_signer_rules ? *by_signer_rules : kEmpty;
    size_t ia = 0, ib = 0, im = 0;
    auto malformed_at = [&](size_t k) {
      return RuleRef{malformed[k], images[malformed[k]].first_malformed};
    };
    Target t = c.target();
    while (ia < a.size() || ib < b.size() || im < malformed.size()) {
      RuleRef next{kNone, kNone};
      if (ia < a.size()) next = std::min(next, a[ia]);
      if (ib < b.size()) next = std::min(next, b[ib]);
      if (im < malformed.size()) next = std::min(next, malformed_at(im));
      if (ia < a.size() && a[ia] == next) ++ia;
      if (ib < b.size() && b[ib] == next) ++ib;
      if (im < malformed.size() && malformed_at(im) == next) ++im;
      std::string msg;
      const ParsedRule& rule = images[next.first].rules[next.second];
      RuleMatch m = graph_edges ? (rule_selects(rule, t) ? RuleMatch::yes : RuleMatch::no)
                                : eval_rule(rule, t, &msg);
      if (m != RuleMatch::no) return {next.first, RuleMatchResult{m, next.second, msg}};
    }
    return {kNone, {}};
  }

  // acond's accept_image(candidate.accepts, loaded image) without scanning the rule list: the
  // deciding rule is the earliest of the first malformed rule (error), the first rule naming the
  // image's digest (yes) and the rules naming its signer (evaluated in order).
  RuleMatchResult candidate_accepts(const Candidate& c, size_t img) const {
    const Entry& e = images[img];
    RuleMatchResult out;
    size_t best = c.first_bad;
    if (best != kNone)
      out = {RuleMatch::error, best,
             "Invalid launch policy format: the rule does not have 3 '/'-separated fields"};
    if (auto it = c.first_rule_by_target.find(e.image.identity.manifest_digest);
        it != c.first_rule_by_target.end() && it->second < best) {
      best = it->second;
      out = {RuleMatch::yes, best, {}};
    }
    if (auto it = c.rules_by_signer.find(e.image.identity.signer_digest);
        it != c.rules_by_signer.end()) {
      Target t = e.target();
      for (size_t r : it->second) {
        if (r >= best) break;
        std::string msg;
        RuleMatch m = eval_rule(c.rules[r], t, &msg);
        if (m != RuleMatch::no) {
          out = {m, r, msg};
          break;
        }
      }
    }
    if (out.match == RuleMatch::no) out = {};
    return out;
  }

  // Loaded images some rule of the candidate names (by digest or signer), in load order.
  std::vector<size_t> named_images(const Candidate& c) const {
    std::vector<size_t> out;
    for (const auto& [target, r] : c.first_rule_by_target)
      if (auto list = lookup(by_digest, target)) out.insert(out.end(), list->begin(), list->end());
    for (const auto& [signer, rs] : c.rules_by_signer)
      if (auto list = lookup(by_signer, signer)) out.insert(out.end(), list->begin(), list->end());
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

  Candidate make_candidate(const PolicyImage& image) const {
    Candidate c{image, image.image_id(), {}, parse_aliases(image.self_aliases), {}, {}, kNone};
    c.rules.reserve(image.accepts.size());
    for (size_t r = 0; r < image.accepts.size(); ++r) {
      c.rules.push_back(parse_rule(image.accepts[r]));
      const ParsedRule& rule = c.rules.back();
      if (!rule.three_fields) {
        if (c.first_bad == kNone) c.first_bad = r;
        continue;
      }
      c.first_rule_by_target.emplace(rule.target, r);  // keeps the first
      c.rules_by_signer[rule.signer].push_back(r);
    }
    return c;
  }

  Admission error_in(const std::string& owner_id, const std::vector<std::string>& accepts,
                     const RuleMatchResult& r, const std::string& other_id) const {
    Refusal f;
    f.image_id = owner_id;
    f.rule_index = r.rule_index;
    f.rule = accepts[r.rule_index];
    f.reason = r.message + " (policy.accepts[" + std::to_string(r.rule_index) + "] " +
               in_quotes(f.rule) + " of image " + short_id(owner_id) + ", matched against image " +
               short_id(other_id) + ")";
    return {Verdict::error, std::move(f)};
  }

  static Admission reject(std::string image_id, std::string reason,
                          std::optional<size_t> rule = std::nullopt, std::string rule_text = {}) {
    return {Verdict::rejected,
            Refusal{std::move(image_id), rule, std::move(rule_text), std::move(reason)}};
  }

  // ---- acond_greedy ----
  Admission check_greedy(const Candidate& c) const {
    const std::string& cid = c.id;
    if (!rejecting.empty()) {
      auto [acceptor, res] = first_acceptor(c);
      if (acceptor == kNone) {
        const std::string& r0 = images[rejecting.front()].id;
        return reject(r0,
                      "loaded image " + short_id(r0) +
                          " has rejectUnaccepted and no loaded image's policy.accepts matches the "
                          "candidate " +
                          short_id(cid));
      }
      if (res.match == RuleMatch::error)
        return error_in(images[acceptor].id, images[acceptor].image.accepts, res, cid);
      if (!c.image.reject_unaccepted) return {Verdict::accepted, std::nullopt};
      // accept_existed_rejecting_images(): the candidate must accept a rejecting image directly.
      // With a malformed rule every image decides (yes or error), so the first rejecting image
      // settles it; otherwise only images a rule names can say yes or error.
      std::vector<size_t> order = c.first_bad != kNone ? rejecting : named_images(c);
      for (size_t img : order) {
        if (!images[img].image.reject_unaccepted) continue;
        RuleMatchResult r = candidate_accepts(c, img);
        if (r.match == RuleMatch::yes) return {Verdict::accepted, std::nullopt};
        if (r.match == RuleMatch::error) return error_in(cid, c.image.accepts, r, images[img].id);
      }
      const std::string& r0 = images[rejecting.front()].id;
      return reject(r0, "the candidate " + short_id(cid) +
                            " has rejectUnaccepted but its policy.accepts matches none of the " +
                            std::to_string(rejecting.size()) +
                            " loaded rejectUnaccepted images (first: " + short_id(r0) +
                            "); acond requires a direct match");
    }
    if (!c.image.reject_unaccepted) return {Verdict::accepted, std::nullopt};
    // accept_all_existed_images(): the candidate must accept every loaded image directly.
    for (size_t img = 0; img < images.size(); ++img) {
      RuleMatchResult r = candidate_accepts(c, img);
      if (r.match == RuleMatch::error) return error_in(cid, c.image.accepts, r, images[img].id);
      if (r.match == RuleMatch::no)
        return reject(images[img].id, "the candidate " + short_id(cid) +
                                          " has rejectUnaccepted and no rule of its policy.accepts "
                                          "matches loaded image " +
                                          short_id(images[img].id) +
                                          "; acond requires a direct match for every loaded image");
    }
    return {Verdict::accepted, std::nullopt};
  }

  // ---- spec_graph ----
  // Visits vertices reachable from `start_rules` (the out-edges of the start vertex) over the
  // loaded images. `stop` ends the search early when it returns true for a visited image.
  template <class Stop>
  std::vector<bool> reach_from(const std::vector<ParsedRule>& start_rules, Stop stop,
                               bool* stopped) const {
    std::vector<bool> seen(images.size(), false);
    std::unordered_set<std::string> expanded;  // rule targets already expanded (edge groups)
    std::deque<size_t> queue;
    *stopped = false;
    auto visit = [&](size_t img) {
      if (seen[img]) return false;
      seen[img] = true;
      queue.push_back(img);
      return stop(img);
    };
    auto expand = [&](const std::vector<ParsedRule>& rules) {
      for (const ParsedRule& rule : rules) {
        if (!rule.three_fields) continue;
        if (expanded.insert("d/" + rule.target).second)
          if (auto list = lookup(by_digest, rule.target))
            for (size_t img : *list)
              if (visit(img)) return true;
        if (rule.signer == "*" || !(rule.target_is_star || rule.want)) continue;
        if (!expanded.insert("s/" + rule.signer + "/" + rule.target).second) continue;
        if (auto list = lookup(by_signer, rule.signer))
          for (size_t img : *list)
            if (rule_selects(rule, images[img].target()) && visit(img)) return true;
      }
      return false;
    };
    if (expand(start_rules)) {
      *stopped = true;
      return seen;
    }
    while (!queue.empty()) {
      size_t img = queue.front();
      queue.pop_front();
      if (expand(images[img].rules)) {
        *stopped = true;
        return seen;
      }
    }
    return seen;
  }

  Admission check_graph_mode(const Candidate& c) const {
    const std::string& cid = c.id;
    for (size_t r = 0; r < c.image.accepts.size(); ++r)
      if (auto st = check_policy_rule(c.image.accepts[r]); !st)
        return {Verdict::error, Refusal{cid, r, c.image.accepts[r], st.error().message}};
    for (const auto& a : c.aliases)
      if (!a.value || a.value->name.empty())
        return {Verdict::error,
                Refusal{cid,
                        std::nullopt,
                        {},
                        "aliases.self value " + in_quotes(a.text) + " is not NAME:SVN"}};
    // The pod is a valid graph (every admission was checked), so only paths to and from the
    // candidate need checking.
    if (!rejecting.empty()) {
      auto [acceptor, res] = first_acceptor(c, /*graph_edges=*/true);
      if (acceptor == kNone) {
        const std::string& r0 = images[rejecting.front()].id;
        return reject(r0, "loaded image " + short_id(r0) +
                              " has rejectUnaccepted and cannot reach the candidate " +
                              short_id(cid) + ": no loaded image's policy.accepts matches it");
      }
      if (!c.image.reject_unaccepted) return {Verdict::accepted, std::nullopt};
      bool stopped = false;
      reach_from(
          c.rules, [&](size_t img) { return images[img].image.reject_unaccepted; }, &stopped);
      if (stopped) return {Verdict::accepted, std::nullopt};
      const std::string& r0 = images[rejecting.front()].id;
      return reject(r0, "the candidate " + short_id(cid) +
                            " has rejectUnaccepted but reaches no loaded rejectUnaccepted image "
                            "through policy.accepts, so it cannot reach " +
                            short_id(r0));
    }
    if (!c.image.reject_unaccepted || images.empty()) return {Verdict::accepted, std::nullopt};
    bool stopped = false;
    auto seen = reach_from(
        c.rules, [](size_t) { return false; }, &stopped);
    for (size_t img = 0; img < images.size(); ++img)
      if (!seen[img])
        return reject(images[img].id, "the candidate " + short_id(cid) +
                                          " has rejectUnaccepted but loaded image " +
                                          short_id(images[img].id) +
                                          " is not reachable from it through policy.accepts");
    return {Verdict::accepted, std::nullopt};
  }

  void add(PolicyImage image) {
    size_t idx = images.size();
    Entry e;
    e.id = image.image_id();
    e.aliases = parse_aliases(image.self_aliases);
    for (size_t r = 0; r < image.accepts.size(); ++r) {
      e.rules.push_back(parse_rule(image.accepts[r]));
      const ParsedRule& rule = e.rules.back();
      if (!rule.three_fields) {
        if (e.first_malformed == kNone) e.first_malformed = r;
        continue;
      }
      rules_by_target[rule.target].emplace_back(idx, r);
      rules_by_signer[rule.signer].emplace_back(idx, r);
    }
    if (e.first_malformed != kNone) malformed.push_back(idx);
    if (image.reject_unaccepted) rejecting.push_back(idx);
    by_id.emplace(e.id, idx);
    by_digest[image.identity.manifest_digest].push_back(idx);
    by_signer[image.identity.signer_digest].push_back(idx);
    e.image = std::move(image);
    images.push_back(std::move(e));
  }
};

Pod::Pod(PolicyMode mode) : index_(std::make_unique<Index>()) { index_->mode = mode; }
Pod::~Pod() = default;
Pod::Pod(Pod&&) noexcept = default;
Pod& Pod::operator=(Pod&&) noexcept = default;
Pod::Pod(const Pod& other) : index_(std::make_unique<Index>(*other.index_)) {}
Pod& Pod::operator=(const Pod& other) {
  if (this != &other) index_ = std::make_unique<Index>(*other.index_);
  return *this;
}

PolicyMode Pod::mode() const { return index_->mode; }
size_t Pod::size() const { return index_->images.size(); }
const PolicyImage& Pod::at(size_t index) const { return index_->images.at(index).image; }

const PolicyImage* Pod::find(std::string_view image_id) const {
  auto it = index_->by_id.find(std::string(image_id));
  return it == index_->by_id.end() ? nullptr : &index_->images[it->second].image;
}

Admission Pod::check(const PolicyImage& image) const {
  auto c = index_->make_candidate(image);
  if (index_->by_id.contains(c.id)) return {Verdict::already_loaded, std::nullopt};
  return index_->mode == PolicyMode::acond_greedy ? index_->check_greedy(c)
                                                  : index_->check_graph_mode(c);
}

Admission Pod::admit(PolicyImage image) {
  Admission a = check(image);
  if (a.verdict == Verdict::accepted) index_->add(std::move(image));
  return a;
}

Admission Pod::check_graph() const {
  const Index& x = *index_;
  if (x.rejecting.empty()) return {Verdict::accepted, std::nullopt};
  // Every image reachable from every rejecting image <=> the first rejecting image R0 reaches
  // all, and every rejecting image reaches R0.
  size_t r0 = x.rejecting.front();
  bool stopped = false;
  auto from_r0 = x.reach_from(
      x.images[r0].rules, [](size_t) { return false; }, &stopped);
  from_r0[r0] = true;
  for (size_t img = 0; img < x.images.size(); ++img)
    if (!from_r0[img])
      return Index::reject(x.images[r0].id, "rejectUnaccepted image " + short_id(x.images[r0].id) +
                                                " cannot reach image " +
                                                short_id(x.images[img].id));
  for (size_t r : x.rejecting) {
    if (r == r0) continue;
    auto seen = x.reach_from(
        x.images[r].rules, [&](size_t img) { return img == r0; }, &stopped);
    if (!stopped)
      return Index::reject(x.images[r].id, "rejectUnaccepted image " + short_id(x.images[r].id) +
                                               " cannot reach image " + short_id(x.images[r0].id));
  }
  return {Verdict::accepted, std::nullopt};
}

}  // namespace acon::image
