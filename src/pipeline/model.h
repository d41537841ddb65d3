#pragma once
// A loaded Stable Diffusion model: its configuration, the UNet, the VAE, the text encoders and
// their tokenizers, in one compute dtype on one device. Loads either checkpoint layout.
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "models/clip_text.h"
#include "models/config.h"
#include "models/flux_transformer.h"
#include "models/t5_encoder.h"
#include "models/unet.h"
#include "models/vae.h"
#include "pipeline/prompt_cache.h"
#include "sampling/schedule_config.h"
#include "text/clip_tokenizer.h"
#include "text/t5_tokenizer.h"

namespace dd::pipeline {

struct ModelSource {
  std::string path;           // single .safetensors file, or a diffusers folder
  std::string config_json;    // architecture JSON (fixtures' arch.json format); optional
  std::string tokenizer_dir;  // folder with vocab.json + merges.txt; optional
  torch::ScalarType dtype = torch::kFloat32;
  torch::Device device = torch::kCPU;  // where every part computes (models/device.h)

  // FLUX.1 from a transformer-only file (BFL's flux1-*.safetensors, a GGUF): where the other
  // parts are (a model's sidecar names them). Each one not given is looked for in
  // `components_dir`, else in `tokenizer_dir`, else in a diffusers folder named like the file
  // beside it (flux1-dev/ beside flux1-dev.safetensors), as that folder's vae/, text_encoder/,
  // text_encoder_2/, tokenizer/ and tokenizer_2/.
  std::string vae_path = "";           // ae.safetensors, or a diffusers vae/ folder
  std::string clip_path = "";          // clip_l.safetensors (HF CLIPTextModel names)
  std::string t5_path = "";            // t5xxl_*.safetensors or a T5 GGUF
  std::string t5_tokenizer_path = "";  // a folder with spiece.model, or the file
  std::string clip_tokenizer_dir = "";
  std::string components_dir = "";
  // Frees the T5 encoder (9.5 GB in bf16 for T5-XXL) after each prompt is encoded; the prompt
  // cache keeps the embeddings, and the encoder is read again for a prompt it has not seen.
  bool drop_t5_after_encoding = false;
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
  bool is_inpainting_model() const {
    return config_.is_flux() ? is_flux_fill_model() : config_.unet.in_channels == 9;
  }
  // FLUX.1 Fill: packed latents + masked-image latents + packed mask (384 input channels).
  bool is_flux_fill_model() const {
    return config_.is_flux() && config_.flux.in_channels > config_.flux.out_channels;
  }
  // An activation on the model's device in the compute dtype and layout (channels-last for 4-D
  // tensors in 16 bits).
  torch::Tensor to_compute(const torch::Tensor& x) const;

  models::UNet unet{nullptr};             // null for FLUX
  models::FluxTransformer flux{nullptr};  // FLUX only
  models::AutoencoderKL vae{nullptr};
  std::vector<models::ClipTextModel> text_encoders;
  std::vector<text::ClipTokenizer> tokenizers;

  // FLUX only: the T5 tokenizer, and the encoder (loaded again when it was dropped).
  std::shared_ptr<const text::T5Tokenizer> t5_tokenizer;
  models::T5Encoder& t5_encoder();
  // Drops the T5 encoder when the source asked for it (ModelSource::drop_t5_after_encoding).
  void release_t5_if_asked();
  // Whether the T5 encoder is in memory now (false after it was dropped, until it is needed).
  bool t5_loaded() const { return !t5_.is_empty(); }

  PromptCache prompt_cache;
  // Which LoRAs currently change the text encoders' weights ("" = the checkpoint's own); part of
  // every prompt cache key. Set and restored by ScopedLoras.
  std::string text_encoder_loras;

 private:
  void load_single_file(const std::shared_ptr<const io::SafetensorsFile>& file);
  void load_diffusers_dir(const std::string& dir);
  void load_tokenizers(const ModelSource& source);
  // FLUX.1 (flux_model_load.cpp): a diffusers folder, or a transformer file with its parts.
  static bool is_flux_source(const std::string& path);
  void load_flux(const ModelSource& source);
  void load_flux_transformer_file(const ModelSource& source, bool configured);
  void load_flux_parts(const ModelSource& source);

  std::string path_;
  models::ModelConfig config_;
  torch::ScalarType dtype_ = torch::kFloat32;
  torch::Device device_ = torch::kCPU;
  models::T5Encoder t5_{nullptr};
  std::function<models::T5Encoder()> load_t5_;
  bool drop_t5_ = false;
};

}  // namespace dd::pipeline
