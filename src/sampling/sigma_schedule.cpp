#include "sampling/sigma_schedule.h"

#include <algorithm>
#include <cmath>

#include "sampling/timestep_spacing.h"

namespace dd::sampling {

std::vector<double> interpolate_sigmas(const std::vector<double>& timesteps,
                                       const std::vector<float>& train_sigmas) {
  const int last = static_cast<int>(train_sigmas.size()) - 1;
  std::vector<double> out;
  for (double t : timesteps) {
    if (t <= 0) {
      out.push_back(train_sigmas.front());
    } else if (t >= last) {
      out.push_back(train_sigmas.back());
    } else {
      const int j = static_cast<int>(std::floor(t));
      const double low = train_sigmas[j];
      const double high = train_sigmas[j + 1];
      // NumPy returns the table value on an exact hit, else slope * (x - x_j) + y_j.
      out.push_back(t == j ? low : (high - low) * (t - j) + low);
    }
  }
  return out;
}

std::vector<double> karras_sigmas(double sigma_min, double sigma_max, int n) {
  const double rho = 7.0;
  const double min_inv_rho = std::pow(sigma_min, 1 / rho);
  const double max_inv_rho = std::pow(sigma_max, 1 / rho);
  std::vector<double> out;
  for (double ramp : numpy_linspace(0, 1, n))
    out.push_back(std::pow(max_inv_rho + ramp * (min_inv_rho - max_inv_rho), rho));
  return out;
}

double sigma_to_timestep(double sigma, const std::vector<float>& log_train_sigmas) {
  const double log_sigma = std::log(std::max(sigma, 1e-10));
  const int n = static_cast<int>(log_train_sigmas.size());
  // Last table entry at or below log_sigma (0 when none), kept one below the end.
  int low_idx = 0;
  for (int i = 0; i < n; ++i)
    if (log_sigma - log_train_sigmas[i] >= 0) low_idx = i;
  low_idx = std::min(low_idx, n - 2);
  const float low = log_train_sigmas[low_idx];
  const float high = log_train_sigmas[low_idx + 1];
  // diffusers computes the weight against the float32 table in float32 (NumPy 1.x rules).
  float w = (low - static_cast<float>(log_sigma)) / (low - high);
  w = std::clamp(w, 0.0f, 1.0f);
  return static_cast<double>(1.0f - w) * low_idx + static_cast<double>(w) * (low_idx + 1);
}

std::vector<float> log_of(const std::vector<float>& values) {
  std::vector<float> out;
  for (float value : values) out.push_back(std::log(value));
  return out;
}

}  // namespace dd::sampling
