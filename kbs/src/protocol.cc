#include "acon/kbs/protocol.h"

#include "acon/common/bytes.h"

namespace acon::kbs {

namespace {
bool word_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}
}  // namespace

bool valid_path_component(std::string_view component) {
  if (component.empty() || component.size() > 128 || !word_char(component.front())) return false;
  for (char c : component)
    if (!word_char(c) && c != '.') return false;
  return true;
}

bool valid_resource_path(std::string_view path) {
  auto parts = split(path, '/');
  if (parts.size() != 3) return false;
  for (auto p : parts)
    if (!valid_path_component(p)) return false;
  return true;
}

}  // namespace acon::kbs
