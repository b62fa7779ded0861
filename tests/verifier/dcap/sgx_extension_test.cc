// The PCK certificate SGX extension (docs/dcap-verification.md §6) on the real PCK leaf
// certificates inside the quotes of tests/data/quotes and on Intel's synthetic sample PCK
// certificate, plus synthetic and hostile DER built element by element.
#include "acon/dcap/sgx_extension.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "acon/tdx/quote.h"
#include "test_util.h"

namespace acon::dcap {
namespace {

// ---------------------------------------------------------------------------------------------
// Loading certificates.

// Reads a quote file; the phala-dcap-qvl .hex/.txt files are ASCII hex (optionally "0x").
Bytes load_quote(const std::string& relative) {
  const bool is_hex_text = relative.ends_with(".hex") || relative.ends_with(".txt");
  return is_hex_text ? test::read_hex_data(relative) : test::read_data_bytes(relative);
}

// The PCK chain (leaf, intermediate, root) of a quote with type-5 certification data.
std::vector<Certificate> pck_chain(const std::string& quote_path) {
  const Bytes bytes = load_quote(quote_path);
  auto quote = tdx::parse_quote(bytes);
  EXPECT_TRUE(quote.ok()) << quote_path << ": " << quote.error().to_string();
  if (!quote.ok()) return {};
  auto pem = quote->pck_chain_pem();
  EXPECT_TRUE(pem.ok()) << quote_path << ": " << pem.error().to_string();
  if (!pem.ok()) return {};
  auto certs = Certificate::all_from_pem(*pem);
  EXPECT_TRUE(certs.ok()) << quote_path << ": " << certs.error().to_string();
  if (!certs.ok()) return {};
  EXPECT_EQ(certs->size(), 3u) << quote_path;
  return *certs;
}

// The extnValue of the SGX extension of the tdx_quote PCK leaf (554 bytes).
Bytes real_extension() {
  auto chain = pck_chain("quotes/phala-dcap-qvl/tdx_quote");
  if (chain.empty()) return {};
  return chain[0].extension(kSgxExtensionOid).value_or(Bytes{});
}

std::string hex(ByteView b) { return hex_encode(b); }

// ---------------------------------------------------------------------------------------------
// Real PCK leaf certificates.

struct RealPck {
  std::string path;  // a quote under tests/data, or a PEM certificate
  std::string ppid;
  std::string comp_svns;  // the 16 comp SVNs as hex bytes
  uint16_t pcesvn;
  std::string cpusvn;
  std::string pce_id;
  std::string fmspc;
  SgxType sgx_type;
  std::string platform_instance_id;                // "" when absent
  int dynamic_platform, cached_keys, smt_enabled;  // -1 absent, 0 false, 1 true
};

void PrintTo(const RealPck& p, std::ostream* os) { *os << p.path; }

// FMSPC and PCE-ID: the "fmspc"/"pceId" of each quote's TCB info in
// tests/data/quotes/*/*collateral*.json and intel-qvl-sample/tcbInfo.json (B0C06F000000 for
// tdx_quote, 90C06F000000 for tdx_quote_outdated, 20a06f000000 for near_quote, 50806f000000 for
// the go-tdx-guest quote, 00A067110000 for sgx_quote, ed742af8adf5/8a67 for the Intel sample;
// tdx-quote.hex and quote-from-tappd.hex carry the same PCK certificate, FMSPC b0c06f000000 per
// tests/data/SOURCES.md). Every other value computed once, independently of this code, with
// `openssl asn1parse -in leaf.pem -strparse <offset of the extension's OCTET STRING>`.
const RealPck kRealPcks[] = {
    {"quotes/phala-dcap-qvl/tdx_quote", "811dca2a26b952e85bb6448b097ba4fd",
     "03030202040100050000000000000000", 11, "03030202040100050000000000000000", "0000",
     "b0c06f000000", SgxType::scalable, "07828474603e7019dc930775ffe8cdd2", 1, 1, 1},
    {"quotes/phala-dcap-qvl/tdx_quote_outdated", "66498c9263c04ed2f0657c530ac2b0cb",
     "03030202040100030000000000000000", 13, "03030202040100030000000000000000", "0000",
     "90c06f000000", SgxType::scalable, "af8de677b5f3d6d0c3a71b288bfdda89", 1, 0, 1},
    // comp06 is 255, encoded 02 02 00 FF.
    {"quotes/phala-dcap-qvl/near_quote_hex.txt", "354e2a1c79c98e81723eab4b78b990a7",
     "0404020205ff00020000000000000000", 13, "0404020205ff00020000000000000000", "0000",
     "20a06f000000", SgxType::scalable, "2617f4dc7886fd41c53818e9e54d67f4", 1, 1, 1},
    {"quotes/phala-dcap-qvl/tdx-quote.hex", "de5d028ab970ae67f36c3da32d5ee27e",
     "02020202030100030000000000000000", 11, "02020202030100030000000000000000", "0000",
     "b0c06f000000", SgxType::scalable, "49d5dae1488b2687efc5cb4b6d8e3bff", 1, 1, 1},
    {"quotes/phala-dcap-qvl/quote-from-tappd.hex", "de5d028ab970ae67f36c3da32d5ee27e",
     "02020202030100030000000000000000", 11, "02020202030100030000000000000000", "0000",
     "b0c06f000000", SgxType::scalable, "49d5dae1488b2687efc5cb4b6d8e3bff", 1, 1, 1},
    {"quotes/go-tdx-guest/tdx_prod_quote_SPR_E4.dat", "089ddfdb9c0359c82a3bc7719239574e",
     "03030202020100020000000000000000", 11, "03030202020100020000000000000000", "0000",
     "50806f000000", SgxType::scalable, "8c314d17d205dfafcbecbb00fc87eff7", 1, 0, 1},
    // Issued by the PCK Processor CA: no platform instance ID, no configuration.
    {"quotes/phala-dcap-qvl/sgx_quote", "d04ec06d4e6d92dc90d0ad3cf5ee2ddf",
     "0b0b0202ff0100000000000000000000", 13, "0b0b0202ff0100000000000000000000", "0000",
     "00a067110000", SgxType::standard, "", -1, -1, -1},
    // Synthetic (Intel test CA): SVNs above 127 (encoded with a leading 00), PCESVN 0x2961.
    {"quotes/intel-qvl-sample/pckCert.pem", "211d7542f36c3511ed7fb6dd6349b3e2",
     "52c1a38cf7edf30a524b4ebb049f59c7", 10593, "52c1a38cf7edf30a524b4ebb049f59c7", "8a67",
     "ed742af8adf5", SgxType::standard, "", -1, -1, -1},
};

std::optional<bool> flag(int v) {
  if (v < 0) return std::nullopt;
  return v == 1;
}

class SgxExtensionRealPck : public ::testing::TestWithParam<RealPck> {};

TEST_P(SgxExtensionRealPck, ParsesToTheExpectedValues) {
  const RealPck& want = GetParam();
  std::optional<Certificate> leaf;
  if (want.path.ends_with(".pem")) {
    auto cert = Certificate::from_pem(test::read_data(want.path));
    ASSERT_TRUE(cert.ok()) << cert.error().to_string();
    leaf = *cert;
  } else {
    auto chain = pck_chain(want.path);
    ASSERT_EQ(chain.size(), 3u);
    leaf = chain[0];
  }
  ASSERT_NE(leaf->subject().find("SGX PCK Certificate"), std::string::npos) << leaf->subject();

  auto ext = sgx_extension_of(*leaf);
  ASSERT_TRUE(ext.ok()) << ext.error().to_string();
  EXPECT_EQ(hex(ext->ppid), want.ppid);
  EXPECT_EQ(hex(ext->tcb_comp_svn), want.comp_svns);
  EXPECT_EQ(ext->pcesvn, want.pcesvn);
  EXPECT_EQ(hex(ext->cpusvn), want.cpusvn);
  EXPECT_EQ(hex(ext->pce_id), want.pce_id);
  EXPECT_EQ(hex(ext->fmspc), want.fmspc);
  EXPECT_EQ(ext->sgx_type, want.sgx_type);
  if (want.platform_instance_id.empty()) {
    EXPECT_FALSE(ext->platform_instance_id.has_value());
  } else {
    ASSERT_TRUE(ext->platform_instance_id.has_value());
    EXPECT_EQ(hex(*ext->platform_instance_id), want.platform_instance_id);
  }
  const bool has_config = want.dynamic_platform >= 0;
  ASSERT_EQ(ext->configuration.has_value(), has_config);
  if (has_config) {
    EXPECT_EQ(ext->configuration->dynamic_platform, flag(want.dynamic_platform));
    EXPECT_EQ(ext->configuration->cached_keys, flag(want.cached_keys));
    EXPECT_EQ(ext->configuration->smt_enabled, flag(want.smt_enabled));
  }

  // The same through parse_sgx_extension on the raw extnValue.
  auto der = leaf->extension(kSgxExtensionOid);
  ASSERT_TRUE(der.has_value());
  auto direct = parse_sgx_extension(*der);
  ASSERT_TRUE(direct.ok()) << direct.error().to_string();
  EXPECT_EQ(direct->tcb_comp_svn, ext->tcb_comp_svn);
  EXPECT_EQ(direct->fmspc, ext->fmspc);
}

INSTANTIATE_TEST_SUITE_P(SgxExtensionFiles, SgxExtensionRealPck, ::testing::ValuesIn(kRealPcks));

TEST(SgxExtension, CaCertificatesHaveNone) {
  for (const char* path : {"quotes/phala-dcap-qvl/tdx_quote", "quotes/phala-dcap-qvl/sgx_quote"}) {
    auto chain = pck_chain(path);
    ASSERT_EQ(chain.size(), 3u);
    for (size_t i : {1u, 2u}) {
      auto ext = sgx_extension_of(chain[i]);
      ASSERT_FALSE(ext.ok()) << path << " cert " << i;
      EXPECT_EQ(ext.error().code, Errc::not_found) << ext.error().to_string();
      EXPECT_EQ(ext.error().message,
                "sgx_extension: the certificate has no extension 1.2.840.113741.1.13.1");
    }
  }
}

TEST(SgxExtension, TypeNames) {
  EXPECT_EQ(sgx_type_name(SgxType::standard), "Standard");
  EXPECT_EQ(sgx_type_name(SgxType::scalable), "Scalable");
  EXPECT_EQ(sgx_type_name(SgxType::scalable_with_integrity), "ScalableWithIntegrity");
}

// ---------------------------------------------------------------------------------------------
// A DER builder for synthetic extensions.

Bytes der_length(size_t n) {
  if (n < 0x80) return {static_cast<uint8_t>(n)};
  Bytes digits;
  for (size_t v = n; v > 0; v >>= 8) digits.insert(digits.begin(), static_cast<uint8_t>(v));
  Bytes out{static_cast<uint8_t>(0x80 | digits.size())};
  append(out, digits);
  return out;
}

Bytes tlv(uint8_t tag, ByteView content) {
  Bytes out{tag};
  append(out, der_length(content.size()));
  append(out, content);
  return out;
}

Bytes cat(const std::vector<Bytes>& parts) {
  Bytes out;
  for (const Bytes& p : parts) append(out, p);
  return out;
}

Bytes seq(const std::vector<Bytes>& items) { return tlv(0x30, cat(items)); }

// 1.2.840.113741.1.13.1 followed by `arcs` (each < 128).
Bytes sgx_oid(std::initializer_list<uint8_t> arcs) {
  Bytes content = test::unhex("2a864886f84d010d01");
  for (uint8_t a : arcs) content.push_back(a);
  return tlv(0x06, content);
}

// Minimal DER INTEGER for a non-negative value.
Bytes integer(uint64_t v) {
  Bytes content;
  do {
    content.insert(content.begin(), static_cast<uint8_t>(v));
    v >>= 8;
  } while (v > 0);
  if (content[0] & 0x80) content.insert(content.begin(), 0x00);
  return tlv(0x02, content);
}

Bytes octets(std::string_view hex_text) { return tlv(0x04, test::unhex(hex_text)); }
Bytes boolean(bool v) { return tlv(0x01, Bytes{static_cast<uint8_t>(v ? 0xff : 0x00)}); }
Bytes element(const Bytes& oid, const Bytes& value) { return seq({oid, value}); }

// A synthetic extension with the tdx_quote leaf's values; tests change single elements. An empty
// element is left out.
struct Ext {
  Bytes ppid = element(sgx_oid({1}), octets("811dca2a26b952e85bb6448b097ba4fd"));
  std::vector<Bytes> tcb = default_tcb();
  std::optional<Bytes> tcb_value;  // replaces SEQUENCE(tcb) as the value of .2
  Bytes pce_id = element(sgx_oid({3}), octets("0000"));
  Bytes fmspc = element(sgx_oid({4}), octets("b0c06f000000"));
  Bytes sgx_type = element(sgx_oid({5}), tlv(0x0a, Bytes{0x01}));
  Bytes instance = element(sgx_oid({6}), octets("07828474603e7019dc930775ffe8cdd2"));
  std::vector<Bytes> config = {element(sgx_oid({7, 1}), boolean(true)),
                               element(sgx_oid({7, 2}), boolean(true)),
                               element(sgx_oid({7, 3}), boolean(true))};
  bool with_config = true;
  bool with_tcb = true;
  std::vector<Bytes> extra;  // appended after the configuration

  static std::vector<Bytes> default_tcb() {
    const uint8_t svns[16] = {3, 3, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0};
    std::vector<Bytes> out;
    for (uint8_t i = 0; i < 16; ++i) {
      out.push_back(element(sgx_oid({2, static_cast<uint8_t>(i + 1)}), integer(svns[i])));
    }
    out.push_back(element(sgx_oid({2, 17}), integer(11)));
    out.push_back(element(sgx_oid({2, 18}), octets("03030202040100050000000000000000")));
    return out;
  }

  Bytes tcb_element() const { return element(sgx_oid({2}), tcb_value ? *tcb_value : seq(tcb)); }
  Bytes config_element() const { return element(sgx_oid({7}), seq(config)); }
  // The top-level elements in order.
  std::vector<Bytes> items() const {
    std::vector<Bytes> out = {
        ppid,     with_tcb ? tcb_element() : Bytes{},      pce_id, fmspc, sgx_type,
        instance, with_config ? config_element() : Bytes{}};
    for (const Bytes& e : extra) out.push_back(e);
    return out;
  }
  Bytes build() const { return seq(items()); }
};

// Offset of the first occurrence of `needle` in `hay` at or after `from` (npos if none).
size_t find(const Bytes& hay, const Bytes& needle, size_t from = 0) {
  auto it = std::search(hay.begin() + static_cast<ptrdiff_t>(from), hay.end(), needle.begin(),
                        needle.end());
  return it == hay.end() ? std::string::npos : static_cast<size_t>(it - hay.begin());
}

// Size of the tag and length octets of the TLV at the start of `b` (low tag numbers only).
size_t header_size(ByteView b) { return b[1] < 0x80 ? 2 : 2 + (b[1] & 0x7f); }

// Offset of the value TLV of the element `el` (SEQUENCE{OID, value}) inside `der`.
size_t value_offset(const Bytes& der, const Bytes& el) {
  const size_t at = find(der, el);
  if (at == std::string::npos) return at;
  const size_t header = el[1] < 0x80 ? 2 : 2 + (el[1] & 0x7f);
  const size_t oid_size = 2 + el[header + 1];
  return at + header + oid_size;
}

void expect_error(const Bytes& der, const std::string& message) {
  auto ext = parse_sgx_extension(der);
  ASSERT_FALSE(ext.ok()) << "expected: " << message;
  EXPECT_EQ(ext.error().code, Errc::parse);
  EXPECT_EQ(ext.error().message, message);
}

// Any parse error (code and "sgx_extension" prefix) or success; never anything else.
bool parses(ByteView der) {
  auto ext = parse_sgx_extension(der);
  if (ext.ok()) return true;
  EXPECT_EQ(ext.error().code, Errc::parse);
  EXPECT_TRUE(ext.error().message.starts_with("sgx_extension")) << ext.error().message;
  EXPECT_NE(ext.error().message.find(" at offset "), std::string::npos) << ext.error().message;
  return false;
}

TEST(SgxExtensionSynthetic, BuilderReproducesTheRealExtension) {
  const Bytes real = real_extension();
  ASSERT_EQ(real.size(), 554u);
  EXPECT_EQ(hex(Ext{}.build()), hex(real));
}

TEST(SgxExtensionSynthetic, OptionalElementsAndTypes) {
  Ext e;
  e.with_config = true;
  e.config.clear();  // present but empty
  e.instance.clear();
  e.sgx_type = element(sgx_oid({5}), tlv(0x0a, Bytes{0x02}));
  auto ext = parse_sgx_extension(e.build());
  ASSERT_TRUE(ext.ok()) << ext.error().to_string();
  EXPECT_EQ(ext->sgx_type, SgxType::scalable_with_integrity);
  EXPECT_FALSE(ext->platform_instance_id.has_value());
  ASSERT_TRUE(ext->configuration.has_value());
  EXPECT_FALSE(ext->configuration->dynamic_platform.has_value());
  EXPECT_FALSE(ext->configuration->cached_keys.has_value());
  EXPECT_FALSE(ext->configuration->smt_enabled.has_value());

  Ext partial;
  partial.config = {element(sgx_oid({7, 2}), boolean(false))};
  ext = parse_sgx_extension(partial.build());
  ASSERT_TRUE(ext.ok()) << ext.error().to_string();
  EXPECT_EQ(ext->configuration->cached_keys, std::optional<bool>(false));
  EXPECT_FALSE(ext->configuration->dynamic_platform.has_value());

  // Elements in another order, and maximal values.
  Ext shuffled;
  shuffled.tcb[16] = element(sgx_oid({2, 17}), integer(65535));
  shuffled.tcb[6] = element(sgx_oid({2, 7}), integer(255));
  std::swap(shuffled.tcb[0], shuffled.tcb[17]);
  std::swap(shuffled.ppid, shuffled.fmspc);
  ext = parse_sgx_extension(shuffled.build());
  ASSERT_TRUE(ext.ok()) << ext.error().to_string();
  EXPECT_EQ(ext->pcesvn, 65535);
  EXPECT_EQ(ext->tcb_comp_svn[6], 255);
  EXPECT_EQ(ext->tcb_comp_svn[0], 3);
  EXPECT_EQ(hex(ext->fmspc), "b0c06f000000");
}

TEST(SgxExtensionSynthetic, UnknownOidsAreSkipped) {
  const Bytes deep = [] {
    Bytes v = tlv(0x30, {});
    for (int i = 0; i < 10000; ++i) v = tlv(0x30, v);
    return v;
  }();
  Ext e;
  e.extra = {element(sgx_oid({8}), octets("00")),
             seq({tlv(0x06, test::unhex("2a0304")), deep}),             // 1.2.3.4
             seq({sgx_oid({1, 5}), tlv(0x9f, test::unhex("2001aa"))}),  // high tag number
             seq({sgx_oid({9}), integer(1), integer(2), integer(3)})};
  e.tcb.insert(e.tcb.begin() + 3, element(sgx_oid({2, 19}), octets("ffff")));
  e.tcb.push_back(element(sgx_oid({2, 0}), integer(9)));
  e.config.push_back(element(sgx_oid({7, 4}), boolean(false)));
  auto ext = parse_sgx_extension(e.build());
  ASSERT_TRUE(ext.ok()) << ext.error().to_string();
  EXPECT_EQ(hex(ext->tcb_comp_svn), "03030202040100050000000000000000");
  EXPECT_EQ(ext->pcesvn, 11);
  EXPECT_EQ(hex(ext->ppid), "811dca2a26b952e85bb6448b097ba4fd");
  EXPECT_EQ(ext->configuration->smt_enabled, std::optional<bool>(true));
}

TEST(SgxExtensionHostile, OutOfRangeIntegers) {
  Ext e;
  e.tcb[6] = element(sgx_oid({2, 7}), integer(300));
  Bytes der = e.build();
  expect_error(der, "sgx_extension.tcb.comp07 at offset " +
                        std::to_string(value_offset(der, e.tcb[6])) + ": INTEGER 300 exceeds 255");
  // In the real extension comp07 is at offset 179 (openssl asn1parse); 02 01 00 → 02 01 80.
  Bytes real = real_extension();
  ASSERT_EQ(real.size(), 554u);
  ASSERT_EQ(hex(ByteView(real).subspan(179, 3)), "020100");
  real[181] = 0x80;
  expect_error(real, "sgx_extension.tcb.comp07 at offset 179: negative INTEGER");

  e = Ext{};
  e.tcb[16] = element(sgx_oid({2, 17}), integer(65536));
  der = e.build();
  expect_error(der, "sgx_extension.tcb.pcesvn at offset " +
                        std::to_string(value_offset(der, e.tcb[16])) +
                        ": INTEGER 65536 exceeds 65535");
  e.tcb[16] = element(sgx_oid({2, 17}), integer(uint64_t{1} << 32));
  der = e.build();
  expect_error(der, "sgx_extension.tcb.pcesvn at offset " +
                        std::to_string(value_offset(der, e.tcb[16])) +
                        ": INTEGER of 5 bytes exceeds 65535");
  e.tcb[16] = element(sgx_oid({2, 17}), tlv(0x02, test::unhex("00ffffffffffffffffff")));
  der = e.build();
  expect_error(der, "sgx_extension.tcb.pcesvn at offset " +
                        std::to_string(value_offset(der, e.tcb[16])) +
                        ": INTEGER of 10 bytes exceeds 65535");

  struct Case {
    std::string content;
    std::string what;
  };
  for (const Case& c : {Case{"", "empty INTEGER"}, Case{"0005", "non-minimal INTEGER (not DER)"},
                        Case{"ff80", "non-minimal INTEGER (not DER)"},
                        Case{"ff", "negative INTEGER"}, Case{"8000", "negative INTEGER"}}) {
    e = Ext{};
    e.tcb[0] = element(sgx_oid({2, 1}), tlv(0x02, test::unhex(c.content)));
    der = e.build();
    expect_error(der, "sgx_extension.tcb.comp01 at offset " +
                          std::to_string(value_offset(der, e.tcb[0])) + ": " + c.what);
  }

  e = Ext{};
  e.sgx_type = element(sgx_oid({5}), tlv(0x0a, Bytes{0x03}));
  der = e.build();
  expect_error(der, "sgx_extension.sgx_type at offset " +
                        std::to_string(value_offset(der, e.sgx_type)) +
                        ": ENUMERATED 3 is not an SGX type (0..2)");
  e.sgx_type = element(sgx_oid({5}), tlv(0x0a, Bytes{0x01, 0x00}));
  der = e.build();
  expect_error(der, "sgx_extension.sgx_type at offset " +
                        std::to_string(value_offset(der, e.sgx_type)) +
                        ": ENUMERATED 256 exceeds 255");
}

TEST(SgxExtensionHostile, WrongTypesAndSizes) {
  // On the real bytes (offsets from openssl asn1parse): sgx_type ENUMERATED at 449, FMSPC at 427,
  // PPID at 18.
  Bytes real = real_extension();
  ASSERT_EQ(real.size(), 554u);
  Bytes bad = real;
  bad[449] = 0x02;
  expect_error(bad, "sgx_extension.sgx_type at offset 449: expected ENUMERATED, got INTEGER");
  bad = real;
  bad[427] = 0x0c;
  expect_error(bad, "sgx_extension.fmspc at offset 427: expected OCTET STRING, got tag 0x0c");
  bad = real;
  bad[18] = 0x30;
  expect_error(bad, "sgx_extension.ppid at offset 18: expected OCTET STRING, got SEQUENCE");

  Ext e;
  e.ppid = element(sgx_oid({1}), octets("811dca2a26b952e85bb6448b097ba4"));
  expect_error(e.build(), "sgx_extension.ppid at offset 18: OCTET STRING of 15 bytes, expected 16");
  e = Ext{};
  e.fmspc = element(sgx_oid({4}), octets("b0c06f00000000"));
  Bytes der = e.build();
  expect_error(der, "sgx_extension.fmspc at offset " + std::to_string(value_offset(der, e.fmspc)) +
                        ": OCTET STRING of 7 bytes, expected 6");
  e = Ext{};
  e.pce_id = element(sgx_oid({3}), integer(0));
  der = e.build();
  expect_error(der, "sgx_extension.pce_id at offset " +
                        std::to_string(value_offset(der, e.pce_id)) +
                        ": expected OCTET STRING, got INTEGER");
  e = Ext{};
  e.tcb[17] = element(sgx_oid({2, 18}), octets("0303"));
  der = e.build();
  expect_error(der, "sgx_extension.tcb.cpusvn at offset " +
                        std::to_string(value_offset(der, e.tcb[17])) +
                        ": OCTET STRING of 2 bytes, expected 16");
  e = Ext{};
  e.tcb[3] = element(sgx_oid({2, 4}), tlv(0x0a, Bytes{0x02}));
  der = e.build();
  expect_error(der, "sgx_extension.tcb.comp04 at offset " +
                        std::to_string(value_offset(der, e.tcb[3])) +
                        ": expected INTEGER, got ENUMERATED");
  e = Ext{};
  e.tcb_value = octets("00");
  der = e.build();
  expect_error(der, "sgx_extension.tcb at offset " +
                        std::to_string(value_offset(der, e.tcb_element())) +
                        ": expected SEQUENCE, got OCTET STRING");
  e = Ext{};
  e.config[1] = element(sgx_oid({7, 2}), tlv(0x01, Bytes{0x01}));
  der = e.build();
  expect_error(der, "sgx_extension.configuration.cached_keys at offset " +
                        std::to_string(value_offset(der, e.config[1])) +
                        ": BOOLEAN value is neither 0x00 nor 0xff (not DER)");
  e.config[1] = element(sgx_oid({7, 2}), tlv(0x01, Bytes{0xff, 0xff}));
  der = e.build();
  expect_error(der, "sgx_extension.configuration.cached_keys at offset " +
                        std::to_string(value_offset(der, e.config[1])) +
                        ": BOOLEAN of 2 bytes, expected 1");
  e.config[1] = element(sgx_oid({7, 2}), integer(1));
  der = e.build();
  expect_error(der, "sgx_extension.configuration.cached_keys at offset " +
                        std::to_string(value_offset(der, e.config[1])) +
                        ": expected BOOLEAN, got INTEGER");

  // Element framing: not a SEQUENCE, no OID, malformed OID, data after the value.
  e = Ext{};
  e.ppid = octets("00");
  expect_error(e.build(), "sgx_extension[0] at offset 4: expected SEQUENCE, got OCTET STRING");
  e.ppid = seq({});
  expect_error(e.build(),
               "sgx_extension[0].oid at offset 6: missing (end of the enclosing element)");
  e.ppid = seq({integer(1)});
  expect_error(e.build(),
               "sgx_extension[0].oid at offset 6: expected OBJECT IDENTIFIER, got INTEGER");
  e.ppid = seq({tlv(0x06, {})});
  expect_error(e.build(), "sgx_extension[0].oid at offset 6: malformed OBJECT IDENTIFIER");
  e.ppid = seq({tlv(0x06, Bytes{0x2a, 0x86})});
  expect_error(e.build(), "sgx_extension[0].oid at offset 6: malformed OBJECT IDENTIFIER");
  e.ppid = seq({tlv(0x06, Bytes{0x2a, 0x80, 0x01})});
  expect_error(e.build(), "sgx_extension[0].oid at offset 6: non-minimal OBJECT IDENTIFIER arc");
  e.ppid = seq({sgx_oid({1})});
  expect_error(e.build(),
               "sgx_extension.ppid at offset 18: missing (end of the enclosing element)");
  e.ppid = seq({sgx_oid({1}), octets("811dca2a26b952e85bb6448b097ba4fd"), octets("")});
  expect_error(e.build(), "sgx_extension.ppid at offset 36: unexpected data after the value");
  e = Ext{};
  e.tcb[2] = integer(2);
  der = e.build();
  expect_error(der, "sgx_extension.tcb[2] at offset " +
                        std::to_string(find(der, e.tcb[0]) + e.tcb[0].size() + e.tcb[1].size()) +
                        ": expected SEQUENCE, got INTEGER");
}

TEST(SgxExtensionHostile, DuplicateAndMissingElements) {
  Ext e;
  e.extra = {e.fmspc};
  Bytes der = e.build();
  const size_t second = der.size() - e.fmspc.size();
  expect_error(der,
               "sgx_extension.fmspc at offset " + std::to_string(second) + ": duplicate element");
  e = Ext{};
  e.extra = {e.tcb_element()};
  der = e.build();
  expect_error(der, "sgx_extension.tcb at offset " +
                        std::to_string(der.size() - e.tcb_element().size()) +
                        ": duplicate element");
  e = Ext{};
  e.tcb.push_back(e.tcb[4]);
  der = e.build();
  expect_error(der, "sgx_extension.tcb.comp05 at offset " +
                        std::to_string(find(der, e.tcb[4], find(der, e.tcb[4]) + 1)) +
                        ": duplicate element");
  e = Ext{};
  e.config.push_back(e.config[2]);
  der = e.build();
  const size_t last_config =
      find(der, e.config_element()) + e.config_element().size() - e.config[2].size();
  expect_error(der, "sgx_extension.configuration.smt_enabled at offset " +
                        std::to_string(last_config) + ": duplicate element");
  e = Ext{};
  e.extra = {e.instance};
  der = e.build();
  expect_error(der, "sgx_extension.platform_instance_id at offset " +
                        std::to_string(der.size() - e.instance.size()) + ": duplicate element");

  // Missing required elements: named at the offset of the enclosing SEQUENCE.
  e = Ext{};
  e.fmspc.clear();
  expect_error(e.build(), "sgx_extension.fmspc at offset 0: missing");
  e = Ext{};
  e.ppid.clear();
  expect_error(e.build(), "sgx_extension.ppid at offset 0: missing");
  e = Ext{};
  e.pce_id.clear();
  expect_error(e.build(), "sgx_extension.pce_id at offset 0: missing");
  e = Ext{};
  e.sgx_type.clear();
  expect_error(e.build(), "sgx_extension.sgx_type at offset 0: missing");
  e = Ext{};
  e.with_tcb = false;
  expect_error(e.build(), "sgx_extension.tcb at offset 0: missing");
  for (size_t i = 0; i < 18; ++i) {
    e = Ext{};
    e.tcb.erase(e.tcb.begin() + static_cast<ptrdiff_t>(i));
    der = e.build();
    const std::string name = i < 16 ? "comp" + std::string(i < 9 ? "0" : "") + std::to_string(i + 1)
                             : i == 16 ? "pcesvn"
                                       : "cpusvn";
    expect_error(der, "sgx_extension.tcb." + name + " at offset " +
                          std::to_string(value_offset(der, e.tcb_element())) + ": missing");
  }
}

TEST(SgxExtensionHostile, LengthEncodings) {
  expect_error({}, "sgx_extension at offset 0: missing (end of the enclosing element)");
  expect_error({0x30}, "sgx_extension at offset 0: truncated length");
  expect_error({0x04, 0x00}, "sgx_extension at offset 0: expected SEQUENCE, got OCTET STRING");
  expect_error({0x30, 0x80, 0x00, 0x00}, "sgx_extension at offset 0: indefinite length (not DER)");
  expect_error({0x30, 0x85, 0x01, 0x00, 0x00, 0x00, 0x00},
               "sgx_extension at offset 0: length of 5 octets is too large");
  expect_error({0x30, 0xff}, "sgx_extension at offset 0: length of 127 octets is too large");
  expect_error({0x30, 0x84, 0xff, 0xff, 0xff, 0xff},
               "sgx_extension at offset 0: length 4294967295 exceeds the 0 bytes available");
  expect_error({0x30, 0x82, 0x01}, "sgx_extension at offset 0: truncated length");
  expect_error({0x30, 0x81, 0x05, 0, 0, 0, 0, 0},
               "sgx_extension at offset 0: non-minimal length (not DER)");
  expect_error({0x30, 0x82, 0x00, 0x90}, "sgx_extension at offset 0: non-minimal length (not DER)");
  expect_error({0x30, 0x00, 0x00}, "sgx_extension at offset 2: trailing data after the SEQUENCE");
  expect_error({0x1f}, "sgx_extension at offset 0: truncated tag");
  expect_error({0x3f, 0x80, 0x01, 0x00}, "sgx_extension at offset 0: non-minimal tag");
  expect_error({0x3f, 0x81, 0x81, 0x81, 0x81, 0x01, 0x00},
               "sgx_extension at offset 0: tag number too large");
  expect_error({0x3f, 0x21, 0x00}, "sgx_extension at offset 0: expected SEQUENCE, got tag 0x3f");
  expect_error({0x30, 0x00}, "sgx_extension.ppid at offset 0: missing");

  // An inner length beyond its enclosing element (but within the whole input).
  Ext e;
  e.tcb[5] = test::unhex("30847fffffff");
  Bytes der = e.build();
  size_t after = 0;
  for (size_t i = 6; i < e.tcb.size(); ++i) after += e.tcb[i].size();
  expect_error(der, "sgx_extension.tcb[5] at offset " + std::to_string(find(der, e.tcb[5])) +
                        ": length 2147483647 exceeds the " + std::to_string(after) +
                        " bytes available");
  // The real extension with its outer length one too small, one too large, and 4 GiB.
  Bytes real = real_extension();
  ASSERT_EQ(hex(ByteView(real).subspan(0, 4)), "30820226");
  real[3] = 0x25;
  expect_error(real, "sgx_extension at offset 553: trailing data after the SEQUENCE");
  real[3] = 0x27;
  expect_error(real, "sgx_extension at offset 0: length 551 exceeds the 550 bytes available");
  real[3] = 0x26;
  Bytes padded = {0x30, 0x83, 0x00};
  append(padded, ByteView(real).subspan(2));
  expect_error(padded, "sgx_extension at offset 0: non-minimal length (not DER)");
}

TEST(SgxExtensionHostile, DeepNesting) {
  Bytes nested = tlv(0x30, {});
  for (int i = 0; i < 99; ++i) nested = tlv(0x30, nested);  // 100 levels
  const size_t second_level = header_size(nested);
  const size_t third_level = second_level + header_size(ByteView(nested).subspan(second_level));
  expect_error(nested, "sgx_extension[0].oid at offset " + std::to_string(third_level) +
                           ": expected OBJECT IDENTIFIER, got SEQUENCE");

  Ext e;
  e.fmspc = element(sgx_oid({4}), nested);
  Bytes der = e.build();
  expect_error(der, "sgx_extension.fmspc at offset " + std::to_string(value_offset(der, e.fmspc)) +
                        ": expected OCTET STRING, got SEQUENCE");
  e = Ext{};
  e.tcb_value = nested;
  der = e.build();
  const size_t tcb_value = value_offset(der, e.tcb_element());
  expect_error(der, "sgx_extension.tcb[0].oid at offset " +
                        std::to_string(tcb_value + third_level) +
                        ": expected OBJECT IDENTIFIER, got SEQUENCE");
  // 100 levels whose innermost length overshoots every enclosing element.
  Bytes lying = {0x04, 0x7f};
  for (int i = 0; i < 100; ++i) lying = tlv(0x30, lying);
  EXPECT_FALSE(parses(lying));
}

TEST(SgxExtensionHostile, TruncationAtEveryOffset) {
  const Bytes real = real_extension();
  ASSERT_EQ(real.size(), 554u);
  for (size_t n = 0; n < real.size(); ++n) {
    EXPECT_FALSE(parses(ByteView(real).first(n))) << "prefix of " << n << " bytes";
  }
  EXPECT_TRUE(parses(real));

  // The content cut at every offset and re-wrapped with a consistent outer length: valid only
  // when the cut falls after the SGX type, platform instance ID or configuration element.
  const Ext e;
  const std::vector<Bytes> items = e.items();
  const Bytes content = cat(items);
  std::vector<size_t> valid_cuts;
  size_t end = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    end += items[i].size();
    if (i >= 4) valid_cuts.push_back(end);
  }
  ASSERT_EQ(valid_cuts.back(), content.size());
  size_t accepted = 0;
  for (size_t n = 0; n <= content.size(); ++n) {
    const Bytes der = tlv(0x30, ByteView(content).first(n));
    const bool want = std::find(valid_cuts.begin(), valid_cuts.end(), n) != valid_cuts.end();
    EXPECT_EQ(parses(der), want) << "content cut at " << n;
    accepted += want;
  }
  EXPECT_EQ(accepted, 3u);
}

TEST(SgxExtensionHostile, EveryByteMutated) {
  const Bytes real = real_extension();
  ASSERT_EQ(real.size(), 554u);
  size_t rejected = 0;
  for (size_t i = 0; i < real.size(); ++i) {
    for (int variant = 0; variant < 5; ++variant) {
      Bytes bad = real;
      const uint8_t values[] = {0x00, 0x7f, 0x80, 0xff, static_cast<uint8_t>(real[i] ^ 0x01)};
      if (values[variant] == real[i]) continue;
      bad[i] = values[variant];
      if (!parses(bad)) ++rejected;
    }
  }
  // Most single-byte changes hit framing, OIDs or value encodings.
  EXPECT_GT(rejected, 1000u);
}

}  // namespace
}  // namespace acon::dcap
