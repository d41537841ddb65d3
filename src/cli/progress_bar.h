#pragma once
// The sampling progress `diffusiond generate` shows on stderr. On a terminal one line redrawn in
// place,  [#########.........] 9/20  1.23 s/it  ETA 14 s ; anywhere else (a log file, a pipe)
// one plain line per step,  step 9/20  1.23 s/it  ETA 14 s , since carriage returns make logs
// unreadable. The clock is injected so the arithmetic can be tested without waiting.
#include <functional>
#include <ostream>
#include <string>

namespace dd::cli {

class ProgressBar {
 public:
  // Seconds on a monotonic clock.
  using Clock = std::function<double()>;
  static double steady_seconds();

  // `terminal`: draw the redrawn bar (else plain lines).
  ProgressBar(std::ostream& out, bool terminal, Clock clock = steady_seconds);

  // The generation starts now (before its first step: prompt encoding counts in the first).
  void start();
  // `done` of `total` steps are finished (1-based).
  void step(int done, int total);
  // Ends the bar's line on a terminal (nothing otherwise); safe to call more than once.
  void finish();

  // Seconds per step so far, and the seconds left, from the steps seen (-1: not known yet).
  double seconds_per_step() const { return seconds_per_step_; }
  double eta() const { return eta_; }

  // "[#####.....] 5/10  1.23 s/it  ETA 6 s" (bar_width characters between the brackets).
  static std::string bar_line(int done, int total, double seconds_per_step, double eta,
                              int bar_width = 30);
  // "step 5/10  1.23 s/it  ETA 6 s".
  static std::string plain_line(int done, int total, double seconds_per_step, double eta);
  // "6 s", "2 min 05 s", "1 h 02 min".
  static std::string duration_text(double seconds);

 private:
  std::ostream& out_;
  bool terminal_;
  Clock clock_;
  double started_ = 0;
  double first_step_at_ = -1;  // when step 1 ended: later steps are timed from it
  int first_done_ = 0;
  double seconds_per_step_ = -1;
  double eta_ = -1;
  size_t drawn_length_ = 0;  // of the line on the terminal, to blank a longer previous one
  bool open_line_ = false;
};

}  // namespace dd::cli
