// PLMS (diffusers PNDMScheduler with skip_prk_steps): linear multistep over the model outputs
// with Adams-Bashforth weights. Warm-up as diffusers does it: the first step t0 -> t1 is
// taken with eps(t0), then repeated from the same start with the mean of eps(t0) and
// eps(t1), which is why t1 appears twice in the timesteps (n + 1 model calls).
#include <cmath>

#include "sampling/samplers.h"
#include "sampling/timestep_spacing.h"
#include "util/error.h"

namespace dd::sampling {

namespace {

class Plms final : public Sampler {
 public:
  Plms(const ScheduleConfig& config, int steps) : Sampler("pndm", config, steps) {
    if (!config_.skip_prk_steps.value_or(false))
      throw Error("pndm: only PLMS (skip_prk_steps = true) is implemented");
    resolve_spacing("leading");
    std::vector<double> t = round_half_even(
        spaced_timesteps(spacing_, config_.num_train_timesteps, steps_, config_.steps_offset));
    // [t0, t1, t1, t2, ..., t_{n-1}]: the second entry repeated.
    if (t.size() > 1) t.insert(t.begin() + 1, t[1]);
    timesteps_ = t;
    final_alpha_cumprod_ =
        config_.set_alpha_to_one.value_or(false) ? 1.0f : schedule_.alpha_cumprod(0);
  }

 protected:
  void reset() override {
    eps_history_.clear();
    start_sample_ = torch::Tensor();
    counter_ = 0;
  }

  torch::Tensor step(const torch::Tensor& model_output, int i, const torch::Tensor& x,
                     NoiseSource*) override {
    const int64_t stride = config_.num_train_timesteps / steps_;
    int64_t t = timestep_index(i);
    int64_t prev_t = t - stride;
    if (counter_ != 1) {
      if (eps_history_.size() > 3) eps_history_.erase(eps_history_.begin());
      eps_history_.push_back(model_output);
    } else {
      // The warm-up repeat: redo t0 -> t1.
      prev_t = t;
      t = t + stride;
    }

    torch::Tensor sample = x;
    torch::Tensor eps;
    const auto& e = eps_history_;
    const size_t n = e.size();
    if (n == 1 && counter_ == 0) {
      eps = model_output;
      start_sample_ = x;
    } else if (n == 1 && counter_ == 1) {
      eps = (model_output + e[0]) / 2;
      sample = start_sample_;
      start_sample_ = torch::Tensor();
    } else if (n == 2) {
      eps = (3 * e[1] - e[0]) / 2;
    } else if (n == 3) {
      eps = (23 * e[2] - 16 * e[1] + 5 * e[0]) / 12;
    } else {
      eps = (1.0 / 24) * (55 * e[3] - 59 * e[2] + 37 * e[1] - 9 * e[0]);
    }
    ++counter_;
    return previous_sample(sample, t, prev_t, eps);
  }

 private:
  // DDIM-like move from t to prev_t with the combined eps (formula (9) of the PNDM paper).
  torch::Tensor previous_sample(const torch::Tensor& x, int64_t t, int64_t prev_t,
                                torch::Tensor eps) const {
    const float alpha = schedule_.alpha_cumprod(t);
    const float alpha_prev = prev_t >= 0 ? schedule_.alpha_cumprod(prev_t) : final_alpha_cumprod_;
    const float beta = 1.0f - alpha;
    const float beta_prev = 1.0f - alpha_prev;
    if (config_.prediction == Prediction::VPrediction)
      eps = std::sqrt(alpha) * eps + std::sqrt(beta) * x;
    const float sample_coeff = std::sqrt(alpha_prev / alpha);
    const float denominator = alpha * std::sqrt(beta_prev) + std::sqrt(alpha * beta * alpha_prev);
    return sample_coeff * x - ((alpha_prev - alpha) * eps) / denominator;
  }

  std::vector<torch::Tensor> eps_history_;  // the last (up to 4) model outputs, oldest first
  torch::Tensor start_sample_;              // x at t0, for the warm-up repeat
  int counter_ = 0;
  float final_alpha_cumprod_ = 1.0f;
};

}  // namespace

std::unique_ptr<Sampler> make_pndm(const ScheduleConfig& config, int steps) {
  return std::make_unique<Plms>(config, steps);
}

}  // namespace dd::sampling
