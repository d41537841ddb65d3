// Heun (diffusers HeunDiscreteScheduler): each step but the last is an Euler predictor and a
// trapezoidal corrector, two model calls. diffusers lists the timesteps as
// [t0, t1, t1, t2, t2, ...] and the sigmas likewise, alternating the two stages; the final
// step to sigma 0 is a plain Euler step.
#include <optional>

#include "sampling/samplers.h"

namespace dd::sampling {

namespace {

template <class T>
std::vector<T> repeat_middle(const std::vector<T>& values, int keep_last) {
  // [v0, v1, v1, ..., v_{n-1-keep_last}, v_{n-1-keep_last}, tail...]
  std::vector<T> out{values.front()};
  const size_t end = values.size() - keep_last;
  for (size_t i = 1; i < end; ++i) out.insert(out.end(), {values[i], values[i]});
  out.insert(out.end(), values.end() - keep_last, values.end());
  return out;
}

class Heun final : public Sampler {
 public:
  Heun(const ScheduleConfig& config, int steps) : Sampler("heun", config, steps) {
    use_euler_schedule(/*honour_sigma_options=*/true);
    timesteps_ = repeat_middle(timesteps_, 0);
    sigmas_ = repeat_middle(sigmas_, 1);
    order_ = 2;
  }

 protected:
  void reset() override {
    dt_.reset();
    first_derivative_ = torch::Tensor();
    first_sample_ = torch::Tensor();
  }

  torch::Tensor step(const torch::Tensor& model_output, int i, const torch::Tensor& x,
                     NoiseSource*) override {
    return dt_ ? second_stage(model_output, i, x) : first_stage(model_output, i, x);
  }

 private:
  torch::Tensor clipped_x0(const torch::Tensor& model_output, const torch::Tensor& x,
                           float sigma) const {
    torch::Tensor x0 = predict_x0_ve(model_output, x, sigma, config_.prediction);
    if (config_.clip_sample.value_or(false))
      x0 = x0.clamp(-config_.clip_sample_range, config_.clip_sample_range);
    return x0;
  }

  torch::Tensor first_stage(const torch::Tensor& model_output, int i, const torch::Tensor& x) {
    const float sigma = sigmas_[i];
    first_derivative_ = (x - clipped_x0(model_output, x, sigma)) / sigma;
    dt_ = sigmas_[i + 1] - sigma;
    first_sample_ = x;
    return x + first_derivative_ * *dt_;
  }

  // Here x is the predictor's result at sigmas_[i]; average both slopes from the saved start.
  torch::Tensor second_stage(const torch::Tensor& model_output, int i, const torch::Tensor& x) {
    const float sigma_next = sigmas_[i];
    const torch::Tensor derivative = (x - clipped_x0(model_output, x, sigma_next)) / sigma_next;
    const torch::Tensor mean_derivative = (first_derivative_ + derivative) / 2;
    const torch::Tensor result = first_sample_ + mean_derivative * *dt_;
    reset();
    return result;
  }

  std::optional<float> dt_;  // set between the two stages of a step
  torch::Tensor first_derivative_;
  torch::Tensor first_sample_;
};

}  // namespace

std::unique_ptr<Sampler> make_heun(const ScheduleConfig& config, int steps) {
  return std::make_unique<Heun>(config, steps);
}

}  // namespace dd::sampling
