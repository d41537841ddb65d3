#pragma once
// Saving and restoring a module's tensors under their canonical (diffusers) names: the form the
// engine loads (models::load_weights) and the training checkpoints use.
#include <torch/torch.h>

#include <string>

#include "io/tensor_file.h"

namespace dd::training {

// Every parameter and buffer, detached, contiguous, converted to `dtype`.
io::NamedTensors module_tensors(torch::nn::Module& module,
                                torch::ScalarType dtype = torch::kFloat32);
void save_module(torch::nn::Module& module, const std::string& path,
                 torch::ScalarType dtype = torch::kFloat32);
// dd::Error naming the file when a tensor is missing or has another shape.
void load_module(torch::nn::Module& module, const std::string& path);

}  // namespace dd::training
