#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "sampling/timestep_spacing.h"
#include "util/error.h"

namespace dd::sampling {

namespace {

std::string shape_text(at::IntArrayRef shape) {
  std::ostringstream out;
  out << shape;
  return out.str();
}

}  // namespace

Sampler::Sampler(std::string name, ScheduleConfig config, int steps)
    : name_(std::move(name)), config_(std::move(config)), steps_(steps), schedule_(config_) {
  if (steps < 1)
    throw Error("sampler " + name_ + ": steps must be at least 1 (got " + std::to_string(steps) +
                ")");
  if (steps > config_.num_train_timesteps)
    throw Error("sampler " + name_ + ": steps (" + std::to_string(steps) +
                ") must not exceed num_train_timesteps (" +
                std::to_string(config_.num_train_timesteps) + ")");
}

void Sampler::resolve_spacing(const std::string& fallback) {
  spacing_ = config_.timestep_spacing.empty() ? fallback : config_.timestep_spacing;
  check_spacing(spacing_);
}

void Sampler::set_sigmas(const std::vector<double>& sigmas) {
  sigmas_.assign(sigmas.begin(), sigmas.end());
  const float max_sigma = *std::max_element(sigmas_.begin(), sigmas_.end());
  init_noise_sigma_ = (spacing_ == "linspace" || spacing_ == "trailing")
                          ? max_sigma
                          : std::sqrt(max_sigma * max_sigma + 1.0f);
}

int64_t Sampler::timestep_index(int i) const { return static_cast<int64_t>(timesteps_.at(i)); }

torch::Tensor Sampler::draw_noise(NoiseSource* noise, at::IntArrayRef shape) const {
  if (!noise) throw Error("sampler " + name_ + " draws random noise but has no noise source");
  torch::Tensor drawn = noise->next(shape).to(torch::kFloat);
  if (drawn.sizes() != shape)
    throw Error("noise source gave shape " + shape_text(drawn.sizes()) + ", expected " +
                shape_text(shape));
  return drawn;
}

torch::Tensor Sampler::scale_model_input(const torch::Tensor& x, int i) const {
  return noising_ == Noising::VarianceExploding ? scale_input_ve(x, sigmas_.at(i)) : x;
}

torch::Tensor Sampler::add_noise(const torch::Tensor& x0, const torch::Tensor& noise,
                                 int step) const {
  switch (noising_) {
    case Noising::VarianceExploding:
      return add_noise_ve(x0, noise, sigmas_.at(step));
    case Noising::VariancePreservingSigma:
      return add_noise_vp_sigma(x0, noise, sigmas_.at(step));
    case Noising::Ddpm:
      break;
  }
  return add_noise_ddpm(x0, noise, schedule_.alpha_cumprod(timestep_index(step)));
}

int Sampler::img2img_first_step(int steps, double strength) const {
  if (steps != steps_)
    throw Error("img2img: " + std::to_string(steps) + " steps asked of a sampler made for " +
                std::to_string(steps_));
  if (!(strength >= 0.0 && strength <= 1.0))
    throw Error("strength must be between 0 and 1 (got " + std::to_string(strength) + ")");
  const int init_timestep = std::min(static_cast<int>(steps * strength), steps);
  if (init_timestep < 1)
    throw Error("strength " + std::to_string(strength) + " leaves no denoising step at " +
                std::to_string(steps) + " steps");
  return (steps - init_timestep) * order_;
}

torch::Tensor Sampler::run(torch::Tensor x, int first_step, const Denoiser& model,
                           NoiseSource* noise, const StepCallback& on_step) {
  const int total = static_cast<int>(timesteps_.size());
  if (first_step < 0 || first_step >= total)
    throw Error("first step " + std::to_string(first_step) + " is outside 0.." +
                std::to_string(total - 1));
  if (!model) throw Error("sampler " + name_ + ": no model to denoise with");
  reset();
  x = x.to(torch::kFloat);
  for (int i = first_step; i < total; ++i) {
    torch::Tensor model_output = model(scale_model_input(x, i), timesteps_[i]).to(torch::kFloat);
    if (model_output.sizes() != x.sizes())
      throw Error("model output " + shape_text(model_output.sizes()) +
                  " does not match the latents " + shape_text(x.sizes()));
    x = step(model_output, i, x, noise);
    if (on_step && !on_step(i, total, x)) throw Cancelled();
  }
  return x;
}

torch::Tensor add_noise_ve(const torch::Tensor& x0, const torch::Tensor& noise, float sigma) {
  return x0 + noise * sigma;
}

torch::Tensor add_noise_vp_sigma(const torch::Tensor& x0, const torch::Tensor& noise, float sigma) {
  const AlphaSigma vp = vp_alpha_sigma(sigma);
  return vp.alpha * x0 + vp.sigma * noise;
}

torch::Tensor add_noise_ddpm(const torch::Tensor& x0, const torch::Tensor& noise,
                             float alpha_cumprod) {
  return std::sqrt(alpha_cumprod) * x0 + std::sqrt(1.0f - alpha_cumprod) * noise;
}

torch::Tensor predict_x0_ve(const torch::Tensor& model_output, const torch::Tensor& x, float sigma,
                            Prediction prediction) {
  if (prediction == Prediction::Epsilon) return x - sigma * model_output;
  const float variance = sigma * sigma + 1.0f;
  return model_output * (-sigma / std::sqrt(variance)) + x / variance;
}

torch::Tensor scale_input_ve(const torch::Tensor& x, float sigma) {
  return x / std::sqrt(sigma * sigma + 1.0f);
}

torch::Tensor predict_x0_vp(const torch::Tensor& model_output, const torch::Tensor& x, float sigma,
                            Prediction prediction) {
  const AlphaSigma vp = vp_alpha_sigma(sigma);
  if (prediction == Prediction::Epsilon) return (x - vp.sigma * model_output) / vp.alpha;
  return vp.alpha * x - vp.sigma * model_output;
}

AlphaSigma vp_alpha_sigma(float sigma) {
  const float alpha = 1.0f / std::sqrt(sigma * sigma + 1.0f);
  return {alpha, sigma * alpha};
}

}  // namespace dd::sampling
