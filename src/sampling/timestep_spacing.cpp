#include "sampling/timestep_spacing.h"

#include <algorithm>
#include <cmath>

#include "util/error.h"

namespace dd::sampling {

namespace {

// np.arange(start, 0, -step) for a float step: NumPy fills start + i * delta where delta is
// the difference of the first two values, not the step itself.
std::vector<double> numpy_arange_down(double start, double step) {
  const auto length = static_cast<int>(std::ceil((0.0 - start) / -step));
  std::vector<double> out;
  if (length <= 0) return out;
  out.push_back(start);
  const double delta = (start - step) - start;
  for (int i = 1; i < length; ++i) out.push_back(start + i * delta);
  return out;
}

std::vector<double> reversed(std::vector<double> values) {
  std::reverse(values.begin(), values.end());
  return values;
}

std::vector<double> plus(std::vector<double> values, double offset) {
  for (double& value : values) value += offset;
  return values;
}

// np.arange(0, count) * ratio, integer arithmetic.
std::vector<double> multiples(int count, int ratio) {
  std::vector<double> out;
  for (int i = 0; i < count; ++i) out.push_back(static_cast<double>(i) * ratio);
  return out;
}

}  // namespace

void check_spacing(const std::string& spacing) {
  if (spacing != "leading" && spacing != "linspace" && spacing != "trailing")
    throw Error("unknown timestep spacing '" + spacing +
                "' (expected leading, linspace or trailing)");
}

std::vector<double> numpy_linspace(double start, double stop, int num, bool endpoint) {
  std::vector<double> out;
  if (num <= 0) return out;
  const int div = endpoint ? num - 1 : num;
  if (div == 0) return {start};
  const double step = (stop - start) / div;
  for (int i = 0; i < num; ++i) out.push_back(i * step + start);
  if (endpoint) out.back() = stop;
  return out;
}

std::vector<double> round_half_even(std::vector<double> values) {
  for (double& value : values) value = std::nearbyint(value);
  return values;
}

std::vector<double> spaced_timesteps(const std::string& spacing, int train_steps, int steps,
                                     int steps_offset) {
  check_spacing(spacing);
  if (spacing == "linspace") return reversed(numpy_linspace(0, train_steps - 1, steps));
  if (spacing == "leading")
    return plus(reversed(multiples(steps, train_steps / steps)), steps_offset);
  const double ratio = static_cast<double>(train_steps) / steps;
  return plus(round_half_even(numpy_arange_down(train_steps, ratio)), -1);
}

std::vector<double> multistep_timesteps(const std::string& spacing, int train_steps, int steps,
                                        int steps_offset, int last_timestep) {
  check_spacing(spacing);
  std::vector<double> out;
  if (spacing == "linspace") {
    out = reversed(round_half_even(numpy_linspace(0, last_timestep - 1, steps + 1)));
    out.pop_back();
  } else if (spacing == "leading") {
    out = reversed(multiples(steps + 1, last_timestep / (steps + 1)));
    out.pop_back();
    out = plus(out, steps_offset);
  } else {
    const double ratio = static_cast<double>(train_steps) / steps;
    out = plus(round_half_even(numpy_arange_down(last_timestep, ratio)), -1);
  }
  return out;
}

}  // namespace dd::sampling
