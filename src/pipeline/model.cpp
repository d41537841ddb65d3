#include "pipeline/model.h"

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
    model->build_modules();
    model->load_diffusers_dir(source.path);
  } else {
    auto file = std::make_shared<io::SafetensorsFile>(source.path);
    std::string arch =
        source.config_json.empty() ? sidecar_arch_json(source.path) : source.config_json;
    model->config_ = arch.empty() ? models::preset(models::detect_preset(*file))
                                  : models::model_config_from_arch_json(read_json_file(arch), arch);
    model->build_modules();
    model->load_single_file(source.path);
  }
  model->load_tokenizers(source);
  model->to_compute_dtype();
  return model;
}

void DiffusionModel::build_modules() {
  unet = models::UNet(config_.unet);
  vae = models::AutoencoderKL(config_.vae);
  text_encoders.clear();
  for (const auto& clip : config_.text_encoders) text_encoders.emplace_back(clip);
}

void DiffusionModel::load_single_file(const std::string& path) {
  auto file = std::make_shared<const io::SafetensorsFile>(path);
  const auto& unet_config = config_.unet;
  models::load_weights(*unet,
                       models::FileWeights(file, "model.diffusion_model.",
                                           [&](const std::string& name) {
                                             return models::unet_single_file_key(name, unet_config);
                                           }),
                       path + " (unet)");
  models::load_weights(*vae, *models::vae_ldm_weights(file, config_.vae), path + " (vae)");
  for (size_t i = 0; i < text_encoders.size(); ++i) {
    auto source = models::clip_single_file_weights(file, config_.text_encoders[i]);
    models::load_weights(*text_encoders[i], *source,
                         path + " (text encoder " + std::to_string(i + 1) + ")");
  }
}

void DiffusionModel::load_diffusers_dir(const std::string& dir) {
  auto component = [&](const std::string& name) {
    return std::make_shared<const io::SafetensorsFile>(models::diffusers_weights_file(dir, name));
  };
  models::load_weights(*unet, models::FileWeights(component("unet"), ""), dir + "/unet");
  models::load_weights(*vae, models::FileWeights(component("vae"), ""), dir + "/vae");
  for (size_t i = 0; i < text_encoders.size(); ++i) {
    const std::string name = i == 0 ? "text_encoder" : "text_encoder_2";
    models::load_weights(*text_encoders[i], models::FileWeights(component(name), ""),
                         dir + "/" + name);
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

void DiffusionModel::to_compute_dtype() {
  unet->eval();
  vae->eval();
  for (auto& encoder : text_encoders) encoder->eval();
  if (dtype_ == torch::kFloat32) return;
  unet->to(dtype_);
  vae->to(dtype_);
  // oneDNN's fast bf16 convolutions want channels-last (NHWC) weights and activations.
  torch::NoGradGuard no_grad;
  for (auto* module :
       {static_cast<torch::nn::Module*>(unet.get()), static_cast<torch::nn::Module*>(vae.get())})
    for (auto& param : module->parameters())
      if (param.dim() == 4) param.set_data(param.contiguous(at::MemoryFormat::ChannelsLast));
  // Text encoders are small and run once per prompt: they stay in float32 for accuracy.
}

}  // namespace dd::pipeline
