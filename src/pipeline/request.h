#pragma once
// What the engine runs: every parameter with its value (pipeline/resolve.h makes one from a
// caller's GenerationParams). The initial values of the members below are the engine's
// defaults, declared here and nowhere else (resolve.h's engine_defaults() reads them).
#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/lora.h"
#include "pipeline/micro_conditioning.h"
#include "sampling/sampler.h"

namespace dd::pipeline {

struct GenerationRequest {
  std::string prompt;
  std::string negative_prompt;
  int width = 0;  // 0: the model's default size
  int height = 0;
  int steps = 20;
  double cfg = 7.0;  // classifier-free guidance; <= 1 disables the unconditional pass
  std::string sampler = "euler_a";  // see sampling::Sampler::names()
  std::string spacing;              // leading | linspace | trailing; "" = the sampler's default
  uint64_t seed = 0;                // image i uses seed + i
  int samples = 1;                  // images per call, 1..4
  int clip_skip = 1;                // A1111 numbering: 1 = last layer, 2 = penultimate
  bool prompt_weighting = true;     // parse A1111 (word:1.2) syntax

  // FLUX only (ignored by other families; pipeline/family_defaults.h has each model's own).
  // `guidance` is the distilled guidance FLUX dev and Fill take as an input (schnell has none);
  // `true_cfg` > 1 adds a real second pass with the negative prompt, mixed like CFG (1 = off);
  // `max_sequence_length` is how many T5 tokens the prompt is padded or cut to, 0 = the model's
  // own (256 for schnell, 512 for dev).
  double guidance = 3.5;
  double true_cfg = 1.0;
  int max_sequence_length = 0;
  std::vector<LoraSpec> loras;

  // SDXL only (ignored by other families). The negative ones condition the unconditional pass;
  // each unset negative value falls back to the positive one.
  MicroConditioning micro;
  MicroConditioning negative_micro;

  // img2img / inpainting: [1, 3, H, W] in [0, 1]; mask [1, 1, H, W] in [0, 1], 1 = repaint.
  torch::Tensor init_image;
  torch::Tensor mask;
  double strength = 0.75;

  // Optional initial noise [samples, C, H/8, W/8] (unscaled); replaces the seeded draw.
  torch::Tensor latents;
  // Optional exact scheduler (diffusers class name + config), e.g. from a reference fixture.
  std::string scheduler_class;
  nlohmann::json scheduler_config;
};

struct GenerationHooks {
  // Called after every step; returning false cancels (dd::Cancelled is thrown).
  std::function<bool(int step, int total)> progress;
  // Called after every step, before `progress`, with the sampler's current latents
  // [samples, C, h, w] (scaled, as the UNet sees them; still noisy before the last step): what
  // a preview decoder shows of a running generation.
  std::function<void(int step, int total, const torch::Tensor& latents)> latents;
  // Replaces the per-image seeded generators (the conformance suite replays recorded draws).
  std::shared_ptr<sampling::NoiseSource> noise;
};

struct GenerationResult {
  torch::Tensor images;   // [N, H, W, 3] float32 in [0, 1]
  torch::Tensor latents;  // [N, C, H/8, W/8] final latents (scaled), float32
  std::vector<uint64_t> seeds;
};

// Checks every field against the engine's limits and the model before any work; a bad value is
// an InvalidParameter naming it.
void validate_request(const GenerationRequest& request, bool inpainting_model);

}  // namespace dd::pipeline
