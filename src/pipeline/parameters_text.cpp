#include "pipeline/parameters_text.h"

#include <filesystem>
#include <sstream>

#include "pipeline/sampler_names.h"

namespace dd::pipeline {

std::string parameters_text(const GenerationRequest& r, uint64_t seed, int width, int height,
                            const std::string& model_name) {
  std::ostringstream text;
  text << r.prompt << "\n";
  if (!r.negative_prompt.empty()) text << "Negative prompt: " << r.negative_prompt << "\n";
  text << "Steps: " << r.steps << ", Sampler: " << sampler_display_name(r.sampler)
       << ", CFG scale: " << r.cfg << ", Seed: " << seed << ", Size: " << width << "x" << height
       << ", Model: " << model_name;
  if (!r.spacing.empty()) text << ", Schedule type: " << r.spacing;
  if (r.clip_skip > 1) text << ", Clip skip: " << r.clip_skip;
  if (r.init_image.defined()) text << ", Denoising strength: " << r.strength;
  if (!r.loras.empty()) {
    text << ", Lora weights: \"";
    for (size_t i = 0; i < r.loras.size(); ++i)
      text << (i ? ", " : "") << std::filesystem::path(r.loras[i].path).stem().string() << ": "
           << r.loras[i].weight;
    text << "\"";
  }
  text << ", Version: diffusiond";
  return text.str();
}

}  // namespace dd::pipeline
