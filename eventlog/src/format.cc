#include "acon/eventlog/format.h"

#include <cstdio>
#include <sstream>

#include "acon/eventlog/decode.h"

namespace acon::eventlog {
namespace {

std::string_view check_name(DigestCheck c) {
  switch (c) {
    case DigestCheck::match:
      return "match";
    case DigestCheck::mismatch:
      return "mismatch";
    case DigestCheck::not_applicable:
      break;
  }
  return "not_applicable";
}

// A one-line human summary of the decoded details.
std::string summary(const Json& details) {
  for (const char* key :
       {"string", "unicode_name", "description", "device_path", "text", "error"}) {
    auto it = details.find(key);
    if (it != details.end() && it->is_string()) {
      std::string s = it->get<std::string>();
      for (char& c : s) {
        if (static_cast<unsigned char>(c) < 0x20) c = ' ';
      }
      if (s.size() > 60) s = s.substr(0, 57) + "...";
      return std::string(key) == "error" ? "error: " + s : s;
    }
  }
  return {};
}

}  // namespace

std::string register_name(uint32_t index, RegisterNaming naming) {
  if (naming == RegisterNaming::pcr) return "PCR" + std::to_string(index);
  return index <= 4 ? std::string(mr_name(index)) : "MR" + std::to_string(index);
}

Json to_json(const EventLog& log, const Replayer& replay, const FormatOptions& options) {
  Json doc;
  doc["version"] = 1;
  const SpecIdEvent& s = log.spec_id;
  Json algs = Json::array();
  for (const auto& a : s.algorithms)
    algs.push_back({{"id", hex_literal(a.id, 4)},
                    {"name", tpm_alg_name(a.id)},
                    {"digest_size", a.digest_size}});
  doc["spec_id"] = {{"signature", s.signature},
                    {"platform_class", s.platform_class},
                    {"spec_version", std::to_string(s.spec_version_major) + "." +
                                         std::to_string(s.spec_version_minor)},
                    {"spec_errata", s.spec_errata},
                    {"uintn_size", s.uintn_size},
                    {"algorithms", algs},
                    {"vendor_info", hex_encode(s.vendor_info)}};
  doc["log_end_offset"] = log.end_offset;
  doc["fill"] = log.fill ? Json(*log.fill == 0xff ? "0xff" : "0x00") : Json(nullptr);
  doc["register_naming"] = options.naming == RegisterNaming::cc_mr ? "cc_mr" : "pcr";

  Json events = Json::array();
  for (const auto& e : log.events) {
    DecodedEvent decoded = decode_event(e);
    Json digests = Json::array();
    for (const auto& d : e.digests)
      digests.push_back({{"alg", tpm_alg_name(d.alg)}, {"digest", hex_encode(d.value)}});
    Json j = {{"number", e.number},
              {"offset", e.offset},
              {"size", e.size},
              {"index", e.index},
              {"register", register_name(e.index, options.naming)},
              {"type", e.type},
              {"type_name", event_type_name(e.type)},
              {"digests", digests},
              {"event_size", e.data.size()},
              {"details", decoded.details},
              {"digest_check", check_name(decoded.digest_check)},
              {"extended", e.type != ev::kNoAction}};
    if (options.include_event_data) j["event_data"] = hex_encode(e.data);
    events.push_back(std::move(j));
  }
  doc["events"] = std::move(events);

  Json banks = Json::object();
  for (const auto& [key, value] : replay.registers()) {
    banks[std::string(hash_name(key.second))][std::to_string(key.first)] = hex_encode(value);
  }
  doc["replay"] = std::move(banks);
  return doc;
}

std::string to_text(const EventLog& log, const Replayer& replay, const FormatOptions& options) {
  std::ostringstream out;
  char line[256];
  std::snprintf(line, sizeof line, "%4s %7s %-6s %-34s %-18s %-8s %s\n", "#", "offset", "reg",
                "type", "digest", "check", "summary");
  out << line;
  for (const auto& e : log.events) {
    DecodedEvent decoded = decode_event(e);
    std::string digest =
        e.digests.empty() ? "" : hex_encode(e.digests.front().value).substr(0, 16) + "..";
    std::string check = decoded.digest_check == DigestCheck::match      ? "ok"
                        : decoded.digest_check == DigestCheck::mismatch ? "MISMATCH"
                                                                        : "-";
    std::snprintf(line, sizeof line, "%4zu %7zu %-6s %-34s %-18s %-8s ", e.number, e.offset,
                  register_name(e.index, options.naming).c_str(), event_type_name(e.type).c_str(),
                  digest.c_str(), check.c_str());
    out << line << summary(decoded.details) << "\n";
  }
  out << "\nreplayed registers (EV_NO_ACTION not extended):\n";
  for (const auto& [key, value] : replay.registers()) {
    out << "  " << hash_name(key.second) << " " << register_name(key.first, options.naming) << ": "
        << hex_encode(value) << "\n";
  }
  return out.str();
}

}  // namespace acon::eventlog
