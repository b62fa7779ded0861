// Byte streams that report progress: they count bytes on their way to another sink or from
// another source (used by the repository and image building for progress output).
#pragma once

#include "acon/image/layers/import.h"
#include "acon/image/layers/stream.h"

namespace acon::image {

class CountingSink final : public layers::ByteSink {
 public:
  CountingSink(layers::ByteSink& next, const layers::ProgressFn& progress, uint64_t total)
      : next_(next), progress_(progress), total_(total) {}
  Status write(ByteView data) override {
    done_ += data.size();
    if (progress_) progress_(done_, total_);
    return next_.write(data);
  }

 private:
  layers::ByteSink& next_;
  const layers::ProgressFn& progress_;
  uint64_t total_;
  uint64_t done_ = 0;
};

class CountingSource final : public layers::ByteSource {
 public:
  CountingSource(layers::ByteSource& inner, const layers::ProgressFn& progress, uint64_t total)
      : inner_(inner), progress_(progress), total_(total) {}
  Result<size_t> read(std::span<uint8_t> out) override {
    ACON_TRY(size_t n, inner_.read(out));
    done_ += n;
    if (progress_) progress_(done_, total_);
    return n;
  }

 private:
  layers::ByteSource& inner_;
  const layers::ProgressFn& progress_;
  uint64_t total_;
  uint64_t done_ = 0;
};

}  // namespace acon::image
