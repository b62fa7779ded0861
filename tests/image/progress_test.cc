// The progress bar acon-image draws while layers are created, imported, exported and re-hashed:
// the line it draws, how often it redraws and that it clears the line when done.
#include "acon/image/progress.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <limits>

namespace acon::image {
namespace {

constexpr uint64_t kMiB = 1024 * 1024;

TEST(ProgressLine, KnownTotal) {
  EXPECT_EQ(progress_line("layer x", kMiB, 2 * kMiB),
            "layer x [###############...............]  50% 1.0/2.0 MiB");
  EXPECT_EQ(progress_line("a", 0, 10), "a [..............................]   0% 0.0/0.0 MiB");
  EXPECT_EQ(progress_line("a", 3, 10), "a [#########.....................]  30% 0.0/0.0 MiB");
  // More done than the total (a growing input) shows the total, full.
  EXPECT_EQ(progress_line("a", 5 * kMiB, 4 * kMiB),
            "a [##############################] 100% 4.0/4.0 MiB");
}

TEST(ProgressLine, UnknownTotal) {
  EXPECT_EQ(progress_line("import b.tar", 3 * kMiB / 2, 0), "import b.tar 1.5 MiB");
}

TEST(ProgressLine, HugeCountsDoNotOverflow) {
  const uint64_t max = std::numeric_limits<uint64_t>::max();
  const std::string line = progress_line("x", max / 2, max);
  EXPECT_NE(line.find("[##############................]  49%"), std::string::npos) << line;
  EXPECT_NE(progress_line("x", max, max).find(" 100% "), std::string::npos);
}

class ProgressBarTest : public ::testing::Test {
 protected:
  ProgressBar::Sink sink() {
    return [this](std::string_view text) { drawn.emplace_back(text); };
  }
  ProgressBar::Clock clock() {
    return [this] { return now; };
  }
  std::vector<std::string> drawn;
  std::chrono::steady_clock::time_point now{std::chrono::seconds(1000)};
};

TEST_F(ProgressBarTest, RedrawsAtMostTenTimesASecondAndClearsWhenFinished) {
  {
    ProgressBar bar(sink(), clock());
    const auto progress = bar.start("layer r");
    ASSERT_TRUE(progress);
    progress(0, 4 * kMiB);
    progress(kMiB, 4 * kMiB);  // same instant: not drawn
    now += std::chrono::milliseconds(99);
    progress(2 * kMiB, 4 * kMiB);  // still within 100 ms of the last drawing
    now += std::chrono::milliseconds(1);
    progress(3 * kMiB, 4 * kMiB);
    ASSERT_EQ(drawn.size(), 2u);
    EXPECT_EQ(drawn[0], "\r" + progress_line("layer r", 0, 4 * kMiB) + "\033[K");
    EXPECT_EQ(drawn[1], "\r" + progress_line("layer r", 3 * kMiB, 4 * kMiB) + "\033[K");
    bar.finish();
    ASSERT_EQ(drawn.size(), 3u);
    EXPECT_EQ(drawn[2], "\r\033[K");
    bar.finish();  // nothing drawn since: nothing to clear
    EXPECT_EQ(drawn.size(), 3u);
    // A new label draws at once, and the destructor clears it.
    bar.start("hash y")(1, 2);
    EXPECT_EQ(drawn.size(), 4u);
    EXPECT_EQ(drawn[3].rfind("\rhash y [", 0), 0u) << drawn[3];
  }
  ASSERT_EQ(drawn.size(), 5u);
  EXPECT_EQ(drawn[4], "\r\033[K");
}

TEST_F(ProgressBarTest, RestartClearsThePreviousLine) {
  ProgressBar bar(sink(), clock());
  bar.start("one")(1, 2);
  bar.start("two")(1, 2);
  ASSERT_EQ(drawn.size(), 3u);
  EXPECT_EQ(drawn[1], "\r\033[K");
  EXPECT_EQ(drawn[2].rfind("\rtwo [", 0), 0u);
}

TEST_F(ProgressBarTest, WithoutASinkNothingIsDrawnAndNoCallbackIsGiven) {
  ProgressBar bar({}, clock());
  EXPECT_FALSE(bar.start("quiet"));
  bar.update(1, 2);
  bar.finish();
  EXPECT_TRUE(drawn.empty());
}

TEST(ProgressBarTerminal, NoSinkUnlessTheDescriptorIsATerminal) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  EXPECT_FALSE(ProgressBar::terminal(fds[1]));
  EXPECT_FALSE(ProgressBar::terminal(-1));
  ::close(fds[0]);
  ::close(fds[1]);
}

}  // namespace
}  // namespace acon::image
