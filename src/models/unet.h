#pragma once
// The denoising UNet of SD1.x, SD2.x and SDXL, one class built from a UNetConfig. Parameters
// carry diffusers' UNet2DConditionModel names, so a diffusers `unet/` folder loads as is and a
// single-file checkpoint loads through unet_single_file_key (checkpoint_keys.h).
#include <torch/torch.h>

#include <map>
#include <string>

#include "models/config.h"
#include "models/unet_embeddings.h"
#include "models/unet_levels.h"

namespace dd::models {

class UNetImpl : public torch::nn::Module {
 public:
  // Named intermediates, keyed like the fixtures' dbg.* tensors: time_proj, time_embedding,
  // add_time_proj, add_embedding, conv_in, down_blocks.i, mid_block, up_blocks.i, conv_norm_out.
  using Trace = std::map<std::string, torch::Tensor>;

  explicit UNetImpl(const UNetConfig& config);

  // sample [B, in_channels, h, w]; timestep: one value (0-d or [1]) for the whole batch, or [B],
  // on the 0..999 training scale, possibly fractional; context [B, tokens, context_dim].
  // SDXL (config.adm_in_channels > 0) also needs text_embeds [B, pooled] and time_ids [B, 6].
  // Computes in the dtype of the weights (inputs are converted) and returns
  // [B, out_channels, h, w] in that dtype.
  torch::Tensor forward(const torch::Tensor& sample, const torch::Tensor& timestep,
                        const torch::Tensor& context, const torch::Tensor& text_embeds = {},
                        const torch::Tensor& time_ids = {});
  // The same, also recording the intermediates into `trace` (to locate a divergence).
  torch::Tensor forward_traced(Trace& trace, const torch::Tensor& sample,
                               const torch::Tensor& timestep, const torch::Tensor& context,
                               const torch::Tensor& text_embeds = {},
                               const torch::Tensor& time_ids = {});

  const UNetConfig& config() const { return config_; }

 private:
  torch::Tensor run(const torch::Tensor& sample, const torch::Tensor& timestep,
                    const torch::Tensor& context, const torch::Tensor& text_embeds,
                    const torch::Tensor& time_ids, Trace* trace);
  // emb = time_embedding(sinusoid(t)) [+ add_embedding(text_embeds | sinusoids(time_ids))]
  torch::Tensor embed_time(const torch::Tensor& timestep, int64_t batch,
                           const torch::Tensor& text_embeds, const torch::Tensor& time_ids,
                           Trace* trace);

  UNetConfig config_;
  torch::nn::Conv2d conv_in{nullptr}, conv_out{nullptr};
  TimestepEmbedding time_embedding{nullptr}, add_embedding{nullptr};
  torch::nn::ModuleList down_blocks, up_blocks;
  MidBlock mid_block{nullptr};
  torch::nn::GroupNorm conv_norm_out{nullptr};
};
TORCH_MODULE(UNet);

}  // namespace dd::models
