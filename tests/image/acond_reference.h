// Reference answers for launch-policy admission, written for clarity rather than speed, that
// policy_test.cc and fuzz/image/policy_rule_fuzz.cc compare the indexed Pod against.
#pragma once

#include <deque>
#include <string>
#include <vector>

#include "acon/image/policy.h"

namespace acon::image::reference {

// A line-by-line transcription of acond's is_manifest_accepted() over match_rules(): the verdict
// for candidate `n` given the images already loaded, in load order.
inline Verdict acond_is_manifest_accepted(const std::vector<PolicyImage>& pod,
                                          const PolicyImage& n) {
  bool any_rejecting = false;
  for (const auto& i : pod) any_rejecting |= i.reject_unaccepted;
  if (any_rejecting) {
    bool accepted = false;
    for (const auto& i : pod) {
      auto r = match_rules(i.accepts, n);
      if (r.match == RuleMatch::error) return Verdict::error;
      if (r.match == RuleMatch::yes) {
        accepted = true;
        break;
      }
    }
    if (!accepted) return Verdict::rejected;
    if (!n.reject_unaccepted) return Verdict::accepted;
    for (const auto& i : pod) {
      if (!i.reject_unaccepted) continue;
      auto r = match_rules(n.accepts, i);
      if (r.match == RuleMatch::error) return Verdict::error;
      if (r.match == RuleMatch::yes) return Verdict::accepted;
    }
    return Verdict::rejected;
  }
  if (!n.reject_unaccepted) return Verdict::accepted;
  for (const auto& i : pod) {
    auto r = match_rules(n.accepts, i);
    if (r.match == RuleMatch::error) return Verdict::error;
    if (r.match == RuleMatch::no) return Verdict::rejected;
  }
  return Verdict::accepted;
}

// An edge i->j of the spec's graph: one rule of i alone matches j (match_rules on that rule).
inline bool accepts_edge(const PolicyImage& from, const PolicyImage& to) {
  for (const auto& rule : from.accepts)
    if (match_rules(std::vector<std::string>{rule}, to).match == RuleMatch::yes) return true;
  return false;
}

// Brute force of the spec's graph rule over `v` (pod plus candidate): every image reachable from
// every rejecting image, by BFS from each.
inline bool graph_valid(const std::vector<PolicyImage>& v) {
  const size_t n = v.size();
  std::vector<std::vector<size_t>> adj(n);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j)
      if (i != j && accepts_edge(v[i], v[j])) adj[i].push_back(j);
  for (size_t r = 0; r < n; ++r) {
    if (!v[r].reject_unaccepted) continue;
    std::vector<bool> seen(n, false);
    std::deque<size_t> q{r};
    seen[r] = true;
    while (!q.empty()) {
      const size_t x = q.front();
      q.pop_front();
      for (size_t y : adj[x])
        if (!seen[y]) {
          seen[y] = true;
          q.push_back(y);
        }
    }
    for (bool s : seen)
      if (!s) return false;
  }
  return true;
}

}  // namespace acon::image::reference
