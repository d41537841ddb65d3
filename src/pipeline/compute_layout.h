#pragma once
// The form the engine computes a tensor in: on `device`, in `dtype`, and for a 16-bit 4-D tensor
// channels-last (NHWC), which oneDNN's fast bf16 convolutions want (and cuDNN's tensor cores).
// Shared by the model's parts and the preview decoder, so that both lay their inputs out the same
// way.
#include <torch/torch.h>

namespace dd::pipeline {

torch::Tensor in_compute_layout(const torch::Tensor& x, torch::ScalarType dtype,
                                const torch::Device& device = torch::kCPU);

}  // namespace dd::pipeline
