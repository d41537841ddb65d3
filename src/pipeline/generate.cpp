#include "pipeline/generate.h"

#include "models/device.h"
#include "pipeline/flux_generate.h"
#include "pipeline/generate_parts.h"
#include "pipeline/lora.h"
#include "pipeline/noise_on_device.h"
#include "pipeline/text_conditioning.h"
#include "sampling/cancelled.h"
#include "sampling/sampler.h"
#include "sampling/seeded_noise.h"
#include "util/error.h"

namespace dd::pipeline {

namespace {

// Encodes a [1, 3, H, W] picture in [-1, 1] into scaled latents, one posterior sample per image.
torch::Tensor encode_image(DiffusionModel& model, const torch::Tensor& image, int images,
                           sampling::NoiseSource& noise) {
  const auto& vae_config = model.config().vae;
  auto posterior = model.vae->encode(model.to_compute(image));
  auto mean = posterior.mean.to(torch::kFloat32).expand({images, -1, -1, -1});
  auto std = posterior.std.to(torch::kFloat32).expand({images, -1, -1, -1});
  return (mean + std * noise.next(mean.sizes())) * vae_config.scaling_factor;
}

// Inpainting inputs of a 9-channel UNet: the mask at latent size and the masked picture's latents.
struct InpaintInputs {
  torch::Tensor mask_latent;
  torch::Tensor masked_latents;
};

torch::Tensor binarised(const torch::Tensor& mask) { return (mask >= 0.5).to(torch::kFloat32); }

InpaintInputs inpaint_inputs(DiffusionModel& model, const torch::Tensor& init_image,
                             const torch::Tensor& request_mask, int images, int64_t latent_h,
                             int64_t latent_w, sampling::NoiseSource& noise) {
  const auto mask = binarised(request_mask);
  InpaintInputs in;
  // Repainted pixels become 0 (grey) in [-1, 1] space, as in the reference pipeline.
  const auto masked = (init_image * 2 - 1) * (mask < 0.5);
  in.masked_latents = encode_image(model, masked, images, noise);
  in.mask_latent =
      torch::nn::functional::interpolate(mask, torch::nn::functional::InterpolateFuncOptions()
                                                   .size(std::vector<int64_t>{latent_h, latent_w})
                                                   .mode(torch::kNearest))
          .expand({images, -1, -1, -1});
  return in;
}

}  // namespace

GenerationResult generate(DiffusionModel& model, const GenerationRequest& request,
                          const GenerationHooks& hooks) {
  if (model.config().is_flux()) return generate_flux(model, request, hooks);
  validate_request(request, model.is_inpainting_model());
  torch::NoGradGuard no_grad;
  const Size size = output_size(model, request);
  const int images = request.samples;
  const int64_t channels = model.config().vae.latent_channels;
  // 8 for every released model; the built-in scene model's VAE downsamples by 4.
  const int64_t factor = model.vae->downscale_factor();
  const int64_t latent_h = size.height / factor, latent_w = size.width / factor;
  std::vector<uint64_t> seeds;
  for (int i = 0; i < images; ++i) seeds.push_back(request.seed + static_cast<uint64_t>(i));
  // One generator per image, so an image depends only on its own seed.
  const torch::Device device = model.device();
  const auto noise = std::make_shared<NoiseOnDevice>(
      hooks.noise ? hooks.noise : std::make_shared<sampling::SeededNoise>(seeds), device);
  // The request's pictures and latents (CPU float32) join the latents on the model's device.
  const auto on_device = [&](const torch::Tensor& t) { return t.defined() ? t.to(device) : t; };
  const torch::Tensor init_image = on_device(request.init_image);
  const torch::Tensor mask = on_device(request.mask);
  const torch::Tensor given_latents = on_device(request.latents);

  ScopedLoras loras(model, request.loras);
  const Guidance guidance = build_guidance(model, request, size);
  auto sampler = make_sampler(model, request);

  const bool nine_channel = model.is_inpainting_model();
  const bool latent_mask = request.mask.defined() && !nine_channel;
  InpaintInputs inpaint;
  if (nine_channel)
    inpaint = inpaint_inputs(model, init_image, mask, images, latent_h, latent_w, *noise);

  // Starting point: pure noise (txt2img, and 9-channel inpainting at strength 1), or the
  // encoded picture noised to the first step's level (img2img, latent-mask inpainting).
  torch::Tensor image_latents, start_noise, x;
  int first_step = 0;
  const bool from_image = request.init_image.defined() && (!nine_channel || request.strength < 1.0);
  if (from_image) {
    image_latents = encode_image(model, init_image * 2 - 1, images, *noise);
    first_step = sampler->img2img_first_step(request.steps, request.strength);
    start_noise = given_latents.defined() ? given_latents : noise->next(image_latents.sizes());
    x = sampler->add_noise(image_latents, start_noise, first_step);
  } else {
    const std::vector<int64_t> shape{images, channels, latent_h, latent_w};
    start_noise = given_latents.defined() ? given_latents.to(torch::kFloat32) : noise->next(shape);
    if (start_noise.sizes() != at::IntArrayRef(shape))
      throw Error("initial latents must have shape " + c10::str(at::IntArrayRef(shape)));
    x = start_noise * sampler->init_noise_sigma();
  }

  auto denoise = [&](const torch::Tensor& model_input, double timestep) {
    auto input = guidance.cfg ? torch::cat({model_input, model_input}) : model_input;
    if (nine_channel) {
      auto extra = torch::cat({inpaint.mask_latent, inpaint.masked_latents}, 1);
      input = torch::cat({input, guidance.cfg ? torch::cat({extra, extra}) : extra}, 1);
    }
    auto t = torch::full({input.size(0)}, timestep,
                         torch::TensorOptions(torch::kFloat32).device(device));
    auto out = model.unet
                   ->forward(model.to_compute(input), t, guidance.context, guidance.text_embeds,
                             guidance.time_ids)
                   .to(torch::kFloat32);
    if (!guidance.cfg) return out;
    auto halves = out.chunk(2);
    return halves[0] + request.cfg * (halves[1] - halves[0]);
  };

  torch::Tensor keep;  // latent-mask inpainting: 1 where the original picture is kept
  if (latent_mask)
    keep = 1 - torch::nn::functional::interpolate(
                   binarised(mask), torch::nn::functional::InterpolateFuncOptions()
                                        .size(std::vector<int64_t>{latent_h, latent_w})
                                        .mode(torch::kNearest));
  const int total = static_cast<int>(sampler->timesteps().size());
  auto on_step = [&](int step, int steps, torch::Tensor& latents) {
    if (latent_mask) {
      // Outside the mask, put back the original picture at the noise level of the next step.
      auto original = step + 1 < total ? sampler->add_noise(image_latents, start_noise, step + 1)
                                       : image_latents;
      latents = keep * original + (1 - keep) * latents;
    }
    // On a GPU the step's work is queued, not done: wait for it, so that progress counts finished
    // steps and a cancellation stops within one (the only host synchronisation in a step).
    models::synchronize(device);
    // Progress counts only the steps this request runs (img2img skips the first ones).
    if (hooks.latents) hooks.latents(step - first_step, steps - first_step, latents);
    return hooks.progress ? hooks.progress(step - first_step, steps - first_step) : true;
  };
  x = sampler->run(x, first_step, denoise, noise.get(), on_step);

  GenerationResult result;
  result.latents = x.to(torch::kCPU);
  result.images = decode_latents(model, x).to(torch::kCPU);
  result.seeds = seeds;
  return result;
}

}  // namespace dd::pipeline
