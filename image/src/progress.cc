#include "acon/image/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

namespace acon::image {

namespace {
constexpr size_t kBarWidth = 30;
constexpr auto kRedrawInterval = std::chrono::milliseconds(100);
constexpr double kMiB = 1024.0 * 1024.0;

// floor(part * scale / whole) for part <= whole, without the 64-bit overflow of part * scale.
uint64_t share_of(uint64_t part, uint64_t whole, uint64_t scale) {
  return static_cast<uint64_t>(static_cast<unsigned __int128>(part) * scale / whole);
}
}  // namespace

std::string progress_line(std::string_view label, uint64_t done, uint64_t total) {
  char numbers[96];
  if (total == 0) {
    std::snprintf(numbers, sizeof numbers, " %.1f MiB", static_cast<double>(done) / kMiB);
    return std::string(label) + numbers;
  }
  const uint64_t shown = std::min(done, total);
  std::string bar(share_of(shown, total, kBarWidth), '#');
  bar.resize(kBarWidth, '.');
  std::snprintf(numbers, sizeof numbers, "] %3d%% %.1f/%.1f MiB",
                static_cast<int>(share_of(shown, total, 100)), static_cast<double>(shown) / kMiB,
                static_cast<double>(total) / kMiB);
  return std::string(label) + " [" + bar + numbers;
}

ProgressBar::Sink ProgressBar::terminal(int fd) {
  if (::isatty(fd) != 1) return {};
  return [fd](std::string_view text) {
    while (!text.empty()) {
      const ssize_t n = ::write(fd, text.data(), text.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // a progress line is not worth an error
      text.remove_prefix(static_cast<size_t>(n));
    }
  };
}

ProgressBar::ProgressBar(Sink sink, Clock clock)
    : sink_(std::move(sink)), clock_(std::move(clock)) {}

layers::ProgressFn ProgressBar::start(std::string label) {
  finish();
  label_ = std::move(label);
  if (!sink_) return {};
  return [this](uint64_t done, uint64_t total) { update(done, total); };
}

void ProgressBar::update(uint64_t done, uint64_t total) {
  if (!sink_) return;
  const auto now = clock_();
  if (drawn_ && now - last_ < kRedrawInterval) return;
  last_ = now;
  drawn_ = true;
  sink_("\r" + progress_line(label_, done, total) + "\033[K");
}

void ProgressBar::finish() {
  if (drawn_ && sink_) sink_("\r\033[K");
  drawn_ = false;
}

}  // namespace acon::image
