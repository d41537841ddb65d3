#include "models/transformer.h"

#include <cmath>

#include "models/attention.h"
#include "models/build_dtype.h"

namespace dd::models {

namespace nn = torch::nn;

CrossAttentionImpl::CrossAttentionImpl(int channels, int context_dim, int heads) : heads_(heads) {
  to_q = register_module("to_q", nn::Linear(nn::LinearOptions(channels, channels).bias(false)));
  to_k = register_module("to_k", nn::Linear(nn::LinearOptions(context_dim, channels).bias(false)));
  to_v = register_module("to_v", nn::Linear(nn::LinearOptions(context_dim, channels).bias(false)));
  to_out = register_module("to_out", nn::ModuleList(nn::Linear(channels, channels)));
}

torch::Tensor CrossAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& context) {
  const auto& kv_input = context.defined() ? context : x;
  // [B, N, heads * d] <-> [B, heads, N, d]
  const auto split = [this](const torch::Tensor& t) {
    return t.reshape({t.size(0), t.size(1), heads_, -1}).transpose(1, 2);
  };
  const auto q = split(to_q(x));
  const auto k = split(to_k(kv_input));
  const auto v = split(to_v(kv_input));
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  const auto h = attention(q, k, v, scale).transpose(1, 2).reshape({x.size(0), x.size(1), -1});
  return to_out[0]->as<nn::Linear>()->forward(h);
}

FeedForwardImpl::FeedForwardImpl(int channels, int inner_dim) {
  // diffusers names: net.0 = GEGLU holding `proj`, net.1 = dropout (no weights), net.2 = Linear.
  auto geglu = std::make_shared<nn::Module>();
  proj = geglu->register_module("proj", nn::Linear(channels, 2 * inner_dim));
  out = nn::Linear(inner_dim, channels);
  register_module("net", nn::ModuleList(geglu, nn::Identity(), out));
}

torch::Tensor FeedForwardImpl::forward(const torch::Tensor& x) {
  const auto value_gate = proj(x).chunk(2, -1);
  return out(value_gate[0] * torch::gelu(value_gate[1]));
}

TransformerBlockImpl::TransformerBlockImpl(int channels, int context_dim, int heads,
                                           double layer_norm_eps) {
  const auto layer_norm = [&] {
    return nn::LayerNorm(nn::LayerNormOptions({channels}).eps(layer_norm_eps));
  };
  norm1 = register_module("norm1", layer_norm());
  attn1 = register_module("attn1", CrossAttention(channels, channels, heads));
  norm2 = register_module("norm2", layer_norm());
  attn2 = register_module("attn2", CrossAttention(channels, context_dim, heads));
  norm3 = register_module("norm3", layer_norm());
  ff = register_module("ff", FeedForward(channels, 4 * channels));
}

torch::Tensor TransformerBlockImpl::forward(torch::Tensor x, const torch::Tensor& context) {
  x = x + attn1(norm1(x));
  x = x + attn2(norm2(x), context);
  return x + ff(norm3(x));
}

SpatialTransformerImpl::SpatialTransformerImpl(const SpatialTransformerOptions& o)
    : linear_projection_(o.linear_projection) {
  norm = register_module(
      "norm", nn::GroupNorm(nn::GroupNormOptions(o.groups, o.channels).eps(o.group_norm_eps)));
  const auto projection = [&] {
    return o.linear_projection ? nn::AnyModule(nn::Linear(o.channels, o.channels))
                               : nn::AnyModule(nn::Conv2d(o.channels, o.channels, 1));
  };
  proj_in = projection();
  register_module("proj_in", proj_in.ptr());
  transformer_blocks = register_module("transformer_blocks", nn::ModuleList());
  for (int i = 0; i < o.depth; ++i)
    transformer_blocks->push_back(
        built(TransformerBlock(o.channels, o.context_dim, o.heads, o.layer_norm_eps)));
  proj_out = projection();
  register_module("proj_out", proj_out.ptr());
}

torch::Tensor SpatialTransformerImpl::forward(const torch::Tensor& x,
                                              const torch::Tensor& context) {
  const auto b = x.size(0), c = x.size(1), height = x.size(2), width = x.size(3);
  // [B, C, H, W] <-> [B, H*W, C]
  const auto to_tokens = [&](const torch::Tensor& t) {
    return t.permute({0, 2, 3, 1}).reshape({b, height * width, c});
  };
  const auto to_image = [&](const torch::Tensor& t) {
    return t.reshape({b, height, width, c}).permute({0, 3, 1, 2});
  };
  auto h = norm(x);
  h = linear_projection_ ? proj_in.forward(to_tokens(h)) : to_tokens(proj_in.forward(h));
  for (const auto& block : *transformer_blocks)
    h = block->as<TransformerBlock>()->forward(h, context);
  h = linear_projection_ ? to_image(proj_out.forward(h)) : proj_out.forward(to_image(h));
  return h + x;
}

}  // namespace dd::models
