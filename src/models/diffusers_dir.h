#pragma once
// The diffusers folder layout: model_index.json, unet/, vae/, text_encoder/ (text_encoder_2/ for
// SDXL), tokenizer/ (tokenizer_2/), scheduler/, each with its config and weights.
#include <string>

#include "models/config.h"

namespace dd::models {

bool is_diffusers_dir(const std::string& path);

// The whole model's hyperparameters from the folder's config files.
ModelConfig model_config_from_diffusers_dir(const std::string& dir);

// The weights file of a component ("unet", "vae", "text_encoder", ...): the first of
// diffusion_pytorch_model.safetensors / model.safetensors (and their .fp16 variants) present.
std::string diffusers_weights_file(const std::string& dir, const std::string& component);

}  // namespace dd::models
