#pragma once
// A loaded Stable Diffusion model: its configuration, the UNet, the VAE, the text encoders and
// their tokenizers, in one compute dtype on one device. Loads either checkpoint layout.
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "models/clip_text.h"
#include "models/config.h"
#include "models/unet.h"
#include "models/vae.h"
#include "pipeline/prompt_cache.h"
#include "sampling/schedule_config.h"
#include "text/clip_tokenizer.h"

namespace dd::pipeline {

struct ModelSource {
  std::string path;           // single .safetensors file, or a diffusers folder
  std::string config_json;    // architecture JSON (fixtures' arch.json format); optional
  std::string tokenizer_dir;  // folder with vocab.json + merges.txt; optional
  torch::ScalarType dtype = torch::kFloat32;
  torch::Device device = torch::kCPU;  // where every part computes (models/device.h)
};

// The model's noise schedule and default scheduler settings: its diffusers scheduler config when
// it came with one, else its training schedule with steps_offset 1 (as SD's own configs).
sampling::ScheduleConfig schedule_config_for(const models::ModelConfig& config);

class DiffusionModel {
 public:
  // Builds the architecture (diffusers configs, an architecture JSON, or a preset detected from
  // the checkpoint) and loads every weight; any problem is one dd::Error naming what is wrong.
  static std::shared_ptr<DiffusionModel> load(const ModelSource& source);

  const models::ModelConfig& config() const { return config_; }
  torch::ScalarType dtype() const { return dtype_; }
  const torch::Device& device() const { return device_; }
  const std::string& path() const { return path_; }
  bool is_inpainting_model() const { return config_.unet.in_channels == 9; }
  // An activation on the model's device in the compute dtype and layout (channels-last for 4-D
  // tensors in 16 bits).
  torch::Tensor to_compute(const torch::Tensor& x) const;

  models::UNet unet{nullptr};
  models::AutoencoderKL vae{nullptr};
  std::vector<models::ClipTextModel> text_encoders;
  std::vector<text::ClipTokenizer> tokenizers;

  PromptCache prompt_cache;
  // Which LoRAs currently change the text encoders' weights ("" = the checkpoint's own); part of
  // every prompt cache key. Set and restored by ScopedLoras.
  std::string text_encoder_loras;

 private:
  void load_single_file(const std::shared_ptr<const io::SafetensorsFile>& file);
  void load_diffusers_dir(const std::string& dir);
  void load_tokenizers(const ModelSource& source);

  std::string path_;
  models::ModelConfig config_;
  torch::ScalarType dtype_ = torch::kFloat32;
  torch::Device device_ = torch::kCPU;
};

}  // namespace dd::pipeline
