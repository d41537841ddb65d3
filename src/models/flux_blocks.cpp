#include "models/flux_blocks.h"

#include <cmath>

#include "models/attention.h"
#include "util/error.h"

namespace dd::models {

namespace {

constexpr double kNormEps = 1e-6;

torch::Tensor in_dtype(const torch::Tensor& t, torch::ScalarType dtype) {
  return t.scalar_type() == dtype ? t : t.to(dtype);
}

torch::Tensor modulate(const torch::Tensor& x, const torch::Tensor& shift,
                       const torch::Tensor& scale) {
  return flux_layer_norm(x) * (1 + scale) + shift;
}

torch::Tensor gelu_tanh(const torch::Tensor& x) { return torch::gelu(x, "tanh"); }

// [B, S, 3 * H * head_dim] -> q, k, v [B, H, S, head_dim] (BFL's "B L (K H D) -> K B H L D").
std::vector<torch::Tensor> split_qkv(const torch::Tensor& fused, int head_dim) {
  const auto parts = fused.unflatten(-1, {3, -1, head_dim}).permute({2, 0, 3, 1, 4});
  return {parts[0], parts[1], parts[2]};
}

// Rotates q and k, attends, and merges the heads back: [B, H, S, d] -> [B, S, H * d].
torch::Tensor rope_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                             const FluxRope& rope) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  auto out = attention(apply_flux_rope(q, rope), apply_flux_rope(k, rope), v, scale);
  return out.transpose(1, 2).flatten(2);
}

}  // namespace

FluxRope flux_rope(const torch::Tensor& ids, const std::vector<int>& axes_dim, double theta) {
  const auto batched = ids.dim() == 2 ? ids.unsqueeze(0) : ids;
  if (batched.dim() != 3 || batched.size(-1) != static_cast<int64_t>(axes_dim.size()))
    throw Error("FLUX position ids must be [S, " + std::to_string(axes_dim.size()) +
                "] or [B, S, " + std::to_string(axes_dim.size()) + "], got " +
                c10::str(ids.sizes()));
  const auto pos = batched.to(torch::kFloat64);
  std::vector<torch::Tensor> angles;
  for (size_t a = 0; a < axes_dim.size(); ++a) {
    const int d = axes_dim[a];
    const auto exponent = torch::arange(0, d, 2, pos.options()) / static_cast<double>(d);
    const auto omega = 1.0 / torch::pow(theta, exponent);
    angles.push_back(pos.select(-1, static_cast<int64_t>(a)).unsqueeze(-1) * omega);
  }
  const auto angle = torch::cat(angles, -1).unsqueeze(1);  // [B, 1, S, head_dim / 2]
  return {angle.cos().to(torch::kFloat32), angle.sin().to(torch::kFloat32)};
}

torch::Tensor apply_flux_rope(const torch::Tensor& x, const FluxRope& rope) {
  const auto pairs = in_dtype(x, torch::kFloat32).unflatten(-1, {-1, 2});
  const auto x0 = pairs.select(-1, 0), x1 = pairs.select(-1, 1);
  const auto out0 = rope.cos * x0 - rope.sin * x1;
  const auto out1 = rope.sin * x0 + rope.cos * x1;
  return in_dtype(torch::stack({out0, out1}, -1).flatten(-2), x.scalar_type());
}

torch::Tensor flux_rope_matrices(const FluxRope& rope) {
  return torch::stack({rope.cos, -rope.sin, rope.sin, rope.cos}, -1).unflatten(-1, {2, 2});
}

torch::Tensor flux_timestep_embedding(const torch::Tensor& values, int dim) {
  const int64_t half = dim / 2;
  const auto t = in_dtype(values, torch::kFloat32).reshape({-1}) * 1000.0;
  const auto exponent =
      torch::arange(0, half, t.options()) * (-std::log(10000.0)) / static_cast<double>(half);
  const auto args = t.unsqueeze(1) * exponent.exp().unsqueeze(0);
  return torch::cat({args.cos(), args.sin()}, -1);
}

torch::Tensor flux_layer_norm(const torch::Tensor& x) {
  const auto out = torch::layer_norm(in_dtype(x, torch::kFloat32), {x.size(-1)}, {}, {}, kNormEps);
  return in_dtype(out, x.scalar_type());
}

FluxRMSNormImpl::FluxRMSNormImpl(int dim) {
  scale = register_parameter("scale", torch::ones({dim}));
}

torch::Tensor FluxRMSNormImpl::forward(const torch::Tensor& x) {
  const auto xf = in_dtype(x, torch::kFloat32);
  const auto rrms = torch::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + kNormEps);
  return in_dtype(xf * rrms, x.scalar_type()) * in_dtype(scale, x.scalar_type());
}

FluxQKNormImpl::FluxQKNormImpl(int head_dim)
    : query_norm_(register_module("query_norm", FluxRMSNorm(head_dim))),
      key_norm_(register_module("key_norm", FluxRMSNorm(head_dim))) {}

std::pair<torch::Tensor, torch::Tensor> FluxQKNormImpl::forward(const torch::Tensor& q,
                                                                const torch::Tensor& k) {
  return {query_norm_(q), key_norm_(k)};
}

FluxMLPEmbedderImpl::FluxMLPEmbedderImpl(int in_dim, int hidden)
    : in_layer_(register_module("in_layer", PackedLinear(in_dim, hidden))),
      out_layer_(register_module("out_layer", PackedLinear(hidden, hidden))) {}

torch::Tensor FluxMLPEmbedderImpl::forward(const torch::Tensor& x) {
  return out_layer_(torch::silu(in_layer_(x)));
}

FluxModulationImpl::FluxModulationImpl(int hidden, int chunks)
    : chunks_(chunks), lin_(register_module("lin", PackedLinear(hidden, chunks * hidden))) {}

std::vector<torch::Tensor> FluxModulationImpl::forward(const torch::Tensor& vec) {
  return lin_(torch::silu(vec)).unsqueeze(1).chunk(chunks_, -1);
}

FluxMlpImpl::FluxMlpImpl(int hidden, int mlp_hidden)
    : fc0_(register_module("0", PackedLinear(hidden, mlp_hidden))),
      fc2_(register_module("2", PackedLinear(mlp_hidden, hidden))) {}

torch::Tensor FluxMlpImpl::forward(const torch::Tensor& x) { return fc2_(gelu_tanh(fc0_(x))); }

FluxSelfAttentionImpl::FluxSelfAttentionImpl(int hidden, int head_dim)
    : head_dim_(head_dim),
      qkv_(register_module("qkv", PackedLinear(hidden, 3 * hidden))),
      proj_(register_module("proj", PackedLinear(hidden, hidden))),
      norm_(register_module("norm", FluxQKNorm(head_dim))) {}

std::vector<torch::Tensor> FluxSelfAttentionImpl::qkv(const torch::Tensor& x) {
  auto parts = split_qkv(qkv_(x), head_dim_);
  std::tie(parts[0], parts[1]) = norm_(parts[0], parts[1]);
  return parts;
}

torch::Tensor FluxSelfAttentionImpl::proj(const torch::Tensor& x) { return proj_(x); }

FluxDoubleBlockImpl::FluxDoubleBlockImpl(int hidden, int head_dim, int mlp_hidden)
    : head_dim_(head_dim),
      img_mod_(register_module("img_mod", FluxModulation(hidden, 6))),
      txt_mod_(register_module("txt_mod", FluxModulation(hidden, 6))),
      img_attn_(register_module("img_attn", FluxSelfAttention(hidden, head_dim))),
      txt_attn_(register_module("txt_attn", FluxSelfAttention(hidden, head_dim))),
      img_mlp_(register_module("img_mlp", FluxMlp(hidden, mlp_hidden))),
      txt_mlp_(register_module("txt_mlp", FluxMlp(hidden, mlp_hidden))) {}

std::pair<torch::Tensor, torch::Tensor> FluxDoubleBlockImpl::forward(const torch::Tensor& img,
                                                                     const torch::Tensor& txt,
                                                                     const torch::Tensor& vec,
                                                                     const FluxRope& rope) {
  // Rows of each modulation: shift, scale, gate for the attention, then for the MLP.
  const auto im = img_mod_(vec), tm = txt_mod_(vec);
  const auto iq = img_attn_->qkv(modulate(img, im[0], im[1]));
  const auto tq = txt_attn_->qkv(modulate(txt, tm[0], tm[1]));
  // Joint attention over the text tokens followed by the image tokens.
  const auto attn = rope_attention(torch::cat({tq[0], iq[0]}, 2), torch::cat({tq[1], iq[1]}, 2),
                                   torch::cat({tq[2], iq[2]}, 2), rope);
  const auto n_txt = txt.size(1);
  auto img_out = img + im[2] * img_attn_->proj(attn.narrow(1, n_txt, img.size(1)));
  img_out = img_out + im[5] * img_mlp_(modulate(img_out, im[3], im[4]));
  auto txt_out = txt + tm[2] * txt_attn_->proj(attn.narrow(1, 0, n_txt));
  txt_out = txt_out + tm[5] * txt_mlp_(modulate(txt_out, tm[3], tm[4]));
  return {img_out, txt_out};
}

FluxSingleBlockImpl::FluxSingleBlockImpl(int hidden, int head_dim, int mlp_hidden)
    : hidden_(hidden),
      head_dim_(head_dim),
      mlp_hidden_(mlp_hidden),
      linear1_(register_module("linear1", PackedLinear(hidden, 3 * hidden + mlp_hidden))),
      linear2_(register_module("linear2", PackedLinear(hidden + mlp_hidden, hidden))),
      norm_(register_module("norm", FluxQKNorm(head_dim))),
      modulation_(register_module("modulation", FluxModulation(hidden, 3))) {}

torch::Tensor FluxSingleBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& vec,
                                           const FluxRope& rope) {
  const auto m = modulation_(vec);  // shift, scale, gate
  const auto fused = linear1_(modulate(x, m[0], m[1]));
  auto qkv = split_qkv(fused.narrow(-1, 0, 3 * int64_t{hidden_}), head_dim_);
  std::tie(qkv[0], qkv[1]) = norm_(qkv[0], qkv[1]);
  const auto attn = rope_attention(qkv[0], qkv[1], qkv[2], rope);
  const auto mlp = gelu_tanh(fused.narrow(-1, 3 * int64_t{hidden_}, mlp_hidden_));
  return x + m[2] * linear2_(torch::cat({attn, mlp}, -1));
}

FluxFinalLayerImpl::FluxFinalLayerImpl(int hidden, int out_channels)
    : linear_(register_module("linear", PackedLinear(hidden, out_channels))) {
  // A Sequential(SiLU, Linear) in BFL's code: the Linear is child `1`.
  auto sequential = register_module("adaLN_modulation", std::make_shared<torch::nn::Module>());
  modulation_ = sequential->register_module("1", PackedLinear(hidden, 2 * hidden));
}

torch::Tensor FluxFinalLayerImpl::norm(const torch::Tensor& img, const torch::Tensor& vec) {
  const auto m = modulation_(torch::silu(vec)).unsqueeze(1).chunk(2, -1);
  return modulate(img, m[0], m[1]);
}

torch::Tensor FluxFinalLayerImpl::project(const torch::Tensor& normed) { return linear_(normed); }

}  // namespace dd::models
