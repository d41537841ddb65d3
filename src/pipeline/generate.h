#pragma once
// txt2img, img2img and inpainting (dedicated 9-channel checkpoints, or latent masking with any
// checkpoint) for one request: encode the prompts, run the sampler over the UNet with
// classifier-free guidance, decode with the VAE.
#include "pipeline/model.h"
#include "pipeline/request.h"

namespace dd::pipeline {

GenerationResult generate(DiffusionModel& model, const GenerationRequest& request,
                          const GenerationHooks& hooks = {});

}  // namespace dd::pipeline
