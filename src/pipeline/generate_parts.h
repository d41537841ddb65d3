#pragma once
// The steps of an SD-family generation that one request (generate.cpp) and a batch of requests
// (generate_batch.cpp) share.
#include <memory>

#include "pipeline/model.h"
#include "pipeline/request.h"
#include "sampling/sampler.h"

namespace dd::pipeline {

struct Size {
  int width, height;
};

// The request's size: its init image's, else the asked one, else the model's default.
Size output_size(const DiffusionModel& model, const GenerationRequest& request);
std::unique_ptr<sampling::Sampler> make_sampler(const DiffusionModel& model,
                                                const GenerationRequest& request);

// The UNet's conditioning for `request.samples` images: with CFG the unconditional rows first,
// then the conditional ones (each `samples` rows).
struct Guidance {
  torch::Tensor context;
  torch::Tensor text_embeds;  // SDXL only
  torch::Tensor time_ids;     // SDXL only
  bool cfg = false;
};
Guidance build_guidance(DiffusionModel& model, const GenerationRequest& request, Size size);

// Scaled latents to [N, H, W, 3] pictures in [0, 1].
torch::Tensor decode_latents(DiffusionModel& model, const torch::Tensor& latents);

}  // namespace dd::pipeline
