#include <algorithm>
#include <map>
#include <sstream>

#include "acon/report/report.h"
#include "view_util.h"

namespace acon::report {
namespace {

using detail::at;

// Every string of the model reaches the terminal through this.
std::string text(const Json& value) { return detail::terminal_safe(detail::text(value)); }

// "sha384/ae1661…/c9de07…": enough of an Image ID to tell images apart in a table.
std::string short_image_id(const std::string& id) {
  std::string out;
  size_t start = 0;
  for (int part = 0; start <= id.size(); ++part) {
    size_t end = id.find('/', start);
    if (end == std::string::npos) end = id.size();
    std::string piece = id.substr(start, end - start);
    if (part > 0 && piece.size() > 12) piece = piece.substr(0, 12) + "…";
    out += (part > 0 ? "/" : "") + piece;
    start = end + 1;
  }
  return out;
}

// A check's name as the terminal shows it: the Image ID in "image.<id>.<check>" shortened, so
// the line shows which check it is (--json and the HTML page keep the full name).
std::string check_display_name(const std::string& name) {
  if (!name.starts_with("image.")) return name;
  const size_t last_dot = name.rfind('.');
  if (last_dot <= 6) return name;
  return "image." + short_image_id(name.substr(6, last_dot - 6)) + name.substr(last_dot);
}

class Terminal {
 public:
  explicit Terminal(bool color) : color_(color) {}

  std::string paint(std::string_view code, std::string_view body) const {
    if (!color_) return std::string(body);
    return "\x1b[" + std::string(code) + "m" + std::string(body) + "\x1b[0m";
  }
  std::string green(std::string_view s) const { return paint("32", s); }
  std::string red(std::string_view s) const { return paint("31", s); }
  std::string yellow(std::string_view s) const { return paint("33", s); }
  std::string bold(std::string_view s) const { return paint("1", s); }

  // ✓ pass, ✗ fail or error, – skipped (or absent).
  std::string mark(const Json& check) const {
    const std::string outcome = text(at(check, "outcome"));
    if (outcome == "pass") return green("✓");
    if (outcome == "fail" || outcome == "error") return red("✗");
    return yellow("–");
  }

  void section(std::ostream& out, std::string_view title) const {
    out << "\n" << bold("== " + std::string(title) + " ==") << "\n";
  }

  void check_line(std::ostream& out, const Json& check) const {
    if (check.is_null()) return;
    out << "  " << mark(check) << " " << check_display_name(text(at(check, "name")));
    const std::string outcome = text(at(check, "outcome"));
    if (outcome != "pass") out << " [" << outcome << "]";
    out << ": " << text(at(check, "reason")) << "\n";
  }

 private:
  bool color_;
};

// Columns on a terminal: code points, not bytes ("…" is one column).
size_t columns(std::string_view s) {
  return static_cast<size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string pad(const std::string& s, size_t width) {
  const size_t used = columns(s);
  return s + std::string(used < width ? width - used : 1, ' ');
}

void field(std::ostream& out, std::string_view name, const std::string& value) {
  if (value.empty()) return;
  out << "  " << name << std::string(name.size() < 22 ? 22 - name.size() : 1, ' ') << value << "\n";
}

}  // namespace

std::string_view simulated_statement() {
  return "This evidence comes from acon's SIMULATED TDX platform (acon-sim). It shows that the "
         "software produced consistent evidence: the quote verifies to the simulator's root, "
         "the event logs replay to the quoted registers, the logged images are the provided "
         "manifests with valid signatures, and acond's launch policy admits them. It proves "
         "nothing about hardware: no Intel CPU, TDX module or quoting enclave was involved, "
         "whoever holds the simulator's key can produce any measurements, and nothing isolates "
         "or encrypts the workload's memory from the host. It must never be accepted as proof "
         "that a workload runs confidentially.";
}

std::string terminal_report(const Json& model, bool color) {
  const Terminal t(color);
  std::ostringstream out;
  const Json& claims = at(model, "claims");
  const bool accepted = text(at(model, "verdict")) == "accepted";
  const bool simulated = at(model, "simulated") == true;

  out << t.bold("acon-verify evidence") << ": " << text(at(model, "source")) << "\n";
  out << "  verdict: " << (accepted ? t.green("ACCEPTED") : t.red("REJECTED")) << " (ear.status "
      << text(at(model, "status")) << ")";
  if (simulated) out << " " << t.yellow("[SIMULATED PLATFORM]");
  out << "\n";
  const Json& decided = at(model, "decided_by");
  if (decided.is_object()) {
    out << "  decided by: ";
    if (at(decided, "check").is_string())
      out << "check " << text(at(decided, "check")) << " (" << text(at(decided, "claim")) << "="
          << text(at(decided, "value")) << ")";
    else
      out << text(at(decided, "claim")) << "=" << text(at(decided, "value")) << " ("
          << text(at(decided, "rule")) << ")";
    out << ": " << text(at(decided, "reason")) << "\n";
    const Json& failed = at(decided, "failed_checks");
    if (failed.is_array() && !failed.empty()) {
      out << "  failed checks:";
      for (const Json& name : failed) out << " " << t.red(text(name));
      out << "\n";
    }
  }
  out << "  policy: " << text(at(at(model, "policy"), "id")) << " ("
      << text(at(at(model, "policy"), "source")) << "), at " << text(at(model, "verification_time"))
      << "\n";

  t.section(out, "Platform and quote");
  field(out, "platform", text(at(model, "platform")) + (simulated ? " (simulated)" : ""));
  const Json& tdx = at(claims, "tdx");
  const Json& quote = at(tdx, "quote");
  field(out, "quote version", text(at(at(quote, "header"), "version")));
  field(out, "TEE type", text(at(at(quote, "header"), "tee_type")));
  const Json& body = at(quote, "body");
  field(out, "MRTD", text(at(body, "mr_td")));
  field(out, "MRCONFIGID", text(at(body, "mr_config_id")));
  field(out, "TCB status", text(at(tdx, "tcb_status")));
  field(out, "TCB date", text(at(tdx, "tcb_date")));
  if (at(tdx, "advisory_ids").is_array())
    field(out, "advisories",
          at(tdx, "advisory_ids").empty() ? "none" : text(detail::dump(at(tdx, "advisory_ids"))));
  field(out, "collateral expired",
        text(at(tdx, "collateral_expiration_status")) == "0"   ? "no"
        : text(at(tdx, "collateral_expiration_status")) == "1" ? "yes"
                                                               : "");
  if (at(tdx, "td_attributes").is_object())
    field(out, "debug TD", at(at(tdx, "td_attributes"), "debug") == true ? "yes" : "no");
  for (const char* name : {"quote.signature", "quote.tcb", "tpm.quote", "tpm.ak"})
    t.check_line(out, detail::check(model, name));

  t.section(out, "Bindings");
  for (const char* name : {"binding.kbs", "binding.acon", "init_data"})
    t.check_line(out, detail::check(model, name));

  t.section(out, "Replay");
  const Json& checks = detail::checks(model);
  const Json& registers = at(at(model, "timeline"), "registers");
  if (checks.is_array()) {
    for (const Json& c : checks) {
      const std::string name = text(at(c, "name"));
      if (!name.starts_with("replay.")) continue;
      t.check_line(out, c);
      // The register's timeline, summarised: the HTML page lists every event.
      const Json* timeline = nullptr;
      if (registers.is_array())
        for (const Json& reg : registers)
          if (text(at(reg, "check")) == name) timeline = &reg;
      if (timeline == nullptr || at(*timeline, "events") == 0) continue;
      std::map<std::string, size_t> sources;
      for (const Json& row : at(*timeline, "rows")) ++sources[text(at(row, "source"))];
      std::string counts;
      for (const auto& [source, count] : sources)
        counts += (counts.empty() ? "" : ", ") + std::to_string(count) + " " + source;
      out << "      " << text(at(*timeline, "events")) << " events (" << counts
          << (at(*timeline, "more") != 0 ? ", " + text(at(*timeline, "more")) + " more" : "")
          << "), " << text(at(*timeline, "proven")) << " covered by the quoted value\n";
      const Json& divergent = at(*timeline, "divergent");
      if (divergent.is_object())
        out << "      replay diverges at event " << text(at(divergent, "number")) << " ("
            << detail::terminal_safe(text(at(divergent, "source")) + " " +
                                     text(at(divergent, "where")) + ", " +
                                     text(at(divergent, "type")))
            << "): " << detail::terminal_safe(text(at(divergent, "meaning"))) << "\n";
    }
  }
  for (const char* name : {"runtime_log.unexplained", "claims.uefi_event_logs"})
    t.check_line(out, detail::check(model, name));

  t.section(out, "Images");
  const Json& images = at(at(claims, "acon"), "images");
  if (!images.is_array() || images.empty()) {
    out << "  (the runtime log names no image)\n";
  } else {
    out << "  #  Image ID                                 signer                    acond      "
           "spec\n";
    size_t number = 0;
    for (const Json& image : images) {
      std::string id = short_image_id(text(at(image, "image_id")));
      std::string signer = text(at(image, "signer"));
      if (signer.size() > 24) signer = signer.substr(0, 23) + "…";
      const std::string acond = text(at(at(image, "verdict"), "acond"));
      const std::string spec = text(at(at(image, "verdict"), "spec"));
      auto verdict = [&](const std::string& v) {
        return v == "accepted" || v == "already_loaded" ? t.green(v) : t.red(v);
      };
      out << "  " << ++number << "  " << pad(id, 41) << pad(signer, 26) << verdict(acond)
          << std::string(acond.size() < 11 ? 11 - acond.size() : 1, ' ') << verdict(spec) << "\n";
      if (!at(image, "aliases").empty() && !at(image, "aliases").is_null())
        out << "     aliases: " << text(detail::dump(at(image, "aliases"))) << "\n";
      if (at(image, "provided") == false)
        out << "     " << t.red("manifest not provided")
            << ": its ID and policy cannot be checked\n";
    }
  }
  if (checks.is_array())
    for (const Json& c : checks) {
      const std::string name = text(at(c, "name"));
      if (name.starts_with("image.") || name.starts_with("runtime_log.acon")) t.check_line(out, c);
    }

  t.section(out, "Launch policy");
  for (const char* name : {"launch_policy.acond", "launch_policy.spec"})
    t.check_line(out, detail::check(model, name));
  const Json& graph = at(model, "launch_policy_graph");
  if (at(graph, "edges").is_array()) {
    auto name_of = [&](const Json& id) {
      for (const Json& node : at(graph, "nodes"))
        if (at(node, "id") == id) return text(at(node, "name"));
      return text(id);
    };
    for (const Json& edge : at(graph, "edges")) {
      const std::string kind = text(at(edge, "kind"));
      out << "  " << name_of(at(edge, "from")) << " "
          << (kind == "accepts" ? t.green("accepts") : t.red(kind)) << " "
          << name_of(at(edge, "to"));
      if (at(edge, "rule").is_string()) out << " (rule " << text(at(edge, "rule")) << ")";
      out << "\n";
    }
  }

  t.section(out, "EAR");
  const Json& ear = at(at(model, "result"), "ear");
  field(out, "issuer", text(at(ear, "iss")));
  field(out, "profile", text(at(ear, "eat_profile")));
  field(out, "issued at", text(at(ear, "iat")));
  field(out, "expires", text(at(ear, "exp")));
  if (at(ear, "submods").is_object())
    for (const auto& [name, submod] : at(ear, "submods").items()) {
      const std::string status = text(at(submod, "ear.status"));
      field(out, "submod " + name,
            (status == "affirming" ? t.green(status) : t.red(status)) + ", policy " +
                text(at(submod, "ear.appraisal-policy-id")));
    }
  const Json& explanations = at(at(model, "result"), "explanations");
  if (explanations.is_array())
    for (const Json& line : explanations) out << "    " << text(line) << "\n";

  if (simulated) {
    t.section(out, "Simulated platform");
    out << "  " << t.yellow(simulated_statement()) << "\n";
  }
  return out.str();
}

}  // namespace acon::report
