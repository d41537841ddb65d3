#pragma once
// The FLUX.1 transformer (Black Forest Labs' `Flux`, diffusers' FluxTransformer2DModel), one class
// for schnell, dev and Fill, built from a FluxConfig. Parameters carry BFL's names (`img_in`,
// `double_blocks.N.img_attn.qkv`, `single_blocks.N.linear1`, `final_layer.adaLN_modulation.1`,
// ...), so a BFL single file loads by name; a diffusers folder loads through
// flux_keys.h's adapter. Every Linear is a PackedLinear: weights may stay bf16, fp8 or
// block-quantised and are expanded per call.
//
// The computation (../shared/fixtures-flux/README.md, "Transformer"): vec = time_in(sin(t)) [+
// guidance_in(sin(g))] + vector_in(pooled); img = img_in(latents), txt = txt_in(T5); RoPE over
// ids = cat(txt_ids, img_ids); double blocks; single blocks over cat(txt, img); final layer on
// the image tokens.
#include <torch/torch.h>

#include <map>
#include <string>

#include "models/flux_blocks.h"
#include "models/flux_config.h"

namespace dd::models {

struct FluxInputs {
  torch::Tensor img;        // [B, S, in_channels] packed latents (Fill: cat(latents, conditioning))
  torch::Tensor img_ids;    // [S, 3] or [B, S, 3]: (0, patch row, patch column)
  torch::Tensor txt;        // [B, L, context_in_dim] T5 embeddings
  torch::Tensor txt_ids;    // [L, 3] or [B, L, 3]: zeros
  torch::Tensor timesteps;  // [B] (or one value for all rows): sigma in [0, 1]; x1000 inside
  torch::Tensor y;          // [B, vec_in_dim] pooled CLIP embedding
  torch::Tensor guidance;   // [B] (or one value) guidance scale; required iff guidance_embed
};

class FluxTransformerImpl : public torch::nn::Module {
 public:
  // Intermediates keyed like the fixtures' dbg.* tensors (diffusers' module names):
  // x_embedder, time_text_embed.time_proj (and .guidance_proj: diffusers runs the same time_proj
  // module on the guidance too), time_text_embed, context_embedder, pos_embed,
  // transformer_blocks.N.{img,txt}, single_transformer_blocks.N, norm_out.
  using Trace = std::map<std::string, torch::Tensor>;

  explicit FluxTransformerImpl(const FluxConfig& config);

  // -> [B, S, out_channels] velocity, in the dtype and on the device of inputs.img (the other
  // inputs are moved and converted to it; sinusoids, RoPE and norm statistics are float32). Bad
  // shapes, or a missing (or unexpected) guidance, are a dd::Error.
  torch::Tensor forward(const FluxInputs& inputs, Trace* trace = nullptr);

  const FluxConfig& config() const { return config_; }

 private:
  void check(const FluxInputs& inputs) const;
  torch::Tensor embed_vec(const FluxInputs& inputs, Trace* trace);

  FluxConfig config_;
  PackedLinear img_in_{nullptr}, txt_in_{nullptr};
  FluxMLPEmbedder time_in_{nullptr}, vector_in_{nullptr}, guidance_in_{nullptr};
  torch::nn::ModuleList double_blocks_{nullptr}, single_blocks_{nullptr};
  FluxFinalLayer final_layer_{nullptr};
};
TORCH_MODULE(FluxTransformer);

}  // namespace dd::models
