// UTF-8 encoding, validation and UTF-16LE conversion: the one copy behind the JSON readers and
// writers, JCS, and the event-log decoders.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "acon/common/bytes.h"

namespace acon {

inline constexpr uint32_t kUnicodeReplacement = 0xFFFD;

// Appends the UTF-8 encoding of `code_point` (at most U+10FFFF; surrogates are the caller's
// concern).
void append_utf8(std::string& out, uint32_t code_point);

// Length of the well-formed UTF-8 sequence that starts at s[i] (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF), or 0 if there is none; i must be < s.size(). The decoded
// code point goes to *code_point when it is not null.
size_t utf8_sequence(std::string_view s, size_t i, uint32_t* code_point = nullptr);

// True when the whole of `s` is well-formed UTF-8.
bool is_valid_utf8(std::string_view s);

// Decodes UTF-8 into UTF-16 code units (as JCS sorts member names); false if `s` is not
// well-formed UTF-8.
bool utf8_to_utf16(std::string_view s, std::u16string& out);

// UTF-16LE code units to UTF-8, stopping at the first NUL unit; unpaired surrogates become
// U+FFFD and an odd trailing byte is ignored.
std::string utf16le_to_utf8(ByteView units);

}  // namespace acon
