#include "acon/image/manifest.h"

#include <algorithm>
#include <limits>
#include <set>
#include <span>

#include "acon/image/env_rules.h"
#include "acon/image/policy.h"
#include "json_text.h"

namespace acon::image {

namespace {

constexpr std::string_view kSignerPrefix = "signer/";

const char* type_name(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "an integer";
    case Json::value_t::number_float:
      return "a floating-point number";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::object:
      return "an object";
    default:
      return "a binary value";
  }
}

Error field_error(const std::string& field, const std::string& what) {
  return make_error(Errc::parse, field + ": " + what);
}

std::string number_text(const Json& v) {
  if (v.is_number_unsigned()) return std::to_string(v.get<uint64_t>());
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  return detail::jq_number(v.get<double>());
}

// serde's integer deserialisation: only integer literals, range-checked.
template <class Int>
Result<Int> get_int(const Json& v, const std::string& field, const char* rust_name) {
  if (!v.is_number_integer() && !v.is_number_unsigned())
    return field_error(field, std::string("expected ") + rust_name + ", got " + type_name(v));
  bool fits;
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    fits = u <= static_cast<uint64_t>(std::numeric_limits<Int>::max());
  } else {
    int64_t s = v.get<int64_t>();
    fits = s >= static_cast<int64_t>(std::numeric_limits<Int>::min()) &&
           (s < 0 ||
            static_cast<uint64_t>(s) <= static_cast<uint64_t>(std::numeric_limits<Int>::max()));
  }
  if (!fits)
    return field_error(field, std::string("expected ") + rust_name + ", got " + number_text(v) +
                                  " (out of range)");
  if (v.is_number_unsigned()) return static_cast<Int>(v.get<uint64_t>());
  return static_cast<Int>(v.get<int64_t>());
}

Result<std::string> get_string(const Json& v, const std::string& field) {
  if (!v.is_string())
    return field_error(field, std::string("expected a string, got ") + type_name(v));
  return v.get<std::string>();
}

Result<bool> get_bool(const Json& v, const std::string& field) {
  if (!v.is_boolean())
    return field_error(field, std::string("expected a boolean, got ") + type_name(v));
  return v.get<bool>();
}

template <class T, class F>
Result<std::vector<T>> get_vec(const Json& v, const std::string& field, F element) {
  if (!v.is_array())
    return field_error(field, std::string("expected an array, got ") + type_name(v));
  std::vector<T> out;
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    ACON_TRY(T item, element(v[i], field + "[" + std::to_string(i) + "]"));
    out.push_back(std::move(item));
  }
  return out;
}

Result<std::vector<std::string>> get_strings(const Json& v, const std::string& field) {
  return get_vec<std::string>(v, field, get_string);
}

Result<std::map<std::string, std::vector<std::string>>> get_string_lists(const Json& v,
                                                                         const std::string& field) {
  if (!v.is_object())
    return field_error(field, std::string("expected an object, got ") + type_name(v));
  std::map<std::string, std::vector<std::string>> out;
  for (auto it = v.begin(); it != v.end(); ++it) {
    ACON_TRY(auto list, get_strings(it.value(), field + "[\"" + it.key() + "\"]"));
    out.emplace(it.key(), std::move(list));
  }
  return out;
}

const Json* member(const Json& object, std::string_view key) {
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

Error missing(const std::string& field) { return field_error(field, "missing required field"); }

// The fields of acond's serde structs in declaration order (acond/src/image.rs).
constexpr std::string_view kManifestFields[] = {
    "aconSpecVersion", "layers",       "aliases", "entrypoint", "env",
    "workingDir",      "uids",         "logFDs",  "writableFS", "noRestart",
    "signals",         "maxInstances", "policy"};
constexpr std::string_view kAliasFields[] = {"contents", "self"};
constexpr std::string_view kPolicyFields[] = {"accepts", "rejectUnaccepted"};

// The object for a struct-typed value. serde (derive) also fills a struct from a JSON array, in
// field order, with a missing trailing element taking the field's default (or failing for a
// required field) and more elements than fields refused; such an array is turned into the object
// acond would see, and `array_form` records the first field where that happened so that
// parse_manifest can refuse the manifest saying acond would load it. `storage` holds the object.
Result<const Json*> struct_members(const Json& v, std::span<const std::string_view> fields,
                                   const std::string& field, Json& storage,
                                   std::string& array_form) {
  if (v.is_object()) return &v;
  if (!v.is_array())
    return field_error(field, std::string("expected an object, got ") + type_name(v));
  if (v.size() > fields.size())
    return field_error(field, "expected an object, got an array of " + std::to_string(v.size()) +
                                  " elements, which acond refuses too (serde reads this struct "
                                  "from an array of at most " +
                                  std::to_string(fields.size()) + ")");
  storage = Json::object();
  for (size_t i = 0; i < v.size(); ++i) storage[std::string(fields[i])] = v[i];
  if (array_form.empty()) array_form = field;
  return &storage;
}

Result<Aliases> get_aliases(const Json& v, std::string& array_form) {
  const std::string field = "manifest.aliases";
  Json storage;
  ACON_TRY(const Json* object, struct_members(v, kAliasFields, field, storage, array_form));
  Aliases out;
  if (const Json* c = member(*object, "contents")) {
    ACON_TRY(out.contents, get_string_lists(*c, field + ".contents"));
  }
  if (const Json* s = member(*object, "self")) {
    ACON_TRY(out.self, get_string_lists(*s, field + ".self"));
  }
  return out;
}

Result<LaunchPolicy> get_policy(const Json& v, std::string& array_form) {
  const std::string field = "manifest.policy";
  Json storage;
  ACON_TRY(const Json* object, struct_members(v, kPolicyFields, field, storage, array_form));
  LaunchPolicy out;
  if (const Json* a = member(*object, "accepts")) {
    ACON_TRY(out.accepts, get_strings(*a, field + ".accepts"));
  }
  if (const Json* r = member(*object, "rejectUnaccepted")) {
    ACON_TRY(out.reject_unaccepted, get_bool(*r, field + ".rejectUnaccepted"));
  }
  return out;
}

const std::set<std::string_view>& known_keys() {
  static const std::set<std::string_view> keys = {
      "aconSpecVersion", "layers",       "aliases", "entrypoint", "env",
      "workingDir",      "uids",         "logFDs",  "writableFS", "noRestart",
      "signals",         "maxInstances", "policy"};
  return keys;
}

bool is_lower_hex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

Status check_hex_digest(std::string_view hex, HashAlg alg, std::string_view what) {
  size_t want = hash_size(alg) * 2;
  if (hex.size() != want)
    return make_error(Errc::parse, std::string(what) + " must be " + std::to_string(want) +
                                       " hex digits for " + std::string(hash_name(alg)) + ", got " +
                                       std::to_string(hex.size()));
  if (!is_lower_hex(hex))
    return make_error(Errc::parse, std::string(what) + " must be lower-case hex");
  return {};
}

Json string_list_map_json(const std::map<std::string, std::vector<std::string>>& m) {
  Json out = Json::object();
  for (const auto& [k, v] : m) out[k] = v;
  return out;
}

}  // namespace

// ---- Manifest -------------------------------------------------------------------------------

namespace {
const std::vector<std::string> kNoStrings;
const std::vector<uint32_t> kNoU32;
}  // namespace

const std::vector<std::string>& Manifest::layers_or_default() const {
  return layers ? *layers : kNoStrings;
}
const std::vector<std::string>& Manifest::entrypoint_or_default() const {
  return entrypoint ? *entrypoint : kNoStrings;
}
const std::vector<std::string>& Manifest::env_or_default() const { return env ? *env : kNoStrings; }
const std::vector<uint32_t>& Manifest::uids_or_default() const { return uids ? *uids : kNoU32; }

Result<Manifest> parse_manifest(std::string_view bytes) {
  auto parsed = detail::read_json_skipping_deep(bytes);
  if (!parsed) return parsed.error().wrap("manifest");
  std::string array_form;  // the first struct given as an array
  Json root_storage;
  ACON_TRY(const Json* root_object,
           struct_members(parsed->value, kManifestFields, "manifest", root_storage, array_form));
  const Json& root = *root_object;

  Manifest m;
  const std::string p = "manifest.";
  if (const Json* v = member(root, "aconSpecVersion")) {
    ACON_TRY(m.acon_spec_version,
             get_vec<uint32_t>(*v, p + "aconSpecVersion", [](const Json& e, const std::string& f) {
               return get_int<uint32_t>(e, f, "u32");
             }));
  }
  if (const Json* v = member(root, "layers")) {
    ACON_TRY(m.layers, get_strings(*v, p + "layers"));
  }
  const Json* aliases = member(root, "aliases");
  if (!aliases) return missing(p + "aliases");
  ACON_TRY(m.aliases, get_aliases(*aliases, array_form));
  if (const Json* v = member(root, "entrypoint")) {
    ACON_TRY(m.entrypoint, get_strings(*v, p + "entrypoint"));
  }
  if (const Json* v = member(root, "env")) {
    ACON_TRY(m.env, get_strings(*v, p + "env"));
  }
  const Json* wd = member(root, "workingDir");
  if (!wd) return missing(p + "workingDir");
  ACON_TRY(m.working_dir, get_string(*wd, p + "workingDir"));
  if (const Json* v = member(root, "uids")) {
    ACON_TRY(m.uids, get_vec<uint32_t>(*v, p + "uids", [](const Json& e, const std::string& f) {
               return get_int<uint32_t>(e, f, "u32");
             }));
  }
  if (const Json* v = member(root, "logFDs")) {
    ACON_TRY(m.log_fds, get_vec<int32_t>(*v, p + "logFDs", [](const Json& e, const std::string& f) {
               return get_int<int32_t>(e, f, "i32");
             }));
  }
  if (const Json* v = member(root, "writableFS")) {
    ACON_TRY(m.writable_fs, get_bool(*v, p + "writableFS"));
  }
  if (const Json* v = member(root, "noRestart")) {
    ACON_TRY(m.no_restart, get_bool(*v, p + "noRestart"));
  }
  const Json* signals = member(root, "signals");
  if (!signals) return missing(p + "signals");
  ACON_TRY(m.signals,
           get_vec<int32_t>(*signals, p + "signals", [](const Json& e, const std::string& f) {
             return get_int<int32_t>(e, f, "i32");
           }));
  if (const Json* v = member(root, "maxInstances")) {
    ACON_TRY(m.max_instances, get_int<uint64_t>(*v, p + "maxInstances", "u64"));
  }
  const Json* policy = member(root, "policy");
  if (!policy) return missing(p + "policy");
  ACON_TRY(m.policy, get_policy(*policy, array_form));

  // acond would load everything that reached this point. Two forms it loads are refused on
  // purpose (docs/acon-manifest.md, "Stricter than acond"): the verdict says so.
  if (parsed->deep_at)
    return make_error(
        Errc::parse,
        "manifest: json at offset " + std::to_string(*parsed->deep_at) +
            ": acond would load this; acon refuses it because a value under a key acond ignores "
            "is nested deeper than " +
            std::to_string(detail::kMaxManifestDepth) +
            " levels (serde_json skips unknown members without a depth limit; acon reads every "
            "value with serde_json's 127-level limit, so jq and other readers can hold it too)");
  if (!array_form.empty())
    return field_error(array_form,
                       "acond would load this; acon refuses it because it is a JSON array where "
                       "the manifest format has an object (serde fills a struct from an array "
                       "in field order, but the array has no member names, so jq -cS, aconcli "
                       "and the ACON spec read a different document)");
  for (auto it = root.begin(); it != root.end(); ++it)
    if (!known_keys().contains(it.key())) m.unknown[it.key()] = it.value();
  m.raw = std::string(bytes);
  return m;
}

Json manifest_to_json(const Manifest& m) {
  Json out = m.unknown.is_object() ? m.unknown : Json::object();
  if (m.acon_spec_version) out["aconSpecVersion"] = *m.acon_spec_version;
  if (m.layers) out["layers"] = *m.layers;
  // aliases.contents, aliases.self and policy.accepts are written only when non-empty, as acond
  // (skip_serializing_if) and aconcli (omitempty) write them; rejectUnaccepted always.
  Json aliases = Json::object();
  if (!m.aliases.contents.empty()) aliases["contents"] = string_list_map_json(m.aliases.contents);
  if (!m.aliases.self.empty()) aliases["self"] = string_list_map_json(m.aliases.self);
  out["aliases"] = std::move(aliases);
  if (m.entrypoint) out["entrypoint"] = *m.entrypoint;
  if (m.env) out["env"] = *m.env;
  out["workingDir"] = m.working_dir;
  if (m.uids) out["uids"] = *m.uids;
  if (m.log_fds) out["logFDs"] = *m.log_fds;
  if (m.writable_fs) out["writableFS"] = *m.writable_fs;
  if (m.no_restart) out["noRestart"] = *m.no_restart;
  out["signals"] = m.signals;
  if (m.max_instances) out["maxInstances"] = *m.max_instances;
  Json policy = Json::object();
  if (!m.policy.accepts.empty()) policy["accepts"] = m.policy.accepts;
  policy["rejectUnaccepted"] = m.policy.reject_unaccepted;
  out["policy"] = std::move(policy);
  return out;
}

Result<std::string> canonicalize_json(std::string_view json_text, CanonicalStyle style) {
  ACON_TRY(Json value, detail::read_json(json_text));
  return detail::write_canonical(value, style);
}

Result<std::string> canonicalize_json(const std::string& json_text, CanonicalStyle style) {
  return canonicalize_json(std::string_view(json_text), style);
}

Result<std::string> canonicalize_json(const char* json_text, CanonicalStyle style) {
  return canonicalize_json(std::string_view(json_text), style);
}

Result<std::string> canonicalize_json(const Json& value, CanonicalStyle style) {
  return detail::write_canonical(value, style);
}

namespace {
// Equality of the fields acond reads plus the unknown members (raw bytes excluded).
bool same_content(const Manifest& a, const Manifest& b) {
  return a.acon_spec_version == b.acon_spec_version && a.layers == b.layers &&
         a.aliases.contents == b.aliases.contents && a.aliases.self == b.aliases.self &&
         a.entrypoint == b.entrypoint && a.env == b.env && a.working_dir == b.working_dir &&
         a.uids == b.uids && a.log_fds == b.log_fds && a.writable_fs == b.writable_fs &&
         a.no_restart == b.no_restart && a.signals == b.signals &&
         a.max_instances == b.max_instances && a.policy.accepts == b.policy.accepts &&
         a.policy.reject_unaccepted == b.policy.reject_unaccepted;
}
}  // namespace

Result<std::string> serialize_manifest(const Manifest& manifest, CanonicalStyle style) {
  if (!manifest.unknown.is_object())
    return make_error(Errc::invalid_argument, "manifest.unknown: must be a JSON object");
  ACON_TRY(std::string text, detail::write_canonical(manifest_to_json(manifest), style));
  auto back = parse_manifest(text);
  if (!back)
    return make_error(Errc::invalid_argument,
                      "canonical form does not parse back: " + back.error().message);
  if (!same_content(*back, manifest))
    return make_error(Errc::invalid_argument,
                      "canonical form changes a value (an integer above 2^53 prints as a "
                      "rounded double)");
  // Unknown members are compared by their own canonical text: numbers in them are doubles.
  ACON_TRY(std::string unknown_before, detail::write_canonical(manifest.unknown, style));
  ACON_TRY(std::string unknown_after, detail::write_canonical(back->unknown, style));
  if (unknown_before != unknown_after)
    return make_error(Errc::invalid_argument, "canonical form changes an unknown member");
  return text;
}

// ---- References -----------------------------------------------------------------------------

std::optional<HashAlg> acon_hash_from_name(std::string_view name) {
  if (name == "sha256") return HashAlg::sha256;
  if (name == "sha384") return HashAlg::sha384;
  if (name == "sha512") return HashAlg::sha512;
  return std::nullopt;
}

std::string DigestRef::to_string() const { return std::string(hash_name(alg)) + "/" + hex; }

std::string AliasRef::to_string() const {
  return std::string(kSignerPrefix) + std::string(hash_name(alg)) + "/" + signer + "/" + name;
}

std::string LayerRef::to_string() const {
  if (digest) return digest->to_string();
  if (alias) return alias->to_string();
  return {};
}

Result<DigestRef> parse_digest_ref(std::string_view text) {
  auto fail = [&](const std::string& what) {
    return make_error(Errc::parse, "digest reference '" + std::string(text) + "': " + what);
  };
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) return fail("expected HASH/HEX");
  auto alg = acon_hash_from_name(text.substr(0, slash));
  if (!alg) return fail("hash must be sha256, sha384 or sha512");
  std::string_view hex = text.substr(slash + 1);
  if (auto st = check_hex_digest(hex, *alg, "digest"); !st) return fail(st.error().message);
  return DigestRef{*alg, std::string(hex)};
}

Status check_alias_name(std::string_view name) {
  if (name.empty()) return make_error(Errc::parse, "alias name is empty");
  if (name == "." || name == "..")
    return make_error(Errc::parse, "alias name '" + std::string(name) + "' is not a file name");
  if (name.find('/') != std::string_view::npos)
    return make_error(Errc::parse, "alias name '" + std::string(name) + "' contains '/'");
  if (name.find('\0') != std::string_view::npos)
    return make_error(Errc::parse, "alias name contains a NUL character");
  return {};
}

Result<AliasRef> parse_alias_ref(std::string_view text) {
  auto fail = [&](const std::string& what) {
    return make_error(Errc::parse, "alias reference '" + std::string(text) + "': " + what);
  };
  if (!text.starts_with(kSignerPrefix)) return fail("expected signer/HASH/SIGNER/NAME");
  std::string_view rest = text.substr(kSignerPrefix.size());
  size_t a = rest.find('/');
  if (a == std::string_view::npos) return fail("expected signer/HASH/SIGNER/NAME");
  size_t b = rest.find('/', a + 1);
  if (b == std::string_view::npos) return fail("expected signer/HASH/SIGNER/NAME");
  auto alg = acon_hash_from_name(rest.substr(0, a));
  if (!alg) return fail("hash must be sha256, sha384 or sha512");
  std::string_view signer = rest.substr(a + 1, b - a - 1);
  if (auto st = check_hex_digest(signer, *alg, "signer digest"); !st)
    return fail(st.error().message);
  std::string_view name = rest.substr(b + 1);
  if (auto st = check_alias_name(name); !st) return fail(st.error().message);
  return AliasRef{*alg, std::string(signer), std::string(name)};
}

Result<LayerRef> parse_layer_ref(std::string_view text) {
  LayerRef ref;
  if (text.starts_with(kSignerPrefix)) {
    ACON_TRY(ref.alias, parse_alias_ref(text));
  } else {
    ACON_TRY(ref.digest, parse_digest_ref(text));
  }
  return ref;
}

// ---- NAME:SVN -------------------------------------------------------------------------------

std::optional<uint64_t> parse_rust_u64(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

std::string NameSvn::to_string() const { return name + ":" + std::to_string(svn); }

Result<NameSvn> parse_name_svn(std::string_view text, bool allow_empty_name) {
  auto fail = [&](const std::string& what) {
    return make_error(Errc::parse, "'" + std::string(text) + "' is not NAME:SVN: " + what);
  };
  size_t colon = text.find(':');
  if (colon == std::string_view::npos) return fail("no ':'");
  if (text.find(':', colon + 1) != std::string_view::npos) return fail("more than one ':'");
  std::string_view name = text.substr(0, colon);
  if (name.empty() && !allow_empty_name) return fail("empty NAME");
  auto svn = parse_rust_u64(text.substr(colon + 1));
  if (!svn) return fail("SVN is not an unsigned 64-bit decimal");
  return NameSvn{std::string(name), *svn};
}

// ---- Validation -----------------------------------------------------------------------------

std::vector<ManifestProblem> manifest_problems(const Manifest& m) {
  using Kind = ManifestProblemKind;
  std::vector<ManifestProblem> problems;
  Kind kind = Kind::spec_version;
  auto add = [&](const std::string& field, const std::string& what) {
    problems.push_back({kind, field, what});
  };
  auto quoted = [](const std::string& s) { return "'" + s + "'"; };

  if (m.acon_spec_version && m.acon_spec_version->size() != 2)
    add("manifest.aconSpecVersion",
        "expected [MAJOR, MINOR], got " + std::to_string(m.acon_spec_version->size()) + " numbers");

  kind = Kind::layer;
  const auto& layers = m.layers_or_default();
  std::set<std::string> seen_layers;
  for (size_t i = 0; i < layers.size(); ++i) {
    std::string field = "manifest.layers[" + std::to_string(i) + "]";
    if (auto r = parse_layer_ref(layers[i]); !r) add(field, r.error().message);
    if (!seen_layers.insert(layers[i]).second) add(field, quoted(layers[i]) + " is listed twice");
  }

  kind = Kind::alias;
  for (const auto& [object, names] : m.aliases.contents) {
    std::string field = "manifest.aliases.contents[\"" + object + "\"]";
    if (auto r = parse_layer_ref(object); !r) add(field, r.error().message);
    if (names.empty()) add(field, "lists no alias name");
    for (size_t i = 0; i < names.size(); ++i)
      if (auto st = check_alias_name(names[i]); !st)
        add(field + "[" + std::to_string(i) + "]", st.error().message);
  }
  for (const auto& [object, names] : m.aliases.self) {
    std::string field = "manifest.aliases.self[\"" + object + "\"]";
    if (object != ".") add(field, "the only object aliases.self may name is \".\"");
    for (size_t i = 0; i < names.size(); ++i) {
      std::string f = field + "[" + std::to_string(i) + "]";
      if (auto r = parse_name_svn(names[i], false); !r) add(f, r.error().message);
      if (auto st = check_alias_name(names[i]); !st) add(f, st.error().message);
    }
  }

  kind = Kind::entrypoint;
  if (m.entrypoint_or_default().empty())
    add("manifest.entrypoint", "is empty: acond cannot start the image");
  kind = Kind::working_dir;
  if (m.working_dir.empty() || m.working_dir.front() != '/')
    add("manifest.workingDir", quoted(m.working_dir) + " is not an absolute path");

  // Env rules, as acond's get_env_vars() reads them (env_rules.h).
  kind = Kind::env;
  for (const auto& problem : env_rule_problems(m.env_or_default()))
    add("manifest.env[" + std::to_string(problem.index) + "]", problem.detail);

  kind = Kind::signal;
  for (size_t i = 0; i < m.signals.size(); ++i)
    if (m.signals[i] == 0)
      add("manifest.signals[" + std::to_string(i) + "]", "signal 0 is not a signal");

  kind = Kind::uid;
  std::set<uint32_t> seen_uids;
  const auto& uids = m.uids_or_default();
  for (size_t i = 0; i < uids.size(); ++i) {
    std::string field = "manifest.uids[" + std::to_string(i) + "]";
    if (uids[i] == 0) add(field, "uid 0 would map root into the container");
    if (!seen_uids.insert(uids[i]).second) add(field, std::to_string(uids[i]) + " is listed twice");
  }

  kind = Kind::policy;
  for (size_t i = 0; i < m.policy.accepts.size(); ++i)
    if (auto st = check_policy_rule(m.policy.accepts[i]); !st)
      add("manifest.policy.accepts[" + std::to_string(i) + "]", st.error().message);
  return problems;
}

ProblemSeverity signing_severity(ManifestProblemKind kind) {
  return kind == ManifestProblemKind::entrypoint ? ProblemSeverity::warning
                                                 : ProblemSeverity::fatal;
}

ProblemSeverity verification_severity(ManifestProblemKind kind) {
  switch (kind) {
    case ManifestProblemKind::layer:
    case ManifestProblemKind::alias:
    case ManifestProblemKind::policy:
      return ProblemSeverity::fatal;
    default:
      return ProblemSeverity::warning;
  }
}

Status validate_manifest(const Manifest& manifest) {
  auto problems = manifest_problems(manifest);
  if (problems.empty()) return {};
  return make_error(Errc::parse, problems.front().message());
}

}  // namespace acon::image
