#pragma once
// Which model a command runs. `--model` names a checkpoint (a .safetensors file or a diffusers
// folder) or, when no such path exists, a model id or alias of a models directory, resolved as
// the server does (its sidecar's architecture, tokenizer and defaults apply). Without `--model`
// it is the built-in default model that `diffusiond train` writes into the repository's models/.
#include <string>

#include "pipeline/model.h"
#include "service/model_registry.h"

namespace dd::cli {

// The id of the built-in default model.
inline constexpr const char* kBuiltinModelId = "diffusiond-scenes";

// $DIFFUSIOND_MODELS_DIR when set, else the repository's models/ folder (fixed at build time).
std::string builtin_models_dir();
// Whether models_dir holds the built-in default model (its diffusers folder).
bool has_builtin_model(const std::string& models_dir);

struct ModelChoice {
  pipeline::ModelSource source;
  pipeline::GenerationParams defaults;  // the sidecar's for a model id; none for a path
  std::string name;                     // the model id, or the checkpoint's file/folder name
  bool by_id = false;                   // resolved through a models directory
};

// id_or_path "" = the built-in default model; models_dir "" = builtin_models_dir(). A dd::Error
// says what is missing when nothing matches.
ModelChoice choose_model(const std::string& id_or_path, const std::string& models_dir,
                         torch::ScalarType dtype, torch::Device device = torch::kCPU);

}  // namespace dd::cli
