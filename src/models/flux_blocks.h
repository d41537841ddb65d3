#pragma once
// The pieces of the FLUX.1 transformer (flux_transformer.h), named as in Black Forest Labs'
// flux repository so that a BFL checkpoint loads by name: embedders (`in_layer`, `out_layer`),
// modulations (`lin`), q/k RMS norms (`norm.query_norm.scale`), the double-stream block
// (`img_attn.qkv`, `img_mlp.0`, ...) and the single-stream block (`linear1`, `linear2`).
//
// Everything computes in the dtype of its input activations; weights are expanded to it per call
// (PackedLinear). Norm statistics, the RoPE rotation and the sinusoids run in float32, as the
// reference does, whatever the activation dtype.
#include <torch/torch.h>

#include <utility>
#include <vector>

#include "models/packed_linear.h"

namespace dd::models {

// RoPE rotation angles of every token, [B or 1, 1, S, head_dim/2] float32 each.
struct FluxRope {
  torch::Tensor cos, sin;
};

// ids [S, n_axes] or [B, S, n_axes] (text tokens first, then image tokens); axis a contributes
// axes_dim[a]/2 angles id_a * theta^(-2k/axes_dim[a]). Computed in float64 and rounded to
// float32, as diffusers does.
FluxRope flux_rope(const torch::Tensor& ids, const std::vector<int>& axes_dim, double theta);

// Rotates consecutive pairs (x[2m], x[2m+1]) of x [B, H, S, head_dim] by angle m (interleaved
// pairs, not halves). In float32, returned in x's dtype.
torch::Tensor apply_flux_rope(const torch::Tensor& x, const FluxRope& rope);

// The rotation matrices [[cos, -sin], [sin, cos]] as diffusers' pos_embed returns them,
// [B or 1, 1, S, head_dim/2, 2, 2]: only for comparing with its intermediates.
torch::Tensor flux_rope_matrices(const FluxRope& rope);

// 256-dim sinusoid [cos(x f_k), sin(x f_k)], f_k = exp(-ln(10000) k / 128) of `values` * 1000,
// in float32 (BFL's timestep_embedding with time_factor 1000; cos first).
torch::Tensor flux_timestep_embedding(const torch::Tensor& values, int dim = 256);

// LayerNorm over the last dimension without affine parameters, eps 1e-6, statistics in float32.
torch::Tensor flux_layer_norm(const torch::Tensor& x);

// RMSNorm over head_dim with a learned `scale` (eps 1e-6, mean of squares in float32).
class FluxRMSNormImpl : public torch::nn::Module {
 public:
  explicit FluxRMSNormImpl(int dim);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor scale;
};
TORCH_MODULE(FluxRMSNorm);

// `query_norm` and `key_norm`.
class FluxQKNormImpl : public torch::nn::Module {
 public:
  explicit FluxQKNormImpl(int head_dim);
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& q, const torch::Tensor& k);

 private:
  FluxRMSNorm query_norm_{nullptr}, key_norm_{nullptr};
};
TORCH_MODULE(FluxQKNorm);

// Linear -> SiLU -> Linear (`in_layer`, `out_layer`): time_in, vector_in, guidance_in.
class FluxMLPEmbedderImpl : public torch::nn::Module {
 public:
  FluxMLPEmbedderImpl(int in_dim, int hidden);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  PackedLinear in_layer_{nullptr}, out_layer_{nullptr};
};
TORCH_MODULE(FluxMLPEmbedder);

// `lin(SiLU(vec))` split into `chunks` vectors [B, 1, D] (shift, scale, gate, ...), broadcast
// over the tokens.
class FluxModulationImpl : public torch::nn::Module {
 public:
  FluxModulationImpl(int hidden, int chunks);
  std::vector<torch::Tensor> forward(const torch::Tensor& vec);

 private:
  int chunks_;
  PackedLinear lin_{nullptr};
};
TORCH_MODULE(FluxModulation);

// Linear -> GELU (tanh) -> Linear, as a Sequential's children `0` and `2`.
class FluxMlpImpl : public torch::nn::Module {
 public:
  FluxMlpImpl(int hidden, int mlp_hidden);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  PackedLinear fc0_{nullptr}, fc2_{nullptr};
};
TORCH_MODULE(FluxMlp);

// One stream's attention weights in a double block: fused `qkv`, `norm`, `proj`.
class FluxSelfAttentionImpl : public torch::nn::Module {
 public:
  FluxSelfAttentionImpl(int hidden, int head_dim);
  // x [B, S, D] -> q, k, v [B, H, S, head_dim], q and k normed (not yet rotated).
  std::vector<torch::Tensor> qkv(const torch::Tensor& x);
  torch::Tensor proj(const torch::Tensor& x);

 private:
  int head_dim_;
  PackedLinear qkv_{nullptr}, proj_{nullptr};
  FluxQKNorm norm_{nullptr};
};
TORCH_MODULE(FluxSelfAttention);

// Double-stream block: image and text tokens keep their own weights and attend jointly.
class FluxDoubleBlockImpl : public torch::nn::Module {
 public:
  FluxDoubleBlockImpl(int hidden, int head_dim, int mlp_hidden);
  // img [B, S_img, D], txt [B, S_txt, D] -> (img, txt); rope covers cat(txt, img).
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& img,
                                                  const torch::Tensor& txt,
                                                  const torch::Tensor& vec, const FluxRope& rope);

 private:
  int head_dim_;
  FluxModulation img_mod_{nullptr}, txt_mod_{nullptr};
  FluxSelfAttention img_attn_{nullptr}, txt_attn_{nullptr};
  FluxMlp img_mlp_{nullptr}, txt_mlp_{nullptr};
};
TORCH_MODULE(FluxDoubleBlock);

// Single-stream block over cat(txt, img): attention and MLP from one fused `linear1`, merged
// back by `linear2`.
class FluxSingleBlockImpl : public torch::nn::Module {
 public:
  FluxSingleBlockImpl(int hidden, int head_dim, int mlp_hidden);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& vec, const FluxRope& rope);

 private:
  int hidden_, head_dim_, mlp_hidden_;
  PackedLinear linear1_{nullptr}, linear2_{nullptr};
  FluxQKNorm norm_{nullptr};
  FluxModulation modulation_{nullptr};
};
TORCH_MODULE(FluxSingleBlock);

// `final_layer`: LN(img) * (1 + scale) + shift from `adaLN_modulation.1(SiLU(vec))` (rows shift,
// then scale: BFL's order, the reverse of diffusers' norm_out), then `linear`.
class FluxFinalLayerImpl : public torch::nn::Module {
 public:
  FluxFinalLayerImpl(int hidden, int out_channels);
  // The modulated norm alone (diffusers' norm_out output), then the projection.
  torch::Tensor norm(const torch::Tensor& img, const torch::Tensor& vec);
  torch::Tensor project(const torch::Tensor& normed);

 private:
  PackedLinear linear_{nullptr}, modulation_{nullptr};
};
TORCH_MODULE(FluxFinalLayer);

}  // namespace dd::models
