#pragma once
// From what a caller asked for to what the engine runs: the one place unset parameters get
// their values. Every front end (CLI generate, evaluate, bench, the server's worker) goes
// through resolve(), so the same model, prompt and seed make the same image everywhere.
#include "pipeline/generation_params.h"
#include "pipeline/request.h"

namespace dd::pipeline {

// Where unset fields come from, most specific first (after the request itself).
struct ParamDefaults {
  GenerationParams model;    // the model's sidecar defaults (service/model_sidecar.h)
  GenerationParams family;   // its family's own (pipeline/family_defaults.h), e.g. FLUX's steps
  GenerationParams dialect;  // an API dialect's own, where its seed document fixes one
  int native_width = 0;      // the model's native size, for unset width and height
  int native_height = 0;
  // FLUX dev and Fill: a request's CFG scale (every dialect's guidance_scale / cfg_scale) is
  // their distilled guidance, as diffusers' FluxPipeline's guidance_scale is, unless the request
  // sets `guidance` itself; the real CFG pass is `true_cfg`.
  bool cfg_is_distilled_guidance = false;
};

// The engine's defaults: the initial values of GenerationRequest's members, declared there once.
const GenerationParams& engine_defaults();

// Every field set: the request's value, else the model's default, else its family's, else the
// dialect's, else the engine's; width and height default to the model's native size, an unset or
// negative seed is drawn at random, and the sampler gets its engine name. A value out of the
// engine's limits is an InvalidParameter naming the field.
GenerationParams resolve(const GenerationParams& request, const ParamDefaults& defaults);

// Checks the fields that are set against the engine's limits (pipeline/request.cpp).
void validate_params(const GenerationParams& params);

// The engine request of resolved params (tensors, LoRAs and scheduler overrides are added by
// the caller), and back.
GenerationRequest engine_request(const GenerationParams& resolved);
GenerationParams params_of(const GenerationRequest& request);

}  // namespace dd::pipeline
