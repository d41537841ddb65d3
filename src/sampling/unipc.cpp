// UniPC (diffusers UniPCMultistepScheduler, predict_x0, B(h) = bh1 | bh2): a multistep
// predictor (UniP) on the x0 predictions, and before each step a corrector (UniC) that
// refines the previous result with the model output just computed at it.
#include <cmath>

#include "sampling/samplers.h"
#include "util/error.h"

namespace dd::sampling {

namespace {

float log_snr(float sigma) {
  const AlphaSigma vp = vp_alpha_sigma(sigma);
  return std::log(vp.alpha) - std::log(vp.sigma);
}

class UniPc final : public Sampler {
 public:
  UniPc(const ScheduleConfig& config, int steps) : Sampler("unipc", config, steps) {
    // diffusers maps DPM-Solver's solver types to its default.
    if (config_.solver_type.empty() || config_.solver_type == "midpoint" ||
        config_.solver_type == "heun" || config_.solver_type == "logrho")
      config_.solver_type = "bh2";
    if (config_.solver_type != "bh1" && config_.solver_type != "bh2")
      throw Error("unipc: solver_type '" + config_.solver_type + "' is not supported");
    use_multistep_schedule(config_.num_train_timesteps);
  }

 protected:
  void reset() override {
    history_.clear();
    last_sample_ = torch::Tensor();
    lower_order_steps_ = 0;
    this_order_ = 1;
  }

  torch::Tensor step(const torch::Tensor& model_output, int i, const torch::Tensor& x_in,
                     NoiseSource*) override {
    const torch::Tensor x0 = predict_x0_vp(model_output, x_in, sigmas_[i], config_.prediction);
    torch::Tensor x = x_in;
    if (i > 0 && last_sample_.defined() && corrector_enabled(i - 1)) x = correct(x0, i);

    history_.push_back(x0);
    if (static_cast<int>(history_.size()) > config_.solver_order) history_.erase(history_.begin());
    const int remaining = static_cast<int>(timesteps_.size()) - i;
    const int order = config_.lower_order_final ? std::min(config_.solver_order, remaining)
                                                : config_.solver_order;
    this_order_ = std::min(order, lower_order_steps_ + 1);
    last_sample_ = x;
    torch::Tensor result = predict(x, i);
    if (lower_order_steps_ < config_.solver_order) ++lower_order_steps_;
    return result;
  }

 private:
  bool corrector_enabled(int step) const {
    for (int disabled : config_.disable_corrector)
      if (disabled == step) return false;
    return true;
  }

  // B(h) for the -h of the data-prediction form.
  float b_of(float hh) const { return config_.solver_type == "bh1" ? hh : std::expm1(hh); }

  // UniP from sigmas_[i] to sigmas_[i + 1]; order 2 uses the fixed rho = 0.5 as diffusers.
  torch::Tensor predict(const torch::Tensor& x, int i) const {
    const AlphaSigma t = vp_alpha_sigma(sigmas_[i + 1]);
    const AlphaSigma s0 = vp_alpha_sigma(sigmas_[i]);
    const float lambda_s0 = log_snr(sigmas_[i]);
    const float h = log_snr(sigmas_[i + 1]) - lambda_s0;
    const float hh = -h;
    const torch::Tensor& m0 = history_.back();
    const torch::Tensor base = (t.sigma / s0.sigma) * x - (t.alpha * std::expm1(hh)) * m0;
    if (this_order_ < 2) return base;
    const float rk = (log_snr(sigmas_[i - 1]) - lambda_s0) / h;
    const torch::Tensor d1 = (history_[history_.size() - 2] - m0) / rk;
    return base - (t.alpha * b_of(hh)) * (0.5f * d1);
  }

  // UniC: re-does the step sigmas_[i - 1] -> sigmas_[i] from last_sample_ with the new model
  // output x0_t included; the weights rho solve the order conditions R rho = b.
  torch::Tensor correct(const torch::Tensor& x0_t, int i) const {
    const int order = this_order_;
    const AlphaSigma t = vp_alpha_sigma(sigmas_[i]);
    const AlphaSigma s0 = vp_alpha_sigma(sigmas_[i - 1]);
    const float lambda_s0 = log_snr(sigmas_[i - 1]);
    const float h = log_snr(sigmas_[i]) - lambda_s0;
    const float hh = -h;
    const float h_phi_1 = std::expm1(hh);
    const float b_h = b_of(hh);
    const torch::Tensor& m0 = history_.back();

    std::vector<float> rks;
    std::vector<torch::Tensor> d1s;
    for (int k = 1; k < order; ++k) {
      const float rk = (log_snr(sigmas_[i - (k + 1)]) - lambda_s0) / h;
      rks.push_back(rk);
      d1s.push_back((history_[history_.size() - 1 - k] - m0) / rk);
    }
    rks.push_back(1.0f);

    std::vector<float> rhos{0.5f};
    if (order > 1) rhos = solve_rhos(rks, h_phi_1, hh, b_h, order);

    const torch::Tensor base = (t.sigma / s0.sigma) * last_sample_ - (t.alpha * h_phi_1) * m0;
    torch::Tensor correction = rhos.back() * (x0_t - m0);
    if (!d1s.empty()) correction = rhos[0] * d1s[0] + correction;  // order <= 2: one term
    return base - (t.alpha * b_h) * correction;
  }

  // rho = R^-1 b with R[k][j] = rks[j]^k and b[k] = h_phi_(k+1) * (k+1)! / B(h), in float32
  // through the same LAPACK solve as diffusers.
  static std::vector<float> solve_rhos(const std::vector<float>& rks, float h_phi_1, float hh,
                                       float b_h, int order) {
    const torch::Tensor r = torch::tensor(rks, torch::kFloat);
    std::vector<torch::Tensor> rows;
    std::vector<float> b;
    float h_phi_k = h_phi_1 / hh - 1.0f;
    int factorial = 1;
    for (int k = 1; k <= order; ++k) {
      rows.push_back(torch::pow(r, k - 1));
      b.push_back(h_phi_k * static_cast<float>(factorial) / b_h);
      factorial *= k + 1;
      h_phi_k = h_phi_k / hh - static_cast<float>(1.0 / factorial);
    }
    const torch::Tensor rhos =
        torch::linalg_solve(torch::stack(rows), torch::tensor(b, torch::kFloat));
    return std::vector<float>(rhos.data_ptr<float>(), rhos.data_ptr<float>() + rhos.numel());
  }

  std::vector<torch::Tensor> history_;  // x0 predictions, newest last
  torch::Tensor last_sample_;           // the input of the previous step, for the corrector
  int lower_order_steps_ = 0;
  int this_order_ = 1;
};

}  // namespace

std::unique_ptr<Sampler> make_unipc(const ScheduleConfig& config, int steps) {
  return std::make_unique<UniPc>(config, steps);
}

}  // namespace dd::sampling
