#pragma once
// kohya / A1111 LoRA files: `lora_unet_<module>`, `lora_te_<module>` (SDXL: `lora_te1_`,
// `lora_te2_`), each with `.lora_down.weight`, `.lora_up.weight` and an optional 0-d `.alpha`.
// Module names are the diffusers/transformers module paths with '.' replaced by '_'.
//
// Applying merges `W += weight * (alpha / rank) * (up @ down)` into the model's weights for one
// request; ScopedLoras puts the original weights back when it goes out of scope, so the model is
// never reloaded and never left modified.
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "pipeline/model.h"

namespace dd::pipeline {

struct LoraSpec {
  std::string path;
  double weight = 1.0;
};

// Parses "FILE:WEIGHT" (weight optional, default 1).
LoraSpec parse_lora_spec(const std::string& text);

struct LoraModule {
  std::string name;  // kohya module name, e.g. lora_unet_down_blocks_0_attentions_0_proj_in
  torch::Tensor down, up;
  double alpha = 0;  // alpha / rank scales the product
};

// Reads and validates a LoRA file (pairs complete, ranks agree, no other keys).
std::vector<LoraModule> read_lora_file(const std::string& path);

class ScopedLoras {
 public:
  // Validates every LoRA against the model before changing anything.
  ScopedLoras(DiffusionModel& model, const std::vector<LoraSpec>& loras);
  ~ScopedLoras();
  ScopedLoras(const ScopedLoras&) = delete;
  ScopedLoras& operator=(const ScopedLoras&) = delete;

 private:
  std::map<std::string, std::pair<torch::Tensor, torch::Tensor>> saved_;  // key -> (param, copy)
  DiffusionModel* model_ = nullptr;
  std::string previous_text_encoder_loras_;
};

}  // namespace dd::pipeline
