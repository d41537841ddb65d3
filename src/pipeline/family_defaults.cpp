#include "pipeline/family_defaults.h"

namespace dd::pipeline {

namespace {

constexpr int kSchnellSteps = 4;  // timestep-distilled: a few steps are the point
constexpr int kSchnellSequenceLength = 256;
constexpr int kDevSteps = 28;
constexpr double kDevGuidance = 3.5;
constexpr int kDevSequenceLength = 512;

}  // namespace

bool is_guidance_distilled(const models::ModelConfig& config) {
  return config.is_flux() && config.flux.guidance_embed;
}

GenerationParams flux_defaults(bool guidance_distilled) {
  GenerationParams params;
  params.sampler = "euler";
  params.cfg = 1.0;  // guidance is distilled (dev) or absent (schnell): one pass per step
  if (guidance_distilled) {
    params.steps = kDevSteps;
    params.guidance = kDevGuidance;
    params.max_sequence_length = kDevSequenceLength;
  } else {
    params.steps = kSchnellSteps;
    params.max_sequence_length = kSchnellSequenceLength;
  }
  return params;
}

GenerationParams family_defaults(const models::ModelConfig& config) {
  if (config.family != models::Family::Flux) return {};
  return flux_defaults(is_guidance_distilled(config));
}

bool takes_distilled_guidance(const models::ModelConfig& config) {
  return config.family == models::Family::Flux && is_guidance_distilled(config);
}

ParamDefaults param_defaults(const models::ModelConfig& config, const GenerationParams& sidecar,
                             const GenerationParams& dialect) {
  ParamDefaults defaults;
  defaults.model = sidecar;
  defaults.family = family_defaults(config);
  defaults.dialect = dialect;
  defaults.native_width = config.default_width;
  defaults.native_height = config.default_height;
  defaults.cfg_is_distilled_guidance = is_guidance_distilled(config);
  return defaults;
}

}  // namespace dd::pipeline
