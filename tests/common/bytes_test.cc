// Tests for bytes.h (hex, base64, ct_equal, random_bytes, SecretBytes) and result.h.
#include "acon/common/bytes.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "acon/common/result.h"
#include "test_util.h"

namespace acon {
namespace {

using test::unhex;
using ::testing::HasSubstr;

constexpr Base64 kAllVariants[] = {Base64::standard, Base64::standard_nopad, Base64::url,
                                   Base64::url_nopad};

// ---- hex ----

TEST(HexTest, EncodesLowerCase) {
  EXPECT_EQ(hex_encode(Bytes{}), "");
  EXPECT_EQ(hex_encode(Bytes{0x00, 0x01, 0x7f, 0x80, 0xab, 0xff}), "00017f80abff");
}

TEST(HexTest, DecodesUpperAndLowerCase) {
  auto lower = hex_decode("00017f80abcdef");
  ASSERT_TRUE(lower.ok()) << lower.error().to_string();
  EXPECT_EQ(*lower, (Bytes{0x00, 0x01, 0x7f, 0x80, 0xab, 0xcd, 0xef}));
  auto upper = hex_decode("ABCDEF");
  ASSERT_TRUE(upper.ok()) << upper.error().to_string();
  EXPECT_EQ(*upper, (Bytes{0xab, 0xcd, 0xef}));
  auto empty = hex_decode("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(HexTest, RejectsOddLength) {
  auto r = hex_decode("abc");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::parse);
  EXPECT_THAT(r.error().message, HasSubstr("odd length 3"));
  EXPECT_FALSE(hex_decode("0").ok());
}

TEST(HexTest, BadCharacterErrorNamesOffset) {
  struct Case {
    const char* text;
    const char* offset;
  };
  for (const Case& c :
       {Case{"zz00", "offset 0"}, Case{"0z00", "offset 1"}, Case{"00g0", "offset 2"},
        Case{"000 ", "offset 3"}, Case{"0x12", "offset 1"}}) {
    auto r = hex_decode(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.error().code, Errc::parse) << c.text;
    EXPECT_THAT(r.error().message, HasSubstr(c.offset)) << c.text;
  }
}

TEST(HexTest, RoundTripsAllByteValues) {
  Bytes all(256);
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint8_t>(i);
  auto r = hex_decode(hex_encode(all));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, all);
}

TEST(HexTest, TestUtilUnhexMatchesHexDecode) {
  EXPECT_EQ(unhex("cafe"), (Bytes{0xca, 0xfe}));
  EXPECT_TRUE(unhex("not hex").empty());
}

// ---- base64 ----

// RFC 4648 §10 test vectors.
struct Rfc4648Vector {
  const char* plain;
  const char* padded;
};
constexpr Rfc4648Vector kRfc4648[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

std::string strip_padding(std::string s) {
  while (!s.empty() && s.back() == '=') s.pop_back();
  return s;
}

TEST(Base64Test, Rfc4648Section10VectorsStandard) {
  for (const auto& v : kRfc4648) {
    EXPECT_EQ(base64_encode(as_bytes(v.plain), Base64::standard), v.padded) << v.plain;
    auto r = base64_decode(v.padded, Base64::standard);
    ASSERT_TRUE(r.ok()) << v.padded << ": " << r.error().to_string();
    EXPECT_EQ(to_string(*r), v.plain);
  }
}

TEST(Base64Test, Rfc4648Section10VectorsAllVariants) {
  // The vectors use only characters common to both alphabets, so url == standard here.
  for (const auto& v : kRfc4648) {
    for (Base64 variant : kAllVariants) {
      bool padded = variant == Base64::standard || variant == Base64::url;
      std::string expected = padded ? v.padded : strip_padding(v.padded);
      EXPECT_EQ(base64_encode(as_bytes(v.plain), variant), expected);
      auto r = base64_decode(expected, variant);
      ASSERT_TRUE(r.ok()) << expected << ": " << r.error().to_string();
      EXPECT_EQ(to_string(*r), v.plain);
    }
  }
}

TEST(Base64Test, AppendKeepsWhatIsThere) {
  std::string out = "head.";
  append_base64(out, as_bytes("foob"), Base64::url_nopad);
  EXPECT_EQ(out, "head.Zm9vYg");
  append_base64(out, as_bytes("f"), Base64::standard);
  EXPECT_EQ(out, "head.Zm9vYgZg==");
}

// The encoder takes six bytes at a time: every length around that step, every byte value.
TEST(Base64Test, EncodesEveryLengthAndByteValueAndDecodesBack) {
  Bytes data(256);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7 + 3);
  for (size_t length = 0; length <= data.size(); ++length) {
    ByteView part = ByteView(data).first(length);
    for (Base64 variant : {Base64::standard, Base64::url, Base64::url_nopad}) {
      std::string text = base64_encode(part, variant);
      auto back = base64_decode(text, variant);
      ASSERT_TRUE(back.ok()) << length;
      EXPECT_EQ(*back, Bytes(part.begin(), part.end())) << length;
    }
  }
  // Against a bit-by-bit reference for the bytes 0..255 in order.
  Bytes all(256);
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint8_t>(i);
  std::string expected;
  const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (size_t bit = 0; bit < all.size() * 8; bit += 6) {
    unsigned v = 0;
    for (size_t b = bit; b < bit + 6; ++b)
      v = v << 1 | (b < all.size() * 8 ? (all[b / 8] >> (7 - b % 8)) & 1 : 0);
    expected.push_back(alphabet[v]);
  }
  EXPECT_EQ(base64_encode(all, Base64::url_nopad), expected);
}

TEST(Base64Test, DefaultVariantIsStandard) {
  EXPECT_EQ(base64_encode(as_bytes("fo")), "Zm8=");
  auto r = base64_decode("Zm8=");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(to_string(*r), "fo");
}

TEST(Base64Test, UrlAlphabetUsesDashAndUnderscore) {
  // 0xfb 0xff = 111110 111111 1111(00): indices 62, 63, 60.
  const Bytes two = {0xfb, 0xff};
  EXPECT_EQ(base64_encode(two, Base64::standard), "+/8=");
  EXPECT_EQ(base64_encode(two, Base64::standard_nopad), "+/8");
  EXPECT_EQ(base64_encode(two, Base64::url), "-_8=");
  EXPECT_EQ(base64_encode(two, Base64::url_nopad), "-_8");
  EXPECT_EQ(b64url(two), "-_8");
  // 0xfb 0xff 0xbf = 111110 111111 111110 111111.
  const Bytes three = {0xfb, 0xff, 0xbf};
  EXPECT_EQ(base64_encode(three, Base64::standard), "+/+/");
  EXPECT_EQ(base64_encode(three, Base64::url), "-_-_");

  auto url = base64_decode("-_8=", Base64::url);
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(*url, two);
  auto url_nopad = b64url_decode("-_-_");
  ASSERT_TRUE(url_nopad.ok());
  EXPECT_EQ(*url_nopad, three);
  auto standard = base64_decode("+/8", Base64::standard_nopad);
  ASSERT_TRUE(standard.ok());
  EXPECT_EQ(*standard, two);
}

TEST(Base64Test, RejectsCharactersOfTheOtherAlphabet) {
  EXPECT_FALSE(base64_decode("-_8=", Base64::standard).ok());
  EXPECT_FALSE(base64_decode("-_8", Base64::standard_nopad).ok());
  EXPECT_FALSE(base64_decode("+/8=", Base64::url).ok());
  EXPECT_FALSE(base64_decode("+/8", Base64::url_nopad).ok());
}

void ExpectRejected(std::string_view text, Base64 variant, std::string_view message_part) {
  auto r = base64_decode(text, variant);
  ASSERT_FALSE(r.ok()) << "accepted '" << text << "' variant " << static_cast<int>(variant);
  EXPECT_EQ(r.error().code, Errc::parse) << text;
  EXPECT_THAT(r.error().message, HasSubstr(message_part)) << text;
}

TEST(Base64Test, PaddedVariantsRejectMissingPadding) {
  for (Base64 v : {Base64::standard, Base64::url}) {
    ExpectRejected("Zg", v, "length not a multiple of 4");
    ExpectRejected("Zg=", v, "length not a multiple of 4");
    ExpectRejected("Zm8", v, "length not a multiple of 4");
    ExpectRejected("Zm9vYg", v, "length not a multiple of 4");
  }
}

TEST(Base64Test, PaddedVariantsRejectWrongPadding) {
  for (Base64 v : {Base64::standard, Base64::url}) {
    ExpectRejected("Z===", v, "unexpected padding at offset 1");
    ExpectRejected("====", v, "offset");
    ExpectRejected("Zm9vY===", v, "unexpected padding at offset 5");
    ExpectRejected("Zg=a", v, "unexpected padding at offset 2");
    // Too much padding for the data: "Zm8" needs exactly one '='.
    ExpectRejected("Zm8==", v, "length not a multiple of 4");
    ExpectRejected("Zm8=====", v, "unexpected padding");
  }
}

TEST(Base64Test, RejectsPaddingInTheMiddle) {
  for (Base64 v : {Base64::standard, Base64::url}) {
    ExpectRejected("Zg==Zg==", v, "unexpected padding at offset 2");
    ExpectRejected("Zm8=Zm8=", v, "unexpected padding at offset 3");
  }
  for (Base64 v : {Base64::standard_nopad, Base64::url_nopad}) {
    ExpectRejected("Zg=Zm8", v, "unexpected padding at offset 2");
  }
}

TEST(Base64Test, NopadVariantsRejectAnyPadding) {
  for (Base64 v : {Base64::standard_nopad, Base64::url_nopad}) {
    ExpectRejected("Zg==", v, "unexpected padding at offset 2");
    ExpectRejected("Zm8=", v, "unexpected padding at offset 3");
    ExpectRejected("Zm9vYmE=", v, "unexpected padding at offset 7");
    ExpectRejected("=", v, "offset");
  }
}

TEST(Base64Test, RejectsInvalidCharacters) {
  for (Base64 v : kAllVariants) {
    ExpectRejected("Zm9*", v, "invalid character at offset 3");
    ExpectRejected(std::string_view("Zm\0v", 4), v, "invalid character at offset 2");
    ExpectRejected("Zm9v\xc3\xa9Zm", v, "invalid character at offset 4");
  }
}

TEST(Base64Test, RejectsWhitespace) {
  // Lengths are kept valid so that the whitespace itself is what gets rejected.
  for (Base64 v : kAllVariants) {
    ExpectRejected("Zm 9", v, "invalid character at offset 2");
    ExpectRejected("Zm9v\nZm8", v, "invalid character at offset 4");
    ExpectRejected("Zm9v\r\nZm", v, "invalid character at offset 4");
    ExpectRejected(" Zm9", v, "invalid character at offset 0");
    ExpectRejected("Zm9\t", v, "invalid character at offset 3");
  }
}

TEST(Base64Test, RejectsNonZeroTrailingBits) {
  // "Zg==" is the only encoding of "f"; "Zh==" differs only in the unused low 4 bits.
  for (Base64 v : {Base64::standard, Base64::url}) {
    ExpectRejected("Zh==", v, "non-zero trailing bits");
    ExpectRejected("Zm9=", v, "non-zero trailing bits");
    ExpectRejected("Zm9vYh==", v, "non-zero trailing bits");
    ExpectRejected("Zm9vYmF=", v, "non-zero trailing bits");
  }
  for (Base64 v : {Base64::standard_nopad, Base64::url_nopad}) {
    ExpectRejected("Zh", v, "non-zero trailing bits");
    ExpectRejected("Zm9", v, "non-zero trailing bits");
    ExpectRejected("Zm9vZm9", v, "non-zero trailing bits at offset 6");
  }
  // The canonical forms of the same prefixes are accepted.
  EXPECT_TRUE(base64_decode("Zg==").ok());
  EXPECT_TRUE(base64_decode("Zm8=").ok());
  EXPECT_TRUE(base64_decode("Zg", Base64::url_nopad).ok());
}

TEST(Base64Test, RejectsLengthOneModFour) {
  for (Base64 v : {Base64::standard_nopad, Base64::url_nopad}) {
    ExpectRejected("Z", v, "impossible length");
    ExpectRejected("Zm9vY", v, "impossible length");
  }
  for (Base64 v : {Base64::standard, Base64::url}) {
    ExpectRejected("Z", v, "length not a multiple of 4");
    ExpectRejected("Zm9vY", v, "length not a multiple of 4");
  }
}

TEST(Base64Test, RoundTripsRandomLengthsInEveryVariant) {
  std::mt19937 rng(20240501);  // fixed seed: failures are reproducible
  std::uniform_int_distribution<int> byte(0, 255);
  for (size_t len = 0; len <= 100; ++len) {
    Bytes data(len);
    for (auto& b : data) b = static_cast<uint8_t>(byte(rng));
    for (Base64 v : kAllVariants) {
      std::string text = base64_encode(data, v);
      bool padded = v == Base64::standard || v == Base64::url;
      EXPECT_EQ(text.size(), padded ? (len + 2) / 3 * 4 : (len * 4 + 2) / 3) << len;
      auto r = base64_decode(text, v);
      ASSERT_TRUE(r.ok()) << text << ": " << r.error().to_string();
      EXPECT_EQ(*r, data) << "len " << len << " variant " << static_cast<int>(v);
    }
  }
}

TEST(Base64Test, EveryByteStringHasExactlyOneAcceptedEncoding) {
  // Changing any single character of a valid encoding either fails or changes the bytes.
  const Bytes data = {0x01, 0x02, 0x03, 0x04, 0xfe};
  for (Base64 v : kAllVariants) {
    std::string text = base64_encode(data, v);
    for (size_t i = 0; i < text.size(); ++i) {
      for (int c = 0; c < 256; ++c) {
        if (static_cast<char>(c) == text[i]) continue;
        std::string mutated = text;
        mutated[i] = static_cast<char>(c);
        auto r = base64_decode(mutated, v);
        if (r.ok()) {
          EXPECT_NE(*r, data) << mutated;
        }
      }
    }
  }
}

// ---- ct_equal, random_bytes, append, SecretBytes ----

TEST(BytesTest, CtEqual) {
  const Bytes a = {1, 2, 3, 4};
  EXPECT_TRUE(ct_equal(a, Bytes{1, 2, 3, 4}));
  EXPECT_FALSE(ct_equal(a, Bytes{1, 2, 3, 5}));
  EXPECT_FALSE(ct_equal(a, Bytes{0, 2, 3, 4}));
  EXPECT_FALSE(ct_equal(a, Bytes{1, 2, 3}));
  EXPECT_FALSE(ct_equal(a, Bytes{1, 2, 3, 4, 0}));
  EXPECT_FALSE(ct_equal(a, Bytes{}));
  EXPECT_FALSE(ct_equal(Bytes{}, a));
  EXPECT_TRUE(ct_equal(Bytes{}, Bytes{}));
  EXPECT_TRUE(ct_equal(ByteView{}, ByteView{}));
}

TEST(BytesTest, RandomBytesHasRequestedSize) {
  for (size_t n : {0, 1, 16, 32, 1000}) {
    auto r = random_bytes(n);
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    EXPECT_EQ(r->size(), n);
  }
  // Two 32-byte draws colliding has probability 2^-256.
  auto a = random_bytes(32);
  auto b = random_bytes(32);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_NE(*a, Bytes(32, 0));
}

TEST(BytesTest, RandomBytesRejectsHugeRequestWithoutAllocating) {
  // SIZE_MAX would make the vector constructor throw; INT_MAX + 1 would allocate 2 GiB.
  for (size_t n : {std::numeric_limits<size_t>::max(),
                   static_cast<size_t>(std::numeric_limits<int>::max()) + 1}) {
    auto r = random_bytes(n);
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.error().code, Errc::invalid_argument) << n;
  }
}

TEST(BytesTest, AppendAndAppendU32be) {
  Bytes out = {0xaa};
  append(out, Bytes{0x01, 0x02});
  append_u32be(out, 0x11223344);
  append_u32be(out, 0);
  EXPECT_EQ(out, (Bytes{0xaa, 0x01, 0x02, 0x11, 0x22, 0x33, 0x44, 0, 0, 0, 0}));
}

TEST(BytesTest, StringConversions) {
  std::string s("a\0b\xff", 4);
  EXPECT_EQ(to_bytes(s), (Bytes{'a', 0, 'b', 0xff}));
  EXPECT_EQ(to_string(to_bytes(s)), s);
  EXPECT_EQ(as_chars(as_bytes(s)), s);
  EXPECT_EQ(as_bytes(s).size(), 4u);
}

TEST(BytesTest, SecretBytesWorksAsAVector) {
  SecretBytes secret = to_secret(Bytes{1, 2, 3});
  EXPECT_EQ(secret.size(), 3u);
  secret.push_back(4);
  for (int i = 0; i < 1000; ++i) secret.push_back(static_cast<uint8_t>(i));  // reallocates
  EXPECT_EQ(secret.size(), 1004u);
  EXPECT_EQ(secret[0], 1);
  EXPECT_EQ(secret[3], 4);
  EXPECT_EQ(secret.back(), static_cast<uint8_t>(999));
  secret.resize(4);
  EXPECT_TRUE(ct_equal(view(secret), Bytes{1, 2, 3, 4}));
  SecretBytes copy = secret;
  EXPECT_EQ(copy, secret);
  SecretBytes moved = std::move(copy);
  EXPECT_EQ(moved, secret);
  secret.clear();
  EXPECT_TRUE(secret.empty());
  EXPECT_TRUE(view(secret).empty());
}

TEST(BytesTest, SecureZeroClearsMemory) {
  uint8_t buf[16];
  for (auto& b : buf) b = 0x5a;
  secure_zero(buf, sizeof buf);
  for (auto b : buf) EXPECT_EQ(b, 0);
  secure_zero(nullptr, 0);  // tolerated
}

// ---- Result, ACON_TRY, ACON_CHECK, Error ----

Result<int> ParsePositive(int x) {
  if (x <= 0) return make_error(Errc::invalid_argument, "not positive: " + std::to_string(x));
  return x;
}

Result<int> SumOfDoubles(int a, int b) {
  ACON_TRY(int da, ParsePositive(a));
  ACON_TRY(int db, ParsePositive(b));  // a second ACON_TRY in the same scope
  return 2 * da + 2 * db;
}

Status CheckEven(int x) {
  if (x % 2 != 0) return make_error(Errc::verify_failed, "odd: " + std::to_string(x));
  return {};
}

int g_checks_passed = 0;

Status CheckAllEven(int a, int b) {
  ACON_CHECK(CheckEven(a));
  ++g_checks_passed;
  ACON_CHECK(CheckEven(b));
  ++g_checks_passed;
  return {};
}

Result<std::unique_ptr<int>> MakeBox(int x) {
  ACON_TRY(int v, ParsePositive(x));
  return std::make_unique<int>(v);
}

Result<int> Unbox(int x) {
  ACON_TRY(std::unique_ptr<int> box, MakeBox(x));  // move-only values pass through
  return *box;
}

TEST(ResultTest, HoldsValueOrError) {
  Result<int> ok = 7;
  EXPECT_TRUE(ok.ok());
  EXPECT_TRUE(static_cast<bool>(ok));
  EXPECT_EQ(*ok, 7);
  EXPECT_EQ(ok.value(), 7);

  Result<int> bad = make_error(Errc::not_found, "gone");
  EXPECT_FALSE(bad.ok());
  EXPECT_FALSE(static_cast<bool>(bad));
  EXPECT_EQ(bad.error().code, Errc::not_found);
  EXPECT_EQ(bad.error().message, "gone");

  Result<std::string> s = std::string("text");
  EXPECT_EQ(s->size(), 4u);
}

TEST(ResultTest, AconTryBindsValueOrPropagatesError) {
  auto ok = SumOfDoubles(2, 3);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 10);

  auto first_bad = SumOfDoubles(-1, 3);
  ASSERT_FALSE(first_bad.ok());
  EXPECT_EQ(first_bad.error().code, Errc::invalid_argument);
  EXPECT_EQ(first_bad.error().message, "not positive: -1");

  auto second_bad = SumOfDoubles(1, 0);
  ASSERT_FALSE(second_bad.ok());
  EXPECT_EQ(second_bad.error().message, "not positive: 0");
}

TEST(ResultTest, AconTryMovesMoveOnlyValues) {
  auto ok = Unbox(5);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 5);
  auto bad = Unbox(0);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::invalid_argument);
}

TEST(ResultTest, AconCheckStopsAtFirstFailure) {
  g_checks_passed = 0;
  EXPECT_TRUE(CheckAllEven(2, 4).ok());
  EXPECT_EQ(g_checks_passed, 2);

  g_checks_passed = 0;
  Status first = CheckAllEven(3, 4);
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.error().code, Errc::verify_failed);
  EXPECT_EQ(first.error().message, "odd: 3");
  EXPECT_EQ(g_checks_passed, 0);

  g_checks_passed = 0;
  Status second = CheckAllEven(2, 5);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().message, "odd: 5");
  EXPECT_EQ(g_checks_passed, 1);
}

TEST(ResultTest, DefaultStatusIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  Status failed = make_error(Errc::io, "disk");
  EXPECT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().to_string(), "io: disk");
}

TEST(ResultTest, ErrorToStringAndWrap) {
  Error e = make_error(Errc::parse, "base64: invalid character at offset 3");
  EXPECT_EQ(e.to_string(), "parse: base64: invalid character at offset 3");
  Error wrapped = e.wrap("jwe.protected");
  EXPECT_EQ(wrapped.code, Errc::parse);
  EXPECT_EQ(wrapped.message, "jwe.protected: base64: invalid character at offset 3");
  EXPECT_EQ(wrapped.to_string(), "parse: jwe.protected: base64: invalid character at offset 3");
  EXPECT_EQ(e.message, "base64: invalid character at offset 3");  // original unchanged
  EXPECT_EQ(wrapped.wrap("outer").message,
            "outer: jwe.protected: base64: invalid character at offset 3");
}

TEST(ResultTest, ErrcNames) {
  EXPECT_EQ(errc_name(Errc::invalid_argument), "invalid_argument");
  EXPECT_EQ(errc_name(Errc::parse), "parse");
  EXPECT_EQ(errc_name(Errc::unsupported), "unsupported");
  EXPECT_EQ(errc_name(Errc::crypto), "crypto");
  EXPECT_EQ(errc_name(Errc::verify_failed), "verify_failed");
  EXPECT_EQ(errc_name(Errc::not_found), "not_found");
  EXPECT_EQ(errc_name(Errc::expired), "expired");
  EXPECT_EQ(errc_name(Errc::io), "io");
}

TEST(ResultTest, LibraryErrorsConvertToText) {
  auto r = base64_decode("Zm9*");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().to_string(), "parse: base64: invalid character at offset 3");
}

}  // namespace
}  // namespace acon

TEST(SplitTest, KeepsEmptyFields) {
  using V = std::vector<std::string_view>;
  EXPECT_EQ(acon::split("a::b", ':'), (V{"a", "", "b"}));
  EXPECT_EQ(acon::split("", ':'), (V{""}));
  EXPECT_EQ(acon::split(":", ':'), (V{"", ""}));
  EXPECT_EQ(acon::split("h.p.s", '.'), (V{"h", "p", "s"}));
}
