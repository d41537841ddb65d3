#include "sampling/noise_schedule.h"

#include <algorithm>
#include <cmath>

#include "util/error.h"

namespace dd::sampling {

namespace {

torch::Tensor float_tensor(const std::vector<double>& values) {
  return torch::tensor(values, torch::kDouble).to(torch::kFloat);
}

// Improved-DDPM cosine schedule: betas from the alpha-bar curve, in float64 then float32.
torch::Tensor squaredcos_betas(int steps) {
  auto alpha_bar = [](double t) {
    const double angle = (t + 0.008) / 1.008 * M_PI / 2;
    return std::cos(angle) * std::cos(angle);
  };
  std::vector<double> betas;
  for (int i = 0; i < steps; ++i) {
    const double t1 = static_cast<double>(i) / steps;
    const double t2 = static_cast<double>(i + 1) / steps;
    betas.push_back(std::min(1 - alpha_bar(t2) / alpha_bar(t1), 0.999));
  }
  return float_tensor(betas);
}

torch::Tensor make_betas(const ScheduleConfig& config) {
  const int n = config.num_train_timesteps;
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat);
  if (!config.trained_betas.empty()) return float_tensor(config.trained_betas);
  if (config.beta_schedule == "scaled_linear")
    return torch::linspace(std::sqrt(config.beta_start), std::sqrt(config.beta_end), n, f32).pow(2);
  if (config.beta_schedule == "linear")
    return torch::linspace(config.beta_start, config.beta_end, n, f32);
  if (config.beta_schedule == "squaredcos_cap_v2") return squaredcos_betas(n);
  throw Error("unknown beta_schedule '" + config.beta_schedule + "'");
}

}  // namespace

NoiseSchedule::NoiseSchedule(const ScheduleConfig& config) {
  betas = make_betas(config);
  alphas_cumprod = torch::cumprod(1.0 - betas, 0);
  sigmas = ((1 - alphas_cumprod) / alphas_cumprod).pow(0.5);
  const float* data = alphas_cumprod.data_ptr<float>();
  alphas_cumprod_values_.assign(data, data + alphas_cumprod.numel());
}

float NoiseSchedule::alpha_cumprod(int64_t t) const {
  if (t < 0 || t >= static_cast<int64_t>(alphas_cumprod_values_.size()))
    throw Error("timestep " + std::to_string(t) + " is outside the training schedule");
  return alphas_cumprod_values_[t];
}

std::vector<float> NoiseSchedule::sigma_values() const {
  const float* data = sigmas.data_ptr<float>();
  return std::vector<float>(data, data + sigmas.numel());
}

}  // namespace dd::sampling
