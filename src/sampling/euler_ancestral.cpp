// Euler ancestral (diffusers EulerAncestralDiscreteScheduler): an Euler step down to
// sigma_down, then fresh noise of size sigma_up, drawn every step (also the last).
#include <cmath>

#include "sampling/samplers.h"

namespace dd::sampling {

namespace {

class EulerAncestral final : public Sampler {
 public:
  EulerAncestral(const ScheduleConfig& config, int steps) : Sampler("euler_a", config, steps) {
    use_euler_schedule(/*honour_sigma_options=*/false);
  }

 protected:
  torch::Tensor step(const torch::Tensor& model_output, int i, const torch::Tensor& x,
                     NoiseSource* noise) override {
    const float sigma = sigmas_[i];
    const torch::Tensor x0 = predict_x0_ve(model_output, x, sigma, config_.prediction);
    const float from = sigma * sigma;
    const float to = sigmas_[i + 1] * sigmas_[i + 1];
    const float sigma_up = std::sqrt(to * (from - to) / from);
    const float sigma_down = std::sqrt(to - sigma_up * sigma_up);
    const torch::Tensor derivative = (x - x0) / sigma;
    const torch::Tensor moved = x + derivative * (sigma_down - sigma);
    return moved + draw_noise(noise, model_output.sizes()) * sigma_up;
  }
};

}  // namespace

std::unique_ptr<Sampler> make_euler_ancestral(const ScheduleConfig& config, int steps) {
  return std::make_unique<EulerAncestral>(config, steps);
}

}  // namespace dd::sampling
