#include "acon/appraisal/images.h"

#include <charconv>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "acon/common/hash.h"
#include "acon/common/utf8.h"
#include "acon/common/x509.h"
#include "acon/image/manifest.h"
#include "acon/image/policy.h"

namespace acon::appraisal {

// ---- runtime events from the two log forms ------------------------------------------------

std::vector<RuntimeLogEvent> runtime_log_events(const eventlog::TextAael& log, bool proven) {
  std::vector<RuntimeLogEvent> out;
  out.reserve(log.lines.size());
  for (const auto& line : log.lines) {
    // parse_text_aael only yields logs whose hash OpenSSL has, so digest() cannot fail here.
    auto d = digest(log.alg, line.text);
    out.push_back({line.line_number, d ? std::move(*d) : Bytes{}, line.text, proven});
  }
  return out;
}

Result<std::vector<RuntimeLogEvent>> runtime_log_events(
    const eventlog::EventLog& log, std::span<const eventlog::Event* const> proven) {
  std::vector<RuntimeLogEvent> out;
  const std::set<const eventlog::Event*> proven_set(proven.begin(), proven.end());
  for (const auto& event : log.events) {
    if (event.type != eventlog::ev::kEventTag || event.data.size() < 4) continue;
    uint32_t tag = uint32_t{event.data[0]} | uint32_t{event.data[1]} << 8 |
                   uint32_t{event.data[2]} << 16 | uint32_t{event.data[3]} << 24;
    if (tag != eventlog::kAaelEventTag) continue;
    auto where = [&] {
      return "event #" + std::to_string(event.number) + " at offset " +
             std::to_string(event.offset) + ": ";
    };
    auto aael = eventlog::parse_aael_tagged_event(event.data);
    if (!aael) return make_error(Errc::parse, where() + aael.error().message);
    RuntimeLogEvent out_event;
    out_event.index = event.number;
    out_event.text = aael->domain + " " + aael->operation + " " + aael->content;
    if (!is_valid_utf8(out_event.text))
      return make_error(Errc::parse, where() + "AAEL event text is not UTF-8");
    if (auto d = event.digest(eventlog::tpm_alg::kSha384))
      out_event.digest = Bytes(d->begin(), d->end());
    else if (!event.digests.empty())
      out_event.digest = Bytes(event.digests[0].value.begin(), event.digests[0].value.end());
    out_event.proven = proven_set.contains(&event);
    out.push_back(std::move(out_event));
  }
  return out;
}

namespace {

// ---- the ACON event sequence ------------------------------------------------------------------

struct LoggedImage {
  size_t log_index;
  image::ImageIdentity identity;  // from the event's Image ID
  std::string image_id;
  bool repeat = false;  // the Image ID was logged before
};

struct EventProblem {
  size_t log_index;
  std::string text;
  std::string problem;
};

struct EventScan {
  std::vector<LoggedImage> images;  // every proven AddManifest with a valid Image ID, in order
  std::vector<EventProblem> problems;
  std::optional<size_t> finalize_index;
  size_t acon_events = 0;
  size_t other_domain_events = 0;
  std::vector<size_t> unproven;  // log indexes of unproven events
};

// Event text quoted in reasons and details: a text log may hold any bytes, JSON needs UTF-8.
std::string readable(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    size_t n = utf8_sequence(text, i);
    if (n == 0) {
      append_utf8(out, kUnicodeReplacement);
      ++i;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  return out;
}

// Finalize's image count as acond writes it: plain decimal digits, no sign, no spaces.
std::optional<uint64_t> parse_count(std::string_view text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

EventScan scan_events(std::span<const RuntimeLogEvent> events) {
  EventScan scan;
  const std::string prefix = std::string(kAconEventDomain) + " ";
  std::map<std::string, size_t> first_index;  // Image ID -> log index of its first event
  for (const auto& event : events) {
    if (!event.proven) {
      scan.unproven.push_back(event.index);
      continue;
    }
    bool acon = event.text.starts_with(prefix) || event.text == kAconEventDomain;
    if (!acon) {
      ++scan.other_domain_events;
      continue;
    }
    ++scan.acon_events;
    auto report = [&](std::string problem) {
      scan.problems.push_back({event.index, readable(event.text), readable(problem)});
    };
    auto parsed = eventlog::parse_aael_line(event.text, /*allow_two_fields=*/true);
    if (!parsed) {
      report("not an AAEL event: " + parsed.error().message);
      continue;
    }
    const std::string& op = parsed->operation;
    const bool after_finalize = scan.finalize_index.has_value();
    if (op == "AddManifest") {
      if (after_finalize)
        report("AddManifest after the Finalize at log index " +
               std::to_string(*scan.finalize_index) +
               ": acond refuses AddManifest once finalized (\"Manifests finalized\")");
      auto identity = image::parse_image_id(parsed->content);
      if (!identity) {
        report("AddManifest content is not an Image ID: " + identity.error().message);
        continue;
      }
      LoggedImage logged{event.index, *identity, identity->image_id(), false};
      auto [it, inserted] = first_index.emplace(logged.image_id, event.index);
      if (!inserted) {
        logged.repeat = true;
        report("Image ID already logged at log index " + std::to_string(it->second) +
               ": acond measures an image once (a repeated AddManifest is answered without a "
               "measurement)");
      }
      scan.images.push_back(std::move(logged));
    } else if (op == "Finalize") {
      if (after_finalize) {
        report("second Finalize (the first is at log index " +
               std::to_string(*scan.finalize_index) +
               "): acond refuses Finalize once finalized (\"Manifests finalized\")");
        continue;
      }
      scan.finalize_index = event.index;
      // acon log mode writes no content; coco mode writes the number of images loaded.
      const std::string& content = parsed->content;
      if (content.empty()) continue;
      auto count = parse_count(content);
      if (!count) {
        report("Finalize content '" + readable(content) +
               "' is not the decimal number of loaded images acond writes");
      } else if (*count != first_index.size()) {
        report("Finalize records " + content + " loaded images, the log names " +
               std::to_string(first_index.size()) + " distinct Image IDs before it");
      }
    } else {
      report("unknown operation '" + readable(op) + "' in the " + std::string(kAconEventDomain) +
             " namespace" + (after_finalize ? " (after Finalize)" : ""));
    }
  }
  return scan;
}

// ---- provided images ----------------------------------------------------------------------------

struct Candidate {
  const ProvidedImage* provided;
  std::string label;  // name, or "provided image #n"
  std::optional<Certificate> cert;
  std::optional<image::ImageIdentity> identity;
  std::string problem;  // why no identity
  bool used = false;
};

std::vector<Candidate> prepare(std::span<const ProvidedImage> provided,
                               image::CertProfile profile) {
  std::vector<Candidate> out;
  for (size_t i = 0; i < provided.size(); ++i) {
    Candidate c;
    c.provided = &provided[i];
    c.label = provided[i].name.empty() ? "provided image #" + std::to_string(i)
                                       : readable(provided[i].name);
    auto cert = Certificate::from_der(provided[i].certificate_der);
    if (!cert) {
      c.problem = "certificate: " + cert.error().message;
    } else {
      auto identity = image::image_identity(*cert, as_chars(provided[i].manifest), profile);
      if (!identity)
        c.problem = identity.error().message;
      else
        c.identity = *identity;
      c.cert = std::move(*cert);
    }
    out.push_back(std::move(c));
  }
  return out;
}

// What the checks learnt about one distinct logged Image ID.
struct ImageState {
  Candidate* candidate = nullptr;  // the provided image taken for it
  bool id_matches = false;
  std::optional<image::Manifest> manifest;  // parsed, when the ID matches
};

Json refusal_json(const image::Refusal& refusal) {
  Json out = {{"image_id", refusal.image_id}, {"reason", refusal.reason}};
  out["rule_index"] = refusal.rule_index ? Json(*refusal.rule_index) : Json(nullptr);
  out["rule"] = refusal.rule.empty() ? Json(nullptr) : Json(refusal.rule);
  return out;
}

Json resolution_json(const image::ResolvedLayer& layer) {
  Json out = {{"layer", layer.reference}, {"chain", layer.chain}};
  out["digest"] = layer.digest ? Json(layer.digest->to_string()) : Json(nullptr);
  if (!layer.problem.empty()) out["problem"] = layer.problem;
  return out;
}

struct PolicyRun {
  image::Pod pod;
  std::vector<std::optional<image::Admission>> admissions;  // per LoggedImage
};

CheckResult policy_check(std::string name, std::string_view mode_text, const PolicyRun& run,
                         const std::vector<LoggedImage>& logged,
                         const std::vector<std::string>& unknown) {
  CheckResult check{std::move(name), Outcome::pass, "", nullptr};
  if (logged.empty()) {
    check.outcome = Outcome::skipped;
    check.reason = "no proven AddManifest event: no image set to evaluate";
    return check;
  }
  // The first refusal among the images that could be evaluated.
  std::optional<size_t> refused;
  for (size_t i = 0; i < logged.size(); ++i) {
    if (run.admissions[i] && !run.admissions[i]->admitted()) {
      refused = i;
      break;
    }
  }
  Json detail = Json::object();
  if (refused) {
    const auto& a = *run.admissions[*refused];
    detail["image_id"] = logged[*refused].image_id;
    detail["log_index"] = logged[*refused].log_index;
    detail["verdict"] = std::string(image::verdict_name(a.verdict));
    if (a.refusal) detail["refusal"] = refusal_json(*a.refusal);
  }
  if (!unknown.empty()) {
    // A missing policy can both admit and refuse others, so no verdict is sound without it.
    check.outcome = Outcome::skipped;
    detail["unknown_images"] = unknown;
    check.reason =
        "the launch policy of " + std::to_string(unknown.size()) +
        " logged image(s) is unknown (no provided manifest with its Image ID that parses; first " +
        unknown.front() + "), so " + std::string(mode_text) +
        " cannot be evaluated; the known images were " +
        (refused ? "not all admitted" : "all admitted");
    check.detail = std::move(detail);
    return check;
  }
  if (refused) {
    const auto& a = *run.admissions[*refused];
    check.outcome = Outcome::fail;
    check.reason =
        std::string(mode_text) + " refuses image " + logged[*refused].image_id + " at log index " +
        std::to_string(logged[*refused].log_index) + " (" +
        std::string(image::verdict_name(a.verdict)) + ")" +
        (a.refusal ? ": " + a.refusal->reason : std::string()) +
        (run.pod.mode() == image::PolicyMode::acond_greedy
             ? "; acond would not have admitted it, so it could not have measured this log"
             : "; the logged image set breaks the specification's launch-policy rule");
    if (a.refusal && !a.refusal->rule.empty()) check.reason += " (rule '" + a.refusal->rule + "')";
    check.detail = std::move(detail);
    return check;
  }
  check.reason = std::string(mode_text) + " admits all " + std::to_string(logged.size()) +
                 " logged images in log order";
  return check;
}

}  // namespace

ImageAppraisal appraise_images(std::span<const RuntimeLogEvent> events,
                               std::span<const ProvidedImage> provided,
                               const ImageCheckOptions& options) {
  ImageAppraisal out;
  EventScan scan = scan_events(events);

  // runtime_log.acon_events and runtime_log.acon_finalized.
  {
    CheckResult check{"runtime_log.acon_events", Outcome::pass, "", nullptr};
    Json problems = Json::array();
    for (const auto& p : scan.problems)
      problems.push_back({{"log_index", p.log_index}, {"event", p.text}, {"problem", p.problem}});
    check.detail = {
        {"acon_events", scan.acon_events},
        {"add_manifest", scan.images.size()},
        {"finalize_log_index", scan.finalize_index ? Json(*scan.finalize_index) : Json(nullptr)},
        {"other_domain_events", scan.other_domain_events},
        {"unproven_events", scan.unproven},
        {"problems", problems}};
    if (scan.acon_events == 0) {
      check.outcome = Outcome::skipped;
      check.reason = "no proven event in the " + std::string(kAconEventDomain) + " namespace" +
                     (scan.unproven.empty() ? std::string()
                                            : " (" + std::to_string(scan.unproven.size()) +
                                                  " unproven event(s) not considered)");
    } else if (!scan.problems.empty()) {
      check.outcome = Outcome::fail;
      check.reason = "log index " + std::to_string(scan.problems.front().log_index) + ": " +
                     scan.problems.front().problem;
      if (scan.problems.size() > 1)
        check.reason += " (and " + std::to_string(scan.problems.size() - 1) + " more)";
    } else {
      check.reason = std::to_string(scan.images.size()) + " AddManifest event(s)" +
                     (scan.finalize_index ? " then Finalize" : "") +
                     ", in the order acond writes them";
    }
    out.checks.push_back(std::move(check));

    CheckResult finalized{"runtime_log.acon_finalized", Outcome::pass, "", nullptr};
    if (scan.acon_events == 0) {
      finalized.outcome = Outcome::skipped;
      finalized.reason = "no proven ACON event";
    } else if (!scan.finalize_index) {
      finalized.outcome = Outcome::fail;
      finalized.reason =
          "no proven Finalize event: acond may admit further images the evidence does not show";
    } else {
      finalized.reason =
          "Finalize at log index " + std::to_string(*scan.finalize_index) + " closes the image set";
      finalized.detail = {{"log_index", *scan.finalize_index}};
    }
    out.checks.push_back(std::move(finalized));
  }

  // Pair logged Image IDs with provided images.
  std::vector<Candidate> candidates = prepare(provided, options.profile);
  std::map<std::string, ImageState> states;  // by Image ID
  std::vector<std::string> distinct;         // Image IDs in first-logged order
  for (const auto& logged : scan.images) {
    if (!states.emplace(logged.image_id, ImageState{}).second) continue;
    distinct.push_back(logged.image_id);
  }
  for (auto& c : candidates) {
    if (!c.identity) continue;
    auto it = states.find(c.identity->image_id());
    if (it == states.end()) continue;
    c.used = true;  // a second copy of an image already paired is named by the log too
    if (it->second.candidate) continue;
    it->second.candidate = &c;
    it->second.id_matches = true;
  }
  for (const auto& id : distinct) {
    ImageState& state = states[id];
    if (state.candidate) continue;
    auto logged = image::parse_image_id(id);
    Candidate* only = nullptr;
    size_t same_signer = 0;
    for (auto& c : candidates) {
      if (c.used || !c.identity || c.identity->hash != logged->hash ||
          c.identity->signer_digest != logged->signer_digest)
        continue;
      ++same_signer;
      only = &c;
    }
    if (same_signer == 1) {
      state.candidate = only;
      only->used = true;
    }
  }

  // Per-image checks, in first-logged order.
  for (const auto& id : distinct) {
    ImageState& state = states[id];
    const std::string prefix = "image." + id;
    CheckResult manifest{prefix + ".manifest", Outcome::pass, "", nullptr};
    CheckResult id_check{prefix + ".id", Outcome::skipped, "", nullptr};
    CheckResult signature{prefix + ".signature", Outcome::skipped, "", nullptr};
    if (!state.candidate) {
      manifest.outcome = Outcome::fail;
      manifest.reason = "no provided manifest has this Image ID (or its signer)";
      id_check.reason = signature.reason = "no manifest provided for this image";
    } else {
      Candidate& c = *state.candidate;
      const std::string recomputed = c.identity->image_id();
      id_check.detail = {{"logged", id}, {"recomputed", recomputed}, {"provided", c.label}};
      if (state.id_matches) {
        id_check.outcome = Outcome::pass;
        id_check.reason = "the Image ID recomputed from " + c.label +
                          " (certificate and exact manifest bytes) equals the logged one";
        auto parsed = image::parse_manifest(as_chars(c.provided->manifest));
        if (!parsed) {
          manifest.outcome = Outcome::fail;
          manifest.reason = c.label + " does not parse as acond parses manifests (" +
                            parsed.error().message + "): acond could not have admitted it";
        } else {
          manifest.reason = "provided as " + c.label;
          state.manifest = std::move(*parsed);
        }
      } else {
        manifest.outcome = Outcome::fail;
        manifest.reason = "no provided manifest has this Image ID; " + c.label +
                          " under the same signer was taken for it";
        id_check.outcome = Outcome::fail;
        id_check.reason = "the Image ID recomputed from " + c.label + " is " + recomputed +
                          ", the log names " + id + " (the manifest bytes differ)";
      }
      auto verified = image::verify_manifest_signature(
          as_chars(c.provided->manifest), c.provided->signature, *c.cert, options.profile);
      if (verified) {
        signature.outcome = Outcome::pass;
        signature.reason = "the signature of " + c.label +
                           " verifies over the exact manifest bytes with its certificate";
      } else {
        signature.outcome = Outcome::fail;
        signature.reason = c.label + ": " + verified.error().message +
                           "; acond refuses such an AddManifest (\"Invalid digital signature\")";
      }
    }
    out.checks.push_back(std::move(manifest));
    out.checks.push_back(std::move(id_check));
    out.checks.push_back(std::move(signature));
  }

  // image.unlogged: provided images no proven AddManifest names.
  {
    CheckResult check{"image.unlogged", Outcome::pass, "", nullptr};
    Json unlogged = Json::array();
    for (const auto& c : candidates) {
      if (c.used) continue;
      Json entry = {{"provided", c.label}};
      entry["image_id"] = c.identity ? Json(c.identity->image_id()) : Json(nullptr);
      if (!c.problem.empty()) entry["problem"] = c.problem;
      unlogged.push_back(std::move(entry));
    }
    if (candidates.empty()) {
      check.outcome = Outcome::skipped;
      check.reason = "no image was provided";
    } else if (unlogged.empty()) {
      check.reason = "every provided image is named by a proven AddManifest event";
    } else {
      check.outcome = Outcome::skipped;
      check.reason = std::to_string(unlogged.size()) +
                     " provided image(s) are named by no proven AddManifest event (first " +
                     unlogged[0]["provided"].get<std::string>() +
                     "); they were not checked. Informational, not a failure: the TD never "
                     "loaded them";
      check.detail = {{"unlogged", unlogged}};
    }
    out.checks.push_back(std::move(check));
  }

  // Launch policy in log order, in both modes, over the images whose policy is known.
  PolicyRun greedy{image::Pod(image::PolicyMode::acond_greedy), {}};
  PolicyRun spec{image::Pod(image::PolicyMode::spec_graph), {}};
  std::vector<std::string> unknown;
  std::vector<image::SignedManifest> loaded;  // known images, distinct, in log order
  for (const auto& logged : scan.images) {
    const ImageState& state = states[logged.image_id];
    if (!state.manifest) {
      greedy.admissions.emplace_back();
      spec.admissions.emplace_back();
      if (!logged.repeat) unknown.push_back(logged.image_id);
      continue;
    }
    image::PolicyImage policy_image = image::policy_image(logged.identity, *state.manifest);
    greedy.admissions.push_back(greedy.pod.admit(policy_image));
    spec.admissions.push_back(spec.pod.admit(std::move(policy_image)));
    if (!logged.repeat) {
      loaded.push_back({*state.manifest, logged.identity,
                        state.candidate->provided->certificate_der,
                        state.candidate->provided->signature});
    }
  }
  out.checks.push_back(policy_check("launch_policy.acond", "acond's launch-policy algorithm",
                                    greedy, scan.images, unknown));
  out.checks.push_back(policy_check("launch_policy.spec", "the specification's launch-policy rule",
                                    spec, scan.images, unknown));

  // The acon.images claims.
  for (size_t i = 0; i < scan.images.size(); ++i) {
    const LoggedImage& logged = scan.images[i];
    const ImageState& state = states[logged.image_id];
    Json entry = {{"image_id", logged.image_id},
                  {"log_index", logged.log_index},
                  {"hash_algorithm", std::string(hash_name(logged.identity.hash))},
                  {"signer_digest", logged.identity.signer_digest},
                  {"manifest_digest", logged.identity.manifest_digest},
                  {"provided", state.id_matches}};
    entry["signer"] = state.id_matches ? Json(state.candidate->cert->subject()) : Json(nullptr);
    Json resolution = Json::array();
    if (state.manifest) {
      entry["aliases"] = image::manifest_to_json(*state.manifest)["aliases"];
      image::SignedManifest self{*state.manifest, logged.identity, {}, {}};
      for (const auto& layer : image::resolve_layers(self, loaded))
        resolution.push_back(resolution_json(layer));
      Json problems = Json::array();
      for (const auto& p : image::manifest_problems(*state.manifest)) {
        problems.push_back(
            {{"field", p.field},
             {"problem", p.detail},
             {"severity", image::verification_severity(p.kind) == image::ProblemSeverity::fatal
                              ? "fatal"
                              : "warning"}});
      }
      if (!problems.empty()) entry["manifest_problems"] = std::move(problems);
    } else {
      entry["aliases"] = nullptr;
    }
    entry["alias_resolution"] = std::move(resolution);
    auto verdict = [](const std::optional<image::Admission>& a) {
      return a ? Json(std::string(image::verdict_name(a->verdict))) : Json(nullptr);
    };
    entry["verdict"] = {{"acond", verdict(greedy.admissions[i])},
                        {"spec", verdict(spec.admissions[i])}};
    Json refusal = Json::object();
    if (greedy.admissions[i] && greedy.admissions[i]->refusal)
      refusal["acond"] = refusal_json(*greedy.admissions[i]->refusal);
    if (spec.admissions[i] && spec.admissions[i]->refusal)
      refusal["spec"] = refusal_json(*spec.admissions[i]->refusal);
    if (!refusal.empty()) entry["refusal"] = std::move(refusal);
    out.images.push_back(std::move(entry));
  }
  return out;
}

}  // namespace acon::appraisal
