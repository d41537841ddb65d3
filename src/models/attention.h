#pragma once
// The attention kernel of the UNet's transformers, kept as one function so that a fused or
// chunked implementation can replace it without touching the modules around it.
#include <torch/torch.h>

namespace dd::models {

// softmax(q k^T * scale) v over the last two dimensions; q [..., Nq, d], k and v [..., Nk, d].
// Computes in the dtype of q; the softmax itself runs in float32 so that bf16 scores cannot
// overflow or lose the small probabilities.
torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        double scale);

}  // namespace dd::models
