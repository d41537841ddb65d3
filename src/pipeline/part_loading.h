#pragma once
// Building, loading and readying one model part (UNet, transformer, VAE, text encoder): shared
// by the Stable Diffusion and the FLUX loaders (model.cpp, flux_model_load.cpp).
#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <string>

#include "io/safetensors.h"
#include "models/build_dtype.h"
#include "models/clip_text.h"
#include "models/weights.h"

namespace dd::pipeline {

// A JSON file's contents; a dd::Error naming the file when it cannot be read or parsed.
nlohmann::json read_json_file(const std::string& path);

// "<dir>/<stem>.arch.json" beside a single-file checkpoint, if present (the tiny test models).
std::string sidecar_arch_json(const std::string& file);

// Eval mode, the compute dtype, layout and device for a loaded part; drops `file`'s pages and
// returns freed heap memory to the system.
void ready_for_compute(torch::nn::Module& module, const io::SafetensorsFile& file,
                       torch::ScalarType dtype, const torch::Device& device);

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
                                        const torch::Device& device, const std::string& name);

}  // namespace dd::pipeline
