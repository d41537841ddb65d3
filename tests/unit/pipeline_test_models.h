#pragma once
// The tiny fixture models, loaded once per test process.
#include <memory>
#include <string>

#include "pipeline/model.h"

namespace dd::test {

// sd15-tiny from its diffusers folder in the given dtype.
pipeline::DiffusionModel& sd15_tiny(torch::ScalarType dtype = torch::kFloat32);
std::string sd15_tiny_dir();
// sdxl-tiny from its diffusers folder in the given dtype.
pipeline::DiffusionModel& sdxl_tiny(torch::ScalarType dtype = torch::kFloat32);

// The scaled latents the pipeline makes of a [1, 3, H, W] picture in [0, 1] for an image with
// this seed: the posterior sample is the seeded generator's first draw.
torch::Tensor seeded_image_latents(pipeline::DiffusionModel& model, const torch::Tensor& image,
                                   uint64_t seed);

}  // namespace dd::test
