// Euler (diffusers EulerDiscreteScheduler, s_churn = 0): one model call per step,
// x += (x - x0) / sigma * (sigma_next - sigma).
#include "sampling/samplers.h"

namespace dd::sampling {

namespace {

class Euler final : public Sampler {
 public:
  Euler(const ScheduleConfig& config, int steps) : Sampler("euler", config, steps) {
    use_euler_schedule(/*honour_sigma_options=*/true);
  }

 protected:
  // diffusers draws (and ignores) a noise tensor here when s_churn = 0; nothing depends on
  // it, so no draw is made.
  torch::Tensor step(const torch::Tensor& model_output, int i, const torch::Tensor& x,
                     NoiseSource*) override {
    const float sigma = sigmas_[i];
    const torch::Tensor x0 = predict_x0_ve(model_output, x, sigma, config_.prediction);
    const torch::Tensor derivative = (x - x0) / sigma;
    const float dt = sigmas_[i + 1] - sigma;
    return x + derivative * dt;
  }
};

}  // namespace

std::unique_ptr<Sampler> make_euler(const ScheduleConfig& config, int steps) {
  return std::make_unique<Euler>(config, steps);
}

}  // namespace dd::sampling
