// DDIM (diffusers DDIMScheduler, eta = 0): deterministic steps between alphas_cumprod values.
// The previous timestep is t - num_train_timesteps // steps whatever the spacing, as in
// diffusers.
#include <cmath>

#include "sampling/samplers.h"
#include "sampling/timestep_spacing.h"

namespace dd::sampling {

namespace {

class Ddim final : public Sampler {
 public:
  Ddim(const ScheduleConfig& config, int steps) : Sampler("ddim", config, steps) {
    resolve_spacing("leading");
    timesteps_ = round_half_even(
        spaced_timesteps(spacing_, config_.num_train_timesteps, steps_, config_.steps_offset));
    final_alpha_cumprod_ =
        config_.set_alpha_to_one.value_or(true) ? 1.0f : schedule_.alpha_cumprod(0);
  }

 protected:
  torch::Tensor step(const torch::Tensor& model_output, int i, const torch::Tensor& x,
                     NoiseSource*) override {
    const int64_t t = timestep_index(i);
    const int64_t prev_t = t - config_.num_train_timesteps / steps_;
    const float alpha = schedule_.alpha_cumprod(t);
    const float alpha_prev = prev_t >= 0 ? schedule_.alpha_cumprod(prev_t) : final_alpha_cumprod_;
    const float beta = 1.0f - alpha;

    torch::Tensor x0, eps;
    if (config_.prediction == Prediction::Epsilon) {
      x0 = (x - std::sqrt(beta) * model_output) / std::sqrt(alpha);
      eps = model_output;
    } else {
      x0 = std::sqrt(alpha) * x - std::sqrt(beta) * model_output;
      eps = std::sqrt(alpha) * model_output + std::sqrt(beta) * x;
    }
    if (config_.clip_sample.value_or(true))
      x0 = x0.clamp(-config_.clip_sample_range, config_.clip_sample_range);
    return std::sqrt(alpha_prev) * x0 + std::sqrt(1.0f - alpha_prev) * eps;
  }

 private:
  float final_alpha_cumprod_ = 1.0f;
};

}  // namespace

std::unique_ptr<Sampler> make_ddim(const ScheduleConfig& config, int steps) {
  return std::make_unique<Ddim>(config, steps);
}

}  // namespace dd::sampling
