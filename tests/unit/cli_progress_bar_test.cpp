// The progress `diffusiond generate` shows: its lines, the terminal bar against plain lines, and
// the rate and ETA arithmetic, with a clock the test moves by hand.
#include <gtest/gtest.h>

#include <sstream>

#include "cli/progress_bar.h"

namespace dd::cli {
namespace {

struct FakeClock {
  double now = 100;
  ProgressBar::Clock clock() {
    return [this] { return now; };
  }
};

TEST(ProgressBar, LinesShowStepsRateAndEta) {
  EXPECT_EQ(ProgressBar::bar_line(5, 20, 1.234, 18.4, 20),
            "[#####...............] 5/20  1.23 s/it  ETA 18 s");
  EXPECT_EQ(ProgressBar::bar_line(20, 20, 0.5, 0, 10), "[##########] 20/20  0.50 s/it  ETA 0 s");
  EXPECT_EQ(ProgressBar::bar_line(0, 4, -1, -1, 4), "[....] 0/4");
  EXPECT_EQ(ProgressBar::plain_line(5, 20, 1.234, 18.4), "step 5/20  1.23 s/it  ETA 18 s");
  EXPECT_EQ(ProgressBar::plain_line(1, 3, -1, -1), "step 1/3");
}

TEST(ProgressBar, BarNeverOverflowsItsWidth) {
  EXPECT_EQ(ProgressBar::bar_line(7, 5, 1, 0, 5), "[#####] 7/5  1.00 s/it  ETA 0 s");
  EXPECT_EQ(ProgressBar::bar_line(1, 0, 1, 0, 3), "[...] 1/0  1.00 s/it  ETA 0 s");
}

TEST(ProgressBar, DurationsReadAsSecondsMinutesOrHours) {
  EXPECT_EQ(ProgressBar::duration_text(0.4), "0 s");
  EXPECT_EQ(ProgressBar::duration_text(59.4), "59 s");
  EXPECT_EQ(ProgressBar::duration_text(125), "2 min 05 s");
  EXPECT_EQ(ProgressBar::duration_text(3720), "1 h 02 min");
  EXPECT_EQ(ProgressBar::duration_text(-3), "0 s");
}

TEST(ProgressBar, EtaComesFromTheStepsAfterTheFirst) {
  FakeClock time;
  std::ostringstream out;
  ProgressBar bar(out, false, time.clock());
  bar.start();
  time.now += 5;  // the first step also encoded the prompt
  bar.step(1, 10);
  EXPECT_DOUBLE_EQ(bar.seconds_per_step(), 5);
  EXPECT_DOUBLE_EQ(bar.eta(), 45);
  time.now += 2;
  bar.step(2, 10);
  EXPECT_DOUBLE_EQ(bar.seconds_per_step(), 2);
  EXPECT_DOUBLE_EQ(bar.eta(), 16);
  time.now += 4;
  bar.step(4, 10);  // a step skipped by the caller: the rate is per step, not per call
  EXPECT_DOUBLE_EQ(bar.seconds_per_step(), 2);
  EXPECT_DOUBLE_EQ(bar.eta(), 12);
  bar.finish();  // plain lines are already ended
  EXPECT_EQ(out.str(),
            "step 1/10  5.00 s/it  ETA 45 s\n"
            "step 2/10  2.00 s/it  ETA 16 s\n"
            "step 4/10  2.00 s/it  ETA 12 s\n");
}

TEST(ProgressBar, ATerminalGetsOneLineRedrawnInPlace) {
  FakeClock time;
  std::ostringstream out;
  ProgressBar bar(out, true, time.clock());
  bar.start();
  time.now += 1;
  bar.step(1, 2);
  time.now += 1;
  bar.step(2, 2);
  bar.finish();
  bar.finish();  // a second finish adds nothing
  const std::string first = ProgressBar::bar_line(1, 2, 1, 1);
  const std::string second = ProgressBar::bar_line(2, 2, 1, 0);
  EXPECT_EQ(out.str(),
            "\r" + first + "\r" + second + std::string(first.size() - second.size(), ' ') + "\n");
}

TEST(ProgressBar, ANewRunRestartsTheRate) {
  FakeClock time;
  std::ostringstream out;
  ProgressBar bar(out, false, time.clock());
  bar.start();
  time.now += 10;
  bar.step(1, 2);
  time.now += 10;
  bar.step(2, 2);
  bar.start();
  time.now += 3;
  bar.step(1, 2);
  EXPECT_DOUBLE_EQ(bar.seconds_per_step(), 3);
  EXPECT_DOUBLE_EQ(bar.eta(), 3);
}

}  // namespace
}  // namespace dd::cli
