#pragma once
// The attention kernel of the UNet's transformers, kept as one function so that the
// implementation can change without touching the modules around it.
#include <torch/torch.h>

namespace dd::models {

// softmax(q k^T * scale) v over the last two dimensions; q [..., Nq, d], k and v [..., Nk, d].
// Computes in the dtype of q; the softmax itself runs in float32 so that bf16 scores cannot
// overflow or lose the small probabilities.
// On a CUDA device it runs LibTorch's at::scaled_dot_product_attention (flash or memory-efficient
// kernels). On the CPU it runs what cpu_attention_choice names.
torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        double scale);

// The CPU kernel attention() runs for these inputs, the faster one per shape as attention_bench
// measured them: "fused" (fused_attention.h) whenever that accepts them, except "sdpa"
// (at::scaled_dot_product_attention) for float32 heads of 256 or more (the VAE's); "reference"
// where the fused kernel does not apply (other dtypes, broadcast leading dimensions, a gradient
// to compute, or inside an UnfusedAttentionScope).
const char* cpu_attention_choice(const torch::Tensor& q, const torch::Tensor& k,
                                 const torch::Tensor& v, double scale);

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
