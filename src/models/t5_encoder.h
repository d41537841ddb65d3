#pragma once
// T5 v1.1 encoder (transformers' T5EncoderModel) as FLUX uses it: token embedding (not scaled),
// pre-norm layers of self-attention and a gated-GELU feed-forward, T5's RMS norm, a final RMS
// norm. Attention has no 1/sqrt(d) scaling; instead a learned bias per (head, relative-position
// bucket), held by layer 0 only and added in every layer. No attention mask: FLUX passes only
// input_ids, so padding tokens attend and are attended to. No biases anywhere.
//
// The real T5-XXL is 4.7 B parameters, so the projections are PackedLinear layers whose weights
// may stay as stored (bf16, fp8, GGUF blocks) and are expanded one layer at a time. Parameter
// names are the checkpoint's (`shared.weight`, `encoder.block.N.layer.0.SelfAttention.q.weight`,
// ...); see t5_keys.h for sources that name the embedding differently or add a prefix.
#include <torch/torch.h>

#include <vector>

#include "models/t5_config.h"

namespace dd::models {

struct T5EncoderOutput {
  torch::Tensor last_hidden_state;  // [B, L, d_model] float32, after the final RMS norm
  // Only when asked for: num_layers + 1 entries of [B, L, d_model] float32, entry i the input
  // of layer i (0 = token embeddings), the last one last_hidden_state (transformers' order).
  std::vector<torch::Tensor> hidden_states;
};

// T5's bucket of each relative position (key position - query position), int64 like the input.
// Bidirectional: buckets [0, n/2) for keys at or before the query, [n/2, n) after it; within a
// direction distances below n/4 are exact, longer ones log-spaced up to max_distance and clamped
// to the last bucket. Unidirectional (decoders): only keys at or before the query, n buckets.
torch::Tensor t5_relative_position_bucket(const torch::Tensor& relative_position,
                                          bool bidirectional, int num_buckets, int max_distance);

// T5's RMS norm: weight * x / sqrt(mean(x^2) + eps), no mean subtraction, no bias, computed in
// float32 whatever dtype x or the weight has (the result is float32).
class T5LayerNormImpl : public torch::nn::Module {
 public:
  T5LayerNormImpl(int64_t dim, double eps);
  torch::Tensor forward(const torch::Tensor& x);

  torch::Tensor weight;

 private:
  double eps_;
};
TORCH_MODULE(T5LayerNorm);

class T5EncoderImpl : public torch::nn::Module {
 public:
  explicit T5EncoderImpl(const T5Config& config);

  // input_ids: [B, L] int64 in [0, vocab_size). Bad ids or shapes are a dd::Error.
  T5EncoderOutput forward(const torch::Tensor& input_ids, bool keep_hidden_states = false);

  // [1, heads, L, L] float32: what every layer adds to its q.k scores for L tokens.
  torch::Tensor position_bias(int64_t length);

  // The dtype the projections and the attention products run in: float32 (default) or
  // bfloat16. The residual stream, the RMS norms and the softmax stay float32 whatever it is
  // (they are small next to the matmuls). float16 is refused: T5 v1.1's activations overflow it.
  void set_compute_dtype(torch::ScalarType dtype);
  torch::ScalarType compute_dtype() const { return compute_dtype_; }

  const T5Config& config() const { return config_; }

 private:
  T5Config config_;
  torch::ScalarType compute_dtype_ = torch::kFloat32;
  torch::Tensor shared_;  // `shared.weight`, the token embedding table
  torch::nn::ModuleList blocks_{nullptr};
  T5LayerNorm final_layer_norm_{nullptr};
};
TORCH_MODULE(T5Encoder);

}  // namespace dd::models
