#pragma once
// A NoiseSource from seeded LibTorch CPU generators, drawing exactly as diffusers'
// randn_tensor does: one generator draws the whole tensor; a list of per-image generators
// draws each batch row from its own generator. The same source serves the initial latents
// (drawn first) and then the sampler's draws, so a seed reproduces a diffusers image.
#include <ATen/core/Generator.h>

#include <cstdint>
#include <vector>

#include "sampling/sampler.h"

namespace dd::sampling {

class SeededNoise : public NoiseSource {
 public:
  // One seed: a single generator. Several seeds: one per image, tensors must have as many
  // rows as there are seeds.
  explicit SeededNoise(const std::vector<uint64_t>& seeds);
  torch::Tensor next(at::IntArrayRef shape) override;

 private:
  std::vector<at::Generator> generators_;
};

}  // namespace dd::sampling
