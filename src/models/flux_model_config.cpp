#include "models/flux_model_config.h"

#include <filesystem>
#include <fstream>

#include "util/error.h"

namespace dd::models {

namespace fs = std::filesystem;

namespace {

nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw Error(path.string() + ": cannot open");
  auto json = nlohmann::json::parse(in, nullptr, false);
  if (json.is_discarded()) throw Error(path.string() + ": invalid JSON");
  return json;
}

}  // namespace

VaeConfig flux_vae_preset() {
  VaeConfig vae;
  vae.block_out_channels = {128, 256, 512, 512};
  vae.latent_channels = 16;
  vae.scaling_factor = 0.3611;
  vae.shift_factor = 0.1159;
  vae.use_quant_conv = false;
  vae.use_post_quant_conv = false;
  return vae;
}

ClipTextConfig clip_l_preset() {
  ClipTextConfig clip;  // the defaults are CLIP ViT-L/14's text encoder
  clip.single_file_prefix = "";
  return clip;
}

nlohmann::json flux_scheduler_preset(bool guidance_distilled) {
  return {{"_class_name", "FlowMatchEulerDiscreteScheduler"},
          {"base_image_seq_len", 256},
          {"base_shift", 0.5},
          {"max_image_seq_len", 4096},
          {"max_shift", 1.15},
          {"num_train_timesteps", 1000},
          {"shift", guidance_distilled ? 3.0 : 1.0},
          {"use_dynamic_shifting", guidance_distilled}};
}

ModelConfig flux_model_config(const FluxConfig& transformer, const std::string& name) {
  ModelConfig model;
  model.name = name;
  model.family = Family::Flux;
  model.flux = transformer;
  model.vae = flux_vae_preset();
  model.text_encoders = {clip_l_preset()};
  model.scheduler_config = flux_scheduler_preset(transformer.guidance_embed);
  model.max_sequence_length = transformer.guidance_embed ? 512 : 256;
  model.default_width = model.default_height = 1024;
  return model;
}

ModelConfig flux_model_config_from_arch_json(const nlohmann::json& arch,
                                             const std::string& origin) {
  try {
    auto model = flux_model_config(flux_config_from_arch_json(arch), arch.value("name", "flux"));
    const auto& diffusers = arch.at("diffusers_configs");
    model.vae = vae_config_from_diffusers(diffusers.at("vae"));
    model.text_encoders = {clip_config_from_transformers(diffusers.at("text_encoder"))};
    model.text_encoders[0].single_file_prefix = "";
    model.t5 = t5_config_from_transformers(diffusers.at("text_encoder_2"));
    if (arch.contains("scheduler") && arch["scheduler"].contains("config"))
      model.scheduler_config = arch["scheduler"]["config"];
    return model;
  } catch (const nlohmann::json::exception& e) {
    throw Error(origin + ": " + e.what());
  } catch (const Error& e) {
    throw Error(origin + ": " + e.what());
  }
}

bool is_flux_diffusers_dir(const std::string& dir) {
  const fs::path root(dir);
  if (fs::exists(root / "model_index.json")) {
    const auto index = read_json(root / "model_index.json");
    if (index.value("_class_name", "").rfind("Flux", 0) == 0) return true;
  }
  const fs::path transformer = root / "transformer" / "config.json";
  return fs::exists(transformer) &&
         read_json(transformer).value("_class_name", "") == "FluxTransformer2DModel";
}

ModelConfig flux_model_config_from_diffusers_dir(const std::string& dir) {
  const fs::path root(dir);
  auto model =
      flux_model_config(flux_config_from_diffusers(read_json(root / "transformer" / "config.json")),
                        root.filename().string());
  model.vae = vae_config_from_diffusers(read_json(root / "vae" / "config.json"));
  model.text_encoders = {
      clip_config_from_transformers(read_json(root / "text_encoder" / "config.json"))};
  model.text_encoders[0].single_file_prefix = "";
  model.t5 = t5_config_from_transformers(read_json(root / "text_encoder_2" / "config.json"));
  const fs::path scheduler = root / "scheduler" / "scheduler_config.json";
  if (fs::exists(scheduler)) model.scheduler_config = read_json(scheduler);
  return model;
}

}  // namespace dd::models
