// PCK certificate SGX extension (docs/dcap-verification.md §6): a bounds-checked DER reader for
// exactly the elements used there, and the element walk.
#include "acon/dcap/sgx_extension.h"

#include <cstddef>
#include <cstdio>
#include <string>
#include <utility>

namespace acon::dcap {
namespace {

constexpr uint8_t kTagBoolean = 0x01;
constexpr uint8_t kTagInteger = 0x02;
constexpr uint8_t kTagOctetString = 0x04;
constexpr uint8_t kTagOid = 0x06;
constexpr uint8_t kTagEnumerated = 0x0a;
constexpr uint8_t kTagSequence = 0x30;

// DER contents of 1.2.840.113741.1.13.1, and of its arcs .2 (TCB) and .7 (configuration).
constexpr uint8_t kSgxOid[] = {0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01};
constexpr uint8_t kTcbOid[] = {0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01, 0x02};
constexpr uint8_t kConfigOid[] = {0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01, 0x07};

// Indexed by the last arc; index 0 unused.
constexpr const char* kTopNames[] = {
    nullptr,         ".ppid", ".tcb", ".pce_id", ".fmspc", ".sgx_type", ".platform_instance_id",
    ".configuration"};
constexpr const char* kTcbNames[] = {nullptr,       ".tcb.comp01", ".tcb.comp02", ".tcb.comp03",
                                     ".tcb.comp04", ".tcb.comp05", ".tcb.comp06", ".tcb.comp07",
                                     ".tcb.comp08", ".tcb.comp09", ".tcb.comp10", ".tcb.comp11",
                                     ".tcb.comp12", ".tcb.comp13", ".tcb.comp14", ".tcb.comp15",
                                     ".tcb.comp16", ".tcb.pcesvn", ".tcb.cpusvn"};
constexpr const char* kConfigNames[] = {nullptr, ".configuration.dynamic_platform",
                                        ".configuration.cached_keys", ".configuration.smt_enabled"};
constexpr uint8_t kTopArcs = 7;
constexpr uint8_t kTopRequiredArcs = 5;  // .1-.5
constexpr uint8_t kTcbArcs = 18;
constexpr uint8_t kConfigArcs = 3;

std::string tag_name(uint8_t tag) {
  switch (tag) {
    case kTagBoolean:
      return "BOOLEAN";
    case kTagInteger:
      return "INTEGER";
    case kTagOctetString:
      return "OCTET STRING";
    case kTagOid:
      return "OBJECT IDENTIFIER";
    case kTagEnumerated:
      return "ENUMERATED";
    case kTagSequence:
      return "SEQUENCE";
    default:
      break;
  }
  char buf[16];
  std::snprintf(buf, sizeof buf, "tag 0x%02x", tag);
  return buf;
}

// "sgx_extension<name> at offset N: what"; `name` carries its own leading '.' or '['.
Error parse_error(std::string_view name, size_t offset, std::string_view what) {
  std::string message = "sgx_extension";
  message += name;
  message += " at offset " + std::to_string(offset) + ": ";
  message += what;
  return make_error(Errc::parse, std::move(message));
}

struct Tlv {
  uint8_t tag = 0;  // the first identifier octet (high tag numbers never match a wanted tag)
  size_t offset = 0;
  size_t value_offset = 0;
  ByteView value;
};

// Reads TLVs from all[begin, end); offsets are relative to `all` (the whole extension).
class DerReader {
 public:
  DerReader(ByteView all, size_t begin, size_t end) : all_(all), pos_(begin), end_(end) {}

  bool done() const { return pos_ == end_; }
  size_t pos() const { return pos_; }
  // A reader over the value of `tlv` (which this reader returned).
  DerReader inside(const Tlv& tlv) const {
    return DerReader(all_, tlv.value_offset, tlv.value_offset + tlv.value.size());
  }

  Result<Tlv> next(std::string_view name) {
    Tlv tlv;
    tlv.offset = pos_;
    size_t p = pos_;
    if (p >= end_) return parse_error(name, p, "missing (end of the enclosing element)");
    tlv.tag = all_[p++];
    if ((tlv.tag & 0x1f) == 0x1f) {  // high-tag-number form: skip the tag number octets
      for (int i = 0;; ++i) {
        if (p >= end_) return parse_error(name, tlv.offset, "truncated tag");
        if (i == 4) return parse_error(name, tlv.offset, "tag number too large");
        const uint8_t b = all_[p++];
        if (i == 0 && b == 0x80) return parse_error(name, tlv.offset, "non-minimal tag");
        if ((b & 0x80) == 0) break;
      }
    }
    if (p >= end_) return parse_error(name, tlv.offset, "truncated length");
    const uint8_t first = all_[p++];
    size_t length = first;
    if (first >= 0x80) {
      const size_t octets = first & 0x7f;
      if (octets == 0) return parse_error(name, tlv.offset, "indefinite length (not DER)");
      if (octets > 4) {
        return parse_error(name, tlv.offset,
                           "length of " + std::to_string(octets) + " octets is too large");
      }
      if (octets > end_ - p) return parse_error(name, tlv.offset, "truncated length");
      if (all_[p] == 0) return parse_error(name, tlv.offset, "non-minimal length (not DER)");
      length = 0;
      for (size_t i = 0; i < octets; ++i) length = length << 8 | all_[p++];
      if (length < 0x80) return parse_error(name, tlv.offset, "non-minimal length (not DER)");
    }
    if (length > end_ - p) {
      return parse_error(name, tlv.offset,
                         "length " + std::to_string(length) + " exceeds the " +
                             std::to_string(end_ - p) + " bytes available");
    }
    tlv.value_offset = p;
    tlv.value = all_.subspan(p, length);
    pos_ = p + length;
    return tlv;
  }

 private:
  ByteView all_;
  size_t pos_;
  size_t end_;
};

Status expect_tag(const Tlv& tlv, uint8_t tag, std::string_view name) {
  if (tlv.tag == tag) return {};
  return parse_error(name, tlv.offset, "expected " + tag_name(tag) + ", got " + tag_name(tlv.tag));
}

// A non-negative, minimally encoded INTEGER or ENUMERATED that is at most `max`.
Result<uint32_t> read_uint(const Tlv& tlv, uint8_t tag, std::string_view name, uint32_t max) {
  ACON_CHECK(expect_tag(tlv, tag, name));
  const std::string type = tag_name(tag);
  const ByteView v = tlv.value;
  if (v.empty()) return parse_error(name, tlv.offset, "empty " + type);
  if (v.size() > 1 && ((v[0] == 0x00 && (v[1] & 0x80) == 0) || (v[0] == 0xff && (v[1] & 0x80)))) {
    return parse_error(name, tlv.offset, "non-minimal " + type + " (not DER)");
  }
  if (v[0] & 0x80) return parse_error(name, tlv.offset, "negative " + type);
  const ByteView magnitude = v[0] == 0 ? v.subspan(1) : v;
  if (magnitude.size() > 4) {
    return parse_error(
        name, tlv.offset,
        type + " of " + std::to_string(v.size()) + " bytes exceeds " + std::to_string(max));
  }
  uint64_t value = 0;
  for (uint8_t b : magnitude) value = value << 8 | b;
  if (value > max) {
    return parse_error(name, tlv.offset,
                       type + " " + std::to_string(value) + " exceeds " + std::to_string(max));
  }
  return static_cast<uint32_t>(value);
}

template <size_t N>
Result<std::array<uint8_t, N>> read_octets(const Tlv& tlv, std::string_view name) {
  ACON_CHECK(expect_tag(tlv, kTagOctetString, name));
  if (tlv.value.size() != N) {
    return parse_error(name, tlv.offset,
                       "OCTET STRING of " + std::to_string(tlv.value.size()) + " bytes, expected " +
                           std::to_string(N));
  }
  std::array<uint8_t, N> out;
  for (size_t i = 0; i < N; ++i) out[i] = tlv.value[i];
  return out;
}

Result<bool> read_bool(const Tlv& tlv, std::string_view name) {
  ACON_CHECK(expect_tag(tlv, kTagBoolean, name));
  if (tlv.value.size() != 1) {
    return parse_error(name, tlv.offset,
                       "BOOLEAN of " + std::to_string(tlv.value.size()) + " bytes, expected 1");
  }
  if (tlv.value[0] != 0x00 && tlv.value[0] != 0xff) {
    return parse_error(name, tlv.offset, "BOOLEAN value is neither 0x00 nor 0xff (not DER)");
  }
  return tlv.value[0] == 0xff;
}

// One SEQUENCE { OID, ... } item of a list, read up to and including the OID.
struct Element {
  size_t offset = 0;  // of the SEQUENCE
  ByteView oid;
  DerReader rest;  // positioned after the OID
};

Result<Element> read_element(DerReader& list, const std::string& name) {
  ACON_TRY(const Tlv seq, list.next(name));
  ACON_CHECK(expect_tag(seq, kTagSequence, name));
  DerReader inner = list.inside(seq);
  const std::string oid_name = name + ".oid";
  ACON_TRY(const Tlv oid, inner.next(oid_name));
  ACON_CHECK(expect_tag(oid, kTagOid, oid_name));
  const ByteView v = oid.value;
  if (v.empty() || (v.back() & 0x80)) {
    return parse_error(oid_name, oid.offset, "malformed OBJECT IDENTIFIER");
  }
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == 0x80 && (i == 0 || (v[i - 1] & 0x80) == 0)) {
      return parse_error(oid_name, oid.offset, "non-minimal OBJECT IDENTIFIER arc");
    }
  }
  return Element{seq.offset, v, inner};
}

// The single value after the OID of a known element.
Result<Tlv> element_value(Element& e, std::string_view name) {
  ACON_TRY(Tlv value, e.rest.next(name));
  if (!e.rest.done()) return parse_error(name, e.rest.pos(), "unexpected data after the value");
  return value;
}

// The last arc when `oid` is `prefix` plus one arc in [1, max]; 0 otherwise (unknown OID).
template <size_t N>
uint8_t known_arc(ByteView oid, const uint8_t (&prefix)[N], uint8_t max) {
  if (oid.size() != N + 1) return 0;
  for (size_t i = 0; i < N; ++i) {
    if (oid[i] != prefix[i]) return 0;
  }
  const uint8_t arc = oid[N];
  return arc >= 1 && arc <= max ? arc : 0;
}

Status parse_tcb(DerReader& parent, const Tlv& tcb, SgxExtension& ext) {
  ACON_CHECK(expect_tag(tcb, kTagSequence, kTopNames[2]));
  DerReader items = parent.inside(tcb);
  bool seen[kTcbArcs + 1] = {};
  for (size_t index = 0; !items.done(); ++index) {
    ACON_TRY(Element e, read_element(items, ".tcb[" + std::to_string(index) + "]"));
    const uint8_t arc = known_arc(e.oid, kTcbOid, kTcbArcs);
    if (arc == 0) continue;
    const char* name = kTcbNames[arc];
    if (seen[arc]) return parse_error(name, e.offset, "duplicate element");
    seen[arc] = true;
    ACON_TRY(const Tlv value, element_value(e, name));
    if (arc <= 16) {
      ACON_TRY(const uint32_t svn, read_uint(value, kTagInteger, name, 0xff));
      ext.tcb_comp_svn[arc - 1] = static_cast<uint8_t>(svn);
    } else if (arc == 17) {
      ACON_TRY(const uint32_t svn, read_uint(value, kTagInteger, name, 0xffff));
      ext.pcesvn = static_cast<uint16_t>(svn);
    } else {
      ACON_TRY(ext.cpusvn, read_octets<16>(value, name));
    }
  }
  for (uint8_t arc = 1; arc <= kTcbArcs; ++arc) {
    if (!seen[arc]) return parse_error(kTcbNames[arc], tcb.offset, "missing");
  }
  return {};
}

Result<SgxConfiguration> parse_configuration(DerReader& parent, const Tlv& config) {
  ACON_CHECK(expect_tag(config, kTagSequence, kTopNames[7]));
  DerReader items = parent.inside(config);
  SgxConfiguration out;
  for (size_t index = 0; !items.done(); ++index) {
    ACON_TRY(Element e, read_element(items, ".configuration[" + std::to_string(index) + "]"));
    const uint8_t arc = known_arc(e.oid, kConfigOid, kConfigArcs);
    if (arc == 0) continue;
    const char* name = kConfigNames[arc];
    std::optional<bool>& flag = arc == 1   ? out.dynamic_platform
                                : arc == 2 ? out.cached_keys
                                           : out.smt_enabled;
    if (flag) return parse_error(name, e.offset, "duplicate element");
    ACON_TRY(const Tlv value, element_value(e, name));
    ACON_TRY(flag, read_bool(value, name));
  }
  return out;
}

}  // namespace

std::string_view sgx_type_name(SgxType type) {
  switch (type) {
    case SgxType::standard:
      return "Standard";
    case SgxType::scalable:
      return "Scalable";
    case SgxType::scalable_with_integrity:
      return "ScalableWithIntegrity";
  }
  return "?";
}

Result<SgxExtension> parse_sgx_extension(ByteView extn_value_der) {
  DerReader top(extn_value_der, 0, extn_value_der.size());
  ACON_TRY(const Tlv outer, top.next(""));
  ACON_CHECK(expect_tag(outer, kTagSequence, ""));
  if (!top.done()) return parse_error("", top.pos(), "trailing data after the SEQUENCE");

  SgxExtension ext;
  bool seen[kTopArcs + 1] = {};
  DerReader items = top.inside(outer);
  for (size_t index = 0; !items.done(); ++index) {
    ACON_TRY(Element e, read_element(items, "[" + std::to_string(index) + "]"));
    const uint8_t arc = known_arc(e.oid, kSgxOid, kTopArcs);
    if (arc == 0) continue;  // unknown OIDs are skipped
    const char* name = kTopNames[arc];
    if (seen[arc]) return parse_error(name, e.offset, "duplicate element");
    seen[arc] = true;
    ACON_TRY(const Tlv value, element_value(e, name));
    switch (arc) {
      case 1: {
        ACON_TRY(ext.ppid, read_octets<16>(value, name));
        break;
      }
      case 2:
        ACON_CHECK(parse_tcb(e.rest, value, ext));
        break;
      case 3: {
        ACON_TRY(ext.pce_id, read_octets<2>(value, name));
        break;
      }
      case 4: {
        ACON_TRY(ext.fmspc, read_octets<6>(value, name));
        break;
      }
      case 5: {
        ACON_TRY(const uint32_t type, read_uint(value, kTagEnumerated, name, 0xff));
        if (type > static_cast<uint32_t>(SgxType::scalable_with_integrity)) {
          return parse_error(name, value.offset,
                             "ENUMERATED " + std::to_string(type) + " is not an SGX type (0..2)");
        }
        ext.sgx_type = static_cast<SgxType>(type);
        break;
      }
      case 6: {
        ACON_TRY(ext.platform_instance_id, read_octets<16>(value, name));
        break;
      }
      default: {
        ACON_TRY(ext.configuration, parse_configuration(e.rest, value));
        break;
      }
    }
  }
  for (uint8_t arc = 1; arc <= kTopRequiredArcs; ++arc) {
    if (!seen[arc]) return parse_error(kTopNames[arc], outer.offset, "missing");
  }
  return ext;
}

Result<SgxExtension> sgx_extension_of(const Certificate& pck) {
  std::optional<Bytes> der = pck.extension(kSgxExtensionOid);
  if (!der) {
    return make_error(Errc::not_found, "sgx_extension: the certificate has no extension " +
                                           std::string(kSgxExtensionOid));
  }
  return parse_sgx_extension(*der);
}

}  // namespace acon::dcap
