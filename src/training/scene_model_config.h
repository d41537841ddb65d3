#pragma once
// The architecture of the built-in scene model: Stable Diffusion 1.x's (a KL VAE, a CLIP text
// encoder with quick-GELU, a cross-attention UNet with 1x1-conv projections), scaled down until
// it trains on two CPU cores in about an hour: 64x64 pictures, a VAE that downsamples by 4
// (16x16x4 latents), a 2-layer text encoder over a vocabulary built from the captions.
#include "models/config.h"

namespace dd::training {

constexpr int kSceneImageSize = 64;

struct SceneModelTokens {
  int vocab_size = 0;
  int bos_id = 0;
  int eos_id = 0;  // also the padding token, as in CLIP-L
};

// The whole model; vae.scaling_factor is a placeholder until the VAE is trained (it is measured
// from the trained encoder's latents, as Stable Diffusion's 0.18215 was).
models::ModelConfig scene_model_config(const SceneModelTokens& tokens);

}  // namespace dd::training
