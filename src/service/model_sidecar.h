#pragma once
// What the models directory says about a model besides its weights: the optional sidecar
// NAME.json beside it (aliases, per-model defaults, architecture file, tokenizer folder,
// description, the `fast` flag, where a FLUX.1 transformer-only file finds its other parts) and
// the few-step defaults of Lightning/Turbo-class models.
//
//   {"aliases": ["sdxl-base"], "defaults": {"steps": 4, "cfg": 1, "sampler": "euler",
//    "spacing": "trailing", "width": 1024, "height": 1024}, "config": "x.arch.json",
//    "tokenizer": "dir", "description": "...", "fast": true,
//    "preview_decoder": "taesd/taesd_decoder.safetensors"}
//
// `defaults` takes any field of pipeline::GenerationParams under its JSON name. A FLUX.1
// transformer-only file (BFL's flux1-dev.safetensors, a GGUF) names its parts, each a path inside
// the models directory, and may ask to free T5 after each prompt:
//
//   {"vae": "flux/ae.safetensors", "clip_l": "flux/clip_l.safetensors",
//    "t5xxl": "flux/t5xxl_fp16.safetensors", "t5_tokenizer": "flux/t5-tokenizer",
//    "clip_tokenizer": "flux/clip-tokenizer", "components": "FLUX.1-dev", "drop_t5": true}
//
// `components` is a FLUX diffusers folder supplying every part not named (its vae/,
// text_encoder/, text_encoder_2/, tokenizer/, tokenizer_2/); pipeline::ModelSource says where
// the loader looks for a part named nowhere.
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pipeline/generation_params.h"

namespace dd::service {

// A FLUX.1 transformer-only file's other parts (absolute paths, "" = not named): the
// pipeline::ModelSource fields vae_path, clip_path, t5_path, t5_tokenizer_path,
// clip_tokenizer_dir, components_dir and drop_t5_after_encoding.
struct FluxParts {
  std::string vae;             // ae.safetensors, or a diffusers vae/ folder
  std::string clip_l;          // clip_l.safetensors
  std::string t5xxl;           // t5xxl_*.safetensors, or a T5 GGUF
  std::string t5_tokenizer;    // a folder with spiece.model, or the file
  std::string clip_tokenizer;  // a folder with vocab.json + merges.txt
  std::string components;      // a FLUX diffusers folder supplying the parts not named
  bool drop_t5 = false;        // free the T5 encoder after each prompt is encoded

  bool operator==(const FluxParts&) const = default;
  // The part files and folders named (components excluded), for telling them from models.
  std::vector<std::string> part_paths() const;
};

struct Sidecar {
  std::vector<std::string> aliases;
  pipeline::GenerationParams defaults;
  std::string description;
  std::string config_json;    // absolute path, "" = auto
  std::string tokenizer_dir;  // absolute path, "" = auto
  std::optional<bool> fast;
  // A TAESD-style tiny decoder for the previews of running jobs ("" = a linear projection).
  std::string preview_decoder;
  FluxParts flux;
};

// Reads and checks `file` (paths in it must stay inside `models_dir`); a dd::Error names the
// file and what is wrong.
Sidecar read_sidecar(const std::filesystem::path& models_dir, const std::filesystem::path& file);

// Lightning/Turbo-class defaults (a sidecar's `"fast": true`): 4 steps, no CFG, trailing Euler.
pipeline::GenerationParams fast_model_defaults();
// Few-step distilled SDXL releases are named so (lightning, turbo): without a sidecar saying
// otherwise they get the few-step defaults and count as the server's fast model.
bool named_like_a_fast_model(const std::string& id);

// A JSON file, parsed; a dd::Error names the file when it cannot be read or parsed.
nlohmann::json read_json_file(const std::filesystem::path& path);

}  // namespace dd::service
