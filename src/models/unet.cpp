#include "models/unet.h"

#include "util/error.h"

namespace dd::models {

namespace nn = torch::nn;

namespace {

void check_config(const UNetConfig& c) {
  const size_t levels = c.block_out_channels.size();
  if (levels == 0) throw Error("unet: block_out_channels is empty");
  if (c.transformer_depth.size() != levels || c.num_heads.size() != levels)
    throw Error("unet: transformer_depth and num_heads need one entry per level (" +
                std::to_string(levels) + ")");
  for (size_t level = 0; level < levels; ++level)
    if (c.transformer_depth[level] > 0 &&
        (c.num_heads[level] < 1 || c.block_out_channels[level] % c.num_heads[level] != 0))
      throw Error("unet: level " + std::to_string(level) + " has " +
                  std::to_string(c.block_out_channels[level]) + " channels, not divisible into " +
                  std::to_string(c.num_heads[level]) + " heads");
  if (c.num_heads_mid < 1 || c.block_out_channels.back() % c.num_heads_mid != 0)
    throw Error("unet: the middle block's channels are not divisible into " +
                std::to_string(c.num_heads_mid) + " heads");
  if (c.layers_per_block < 1) throw Error("unet: layers_per_block must be at least 1");
  if (c.adm_in_channels > 0 && c.addition_time_embed_dim <= 0)
    throw Error("unet: adm_in_channels needs addition_time_embed_dim");
}

std::string shape_of(const torch::Tensor& t) { return c10::str(t.sizes()); }

}  // namespace

UNetImpl::UNetImpl(const UNetConfig& config) : config_(config) {
  check_config(config_);
  const auto& c = config_;
  const int base = c.block_out_channels[0];
  conv_in =
      register_module("conv_in", nn::Conv2d(nn::Conv2dOptions(c.in_channels, base, 3).padding(1)));
  time_embedding = register_module("time_embedding", TimestepEmbedding(base, c.time_embed_dim));
  if (c.adm_in_channels > 0)
    add_embedding =
        register_module("add_embedding", TimestepEmbedding(c.adm_in_channels, c.time_embed_dim));

  // Channels of the skip tensors in the order the down path pushes them.
  std::vector<int> skips{base};
  down_blocks = register_module("down_blocks", nn::ModuleList());
  int channels = base;
  for (int level = 0; level < c.levels(); ++level) {
    down_blocks->push_back(DownBlock(c, level, channels));
    channels = c.block_out_channels[level];
    const int pushed = c.layers_per_block + (level + 1 < c.levels() ? 1 : 0);
    skips.insert(skips.end(), pushed, channels);
  }
  mid_block = register_module("mid_block", MidBlock(c));

  up_blocks = register_module("up_blocks", nn::ModuleList());
  for (int level = c.levels() - 1; level >= 0; --level) {
    std::vector<int> popped;
    for (int i = 0; i <= c.layers_per_block; ++i) {
      popped.push_back(skips.back());
      skips.pop_back();
    }
    up_blocks->push_back(UpBlock(c, level, channels, popped));
    channels = c.block_out_channels[level];
  }
  conv_norm_out = register_module(
      "conv_norm_out", nn::GroupNorm(nn::GroupNormOptions(c.norm_groups, base).eps(c.norm_eps)));
  conv_out = register_module("conv_out",
                             nn::Conv2d(nn::Conv2dOptions(base, c.out_channels, 3).padding(1)));
}

torch::Tensor UNetImpl::forward(const torch::Tensor& sample, const torch::Tensor& timestep,
                                const torch::Tensor& context, const torch::Tensor& text_embeds,
                                const torch::Tensor& time_ids) {
  return run(sample, timestep, context, text_embeds, time_ids, nullptr);
}

torch::Tensor UNetImpl::forward_traced(Trace& trace, const torch::Tensor& sample,
                                       const torch::Tensor& timestep, const torch::Tensor& context,
                                       const torch::Tensor& text_embeds,
                                       const torch::Tensor& time_ids) {
  return run(sample, timestep, context, text_embeds, time_ids, &trace);
}

torch::Tensor UNetImpl::embed_time(const torch::Tensor& timestep, int64_t batch,
                                   const torch::Tensor& text_embeds, const torch::Tensor& time_ids,
                                   Trace* trace) {
  const auto& c = config_;
  const auto options = conv_in->weight.options();
  auto t = timestep.to(options.device(), torch::kFloat32).reshape({-1});
  if (t.numel() == 1) t = t.expand({batch});
  if (t.numel() != batch)
    throw Error("unet: timestep has " + std::to_string(t.numel()) + " values for a batch of " +
                std::to_string(batch));
  // The sinusoids are float32 whatever the compute dtype; only their result is cast.
  const auto time_proj = timestep_sinusoid(t, c.block_out_channels[0]).to(options.dtype());
  auto emb = time_embedding(time_proj);
  if (trace) {
    (*trace)["time_proj"] = time_proj;
    (*trace)["time_embedding"] = emb;
  }
  if (!add_embedding) return emb;

  if (!text_embeds.defined() || !time_ids.defined())
    throw Error("unet: this model (adm_in_channels " + std::to_string(c.adm_in_channels) +
                ") needs text_embeds and time_ids");
  if (text_embeds.dim() != 2 || text_embeds.size(0) != batch || time_ids.numel() % batch != 0)
    throw Error("unet: text_embeds " + shape_of(text_embeds) + " and time_ids " +
                shape_of(time_ids) + " need one row per sample (batch " + std::to_string(batch) +
                ")");
  const auto add_time_proj =
      timestep_sinusoid(time_ids.to(options.device()), c.addition_time_embed_dim);
  const auto add_in = torch::cat(
      {text_embeds.to(options.device(), torch::kFloat32), add_time_proj.reshape({batch, -1})}, -1);
  if (add_in.size(1) != c.adm_in_channels)
    throw Error("unet: text_embeds " + shape_of(text_embeds) + " and time_ids " +
                shape_of(time_ids) + " give " + std::to_string(add_in.size(1)) +
                " conditioning features, the model takes " + std::to_string(c.adm_in_channels));
  const auto add_emb = add_embedding(add_in.to(options.dtype()));
  if (trace) {
    (*trace)["add_time_proj"] = add_time_proj;
    (*trace)["add_embedding"] = add_emb;
  }
  return emb + add_emb;
}

torch::Tensor UNetImpl::run(const torch::Tensor& sample, const torch::Tensor& timestep,
                            const torch::Tensor& context, const torch::Tensor& text_embeds,
                            const torch::Tensor& time_ids, Trace* trace) {
  const auto& c = config_;
  if (sample.dim() != 4 || sample.size(1) != c.in_channels)
    throw Error("unet: sample " + shape_of(sample) + " is not [B, " +
                std::to_string(c.in_channels) + ", h, w]");
  const int64_t batch = sample.size(0);
  if (context.dim() != 3 || context.size(0) != batch || context.size(2) != c.context_dim)
    throw Error("unet: context " + shape_of(context) + " is not [" + std::to_string(batch) +
                ", tokens, " + std::to_string(c.context_dim) + "]");
  const auto options = conv_in->weight.options();
  const auto ctx = context.to(options);
  const auto record = [trace](const std::string& name, const torch::Tensor& t) {
    if (trace) (*trace)[name] = t;
  };

  const auto emb = embed_time(timestep, batch, text_embeds, time_ids, trace);
  auto h = conv_in(sample.to(options));
  record("conv_in", h);
  std::vector<torch::Tensor> skips{h};
  for (size_t i = 0; i < down_blocks->size(); ++i) {
    h = down_blocks[i]->as<DownBlock>()->forward(h, emb, ctx, skips);
    record("down_blocks." + std::to_string(i), h);
  }
  h = mid_block(h, emb, ctx);
  record("mid_block", h);
  for (size_t i = 0; i < up_blocks->size(); ++i) {
    h = up_blocks[i]->as<UpBlock>()->forward(h, emb, ctx, skips);
    record("up_blocks." + std::to_string(i), h);
  }
  h = conv_norm_out(h);
  record("conv_norm_out", h);
  return conv_out(torch::silu(h));
}

}  // namespace dd::models
