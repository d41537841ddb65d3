#include "bench/tiny_model.h"

#include <algorithm>

namespace dd::bench {

namespace {

constexpr int kHeads = 2;
constexpr int kMaxDepth = 2;  // transformer blocks per attention (SDXL has up to 10)

void shrink_unet(models::UNetConfig& u, int context_dim, int pooled_dim) {
  // 32 channels at the first level, 64 below: multiples of the 32 GroupNorm groups.
  for (int level = 0; level < u.levels(); ++level) u.block_out_channels[level] = level ? 64 : 32;
  u.num_heads.assign(u.levels(), kHeads);
  u.num_heads_mid = kHeads;
  for (auto& depth : u.transformer_depth) depth = std::min(depth, kMaxDepth);
  u.transformer_depth_mid = std::min(u.transformer_depth_mid, kMaxDepth);
  u.time_embed_dim = 4 * u.block_out_channels[0];
  u.context_dim = context_dim;
  if (u.adm_in_channels > 0) {
    u.addition_time_embed_dim = 8;
    u.adm_in_channels = pooled_dim + 6 * u.addition_time_embed_dim;  // pooled | 6 time ids
  }
}

}  // namespace

models::ModelConfig tiny_variant(const models::ModelConfig& preset) {
  models::ModelConfig tiny = preset;
  tiny.name = preset.name + "-tiny";
  int context_dim = 0, pooled_dim = 0;
  for (size_t i = 0; i < tiny.text_encoders.size(); ++i) {
    auto& clip = tiny.text_encoders[i];
    clip.hidden_size = 32 * static_cast<int>(i + 1);
    clip.num_layers = 2;
    clip.num_heads = kHeads;
    clip.intermediate_size = 2 * clip.hidden_size;
    if (clip.projection_dim > 0) clip.projection_dim = pooled_dim = clip.hidden_size;
    context_dim += clip.hidden_size;  // SDXL concatenates both encoders' hidden states
  }
  shrink_unet(tiny.unet, context_dim, pooled_dim);
  tiny.vae.block_out_channels.assign(tiny.vae.block_out_channels.size(), 32);
  return tiny;
}

}  // namespace dd::bench
