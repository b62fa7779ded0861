// Conditions (condition.h) read from TOML, for policy formats other than the appraisal policy
// that embed `when` lists (the KBS resource policy). This header brings toml++ in its
// header-only, exception-free configuration, as the appraisal library is built with it; a
// translation unit that includes it must not configure toml++ otherwise.
#pragma once

#ifndef TOML_HEADER_ONLY
#define TOML_HEADER_ONLY 1
#endif
#ifndef TOML_EXCEPTIONS
#define TOML_EXCEPTIONS 0
#endif
#include <toml++/toml.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "acon/appraisal/condition.h"
#include "acon/common/result.h"

static_assert(TOML_HEADER_ONLY && !TOML_EXCEPTIONS,
              "condition_toml.h: toml++ must be header-only without exceptions");

namespace acon::appraisal {

// Parses TOML text from outside: refused when longer than `max_bytes` or when it holds a code
// point toml++ 3.3 mishandles; errors are Errc::parse "<source>:<line>: <what>".
Result<toml::table> parse_toml_text(std::string_view text, std::string_view source,
                                    size_t max_bytes);

// A non-empty array of condition tables, as in a policy's `when`. `where` names the place for
// messages ("rules[2].when"); errors are Errc::parse "<source>:<line>: <where>[i].<key>: ...",
// unknown keys refused.
Result<std::vector<Condition>> parse_conditions(const toml::node& node, std::string_view source,
                                                const std::string& where);

}  // namespace acon::appraisal
