// Byte streams for layer tarballs and the digests computed while they pass through.
//
// Layers can be gigabytes, so every layer API reads from a ByteSource and writes to a ByteSink in
// bounded chunks, hashing on the way instead of reading whole files into memory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "acon/common/bytes.h"
#include "acon/common/hash.h"
#include "acon/common/unique_fd.h"

namespace acon::image::layers {

// Digest selection as acond's AddBlob `alg` bitmask: 1 = SHA-256, 2 = SHA-384, 4 = SHA-512.
inline constexpr uint32_t kDigestSha256 = 1;
inline constexpr uint32_t kDigestSha384 = 2;
inline constexpr uint32_t kDigestSha512 = 4;

// Size and digests of one byte stream; a digest that was not requested is empty.
struct LayerDigests {
  uint64_t size = 0;
  Bytes sha256;
  Bytes sha384;
  Bytes sha512;

  const Bytes& get(HashAlg alg) const;
  // The manifest layer reference "sha384/<hex>"; empty if that digest was not computed.
  std::string ref(HashAlg alg = HashAlg::sha384) const;
};

// Hashes one stream with every algorithm of a kDigest* mask at once.
class MultiHasher {
 public:
  static Result<MultiHasher> create(uint32_t digest_mask);
  void update(ByteView data);
  // The digests of everything passed to update(), and the byte count.
  LayerDigests finish();
  uint32_t mask() const { return mask_; }

 private:
  MultiHasher() = default;
  uint32_t mask_ = 0;
  uint64_t size_ = 0;
  std::optional<Hasher> sha256_, sha384_, sha512_;
};

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Fills up to out.size() bytes; 0 means end of stream.
  virtual Result<size_t> read(std::span<uint8_t> out) = 0;
  // Moves past up to `n` bytes without reading them, if the source can (a regular file);
  // returns how many were skipped, 0 when it cannot.
  virtual Result<uint64_t> skip(uint64_t n) {
    (void)n;
    return uint64_t{0};
  }
};

class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual Status write(ByteView data) = 0;
};

// Reads a file descriptor it owns.
class FileSource final : public ByteSource {
 public:
  static Result<FileSource> open(const std::filesystem::path& path);
  // Takes ownership of an open descriptor; `name` is used in error messages.
  FileSource(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}

  Result<size_t> read(std::span<uint8_t> out) override;
  Result<uint64_t> skip(uint64_t n) override;
  // Size of a regular file, or nullopt for pipes and terminals (used for progress output).
  std::optional<uint64_t> size() const;

 private:
  UniqueFd fd_;
  std::string name_;
};

class MemorySource final : public ByteSource {
 public:
  explicit MemorySource(ByteView data) : data_(data) {}
  Result<size_t> read(std::span<uint8_t> out) override;

 private:
  ByteView data_;
  size_t pos_ = 0;
};

// Writes to a file descriptor it owns; close() reports the final error.
class FileSink final : public ByteSink {
 public:
  // Creates (or truncates) `path` with the given permission bits.
  static Result<FileSink> create(const std::filesystem::path& path, unsigned mode = 0644);
  FileSink(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}

  Status write(ByteView data) override;
  // fsync (when asked) and close; further writes fail.
  Status close(bool sync = false);

 private:
  UniqueFd fd_;
  std::string name_;
};

class MemorySink final : public ByteSink {
 public:
  Status write(ByteView data) override {
    append(data_, data);
    return {};
  }
  const Bytes& data() const { return data_; }
  Bytes take() { return std::move(data_); }

 private:
  Bytes data_;
};

// Forwards to another sink (or nowhere) and hashes everything written.
class DigestingSink final : public ByteSink {
 public:
  static Result<DigestingSink> create(uint32_t digest_mask, ByteSink* next = nullptr);
  Status write(ByteView data) override;
  LayerDigests finish() { return hasher_.finish(); }

 private:
  DigestingSink(MultiHasher hasher, ByteSink* next) : hasher_(std::move(hasher)), next_(next) {}
  MultiHasher hasher_;
  ByteSink* next_;
};

// Reads a source to its end, hashing it (e.g. to check a stored layer against its reference).
Result<LayerDigests> digest_stream(ByteSource& source, uint32_t digest_mask);

}  // namespace acon::image::layers
