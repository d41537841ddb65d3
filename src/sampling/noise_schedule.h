#pragma once
// The training noise schedule: betas, alphas_cumprod and the matching k-diffusion sigmas,
// computed with the same float32 LibTorch operations as diffusers so that every sampler
// starts from bit-identical tables.
#include <torch/torch.h>

#include <vector>

#include "sampling/schedule_config.h"

namespace dd::sampling {

struct NoiseSchedule {
  torch::Tensor betas;           // float32 [num_train_timesteps]
  torch::Tensor alphas_cumprod;  // float32 [num_train_timesteps], cumprod(1 - betas)
  torch::Tensor sigmas;          // float32, sqrt((1 - alphas_cumprod) / alphas_cumprod)

  explicit NoiseSchedule(const ScheduleConfig& config);

  int size() const { return static_cast<int>(betas.size(0)); }
  // alphas_cumprod[t] as a float, t on the training scale (checked).
  float alpha_cumprod(int64_t t) const;
  std::vector<float> sigma_values() const;

 private:
  std::vector<float> alphas_cumprod_values_;
};

}  // namespace dd::sampling
