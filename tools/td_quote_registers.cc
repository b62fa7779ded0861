#include "td_quote_registers.h"

#include "acon/common/reader.h"

namespace acon::tools {

Result<std::map<uint32_t, Bytes>> td_quote_registers(ByteView quote) {
  constexpr size_t kHeaderSize = 48;
  constexpr size_t kMrtdOffset = 136;
  constexpr size_t kRtmr0Offset = 328;
  constexpr size_t kTd10BodySize = 584;
  ByteReader r(quote);
  ACON_TRY(uint16_t version, r.u16("quote.header.version"));
  ACON_CHECK(r.skip(2, "quote.header.att_key_type"));
  ACON_TRY(uint32_t tee_type, r.u32("quote.header.tee_type"));
  if (version != 4 && version != 5)
    return r.invalid("quote.header.version", "not a TDX quote version (4 or 5)");
  if (tee_type != 0x81) return r.invalid("quote.header.tee_type", "not TDX (0x81)");
  ACON_CHECK(r.skip(kHeaderSize - 8, "quote.header"));
  if (version == 5) {
    ACON_TRY(uint16_t body_type, r.u16("quote.body_type"));
    ACON_TRY(uint32_t body_size, r.u32("quote.body_size"));
    if (body_type != 2 && body_type != 3)
      return r.invalid("quote.body_type",
                       std::to_string(body_type) + " is not a TD report body (2 or 3)");
    if (body_size < kTd10BodySize)
      return r.invalid("quote.body_size", "smaller than a TD report body");
  }
  ACON_TRY(ByteView body, r.bytes(kTd10BodySize, "quote.body"));
  std::map<uint32_t, Bytes> regs;
  regs[0] = Bytes(body.begin() + kMrtdOffset, body.begin() + kMrtdOffset + 48);
  for (uint32_t i = 0; i < 4; ++i) {
    size_t at = kRtmr0Offset + 48 * i;
    regs[i + 1] = Bytes(body.begin() + at, body.begin() + at + 48);
  }
  return regs;
}

}  // namespace acon::tools
