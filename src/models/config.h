#pragma once
// Hyperparameters of every model part. Real checkpoints store none, so they come from a preset
// (detected from keys and shapes), from a diffusers folder's config.json files, or from an
// architecture JSON (the fixtures' <model>.arch.json). No tensors here.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "models/flux_config.h"
#include "models/t5_config.h"

namespace dd::models {

struct UNetConfig {
  int in_channels = 4;
  int out_channels = 4;
  std::vector<int> block_out_channels{320, 640, 1280, 1280};
  int layers_per_block = 2;
  // Per down level (the up path mirrors it): cross-attention transformer blocks per attention
  // (0 = a level without attention) and the number of heads.
  std::vector<int> transformer_depth{1, 1, 1, 0};
  std::vector<int> num_heads{8, 8, 8, 8};
  int transformer_depth_mid = 1;
  int num_heads_mid = 8;
  int context_dim = 768;
  bool use_linear_projection = false;  // proj_in/proj_out as Linear (SD2, SDXL) or 1x1 conv
  int norm_groups = 32;
  double norm_eps = 1e-5;              // ResNets and conv_norm_out
  double transformer_norm_eps = 1e-6;  // the spatial transformer's GroupNorm
  double layer_norm_eps = 1e-5;
  int time_embed_dim = 1280;  // = 4 * block_out_channels[0] in every real model
  // SDXL "text_time" conditioning: label_emb over [pooled text | sinusoids of 6 time ids].
  int adm_in_channels = 0;
  int addition_time_embed_dim = 0;

  int levels() const { return static_cast<int>(block_out_channels.size()); }
  bool has_attention(int level) const { return transformer_depth.at(level) > 0; }
};

struct VaeConfig {
  int in_channels = 3;
  int out_channels = 3;
  std::vector<int> block_out_channels{128, 256, 512, 512};
  int layers_per_block = 2;  // the decoder has one more per level
  int latent_channels = 4;
  int norm_groups = 32;
  double norm_eps = 1e-6;
  double scaling_factor = 0.18215;
  // Pipeline latents = (posterior sample - shift_factor) * scaling_factor; 0 except FLUX (0.1159).
  double shift_factor = 0.0;
  // 1x1 convs between the encoder / decoder and the latents; FLUX's VAE has neither.
  bool use_quant_conv = true;
  bool use_post_quant_conv = true;
};

enum class TextLayout { HfClip, OpenClip };
enum class TextOutput { LastHiddenState, Penultimate };

struct ClipTextConfig {
  int vocab_size = 49408;
  int max_positions = 77;
  int hidden_size = 768;
  int num_layers = 12;
  int num_heads = 12;
  int intermediate_size = 3072;
  bool quick_gelu = true;  // CLIP-L: quick_gelu; OpenCLIP bigG / SD2 OpenCLIP-H: erf gelu
  double layer_norm_eps = 1e-5;
  int projection_dim = 0;  // >0: a text_projection (SDXL's second encoder)
  int pad_id = 49407;
  int bos_id = 49406;
  int eos_id = 49407;
  TextLayout single_file_layout = TextLayout::HfClip;
  std::string single_file_prefix = "cond_stage_model.transformer.";
};

struct NoiseScheduleConfig {
  int num_train_timesteps = 1000;
  std::string beta_schedule = "scaled_linear";
  double beta_start = 0.00085;
  double beta_end = 0.012;
};

enum class Family { SD1, SD2, SDXL, Flux };
enum class Prediction { Epsilon, VPrediction };

struct ModelConfig {
  std::string name;
  Family family = Family::SD1;
  Prediction prediction = Prediction::Epsilon;
  UNetConfig unet;
  VaeConfig vae;
  std::vector<ClipTextConfig> text_encoders;
  NoiseScheduleConfig schedule;
  int default_width = 512;
  int default_height = 512;
  // The diffusers scheduler config of the model, when it came with one (may be empty).
  nlohmann::json scheduler_config = nlohmann::json::object();

  // FLUX.1 (family Flux): a transformer instead of the UNet, CLIP (pooled output only) and a T5
  // encoder for the text; `unet` is unused. T5 tokens per prompt: 256 (schnell) or 512 (dev).
  FluxConfig flux;
  T5Config t5;
  int max_sequence_length = 512;
  bool is_flux() const { return family == Family::Flux; }
};

const char* family_name(Family family);

// Parts from diffusers config.json objects (diffusers' `attention_head_dim` quirk included:
// in SD1/SD2/SDXL configs it holds the number of heads).
UNetConfig unet_config_from_diffusers(const nlohmann::json& config);
VaeConfig vae_config_from_diffusers(const nlohmann::json& config);
ClipTextConfig clip_config_from_transformers(const nlohmann::json& config);

// A whole model from an architecture JSON of the fixtures' format (<model>.arch.json).
ModelConfig model_config_from_arch_json(const nlohmann::json& arch, const std::string& origin);

}  // namespace dd::models
