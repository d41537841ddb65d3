#include "training/vae_round_trip.h"

#include "pipeline/image_tensor.h"
#include "scenes/scene_renderer.h"
#include "training/scene_model_config.h"

namespace dd::training {

io::Image vae_round_trip(models::AutoencoderKL& vae, const scenes::Scene& scene,
                         torch::ScalarType dtype) {
  torch::NoGradGuard no_grad;
  const bool was_training = vae->is_training();
  vae->eval();
  const torch::Tensor pixels =
      (pipeline::image_to_tensor(scenes::render(scene, kSceneImageSize)) * 2 - 1).to(dtype);
  const torch::Tensor decoded = vae->decode(vae->encode(pixels).mean).to(torch::kFloat32);
  if (was_training) vae->train();
  return pipeline::tensor_to_image(((decoded + 1) / 2).clamp(0, 1)[0]);
}

SceneGenerator vae_round_trip_generator(models::AutoencoderKL vae, torch::ScalarType dtype) {
  return [vae, dtype](const std::string&, uint64_t seed) mutable {
    return vae_round_trip(vae, evaluation_scene_for_seed(seed), dtype);
  };
}

}  // namespace dd::training
