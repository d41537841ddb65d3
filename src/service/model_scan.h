#pragma once
// Reading the models directory without loading weights: which models it holds, what their
// sidecars say, the family their files declare, and whether a single-file checkpoint is a
// readable safetensors or GGUF file at all (its header is checked, no tensor is read).
#include <filesystem>
#include <map>
#include <string>

#include "service/model_registry.h"

namespace dd::service {

// Every model in `dir`, keyed by id, each with its sidecar applied, its family guessed and, when
// something is wrong with it (a bad sidecar, an alias another model already has, a checkpoint
// that is not a safetensors or GGUF file), its error set. Models are diffusers folders (Stable
// Diffusion's with unet/config.json, FLUX.1's: service/model_family.h), `.safetensors` and
// `.gguf` files; for one name a folder wins over a .safetensors file, which wins over a .gguf
// file. A file some sidecar names as a FLUX part (its `vae`, `clip_l`, `t5xxl`, ...) is not
// listed.
std::map<std::string, ModelInfo> scan_models_dir(const std::filesystem::path& dir);

std::string lowercase(std::string text);

}  // namespace dd::service
