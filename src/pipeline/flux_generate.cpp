#include "pipeline/flux_generate.h"

#include "models/device.h"
#include "pipeline/flux_conditioning.h"
#include "pipeline/flux_latents.h"
#include "pipeline/noise_on_device.h"
#include "sampling/cancelled.h"
#include "sampling/flow_match.h"
#include "sampling/seeded_noise.h"
#include "util/error.h"

namespace dd::pipeline {

namespace {

struct FluxSize {
  int width, height;  // pixels
  int64_t h, w;       // unpacked latent size: 2 * (side / 16)
  int64_t tokens() const { return (h / 2) * (w / 2); }
};

FluxSize flux_size(const DiffusionModel& model, const GenerationRequest& request) {
  int width = request.width > 0 ? request.width : model.config().default_width;
  int height = request.height > 0 ? request.height : model.config().default_height;
  if (request.init_image.defined()) {
    height = static_cast<int>(request.init_image.size(2));
    width = static_cast<int>(request.init_image.size(3));
  }
  // The reference silently rounds other sizes down; an image of another size than asked for
  // would surprise a caller more than a clear refusal.
  if (width % 16 != 0 || height % 16 != 0)
    throw InvalidParameter(request.init_image.defined() ? "image" : "width",
                           "FLUX.1 needs sides that are multiples of 16, got " +
                               std::to_string(width) + "x" + std::to_string(height));
  return {width, height, 2 * (height / 16), 2 * (width / 16)};
}

// The conditioning of every transformer call: text, pooled text, ids, guidance.
struct FluxText {
  torch::Tensor txt, y, txt_ids;
};

FluxText flux_text(DiffusionModel& model, const std::string& prompt, int length, int64_t n) {
  const auto c = encode_flux_prompt(model, prompt, length);
  return {c.context.expand({n, -1, -1}), c.pooled.expand({n, -1}),
          flux_text_ids(length).to(model.device())};
}

}  // namespace

torch::Tensor flux_picture_latents(DiffusionModel& model, const torch::Tensor& picture, int64_t n,
                                   sampling::NoiseSource& noise) {
  const auto& vae = model.config().vae;
  auto posterior = model.vae->encode(model.to_compute(picture));
  auto mean = posterior.mean.to(torch::kFloat32).expand({n, -1, -1, -1});
  auto std = posterior.std.to(torch::kFloat32).expand({n, -1, -1, -1});
  return (mean + std * noise.next(mean.sizes()) - vae.shift_factor) * vae.scaling_factor;
}

namespace {

torch::Tensor decode(DiffusionModel& model, const torch::Tensor& latents) {
  const auto& vae = model.config().vae;
  auto z = model.to_compute(latents / vae.scaling_factor + vae.shift_factor);
  auto image = model.vae->decode(z).to(torch::kFloat32);
  return (image / 2 + 0.5).clamp(0, 1).permute({0, 2, 3, 1}).contiguous();
}

sampling::FlowSchedule schedule_for(const DiffusionModel& model, int steps, int64_t tokens) {
  const auto config = sampling::flow_match_config_from_diffusers(model.config().scheduler_config);
  return sampling::flow_match_schedule(steps, config, sampling::flow_match_mu(tokens, config));
}

void check_flux_request(const DiffusionModel& model, const GenerationRequest& r) {
  validate_request(r, model.is_flux_fill_model());
  if (r.sampler != "euler" && r.scheduler_class.empty())
    throw InvalidParameter("sampler", "FLUX.1 models sample with 'euler' (flow matching); '" +
                                          r.sampler + "' is for Stable Diffusion models");
  if (!r.loras.empty())
    throw InvalidParameter("loras", "LoRAs are not supported for FLUX.1 models yet");
}

}  // namespace

GenerationResult generate_flux(DiffusionModel& model, const GenerationRequest& request,
                               const GenerationHooks& hooks) {
  check_flux_request(model, request);
  torch::NoGradGuard no_grad;
  const FluxSize size = flux_size(model, request);
  const int64_t n = request.samples;
  const torch::Device device = model.device();
  std::vector<uint64_t> seeds;
  for (int i = 0; i < n; ++i) seeds.push_back(request.seed + static_cast<uint64_t>(i));
  const auto noise = std::make_shared<NoiseOnDevice>(
      hooks.noise ? hooks.noise : std::make_shared<sampling::SeededNoise>(seeds), device);
  const auto on_device = [&](const torch::Tensor& t) { return t.defined() ? t.to(device) : t; };
  const torch::Tensor picture = on_device(request.init_image);
  const torch::Tensor mask = on_device(request.mask);

  const int length = request.max_sequence_length > 0 ? request.max_sequence_length
                                                     : model.config().max_sequence_length;
  const FluxText text = flux_text(model, request.prompt, length, n);
  const bool true_cfg = request.true_cfg > 1.0;
  FluxText negative;
  if (true_cfg) negative = flux_text(model, request.negative_prompt, length, n);

  const auto schedule = schedule_for(model, request.steps, size.tokens());
  const bool fill = model.is_flux_fill_model();
  const bool from_picture = picture.defined() && !fill;
  const int first =
      from_picture ? sampling::flow_match_start(request.steps, request.strength).t_start : 0;
  if (first >= request.steps)
    throw InvalidParameter("strength", "strength " + std::to_string(request.strength) +
                                           " leaves no step to run with " +
                                           std::to_string(request.steps) + " steps");
  const std::vector<int64_t> shape{n, model.config().vae.latent_channels, size.h, size.w};

  // Starting latents (unpacked), and what inpainting keeps.
  torch::Tensor image_latents, start_noise, x, conditioning, keep_mask;
  if (fill) {
    // Repainted pixels become 0 (grey), as in the reference.
    const auto mask_pre = binarize_mask(mask);
    const auto masked = fill_masked_image(picture * 2 - 1, mask_pre);
    const auto masked_latents = flux_picture_latents(model, masked, n, *noise);
    conditioning =
        fill_conditioning(pack_latents(masked_latents),
                          fill_mask_packed(mask_pre, size.h, size.w).expand({n, -1, -1}));
  }
  if (from_picture) {
    image_latents = flux_picture_latents(model, picture * 2 - 1, n, *noise);
    start_noise = request.latents.defined() ? on_device(request.latents) : noise->next(shape);
    const float sigma = schedule.sigmas[first];
    x = sigma * start_noise + (1 - sigma) * image_latents;
    if (mask.defined()) keep_mask = 1 - inpaint_mask_packed(binarize_mask(mask), size.h, size.w);
  } else {
    x = request.latents.defined() ? on_device(request.latents).to(torch::kFloat32)
                                  : noise->next(shape);
  }
  if (x.sizes() != at::IntArrayRef(shape))
    throw Error("initial latents must have shape " + c10::str(at::IntArrayRef(shape)));

  x = pack_latents(x);
  const auto img_ids = flux_image_ids(size.h, size.w).to(device);
  const auto image_packed = image_latents.defined() ? pack_latents(image_latents) : torch::Tensor();
  const auto noise_packed = start_noise.defined() ? pack_latents(start_noise) : torch::Tensor();
  const auto options = torch::TensorOptions(torch::kFloat32).device(device);
  const auto guidance = model.config().flux.guidance_embed
                            ? torch::full({n}, request.guidance, options)
                            : torch::Tensor();
  const auto velocity = [&](const torch::Tensor& latents, float sigma, const FluxText& t) {
    models::FluxInputs in;
    in.img = model.to_compute(fill ? torch::cat({latents, conditioning}, -1) : latents);
    in.img_ids = img_ids;
    in.txt = t.txt.to(in.img.scalar_type());
    in.txt_ids = t.txt_ids;
    in.timesteps = torch::full({n}, sigma, options);
    in.y = t.y.to(in.img.scalar_type());
    in.guidance = guidance;
    return model.flux->forward(in).to(torch::kFloat32);
  };

  const int total = request.steps - first;
  for (int k = first; k < request.steps; ++k) {
    const float sigma = schedule.sigmas[k], next = schedule.sigmas[k + 1];
    auto v = velocity(x, sigma, text);
    if (true_cfg) {
      const auto v_negative = velocity(x, sigma, negative);
      v = v_negative + request.true_cfg * (v - v_negative);
    }
    x = x + (next - sigma) * v;
    if (keep_mask.defined()) {
      // Outside the mask, the original picture at the next step's noise level (none at the end).
      const auto original =
          k + 1 < request.steps ? next * noise_packed + (1 - next) * image_packed : image_packed;
      x = keep_mask * original + (1 - keep_mask) * x;
    }
    models::synchronize(device);
    const int done = k - first;  // as the SD samplers count: the step just finished, from 0
    if (hooks.latents) hooks.latents(done, total, unpack_latents(x, size.h, size.w));
    if (hooks.progress && !hooks.progress(done, total)) throw Cancelled();
  }

  GenerationResult result;
  const auto latents = unpack_latents(x, size.h, size.w);
  result.latents = latents.to(torch::kCPU);
  result.images = decode(model, latents).to(torch::kCPU);
  result.seeds = seeds;
  return result;
}

}  // namespace dd::pipeline
