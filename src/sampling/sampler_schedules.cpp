// The two sigma schedule shapes of diffusers' sigma-based schedulers, shared by the samplers.
#include <cmath>

#include "sampling/sampler.h"
#include "sampling/sigma_schedule.h"
#include "sampling/timestep_spacing.h"

namespace dd::sampling {

namespace {

std::vector<double> as_float32(std::vector<double> values) {
  for (double& value : values) value = static_cast<float>(value);
  return values;
}

}  // namespace

double Sampler::final_sigma() const {
  return config_.final_sigmas_type == "sigma_min" ? train_sigmas().front() : 0.0;
}

void Sampler::use_euler_schedule(bool honour_sigma_options) {
  noising_ = Noising::VarianceExploding;
  resolve_spacing("linspace");
  // diffusers makes these timesteps float32 before interpolating the sigmas at them.
  std::vector<double> timesteps = as_float32(
      spaced_timesteps(spacing_, config_.num_train_timesteps, steps_, config_.steps_offset));
  const std::vector<float> train = train_sigmas();
  std::vector<double> sigmas = interpolate_sigmas(timesteps, train);
  if (honour_sigma_options && config_.use_karras_sigmas) {
    sigmas = karras_sigmas(sigmas.back(), sigmas.front(), steps_);
    const std::vector<float> log_train = log_of(train);
    timesteps.clear();
    for (double sigma : sigmas) timesteps.push_back(sigma_to_timestep(sigma, log_train));
    timesteps = as_float32(timesteps);
  }
  sigmas.push_back(honour_sigma_options ? final_sigma() : 0.0);
  timesteps_ = timesteps;
  set_sigmas(sigmas);
}

void Sampler::use_multistep_schedule(int last_timestep) {
  noising_ = Noising::VariancePreservingSigma;
  resolve_spacing("linspace");
  std::vector<double> timesteps = multistep_timesteps(spacing_, config_.num_train_timesteps, steps_,
                                                      config_.steps_offset, last_timestep);
  const std::vector<float> train = train_sigmas();
  std::vector<double> sigmas;
  if (config_.use_karras_sigmas) {
    sigmas = karras_sigmas(train.front(), train.back(), steps_);
    const std::vector<float> log_train = log_of(train);
    timesteps.clear();
    for (double sigma : sigmas)
      timesteps.push_back(std::nearbyint(sigma_to_timestep(sigma, log_train)));
  } else {
    sigmas = interpolate_sigmas(timesteps, train);
  }
  sigmas.push_back(final_sigma());
  timesteps_ = timesteps;
  sigmas_.assign(sigmas.begin(), sigmas.end());
  init_noise_sigma_ = 1.0f;
}

}  // namespace dd::sampling
