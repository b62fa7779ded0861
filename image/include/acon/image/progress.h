// A one-line progress bar for the ProgressFn callbacks of layer creation, import, export and
// re-hashing: the library decides what a line says and how often it is redrawn; the caller only
// decides where the text goes (acon-image: standard error, when it is a terminal).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "acon/image/layers/import.h"

namespace acon::image {

// "LABEL [#####.....]  50% 1.0/2.0 MiB" when the total is known, else "LABEL 1.0 MiB".
std::string progress_line(std::string_view label, uint64_t done, uint64_t total);

class ProgressBar {
 public:
  // Receives terminal text: "\r" + progress_line() + "\033[K" (erase the rest of the line) for
  // a redraw, "\r\033[K" to clear the line when finished.
  using Sink = std::function<void(std::string_view)>;
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  // Writes to file descriptor `fd` when it is a terminal; otherwise no sink (progress bars are
  // for people watching, not for logs).
  static Sink terminal(int fd);

  // No sink: nothing is drawn and start() returns no callback, so the library skips progress work.
  explicit ProgressBar(Sink sink, Clock clock = std::chrono::steady_clock::now);
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;
  ~ProgressBar() { finish(); }

  // Finishes the current line and starts one for `label`; returns the callback to hand to the
  // library (empty without a sink), valid while this bar lives.
  layers::ProgressFn start(std::string label);
  // Redraws at most ten times a second; the first update after start() always draws.
  void update(uint64_t done, uint64_t total);
  // Clears the line if anything was drawn.
  void finish();

 private:
  std::string label_;
  Sink sink_;
  Clock clock_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace acon::image
