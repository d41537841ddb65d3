#include "pipeline/generate_batch.h"

#include <sstream>

#include "models/device.h"
#include "pipeline/generate.h"
#include "pipeline/generate_parts.h"
#include "pipeline/noise_on_device.h"
#include "sampling/seeded_noise.h"
#include "util/error.h"

namespace dd::pipeline {

namespace {

// Each request's guidance, rearranged as one: every unconditional row first, then every
// conditional one, in request order; nullopt when the contexts' token counts differ.
std::optional<Guidance> joined_guidance(DiffusionModel& model,
                                        const std::vector<GenerationRequest>& requests, Size size) {
  std::vector<Guidance> each;
  for (const auto& request : requests) each.push_back(build_guidance(model, request, size));
  for (const auto& g : each)
    if (g.context.size(1) != each.front().context.size(1)) return std::nullopt;
  Guidance joined;
  joined.cfg = each.front().cfg;
  auto join = [&](torch::Tensor Guidance::*field) {
    if (!(each.front().*field).defined()) return torch::Tensor();
    std::vector<torch::Tensor> uncond, cond;
    for (const auto& g : each) {
      const auto& t = g.*field;
      if (!joined.cfg) {
        cond.push_back(t);
        continue;
      }
      const auto halves = t.chunk(2);
      uncond.push_back(halves[0]);
      cond.push_back(halves[1]);
    }
    uncond.insert(uncond.end(), cond.begin(), cond.end());
    return torch::cat(uncond, 0);
  };
  joined.context = join(&Guidance::context);
  joined.text_embeds = join(&Guidance::text_embeds);
  joined.time_ids = join(&Guidance::time_ids);
  return joined;
}

}  // namespace

std::string batch_key(const GenerationRequest& r) {
  if (r.init_image.defined() || r.mask.defined() || r.latents.defined() || !r.loras.empty() ||
      !r.scheduler_class.empty())
    return "";
  std::ostringstream key;
  key << r.width << 'x' << r.height << '/' << r.steps << '/' << r.sampler << '/' << r.spacing << '/'
      << (r.cfg > 1.0 ? "cfg" : "nocfg");
  return key.str();
}

std::vector<GenerationResult> generate_batch(DiffusionModel& model,
                                             const std::vector<GenerationRequest>& requests,
                                             const GenerationHooks& hooks) {
  if (requests.empty()) return {};
  if (requests.size() == 1 || model.config().is_flux())
    throw Error("generate_batch: takes two or more SD-family requests (one: use generate)");
  const std::string key = batch_key(requests.front());
  for (const auto& request : requests) {
    if (key.empty() || batch_key(request) != key)
      throw Error("generate_batch: the requests differ in size, sampler, steps or guidance");
    validate_request(request, model.is_inpainting_model());
  }
  torch::NoGradGuard no_grad;
  const auto& first = requests.front();
  const Size size = output_size(model, first);
  const auto guidance = joined_guidance(model, requests, size);
  if (!guidance) {  // prompts of different lengths: no shared context tensor
    std::vector<GenerationResult> results;
    for (const auto& request : requests) results.push_back(generate(model, request, hooks));
    return results;
  }

  std::vector<uint64_t> seeds;
  std::vector<float> scales;  // each image's guidance scale
  for (const auto& request : requests)
    for (int i = 0; i < request.samples; ++i) {
      seeds.push_back(request.seed + static_cast<uint64_t>(i));
      scales.push_back(static_cast<float>(request.cfg));
    }
  const torch::Device device = model.device();
  const int64_t images = static_cast<int64_t>(seeds.size());
  const auto noise =
      std::make_shared<NoiseOnDevice>(std::make_shared<sampling::SeededNoise>(seeds), device);
  const auto cfg = torch::tensor(scales).view({images, 1, 1, 1}).to(device);
  const int64_t factor = model.vae->downscale_factor();
  const std::vector<int64_t> shape{images, model.config().vae.latent_channels, size.height / factor,
                                   size.width / factor};
  auto sampler = make_sampler(model, first);
  auto x = noise->next(shape) * sampler->init_noise_sigma();

  auto denoise = [&](const torch::Tensor& model_input, double timestep) {
    const auto input = guidance->cfg ? torch::cat({model_input, model_input}) : model_input;
    const auto t = torch::full({input.size(0)}, timestep,
                               torch::TensorOptions(torch::kFloat32).device(device));
    auto out = model.unet
                   ->forward(model.to_compute(input), t, guidance->context, guidance->text_embeds,
                             guidance->time_ids)
                   .to(torch::kFloat32);
    if (!guidance->cfg) return out;
    const auto halves = out.chunk(2);
    return halves[0] + cfg * (halves[1] - halves[0]);
  };
  auto on_step = [&](int step, int steps, torch::Tensor& latents) {
    models::synchronize(device);  // progress counts finished steps (see generate.cpp)
    if (hooks.latents) hooks.latents(step, steps, latents);
    return hooks.progress ? hooks.progress(step, steps) : true;
  };
  x = sampler->run(x, 0, denoise, noise.get(), on_step);

  const auto pictures = decode_latents(model, x).to(torch::kCPU);
  const auto latents = x.to(torch::kCPU);
  std::vector<GenerationResult> results;
  int64_t row = 0;
  for (const auto& request : requests) {
    GenerationResult result;
    result.images = pictures.narrow(0, row, request.samples).contiguous();
    result.latents = latents.narrow(0, row, request.samples).contiguous();
    result.seeds.assign(seeds.begin() + row, seeds.begin() + row + request.samples);
    row += request.samples;
    results.push_back(std::move(result));
  }
  return results;
}

}  // namespace dd::pipeline
