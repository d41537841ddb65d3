#pragma once
// Writes a trained model as a diffusers folder (model_index.json, unet/, vae/, text_encoder/,
// tokenizer/, scheduler/), the layout DiffusionModel::load and the server's registry read.
#include <torch/torch.h>

#include <string>

#include "models/clip_text.h"
#include "models/config.h"
#include "models/unet.h"
#include "models/vae.h"

namespace dd::training {

struct ExportedModel {
  const models::ModelConfig* config = nullptr;
  models::UNetImpl* unet = nullptr;
  models::AutoencoderKLImpl* vae = nullptr;
  models::ClipTextModelImpl* text_encoder = nullptr;
  std::string tokenizer_dir;  // vocab.json, merges.txt and the token maps, copied as they are
  // How the model was made (command, settings, times), written as training.json beside it.
  nlohmann::json training_record = nlohmann::json::object();
};

// Replaces `out_dir` as a whole: the folder is written beside it and renamed into place, so a
// crash never leaves half a model where the server looks for one. Weights are stored as `dtype`.
void export_diffusers_model(const ExportedModel& model, const std::string& out_dir,
                            torch::ScalarType dtype);

// The diffusers / transformers config.json objects of each part.
nlohmann::json unet_diffusers_config(const models::UNetConfig& unet, int sample_size);
nlohmann::json vae_diffusers_config(const models::VaeConfig& vae, int sample_size);
nlohmann::json clip_transformers_config(const models::ClipTextConfig& clip);

}  // namespace dd::training
