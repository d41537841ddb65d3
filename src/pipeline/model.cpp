#include "pipeline/model.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

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
  return in_compute_layout(x, dtype_, device_);
}

std::shared_ptr<DiffusionModel> DiffusionModel::load(const ModelSource& source) {
  auto model = std::make_shared<DiffusionModel>();
  model->path_ = source.path;
  model->dtype_ = source.dtype;
  model->device_ = source.device;
  if (!fs::exists(source.path)) throw Error(source.path + ": no such model file or folder");
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

namespace {

// Eval mode, the compute dtype, layout and device for a loaded part; drops `file`'s pages and
// returns freed heap memory to the system.
void ready_for_compute(torch::nn::Module& module, const io::SafetensorsFile& file,
                       torch::ScalarType dtype, const torch::Device& device) {
  module.eval();
  file.release_pages();
  if (dtype != torch::kFloat32) {
    module.to(dtype);
    // oneDNN's fast bf16 convolutions want channels-last (NHWC) weights and activations.
    torch::NoGradGuard no_grad;
    for (auto& param : module.parameters())
      if (param.dim() == 4) param.set_data(param.contiguous(at::MemoryFormat::ChannelsLast));
  }
  // Built and converted on the CPU, then moved: the device holds only the final weights.
  if (!device.is_cpu()) module.to(device);
#ifdef __GLIBC__
  malloc_trim(0);  // the float32 copies just freed go back to the system, not to the next part
#endif
}

// A part (UNet, VAE or text encoder), built in `dtype` (block by block where the module
// converts its blocks, models/build_dtype.h), loaded and readied. Each part is finished before the
// next is built, so the float32 copy of a part never coexists with the others, and the file pages
// it was read from are dropped once copied.
template <class Part, class Config>
Part load_part(const Config& config, const models::WeightSource& weights,
               const io::SafetensorsFile& file, torch::ScalarType dtype,
               const torch::Device& device, const std::string& name) {
  Part part = [&] {
    const models::BuildDtypeScope build_in(dtype);
    return Part(config);
  }();
  models::load_weights(*part, weights, name);
  ready_for_compute(*part, file, dtype, device);
  return part;
}

// Text encoders compute in float32 whatever the compute dtype: they run once per prompt, and
// their accuracy decides every step's conditioning. Their weights stay as the file stores them
// when that is one 8- or 16-bit type (exact; 16 bits saves 1.6 GB on SDXL's two against float32,
// float8 a quarter of it); models/clip_text.h upcasts each layer's as it runs.
models::ClipTextModel load_text_encoder(const models::ClipTextConfig& config,
                                        const models::WeightSource& weights,
                                        const io::SafetensorsFile& file, const std::string& prefix,
                                        const torch::Device& device, const std::string& name) {
  return load_part<models::ClipTextModel>(config, weights, file,
                                          models::stored_float_type(file, prefix), device, name);
}

}  // namespace

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
