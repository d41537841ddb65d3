#include "pipeline/resolve.h"

#include <random>

#include "pipeline/sampler_names.h"
#include "util/error.h"

namespace dd::pipeline {

const GenerationParams& engine_defaults() {
  static const GenerationParams defaults = [] {
    GenerationParams params = params_of(GenerationRequest{});
    // Size is the model's and the seed random: neither has an engine-wide value.
    params.width = params.height = std::nullopt;
    params.seed = std::nullopt;
    return params;
  }();
  return defaults;
}

GenerationParams resolve(const GenerationParams& request, const ParamDefaults& defaults) {
  GenerationParams params =
      request.over(defaults.model.over(defaults.dialect.over(engine_defaults())));
  if (!params.width) params.width = defaults.native_width;
  if (!params.height) params.height = defaults.native_height;
  if (!params.seed || *params.seed < 0) params.seed = std::random_device{}() & 0xffffffffu;
  try {
    params.sampler = canonical_sampler_name(*params.sampler);
  } catch (const Error& e) {
    throw InvalidParameter("sampler", e.what());
  }
  validate_params(params);
  return params;
}

GenerationRequest engine_request(const GenerationParams& p) {
  GenerationRequest r;
  r.prompt = p.prompt.value_or(r.prompt);
  r.negative_prompt = p.negative_prompt.value_or(r.negative_prompt);
  r.width = p.width.value_or(r.width);
  r.height = p.height.value_or(r.height);
  r.steps = p.steps.value_or(r.steps);
  r.cfg = p.cfg.value_or(r.cfg);
  r.sampler = p.sampler.value_or(r.sampler);
  r.spacing = p.spacing.value_or(r.spacing);
  if (p.seed && *p.seed >= 0) r.seed = static_cast<uint64_t>(*p.seed);
  r.samples = p.samples.value_or(r.samples);
  r.clip_skip = p.clip_skip.value_or(r.clip_skip);
  r.strength = p.strength.value_or(r.strength);
  r.prompt_weighting = p.prompt_weighting.value_or(r.prompt_weighting);
  r.micro = p.micro;
  r.negative_micro = p.negative_micro;
  return r;
}

GenerationParams params_of(const GenerationRequest& r) {
  GenerationParams p;
  p.prompt = r.prompt;
  p.negative_prompt = r.negative_prompt;
  p.width = r.width;
  p.height = r.height;
  p.steps = r.steps;
  p.cfg = r.cfg;
  p.sampler = r.sampler;
  p.spacing = r.spacing;
  p.seed = static_cast<int64_t>(r.seed);
  p.samples = r.samples;
  p.clip_skip = r.clip_skip;
  p.strength = r.strength;
  p.prompt_weighting = r.prompt_weighting;
  p.micro = r.micro;
  p.negative_micro = r.negative_micro;
  return p;
}

}  // namespace dd::pipeline
