#include "pipeline/generate_parts.h"

#include "pipeline/text_conditioning.h"
#include "util/error.h"

namespace dd::pipeline {

Size output_size(const DiffusionModel& model, const GenerationRequest& request) {
  if (request.init_image.defined()) {
    const int h = static_cast<int>(request.init_image.size(2));
    const int w = static_cast<int>(request.init_image.size(3));
    if (h % 8 != 0 || w % 8 != 0)
      throw Error("init image is " + std::to_string(w) + "x" + std::to_string(h) +
                  "; its sides must be multiples of 8");
    return {w, h};
  }
  return {request.width > 0 ? request.width : model.config().default_width,
          request.height > 0 ? request.height : model.config().default_height};
}

std::unique_ptr<sampling::Sampler> make_sampler(const DiffusionModel& model,
                                                const GenerationRequest& request) {
  if (!request.scheduler_class.empty())
    return sampling::Sampler::from_diffusers(request.scheduler_class, request.scheduler_config,
                                             request.steps);
  const auto base = schedule_config_for(model.config());
  return sampling::Sampler::create(request.sampler, base, request.steps, request.spacing);
}

namespace {

// SDXL's micro-conditioning ids: original size, crop top-left, target size. Unset values take
// the reference's defaults (the output size, no crop).
torch::Tensor sdxl_time_ids(const MicroConditioning& micro, Size size) {
  const std::array<int, 2> output{size.height, size.width};
  const auto original = micro.original_size.value_or(output);
  const auto crop = micro.crop_top_left.value_or(std::array<int, 2>{0, 0});
  const auto target = micro.target_size.value_or(output);
  return torch::tensor({static_cast<float>(original[0]), static_cast<float>(original[1]),
                        static_cast<float>(crop[0]), static_cast<float>(crop[1]),
                        static_cast<float>(target[0]), static_cast<float>(target[1])})
      .unsqueeze(0);
}

// The negative prompt's micro-conditioning: each unset value falls back to the positive one.
MicroConditioning negative_micro(const GenerationRequest& request) {
  MicroConditioning m = request.negative_micro;
  if (!m.original_size) m.original_size = request.micro.original_size;
  if (!m.crop_top_left) m.crop_top_left = request.micro.crop_top_left;
  if (!m.target_size) m.target_size = request.micro.target_size;
  return m;
}

}  // namespace

Guidance build_guidance(DiffusionModel& model, const GenerationRequest& request, Size size) {
  const bool sdxl = model.config().family == models::Family::SDXL;
  PromptOptions options{request.clip_skip, request.prompt_weighting, false};
  Guidance g;
  g.cfg = request.cfg > 1.0;
  const auto cond = encode_prompt(model, request.prompt, options);
  const int64_t n = request.samples;
  std::vector<torch::Tensor> contexts{cond.context.expand({n, -1, -1})};
  std::vector<torch::Tensor> pooled;
  if (cond.pooled.defined()) pooled.push_back(cond.pooled.expand({n, -1}));
  if (g.cfg) {
    options.zeros_for_empty = sdxl;
    const auto uncond = encode_prompt(model, request.negative_prompt, options);
    contexts.insert(contexts.begin(), uncond.context.expand({n, -1, -1}));
    if (uncond.pooled.defined()) pooled.insert(pooled.begin(), uncond.pooled.expand({n, -1}));
  }
  g.context = torch::cat(contexts, 0).to(model.dtype());
  if (sdxl) {
    g.text_embeds = torch::cat(pooled, 0).to(model.dtype());
    std::vector<torch::Tensor> ids{sdxl_time_ids(request.micro, size).expand({n, -1})};
    if (g.cfg)
      ids.insert(ids.begin(), sdxl_time_ids(negative_micro(request), size).expand({n, -1}));
    g.time_ids = torch::cat(ids, 0).to(model.device());
  }
  return g;
}

torch::Tensor decode_latents(DiffusionModel& model, const torch::Tensor& latents) {
  auto z = model.to_compute(latents / model.config().vae.scaling_factor);
  auto image = model.vae->decode(z).to(torch::kFloat32);
  return (image / 2 + 0.5).clamp(0, 1).permute({0, 2, 3, 1}).contiguous();
}

}  // namespace dd::pipeline
