// The event timeline (acon/report/report.h event_timeline()) never crashes on arbitrary logs and
// replay verdicts, and keeps its promises: per register at most kMaxTimelineRows rows, events =
// rows + more, proven <= events, at most one row that diverges, every meaning bounded UTF-8; and
// the page rendered from it carries no markup from the logs.
//
// Input: byte 0 picks the log form (cc_eventlog, ccel, ccel + runtime AAEL, vTPM log), byte 1
// each RTMR's replay outcome (2 bits), bytes 2..5 a matching prefix per RTMR; the rest is split
// at the first "\n--\n" into the TCG2 bytes and text, and the text at the next one into a text
// AAEL and an IMA log.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "acon/common/utf8.h"
#include "acon/report/html.h"
#include "acon/report/report.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace acon;
  using namespace acon::report;
  if (size < 6) return 0;
  const uint8_t form = data[0] % 4;
  const uint8_t outcomes = data[1];
  const std::string_view rest(reinterpret_cast<const char*>(data + 6), size - 6);
  constexpr std::string_view kSeparator = "\n--\n";
  const size_t split = rest.find(kSeparator);
  const std::string_view binary = rest.substr(0, split);
  const std::string_view text =
      split == std::string_view::npos ? std::string_view() : rest.substr(split + kSeparator.size());
  const size_t split2 = text.find(kSeparator);
  const std::string_view aael = text.substr(0, split2);
  const std::string_view ima = split2 == std::string_view::npos
                                   ? std::string_view()
                                   : text.substr(split2 + kSeparator.size());

  appraisal::Evidence evidence;
  appraisal::CheckResults checks;
  const Bytes log(binary.begin(), binary.end());
  if (form == 3) {
    evidence.platform = appraisal::Platform::vtpm;
    evidence.vtpm.event_log = log;
    if (!aael.empty()) evidence.vtpm.runtime_aael = Bytes(aael.begin(), aael.end());
    for (uint32_t pcr = 0; pcr < 4; ++pcr) {
      const auto outcome = static_cast<appraisal::Outcome>((outcomes >> (2 * pcr)) & 3);
      checks.push_back({"replay.pcr" + std::to_string(pcr), outcome, "fuzz", nullptr});
    }
  } else {
    evidence.platform = appraisal::Platform::tdx;
    if (form == 0)
      evidence.tdx.cc_eventlog = log;
    else
      evidence.tdx.ccel = log;
    if (form == 2) evidence.tdx.runtime_aael = Bytes(aael.begin(), aael.end());
    if (!aael.empty()) evidence.tdx.runtime_text_aael = std::string(aael);
    if (!ima.empty()) evidence.tdx.ima_log = std::string(ima);
    for (uint32_t reg = 0; reg < 4; ++reg) {
      const auto outcome = static_cast<appraisal::Outcome>((outcomes >> (2 * reg)) & 3);
      Json detail = {{"events", data[2 + reg] % 8 == 0 ? 0 : data[2 + reg] / 2}};
      if (data[2 + reg] & 1) detail["matching_prefix"] = data[2 + reg] / 4;
      checks.push_back({"replay.rtmr" + std::to_string(reg), outcome, "fuzz", std::move(detail)});
    }
  }

  const Json timeline = event_timeline(evidence, checks);
  for (const Json& reg : timeline.at("registers")) {
    const Json& rows = reg.at("rows");
    const size_t events = reg.at("events").get<size_t>();
    if (rows.size() > kMaxTimelineRows || events != rows.size() + reg.at("more").get<size_t>() ||
        reg.at("proven").get<size_t>() > events)
      std::abort();
    size_t diverging = 0;
    for (const Json& row : rows) {
      if (row.at("status") == "diverges") ++diverging;
      const std::string& meaning = row.at("meaning").get_ref<const std::string&>();
      if (meaning.size() > 300 + 3) std::abort();
    }
    if (diverging > 1) std::abort();
  }
  // Through the page: the logs' bytes stay text (the JSON may carry invalid UTF-8 from the text
  // logs; html_escape replaces it).
  const std::string page = html_report(
      Json{{"result", {{"checks", appraisal::checks_to_json(checks)}}}, {"timeline", timeline}});
  if (!is_valid_utf8(page)) std::abort();
  const size_t body = page.find("<h2 id=\"timeline\">");
  const size_t end = page.find("<h2 id=\"images\">");
  if (body == std::string::npos || end == std::string::npos) std::abort();
  for (std::string_view tag : {"<script", "<img", "<iframe", "<a ", "<svg"})
    if (page.find(tag, body) < end) std::abort();
  return 0;
}
