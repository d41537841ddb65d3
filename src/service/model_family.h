#pragma once
// A model's family read from its files without loading weights (only JSON configs and the
// tensor headers of a checkpoint): sd1, sd1-inpaint, sd2, sdxl, flux, or flux-inpaint (FLUX.1
// Fill: a transformer taking more input channels than it gives out). The same names the loaded
// model gets (ModelRegistry), so the listing does not change when a model loads.
#include <filesystem>
#include <string>

namespace dd::service {

// Whether `dir` is a FLUX.1 diffusers folder: it has transformer/config.json, or its
// model_index.json names a Flux* pipeline.
bool is_flux_folder(const std::filesystem::path& dir);

// The family of the model at `path` (a diffusers folder, a .safetensors or a .gguf file), with
// `config_json` its sidecar's architecture file ("" = none; NAME.arch.json beside a file is read
// then). "" when the files do not tell (the load will). A dd::Error only when a checkpoint file
// cannot be read as a safetensors or GGUF file at all.
std::string family_from_files(const std::filesystem::path& path, const std::string& config_json);

}  // namespace dd::service
