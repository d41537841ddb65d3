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

GenerationParams resolve(const GenerationParams& asked, const ParamDefaults& defaults) {
  GenerationParams request = asked;
  if (defaults.cfg_is_distilled_guidance && request.cfg) {
    if (!request.guidance) request.guidance = request.cfg;
    request.cfg.reset();
  }
  GenerationParams params = request.over(
      defaults.model.over(defaults.family.over(defaults.dialect.over(engine_defaults()))));
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

namespace {

// The fields GenerationParams and GenerationRequest share under the same meaning, paired once:
// visit(params member, request member). The seed's types differ and are converted by hand.
template <typename Visit, typename Params, typename Request>
void for_each_shared_field(Visit&& visit, Params& p, Request& r) {
  visit(p.prompt, r.prompt);
  visit(p.negative_prompt, r.negative_prompt);
  visit(p.width, r.width);
  visit(p.height, r.height);
  visit(p.steps, r.steps);
  visit(p.cfg, r.cfg);
  visit(p.sampler, r.sampler);
  visit(p.spacing, r.spacing);
  visit(p.samples, r.samples);
  visit(p.clip_skip, r.clip_skip);
  visit(p.strength, r.strength);
  visit(p.prompt_weighting, r.prompt_weighting);
  visit(p.guidance, r.guidance);
  visit(p.true_cfg, r.true_cfg);
  visit(p.max_sequence_length, r.max_sequence_length);
}

}  // namespace

GenerationRequest engine_request(const GenerationParams& params) {
  GenerationRequest request;
  for_each_shared_field(
      [](const auto& from, auto& to) {
        if (from) to = *from;
      },
      params, request);
  if (params.seed && *params.seed >= 0) request.seed = static_cast<uint64_t>(*params.seed);
  request.micro = params.micro;
  request.negative_micro = params.negative_micro;
  return request;
}

GenerationParams params_of(const GenerationRequest& request) {
  GenerationParams params;
  for_each_shared_field([](auto& to, const auto& from) { to = from; }, params, request);
  params.seed = static_cast<int64_t>(request.seed);
  params.micro = request.micro;
  params.negative_micro = request.negative_micro;
  return params;
}

}  // namespace dd::pipeline
