#pragma once
// The A1111-style `parameters` text stored in every PNG, so a picture says how it was made:
//   <prompt>
//   Negative prompt: <negative>
//   Steps: 20, Sampler: Euler a, CFG scale: 7.5, Seed: 1, Size: 512x512, Model: sd15, ...
#include <cstdint>
#include <string>

#include "pipeline/request.h"

namespace dd::pipeline {

std::string parameters_text(const GenerationRequest& request, uint64_t seed, int width, int height,
                            const std::string& model_name);

}  // namespace dd::pipeline
