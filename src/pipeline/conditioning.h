#pragma once
// What a prompt becomes for the UNet.
#include <torch/torch.h>

namespace dd::pipeline {

struct Conditioning {
  torch::Tensor context;  // [1, 77, context_dim]
  torch::Tensor pooled;   // [1, projection_dim] for SDXL; undefined otherwise
};

}  // namespace dd::pipeline
