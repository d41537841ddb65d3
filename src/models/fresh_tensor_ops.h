#pragma once
// Elementwise steps on a tensor nothing else holds (a norm's or a convolution's output), done in
// place when no gradient is being recorded. Inference then keeps one full-size map where it
// would keep two: at SDXL's 1024x1024 the VAE decoder's last level is 512 MiB per map in bf16.
// Training records gradients and takes the out-of-place path autograd needs. In place or not,
// the values are the same.
#include <torch/torch.h>

namespace dd::models {

inline torch::Tensor silu_fresh(torch::Tensor fresh) {
  return torch::GradMode::is_enabled() ? torch::silu(fresh) : torch::silu_(fresh);
}

// fresh + other, with `other` broadcast to fresh's shape.
inline torch::Tensor add_to_fresh(torch::Tensor fresh, const torch::Tensor& other) {
  return torch::GradMode::is_enabled() ? fresh + other : fresh.add_(other);
}

}  // namespace dd::models
