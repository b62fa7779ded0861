// Fuzzes the strict base64 and hex decoders: whatever decodes must re-encode to the same text
// (every byte string has exactly one accepted encoding), and encoding must always round-trip.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "acon/common/bytes.h"
#include "fuzz_support.h"

namespace {

constexpr acon::Base64 kVariants[] = {acon::Base64::standard, acon::Base64::standard_nopad,
                                      acon::Base64::url, acon::Base64::url_nopad};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const acon::ByteView bytes(data, size);

  for (acon::Base64 variant : kVariants) {
    // Decoding: an accepted text is the canonical encoding of what it decodes to.
    auto decoded = acon::base64_decode(text, variant);
    if (decoded.ok()) {
      if (acon::base64_encode(*decoded, variant) != text) abort();
    } else if (decoded.error().code != acon::Errc::parse) {
      abort();
    }
    // Encoding: arbitrary bytes survive a round trip.
    const std::string encoded = acon::base64_encode(bytes, variant);
    auto back = acon::base64_decode(encoded, variant);
    if (!back.ok() || *back != acon::Bytes(bytes.begin(), bytes.end())) abort();
  }

  auto hex = acon::hex_decode(text);
  if (hex.ok()) {
    if (hex->size() * 2 != size || acon::hex_encode(*hex) != lower(text)) abort();
  } else if (hex.error().code != acon::Errc::parse) {
    abort();
  }
  auto hex_back = acon::hex_decode(acon::hex_encode(bytes));
  if (!hex_back.ok() || *hex_back != acon::Bytes(bytes.begin(), bytes.end())) abort();
  return 0;
}
