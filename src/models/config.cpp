#include "models/config.h"

#include "models/family_names.h"
#include "models/flux_model_config.h"
#include "models/json_fields.h"
#include "util/error.h"

namespace dd::models {

namespace {

// A per-level list from an int (same for every level) or a list of the right length.
std::vector<int> per_level(const nlohmann::json& value, size_t levels, const char* what) {
  if (value.is_number_integer()) return std::vector<int>(levels, value.get<int>());
  if (value.is_array() && value.size() == levels) {
    std::vector<int> out;
    for (const auto& v : value) {
      if (!v.is_number_integer())
        throw Error(std::string("config: ") + what + " has a non-integer entry");
      out.push_back(v.get<int>());
    }
    return out;
  }
  throw Error(std::string("config: ") + what + " must be an integer or one per level");
}

template <typename T>
T required(const nlohmann::json& config, const char* key) {
  return json_field<T>(config, key, "config");
}

template <typename T>
T optional(const nlohmann::json& config, const char* key, T fallback) {
  return json_field_or<T>(config, key, fallback, "config");
}

Family parse_family(const std::string& name) {
  if (name == "sd1" || name == "sd1-inpaint") return Family::SD1;
  if (name == "sd2") return Family::SD2;
  if (name == "sdxl" || name == "sdxl-inpaint") return Family::SDXL;
  throw Error("config: unknown model family '" + name + "' (sd1, sd2, sdxl)");
}

}  // namespace

const char* family_name(Family family) {
  switch (family) {
    case Family::SD1:
      return "sd1";
    case Family::SD2:
      return "sd2";
    case Family::SDXL:
      return "sdxl";
    case Family::Flux:
      return "flux";
  }
  return "?";
}

UNetConfig unet_config_from_diffusers(const nlohmann::json& config) {
  UNetConfig unet;
  unet.in_channels = optional(config, "in_channels", 4);
  unet.out_channels = optional(config, "out_channels", 4);
  unet.block_out_channels = required<std::vector<int>>(config, "block_out_channels");
  const size_t levels = unet.block_out_channels.size();
  if (levels == 0) throw Error("config: block_out_channels is empty");
  unet.layers_per_block = optional(config, "layers_per_block", 2);

  const auto down_types = required<std::vector<std::string>>(config, "down_block_types");
  if (down_types.size() != levels)
    throw Error("config: down_block_types and block_out_channels differ in length");
  const auto depth = per_level(config.value("transformer_layers_per_block", nlohmann::json(1)),
                               levels, "transformer_layers_per_block");
  unet.transformer_depth.clear();
  for (size_t i = 0; i < levels; ++i) {
    const bool cross = down_types[i].find("CrossAttn") != std::string::npos;
    unet.transformer_depth.push_back(cross ? depth[i] : 0);
  }
  // diffusers keeps the historical name: attention_head_dim holds the head count unless
  // num_attention_heads is set.
  const nlohmann::json heads = !config.value("num_attention_heads", nlohmann::json()).is_null()
                                   ? config["num_attention_heads"]
                                   : config.value("attention_head_dim", nlohmann::json(8));
  unet.num_heads = per_level(heads, levels, "attention_head_dim");
  unet.transformer_depth_mid = depth.back();
  unet.num_heads_mid = unet.num_heads.back();
  unet.context_dim = required<int>(config, "cross_attention_dim");
  unet.use_linear_projection = optional(config, "use_linear_projection", false);
  unet.norm_groups = optional(config, "norm_num_groups", 32);
  unet.norm_eps = optional(config, "norm_eps", 1e-5);
  unet.time_embed_dim = optional(config, "time_embedding_dim", unet.block_out_channels[0] * 4);
  if (optional<std::string>(config, "addition_embed_type", "") == "text_time") {
    unet.adm_in_channels = required<int>(config, "projection_class_embeddings_input_dim");
    unet.addition_time_embed_dim = required<int>(config, "addition_time_embed_dim");
  }
  return unet;
}

VaeConfig vae_config_from_diffusers(const nlohmann::json& config) {
  VaeConfig vae;
  vae.in_channels = optional(config, "in_channels", 3);
  vae.out_channels = optional(config, "out_channels", 3);
  vae.block_out_channels = required<std::vector<int>>(config, "block_out_channels");
  if (vae.block_out_channels.empty()) throw Error("config: vae block_out_channels is empty");
  vae.layers_per_block = optional(config, "layers_per_block", 2);
  vae.latent_channels = optional(config, "latent_channels", 4);
  vae.norm_groups = optional(config, "norm_num_groups", 32);
  vae.scaling_factor = optional(config, "scaling_factor", 0.18215);
  vae.shift_factor = optional(config, "shift_factor", 0.0);
  vae.use_quant_conv = optional(config, "use_quant_conv", true);
  vae.use_post_quant_conv = optional(config, "use_post_quant_conv", true);
  return vae;
}

ClipTextConfig clip_config_from_transformers(const nlohmann::json& config) {
  ClipTextConfig clip;
  clip.vocab_size = optional(config, "vocab_size", 49408);
  clip.max_positions = optional(config, "max_position_embeddings", 77);
  clip.hidden_size = required<int>(config, "hidden_size");
  clip.num_layers = required<int>(config, "num_hidden_layers");
  clip.num_heads = required<int>(config, "num_attention_heads");
  clip.intermediate_size = required<int>(config, "intermediate_size");
  const auto act = optional<std::string>(config, "hidden_act", "quick_gelu");
  if (act != "quick_gelu" && act != "gelu")
    throw Error("config: unsupported hidden_act '" + act + "'");
  clip.quick_gelu = act == "quick_gelu";
  clip.layer_norm_eps = optional(config, "layer_norm_eps", 1e-5);
  bool with_projection = false;
  for (const auto& a : config.value("architectures", nlohmann::json::array()))
    if (a == "CLIPTextModelWithProjection") with_projection = true;
  clip.projection_dim = with_projection ? optional(config, "projection_dim", 0) : 0;
  return clip;
}

ModelConfig model_config_from_arch_json(const nlohmann::json& arch, const std::string& origin) {
  if (arch.is_object() && arch.value("family", "") == "flux")
    return flux_model_config_from_arch_json(arch, origin);
  try {
    ModelConfig model;
    model.name = optional<std::string>(arch, "name", "model");
    model.family = parse_family(required<std::string>(arch, "family"));
    const auto prediction = optional<std::string>(arch, "prediction_type", "epsilon");
    if (prediction != "epsilon" && prediction != "v_prediction")
      throw Error("config: unknown prediction_type '" + prediction + "'");
    model.prediction = prediction == "epsilon" ? Prediction::Epsilon : Prediction::VPrediction;

    const auto& diffusers = arch.at("diffusers_configs");
    model.unet = unet_config_from_diffusers(diffusers.at("unet"));
    model.vae = vae_config_from_diffusers(diffusers.at("vae"));
    const auto& unet_arch = arch.value("unet", nlohmann::json::object());
    model.unet.transformer_norm_eps = optional(unet_arch, "transformer_group_norm_eps", 1e-6);
    model.unet.layer_norm_eps = optional(unet_arch, "transformer_layer_norm_eps", 1e-5);
    model.vae.norm_eps = optional(arch.value("vae", nlohmann::json::object()), "norm_eps", 1e-6);

    const char* encoder_keys[] = {"text_encoder", "text_encoder_2"};
    const auto encoders = arch.value("text_encoders", nlohmann::json::array());
    for (size_t i = 0; i < encoders.size() && i < 2; ++i) {
      ClipTextConfig clip = clip_config_from_transformers(diffusers.at(encoder_keys[i]));
      const auto& e = encoders[i];
      clip.pad_id = optional(e, "tokenizer_pad_id", clip.pad_id);
      clip.bos_id = optional(e, "bos_id", clip.bos_id);
      clip.eos_id = optional(e, "eos_id", clip.eos_id);
      clip.single_file_prefix = optional<std::string>(e, "key_prefix", clip.single_file_prefix);
      clip.single_file_layout =
          optional<std::string>(e, "layout", "hf_clip_text_model") == "open_clip_text"
              ? TextLayout::OpenClip
              : TextLayout::HfClip;
      model.text_encoders.push_back(clip);
    }
    if (model.text_encoders.empty()) throw Error("config: no text_encoders");

    const auto& schedule = arch.value("noise_schedule", nlohmann::json::object());
    model.schedule.num_train_timesteps = optional(schedule, "num_train_timesteps", 1000);
    model.schedule.beta_schedule =
        optional<std::string>(schedule, "beta_schedule", "scaled_linear");
    model.schedule.beta_start = optional(schedule, "beta_start", 0.00085);
    model.schedule.beta_end = optional(schedule, "beta_end", 0.012);
    const auto size = optional<std::vector<int>>(arch, "default_size", {512, 512});
    if (size.size() == 2) {
      model.default_height = size[0];
      model.default_width = size[1];
    }
    return model;
  } catch (const nlohmann::json::exception& e) {
    throw Error(origin + ": " + e.what());
  } catch (const Error& e) {
    throw Error(origin + ": " + e.what());
  }
}

bool is_supported_family(const std::string& name) {
  if (name == "flux") return true;
  try {
    parse_family(name);
    return true;
  } catch (const Error&) {
    return false;
  }
}

}  // namespace dd::models
