#include "models/unet_levels.h"

#include "models/build_dtype.h"
#include "models/transformer.h"
#include "models/unet_blocks.h"

namespace dd::models {

namespace nn = torch::nn;

namespace {

ResnetBlock resnet(const UNetConfig& c, int in_channels, int out_channels) {
  return built(ResnetBlock(in_channels, out_channels, c.time_embed_dim, c.norm_groups, c.norm_eps));
}

SpatialTransformer transformer(const UNetConfig& c, int channels, int heads, int depth) {
  // Its transformer blocks convert themselves as they are built; this converts the rest.
  return built(SpatialTransformer(
      SpatialTransformerOptions{channels, c.context_dim, heads, depth, c.use_linear_projection,
                                c.norm_groups, c.transformer_norm_eps, c.layer_norm_eps}));
}

torch::Tensor resnet_then_attention(nn::ModuleList resnets, nn::ModuleList attentions, size_t i,
                                    const torch::Tensor& x, const torch::Tensor& emb,
                                    const torch::Tensor& context) {
  auto h = resnets[i]->as<ResnetBlock>()->forward(x, emb);
  if (i < attentions->size()) h = attentions[i]->as<SpatialTransformer>()->forward(h, context);
  return h;
}

}  // namespace

DownBlockImpl::DownBlockImpl(const UNetConfig& c, int level, int in_channels) {
  const int out = c.block_out_channels.at(level);
  resnets = register_module("resnets", nn::ModuleList());
  attentions = register_module("attentions", nn::ModuleList());
  downsamplers = register_module("downsamplers", nn::ModuleList());
  for (int i = 0; i < c.layers_per_block; ++i) {
    resnets->push_back(resnet(c, i == 0 ? in_channels : out, out));
    if (c.has_attention(level))
      attentions->push_back(
          transformer(c, out, c.num_heads.at(level), c.transformer_depth.at(level)));
  }
  if (level + 1 < c.levels()) downsamplers->push_back(built(Downsample(out)));
}

torch::Tensor DownBlockImpl::forward(torch::Tensor x, const torch::Tensor& emb,
                                     const torch::Tensor& context,
                                     std::vector<torch::Tensor>& skips) {
  for (size_t i = 0; i < resnets->size(); ++i) {
    x = resnet_then_attention(resnets, attentions, i, x, emb, context);
    skips.push_back(x);
  }
  if (!downsamplers->is_empty()) {
    x = downsamplers[0]->as<Downsample>()->forward(x);
    skips.push_back(x);
  }
  return x;
}

MidBlockImpl::MidBlockImpl(const UNetConfig& c) {
  const int channels = c.block_out_channels.back();
  resnets = register_module(
      "resnets", nn::ModuleList(resnet(c, channels, channels), resnet(c, channels, channels)));
  attentions = register_module(
      "attentions",
      nn::ModuleList(transformer(c, channels, c.num_heads_mid, c.transformer_depth_mid)));
}

torch::Tensor MidBlockImpl::forward(torch::Tensor x, const torch::Tensor& emb,
                                    const torch::Tensor& context) {
  x = resnet_then_attention(resnets, attentions, 0, x, emb, context);
  return resnets[1]->as<ResnetBlock>()->forward(x, emb);
}

UpBlockImpl::UpBlockImpl(const UNetConfig& c, int level, int in_channels,
                         const std::vector<int>& skip_channels) {
  const int out = c.block_out_channels.at(level);
  resnets = register_module("resnets", nn::ModuleList());
  attentions = register_module("attentions", nn::ModuleList());
  upsamplers = register_module("upsamplers", nn::ModuleList());
  for (size_t i = 0; i < skip_channels.size(); ++i) {
    resnets->push_back(resnet(c, (i == 0 ? in_channels : out) + skip_channels[i], out));
    if (c.has_attention(level))
      attentions->push_back(
          transformer(c, out, c.num_heads.at(level), c.transformer_depth.at(level)));
  }
  if (level > 0) upsamplers->push_back(built(Upsample(out)));
}

torch::Tensor UpBlockImpl::forward(torch::Tensor x, const torch::Tensor& emb,
                                   const torch::Tensor& context,
                                   std::vector<torch::Tensor>& skips) {
  for (size_t i = 0; i < resnets->size(); ++i) {
    x = torch::cat({x, skips.back()}, 1);
    skips.pop_back();
    x = resnet_then_attention(resnets, attentions, i, x, emb, context);
  }
  if (!upsamplers->is_empty()) {
    // The next skip has this level's size x 2, or x 2 - 1 where a downsample met an odd size.
    const auto& next_skip = skips.back();
    x = upsamplers[0]->as<Upsample>()->forward(x, next_skip.sizes().slice(2));
  }
  return x;
}

}  // namespace dd::models
