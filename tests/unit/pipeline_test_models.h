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

}  // namespace dd::test
