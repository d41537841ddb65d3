#include "sampling/seeded_noise.h"

#include <ATen/CPUGeneratorImpl.h>

#include "util/error.h"

namespace dd::sampling {

SeededNoise::SeededNoise(const std::vector<uint64_t>& seeds) {
  if (seeds.empty()) throw Error("seeded noise needs at least one seed");
  for (uint64_t seed : seeds) generators_.push_back(at::make_generator<at::CPUGeneratorImpl>(seed));
}

torch::Tensor SeededNoise::next(at::IntArrayRef shape) {
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat);
  if (generators_.size() == 1) return torch::randn(shape, generators_[0], f32);
  if (shape.empty() || shape[0] != static_cast<int64_t>(generators_.size()))
    throw Error("noise for " + std::to_string(shape.empty() ? 0 : shape[0]) + " images asked of " +
                std::to_string(generators_.size()) + " per-image generators");
  std::vector<int64_t> row_shape(shape.begin(), shape.end());
  row_shape[0] = 1;
  std::vector<torch::Tensor> rows;
  for (auto& generator : generators_) rows.push_back(torch::randn(row_shape, generator, f32));
  return torch::cat(rows, 0);
}

}  // namespace dd::sampling
