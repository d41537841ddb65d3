// LCM (diffusers LCMScheduler): each step maps x to a consistency-model estimate of x0
// (boundary-condition scalings c_skip, c_out), then re-noises it to the next timestep with a
// fresh draw (no draw after the last step). Timesteps come from the distillation schedule of
// original_inference_steps, not from timestep_spacing.
#include <cmath>

#include "sampling/samplers.h"
#include "sampling/timestep_spacing.h"
#include "util/error.h"

namespace dd::sampling {

namespace {

class Lcm final : public Sampler {
 public:
  Lcm(const ScheduleConfig& config, int steps) : Sampler("lcm", config, steps) {
    timesteps_ = lcm_timesteps();
    final_alpha_cumprod_ =
        config_.set_alpha_to_one.value_or(true) ? 1.0f : schedule_.alpha_cumprod(0);
  }

 protected:
  torch::Tensor step(const torch::Tensor& model_output, int i, const torch::Tensor& x,
                     NoiseSource* noise) override {
    const int64_t t = timestep_index(i);
    const bool last = i == static_cast<int>(timesteps_.size()) - 1;
    const int64_t prev_t = last ? t : timestep_index(i + 1);
    const float alpha = schedule_.alpha_cumprod(t);
    const float alpha_prev = prev_t >= 0 ? schedule_.alpha_cumprod(prev_t) : final_alpha_cumprod_;
    const float beta = 1.0f - alpha;

    torch::Tensor x0 = config_.prediction == Prediction::Epsilon
                           ? (x - std::sqrt(beta) * model_output) / std::sqrt(alpha)
                           : std::sqrt(alpha) * x - std::sqrt(beta) * model_output;
    if (config_.clip_sample.value_or(false))
      x0 = x0.clamp(-config_.clip_sample_range, config_.clip_sample_range);

    // Boundary condition with sigma_data = 0.5; diffusers computes 0.25 / v as 0.25 * (1 / v).
    const float scaled = static_cast<float>(t) * static_cast<float>(config_.timestep_scaling);
    const float c_skip = (1.0f / (scaled * scaled + 0.25f)) * 0.25f;
    const float c_out = scaled / std::sqrt(scaled * scaled + 0.25f);
    const torch::Tensor denoised = c_out * x0 + c_skip * x;
    if (last) return denoised;
    const torch::Tensor fresh = draw_noise(noise, model_output.sizes());
    return std::sqrt(alpha_prev) * denoised + std::sqrt(1.0f - alpha_prev) * fresh;
  }

 private:
  std::vector<double> lcm_timesteps() const {
    const int original = config_.original_inference_steps;
    if (original > config_.num_train_timesteps)
      throw Error("lcm: original_inference_steps (" + std::to_string(original) +
                  ") exceeds num_train_timesteps");
    if (steps_ > original)
      throw Error("lcm: steps (" + std::to_string(steps_) +
                  ") must not exceed original_inference_steps (" + std::to_string(original) + ")");
    // The distillation timesteps k - 1, 2k - 1, ..., newest first, sampled evenly.
    const int k = config_.num_train_timesteps / original;
    std::vector<double> out;
    for (double index : numpy_linspace(0, original, steps_, /*endpoint=*/false))
      out.push_back(static_cast<double>(original - static_cast<int>(std::floor(index))) * k - 1);
    return out;
  }

  float final_alpha_cumprod_ = 1.0f;
};

}  // namespace

std::unique_ptr<Sampler> make_lcm(const ScheduleConfig& config, int steps) {
  return std::make_unique<Lcm>(config, steps);
}

}  // namespace dd::sampling
