#include "acon/report/html.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "acon/common/utf8.h"
#include "acon/report/report.h"
#include "view_util.h"

namespace acon::report {
namespace {

using detail::at;

// Every string of the model reaches the page through this.
std::string esc(const Json& value) { return html_escape(detail::text(value)); }

std::string outcome_class(const std::string& outcome) {
  return outcome == "pass" ? "pass" : outcome == "skipped" || outcome.empty() ? "skip" : "fail";
}
std::string outcome_mark(const std::string& outcome) {
  return outcome == "pass" ? "✓" : outcome == "skipped" || outcome.empty() ? "–" : "✗";
}

void check_row(std::ostream& out, const Json& check) {
  if (check.is_null()) return;
  const std::string outcome = detail::text(at(check, "outcome"));
  out << "<tr class=\"" << outcome_class(outcome) << "\"><td class=\"mark\">"
      << outcome_mark(outcome) << "</td><td><code>" << esc(at(check, "name")) << "</code></td><td>"
      << html_escape(outcome) << "</td><td>" << esc(at(check, "reason")) << "</td></tr>\n";
}

void check_table(std::ostream& out, const Json& model, std::initializer_list<const char*> names) {
  out << "<table class=\"checks\">\n";
  for (const char* name : names) check_row(out, detail::check(model, name));
  out << "</table>\n";
}

void kv(std::ostream& out, std::string_view name, const std::string& escaped_value) {
  if (escaped_value.empty()) return;
  out << "<tr><th>" << html_escape(name) << "</th><td><code>" << escaped_value
      << "</code></td></tr>\n";
}

std::string short_digest(const Json& value) {
  std::string digest = detail::text(value);
  return digest.size() > 16 ? digest.substr(0, 16) + "…" : digest;
}

std::string fmt(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f", v);
  return buffer;
}

std::string status_text(const std::string& status) {
  if (status == "proven") return "covered by the quoted value";
  if (status == "diverges") return "replay diverges here";
  if (status == "not_covered") return "not covered by the quoted value";
  return "unknown";
}

// The full digest as the title of its shortened form. Digests are hex; anything else gets no
// attribute, so evidence text never lands inside a tag.
std::string digest_title(const Json& value) {
  const std::string digest = detail::text(value);
  if (digest.empty() || digest.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
    return {};
  return " title=\"" + digest + "\"";
}

// The model's timeline, one table per register in log order.
void timeline(std::ostream& out, const Json& model) {
  const Json& timeline = at(model, "timeline");
  const Json& registers = at(timeline, "registers");
  // The rows are listed whatever the verdict; what a quoted value proves rests on the quote.
  if (detail::text(at(detail::check(model, "quote.signature"), "outcome")) != "pass")
    out << "<p class=\"fail\">The quote's signature did not verify: the quoted register values, "
           "and so every &ldquo;covered&rdquo; below, are unproven.</p>\n";
  bool any = false;
  if (registers.is_array())
    for (const Json& reg : registers) {
      const std::string outcome = detail::text(at(reg, "outcome"));
      const Json& rows = at(reg, "rows");
      if (outcome == "skipped" && (!rows.is_array() || rows.empty())) continue;
      any = true;
      out << "<h3 class=\"" << outcome_class(outcome) << "\">" << outcome_mark(outcome) << " "
          << esc(at(reg, "register")) << "</h3>\n<p>" << esc(at(reg, "reason")) << " ("
          << esc(at(reg, "events")) << " events, " << esc(at(reg, "proven"))
          << " covered by the quoted value)</p>\n";
      out << "<table class=\"events\"><tr><th>#</th><th>source</th><th>type</th><th>digest</th>"
             "<th>meaning</th><th>status</th></tr>\n";
      if (rows.is_array())
        for (const Json& row : rows) {
          const std::string status = detail::text(at(row, "status"));
          const std::string css = status == "diverges" ? "diverged" : "";
          std::string note = detail::text(at(row, "note"));
          if (at(row, "digest_check") == "mismatch")
            note +=
                (note.empty() ? "" : "; ") + std::string("event data does not hash to the digest");
          out << "<tr" << (css.empty() ? "" : " class=\"" + css + "\"") << "><td>"
              << esc(at(row, "number")) << "</td><td>" << esc(at(row, "source")) << " "
              << esc(at(row, "where")) << "</td><td>" << esc(at(row, "type")) << "</td><td><code"
              << digest_title(at(row, "digest")) << ">"
              << html_escape(short_digest(at(row, "digest"))) << "</code></td><td class=\"long\">"
              << esc(at(row, "meaning")) << "</td><td>" << html_escape(status_text(status))
              << (note.empty() ? "" : ": " + html_escape(note)) << "</td></tr>\n";
        }
      if (at(reg, "more").is_number() && at(reg, "more") != 0)
        out << "<tr><td colspan=\"6\">… " << esc(at(reg, "more")) << " more events</td></tr>\n";
      out << "</table>\n";
      const Json& divergent = at(reg, "divergent");
      // A divergent event past the cap is still named.
      if (divergent.is_object() && at(divergent, "number").is_number() &&
          at(divergent, "number").get<size_t>() > rows.size())
        out << "<p class=\"fail\">Replay diverges at event " << esc(at(divergent, "number")) << " ("
            << esc(at(divergent, "source")) << " " << esc(at(divergent, "where"))
            << "): " << esc(at(divergent, "meaning")) << "</p>\n";
    }
  if (!any) out << "<p>No register was replayed (no event log in the evidence).</p>\n";
  const Json& notes = at(timeline, "notes");
  if (notes.is_array() && !notes.empty()) {
    out << "<ul class=\"notes\">\n";
    for (const Json& note : notes) out << "<li>" << esc(note) << "</li>\n";
    out << "</ul>\n";
  }
  out << "<table class=\"checks\">\n";
  for (const char* name : {"runtime_log.unexplained", "claims.uefi_event_logs"})
    check_row(out, detail::check(model, name));
  out << "</table>\n";
}

void images_table(std::ostream& out, const Json& model) {
  const Json& images = at(at(at(model, "claims"), "acon"), "images");
  if (!images.is_array() || images.empty()) {
    out << "<p>The runtime log names no ACON image.</p>\n";
  } else {
    out << "<table class=\"images\"><tr><th>#</th><th>Image ID</th><th>signer</th>"
           "<th>aliases</th><th>acond</th><th>spec</th><th>manifest</th></tr>\n";
    size_t number = 0;
    for (const Json& image : images) {
      const std::string acond = detail::text(at(at(image, "verdict"), "acond"));
      const std::string spec = detail::text(at(at(image, "verdict"), "spec"));
      auto cell = [](const std::string& verdict) {
        const bool ok = verdict == "accepted" || verdict == "already_loaded";
        return "<td class=\"" + std::string(ok ? "pass" : "fail") + "\">" + html_escape(verdict) +
               "</td>";
      };
      out << "<tr><td>" << ++number << "</td><td><code class=\"id\">" << esc(at(image, "image_id"))
          << "</code></td><td>" << esc(at(image, "signer")) << "</td><td><code>"
          << (at(image, "aliases").empty() ? std::string()
                                           : html_escape(detail::dump(at(image, "aliases"))))
          << "</code></td>" << cell(acond) << cell(spec) << "<td>"
          << (at(image, "provided") == true ? "provided" : "<b>not provided</b>") << "</td></tr>\n";
    }
    out << "</table>\n";
  }
  out << "<table class=\"checks\">\n";
  const Json& checks = detail::checks(model);
  if (checks.is_array())
    for (const Json& c : checks) {
      const std::string name = detail::text(at(c, "name"));
      if (name.starts_with("image.") || name.starts_with("runtime_log.acon")) check_row(out, c);
    }
  out << "</table>\n";
}

void ear_section(std::ostream& out, const Json& model) {
  const Json& ear = at(at(model, "result"), "ear");
  out << "<table class=\"kv\">\n";
  kv(out, "issuer (iss)", esc(at(ear, "iss")));
  kv(out, "profile (eat_profile)", esc(at(ear, "eat_profile")));
  kv(out, "issued at (iat)", esc(at(ear, "iat")));
  kv(out, "expires (exp)", esc(at(ear, "exp")));
  kv(out, "verifier", html_escape(detail::dump(at(ear, "ear.verifier-id"))));
  out << "</table>\n";
  if (at(ear, "submods").is_object())
    for (const auto& [name, submod] : at(ear, "submods").items()) {
      const std::string status = detail::text(at(submod, "ear.status"));
      out << "<h3>submod <code>" << html_escape(name) << "</code>: <span class=\""
          << (status == "affirming" ? "pass" : "fail") << "\">" << html_escape(status)
          << "</span>, policy <code>" << esc(at(submod, "ear.appraisal-policy-id"))
          << "</code></h3>\n<table class=\"vector\"><tr><th>trust claim</th><th>value</th></tr>\n";
      const Json& vector = at(submod, "ear.trustworthiness-vector");
      if (vector.is_object())
        for (const auto& [claim, value] : vector.items())
          out << "<tr><td>" << html_escape(claim) << "</td><td>" << esc(value) << "</td></tr>\n";
      out << "</table>\n";
    }
  out << "<h3>Why each trust claim has its value</h3>\n<ul>\n";
  const Json& explanations = at(at(model, "result"), "explanations");
  if (explanations.is_array())
    for (const Json& line : explanations) out << "<li>" << esc(line) << "</li>\n";
  out << "</ul>\n<details><summary>The EAR claims set (decoded)</summary><pre>"
      << html_escape(detail::dump(ear, 2)) << "</pre></details>\n";
}

constexpr std::string_view kStyle = R"(
body{font-family:sans-serif;margin:2em;max-width:80em;color:#222}
h1{font-size:1.5em}h2{border-bottom:1px solid #ccc;margin-top:1.5em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.2em .5em;
text-align:left;vertical-align:top}th{background:#f4f4f4}
td.long{overflow-wrap:anywhere;min-width:12em}
code{font-family:monospace;word-break:break-all}
.pass{color:#1b5e20}.fail{color:#b71c1c}.skip{color:#795548}
tr.pass td.mark,tr.fail td.mark,tr.skip td.mark{font-weight:bold}
tr.diverged{background:#ffebee;font-weight:bold}
.verdict{padding:1em;border-radius:6px;font-size:1.2em}
.verdict.accepted{background:#e8f5e9;border:2px solid #2e7d32}
.verdict.rejected{background:#ffebee;border:2px solid #c62828}
.simulated{border:3px solid #ef6c00;background:#fff3e0;padding:1em;margin:1em 0}
.legend span{margin-right:1.5em}
pre{background:#f8f8f8;padding:.5em;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
)";

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (size_t i = 0; i < text.size();) {
    uint32_t cp = 0;
    const size_t n = utf8_sequence(text, i, &cp);
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD for a byte that is not UTF-8
      ++i;
      continue;
    }
    switch (cp) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      case '\t':
      case '\n':
      case '\r':
        out += static_cast<char>(cp);
        break;
      default:
        if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
          out += "\xEF\xBF\xBD";
        else
          out.append(text.substr(i, n));
    }
    i += n;
  }
  return out;
}

std::string launch_graph_svg(const Json& graph) {
  constexpr double kWidth = 230, kHeight = 62, kColumnGap = 130, kRowGap = 40, kMargin = 20;
  const Json& nodes = at(graph, "nodes");
  const Json& edges = at(graph, "edges");
  struct Box {
    double x, y;
  };
  std::map<std::string, Box> boxes;
  double width = 2 * kMargin, height = 2 * kMargin;
  if (nodes.is_array())
    for (const Json& node : nodes) {
      const double layer = at(node, "layer").is_number() ? at(node, "layer").get<double>() : 0;
      const double row = at(node, "row").is_number() ? at(node, "row").get<double>() : 0;
      Box box{kMargin + layer * (kWidth + kColumnGap), kMargin + row * (kHeight + kRowGap)};
      boxes[detail::text(at(node, "id"))] = box;
      width = std::max(width, box.x + kWidth + kMargin);
      height = std::max(height, box.y + kHeight + kMargin);
    }
  std::ostringstream out;
  out << "<svg class=\"graph\" width=\"" << fmt(width) << "\" height=\"" << fmt(height)
      << "\" viewBox=\"0 0 " << fmt(width) << " " << fmt(height)
      << "\" role=\"img\" aria-label=\"launch-policy graph\">\n";
  // Edges first, so that nodes are drawn over their ends.
  if (edges.is_array())
    for (const Json& edge : edges) {
      auto from = boxes.find(detail::text(at(edge, "from")));
      auto to = boxes.find(detail::text(at(edge, "to")));
      if (from == boxes.end() || to == boxes.end()) continue;
      const double fx = from->second.x + kWidth / 2, fy = from->second.y + kHeight / 2;
      const double tx = to->second.x + kWidth / 2, ty = to->second.y + kHeight / 2;
      const double dx = tx - fx, dy = ty - fy, length = std::hypot(dx, dy);
      if (length == 0) continue;
      // Leave and enter the boxes at their borders along the centre line.
      auto border = [&](double ux, double uy) {
        const double sx = ux == 0 ? 1e9 : (kWidth / 2) / std::abs(ux);
        const double sy = uy == 0 ? 1e9 : (kHeight / 2) / std::abs(uy);
        return std::min(sx, sy);
      };
      const double ux = dx / length, uy = dy / length;
      const double reach = border(ux, uy) + 4;
      const double x1 = fx + ux * reach, y1 = fy + uy * reach;
      const double x2 = tx - ux * reach, y2 = ty - uy * reach;
      // A -> B and B -> A bend to opposite sides, so both stay visible.
      const double cx = (x1 + x2) / 2 - uy * 28, cy = (y1 + y2) / 2 + ux * 28;
      const std::string kind = detail::text(at(edge, "kind"));
      const std::string colour = kind == "accepts"   ? "#2e7d32"
                                 : kind == "refuses" ? "#c62828"
                                                     : "#ef6c00";
      const std::string dash = kind == "accepts"   ? ""
                               : kind == "refuses" ? " stroke-dasharray=\"6 4\""
                                                   : " stroke-dasharray=\"2 3\"";
      out << "<g class=\"edge " << html_escape(kind) << "\"><title>" << esc(at(edge, "from")) << " "
          << html_escape(kind) << " " << esc(at(edge, "to"))
          << (at(edge, "rule").is_string() ? " (rule " + esc(at(edge, "rule")) + ")" : "")
          << "</title><path d=\"M" << fmt(x1) << " " << fmt(y1) << " Q" << fmt(cx) << " " << fmt(cy)
          << " " << fmt(x2) << " " << fmt(y2) << "\" fill=\"none\" stroke=\"" << colour
          << "\" stroke-width=\"2\"" << dash << "/>";
      // The arrowhead, along the curve's last tangent (control point -> end).
      const double ax = x2 - cx, ay = y2 - cy, alen = std::hypot(ax, ay);
      if (alen > 0) {
        const double vx = ax / alen, vy = ay / alen;
        const double bx = x2 - vx * 10, by = y2 - vy * 10;
        out << "<polygon points=\"" << fmt(x2) << "," << fmt(y2) << " " << fmt(bx - vy * 5) << ","
            << fmt(by + vx * 5) << " " << fmt(bx + vy * 5) << "," << fmt(by - vx * 5)
            << "\" fill=\"" << colour << "\"/>";
      }
      out << "</g>\n";
    }
  if (nodes.is_array())
    for (const Json& node : nodes) {
      const Box& box = boxes[detail::text(at(node, "id"))];
      const std::string acond = detail::text(at(at(node, "verdict"), "acond"));
      const bool logged = at(node, "logged") == true;
      const std::string fill = !logged                                            ? "#eeeeee"
                               : acond == "accepted" || acond == "already_loaded" ? "#e8f5e9"
                                                                                  : "#ffebee";
      std::string id = detail::text(at(node, "image_id"));
      const size_t slash = id.rfind('/');
      const std::string manifest = slash == std::string::npos ? id : id.substr(slash + 1);
      out << "<g class=\"node\"><title>" << esc(at(node, "image_id")) << "</title><rect x=\""
          << fmt(box.x) << "\" y=\"" << fmt(box.y) << "\" width=\"" << fmt(kWidth) << "\" height=\""
          << fmt(kHeight) << "\" rx=\"6\" fill=\"" << fill << "\" stroke=\"#555\""
          << (logged ? "" : " stroke-dasharray=\"4 3\"") << "/>";
      auto line = [&](double dy, const std::string& escaped, const char* style) {
        out << "<text x=\"" << fmt(box.x + 8) << "\" y=\"" << fmt(box.y + dy)
            << "\" font-size=\"12\"" << style << ">" << escaped << "</text>";
      };
      std::string name = detail::text(at(node, "name"));
      if (at(node, "reject_unaccepted") == true) name += " (rejectUnaccepted)";
      line(16, html_escape(name.substr(0, 40)), " font-weight=\"bold\"");
      line(32, html_escape("…/" + manifest.substr(0, 24) + "…"), " font-family=\"monospace\"");
      std::string status = logged ? "loaded; acond: " + acond : "provided, not in the log";
      if (at(node, "policy_known") != true) status += "; no manifest";
      line(48, html_escape(status.substr(0, 44)), "");
      out << "</g>\n";
    }
  out << "</svg>";
  return out.str();
}

std::string html_report(const Json& model) {
  std::ostringstream out;
  const bool accepted = detail::text(at(model, "verdict")) == "accepted";
  const bool simulated = at(model, "simulated") == true;
  out << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
         "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
         "style-src 'unsafe-inline'\">\n<title>acon-verify evidence report</title>\n<style>"
      << kStyle << "</style></head>\n<body>\n<h1>Evidence appraisal report</h1>\n";
  out << "<div id=\"verdict\" class=\"verdict " << (accepted ? "accepted" : "rejected") << "\"><b>"
      << (accepted ? "ACCEPTED" : "REJECTED") << "</b>: ear.status <b>" << esc(at(model, "status"))
      << "</b>" << (simulated ? " &mdash; SIMULATED PLATFORM" : "");
  const Json& decided = at(model, "decided_by");
  if (decided.is_object()) {
    out << "<br>Decided by ";
    if (at(decided, "check").is_string())
      out << "check <code>" << esc(at(decided, "check")) << "</code> (";
    else
      out << "the policy (";
    out << esc(at(decided, "claim")) << "=" << esc(at(decided, "value")) << ", "
        << esc(at(decided, "rule")) << "): " << esc(at(decided, "reason"));
    const Json& failed = at(decided, "failed_checks");
    if (failed.is_array() && !failed.empty()) {
      out << "<br>Failed checks:";
      for (const Json& name : failed) out << " <code>" << esc(name) << "</code>";
    }
  }
  out << "</div>\n<table class=\"kv\">\n";
  kv(out, "evidence", esc(at(model, "source")));
  kv(out, "policy",
     esc(at(at(model, "policy"), "id")) + " (" + esc(at(at(model, "policy"), "source")) + ")");
  kv(out, "verification time", esc(at(model, "verification_time")));
  kv(out, "report model version", esc(at(model, "version")));
  out << "</table>\n";
  if (simulated)
    out << "<div id=\"simulated\" class=\"simulated\"><b>What a simulated platform proves, and "
           "what it does not.</b><p>"
        << html_escape(simulated_statement()) << "</p></div>\n";

  const Json& claims = at(model, "claims");
  const Json& tdx = at(claims, "tdx");
  const Json& quote = at(tdx, "quote");
  out << "<h2 id=\"quote\">Platform, quote and TCB</h2>\n<table class=\"kv\">\n";
  kv(out, "platform", esc(at(model, "platform")) + (simulated ? " (simulated)" : ""));
  kv(out, "quote version", esc(at(at(quote, "header"), "version")));
  kv(out, "TEE type", esc(at(at(quote, "header"), "tee_type")));
  for (const char* field : {"mr_td", "mr_seam", "mr_config_id", "mr_owner", "rtmr_0", "rtmr_1",
                            "rtmr_2", "rtmr_3", "report_data"})
    kv(out, field, esc(at(at(quote, "body"), field)));
  kv(out, "TCB status", esc(at(tdx, "tcb_status")));
  kv(out, "TCB date", esc(at(tdx, "tcb_date")));
  kv(out, "advisories",
     at(tdx, "advisory_ids").is_null() ? std::string()
                                       : html_escape(detail::dump(at(tdx, "advisory_ids"))));
  kv(out, "collateral expiration status", esc(at(tdx, "collateral_expiration_status")));
  kv(out, "debug TD", esc(at(at(tdx, "td_attributes"), "debug")));
  out << "</table>\n";
  check_table(out, model, {"quote.signature", "quote.tcb", "tpm.quote", "tpm.ak"});

  out << "<h2 id=\"bindings\">Report data and init-data</h2>\n";
  check_table(out, model, {"binding.kbs", "binding.acon", "init_data"});

  out << "<h2 id=\"timeline\">Event timeline per register</h2>\n";
  timeline(out, model);

  out << "<h2 id=\"images\">Images</h2>\n";
  images_table(out, model);

  out << "<h2 id=\"launch-policy\">Launch-policy graph</h2>\n";
  check_table(out, model, {"launch_policy.acond", "launch_policy.spec"});
  out << "<p class=\"legend\"><span class=\"pass\">&#8594; solid: accepts</span>"
         "<span class=\"fail\">&#8594; dashed: refuses (rejectUnaccepted)</span>"
         "<span>&#8594; dotted: malformed rule (acond fails)</span>"
         "<span>grey, dashed box: provided but not in the log</span></p>\n"
      << launch_graph_svg(at(model, "launch_policy_graph")) << "\n";

  out << "<h2 id=\"ear\">Attestation result (EAR)</h2>\n";
  ear_section(out, model);

  out << "<h2 id=\"checks\">Every check</h2>\n<table class=\"checks\">\n";
  const Json& checks = detail::checks(model);
  if (checks.is_array())
    for (const Json& c : checks) check_row(out, c);
  out << "</table>\n<p>Written by acon-verify evidence. This page loads nothing: no scripts, no "
         "external resources.</p>\n</body></html>\n";
  return out.str();
}

}  // namespace acon::report
