#include "pipeline/model.h"

#include <filesystem>
#include <fstream>

#include "models/build_dtype.h"
#include "models/checkpoint_keys.h"
#include "models/clip_keys.h"
#include "models/diffusers_dir.h"
#include "models/presets.h"
#include "models/vae_keys.h"
#include "models/weights.h"
#include "pipeline/compute_layout.h"
#include "pipeline/part_loading.h"
#include "util/error.h"

namespace dd::pipeline {

namespace fs = std::filesystem;

namespace {

bool has_tokenizer_files(const fs::path& dir) {
  return fs::exists(dir / "vocab.json") && fs::exists(dir / "merges.txt");
}

// Where the tokenizer of encoder `index` lives: --tokenizer DIR (with tokenizer/ and
// tokenizer_2/ inside it, or the files directly), the diffusers folder, or a diffusers folder
// of the same name beside a single-file checkpoint.
std::string find_tokenizer_dir(const ModelSource& source, size_t index) {
  const std::string sub = index == 0 ? "tokenizer" : "tokenizer_2";
  std::vector<fs::path> candidates;
  if (!source.tokenizer_dir.empty()) {
    candidates.push_back(fs::path(source.tokenizer_dir) / sub);
    candidates.push_back(source.tokenizer_dir);
  } else if (fs::is_directory(source.path)) {
    candidates.push_back(fs::path(source.path) / sub);
  } else {
    const fs::path model(source.path);
    candidates.push_back(model.parent_path() / model.stem() / sub);
    candidates.push_back(model.parent_path() / sub);
  }
  for (const auto& dir : candidates)
    if (has_tokenizer_files(dir)) return dir.string();
  std::string looked;
  for (const auto& dir : candidates) looked += (looked.empty() ? "" : ", ") + dir.string();
  throw Error(source.path + ": no tokenizer found (no vocab.json and merges.txt in " + looked +
              "); pass --tokenizer DIR");
}

}  // namespace

sampling::ScheduleConfig schedule_config_for(const models::ModelConfig& config) {
  sampling::ScheduleConfig base;
  if (!config.scheduler_config.empty()) {
    base = sampling::ScheduleConfig::from_diffusers(config.scheduler_config);
  } else {
    base.num_train_timesteps = config.schedule.num_train_timesteps;
    base.beta_schedule = config.schedule.beta_schedule;
    base.beta_start = config.schedule.beta_start;
    base.beta_end = config.schedule.beta_end;
    base.steps_offset = 1;
  }
  base.prediction = config.prediction == models::Prediction::VPrediction
                        ? sampling::Prediction::VPrediction
                        : sampling::Prediction::Epsilon;
  return base;
}

torch::Tensor DiffusionModel::to_compute(const torch::Tensor& x) const {
  return in_compute_layout(x, dtype_, device_);
}

std::shared_ptr<DiffusionModel> DiffusionModel::load(const ModelSource& source) {
  auto model = std::make_shared<DiffusionModel>();
  model->path_ = source.path;
  model->dtype_ = source.dtype;
  model->device_ = source.device;
  if (!fs::exists(source.path)) throw Error(source.path + ": no such model file or folder");
  if (is_flux_source(source.path)) {
    model->load_flux(source);
    return model;
  }
  if (fs::is_directory(source.path)) {
    model->config_ = models::model_config_from_diffusers_dir(source.path);
    model->load_diffusers_dir(source.path);
  } else {
    auto file = std::make_shared<const io::SafetensorsFile>(source.path);
    std::string arch =
        source.config_json.empty() ? sidecar_arch_json(source.path) : source.config_json;
    model->config_ = arch.empty() ? models::preset(models::detect_preset(*file))
                                  : models::model_config_from_arch_json(read_json_file(arch), arch);
    model->load_single_file(file);
  }
  model->load_tokenizers(source);
  return model;
}

void DiffusionModel::load_single_file(const std::shared_ptr<const io::SafetensorsFile>& file) {
  const std::string& path = path_;
  const auto& unet_config = config_.unet;
  const models::FileWeights unet_weights(
      file, "model.diffusion_model.",
      [&](const std::string& name) { return models::unet_single_file_key(name, unet_config); });
  unet =
      load_part<models::UNet>(unet_config, unet_weights, *file, dtype_, device_, path + " (unet)");
  vae = load_part<models::AutoencoderKL>(config_.vae, *models::vae_ldm_weights(file, config_.vae),
                                         *file, dtype_, device_, path + " (vae)");
  text_encoders.clear();
  for (size_t i = 0; i < config_.text_encoders.size(); ++i) {
    const auto& config = config_.text_encoders[i];
    text_encoders.push_back(load_text_encoder(
        config, *models::clip_single_file_weights(file, config), *file, config.single_file_prefix,
        device_, path + " (text encoder " + std::to_string(i + 1) + ")"));
  }
}

void DiffusionModel::load_diffusers_dir(const std::string& dir) {
  auto component = [&](const std::string& name) {
    return std::make_shared<const io::SafetensorsFile>(models::diffusers_weights_file(dir, name));
  };
  const auto unet_file = component("unet");
  unet = load_part<models::UNet>(config_.unet, models::FileWeights(unet_file, ""), *unet_file,
                                 dtype_, device_, dir + "/unet");
  const auto vae_file = component("vae");
  vae = load_part<models::AutoencoderKL>(config_.vae, models::FileWeights(vae_file, ""), *vae_file,
                                         dtype_, device_, dir + "/vae");
  text_encoders.clear();
  for (size_t i = 0; i < config_.text_encoders.size(); ++i) {
    const std::string name = i == 0 ? "text_encoder" : "text_encoder_2";
    const auto file = component(name);
    text_encoders.push_back(load_text_encoder(config_.text_encoders[i],
                                              models::FileWeights(file, ""), *file, "", device_,
                                              dir + "/" + name));
  }
}

void DiffusionModel::load_tokenizers(const ModelSource& source) {
  tokenizers.clear();
  for (size_t i = 0; i < text_encoders.size(); ++i) {
    auto tokenizer = text::ClipTokenizer::from_dir(find_tokenizer_dir(source, i));
    // Tokenizers that pad with "!" (SD 2.x, SDXL's second) register it as a special token in
    // the reference, so "!" is split out before BPE there; do the same.
    if (config_.text_encoders[i].pad_id == tokenizer.token_id("!"))
      tokenizer = tokenizer.with_special_token("!");
    tokenizers.push_back(std::move(tokenizer));
  }
}

}  // namespace dd::pipeline
