#pragma once
// How the UNet hears the timestep (and, for SDXL, the pooled text and micro-conditioning):
// fixed sinusoids followed by a small MLP.
#include <torch/torch.h>

namespace dd::models {

// Sinusoidal embedding of each value of `t` (any shape, flattened to [N]): [N, dim] float32,
// [cos(t f_i) | sin(t f_i)] with f_i = exp(-ln(10000) i / (dim/2)). Cos first and no frequency
// shift, as every SD UNet is configured (flip_sin_to_cos, freq_shift 0). Always float32: at
// t ~ 1000 the phases need more bits than bf16 has.
torch::Tensor timestep_sinusoid(const torch::Tensor& t, int dim);

// linear_1 -> SiLU -> linear_2 (diffusers' TimestepEmbedding; LDM `time_embed` / `label_emb.0`).
class TimestepEmbeddingImpl : public torch::nn::Module {
 public:
  TimestepEmbeddingImpl(int in_features, int out_features);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Linear linear_1{nullptr}, linear_2{nullptr};
};
TORCH_MODULE(TimestepEmbedding);

}  // namespace dd::models
