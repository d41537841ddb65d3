#include "cli/progress_bar.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

namespace dd::cli {

namespace {

std::string rate_and_eta(double seconds_per_step, double eta) {
  if (seconds_per_step < 0) return "";
  char rate[32];
  std::snprintf(rate, sizeof rate, "%.2f", seconds_per_step);
  std::string text = std::string("  ") + rate + " s/it";
  if (eta >= 0) text += "  ETA " + ProgressBar::duration_text(eta);
  return text;
}

}  // namespace

double ProgressBar::steady_seconds() {
  using seconds = std::chrono::duration<double>;
  return seconds(std::chrono::steady_clock::now().time_since_epoch()).count();
}

ProgressBar::ProgressBar(std::ostream& out, bool terminal, Clock clock)
    : out_(out), terminal_(terminal), clock_(std::move(clock)) {
  started_ = clock_();
}

void ProgressBar::start() {
  started_ = clock_();
  first_step_at_ = -1;
  first_done_ = 0;
  seconds_per_step_ = -1;
  eta_ = -1;
}

void ProgressBar::step(int done, int total) {
  const double now = clock_();
  // The first step also pays for encoding the prompt and warming up, so once a later step is
  // done the rate is measured from the end of the first one: the ETA is not inflated by it.
  if (first_step_at_ < 0 || done <= first_done_) {
    first_step_at_ = now;
    first_done_ = done;
    seconds_per_step_ = done > 0 ? (now - started_) / done : -1;
  } else {
    seconds_per_step_ = (now - first_step_at_) / (done - first_done_);
  }
  eta_ = seconds_per_step_ >= 0 ? seconds_per_step_ * std::max(0, total - done) : -1;

  if (!terminal_) {
    out_ << plain_line(done, total, seconds_per_step_, eta_) << '\n' << std::flush;
    return;
  }
  const std::string line = bar_line(done, total, seconds_per_step_, eta_);
  const size_t blank = drawn_length_ > line.size() ? drawn_length_ - line.size() : 0;
  out_ << '\r' << line << std::string(blank, ' ') << std::flush;
  drawn_length_ = line.size();
  open_line_ = true;
}

void ProgressBar::finish() {
  if (open_line_) out_ << '\n' << std::flush;
  open_line_ = false;
  drawn_length_ = 0;
}

std::string ProgressBar::bar_line(int done, int total, double seconds_per_step, double eta,
                                  int bar_width) {
  const int filled =
      total > 0 ? std::clamp(static_cast<int>(static_cast<long long>(done) * bar_width / total), 0,
                             bar_width)
                : 0;
  return "[" + std::string(filled, '#') + std::string(bar_width - filled, '.') + "] " +
         std::to_string(done) + "/" + std::to_string(total) + rate_and_eta(seconds_per_step, eta);
}

std::string ProgressBar::plain_line(int done, int total, double seconds_per_step, double eta) {
  return "step " + std::to_string(done) + "/" + std::to_string(total) +
         rate_and_eta(seconds_per_step, eta);
}

std::string ProgressBar::duration_text(double seconds) {
  const long long total = std::llround(std::max(0.0, seconds));
  char text[48];
  if (total < 60)
    std::snprintf(text, sizeof text, "%lld s", total);
  else if (total < 3600)
    std::snprintf(text, sizeof text, "%lld min %02lld s", total / 60, total % 60);
  else
    std::snprintf(text, sizeof text, "%lld h %02lld min", total / 3600, total % 3600 / 60);
  return text;
}

}  // namespace dd::cli
