#include "training/scene_model_config.h"

namespace dd::training {

namespace {

models::VaeConfig scene_vae() {
  models::VaeConfig vae;
  vae.block_out_channels = {32, 64, 64};  // three levels: 64 -> 16 pixels
  vae.layers_per_block = 1;
  vae.latent_channels = 4;
  vae.norm_groups = 16;
  vae.scaling_factor = 1.0;
  return vae;
}

models::ClipTextConfig scene_text_encoder(const SceneModelTokens& tokens) {
  models::ClipTextConfig clip;
  clip.vocab_size = tokens.vocab_size;
  clip.max_positions = 77;  // CLIP's context, so prompts are framed exactly as for real models
  clip.hidden_size = 128;
  clip.num_layers = 2;
  clip.num_heads = 4;
  clip.intermediate_size = 512;
  clip.quick_gelu = true;
  clip.bos_id = tokens.bos_id;
  clip.eos_id = tokens.eos_id;
  clip.pad_id = tokens.eos_id;
  return clip;
}

models::UNetConfig scene_unet(int context_dim) {
  models::UNetConfig unet;
  unet.block_out_channels = {64, 128, 128};
  unet.layers_per_block = 1;
  // Cross-attention at 8x8 and in the middle (4x4) only, as SDXL leaves its largest level
  // without: at 16x16 it would cost a third of each training step.
  unet.transformer_depth = {0, 1, 0};
  unet.num_heads = {4, 4, 4};
  unet.transformer_depth_mid = 1;
  unet.num_heads_mid = 4;
  unet.context_dim = context_dim;
  unet.norm_groups = 32;
  unet.time_embed_dim = 4 * unet.block_out_channels[0];
  return unet;
}

}  // namespace

models::ModelConfig scene_model_config(const SceneModelTokens& tokens) {
  models::ModelConfig model;
  model.name = "diffusiond-scenes";
  model.family = models::Family::SD1;
  model.text_encoders = {scene_text_encoder(tokens)};
  model.unet = scene_unet(model.text_encoders[0].hidden_size);
  model.vae = scene_vae();
  model.default_width = model.default_height = kSceneImageSize;
  return model;
}

}  // namespace dd::training
