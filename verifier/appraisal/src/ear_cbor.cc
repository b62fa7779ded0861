// The EAR CBOR claims set (draft-ietf-rats-ear integer keys, as rust-ear v0.4 writes them) and the
// COSE_Sign1 envelope, both through libcbor.
#include <cstdlib>
#include <limits>

#include "acon/common/utf8.h"
#include "cbor_util.h"
#include "ear_internal.h"

namespace acon::appraisal {
namespace {

// Claim keys: RFC 8392 (iss 1, aud 3, exp 4, nbf 5, iat 6), RFC 9711 (eat_profile 265,
// submods 266), draft-ietf-rats-ear (ear.status 1000, ear.trustworthiness-vector 1001,
// ear.appraisal-policy-id 1003, ear.verifier-id 1004 {developer 0, build 1}) and Veraison's
// private ear.veraison.annotated-evidence -70000.
constexpr int64_t kKeyIss = 1;
constexpr int64_t kKeyAud = 3;
constexpr int64_t kKeyExp = 4;
constexpr int64_t kKeyNbf = 5;
constexpr int64_t kKeyIat = 6;
constexpr int64_t kKeyProfile = 265;
constexpr int64_t kKeySubmods = 266;
constexpr int64_t kKeyStatus = 1000;
constexpr int64_t kKeyTrustVector = 1001;
constexpr int64_t kKeyPolicyId = 1003;
constexpr int64_t kKeyVerifierId = 1004;
constexpr int64_t kKeyAnnotatedEvidence = -70000;
constexpr int64_t kKeyDeveloper = 0;
constexpr int64_t kKeyBuild = 1;

// ---- building ----

// Collects libcbor allocation failures so building code stays linear; checked once at the end.
class Builder {
 public:
  CborPtr own(cbor_item_t* item) {
    if (item == nullptr) ok_ = false;
    return CborPtr(item);
  }
  // Preferred serialization (RFC 8949 §4.2.1): the shortest head for the value.
  CborPtr integer(int64_t v) {
    return v >= 0 ? unsigned_integer(static_cast<uint64_t>(v))
                  : negative_integer(static_cast<uint64_t>(-1 - v));
  }
  CborPtr unsigned_integer(uint64_t v) {
    if (v <= 0xff) return own(cbor_build_uint8(static_cast<uint8_t>(v)));
    if (v <= 0xffff) return own(cbor_build_uint16(static_cast<uint16_t>(v)));
    if (v <= 0xffffffff) return own(cbor_build_uint32(static_cast<uint32_t>(v)));
    return own(cbor_build_uint64(v));
  }
  // -1 - n
  CborPtr negative_integer(uint64_t n) {
    if (n <= 0xff) return own(cbor_build_negint8(static_cast<uint8_t>(n)));
    if (n <= 0xffff) return own(cbor_build_negint16(static_cast<uint16_t>(n)));
    if (n <= 0xffffffff) return own(cbor_build_negint32(static_cast<uint32_t>(n)));
    return own(cbor_build_negint64(n));
  }
  CborPtr text(std::string_view s) { return own(cbor_build_stringn(s.data(), s.size())); }
  CborPtr bytes(ByteView b) { return own(cbor_build_bytestring(b.data(), b.size())); }
  CborPtr map(size_t n) { return own(cbor_new_definite_map(n)); }
  CborPtr array(size_t n) { return own(cbor_new_definite_array(n)); }
  void put(const CborPtr& map, const CborPtr& key, const CborPtr& value) {
    if (!map || !key || !value || !cbor_map_add(map.get(), {key.get(), value.get()})) ok_ = false;
  }
  void put(const CborPtr& map, int64_t key, const CborPtr& value) { put(map, integer(key), value); }
  void push(const CborPtr& array, const CborPtr& item) {
    if (!array || !item || !cbor_array_push(array.get(), item.get())) ok_ = false;
  }
  CborPtr from_json(const Json& value) {
    switch (value.type()) {
      case Json::value_t::null:
        return own(cbor_new_null());
      case Json::value_t::boolean:
        return own(cbor_build_bool(value.get<bool>()));
      case Json::value_t::number_integer:
        return integer(value.get<int64_t>());
      case Json::value_t::number_unsigned:
        return unsigned_integer(value.get<uint64_t>());
      case Json::value_t::number_float:
        return own(cbor_build_float8(value.get<double>()));
      case Json::value_t::string:
        return text(value.get_ref<const std::string&>());
      case Json::value_t::array: {
        CborPtr out = array(value.size());
        for (const auto& item : value) push(out, from_json(item));
        return out;
      }
      case Json::value_t::object: {
        CborPtr out = map(value.size());
        for (const auto& [name, item] : value.items()) put(out, text(name), from_json(item));
        return out;
      }
      default:  // binary and discarded values never come from parse_json
        ok_ = false;
        return nullptr;
    }
  }
  bool ok() const { return ok_; }

 private:
  bool ok_ = true;
};

Result<Bytes> serialize(const CborPtr& item, std::string_view what) {
  unsigned char* buffer = nullptr;
  size_t capacity = 0;
  size_t length = cbor_serialize_alloc(item.get(), &buffer, &capacity);
  std::unique_ptr<unsigned char, decltype(&std::free)> owned(buffer, &std::free);
  if (length == 0) return make_error(Errc::crypto, std::string(what) + ": CBOR encoding failed");
  return Bytes(buffer, buffer + length);
}

int64_t seconds_of(Time t) { return t.time_since_epoch().count(); }

// ---- reading ----

size_t head_size(uint64_t argument) {
  if (argument < 24) return 1;
  if (argument <= 0xff) return 2;
  if (argument <= 0xffff) return 3;
  if (argument <= 0xffffffff) return 5;
  return 9;
}

size_t encoded_size(const cbor_item_t* item) {
  unsigned char* buffer = nullptr;
  size_t capacity = 0;
  size_t length = cbor_serialize_alloc(item, &buffer, &capacity);
  std::free(buffer);
  return length;
}

// Reads a libcbor tree while remembering where it is, so an error can name the field and the
// byte offset of the offending item. Offsets are recomputed from the tree on error only; they
// are exact for the preferred (shortest) encoding of lengths, which every encoder here emits.
class Reader {
 public:
  explicit Reader(size_t base_offset) : base_(base_offset) {}

  struct Step {
    const cbor_item_t* container;
    size_t index;
    bool key;
  };
  // Enters child `index` of `container` (a map value unless `key`); leaves on destruction.
  class Scope {
   public:
    Scope(Reader& r, const cbor_item_t* container, size_t index, bool key = false) : r_(r) {
      r_.path_.push_back({container, index, key});
    }
    ~Scope() { r_.path_.pop_back(); }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    Reader& r_;
  };

  Error fail(std::string_view field, std::string_view message) const {
    return make_error(Errc::parse, std::string(field) + " at offset " + std::to_string(offset()) +
                                       ": " + std::string(message));
  }

  size_t offset() const {
    size_t at = base_;
    for (const Step& step : path_) {
      const cbor_item_t* c = step.container;
      if (cbor_isa_map(c)) {
        at += cbor_map_is_definite(c) ? head_size(cbor_map_size(c)) : 1;
        const cbor_pair* pairs = cbor_map_handle(c);
        for (size_t i = 0; i < step.index; ++i)
          at += encoded_size(pairs[i].key) + encoded_size(pairs[i].value);
        if (!step.key) at += encoded_size(pairs[step.index].key);
      } else if (cbor_isa_array(c)) {
        at += cbor_array_is_definite(c) ? head_size(cbor_array_size(c)) : 1;
        cbor_item_t** items = cbor_array_handle(c);
        for (size_t i = 0; i < step.index; ++i) at += encoded_size(items[i]);
      } else if (cbor_isa_tag(c)) {
        at += head_size(cbor_tag_value(c));
      }
    }
    return at;
  }

  Result<int64_t> integer(const cbor_item_t* item, std::string_view field) const {
    if (cbor_isa_uint(item)) {
      uint64_t v = cbor_get_int(item);
      if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        return fail(field, "integer out of range");
      return static_cast<int64_t>(v);
    }
    if (cbor_isa_negint(item)) {
      uint64_t n = cbor_get_int(item);
      if (n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        return fail(field, "integer out of range");
      return -1 - static_cast<int64_t>(n);
    }
    return fail(field, "must be an integer");
  }

  Result<std::string> text(const cbor_item_t* item, std::string_view field) const {
    if (!cbor_isa_string(item)) return fail(field, "must be a text string");
    if (!cbor_string_is_definite(item)) return fail(field, "indefinite-length text not accepted");
    std::string s(reinterpret_cast<const char*>(cbor_string_handle(item)),
                  cbor_string_length(item));
    if (!is_valid_utf8(s)) return fail(field, "text is not UTF-8");
    return s;
  }

  Result<Bytes> bytes(const cbor_item_t* item, std::string_view field) const {
    if (!cbor_isa_bytestring(item)) return fail(field, "must be a byte string");
    if (!cbor_bytestring_is_definite(item))
      return fail(field, "indefinite-length bytes not accepted");
    const uint8_t* p = cbor_bytestring_handle(item);
    return Bytes(p, p + cbor_bytestring_length(item));
  }

  Result<const cbor_pair*> map(const cbor_item_t* item, std::string_view field,
                               size_t* size) const {
    if (!cbor_isa_map(item)) return fail(field, "must be a map");
    *size = cbor_map_size(item);
    return cbor_map_handle(item);
  }

  Result<Time> time(const cbor_item_t* item, std::string_view field) const {
    ACON_TRY(int64_t seconds, integer(item, field));
    auto t = time_from_seconds(seconds, field);
    if (!t) return fail(field, "outside 0..253402300799 (1970..9999)");
    return *t;
  }

  Result<Json> json(const cbor_item_t* item, std::string_view field) {
    if (cbor_isa_uint(item)) return Json(static_cast<uint64_t>(cbor_get_int(item)));
    if (cbor_isa_negint(item)) {
      ACON_TRY(int64_t v, integer(item, field));
      return Json(v);
    }
    if (cbor_isa_string(item)) {
      ACON_TRY(std::string s, text(item, field));
      return Json(std::move(s));
    }
    // libcbor asserts when a float is asked whether it is null or bool: ask the width first.
    if (cbor_isa_float_ctrl(item) && cbor_float_ctrl_is_ctrl(item)) {
      if (cbor_is_null(item)) return Json(nullptr);
      if (cbor_is_bool(item)) return Json(cbor_get_bool(item));
      return fail(field, "simple value has no JSON form");
    }
    if (cbor_isa_float_ctrl(item)) {
      double v = cbor_float_get_float(item);
      if (v != v || v - v != 0) return fail(field, "NaN or infinity has no JSON form");
      return Json(v);
    }
    if (cbor_isa_array(item)) {
      Json out = Json::array();
      cbor_item_t** items = cbor_array_handle(item);
      for (size_t i = 0; i < cbor_array_size(item); ++i) {
        Scope scope(*this, item, i);
        ACON_TRY(Json v, json(items[i], std::string(field) + "[" + std::to_string(i) + "]"));
        out.push_back(std::move(v));
      }
      return out;
    }
    if (cbor_isa_map(item)) {
      Json out = Json::object();
      const cbor_pair* pairs = cbor_map_handle(item);
      for (size_t i = 0; i < cbor_map_size(item); ++i) {
        std::string name;
        {
          Scope scope(*this, item, i, true);
          ACON_TRY(name, text(pairs[i].key, std::string(field) + " member name"));
        }
        if (out.contains(name)) return fail(field, "duplicate member \"" + name + "\"");
        Scope scope(*this, item, i);
        ACON_TRY(Json v, json(pairs[i].value, std::string(field) + "." + name));
        out[name] = std::move(v);
      }
      return out;
    }
    return fail(field, "byte strings, tags and simple values have no JSON form here");
  }

 private:
  size_t base_;
  std::vector<Step> path_;
};

Result<CborPtr> load(ByteView data, size_t base_offset, std::string_view what) {
  if (data.empty()) return make_error(Errc::parse, std::string(what) + ": empty");
  ACON_CHECK(check_cbor_structure(data, kMaxCborDepth, base_offset));
  cbor_load_result result{};
  CborPtr item(cbor_load(data.data(), data.size(), &result));
  if (!item || result.error.code != CBOR_ERR_NONE)
    return make_error(Errc::parse, std::string(what) + " at offset " +
                                       std::to_string(base_offset + result.error.position) +
                                       ": malformed CBOR");
  if (result.read != data.size())
    return make_error(Errc::parse, std::string(what) + " at offset " +
                                       std::to_string(base_offset + result.read) +
                                       ": trailing bytes after the item");
  return item;
}

// Integer map key, or nullopt for a text key (extension members keep their names).
struct MapKey {
  std::optional<int64_t> number;
  std::string name;
};

Result<MapKey> map_key(Reader& r, const cbor_item_t* container, size_t i, std::string_view field) {
  Reader::Scope scope(r, container, i, true);
  const cbor_item_t* key = cbor_map_handle(container)[i].key;
  MapKey out;
  if (cbor_isa_string(key)) {
    ACON_TRY(out.name, r.text(key, std::string(field) + " key"));
  } else {
    ACON_TRY(out.number, r.integer(key, std::string(field) + " key"));
  }
  return out;
}

Result<TrustVector> read_vector(Reader& r, const cbor_item_t* item, const std::string& field) {
  size_t n = 0;
  ACON_TRY(const cbor_pair* pairs, r.map(item, field, &n));
  TrustVector vector;
  for (size_t i = 0; i < n; ++i) {
    ACON_TRY(MapKey key, map_key(r, item, i, field));
    if (!key.number || *key.number < 0 || *key.number >= static_cast<int64_t>(kTrustClaimCount))
      return r.fail(field, "trustworthiness claim key outside 0..7");
    auto claim = static_cast<TrustClaim>(*key.number);
    std::string path = field + "." + std::string(trust_claim_name(claim));
    Reader::Scope scope(r, item, i);
    if (vector.get(claim)) return r.fail(path, "repeated");
    ACON_TRY(int64_t value, r.integer(pairs[i].value, path));
    if (value < -128 || value > 127) return r.fail(path, "outside -128..127");
    vector.set(claim, static_cast<int8_t>(value));
  }
  return vector;
}

Result<Submod> read_submod(Reader& r, const cbor_item_t* item, const std::string& field) {
  size_t n = 0;
  ACON_TRY(const cbor_pair* pairs, r.map(item, field, &n));
  Submod submod;
  bool have_status = false;
  for (size_t i = 0; i < n; ++i) {
    ACON_TRY(MapKey key, map_key(r, item, i, field));
    Reader::Scope scope(r, item, i);
    const cbor_item_t* value = pairs[i].value;
    if (!key.number) {
      std::string path = field + "." + key.name;
      if (submod.extra.count(key.name)) return r.fail(path, "repeated");
      ACON_TRY(Json extra, r.json(value, path));
      submod.extra.emplace(key.name, std::move(extra));
    } else if (*key.number == kKeyStatus) {
      ACON_TRY(int64_t status, r.integer(value, field + ".ear.status"));
      auto tier = tier_from_value(status);
      if (!tier) return r.fail(field + ".ear.status", "not one of 0, 2, 32, 96");
      submod.status = *tier;
      have_status = true;
    } else if (*key.number == kKeyTrustVector) {
      ACON_TRY(submod.trust_vector, read_vector(r, value, field + ".ear.trustworthiness-vector"));
    } else if (*key.number == kKeyPolicyId) {
      ACON_TRY(submod.appraisal_policy_id, r.text(value, field + ".ear.appraisal-policy-id"));
    } else if (*key.number == kKeyAnnotatedEvidence) {
      std::string path = field + ".ear.veraison.annotated-evidence";
      if (!cbor_isa_map(value)) return r.fail(path, "must be a map");
      ACON_TRY(Json annotated, r.json(value, path));
      submod.annotated_evidence = std::make_shared<const Json>(std::move(annotated));
    }
    // Other integer keys (e.g. ear.veraison.policy-claims) are not modelled and are skipped.
  }
  if (!have_status) return r.fail(field + ".ear.status", "missing");
  return submod;
}

// CBOR major types and the simple values a CWT may hold (RFC 8949 §3).
enum Major : uint8_t { kUint, kNegint, kBytes, kText, kArray, kMap, kTag, kSimple };

}  // namespace

Status check_cbor_structure(ByteView data, size_t max_depth, size_t base_offset) {
  // Each open container: items still expected (UINT64_MAX = indefinite, ends at a break).
  std::vector<uint64_t> open;
  constexpr uint64_t kIndefinite = std::numeric_limits<uint64_t>::max();
  size_t i = 0;
  auto fail = [&](size_t at, std::string_view message) -> Status {
    return make_error(Errc::parse, "cbor at offset " + std::to_string(base_offset + at) + ": " +
                                       std::string(message));
  };
  bool done = false;
  while (!done) {
    if (i >= data.size()) return fail(i, "truncated");
    size_t start = i;
    uint8_t initial = data[i++];
    auto major = static_cast<Major>(initial >> 5);
    uint8_t info = initial & 0x1f;
    if (initial == 0xff) {
      if (open.empty() || open.back() != kIndefinite) return fail(start, "unexpected break");
      open.pop_back();
    } else {
      uint64_t argument = info;
      if (info >= 24 && info <= 27) {
        size_t width = size_t{1} << (info - 24);
        if (data.size() - i < width) return fail(start, "truncated item head");
        argument = 0;
        for (size_t k = 0; k < width; ++k) argument = (argument << 8) | data[i++];
      } else if (info >= 28 && info <= 30) {
        return fail(start, "reserved additional information");
      }
      bool indefinite = info == 31;
      if (indefinite && (major == kUint || major == kNegint || major == kTag))
        return fail(start, "indefinite length on a type without one");
      if (indefinite && major == kSimple) return fail(start, "unexpected break");
      if ((major == kBytes || major == kText) && !indefinite) {
        if (data.size() - i < argument) return fail(start, "string runs past the end");
        i += static_cast<size_t>(argument);
      }
      // This item fills one slot of its container.
      if (!open.empty() && open.back() != kIndefinite) --open.back();
      bool container = major == kArray || major == kMap || major == kTag ||
                       (indefinite && (major == kBytes || major == kText));
      if (container) {
        if (open.size() >= max_depth)
          return fail(start, "nested deeper than " + std::to_string(max_depth));
        uint64_t items = indefinite      ? kIndefinite
                         : major == kTag ? 1
                         : major == kMap
                             ? (argument > kIndefinite / 2 ? kIndefinite - 1 : argument * 2)
                             : argument;
        // A definite container cannot hold more items than bytes remain.
        if (items != kIndefinite && items > data.size() - i)
          return fail(start, "container larger than the input");
        open.push_back(items);
      }
    }
    while (!open.empty() && open.back() == 0) open.pop_back();
    done = open.empty();
  }
  if (i != data.size()) return fail(i, "trailing bytes after the item");
  return {};
}

Result<Bytes> ear_to_cbor(const Ear& ear) {
  Builder b;
  // A definite map holds up to its declared size, so count the claims first.
  size_t count =
      4 + (ear.exp ? 1 : 0) + (ear.nbf ? 1 : 0) + (ear.iss ? 1 : 0) + (ear.aud.empty() ? 0 : 1);
  CborPtr claims = b.map(count);
  b.put(claims, kKeyProfile, b.text(ear.profile));
  b.put(claims, kKeyIat, b.integer(seconds_of(ear.iat)));
  if (ear.exp) b.put(claims, kKeyExp, b.integer(seconds_of(*ear.exp)));
  if (ear.nbf) b.put(claims, kKeyNbf, b.integer(seconds_of(*ear.nbf)));
  if (ear.iss) b.put(claims, kKeyIss, b.text(*ear.iss));
  if (ear.aud.size() == 1) b.put(claims, kKeyAud, b.text(ear.aud.front()));
  if (ear.aud.size() > 1) {
    CborPtr aud = b.array(ear.aud.size());
    for (const auto& a : ear.aud) b.push(aud, b.text(a));
    b.put(claims, kKeyAud, aud);
  }
  CborPtr vid = b.map(2);
  b.put(vid, kKeyDeveloper, b.text(ear.verifier_id.developer));
  b.put(vid, kKeyBuild, b.text(ear.verifier_id.build));
  b.put(claims, kKeyVerifierId, vid);
  CborPtr submods = b.map(ear.submods.size());
  for (const auto& [name, submod] : ear.submods) {
    size_t members = 2 + (submod.appraisal_policy_id ? 1 : 0) + (submod.annotated() ? 1 : 0) +
                     submod.extra.size();
    CborPtr s = b.map(members);
    b.put(s, kKeyStatus, b.integer(static_cast<int64_t>(submod.status)));
    size_t set = 0;
    for (const auto& claim : submod.trust_vector.claims) set += claim ? 1 : 0;
    CborPtr vector = b.map(set);
    for (size_t i = 0; i < kTrustClaimCount; ++i)
      if (submod.trust_vector.claims[i])
        b.put(vector, static_cast<int64_t>(i), b.integer(*submod.trust_vector.claims[i]));
    b.put(s, kKeyTrustVector, vector);
    if (submod.appraisal_policy_id) b.put(s, kKeyPolicyId, b.text(*submod.appraisal_policy_id));
    if (const Json* annotated = submod.annotated())
      b.put(s, kKeyAnnotatedEvidence, b.from_json(*annotated));
    for (const auto& [extra_name, value] : submod.extra)
      b.put(s, b.text(extra_name), b.from_json(value));
    b.put(submods, b.text(name), s);
  }
  b.put(claims, kKeySubmods, submods);
  if (!b.ok()) return make_error(Errc::crypto, "ear cbor: libcbor allocation failed");
  return serialize(claims, "ear cbor");
}

Result<Ear> ear_from_cbor(ByteView cbor, size_t base_offset) {
  ACON_TRY(CborPtr root, load(cbor, base_offset, "ear cbor"));
  Reader r(base_offset);
  size_t n = 0;
  ACON_TRY(const cbor_pair* pairs, r.map(root.get(), "claims", &n));
  Ear ear;
  bool have_profile = false, have_iat = false, have_vid = false, have_submods = false;
  std::vector<int64_t> seen;
  for (size_t i = 0; i < n; ++i) {
    ACON_TRY(MapKey key, map_key(r, root.get(), i, "claims"));
    if (!key.number) continue;  // text-keyed claims are outside the EAR draft
    Reader::Scope scope(r, root.get(), i);
    for (int64_t s : seen)
      if (s == *key.number) return r.fail("claims", "repeated key " + std::to_string(s));
    seen.push_back(*key.number);
    const cbor_item_t* value = pairs[i].value;
    const int64_t claim_key = *key.number;
    if (claim_key == kKeyProfile) {
      ACON_TRY(ear.profile, r.text(value, "eat_profile"));
      have_profile = true;
    } else if (claim_key == kKeyIat) {
      ACON_TRY(ear.iat, r.time(value, "iat"));
      have_iat = true;
    } else if (claim_key == kKeyExp) {
      ACON_TRY(ear.exp, r.time(value, "exp"));
    } else if (claim_key == kKeyNbf) {
      ACON_TRY(ear.nbf, r.time(value, "nbf"));
    } else if (claim_key == kKeyIss) {
      ACON_TRY(ear.iss, r.text(value, "iss"));
    } else if (claim_key == kKeyAud) {
      if (cbor_isa_string(value)) {
        ACON_TRY(std::string a, r.text(value, "aud"));
        ear.aud.push_back(std::move(a));
      } else if (cbor_isa_array(value) && cbor_array_size(value) > 0) {
        for (size_t k = 0; k < cbor_array_size(value); ++k) {
          Reader::Scope inner(r, value, k);
          ACON_TRY(std::string a,
                   r.text(cbor_array_handle(value)[k], "aud[" + std::to_string(k) + "]"));
          ear.aud.push_back(std::move(a));
        }
      } else {
        return r.fail("aud", "must be a text string or a non-empty array of them");
      }
    } else if (claim_key == kKeyVerifierId) {
      size_t m = 0;
      ACON_TRY(const cbor_pair* vid, r.map(value, "ear.verifier-id", &m));
      bool developer = false, build = false;
      for (size_t k = 0; k < m; ++k) {
        ACON_TRY(MapKey vkey, map_key(r, value, k, "ear.verifier-id"));
        Reader::Scope inner(r, value, k);
        if (vkey.number == kKeyDeveloper) {
          ACON_TRY(ear.verifier_id.developer, r.text(vid[k].value, "ear.verifier-id.developer"));
          developer = true;
        } else if (vkey.number == kKeyBuild) {
          ACON_TRY(ear.verifier_id.build, r.text(vid[k].value, "ear.verifier-id.build"));
          build = true;
        }
      }
      if (!developer || !build)
        return r.fail("ear.verifier-id", "developer (0) and build (1) are required");
      have_vid = true;
    } else if (claim_key == kKeySubmods) {
      size_t m = 0;
      ACON_TRY(const cbor_pair* entries, r.map(value, "submods", &m));
      if (m == 0) return r.fail("submods", "empty");
      for (size_t k = 0; k < m; ++k) {
        std::string name;
        {
          Reader::Scope inner(r, value, k, true);
          ACON_TRY(name, r.text(entries[k].key, "submods key"));
        }
        Reader::Scope inner(r, value, k);
        if (ear.submods.count(name)) return r.fail("submods." + name, "repeated");
        ACON_TRY(Submod submod, read_submod(r, entries[k].value, "submods." + name));
        ear.submods.emplace(std::move(name), std::move(submod));
      }
      have_submods = true;
    }
    // Unmodelled claims (eat_nonce, ear.raw-evidence) are skipped.
  }
  if (!have_profile) return r.fail("eat_profile (265)", "missing");
  if (!have_iat) return r.fail("iat (6)", "missing");
  if (!have_vid) return r.fail("ear.verifier-id (1004)", "missing");
  if (!have_submods) return r.fail("submods (266)", "missing");
  return ear;
}

// ---- COSE_Sign1 ----

Result<Bytes> cose_protected_header(const std::vector<Certificate>& chain) {
  Builder b;
  CborPtr header = b.map(chain.empty() ? 1 : 2);
  b.put(header, kCoseLabelAlg, b.integer(kCoseAlgEs256));
  if (chain.size() == 1) {
    b.put(header, kCoseLabelX5chain, b.bytes(chain.front().der()));
  } else if (chain.size() > 1) {
    CborPtr certs = b.array(chain.size());
    for (const auto& cert : chain) b.push(certs, b.bytes(cert.der()));
    b.put(header, kCoseLabelX5chain, certs);
  }
  if (!b.ok()) return make_error(Errc::crypto, "cose protected header: libcbor allocation failed");
  return serialize(header, "cose protected header");
}

Result<Bytes> cose_sig_structure(ByteView protected_header, ByteView payload) {
  Builder b;
  CborPtr sig = b.array(4);
  b.push(sig, b.text("Signature1"));
  b.push(sig, b.bytes(protected_header));
  b.push(sig, b.bytes({}));
  b.push(sig, b.bytes(payload));
  if (!b.ok()) return make_error(Errc::crypto, "cose Sig_structure: libcbor allocation failed");
  return serialize(sig, "cose Sig_structure");
}

Result<Bytes> cose_sign1_encode(ByteView protected_header, ByteView payload, ByteView signature) {
  Builder b;
  CborPtr message = b.array(4);
  b.push(message, b.bytes(protected_header));
  b.push(message, b.map(0));
  b.push(message, b.bytes(payload));
  b.push(message, b.bytes(signature));
  CborPtr tagged = b.own(message ? cbor_build_tag(kCoseSign1Tag, message.get()) : nullptr);
  if (!b.ok()) return make_error(Errc::crypto, "cose_sign1: libcbor allocation failed");
  return serialize(tagged, "cose_sign1");
}

Result<CoseSign1> cose_sign1_decode(ByteView message) {
  // The tag head is read here, not by libcbor: libcbor 0.8.0 (Debian 12) refuses tags 6..20 in
  // their one-byte form (0xc6..0xd4) as malformed, and COSE_Sign1 is 0xd2.
  if (message.empty() || message[0] != 0xd2)
    return make_error(Errc::parse, "cose_sign1 at offset 0: must begin with tag 18 (0xd2)");
  ACON_TRY(CborPtr body, load(message.subspan(1), 1, "cose_sign1"));
  Reader r(1);
  if (!cbor_isa_array(body.get()) || cbor_array_size(body.get()) != 4)
    return r.fail("cose_sign1", "must be an array of 4");
  cbor_item_t** parts = cbor_array_handle(body.get());
  CoseSign1 out;
  {
    Reader::Scope scope(r, body.get(), 0);
    ACON_TRY(out.protected_header, r.bytes(parts[0], "cose_sign1.protected"));
    if (out.protected_header.empty()) return r.fail("cose_sign1.protected", "empty (no alg)");
    size_t at = r.offset() + head_size(out.protected_header.size());
    ACON_TRY(CborPtr header, load(out.protected_header, at, "cose_sign1.protected"));
    Reader hr(at);
    size_t n = 0;
    ACON_TRY(const cbor_pair* pairs, hr.map(header.get(), "cose_sign1.protected", &n));
    for (size_t i = 0; i < n; ++i) {
      ACON_TRY(MapKey key, map_key(hr, header.get(), i, "cose_sign1.protected"));
      Reader::Scope inner(hr, header.get(), i);
      if (key.number == kCoseLabelAlg) {
        if (out.alg) return hr.fail("cose_sign1.protected.alg", "repeated");
        ACON_TRY(out.alg, hr.integer(pairs[i].value, "cose_sign1.protected.alg"));
      } else if (key.number == kCoseLabelX5chain) {
        const cbor_item_t* chain = pairs[i].value;
        if (!out.x5chain.empty()) return hr.fail("cose_sign1.protected.x5chain", "repeated");
        if (cbor_isa_bytestring(chain)) {
          ACON_TRY(Bytes der, hr.bytes(chain, "cose_sign1.protected.x5chain"));
          out.x5chain.push_back(std::move(der));
        } else if (cbor_isa_array(chain) && cbor_array_size(chain) > 0) {
          for (size_t k = 0; k < cbor_array_size(chain); ++k) {
            Reader::Scope cert(hr, chain, k);
            ACON_TRY(Bytes der,
                     hr.bytes(cbor_array_handle(chain)[k],
                              "cose_sign1.protected.x5chain[" + std::to_string(k) + "]"));
            out.x5chain.push_back(std::move(der));
          }
        } else {
          return hr.fail("cose_sign1.protected.x5chain", "must be a bstr or array of bstr");
        }
      } else if (key.number == 2) {
        // crit (RFC 9052 §3.1): no extension header is understood, so none may be critical.
        return hr.fail("cose_sign1.protected.crit", "critical headers are not supported");
      }
    }
  }
  {
    Reader::Scope scope(r, body.get(), 1);
    if (!cbor_isa_map(parts[1])) return r.fail("cose_sign1.unprotected", "must be a map");
    const cbor_pair* pairs = cbor_map_handle(parts[1]);
    for (size_t i = 0; i < cbor_map_size(parts[1]); ++i) {
      ACON_TRY(MapKey key, map_key(r, parts[1], i, "cose_sign1.unprotected"));
      (void)pairs;
      // An unprotected alg or chain could be swapped without breaking the signature.
      if (key.number == kCoseLabelAlg || key.number == kCoseLabelX5chain || key.number == 2)
        return r.fail("cose_sign1.unprotected",
                      "alg, crit and x5chain must be in the protected header");
    }
  }
  {
    Reader::Scope scope(r, body.get(), 2);
    if (cbor_isa_float_ctrl(parts[2]) && cbor_float_ctrl_is_ctrl(parts[2]) &&
        cbor_is_null(parts[2]))
      return r.fail("cose_sign1.payload", "detached payload");
    ACON_TRY(out.payload, r.bytes(parts[2], "cose_sign1.payload"));
    out.payload_offset = r.offset() + head_size(out.payload.size());
  }
  {
    Reader::Scope scope(r, body.get(), 3);
    ACON_TRY(out.signature, r.bytes(parts[3], "cose_sign1.signature"));
  }
  return out;
}

}  // namespace acon::appraisal
