// Tests for the shared text and layout helpers: utf8.h, hex_literal, the big-endian writers and
// load_le of reader.h, the number pieces and the format-driven writer of json.h, and UniqueFd.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <limits>
#include <string>

#include "acon/common/bytes.h"
#include "acon/common/json.h"
#include "acon/common/reader.h"
#include "acon/common/unique_fd.h"
#include "acon/common/utf8.h"

namespace acon {
namespace {

TEST(Utf8Test, AppendEncodesEveryLength) {
  std::string s;
  for (uint32_t cp : {0x24u, 0xA2u, 0x20ACu, 0x10348u}) append_utf8(s, cp);
  EXPECT_EQ(s, "$\xC2\xA2\xE2\x82\xAC\xF0\x90\x8D\x88");
}

TEST(Utf8Test, SequenceAcceptsWellFormedAndRefusesTheRest) {
  uint32_t cp = 0;
  EXPECT_EQ(utf8_sequence("\xE2\x82\xAC!", 0, &cp), 3u);
  EXPECT_EQ(cp, 0x20ACu);
  EXPECT_EQ(utf8_sequence("a\xF4\x8F\xBF\xBF", 1, &cp), 4u);
  EXPECT_EQ(cp, 0x10FFFFu);
  EXPECT_EQ(utf8_sequence("\xC0\xAF", 0), 0u);          // overlong '/'
  EXPECT_EQ(utf8_sequence("\xE0\x80\xAF", 0), 0u);      // overlong, three bytes
  EXPECT_EQ(utf8_sequence("\xED\xA0\x80", 0), 0u);      // surrogate U+D800
  EXPECT_EQ(utf8_sequence("\xF4\x90\x80\x80", 0), 0u);  // above U+10FFFF
  EXPECT_EQ(utf8_sequence("\xE2\x82", 0), 0u);          // truncated
  EXPECT_EQ(utf8_sequence("\x80", 0), 0u);              // lone continuation byte
  EXPECT_TRUE(is_valid_utf8("plain \xC3\xA9t\xC3\xA9"));
  EXPECT_FALSE(is_valid_utf8("bad \xFF"));
}

TEST(Utf8Test, Utf16ConversionsRoundTheSurrogates) {
  std::u16string units;
  ASSERT_TRUE(utf8_to_utf16("a\xF0\x9F\x98\x80", units));
  EXPECT_EQ(units, (std::u16string{u'a', char16_t{0xD83D}, char16_t{0xDE00}}));
  EXPECT_FALSE(utf8_to_utf16("\xC0\x80", units));
  // "A", U+1F600 as a pair, an unpaired high surrogate, then NUL and text that is not read.
  const Bytes le = {0x41, 0x00, 0x3D, 0xD8, 0x00, 0xDE, 0x3D, 0xD8, 0x00, 0x00, 0x42, 0x00};
  EXPECT_EQ(utf16le_to_utf8(le), "A\xF0\x9F\x98\x80\xEF\xBF\xBD");
  EXPECT_EQ(utf16le_to_utf8(Bytes{0x41, 0x00, 0x42}), "A");  // odd trailing byte ignored
}

TEST(HexLiteralTest, PadsToTheMinimumDigits) {
  EXPECT_EQ(hex_literal(0), "0x0");
  EXPECT_EQ(hex_literal(0x1F), "0x1f");
  EXPECT_EQ(hex_literal(0x1F, 4), "0x001f");
  EXPECT_EQ(hex_literal(0x81, 2), "0x81");
  EXPECT_EQ(hex_literal(0x12345, 2), "0x12345");
  EXPECT_EQ(hex_literal(std::numeric_limits<uint64_t>::max(), 16), "0xffffffffffffffff");
}

TEST(ReaderTest, BigEndianWritersAndLoadLe) {
  Bytes out;
  put_u16be(out, 0x0102);
  append_u32be(out, 0x03040506);
  put_u64be(out, 0x0708090A0B0C0D0E);
  EXPECT_EQ(hex_encode(out), "0102030405060708090a0b0c0d0e");
  EXPECT_EQ(load_le(Bytes{0x01, 0x02, 0x03}), 0x030201u);
  EXPECT_EQ(load_le(Bytes{1, 2, 3, 4, 5, 6, 7, 8, 9}), 0x0807060504030201u);  // first 8 only
}

TEST(DecimalTest, ShortestDigitsAndLayouts) {
  DecimalDigits d = shortest_decimal_digits(-1234.5);
  EXPECT_EQ(d.digits, "12345");
  EXPECT_EQ(d.point, 4);
  EXPECT_EQ(decimal_plain(d), "1234.5");
  EXPECT_EQ(decimal_exponent(d, 2), "1.2345e+03");
  d = shortest_decimal_digits(0.00015);
  EXPECT_EQ(decimal_plain(d), "0.00015");
  EXPECT_EQ(decimal_exponent(d, 2), "1.5e-04");
  EXPECT_EQ(decimal_exponent(d, 1), "1.5e-4");
  d = shortest_decimal_digits(1e22);
  EXPECT_EQ(decimal_plain(d), "10000000000000000000000");
  EXPECT_EQ(decimal_exponent(d, 1), "1e+22");
  d = shortest_decimal_digits(0.0);
  EXPECT_EQ(d.digits, "0");
  EXPECT_EQ(decimal_plain(d), "0");
}

TEST(JsonTextTest, MinimalStringEscaping) {
  std::string out;
  append_json_string(out, "q\"b\\\b\f\n\r\t\x01\x7f");
  EXPECT_EQ(out, "\"q\\\"b\\\\\\b\\f\\n\\r\\t\\u0001\x7f\"");
  out.clear();
  append_json_string(out, "\x7f", /*escape_delete=*/true);
  EXPECT_EQ(out, "\"\\u007f\"");
}

TEST(JsonTextTest, FormatDecidesStringsNumbersAndOrder) {
  JsonTextFormat upper{
      .name = "test",
      .error_code = Errc::invalid_argument,
      .utf16_member_order = true,
      .string = [](std::string& out, std::string_view s) -> Status {
        out += "<" + std::string(s) + ">";
        return {};
      },
      .number = [](std::string& out, double v) -> Status {
        if (v < 0) return make_error(Errc::invalid_argument, "test: negative");
        out += std::to_string(static_cast<int>(v));
        return {};
      },
  };
  // U+FF61 sorts before U+1F600 in UTF-8 byte order but after it in UTF-16 code units.
  Json v = {{"\xF0\x9F\x98\x80", 1}, {"\xEF\xBD\xA1", {true, nullptr, 2.0}}};
  auto text = write_json_text(v, upper);
  ASSERT_TRUE(text.ok()) << text.error().to_string();
  EXPECT_EQ(*text, "{<\xF0\x9F\x98\x80>:1,<\xEF\xBD\xA1>:[true,null,2]}");
  upper.utf16_member_order = false;
  EXPECT_EQ(*write_json_text(v, upper), "{<\xEF\xBD\xA1>:[true,null,2],<\xF0\x9F\x98\x80>:1}");
  auto refused = write_json_text(Json::array({-1}), upper);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message, "test: negative");
  Json deep = Json::array();
  for (size_t i = 0; i <= kMaxJsonDepth; ++i) deep = Json::array({deep});
  auto too_deep = write_json_text(deep, upper);
  ASSERT_FALSE(too_deep.ok());
  EXPECT_EQ(too_deep.error().code, Errc::invalid_argument);
  EXPECT_EQ(too_deep.error().message, "test: nesting too deep");
}

TEST(UniqueFdTest, ClosesOnResetAndMoves) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  UniqueFd read_end(fds[0]);
  {
    UniqueFd write_end(fds[1]);
    UniqueFd moved = std::move(write_end);
    EXPECT_FALSE(write_end.valid());  // NOLINT(bugprone-use-after-move): moved-from is empty
    EXPECT_EQ(moved.get(), fds[1]);
  }
  // The write end is closed, so the read end sees end of file.
  char c;
  EXPECT_EQ(::read(read_end.get(), &c, 1), 0);
  int raw = read_end.release();
  EXPECT_FALSE(read_end.valid());
  EXPECT_EQ(::close(raw), 0);
}

}  // namespace
}  // namespace acon
