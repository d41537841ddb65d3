#include "pipeline_test_models.h"

#include <map>

#include "sampling/seeded_noise.h"
#include "test_support.h"

namespace dd::test {

std::string sd15_tiny_dir() { return fixtures().model_path("sd15-tiny", "diffusers_dir"); }

namespace {

pipeline::DiffusionModel& cached(const std::string& name, torch::ScalarType dtype) {
  static std::map<std::pair<std::string, torch::ScalarType>,
                  std::shared_ptr<pipeline::DiffusionModel>>
      models;
  auto& slot = models[{name, dtype}];
  if (!slot) {
    pipeline::ModelSource source;
    source.path = fixtures().model_path(name, "diffusers_dir");
    source.dtype = dtype;
    slot = pipeline::DiffusionModel::load(source);
  }
  return *slot;
}

}  // namespace

pipeline::DiffusionModel& sd15_tiny(torch::ScalarType dtype) { return cached("sd15-tiny", dtype); }

pipeline::DiffusionModel& sdxl_tiny(torch::ScalarType dtype) { return cached("sdxl-tiny", dtype); }

torch::Tensor seeded_image_latents(pipeline::DiffusionModel& model, const torch::Tensor& image,
                                   uint64_t seed) {
  torch::NoGradGuard no_grad;
  sampling::SeededNoise noise({seed});
  const auto posterior = model.vae->encode(image * 2 - 1);
  return (posterior.mean + posterior.std * noise.next(posterior.mean.sizes())) *
         model.config().vae.scaling_factor;
}

}  // namespace dd::test
