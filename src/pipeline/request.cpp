#include "pipeline/request.h"

#include "sampling/sampler.h"
#include "util/error.h"

namespace dd::pipeline {

namespace {

void require(bool ok, const std::string& message) {
  if (!ok) throw Error(message);
}

void validate_micro(const MicroConditioning& m, const std::string& prefix) {
  auto positive = [&](const std::optional<std::array<int, 2>>& size, const std::string& name) {
    if (size)
      require((*size)[0] >= 1 && (*size)[1] >= 1 && (*size)[0] <= 16384 && (*size)[1] <= 16384,
              prefix + name + " must be two sizes between 1 and 16384");
  };
  positive(m.original_size, "original_size");
  positive(m.target_size, "target_size");
  if (m.crop_top_left)
    require((*m.crop_top_left)[0] >= 0 && (*m.crop_top_left)[1] >= 0 &&
                (*m.crop_top_left)[0] <= 16384 && (*m.crop_top_left)[1] <= 16384,
            prefix + "crop_top_left must be two offsets between 0 and 16384");
}

}  // namespace

void validate_request(const GenerationRequest& r, bool inpainting_model) {
  require(r.width >= 0 && r.height >= 0 && r.width % 8 == 0 && r.height % 8 == 0,
          "width and height must be positive multiples of 8");
  require(r.width <= 4096 && r.height <= 4096, "width and height must be at most 4096");
  require(r.steps >= 1 && r.steps <= 500, "steps must be between 1 and 500");
  require(std::isfinite(r.cfg) && r.cfg >= 0 && r.cfg <= 50, "cfg must be between 0 and 50");
  require(r.samples >= 1 && r.samples <= 4, "samples must be between 1 and 4");
  require(r.clip_skip >= 1 && r.clip_skip <= 12, "clip skip must be between 1 and 12");
  require(r.prompt.size() <= 20000 && r.negative_prompt.size() <= 20000, "prompt is too long");
  require(std::isfinite(r.strength) && r.strength > 0 && r.strength <= 1,
          "strength must be in (0, 1]");
  require(r.loras.size() <= 8, "at most 8 LoRAs per request");
  validate_micro(r.micro, "");
  validate_micro(r.negative_micro, "negative_");
  if (r.scheduler_class.empty()) {
    const auto names = sampling::Sampler::names();
    require(std::find(names.begin(), names.end(), r.sampler) != names.end(),
            "unknown sampler '" + r.sampler + "'");
  }
  if (r.init_image.defined())
    require(r.init_image.dim() == 4 && r.init_image.size(0) == 1 && r.init_image.size(1) == 3,
            "init image must be [1, 3, H, W]");
  if (r.mask.defined()) {
    require(r.init_image.defined(), "a mask needs an init image");
    require(r.mask.dim() == 4 && r.mask.size(1) == 1 && r.mask.size(2) == r.init_image.size(2) &&
                r.mask.size(3) == r.init_image.size(3),
            "mask must be the same size as the init image");
  }
  if (inpainting_model)
    require(r.init_image.defined() && r.mask.defined(),
            "this is an inpainting model: it needs an init image and a mask");
}

}  // namespace dd::pipeline
