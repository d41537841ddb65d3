#pragma once
// Prompt -> the tensors the UNet is conditioned on. SD 1.x/2.x: the text encoder's last hidden
// state (or an earlier layer with CLIP skip). SDXL: both encoders' penultimate hidden states
// concatenated, plus the second encoder's projected pooled embedding.
#include <torch/torch.h>

#include <string>

#include "pipeline/conditioning.h"
#include "pipeline/model.h"

namespace dd::pipeline {

struct PromptOptions {
  int clip_skip = 1;             // A1111 numbering
  bool prompt_weighting = true;  // A1111 (word:1.2) syntax
  // SDXL encodes an empty negative prompt as zeros (diffusers' force_zeros_for_empty_prompt).
  bool zeros_for_empty = false;
};

// Answers from the model's prompt cache when it can.
Conditioning encode_prompt(DiffusionModel& model, const std::string& prompt,
                           const PromptOptions& options);

}  // namespace dd::pipeline
