#include "pipeline/model.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <filesystem>
#include <fstream>

#include "models/checkpoint_keys.h"
#include "models/clip_keys.h"
#include "models/diffusers_dir.h"
#include "models/presets.h"
#include "models/vae_keys.h"
#include "models/weights.h"
#include "util/error.h"

namespace dd::pipeline {

namespace fs = std::filesystem;

namespace {

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot open");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": invalid JSON (" + e.what() + ")");
  }
}

// "<dir>/<stem>.arch.json" beside a single-file checkpoint, if present (the tiny test models).
std::string sidecar_arch_json(const std::string& file) {
  const fs::path path(file);
  const fs::path arch = path.parent_path() / (path.stem().string() + ".arch.json");
  return fs::exists(arch) ? arch.string() : "";
}

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
  auto out = x.to(dtype_);
  return dtype_ == torch::kFloat32 || out.dim() != 4
             ? out
             : out.contiguous(at::MemoryFormat::ChannelsLast);
}

std::shared_ptr<DiffusionModel> DiffusionModel::load(const ModelSource& source) {
  auto model = std::make_shared<DiffusionModel>();
  model->path_ = source.path;
  model->dtype_ = source.dtype;
  if (!fs::exists(source.path)) throw Error(source.path + ": no such model file or folder");
  if (fs::is_directory(source.path)) {
    model->config_ = models::model_config_from_diffusers_dir(source.path);
    model->load_diffusers_dir(source.path);
  } else {
    auto file = std::make_shared<io::SafetensorsFile>(source.path);
    std::string arch =
        source.config_json.empty() ? sidecar_arch_json(source.path) : source.config_json;
    model->config_ = arch.empty() ? models::preset(models::detect_preset(*file))
                                  : models::model_config_from_arch_json(read_json_file(arch), arch);
    model->load_single_file(source.path);
  }
  model->load_tokenizers(source);
  return model;
}

// Each part is built, loaded and converted to the compute dtype before the next one is built,
// so the float32 copy of one part (10 GB for SDXL's UNet) never coexists with the others, and
// the file pages it was read from are dropped from resident memory once copied.
void DiffusionModel::load_single_file(const std::string& path) {
  auto file = std::make_shared<const io::SafetensorsFile>(path);
  const auto& unet_config = config_.unet;
  unet = models::UNet(unet_config);
  models::load_weights(*unet,
                       models::FileWeights(file, "model.diffusion_model.",
                                           [&](const std::string& name) {
                                             return models::unet_single_file_key(name, unet_config);
                                           }),
                       path + " (unet)");
  ready_for_compute(*unet, *file);
  vae = models::AutoencoderKL(config_.vae);
  models::load_weights(*vae, *models::vae_ldm_weights(file, config_.vae), path + " (vae)");
  ready_for_compute(*vae, *file);
  text_encoders.clear();
  for (size_t i = 0; i < config_.text_encoders.size(); ++i) {
    text_encoders.emplace_back(config_.text_encoders[i]);
    auto source = models::clip_single_file_weights(file, config_.text_encoders[i]);
    models::load_weights(*text_encoders[i], *source,
                         path + " (text encoder " + std::to_string(i + 1) + ")");
    text_encoders[i]->eval();  // text encoders stay in float32 (see ready_for_compute)
    file->release_pages();
  }
}

void DiffusionModel::load_diffusers_dir(const std::string& dir) {
  auto component = [&](const std::string& name) {
    return std::make_shared<const io::SafetensorsFile>(models::diffusers_weights_file(dir, name));
  };
  unet = models::UNet(config_.unet);
  auto unet_file = component("unet");
  models::load_weights(*unet, models::FileWeights(unet_file, ""), dir + "/unet");
  ready_for_compute(*unet, *unet_file);
  vae = models::AutoencoderKL(config_.vae);
  auto vae_file = component("vae");
  models::load_weights(*vae, models::FileWeights(vae_file, ""), dir + "/vae");
  ready_for_compute(*vae, *vae_file);
  text_encoders.clear();
  for (size_t i = 0; i < config_.text_encoders.size(); ++i) {
    const std::string name = i == 0 ? "text_encoder" : "text_encoder_2";
    text_encoders.emplace_back(config_.text_encoders[i]);
    models::load_weights(*text_encoders[i], models::FileWeights(component(name), ""),
                         dir + "/" + name);
    text_encoders[i]->eval();
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

void DiffusionModel::ready_for_compute(torch::nn::Module& module, const io::SafetensorsFile& file) {
  module.eval();
  file.release_pages();
  if (dtype_ != torch::kFloat32) {
    module.to(dtype_);
    // oneDNN's fast bf16 convolutions want channels-last (NHWC) weights and activations.
    torch::NoGradGuard no_grad;
    for (auto& param : module.parameters())
      if (param.dim() == 4) param.set_data(param.contiguous(at::MemoryFormat::ChannelsLast));
    // Text encoders are not passed here: they run once per prompt and stay in float32 for
    // accuracy.
  }
#ifdef __GLIBC__
  malloc_trim(0);  // the float32 copies just freed go back to the system, not to the next part
#endif
}

}  // namespace dd::pipeline
