#pragma once
// Fused (flash-attention style) CPU attention: softmax(q k^T * scale) v computed a block of
// queries against a block of keys at a time with a running (online) softmax, so that no row of
// scores is ever materialised and the working set stays in cache. On CPUs with AVX-512 BF16 it
// runs an intrinsics kernel (bf16 pair dot products accumulated in float32); elsewhere a portable
// C++ loop with the same arithmetic.
#include <torch/torch.h>

namespace dd::models {

enum class FusedAttentionPath {
  kAuto,      // AVX-512 when this CPU has it, otherwise portable
  kAvx512,    // fails when this CPU lacks AVX-512F/BW/VL/BF16
  kPortable,  // plain C++: the fallback, forced by tests so it stays correct
};

// The RecordFunction event each fused_attention call emits, with inputs (q, k, v): profilers and
// FLOP counters see the two matrix products it does without ATen operators.
constexpr const char* kFusedAttentionEvent = "dd::fused_attention";

// Whether this CPU can run FusedAttentionPath::kAvx512.
bool avx512_attention_available();

// Whether fused_attention accepts these inputs: CPU float32 or bfloat16 tensors of one dtype,
// rank >= 2 with equal leading dimensions, k and v with the same number of keys (at least one),
// k with q's head dimension, a scale in (0, 1e6], and no gradient to compute (the kernel has
// no backward; training goes through the reference).
bool fused_attention_supports(const torch::Tensor& q, const torch::Tensor& k,
                              const torch::Tensor& v, double scale);

// softmax(q k^T * scale) v; q [..., Nq, d], k [..., Nk, d], v [..., Nk, dv] -> [..., Nq, dv] in
// q's dtype. Accumulates in float32; in bf16 the probabilities are rounded to bf16 before the
// product with v, as the reference does. Any strides are accepted (a tensor whose last dimension
// is not contiguous is copied first); when dv == d the result has q's layout, so that the usual
// transpose back to [B, N, heads * d] is a view.
torch::Tensor fused_attention(const torch::Tensor& q, const torch::Tensor& k,
                              const torch::Tensor& v, double scale,
                              FusedAttentionPath path = FusedAttentionPath::kAuto);

}  // namespace dd::models
