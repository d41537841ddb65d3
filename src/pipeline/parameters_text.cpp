#include "pipeline/parameters_text.h"

#include <filesystem>
#include <sstream>

#include "pipeline/family_defaults.h"
#include "pipeline/sampler_names.h"

namespace dd::pipeline {

TextModelInfo text_model_info(const std::string& name, const models::ModelConfig& config) {
  return {name, config.family == models::Family::Flux, takes_distilled_guidance(config)};
}

std::string parameters_text(const GenerationRequest& r, uint64_t seed, int width, int height,
                            const TextModelInfo& model) {
  std::ostringstream text;
  text << r.prompt << "\n";
  if (!r.negative_prompt.empty()) text << "Negative prompt: " << r.negative_prompt << "\n";
  text << "Steps: " << r.steps << ", Sampler: " << sampler_display_name(r.sampler)
       << ", CFG scale: " << r.cfg;
  if (model.distilled_guidance) text << ", Guidance: " << r.guidance;
  if (model.flux && r.true_cfg > 1) text << ", True CFG scale: " << r.true_cfg;
  text << ", Seed: " << seed << ", Size: " << width << "x" << height << ", Model: " << model.name;
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
