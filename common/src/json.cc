#include "acon/common/json.h"

#include <set>
#include <vector>

namespace acon {

namespace {
// Linear pre-scan of bracket nesting outside strings; cheap next to the parse itself.
bool depth_within(std::string_view text, size_t max_depth, size_t& offset) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"')
      in_string = true;
    else if (c == '[' || c == '{') {
      if (++depth > max_depth) {
        offset = i;
        return false;
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return true;
}
}  // namespace

Result<Json> parse_json(std::string_view text, size_t max_depth) {
  size_t offset = 0;
  if (!depth_within(text, max_depth, offset))
    return make_error(Errc::parse, "json: nesting deeper than " + std::to_string(max_depth) +
                                       " at offset " + std::to_string(offset));
  // Duplicate member names are refused: two parsers reading one document differently is a
  // classic way to smuggle a value past a check.
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;
  auto track_keys = [&](int, Json::parse_event_t event, Json& parsed) {
    if (event == Json::parse_event_t::object_start) {
      open_objects.emplace_back();
    } else if (event == Json::parse_event_t::object_end && !open_objects.empty()) {
      open_objects.pop_back();
    } else if (event == Json::parse_event_t::key && !open_objects.empty() && duplicate.empty() &&
               !open_objects.back().insert(parsed.get<std::string>()).second) {
      duplicate = parsed.get<std::string>();
    }
    return true;
  };
  try {
    Json value = Json::parse(text.begin(), text.end(), track_keys, /*allow_exceptions=*/true,
                             /*ignore_comments=*/false);
    if (!duplicate.empty())
      return make_error(Errc::parse, "json: duplicate member '" + duplicate + "'");
    return value;
  } catch (const Json::parse_error& e) {
    // nlohmann counts bytes read (1-based); report the 0-based offset like every other error.
    size_t at = e.byte > 0 ? e.byte - 1 : 0;
    return make_error(Errc::parse, "json: syntax error at offset " + std::to_string(at) + ": " +
                                       std::string(e.what()));
  } catch (const std::exception& e) {
    return make_error(Errc::parse, std::string("json: ") + e.what());
  }
}

std::string dump_compact(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Result<const Json*> json_get(const Json& object, std::string_view key) {
  if (!object.is_object()) return make_error(Errc::parse, "expected a JSON object");
  auto it = object.find(key);
  if (it == object.end())
    return make_error(Errc::parse, "missing member '" + std::string(key) + "'");
  return &*it;
}

Result<std::string> json_get_string(const Json& object, std::string_view key) {
  ACON_TRY(const Json* member, json_get(object, key));
  if (!member->is_string())
    return make_error(Errc::parse, "member '" + std::string(key) + "' is not a string");
  return member->get<std::string>();
}

}  // namespace acon
