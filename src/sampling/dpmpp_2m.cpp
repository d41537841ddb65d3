// DPM-Solver++(2M) (diffusers DPMSolverMultistepScheduler, algorithm dpmsolver++, order 2):
// a multistep solver on the data prediction x0, in log-SNR lambda = log(alpha / sigma).
// The first step (no history yet) and the final step (lower_order_final, or a zero final
// sigma) are first order.
#include <cmath>

#include "sampling/samplers.h"
#include "util/error.h"

namespace dd::sampling {

namespace {

float log_snr(const AlphaSigma& vp) { return std::log(vp.alpha) - std::log(vp.sigma); }

class DpmSolverMultistep final : public Sampler {
 public:
  DpmSolverMultistep(const ScheduleConfig& config, int steps)
      : Sampler(config.use_karras_sigmas ? "dpmpp_2m_karras" : "dpmpp_2m", config, steps) {
    // diffusers maps UniPC's / DEIS' solver types to its default.
    if (config_.solver_type.empty() || config_.solver_type == "bh1" ||
        config_.solver_type == "bh2" || config_.solver_type == "logrho")
      config_.solver_type = "midpoint";
    if (config_.solver_type != "midpoint" && config_.solver_type != "heun")
      throw Error("dpmpp_2m: solver_type '" + config_.solver_type + "' is not supported");
    use_multistep_schedule(last_timestep());
  }

 protected:
  void reset() override {
    history_.clear();
    lower_order_steps_ = 0;
  }

  torch::Tensor step(const torch::Tensor& model_output, int i, const torch::Tensor& x,
                     NoiseSource*) override {
    const int n = static_cast<int>(timesteps_.size());
    const bool final_first_order =
        i == n - 1 && (config_.euler_at_final || (config_.lower_order_final && n < 15) ||
                       config_.final_sigmas_type == "zero");
    history_.push_back(predict_x0_vp(model_output, x, sigmas_[i], config_.prediction));
    if (static_cast<int>(history_.size()) > config_.solver_order) history_.erase(history_.begin());

    const bool first_order =
        config_.solver_order == 1 || lower_order_steps_ < 1 || final_first_order;
    torch::Tensor result = first_order ? first_order_update(i, x) : second_order_update(i, x);
    if (lower_order_steps_ < config_.solver_order) ++lower_order_steps_;
    return result;
  }

 private:
  // lambda_min_clipped cuts off the noisiest end of the schedule (for cosine schedules): the
  // timesteps end below the first one whose log-SNR falls under it. -inf (and the largest
  // negative double some JSON readers put for it) keeps all.
  int last_timestep() const {
    const torch::Tensor alphas_cumprod = schedule_.alphas_cumprod;
    const torch::Tensor lambdas =
        torch::log(alphas_cumprod.sqrt()) - torch::log((1 - alphas_cumprod).sqrt());
    const float* lambda = lambdas.data_ptr<float>();
    int clipped = 0;  // how many of the flipped (ascending) lambdas lie below the limit
    for (int64_t t = lambdas.numel() - 1; t >= 0 && lambda[t] < config_.lambda_min_clipped; --t)
      ++clipped;
    return config_.num_train_timesteps - clipped;
  }

  torch::Tensor first_order_update(int i, const torch::Tensor& x) const {
    const AlphaSigma t = vp_alpha_sigma(sigmas_[i + 1]);
    const AlphaSigma s = vp_alpha_sigma(sigmas_[i]);
    const float h = log_snr(t) - log_snr(s);
    return (t.sigma / s.sigma) * x - (t.alpha * (std::exp(-h) - 1.0f)) * history_.back();
  }

  torch::Tensor second_order_update(int i, const torch::Tensor& x) const {
    const AlphaSigma t = vp_alpha_sigma(sigmas_[i + 1]);
    const AlphaSigma s0 = vp_alpha_sigma(sigmas_[i]);
    const AlphaSigma s1 = vp_alpha_sigma(sigmas_[i - 1]);
    const torch::Tensor& m0 = history_[history_.size() - 1];
    const torch::Tensor& m1 = history_[history_.size() - 2];
    const float h = log_snr(t) - log_snr(s0);
    const float h0 = log_snr(s0) - log_snr(s1);
    const float r0 = h0 / h;
    const torch::Tensor d1 = (1.0f / r0) * (m0 - m1);
    const float phi = t.alpha * (std::exp(-h) - 1.0f);
    const torch::Tensor base = (t.sigma / s0.sigma) * x - phi * m0;
    if (config_.solver_type == "midpoint") return base - (0.5f * phi) * d1;
    return base + (t.alpha * ((std::exp(-h) - 1.0f) / h + 1.0f)) * d1;
  }

  std::vector<torch::Tensor> history_;  // x0 predictions, newest last
  int lower_order_steps_ = 0;
};

}  // namespace

std::unique_ptr<Sampler> make_dpmpp_2m(const ScheduleConfig& config, int steps) {
  return std::make_unique<DpmSolverMultistep>(config, steps);
}

}  // namespace dd::sampling
