#pragma once
// Bridges safetensors files and LibTorch tensors: copy a stored tensor out as a torch::Tensor
// (converting F16/BF16 to the dtype asked for), and write tensors atomically.
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "io/safetensors.h"

namespace dd::io {

// A contiguous CPU tensor with the stored values, converted to `dtype` when given.
torch::Tensor load_tensor(const SafetensorsFile& file, const TensorEntry& entry);
torch::Tensor load_tensor(const SafetensorsFile& file, const std::string& name);
torch::Tensor load_tensor(const SafetensorsFile& file, const std::string& name,
                          torch::ScalarType dtype);

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// Writes a safetensors file via a temporary file and rename, so readers never see half a file.
void save_safetensors(const std::string& path, const NamedTensors& tensors);

}  // namespace dd::io
