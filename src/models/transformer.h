#pragma once
// The UNet's spatial transformer (diffusers' Transformer2DModel): GroupNorm -> proj_in ->
// transformer blocks over the h*w tokens -> proj_out -> + input. Each block is
// x + attn1(LN x) (self), x + attn2(LN x, context) (cross), x + ff(LN x) (GEGLU).
#include <torch/torch.h>

namespace dd::models {

// Multi-head attention with bias-free q/k/v and a biased output projection `to_out.0`.
// Without a context it is self-attention; k/v then read the input itself.
class CrossAttentionImpl : public torch::nn::Module {
 public:
  CrossAttentionImpl(int channels, int context_dim, int heads);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context = {});

 private:
  int heads_;
  torch::nn::Linear to_q{nullptr}, to_k{nullptr}, to_v{nullptr};
  torch::nn::ModuleList to_out;  // [Linear]: the list gives the checkpoint name `to_out.0`
};
TORCH_MODULE(CrossAttention);

// GEGLU feed-forward: net.0.proj gives [value | gate], value * gelu(gate) (erf), then net.2.
class FeedForwardImpl : public torch::nn::Module {
 public:
  FeedForwardImpl(int channels, int inner_dim);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Linear proj{nullptr}, out{nullptr};
};
TORCH_MODULE(FeedForward);

class TransformerBlockImpl : public torch::nn::Module {
 public:
  TransformerBlockImpl(int channels, int context_dim, int heads, double layer_norm_eps);
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& context);

 private:
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr}, norm3{nullptr};
  CrossAttention attn1{nullptr}, attn2{nullptr};
  FeedForward ff{nullptr};
};
TORCH_MODULE(TransformerBlock);

struct SpatialTransformerOptions {
  int channels;
  int context_dim;
  int heads;
  int depth;
  bool linear_projection;  // proj_in/proj_out as Linear over tokens (SD2, SDXL) or 1x1 convs
  int groups;
  double group_norm_eps;  // 1e-6 in every SD model, unlike the ResNets
  double layer_norm_eps;
};

class SpatialTransformerImpl : public torch::nn::Module {
 public:
  explicit SpatialTransformerImpl(const SpatialTransformerOptions& options);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context);

 private:
  bool linear_projection_;
  torch::nn::GroupNorm norm{nullptr};
  // Either a Conv2d(1x1) or a Linear, registered under the checkpoint names.
  torch::nn::AnyModule proj_in, proj_out;
  torch::nn::ModuleList transformer_blocks;
};
TORCH_MODULE(SpatialTransformer);

}  // namespace dd::models
