#pragma once
// The form the engine computes a tensor in: `dtype`, and for a 16-bit 4-D tensor channels-last
// (NHWC), which oneDNN's fast bf16 convolutions want. Shared by the model's parts and the
// preview decoder, so that both lay their inputs out the same way.
#include <torch/torch.h>

namespace dd::pipeline {

torch::Tensor in_compute_layout(const torch::Tensor& x, torch::ScalarType dtype);

}  // namespace dd::pipeline
