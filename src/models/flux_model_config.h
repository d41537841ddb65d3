#pragma once
// A whole FLUX.1 model's hyperparameters (transformer, VAE, CLIP, T5, scheduler, defaults) from
// an architecture JSON (the fixtures' <model>.arch.json), a diffusers folder's config files, or,
// for the files users have (BFL's flux1-*.safetensors, GGUF releases), the transformer's
// detected config plus the real FLUX.1 parts below.
#include <nlohmann/json.hpp>
#include <string>

#include "models/config.h"

namespace dd::models {

// The real FLUX.1 parts: its 16-channel VAE (ae.safetensors), CLIP ViT-L/14's text encoder
// (clip_l.safetensors), T5-XXL v1.1, and the scheduler config of the -schnell / -dev repos.
VaeConfig flux_vae_preset();
ClipTextConfig clip_l_preset();
nlohmann::json flux_scheduler_preset(bool guidance_distilled);

// Everything but the transformer from the presets above; the scheduler, T5 sequence length and
// defaults follow from whether the transformer is guidance-distilled (dev, Fill) or not (schnell).
ModelConfig flux_model_config(const FluxConfig& transformer, const std::string& name);

// From an architecture JSON whose family is "flux" (its diffusers_configs give the parts).
ModelConfig flux_model_config_from_arch_json(const nlohmann::json& arch, const std::string& origin);

// From a diffusers folder with transformer/, vae/, text_encoder/, text_encoder_2/, scheduler/.
ModelConfig flux_model_config_from_diffusers_dir(const std::string& dir);

// Whether a diffusers folder holds a FLUX.1 pipeline (model_index.json names a Flux* pipeline,
// or it has a transformer/ with FluxTransformer2DModel's config).
bool is_flux_diffusers_dir(const std::string& dir);

}  // namespace dd::models
