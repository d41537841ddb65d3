#pragma once
// A model family's own defaults: the values its models are meant to run with, which a
// dialect's default (e.g. /sd's 30 steps) must not override but a model's sidecar or the
// request may. They sit between the sidecar and the dialect in resolve() (ParamDefaults::family).
#include "models/config.h"
#include "pipeline/generation_params.h"
#include "pipeline/resolve.h"

namespace dd::pipeline {

// Whether a FLUX model takes distilled guidance as an input (dev and Fill do, through their
// guidance embedder; schnell does not). False for every other family.
bool is_guidance_distilled(const models::ModelConfig& config);

// FLUX.1's defaults, as its reference pipelines use them: Euler (flow matching), no
// unconditional pass (cfg 1); schnell 4 steps over 256 T5 tokens, dev 28 steps with
// guidance 3.5 over 512 T5 tokens.
GenerationParams flux_defaults(bool guidance_distilled);

// The family's defaults of this model: FLUX's above, nothing for the SD families (the engine's
// defaults are theirs).
GenerationParams family_defaults(const models::ModelConfig& config);

// Where a model's unset parameters come from (resolve.h): its sidecar's defaults, its family's,
// the dialect's, its native size, and whether its CFG scale means distilled guidance.
ParamDefaults param_defaults(const models::ModelConfig& config, const GenerationParams& sidecar,
                             const GenerationParams& dialect = {});

// Whether the model uses `guidance` at all, so the parameters text records it.
bool takes_distilled_guidance(const models::ModelConfig& config);

}  // namespace dd::pipeline
