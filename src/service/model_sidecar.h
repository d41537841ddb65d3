#pragma once
// What the models directory says about a model besides its weights: the optional sidecar
// NAME.json beside it (aliases, per-model defaults, architecture file, tokenizer folder,
// description, the `fast` flag) and the few-step defaults of Lightning/Turbo-class models.
//
//   {"aliases": ["sdxl-base"], "defaults": {"steps": 4, "cfg": 1, "sampler": "euler",
//    "spacing": "trailing", "width": 1024, "height": 1024}, "config": "x.arch.json",
//    "tokenizer": "dir", "description": "...", "fast": true}
//
// `defaults` takes any field of pipeline::GenerationParams under its JSON name.
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pipeline/generation_params.h"

namespace dd::service {

struct Sidecar {
  std::vector<std::string> aliases;
  pipeline::GenerationParams defaults;
  std::string description;
  std::string config_json;    // absolute path, "" = auto
  std::string tokenizer_dir;  // absolute path, "" = auto
  std::optional<bool> fast;
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
