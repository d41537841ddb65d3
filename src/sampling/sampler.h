#pragma once
// A sampler = one of diffusers 0.30.3's schedulers for a fixed number of inference steps:
// the timesteps it visits, how the model input is scaled, and the update after each model
// call, with diffusers' exact float32 / float64 arithmetic. The model stays outside: the
// caller passes a Denoiser (the UNet with classifier-free guidance already applied).
//
//   auto sampler = Sampler::create("euler", config, 30);
//   x = noise * sampler->init_noise_sigma();          // txt2img
//   x = sampler->run(x, 0, denoiser, &noise_source, on_step);
//
// Latents are kept in float32 whatever the model's dtype. run() keeps per-run state in the
// sampler: use one Sampler per job (not shared between threads).
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sampling/cancelled.h"
#include "sampling/noise_schedule.h"
#include "sampling/schedule_config.h"

namespace dd::sampling {

// Model output (eps or v as the schedule's prediction type says, already guided) for a model
// input and the scheduler's timestep value (0..999 scale; fractional for Euler-type samplers).
using Denoiser = std::function<torch::Tensor(const torch::Tensor& model_input, double timestep)>;

// The random draws a sampler needs (ancestral and LCM noise), standard normal float32. The
// pipeline supplies seeded per-image generators; the conformance suite replays recorded draws.
class NoiseSource {
 public:
  virtual ~NoiseSource() = default;
  virtual torch::Tensor next(at::IntArrayRef shape) = 0;
};

// Called after each step with the index of the step just done (0-based) and the number of
// steps, i.e. timesteps().size(). It may modify the latents (inpainting by latent masking);
// returning false cancels the run.
using StepCallback = std::function<bool(int step, int total_steps, torch::Tensor& latents)>;

class Sampler {
 public:
  virtual ~Sampler() = default;

  // A diffusers scheduler class (EulerDiscreteScheduler, ...) with its config JSON. The classes
  // are those of the sampler catalogue (sampler_catalogue.h).
  static std::unique_ptr<Sampler> from_diffusers(const std::string& class_name,
                                                 const nlohmann::json& config, int steps);
  // A user-facing sampler name (see names()) over a model's schedule config. spacing "" keeps
  // the config's spacing or else the sampler's default. The catalogue row's options apply:
  // "dpmpp_2m_karras" turns on Karras sigmas, "dpmpp_2m" turns them off; euler, heun and unipc
  // follow the config's flag. Only engine names: other spellings go through
  // canonical_sampler_name first.
  static std::unique_ptr<Sampler> create(const std::string& name, const ScheduleConfig& base,
                                         int steps, const std::string& spacing = "");
  // The engine names, in catalogue order.
  static std::vector<std::string> names();

  const std::string& name() const { return name_; }
  const ScheduleConfig& config() const { return config_; }
  int num_inference_steps() const { return steps_; }
  // One entry per model call and scheduler step (Heun: 2n - 1, PLMS: n + 1), as diffusers'
  // scheduler.timesteps.
  const std::vector<double>& timesteps() const { return timesteps_; }
  // diffusers' scheduler.sigmas (float32, one more than the timesteps) for sigma-based
  // samplers; empty for DDIM, PNDM and LCM.
  const std::vector<float>& sigmas() const { return sigmas_; }
  double init_noise_sigma() const { return init_noise_sigma_; }
  // diffusers' scheduler.order: how many timesteps() entries one inference step takes.
  int order() const { return order_; }

  // img2img / inpainting with strength < 1, as diffusers' pipelines do it:
  // init_timestep = min(int(steps * strength), steps), t_start = steps - init_timestep,
  // and the first step run is t_start * order(). `steps` is the inference step count this
  // sampler was made for. Throws a dd::Error when strength leaves no step to run.
  int img2img_first_step(int steps, double strength) const;
  // The model input for step i, what the Denoiser gets (diffusers' scale_model_input): x
  // itself, or x / sqrt(sigma^2 + 1) for the Euler-type samplers.
  torch::Tensor scale_model_input(const torch::Tensor& x, int i) const;
  // x0 noised to the level of timesteps()[step] (diffusers' scheduler.add_noise), in the way
  // of the sampler's process (see Noising).
  torch::Tensor add_noise(const torch::Tensor& x0, const torch::Tensor& noise, int step) const;

  // Runs timesteps()[first_step:] from x (already scaled by init_noise_sigma or noised with
  // add_noise) and returns the final latents. The sampler's multistep history starts empty,
  // so one Sampler can run many times. If on_step returns false, throws dd::Cancelled.
  torch::Tensor run(torch::Tensor x, int first_step, const Denoiser& model, NoiseSource* noise,
                    const StepCallback& on_step = nullptr);

 protected:
  Sampler(std::string name, ScheduleConfig config, int steps);

  // Clears state carried between steps, before a run.
  virtual void reset() {}
  // One scheduler step from x with the model output at timesteps()[i].
  virtual torch::Tensor step(const torch::Tensor& model_output, int i, const torch::Tensor& x,
                             NoiseSource* noise) = 0;

  // Training-scale timestep of step i as an index into the training tables.
  int64_t timestep_index(int i) const;
  // Draws noise of the given shape; a sampler that needs noise without a source is an error.
  torch::Tensor draw_noise(NoiseSource* noise, at::IntArrayRef shape) const;
  // spacing_ = the config's spacing, or this sampler's default.
  void resolve_spacing(const std::string& fallback);
  // Sets sigmas_ and the k-diffusion init_noise_sigma (max sigma; sqrt(max^2 + 1) unless the
  // spacing is linspace or trailing), as diffusers' Euler-type schedulers.
  void set_sigmas(const std::vector<double>& sigmas);
  std::vector<float> train_sigmas() const { return schedule_.sigma_values(); }
  // The sigma appended after the last step: 0, or the smallest training sigma.
  double final_sigma() const;
  // Timesteps and sigmas of diffusers' Euler-type schedulers (Euler, Euler a, Heun): float32
  // timesteps, sigmas interpolated at them. With honour_sigma_options, use_karras_sigmas and
  // final_sigmas_type apply (diffusers' Euler a has neither option).
  void use_euler_schedule(bool honour_sigma_options);
  // Timesteps and sigmas of the multistep solvers (DPM-Solver++, UniPC): integer timesteps
  // over steps + 1 points, init_noise_sigma 1.
  void use_multistep_schedule(int last_timestep);

  // How a sampler's process adds noise: x0 + sigma * noise (Euler-type, set by
  // use_euler_schedule), alpha * x0 + sigma_t * noise at a k-diffusion sigma (multistep
  // solvers, set by use_multistep_schedule), or DDPM's sqrt(acp) * x0 + sqrt(1 - acp) * noise at
  // the training timestep (DDIM, PNDM, LCM: the default).
  enum class Noising { VarianceExploding, VariancePreservingSigma, Ddpm };

  std::string name_;
  ScheduleConfig config_;
  int steps_;
  Noising noising_ = Noising::Ddpm;
  NoiseSchedule schedule_;
  std::string spacing_;
  std::vector<double> timesteps_;
  std::vector<float> sigmas_;
  float init_noise_sigma_ = 1.0f;
  int order_ = 1;
};

// Noising helpers shared by the samplers' add_noise.
// Variance-exploding (Euler-type): x0 + noise * sigma.
torch::Tensor add_noise_ve(const torch::Tensor& x0, const torch::Tensor& noise, float sigma);
// Variance-preserving at a sigma (DPM-Solver, UniPC): alpha * x0 + sigma_t * noise.
torch::Tensor add_noise_vp_sigma(const torch::Tensor& x0, const torch::Tensor& noise, float sigma);
// DDPM at a training timestep: sqrt(acp) * x0 + sqrt(1 - acp) * noise.
torch::Tensor add_noise_ddpm(const torch::Tensor& x0, const torch::Tensor& noise,
                             float alpha_cumprod);

// x0 prediction of a variance-exploding sampler at sigma (eps or v model output).
torch::Tensor predict_x0_ve(const torch::Tensor& model_output, const torch::Tensor& x, float sigma,
                            Prediction prediction);
// The model input of a variance-exploding sampler: x / sqrt(sigma^2 + 1).
torch::Tensor scale_input_ve(const torch::Tensor& x, float sigma);
// x0 prediction of a variance-preserving solver at a k-diffusion sigma (DPM-Solver++, UniPC).
torch::Tensor predict_x0_vp(const torch::Tensor& model_output, const torch::Tensor& x, float sigma,
                            Prediction prediction);
// alpha_t and sigma_t of the VP process at a k-diffusion sigma.
struct AlphaSigma {
  float alpha;
  float sigma;
};
AlphaSigma vp_alpha_sigma(float sigma);

}  // namespace dd::sampling
