#pragma once
// The attention kernel of the UNet's transformers, kept as one function so that the
// implementation can change without touching the modules around it.
#include <torch/torch.h>

namespace dd::models {

// softmax(q k^T * scale) v over the last two dimensions; q [..., Nq, d], k and v [..., Nk, d].
// Computes in the dtype of q; the softmax itself runs in float32 so that bf16 scores cannot
// overflow or lose the small probabilities.
// Runs the fused kernel (fused_attention.h) whenever it accepts the inputs, the reference otherwise
// (other dtypes or devices, broadcast leading dimensions, or a gradient to compute).
torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        double scale);

// The same with matrix products and a float32 softmax, a slice of queries at a time: the
// reference the fused kernel is tested and measured against, and the path autograd can follow.
torch::Tensor reference_attention(const torch::Tensor& q, const torch::Tensor& k,
                                  const torch::Tensor& v, double scale);

// While one of these lives, attention() takes the reference path everywhere in the process: the
// bench times the same model both ways in one run, to report what the fused kernel buys.
class UnfusedAttentionScope {
 public:
  UnfusedAttentionScope();
  ~UnfusedAttentionScope();
  UnfusedAttentionScope(const UnfusedAttentionScope&) = delete;
  UnfusedAttentionScope& operator=(const UnfusedAttentionScope&) = delete;
};

}  // namespace dd::models
