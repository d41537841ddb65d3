#pragma once
// Several text-to-image requests for one SD-family model run as one batch through the UNet:
// each image keeps its own prompt, negative prompt, seed and guidance scale, and comes out as
// generate() makes it alone (the same seeded draws; only the order of float additions inside
// the batched matrix products differs). What cannot differ inside a batch is what shapes the
// pass itself: the size, sampler, steps and spacing, whether CFG runs, and the weights (no
// LoRAs); requests with input pictures, given latents or an exact scheduler are not batched.
#include <string>
#include <vector>

#include "pipeline/model.h"
#include "pipeline/request.h"

namespace dd::pipeline {

// Requests with equal keys can share a batch on one model; "" for one that cannot be batched.
// `request` is resolved (pipeline/resolve.h: no unset size or steps).
std::string batch_key(const GenerationRequest& request);

// One result per request, in order. The hooks see the whole batch: `latents` gets every
// request's rows in order (request i's `samples` rows after those of the requests before it),
// `progress` returning false stops the whole batch (dd::Cancelled). Requests whose prompts
// encode to different lengths (long prompts in 77-token chunks) run one after another instead.
std::vector<GenerationResult> generate_batch(DiffusionModel& model,
                                             const std::vector<GenerationRequest>& requests,
                                             const GenerationHooks& hooks = {});

}  // namespace dd::pipeline
