#include "training/model_export.h"

#include <filesystem>
#include <fstream>

#include "training/module_tensors.h"
#include "util/error.h"

namespace dd::training {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

void write_json(const fs::path& path, const json& value) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path);
  out << value.dump(2) << "\n";
  if (!out) throw Error(path.string() + ": cannot write");
}

json scheduler_config(const models::NoiseScheduleConfig& schedule) {
  // Stable Diffusion 1.5's scheduler settings: the schedule the model was trained on.
  return {{"_class_name", "PNDMScheduler"},
          {"beta_schedule", schedule.beta_schedule},
          {"beta_start", schedule.beta_start},
          {"beta_end", schedule.beta_end},
          {"num_train_timesteps", schedule.num_train_timesteps},
          {"prediction_type", "epsilon"},
          {"set_alpha_to_one", false},
          {"skip_prk_steps", true},
          {"steps_offset", 1},
          {"timestep_spacing", "leading"},
          {"clip_sample", false}};
}

json model_index() {
  return {{"_class_name", "StableDiffusionPipeline"},
          {"_diffusers_version", "0.21.0"},
          {"unet", {"diffusers", "UNet2DConditionModel"}},
          {"vae", {"diffusers", "AutoencoderKL"}},
          {"text_encoder", {"transformers", "CLIPTextModel"}},
          {"tokenizer", {"transformers", "CLIPTokenizer"}},
          {"scheduler", {"diffusers", "PNDMScheduler"}},
          {"safety_checker", {nullptr, nullptr}},
          {"feature_extractor", {nullptr, nullptr}},
          {"requires_safety_checker", false}};
}

}  // namespace

json unet_diffusers_config(const models::UNetConfig& unet, int sample_size) {
  const int levels = unet.levels();
  json down = json::array(), up = json::array(), depth = json::array();
  for (int i = 0; i < levels; ++i) {
    const bool attention = unet.has_attention(i);
    down.push_back(attention ? "CrossAttnDownBlock2D" : "DownBlock2D");
    // diffusers reads the middle block's depth from the last level's entry.
    const int d =
        attention ? unet.transformer_depth[i] : (i == levels - 1 ? unet.transformer_depth_mid : 1);
    depth.push_back(d);
  }
  for (int i = levels - 1; i >= 0; --i)
    up.push_back(unet.has_attention(i) ? "CrossAttnUpBlock2D" : "UpBlock2D");
  if (unet.has_attention(levels - 1) && unet.transformer_depth.back() != unet.transformer_depth_mid)
    throw Error("export: the middle block's depth must equal the last level's");
  if (unet.num_heads.back() != unet.num_heads_mid)
    throw Error("export: the middle block's heads must equal the last level's");
  return {{"_class_name", "UNet2DConditionModel"},
          {"sample_size", sample_size},
          {"in_channels", unet.in_channels},
          {"out_channels", unet.out_channels},
          {"block_out_channels", unet.block_out_channels},
          {"layers_per_block", unet.layers_per_block},
          {"down_block_types", down},
          {"up_block_types", up},
          {"mid_block_type", "UNetMidBlock2DCrossAttn"},
          {"transformer_layers_per_block", depth},
          {"attention_head_dim", unet.num_heads},
          {"cross_attention_dim", unet.context_dim},
          {"use_linear_projection", unet.use_linear_projection},
          {"norm_num_groups", unet.norm_groups},
          {"norm_eps", unet.norm_eps},
          {"time_embedding_dim", unet.time_embed_dim},
          {"act_fn", "silu"},
          {"flip_sin_to_cos", true},
          {"freq_shift", 0}};
}

json vae_diffusers_config(const models::VaeConfig& vae, int sample_size) {
  const size_t levels = vae.block_out_channels.size();
  return {{"_class_name", "AutoencoderKL"},
          {"in_channels", vae.in_channels},
          {"out_channels", vae.out_channels},
          {"block_out_channels", vae.block_out_channels},
          {"down_block_types", std::vector<std::string>(levels, "DownEncoderBlock2D")},
          {"up_block_types", std::vector<std::string>(levels, "UpDecoderBlock2D")},
          {"layers_per_block", vae.layers_per_block},
          {"latent_channels", vae.latent_channels},
          {"norm_num_groups", vae.norm_groups},
          {"act_fn", "silu"},
          {"sample_size", sample_size},
          {"scaling_factor", vae.scaling_factor}};
}

json clip_transformers_config(const models::ClipTextConfig& clip) {
  return {{"architectures", {"CLIPTextModel"}},
          {"model_type", "clip_text_model"},
          {"vocab_size", clip.vocab_size},
          {"max_position_embeddings", clip.max_positions},
          {"hidden_size", clip.hidden_size},
          {"num_hidden_layers", clip.num_layers},
          {"num_attention_heads", clip.num_heads},
          {"intermediate_size", clip.intermediate_size},
          {"hidden_act", clip.quick_gelu ? "quick_gelu" : "gelu"},
          {"layer_norm_eps", clip.layer_norm_eps},
          {"bos_token_id", clip.bos_id},
          {"eos_token_id", clip.eos_id},
          {"pad_token_id", clip.pad_id},
          {"projection_dim", clip.hidden_size}};
}

void export_diffusers_model(const ExportedModel& model, const std::string& out_dir,
                            torch::ScalarType dtype) {
  const auto& config = *model.config;
  const fs::path out = fs::absolute(out_dir);
  const fs::path staging = out.string() + ".partial";
  fs::remove_all(staging);
  fs::create_directories(staging);

  write_json(staging / "model_index.json", model_index());
  write_json(staging / "training.json", model.training_record);
  write_json(
      staging / "unet" / "config.json",
      unet_diffusers_config(config.unet, config.default_width / model.vae->downscale_factor()));
  save_module(*model.unet, (staging / "unet" / "diffusion_pytorch_model.safetensors").string(),
              dtype);
  write_json(staging / "vae" / "config.json",
             vae_diffusers_config(config.vae, config.default_width));
  save_module(*model.vae, (staging / "vae" / "diffusion_pytorch_model.safetensors").string(),
              dtype);
  write_json(staging / "text_encoder" / "config.json",
             clip_transformers_config(config.text_encoders.at(0)));
  save_module(*model.text_encoder, (staging / "text_encoder" / "model.safetensors").string(),
              dtype);
  write_json(staging / "scheduler" / "scheduler_config.json", scheduler_config(config.schedule));
  fs::create_directories(staging / "tokenizer");
  for (const auto& entry : fs::directory_iterator(model.tokenizer_dir))
    if (entry.is_regular_file())
      fs::copy_file(entry.path(), staging / "tokenizer" / entry.path().filename());

  const fs::path previous = out.string() + ".previous";
  fs::remove_all(previous);
  if (fs::exists(out)) fs::rename(out, previous);
  fs::rename(staging, out);
  fs::remove_all(previous);
}

}  // namespace dd::training
