#include "pipeline/request.h"

#include <cmath>

#include "pipeline/limits.h"
#include "pipeline/resolve.h"
#include "sampling/sampler.h"
#include "util/error.h"

namespace dd::pipeline {

namespace {

void require(bool ok, const char* param, const std::string& message) {
  if (!ok) throw InvalidParameter(param, message);
}

using namespace limits;

void validate_pair(const std::optional<std::array<int, 2>>& pair, const char* param, int min) {
  if (pair)
    require((*pair)[0] >= min && (*pair)[1] >= min && (*pair)[0] <= kMaxMicroPixels &&
                (*pair)[1] <= kMaxMicroPixels,
            param,
            std::string(param) + " must be two numbers between " + std::to_string(min) + " and " +
                std::to_string(kMaxMicroPixels));
}

std::string format_limit(double limit) { return std::to_string(static_cast<int>(limit)); }

}  // namespace

void validate_params(const GenerationParams& p) {
  for (const auto& [side, name] : {std::pair{p.width, "width"}, std::pair{p.height, "height"}})
    require(
        !side || (*side >= 0 && *side <= kMaxSide && *side % 8 == 0), name,
        std::string(name) + " must be a multiple of 8 between 8 and " + std::to_string(kMaxSide));
  require(!p.steps || (*p.steps >= 1 && *p.steps <= kMaxSteps), "steps",
          "steps must be between 1 and " + std::to_string(kMaxSteps));
  require(!p.cfg || (std::isfinite(*p.cfg) && *p.cfg >= 0 && *p.cfg <= kMaxCfg), "cfg",
          "cfg must be between 0 and 50");
  require(!p.samples || (*p.samples >= 1 && *p.samples <= kMaxSamples), "samples",
          "samples must be between 1 and " + std::to_string(kMaxSamples));
  require(!p.clip_skip || (*p.clip_skip >= 1 && *p.clip_skip <= kMaxClipSkip), "clip_skip",
          "clip skip must be between 1 and " + std::to_string(kMaxClipSkip));
  require(!p.guidance ||
              (std::isfinite(*p.guidance) && *p.guidance >= 0 && *p.guidance <= kMaxGuidance),
          "guidance", "guidance must be between 0 and " + format_limit(kMaxGuidance));
  require(
      !p.true_cfg || (std::isfinite(*p.true_cfg) && *p.true_cfg >= 1 && *p.true_cfg <= kMaxTrueCfg),
      "true_cfg", "true_cfg must be between 1 (off) and " + format_limit(kMaxTrueCfg));
  // 0 is the engine's "the model's own length"; callers give 1..512.
  require(!p.max_sequence_length ||
              (*p.max_sequence_length >= 0 && *p.max_sequence_length <= kMaxSequenceLength),
          "max_sequence_length",
          "max_sequence_length must be between 1 and " + std::to_string(kMaxSequenceLength));
  require(!p.seed || *p.seed <= kMaxSeed, "seed",
          "seed must be at most " + std::to_string(kMaxSeed) + " (or -1 for a random one)");
  require(p.prompt.value_or("").size() <= kMaxPromptLength, "prompt", "prompt is too long");
  require(p.negative_prompt.value_or("").size() <= kMaxPromptLength, "negative_prompt",
          "negative prompt is too long");
  require(!p.strength || (std::isfinite(*p.strength) && *p.strength > 0 && *p.strength <= 1),
          "strength", "strength must be in (0, 1]");
  require(!p.spacing || p.spacing->empty() || *p.spacing == "leading" || *p.spacing == "linspace" ||
              *p.spacing == "trailing",
          "spacing", "spacing must be leading, linspace or trailing");
  validate_pair(p.micro.original_size, "original_size", 1);
  validate_pair(p.micro.crop_top_left, "crop_top_left", 0);
  validate_pair(p.micro.target_size, "target_size", 1);
  validate_pair(p.negative_micro.original_size, "negative_original_size", 1);
  validate_pair(p.negative_micro.crop_top_left, "negative_crop_top_left", 0);
  validate_pair(p.negative_micro.target_size, "negative_target_size", 1);
}

void validate_request(const GenerationRequest& r, bool inpainting_model) {
  validate_params(params_of(r));
  require(r.loras.size() <= kMaxLoras, "loras",
          "at most " + std::to_string(kMaxLoras) + " LoRAs per request");
  if (r.scheduler_class.empty()) {
    const auto names = sampling::Sampler::names();
    require(std::find(names.begin(), names.end(), r.sampler) != names.end(), "sampler",
            "unknown sampler '" + r.sampler + "'");
  }
  if (r.init_image.defined())
    require(r.init_image.dim() == 4 && r.init_image.size(0) == 1 && r.init_image.size(1) == 3,
            "image", "init image must be [1, 3, H, W]");
  if (r.mask.defined()) {
    require(r.init_image.defined(), "mask", "a mask needs an init image");
    require(r.mask.dim() == 4 && r.mask.size(1) == 1 && r.mask.size(2) == r.init_image.size(2) &&
                r.mask.size(3) == r.init_image.size(3),
            "mask", "mask must be the same size as the init image");
  }
  if (inpainting_model)
    require(r.init_image.defined() && r.mask.defined(), "image",
            "this is an inpainting model: it needs an init image and a mask");
}

}  // namespace dd::pipeline
