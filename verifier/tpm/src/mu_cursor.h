// Walking marshalled TPM structures with tss2-mu, one field at a time, so that a failure names
// the field and its absolute byte offset (tss2-mu itself only reports a return code).
#pragma once

#include <tss2/tss2_mu.h>

#include <cstdio>
#include <string>
#include <string_view>

#include "acon/common/bytes.h"
#include "acon/common/result.h"

namespace acon::tpm::detail {

// What a tss2-mu return code means for the input.
inline std::string describe_mu(TSS2_RC rc) {
  switch (rc) {
    case TSS2_MU_RC_INSUFFICIENT_BUFFER:
      return "truncated, or a size larger than the structure holds";
    case TSS2_MU_RC_BAD_SIZE:
      return "size out of range";
    case TSS2_MU_RC_BAD_VALUE:
      return "value not allowed here";
    default:
      break;
  }
  return "tss2-mu error " + hex_literal(rc, 8);
}

class MuCursor {
 public:
  // `base` is the absolute offset of data[0] in the whole input, used only in messages.
  MuCursor(ByteView data, size_t base) : data_(data), base_(base) {}

  // Unmarshals one field with `fn` (a Tss2_MU_*_Unmarshal function).
  template <class Fn, class T>
  Status read(Fn fn, T* dest, std::string_view field) {
    const size_t start = pos_;
    TSS2_RC rc = fn(buffer(), data_.size(), &pos_, dest);
    if (rc != TSS2_RC_SUCCESS) return fail(field, start, describe_mu(rc));
    return {};
  }
  // The same for a union, whose member is chosen by `selector`.
  template <class Fn, class T>
  Status read_union(Fn fn, uint32_t selector, T* dest, std::string_view field) {
    const size_t start = pos_;
    TSS2_RC rc = fn(buffer(), data_.size(), &pos_, selector, dest);
    if (rc != TSS2_RC_SUCCESS) return fail(field, start, describe_mu(rc));
    return {};
  }

  size_t pos() const { return pos_; }
  size_t offset() const { return base_ + pos_; }
  size_t remaining() const { return data_.size() - pos_; }
  // tss2-mu rejects a null buffer even when its size is 0.
  const uint8_t* buffer() const { return data_.empty() ? &kEmpty : data_.data(); }

  Error fail(std::string_view field, size_t at, const std::string& why) const {
    return make_error(Errc::parse,
                      std::string(field) + " at offset " + std::to_string(base_ + at) + ": " + why);
  }

 private:
  static constexpr uint8_t kEmpty = 0;
  ByteView data_;
  size_t base_;
  size_t pos_ = 0;
};

}  // namespace acon::tpm::detail
