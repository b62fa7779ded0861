// Typed models of Intel's TCB info (TDX v3, SGX v2/v3) and enclave identity (v2) JSON.
// Field lists: docs/dcap-verification.md §3; level order and statuses: §8.
// nlohmann's typed accessors throw on a type mismatch, so every value goes through JsonNode,
// which checks the type first and names the JSON path on failure.
#include <algorithm>
#include <array>
#include <cstdio>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "acon/common/json.h"
#include "acon/dcap/collateral.h"

namespace acon::dcap {
namespace {

// A JSON value and the path that leads to it, e.g. "tcbInfo.tcbLevels[3].tcb".
class JsonNode {
 public:
  JsonNode(const Json& value, std::string path) : value_(&value), path_(std::move(path)) {}

  const std::string& path() const { return path_; }
  Error error(std::string_view why) const {
    return make_error(Errc::parse, path_ + ": " + std::string(why));
  }

  bool has(std::string_view key) const {
    return value_->is_object() && value_->find(key) != value_->end();
  }
  Result<JsonNode> member(std::string_view key) const {
    if (!value_->is_object()) return error("expected an object");
    auto it = value_->find(key);
    if (it == value_->end()) return make_error(Errc::parse, child_path(key) + ": missing");
    return JsonNode(*it, child_path(key));
  }
  std::optional<JsonNode> optional_member(std::string_view key) const {
    if (!has(key)) return std::nullopt;
    return JsonNode(*value_->find(key), child_path(key));
  }

  Result<std::string> string() const {
    if (!value_->is_string()) return error("expected a string");
    return value_->get_ref<const std::string&>();
  }
  Result<uint64_t> unsigned_integer(uint64_t max) const {
    // Non-negative integer literals are the only values nlohmann stores as number_unsigned;
    // fractions, exponents and negative numbers are refused.
    if (!value_->is_number_unsigned()) return error("expected an unsigned integer");
    const uint64_t value = value_->get<uint64_t>();
    if (value > max)
      return error("value " + std::to_string(value) + " exceeds " + std::to_string(max));
    return value;
  }
  Result<std::vector<JsonNode>> array() const {
    if (!value_->is_array()) return error("expected an array");
    std::vector<JsonNode> items;
    items.reserve(value_->size());
    for (size_t i = 0; i < value_->size(); ++i)
      items.emplace_back((*value_)[i], path_ + "[" + std::to_string(i) + "]");
    return items;
  }
  Result<std::vector<JsonNode>> non_empty_array() const {
    ACON_TRY(auto items, array());
    if (items.empty()) return error("expected a non-empty array");
    return items;
  }

 private:
  std::string child_path(std::string_view key) const { return path_ + "." + std::string(key); }

  const Json* value_;
  std::string path_;
};

Result<std::string> get_string(const JsonNode& parent, std::string_view key) {
  ACON_TRY(JsonNode node, parent.member(key));
  return node.string();
}

template <class Int>
Result<Int> get_uint(const JsonNode& parent, std::string_view key) {
  ACON_TRY(JsonNode node, parent.member(key));
  ACON_TRY(uint64_t value, node.unsigned_integer(std::numeric_limits<Int>::max()));
  return static_cast<Int>(value);
}

template <size_t N>
Result<std::array<uint8_t, N>> get_hex(const JsonNode& parent, std::string_view key) {
  ACON_TRY(JsonNode node, parent.member(key));
  ACON_TRY(std::string text, node.string());
  if (text.size() != 2 * N)
    return node.error("expected " + std::to_string(N) + " bytes as " + std::to_string(2 * N) +
                      " hex digits, got " + std::to_string(text.size()) + " characters");
  auto bytes = hex_decode(text);
  if (!bytes) return node.error(bytes.error().message);
  std::array<uint8_t, N> out{};
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return out;
}

Result<Time> get_time(const JsonNode& parent, std::string_view key) {
  ACON_TRY(JsonNode node, parent.member(key));
  ACON_TRY(std::string text, node.string());
  auto time = parse_rfc3339(text);
  if (!time) return node.error(time.error().message);
  return *time;
}

constexpr std::array<std::pair<TcbStatus, std::string_view>, 7> kStatusNames{{
    {TcbStatus::up_to_date, "UpToDate"},
    {TcbStatus::sw_hardening_needed, "SWHardeningNeeded"},
    {TcbStatus::configuration_needed, "ConfigurationNeeded"},
    {TcbStatus::configuration_and_sw_hardening_needed, "ConfigurationAndSWHardeningNeeded"},
    {TcbStatus::out_of_date, "OutOfDate"},
    {TcbStatus::out_of_date_configuration_needed, "OutOfDateConfigurationNeeded"},
    {TcbStatus::revoked, "Revoked"},
}};

// The statuses QVL accepts for enclave identity levels (docs/dcap-verification.md §8): no
// SW-hardening variants.
bool valid_for_enclave_identity(TcbStatus status) {
  return status != TcbStatus::sw_hardening_needed &&
         status != TcbStatus::configuration_and_sw_hardening_needed;
}

enum class LevelKind { tcb_info, enclave_identity };

Result<TcbStatus> get_status(const JsonNode& level, LevelKind kind) {
  ACON_TRY(JsonNode node, level.member("tcbStatus"));
  ACON_TRY(std::string text, node.string());
  auto status = tcb_status_from_name(text);
  if (!status || (kind == LevelKind::enclave_identity && !valid_for_enclave_identity(*status)))
    return node.error("unrecognized status '" + text + "'");
  return *status;
}

Result<std::vector<std::string>> get_advisory_ids(const JsonNode& level) {
  std::vector<std::string> ids;
  auto node = level.optional_member("advisoryIDs");
  if (!node) return ids;
  ACON_TRY(auto items, node->array());
  for (const JsonNode& item : items) {
    ACON_TRY(std::string id, item.string());
    ids.push_back(std::move(id));
  }
  return ids;
}

// The v3 form: an array of 16 {svn, category?, type?}.
Result<std::array<TcbComponent, kTcbComponentCount>> get_components(const JsonNode& tcb,
                                                                    std::string_view key) {
  ACON_TRY(JsonNode node, tcb.member(key));
  ACON_TRY(auto items, node.array());
  if (items.size() != kTcbComponentCount)
    return node.error("expected 16 components, got " + std::to_string(items.size()));
  std::array<TcbComponent, kTcbComponentCount> components;
  for (size_t i = 0; i < kTcbComponentCount; ++i) {
    const JsonNode& item = items[i];
    if (!item.has("svn")) return item.error("expected an object with 'svn'");
    ACON_TRY(components[i].svn, get_uint<uint16_t>(item, "svn"));
    if (item.has("category")) {
      ACON_TRY(components[i].category, get_string(item, "category"));
    }
    if (item.has("type")) {
      ACON_TRY(components[i].type, get_string(item, "type"));
    }
  }
  return components;
}

// The v2 form: sgxtcbcomp01svn .. sgxtcbcomp16svn members of "tcb".
Result<std::array<TcbComponent, kTcbComponentCount>> get_v2_components(const JsonNode& tcb) {
  std::array<TcbComponent, kTcbComponentCount> components;
  for (size_t i = 0; i < kTcbComponentCount; ++i) {
    char key[24];
    std::snprintf(key, sizeof key, "sgxtcbcomp%02zusvn", i + 1);
    ACON_TRY(components[i].svn, get_uint<uint16_t>(tcb, key));
  }
  return components;
}

Result<TcbLevel> parse_tcb_level(const JsonNode& node, uint32_t version, bool tdx) {
  TcbLevel level;
  ACON_TRY(JsonNode tcb, node.member("tcb"));
  if (version == 2) {
    ACON_TRY(level.sgx_components, get_v2_components(tcb));
  } else {
    ACON_TRY(level.sgx_components, get_components(tcb, "sgxtcbcomponents"));
  }
  ACON_TRY(level.pcesvn, get_uint<uint16_t>(tcb, "pcesvn"));
  if (tdx) {
    ACON_TRY(level.tdx_components, get_components(tcb, "tdxtcbcomponents"));
  }
  ACON_TRY(level.tcb_date, get_time(node, "tcbDate"));
  ACON_TRY(level.status, get_status(node, LevelKind::tcb_info));
  ACON_TRY(level.advisory_ids, get_advisory_ids(node));
  return level;
}

Result<IsvTcbLevel> parse_isv_level(const JsonNode& node, LevelKind kind) {
  IsvTcbLevel level;
  ACON_TRY(JsonNode tcb, node.member("tcb"));
  ACON_TRY(level.isvsvn, get_uint<uint16_t>(tcb, "isvsvn"));
  ACON_TRY(level.tcb_date, get_time(node, "tcbDate"));
  ACON_TRY(level.status, get_status(node, kind));
  ACON_TRY(level.advisory_ids, get_advisory_ids(node));
  return level;
}

// Sorts `levels` with `higher` (stable) and refuses two levels neither of which sorts higher:
// QVL keeps levels in a std::set ordered by that comparison, so such a pair cannot both be in
// it and its parsers throw "Detected duplicated TCB levels" (TcbInfo.cpp, EnclaveIdentity.cpp,
// TdxModuleIdentity.cpp) - the collateral is refused rather than the first one winning.
template <class Level, class Higher>
Status sort_refusing_duplicates(std::vector<Level>& levels, Higher higher, const JsonNode& node) {
  std::vector<size_t> order(levels.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return higher(levels[a], levels[b]); });
  for (size_t k = 1; k < order.size(); ++k) {
    const size_t a = order[k - 1];
    const size_t b = order[k];
    if (!higher(levels[a], levels[b]))
      return node.error(
          "entries [" + std::to_string(std::min(a, b)) + "] and [" +
          std::to_string(std::max(a, b)) +
          "] are the same TCB level (duplicated TCB levels are refused, as QVL does)");
  }
  std::vector<Level> sorted;
  sorted.reserve(levels.size());
  for (size_t i : order) sorted.push_back(std::move(levels[i]));
  levels = std::move(sorted);
  return {};
}

Result<std::vector<IsvTcbLevel>> parse_isv_levels(const JsonNode& parent, LevelKind kind) {
  ACON_TRY(JsonNode node, parent.member("tcbLevels"));
  ACON_TRY(auto items, node.non_empty_array());
  std::vector<IsvTcbLevel> levels;
  for (const JsonNode& item : items) {
    ACON_TRY(IsvTcbLevel level, parse_isv_level(item, kind));
    levels.push_back(std::move(level));
  }
  // Matching takes the first level at or below the report's ISV SVN, which is only right when
  // the highest comes first. QVL orders enclave identity levels by isvsvn, then tcbDate, newest
  // first (IdentityTcbLevel::operator>), and TDX module levels by isvsvn alone
  // (TdxModuleTcbLevel::operator>).
  if (kind == LevelKind::enclave_identity) {
    ACON_CHECK(sort_refusing_duplicates(
        levels,
        [](const IsvTcbLevel& a, const IsvTcbLevel& b) {
          return a.isvsvn != b.isvsvn ? a.isvsvn > b.isvsvn : a.tcb_date > b.tcb_date;
        },
        node));
  } else {
    ACON_CHECK(sort_refusing_duplicates(
        levels, [](const IsvTcbLevel& a, const IsvTcbLevel& b) { return a.isvsvn > b.isvsvn; },
        node));
  }
  return levels;
}

Result<TdxModule> parse_tdx_module(const JsonNode& node) {
  TdxModule module;
  ACON_TRY(module.mrsigner, get_hex<48>(node, "mrsigner"));
  ACON_TRY(module.attributes, get_hex<8>(node, "attributes"));
  ACON_TRY(module.attributes_mask, get_hex<8>(node, "attributesMask"));
  return module;
}

// QVL TcbLevel::operator>: SGX component SVNs lexicographically, then PCESVN, then TDX SVNs.
bool level_sorts_higher(const TcbLevel& a, const TcbLevel& b) {
  auto svns = [](const std::array<TcbComponent, kTcbComponentCount>& components) {
    std::array<uint16_t, kTcbComponentCount> out{};
    for (size_t i = 0; i < kTcbComponentCount; ++i) out[i] = components[i].svn;
    return out;
  };
  const auto a_sgx = svns(a.sgx_components);
  const auto b_sgx = svns(b.sgx_components);
  if (a_sgx != b_sgx) return a_sgx > b_sgx;
  if (a.pcesvn != b.pcesvn) return a.pcesvn > b.pcesvn;
  if (a.tdx_components && b.tdx_components)
    return svns(*a.tdx_components) > svns(*b.tdx_components);
  return false;
}

Result<Json> parse_inner_object(std::string_view text, std::string_view path_root) {
  auto document = parse_json(text);
  if (!document) return std::move(document).error().wrap(path_root);
  if (!document->is_object())
    return make_error(Errc::parse, std::string(path_root) + ": expected an object");
  return document;
}

}  // namespace

std::string_view tcb_status_name(TcbStatus status) {
  for (const auto& [value, name] : kStatusNames) {
    if (value == status) return name;
  }
  return "unknown";
}

std::optional<TcbStatus> tcb_status_from_name(std::string_view name) {
  for (const auto& [value, spelled] : kStatusNames) {
    if (spelled == name) return value;
  }
  return std::nullopt;
}

Result<TcbInfo> parse_tcb_info_json(std::string_view inner_json, std::string_view path_root) {
  ACON_TRY(const Json document, parse_inner_object(inner_json, path_root));
  const JsonNode root(document, std::string(path_root));
  TcbInfo info;
  ACON_TRY(info.version, get_uint<uint32_t>(root, "version"));
  if (info.version != 2 && info.version != 3)
    return make_error(Errc::unsupported, root.path() + ".version: unsupported TCB info version " +
                                             std::to_string(info.version));
  // Version 2 predates TDX and has no id; version 3 names the TEE.
  if (info.version == 3 || root.has("id")) {
    ACON_TRY(info.id, get_string(root, "id"));
  } else {
    info.id = "SGX";
  }
  if (info.id != "SGX" && info.id != "TDX")
    return make_error(Errc::unsupported,
                      root.path() + ".id: unsupported TCB info id '" + info.id + "'");
  if (info.is_tdx() && info.version < 3)
    return make_error(Errc::parse, root.path() + ".version: TDX TCB info needs version 3");
  ACON_TRY(info.issue_date, get_time(root, "issueDate"));
  ACON_TRY(info.next_update, get_time(root, "nextUpdate"));
  ACON_TRY(info.fmspc, get_hex<6>(root, "fmspc"));
  ACON_TRY(info.pce_id, get_hex<2>(root, "pceId"));
  ACON_TRY(info.tcb_type, get_uint<uint32_t>(root, "tcbType"));
  ACON_TRY(info.tcb_evaluation_data_number, get_uint<uint32_t>(root, "tcbEvaluationDataNumber"));
  if (info.is_tdx()) {
    ACON_TRY(JsonNode module, root.member("tdxModule"));
    ACON_TRY(info.tdx_module, parse_tdx_module(module));
    if (auto identities = root.optional_member("tdxModuleIdentities")) {
      ACON_TRY(auto items, identities->array());
      for (const JsonNode& item : items) {
        TdxModuleIdentity identity;
        ACON_TRY(identity.id, get_string(item, "id"));
        ACON_TRY(identity.module, parse_tdx_module(item));
        ACON_TRY(identity.tcb_levels, parse_isv_levels(item, LevelKind::tcb_info));
        info.tdx_module_identities.push_back(std::move(identity));
      }
    }
  }
  ACON_TRY(JsonNode levels_node, root.member("tcbLevels"));
  ACON_TRY(auto level_items, levels_node.non_empty_array());
  for (const JsonNode& item : level_items) {
    ACON_TRY(TcbLevel level, parse_tcb_level(item, info.version, info.is_tdx()));
    info.tcb_levels.push_back(std::move(level));
  }
  // docs/dcap-verification.md §8: evaluation takes the first matching level, so the order must be
  // highest first, as QVL's TcbLevel::operator> (and Phala's canonicalize_tcb_levels) order
  // them; two levels with the same SVNs are refused.
  ACON_CHECK(sort_refusing_duplicates(info.tcb_levels, level_sorts_higher, levels_node));
  return info;
}

Result<EnclaveIdentity> parse_enclave_identity_json(std::string_view inner_json,
                                                    std::string_view path_root) {
  ACON_TRY(const Json document, parse_inner_object(inner_json, path_root));
  const JsonNode root(document, std::string(path_root));
  EnclaveIdentity identity;
  ACON_TRY(identity.id, get_string(root, "id"));
  ACON_TRY(identity.version, get_uint<uint32_t>(root, "version"));
  if (identity.version != 2)
    return make_error(Errc::unsupported, root.path() +
                                             ".version: unsupported enclave identity version " +
                                             std::to_string(identity.version));
  ACON_TRY(identity.issue_date, get_time(root, "issueDate"));
  ACON_TRY(identity.next_update, get_time(root, "nextUpdate"));
  ACON_TRY(identity.tcb_evaluation_data_number,
           get_uint<uint32_t>(root, "tcbEvaluationDataNumber"));
  auto read_u32 = [](const std::array<uint8_t, 4>& b) {
    return uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 | uint32_t{b[3]};
  };
  ACON_TRY(auto miscselect, get_hex<4>(root, "miscselect"));
  ACON_TRY(auto miscselect_mask, get_hex<4>(root, "miscselectMask"));
  identity.miscselect = read_u32(miscselect);
  identity.miscselect_mask = read_u32(miscselect_mask);
  ACON_TRY(identity.attributes, get_hex<16>(root, "attributes"));
  ACON_TRY(identity.attributes_mask, get_hex<16>(root, "attributesMask"));
  ACON_TRY(identity.mrsigner, get_hex<32>(root, "mrsigner"));
  ACON_TRY(identity.isvprodid, get_uint<uint16_t>(root, "isvprodid"));
  ACON_TRY(identity.tcb_levels, parse_isv_levels(root, LevelKind::enclave_identity));
  return identity;
}

}  // namespace acon::dcap
