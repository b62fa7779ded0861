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

// The base of a TOML policy parser: errors in the one form every policy format uses,
// Errc::parse "<source>:<line>: <what>".
class TomlSource {
 public:
  explicit TomlSource(std::string_view source) : source_(source) {}

  Error error_at(size_t line, const std::string& message) const {
    return make_error(Errc::parse,
                      std::string(source_) + ":" + std::to_string(line) + ": " + message);
  }
  Error error_at(const toml::node& node, const std::string& message) const {
    return error_at(node.source().begin.line, message);
  }
  Error unknown_key(const toml::key& key, const std::string& where) const {
    return error_at(key.source().begin.line,
                    where + ": unknown key \"" + std::string(key.str()) + "\"");
  }

 protected:
  std::string_view source_;
};

}  // namespace acon::appraisal
