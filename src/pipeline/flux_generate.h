#pragma once
// FLUX.1 generation (diffusers' FluxPipeline, FluxImg2ImgPipeline, FluxInpaintPipeline and
// FluxFillPipeline): flow-matching Euler over the transformer's velocity on packed latents.
//  - txt2img: from seeded noise over the shifted sigma schedule;
//  - img2img: the encoded picture noised to the schedule's sigma at t_start (strength);
//  - inpainting with a 64-channel model: img2img, and after every step the kept area is put
//    back at the next sigma's noise level;
//  - FLUX.1 Fill (384 input channels): the masked picture's latents and the packed mask ride
//    along every step; the whole schedule runs.
// Guidance: dev and Fill models embed `guidance` (distilled); schnell has no guidance. A
// `true_cfg` above 1 adds a real second pass with the negative prompt.
#include "pipeline/model.h"
#include "pipeline/request.h"

namespace dd::pipeline {

// The VAE's latents of a [1, 3, H, W] picture in [-1, 1] for n images, each a posterior sample
// (mean + std * noise), in the pipeline's space ((sample - shift) * scale), unpacked [n, 16, h, w].
torch::Tensor flux_picture_latents(DiffusionModel& model, const torch::Tensor& picture, int64_t n,
                                   sampling::NoiseSource& noise);

GenerationResult generate_flux(DiffusionModel& model, const GenerationRequest& request,
                               const GenerationHooks& hooks);

}  // namespace dd::pipeline
