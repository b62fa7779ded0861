// Bounds-checked little-endian reading of binary structures, with errors that name the field
// and the absolute offset. Shared by every binary parser (event logs, quotes, TPM structures).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "acon/common/bytes.h"

namespace acon {

class ByteReader {
 public:
  // `base` is the absolute offset of data[0] in the enclosing input, used only in messages.
  explicit ByteReader(ByteView data, size_t base = 0) : data_(data), base_(base) {}

  size_t pos() const { return pos_; }
  size_t offset() const { return base_ + pos_; }  // absolute
  size_t remaining() const { return data_.size() - pos_; }
  bool empty() const { return pos_ == data_.size(); }
  ByteView rest() const { return data_.subspan(pos_); }

  Result<uint8_t> u8(std::string_view field) { return read_le<uint8_t>(field); }
  Result<uint16_t> u16(std::string_view field) { return read_le<uint16_t>(field); }
  Result<uint32_t> u32(std::string_view field) { return read_le<uint32_t>(field); }
  Result<uint64_t> u64(std::string_view field) { return read_le<uint64_t>(field); }

  // A view of the next n bytes (no copy).
  Result<ByteView> bytes(size_t n, std::string_view field) {
    if (n > remaining()) return truncated(field, n);
    ByteView v = data_.subspan(pos_, n);
    pos_ += n;
    return v;
  }
  Status skip(size_t n, std::string_view field) {
    if (n > remaining()) return truncated(field, n);
    pos_ += n;
    return {};
  }

  Error truncated(std::string_view field, size_t wanted) const {
    return make_error(Errc::parse, std::string(field) + ": needs " + std::to_string(wanted) +
                                       " bytes at offset " + std::to_string(offset()) + ", only " +
                                       std::to_string(remaining()) + " left");
  }
  Error invalid(std::string_view field, const std::string& why) const {
    return make_error(Errc::parse,
                      std::string(field) + " at offset " + std::to_string(offset()) + ": " + why);
  }

 private:
  template <class T>
  Result<T> read_le(std::string_view field) {
    if (sizeof(T) > remaining()) return truncated(field, sizeof(T));
    T v = 0;
    for (size_t i = 0; i < sizeof(T); ++i) v |= static_cast<T>(T{data_[pos_ + i]} << (8 * i));
    pos_ += sizeof(T);
    return v;
  }

  ByteView data_;
  size_t base_;
  size_t pos_ = 0;
};

// Little-endian appenders for writers of the same structures.
inline void put_u16le(Bytes& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v));
  out.push_back(static_cast<uint8_t>(v >> 8));
}
inline void put_u32le(Bytes& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
inline void put_u64le(Bytes& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

// Big-endian appenders, for the TPM 2.0 structures and other network-order layouts (the 32-bit
// one is append_u32be in bytes.h).
inline void put_u16be(Bytes& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}
inline void put_u64be(Bytes& out, uint64_t v) {
  append_u32be(out, static_cast<uint32_t>(v >> 32));
  append_u32be(out, static_cast<uint32_t>(v));
}

// The little-endian value of the first min(8, b.size()) bytes, for fields whose bounds the
// caller has already checked.
inline uint64_t load_le(ByteView b) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8 && i < b.size(); ++i) v |= uint64_t{b[i]} << (8 * i);
  return v;
}

}  // namespace acon
