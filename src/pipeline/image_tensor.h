#pragma once
// Conversions between 8-bit pictures and the float tensors the pipeline works with.
#include <torch/torch.h>

#include "io/image.h"

namespace dd::pipeline {

// [1, 3, H, W] float32 in [0, 1] (value / 255, exactly as the reference pipelines do).
torch::Tensor image_to_tensor(const io::Image& image);
// [1, 1, H, W] float32 in [0, 1]: the mean of R, G and B (white = 1 = repaint).
torch::Tensor mask_to_tensor(const io::Image& image);
// One picture from a [3, H, W] or [1, 3, H, W] float tensor in [0, 1]: round(v * 255).
io::Image tensor_to_image(const torch::Tensor& chw);

}  // namespace dd::pipeline
