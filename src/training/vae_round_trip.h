#pragma once
// A VAE graded on its own: each held-out scene is drawn, encoded (posterior mean) and decoded,
// and the scene grader checks the result. Every generated picture passes the decoder, so this
// is the ceiling of the whole model; training reports it before the diffusion phase begins.
#include <torch/torch.h>

#include "io/image.h"
#include "models/vae.h"
#include "scenes/scene.h"
#include "training/scene_evaluation.h"

namespace dd::training {

// The scene drawn at the VAE's training size and passed through it in `dtype`.
io::Image vae_round_trip(models::AutoencoderKL& vae, const scenes::Scene& scene,
                         torch::ScalarType dtype = torch::kFloat32);

// A SceneGenerator that ignores the prompt and round-trips the true scene of each seed.
SceneGenerator vae_round_trip_generator(models::AutoencoderKL vae,
                                        torch::ScalarType dtype = torch::kFloat32);

}  // namespace dd::training
