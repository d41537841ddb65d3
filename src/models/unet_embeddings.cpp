#include "models/unet_embeddings.h"

#include <cmath>

#include "util/error.h"

namespace dd::models {

torch::Tensor timestep_sinusoid(const torch::Tensor& t, int dim) {
  if (dim <= 0 || dim % 2 != 0)
    throw Error("timestep embedding: dimension " + std::to_string(dim) + " must be even");
  const int half = dim / 2;
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(t.device());
  // Same float32 operation order as the reference so the phases round identically.
  const auto exponent =
      torch::arange(half, f32) * static_cast<float>(-std::log(10000.0)) / static_cast<float>(half);
  const auto phases = t.reshape({-1, 1}).to(torch::kFloat32) * torch::exp(exponent).unsqueeze(0);
  return torch::cat({torch::cos(phases), torch::sin(phases)}, -1);
}

TimestepEmbeddingImpl::TimestepEmbeddingImpl(int in_features, int out_features) {
  linear_1 = register_module("linear_1", torch::nn::Linear(in_features, out_features));
  linear_2 = register_module("linear_2", torch::nn::Linear(out_features, out_features));
}

torch::Tensor TimestepEmbeddingImpl::forward(const torch::Tensor& x) {
  return linear_2(torch::silu(linear_1(x)));
}

}  // namespace dd::models
