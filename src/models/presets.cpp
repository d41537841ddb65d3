#include "models/presets.h"

#include "util/error.h"

namespace dd::models {

namespace {

ClipTextConfig clip_l() {
  ClipTextConfig clip;  // the defaults are OpenAI CLIP ViT-L/14's text tower
  return clip;
}

// OpenCLIP ViT-H/14 as SD 2.x uses it: the last of its 24 layers is never used, so only 23 are
// built (diffusers' layout); tokenizer pads with "!" (id 0).
ClipTextConfig open_clip_h() {
  ClipTextConfig clip;
  clip.hidden_size = 1024;
  clip.num_layers = 23;
  clip.num_heads = 16;
  clip.intermediate_size = 4096;
  clip.quick_gelu = false;
  clip.pad_id = 0;
  clip.single_file_layout = TextLayout::OpenClip;
  clip.single_file_prefix = "cond_stage_model.model.";
  return clip;
}

ClipTextConfig open_clip_big_g() {
  ClipTextConfig clip;
  clip.hidden_size = 1280;
  clip.num_layers = 32;
  clip.num_heads = 20;
  clip.intermediate_size = 5120;
  clip.quick_gelu = false;
  clip.projection_dim = 1280;
  clip.pad_id = 0;
  clip.single_file_layout = TextLayout::OpenClip;
  clip.single_file_prefix = "conditioner.embedders.1.model.";
  return clip;
}

ModelConfig sd15() {
  ModelConfig model;
  model.name = "sd15";
  model.family = Family::SD1;
  model.text_encoders = {clip_l()};
  return model;
}

ModelConfig sd21_base() {
  ModelConfig model = sd15();
  model.name = "sd21-base";
  model.family = Family::SD2;
  model.unet.num_heads = {5, 10, 20, 20};
  model.unet.num_heads_mid = 20;
  model.unet.context_dim = 1024;
  model.unet.use_linear_projection = true;
  model.text_encoders = {open_clip_h()};
  return model;
}

ModelConfig sdxl() {
  ModelConfig model;
  model.name = "sdxl";
  model.family = Family::SDXL;
  model.unet.block_out_channels = {320, 640, 1280};
  model.unet.transformer_depth = {0, 2, 10};
  model.unet.num_heads = {5, 10, 20};
  model.unet.transformer_depth_mid = 10;
  model.unet.num_heads_mid = 20;
  model.unet.context_dim = 2048;
  model.unet.use_linear_projection = true;
  model.unet.adm_in_channels = 2816;
  model.unet.addition_time_embed_dim = 256;
  model.vae.scaling_factor = 0.13025;
  ClipTextConfig first = clip_l();
  first.single_file_prefix = "conditioner.embedders.0.transformer.";
  model.text_encoders = {first, open_clip_big_g()};
  model.default_width = model.default_height = 1024;
  return model;
}

}  // namespace

std::vector<std::string> preset_names() {
  return {"sd15", "sd15-inpaint", "sd21", "sd21-base", "sdxl", "sdxl-lightning"};
}

ModelConfig preset(const std::string& name) {
  if (name == "sd15") return sd15();
  if (name == "sd15-inpaint") {
    ModelConfig model = sd15();
    model.name = name;
    model.unet.in_channels = 9;
    return model;
  }
  if (name == "sd21-base") return sd21_base();
  if (name == "sd21") {
    ModelConfig model = sd21_base();
    model.name = name;
    model.prediction = Prediction::VPrediction;
    model.default_width = model.default_height = 768;
    return model;
  }
  if (name == "sdxl") return sdxl();
  if (name == "sdxl-lightning") {
    ModelConfig model = sdxl();
    model.name = name;
    return model;
  }
  throw Error("unknown model preset '" + name + "'");
}

std::string detect_preset(const io::SafetensorsFile& checkpoint) {
  const std::string conv_in = "model.diffusion_model.input_blocks.0.0.weight";
  const io::TensorEntry* entry = checkpoint.find(conv_in);
  if (!entry || entry->shape.size() != 4)
    throw Error(checkpoint.path() +
                ": not a Stable Diffusion checkpoint in the single-file layout (no '" + conv_in +
                "')");
  const int64_t channels = entry->shape[0];
  const int64_t in_channels = entry->shape[1];
  if (channels != 320)
    throw Error(checkpoint.path() + ": UNet has " + std::to_string(channels) +
                " base channels, not a known model size; pass an architecture JSON (--config)");

  if (checkpoint.contains("conditioner.embedders.1.model.ln_final.weight")) return "sdxl";
  if (checkpoint.contains("cond_stage_model.model.ln_final.weight")) {
    // SD 2.x: the 768px model predicts v, the 512px base predicts noise. The weights do not say
    // which; the common 2.1 release is the 768 v-prediction one.
    return "sd21";
  }
  if (checkpoint.contains("cond_stage_model.transformer.text_model.final_layer_norm.weight")) {
    if (in_channels == 9) return "sd15-inpaint";
    if (in_channels == 4) return "sd15";
    throw Error(checkpoint.path() + ": UNet takes " + std::to_string(in_channels) +
                " input channels (expected 4, or 9 for inpainting)");
  }
  throw Error(checkpoint.path() + ": no known text encoder keys; cannot tell the model family");
}

}  // namespace dd::models
