// The auditor's report as one self-contained HTML page: inline CSS, no scripts, no external
// reference of any kind, every string from the evidence escaped. The launch-policy graph is
// inline SVG.
#pragma once

#include <string>
#include <string_view>

#include "acon/common/json.h"

namespace acon::report {

// Text for HTML element content and double- or single-quoted attribute values (also SVG):
// & < > " ' become entities; other control characters than tab, LF and CR (which HTML forbids
// as character references or which render nothing) become U+FFFD, as do invalid UTF-8 bytes.
std::string html_escape(std::string_view text);

// The launch_policy_graph JSON (report.h) drawn as an <svg> element; deterministic: the same
// graph gives the same bytes.
std::string launch_graph_svg(const Json& graph);

// The page for a report_model() result.
std::string html_report(const Json& model);

}  // namespace acon::report
