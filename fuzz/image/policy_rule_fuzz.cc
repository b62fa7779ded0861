// Fuzzes launch-policy rules and admission. The input describes up to five images, one per
// paragraph (blank-line separated): a header line "<R|N><signer 0-3><digest 0-9>", then lines
// "a <rule>" (policy.accepts) and "s <alias>" (aliases.self). In rules and aliases "$S0".."$S3"
// and "$D0".."$D9" stand for the hex signer and manifest digests, so inputs can name each other.
// The last image is the candidate; the others are admitted in order. Checked: the indexed
// greedy Pod equals a direct transcription of acond's is_manifest_accepted(), and the graph-mode
// Pod equals a brute-force reachability check of the would-be graph.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "acon/common/hash.h"
#include "acon/image/policy.h"
#include "acond_reference.h"
#include "fuzz_support.h"

namespace {

using namespace acon::image;

std::string hex_for(char kind, int n) {
  return acon::hex_encode(acon::sha256(acon::as_bytes(std::string(1, kind) + std::to_string(n))));
}

std::string expand(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '$' && i + 2 < text.size() && (text[i + 1] == 'S' || text[i + 1] == 'D') &&
        text[i + 2] >= '0' && text[i + 2] <= '9') {
      out += hex_for(text[i + 1], text[i + 2] - '0');
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

std::vector<PolicyImage> images_of(std::string_view text) {
  std::vector<PolicyImage> out;
  size_t start = 0;
  while (start < text.size() && out.size() < 5) {
    size_t end = text.find("\n\n", start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view block = text.substr(start, end - start);
    start = end + 2;
    size_t nl = block.find('\n');
    std::string_view header = block.substr(0, nl);
    if (header.size() < 3) continue;
    PolicyImage p;
    p.reject_unaccepted = header[0] == 'R';
    p.identity = {acon::HashAlg::sha256, hex_for('S', (header[1] & 0xff) % 4),
                  hex_for('D', (header[2] & 0xff) % 10)};
    std::string_view rest = nl == std::string_view::npos ? "" : block.substr(nl + 1);
    size_t pos = 0;
    while (pos < rest.size() && p.accepts.size() + p.self_aliases.size() < 16) {
      size_t e = rest.find('\n', pos);
      if (e == std::string_view::npos) e = rest.size();
      std::string_view line = rest.substr(pos, e - pos);
      pos = e + 1;
      if (line.starts_with("a ")) p.accepts.push_back(expand(line.substr(2)));
      if (line.starts_with("s ")) p.self_aliases.push_back(expand(line.substr(2)));
    }
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // Rule-level API on every line: the split and strict checks agree with each other.
  for (size_t pos = 0; pos < text.size();) {
    size_t e = text.find('\n', pos);
    if (e == std::string_view::npos) e = text.size();
    std::string rule = expand(text.substr(pos, e - pos));
    pos = e + 1;
    if (check_policy_rule(rule).ok() && !split_policy_rule(rule).ok()) abort();
  }

  auto images = images_of(text);
  if (images.empty()) return 0;
  PolicyImage candidate = images.back();
  images.pop_back();

  Pod greedy(PolicyMode::acond_greedy);
  std::vector<PolicyImage> greedy_loaded;
  for (const auto& p : images)
    if (greedy.admit(p).admitted() && greedy_loaded.size() < greedy.size())
      greedy_loaded.push_back(p);
  if (greedy_loaded.size() != greedy.size()) abort();
  Admission g = greedy.check(candidate);
  if (greedy.find(candidate.image_id()) != nullptr) {
    if (g.verdict != Verdict::already_loaded) abort();
  } else if (g.verdict != reference::acond_is_manifest_accepted(greedy_loaded, candidate)) {
    abort();
  }
  if ((g.verdict == Verdict::rejected || g.verdict == Verdict::error) != g.refusal.has_value())
    abort();

  Pod graph(PolicyMode::spec_graph);
  std::vector<PolicyImage> graph_loaded;
  for (const auto& p : images)
    if (graph.admit(p).admitted() && graph_loaded.size() < graph.size()) graph_loaded.push_back(p);
  if (graph.check_graph().verdict != Verdict::accepted) abort();
  Admission s = graph.check(candidate);
  if (s.verdict == Verdict::accepted) {
    std::vector<PolicyImage> would = graph_loaded;
    would.push_back(candidate);
    if (!reference::graph_valid(would)) abort();
  } else if (s.verdict == Verdict::rejected) {
    std::vector<PolicyImage> would = graph_loaded;
    would.push_back(candidate);
    if (reference::graph_valid(would)) abort();
  }
  return 0;
}
