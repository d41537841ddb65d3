#pragma once
// The A1111-style `parameters` text stored in every PNG, so a picture says how it was made:
//   <prompt>
//   Negative prompt: <negative>
//   Steps: 20, Sampler: Euler a, CFG scale: 7.5, Seed: 1, Size: 512x512, Model: sd15, ...
// A FLUX dev model adds its distilled guidance after the CFG scale ("CFG scale: 1, Guidance:
// 3.5, ..."), and a FLUX model run with a true CFG pass "True CFG scale: 4".
#include <cstdint>
#include <string>

#include "models/config.h"
#include "pipeline/request.h"

namespace dd::pipeline {

// What the text says of the model: its name, and which of the FLUX parameters it used (the
// others' values are ignored by the engine, so recording them would mislead).
struct TextModelInfo {
  std::string name;
  bool flux = false;                // true_cfg applies
  bool distilled_guidance = false;  // guidance applies (FLUX dev and Fill)
};

TextModelInfo text_model_info(const std::string& name, const models::ModelConfig& config);

std::string parameters_text(const GenerationRequest& request, uint64_t seed, int width, int height,
                            const TextModelInfo& model);

}  // namespace dd::pipeline
