#include "bench/arch_json.h"

#include "util/error.h"

namespace dd::bench {

namespace {

using nlohmann::json;

// diffusers keeps one transformer depth per level and takes the middle block's from the last
// entry; levels without attention are told apart by their block type.
json transformer_depths(const models::UNetConfig& u) {
  const int last = u.levels() - 1;
  if (u.num_heads.back() != u.num_heads_mid ||
      (u.has_attention(last) && u.transformer_depth.back() != u.transformer_depth_mid))
    throw Error("architecture JSON: the middle block must match the deepest level");
  json depths = json::array();
  for (int level = 0; level <= last; ++level)
    depths.push_back(u.has_attention(level) ? u.transformer_depth[level]
                     : level == last        ? u.transformer_depth_mid
                                            : 1);
  return depths;
}

json unet_json(const models::UNetConfig& u) {
  json down_types = json::array();
  for (int level = 0; level < u.levels(); ++level)
    down_types.push_back(u.has_attention(level) ? "CrossAttnDownBlock2D" : "DownBlock2D");
  json out = {{"in_channels", u.in_channels},
              {"out_channels", u.out_channels},
              {"block_out_channels", u.block_out_channels},
              {"layers_per_block", u.layers_per_block},
              {"down_block_types", down_types},
              {"transformer_layers_per_block", transformer_depths(u)},
              {"attention_head_dim", u.num_heads},  // diffusers' name for the head count
              {"cross_attention_dim", u.context_dim},
              {"use_linear_projection", u.use_linear_projection},
              {"norm_num_groups", u.norm_groups},
              {"norm_eps", u.norm_eps},
              {"time_embedding_dim", u.time_embed_dim}};
  if (u.adm_in_channels > 0) {
    out["addition_embed_type"] = "text_time";
    out["projection_class_embeddings_input_dim"] = u.adm_in_channels;
    out["addition_time_embed_dim"] = u.addition_time_embed_dim;
  }
  return out;
}

json vae_json(const models::VaeConfig& v) {
  return {{"in_channels", v.in_channels},
          {"out_channels", v.out_channels},
          {"block_out_channels", v.block_out_channels},
          {"layers_per_block", v.layers_per_block},
          {"latent_channels", v.latent_channels},
          {"norm_num_groups", v.norm_groups},
          {"scaling_factor", v.scaling_factor}};
}

json clip_json(const models::ClipTextConfig& c) {
  const char* architecture = c.projection_dim > 0 ? "CLIPTextModelWithProjection" : "CLIPTextModel";
  return {{"architectures", {architecture}},
          {"vocab_size", c.vocab_size},
          {"max_position_embeddings", c.max_positions},
          {"hidden_size", c.hidden_size},
          {"num_hidden_layers", c.num_layers},
          {"num_attention_heads", c.num_heads},
          {"intermediate_size", c.intermediate_size},
          {"hidden_act", c.quick_gelu ? "quick_gelu" : "gelu"},
          {"layer_norm_eps", c.layer_norm_eps},
          {"projection_dim", c.projection_dim}};
}

json encoder_entry(const models::ClipTextConfig& c) {
  return {{"tokenizer_pad_id", c.pad_id},
          {"bos_id", c.bos_id},
          {"eos_id", c.eos_id},
          {"key_prefix", c.single_file_prefix},
          {"layout", c.single_file_layout == models::TextLayout::OpenClip ? "open_clip_text"
                                                                          : "hf_clip_text_model"}};
}

}  // namespace

json arch_json(const models::ModelConfig& config) {
  if (config.text_encoders.empty() || config.text_encoders.size() > 2)
    throw Error("architecture JSON: one or two text encoders, not " +
                std::to_string(config.text_encoders.size()));
  json diffusers = {{"unet", unet_json(config.unet)}, {"vae", vae_json(config.vae)}};
  json encoders = json::array();
  const char* encoder_keys[] = {"text_encoder", "text_encoder_2"};
  for (size_t i = 0; i < config.text_encoders.size(); ++i) {
    diffusers[encoder_keys[i]] = clip_json(config.text_encoders[i]);
    encoders.push_back(encoder_entry(config.text_encoders[i]));
  }
  const auto& s = config.schedule;
  return {{"name", config.name},
          {"family", models::family_name(config.family)},
          {"prediction_type",
           config.prediction == models::Prediction::VPrediction ? "v_prediction" : "epsilon"},
          {"diffusers_configs", diffusers},
          {"unet",
           {{"transformer_group_norm_eps", config.unet.transformer_norm_eps},
            {"transformer_layer_norm_eps", config.unet.layer_norm_eps}}},
          {"vae", {{"norm_eps", config.vae.norm_eps}}},
          {"text_encoders", encoders},
          {"noise_schedule",
           {{"num_train_timesteps", s.num_train_timesteps},
            {"beta_schedule", s.beta_schedule},
            {"beta_start", s.beta_start},
            {"beta_end", s.beta_end}}},
          {"default_size", {config.default_height, config.default_width}}};
}

}  // namespace dd::bench
